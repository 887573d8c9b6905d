/**
 * The storage contract of sessions: what a session store keeps (sessions
 * and their ordered event logs) and the operations the
 * {@linkcode SessionManager} performs on it. Stores are synchronous; the
 * manager groups appends so that a burst costs one {@linkcode SessionStore.commit}.
 *
 * @module
 */

/**
 * One event of a session's log, as stored and as sent in `session.event`.
 *
 * @example
 * ```ts
 * import { MemorySessionStore, SessionManager } from "@tuigate/tuigate/sessions";
 * import type { SessionEvent } from "@tuigate/tuigate/sessions";
 * const sessions = new SessionManager(new MemorySessionStore());
 * const { id } = sessions.create({ title: "build" });
 * const event: SessionEvent = await sessions.append(id, "note", { text: "started" });
 * event.seq; // 1
 * ```
 */
export interface SessionEvent {
  /** The session id. */
  session: string;
  /** The sequence number: 1 for the first event of the session, then +1 per event. */
  seq: number;
  /** The event type, for example `"job.output"`. */
  type: string;
  /** When the event was appended, in ms since the Unix epoch. */
  time: number;
  /** The event's data. */
  data: Record<string, unknown>;
}

/**
 * What a store knows about one session.
 *
 * @example
 * ```ts
 * import { MemorySessionStore, type SessionInfo } from "@tuigate/tuigate/sessions";
 * const store = new MemorySessionStore();
 * const info: SessionInfo = store.createSession({ id: "s1", title: null, metadata: {}, time: 0 });
 * const empty = info.events === 0 && info.latest === 0; // true
 * ```
 */
export interface SessionInfo {
  /** The session id. */
  id: string;
  /** The title given at creation, or `null`. */
  title: string | null;
  /** The metadata given at creation. */
  metadata: Record<string, unknown>;
  /** When the session was created, in ms since the Unix epoch. */
  createdAt: number;
  /** When the session last changed, in ms since the Unix epoch. */
  updatedAt: number;
  /** When the session was closed, or `null` while it is open. */
  closedAt: number | null;
  /** Whether the session is closed (accepts no more events). */
  closed: boolean;
  /** The sequence number of the newest event (0 when there is none). */
  latest: number;
  /** The sequence number of the oldest event still stored (`latest + 1` when none is). */
  oldest: number;
  /** How many events are stored. */
  events: number;
  /** The stored size of those events, in bytes. */
  bytes: number;
}

/**
 * A session to create.
 *
 * @example
 * ```ts
 * import { MemorySessionStore, type NewSession } from "@tuigate/tuigate/sessions";
 * const session: NewSession = {
 *   id: crypto.randomUUID(),
 *   title: "deploy",
 *   metadata: { branch: "main" },
 *   time: Date.now(),
 * };
 * new MemorySessionStore().createSession(session);
 * ```
 */
export interface NewSession {
  /** The new session's id. */
  id: string;
  /** An optional title. */
  title: string | null;
  /** Metadata (a JSON object). */
  metadata: Record<string, unknown>;
  /** The creation time, in ms since the Unix epoch. */
  time: number;
}

/**
 * A page of a session's log.
 *
 * @example
 * ```ts
 * import type { EventPage, SessionStore } from "@tuigate/tuigate/sessions";
 * declare const store: SessionStore;
 * const page: EventPage | undefined = store.eventsSince("s1", { after: 0, limit: 100 });
 * const pruned = page !== undefined && page.oldest > 1; // early events are gone
 * ```
 */
export interface EventPage {
  /** Events in sequence order. */
  events: SessionEvent[];
  /** The sequence number of the newest event of the session. */
  latest: number;
  /** The sequence number of the oldest event still stored. */
  oldest: number;
}

/**
 * Which events {@linkcode SessionStore.eventsSince} returns.
 *
 * @example
 * ```ts
 * import type { EventRange, SessionStore } from "@tuigate/tuigate/sessions";
 * declare const store: SessionStore;
 * const range: EventRange = { after: 41, limit: 256 }; // events 42 to 297
 * const page = store.eventsSince("s1", range);
 * ```
 */
export interface EventRange {
  /** Events with `seq > after`. */
  after: number;
  /** At most this many. */
  limit: number;
}

/**
 * One write of a {@linkcode SessionStore.commit}.
 *
 * @example
 * ```ts
 * import type { SessionStore, StoreOperation } from "@tuigate/tuigate/sessions";
 * declare const store: SessionStore;
 * const session = "s1", time = Date.now();
 * const data = { text: "done" }, json = JSON.stringify(data);
 * const size = new TextEncoder().encode(json).length + "note".length;
 * const op: StoreOperation = { kind: "append", type: "note", session, time, data, json, size };
 * store.commit([op, { kind: "close", session, time }]); // one transaction
 * ```
 */
export type StoreOperation =
  | {
    /** Appends an event; the store assigns its sequence number. */
    kind: "append";
    /** The session id. */
    session: string;
    /** The event type. */
    type: string;
    /** The event time. */
    time: number;
    /** The event data. */
    data: Record<string, unknown>;
    /** `data` serialised as JSON. */
    json: string;
    /** The stored size in bytes (JSON bytes plus type). */
    size: number;
  }
  | {
    /** Closes a session, after appending a `session.closed` event to it. */
    kind: "close";
    /** The session id. */
    session: string;
    /** The closing time. */
    time: number;
  };

/**
 * What became of one {@linkcode StoreOperation}.
 *
 * @example
 * ```ts
 * import type { SessionStore, StoreOperation, StoreOutcome } from "@tuigate/tuigate/sessions";
 * declare const store: SessionStore;
 * const close: StoreOperation = { kind: "close", session: "s1", time: Date.now() };
 * const [outcome]: StoreOutcome[] = store.commit([close]);
 * if (outcome.status === "closed") console.log(`closed at seq ${outcome.info.latest}`);
 * ```
 */
export type StoreOutcome =
  | {
    /** The event was appended. */
    status: "appended";
    /** The stored event. */
    event: SessionEvent;
  }
  | {
    /** The session is closed now. */
    status: "closed";
    /** The `session.closed` event appended, or `undefined` when the session was closed already. */
    event: SessionEvent | undefined;
    /** The session after closing. */
    info: SessionInfo;
  }
  | {
    /** No session has that id. */
    status: "not-found";
  }
  | {
    /** The session was closed before this append. */
    status: "session-closed";
  };

/**
 * Bounds on what a store keeps; the oldest events are pruned first.
 *
 * @example
 * ```ts
 * import { DEFAULT_RETENTION, MemorySessionStore } from "@tuigate/tuigate/sessions";
 * import type { RetentionPolicy } from "@tuigate/tuigate/sessions";
 * const retention: RetentionPolicy = { ...DEFAULT_RETENTION, maxEventsPerSession: 1000 };
 * const store = new MemorySessionStore({ retention });
 * ```
 */
export interface RetentionPolicy {
  /** Events kept per session. */
  maxEventsPerSession: number;
  /** Bytes of events kept per session. */
  maxBytesPerSession: number;
  /** Bytes of events kept in the whole store. */
  maxTotalBytes: number;
}

/**
 * The default retention: 50 000 events and 32 MiB per session, 256 MiB in all.
 *
 * @example
 * ```ts
 * import { DEFAULT_RETENTION, openSessionStore } from "@tuigate/tuigate/sessions";
 * const store = await openSessionStore({
 *   kind: "memory",
 *   retention: { maxTotalBytes: DEFAULT_RETENTION.maxTotalBytes / 4 },
 * });
 * ```
 */
export const DEFAULT_RETENTION: Readonly<RetentionPolicy> = Object.freeze({
  maxEventsPerSession: 50_000,
  maxBytesPerSession: 32 * 1024 * 1024,
  maxTotalBytes: 256 * 1024 * 1024,
});

/**
 * Counters of a store.
 *
 * @example
 * ```ts
 * import { MemorySessionStore, type StoreStats } from "@tuigate/tuigate/sessions";
 * const store = new MemorySessionStore();
 * const stats: StoreStats = store.stats();
 * const averageBytes = stats.events === 0 ? 0 : stats.bytes / stats.events;
 * ```
 */
export interface StoreStats {
  /** Sessions stored. */
  sessions: number;
  /** Events stored. */
  events: number;
  /** Bytes of events stored. */
  bytes: number;
  /** Transactions committed by this store object. */
  commits: number;
  /** Events this store object pruned for retention. */
  pruned: number;
}

/**
 * Options for {@linkcode SessionStore.listSessions}.
 *
 * @example
 * ```ts
 * import { type ListSessionsOptions, MemorySessionStore } from "@tuigate/tuigate/sessions";
 * const options: ListSessionsOptions = { includeClosed: false, limit: 20 };
 * const open = new MemorySessionStore().listSessions(options);
 * ```
 */
export interface ListSessionsOptions {
  /**
   * Whether closed sessions are listed.
   * @default {true}
   */
  includeClosed?: boolean;
  /**
   * The most sessions returned, newest first.
   * @default {1000}
   */
  limit?: number;
}

/**
 * Where sessions live. Every method is synchronous and either completes or
 * throws (for example when the store is locked, read-only or corrupt); a
 * failed {@linkcode SessionStore.commit} writes nothing. A write that finds
 * the store locked by another process throws a `"locked"`
 * {@linkcode StoreUnavailableError} quickly instead of blocking; the
 * {@linkcode SessionManager} retries it on timers for `busyTimeoutMs`.
 *
 * @example
 * ```ts
 * import { openSessionStore, SessionManager, type SessionStore } from "@tuigate/tuigate/sessions";
 * const durable = Deno.env.get("STATE_DIR");
 * const store: SessionStore = await openSessionStore(
 *   durable === undefined ? { kind: "memory" } : { kind: "sqlite", dir: durable },
 * );
 * const sessions = new SessionManager(store);
 * ```
 */
export interface SessionStore {
  /** `"sqlite"` or `"memory"`, for `gateway.info`. */
  readonly kind: string;
  /** The file of the store, if any. */
  readonly location: string | undefined;
  /** The schema version of the store. */
  readonly schemaVersion: number;
  /** The retention in force. */
  readonly retention: Readonly<RetentionPolicy>;
  /**
   * How long writes are retried while another process holds the store's lock, in ms.
   * @default {undefined} not retried
   */
  readonly busyTimeoutMs?: number;
  /** Creates a session. */
  createSession(session: NewSession): SessionInfo;
  /** A session, or `undefined` when no session has that id. */
  getSession(id: string): SessionInfo | undefined;
  /** Sessions, newest first. */
  listSessions(options?: ListSessionsOptions): SessionInfo[];
  /**
   * Performs operations in one transaction, in order, assigning each
   * appended event the next sequence number of its session, then prunes for
   * retention. Returns one outcome per operation.
   */
  commit(operations: readonly StoreOperation[]): StoreOutcome[];
  /** Up to `limit` events with `seq > after`, or `undefined` when no session has that id. */
  eventsSince(session: string, range: EventRange): EventPage | undefined;
  /** The newest sequence number of each of these sessions that exists. */
  latestSeqs(sessions: readonly string[]): Map<string, number>;
  /** Whether another process changed the store since the previous call. */
  changedElsewhere(): boolean;
  /** Counters. */
  stats(): StoreStats;
  /** Closes the store. Idempotent. */
  close(): void;
}
