/**
 * A bounded, never-blocking queue of text lines in front of a byte sink
 * such as stderr: when the sink is slow or wedged the oldest lines are
 * dropped, and one line then says how many.
 *
 * @module
 */

import { type ByteSink, isPeerGoneError } from "../transport/frame_writer.ts";

/**
 * Options for {@linkcode AsyncLineSink}.
 *
 * @example
 * ```ts
 * import { AsyncLineSink } from "@tuigate/tuigate";
 * new AsyncLineSink(Deno.stderr, { maxLines: 10_000 });
 * ```
 */
export interface AsyncLineSinkOptions {
  /**
   * Lines kept waiting at most.
   * @default {1000}
   */
  maxLines?: number;
}

const encoder = new TextEncoder();

/**
 * Writes lines to a sink from its own task; `writeLine` never waits.
 *
 * @example
 * ```ts
 * import { AsyncLineSink } from "@tuigate/tuigate";
 * const sink = new AsyncLineSink(Deno.stderr);
 * sink.writeLine("hello");
 * await sink.flush(100);
 * ```
 */
export class AsyncLineSink {
  #sink: ByteSink;
  #maxLines: number;
  #lines: string[] = [];
  #head = 0;
  #dropped = 0;
  #droppedTotal = 0;
  #busy = false;
  #closed = false;
  #idle: (() => void)[] = [];

  /** Makes a sink. */
  constructor(sink: ByteSink, options: AsyncLineSinkOptions = {}) {
    this.#sink = sink;
    this.#maxLines = options.maxLines ?? 1000;
  }

  /** Lines dropped so far because the sink was too slow. */
  get dropped(): number {
    return this.#droppedTotal;
  }

  /** Lines waiting now. */
  get waiting(): number {
    return this.#lines.length - this.#head;
  }

  /** Queues a line (a newline is added when missing). Never blocks or throws. */
  writeLine(line: string): void {
    if (this.#closed) return;
    this.#lines.push(line.endsWith("\n") ? line : line + "\n");
    if (this.#lines.length - this.#head > this.#maxLines) {
      this.#head++;
      this.#dropped++;
      this.#droppedTotal++;
      if (this.#head > 1024 && this.#head * 2 > this.#lines.length) {
        this.#lines = this.#lines.slice(this.#head);
        this.#head = 0;
      }
    }
    if (!this.#busy) void this.#drain();
  }

  /** Resolves `true` when every queued line is written, or `false` after `timeoutMs`. */
  flush(timeoutMs: number): Promise<boolean> {
    if (!this.#busy && this.waiting === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    try {
      while (this.#head < this.#lines.length && !this.#closed) {
        let text = "";
        if (this.#dropped > 0) {
          text = `[tuigate] ${this.#dropped} log lines dropped: stderr was not read fast enough\n`;
          this.#dropped = 0;
        }
        text += this.#lines.slice(this.#head).join("");
        this.#lines = [];
        this.#head = 0;
        const bytes = encoder.encode(text);
        let offset = 0;
        try {
          while (offset < bytes.length) offset += await this.#sink.write(bytes.subarray(offset));
        } catch (error) {
          // A sink that is gone or broken can never take logs again; nothing else may fail because of it.
          this.#closed = true;
          if (!isPeerGoneError(error)) this.#droppedTotal++;
        }
      }
    } finally {
      this.#busy = false;
      const idle = this.#idle;
      this.#idle = [];
      for (const wake of idle) wake();
    }
  }
}
