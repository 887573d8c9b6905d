import assert from "node:assert/strict";
import { build } from "../../scripts/build.ts";
import { spawnGateway } from "../_support/gateway_process.ts";

const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));

/** Builds main.ts into a fresh temporary folder; removes it when disposed. */
async function built() {
  const parent = await Deno.makeTempDir({ prefix: "tuigate-build-" });
  const result = await build(`${parent}/js`);
  return { parent, result, [Symbol.asyncDispose]: () => Deno.remove(parent, { recursive: true }) };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("start:dist runs the built main.js with exactly the start task's flags", () => {
  const start: string = config.tasks.start;
  const dist: string = config.tasks["start:dist"];
  assert.ok(start.endsWith(" main.ts"));
  assert.equal(dist, start.replace(/ main\.ts$/, " dist/js/main.js"));
});

Deno.test("build writes plain JavaScript that imports nothing from npm, jsr or the network", async () => {
  await using out = await built();
  const { result } = out;
  assert.equal(result.entries.length, 1);
  assert.ok(result.entries[0].endsWith("/js/main.js"), result.entries[0]);
  assert.ok(result.files.length > 2, "code splitting writes chunks beside the entry");
  assert.ok(result.workerUrls >= 1);
  for (const file of result.files) {
    const text = await Deno.readTextFile(file);
    assert.doesNotMatch(text, /(?:\bfrom|\bimport)\s*\(?\s*["'](?:npm|jsr|https?):/, file);
    assert.match(
      text,
      /\bfrom\s*["']|\bimport\s*\(|\bexport\b|new URL/,
      `${file} imports or exports`,
    );
    assert.ok(!text.includes('"./watchdog_worker.ts"'), `${file} still names the unbuilt worker`);
  }
});

Deno.test("Built gateway serves from a folder with no deno.json, and its watchdog ends a blocked process on SIGTERM", async () => {
  await using out = await built();
  const cwd = await Deno.makeTempDir({ prefix: "tuigate-build-cwd-" });
  try {
    await using gw = await spawnGateway(["--test-hooks"], { script: out.result.entries[0], cwd });
    const ready = await gw.ready();
    assert.equal(ready.method, "gateway.ready");
    assert.equal(gw.frames[0].method, "gateway.ready", "ready is the first frame");
    assert.equal((await gw.request("gateway.ping")).result.pong, true);
    // The sessions feature loads zod (a chunk of the bundle) and node:sqlite.
    const created = await gw.request("session.create", { title: "built" });
    assert.equal(typeof created.result.id, "string", JSON.stringify(created));
    const bad = await gw.request("session.create", { title: 42 });
    assert.equal(bad.error.code, -32602, JSON.stringify(bad));
    const { reply, status } = await gw.signalWhileBlocked("SIGTERM");
    assert.equal(reply.result.blocking, 20_000);
    assert.equal(status.timedOut, false);
    assert.equal(status.signal, "SIGKILL", "the watchdog worker's kill");
    assert.ok(status.ms < 2500, `exit took ${status.ms.toFixed(0)} ms`);
    const last = (await gw.ledger()).at(-1)!;
    assert.equal(last.reason, "watchdog");
    assert.equal(last.signal, "SIGTERM");
    assert.doesNotMatch(gw.stderr, /Watchdog worker failed/);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("Gateway whose watchdog worker cannot load says so in a warning and keeps serving", async () => {
  await using out = await built();
  await Deno.remove(out.result.worker);
  await using gw = await spawnGateway([], { script: out.result.entries[0] });
  await gw.ready();
  assert.equal((await gw.request("gateway.ping")).result.pong, true);
  const deadline = Date.now() + 5000;
  while (!gw.stderr.includes("Watchdog worker failed") && Date.now() < deadline) await delay(20);
  assert.match(gw.stderr, /Watchdog worker failed, so a signal .*Module not found/);
  assert.equal((await gw.request("gateway.ping")).result.pong, true);
  await gw.closeStdin();
  const status = await gw.waitExit(5000);
  assert.equal(status.code, 0);
  const ledger = await gw.ledger();
  assert.deepEqual(
    ledger.filter((line) => line.event !== "exit"),
    [],
    "no error was left unhandled",
  );
  assert.equal(ledger.at(-1)!.reason, "stdin-eof");
});

Deno.test("build refuses an output folder that holds files it did not write, and leaves them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-build-foreign-" });
  try {
    await Deno.writeTextFile(`${dir}/notes.txt`, "mine");
    await assert.rejects(
      build(dir),
      /Cannot build into .*: it holds files that deno task build did not write/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/notes.txt`), "mine");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("build replaces an output folder it wrote before, leaving no stale chunk", async () => {
  await using out = await built();
  const stale = `${out.result.outDir}/chunk-STALE.js`;
  await Deno.writeTextFile(stale, "export {};\n");
  const again = await build(out.result.outDir);
  assert.ok(!again.files.includes(stale));
  await assert.rejects(Deno.stat(stale), Deno.errors.NotFound);
  assert.equal((await Deno.stat(again.entries[0])).isFile, true);
});

Deno.test("deno task build fails with one line and exit 2 for an unknown flag", async () => {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../scripts/build.ts", import.meta.url).pathname, "--bogus"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(result.code, 2);
  const lines = new TextDecoder().decode(result.stderr).trim().split("\n");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^build: .*bogus/);
});

Deno.test("build fails, writing nothing, when the bundle holds no watchdog worker URL to point", async () => {
  const parent = await Deno.makeTempDir({ prefix: "tuigate-build-noworker-" });
  try {
    await assert.rejects(
      build(`${parent}/js`, { entries: ["src/protocol/messages.ts"] }),
      /Cannot build: the watchdog worker's URL .* is not in the bundle/,
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(parent)), []);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
