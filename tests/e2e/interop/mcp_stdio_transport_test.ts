/**
 * Interop: the stdio client transport of `@modelcontextprotocol/sdk`, used
 * directly (start, send, onmessage, close; not the MCP `Client`, whose
 * handshake is MCP's own). It spawns the gateway itself and speaks line
 * framing. Its `close()` ends stdin, waits up to 2 s for the process to go,
 * then sends SIGTERM, waits 2 s more, then SIGKILL: the gateway must be gone
 * within that first step.
 */

import assert from "node:assert/strict";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { ROOT } from "../../_support/gateway_process.ts";
import { INTEROP_GATEWAY } from "../../_support/interop_gateway.ts";

/** The first grace step of `StdioClientTransport.close()`, from its source. */
const MCP_FIRST_GRACE_MS = 2000;

// deno-lint-ignore no-explicit-any
type Message = any;

interface Connected {
  transport: StdioClientTransport;
  messages: Message[];
  errors: Error[];
  stderr: () => string;
  closed: Promise<number>;
  ledger: () => Promise<Record<string, unknown>[]>;
  next(match: (m: Message) => boolean, timeoutMs?: number): Promise<Message>;
  request(method: string, params?: Record<string, unknown>): Promise<Message>;
  [Symbol.asyncDispose](): Promise<void>;
}

let nextId = 1;

/** Pids of the live (not zombie) processes of a process group. */
function liveMembers(pgid: number): number[] {
  const out = new Deno.Command("ps", { args: ["-eo", "pid=,pgid=,stat="] }).outputSync().stdout;
  const pids: number[] = [];
  for (const line of new TextDecoder().decode(out).split("\n")) {
    const [pid, group, stat] = line.trim().split(/\s+/);
    if (Number(group) === pgid && stat !== undefined && !stat.startsWith("Z")) {
      pids.push(Number(pid));
    }
  }
  return pids;
}

async function connect(script: string): Promise<Connected> {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-mcp-" });
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", "-A", script],
    cwd: ROOT,
    env: { TUIGATE_CRASH_LOG: `${dir}/exits.jsonl`, TUIGATE_STATE_DIR: `${dir}/state` },
    stderr: "pipe",
  });
  const messages: Message[] = [];
  const errors: Error[] = [];
  let waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  let stderr = "";
  transport.stderr?.on("data", (chunk: Uint8Array) => (stderr += new TextDecoder().decode(chunk)));
  let resolveClosed!: (at: number) => void;
  const closed = new Promise<number>((resolve) => (resolveClosed = resolve));
  transport.onmessage = (message: JSONRPCMessage) => {
    messages.push(message);
    const waiter = waiters.find((w) => w.match(message));
    if (waiter !== undefined) {
      waiters = waiters.filter((w) => w !== waiter);
      waiter.resolve(message);
    }
  };
  transport.onerror = (error: Error) => errors.push(error);
  transport.onclose = () => resolveClosed(performance.now());
  await transport.start();
  const next = (match: (m: Message) => boolean, timeoutMs = 15_000) => {
    const found = messages.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`No matching message in ${timeoutMs} ms; stderr:\n${stderr}`)),
        timeoutMs,
      );
      waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  };
  return {
    transport,
    messages,
    errors,
    stderr: () => stderr,
    closed,
    next,
    async ledger() {
      const text = await Deno.readTextFile(`${dir}/exits.jsonl`).catch(() => "");
      return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
    },
    async request(method, params) {
      const id = nextId++;
      const response = next((m) => m.id === id && !("method" in m));
      await transport.send(
        params === undefined
          ? { jsonrpc: "2.0", id, method }
          : { jsonrpc: "2.0", id, method, params },
      );
      return await response;
    },
    async [Symbol.asyncDispose]() {
      await transport.close();
      await closed;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test("MCP StdioClientTransport receives gateway.ready and gets answers to requests", async () => {
  await using gw = await connect(`${ROOT}/main.ts`);
  const ready = await gw.next((m) => m.method === "gateway.ready");
  assert.equal(ready.params.pid, gw.transport.pid);
  assert.equal(gw.messages[0], ready, "gateway.ready is the first message");
  const pong = await gw.request("gateway.ping", { from: "mcp" });
  assert.deepEqual(pong.result.echo, { from: "mcp" });
  const info = await gw.request("gateway.info");
  assert.equal(info.result.settings.framing, "line");
  const missing = await gw.request("no.such.method");
  assert.equal(missing.error.code, -32601);
  const responses = await Promise.all(
    Array.from({ length: 200 }, (_, i) => gw.request("gateway.ping", { i })),
  );
  assert.deepEqual(responses.map((r) => r.result.echo.i), [...Array(200).keys()]);
  assert.deepEqual(gw.errors, [], "every frame passed the SDK's JSON-RPC schema");
});

Deno.test("MCP StdioClientTransport sends and receives notifications through the gateway", async () => {
  await using gw = await connect(INTEROP_GATEWAY);
  await gw.next((m) => m.method === "gateway.ready");
  await gw.transport.send({ jsonrpc: "2.0", method: "test.note", params: { from: "mcp" } });
  const notes = await gw.request("test.notes");
  assert.deepEqual(notes.result.notes, [{ from: "mcp" }]);
  const emitted = await gw.request("test.emit", {
    method: "demo.progress",
    params: { done: 3 },
    count: 4,
  });
  assert.equal(emitted.result.sent, 4);
  const progress = gw.messages.filter((m) => m.method === "demo.progress");
  assert.deepEqual(progress.map((m) => m.params), Array(4).fill({ done: 3 }));
  assert.ok(progress.every((m) => !("id" in m)));
  // $/cancelRequest is a notification too.
  const id = nextId++;
  const sleeping = gw.next((m) => m.id === id);
  await gw.transport.send({ jsonrpc: "2.0", id, method: "test.sleep", params: { ms: 30_000 } });
  await gw.transport.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id } });
  assert.equal((await sleeping).error.code, -32800);
  assert.deepEqual(gw.errors, []);
});

for (
  const { name, script, inflight, job } of [
    { name: "idle", script: `${ROOT}/main.ts`, inflight: undefined, job: undefined },
    {
      name: "with a request in flight",
      script: INTEROP_GATEWAY,
      inflight: 30_000,
      job: undefined,
    },
    {
      name: "with a job that ignores SIGTERM",
      script: `${ROOT}/main.ts`,
      inflight: undefined,
      job: "trap '' TERM; sleep 1000",
    },
  ]
) {
  Deno.test(`MCP StdioClientTransport close() finds the gateway gone within its first grace step (${name})`, async () => {
    await using gw = await connect(script);
    await gw.next((m) => m.method === "gateway.ready");
    const pid = gw.transport.pid!;
    if (inflight !== undefined) {
      await gw.transport.send({
        jsonrpc: "2.0",
        id: "slow",
        method: "test.sleep",
        params: { ms: inflight },
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    let jobPid: number | undefined;
    if (job !== undefined) {
      const started = await gw.request("job.start", { cmd: "sh", args: ["-c", job] });
      jobPid = started.result.pid;
    }
    const started = performance.now();
    await gw.transport.close();
    const closeMs = performance.now() - started;
    const exitMs = (await gw.closed) - started;
    // The gateway exited on stdin EOF, not on the SIGTERM of the second step.
    const ledger = await gw.ledger();
    const exit = ledger.find((e) => e.event === "exit");
    assert.equal(exit?.reason, "stdin-eof", JSON.stringify(ledger));
    assert.equal(exit?.pid, pid);
    assert.ok(exitMs < MCP_FIRST_GRACE_MS, `the gateway took ${exitMs.toFixed(0)} ms to exit`);
    assert.ok(closeMs < MCP_FIRST_GRACE_MS, `close() took ${closeMs.toFixed(0)} ms`);
    assert.throws(() => Deno.kill(pid, "SIGCONT"), "the process is gone");
    if (jobPid !== undefined) {
      // The gateway killed the job's process group (after its grace) before exiting.
      assert.deepEqual(liveMembers(jobPid), [], "the job's process group is gone");
    }
    if (inflight !== undefined) {
      // On stdin EOF the gateway aborts what is in flight and still answers it before exiting.
      const answer = gw.messages.find((m) => m.id === "slow");
      assert.equal(answer?.error?.code, -32002, JSON.stringify(answer));
      assert.equal(typeof answer?.error?.data?.reason, "string");
    }
    // deno-lint-ignore no-console
    console.log(
      `[measure] MCP close() ${name}: gateway exited ${exitMs.toFixed(0)} ms after close()`,
    );
  });
}
