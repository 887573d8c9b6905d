import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Gateway } from "../../src/lifecycle/gateway.ts";
import { ERROR_CODES } from "../../src/protocol/error_codes.ts";
import { sleep } from "../../src/protocol/timing.ts";
import { MemorySessionStore } from "../../src/sessions/memory_session_store.ts";
import { SessionManager, type SessionManagerOptions } from "../../src/sessions/session_manager.ts";
import { registerSessionMethods } from "../../src/sessions/session_methods.ts";
import type { RetentionPolicy } from "../../src/sessions/session_store.ts";
import { SqliteSessionStore } from "../../src/sessions/sqlite_session_store.ts";
import { contiguous, PeerClient } from "./_peer_client.ts";

interface Setup extends AsyncDisposable {
  dir: string;
  path: string;
  store: SqliteSessionStore;
  gateway: Gateway;
  sessions: SessionManager;
}

async function setup(
  options: {
    retention?: Partial<RetentionPolicy>;
    manager?: SessionManagerOptions;
    busyTimeoutMs?: number;
    dir?: string;
  } = {},
): Promise<Setup> {
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "tuigate-sessions-" });
  const path = `${dir}/sessions.sqlite`;
  const store = await SqliteSessionStore.open(path, {
    retention: options.retention,
    busyTimeoutMs: options.busyTimeoutMs,
  });
  const gateway = new Gateway();
  const sessions = new SessionManager(store, { epoch: gateway.epoch, ...options.manager });
  registerSessionMethods(gateway, sessions);
  return {
    dir,
    path,
    store,
    gateway,
    sessions,
    async [Symbol.asyncDispose]() {
      sessions.shutdownSync();
      if (options.dir === undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A peer holding 16 KiB of output, attached to a new session, that has stopped reading. */
async function pausedPeer(s: { gateway: Gateway; sessions: SessionManager }) {
  const client = new PeerClient(s.gateway, { maxBytes: 16 * 1024 });
  const { id } = s.sessions.create();
  await client.call("session.attach", { session: id });
  client.pause();
  return { client, id, padding: "p".repeat(150) };
}

function tick(ms = 0): Promise<void> {
  return sleep(ms);
}

Deno.test("session.create, get, list and close answer through the dispatcher", async () => {
  await using s = await setup();
  const client = new PeerClient(s.gateway);
  const ready = await client.waitFor((f) => f.method === "gateway.ready", 1000, 0);
  assert.equal(ready.params.capabilities.sessions, true);
  const created = await client.call("session.create", { title: "build", metadata: { cwd: "/x" } });
  assert.match(created.id, /^[0-9a-f-]{36}$/);
  assert.equal(created.title, "build");
  assert.deepEqual(created.metadata, { cwd: "/x" });
  assert.equal(created.latest, 0);
  assert.equal(created.closed, false);
  const untitled = await client.call("session.create", {});
  assert.equal(untitled.title, null);
  const got = await client.call("session.get", { session: created.id });
  assert.deepEqual(got, created);
  const { sessions } = await client.call("session.list", {});
  assert.deepEqual(
    sessions.map((x: { id: string }) => x.id).sort(),
    [created.id, untitled.id].sort(),
  );
  const closed = await client.call("session.close", { session: created.id });
  assert.equal(closed.closed, true);
  assert.equal(closed.latest, 1);
  const again = await client.call("session.close", { session: created.id });
  assert.equal(again.latest, 1);
  const open = await client.call("session.list", { includeClosed: false });
  assert.deepEqual(open.sessions.map((x: { id: string }) => x.id), [untitled.id]);
  const missing = await client.request("session.get", { session: "nope" });
  assert.equal(missing.error.code, ERROR_CODES.SESSION_NOT_FOUND.code);
  const info = await client.call("gateway.info", {});
  assert.equal(info.sessions.store, "sqlite");
  assert.equal(info.sessions.location, s.path);
  assert.equal(info.sessions.sessions, 2);
  await client.close();
});

Deno.test("SessionManager sends two attached peers the same events in the same order", async () => {
  await using s = await setup();
  const a = new PeerClient(s.gateway);
  const b = new PeerClient(s.gateway);
  const { id } = s.sessions.create();
  await a.call("session.attach", { session: id, after: 0 });
  await b.call("session.attach", { session: id, after: 0 });
  const appended: Promise<unknown>[] = [];
  for (let burst = 0; burst < 20; burst++) {
    for (let i = 0; i < 10; i++) appended.push(s.sessions.append(id, "lib", { burst, i }));
    appended.push(a.call("session.append", { session: id, type: "from-a", data: { burst } }));
    appended.push(b.call("session.append", { session: id, type: "from-b", data: { burst } }));
    await tick();
  }
  await Promise.all(appended);
  await a.waitForSeq(id, 240);
  await b.waitForSeq(id, 240);
  const fromA = a.events(id);
  const fromB = b.events(id);
  assert.equal(fromA.length, 240);
  assert.ok(contiguous(fromA), "a: seq 1..240");
  assert.deepEqual(fromB, fromA);
  assert.deepEqual(s.sessions.eventsSince(id, { after: 0, limit: 1000 }).events, fromA);
  await a.close();
  await b.close();
});

Deno.test("SessionManager detaches a peer that closes without disturbing the others", async () => {
  await using s = await setup();
  const a = new PeerClient(s.gateway);
  const b = new PeerClient(s.gateway);
  const { id } = s.sessions.create();
  await a.call("session.attach", { session: id });
  await b.call("session.attach", { session: id });
  assert.equal(s.sessions.attachedPeers(id), 2);
  for (let i = 0; i < 50; i++) void s.sessions.append(id, "x", { i });
  await a.waitForSeq(id, 50);
  await a.close();
  assert.equal(s.sessions.attachedPeers(id), 1);
  assert.deepEqual(s.sessions.attachedSessions(a.peer), []);
  for (let i = 50; i < 100; i++) void s.sessions.append(id, "x", { i });
  await b.waitForSeq(id, 100);
  const events = b.events(id);
  assert.equal(events.length, 100);
  assert.ok(contiguous(events));
  assert.equal(a.events(id).length, 50);
  const detached = await b.call("session.detach", { session: id });
  assert.deepEqual(detached, { detached: true });
  assert.deepEqual(await b.call("session.detach", { session: id }), { detached: false });
  await s.sessions.append(id, "after-detach", {});
  await tick(20);
  assert.equal(b.events(id).length, 100);
  await b.close();
});

Deno.test("session.attach replays from a cursor, then follows live, with no gap and no duplicate while appends continue", async () => {
  await using s = await setup({ manager: { pageSize: 64 } });
  const { id } = s.sessions.create();
  for (let i = 0; i < 10; i++) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) => s.sessions.append(id, "old", { n: i * 100 + j })),
    );
  }
  let appending = true;
  let appended = 1000;
  const writer = (async () => {
    while (appending) {
      const burst = 1 + (appended % 7);
      for (let i = 0; i < burst; i++) void s.sessions.append(id, "new", { n: appended++ });
      await tick();
    }
    await s.sessions.flush();
  })();
  await tick(5);
  const client = new PeerClient(s.gateway);
  const response = await client.request("session.attach", { session: id, after: 100 });
  const result = response.result;
  assert.equal(result.after, 100);
  assert.equal(result.truncated, false);
  assert.ok(result.latest > 1000, `latest ${result.latest}`);
  assert.equal(result.epoch, s.gateway.epoch);
  // Everything up to `latest` arrived before the response, the rest after it.
  const position = client.frames.indexOf(response);
  const before = client.frames.slice(0, position).filter((f) => f.method === "session.event");
  assert.equal(before.at(-1).params.seq, result.latest);
  assert.equal(result.replayed, result.latest - 100);
  await tick(50);
  appending = false;
  await writer;
  await client.waitForSeq(id, appended);
  const events = client.events(id);
  assert.equal(events[0].seq, 101);
  assert.ok(contiguous(events, 101), "seq 101.. with no gap and no duplicate");
  assert.equal(events.at(-1).seq, appended);
  assert.deepEqual(
    events.map((e) => e.data.n),
    Array.from({ length: appended - 100 }, (_, i) => i + 100),
  );
  await client.close();
});

Deno.test("session.attach without a cursor sends only new events, and attaching again moves the cursor", async () => {
  await using s = await setup();
  const { id } = s.sessions.create();
  for (let i = 0; i < 5; i++) await s.sessions.append(id, "old", { i });
  const client = new PeerClient(s.gateway);
  const result = await client.call("session.attach", { session: id });
  assert.equal(result.after, 5);
  assert.equal(result.replayed, 0);
  await s.sessions.append(id, "new", {});
  await client.waitForSeq(id, 6);
  assert.deepEqual(client.events(id).map((e) => e.seq), [6]);
  const again = await client.call("session.attach", { session: id, after: 3 });
  assert.equal(again.replayed, 3);
  assert.deepEqual(client.events(id).map((e) => e.seq), [6, 4, 5, 6]);
  assert.equal(s.sessions.attachedPeers(id), 1);
  const unknown = await client.request("session.attach", { session: "nope" });
  assert.equal(unknown.error.code, ERROR_CODES.SESSION_NOT_FOUND.code);
  await client.close();
});

Deno.test("session.attach again without a cursor goes on from where a slow peer's stream is, skipping nothing", async () => {
  await using s = await setup();
  const { client, id, padding } = await pausedPeer(s);
  // The first commit goes to the peer's output, more than it holds; the second waits in the store
  // until the peer has read the first.
  for (let i = 0; i < 100; i++) void s.sessions.append(id, "x", { i, padding });
  await s.sessions.flush();
  await tick(20);
  for (let i = 100; i < 200; i++) void s.sessions.append(id, "x", { i, padding });
  await s.sessions.flush();
  await tick(20);
  const again = client.request("session.attach", { session: id });
  await tick(20);
  client.resume();
  const result = (await again).result;
  assert.equal(result.after, 100, "the stream goes on after the events already sent");
  await client.waitForSeq(id, 200, 20_000);
  await tick(50);
  const events = client.events(id);
  assert.deepEqual(events.map((e) => e.seq), Array.from({ length: 200 }, (_, i) => i + 1));
  await client.close();
});

Deno.test("Cancelling a session.attach whose replay is held back by a slow reader detaches the peer", async () => {
  await using s = await setup();
  const client = new PeerClient(s.gateway, { maxBytes: 4096 });
  const { id } = s.sessions.create();
  await Promise.all(Array.from({ length: 2000 }, (_, i) => s.sessions.append(id, "old", { i })));
  client.pause();
  const answer = client.request("session.attach", { session: id, after: 0 });
  await tick(20);
  assert.equal(s.sessions.attachedPeers(id), 1);
  s.gateway.dispatcher.handleText(
    JSON.stringify({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 1 } }),
    client.peer,
  );
  await tick(20);
  assert.equal(s.sessions.attachedPeers(id), 0);
  client.resume();
  const response = await answer;
  assert.equal(response.error.code, ERROR_CODES.REQUEST_CANCELLED.code);
  await s.sessions.append(id, "new", {});
  await tick(20);
  const received = client.events(id);
  assert.ok(received.length < 2000, `${received.length} events after the cancel`);
  assert.ok(contiguous(received));
  await client.close();
});

Deno.test("SessionManager commits a burst of appends in one transaction", async () => {
  await using s = await setup();
  const { id } = s.sessions.create();
  const before = s.store.stats().commits;
  const events = await Promise.all(
    Array.from({ length: 500 }, (_, i) => s.sessions.append(id, "burst", { i })),
  );
  assert.equal(s.store.stats().commits - before, 1);
  assert.deepEqual(events.map((e) => e.seq), Array.from({ length: 500 }, (_, i) => i + 1));
  // A burst larger than maxBatchEvents is split, each part still one commit.
  const big = await Promise.all(
    Array.from({ length: 2500 }, (_, i) => s.sessions.append(id, "burst", { i })),
  );
  assert.equal(s.store.stats().commits - before, 4);
  assert.equal(big.at(-1)!.seq, 3000);
  assert.equal(s.sessions.stats().commits, 4);
  assert.equal(s.sessions.stats().appended, 3000);
});

Deno.test("SessionManager writes every event to the store before any peer is sent it", async () => {
  await using s = await setup();
  const reader = new DatabaseSync(s.path);
  const latest = reader.prepare("SELECT latest FROM sessions WHERE id = ?");
  const stored = reader.prepare("SELECT COUNT(*) AS n FROM events WHERE session = ? AND seq = ?");
  const client = new PeerClient(s.gateway);
  const violations: number[] = [];
  let checked = 0;
  const output = client.peer.output;
  const push = output.pushControl.bind(output);
  output.pushControl = (text: string) => {
    const frame = JSON.parse(text);
    if (frame.method === "session.event") {
      checked++;
      const { session, seq } = frame.params;
      const row = stored.get(session, seq) as { n: number };
      if (row.n !== 1 || (latest.get(session) as { latest: number }).latest < seq) {
        violations.push(seq);
      }
    }
    return push(text);
  };
  const { id } = s.sessions.create();
  for (let i = 0; i < 100; i++) await s.sessions.append(id, "early", { i });
  await client.call("session.attach", { session: id, after: 0 });
  for (let burst = 0; burst < 30; burst++) {
    for (let i = 0; i < 10; i++) void s.sessions.append(id, "live", { burst, i });
    await tick();
  }
  await client.waitForSeq(id, 400);
  reader.close();
  assert.equal(checked, 400);
  assert.deepEqual(violations, []);
  await client.close();
});

Deno.test("SessionManager stores consecutive deltas of one key as one event, keeping the earliest fields", async () => {
  await using s = await setup();
  const client = new PeerClient(s.gateway);
  const { id } = s.sessions.create();
  await client.call("session.attach", { session: id });
  const key = { deltaKey: "job:1:stdout" };
  const merged = [
    s.sessions.append(id, "job.output", { job: "1", stream: "stdout", text: "hel", part: 0 }, key),
    s.sessions.append(id, "job.output", { job: "1", stream: "stdout", text: "lo ", part: 1 }, key),
    s.sessions.append(
      id,
      "job.output",
      { job: "1", stream: "stdout", text: "wörld", part: 2 },
      key,
    ),
  ];
  const other = s.sessions.append(id, "job.output", { job: "1", stream: "stderr", text: "!" }, {
    deltaKey: "job:1:stderr",
  });
  const afterOther = s.sessions.append(id, "job.output", { job: "1", text: "x" }, key);
  const binary = [
    s.sessions.append(id, "job.output", { job: "2", base64: "aGVs" }, { deltaKey: "job:2" }),
    s.sessions.append(id, "job.output", { job: "2", base64: "bG8=" }, { deltaKey: "job:2" }),
    s.sessions.append(id, "job.output", { job: "2", base64: "IQ==" }, { deltaKey: "job:2" }),
  ];
  const plain = s.sessions.append(id, "note", { text: "a" });
  const notMerged = s.sessions.append(id, "note", { text: "b" });
  const events = await Promise.all([...merged, other, afterOther, ...binary, plain, notMerged]);
  assert.deepEqual(events.map((e) => e.seq), [1, 1, 1, 2, 3, 4, 4, 4, 5, 6]);
  const log = s.sessions.eventsSince(id, { after: 0, limit: 100 }).events;
  assert.deepEqual(log.map((e) => e.data), [
    { job: "1", stream: "stdout", text: "hello wörld", part: 0 },
    { job: "1", stream: "stderr", text: "!" },
    { job: "1", text: "x" },
    { job: "2", base64: btoa("hello!") },
    { text: "a" },
    { text: "b" },
  ]);
  await client.waitForSeq(id, 6);
  assert.deepEqual(client.events(id), log);
  // After a commit, a new delta of the same key starts a new event.
  await s.sessions.append(id, "job.output", { job: "1", text: "more" }, key);
  assert.equal(s.sessions.get(id).latest, 7);
  await client.close();
});

Deno.test("SessionManager merges unpadded base64 deltas by their bytes, and stores text that is not base64 on its own", async () => {
  await using s = await setup();
  const { id } = s.sessions.create();
  const key = { deltaKey: "bytes" };
  const bytes = (base64: string) => [...atob(base64)].map((c) => c.charCodeAt(0));
  // "AQ" is byte 1 without padding, "Ag" byte 2: joined as text they would read [1, 0, 32].
  const appended = await Promise.all([
    s.sessions.append(id, "raw", { base64: "AQ" }, key),
    s.sessions.append(id, "raw", { base64: "Ag" }, key),
    s.sessions.append(id, "raw", { base64: "Aw==" }, key),
  ]);
  assert.deepEqual(appended.map((e) => e.seq), [1, 1, 1]);
  let log = s.sessions.eventsSince(id, { after: 0 }).events;
  assert.deepEqual(bytes(log[0].data.base64 as string), [1, 2, 3]);
  // After a padded one, text that is not base64 neither throws nor merges: it is its own event.
  const more = await Promise.all([
    s.sessions.append(id, "raw", { base64: "BA==" }, key),
    s.sessions.append(id, "raw", { base64: "not base64!" }, key),
  ]);
  assert.deepEqual(more.map((e) => e.seq), [2, 3]);
  log = s.sessions.eventsSince(id, { after: 1 }).events;
  assert.deepEqual(log.map((e) => e.data), [{ base64: "BA==" }, { base64: "not base64!" }]);
});

Deno.test("session.append answers SESSION_NOT_FOUND, SESSION_CLOSED and INVALID_PARAMS", async () => {
  await using s = await setup();
  const client = new PeerClient(s.gateway);
  const { id } = s.sessions.create();
  await client.call("session.attach", { session: id });
  const ok = await client.call("session.append", { session: id, type: "t", data: { a: 1 } });
  assert.equal(ok.seq, 1);
  assert.equal(ok.session, id);
  const unknown = await client.request("session.append", { session: "nope", type: "t" });
  assert.equal(unknown.error.code, ERROR_CODES.SESSION_NOT_FOUND.code);
  const invalid = await client.request("session.append", { session: id, type: "" });
  assert.equal(invalid.error.code, ERROR_CODES.INVALID_PARAMS.code);
  const closed = await client.call("session.close", { session: id });
  assert.equal(closed.latest, 2);
  const refused = await client.request("session.append", { session: id, type: "t" });
  assert.equal(refused.error.code, ERROR_CODES.SESSION_CLOSED.code);
  await client.waitForSeq(id, 2);
  assert.deepEqual(client.events(id).map((e) => e.type), ["t", "session.closed"]);
  await assert.rejects(
    s.sessions.append(id, "t", { big: 1n } as unknown as Record<string, unknown>),
    (error: { code: number }) => error.code === ERROR_CODES.INVALID_PARAMS.code,
  );
  await client.close();
});

Deno.test("SessionManager answers STORE_ERROR while the store stays locked, and loses no sequence number", async () => {
  await using s = await setup({ busyTimeoutMs: 100 });
  const client = new PeerClient(s.gateway);
  const { id } = s.sessions.create();
  await client.call("session.append", { session: id, type: "before" });
  const holder = new DatabaseSync(s.path);
  holder.exec("BEGIN IMMEDIATE");
  holder.exec("INSERT INTO meta (key, value) VALUES ('holder', 'x')");
  let failed;
  try {
    failed = await client.request("session.append", { session: id, type: "during" });
  } finally {
    holder.exec("ROLLBACK");
    holder.close();
  }
  assert.equal(failed.error.code, ERROR_CODES.STORE_ERROR.code);
  assert.match(failed.error.message, /Session store failed: .*locked/);
  const after = await client.call("session.append", { session: id, type: "after" });
  assert.equal(after.seq, 2);
  assert.deepEqual(s.sessions.eventsSince(id, { after: 0, limit: 10 }).events.map((e) => e.type), [
    "before",
    "after",
  ]);
  assert.equal(s.sessions.stats().failedCommits, 1);
  await client.close();
});

/** Holds the write lock of the store at `path` from another connection until `release()`. */
function holdLock(path: string): { release: (commit?: boolean) => void } {
  const holder = new DatabaseSync(path);
  holder.exec("BEGIN IMMEDIATE");
  holder.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('holder', 'x')");
  let held = true;
  return {
    release(commit = false) {
      if (!held) return;
      held = false;
      holder.exec(commit ? "COMMIT" : "ROLLBACK");
      holder.close();
    },
  };
}

/** Measures the longest gap between timer ticks every 10 ms until `stop` resolves. */
async function longestStall(stop: Promise<unknown>): Promise<number> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 10);
  try {
    await stop;
  } finally {
    clearInterval(timer);
  }
  return Math.max(worst, performance.now() - last);
}

Deno.test("SessionManager waits for a locked store on timers: the event loop keeps running and the append then succeeds", async () => {
  await using s = await setup({ busyTimeoutMs: 5000 });
  const client = new PeerClient(s.gateway);
  const { id } = s.sessions.create();
  await s.sessions.append(id, "before");
  const lock = holdLock(s.path);
  const heldAt = performance.now();
  setTimeout(() => lock.release(true), 1000);
  try {
    const during = s.sessions.append(id, "during", { n: 1 });
    const behind = s.sessions.append(id, "behind", { n: 2 });
    // While the append waits, the gateway still answers pings quickly.
    const pings: number[] = [];
    const pinging = (async () => {
      while (performance.now() - heldAt < 800) {
        const sent = performance.now();
        await client.call("gateway.ping", {});
        pings.push(performance.now() - sent);
        await tick(50);
      }
    })();
    const stall = await longestStall(Promise.all([during, behind, pinging]));
    const [first, second] = await Promise.all([during, behind]);
    assert.ok(performance.now() - heldAt >= 900, "the append did not wait for the lock");
    assert.ok(stall < 200, `the event loop stalled for ${Math.round(stall)} ms`);
    assert.ok(pings.length >= 3 && Math.max(...pings) < 200, `pings took ${pings.map(Math.round)}`);
    assert.deepEqual([first.seq, second.seq], [2, 3]);
    assert.deepEqual(
      s.sessions.eventsSince(id, { after: 0 }).events.map((e) => e.type),
      ["before", "during", "behind"],
    );
    assert.equal(s.sessions.stats().failedCommits, 0);
  } finally {
    lock.release();
  }
  await client.close();
});

Deno.test("session.create waits for a locked store on timers instead of failing at once", async () => {
  await using s = await setup({ busyTimeoutMs: 5000 });
  const client = new PeerClient(s.gateway);
  const lock = holdLock(s.path);
  setTimeout(() => lock.release(true), 300);
  try {
    const started = performance.now();
    const created = await client.call("session.create", { title: "waited" });
    assert.ok(performance.now() - started >= 250, "session.create did not wait for the lock");
    assert.equal(s.sessions.get(created.id).title, "waited");
  } finally {
    lock.release();
  }
  await client.close();
});

Deno.test("SessionManager.shutdownSync takes over a commit that waits for a locked store and stores it once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-sessions-" });
  try {
    let id: string;
    {
      await using s = await setup({ dir, busyTimeoutMs: 5000 });
      id = s.sessions.create().id;
      const lock = holdLock(s.path);
      const waiting = s.sessions.append(id, "waiting");
      await tick(50);
      assert.equal(s.sessions.stats().pending, 1);
      lock.release();
      s.sessions.shutdownSync();
      assert.equal((await waiting).seq, 1);
      await tick(200); // the retry timer must not commit it a second time
    }
    await using again = await setup({ dir });
    assert.deepEqual(
      again.sessions.eventsSince(id, { after: 0 }).events.map((e) => [e.seq, e.type]),
      [[1, "waiting"]],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SessionManager feeds a slow peer from the store instead of queueing without bound", async () => {
  await using s = await setup();
  const { client, id, padding } = await pausedPeer(s);
  for (let burst = 0; burst < 100; burst++) {
    for (let i = 0; i < 30; i++) void s.sessions.append(id, "x", { burst, i, padding });
    await tick();
  }
  await s.sessions.flush();
  await tick(20);
  const high = client.peer.output.stats().highWaterBytes;
  assert.ok(high < 64 * 1024, `queued up to ${high} bytes for 3000 events of ~230 bytes`);
  client.resume();
  await client.waitForSeq(id, 3000, 20_000);
  const events = client.events(id);
  assert.equal(events.length, 3000);
  assert.ok(contiguous(events));
  await client.close();
});

Deno.test("session.events.since pages the log and reports truncated for pruned events", async () => {
  await using s = await setup({ retention: { maxEventsPerSession: 10 } });
  const client = new PeerClient(s.gateway);
  const { id } = s.sessions.create();
  for (let i = 1; i <= 25; i++) await s.sessions.append(id, "x", { i });
  const all = await client.call("session.events.since", { session: id, after: 0, limit: 100 });
  assert.equal(all.truncated, true);
  assert.equal(all.latest, 25);
  assert.equal(all.epoch, s.gateway.epoch);
  assert.deepEqual(all.events.map((e: { seq: number }) => e.seq), [
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    24,
    25,
  ]);
  const kept = await client.call("session.events.since", { session: id, after: 15, limit: 3 });
  assert.equal(kept.truncated, false);
  assert.deepEqual(kept.events.map((e: { data: { i: number } }) => e.data.i), [16, 17, 18]);
  const edge = await client.call("session.events.since", { session: id, after: 14, limit: 3 });
  assert.equal(edge.truncated, true);
  const attach = await client.call("session.attach", { session: id, after: 2 });
  assert.equal(attach.truncated, true);
  assert.equal(attach.replayed, 10);
  const notice = client.frames.find((f) => f.method === "session.truncated");
  assert.deepEqual(notice.params, { session: id, after: 2, oldest: 16, epoch: s.gateway.epoch });
  assert.deepEqual(client.events(id).map((e) => e.seq), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
  await client.close();
});

Deno.test("SessionManager delivers events another process appends to the same store", async () => {
  await using one = await setup({ manager: { pollMs: 20 } });
  await using two = await setup({ dir: one.dir });
  const client = new PeerClient(one.gateway);
  const { id } = one.sessions.create();
  assert.equal(two.sessions.get(id).id, id);
  await client.call("session.attach", { session: id, after: 0 });
  const appended: Promise<unknown>[] = [];
  for (let i = 0; i < 100; i++) {
    appended.push(one.sessions.append(id, "one", { i }));
    appended.push(two.sessions.append(id, "two", { i }));
    if (i % 10 === 0) await tick();
  }
  const events = (await Promise.all(appended)) as { seq: number }[];
  assert.deepEqual(
    events.map((e) => e.seq).sort((a, b) => a - b),
    Array.from({ length: 200 }, (_, i) => i + 1),
  );
  await client.waitForSeq(id, 200);
  const received = client.events(id);
  assert.equal(received.length, 200);
  assert.ok(contiguous(received));
  assert.deepEqual(
    received.filter((e) => e.type === "two").map((e) => e.data.i),
    Array.from({ length: 100 }, (_, i) => i),
  );
  await client.close();
});

Deno.test("SessionManager.shutdownSync commits pending appends and closes the store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-sessions-" });
  try {
    {
      await using s = await setup({ dir });
      const { id } = s.sessions.create({ title: "kept" });
      const pending = s.sessions.append(id, "pending", { n: 1 });
      s.sessions.shutdownSync();
      assert.equal((await pending).seq, 1);
      assert.equal(s.store.isOpen, false);
      await assert.rejects(
        s.sessions.append(id, "late", {}),
        (error: { code: number; message: string }) =>
          error.code === ERROR_CODES.CONNECTION_CLOSED.code &&
          /^Session store closed: the gateway is shutting down$/.test(error.message),
      );
    }
    await using again = await setup({ dir });
    const [session] = again.sessions.list();
    assert.equal(session.title, "kept");
    assert.equal(session.latest, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SessionManager over the memory store replays and follows live like the SQLite one", async () => {
  const gateway = new Gateway();
  const sessions = new SessionManager(new MemorySessionStore(), { epoch: gateway.epoch });
  registerSessionMethods(gateway, sessions);
  const client = new PeerClient(gateway);
  const { id } = await client.call("session.create", { title: "m" });
  for (let i = 0; i < 300; i++) void sessions.append(id, "x", { i });
  await sessions.flush();
  const result = await client.call("session.attach", { session: id, after: 0 });
  assert.equal(result.replayed, 300);
  for (let i = 300; i < 400; i++) void sessions.append(id, "x", { i });
  await client.waitForSeq(id, 400);
  assert.ok(contiguous(client.events(id)));
  assert.equal((await client.call("gateway.info", {})).sessions.store, "memory");
  await client.close();
  sessions.shutdownSync();
});
