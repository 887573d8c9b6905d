/** Issue 4 behaviour over a real process: cancellation, deadlines, overload, ordering, server requests, binding. */

import assert from "node:assert/strict";
import { type Frame, ROOT, spawnGateway } from "../_support/gateway_process.ts";

const TEST_GATEWAY = `${ROOT}/tests/_support/test_gateway.ts`;

Deno.test("Gateway cancels a running request and drops a queued one on $/cancelRequest", async () => {
  await using gw = await spawnGateway([], {
    script: TEST_GATEWAY,
    env: { TEST_MAX_INFLIGHT: "1" },
  });
  await gw.ready();
  await gw.send({
    jsonrpc: "2.0",
    id: "run",
    method: "test.sleep",
    params: { ms: 5000, tag: "run" },
  });
  await gw.send({
    jsonrpc: "2.0",
    id: "queued",
    method: "test.sleep",
    params: { ms: 5000, tag: "queued" },
  });
  await gw.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: "queued" } });
  await gw.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: "run" } });
  assert.equal((await gw.response("queued")).error.code, -32800);
  assert.equal((await gw.response("run")).error.code, -32800);
  const started = await gw.request("test.started");
  assert.deepEqual(started.result, ["run"]);
});

Deno.test("Gateway answers the timeout error when a method's deadline expires", async () => {
  await using gw = await spawnGateway([], { script: TEST_GATEWAY });
  await gw.ready();
  const reply = await gw.request("test.deadline", { ms: 2000 });
  assert.equal(reply.error.code, -32001);
  assert.equal((await gw.request("test.deadline", { ms: 1 })).result, "finished");
});

Deno.test("Gateway under 10,000 pipelined slow requests answers each once: results or the overload error", async () => {
  await using gw = await spawnGateway([], { script: TEST_GATEWAY });
  await gw.ready();
  const n = 10_000;
  let batch = "";
  for (let i = 1; i <= n; i++) {
    batch += `{"jsonrpc":"2.0","id":${i},"method":"test.sleep","params":{"ms":200}}\n`;
  }
  await gw.send(batch);
  const deadline = Date.now() + 30_000;
  const answered = () => gw.frames.filter((f: Frame) => typeof f.id === "number" && f.id <= n);
  while (answered().length < n && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const answers = answered();
  assert.equal(answers.length, n);
  assert.equal(new Set(answers.map((f: Frame) => f.id)).size, n);
  const ok = answers.filter((f: Frame) => f.result !== undefined);
  const overloaded = answers.filter((f: Frame) => f.error?.code === -32000);
  assert.equal(ok.length + overloaded.length, n);
  assert.ok(ok.length >= 64 + 1024, `only ${ok.length} served`);
  assert.ok(overloaded.length > 0);
  const data = overloaded[0].error.data;
  assert.equal(data.maxInflight, 64);
  assert.equal(data.maxQueued, 1024);
  assert.equal(typeof data.retryAfterMs, "number");
  assert.deepEqual(gw.invalidLines, []);
});

Deno.test("Gateway runs a sequential method one call at a time in arrival order", async () => {
  await using gw = await spawnGateway([], { script: TEST_GATEWAY });
  await gw.ready();
  let batch = "";
  for (let n = 0; n < 20; n++) {
    batch += JSON.stringify({
      jsonrpc: "2.0",
      id: n,
      method: "test.sequential",
      params: { n, ms: 20 - n },
    }) + "\n";
  }
  await gw.send(batch);
  await gw.response(19);
  const { result } = await gw.request("test.sequentialOrder");
  assert.deepEqual(result.order, Array.from({ length: 20 }, (_, n) => n));
  assert.equal(result.maxConcurrent, 1);
});

Deno.test("Gateway sends server-to-client requests: answered, timed out, cancelled and answered late", async () => {
  await using gw = await spawnGateway([], { script: TEST_GATEWAY });
  await gw.ready();
  const refused = await gw.request("test.ask", { method: "ui.confirm" });
  assert.equal(refused.result.error.code, -32004);
  await gw.request("client.capabilities", { serverRequests: true });

  const answered = gw.call(1, "test.ask", { method: "ui.confirm", params: { q: 1 } });
  const asked = await gw.next((f: Frame) => f.method === "ui.confirm");
  await gw.send({ jsonrpc: "2.0", id: asked.id, result: { yes: true } });
  assert.deepEqual((await answered).result, { answer: { yes: true } });

  const timed = gw.call(2, "test.ask", { method: "ui.slow", timeout: 100 });
  const slow = await gw.next((f: Frame) => f.method === "ui.slow");
  assert.equal((await timed).result.error.code, -32001);
  const cancel = await gw.notification("request.cancel");
  assert.deepEqual(cancel.params, { id: slow.id, reason: "timeout" });
  await gw.send({ jsonrpc: "2.0", id: slow.id, result: "late" }); // logged and dropped
  assert.equal((await gw.request("gateway.ping")).result.pong, true);

  const cancelled = gw.call(3, "test.ask", { method: "ui.never" });
  const never = await gw.next((f: Frame) => f.method === "ui.never");
  await gw.send({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 3 } });
  assert.equal((await cancelled).error.code, -32800);
  const second = await gw.notification("request.cancel");
  assert.deepEqual(second.params, { id: never.id, reason: "cancelled" });
  assert.equal(gw.frames.filter((f: Frame) => f.method === "request.cancel").length, 2);
});

Deno.test("Gateway emits from a handler's timers through the ambient context to the asking peer", async () => {
  await using gw = await spawnGateway([], { script: TEST_GATEWAY });
  await gw.ready();
  const reply = await gw.request("test.later", { tag: "t1" });
  assert.deepEqual(reply.result, { scheduled: "t1" });
  const fired = await gw.notification("test.later.fired", 3000);
  assert.deepEqual(fired.params, { tag: "t1" });
});
