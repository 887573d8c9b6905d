/**
 * The error of every call left pending when the gateway process goes away.
 *
 * @module
 */

/**
 * Options for {@linkcode GatewayExitedError}.
 *
 * @example
 * ```ts
 * import { GatewayExitedError, type GatewayExitedErrorOptions } from "@tuigate/tuigate/client";
 * const options: GatewayExitedErrorOptions = { code: null, signal: "SIGKILL", stderrTail: "" };
 * const error = new GatewayExitedError("The gateway was killed", options);
 * ```
 */
export interface GatewayExitedErrorOptions extends ErrorOptions {
  /**
   * The exit code, or `null` when a signal ended the process.
   * @default {null}
   */
  code?: number | null;
  /**
   * The signal that ended the process, if any.
   * @default {null}
   */
  signal?: string | null;
  /**
   * The last bytes the gateway wrote to stderr.
   * @default {""}
   */
  stderrTail?: string;
  /**
   * Whether the exit followed `close()` (expected) rather than a crash.
   * @default {false}
   */
  closed?: boolean;
}

/**
 * The gateway exited (or was closed, or could not be restarted) while a call
 * was pending or waiting for it. Every such call rejects with this error.
 *
 * @example
 * ```ts
 * import { GatewayExitedError, TuigateClient } from "@tuigate/tuigate/client";
 * declare function showCrash(code: number | null, stderrTail: string): void;
 * await using client = await TuigateClient.start({ command: "tuigate" });
 * try {
 *   await client.call("gateway.ping");
 * } catch (error) {
 *   if (error instanceof GatewayExitedError) showCrash(error.code, error.stderrTail);
 * }
 * ```
 */
export class GatewayExitedError extends Error {
  /** The exit code, or `null` when a signal ended the process (or it never started). */
  readonly code: number | null;
  /** The signal that ended the process, if any. */
  readonly signal: string | null;
  /** The last bytes the gateway wrote to stderr. */
  readonly stderrTail: string;
  /** Whether the exit followed `close()`. */
  readonly closed: boolean;

  /** Makes the error. */
  constructor(message: string, options: GatewayExitedErrorOptions = {}) {
    super(message, options);
    this.name = "GatewayExitedError";
    this.code = options.code ?? null;
    this.signal = options.signal ?? null;
    this.stderrTail = options.stderrTail ?? "";
    this.closed = options.closed ?? false;
  }
}
