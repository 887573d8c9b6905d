/**
 * The one writer through which frames reach a byte sink such as stdout.
 *
 * @module
 */

/**
 * A byte sink with partial writes, such as `Deno.stdout`.
 *
 * @example
 * ```ts
 * import { type ByteSink, FrameWriter } from "@tuigate/tuigate";
 * const chunks: Uint8Array[] = [];
 * const memory: ByteSink = { write: (p) => Promise.resolve(chunks.push(p.slice()) && p.length) };
 * await new FrameWriter(memory).write("{}\n"); // true
 * ```
 */
export interface ByteSink {
  /** Writes some of `p`; resolves with how many bytes were written. `p` may be reused once this settles. */
  write(p: Uint8Array): Promise<number>;
}

/**
 * The states of a {@linkcode FrameWriter}.
 *
 * @example
 * ```ts
 * import { FrameWriter, FrameWriterState } from "@tuigate/tuigate";
 * const writer = new FrameWriter({ write: () => Promise.reject(new Deno.errors.BrokenPipe()) });
 * await writer.write("{}\n"); // false
 * writer.state === FrameWriterState.PeerGone; // true
 * ```
 */
export enum FrameWriterState {
  /** Writing. */
  Open = "open",
  /** The peer is gone; every write resolves `false`. */
  PeerGone = "peer-gone",
  /** A write failed for another reason (a frame may be half written); every write rejects. */
  Failed = "failed",
}

/**
 * Options for {@linkcode FrameWriter}.
 *
 * @example
 * ```ts
 * import { FrameWriter, type FrameWriterOptions } from "@tuigate/tuigate";
 * let written = 0;
 * const options: FrameWriterOptions = {
 *   maxWriteBytes: 64 * 1024,
 *   onProgress: (bytes) => (written += bytes),
 * };
 * await new FrameWriter(Deno.stdout, options).write('{"jsonrpc":"2.0","method":"hello"}\n');
 * ```
 */
export interface FrameWriterOptions {
  /**
   * The most bytes handed to the sink in one call, or a function asked
   * before each call. A blocking pipe write returns only once nearly all of
   * it is read, so a large frame goes in slices when the reader's progress
   * must be seen between them (one write is faster when it need not).
   * @default {Infinity}
   */
  maxWriteBytes?: number | (() => number);
  /**
   * Called after each slice written, with its byte count: progress of a
   * reader that is slow but still reading.
   * @default {undefined}
   */
  onProgress?: (bytes: number) => void;
}

interface Waiting {
  bytes: Uint8Array;
  resolve: (ok: boolean) => void;
  reject: (error: unknown) => void;
}

import { concatBytes } from "../protocol/bytes.ts";

const encoder = new TextEncoder();

/**
 * Whether an error means the reader of a pipe or socket is gone:
 * `BrokenPipe`, `BadResource` or `ConnectionReset`, and nothing else.
 *
 * @example
 * ```ts
 * import { isPeerGoneError } from "@tuigate/tuigate";
 * isPeerGoneError(new Deno.errors.BrokenPipe()); // true
 * isPeerGoneError(new Deno.errors.PermissionDenied()); // false
 * ```
 */
export function isPeerGoneError(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.ConnectionReset;
}

/**
 * Serialises writes to a sink in FIFO order: partial writes are completed,
 * two frames never interleave, and frames waiting together go out in one
 * write. `write()` resolves `true` when written and `false` once the peer is
 * gone; any other error rejects and is the caller's to log as a crash.
 *
 * @example
 * ```ts
 * import { FrameWriter } from "@tuigate/tuigate";
 * const writer = new FrameWriter(Deno.stdout);
 * await writer.write('{"jsonrpc":"2.0","method":"hello"}\n');
 * ```
 */
export class FrameWriter {
  #sink: ByteSink;
  #waiting: Waiting[] = [];
  #busy = false;
  #state = FrameWriterState.Open;
  #bytesOut = 0;
  #writes = 0;
  #error: unknown;
  #maxWriteBytes: () => number;
  #onProgress: ((bytes: number) => void) | undefined;

  /** Makes a writer for a sink. */
  constructor(sink: ByteSink, options: FrameWriterOptions = {}) {
    this.#sink = sink;
    const max = options.maxWriteBytes ?? Infinity;
    this.#maxWriteBytes = typeof max === "function" ? max : () => max;
    this.#onProgress = options.onProgress;
  }

  /** The current state. */
  get state(): FrameWriterState {
    return this.#state;
  }

  /** Bytes written so far. */
  get bytesOut(): number {
    return this.#bytesOut;
  }

  /** Write calls made to the sink so far. */
  get writes(): number {
    return this.#writes;
  }

  /** Whether a write is in progress. */
  get busy(): boolean {
    return this.#busy;
  }

  /** Queues bytes (or text, encoded here, outside the lock) and resolves once written. */
  write(data: string | Uint8Array): Promise<boolean> {
    if (this.#state === FrameWriterState.PeerGone) return Promise.resolve(false);
    if (this.#state === FrameWriterState.Failed) return Promise.reject(this.#error);
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    return new Promise<boolean>((resolve, reject) => {
      this.#waiting.push({ bytes, resolve, reject });
      if (!this.#busy) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting;
        this.#waiting = [];
        const bytes = batch.length === 1 ? batch[0].bytes : concat(batch);
        try {
          await this.#writeAll(bytes);
        } catch (error) {
          if (isPeerGoneError(error)) {
            this.#state = FrameWriterState.PeerGone;
            for (const waiting of [...batch, ...this.#waiting]) waiting.resolve(false);
            this.#waiting = [];
            return;
          }
          // Nothing more may follow a frame that may be half written.
          this.#state = FrameWriterState.Failed;
          this.#error = error;
          for (const waiting of [...batch, ...this.#waiting]) waiting.reject(error);
          this.#waiting = [];
          return;
        }
        for (const waiting of batch) waiting.resolve(true);
      }
    } finally {
      this.#busy = false;
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      this.#writes++;
      const end = Math.min(bytes.length, offset + Math.max(1, this.#maxWriteBytes()));
      const n = await this.#sink.write(
        offset === 0 && end === bytes.length ? bytes : bytes.subarray(offset, end),
      );
      offset += n;
      this.#bytesOut += n;
      if (n > 0) this.#onProgress?.(n);
    }
  }
}

function concat(batch: Waiting[]): Uint8Array {
  return concatBytes(batch.map((waiting) => waiting.bytes));
}
