/**
 * The exit ledger: one JSON line per exit (and per uncaught error), appended
 * to a file. Appending never throws and never takes longer than its timeout.
 *
 * @module
 */

/**
 * Why the gateway exited.
 *
 * @example
 * ```ts
 * import { type ExitReason, ExitLedger, ProcessLifecycle } from "@tuigate/tuigate";
 * const lifecycle = new ProcessLifecycle(new ExitLedger("/tmp/exits.jsonl"));
 * lifecycle.onDrain((reason: ExitReason) => {
 *   if (reason === "crash" || reason === "watchdog") console.error(`exiting: ${reason}`);
 * });
 * ```
 */
export type ExitReason =
  | "stdin-eof"
  | "stdout-peer-gone"
  | "stdout-stalled"
  | "signal"
  | "shutdown-request"
  | "grace-expired"
  | "parent-exited"
  | "crash"
  | "watchdog";

/**
 * One ledger line.
 *
 * @example
 * ```ts
 * import { ExitLedger, type LedgerEntry } from "@tuigate/tuigate";
 * const time = new Date().toISOString();
 * const entry: LedgerEntry = { event: "exit", time, pid: Deno.pid, reason: "shutdown-request" };
 * await new ExitLedger("/tmp/exits.jsonl").append(entry);
 * ```
 */
export interface LedgerEntry {
  /** `"exit"` for an exit, `"error"` for an uncaught error that did not end the gateway. */
  event: "exit" | "error";
  /** ISO time. */
  time: string;
  /** Process id. */
  pid: number;
  /** The exit reason, or the kind of error. */
  reason: string;
  /** Further fields: signal, uptime (s), uptimeMs, inflight, exitCode, error, … */
  [field: string]: unknown;
}

/**
 * Appends ledger lines to a file.
 *
 * @example
 * ```ts
 * import { ExitLedger } from "@tuigate/tuigate";
 * const ledger = new ExitLedger(`${await Deno.makeTempDir()}/exits.jsonl`);
 * await ledger.append({
 *   event: "exit",
 *   time: new Date().toISOString(),
 *   pid: Deno.pid,
 *   reason: "signal",
 *   signal: "SIGTERM",
 * }); // true
 * ```
 */
export class ExitLedger {
  /** The ledger's path. */
  readonly path: string;

  /** Makes a ledger for `path`; folders are created on the first append. */
  constructor(path: string) {
    this.path = path;
  }

  /**
   * Appends one entry. Resolves `true` when written, `false` when the folder
   * is unwritable or the write took longer than `timeoutMs`. Never rejects.
   * An entry with `uptimeMs` also gets `uptime` in seconds (as `gateway.info`).
   */
  append(entry: LedgerEntry, timeoutMs = 250): Promise<boolean> {
    const withUptime = typeof entry.uptimeMs === "number" && entry.uptime === undefined
      ? { ...entry, uptime: entry.uptimeMs / 1000 }
      : entry;
    const line = JSON.stringify(withUptime, replacer) + "\n";
    const write = (async () => {
      try {
        const dir = this.path.slice(0, this.path.lastIndexOf("/"));
        if (dir !== "") await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
        await Deno.writeTextFile(this.path, line, { append: true, create: true, mode: 0o600 });
        return true;
      } catch {
        return false;
      }
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return Promise.race([write, timeout]).finally(() => clearTimeout(timer));
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack };
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}
