import assert from "node:assert/strict";
import { sleep } from "../../src/protocol/timing.ts";
import { MirrorClient, MirrorState, reconnectDelay } from "../../src/transport/mirror_client.ts";

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("Condition not met in time");
    await sleep(10);
  }
}

/**
 * Asserts that the gaps between attempts follow the backoff: gap i is at least delay i (40, 80,
 * 160, ... ms), since each attempt starts that long after the client saw the previous one fail,
 * which is after the server timed it. Load can only add to a gap (a first gap of 85 ms, then 82,
 * was seen under load: the old "each gap 1.4 times the last" check failed on it), so the upper
 * bound is loose: under twice the delay plus a second, which a delay growing 4-fold would break.
 */
function assertBackoffGaps(times: number[], initialMs: number): void {
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  const shown = `gaps ${gaps.map(Math.round).join(", ")}`;
  gaps.forEach((gap, i) => {
    const delay = initialMs * 2 ** i;
    // 1 ms for the timer's and the clock's rounding.
    assert.ok(gap >= delay - 1, `gap ${i} is shorter than its delay ${delay}: ${shown}`);
    assert.ok(gap < 2 * delay + 1000, `gap ${i} is far beyond its delay ${delay}: ${shown}`);
  });
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("reconnectDelay doubles from the first delay up to the cap, with jitter below the ceiling", () => {
  const options = { initialMs: 100, maxMs: 5000, jitter: 0 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 10].map((n) => reconnectDelay(n, options)),
    [100, 200, 400, 800, 1600, 3200, 5000, 5000],
  );
  const jittered = { initialMs: 100, maxMs: 5000, jitter: 0.5 };
  assert.equal(reconnectDelay(3, { ...jittered, random: () => 0 }), 800);
  assert.equal(reconnectDelay(3, { ...jittered, random: () => 0.999999 }), 400);
  for (let i = 0; i < 200; i++) {
    const delay = reconnectDelay(4, jittered);
    assert.ok(delay >= 800 && delay <= 1600, String(delay));
  }
});

Deno.test("MirrorClient retries an absent dashboard with growing delays", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const attempts: number[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      attempts.push(performance.now());
      conn.close();
    }
  })().catch(() => {});
  const port = (listener.addr as Deno.NetAddr).port;
  const mirror = new MirrorClient(`ws://127.0.0.1:${port}/`, {
    initialBackoffMs: 40,
    maxBackoffMs: 10_000,
    jitter: 0,
  });
  try {
    mirror.start();
    await waitFor(() => attempts.length >= 5);
    assertBackoffGaps(attempts.slice(0, 5), 40);
    // The fifth attempt may still be failing (the close is on its way): then backoff follows.
    await waitFor(() => mirror.info().state === MirrorState.Backoff);
    const info = mirror.info();
    assert.ok(info.failures >= 4);
    assert.ok(info.retryInMs !== undefined);
  } finally {
    await mirror.close();
    listener.close();
    await accepting;
  }
});

Deno.test("MirrorClient keeps growing its delay for a dashboard that accepts and closes at once", async () => {
  const opens: number[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onopen = () => {
      opens.push(performance.now());
      socket.close(1011, "dashboard restarting");
    };
    return response;
  });
  const mirror = new MirrorClient(`ws://127.0.0.1:${server.addr.port}/`, {
    initialBackoffMs: 40,
    maxBackoffMs: 10_000,
    jitter: 0,
  });
  try {
    mirror.start();
    await waitFor(() => opens.length >= 5);
    assertBackoffGaps(opens.slice(0, 5), 40);
    // The server sees the fifth open before the client does: wait for the client's count.
    await waitFor(() => mirror.info().connects >= 5);
    // Each earlier connection closed at once and counted as a failure.
    assert.ok(mirror.info().failures >= 4);
  } finally {
    await mirror.close();
    await server.shutdown();
  }
});

Deno.test("MirrorClient drops the oldest frames beyond its bound and tells the dashboard how many", async () => {
  const port = freePort();
  const mirror = new MirrorClient(`ws://127.0.0.1:${port}/`, {
    maxQueueFrames: 5,
    initialBackoffMs: 20,
    maxBackoffMs: 100,
    hello: () => ({ who: "test" }),
  });
  mirror.start();
  for (let i = 0; i < 12; i++) {
    mirror.push([JSON.stringify({ jsonrpc: "2.0", method: "f", params: { i } })]);
  }
  assert.equal(mirror.info().droppedFrames, 7);
  assert.equal(mirror.info().queuedFrames, 5);
  const received: { method: string; params: Record<string, unknown> }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => received.push(JSON.parse(String(event.data)));
    return response;
  });
  try {
    await waitFor(() => received.length >= 7);
    assert.deepEqual(received[0], {
      jsonrpc: "2.0",
      method: "mirror.hello",
      params: { who: "test", connects: 1, dropped: 7 },
    });
    assert.deepEqual(received[1].params, { dropped: 7, total: 7 });
    assert.equal(received[1].method, "mirror.dropped");
    assert.deepEqual(received.slice(2).map((m) => m.params.i), [7, 8, 9, 10, 11]);
    mirror.push(['{"jsonrpc":"2.0","method":"f","params":{"i":12}}']);
    await waitFor(() => received.length >= 8);
    assert.equal(received[7].params.i, 12);
    const info = mirror.info();
    assert.equal(info.state, MirrorState.Open);
    assert.equal(info.sentFrames, 6);
    assert.equal(info.queuedFrames, 0);
  } finally {
    await mirror.close(100);
    await server.shutdown();
  }
  mirror.push(["after close"]);
  assert.equal(mirror.info().state, MirrorState.Closed);
});

Deno.test("MirrorClient bounds its queue by bytes too", () => {
  const mirror = new MirrorClient("ws://127.0.0.1:1/", { maxQueueBytes: 1000 });
  for (let i = 0; i < 10; i++) mirror.push(["x".repeat(300)]);
  const info = mirror.info();
  assert.equal(info.queuedFrames, 3);
  assert.equal(info.queuedBytes, 900);
  assert.equal(info.droppedFrames, 7);
  assert.equal(info.state, MirrorState.Idle, "pushing never connects by itself");
});
