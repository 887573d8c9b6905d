/**
 * The durable session store: SQLite through `node:sqlite`, in WAL mode, so
 * that several gateway processes can share one file. A write waits for
 * another process's lock only briefly ({@linkcode SQLITE_ATTEMPT_TIMEOUT_MS})
 * and then fails with a `"locked"` {@linkcode StoreUnavailableError}; whoever
 * writes retries without blocking the event loop, up to `busyTimeoutMs`.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { sleep } from "../protocol/timing.ts";
import {
  dropOldest,
  isPrunable,
  type Pruned,
  pruneSession,
  type StoredSize,
} from "./_retention.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./_sqlite_schema.ts";
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
import { type StoreProblem, StoreUnavailableError } from "./store_unavailable_error.ts";

/**
 * Options for {@linkcode SqliteSessionStore.open}.
 *
 * @example
 * ```ts
 * import { SqliteSessionStore, type SqliteSessionStoreOptions } from "@tuigate/tuigate/sessions";
 * const options: SqliteSessionStoreOptions = { retention: { maxEventsPerSession: 10_000 } };
 * const store = await SqliteSessionStore.open("/tmp/state/sessions.sqlite", options);
 * ```
 */
export interface SqliteSessionStoreOptions {
  /**
   * What the store keeps.
   * @default {DEFAULT_RETENTION}
   */
  retention?: Partial<RetentionPolicy>;
  /**
   * How long opening, and every write of a {@linkcode SessionManager}, keeps
   * retrying while another process holds the write lock, in ms. Each attempt
   * blocks for at most {@linkcode SQLITE_ATTEMPT_TIMEOUT_MS}; the retries in
   * between wait on timers.
   * @default {5000}
   */
  busyTimeoutMs?: number;
}

/**
 * The name of the store's file inside the state folder.
 *
 * @example
 * ```ts
 * import { SQLITE_STORE_FILE, SqliteSessionStore } from "@tuigate/tuigate/sessions";
 * const store = await SqliteSessionStore.open(`/tmp/state/${SQLITE_STORE_FILE}`);
 * ```
 */
export const SQLITE_STORE_FILE = "sessions.sqlite";

/**
 * How long one SQLite call may block waiting for another process's lock, in
 * ms, before it fails with a `"locked"` {@linkcode StoreUnavailableError}.
 *
 * @example
 * ```ts
 * import { openSessionStore, SQLITE_ATTEMPT_TIMEOUT_MS } from "@tuigate/tuigate/sessions";
 * // Retry for at least a hundred blocked attempts before giving up.
 * const busyTimeoutMs = 100 * SQLITE_ATTEMPT_TIMEOUT_MS;
 * const store = await openSessionStore({ kind: "sqlite", dir: "/tmp/state", busyTimeoutMs });
 * ```
 */
export const SQLITE_ATTEMPT_TIMEOUT_MS = 20;

const CLOSED_EVENT = "session.closed";
const SESSION_COLUMNS =
  "id, title, metadata, created_at AS createdAt, updated_at AS updatedAt, closed_at AS closedAt, latest, oldest, event_count AS events, bytes";
const LOCKED = /database is locked|database table is locked|SQLITE_BUSY/i;
const PRUNE_CHUNK = 256;

interface SessionRow {
  id: string;
  title: string | null;
  metadata: string;
  createdAt: number;
  updatedAt: number;
  closedAt: number | null;
  latest: number;
  oldest: number;
  events: number;
  bytes: number;
}

interface WorkingRow extends SessionRow {
  originalOldest: number;
  changed: boolean;
}

interface Statements {
  getSession: StatementSync;
  listAll: StatementSync;
  listOpen: StatementSync;
  insertSession: StatementSync;
  updateSession: StatementSync;
  insertEvent: StatementSync;
  eventsSince: StatementSync;
  sizesFrom: StatementSync;
  oldestEvents: StatementSync;
  deleteBefore: StatementSync;
  totals: StatementSync;
  updateTotals: StatementSync;
  countSessions: StatementSync;
  latest: StatementSync;
  dataVersion: StatementSync;
}

/**
 * A {@linkcode SessionStore} in one SQLite file. Every commit is one
 * `BEGIN IMMEDIATE` transaction that reads each session's newest sequence
 * number inside the transaction, so sequence numbers stay contiguous when
 * several processes append to one session. A write blocks for at most
 * {@linkcode SQLITE_ATTEMPT_TIMEOUT_MS} while another process holds the
 * lock, then throws a `"locked"` {@linkcode StoreUnavailableError} having
 * written nothing (the {@linkcode SessionManager} retries it).
 *
 * @example
 * ```ts
 * import { SqliteSessionStore } from "@tuigate/tuigate/sessions";
 * const dir = await Deno.makeTempDir();
 * const store = await SqliteSessionStore.open(`${dir}/sessions.sqlite`);
 * store.createSession({ id: "s1", title: null, metadata: {}, time: Date.now() });
 * store.commit([{ kind: "append", session: "s1", type: "note", time: Date.now(), data: {}, json: "{}", size: 6 }]);
 * store.close();
 * ```
 */
export class SqliteSessionStore implements SessionStore {
  /** Always `"sqlite"`. */
  readonly kind: "sqlite" = "sqlite";
  /** The database file. */
  readonly location: string;
  /** The schema version after migration. */
  readonly schemaVersion: number = SCHEMA_VERSION;
  /** The retention in force. */
  readonly retention: Readonly<RetentionPolicy>;
  /** How long writers keep retrying while another process holds the lock, in ms. */
  readonly busyTimeoutMs: number;
  #db: DatabaseSync;
  #statements: Statements;
  #commits = 0;
  #pruned = 0;
  #dataVersion = 0;
  #closed = false;

  /**
   * Opens (creating folders and the file as needed) and migrates a store,
   * retrying on timers while another process holds the write lock. Throws a
   * {@linkcode StoreUnavailableError} with a one-line message when the file
   * stays locked past the busy timeout, is not writable, is corrupt, or has
   * a newer schema than this code.
   */
  static async open(
    path: string,
    options: SqliteSessionStoreOptions = {},
  ): Promise<SqliteSessionStore> {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
    try {
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new StoreUnavailableError(
        `Session store ${path} is not writable: cannot create folder ${dir}: ${osMessage(error)}`,
        { problem: "read-only", location: path, cause: error },
      );
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    const deadline = performance.now() + busyTimeoutMs;
    let delay = 5;
    for (;;) {
      try {
        return new SqliteSessionStore(path, options);
      } catch (error) {
        if (error instanceof StoreUnavailableError && error.problem !== "locked") throw error;
        const left = deadline - performance.now();
        if (!isLocked(error) || left <= 0) throw await diagnose(error, path, dir, busyTimeoutMs);
        await sleep(Math.min(left, delay));
        delay = Math.min(delay * 2, 100);
      }
    }
  }

  /**
   * Opens a store synchronously, in one attempt; prefer
   * {@linkcode SqliteSessionStore.open}, which retries while the file is
   * locked and explains failures.
   */
  constructor(path: string, options: SqliteSessionStoreOptions = {}) {
    this.location = path;
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.retention = Object.freeze({ ...DEFAULT_RETENTION, ...options.retention });
    const db = new DatabaseSync(path, { timeout: SQLITE_ATTEMPT_TIMEOUT_MS });
    try {
      const mode = (db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string })
        .journal_mode;
      if (mode.toLowerCase() !== "wal") {
        throw new StoreUnavailableError(
          `Session store ${path} cannot be opened: WAL mode is not available (journal mode is ${mode})`,
          { location: path },
        );
      }
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA journal_size_limit = 8388608");
      migrate(db, path);
      this.#statements = prepare(db);
    } catch (error) {
      db.close();
      throw error;
    }
    this.#db = db;
    this.#dataVersion = this.#readDataVersion();
  }

  /** Whether the store is open. */
  get isOpen(): boolean {
    return !this.#closed;
  }

  /** Creates a session. Throws a `"locked"` {@linkcode StoreUnavailableError} while another process writes. */
  createSession(session: NewSession): SessionInfo {
    try {
      this.#statements.insertSession.run(
        session.id,
        session.title,
        JSON.stringify(session.metadata),
        session.time,
        session.time,
      );
    } catch (error) {
      throw this.#lockedOr(error);
    }
    return {
      id: session.id,
      title: session.title,
      metadata: session.metadata,
      createdAt: session.time,
      updatedAt: session.time,
      closedAt: null,
      closed: false,
      latest: 0,
      oldest: 1,
      events: 0,
      bytes: 0,
    };
  }

  /** A session, or `undefined`. */
  getSession(id: string): SessionInfo | undefined {
    const row = this.#statements.getSession.get(id) as SessionRow | undefined;
    return row === undefined ? undefined : toInfo(row);
  }

  /** Sessions, newest first. */
  listSessions(options: ListSessionsOptions = {}): SessionInfo[] {
    const statement = options.includeClosed === false
      ? this.#statements.listOpen
      : this.#statements.listAll;
    return (statement.all(options.limit ?? 1000) as unknown as SessionRow[]).map(toInfo);
  }

  /**
   * Performs operations in one `BEGIN IMMEDIATE` transaction, then prunes
   * for retention. Writes nothing when it throws; throws a `"locked"`
   * {@linkcode StoreUnavailableError} while another process holds the lock.
   */
  commit(operations: readonly StoreOperation[]): StoreOutcome[] {
    const s = this.#statements;
    const outcomes: StoreOutcome[] = [];
    const rows = new Map<string, WorkingRow | null>();
    const row = (id: string): WorkingRow | null => {
      let found = rows.get(id);
      if (found === undefined) {
        const raw = s.getSession.get(id) as SessionRow | undefined;
        found = raw === undefined ? null : { ...raw, originalOldest: raw.oldest, changed: false };
        rows.set(id, found);
      }
      return found;
    };
    let pruned = 0;
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      let addedEvents = 0;
      let addedBytes = 0;
      for (const operation of operations) {
        const session = row(operation.session);
        if (session === null) {
          outcomes.push({ status: "not-found" });
          continue;
        }
        if (operation.kind === "append") {
          if (session.closedAt !== null) {
            outcomes.push({ status: "session-closed" });
            continue;
          }
          const event = this.#insert(session, operation.type, operation.time, operation.data, {
            json: operation.json,
            size: operation.size,
          });
          addedEvents++;
          addedBytes += operation.size;
          outcomes.push({ status: "appended", event });
        } else {
          let event: SessionEvent | undefined;
          if (session.closedAt === null) {
            const size = CLOSED_EVENT.length + 2;
            event = this.#insert(session, CLOSED_EVENT, operation.time, {}, { json: "{}", size });
            addedEvents++;
            addedBytes += size;
            session.closedAt = operation.time;
          }
          outcomes.push({ status: "closed", event, info: toInfo(session) });
        }
      }
      if (addedEvents > 0) {
        const totals = s.totals.get() as { events: number; bytes: number };
        let events = totals.events + addedEvents;
        let bytes = totals.bytes + addedBytes;
        for (const session of rows.values()) {
          if (session === null || !session.changed) continue;
          const done = pruneSession(session, this.retention, () => this.#sizesFrom(session));
          events -= done.events;
          bytes -= done.bytes;
          pruned += done.events;
        }
        if (bytes > this.retention.maxTotalBytes) {
          const done = this.#pruneTotal(bytes, row);
          events -= done.events;
          bytes -= done.bytes;
          pruned += done.events;
        }
        for (const session of rows.values()) {
          if (session === null || !session.changed) continue;
          if (session.oldest > session.originalOldest) {
            s.deleteBefore.run(session.id, session.oldest);
          }
          s.updateSession.run(
            session.updatedAt,
            session.closedAt,
            session.latest,
            session.oldest,
            session.events,
            session.bytes,
            session.id,
          );
        }
        s.updateTotals.run(events, bytes);
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw this.#lockedOr(error);
    }
    this.#commits++;
    this.#pruned += pruned;
    for (const outcome of outcomes) {
      if (outcome.status === "closed") {
        const session = rows.get(outcome.info.id);
        if (session) outcome.info = toInfo(session);
      }
    }
    return outcomes;
  }

  #insert(
    session: WorkingRow,
    type: string,
    time: number,
    data: Record<string, unknown>,
    stored: { json: string; size: number },
  ): SessionEvent {
    const seq = session.latest + 1;
    this.#statements.insertEvent.run(session.id, seq, type, time, stored.json, stored.size);
    session.latest = seq;
    session.events++;
    session.bytes += stored.size;
    session.updatedAt = time;
    session.changed = true;
    return { session: session.id, seq, type, time, data };
  }

  /** A session's stored event sizes from its oldest on, read a chunk at a time. */
  *#sizesFrom(session: WorkingRow): Generator<StoredSize> {
    let from = session.oldest;
    for (;;) {
      const chunk = this.#statements.sizesFrom.all(
        session.id,
        from,
        PRUNE_CHUNK,
      ) as unknown as StoredSize[];
      yield* chunk;
      if (chunk.length < PRUNE_CHUNK) return;
      from = chunk[chunk.length - 1].seq + 1;
    }
  }

  /** Prunes the oldest events of the store until it is within its total bound. */
  #pruneTotal(total: number, row: (id: string) => WorkingRow | null): Pruned {
    const max = this.retention.maxTotalBytes;
    const pruned: Pruned = { events: 0, bytes: 0 };
    let afterId = 0;
    while (total - pruned.bytes > max) {
      const chunk = this.#statements.oldestEvents.all(afterId, PRUNE_CHUNK) as unknown as {
        id: number;
        session: string;
        seq: number;
        size: number;
      }[];
      if (chunk.length === 0) break;
      for (const event of chunk) {
        afterId = event.id;
        const session = row(event.session);
        if (session === null || !isPrunable(session, event.seq)) continue;
        dropOldest(session, event.size);
        session.changed = true;
        pruned.events++;
        pruned.bytes += event.size;
        if (total - pruned.bytes <= max) break;
      }
    }
    return pruned;
  }

  /** A "locked" {@linkcode StoreUnavailableError} for SQLite's busy errors; other errors as they are. */
  #lockedOr(error: unknown): unknown {
    if (!isLocked(error)) return error;
    return new StoreUnavailableError(
      `Session store ${this.location} is locked: another process holds its write lock`,
      { problem: "locked", location: this.location, cause: error },
    );
  }

  /** Up to `limit` events after `after`, read in one snapshot. */
  eventsSince(session: string, range: EventRange): EventPage | undefined {
    const { after, limit } = range;
    const s = this.#statements;
    this.#db.exec("BEGIN");
    try {
      const row = s.getSession.get(session) as SessionRow | undefined;
      if (row === undefined) return undefined;
      const raw = s.eventsSince.all(session, after, limit) as unknown as {
        seq: number;
        type: string;
        time: number;
        data: string;
      }[];
      const events = raw.map((event) => ({
        session,
        seq: event.seq,
        type: event.type,
        time: event.time,
        data: JSON.parse(event.data) as Record<string, unknown>,
      }));
      return { events, latest: row.latest, oldest: row.oldest };
    } finally {
      if (this.#db.isTransaction) this.#db.exec("COMMIT");
    }
  }

  /** The newest sequence number of each existing session among `sessions`. */
  latestSeqs(sessions: readonly string[]): Map<string, number> {
    const result = new Map<string, number>();
    for (const id of sessions) {
      const row = this.#statements.latest.get(id) as { latest: number } | undefined;
      if (row !== undefined) result.set(id, row.latest);
    }
    return result;
  }

  /** Whether another connection committed since the previous call (`PRAGMA data_version`). */
  changedElsewhere(): boolean {
    const version = this.#readDataVersion();
    if (version === this.#dataVersion) return false;
    this.#dataVersion = version;
    return true;
  }

  /** Counters. */
  stats(): StoreStats {
    const totals = this.#statements.totals.get() as { events: number; bytes: number };
    const sessions = (this.#statements.countSessions.get() as { n: number }).n;
    return {
      sessions,
      events: totals.events,
      bytes: totals.bytes,
      commits: this.#commits,
      pruned: this.#pruned,
    };
  }

  /** Closes the database (checkpointing the WAL when no other process has it open). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #readDataVersion(): number {
    return (this.#statements.dataVersion.get() as { data_version: number }).data_version;
  }
}

function migrate(db: DatabaseSync, path: string): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    const version = (db.prepare("PRAGMA user_version").get() as { user_version: number })
      .user_version;
    if (version > SCHEMA_VERSION) {
      throw new StoreUnavailableError(
        `Session store ${path} has schema version ${version}, newer than this gateway supports (${SCHEMA_VERSION})`,
        { problem: "too-new", location: path },
      );
    }
    const now = String(Date.now());
    const record = (key: string) =>
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, now);
    for (let next = version; next < SCHEMA_VERSION; next++) {
      db.exec(MIGRATIONS[next]);
      record(`schema.v${next + 1}`);
    }
    if (version !== SCHEMA_VERSION) db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    // A write on every open: a store that cannot be written fails here, at start.
    record("opened");
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

function prepare(db: DatabaseSync): Statements {
  return {
    getSession: db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`),
    listAll: db.prepare(
      `SELECT ${SESSION_COLUMNS} FROM sessions ORDER BY created_at DESC, id LIMIT ?`,
    ),
    listOpen: db.prepare(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE closed_at IS NULL ORDER BY created_at DESC, id LIMIT ?`,
    ),
    insertSession: db.prepare(
      "INSERT INTO sessions (id, title, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
    ),
    updateSession: db.prepare(
      "UPDATE sessions SET updated_at = ?, closed_at = ?, latest = ?, oldest = ?, event_count = ?, bytes = ? WHERE id = ?",
    ),
    insertEvent: db.prepare(
      "INSERT INTO events (session, seq, type, time, data, size) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    eventsSince: db.prepare(
      "SELECT seq, type, time, data FROM events WHERE session = ? AND seq > ? ORDER BY seq LIMIT ?",
    ),
    sizesFrom: db.prepare(
      "SELECT seq, size FROM events WHERE session = ? AND seq >= ? ORDER BY seq LIMIT ?",
    ),
    oldestEvents: db.prepare(
      "SELECT id, session, seq, size FROM events WHERE id > ? ORDER BY id LIMIT ?",
    ),
    deleteBefore: db.prepare("DELETE FROM events WHERE session = ? AND seq < ?"),
    totals: db.prepare("SELECT events, bytes FROM totals WHERE id = 1"),
    updateTotals: db.prepare("UPDATE totals SET events = ?, bytes = ? WHERE id = 1"),
    countSessions: db.prepare("SELECT COUNT(*) AS n FROM sessions"),
    latest: db.prepare("SELECT latest FROM sessions WHERE id = ?"),
    dataVersion: db.prepare("PRAGMA data_version"),
  };
}

function toInfo(row: SessionRow): SessionInfo {
  return {
    id: row.id,
    title: row.title,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    closedAt: row.closedAt,
    closed: row.closedAt !== null,
    latest: row.latest,
    oldest: row.oldest,
    events: row.events,
    bytes: row.bytes,
  };
}

function isLocked(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return error.problem === "locked";
  return error instanceof Error && LOCKED.test(error.message);
}

function osMessage(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}

/** Turns an SQLite error at open into a one-line {@linkcode StoreUnavailableError}. */
async function diagnose(
  error: unknown,
  path: string,
  dir: string,
  busyTimeoutMs: number,
): Promise<StoreUnavailableError> {
  const message = osMessage(error).replace(/: \/.*$/, "");
  const make = (problem: StoreProblem, text: string) =>
    new StoreUnavailableError(text, { problem, location: path, cause: error });
  if (isLocked(error) || /busy/i.test(message)) {
    return make(
      "locked",
      `Session store ${path} is locked: another process held its write lock longer than the busy timeout of ${busyTimeoutMs} ms`,
    );
  }
  if (/not a database|malformed|corrupt/i.test(message)) {
    return make("corrupt", `Session store ${path} is corrupt: ${message}`);
  }
  const refused = (await probeWrite(`${dir}/.tuigate-write-probe-${Deno.pid}`, true)) ??
    (await probeWrite(path, false));
  if (
    /readonly|read-only/i.test(message) ||
    (refused !== undefined && READ_ONLY_ERRORS.test(refused))
  ) {
    return make("read-only", `Session store ${path} is not writable: ${refused ?? message}`);
  }
  return make(
    "unavailable",
    `Session store ${path} cannot be opened: ${message}${refused ? ` (${refused})` : ""}`,
  );
}

const READ_ONLY_ERRORS = /read-only file system|permission denied|operation not permitted/i;

/** Tries to open `path` for writing; returns the OS error message when that is refused. */
async function probeWrite(path: string, create: boolean): Promise<string | undefined> {
  try {
    const file = await Deno.open(path, { write: true, create, createNew: create });
    file.close();
    if (create) await Deno.remove(path).catch(() => {});
    return undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.AlreadyExists) {
      return undefined;
    }
    return osMessage(error);
  }
}
