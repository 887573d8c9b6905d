/**
 * The error of a gateway that could not be started.
 *
 * @module
 */

/**
 * Options for {@linkcode GatewayStartError}.
 *
 * @example
 * ```ts
 * import { GatewayStartError, type GatewayStartErrorOptions } from "@tuigate/tuigate/client";
 * const options: GatewayStartErrorOptions = { code: 1, stderrTail: "error: Module not found\n" };
 * const error = new GatewayStartError("The gateway exited before gateway.ready", options);
 * ```
 */
export interface GatewayStartErrorOptions extends ErrorOptions {
  /**
   * The last bytes the gateway wrote to stderr (also at the end of the message).
   * @default {""}
   */
  stderrTail?: string;
  /**
   * The exit code, when the process exited before `gateway.ready`.
   * @default {null}
   */
  code?: number | null;
  /**
   * The signal that ended the process before `gateway.ready`, if any.
   * @default {null}
   */
  signal?: string | null;
}

/**
 * The gateway did not send `gateway.ready` in time, exited before it, or
 * could not be spawned. The message ends with the tail of its stderr.
 *
 * @example
 * ```ts
 * import { GatewayStartError, TuigateClient } from "@tuigate/tuigate/client";
 * declare function showStartFailure(message: string): void;
 * try {
 *   await TuigateClient.start({ command: "tuigate", readyTimeoutMs: 5000 });
 * } catch (error) {
 *   if (error instanceof GatewayStartError) showStartFailure(error.message);
 * }
 * ```
 */
export class GatewayStartError extends Error {
  /** The last bytes the gateway wrote to stderr. */
  readonly stderrTail: string;
  /** The exit code, when the process exited before `gateway.ready`. */
  readonly code: number | null;
  /** The signal that ended the process before `gateway.ready`, if any. */
  readonly signal: string | null;

  /** Makes the error; the stderr tail is appended to the message. */
  constructor(message: string, options: GatewayStartErrorOptions = {}) {
    const tail = options.stderrTail ?? "";
    super(
      tail.trim() === ""
        ? `${message}; stderr was empty`
        : `${message}; stderr ends with:\n${tail}`,
      options,
    );
    this.name = "GatewayStartError";
    this.stderrTail = tail;
    this.code = options.code ?? null;
    this.signal = options.signal ?? null;
  }
}
