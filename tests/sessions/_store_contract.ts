/**
 * The behaviour every session store must have, run against the SQLite and
 * the memory store.
 *
 * @module
 */

import assert from "node:assert/strict";
import type {
  RetentionPolicy,
  SessionStore,
  StoreOperation,
} from "../../src/sessions/session_store.ts";

/** Makes a fresh store for one test; `dispose` removes what it made. */
export type StoreFactory = (
  retention?: Partial<RetentionPolicy>,
) => Promise<{ store: SessionStore; dispose: () => Promise<void> }>;

let counter = 0;

/** Makes a session in `store` and returns its id. */
export function makeSession(store: SessionStore, title: string | null = null): string {
  const id = `s-${++counter}-${crypto.randomUUID().slice(0, 8)}`;
  store.createSession({ id, title, metadata: { n: counter }, time: Date.now() + counter });
  return id;
}

/** An append operation with `data`. */
export function append(
  session: string,
  type: string,
  data: Record<string, unknown> = {},
): StoreOperation {
  const json = JSON.stringify(data);
  return {
    kind: "append",
    session,
    type,
    time: Date.now(),
    data,
    json,
    size: new TextEncoder().encode(json).length + type.length,
  };
}

/** Registers the contract tests for a store kind. */
export function storeContract(name: string, factory: StoreFactory): void {
  const test = (title: string, fn: (store: SessionStore) => void | Promise<void>) =>
    Deno.test(`${name} ${title}`, async () => {
      const { store, dispose } = await factory();
      try {
        await fn(store);
      } finally {
        await dispose();
      }
    });

  test("numbers each session's events 1, 2, 3… across commits", (store) => {
    const a = makeSession(store);
    const b = makeSession(store);
    const first = store.commit([append(a, "x"), append(b, "x"), append(a, "x")]);
    const second = store.commit([append(b, "x"), append(a, "x")]);
    const seqs = [...first, ...second].map((o) => o.status === "appended" ? o.event.seq : -1);
    assert.deepEqual(seqs, [1, 1, 2, 2, 3]);
    assert.equal(store.getSession(a)?.latest, 3);
    assert.equal(store.getSession(b)?.latest, 2);
    assert.deepEqual(store.eventsSince(a, { after: 0, limit: 10 })?.events.map((e) => e.seq), [
      1,
      2,
      3,
    ]);
  });

  test("reports unknown and closed sessions per operation without failing the others", (store) => {
    const a = makeSession(store);
    const outcomes = store.commit([
      append("nope", "x"),
      append(a, "x", { i: 1 }),
      { kind: "close", session: a, time: Date.now() },
      append(a, "x", { i: 2 }),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status), [
      "not-found",
      "appended",
      "closed",
      "session-closed",
    ]);
    const closed = outcomes[2];
    assert.ok(closed.status === "closed");
    assert.equal(closed.event?.type, "session.closed");
    assert.equal(closed.event?.seq, 2);
    assert.equal(closed.info.closed, true);
    assert.equal(closed.info.latest, 2);
    const again = store.commit([{ kind: "close", session: a, time: Date.now() }]);
    assert.ok(again[0].status === "closed" && again[0].event === undefined);
    assert.equal(store.getSession(a)?.latest, 2);
  });

  test("returns events after a cursor, at most `limit`, with latest and oldest", (store) => {
    const a = makeSession(store, "title");
    store.commit(Array.from({ length: 10 }, (_, i) => append(a, "t", { i, text: "é✓😀" })));
    const page = store.eventsSince(a, { after: 3, limit: 4 });
    assert.ok(page);
    assert.deepEqual(page.events.map((e) => e.seq), [4, 5, 6, 7]);
    assert.deepEqual(page.events[0].data, { i: 3, text: "é✓😀" });
    assert.equal(page.events[0].session, a);
    assert.equal(page.events[0].type, "t");
    assert.equal(typeof page.events[0].time, "number");
    assert.equal(page.latest, 10);
    assert.equal(page.oldest, 1);
    assert.deepEqual(store.eventsSince(a, { after: 10, limit: 5 })?.events, []);
    assert.equal(store.eventsSince("nope", { after: 0, limit: 5 }), undefined);
    const info = store.getSession(a);
    assert.equal(info?.title, "title");
    assert.equal(info?.events, 10);
    assert.ok(info!.bytes > 10 * 20);
  });

  test("lists sessions newest first, with or without closed ones", (store) => {
    const a = makeSession(store);
    const b = makeSession(store);
    store.commit([{ kind: "close", session: a, time: Date.now() }]);
    const all = store.listSessions().map((s) => s.id);
    assert.ok(all.indexOf(b) < all.indexOf(a));
    const open = store.listSessions({ includeClosed: false }).map((s) => s.id);
    assert.ok(open.includes(b) && !open.includes(a));
    assert.equal(store.listSessions({ limit: 1 }).length, 1);
  });

  Deno.test(`${name} prunes a session beyond its event count, never the newest event`, async () => {
    const { store, dispose } = await factory({ maxEventsPerSession: 5 });
    try {
      const a = makeSession(store);
      for (let i = 0; i < 4; i++) store.commit([append(a, "x", { i }), append(a, "x", { i })]);
      const info = store.getSession(a)!;
      assert.equal(info.latest, 8);
      assert.equal(info.oldest, 4);
      assert.equal(info.events, 5);
      const page = store.eventsSince(a, { after: 0, limit: 100 })!;
      assert.deepEqual(page.events.map((e) => e.seq), [4, 5, 6, 7, 8]);
      assert.equal(page.oldest, 4);
      assert.equal(store.stats().events, 5);
      assert.equal(store.stats().pruned, 3);
    } finally {
      await dispose();
    }
  });

  Deno.test(`${name} prunes a session beyond its bytes, keeping an oversized newest event`, async () => {
    const { store, dispose } = await factory({ maxBytesPerSession: 1000 });
    try {
      const a = makeSession(store);
      for (let i = 0; i < 10; i++) store.commit([append(a, "x", { text: "y".repeat(200) })]);
      const info = store.getSession(a)!;
      assert.ok(info.bytes <= 1000, `bytes ${info.bytes}`);
      assert.equal(info.latest, 10);
      assert.equal(info.events, 10 - info.oldest + 1);
      store.commit([append(a, "big", { text: "z".repeat(5000) })]);
      const after = store.getSession(a)!;
      assert.equal(after.oldest, 11);
      assert.equal(after.events, 1);
      assert.deepEqual(store.eventsSince(a, { after: 0, limit: 10 })!.events.map((e) => e.type), [
        "big",
      ]);
    } finally {
      await dispose();
    }
  });

  Deno.test(`${name} prunes the oldest events of the whole store beyond its total bytes`, async () => {
    const { store, dispose } = await factory({ maxTotalBytes: 3000 });
    try {
      const a = makeSession(store);
      const b = makeSession(store);
      for (let i = 0; i < 10; i++) store.commit([append(a, "x", { text: "a".repeat(200), i })]);
      for (let i = 0; i < 10; i++) store.commit([append(b, "x", { text: "b".repeat(400), i })]);
      const stats = store.stats();
      assert.ok(stats.bytes <= 3000, `total ${stats.bytes}`);
      const infoA = store.getSession(a)!;
      const infoB = store.getSession(b)!;
      // a's events are older: they go first, but a keeps its newest event.
      assert.equal(infoA.events, 1);
      assert.equal(infoA.oldest, 10);
      assert.ok(infoB.events > 5);
      assert.equal(infoB.latest, 10);
      assert.equal(stats.events, infoA.events + infoB.events);
      assert.equal(stats.bytes, infoA.bytes + infoB.bytes);
      const page = store.eventsSince(b, { after: 0, limit: 100 })!;
      assert.equal(page.events[0].seq, infoB.oldest);
      assert.equal(page.events.at(-1)!.seq, 10);
    } finally {
      await dispose();
    }
  });
}
