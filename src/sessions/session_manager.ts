/**
 * Sessions at run time: appends grouped into one store transaction per
 * burst, committed before any peer sees them; attachments that replay from
 * a cursor and then follow live, with no gap and no duplicate.
 *
 * @module
 */

import { utf8Length } from "../protocol/bytes.ts";
import { JsonRpcError } from "../protocol/json_rpc_error.ts";
import { getLogger } from "../protocol/logger.ts";
import type { Peer } from "../protocol/peer.ts";
import { sleep } from "../protocol/timing.ts";
import type {
  ListSessionsOptions,
  NewSession,
  RetentionPolicy,
  SessionEvent,
  SessionInfo,
  SessionStore,
  StoreOperation,
  StoreOutcome,
} from "./session_store.ts";
import { StoreUnavailableError } from "./store_unavailable_error.ts";

const logger = getLogger(["tuigate", "sessions"]);

/**
 * The notification that carries every session event.
 *
 * @example
 * ```ts
 * import { SESSION_EVENT_METHOD } from "@tuigate/tuigate/sessions";
 * const isSessionEvent = (message: { method?: string }) => message.method === SESSION_EVENT_METHOD;
 * ```
 */
export const SESSION_EVENT_METHOD = "session.event";
/**
 * The notification telling an attached peer that events it had not received were pruned.
 *
 * @example
 * ```ts
 * import { SESSION_TRUNCATED_METHOD } from "@tuigate/tuigate/sessions";
 * const mustResync = (message: { method?: string }) => message.method === SESSION_TRUNCATED_METHOD;
 * ```
 */
export const SESSION_TRUNCATED_METHOD = "session.truncated";

/**
 * Options for {@linkcode SessionManager}.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { MemorySessionStore, SessionManager } from "@tuigate/tuigate/sessions";
 * import type { SessionManagerOptions } from "@tuigate/tuigate/sessions";
 * const gateway = new Gateway();
 * const options: SessionManagerOptions = { epoch: gateway.epoch, commitDelayMs: 5, pollMs: 0 };
 * const sessions = new SessionManager(new MemorySessionStore(), options);
 * ```
 */
export interface SessionManagerOptions {
  /**
   * The id of this process, returned as `epoch` (pass `gateway.epoch`).
   * @default {crypto.randomUUID()}
   */
  epoch?: string;
  /**
   * How long appends are collected before they are committed, in ms.
   * @default {0}
   */
  commitDelayMs?: number;
  /**
   * Pending events that trigger a commit at once.
   * @default {1000}
   */
  maxBatchEvents?: number;
  /**
   * Pending bytes of event data that trigger a commit at once.
   * @default {1048576}
   */
  maxBatchBytes?: number;
  /**
   * How often attached sessions are checked for events appended by other processes, in ms; 0 disables.
   * @default {200}
   */
  pollMs?: number;
  /**
   * Events read from the store at a time when replaying.
   * @default {256}
   */
  pageSize?: number;
}

/**
 * Options for {@linkcode SessionManager.append}.
 *
 * @example
 * ```ts
 * import { MemorySessionStore, SessionManager } from "@tuigate/tuigate/sessions";
 * import type { AppendOptions } from "@tuigate/tuigate/sessions";
 * const sessions = new SessionManager(new MemorySessionStore());
 * const { id } = sessions.create();
 * const options: AppendOptions = { deltaKey: "build:stdout" }; // "a" and "b" stored as one "ab"
 * const texts = ["a", "b"].map((text) => sessions.append(id, "build.output", { text }, options));
 * await Promise.all(texts);
 * ```
 */
export interface AppendOptions {
  /**
   * A stream key: consecutive events of one session with this key and type
   * that are not yet committed are stored as one event, their `data.text`
   * (or `data.base64`) concatenated and their other fields taken from the
   * earliest.
   * @default {undefined} stored as its own event
   */
  deltaKey?: string;
}

/**
 * Options for {@linkcode SessionManager.create}.
 *
 * @example
 * ```ts
 * import { MemorySessionStore, SessionManager } from "@tuigate/tuigate/sessions";
 * import type { CreateSessionOptions } from "@tuigate/tuigate/sessions";
 * const sessions = new SessionManager(new MemorySessionStore());
 * const options: CreateSessionOptions = { title: "deploy", metadata: { env: "staging" } };
 * const info = sessions.create(options);
 * ```
 */
export interface CreateSessionOptions {
  /**
   * A title.
   * @default {null}
   */
  title?: string;
  /**
   * Metadata (a JSON object).
   * @default {{}}
   */
  metadata?: Record<string, unknown>;
}

/**
 * Options for {@linkcode SessionManager.attach}.
 *
 * @example
 * ```ts
 * import { Peer } from "@tuigate/tuigate";
 * import type { AttachOptions, SessionManager } from "@tuigate/tuigate/sessions";
 * declare const sessions: SessionManager;
 * const options: AttachOptions = { after: 0, signal: AbortSignal.timeout(10_000) }; // replay all
 * const result = await sessions.attach(new Peer(), "s1", options);
 * ```
 */
export interface AttachOptions {
  /**
   * Replay stored events with `seq > after` first (clamped to the newest seq).
   * @default {undefined} no replay: only events appended from now on
   */
  after?: number;
  /**
   * Aborting it before the replay has caught up detaches the peer again.
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * Options for {@linkcode SessionManager.eventsSince}.
 *
 * @example
 * ```ts
 * import type { EventsSinceOptions, SessionManager } from "@tuigate/tuigate/sessions";
 * declare const sessions: SessionManager;
 * const options: EventsSinceOptions = { after: 120, limit: 50 };
 * const { events, latest } = sessions.eventsSince("s1", options);
 * ```
 */
export interface EventsSinceOptions {
  /**
   * Return events with `seq > after`.
   * @default {0}
   */
  after?: number;
  /**
   * At most this many events.
   * @default {1000}
   */
  limit?: number;
}

/**
 * The result of {@linkcode SessionManager.eventsSince} (and `session.events.since`).
 *
 * @example
 * ```ts
 * import type { EventsSinceResult, SessionManager } from "@tuigate/tuigate/sessions";
 * declare const sessions: SessionManager;
 * const page: EventsSinceResult = sessions.eventsSince("s1", { after: 0 });
 * if (page.truncated) console.warn("some early events were pruned");
 * const cursor = page.events.at(-1)?.seq ?? page.latest;
 * ```
 */
export interface EventsSinceResult {
  /** Events with `seq > after`, in order. */
  events: SessionEvent[];
  /** The newest sequence number of the session. */
  latest: number;
  /** Whether some events after `after` were pruned and are missing from `events`. */
  truncated: boolean;
  /** The gateway process's epoch. */
  epoch: string;
}

/**
 * The result of {@linkcode SessionManager.attach} (and `session.attach`).
 *
 * @example
 * ```ts
 * import { Peer } from "@tuigate/tuigate";
 * import type { AttachResult, SessionManager } from "@tuigate/tuigate/sessions";
 * declare const sessions: SessionManager;
 * const result: AttachResult = await sessions.attach(new Peer(), "s1", { after: 0 });
 * console.log(`replayed ${result.replayed} events up to seq ${result.latest}`);
 * ```
 */
export interface AttachResult {
  /** The session id. */
  session: string;
  /** The cursor replay started after (`after`, or the newest seq when absent). */
  after: number;
  /** The sequence number of the last event sent to the peer before this result. */
  latest: number;
  /** How many events were replayed before this result. */
  replayed: number;
  /** Whether some events after `after` were pruned and could not be replayed. */
  truncated: boolean;
  /** The gateway process's epoch. */
  epoch: string;
}

/**
 * Counters reported in `gateway.info` under `sessions`.
 *
 * @example
 * ```ts
 * import { MemorySessionStore, SessionManager } from "@tuigate/tuigate/sessions";
 * import type { SessionManagerStats } from "@tuigate/tuigate/sessions";
 * const sessions = new SessionManager(new MemorySessionStore());
 * const stats: SessionManagerStats = sessions.stats();
 * const healthy = stats.failedCommits === 0;
 * ```
 */
export interface SessionManagerStats {
  /** The store's kind (`"sqlite"` or `"memory"`). */
  store: string;
  /** The store's file, if any. */
  location: string | undefined;
  /** The store's schema version. */
  schemaVersion: number;
  /** The retention in force. */
  retention: Readonly<RetentionPolicy>;
  /** Sessions in the store. */
  sessions: number;
  /** Events in the store. */
  events: number;
  /** Bytes of events in the store. */
  bytes: number;
  /** Events appended by this process. */
  appended: number;
  /** Transactions committed by this process. */
  commits: number;
  /** Transactions that failed. */
  failedCommits: number;
  /** Events pruned by this process's commits. */
  pruned: number;
  /** `session.event` notifications queued for peers. */
  delivered: number;
  /** Attachments now. */
  attachments: number;
  /** Appends waiting for their commit. */
  pending: number;
}

/**
 * The states of a {@linkcode SessionManager}.
 *
 * @example
 * ```ts
 * import { MemorySessionStore, SessionManager } from "@tuigate/tuigate/sessions";
 * import { SessionManagerState } from "@tuigate/tuigate/sessions";
 * const sessions = new SessionManager(new MemorySessionStore());
 * await sessions.shutdown();
 * sessions.state === SessionManagerState.Closed; // true
 * ```
 */
export enum SessionManagerState {
  /** Accepting appends. */
  Open = "open",
  /** Closed: the store is closed and every call fails with `CONNECTION_CLOSED`. */
  Closed = "closed",
}

interface PendingAppend {
  kind: "append";
  session: string;
  type: string;
  time: number;
  data: Record<string, unknown>;
  /** The JSON of `data`; `undefined` for a delta still open to merging. */
  json: string | undefined;
  deltaKey: string | undefined;
  deferred: PromiseWithResolvers<SessionEvent>;
}

interface PendingClose {
  kind: "close";
  session: string;
  time: number;
  deferred: PromiseWithResolvers<SessionInfo>;
}

interface Attachment {
  peer: Peer;
  session: string;
  /** The seq of the last event queued for the peer. */
  cursor: number;
  active: boolean;
  /** A replay/catch-up loop is running. */
  pumping: boolean;
  /** Events arrived while pumping or blocked: catch up from the store. */
  dirty: boolean;
  /** The peer's output is over its bound: stop pushing live events, catch up later. */
  blocked: boolean;
  sent: number;
  run: Promise<void>;
}

interface PeerAttachments {
  sessions: Map<string, Attachment>;
  unsubscribe: () => void;
}

/** A batch whose commit found the store locked and is being retried on timers. */
interface RetriedCommit {
  batch: (PendingAppend | PendingClose)[];
  /** Aborted when the batch is taken over by the final commit at shutdown. */
  abort: AbortController;
  /** Settles once the batch is committed, failed or taken over. */
  done: Promise<void>;
}

const RESOLVED: Promise<void> = Promise.resolve();
/** The first pause between attempts on a locked store, in ms; it doubles up to the next. */
const RETRY_INITIAL_MS = 5;
/** The longest pause between attempts on a locked store, in ms. */
const RETRY_MAX_MS = 100;

function noop(): void {}

function deferred<T>(): PromiseWithResolvers<T> {
  const d = Promise.withResolvers<T>();
  // Failures are always reported to whoever awaits; nobody awaiting is not an unhandled rejection.
  d.promise.catch(noop);
  return d;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}

/**
 * Wraps a store failure as a `STORE_ERROR` (-32012); domain errors pass through.
 *
 * @example
 * ```ts
 * import { storeError } from "@tuigate/tuigate/sessions";
 * storeError(new Error("disk I/O error")).message; // "Session store failed: disk I/O error"
 * ```
 */
export function storeError(error: unknown): JsonRpcError {
  if (error instanceof JsonRpcError) return error;
  const reason = describe(error);
  return JsonRpcError.from("STORE_ERROR", { reason }, `Session store failed: ${reason}`);
}

function isLocked(error: unknown): boolean {
  return error instanceof StoreUnavailableError && error.problem === "locked";
}

/** The `STORE_ERROR` of a write that found the store locked until its busy timeout passed. */
function lockedTooLong(error: unknown, busyTimeoutMs: number): JsonRpcError {
  const location = error instanceof StoreUnavailableError ? error.location : undefined;
  return JsonRpcError.from(
    "STORE_ERROR",
    { reason: "locked", location, busyTimeoutMs },
    `Session store failed: ${
      location ?? "the store"
    } stayed locked by another process for longer than the busy timeout of ${busyTimeoutMs} ms`,
  );
}

function notFound(session: string): JsonRpcError {
  return JsonRpcError.from("SESSION_NOT_FOUND", { session }, `Session not found: ${session}`);
}

function sessionClosed(session: string): JsonRpcError {
  return JsonRpcError.from(
    "SESSION_CLOSED",
    { session },
    `Session closed: ${session} accepts no more events`,
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Serialises a `session.event` notification, reusing the stored JSON of its data. */
function eventFrame(event: SessionEvent, json?: string): string {
  return `{"jsonrpc":"2.0","method":"${SESSION_EVENT_METHOD}","params":{"session":${
    JSON.stringify(event.session)
  },"seq":${event.seq},"type":${JSON.stringify(event.type)},"time":${event.time},"data":${
    json ?? JSON.stringify(event.data)
  }}}`;
}

/** Merges a delta's payload into an earlier one; returns the bytes added, or -1 when they cannot merge. */
function mergeDelta(into: Record<string, unknown>, next: Record<string, unknown>): number {
  if (typeof into.text === "string" && typeof next.text === "string") {
    if (into.base64 !== undefined || next.base64 !== undefined) return -1;
    into.text += next.text;
    return next.text.length;
  }
  if (typeof into.base64 === "string" && typeof next.base64 === "string") {
    if (into.text !== undefined || next.text !== undefined) return -1;
    const first = into.base64;
    if (first.length % 4 === 0 && !first.endsWith("=")) {
      // Whole groups of four, no padding: the texts join as the bytes do.
      into.base64 = first + next.base64;
    } else {
      // Padded, or unpadded mid-group ("AQ"): join the bytes. Text that is not base64 is not
      // merged (and nothing throws): it is stored as an event of its own, as it was sent.
      try {
        into.base64 = btoa(atob(first) + atob(next.base64));
      } catch {
        return -1;
      }
    }
    return next.base64.length;
  }
  return -1;
}

/**
 * The sessions feature: creates sessions, appends events (grouped into one
 * store transaction per burst, committed before any peer sees them) and
 * delivers them as `session.event` notifications to attached peers.
 *
 * @example Append from a handler or a built-in feature
 * ```ts
 * import { MemorySessionStore, SessionManager } from "@tuigate/tuigate/sessions";
 * const sessions = new SessionManager(new MemorySessionStore());
 * const { id } = sessions.create({ title: "build" });
 * const event = await sessions.append(id, "note", { text: "started" });
 * await sessions.append(id, "job.output", { job: "j1", text: "hel" }, { deltaKey: "j1:stdout" });
 * const first = event.seq; // 1
 * ```
 */
export class SessionManager {
  /** The epoch returned with results. */
  readonly epoch: string;
  #store: SessionStore;
  #state = SessionManagerState.Open;
  #commitDelayMs: number;
  #maxBatchEvents: number;
  #maxBatchBytes: number;
  #pollMs: number;
  #pageSize: number;
  #pending: (PendingAppend | PendingClose)[] = [];
  #pendingBytes = 0;
  /** The last pending append of each session, while it is the session's last pending operation. */
  #tails = new Map<string, PendingAppend>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pollTimer: ReturnType<typeof setInterval> | undefined;
  #bySession = new Map<string, Set<Attachment>>();
  #byPeer = new Map<Peer, PeerAttachments>();
  #attachments = 0;
  #counters = { appended: 0, commits: 0, failedCommits: 0, delivered: 0 };
  /** The batch being retried while the store is locked; later batches wait behind it. */
  #retried: RetriedCommit | undefined;
  /** Set for the last commit at shutdown, which is not retried. */
  #final = false;

  /** Makes a manager over an open store. */
  constructor(store: SessionStore, options: SessionManagerOptions = {}) {
    this.#store = store;
    this.epoch = options.epoch ?? crypto.randomUUID();
    this.#commitDelayMs = options.commitDelayMs ?? 0;
    this.#maxBatchEvents = options.maxBatchEvents ?? 1000;
    this.#maxBatchBytes = options.maxBatchBytes ?? 1024 * 1024;
    this.#pollMs = options.pollMs ?? 200;
    this.#pageSize = options.pageSize ?? 256;
  }

  /** The store. */
  get store(): SessionStore {
    return this.#store;
  }

  /** The current state. */
  get state(): SessionManagerState {
    return this.#state;
  }

  /**
   * Creates a session in one attempt. Throws `INVALID_PARAMS` when the
   * metadata is not a JSON object, and `STORE_ERROR` when the store fails,
   * including when another process holds its lock at this moment
   * ({@linkcode SessionManager.createAsync} waits for it instead).
   */
  create(options: CreateSessionOptions = {}): SessionInfo {
    const session = this.#newSession(options);
    try {
      return this.#store.createSession(session);
    } catch (error) {
      throw storeError(error);
    }
  }

  /**
   * Creates a session like {@linkcode SessionManager.create}, but while
   * another process holds the store's lock it retries on timers, so the
   * event loop keeps running, until the store's busy timeout has passed
   * (then `STORE_ERROR`). `session.create` uses it.
   */
  async createAsync(options: CreateSessionOptions = {}): Promise<SessionInfo> {
    const session = this.#newSession(options);
    const since = performance.now();
    const attempt = () => {
      this.#assertOpen();
      return this.#store.createSession(session);
    };
    try {
      try {
        return attempt();
      } catch (error) {
        if (!isLocked(error)) throw error;
        return await this.#retryWhileLocked(attempt, error, since);
      }
    } catch (error) {
      throw storeError(error);
    }
  }

  #newSession(options: CreateSessionOptions): NewSession {
    this.#assertOpen();
    let metadata: Record<string, unknown>;
    try {
      metadata = JSON.parse(JSON.stringify(options.metadata ?? {}));
    } catch (error) {
      throw JsonRpcError.from(
        "INVALID_PARAMS",
        { reason: describe(error) },
        `Session metadata cannot be serialised as JSON: ${describe(error)}`,
      );
    }
    if (!isPlainObject(metadata)) {
      throw JsonRpcError.from(
        "INVALID_PARAMS",
        { reason: "metadata must be an object" },
        "Cannot create a session: its metadata must be a JSON object",
      );
    }
    return { id: crypto.randomUUID(), title: options.title ?? null, metadata, time: Date.now() };
  }

  /** A session. Throws `SESSION_NOT_FOUND` or `STORE_ERROR`. */
  get(session: string): SessionInfo {
    this.#assertOpen();
    let info: SessionInfo | undefined;
    try {
      info = this.#store.getSession(session);
    } catch (error) {
      throw storeError(error);
    }
    if (info === undefined) throw notFound(session);
    return info;
  }

  /**
   * Throws `SESSION_NOT_FOUND` or `SESSION_CLOSED` (or `STORE_ERROR`) when
   * an append to `session` would fail for that reason now.
   */
  assertWritable(session: string): void {
    if (this.get(session).closed) throw sessionClosed(session);
  }

  /** Sessions, newest first, including those of other processes sharing the store. */
  list(options: ListSessionsOptions = {}): SessionInfo[] {
    this.#assertOpen();
    try {
      return this.#store.listSessions(options);
    } catch (error) {
      throw storeError(error);
    }
  }

  /**
   * Appends an event to a session. Resolves with the stored event once it
   * is committed (before any peer is sent it); rejects with
   * `SESSION_NOT_FOUND`, `SESSION_CLOSED` or `STORE_ERROR`. With a
   * `deltaKey`, consecutive uncommitted appends of that key and type are
   * merged into one event and resolve with it.
   */
  append(
    session: string,
    type: string,
    data: Record<string, unknown> = {},
    options: AppendOptions = {},
  ): Promise<SessionEvent> {
    if (this.#state !== SessionManagerState.Open) return Promise.reject(this.#closedError());
    if (typeof session !== "string" || typeof type !== "string" || type === "") {
      return Promise.reject(
        JsonRpcError.from(
          "INVALID_PARAMS",
          { session, type },
          "Cannot append an event: the session and a non-empty type must be strings",
        ),
      );
    }
    if (!isPlainObject(data)) {
      return Promise.reject(
        JsonRpcError.from(
          "INVALID_PARAMS",
          { reason: "data must be an object" },
          `Cannot append an event to session ${session}: its data must be a JSON object`,
        ),
      );
    }
    const key = options.deltaKey;
    if (key !== undefined) {
      const tail = this.#tails.get(session);
      if (tail !== undefined && tail.deltaKey === key && tail.type === type) {
        const added = mergeDelta(tail.data, data);
        if (added >= 0) {
          this.#pendingBytes += added;
          if (this.#pendingBytes >= this.#maxBatchBytes) this.#flush();
          return tail.deferred.promise;
        }
      }
    }
    let json: string;
    try {
      json = JSON.stringify(data);
    } catch (error) {
      return Promise.reject(
        JsonRpcError.from(
          "INVALID_PARAMS",
          { reason: describe(error) },
          `Event data cannot be serialised as JSON: ${describe(error)}`,
        ),
      );
    }
    const entry: PendingAppend = {
      kind: "append",
      session,
      type,
      time: Date.now(),
      data: key === undefined ? data : { ...data },
      json: key === undefined ? json : undefined,
      deltaKey: key,
      deferred: deferred<SessionEvent>(),
    };
    this.#pending.push(entry);
    this.#pendingBytes += json.length;
    this.#tails.set(session, entry);
    this.#schedule();
    return entry.deferred.promise;
  }

  /**
   * Closes a session after every append queued before: a last
   * `session.closed` event is appended, later appends fail with
   * `SESSION_CLOSED`. Closing a closed session changes nothing.
   */
  close(session: string): Promise<SessionInfo> {
    if (this.#state !== SessionManagerState.Open) return Promise.reject(this.#closedError());
    const entry: PendingClose = {
      kind: "close",
      session,
      time: Date.now(),
      deferred: deferred<SessionInfo>(),
    };
    this.#pending.push(entry);
    this.#tails.delete(session);
    this.#schedule();
    return entry.deferred.promise;
  }

  /** Up to `limit` stored events after `after`, with the newest seq and whether some were pruned. */
  eventsSince(session: string, options: EventsSinceOptions = {}): EventsSinceResult {
    const after = options.after ?? 0;
    const limit = options.limit ?? 1000;
    this.#assertOpen();
    let page;
    try {
      page = this.#store.eventsSince(session, { after, limit });
    } catch (error) {
      throw storeError(error);
    }
    if (page === undefined) throw notFound(session);
    return {
      events: page.events,
      latest: page.latest,
      truncated: after + 1 < page.oldest,
      epoch: this.epoch,
    };
  }

  /**
   * Attaches a peer to a session: every stored event after `options.after`
   * (by default, none: only new events) is sent to it as `session.event`,
   * then every new event, in order, with no gap and no duplicate. Resolves
   * once the replay has caught up. Attaching again with `after` restarts
   * the stream from there; without it, the stream goes on where it is.
   */
  async attach(peer: Peer, session: string, options: AttachOptions = {}): Promise<AttachResult> {
    const { after, signal } = options;
    signal?.throwIfAborted();
    const info = this.get(session);
    // Attached already: without a cursor the stream goes on from where it is (events it has not
    // been sent yet are not skipped); with one it restarts from there.
    const current = this.#byPeer.get(peer)?.sessions.get(session)?.cursor;
    const start = after === undefined
      ? (current ?? info.latest)
      : Math.max(0, Math.min(after, info.latest));
    this.detach(peer, session);
    const attachment: Attachment = {
      peer,
      session,
      cursor: start,
      active: true,
      pumping: false,
      dirty: false,
      blocked: false,
      sent: 0,
      run: RESOLVED,
    };
    this.#add(attachment);
    const aborted = Promise.withResolvers<void>();
    const onAbort = () => aborted.resolve();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await Promise.race([this.#pump(attachment), aborted.promise]);
    } catch (error) {
      if (this.#byPeer.get(peer)?.sessions.get(session) === attachment) this.detach(peer, session);
      throw storeError(error);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    if (signal?.aborted) {
      if (this.#byPeer.get(peer)?.sessions.get(session) === attachment) this.detach(peer, session);
      throw signal.reason;
    }
    return {
      session,
      after: start,
      latest: attachment.cursor,
      replayed: attachment.sent,
      truncated: start + 1 < info.oldest,
      epoch: this.epoch,
    };
  }

  /** Stops sending a session's events to a peer. Returns whether it was attached. */
  detach(peer: Peer, session: string): boolean {
    const entry = this.#byPeer.get(peer);
    const attachment = entry?.sessions.get(session);
    if (entry === undefined || attachment === undefined) return false;
    attachment.active = false;
    entry.sessions.delete(session);
    if (entry.sessions.size === 0) {
      entry.unsubscribe();
      this.#byPeer.delete(peer);
    }
    const set = this.#bySession.get(session);
    set?.delete(attachment);
    if (set?.size === 0) this.#bySession.delete(session);
    this.#attachments--;
    if (this.#attachments === 0) this.#stopPolling();
    return true;
  }

  /** The sessions a peer is attached to. */
  attachedSessions(peer: Peer): string[] {
    return [...(this.#byPeer.get(peer)?.sessions.keys() ?? [])];
  }

  /** How many peers are attached to a session. */
  attachedPeers(session: string): number {
    return this.#bySession.get(session)?.size ?? 0;
  }

  /**
   * Commits every pending append now. Resolves once they are committed or
   * have failed, including after retries while another process holds the
   * store's lock.
   */
  async flush(): Promise<void> {
    this.#flush();
    while (this.#retried !== undefined) await this.#retried.done;
  }

  /** Counters for `gateway.info`. */
  stats(): SessionManagerStats {
    const store = this.#store;
    let counts = { sessions: 0, events: 0, bytes: 0, pruned: 0 };
    if (this.#state === SessionManagerState.Open) {
      try {
        counts = store.stats();
      } catch (error) {
        logger.warn("Session store counters unavailable: {error}", { error });
      }
    }
    return {
      store: store.kind,
      location: store.location,
      schemaVersion: store.schemaVersion,
      retention: store.retention,
      sessions: counts.sessions,
      events: counts.events,
      bytes: counts.bytes,
      pruned: counts.pruned,
      ...this.#counters,
      attachments: this.#attachments,
      pending: this.#pending.length + (this.#retried?.batch.length ?? 0),
    };
  }

  /** Commits what is pending, detaches every peer and closes the store. Idempotent. */
  shutdown(): Promise<void> {
    this.shutdownSync();
    return RESOLVED;
  }

  /**
   * {@linkcode SessionManager.shutdown}, synchronously (for exit steps):
   * what is pending, including a batch being retried, is committed in one
   * last attempt; if the store is still locked those appends fail with
   * `STORE_ERROR` and an error is logged. Idempotent.
   */
  shutdownSync(): void {
    if (this.#state === SessionManagerState.Closed) return;
    const retried = this.#retried;
    if (retried !== undefined) {
      this.#retried = undefined;
      retried.abort.abort();
      this.#pending = [...retried.batch, ...this.#pending];
    }
    this.#final = true;
    this.#flush();
    this.#state = SessionManagerState.Closed;
    for (const [peer, entry] of [...this.#byPeer]) {
      for (const session of [...entry.sessions.keys()]) this.detach(peer, session);
    }
    this.#stopPolling();
    try {
      this.#store.close();
    } catch (error) {
      logger.error("Closing the session store failed: {error}", { error });
    }
  }

  /** Same as {@linkcode SessionManager.shutdown}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #assertOpen(): void {
    if (this.#state !== SessionManagerState.Open) throw this.#closedError();
  }

  #closedError(): JsonRpcError {
    return JsonRpcError.from(
      "CONNECTION_CLOSED",
      { reason: "closed" },
      "Session store closed: the gateway is shutting down",
    );
  }

  /**
   * Calls `attempt` again on timers (backoff with jitter) while the store is
   * locked by another process, until its busy timeout has passed since
   * `since`; then throws `STORE_ERROR`. Aborting `signal` stops it.
   */
  async #retryWhileLocked<T>(
    attempt: () => T,
    locked: unknown,
    since: number,
    signal?: AbortSignal,
  ): Promise<T> {
    const busyTimeoutMs = this.#store.busyTimeoutMs ?? 0;
    let delay = RETRY_INITIAL_MS;
    let last = locked;
    for (;;) {
      const left = since + busyTimeoutMs - performance.now();
      if (left <= 0) throw lockedTooLong(last, busyTimeoutMs);
      await sleep(Math.min(left, delay * (0.5 + Math.random() / 2)), signal);
      signal?.throwIfAborted();
      delay = Math.min(delay * 2, RETRY_MAX_MS);
      try {
        return attempt();
      } catch (error) {
        if (!isLocked(error)) throw error;
        last = error;
      }
    }
  }

  #schedule(): void {
    if (
      this.#pending.length >= this.#maxBatchEvents || this.#pendingBytes >= this.#maxBatchBytes
    ) {
      this.#flush();
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, this.#commitDelayMs);
  }

  /**
   * Commits the pending operations in one transaction, settles them, then
   * fans events out. While another process holds the store's lock the batch
   * is retried on timers, and later batches wait behind it.
   */
  #flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#retried !== undefined || this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#tails.clear();
    const operations: StoreOperation[] = batch.map((entry) => {
      if (entry.kind === "close") return entry;
      const json = entry.json ??= JSON.stringify(entry.data);
      return {
        kind: "append",
        session: entry.session,
        type: entry.type,
        time: entry.time,
        data: entry.data,
        json,
        size: utf8Length(json) + utf8Length(entry.type),
      };
    });
    const since = performance.now();
    let outcomes: StoreOutcome[];
    try {
      outcomes = this.#store.commit(operations);
    } catch (error) {
      if (isLocked(error) && !this.#final) this.#retry(batch, operations, error, since);
      else this.#fail(batch, error);
      return;
    }
    this.#settle(batch, operations, outcomes);
  }

  /** Retries a batch that found the store locked; commits what queued behind it afterwards. */
  #retry(
    batch: (PendingAppend | PendingClose)[],
    operations: StoreOperation[],
    locked: unknown,
    since: number,
  ): void {
    const abort = new AbortController();
    const retried: RetriedCommit = { batch, abort, done: RESOLVED };
    this.#retried = retried;
    logger.debug("Session store locked by another process; retrying {count} operations", {
      count: batch.length,
    });
    const attempt = () => {
      const outcomes = this.#store.commit(operations);
      // Settled in the same step as the commit: the final commit at shutdown cannot take it over.
      this.#retried = undefined;
      this.#settle(batch, operations, outcomes);
    };
    retried.done = this.#retryWhileLocked(attempt, locked, since, abort.signal).then(
      () => this.#flush(),
      (error) => {
        if (abort.signal.aborted) return; // Taken over by shutdownSync.
        this.#retried = undefined;
        this.#fail(batch, error);
        this.#flush();
      },
    );
  }

  #fail(batch: (PendingAppend | PendingClose)[], error: unknown): void {
    this.#counters.failedCommits++;
    const failure = storeError(error);
    logger.error("Session store commit of {count} operations failed, nothing stored: {error}", {
      count: batch.length,
      error: failure.message,
    });
    for (const entry of batch) entry.deferred.reject(failure);
  }

  /** Resolves or rejects every entry of a committed batch, then sends the new events to attached peers. */
  #settle(
    batch: (PendingAppend | PendingClose)[],
    operations: StoreOperation[],
    outcomes: StoreOutcome[],
  ): void {
    this.#counters.commits++;
    const fanout = new Map<string, { events: SessionEvent[]; frames: string[] }>();
    const collect = (event: SessionEvent, json: string) => {
      this.#counters.appended++;
      if (!this.#bySession.has(event.session)) return;
      let group = fanout.get(event.session);
      if (group === undefined) fanout.set(event.session, group = { events: [], frames: [] });
      group.events.push(event);
      group.frames.push(eventFrame(event, json));
    };
    for (let i = 0; i < batch.length; i++) {
      const entry = batch[i];
      const outcome = outcomes[i];
      switch (outcome.status) {
        case "appended":
          collect(outcome.event, (operations[i] as { json: string }).json);
          (entry as PendingAppend).deferred.resolve(outcome.event);
          break;
        case "closed":
          if (outcome.event !== undefined) collect(outcome.event, "{}");
          (entry as PendingClose).deferred.resolve(outcome.info);
          break;
        case "not-found":
          entry.deferred.reject(notFound(entry.session));
          break;
        case "session-closed":
          entry.deferred.reject(sessionClosed(entry.session));
          break;
      }
    }
    for (const [session, group] of fanout) {
      for (const attachment of this.#bySession.get(session) ?? []) {
        this.#deliverLive(attachment, group.events, group.frames);
      }
    }
  }

  /** Sends freshly committed events to one attachment, or leaves them to its catch-up loop. */
  #deliverLive(attachment: Attachment, events: SessionEvent[], frames: string[]): void {
    if (!attachment.active) return;
    if (attachment.pumping || attachment.blocked) {
      attachment.dirty = true;
      return;
    }
    let last: Promise<void> | undefined;
    for (let i = 0; i < events.length; i++) {
      const seq = events[i].seq;
      if (seq <= attachment.cursor) continue;
      if (seq !== attachment.cursor + 1) {
        // Another process appended in between: read the missing events from the store.
        this.#kick(attachment);
        return;
      }
      attachment.cursor = seq;
      attachment.sent++;
      this.#counters.delivered++;
      last = attachment.peer.sendFrame(frames[i]);
    }
    if (last === undefined) return;
    attachment.blocked = true;
    last.then(() => {
      attachment.blocked = false;
      if (attachment.dirty && attachment.active) this.#kick(attachment);
    });
  }

  #kick(attachment: Attachment): void {
    this.#pump(attachment).catch((error) => {
      attachment.dirty = true;
      logger.error("Sending events of session {session} to {peer} failed: {error}", {
        session: attachment.session,
        peer: attachment.peer.id,
        error,
      });
    });
  }

  /**
   * Sends the attachment every stored event after its cursor, page by page,
   * waiting for the peer's output to have room, until it has caught up.
   */
  #pump(attachment: Attachment): Promise<void> {
    if (attachment.pumping) {
      attachment.dirty = true;
      return attachment.run;
    }
    attachment.pumping = true;
    attachment.run = (async () => {
      try {
        for (;;) {
          attachment.dirty = false;
          if (!attachment.active || this.#state !== SessionManagerState.Open) return;
          const page = this.#store.eventsSince(attachment.session, {
            after: attachment.cursor,
            limit: this.#pageSize,
          });
          if (page === undefined) return;
          const first = page.events[0];
          if (first !== undefined && first.seq > attachment.cursor + 1) {
            void attachment.peer.notify(SESSION_TRUNCATED_METHOD, {
              session: attachment.session,
              after: attachment.cursor,
              oldest: page.oldest,
              epoch: this.epoch,
            });
          }
          let last = RESOLVED;
          for (const event of page.events) {
            if (event.seq <= attachment.cursor) continue;
            attachment.cursor = event.seq;
            attachment.sent++;
            this.#counters.delivered++;
            last = attachment.peer.sendFrame(eventFrame(event));
          }
          await last;
          if (page.events.length < this.#pageSize && !attachment.dirty) return;
          if (page.events.length === this.#pageSize) await sleep(0);
        }
      } finally {
        attachment.pumping = false;
      }
    })();
    return attachment.run;
  }

  #add(attachment: Attachment): void {
    const { peer, session } = attachment;
    let entry = this.#byPeer.get(peer);
    if (entry === undefined) {
      entry = {
        sessions: new Map(),
        unsubscribe: peer.onClose(() => {
          for (const attached of [...(this.#byPeer.get(peer)?.sessions.keys() ?? [])]) {
            this.detach(peer, attached);
          }
        }),
      };
      this.#byPeer.set(peer, entry);
    }
    entry.sessions.set(session, attachment);
    let set = this.#bySession.get(session);
    if (set === undefined) this.#bySession.set(session, set = new Set());
    set.add(attachment);
    this.#attachments++;
    this.#startPolling();
  }

  #startPolling(): void {
    if (this.#pollTimer !== undefined || this.#pollMs <= 0) return;
    this.#pollTimer = setInterval(() => this.#poll(), this.#pollMs);
    Deno.unrefTimer(this.#pollTimer as unknown as number);
  }

  #stopPolling(): void {
    if (this.#pollTimer === undefined) return;
    clearInterval(this.#pollTimer);
    this.#pollTimer = undefined;
  }

  /** Catches attachments up with events other processes appended to their sessions. */
  #poll(): void {
    if (this.#bySession.size === 0 || this.#state !== SessionManagerState.Open) return;
    let latest: Map<string, number>;
    try {
      if (!this.#store.changedElsewhere()) return;
      latest = this.#store.latestSeqs([...this.#bySession.keys()]);
    } catch (error) {
      logger.warn("Checking the session store for other processes' events failed: {error}", {
        error,
      });
      return;
    }
    for (const [session, attachments] of this.#bySession) {
      const seq = latest.get(session);
      if (seq === undefined) continue;
      for (const attachment of attachments) {
        if (attachment.cursor < seq) this.#kick(attachment);
      }
    }
  }
}
