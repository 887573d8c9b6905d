import assert from "node:assert/strict";
import { ROOT, spawnGateway } from "../_support/gateway_process.ts";

Deno.test("Gateway writes gateway.ready as its first frame, then answers gateway.ping", async () => {
  await using gw = await spawnGateway();
  const ready = await gw.ready();
  assert.equal(gw.frames[0], ready);
  assert.equal(ready.jsonrpc, "2.0");
  assert.equal(typeof ready.params.version, "string");
  assert.equal(ready.params.pid, gw.child.pid);
  assert.equal(Number.isInteger(ready.params.protocol), true);
  assert.match(ready.params.epoch, /^[0-9a-f-]{36}$/);
  assert.equal(typeof ready.params.capabilities, "object");
  const pong = await gw.request("gateway.ping");
  assert.equal(pong.result.pong, true);
});

for (const io of ["auto", "deno"]) {
  Deno.test(`Gateway exits 0 on stdin EOF within 1 s and records stdin-eof (--stdio-io ${io})`, async () => {
    const spawned = performance.now();
    await using gw = await spawnGateway(["--stdio-io", io]);
    await gw.ready();
    const readyAfter = performance.now() - spawned;
    if (io === "auto") await gw.onSockets();
    const since = performance.now();
    await gw.closeStdin();
    const status = await gw.waitExit(5000, since);
    assert.equal(status.code, 0);
    assert.ok(status.ms < 1000, `exit took ${status.ms} ms`);
    const ledger = await gw.ledger();
    assert.equal(ledger.at(-1)?.reason, "stdin-eof");
    // The process's uptime, start-up included (the runtime starts a few ms after the spawn).
    const uptimeMs = Number((ledger.at(-1) as { uptimeMs?: number }).uptimeMs);
    assert.ok(uptimeMs >= readyAfter - 20, `uptime ${uptimeMs} ms, ready after ${readyAfter} ms`);
    assert.match(gw.stderr, /\[tuigate-exit\] stdin-eof/);
  });
}

Deno.test("Gateway answers a last request that has no newline before stdin EOF, then exits 0", async () => {
  await using gw = await spawnGateway();
  await gw.ready();
  await gw.send('{"jsonrpc":"2.0","id":"last","method":"gateway.ping"}');
  await gw.closeStdin();
  const status = await gw.waitExit(5000);
  assert.equal(status.code, 0);
  assert.equal(gw.frames.at(-1)?.id, "last");
  assert.equal(gw.frames.at(-1)?.result?.pong, true);
  assert.equal((await gw.ledger()).at(-1)?.reason, "stdin-eof");
});

Deno.test("Gateway writes non-ASCII text intact, alone and in batches", async () => {
  await using gw = await spawnGateway();
  await gw.ready();
  const text = "é€😀 ünïcödé ✓";
  const reply = await gw.request("gateway.ping", { text });
  assert.equal(reply.result.echo.text, text);
  let batch = "";
  for (let i = 0; i < 50; i++) {
    batch +=
      JSON.stringify({ jsonrpc: "2.0", id: `u${i}`, method: "gateway.ping", params: { text, i } }) +
      "\n";
  }
  await gw.send(batch);
  for (let i = 0; i < 50; i++) assert.equal((await gw.response(`u${i}`)).result.echo.text, text);
  assert.deepEqual(gw.invalidLines, []);
});

Deno.test("A library gateway run with runStdio keeps console.log off stdout, logs a handler's stack on stderr and says when error data cannot be sent", async () => {
  await using gw = await spawnGateway([], {
    script: `${ROOT}/tests/_support/plain_library_gateway.ts`,
  });
  await gw.ready();
  const logged = await gw.request("plain.log", { text: "CONSOLE LINE 1f3a" });
  assert.equal(logged.result, true);
  const thrown = await gw.request("plain.throw", { text: "kaboom 9c2e" });
  assert.equal(thrown.error.code, -32603);
  assert.equal(JSON.stringify(thrown).includes("kaboom 9c2e"), false, "no stack on the wire");
  const badData = await gw.request("plain.badData");
  assert.deepEqual(badData.error, { code: -32050, message: "Bad data 5e7a" });
  await gw.closeStdin();
  assert.equal((await gw.waitExit(3000)).code, 0);
  assert.deepEqual(gw.invalidLines, [], "stdout carries frames only");
  assert.match(gw.stderr, /CONSOLE LINE 1f3a \{ braces: \[ "\{kept\}" \] \}/);
  assert.match(gw.stderr, /Error: kaboom 9c2e\n\s+at /);
  assert.match(
    gw.stderr,
    /Error -32050 "Bad data 5e7a" is sent without its data, which cannot be serialised: "[^"\n]*BigInt/,
  );
});

Deno.test("A library gateway loads its logger for a record worth printing even while the client never pauses", async () => {
  await using gw = await spawnGateway([], {
    script: `${ROOT}/tests/_support/plain_library_gateway.ts`,
  });
  await gw.ready();
  assert.equal((await gw.request("plain.log", { text: "BUSY LINE 7d1b" })).result, true);
  // Notifications every millisecond: never the pause that would load the logger otherwise.
  const deadline = Date.now() + 3000;
  let sent = 0;
  while (!gw.stderr.includes("BUSY LINE 7d1b") && Date.now() < deadline) {
    await gw.send({ jsonrpc: "2.0", method: "busy.tick", params: { sent: sent++ } });
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.match(gw.stderr, /BUSY LINE 7d1b/, `not written after ${sent} notifications`);
  assert.equal((await gw.request("gateway.ping")).result.pong, true);
});

Deno.test("A library gateway whose application logs tuigate's debug records loses none while the client never pauses", async () => {
  await using gw = await spawnGateway([], {
    script: `${ROOT}/tests/_support/own_debug_logtape_gateway.ts`,
  });
  await gw.ready();
  const before = (await gw.request("seen")).result as number;
  // 1,200 notifications for no method (each logged at debug), ten every millisecond: more than
  // the 1,000 records that can wait, and never the pause that would load the logger otherwise.
  for (let tick = 0; tick < 120; tick++) {
    for (let i = 0; i < 10; i++) {
      await gw.send({ jsonrpc: "2.0", method: "nobody.home", params: {} });
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const seen = (await gw.request("seen")).result as number;
  assert.ok(seen - before >= 1200, `the application's sink saw ${seen - before} of 1200`);
});

Deno.test("A library gateway whose application configured LogTape keeps that configuration", async () => {
  await using gw = await spawnGateway([], {
    script: `${ROOT}/tests/_support/own_logtape_gateway.ts`,
  });
  await gw.ready(); // the first frame: tuigate's logging would be set up now
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual((await gw.request("probe")).result, ["before", "in handler"]);
  assert.deepEqual((await gw.request("probe")).result, ["before", "in handler", "in handler"]);
});

Deno.test("A library gateway whose LogTape writes through the console still logs to stderr, never stdout", async () => {
  await using gw = await spawnGateway([], {
    script: `${ROOT}/tests/_support/console_sink_gateway.ts`,
  });
  await gw.ready();
  await new Promise((resolve) => setTimeout(resolve, 300)); // the logging set-up after the first frame
  assert.equal((await gw.request("hello")).result, true);
  await gw.closeStdin();
  assert.equal((await gw.waitExit(3000)).code, 0);
  assert.deepEqual(gw.invalidLines, [], "stdout carries frames only");
  assert.match(gw.stderr, /INF app APP-LOG-LINE/);
  assert.match(gw.stderr, /CONSOLE-ERR-LINE/);
  assert.doesNotMatch(gw.stderr, /%c/);
});

Deno.test("Gateway run with the start task's own flags moves stdin and stdout onto sockets", async () => {
  // The flags of `deno task start` (permissions and V8 flags), not -A: what users run.
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks;
  const words: string[] = tasks.start.split(/\s+/);
  const flags = words.slice(words.indexOf("run") + 1, words.indexOf("main.ts"));
  assert.ok(!flags.includes("-A") && !flags.includes("--allow-all"), flags.join(" "));
  await using gw = await spawnGateway([], { permissions: flags });
  await gw.ready();
  await gw.onSockets();
  assert.equal((await gw.request("gateway.ping")).result.pong, true);
});
