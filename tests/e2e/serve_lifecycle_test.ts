import assert from "node:assert/strict";
import { sleep } from "../../src/protocol/timing.ts";
import { type GatewayProcess, ROOT, spawnGateway } from "../_support/gateway_process.ts";
import { spawnServe, TestWebSocket } from "../_support/websocket_client.ts";

async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) return false;
    await sleep(50);
  }
  return true;
}

Deno.test("Serve ignores SIGINT when stdin is not a terminal, and shuts down on it with --exit-on-sigint", async () => {
  {
    const serve = await spawnServe();
    await using gw = serve.gw;
    await using client = await TestWebSocket.open(serve.url, { token: serve.token });
    gw.kill("SIGINT");
    await sleep(300);
    assert.equal((await client.request("gateway.ping")).result.pong, true);
  }
  {
    const serve = await spawnServe(["--exit-on-sigint"]);
    await using gw = serve.gw;
    await using client = await TestWebSocket.open(serve.url, { token: serve.token });
    gw.kill("SIGINT");
    assert.equal((await client.closed).code, 1001);
    assert.equal((await gw.waitExit()).code, 0);
  }
});

Deno.test("Serve exits 2 with one clear line when its port is taken", async () => {
  const first = await spawnServe();
  await using _first = first.gw;
  await using gw = await spawnGateway(["serve", "--listen", `127.0.0.1:${first.port}`]);
  const status = await gw.waitExit();
  assert.equal(status.code, 2);
  assert.match(gw.stderr, new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${first.port}`));
  assert.equal(gw.frames.length, 0);
  await assert.rejects(Deno.stat(`${gw.dir}/state/token`), Deno.errors.NotFound);
  assert.match(gw.stderr, /^\[tuigate-exit\] listen-failed$/m);
  const ledger = await gw.ledger();
  assert.equal(ledger.length, 1, JSON.stringify(ledger));
  assert.equal(ledger[0].reason, "listen-failed");
  assert.equal(ledger[0].exitCode, 2);
  assert.match(String((ledger[0].error as { message: string }).message), /in use/i);
});

Deno.test("Serve that cannot bind leaves the token file of the server already running in that state folder", async () => {
  const first = await spawnServe();
  await using _first = first.gw;
  const tokenFile = `${first.gw.dir}/state/token`;
  const before = await Deno.readTextFile(tokenFile);
  assert.match(before, new RegExp(first.token));
  await using gw = await spawnGateway(["serve", "--listen", `127.0.0.1:${first.port}`], {
    env: { TUIGATE_STATE_DIR: `${first.gw.dir}/state` },
  });
  assert.equal((await gw.waitExit()).code, 2);
  assert.equal(await Deno.readTextFile(tokenFile), before);
  await using client = await TestWebSocket.open(first.url, { token: first.token });
  assert.equal((await client.request("gateway.ping")).result.pong, true);
});

Deno.test("Two serves on one state folder each write their own token file and remove only theirs", async () => {
  const first = await spawnServe();
  await using firstGw = first.gw;
  const state = `${first.gw.dir}/state`;
  assert.equal(first.announcement.tokenFile, `${state}/token`);
  const firstToken = await Deno.readTextFile(`${state}/token`);
  const second = await spawnServe([], { env: { TUIGATE_STATE_DIR: state } });
  await using secondGw = second.gw;
  assert.equal(second.announcement.tokenFile, `${state}/token-${second.announcement.pid}`);
  assert.notEqual(second.token, first.token);
  assert.equal(await Deno.readTextFile(`${state}/token`), firstToken);
  for (const serve of [first, second]) {
    await using client = await TestWebSocket.open(serve.url, { token: serve.token });
    assert.equal((await client.request("gateway.ping")).result.pong, true);
  }
  secondGw.kill("SIGTERM");
  assert.equal((await secondGw.waitExit()).code, 0);
  await assert.rejects(Deno.stat(second.announcement.tokenFile), Deno.errors.NotFound);
  assert.equal(await Deno.readTextFile(`${state}/token`), firstToken);
  assert.equal(await Deno.readTextFile(`${state}/token.owner`), `${first.announcement.pid}\n`);
  firstGw.kill("SIGTERM");
  assert.equal((await firstGw.waitExit()).code, 0);
  await assert.rejects(Deno.stat(`${state}/token`), Deno.errors.NotFound);
  await assert.rejects(Deno.stat(`${state}/token.owner`), Deno.errors.NotFound);
});

Deno.test("Serve takes over the token file claim of a server that was killed", async () => {
  const first = await spawnServe();
  await using firstGw = first.gw;
  const state = `${first.gw.dir}/state`;
  firstGw.kill("SIGKILL");
  await firstGw.waitExit();
  // The claim and the token file outlive a SIGKILL; the next server takes the path over.
  assert.equal(await Deno.readTextFile(`${state}/token.owner`), `${first.announcement.pid}\n`);
  const next = await spawnServe([], { env: { TUIGATE_STATE_DIR: state } });
  await using _next = next.gw;
  assert.equal(next.announcement.tokenFile, `${state}/token`);
  assert.equal(await Deno.readTextFile(`${state}/token.owner`), `${next.announcement.pid}\n`);
  await using client = await TestWebSocket.open(next.url, { token: next.token });
  assert.equal((await client.request("gateway.ping")).result.pong, true);
});

/**
 * Serves with `flag` naming `file` inside a regular file, so that it cannot be
 * written, and checks the failed start: exit 2, one plain line naming what
 * failed, the exit line, nothing on stdout and one ledger line with `reason`.
 * `more` checks the stopped gateway further.
 */
async function assertFailedStart(
  flag: string,
  file: string,
  what: RegExp,
  reason: string,
  more?: (gw: GatewayProcess) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-start-" });
  try {
    // A regular file where the folder should be.
    await Deno.writeTextFile(`${dir}/blocker`, "");
    await using gw = await spawnGateway([
      "serve",
      "--listen",
      "127.0.0.1:0",
      flag,
      `${dir}/blocker/${file}`,
    ]);
    const status = await gw.waitExit();
    assert.equal(status.code, 2, gw.stderr);
    // One plain line, then the exit line: no log records around them.
    const lines = gw.stderr.trim().split("\n");
    assert.equal(lines.length, 2, gw.stderr);
    assert.match(lines[0], what);
    assert.equal(lines[1], `[tuigate-exit] ${reason}`);
    assert.equal(gw.frames.length, 0, "nothing announced on stdout");
    await more?.(gw);
    const ledger = await gw.ledger();
    assert.equal(ledger.length, 1, JSON.stringify(ledger));
    assert.equal(ledger[0].reason, reason);
    assert.equal(ledger[0].exitCode, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Serve exits 2 with a ledger line when the token file cannot be written", async () => {
  await assertFailedStart(
    "--token-file",
    "token",
    /^tuigate: Cannot write the token file .*blocker\/token: /,
    "token-file-failed",
  );
});

Deno.test("Serve exits 2 with one line and a ledger line when the ready file cannot be written, leaving nothing behind", async () => {
  await assertFailedStart(
    "--ready-file",
    "ready.json",
    /^tuigate: Cannot write the ready file .*blocker\/ready\.json: /,
    "ready-file-failed",
    async (gw) => {
      // The generated token file was removed with the claim on it.
      const left: string[] = [];
      for await (const entry of Deno.readDir(`${gw.dir}/state`)) left.push(entry.name);
      assert.deepEqual(left.filter((name) => name.startsWith("token")), [], left.join(", "));
    },
  );
});

Deno.test("serveWebSocket writes its ledger line to $TUIGATE_CRASH_LOG when no crashLog is given", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-serve-lib-" });
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (blocker.addr as Deno.NetAddr).port;
    const script = `${dir}/serve.ts`;
    await Deno.writeTextFile(
      script,
      `import { Gateway } from "${ROOT}/src/mod.ts";
import { serveWebSocket } from "${ROOT}/src/serve/mod.ts";
Deno.exit(await serveWebSocket(new Gateway(), { port: ${port}, token: "t", watchdog: false }));
`,
    );
    await using gw = await spawnGateway([], { script });
    const status = await gw.waitExit();
    assert.equal(status.code, 2, gw.stderr);
    const ledger = await gw.ledger();
    assert.equal(ledger.length, 1, `ledger at ${gw.ledgerPath}: ${JSON.stringify(ledger)}`);
    assert.equal(ledger[0].reason, "listen-failed");
    assert.equal(ledger[0].transport, "websocket");
  } finally {
    blocker.close();
    await Deno.remove(dir, { recursive: true });
  }
});

for (const exitWithParent of [false, true]) {
  Deno.test(`Serve ${exitWithParent ? "exits" : "keeps serving"} when the process that started it exits${exitWithParent ? " with --exit-with-parent" : ""}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "tuigate-parent-" });
    try {
      const flag = exitWithParent ? "--exit-with-parent" : "";
      const script = `"${Deno.execPath()}" run -A "${ROOT}/main.ts" serve --listen 127.0.0.1:0 ` +
        `--ready-file "${dir}/ready.json" ${flag} </dev/null >/dev/null 2>"${dir}/stderr" & echo $!; sleep 2`;
      const parent = new Deno.Command("sh", {
        args: ["-c", script],
        env: { TUIGATE_STATE_DIR: `${dir}/state`, TUIGATE_CRASH_LOG: `${dir}/exits.jsonl` },
        stdout: "piped",
      });
      const { stdout } = await parent.output();
      const pid = Number(new TextDecoder().decode(stdout).trim());
      assert.ok(pid > 0);
      try {
        const ready = JSON.parse(await Deno.readTextFile(`${dir}/ready.json`));
        assert.equal(ready.pid, pid);
        if (exitWithParent) {
          assert.equal(await waitFor(async () => !(await alive(pid)), 5000), true, "it exited");
          const ledger = await Deno.readTextFile(`${dir}/exits.jsonl`);
          assert.match(ledger, /"reason":"parent-exited"/);
        } else {
          await sleep(1500);
          assert.equal(await alive(pid), true, "it is still serving");
          const token = (await Deno.readTextFile(ready.tokenFile)).trim();
          await using client = await TestWebSocket.open(ready.url, { token });
          assert.equal((await client.request("gateway.ping")).result.pong, true);
        }
      } finally {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Gone.
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("serveWebSocket with a SIGTERM caught during start-up exits 0 and leaves no ready file or announcement", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-serve-early-" });
  try {
    const script = `${dir}/serve.ts`;
    await Deno.writeTextFile(
      script,
      `import { EarlySignals, Gateway } from "${ROOT}/src/mod.ts";
import { serveWebSocket } from "${ROOT}/src/serve/mod.ts";
const early = new EarlySignals();
Deno.kill(Deno.pid, "SIGTERM"); // arrives while the server is still starting
await new Promise((resolve) => setTimeout(resolve, 100));
Deno.exit(await serveWebSocket(new Gateway(), {
  port: 0,
  token: "t".repeat(32),
  readyFile: "${dir}/ready.json",
  earlySignals: early,
}));
`,
    );
    await using gw = await spawnGateway([], { script });
    const status = await gw.waitExit();
    assert.equal(status.code, 0, gw.stderr);
    assert.equal(gw.frames.length, 0, "no announcement");
    await assert.rejects(Deno.stat(`${dir}/ready.json`), Deno.errors.NotFound);
    const last = (await gw.ledger()).at(-1);
    assert.equal(last?.reason, "signal");
    assert.equal(last?.signal, "SIGTERM");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
