import assert from "node:assert/strict";
import { isLauncher, ParentWatch } from "../../src/lifecycle/_parent_watch.ts";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A process's parent from /proc (the tests run with --allow-all). */
function parentOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** The first child of `pid`, once it has one. */
async function childOf(pid: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const children = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`).catch(() => "");
    const first = Number(children.trim().split(" ")[0]);
    if (first > 0) return first;
    await delay(10);
  }
  throw new Error(`Process ${pid} started no child`);
}

Deno.test("isLauncher tells launchers that wait for their child from programs", () => {
  const launchers = [
    ["deno", "task", "start"],
    ["/usr/bin/deno", "task", "--quiet", "--config", "deno.json", "start"],
    ["npm exec deno task start"], // node renames itself; /proc shows one string
    ["npx", "deno", "task", "start"],
    ["node", "/usr/lib/node_modules/npm/bin/npx-cli.js", "deno"],
    ["sh", "-c", "deno task start; true"],
    ["/bin/bash", "-ec", "deno run main.ts"],
  ];
  for (const argv of launchers) assert.equal(isLauncher(argv), true, argv.join(" "));
  const programs = [
    [],
    ["deno", "run", "-A", "main.ts"],
    ["deno", "test", "--allow-all"],
    ["deno", "run", "task.ts"],
    ["bash", "tui.sh"],
    ["sh"],
    ["node", "tui.js"],
    ["python3", "-c", "print(1)"],
  ];
  for (const argv of programs) assert.equal(isLauncher(argv), false, argv.join(" "));
});

Deno.test("ParentWatch climbs over sh -c to the TUI above it and sees it go, by /proc and by pid", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  // This test process is the TUI; `sh -c` stays (its command is not its last) and waits.
  const launcher = new Deno.Command("sh", {
    args: ["-c", "sleep 30; true"],
    stdin: "null",
    stdout: "null",
  }).spawn();
  const gateway = await childOf(launcher.pid);
  try {
    const watch = await ParentWatch.discover(gateway, launcher.pid);
    assert.deepEqual(watch.links, [
      { pid: gateway, parent: launcher.pid },
      { pid: launcher.pid, parent: Deno.pid },
    ]);
    assert.equal(watch.top, Deno.pid);
    assert.equal(watch.proc, true);
    const byPid = new ParentWatch(watch.links, false);
    assert.equal(watch.gone(parentOf(gateway)), false);
    assert.equal(byPid.gone(parentOf(gateway)), false);
    // The launcher goes: the gateway is re-parented, both checks see it.
    launcher.kill("SIGKILL");
    await launcher.status;
    assert.equal(watch.gone(parentOf(gateway)), true);
    assert.equal(byPid.gone(launcher.pid), true, "a launcher that exited counts as gone");
  } finally {
    Deno.kill(gateway, "SIGKILL");
  }
});

Deno.test("ParentWatch with /proc sees a launcher re-parented when the TUI above it exits", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  // tui (a shell script, exits when its input ends) → launcher (sh -c, waits) → gateway (sleep).
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/tui.sh`, `sh -c 'sleep 30; true' &\necho $!\nread -r _\n`);
  const tui = new Deno.Command("sh", {
    args: [`${dir}/tui.sh`],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = tui.stdout.getReader();
  const { value } = await reader.read();
  const launcher = Number(new TextDecoder().decode(value).trim());
  const gateway = await childOf(launcher);
  try {
    const watch = await ParentWatch.discover(gateway, launcher);
    assert.equal(watch.top, tui.pid, "the watch stops at the first process that is no launcher");
    assert.equal(watch.gone(parentOf(gateway)), false);
    const byPs = new ParentWatch(watch.links, false);
    assert.equal(byPs.inexact, true);
    assert.equal(await byPs.goneExactly(), false);
    await tui.stdin.close(); // the TUI reads EOF and exits; the launcher stays
    await tui.status;
    reader.releaseLock();
    assert.equal(watch.gone(parentOf(gateway)), true);
    assert.equal(byPs.gone(parentOf(gateway)), true);
    assert.equal(await byPs.goneExactly(), true, "ps sees the launcher re-parented");
  } finally {
    Deno.kill(gateway, "SIGKILL");
    await delay(20);
    try {
      Deno.kill(launcher, "SIGKILL");
    } catch {
      // Gone with its child.
    }
    await tui.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
