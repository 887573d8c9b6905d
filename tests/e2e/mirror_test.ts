import assert from "node:assert/strict";
import { sleep } from "../../src/protocol/timing.ts";
import { type Frame, spawnGateway } from "../_support/gateway_process.ts";

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("Condition not met in time");
    await sleep(20);
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A dashboard: a WebSocket server that records every message it receives. */
class Dashboard {
  readonly messages: Frame[] = [];
  readonly paths: string[] = [];
  #server: Deno.HttpServer;

  constructor(port: number) {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (request) => {
      this.paths.push(new URL(request.url).pathname);
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onmessage = (event) => this.messages.push(JSON.parse(String(event.data)));
      return response;
    });
  }

  /** Messages that are mirrored frames (not mirror.* notifications). */
  get frames(): Frame[] {
    return this.messages.filter((m) => !String(m?.method ?? "").startsWith("mirror."));
  }

  hellos(): Frame[] {
    return this.messages.filter((m) => m?.method === "mirror.hello");
  }

  async stop(): Promise<void> {
    await this.#server.shutdown();
  }
}

Deno.test("Mirror: a dashboard absent at start, that appears, disappears and comes back, gets the stdio frames", async () => {
  const port = freePort();
  await using gw = await spawnGateway(["--mirror", `ws://127.0.0.1:${port}/dash`]);
  const ready = await gw.ready(5000);
  assert.equal(gw.frames[0], ready, "gateway.ready comes first, without waiting for the mirror");
  const absent = await gw.request("gateway.info");
  assert.notEqual(absent.result.mirror.state, "open");
  assert.equal(absent.result.mirror.url, `ws://127.0.0.1:${port}/dash`);
  await gw.request("gateway.ping", { phase: "absent" });

  // The dashboard appears: it gets a hello, then every frame so far (they were queued).
  let dashboard = new Dashboard(port);
  await waitFor(() => dashboard.frames.some((f) => f?.result?.echo?.phase === "absent"));
  assert.equal(dashboard.paths[0], "/dash");
  assert.equal(dashboard.messages[0].method, "mirror.hello");
  assert.equal(dashboard.messages[0].params.pid, gw.child.pid);
  assert.equal(dashboard.messages[0].params.epoch, ready.params.epoch);
  assert.deepEqual(dashboard.frames, gw.frames.slice(0, dashboard.frames.length));
  const open = await gw.request("gateway.info");
  assert.equal(open.result.mirror.state, "open");
  await gw.request("gateway.ping", { phase: "present" });
  await waitFor(() => dashboard.frames.some((f) => f?.result?.echo?.phase === "present"));

  // It disappears: the stdio peer does not notice.
  await dashboard.stop();
  await sleep(100);
  for (let i = 0; i < 5; i++) {
    assert.equal((await gw.request("gateway.ping", { phase: "gone", i })).result.pong, true);
  }
  const gone = await gw.request("gateway.info");
  assert.notEqual(gone.result.mirror.state, "open");
  const firstRun = dashboard.frames;

  // It comes back: a second hello, then the frames written while it was away.
  dashboard = new Dashboard(port);
  await waitFor(() =>
    dashboard.frames.some((f) => f?.result?.echo?.phase === "gone" && f.result.echo.i === 4)
  );
  assert.equal(dashboard.hellos().length, 1);
  assert.equal(dashboard.hellos()[0].params.connects, 2);
  const all = [...firstRun, ...dashboard.frames];
  assert.deepEqual(all, gw.frames.slice(0, all.length), "same frames, same order, none lost");
  const back = await gw.request("gateway.info");
  assert.equal(back.result.mirror.connects, 2);
  assert.equal(back.result.mirror.droppedFrames, 0);
  await dashboard.stop();
});

Deno.test("Mirror: a dashboard that accepts TCP but never answers does not delay gateway.ready", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  void (async () => {
    for await (const conn of listener) accepted.push(conn);
  })().catch(() => {});
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    await using gw = await spawnGateway(["--mirror", `ws://127.0.0.1:${port}/`]);
    const ready = await gw.ready(5000);
    assert.equal(gw.frames[0], ready);
    const started = performance.now();
    assert.equal((await gw.request("gateway.ping")).result.pong, true);
    assert.ok(performance.now() - started < 1000);
    await waitFor(() => accepted.length > 0);
    const info = await gw.request("gateway.info");
    assert.equal(info.result.mirror.state, "connecting");
    gw.kill("SIGTERM");
    assert.equal((await gw.waitExit()).code, 0, "the mirror does not decide the exit");
  } finally {
    listener.close();
    for (const conn of accepted) {
      try {
        conn.close();
      } catch {
        // Closed.
      }
    }
  }
});

Deno.test("Mirror: stdin EOF exits 0 promptly with the dashboard connected", async () => {
  const port = freePort();
  const dashboard = new Dashboard(port);
  try {
    await using gw = await spawnGateway(["--mirror", `ws://127.0.0.1:${port}/`], {
      env: { TUIGATE_MIRROR_URL: "ws://127.0.0.1:1/ignored" },
    });
    await gw.ready();
    await waitFor(() => dashboard.frames.length >= 1);
    const since = performance.now();
    await gw.closeStdin();
    const status = await gw.waitExit(5000, since);
    assert.equal(status.code, 0);
    assert.ok(status.ms < 1000, `exit took ${status.ms} ms`);
  } finally {
    await dashboard.stop();
  }
});

Deno.test("Mirror: TUIGATE_MIRROR_URL turns mirroring on", async () => {
  const port = freePort();
  const dashboard = new Dashboard(port);
  try {
    await using gw = await spawnGateway([], {
      env: { TUIGATE_MIRROR_URL: `ws://127.0.0.1:${port}/env` },
    });
    await gw.ready();
    await gw.request("gateway.ping", { via: "env" });
    await waitFor(() => dashboard.frames.some((f) => f?.result?.echo?.via === "env"));
    assert.equal(dashboard.paths[0], "/env");
  } finally {
    await dashboard.stop();
  }
});

Deno.test("Mirror: gateway.info reports the mirror off when no --mirror is given", async () => {
  await using gw = await spawnGateway();
  await gw.ready();
  const info = await gw.request("gateway.info");
  assert.deepEqual(info.result.mirror, { state: "off" });
});
