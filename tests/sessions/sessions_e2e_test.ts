/**
 * End-to-end tests of durable sessions: real gateway processes (main.ts),
 * real SQLite files, real signals.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  type Frame,
  type GatewayProcess,
  ROOT,
  spawnGateway,
} from "../_support/gateway_process.ts";
import { SqliteSessionStore } from "../../src/sessions/sqlite_session_store.ts";
import { readOnlyFolder } from "./_read_only_folder.ts";

const EXIT_STORE_UNAVAILABLE = 73;

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "tuigate-sessions-e2e-" });
}

/** Polls `condition` until it holds or `timeoutMs` passes. */
async function until(
  condition: () => boolean,
  timeoutMs = 15_000,
  what = "condition",
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function events(gw: GatewayProcess, session: string): Frame[] {
  return gw.frames
    .filter((f) => f.method === "session.event" && f.params.session === session)
    .map((f) => f.params);
}

function assertContiguous(list: { seq: number }[], from = 1, what = "events"): void {
  for (let i = 0; i < list.length; i++) {
    if (list[i].seq !== from + i) {
      assert.fail(`${what}: expected seq ${from + i} at ${i}, got ${list[i].seq}`);
    }
  }
}

let nextId = 1;

/** A request id of these tests (strings: never equal to GatewayProcess's numeric ids). */
function newId(): string {
  return `t-${nextId++}`;
}

/** Sends `count` session.append requests in one write; returns their ids in order. */
async function sendAppends(
  gw: GatewayProcess,
  session: string,
  type: string,
  count: number,
  offset = 0,
): Promise<string[]> {
  const ids: string[] = [];
  let text = "";
  for (let i = 0; i < count; i++) {
    const id = newId();
    ids.push(id);
    text += JSON.stringify({
      jsonrpc: "2.0",
      id,
      method: "session.append",
      params: { session, type, data: { n: offset + i } },
    }) + "\n";
  }
  await gw.send(text);
  return ids;
}

function responses(gw: GatewayProcess, ids: string[]): Map<string, Frame> {
  const wanted = new Set(ids);
  const found = new Map<string, Frame>();
  for (const frame of gw.frames) {
    if (typeof frame?.id === "string" && wanted.has(frame.id) && !("method" in frame)) {
      found.set(frame.id, frame);
    }
  }
  return found;
}

/**
 * Appends `count` events in pipelined chunks (a chunk stays below the
 * dispatcher's 64 running + 1024 queued requests), waiting for each chunk's
 * answers before sending the next. Returns the ids in order.
 */
async function appendAll(
  gw: GatewayProcess,
  session: string,
  type: string,
  count: number,
  chunk = 500,
): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; offset < count; offset += chunk) {
    const sent = await sendAppends(gw, session, type, Math.min(chunk, count - offset), offset);
    ids.push(...sent);
    await until(() => responses(gw, sent).size === sent.length, 20_000, "answers");
  }
  return ids;
}

/** Reads a whole session log through session.events.since, page by page. */
async function readLog(
  gw: GatewayProcess,
  session: string,
): Promise<{ events: Frame[]; latest: number; truncated: boolean }> {
  const all: Frame[] = [];
  let after = 0;
  let latest = 0;
  let truncated = false;
  for (;;) {
    const page = (await gw.request("session.events.since", { session, after, limit: 10_000 }))
      .result;
    latest = page.latest;
    truncated ||= page.truncated;
    all.push(...page.events);
    if (page.events.length === 0 || page.events.at(-1).seq >= page.latest) break;
    after = page.events.at(-1).seq;
  }
  return { events: all, latest, truncated };
}

function integrityCheck(path: string): string {
  const db = new DatabaseSync(path);
  try {
    return (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string })
      .integrity_check;
  } finally {
    db.close();
  }
}

Deno.test("Gateway replays a session from a cursor and follows live over stdio while the client keeps appending", async () => {
  await using gw = await spawnGateway();
  const ready = await gw.ready();
  assert.equal(ready.params.capabilities.sessions, true);
  const { result: created } = await gw.request("session.create", { title: "e2e" });
  const id = created.id;
  const first = await sendAppends(gw, id, "early", 300);
  const attachId = newId();
  await gw.send({
    jsonrpc: "2.0",
    id: attachId,
    method: "session.attach",
    params: { session: id, after: 0 },
  });
  const second = await sendAppends(gw, id, "late", 300, 300);
  await until(
    () => responses(gw, [...first, ...second, attachId]).size === 601,
    20_000,
    "responses",
  );
  await until(() => events(gw, id).length >= 600, 20_000, "600 events");
  const acks = responses(gw, [...first, ...second]);
  // Appends are stored in the order they were sent.
  assert.deepEqual(
    [...first, ...second].map((rid) => acks.get(rid).result.seq),
    Array.from({ length: 600 }, (_, i) => i + 1),
  );
  const received = events(gw, id);
  assert.equal(received.length, 600);
  assertContiguous(received);
  assert.deepEqual(received.map((e) => e.data.n), Array.from({ length: 600 }, (_, i) => i));
  const attach = responses(gw, [attachId]).get(attachId).result;
  assert.equal(attach.after, 0);
  assert.equal(attach.epoch, ready.params.epoch);
  const discover = await gw.request("rpc.discover");
  const names = discover.result.methods.map((m: { name: string }) => m.name);
  for (
    const name of [
      "session.create",
      "session.list",
      "session.get",
      "session.close",
      "session.attach",
      "session.detach",
      "session.events.since",
      "session.append",
    ]
  ) {
    assert.ok(names.includes(name), name);
  }
});

Deno.test("Gateway keeps sessions and sequence numbers across a restart on the same store, with a new epoch", async () => {
  const dir = await tempDir();
  try {
    const env = { TUIGATE_STATE_DIR: dir };
    let id: string;
    let firstEpoch: string;
    {
      await using gw = await spawnGateway([], { env });
      firstEpoch = (await gw.ready()).params.epoch;
      id = (await gw.request("session.create", { title: "kept", metadata: { tui: "demo" } })).result
        .id;
      for (let i = 0; i < 5; i++) {
        await gw.request("session.append", { session: id, type: "t", data: { i } });
      }
      await gw.closeStdin();
      assert.equal((await gw.waitExit()).code, 0);
    }
    assert.ok((await Deno.stat(`${dir}/sessions.sqlite`)).isFile);
    await using gw = await spawnGateway([], { env });
    const epoch = (await gw.ready()).params.epoch;
    assert.notEqual(epoch, firstEpoch);
    const listed = (await gw.request("session.list", {})).result.sessions;
    assert.equal(listed.length, 1);
    assert.equal(listed[0].id, id);
    assert.equal(listed[0].title, "kept");
    assert.deepEqual(listed[0].metadata, { tui: "demo" });
    assert.equal(listed[0].latest, 5);
    const appended =
      (await gw.request("session.append", { session: id, type: "t", data: { i: 5 } })).result;
    assert.equal(appended.seq, 6);
    const log =
      (await gw.request("session.events.since", { session: id, after: 0, limit: 100 })).result;
    assert.equal(log.epoch, epoch);
    assert.equal(log.latest, 6);
    assert.equal(log.truncated, false);
    assert.deepEqual(log.events.map((e: Frame) => e.data.i), [0, 1, 2, 3, 4, 5]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Gateway SIGKILLed in the middle of a burst keeps every event a client saw, with contiguous seq and an intact file", async () => {
  const dir = await tempDir();
  try {
    const env = { TUIGATE_STATE_DIR: dir };
    let id: string;
    let seen: Frame[];
    let acked: Frame[];
    const total = 20_000;
    {
      await using gw = await spawnGateway([], { env });
      await gw.ready();
      id = (await gw.request("session.create", { title: "crash" })).result.id;
      await gw.request("session.attach", { session: id, after: 0 });
      const ids: string[] = [];
      let killed = false;
      const sending = (async () => {
        for (let offset = 0; offset < total && !killed; offset += 500) {
          const sent = await sendAppends(gw, id, "burst", 500, offset);
          ids.push(...sent);
          await until(() => killed || responses(gw, sent).size === sent.length, 20_000, "answers");
        }
      })().catch(() => {});
      await until(() => events(gw, id).length >= 2000, 30_000, "2000 events");
      gw.kill("SIGKILL");
      killed = true;
      const status = await gw.waitExit();
      assert.equal(status.signal, "SIGKILL");
      await sending;
      seen = events(gw, id);
      acked = [...responses(gw, ids).values()].filter((r) => r.result).map((r) => r.result);
      assert.ok(seen.length < total, `killed mid-burst: ${seen.length} of ${total} seen`);
    }
    assertContiguous(seen, 1, "events seen before the kill");
    await using gw = await spawnGateway([], { env });
    await gw.ready();
    const log = await readLog(gw, id);
    assertContiguous(log.events, 1, "stored events");
    assert.equal(log.latest, log.events.length);
    assert.ok(log.latest >= seen.length, `stored ${log.latest}, seen ${seen.length}`);
    for (const event of seen) assert.deepEqual(log.events[event.seq - 1], event);
    for (const ack of acked) assert.equal(log.events[ack.seq - 1].type, "burst");
    const next =
      (await gw.request("session.append", { session: id, type: "after-restart" })).result;
    assert.equal(next.seq, log.latest + 1);
    await gw.closeStdin();
    assert.equal((await gw.waitExit()).code, 0);
    assert.equal(integrityCheck(`${dir}/sessions.sqlite`), "ok");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Two gateways appending to one session at once keep seq contiguous and see each other's sessions and events", async () => {
  const dir = await tempDir();
  try {
    const env = { TUIGATE_STATE_DIR: dir };
    await using one = await spawnGateway([], { env });
    await using two = await spawnGateway([], { env });
    await Promise.all([one.ready(), two.ready()]);
    const id = (await one.request("session.create", { title: "shared" })).result.id;
    const other = (await two.request("session.create", { title: "other" })).result.id;
    assert.equal((await two.request("session.get", { session: id })).result.title, "shared");
    const listed = (await one.request("session.list", {})).result.sessions.map((s: Frame) => s.id);
    assert.deepEqual(listed.sort(), [id, other].sort());
    await one.request("session.attach", { session: id, after: 0 });
    await two.request("session.attach", { session: id, after: 0 });
    const count = 1500;
    const [idsOne, idsTwo] = await Promise.all([
      appendAll(one, id, "one", count, 250),
      appendAll(two, id, "two", count, 250),
    ]);
    const answersOne = responses(one, idsOne);
    const answersTwo = responses(two, idsTwo);
    const seqsOne = idsOne.map((rid) => answersOne.get(rid).result.seq);
    const seqsTwo = idsTwo.map((rid) => answersTwo.get(rid).result.seq);
    assert.deepEqual(
      [...seqsOne, ...seqsTwo].sort((a, b) => a - b),
      Array.from({ length: 2 * count }, (_, i) => i + 1),
    );
    // Each gateway's own appends keep their order.
    assert.ok(seqsOne.every((seq, i) => i === 0 || seq > seqsOne[i - 1]));
    assert.ok(seqsTwo.every((seq, i) => i === 0 || seq > seqsTwo[i - 1]));
    // Both attached clients see every event of both gateways, in one order.
    await until(
      () => events(one, id).length >= 2 * count && events(two, id).length >= 2 * count,
      30_000,
      "events",
    );
    const seenOne = events(one, id);
    const seenTwo = events(two, id);
    assertContiguous(seenOne, 1, "gateway one");
    assert.deepEqual(seenTwo, seenOne);
    assert.equal(seenOne.filter((e) => e.type === "two").length, count);
    await Promise.all([one.closeStdin(), two.closeStdin()]);
    assert.equal((await one.waitExit()).code, 0);
    assert.equal((await two.waitExit()).code, 0);
    assert.equal(integrityCheck(`${dir}/sessions.sqlite`), "ok");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function runGateway(
  args: string[],
  env: Record<string, string>,
  wrap: (command: string[]) => string[] = (command) => command,
): Promise<{ code: number; stderr: string; ms: number }> {
  const [command, ...rest] = wrap([Deno.execPath(), "run", "-A", `${ROOT}/main.ts`, ...args]);
  const started = performance.now();
  const output = await new Deno.Command(command, {
    args: rest,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  return {
    code: output.code,
    stderr: new TextDecoder().decode(output.stderr),
    ms: performance.now() - started,
  };
}

/** The one error line on stderr (besides the `[tuigate-exit]` marker every exit may print). */
function oneLine(stderr: string): string {
  const lines = stderr.split("\n").filter((line) =>
    line.trim() !== "" && !line.startsWith("[tuigate-exit] store-unavailable")
  );
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0];
}

Deno.test("A read-only state folder ends the gateway with exit 73 and one line on stderr", async (t) => {
  const dir = await tempDir();
  try {
    // A folder with a store in it, made by a real gateway.
    const existing = `${dir}/existing`;
    {
      await using gw = await spawnGateway([], { env: { TUIGATE_STATE_DIR: existing } });
      await gw.ready();
      const id = (await gw.request("session.create", { title: "precious" })).result.id;
      await gw.request("session.append", { session: id, type: "t", data: { keep: true } });
      await gw.closeStdin();
      assert.equal((await gw.waitExit()).code, 0);
    }
    for (const mount of [true, false]) {
      for (const [name, path] of [["empty", `${dir}/empty-${mount}`], ["existing", existing]]) {
        await t.step(
          `${name} folder, ${mount ? "read-only file system" : "unwritable in place"}`,
          async () => {
            const folder = await readOnlyFolder(path, { mount });
            try {
              if (folder.method === "none" || (mount && folder.method !== "ro-bind-mount")) {
                // deno-lint-ignore no-console
                console.warn(`  skipped: cannot make ${path} read-only that way here`);
                return;
              }
              const run = await runGateway([], {
                TUIGATE_STATE_DIR: path,
                TUIGATE_CRASH_LOG: `${dir}/exits.jsonl`,
              }, folder.wrap);
              assert.equal(run.code, EXIT_STORE_UNAVAILABLE, run.stderr);
              const line = oneLine(run.stderr);
              assert.match(run.stderr, /^\[tuigate-exit\] store-unavailable$/m);
              assert.match(line, /^tuigate: Session store .*sessions\.sqlite is not writable: /);
              assert.match(
                line,
                folder.method === "ro-bind-mount"
                  ? /Read-only file system/
                  : /not permitted|denied/i,
              );
            } finally {
              await folder.release();
            }
          },
        );
      }
    }
    // Nothing was discarded.
    const store = await SqliteSessionStore.open(`${existing}/sessions.sqlite`);
    const [session] = store.listSessions();
    assert.equal(session.title, "precious");
    assert.deepEqual(
      store.eventsSince(session.id, { after: 0, limit: 10 })!.events.map((e) => e.data),
      [{
        keep: true,
      }],
    );
    store.close();
    const ledger = (await Deno.readTextFile(`${dir}/exits.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.ok(
      ledger.every((entry) => entry.reason === "store-unavailable" && entry.exitCode === 73),
    );
    // Every line carries the documented fields, with nothing served yet.
    for (const entry of ledger) {
      assert.equal(entry.inflight, 0);
      assert.equal(typeof entry.uptime, "number");
      assert.equal(typeof entry.version, "string");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Gateway answers gateway.ping while another process holds the store's write lock, then stores the waiting append", async () => {
  const dir = await tempDir();
  try {
    await using gw = await spawnGateway([], { env: { TUIGATE_STATE_DIR: dir } });
    await gw.ready();
    const id = (await gw.request("session.create", { title: "locked" })).result.id;
    assert.equal(
      (await gw.request("session.append", { session: id, type: "before" })).result.seq,
      1,
    );
    const holder = new DatabaseSync(`${dir}/sessions.sqlite`);
    holder.exec("BEGIN IMMEDIATE");
    holder.exec("INSERT INTO meta (key, value) VALUES ('holder', 'x')");
    const heldAt = performance.now();
    let append: Promise<Frame>;
    const pings: number[] = [];
    try {
      append = gw.request("session.append", { session: id, type: "during" });
      // Every ping is sent while the append waits for the lock.
      while (performance.now() - heldAt < 800) {
        const sent = performance.now();
        const pong = await gw.request("gateway.ping", {}, 5000);
        assert.ok(pong.result !== undefined, JSON.stringify(pong));
        pings.push(performance.now() - sent);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const answered = gw.frames.some((f) => f.id !== undefined && f.result?.type === "during");
      assert.equal(answered, false, "the append was answered while the lock was held");
    } finally {
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, 1000 - (performance.now() - heldAt)))
      );
      holder.exec("COMMIT");
      holder.close();
    }
    const worst = Math.max(...pings);
    assert.ok(pings.length >= 3, `only ${pings.length} pings`);
    assert.ok(worst < 400, `a ping took ${Math.round(worst)} ms while the store was locked`);
    const stored = await append;
    assert.equal(stored.error, undefined, JSON.stringify(stored));
    assert.equal(stored.result.seq, 2);
    const log = await readLog(gw, id);
    assert.deepEqual(log.events.map((e) => e.type), ["before", "during"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Makes a store at `path` and holds its write lock from another connection until `release()`. */
async function holdWriteLock(path: string): Promise<{ release(): void }> {
  (await SqliteSessionStore.open(path)).close();
  const holder = new DatabaseSync(path);
  holder.exec("BEGIN IMMEDIATE");
  holder.exec("INSERT INTO meta (key, value) VALUES ('holder', 'x')");
  return {
    release() {
      holder.exec("ROLLBACK");
      holder.close();
    },
  };
}

Deno.test("A store locked past the busy timeout ends the gateway with exit 73 and one line on stderr", async () => {
  const dir = await tempDir();
  try {
    const holder = await holdWriteLock(`${dir}/sessions.sqlite`);
    let run;
    try {
      run = await runGateway(["--state-busy-timeout", "0.3"], { TUIGATE_STATE_DIR: dir });
    } finally {
      holder.release();
    }
    assert.equal(run.code, EXIT_STORE_UNAVAILABLE, run.stderr);
    assert.match(
      oneLine(run.stderr),
      /^tuigate: Session store .* is locked: .*busy timeout of 300 ms/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("A corrupt store ends the gateway with exit 73 and one line on stderr, leaving the file as it was", async () => {
  const dir = await tempDir();
  try {
    const garbage = new TextEncoder().encode("SQLite format 3\0" + "garbage!".repeat(1000));
    await Deno.writeFile(`${dir}/sessions.sqlite`, garbage);
    const run = await runGateway([], { TUIGATE_STATE_DIR: dir });
    assert.equal(run.code, EXIT_STORE_UNAVAILABLE, run.stderr);
    assert.match(oneLine(run.stderr), /^tuigate: Session store .* is corrupt: /);
    assert.deepEqual(await Deno.readFile(`${dir}/sessions.sqlite`), garbage);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Retention flags prune the oldest events and session.events.since reports truncated", async () => {
  await using gw = await spawnGateway([
    "--session-max-events",
    "20",
    "--session-max-bytes",
    "100000",
    "--state-max-bytes",
    "1000000",
  ]);
  await gw.ready();
  const info = (await gw.request("gateway.info")).result.sessions;
  assert.deepEqual(info.retention, {
    maxEventsPerSession: 20,
    maxBytesPerSession: 100_000,
    maxTotalBytes: 1_000_000,
  });
  const id = (await gw.request("session.create", {})).result.id;
  const ids = await sendAppends(gw, id, "t", 50);
  await until(() => responses(gw, ids).size === 50, 10_000, "acks");
  const all =
    (await gw.request("session.events.since", { session: id, after: 0, limit: 100 })).result;
  assert.equal(all.truncated, true);
  assert.equal(all.latest, 50);
  assert.deepEqual(
    all.events.map((e: Frame) => e.seq),
    Array.from({ length: 20 }, (_, i) => i + 31),
  );
  const recent =
    (await gw.request("session.events.since", { session: id, after: 30, limit: 5 })).result;
  assert.equal(recent.truncated, false);
  assert.deepEqual(recent.events.map((e: Frame) => e.data.n), [30, 31, 32, 33, 34]);
  const got = (await gw.request("session.get", { session: id })).result;
  assert.equal(got.oldest, 31);
  assert.equal(got.events, 20);
});

Deno.test("--state memory keeps sessions in memory: nothing is written and a restart forgets them", async () => {
  const dir = await tempDir();
  try {
    const env = { TUIGATE_STATE_DIR: dir };
    {
      await using gw = await spawnGateway(["--state", "memory"], { env });
      await gw.ready();
      assert.equal((await gw.request("gateway.info")).result.sessions.store, "memory");
      const id = (await gw.request("session.create", { title: "volatile" })).result.id;
      const ids = await sendAppends(gw, id, "t", 100);
      await until(() => responses(gw, ids).size === 100);
      const attach = (await gw.request("session.attach", { session: id, after: 50 })).result;
      assert.equal(attach.replayed, 50);
      await gw.request("session.append", { session: id, type: "live" });
      await until(() => events(gw, id).length === 51);
      assertContiguous(events(gw, id), 51);
      await gw.closeStdin();
      assert.equal((await gw.waitExit()).code, 0);
    }
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
    await using gw = await spawnGateway(["--state", "memory"], { env });
    await gw.ready();
    assert.deepEqual((await gw.request("session.list", {})).result.sessions, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGTERM during a burst commits every acknowledged event and closes the store within the grace period", async () => {
  const dir = await tempDir();
  try {
    const env = { TUIGATE_STATE_DIR: dir };
    let id: string;
    let acked: Frame[];
    let seen: Frame[];
    {
      await using gw = await spawnGateway(["--grace", "2"], { env });
      await gw.ready();
      id = (await gw.request("session.create", {})).result.id;
      await gw.request("session.attach", { session: id, after: 0 });
      const ids = await sendAppends(gw, id, "burst", 1000);
      await until(() => responses(gw, ids).size >= 200, 10_000, "first acks");
      const since = performance.now();
      gw.kill("SIGTERM");
      const status = await gw.waitExit(10_000, since);
      assert.equal(status.code, 0);
      assert.ok(status.ms < 2000 + 1000, `exit took ${status.ms} ms`);
      acked = [...responses(gw, ids).values()].filter((r) => r.result).map((r) => r.result);
      seen = events(gw, id);
    }
    // Closed cleanly: the WAL was checkpointed into the database and removed.
    await assert.rejects(Deno.stat(`${dir}/sessions.sqlite-wal`), Deno.errors.NotFound);
    const store = await SqliteSessionStore.open(`${dir}/sessions.sqlite`);
    const stored = store.eventsSince(id, { after: 0, limit: 10_000 })!;
    store.close();
    assertContiguous(stored.events);
    for (const ack of acked) assert.equal(stored.events[ack.seq - 1].data.n, ack.seq - 1);
    for (const event of seen) assert.deepEqual(stored.events[event.seq - 1], event);
    assert.equal(integrityCheck(`${dir}/sessions.sqlite`), "ok");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("A SIGTERM while the gateway starts (waiting for a locked store) ends it in order: exit 0, ledger reason signal", async () => {
  const dir = await tempDir();
  try {
    const holder = await holdWriteLock(`${dir}/sessions.sqlite`);
    await using gw = await spawnGateway(["--state-busy-timeout", "10"], {
      env: { TUIGATE_STATE_DIR: dir },
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 700)); // still opening the store
      assert.equal(gw.frames.length, 0, "not started yet");
      gw.kill("SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      holder.release();
    }
    const status = await gw.waitExit(5000);
    assert.equal(status.signal, null, "not killed by the signal's default action");
    assert.equal(status.code, 0);
    const last = (await gw.ledger()).at(-1);
    assert.equal(last?.reason, "signal");
    assert.equal(last?.signal, "SIGTERM");
    assert.match(gw.stderr, /\[tuigate-exit\] signal/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("A SIGTERM while the gateway waits for a locked store is honoured within the grace period: exit 0, ledger reason signal", async () => {
  const dir = await tempDir();
  const holder = await holdWriteLock(`${dir}/sessions.sqlite`);
  try {
    await using gw = await spawnGateway(["--state-busy-timeout", "30"], {
      env: { TUIGATE_STATE_DIR: dir },
    });
    await new Promise((resolve) => setTimeout(resolve, 700)); // still opening the store
    assert.equal(gw.frames.length, 0, "not started yet");
    const since = performance.now();
    gw.kill("SIGTERM");
    const status = await gw.waitExit(5000, since);
    assert.equal(status.code, 0);
    assert.ok(status.ms < 1500, `exit took ${status.ms.toFixed(0)} ms with the store still locked`);
    const last = (await gw.ledger()).at(-1);
    assert.equal(last?.reason, "signal");
    assert.equal(last?.signal, "SIGTERM");
    assert.match(gw.stderr, /^\[tuigate-exit\] signal$/m);
  } finally {
    holder.release();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("A start-up that fails while a signal's deadline runs out exits once, for one reason", async () => {
  const dir = await tempDir();
  const holder = await holdWriteLock(`${dir}/sessions.sqlite`);
  // A ledger nobody reads: each append waits its full 150 ms, which widens any race between exits.
  const fifo = `${dir}/ledger.fifo`;
  assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
  try {
    for (const delayMs of [300, 350, 400]) {
      await using gw = await spawnGateway(["--state-busy-timeout", "1.3", "--grace", "1"], {
        env: { TUIGATE_STATE_DIR: dir, TUIGATE_CRASH_LOG: fifo },
      });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      gw.kill("SIGTERM"); // its deadline (1 s later) and the store's failure (at 1.3 s) meet
      const status = await gw.waitExit(5000);
      const exits = gw.stderr.split("\n").filter((line) => line.startsWith("[tuigate-exit]"));
      assert.equal(exits.length, 1, gw.stderr);
      assert.ok(
        (status.code === 0 && exits[0] === "[tuigate-exit] signal") ||
          (status.code === 73 && exits[0] === "[tuigate-exit] store-unavailable"),
        `${status.code} ${exits[0]}`,
      );
    }
  } finally {
    holder.release();
    await Deno.remove(dir, { recursive: true });
  }
});
