import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/sessions/_sqlite_schema.ts";
import { SqliteSessionStore } from "../../src/sessions/sqlite_session_store.ts";
import { StoreUnavailableError } from "../../src/sessions/store_unavailable_error.ts";
import { append, makeSession, storeContract } from "./_store_contract.ts";
import { readOnlyFolder } from "./_read_only_folder.ts";

storeContract("SqliteSessionStore", async (retention) => {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-store-" });
  const store = await SqliteSessionStore.open(`${dir}/sessions.sqlite`, { retention });
  return {
    store,
    dispose: async () => {
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-store-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("SqliteSessionStore creates its folder, uses WAL and records the schema version", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/nested/state/sessions.sqlite`;
    const store = await SqliteSessionStore.open(path);
    assert.equal(store.schemaVersion, SCHEMA_VERSION);
    const db = new DatabaseSync(path);
    try {
      assert.equal(
        (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
        SCHEMA_VERSION,
      );
      assert.equal(
        (db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode,
        "wal",
      );
      const keys = (db.prepare("SELECT key FROM meta").all() as { key: string }[]).map((r) =>
        r.key
      );
      assert.ok(keys.includes(`schema.v${SCHEMA_VERSION}`), keys.join(","));
    } finally {
      db.close();
      store.close();
    }
  });
});

Deno.test("SqliteSessionStore migrates an empty version-0 file and keeps data on reopen", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/sessions.sqlite`;
    new DatabaseSync(path).close(); // an empty SQLite file: user_version 0
    const first = await SqliteSessionStore.open(path);
    const id = makeSession(first, "kept");
    first.commit([append(id, "a"), append(id, "b")]);
    first.close();
    const second = await SqliteSessionStore.open(path);
    try {
      assert.equal(second.getSession(id)?.title, "kept");
      const [outcome] = second.commit([append(id, "c")]);
      assert.ok(outcome.status === "appended");
      assert.equal(outcome.event.seq, 3);
    } finally {
      second.close();
    }
  });
});

Deno.test("SqliteSessionStore migrates a version-1 store: events, ids and sizes kept, size stored before data", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/sessions.sqlite`;
    const v1 = new DatabaseSync(path);
    v1.exec(MIGRATIONS[0]);
    v1.exec("PRAGMA user_version = 1");
    v1.prepare(
      "INSERT INTO sessions (id, title, metadata, created_at, updated_at, latest, oldest, event_count, bytes) VALUES ('s1', 'old', '{}', 1, 2, 4, 3, 2, 20)",
    ).run();
    const insert = v1.prepare(
      "INSERT INTO events (session, seq, type, time, data, size) VALUES ('s1', ?, 'note', ?, ?, 10)",
    );
    for (let seq = 1; seq <= 5; seq++) insert.run(seq, seq * 100, JSON.stringify({ n: seq }));
    // Seqs 1-2 pruned, seq 5 rolled back: the id sequence (5) runs ahead of the newest row (4).
    v1.exec("DELETE FROM events WHERE seq IN (1, 2, 5)");
    v1.exec("UPDATE totals SET events = 2, bytes = 20");
    v1.close();

    const store = await SqliteSessionStore.open(path);
    try {
      assert.equal(store.schemaVersion, 2);
      const page = store.eventsSince("s1", { after: 0, limit: 10 })!;
      assert.deepEqual(page.events.map((e) => [e.seq, e.time, e.data]), [
        [3, 300, { n: 3 }],
        [4, 400, { n: 4 }],
      ]);
      assert.equal(page.oldest, 3);
      const [outcome] = store.commit([append("s1", "after")]);
      assert.ok(outcome.status === "appended");
      assert.equal(outcome.event.seq, 5);
    } finally {
      store.close();
    }
    const db = new DatabaseSync(path);
    try {
      const columns = (db.prepare("PRAGMA table_info(events)").all() as { name: string }[])
        .map((c) => c.name);
      assert.deepEqual(columns, ["id", "session", "seq", "type", "time", "size", "data"]);
      const rows = db.prepare("SELECT id, seq, size FROM events ORDER BY id").all() as {
        id: number;
        seq: number;
        size: number;
      }[];
      assert.deepEqual(rows.slice(0, 2).map((r) => [r.id, r.seq, r.size]), [[3, 3, 10], [
        4,
        4,
        10,
      ]]);
      assert.equal(rows[2].id, 6, "the id sequence carried over: a new id never reuses one");
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
        name: string;
      }[]).map((t) => t.name);
      assert.ok(!tables.includes("events_v2"), tables.join(","));
      const keys = (db.prepare("SELECT key FROM meta").all() as { key: string }[]).map((r) =>
        r.key
      );
      assert.ok(keys.includes("schema.v2"), keys.join(","));
    } finally {
      db.close();
    }
  });
});

Deno.test("SqliteSessionStore refuses a store with a newer schema version", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/sessions.sqlite`;
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const error = await SqliteSessionStore.open(path).catch((e) => e);
    assert.ok(error instanceof StoreUnavailableError);
    assert.equal(error.problem, "too-new");
    assert.match(error.message, /schema version \d+, newer than this gateway supports/);
  });
});

Deno.test("SqliteSessionStore fails to open a corrupt file with one line and leaves it untouched", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/sessions.sqlite`;
    const garbage = crypto.getRandomValues(new Uint8Array(8192));
    await Deno.writeFile(path, garbage);
    const error = await SqliteSessionStore.open(path).catch((e) => e);
    assert.ok(error instanceof StoreUnavailableError);
    assert.equal(error.problem, "corrupt");
    assert.doesNotMatch(error.message, /\n/);
    assert.deepEqual(await Deno.readFile(path), garbage);
  });
});

Deno.test("SqliteSessionStore fails to open after the busy timeout while another connection holds the write lock", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/sessions.sqlite`;
    (await SqliteSessionStore.open(path)).close();
    const holder = new DatabaseSync(path);
    holder.exec("BEGIN IMMEDIATE");
    holder.exec("INSERT INTO meta (key, value) VALUES ('holder', 'x')");
    try {
      const started = performance.now();
      const error = await SqliteSessionStore.open(path, { busyTimeoutMs: 300 }).catch((e) => e);
      const waited = performance.now() - started;
      assert.ok(error instanceof StoreUnavailableError, String(error));
      assert.equal(error.problem, "locked");
      assert.match(error.message, /locked/);
      assert.ok(waited >= 250, `gave up after ${waited} ms`);
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
  });
});

Deno.test("SqliteSessionStore commit fails as a whole and writes nothing while the lock is held elsewhere", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/sessions.sqlite`;
    const store = await SqliteSessionStore.open(path, { busyTimeoutMs: 100 });
    const id = makeSession(store);
    store.commit([append(id, "a")]);
    const holder = new DatabaseSync(path);
    holder.exec("BEGIN IMMEDIATE");
    holder.exec("INSERT INTO meta (key, value) VALUES ('holder', 'x')");
    try {
      assert.throws(() => store.commit([append(id, "b"), append(id, "c")]), /locked/);
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
    const [outcome] = store.commit([append(id, "d")]);
    assert.ok(outcome.status === "appended");
    assert.equal(outcome.event.seq, 2);
    assert.deepEqual(store.eventsSince(id, { after: 0, limit: 10 })!.events.map((e) => e.type), [
      "a",
      "d",
    ]);
    store.close();
  });
});

Deno.test("SqliteSessionStore connections on one file interleave appends with contiguous seq and see each other's changes", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/sessions.sqlite`;
    const one = await SqliteSessionStore.open(path);
    const two = await SqliteSessionStore.open(path);
    try {
      const id = makeSession(one);
      assert.equal(two.getSession(id)?.id, id);
      one.changedElsewhere(); // Opening `two` wrote to the store.
      assert.equal(one.changedElsewhere(), false);
      const seqs: number[] = [];
      for (let i = 0; i < 50; i++) {
        const store = i % 3 === 0 ? two : one;
        for (const outcome of store.commit([append(id, "x", { i }), append(id, "x", { i })])) {
          assert.ok(outcome.status === "appended");
          seqs.push(outcome.event.seq);
        }
      }
      assert.deepEqual(seqs, Array.from({ length: 100 }, (_, i) => i + 1));
      assert.equal(one.changedElsewhere(), true);
      assert.equal(one.changedElsewhere(), false);
      assert.equal(one.stats().events, 100);
      assert.deepEqual(two.latestSeqs([id, "nope"]), new Map([[id, 100]]));
    } finally {
      one.close();
      two.close();
    }
  });
});

Deno.test("SqliteSessionStore fails to open in a read-only folder and names the cause", async () => {
  await withDir(async (dir) => {
    const folder = await readOnlyFolder(`${dir}/ro`);
    try {
      if (folder.method === "none") return; // No way to make a folder read-only here.
      // An in-process open cannot enter a mount namespace: use the in-place methods only.
      if (folder.method === "ro-bind-mount") await folder.fallback();
      const error = await SqliteSessionStore.open(`${folder.path}/sessions.sqlite`).catch((e) => e);
      assert.ok(error instanceof StoreUnavailableError, String(error));
      assert.equal(error.problem, "read-only");
      assert.match(error.message, /is not writable: .*(permitted|denied|Read-only)/i);
    } finally {
      await folder.release();
    }
  });
});
