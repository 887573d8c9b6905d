/**
 * A session store that keeps everything in memory (`--state memory`): same
 * semantics as the SQLite store, nothing survives the process.
 *
 * @module
 */

import { dropOldest, isPrunable, pruneSession, type StoredSize } from "./_retention.ts";
import {
  DEFAULT_RETENTION,
  type EventPage,
  type EventRange,
  type ListSessionsOptions,
  type NewSession,
  type RetentionPolicy,
  type SessionEvent,
  type SessionInfo,
  type SessionStore,
  type StoreOperation,
  type StoreOutcome,
  type StoreStats,
} from "./session_store.ts";

/**
 * Options for {@linkcode MemorySessionStore}.
 *
 * @example
 * ```ts
 * import { MemorySessionStore, type MemorySessionStoreOptions } from "@tuigate/tuigate/sessions";
 * const options: MemorySessionStoreOptions = { retention: { maxBytesPerSession: 1024 * 1024 } };
 * const store = new MemorySessionStore(options);
 * ```
 */
export interface MemorySessionStoreOptions {
  /**
   * What the store keeps.
   * @default {DEFAULT_RETENTION}
   */
  retention?: Partial<RetentionPolicy>;
}

const CLOSED_EVENT = "session.closed";

interface StoredEvent {
  event: SessionEvent;
  size: number;
}

interface MemorySession {
  info: SessionInfo;
  /** Stored events, oldest first, from `head`. */
  events: StoredEvent[];
  head: number;
}

/**
 * A {@linkcode SessionStore} in memory, for `--state memory` and tests.
 *
 * @example
 * ```ts
 * import { MemorySessionStore } from "@tuigate/tuigate/sessions";
 * const store = new MemorySessionStore({ retention: { maxEventsPerSession: 100 } });
 * store.createSession({ id: "s1", title: "demo", metadata: {}, time: Date.now() });
 * ```
 */
export class MemorySessionStore implements SessionStore {
  /** Always `"memory"`. */
  readonly kind: "memory" = "memory";
  /** Always `undefined`: nothing is written anywhere. */
  readonly location: undefined = undefined;
  /** The schema version (fixed). */
  readonly schemaVersion: number = 1;
  /** The retention in force. */
  readonly retention: Readonly<RetentionPolicy>;
  #sessions = new Map<string, MemorySession>();
  /** Every stored event in append order, for store-wide pruning; stale entries are skipped. */
  #order: StoredEvent[] = [];
  #orderHead = 0;
  #events = 0;
  #bytes = 0;
  #commits = 0;
  #pruned = 0;
  #closed = false;

  /** Makes an empty store. */
  constructor(options: MemorySessionStoreOptions = {}) {
    this.retention = Object.freeze({ ...DEFAULT_RETENTION, ...options.retention });
  }

  /** Creates a session. */
  createSession(session: NewSession): SessionInfo {
    this.#assertOpen();
    if (this.#sessions.has(session.id)) {
      throw new Error(`Cannot create session ${session.id}: the id is taken`);
    }
    const info: SessionInfo = {
      id: session.id,
      title: session.title,
      metadata: structuredClone(session.metadata),
      createdAt: session.time,
      updatedAt: session.time,
      closedAt: null,
      closed: false,
      latest: 0,
      oldest: 1,
      events: 0,
      bytes: 0,
    };
    this.#sessions.set(session.id, { info, events: [], head: 0 });
    return copy(info);
  }

  /** A session, or `undefined`. */
  getSession(id: string): SessionInfo | undefined {
    this.#assertOpen();
    const session = this.#sessions.get(id);
    return session === undefined ? undefined : copy(session.info);
  }

  /** Sessions, newest first. */
  listSessions(options: ListSessionsOptions = {}): SessionInfo[] {
    this.#assertOpen();
    const all = [...this.#sessions.values()]
      .map((s) => s.info)
      .filter((info) => options.includeClosed !== false || !info.closed)
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    return all.slice(0, options.limit ?? 1000).map(copy);
  }

  /** Performs operations in order, then prunes for retention. */
  commit(operations: readonly StoreOperation[]): StoreOutcome[] {
    this.#assertOpen();
    const outcomes: StoreOutcome[] = [];
    const touched = new Set<MemorySession>();
    for (const operation of operations) {
      const session = this.#sessions.get(operation.session);
      if (session === undefined) {
        outcomes.push({ status: "not-found" });
        continue;
      }
      if (operation.kind === "append") {
        if (session.info.closed) {
          outcomes.push({ status: "session-closed" });
          continue;
        }
        const event = this.#insert(
          session,
          operation.type,
          operation.time,
          JSON.parse(operation.json),
          operation.size,
        );
        touched.add(session);
        outcomes.push({ status: "appended", event: { ...event, data: operation.data } });
      } else {
        let event: SessionEvent | undefined;
        if (!session.info.closed) {
          event = this.#insert(session, CLOSED_EVENT, operation.time, {}, CLOSED_EVENT.length + 2);
          session.info.closed = true;
          session.info.closedAt = operation.time;
          touched.add(session);
        }
        outcomes.push({ status: "closed", event, info: session.info });
      }
    }
    for (const session of touched) this.#pruneSession(session);
    this.#pruneTotal();
    this.#commits++;
    for (const outcome of outcomes) {
      if (outcome.status === "closed") outcome.info = copy(outcome.info);
    }
    return outcomes;
  }

  #insert(
    session: MemorySession,
    type: string,
    time: number,
    data: Record<string, unknown>,
    size: number,
  ): SessionEvent {
    const info = session.info;
    const event: SessionEvent = { session: info.id, seq: info.latest + 1, type, time, data };
    const stored = { event, size };
    session.events.push(stored);
    this.#order.push(stored);
    info.latest = event.seq;
    info.events++;
    info.bytes += size;
    info.updatedAt = time;
    this.#events++;
    this.#bytes += size;
    return event;
  }

  /** Forgets the `count` oldest stored events of a session, whose counters were already updated. */
  #forget(session: MemorySession, count: number, bytes: number): void {
    for (let i = 0; i < count; i++) {
      session.events[session.head++] = undefined as unknown as StoredEvent;
    }
    this.#events -= count;
    this.#bytes -= bytes;
    this.#pruned += count;
    if (session.head > 1024 && session.head * 2 > session.events.length) {
      session.events = session.events.slice(session.head);
      session.head = 0;
    }
  }

  #pruneSession(session: MemorySession): void {
    const pruned = pruneSession(session.info, this.retention, () => sizes(session));
    this.#forget(session, pruned.events, pruned.bytes);
  }

  #pruneTotal(): void {
    const max = this.retention.maxTotalBytes;
    const kept: StoredEvent[] = [];
    let index = this.#orderHead;
    while (this.#bytes > max && index < this.#order.length) {
      const stored = this.#order[index++];
      const session = this.#sessions.get(stored.event.session);
      if (session === undefined || stored.event.seq < session.info.oldest) continue;
      // In append order, this entry is its session's oldest: only a session's newest is kept.
      if (!isPrunable(session.info, stored.event.seq)) {
        kept.push(stored);
        continue;
      }
      dropOldest(session.info, stored.size);
      this.#forget(session, 1, stored.size);
    }
    // Every entry before `index` is consumed: put the kept ones back right before it, in order.
    const head = index - kept.length;
    for (let i = this.#orderHead; i < head; i++) {
      this.#order[i] = undefined as unknown as StoredEvent;
    }
    this.#orderHead = head;
    for (let i = 0; i < kept.length; i++) this.#order[this.#orderHead + i] = kept[i];
    if (
      this.#order.length - this.#orderHead > 2 * this.#events + 1024 ||
      (this.#orderHead > 4096 && this.#orderHead * 2 > this.#order.length)
    ) {
      // Entries of events pruned per session pile up behind older events: drop them.
      this.#order = this.#order.slice(this.#orderHead).filter((stored) => {
        const session = this.#sessions.get(stored.event.session);
        return session !== undefined && stored.event.seq >= session.info.oldest;
      });
      this.#orderHead = 0;
    }
  }

  /** Up to `limit` events after `after`. */
  eventsSince(session: string, range: EventRange): EventPage | undefined {
    const { after, limit } = range;
    this.#assertOpen();
    const found = this.#sessions.get(session);
    if (found === undefined) return undefined;
    const info = found.info;
    const from = Math.max(after + 1, info.oldest);
    const start = found.head + (from - info.oldest);
    const end = Math.min(found.events.length, start + Math.max(0, limit));
    const events: SessionEvent[] = [];
    for (let i = start; i < end; i++) {
      const event = found.events[i].event;
      events.push({ ...event, data: structuredClone(event.data) });
    }
    return { events, latest: info.latest, oldest: info.oldest };
  }

  /** The newest sequence number of each existing session among `sessions`. */
  latestSeqs(sessions: readonly string[]): Map<string, number> {
    const result = new Map<string, number>();
    for (const id of sessions) {
      const session = this.#sessions.get(id);
      if (session !== undefined) result.set(id, session.info.latest);
    }
    return result;
  }

  /** Always false: no other process shares a memory store. */
  changedElsewhere(): boolean {
    return false;
  }

  /** Counters. */
  stats(): StoreStats {
    return {
      sessions: this.#sessions.size,
      events: this.#events,
      bytes: this.#bytes,
      commits: this.#commits,
      pruned: this.#pruned,
    };
  }

  /** Forgets everything. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#sessions.clear();
    this.#order = [];
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("Cannot use the memory session store: it is closed");
  }
}

function* sizes(session: MemorySession): Generator<StoredSize> {
  for (let i = session.head; i < session.events.length; i++) {
    const stored = session.events[i];
    yield { seq: stored.event.seq, size: stored.size };
  }
}

function copy(info: SessionInfo): SessionInfo {
  return { ...info, metadata: structuredClone(info.metadata) };
}
