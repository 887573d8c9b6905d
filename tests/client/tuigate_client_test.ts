/**
 * TuigateClient against real gateway processes: main.ts, the interop
 * gateway (main.ts plus test methods), and, for close() escalation, a
 * stubborn process that ignores stdin EOF and SIGTERM.
 */

import assert from "node:assert/strict";
import {
  ClientState,
  type ExitEvent,
  GatewayExitedError,
  GatewayStartError,
  JsonRpcError,
  type ReadyEvent,
  type RestartEvent,
  type RestartFailedEvent,
  TuigateClient,
} from "../../src/client/mod.ts";
import type { ClientOptions, GatewayMethods } from "../../src/client/mod.ts";
import { ROOT } from "../_support/gateway_process.ts";
import { INTEROP_GATEWAY } from "../_support/interop_gateway.ts";
import { alive } from "../_support/process_state.ts";

const MAIN = `${ROOT}/main.ts`;
const STUBBORN = new URL("./_stubborn_gateway.ts", import.meta.url).pathname;

/** The interop gateway's test methods, typed. */
interface TestMethods extends GatewayMethods {
  "test.sleep": { params: { ms: number }; result: { slept: number } };
  "test.aborted": { params: undefined; result: { ids: (number | string)[] } };
  "test.emit": {
    params: { method: string; params?: unknown; count?: number };
    result: { sent: number };
  };
  "test.ask": {
    params: { method: string; params?: unknown; timeout?: number };
    result: { result: unknown };
  };
}

let tempDir: string | undefined;
async function stateEnv(): Promise<Record<string, string>> {
  tempDir ??= await Deno.makeTempDir({ prefix: "tuigate-client-" });
  return { TUIGATE_CRASH_LOG: `${tempDir}/exits.jsonl`, TUIGATE_STATE_DIR: `${tempDir}/state` };
}

async function options(script: string, extra: ClientOptions = {}): Promise<ClientOptions> {
  return {
    ...extra,
    command: Deno.execPath(),
    args: ["run", "-A", script, ...(extra.args ?? [])],
    cwd: ROOT,
    env: { ...(await stateEnv()), ...extra.env },
  };
}

/** The session id of every live process (zombies excluded). */
function sessionMembers(): number[] {
  const out = new Deno.Command("ps", { args: ["-eo", "sid=,stat="] }).outputSync().stdout;
  const members: number[] = [];
  for (const line of new TextDecoder().decode(out).split("\n")) {
    const [sid, stat] = line.trim().split(/\s+/);
    if (sid !== "" && stat !== undefined && !stat.startsWith("Z")) members.push(Number(sid));
  }
  return members;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > end) throw new Error("Condition not met in time");
    await delay(20);
  }
}

Deno.test("TuigateClient spawns main.ts, waits for gateway.ready and answers typed calls", async () => {
  const client = new TuigateClient(await options(MAIN));
  const readyEvents: ReadyEvent[] = [];
  client.addEventListener("ready", (event) => readyEvents.push(event));
  assert.equal(client.state, ClientState.Idle);
  const ready = await client.start();
  assert.equal(client.state, ClientState.Ready);
  assert.equal(ready.pid, client.pid);
  assert.equal(ready.name, "tuigate");
  assert.equal(readyEvents.length, 1);
  assert.equal(readyEvents[0].attempt, 0);
  const pong = await client.call("gateway.ping", { hello: "w\u00f6rld \u{1F600}" });
  assert.equal(pong.pong, true);
  assert.deepEqual(pong.echo, { hello: "w\u00f6rld \u{1F600}" });
  const results = await Promise.all(
    Array.from({ length: 500 }, (_, i) => client.call("gateway.ping", { i })),
  );
  assert.deepEqual(results.map((r) => (r.echo as { i: number }).i), [...Array(500).keys()]);
  await assert.rejects(client.call("no.such.method"), (error: unknown) => {
    assert.ok(error instanceof JsonRpcError);
    assert.equal(error.code, -32601);
    assert.deepEqual(error.data, { method: "no.such.method" });
    return true;
  });
  const closed = await client.close();
  assert.equal(closed.step, "stdin");
  assert.equal(closed.code, 0);
  assert.equal(client.state, ClientState.Closed);
  assert.equal(alive(ready.pid), false);
  await assert.rejects(client.call("gateway.ping"), GatewayExitedError);
});

Deno.test("TuigateClient speaks LSP framing when asked, setting the gateway's framing to match", async () => {
  await using client = await TuigateClient.start(await options(MAIN, { framing: "lsp" }));
  const info = await client.call("gateway.info");
  assert.equal((info.settings as { framing: string }).framing, "lsp");
  const pong = await client.call("gateway.ping", { text: "\u00e9".repeat(100_000) });
  assert.equal((pong.echo as { text: string }).text.length, 100_000);
});

Deno.test("TuigateClient speaks LSP framing with a library gateway, whose runStdio follows TUIGATE_FRAMING", async () => {
  // examples/custom_gateway calls runStdio(gateway) with no framing option.
  await using client = await TuigateClient.start(
    await options(`${ROOT}/examples/custom_gateway/main.ts`, { framing: "lsp" }),
  );
  const added = await client.call("todo.add", { title: "Über LSP" });
  assert.deepEqual(added, { id: 1, title: "Über LSP", done: false });
});

Deno.test("TuigateClient start fails with GatewayStartError ending with the stderr tail when gateway.ready does not come", async () => {
  const started = performance.now();
  let pid: number | undefined;
  const client = new TuigateClient({
    command: "sh",
    args: ["-c", "echo 'starting up...' >&2; echo 'fatal: config file unreadable' >&2; sleep 30"],
    readyTimeoutMs: 700,
  });
  await assert.rejects(
    (async () => {
      const starting = client.start();
      await delay(100);
      pid = client.pid;
      await starting;
    })(),
    (error: unknown) => {
      assert.ok(error instanceof GatewayStartError);
      assert.match(error.message, /did not send gateway.ready within 700 ms/);
      assert.match(error.message, /fatal: config file unreadable\n$/);
      assert.match(error.stderrTail, /starting up/);
      return true;
    },
  );
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 650 && elapsed < 5000, `took ${elapsed} ms`);
  assert.ok(pid !== undefined);
  assert.equal(alive(pid), false, "the process that never got ready was killed");
  assert.equal(client.state, ClientState.Closed);
  await client.close();
});

Deno.test("TuigateClient start fails with GatewayStartError when the gateway exits first or cannot be spawned", async () => {
  const exiting = new TuigateClient({
    command: "sh",
    args: ["-c", "echo 'no such flag' >&2; exit 2"],
  });
  await assert.rejects(exiting.start(), (error: unknown) => {
    assert.ok(error instanceof GatewayStartError);
    assert.equal(error.code, 2);
    assert.match(error.message, /exited with code 2 before sending gateway.ready/);
    assert.match(error.message, /no such flag/);
    return true;
  });
  const missing = new TuigateClient({ command: "/nonexistent/tuigate" });
  await assert.rejects(missing.start(), (error: unknown) => {
    assert.ok(error instanceof GatewayStartError);
    assert.match(error.message, /could not be spawned/);
    return true;
  });
  // A real gateway with a bad flag: its usage error is in the message.
  const usage = new TuigateClient(await options(MAIN, { args: ["--framing", "xml"] }));
  await assert.rejects(usage.start(), /Invalid value for --framing/);
});

Deno.test("TuigateClient start fails when the gateway never answers client.capabilities, and kills its tree", async () => {
  const client = new TuigateClient({
    command: Deno.execPath(),
    args: ["run", "-A", STUBBORN, "ignore-term"],
    readyTimeoutMs: 3000,
  });
  const started = performance.now();
  await assert.rejects(client.start(), /did not answer client.capabilities within 3000 ms/);
  assert.ok(performance.now() - started < 6000);
  assert.equal(client.state, ClientState.Closed);
  const pid = client.pid!;
  assert.equal(alive(pid), false);
  // Nothing is left in the gateway's session (zombies may take a moment to be reaped).
  await waitFor(() => !sessionMembers().includes(pid), 3000);
});

Deno.test("TuigateClient start times out with a protocol error when the framings disagree", async () => {
  const client = new TuigateClient(
    await options(MAIN, { framing: "lsp", args: ["--framing", "line"], readyTimeoutMs: 1500 }),
  );
  const protocolErrors: string[] = [];
  client.addEventListener("protocolerror", (event) => protocolErrors.push(event.reason));
  await assert.rejects(
    client.start(),
    (error: unknown) =>
      error instanceof GatewayStartError &&
      /its stdout is not lsp framing as the client expects: Malformed header line/.test(
        error.message,
      ),
  );
  assert.match(protocolErrors[0], /Malformed header line/);
});

Deno.test("TuigateClient delivers notifications to subscribers until they unsubscribe", async () => {
  await using client = await TuigateClient.start<TestMethods>(await options(INTEROP_GATEWAY));
  const ticks: unknown[] = [];
  const all: string[] = [];
  const stop = client.on("demo.tick", (params) => ticks.push(params));
  client.on("demo.tick", (_params, method) => all.push(method));
  client.on("demo.tick", () => {
    throw new Error("A throwing handler does not stop the others");
  });
  await client.call("test.emit", { method: "demo.tick", params: { n: 1 }, count: 3 });
  assert.deepEqual(ticks, [{ n: 1 }, { n: 1 }, { n: 1 }]);
  stop();
  await client.call("test.emit", { method: "demo.tick", params: { n: 2 }, count: 2 });
  assert.equal(ticks.length, 3);
  assert.equal(all.length, 5);
  await client.notify("test.note", { from: "ts" });
  assert.deepEqual((await client.call<{ notes: unknown[] }>("test.notes")).notes, [{ from: "ts" }]);
});

Deno.test("TuigateClient cancels a call through its AbortSignal with $/cancelRequest", async () => {
  await using client = await TuigateClient.start<TestMethods>(await options(INTEROP_GATEWAY));
  const controller = new AbortController();
  const started = performance.now();
  const sleeping = client.call("test.sleep", { ms: 30_000 }, { signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(sleeping, (error: unknown) => {
    assert.ok(error instanceof DOMException);
    assert.equal(error.name, "AbortError");
    return true;
  });
  assert.ok(performance.now() - started < 5000);
  // The gateway's handler saw its signal abort.
  const aborted = await client.call("test.aborted");
  assert.equal(aborted.ids.length, 1);
  // A timeout cancels the same way, with a TimeoutError.
  await assert.rejects(
    client.call("test.sleep", { ms: 30_000 }, { timeout: 200 }),
    (error: unknown) => error instanceof DOMException && error.name === "TimeoutError",
  );
  assert.equal((await client.call("test.aborted")).ids.length, 2);
  // An already aborted signal rejects without sending anything.
  await assert.rejects(
    client.call("test.sleep", { ms: 1 }, { signal: AbortSignal.abort(new Error("Too late")) }),
    /Too late/,
  );
  // The reason given to abort() is what the call rejects with.
  const custom = new AbortController();
  const call = client.call("test.sleep", { ms: 30_000 }, { signal: custom.signal });
  await delay(100);
  custom.abort(new RangeError("User pressed Escape"));
  await assert.rejects(call, RangeError);
  assert.equal((await client.call("test.aborted")).ids.length, 3);
  // The late -32800 answers were dropped; the connection still works.
  assert.deepEqual((await client.call("test.sleep", { ms: 10 })).slept, 10);
});

Deno.test("TuigateClient answers server-to-client requests with its handlers (capability announced at start)", async () => {
  await using client = await TuigateClient.start<TestMethods>(await options(INTEROP_GATEWAY));
  const stop = client.handle("ui.confirm", (params) => ({
    confirmed: true,
    question: (params as { question: string }).question,
  }));
  client.handle("ui.refuse", () => {
    throw new JsonRpcError(-32050, "Refused by the user", { why: "test" });
  });
  client.handle("ui.crash", () => {
    throw new Error("Handler bug");
  });
  assert.throws(() => client.handle("ui.confirm", () => null), TypeError);
  const answer = await client.call("test.ask", {
    method: "ui.confirm",
    params: { question: "Proceed?" },
  });
  assert.deepEqual(answer.result, { confirmed: true, question: "Proceed?" });
  await assert.rejects(client.call("test.ask", { method: "ui.refuse" }), (error: unknown) => {
    assert.ok(error instanceof JsonRpcError);
    assert.equal(error.code, -32050);
    assert.deepEqual(error.data, { why: "test" });
    return true;
  });
  await assert.rejects(
    client.call("test.ask", { method: "ui.crash" }),
    (error: unknown) =>
      error instanceof JsonRpcError && error.code === -32603 && /Handler bug/.test(error.message),
  );
  stop();
  await assert.rejects(
    client.call("test.ask", { method: "ui.confirm" }),
    (error: unknown) => error instanceof JsonRpcError && error.code === -32601,
  );
  // request.cancel from the gateway aborts the handler's signal.
  let abortReason: unknown;
  const cancels: unknown[] = [];
  client.on("request.cancel", (params) => cancels.push(params));
  client.handle("ui.slow", (_params, { signal }) =>
    new Promise((_resolve, reject) => {
      signal.addEventListener("abort", () => {
        abortReason = signal.reason;
        reject(signal.reason);
      });
    }));
  await assert.rejects(
    client.call("test.ask", { method: "ui.slow", timeout: 300 }),
    (error: unknown) => error instanceof JsonRpcError && error.code === -32001,
  );
  await waitFor(() => abortReason !== undefined);
  assert.match(String((abortReason as Error).message), /timeout/);
  assert.equal(cancels.length, 1);
});

Deno.test("TuigateClient with serverRequests: false does not announce it, and the gateway refuses at once", async () => {
  await using client = await TuigateClient.start<TestMethods>(
    await options(INTEROP_GATEWAY, { serverRequests: false }),
  );
  client.handle("ui.confirm", () => true);
  await assert.rejects(
    client.call("test.ask", { method: "ui.confirm" }),
    (error: unknown) => error instanceof JsonRpcError && error.code === -32004,
  );
});

Deno.test("TuigateClient rejects every pending call with GatewayExitedError when the gateway dies", async () => {
  const client = await TuigateClient.start<TestMethods>(await options(INTEROP_GATEWAY));
  const exits: ExitEvent[] = [];
  client.addEventListener("exit", (event) => exits.push(event));
  const pending = [
    client.call("test.sleep", { ms: 30_000 }),
    client.call("test.sleep", { ms: 30_000 }),
    client.call("test.sleep", { ms: 30_000 }),
  ];
  await delay(200);
  Deno.kill(client.pid!, "SIGKILL");
  const outcomes = await Promise.allSettled(pending);
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    const error = (outcome as PromiseRejectedResult).reason;
    assert.ok(error instanceof GatewayExitedError, String(error));
    assert.equal(error.signal, "SIGKILL");
    assert.equal(error.closed, false);
    assert.match(error.message, /killed by SIGKILL while test.sleep was pending/);
  }
  assert.equal(exits.length, 1);
  assert.equal(exits[0].expected, false);
  assert.equal(client.state, ClientState.Closed);
  await assert.rejects(client.call("gateway.ping"), GatewayExitedError);
  const closed = await client.close();
  assert.equal(closed.step, "gone");
});

Deno.test("TuigateClient restarts a crashed gateway with backoff, emitting restart then ready", async () => {
  await using client = await TuigateClient.start<TestMethods>(
    await options(INTEROP_GATEWAY, { restart: { initialDelayMs: 200, jitter: 0.5 } }),
  );
  const restarts: RestartEvent[] = [];
  const readies: ReadyEvent[] = [];
  client.addEventListener("restart", (event) => restarts.push(event));
  client.addEventListener("ready", (event) => readies.push(event));
  const firstPid = client.pid!;
  const first = client.ready!.epoch;
  const pending = client.call("test.sleep", { ms: 30_000 });
  await delay(100);
  Deno.kill(firstPid, "SIGKILL");
  await assert.rejects(pending, GatewayExitedError);
  assert.equal(client.state, ClientState.Restarting);
  // A call made while restarting waits for the new gateway.
  const during = await client.call("gateway.ping", { during: true });
  assert.deepEqual(during.echo, { during: true });
  assert.equal(restarts.length, 1);
  assert.equal(restarts[0].attempt, 1);
  assert.ok(restarts[0].delayMs >= 100 && restarts[0].delayMs <= 200, `${restarts[0].delayMs}`);
  assert.ok(restarts[0].cause instanceof GatewayExitedError);
  assert.equal(readies.length, 1);
  assert.equal(readies[0].attempt, 1);
  assert.notEqual(client.pid, firstPid);
  assert.notEqual(client.ready!.epoch, first);
  assert.equal(client.state, ClientState.Ready);
  // Server requests work on the new process: capabilities were announced again.
  client.handle("ui.confirm", () => "yes");
  assert.deepEqual(await client.call("test.ask", { method: "ui.confirm" }), { result: "yes" });
});

Deno.test("TuigateClient gives up restarting after maxAttempts with growing delays", async () => {
  const mark = await Deno.makeTempFile({ prefix: "tuigate-restart-" });
  await Deno.remove(mark);
  // The first run is a real gateway; every later run fails at once.
  const script = `if [ -e "$MARK" ]; then echo "broken install" >&2; exit 9; fi; ` +
    `touch "$MARK"; exec "$DENO" run -A "$MAIN"`;
  const client = await TuigateClient.start({
    command: "sh",
    args: ["-c", script],
    env: { ...(await stateEnv()), MARK: mark, DENO: Deno.execPath(), MAIN },
    restart: { maxAttempts: 3, initialDelayMs: 50, factor: 2, jitter: 0 },
  });
  const restarts: RestartEvent[] = [];
  let failed: RestartFailedEvent | undefined;
  client.addEventListener("restart", (event) => restarts.push(event));
  client.addEventListener("restartfailed", (event) => (failed = event));
  Deno.kill(client.pid!, "SIGKILL");
  await delay(50);
  // Waits through the attempts, then rejects.
  await assert.rejects(client.call("gateway.ping"), (error: unknown) => {
    assert.ok(error instanceof GatewayExitedError);
    assert.match(error.message, /could not be restarted after 3 attempts/);
    return true;
  });
  assert.deepEqual(restarts.map((r) => [r.attempt, r.delayMs]), [[1, 50], [2, 100], [3, 200]]);
  assert.ok(restarts[1].cause instanceof GatewayStartError);
  assert.match(restarts[1].cause.message, /broken install/);
  assert.equal(failed?.attempts, 3);
  assert.equal(client.state, ClientState.Closed);
  await client.close();
  await Deno.remove(mark).catch(() => {});
});

Deno.test("TuigateClient close() lets a real gateway exit on stdin EOF and answers what was in flight", async () => {
  const client = await TuigateClient.start<TestMethods>(await options(INTEROP_GATEWAY));
  const pid = client.pid!;
  const sleeping = assert.rejects(
    client.call("test.sleep", { ms: 30_000 }),
    (error: unknown) => error instanceof JsonRpcError && error.code === -32002,
  );
  await delay(100);
  const result = await client.close();
  assert.equal(result.step, "stdin");
  assert.equal(result.code, 0);
  assert.equal(result.leftovers, 0);
  assert.ok(result.ms < 3000, `close took ${result.ms} ms`);
  // The gateway aborted the handler on EOF and answered -32002 before exiting.
  await sleeping;
  assert.equal(alive(pid), false);
  assert.deepEqual(await client.close(), result, "close() is idempotent");
});

Deno.test("TuigateClient sends calls and notifications made just before close() and resolves the calls", async () => {
  const client = await TuigateClient.start<TestMethods>(await options(INTEROP_GATEWAY));
  // Neither is awaited before close(): both must still reach the gateway, which answers the
  // call before it exits on stdin EOF.
  const notified = client.notify("test.nothing");
  const sleeping = client.call("test.sleep", { ms: 50 });
  const pinged = client.call("gateway.ping");
  const result = await client.close();
  assert.equal(result.code, 0);
  assert.deepEqual(await sleeping, { slept: 50 });
  assert.equal((await pinged as { pong: boolean }).pong, true);
  await notified;
});

Deno.test("TuigateClient close() escalates to SIGTERM then SIGKILL on the whole tree, each after its wait", async () => {
  const client = await TuigateClient.start({
    command: Deno.execPath(),
    args: ["run", "-A", STUBBORN, "ignore-term"],
    serverRequests: false,
    closeInputWaitMs: 400,
    terminateWaitMs: 400,
    killWaitMs: 3000,
  });
  const exits: ExitEvent[] = [];
  client.addEventListener("exit", (event) => exits.push(event));
  const pid = client.pid!;
  const children = (client.ready as unknown as { children: number[] }).children;
  assert.equal(children.length, 3);
  await waitFor(() => children.every(alive));
  const result = await client.close();
  assert.equal(result.step, "sigkill");
  assert.equal(result.signal, "SIGKILL");
  assert.ok(result.ms >= 780, `close took ${result.ms} ms, less than the two waits`);
  assert.ok(result.ms < 4000, `close took ${result.ms} ms`);
  assert.equal(alive(pid), false);
  await waitFor(() => children.every((child) => !alive(child)), 3000);
  assert.equal(exits.length, 1);
  assert.equal(exits[0].expected, true);
});

Deno.test("TuigateClient close() stops at SIGTERM when that ends the gateway, and kills what it left behind", async () => {
  const client = await TuigateClient.start({
    command: Deno.execPath(),
    args: ["run", "-A", STUBBORN, "exit-on-term"],
    serverRequests: false,
    closeInputWaitMs: 300,
    terminateWaitMs: 5000,
  });
  const children = (client.ready as unknown as { children: number[] }).children;
  await waitFor(() => children.every(alive));
  const result = await client.close();
  assert.equal(result.step, "sigterm");
  assert.equal(result.code, 0);
  assert.ok(result.ms < 5000);
  await waitFor(() => children.every((child) => !alive(child)), 3000);
});

Deno.test("TuigateClient close() kills processes a gateway left in its session after exiting on EOF", async () => {
  const client = await TuigateClient.start({
    command: Deno.execPath(),
    args: ["run", "-A", STUBBORN, "exit-on-eof"],
    serverRequests: false,
  });
  const children = (client.ready as unknown as { children: number[] }).children;
  await waitFor(() => children.every(alive));
  const result = await client.close();
  assert.equal(result.step, "stdin");
  // Its own group's child and the one in a group of its own are still in its session;
  // the one that made its own session cannot be found once its parent is gone.
  assert.ok(result.leftovers >= 2, `leftovers: ${result.leftovers}`);
  await waitFor(() => !alive(children[0]) && !alive(children[1]), 3000);
  try {
    Deno.kill(children[2], "SIGKILL");
  } catch {
    // Already gone.
  }
});

Deno.test("TuigateClient is disposed by await using, which closes the gateway", async () => {
  let pid: number;
  {
    await using client = await TuigateClient.start(await options(MAIN));
    pid = client.pid!;
    assert.equal(alive(pid), true);
  }
  assert.equal(alive(pid), false);
});

Deno.test("TuigateClient starts a job and streams its output until job.exit", async () => {
  await using client = await TuigateClient.start(await options(MAIN));
  assert.equal(client.ready?.capabilities.jobs, true);
  let text = "";
  const exited = Promise.withResolvers<{ code: number | null; job: string }>();
  client.on("job.output", (params) => (text += params.text ?? ""));
  client.on("job.exit", (params) => exited.resolve(params));
  const { job, pid } = await client.call("job.start", {
    cmd: "sh",
    args: ["-c", "for i in 1 2 3; do echo tick $i; sleep 0.05; done"],
  });
  assert.equal(typeof pid, "number");
  const exit = await exited.promise;
  assert.equal(exit.job, job);
  assert.equal(exit.code, 0);
  assert.equal(text, "tick 1\ntick 2\ntick 3\n");
});

Deno.test("TuigateClient leaves Ready before exit listeners run: a call made in one waits for the restart, or rejects without one", async () => {
  for (const restart of [true, false]) {
    const client = await TuigateClient.start(
      await options(MAIN, { restart: restart ? { initialDelayMs: 50, jitter: 0 } : false }),
    );
    const first = client.pid!;
    const fromListener = new Promise<string>((resolve) => {
      client.addEventListener("exit", () => {
        client.call("gateway.ping").then(
          (result) => resolve(result.pong ? "resolved" : "no pong"),
          (error) => resolve(`rejected ${(error as Error).name}`),
        );
      }, { once: true });
    });
    Deno.kill(first, "SIGKILL");
    const outcome = await Promise.race([fromListener, delay(8000).then(() => "pending")]);
    if (restart) {
      assert.equal(outcome, "resolved");
      assert.notEqual(client.pid, first);
    } else {
      assert.equal(outcome, "rejected GatewayExitedError");
    }
    await client.close();
  }
});

Deno.test("TuigateClient close() from an exit listener stops the restart: no gateway is spawned after it", async () => {
  const client = await TuigateClient.start(
    await options(MAIN, { restart: { initialDelayMs: 1, jitter: 0 } }),
  );
  const first = client.pid!;
  let closed: Promise<unknown> | undefined;
  const restarts: RestartEvent[] = [];
  client.addEventListener("restart", (event) => restarts.push(event));
  client.addEventListener("exit", () => {
    closed = client.close();
  }, { once: true });
  Deno.kill(first, "SIGKILL");
  await waitFor(() => closed !== undefined);
  await closed;
  await delay(1500);
  assert.equal(client.state, ClientState.Closed);
  assert.equal(client.pid, first, "no new gateway was spawned");
  assert.equal(restarts.length, 0);
});

Deno.test("TuigateClient close() from a restart listener ends the backoff wait at once (no timer outlives it)", async () => {
  const client = await TuigateClient.start(
    await options(MAIN, { restart: { initialDelayMs: 8000, jitter: 0 } }),
  );
  let closed: Promise<unknown> | undefined;
  client.addEventListener("restart", () => {
    closed = client.close();
  }, { once: true });
  const started = performance.now();
  Deno.kill(client.pid!, "SIGKILL");
  await waitFor(() => closed !== undefined);
  await closed;
  assert.ok(performance.now() - started < 4000, "close() did not wait for the backoff");
  assert.equal(client.state, ClientState.Closed);
  // The test's op sanitizer fails it if the 8 s backoff timer were still pending.
});

Deno.test("TuigateClient treats an exit after gateway.shutdown as expected: no restart, the client is closed", async () => {
  const client = await TuigateClient.start(
    await options(MAIN, { restart: { initialDelayMs: 20, jitter: 0 } }),
  );
  const exits: ExitEvent[] = [];
  const restarts: RestartEvent[] = [];
  client.addEventListener("exit", (event) => exits.push(event));
  client.addEventListener("restart", (event) => restarts.push(event));
  const pid = client.pid!;
  assert.deepEqual(await client.call("gateway.shutdown"), { ok: true });
  await waitFor(() => exits.length === 1);
  assert.equal(exits[0].code, 0);
  assert.equal(exits[0].expected, true);
  await delay(300);
  assert.equal(restarts.length, 0);
  assert.equal(client.pid, pid);
  assert.equal(client.state, ClientState.Closed);
  await assert.rejects(client.call("gateway.ping"), GatewayExitedError);
  assert.equal((await client.close()).step, "gone");
});

/** A fake gateway in Python: announces ready, then answers every call with `answer` (the id filled in). */
function fakeGateway(answer: string): ClientOptions {
  const script = `import sys, json
print(json.dumps({"jsonrpc": "2.0", "method": "gateway.ready", "params": {"pid": 0, "version": "0", "protocol": 1, "epoch": "e", "capabilities": {}}}), flush=True)
for line in sys.stdin:
    message = json.loads(line)
    print(${JSON.stringify(answer)}.replace('"ID"', json.dumps(message["id"])), flush=True)
`;
  return { command: "python3", args: ["-c", script], serverRequests: false };
}

Deno.test("TuigateClient rejects a call whose answer is not a valid response with -32600, reports it, and keeps running", async () => {
  for (
    const [answer, reason] of [
      ['{"jsonrpc":"2.0","id":"ID","error":null}', /"error" member must be an error object/],
      [
        '{"jsonrpc":"2.0","id":"ID","result":1,"error":{"code":1,"message":"m"}}',
        /either "result" or "error", not both/,
      ],
      ['{"id":"ID","result":1}', /"jsonrpc" member/],
    ] as const
  ) {
    const client = await TuigateClient.start(fakeGateway(answer));
    const reported: string[] = [];
    client.addEventListener("protocolerror", (event) => reported.push(event.reason));
    for (let round = 0; round < 2; round++) {
      await assert.rejects(client.call("x"), (error: unknown) => {
        assert.ok(error instanceof JsonRpcError, String(error));
        assert.equal(error.code, -32600);
        assert.match(error.message, reason);
        assert.equal((error.data as { id: number }).id, round + 1);
        return true;
      });
    }
    assert.equal(reported.length, 2);
    assert.equal(client.state, ClientState.Ready);
    await client.close();
  }
});

Deno.test("TuigateClient skips an LSP frame announcing more than maxFrameBytes and reports it, without allocating it", async () => {
  const ready = JSON.stringify({
    jsonrpc: "2.0",
    method: "gateway.ready",
    params: { pid: 1, version: "0", protocol: 1, epoch: "x", capabilities: {} },
  });
  const script = `printf 'Content-Length: ${ready.length}\\r\\n\\r\\n%s' '${ready}'; sleep 0.2; ` +
    `printf 'Content-Length: 99999999999\\r\\n\\r\\n'; sleep 5`;
  const client = await TuigateClient.start({
    command: "sh",
    args: ["-c", script],
    framing: "lsp",
    serverRequests: false,
    closeInputWaitMs: 100,
  });
  const reported: string[] = [];
  client.addEventListener("protocolerror", (event) => reported.push(event.reason));
  await waitFor(() => reported.length > 0);
  assert.match(reported[0], /99999999999 bytes exceeds the limit/);
  assert.equal(client.state, ClientState.Ready);
  await client.close();
});

Deno.test("TuigateClient takes a timeout of Infinity, or over 2^31-1 ms, as no limit", async () => {
  const client = await TuigateClient.start<TestMethods>(
    await options(INTEROP_GATEWAY, { readyTimeoutMs: Infinity, closeInputWaitMs: Infinity }),
  );
  assert.equal(client.state, ClientState.Ready);
  for (const timeout of [Infinity, 2 ** 31]) {
    assert.deepEqual(await client.call("test.sleep", { ms: 200 }, { timeout }), { slept: 200 });
  }
  const closed = await client.close();
  assert.equal(closed.step, "stdin");
  assert.equal(closed.code, 0);
});

Deno.test("TuigateClient refuses capabilities that cannot be serialised when it is made, before spawning anything", () => {
  assert.throws(
    () => new TuigateClient({ command: "no-such-gateway", capabilities: { limit: 10n } }),
    (error: unknown) =>
      error instanceof TypeError && /capabilities cannot be serialised/.test(error.message),
  );
});

Deno.test("TuigateClient keeps a character of stderr split between reads whole, and bounds the tail in bytes", async () => {
  const script = `import sys, time
data = "é".encode() * 5000
sys.stderr.buffer.write(data[:4001]); sys.stderr.flush(); time.sleep(0.2)
sys.stderr.buffer.write(data[4001:]); sys.stderr.flush(); sys.exit(3)`;
  let seen = "";
  for (const tailBytes of [100_000, 1001]) {
    seen = "";
    const error = await TuigateClient.start({
      command: "python3",
      args: ["-c", script],
      stderrTailBytes: tailBytes,
      onStderr: (text) => (seen += text),
    }).then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof GatewayStartError, String(error));
    assert.equal(seen, "é".repeat(5000));
    // "é" is two bytes: a 1001-byte bound keeps 500 of them.
    assert.equal(error.stderrTail, "é".repeat(tailBytes === 1001 ? 500 : 5000));
  }
});

Deno.test("TuigateClient answers -32603 when a handler's result cannot be serialised, and rejects unserialisable params at once", async () => {
  await using client = await TuigateClient.start<TestMethods>(await options(INTEROP_GATEWAY));
  client.handle("ui.big", () => ({ big: 1n }));
  await assert.rejects(
    client.call("test.ask", { method: "ui.big" }),
    (error: unknown) =>
      error instanceof JsonRpcError && error.code === -32603 && /ui\.big/.test(error.message),
  );
  await assert.rejects(client.call("gateway.ping", { n: 1n } as never), TypeError);
  assert.equal((await client.call("gateway.ping")).pong, true);
});

Deno.test({
  name: "TuigateClient test cleanup",
  fn: async () => {
    if (tempDir !== undefined) await Deno.remove(tempDir, { recursive: true }).catch(() => {});
  },
});
