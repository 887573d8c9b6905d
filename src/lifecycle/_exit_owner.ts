/**
 * Who owns the exit: a slot the main isolate and the watchdog worker share
 * (an `Int32` at byte 12 of the lifecycle's `SharedArrayBuffer`), claimed
 * once, so that one exit writes one ledger line.
 *
 * @module
 */

/** Nobody claimed the exit yet. */
export const EXIT_UNCLAIMED = 0;
/** The main isolate claimed it: it writes the ledger line and exits. */
export const EXIT_BY_MAIN = 1;
/** The watchdog worker claimed it: it writes the ledger line and kills the process. */
export const EXIT_BY_WATCHDOG = 2;

/** Byte offset of the slot in the shared buffer. */
const OFFSET = 12;

/**
 * Claims the exit for `claimant` unless someone did already; returns the
 * slot's value before (`EXIT_UNCLAIMED`: the claim won).
 */
export function claimExit(
  buffer: SharedArrayBuffer,
  claimant: typeof EXIT_BY_MAIN | typeof EXIT_BY_WATCHDOG,
): number {
  return Atomics.compareExchange(new Int32Array(buffer, OFFSET, 1), 0, EXIT_UNCLAIMED, claimant);
}
