/**
 * How much of a batch goes into one write, from how fast the reader took
 * the last ones.
 *
 * @module
 */

/** The first writes' most. A reader must take in this much per stall timeout before it is measured. */
const FIRST_SLICE_BYTES = 16 * 1024;
/** The most bytes in one write: more than a 1 MiB frame with its newline, so such frames go whole. */
const MAX_SLICE_BYTES = 4 * 1024 * 1024;
/** The least: a page. */
const MIN_SLICE_BYTES = 4 * 1024;
/** The most while the output is over its bound, whatever the reader's speed. */
const OVER_BOUND_SLICE_BYTES = 256 * 1024;
/**
 * Bytes written fast, since the last growth or slow write, before the slices
 * grow: more than a pipe or socket can hold, so that it was the reader, not
 * the kernel's buffer, that took them.
 */
const GROW_AFTER_BYTES = 1024 * 1024;
/** A write at least this fast (bytes per ms: 10 MB/s), or done within {@linkcode QUICK_MS}, is fast. */
const FAST_BYTES_PER_MS = 10_000;
const QUICK_MS = 1;
/** After a slow write, slices hold about this long of the reader's reading: progress shows this often. */
const SLOW_SLICE_MS = 500;

/**
 * Sizes the writes of one output to its reader. A write is only seen to
 * progress once done, and the output's stall timeout must see a slow but
 * steady reader progress; so the first writes are small, a slow write sizes
 * the next ones to what the reader takes in about half a second (at most
 * twice the last size), and only a reader that took more than a kernel
 * buffer's worth fast gets fourfold larger writes, up to
 * {@linkcode MAX_SLICE_BYTES} (a 1 MiB frame in one write).
 */
export class WriteSlices {
  #limit = FIRST_SLICE_BYTES;
  #fastBytes = 0;
  #startedAt = 0;

  /** The most bytes for the next write; starts its clock. */
  next(overBound: boolean): number {
    this.#startedAt = performance.now();
    return overBound ? Math.min(this.#limit, OVER_BOUND_SLICE_BYTES) : this.#limit;
  }

  /** Tells how many bytes the write begun by the last {@linkcode next} wrote. */
  written(bytes: number): void {
    const ms = performance.now() - this.#startedAt;
    if (ms < QUICK_MS || bytes >= ms * FAST_BYTES_PER_MS) {
      this.#fastBytes += bytes;
      if (this.#fastBytes >= GROW_AFTER_BYTES && this.#limit < MAX_SLICE_BYTES) {
        this.#limit = Math.min(MAX_SLICE_BYTES, this.#limit * 4);
        this.#fastBytes = 0;
      }
      return;
    }
    // A slow write measures the reader (or the pipe's latency): the next ones hold about half a
    // second of it, growing at most twofold, as room left in the pipe may have flattered this one.
    this.#fastBytes = 0;
    const fit = Math.floor((bytes / ms) * SLOW_SLICE_MS);
    this.#limit = Math.max(MIN_SLICE_BYTES, Math.min(MAX_SLICE_BYTES, 2 * this.#limit, fit));
  }

  /** The current most bytes per write (not over the bound). */
  get limit(): number {
    return this.#limit;
  }
}
