import assert from "node:assert/strict";
import * as z from "zod";
import {
  currentPeer,
  defineMethod,
  Gateway,
  type JsonRpcError,
  Peer,
  sleep,
} from "../../src/mod.ts";

// deno-lint-ignore no-explicit-any
type Frame = any;

/** A peer whose output is collected as parsed frames. */
class TestPeer {
  readonly peer: Peer;
  readonly frames: Frame[] = [];
  #gateway: Gateway;
  #waiters: (() => void)[] = [];
  #running = true;

  constructor(gateway: Gateway, options: { grants?: string[] } = {}) {
    this.#gateway = gateway;
    this.peer = new Peer({ transport: "test", grants: options.grants });
    gateway.open(this.peer);
    void this.#pump();
  }

  async #pump(): Promise<void> {
    const output = this.peer.output;
    while (this.#running) {
      await output.readable();
      if (output.closed) return;
      const batch = output.take();
      if (batch === undefined) continue;
      for (const text of batch.frames) this.frames.push(JSON.parse(text));
      output.release(batch.bytes);
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  send(message: unknown): void {
    this.#gateway.dispatcher.handleText(
      typeof message === "string" ? message : JSON.stringify(message),
      this.peer,
    );
  }

  async waitFor(match: (f: Frame) => boolean, timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        throw new Error(`Timed out; frames: ${JSON.stringify(this.frames).slice(0, 500)}`);
      }
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
  }

  response(id: unknown): Promise<Frame> {
    return this.waitFor((f) => f.id === id && !("method" in f));
  }

  close(): void {
    this.#running = false;
    this.peer.close("test over");
  }
}

function slowGateway(options: { maxInflight?: number; maxQueued?: number } = {}) {
  const gateway = new Gateway(options);
  const aborted: unknown[] = [];
  const ran: number[] = [];
  gateway.register(defineMethod({
    name: "slow",
    params: z.object({ ms: z.number(), n: z.number().optional() }),
    handler: async ({ ms, n }, ctx) => {
      if (n !== undefined) ran.push(n);
      ctx.signal.addEventListener("abort", () => aborted.push(ctx.signal.reason));
      await sleep(ms, ctx.signal);
      return "done";
    },
  }));
  return { gateway, aborted, ran };
}

Deno.test("Dispatcher answers -32601 for an unknown method", async () => {
  const gateway = new Gateway();
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 1, method: "no.such" });
  const reply = await client.response(1);
  assert.equal(reply.error.code, -32601);
  assert.deepEqual(reply.error.data, { method: "no.such" });
  client.close();
});

Deno.test("Dispatcher answers -32603 for a result with no JSON form: a function, a symbol, a toJSON that returns undefined", async () => {
  const gateway = new Gateway();
  gateway.register({ name: "fn", handler: () => () => 1 });
  gateway.register({ name: "sym", handler: () => Symbol("x") });
  gateway.register({ name: "tojson", handler: () => ({ toJSON: () => undefined }) });
  gateway.register({ name: "ok", handler: () => ({ toJSON: () => "fine" }) });
  const client = new TestPeer(gateway);
  for (const [id, method] of ["fn", "sym", "tojson"].entries()) {
    client.send({ jsonrpc: "2.0", id, method });
    const reply = await client.response(id);
    assert.equal(reply.error.code, -32603, JSON.stringify(reply));
    assert.match(
      reply.error.message,
      new RegExp(`Result of method ${method} could not be serialised`),
    );
    assert.equal("result" in reply, false);
  }
  client.send({ jsonrpc: "2.0", id: 9, method: "ok" });
  assert.equal((await client.response(9)).result, "fine");
  client.close();
});

Deno.test("Dispatcher answers -32603 for a result that throws when looked at, and goes on serving", async () => {
  const gateway = new Gateway();
  const hostile = new Proxy({}, {
    has() {
      throw new Error("Nothing to see");
    },
    ownKeys() {
      throw new Error("Nothing to see");
    },
  });
  gateway.register({ name: "hostile", handler: () => hostile });
  gateway.register({ name: "dated", handler: () => new Date(0) });
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 1, method: "hostile" });
  client.send({ jsonrpc: "2.0", id: 2, method: "dated" });
  const reply = await client.response(1);
  assert.equal(reply.error.code, -32603);
  assert.match(reply.error.message, /could not be serialised: Nothing to see/);
  assert.equal((await client.response(2)).result, "1970-01-01T00:00:00.000Z");
  client.close();
});

Deno.test("Dispatcher answers -32603 when a handler throws a value that throws when inspected", async () => {
  const gateway = new Gateway();
  // A hostile thrown value: asking for its prototype (as instanceof does) throws.
  const hostile = new Proxy({}, {
    getPrototypeOf() {
      throw new Error("No prototype for you");
    },
  });
  gateway.register({
    name: "sync",
    handler: () => {
      throw hostile;
    },
  });
  gateway.register({ name: "async", handler: () => Promise.reject(hostile) });
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 1, method: "sync" });
  client.send({ jsonrpc: "2.0", id: 2, method: "async" });
  client.send({ jsonrpc: "2.0", id: 3, method: "gateway.ping" });
  for (const id of [1, 2]) {
    const reply = await client.response(id);
    assert.equal(reply.error.code, -32603);
  }
  assert.equal((await client.response(3)).result.pong, true);
  client.close();
});

Deno.test("Dispatcher aborts a running request on $/cancelRequest and answers -32800", async () => {
  const { gateway, aborted } = slowGateway();
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 7, method: "slow", params: { ms: 10_000 } });
  await sleep(20);
  client.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 7 } });
  const reply = await client.response(7);
  assert.equal(reply.error.code, -32800);
  await sleep(10);
  assert.equal(aborted.length, 1);
  assert.equal((aborted[0] as JsonRpcError).code, -32800);
  // Exactly one answer.
  await sleep(50);
  assert.equal(client.frames.filter((f) => f.id === 7).length, 1);
  client.close();
});

Deno.test("Dispatcher drops a queued request cancelled before it starts, and ignores unknown ids", async () => {
  const { gateway, ran } = slowGateway({ maxInflight: 1 });
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 1, method: "slow", params: { ms: 100, n: 1 } });
  client.send({ jsonrpc: "2.0", id: 2, method: "slow", params: { ms: 100, n: 2 } });
  client.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 2 } });
  client.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 999 } });
  assert.equal((await client.response(2)).error.code, -32800);
  assert.equal((await client.response(1)).result, "done");
  await sleep(150);
  assert.deepEqual(ran, [1]);
  assert.equal(client.frames.filter((f) => f.id === 999).length, 0);
  client.close();
});

Deno.test("Dispatcher cancels a request whose id is null", async () => {
  const { gateway, aborted } = slowGateway();
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: null, method: "slow", params: { ms: 10_000 } });
  await sleep(20);
  client.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: {} });
  await sleep(20);
  assert.equal(aborted.length, 0, "a cancel with no id cancels nothing");
  client.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: null } });
  const reply = await client.waitFor((f) => "id" in f && f.id === null);
  assert.equal(reply.error.code, -32800);
  assert.equal(aborted.length, 1);
  client.close();
});

Deno.test("Dispatcher ignores a cancel that arrives after the result was sent", async () => {
  const gateway = new Gateway();
  gateway.register({ name: "quick", handler: () => 42 });
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 1, method: "quick" });
  assert.equal((await client.response(1)).result, 42);
  client.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 1 } });
  await sleep(50);
  assert.equal(client.frames.filter((f) => f.id === 1).length, 1);
  client.close();
});

Deno.test("Dispatcher answers the documented timeout error when a method's deadline expires", async () => {
  const gateway = new Gateway();
  let signalled = false;
  gateway.register({
    name: "deadline",
    timeoutMs: 50,
    handler: async (_params, ctx) => {
      ctx.signal.addEventListener("abort", () => (signalled = true));
      await sleep(5000, ctx.signal);
    },
  });
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 1, method: "deadline" });
  const reply = await client.response(1);
  assert.equal(reply.error.code, -32001);
  assert.deepEqual(reply.error.data, { method: "deadline", timeoutMs: 50 });
  assert.equal(signalled, true);
  client.close();
});

Deno.test("Dispatcher refuses requests beyond max-inflight + max-queued with the overload error", async () => {
  const { gateway } = slowGateway({ maxInflight: 4, maxQueued: 8 });
  const client = new TestPeer(gateway);
  for (let i = 1; i <= 20; i++) {
    client.send({ jsonrpc: "2.0", id: i, method: "slow", params: { ms: 50 } });
  }
  const refused = await client.response(13);
  assert.equal(refused.error.code, -32000);
  assert.deepEqual(refused.error.data, {
    inflight: 4,
    queued: 8,
    maxInflight: 4,
    maxQueued: 8,
    retryAfterMs: 100,
  });
  for (let i = 1; i <= 12; i++) assert.equal((await client.response(i)).result, "done");
  for (let i = 13; i <= 20; i++) assert.equal((await client.response(i)).error.code, -32000);
  // Capacity comes back once the queue drains.
  client.send({ jsonrpc: "2.0", id: 21, method: "slow", params: { ms: 1 } });
  assert.equal((await client.response(21)).result, "done");
  client.close();
});

Deno.test("Dispatcher no longer counts a cancelled queued request against max-queued", async () => {
  const { gateway, ran } = slowGateway({ maxInflight: 1, maxQueued: 1 });
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 1, method: "slow", params: { ms: 200, n: 1 } });
  client.send({ jsonrpc: "2.0", id: 2, method: "slow", params: { ms: 1, n: 2 } });
  client.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 2 } });
  assert.equal((await client.response(2)).error.code, -32800);
  assert.deepEqual(
    [gateway.dispatcher.stats().inflight, gateway.dispatcher.stats().queued],
    [1, 0],
  );
  // The only queued request was cancelled: this one is queued, not refused.
  client.send({ jsonrpc: "2.0", id: 3, method: "slow", params: { ms: 1, n: 3 } });
  assert.equal(gateway.dispatcher.stats().queued, 1);
  client.send({ jsonrpc: "2.0", id: 4, method: "slow", params: { ms: 1, n: 4 } });
  const refused = await client.response(4);
  assert.equal(refused.error.code, -32000);
  assert.equal(refused.error.data.queued, 1);
  assert.equal((await client.response(1)).result, "done");
  assert.equal((await client.response(3)).result, "done");
  assert.deepEqual(ran, [1, 3]);
  await gateway.dispatcher.idle();
  assert.equal(gateway.dispatcher.stats().queued, 0);
  client.close();
});

Deno.test("Dispatcher bounds cancelled requests that wait to be skipped while every slot is held", async () => {
  const { gateway } = slowGateway({ maxInflight: 1, maxQueued: 2 });
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 1, method: "slow", params: { ms: 300 } });
  for (let id = 2; id < 22; id++) {
    client.send({ jsonrpc: "2.0", id, method: "slow", params: { ms: 1, n: id } });
    client.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id } });
  }
  const codes = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => (await client.response(i + 2)).error.code),
  );
  // The first few are queued and cancelled; once as many cancelled ones wait as max-queued
  // allows free, they count again and later requests are refused: the queue cannot pile up.
  assert.ok(codes.includes(-32800) && codes.includes(-32000), JSON.stringify(codes));
  assert.ok(codes.filter((code) => code === -32800).length <= 5, JSON.stringify(codes));
  assert.equal((await client.response(1)).result, "done");
  await gateway.dispatcher.idle();
  assert.equal(gateway.dispatcher.stats().queued, 0);
  client.send({ jsonrpc: "2.0", id: 99, method: "slow", params: { ms: 1 } });
  assert.equal((await client.response(99)).result, "done");
  client.close();
});

Deno.test("Dispatcher runs a sequential method one call at a time, in arrival order", async () => {
  const gateway = new Gateway();
  const order: number[] = [];
  let running = 0;
  let most = 0;
  gateway.register({
    name: "seq",
    sequential: true,
    handler: async (params) => {
      running++;
      most = Math.max(most, running);
      await sleep(Math.random() * 10);
      order.push((params as { n: number }).n);
      running--;
    },
  });
  const client = new TestPeer(gateway);
  for (let n = 0; n < 30; n++) client.send({ jsonrpc: "2.0", id: n, method: "seq", params: { n } });
  await client.response(29);
  await sleep(20);
  assert.deepEqual(order, Array.from({ length: 30 }, (_, n) => n));
  assert.equal(most, 1);
  client.close();
});

Deno.test("Dispatcher answers -32602 with the failing paths for invalid params", async () => {
  const gateway = new Gateway();
  gateway.register(defineMethod({
    name: "add",
    params: z.object({ a: z.number(), b: z.object({ c: z.number() }) }),
    handler: ({ a, b }) => a + b.c,
  }));
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 1, method: "add", params: { a: "one", b: { c: "two" } } });
  const reply = await client.response(1);
  assert.equal(reply.error.code, -32602);
  const paths = reply.error.data.issues.map((i: { path: string }) => i.path).sort();
  assert.deepEqual(paths, ["a", "b.c"]);
  client.send({ jsonrpc: "2.0", id: 2, method: "add", params: { a: 1, b: { c: 2 } } });
  assert.equal((await client.response(2)).result, 3);
  client.close();
});

Deno.test("Dispatcher names params given by position in the schema's order", async () => {
  const gateway = new Gateway();
  gateway.register(defineMethod({
    name: "subtract",
    params: z.object({ minuend: z.number(), subtrahend: z.number().default(0) }),
    handler: ({ minuend, subtrahend }) => minuend - subtrahend,
  }));
  gateway.register(defineMethod({
    name: "maybe",
    params: z.object({ flag: z.boolean() }).optional(),
    handler: (params) => params?.flag ?? "absent",
  }));
  gateway.register(defineMethod({
    name: "pair",
    params: z.tuple([z.string(), z.number()]),
    handler: ([name, n]) => `${name}${n}`,
  }));
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 1, method: "subtract", params: [42, 23] });
  assert.equal((await client.response(1)).result, 19);
  client.send({ jsonrpc: "2.0", id: 2, method: "subtract", params: [42] });
  assert.equal((await client.response(2)).result, 42, "a missing trailing param takes its default");
  client.send({ jsonrpc: "2.0", id: 3, method: "maybe", params: [true] });
  assert.equal((await client.response(3)).result, true, "through optional()");
  client.send({ jsonrpc: "2.0", id: 4, method: "pair", params: ["x", 1] });
  assert.equal((await client.response(4)).result, "x1", "a tuple schema gets the array itself");

  client.send({ jsonrpc: "2.0", id: 5, method: "subtract", params: [1, 2, 3] });
  const tooMany = await client.response(5);
  assert.equal(tooMany.error.code, -32602);
  assert.match(
    tooMany.error.message,
    /at most 2 params by position \(minuend, subtrahend\), got 3/,
  );
  assert.equal(tooMany.error.data.method, "subtract");
  client.send({ jsonrpc: "2.0", id: 6, method: "subtract", params: ["42"] });
  const wrong = await client.response(6);
  assert.equal(wrong.error.code, -32602);
  assert.deepEqual(wrong.error.data.issues.map((i: { path: string }) => i.path), ["minuend"]);
  client.close();
});

Deno.test("Dispatcher hands absent params to an optional() or default() schema as undefined, and {} to others", async () => {
  const gateway = new Gateway();
  gateway.register(defineMethod({
    name: "maybe",
    params: z.object({ ms: z.number() }).optional(),
    handler: (params) => params ?? "absent",
  }));
  gateway.register(defineMethod({
    name: "defaulted",
    params: z.object({ ms: z.number() }).default({ ms: 5 }),
    handler: ({ ms }) => ms,
  }));
  gateway.register(defineMethod({
    name: "fields",
    params: z.object({ open: z.boolean().default(false) }),
    handler: ({ open }) => open,
  }));
  gateway.register(defineMethod({
    name: "needs",
    params: z.object({ ms: z.number() }),
    handler: ({ ms }) => ms,
  }));
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 1, method: "maybe" });
  assert.equal((await client.response(1)).result, "absent");
  client.send({ jsonrpc: "2.0", id: 2, method: "defaulted" });
  assert.equal((await client.response(2)).result, 5);
  client.send({ jsonrpc: "2.0", id: 3, method: "fields" });
  assert.equal((await client.response(3)).result, false, "a field's own default still applies");
  client.send({ jsonrpc: "2.0", id: 4, method: "needs" });
  const missing = await client.response(4);
  assert.equal(missing.error.code, -32602);
  assert.deepEqual(missing.error.data.issues.map((i: { path: string }) => i.path), ["ms"]);
  client.send({ jsonrpc: "2.0", id: 5, method: "maybe", params: {} });
  assert.equal((await client.response(5)).error.code, -32602, "params given are still checked");
  client.close();
});

Deno.test("Peer binding follows the asking peer into timers and promises with two peers interleaved", async () => {
  const gateway = new Gateway();
  gateway.register({
    name: "later",
    handler: (params) => {
      const tag = (params as { tag: string }).tag;
      setTimeout(() => {
        void Promise.resolve().then(() =>
          currentPeer()?.notify("fired", { tag, peer: currentPeer()?.id })
        );
      }, 10 + Math.random() * 20);
      return tag;
    },
  });
  const a = new TestPeer(gateway);
  const b = new TestPeer(gateway);
  for (let i = 0; i < 20; i++) {
    a.send({ jsonrpc: "2.0", id: i, method: "later", params: { tag: `a${i}` } });
    b.send({ jsonrpc: "2.0", id: i, method: "later", params: { tag: `b${i}` } });
  }
  await sleep(100);
  const firedA = a.frames.filter((f) => f.method === "fired").map((f) => f.params);
  const firedB = b.frames.filter((f) => f.method === "fired").map((f) => f.params);
  assert.equal(firedA.length, 20);
  assert.equal(firedB.length, 20);
  assert.ok(firedA.every((p) => p.tag.startsWith("a") && p.peer === a.peer.id));
  assert.ok(firedB.every((p) => p.tag.startsWith("b") && p.peer === b.peer.id));
  a.close();
  b.close();
});

function askingGateway() {
  const gateway = new Gateway();
  gateway.register(defineMethod({
    name: "ask",
    params: z.object({ timeout: z.number().optional() }),
    handler: async ({ timeout }, ctx) => {
      try {
        return { answer: await ctx.request("client.confirm", { q: "ok?" }, { timeout }) };
      } catch (error) {
        return { error: (error as JsonRpcError).toJson() };
      }
    },
  }));
  return gateway;
}

/** Announces `serverRequests` for a test client, as a real client does first. */
async function announceServerRequests(client: TestPeer): Promise<void> {
  client.send({
    jsonrpc: "2.0",
    id: 0,
    method: "client.capabilities",
    params: { serverRequests: true },
  });
  await client.response(0);
}

Deno.test("Server-to-client request fails at once unless the client announced serverRequests", async () => {
  const client = new TestPeer(askingGateway());
  client.send({ jsonrpc: "2.0", id: 1, method: "ask", params: {} });
  const reply = await client.response(1);
  assert.equal(reply.result.error.code, -32004);
  assert.match(reply.result.error.message, /serverRequests/);
  client.close();
});

Deno.test("Server-to-client request resolves with the client's result, and rejects with its error", async () => {
  const client = new TestPeer(askingGateway());
  await announceServerRequests(client);
  client.send({ jsonrpc: "2.0", id: 1, method: "ask", params: {} });
  const request = await client.waitFor((f) => f.method === "client.confirm");
  // A random part per process: a client numbering its own requests "tuigate:1" cannot collide.
  assert.match(request.id, /^tuigate:[0-9a-f]{12}:\d+$/);
  assert.deepEqual(request.params, { q: "ok?" });
  client.send({ jsonrpc: "2.0", id: request.id, result: "yes" });
  assert.deepEqual((await client.response(1)).result, { answer: "yes" });

  client.send({ jsonrpc: "2.0", id: 2, method: "ask", params: {} });
  const second = await client.waitFor((f) => f.method === "client.confirm" && f.id !== request.id);
  client.send({
    jsonrpc: "2.0",
    id: second.id,
    error: { code: -32050, message: "No", data: { why: 1 } },
  });
  assert.deepEqual((await client.response(2)).result.error, {
    code: -32050,
    message: "No",
    data: { why: 1 },
  });
  client.close();
});

Deno.test("Server-to-client request rejects at once with -32600 when the client's answer is not a valid response", async () => {
  const client = new TestPeer(askingGateway());
  await announceServerRequests(client);
  const broken = [
    (id: string) => ({ jsonrpc: "2.0", id, result: "yes", error: { code: 1, message: "no" } }),
    (id: string) => ({ jsonrpc: "2.0", id, error: "oops" }),
  ];
  for (const [n, answer] of broken.entries()) {
    const asked = client.frames.filter((f) => f.method === "client.confirm").length;
    // No timeout of its own: without the fix the handler would wait for the default one.
    client.send({ jsonrpc: "2.0", id: 10 + n, method: "ask", params: {} });
    const request = await client.waitFor(() =>
      client.frames.filter((f) => f.method === "client.confirm").length > asked
    ).then(() => client.frames.filter((f) => f.method === "client.confirm")[asked]);
    client.send(answer(request.id));
    const reply = await client.waitFor((f) => f.id === 10 + n && !("method" in f), 1000);
    assert.equal(reply.result.error.code, -32600);
    assert.equal(reply.result.error.data.id, request.id);
    assert.match(reply.result.error.message, /client\.confirm .* is not a valid response/);
    // The client is still told its message was invalid, and no request.cancel is sent.
    assert.ok(
      client.frames.some((f) => f.error?.code === -32600 && (f.id === null || f.id === request.id)),
    );
  }
  assert.equal(client.frames.filter((f) => f.method === "request.cancel").length, 0);
  client.close();
});

Deno.test("Server-to-client request times out with one request.cancel, and a late answer is dropped", async () => {
  const client = new TestPeer(askingGateway());
  await announceServerRequests(client);
  client.send({ jsonrpc: "2.0", id: 1, method: "ask", params: { timeout: 50 } });
  const request = await client.waitFor((f) => f.method === "client.confirm");
  const reply = await client.response(1);
  assert.equal(reply.result.error.code, -32001);
  const cancels = client.frames.filter((f) => f.method === "request.cancel");
  assert.deepEqual(cancels, [{
    jsonrpc: "2.0",
    method: "request.cancel",
    params: { id: request.id, reason: "timeout" },
  }]);
  client.send({ jsonrpc: "2.0", id: request.id, result: "too late" });
  await sleep(30);
  assert.equal(client.frames.filter((f) => f.id === 1).length, 1);
  client.close();
});

Deno.test("Server-to-client request is cancelled with the handler, with one request.cancel", async () => {
  const client = new TestPeer(askingGateway());
  await announceServerRequests(client);
  client.send({ jsonrpc: "2.0", id: 1, method: "ask", params: {} });
  const request = await client.waitFor((f) => f.method === "client.confirm");
  client.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 1 } });
  assert.equal((await client.response(1)).error.code, -32800);
  const cancel = await client.waitFor((f) => f.method === "request.cancel");
  assert.deepEqual(cancel.params, { id: request.id, reason: "cancelled" });
  await sleep(30);
  assert.equal(client.frames.filter((f) => f.method === "request.cancel").length, 1);
  client.close();
});

Deno.test("Peer closing aborts in-flight handlers and settles pending server requests once, with -32002", async () => {
  const gateway = new Gateway();
  const outcomes: unknown[] = [];
  let signalReason: unknown;
  gateway.register({
    name: "ask",
    handler: async (_params, ctx) => {
      ctx.signal.addEventListener("abort", () => (signalReason = ctx.signal.reason));
      try {
        await ctx.request("client.confirm", {});
      } catch (error) {
        outcomes.push(error);
      }
    },
  });
  const client = new TestPeer(gateway);
  await announceServerRequests(client);
  client.send({ jsonrpc: "2.0", id: 1, method: "ask" });
  await client.waitFor((f) => f.method === "client.confirm");
  client.peer.beginClose("shutdown");
  await sleep(20);
  assert.equal(outcomes.length, 1);
  assert.equal((outcomes[0] as JsonRpcError).code, -32002);
  assert.equal((signalReason as JsonRpcError).code, -32002);
  assert.equal(client.peer.pendingServerRequests, 0);
  client.close();
});

Deno.test("Dispatcher answers a batch whose member times out, inside the batch array", async () => {
  const gateway = new Gateway();
  gateway.register({ name: "slow", timeoutMs: 30, handler: (_p, ctx) => sleep(5000, ctx.signal) });
  const client = new TestPeer(gateway);
  client.send([
    { jsonrpc: "2.0", id: "a", method: "gateway.ping" },
    { jsonrpc: "2.0", id: "b", method: "slow" },
  ]);
  const batch = await client.waitFor((f) => Array.isArray(f));
  const byId = new Map<unknown, Frame>(batch.map((m: Frame) => [m.id, m]));
  assert.equal(byId.get("a").result.pong, true);
  assert.equal(byId.get("b").error.code, -32001);
  assert.equal(client.frames.filter((f) => !Array.isArray(f) && f.method === undefined).length, 0);
  client.close();
});

Deno.test("Dispatcher answers a batch whose member is cancelled, inside the batch array", async () => {
  const gateway = new Gateway();
  gateway.register({ name: "slow", handler: (_p, ctx) => sleep(5000, ctx.signal) });
  const client = new TestPeer(gateway);
  client.send([
    { jsonrpc: "2.0", id: 1, method: "gateway.ping" },
    { jsonrpc: "2.0", id: 2, method: "slow" },
  ]);
  await sleep(20);
  client.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 2 } });
  const batch = await client.waitFor((f) => Array.isArray(f));
  assert.equal(batch.length, 2);
  assert.equal(batch.find((m: Frame) => m.id === 2).error.code, -32800);
  client.close();
});

Deno.test("Dispatcher drains a deep queue of synchronous calls without recursion", async () => {
  const gateway = new Gateway({ maxInflight: 1, maxQueued: 50_000 });
  gateway.register({ name: "slow", handler: () => sleep(50) });
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 0, method: "slow" });
  for (let i = 1; i <= 40_000; i++) client.send({ jsonrpc: "2.0", id: i, method: "gateway.ping" });
  await client.response(40_000);
  assert.equal(
    client.frames.filter((f) => typeof f.id === "number" && f.result?.pong).length,
    40_000,
  );
  assert.equal(gateway.dispatcher.stats().inflight, 0);
  client.close();
});

Deno.test("Dispatcher keeps no record of requests that finished synchronously", async () => {
  const gateway = new Gateway();
  gateway.register(
    defineMethod({ name: "strict", params: z.object({ n: z.number() }), handler: ({ n }) => n }),
  );
  const client = new TestPeer(gateway);
  for (let i = 0; i < 5; i++) client.send({ jsonrpc: "2.0", id: i, method: "gateway.ping" });
  client.send({ jsonrpc: "2.0", id: 5, method: "strict", params: { n: "x" } });
  await client.response(5);
  assert.equal(client.peer.inflight.size, 0);
  client.close();
});

Deno.test("Dispatcher starts waiting calls in arrival order even behind a busy sequential lane", async () => {
  const gateway = new Gateway({ maxInflight: 1 });
  const order: string[] = [];
  gateway.register({
    name: "seq",
    sequential: true,
    handler: async (p) => {
      await sleep(5);
      order.push(`seq${(p as { n: number }).n}`);
    },
  });
  gateway.register({
    name: "other",
    handler: async () => {
      await sleep(5);
      order.push("other");
    },
  });
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 0, method: "seq", params: { n: 0 } });
  client.send({ jsonrpc: "2.0", id: 1, method: "seq", params: { n: 1 } });
  client.send({ jsonrpc: "2.0", id: 2, method: "other" });
  for (let n = 3; n < 10; n++) client.send({ jsonrpc: "2.0", id: n, method: "seq", params: { n } });
  await client.response(9);
  assert.deepEqual(order.slice(0, 3), ["seq0", "seq1", "other"]);
  client.close();
});

Deno.test("Dispatcher lets a finishing peer's running and queued calls finish, refuses new ones, and aborts what runs at beginClose", async () => {
  const { gateway, aborted, ran } = slowGateway({ maxInflight: 1 });
  const client = new TestPeer(gateway);
  client.send({ jsonrpc: "2.0", id: 1, method: "slow", params: { ms: 30, n: 1 } });
  client.send({ jsonrpc: "2.0", id: 2, method: "slow", params: { ms: 30, n: 2 } });
  await sleep(5);
  client.peer.finish("shutdown");
  assert.equal(client.peer.finishing, true);
  client.send({ jsonrpc: "2.0", id: 3, method: "slow", params: { ms: 30, n: 3 } });
  assert.equal((await client.response(1)).result, "done");
  assert.equal((await client.response(2)).result, "done", "the queued call ran too");
  const refused = await client.response(3);
  assert.equal(refused.error.code, -32002);
  assert.deepEqual(ran, [1, 2]);
  assert.deepEqual(aborted, []);
  await gateway.dispatcher.idle();
  // A later call that runs past the finish window is aborted by beginClose and answered -32002.
  const other = new TestPeer(gateway);
  other.send({ jsonrpc: "2.0", id: 4, method: "slow", params: { ms: 10_000, n: 4 } });
  await sleep(5);
  other.peer.finish("shutdown");
  other.peer.beginClose("shutdown");
  assert.equal(other.peer.finishing, false);
  const reply = await other.response(4);
  assert.equal(reply.error.code, -32002);
  assert.equal(reply.error.data.reason, "shutdown");
  assert.equal(aborted.length, 1);
  client.close();
  other.close();
});

Deno.test("Dispatcher does not start queued calls of a peer that has closed", async () => {
  const gateway = new Gateway({ maxInflight: 1 });
  let started = 0;
  gateway.register({
    name: "slow",
    handler: async (_p, ctx) => {
      started++;
      await sleep(50, ctx.signal).catch(() => {});
    },
  });
  const client = new TestPeer(gateway);
  for (let i = 0; i < 5; i++) client.send({ jsonrpc: "2.0", id: i, method: "slow" });
  await sleep(10);
  client.peer.beginClose("peer-gone");
  await sleep(100);
  assert.equal(started, 1);
  assert.equal(gateway.dispatcher.stats().queued, 0);
  client.close();
});

Deno.test("Server-to-client request pending when its method's own deadline expires is cancelled with reason timeout", async () => {
  const gateway = new Gateway();
  gateway.register(defineMethod({
    name: "hasty",
    timeoutMs: 50,
    handler: (_params, ctx) => ctx.request("client.confirm", { q: "ok?" }),
  }));
  const client = new TestPeer(gateway);
  await announceServerRequests(client);
  client.send({ jsonrpc: "2.0", id: 1, method: "hasty" });
  const request = await client.waitFor((f) => f.method === "client.confirm");
  const reply = await client.response(1);
  assert.equal(reply.error.code, -32001);
  await sleep(10);
  const cancels = client.frames.filter((f) => f.method === "request.cancel");
  assert.deepEqual(cancels.map((f) => f.params), [{ id: request.id, reason: "timeout" }]);
  client.close();
});

Deno.test("Dispatcher lets the event loop turn during a long chain of queued CPU-heavy calls", async () => {
  const gateway = new Gateway({ maxInflight: 2, maxQueued: 500 });
  const finished: number[] = [];
  gateway.register({
    name: "crunch",
    handler: async (params) => {
      await null;
      const end = performance.now() + 1;
      while (performance.now() < end) { /* a millisecond of work after the first await */ }
      finished.push((params as { n: number }).n);
      return true;
    },
  });
  const client = new TestPeer(gateway);
  // Each call's end starts the next one waiting: without turns, all 300 ms would run as one
  // chain of microtasks, and the timer below would fire only after the last call.
  let finishedWhenTimerFired = -1;
  setTimeout(() => finishedWhenTimerFired = finished.length, 0);
  for (let n = 0; n < 300; n++) {
    client.send({ jsonrpc: "2.0", id: n, method: "crunch", params: { n } });
  }
  await client.response(299);
  assert.ok(finishedWhenTimerFired >= 0, "the timer never fired");
  assert.ok(finishedWhenTimerFired < 250, `the timer fired after ${finishedWhenTimerFired} calls`);
  assert.deepEqual(finished, Array.from({ length: 300 }, (_, n) => n)); // in order, all of them
  client.close();
});
