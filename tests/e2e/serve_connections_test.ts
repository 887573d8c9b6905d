import assert from "node:assert/strict";
import { sleep } from "../../src/protocol/timing.ts";
import { rawUpgrade, type RawWebSocket } from "../_support/raw_websocket.ts";
import { spawnServe, TestWebSocket } from "../_support/websocket_client.ts";

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("Condition not met in time");
    await sleep(25);
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function rawClient(port: number, token: string): Promise<RawWebSocket> {
  const upgrade = await rawUpgrade(port, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(upgrade.status, 101);
  return upgrade.socket!;
}

Deno.test("Serve gives every connection its own peer, and answers interleaved requests to the right one", async () => {
  const serve = await spawnServe();
  await using _gw = serve.gw;
  const clients = await Promise.all(
    Array.from({ length: 6 }, () => TestWebSocket.open(serve.url, { token: serve.token })),
  );
  try {
    const readies = await Promise.all(clients.map((c) => c.notification("gateway.ready")));
    clients.forEach((c, i) => assert.equal(c.messages[0], readies[i]));
    assert.equal(new Set(readies.map((r) => r.params.peer)).size, clients.length);
    assert.equal(new Set(readies.map((r) => r.params.epoch)).size, 1);
    const rounds = 40;
    const pending: Promise<unknown>[] = [];
    for (let n = 0; n < rounds; n++) {
      clients.forEach((client, c) => {
        pending.push(
          client.request("gateway.ping", { client: c, n }).then((response) => {
            assert.deepEqual(response.result.echo, { client: c, n });
          }),
        );
      });
    }
    // A batch on one connection while the others are busy.
    clients[0].send([
      { jsonrpc: "2.0", id: "b1", method: "gateway.ping", params: { batch: 1 } },
      { jsonrpc: "2.0", method: "gateway.ping" },
      { jsonrpc: "2.0", id: "b2", method: "no.such.method" },
    ]);
    await Promise.all(pending);
    const batch = await clients[0].next(Array.isArray);
    assert.equal(batch.length, 2);
    assert.deepEqual(batch.map((r: { id: string }) => r.id).sort(), ["b1", "b2"]);
    for (const [c, client] of clients.entries()) {
      const echoes = client.messages.filter((m) =>
        m?.result?.echo !== undefined && !Array.isArray(m)
      );
      assert.equal(echoes.length, rounds);
      assert.ok(
        echoes.every((m) => m.result.echo.client === c),
        "no response went to another peer",
      );
    }
    const info = await clients[1].request("gateway.info");
    assert.equal(info.result.websocket.connections, clients.length);
    assert.equal(info.result.peer.transport, "websocket");
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
});

Deno.test("Serve disconnects a client that stops reading with 4008 while the others keep their latency", async () => {
  const serve = await spawnServe(["--send-deadline", "1", "--heartbeat", "0"]);
  await using _gw = serve.gw;
  const watchers = await Promise.all(
    Array.from({ length: 3 }, () => TestWebSocket.open(serve.url, { token: serve.token })),
  );
  const stalled = await rawClient(serve.port, serve.token);
  try {
    // Baseline latency.
    const measure = async (client: TestWebSocket, until: () => boolean, into: number[]) => {
      while (!until()) {
        const started = performance.now();
        await client.request("gateway.ping");
        into.push(performance.now() - started);
        await sleep(10);
      }
    };
    const baseline: number[] = [];
    let stop = false;
    setTimeout(() => (stop = true), 400);
    await Promise.all(watchers.map((w) => measure(w, () => stop, baseline)));

    // The stalled client asks for ~24 MiB of answers and never reads them.
    const echo = "x".repeat(256 * 1024);
    for (let i = 0; i < 96; i++) {
      await stalled.sendText(
        JSON.stringify({ jsonrpc: "2.0", id: i, method: "gateway.ping", params: { echo } }),
      );
    }
    const during: number[] = [];
    let expired = false;
    const watching = Promise.all(watchers.map((w) => measure(w, () => expired, during)));
    const started = performance.now();
    await waitFor(async () => {
      const info = await watchers[0].request("gateway.info");
      return (info.result.websocket.closed["send-deadline"] ?? 0) === 1;
    }, 15_000);
    const expiredAfter = performance.now() - started;
    expired = true;
    await watching;
    const info = await watchers[0].request("gateway.info");
    assert.equal(info.result.websocket.connections, watchers.length, "the stalled peer is gone");
    assert.ok(expiredAfter < 8000, `disconnected after ${expiredAfter} ms`);

    const p99 = percentile(during, 99);
    const base99 = percentile(baseline, 99);
    assert.ok(during.length >= 20, `only ${during.length} pings during the stall`);
    assert.ok(
      p99 < Math.max(300, base99 * 5),
      `p99 ${p99} ms during the stall, ${base99} ms before`,
    );

    // Once it reads again, the client finds the close frame after the data that was in flight.
    const close = await stalled.readUntil((f) => f.opcode === 8);
    assert.equal(close?.closeCode, 4008);
    assert.equal(close?.closeReason, "Send deadline exceeded");
    for (const watcher of watchers) {
      assert.equal((await watcher.request("gateway.ping")).result.pong, true);
    }
  } finally {
    stalled.close();
    for (const watcher of watchers) await watcher[Symbol.asyncDispose]();
  }
});

Deno.test("Serve heartbeats close a connection that stops answering pings, and keep a quiet live one", async () => {
  const serve = await spawnServe(["--heartbeat", "0.5"]);
  await using _gw = serve.gw;
  await using live = await TestWebSocket.open(serve.url, { token: serve.token });
  const silent = await rawClient(serve.port, serve.token);
  try {
    const started = performance.now();
    const ping = await silent.readUntil((f) => f.opcode === 9);
    assert.ok(ping !== undefined, "a ping frame arrives");
    const close = await silent.readUntil((f) => f.opcode === 8);
    const closedAfter = performance.now() - started;
    assert.equal(close?.closeCode, 1001);
    assert.ok(closedAfter < 5000, `closed after ${closedAfter} ms`);
    assert.equal(await silent.readUntil(() => false), undefined, "then the TCP connection ends");
    // The live client said nothing for a while but answered the pings (Deno does that itself).
    await sleep(1500);
    const info = await live.request("gateway.info");
    assert.equal(info.result.websocket.connections, 1);
    assert.equal(info.result.websocket.closed.heartbeat, 1);
  } finally {
    silent.close();
  }
});

Deno.test("Serve closes a connection with 1009 when a message exceeds --max-frame-bytes", async () => {
  const serve = await spawnServe(["--max-frame-bytes", "1024"]);
  await using _gw = serve.gw;
  await using big = await TestWebSocket.open(serve.url, { token: serve.token });
  await using other = await TestWebSocket.open(serve.url, { token: serve.token });
  const fits = await big.request("gateway.ping", { s: "y".repeat(900) });
  assert.equal(fits.result.pong, true);
  big.send({ jsonrpc: "2.0", id: 99, method: "gateway.ping", params: { s: "z".repeat(2000) } });
  const closed = await big.closed;
  assert.equal(closed.code, 1009);
  assert.match(closed.reason, /limit of 1024/);
  // Multi-byte characters count as bytes: 400 × "é" is 800 bytes, 600 × "€" is 1800.
  await using third = await TestWebSocket.open(serve.url, { token: serve.token });
  assert.equal((await third.request("gateway.ping", { s: "é".repeat(400) })).result.pong, true);
  const euros = { jsonrpc: "2.0", id: 1, method: "gateway.ping", params: { s: "€".repeat(600) } };
  third.send(euros);
  const thirdClosed = await third.closed;
  assert.equal(thirdClosed.code, 1009);
  // The reason gives the message's size in UTF-8 bytes.
  const bytes = new TextEncoder().encode(JSON.stringify(euros)).length;
  assert.equal(thirdClosed.reason, `Message of ${bytes} bytes exceeds the limit of 1024`);
  assert.equal((await other.request("gateway.ping")).result.pong, true, "others are unaffected");
  const info = await other.request("gateway.info");
  assert.equal(info.result.websocket.closed.oversize, 2);
});

for (const signal of ["SIGTERM", "SIGHUP"] as const) {
  Deno.test(`Serve closes every connection with 1001 on ${signal} and exits 0 within the grace period`, async () => {
    const serve = await spawnServe(["--grace", "1"]);
    await using gw = serve.gw;
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => TestWebSocket.open(serve.url, { token: serve.token })),
    );
    await Promise.all(clients.map((c) => c.notification("gateway.ready")));
    const since = performance.now();
    gw.kill(signal);
    const closes = await Promise.all(clients.map((c) => c.closed));
    for (const close of closes) {
      assert.equal(close.code, 1001);
      assert.equal(close.reason, "Gateway shutting down");
    }
    const status = await gw.waitExit(5000, since);
    assert.equal(status.code, 0);
    assert.ok(status.ms < 1500, `exit took ${status.ms} ms`);
    const ledger = await gw.ledger();
    assert.equal(ledger.at(-1)?.reason, "signal");
    assert.equal(ledger.at(-1)?.signal, signal);
  });
}

Deno.test("Serve exits within the grace period on SIGTERM even with a client that stopped reading", async () => {
  const serve = await spawnServe(["--grace", "1", "--send-deadline", "30"]);
  await using gw = serve.gw;
  await using normal = await TestWebSocket.open(serve.url, { token: serve.token });
  const stalled = await rawClient(serve.port, serve.token);
  try {
    const echo = "x".repeat(256 * 1024);
    for (let i = 0; i < 64; i++) {
      await stalled.sendText(
        JSON.stringify({ jsonrpc: "2.0", id: i, method: "gateway.ping", params: { echo } }),
      );
    }
    await sleep(300);
    const since = performance.now();
    gw.kill("SIGTERM");
    const close = await normal.closed;
    assert.equal(close.code, 1001);
    const status = await gw.waitExit(5000, since);
    assert.equal(status.code, 0);
    assert.ok(status.ms < 1500, `exit took ${status.ms} ms`);
  } finally {
    stalled.close();
  }
});

Deno.test("Serve answers gateway.shutdown, then closes connections with 1001 and exits 0", async () => {
  const serve = await spawnServe();
  await using gw = serve.gw;
  await using client = await TestWebSocket.open(serve.url, { token: serve.token });
  await using other = await TestWebSocket.open(serve.url, { token: serve.token });
  const answer = await client.request("gateway.shutdown");
  assert.equal(answer.result.ok, true);
  assert.equal((await other.closed).code, 1001);
  assert.equal((await client.closed).code, 1001);
  const status = await gw.waitExit();
  assert.equal(status.code, 0);
  assert.equal((await gw.ledger()).at(-1)?.reason, "shutdown-request");
});

Deno.test("Serve keeps serving when its stdin reaches end of input", async () => {
  const serve = await spawnServe();
  await using gw = serve.gw;
  await gw.closeStdin();
  await sleep(700);
  await using client = await TestWebSocket.open(serve.url, { token: serve.token });
  assert.equal((await client.request("gateway.ping")).result.pong, true);
  const exited = await Promise.race([gw.exited.then(() => true), sleep(10).then(() => false)]);
  assert.equal(exited, false);
});

Deno.test("Serve delivers a session's events to every attached connection, and detaches one that goes away", async () => {
  const serve = await spawnServe(["--state", "memory"]);
  await using _gw = serve.gw;
  const [writer, a, b] = await Promise.all(
    [1, 2, 3].map(() => TestWebSocket.open(serve.url, { token: serve.token })),
  );
  try {
    const { result: session } = await writer.request("session.create", { title: "ws" });
    for (const viewer of [a, b]) {
      assert.equal(
        (await viewer.request("session.attach", { session: session.id })).error,
        undefined,
      );
    }
    for (let i = 0; i < 20; i++) {
      await writer.request("session.append", { session: session.id, type: "line", data: { i } });
    }
    for (const viewer of [a, b]) {
      await viewer.next((f) => f?.method === "session.event" && f.params.data?.i === 19);
      const seen = viewer.messages.filter((m) => m?.method === "session.event").map((m) =>
        m.params.data.i
      );
      assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i));
    }
    assert.equal(
      writer.messages.some((m) => m?.method === "session.event"),
      false,
      "only attached peers get events",
    );
    a.close();
    await a.closed;
    await writer.request("session.append", { session: session.id, type: "line", data: { i: 20 } });
    await b.next((f) => f?.method === "session.event" && f.params.data?.i === 20);
  } finally {
    for (const client of [writer, a, b]) await client[Symbol.asyncDispose]();
  }
});
