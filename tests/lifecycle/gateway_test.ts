import assert from "node:assert/strict";
import { Gateway, Peer } from "../../src/mod.ts";

// deno-lint-ignore no-explicit-any
type Frame = any;

function drain(peer: Peer): Frame[] {
  const frames: Frame[] = [];
  for (let batch = peer.output.take(); batch !== undefined; batch = peer.output.take()) {
    for (const text of batch.frames) frames.push(JSON.parse(text));
    peer.output.release(batch.bytes);
  }
  return frames;
}

Deno.test("gateway.info reports queued bytes, the high-water mark, and coalesced and dropped deltas", () => {
  const gateway = new Gateway();
  gateway.register({
    name: "spray",
    handler: (_params, ctx) => {
      for (let i = 0; i < 5000; i++) {
        ctx.delta("s", "spray.delta", { i }, { text: "x".repeat(100) });
      }
      return "sprayed";
    },
  });
  const peer = new Peer({ maxBytes: 64 * 1024 });
  gateway.open(peer);
  gateway.dispatcher.handleText('{"jsonrpc":"2.0","id":1,"method":"spray"}', peer);
  gateway.dispatcher.handleText('{"jsonrpc":"2.0","id":2,"method":"gateway.info"}', peer);
  const frames = drain(peer);
  const info = frames.find((f) => f.id === 2).result;
  assert.ok(info.output.queuedBytes > 0);
  assert.ok(info.output.highWaterBytes >= 64 * 1024);
  assert.ok(info.output.coalescedDeltas > 0);
  assert.ok(info.output.droppedDeltas > 0);
  assert.equal(typeof info.counters.framesIn, "number");
  assert.equal(typeof info.counters.framesOut, "number");
  assert.equal(info.pid, Deno.pid);
  assert.equal(typeof info.uptimeMs, "number");
  assert.equal(typeof info.uptime, "number"); // seconds
  assert.equal(typeof info.deno.deno, "string");
  // The deltas that were delivered plus those dropped account for all 5000.
  const deltas = frames.filter((f) => f.method === "spray.delta");
  const delivered = deltas.reduce((n, f) => n + f.params.text.length / 100, 0);
  const dropped = deltas.reduce((n, f) => n + (f.params.dropped ?? 0), 0);
  assert.ok(delivered + dropped <= 5000);
  assert.equal(delivered + info.output.droppedDeltas, 5000);
});

Deno.test("Gateway sends gateway.ready first, with a fresh epoch per gateway", () => {
  const a = new Gateway();
  const b = new Gateway();
  assert.notEqual(a.epoch, b.epoch);
  const peer = new Peer();
  a.open(peer);
  const [ready] = drain(peer);
  assert.equal(ready.method, "gateway.ready");
  assert.equal(ready.params.epoch, a.epoch);
  assert.equal(ready.params.protocol, 1);
});

Deno.test("client.capabilities answers -32602 with the failing path for params that are not an object or a non-boolean serverRequests", async () => {
  const gateway = new Gateway({ announceReady: false });
  const peer = new Peer();
  gateway.open(peer);
  const send = (id: number, params: unknown) =>
    gateway.dispatcher.handleText(
      JSON.stringify({ jsonrpc: "2.0", id, method: "client.capabilities", params }),
      peer,
    );
  send(1, [true]);
  send(2, { serverRequests: "yes" });
  send(3, { serverRequests: true, colours: 256 });
  await gateway.dispatcher.idle();
  const [notObject, notBoolean, fine] = drain(peer);
  assert.equal(notObject.error.code, -32602);
  assert.deepEqual(notObject.error.data.issues.map((i: { path: string }) => i.path), [""]);
  assert.equal(notBoolean.error.code, -32602);
  assert.deepEqual(notBoolean.error.data, {
    method: "client.capabilities",
    issues: [{ path: "serverRequests", message: "Expected a boolean", code: "invalid_type" }],
  });
  assert.deepEqual(fine.result, { capabilities: { serverRequests: true, colours: 256 } });
  assert.equal(peer.clientCapabilities.serverRequests, true);
});

Deno.test("rpc.discover answers the same document until a method is registered, then one that lists it", async () => {
  const gateway = new Gateway();
  const peer = new Peer();
  gateway.open(peer);
  const discover = async (id: number) => {
    gateway.dispatcher.handleText(`{"jsonrpc":"2.0","id":${id},"method":"rpc.discover"}`, peer);
    for (let i = 0; i < 100; i++) {
      const answer = drain(peer).find((frame) => frame.id === id);
      if (answer !== undefined) return answer.result;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`rpc.discover ${id} was never answered`);
  };
  const first = await discover(1);
  assert.deepEqual(await discover(2), first);
  gateway.register({
    name: "late.method",
    summary: "Registered after the first discovery",
    handler: () => 1,
  });
  const names = (await discover(3)).methods.map((method: { name: string }) => method.name);
  assert.equal(names.includes("late.method"), true);
  assert.equal(names.length, first.methods.length + 1);
});
