/**
 * Thrown values made safe to log.
 *
 * @module
 */

/**
 * A thrown value as a logger should get it: an `Error` as it is (the logger
 * prints its stack), anything else as its string form. Never throws: a value
 * that throws when looked at (a hostile `Proxy`, a `toString` that throws)
 * is described as such.
 *
 * @example
 * ```ts
 * import { getLogger, loggableError } from "@tuigate/tuigate";
 * try {
 *   JSON.parse("{");
 * } catch (error) {
 *   getLogger(["my-backend"]).error("Parsing failed: {error}", { error: loggableError(error) });
 * }
 * ```
 */
export function loggableError(error: unknown): Error | string {
  try {
    return error instanceof Error ? error : String(error);
  } catch {
    return "a thrown value that cannot be described";
  }
}
