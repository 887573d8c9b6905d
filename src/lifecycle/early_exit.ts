/**
 * The exit of a process that never started serving (a store that cannot be
 * opened, a port that cannot be bound, a signal during start-up): it says
 * why, as every exit does, with no lifecycle to do it.
 *
 * @module
 */

import { VERSION } from "../version.ts";
import type { AsyncLineSink } from "./async_line_sink.ts";
import { ExitLedger } from "./exit_ledger.ts";

/**
 * Options for {@linkcode writeEarlyExit}.
 *
 * @example
 * ```ts
 * import { AsyncLineSink, type EarlyExitOptions } from "@tuigate/tuigate";
 * const options: EarlyExitOptions = {
 *   crashLog: "/tmp/exits.jsonl",
 *   stderr: new AsyncLineSink(Deno.stderr),
 *   code: 73,
 *   line: "tuigate: the store is locked",
 * };
 * ```
 */
export interface EarlyExitOptions {
  /** The exit ledger's path. */
  crashLog: string;
  /** The stderr sink. */
  stderr: AsyncLineSink;
  /** The exit code. */
  code: number;
  /**
   * One clear line printed before `[tuigate-exit] <reason>`.
   * @default {undefined} none (the caller logged it already)
   */
  line?: string;
  /**
   * What went wrong, for the ledger.
   * @default {undefined}
   */
  error?: unknown;
  /**
   * Further ledger fields (a signal, the epoch, the transport…).
   * @default {{}}
   */
  fields?: Record<string, unknown>;
  /**
   * How long stderr may take to flush, in ms.
   * @default {300}
   */
  flushMs?: number;
}

/**
 * Prints the optional clear line and `[tuigate-exit] <reason>` on stderr and
 * appends one ledger line, each bounded in time, then resolves with the code
 * (the caller exits with it). Never throws.
 *
 * @example
 * ```ts
 * import { AsyncLineSink, writeEarlyExit } from "@tuigate/tuigate";
 * const code = await writeEarlyExit("store-unavailable", {
 *   crashLog: `${await Deno.makeTempDir()}/exits.jsonl`,
 *   stderr: new AsyncLineSink(Deno.stderr),
 *   code: 73,
 *   line: "tuigate: the store is locked",
 * });
 * ```
 */
export async function writeEarlyExit(reason: string, options: EarlyExitOptions): Promise<number> {
  const { crashLog, stderr, code, line, error } = options;
  if (line !== undefined) stderr.writeLine(line);
  stderr.writeLine(`[tuigate-exit] ${reason}`);
  await Promise.all([
    new ExitLedger(crashLog).append({
      event: "exit",
      time: new Date().toISOString(),
      pid: Deno.pid,
      reason,
      ...(error !== undefined ? { error: error instanceof Error ? error : String(error) } : {}),
      uptimeMs: Math.round(performance.now()),
      // Nothing was served yet: no request can be in flight.
      inflight: 0,
      exitCode: code,
      version: VERSION,
      ...options.fields,
    }, 150),
    stderr.flush(options.flushMs ?? 300),
  ]);
  return code;
}
