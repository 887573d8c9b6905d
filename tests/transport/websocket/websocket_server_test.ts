import assert from "node:assert/strict";
import { sleep } from "../../../src/protocol/timing.ts";
import { Gateway } from "../../../src/mod.ts";
import { WebSocketServer } from "../../../src/transport/websocket/mod.ts";
import { rawUpgrade } from "../../_support/raw_websocket.ts";
import { TestWebSocket } from "../../_support/websocket_client.ts";

const TOKEN = "in-process-token";

function gatewayWithTestMethods(): Gateway {
  const gateway = new Gateway({ name: "ws-test" });
  gateway.register({
    name: "test.runProgram",
    summary: "Stands in for a method that runs programs",
    requires: "jobs",
    handler: () => ({ ran: true }),
  });
  gateway.register({
    name: "test.broadcast",
    summary: "Sends `count` notifications of `size` bytes to every peer, without waiting",
    handler: (params) => {
      const { count, size } = params as { count: number; size: number };
      const data = "b".repeat(size);
      for (let i = 0; i < count; i++) {
        for (const peer of gateway.peers()) void peer.notify("test.event", { i, data });
      }
      return { sent: count };
    },
  });
  gateway.register({
    name: "test.ask",
    summary: "Asks the calling client a question",
    handler: async (_params, context) => ({
      answer: await context.request("client.question", { q: 1 }),
    }),
  });
  return gateway;
}

Deno.test("WebSocketServer refuses a method that requires jobs with -32003 unless jobs is granted", async () => {
  for (const grants of [[], ["jobs"]]) {
    await using server = new WebSocketServer(gatewayWithTestMethods(), { token: TOKEN, grants });
    const { url } = await server.listen();
    await using client = await TestWebSocket.open(url, { token: TOKEN });
    const answer = await client.request("test.runProgram");
    if (grants.length === 0) {
      assert.equal(answer.error.code, -32003);
      assert.match(answer.error.message, /websocket/);
    } else {
      assert.deepEqual(answer.result, { ran: true });
    }
    // The same method over a notification is silently ignored, never run.
    client.send({ jsonrpc: "2.0", method: "test.runProgram" });
    assert.equal((await client.request("gateway.ping")).result.pong, true);
  }
});

Deno.test("WebSocketServer rejects a non-loopback host without allowRemote", async () => {
  const server = new WebSocketServer(new Gateway(), { hostname: "0.0.0.0" });
  await assert.rejects(server.listen(), Deno.errors.PermissionDenied);
});

Deno.test("WebSocketServer carries server-to-client requests over the socket", async () => {
  await using server = new WebSocketServer(gatewayWithTestMethods(), { token: TOKEN });
  const { url } = await server.listen();
  await using client = await TestWebSocket.open(url, { token: TOKEN });
  await client.request("client.capabilities", { serverRequests: true });
  client.onMessage((frame) => {
    if (frame?.method === "client.question") {
      client.send({ jsonrpc: "2.0", id: frame.id, result: { a: 42 } });
    }
  });
  const answer = await client.request("test.ask");
  assert.deepEqual(answer.result, { answer: { a: 42 } });
});

Deno.test("WebSocketServer keeps a broadcast flowing to live connections while one stalls, then drops it with 4008", async () => {
  const gateway = gatewayWithTestMethods();
  await using server = new WebSocketServer(gateway, {
    token: TOKEN,
    sendDeadlineMs: 500,
    sendHighWaterBytes: 256 * 1024,
    heartbeatMs: 0,
  });
  const { url, port } = await server.listen();
  const live = await Promise.all([1, 2, 3].map(() => TestWebSocket.open(url, { token: TOKEN })));
  const upgrade = await rawUpgrade(port, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const stalled = upgrade.socket!;
  try {
    await Promise.all(live.map((c) => c.notification("gateway.ready")));
    // 2000 × 8 KiB = 16 MiB for every peer; the stalled one reads nothing.
    const started = performance.now();
    const answer = await live[0].request("test.broadcast", { count: 2000, size: 8192 });
    assert.equal(answer.result.sent, 2000);
    assert.ok(performance.now() - started < 5000, "the producer is never held up");
    for (const client of live) {
      await client.next((f) => f?.method === "test.event" && f.params.i === 1999, 20_000);
      const events = client.messages.filter((m) => m?.method === "test.event");
      assert.deepEqual(events.map((e) => e.params.i), Array.from({ length: 2000 }, (_, i) => i));
    }
    while ((server.stats().closed["send-deadline"] ?? 0) === 0) await sleep(20);
    assert.equal(server.stats().connections, 3);
    assert.equal(gateway.peers().length, 3, "the gateway forgot the stalled peer");
    const close = await stalled.readUntil((f) => f.opcode === 8);
    assert.equal(close?.closeCode, 4008);
  } finally {
    stalled.close();
    for (const client of live) await client[Symbol.asyncDispose]();
  }
});

Deno.test("WebSocketServer.close closes every connection with 1001 and refuses new ones", async () => {
  const server = new WebSocketServer(new Gateway(), { token: TOKEN });
  const { url, port } = await server.listen();
  const clients = await Promise.all([1, 2].map(() => TestWebSocket.open(url, { token: TOKEN })));
  await Promise.all(clients.map((c) => c.notification("gateway.ready")));
  const closing = server.close({ timeoutMs: 2000 });
  const refused = await rawUpgrade(port, { headers: { Authorization: `Bearer ${TOKEN}` } })
    .catch(() => ({ status: 0 }));
  assert.notEqual(refused.status, 101);
  await closing;
  for (const client of clients) {
    const close = await client.closed;
    assert.equal(close.code, 1001);
    assert.equal(close.reason, "Gateway shutting down");
  }
  assert.equal(server.stats().closed.shutdown, 2);
});

Deno.test("WebSocketServer coalesces and drops deltas with a count for a slow connection, as on stdio", async () => {
  const gateway = new Gateway();
  gateway.register({
    name: "test.deltas",
    handler: async (params, context) => {
      const { count, size } = params as { count: number; size: number };
      const text = "d".repeat(size);
      for (let i = 0; i < count; i++) {
        context.delta("out", "test.delta", { first: i }, { text });
        if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 0));
      }
      return { count };
    },
  });
  await using server = new WebSocketServer(gateway, {
    token: TOKEN,
    outBufferBytes: 256 * 1024,
    sendHighWaterBytes: 64 * 1024,
    sendDeadlineMs: 30_000,
    heartbeatMs: 0,
  });
  const { port } = await server.listen();
  const upgrade = await rawUpgrade(port, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const slow = upgrade.socket!;
  try {
    await slow.sendText(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "test.deltas",
        params: { count: 5000, size: 1000 },
      }),
    );
    await sleep(500); // Not reading: the socket fills, the output buffer has to merge and drop.
    let frames = 0;
    let chars = 0;
    let dropped = 0;
    for (;;) {
      const frame = await slow.readFrame();
      assert.ok(frame !== undefined, "the connection stays open");
      if (frame.opcode !== 1) continue;
      const message = JSON.parse(frame.text);
      if (message.id === 1) break;
      if (message.method !== "test.delta") continue;
      frames++;
      chars += message.params.text.length;
      dropped += message.params.dropped ?? 0;
    }
    // Every delta was pushed before the handler answered, so all of them came before the response.
    assert.ok(frames < 5000, `${frames} frames for 5000 deltas: some were merged`);
    assert.ok(dropped > 0, "the oldest deltas were dropped and counted");
    assert.equal(
      chars / 1000 + dropped,
      5000,
      "every delta is either delivered or counted as dropped",
    );
  } finally {
    slow.close();
  }
});

/** A gateway whose `test.big` answers `size` characters. */
function gatewayWithBigAnswers(): Gateway {
  const gateway = new Gateway({ name: "ws-big" });
  gateway.register({
    name: "test.big",
    handler: (params) => ({ data: "x".repeat((params as { size: number }).size) }),
  });
  return gateway;
}

Deno.test("WebSocketServer holds a client's messages while its answers go unread, and closes it with 4008 when it keeps sending", async () => {
  const gateway = gatewayWithBigAnswers();
  await using server = new WebSocketServer(gateway, {
    token: TOKEN,
    outBufferBytes: 256 * 1024,
    maxFrameBytes: 64 * 1024,
    sendHighWaterBytes: 64 * 1024,
    sendDeadlineMs: 60_000, // Not the deadline: the held messages' bound closes it.
    heartbeatMs: 0,
  });
  const { port } = await server.listen();
  const upgrade = await rawUpgrade(port, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const greedy = upgrade.socket!;
  let peakQueued = 0;
  const sample = setInterval(() => {
    for (const peer of gateway.peers()) {
      peakQueued = Math.max(peakQueued, peer.output.stats().highWaterBytes);
    }
  }, 5);
  try {
    // 6000 requests for 32 KiB each (188 MiB of answers), never reading any.
    for (let id = 1; id <= 6000; id++) {
      try {
        await greedy.sendText(
          JSON.stringify({ jsonrpc: "2.0", id, method: "test.big", params: { size: 32 * 1024 } }),
        );
      } catch (error) {
        // Deno resets a connection that goes on sending after the close.
        assert.ok(error instanceof Deno.errors.ConnectionReset, String(error));
        break;
      }
      if ((server.stats().closed["send-deadline"] ?? 0) > 0) break;
    }
    const deadline = performance.now() + 15_000;
    while ((server.stats().closed["send-deadline"] ?? 0) === 0) {
      assert.ok(performance.now() < deadline, "the client that kept sending was closed");
      await sleep(20);
    }
    // The bound (256 KiB) plus at most one answer past it: nothing piled up.
    assert.ok(peakQueued <= 256 * 1024 + 40 * 1024, `peak queued ${peakQueued} bytes`);
    assert.equal(gateway.peers().length, 0, "the gateway forgot the closed peer");
  } finally {
    clearInterval(sample);
    greedy.close();
  }
});

Deno.test("WebSocketServer closes with 4008 a client that reads nothing while its socket holds less than the high-water mark", async () => {
  await using server = new WebSocketServer(gatewayWithBigAnswers(), {
    token: TOKEN,
    sendHighWaterBytes: 256 * 1024 * 1024, // The pump never waits: only the socket watch can see it.
    sendDeadlineMs: 600,
    heartbeatMs: 0,
  });
  const { port } = await server.listen();
  const upgrade = await rawUpgrade(port, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const stalled = upgrade.socket!;
  try {
    // 24 MiB of answer: more than the kernel's socket buffers take, so some stays unsent.
    await stalled.sendText(
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "test.big", params: { size: 24 << 20 } }),
    );
    const started = performance.now();
    while ((server.stats().closed["send-deadline"] ?? 0) === 0) {
      assert.ok(performance.now() - started < 10_000, "the stalled client was closed");
      await sleep(20);
    }
    assert.equal(server.stats().connections, 0);
  } finally {
    stalled.close();
  }
});

Deno.test("WebSocketServer counts a connection dropped for a text frame that is not UTF-8 as an error, not a client close", async () => {
  await using server = new WebSocketServer(new Gateway(), { token: TOKEN, heartbeatMs: 0 });
  const { port } = await server.listen();
  const upgrade = await rawUpgrade(port, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const raw = upgrade.socket!;
  try {
    await raw.readFrame(); // gateway.ready
    await raw.sendTextBytes(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]));
    const started = performance.now();
    while (server.stats().connections > 0) {
      assert.ok(performance.now() - started < 5000, "the connection was dropped");
      await sleep(20);
    }
    assert.deepEqual(server.stats().closed, { error: 1 });
  } finally {
    raw.close();
  }
});
