/**
 * The SQLite schema of the session store, as an ordered list of migrations.
 * Migration `i` takes a store from schema version `i` to `i + 1`; the
 * version is kept in `PRAGMA user_version`, and `meta` records when each
 * version was reached.
 *
 * @module
 */

/** Migrations, oldest first. Never edit a released entry: append a new one. */
export const MIGRATIONS: readonly string[] = [
  // 0 -> 1: sessions, their events, store-wide totals.
  `
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    title TEXT,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    closed_at INTEGER,
    latest INTEGER NOT NULL DEFAULT 0,
    oldest INTEGER NOT NULL DEFAULT 1,
    event_count INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX sessions_by_creation ON sessions (created_at);
  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    time INTEGER NOT NULL,
    data TEXT NOT NULL,
    size INTEGER NOT NULL,
    UNIQUE (session, seq)
  );
  CREATE TABLE totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    events INTEGER NOT NULL,
    bytes INTEGER NOT NULL
  );
  INSERT INTO totals (id, events, bytes) VALUES (1, 0, 0);
  `,
  // 1 -> 2: events keep `size` before `data`. SQLite stores a row's columns in order, so
  // reading `size` after a large `data` walked all of its overflow pages: pruning a session
  // of 1 MiB events read every one of them, on every commit. Ids and the id sequence are kept.
  `
  CREATE TABLE events_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    time INTEGER NOT NULL,
    size INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (session, seq)
  );
  INSERT INTO events_v2 (id, session, seq, type, time, size, data)
    SELECT id, session, seq, type, time, size, data FROM events ORDER BY id;
  DELETE FROM sqlite_sequence WHERE name = 'events_v2';
  INSERT INTO sqlite_sequence (name, seq)
    SELECT 'events_v2', seq FROM sqlite_sequence WHERE name = 'events';
  DROP TABLE events;
  ALTER TABLE events_v2 RENAME TO events;
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;
