/**
 * Waiting for the client's first pause, for work that blocks the main
 * thread and is better done when no request waits (loading the logger,
 * moving stdio onto sockets).
 *
 * @module
 */

/** What {@linkcode whenQuiet} watches: bytes read so far, and whether output waits. */
export interface QuietTarget {
  /** Bytes read from the client so far. */
  readonly bytesIn: number;
  /** The client's output. */
  readonly peer: { readonly output: { readonly empty: boolean } };
}

/** Options for {@linkcode whenQuiet}. */
export interface WhenQuietOptions {
  /**
   * The longest wait, in milliseconds; then it resolves anyway.
   * @default {Infinity}
   */
  maxMs?: number;
  /**
   * Asked at each look: `true` ends the wait at once.
   * @default {() => false}
   */
  stop?: () => boolean;
  /**
   * How long nothing may be read, with no output waiting, to count as a pause.
   * @default {5}
   */
  quietMs?: number;
  /**
   * The longest time between two looks. While the client stays busy, the
   * looks come less and less often (the gap doubles, from `quietMs` up to
   * this), so a client that never pauses does not wake the gateway 200
   * times a second for nothing.
   * @default {1000}
   */
  maxGapMs?: number;
}

/**
 * Resolves once nothing was read and no output waited for `quietMs`, after
 * `maxMs` at most, or as soon as `stop()` says so. The timers do not hold
 * the process.
 */
export function whenQuiet(target: QuietTarget, options: WhenQuietOptions = {}): Promise<void> {
  const until = Date.now() + (options.maxMs ?? Infinity);
  const stop = options.stop ?? (() => false);
  const quietMs = options.quietMs ?? 5;
  const maxGapMs = Math.max(quietMs, options.maxGapMs ?? 1000);
  return new Promise((resolve) => {
    let gap = quietMs;
    const later = (fn: () => void, ms: number) => {
      Deno.unrefTimer(setTimeout(fn, Math.max(0, Math.min(ms, until - Date.now()))));
    };
    const look = () => {
      const bytesIn = target.bytesIn;
      later(() => {
        const quiet = target.bytesIn === bytesIn && target.peer.output.empty;
        if (quiet || Date.now() >= until || stop()) return resolve();
        // Busy: the first looks follow each other at once, later ones less often.
        gap = Math.min(gap * 2, maxGapMs);
        later(look, gap - quietMs * 2);
      }, quietMs);
    };
    look();
  });
}
