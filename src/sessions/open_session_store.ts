/**
 * Opens the session store a gateway is configured for.
 *
 * @module
 */

import { MemorySessionStore } from "./memory_session_store.ts";
import type { RetentionPolicy, SessionStore } from "./session_store.ts";
import { SQLITE_STORE_FILE, SqliteSessionStore } from "./sqlite_session_store.ts";

/**
 * Options for {@linkcode openSessionStore}.
 *
 * @example
 * ```ts
 * import { openSessionStore, type OpenSessionStoreOptions } from "@tuigate/tuigate/sessions";
 * const options: OpenSessionStoreOptions = { dir: "/tmp/state", busyTimeoutMs: 2000 };
 * const store = await openSessionStore(options);
 * ```
 */
export interface OpenSessionStoreOptions {
  /**
   * `"sqlite"` for the durable store in `dir`, `"memory"` for none.
   * @default {"sqlite"}
   */
  kind?: "sqlite" | "memory";
  /**
   * The state folder; the store is `DIR/sessions.sqlite`. Required for `"sqlite"`.
   * @default {undefined}
   */
  dir?: string;
  /**
   * What the store keeps.
   * @default {DEFAULT_RETENTION}
   */
  retention?: Partial<RetentionPolicy>;
  /**
   * How long opening, and each write of a {@linkcode SessionManager}, keeps
   * retrying on timers while another process holds the store's lock, in ms.
   * @default {5000}
   */
  busyTimeoutMs?: number;
}

/**
 * Opens the configured store. For SQLite, throws a
 * {@linkcode StoreUnavailableError} (one-line message) when the file is
 * locked past the busy timeout, not writable, or corrupt.
 *
 * @example
 * ```ts
 * import { openSessionStore, SessionManager } from "@tuigate/tuigate/sessions";
 * const store = await openSessionStore({ kind: "sqlite", dir: "/tmp/tuigate-state" });
 * const sessions = new SessionManager(store);
 * ```
 */
export async function openSessionStore(
  options: OpenSessionStoreOptions = {},
): Promise<SessionStore> {
  if (options.kind === "memory") return new MemorySessionStore({ retention: options.retention });
  if (options.dir === undefined) {
    throw new TypeError("Cannot open the SQLite session store: no state folder was given");
  }
  return await SqliteSessionStore.open(
    `${options.dir.replace(/\/+$/, "") || "/"}/${SQLITE_STORE_FILE}`,
    {
      retention: options.retention,
      busyTimeoutMs: options.busyTimeoutMs,
    },
  );
}
