/**
 * An append-only log file with a size bound and rotation, written from its
 * own task so that a slow disk never blocks the gateway.
 *
 * @module
 */

import { utf8Length } from "../protocol/bytes.ts";

/**
 * Options for {@linkcode RotatingFileSink}.
 *
 * @example
 * ```ts
 * import { RotatingFileSink, type RotatingFileSinkOptions } from "@tuigate/tuigate";
 * const options: RotatingFileSinkOptions = { maxBytes: 1024 * 1024, keep: 5 };
 * new RotatingFileSink("/tmp/my-backend.log", options);
 * ```
 */
export interface RotatingFileSinkOptions {
  /**
   * Rotate when the file would exceed this size, in bytes.
   * @default {10485760}
   */
  maxBytes?: number;
  /**
   * Rotated files kept (`PATH.1` … `PATH.N`).
   * @default {3}
   */
  keep?: number;
  /**
   * Lines kept waiting at most; older ones are dropped.
   * @default {10000}
   */
  maxLines?: number;
}

const encoder = new TextEncoder();

/**
 * Appends lines to a file, rotating it at a size bound. Never throws from `writeLine`.
 *
 * @example
 * ```ts
 * import { RotatingFileSink } from "@tuigate/tuigate";
 * const log = new RotatingFileSink(`${await Deno.makeTempDir()}/gateway.log`, { keep: 2 });
 * log.writeLine("started");
 * await log.flush(1000); // true
 * log.close();
 * ```
 */
export class RotatingFileSink {
  #path: string;
  #maxBytes: number;
  #keep: number;
  #maxLines: number;
  #lines: string[] = [];
  #busy = false;
  #file: Deno.FsFile | undefined;
  #size = 0;
  #failed = false;
  #dropped = 0;

  /** Makes a sink for `path`; the file is opened on the first write. */
  constructor(path: string, options: RotatingFileSinkOptions = {}) {
    this.#path = path;
    this.#maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.#keep = options.keep ?? 3;
    this.#maxLines = options.maxLines ?? 10_000;
  }

  /** Queues a line. */
  writeLine(line: string): void {
    if (this.#failed) return;
    this.#lines.push(line.endsWith("\n") ? line : line + "\n");
    if (this.#lines.length > this.#maxLines) {
      this.#lines.shift();
      this.#dropped++;
    }
    if (!this.#busy) void this.#drain();
  }

  /** Resolves `true` once every queued line is written, or `false` after `timeoutMs`. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while ((this.#busy || this.#lines.length > 0) && !this.#failed) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return true;
  }

  /** Closes the file. */
  close(): void {
    try {
      this.#file?.close();
    } catch {
      // Already closed.
    }
    this.#file = undefined;
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    try {
      while (this.#lines.length > 0 && !this.#failed) {
        const lines = this.#lines;
        this.#lines = [];
        if (this.#dropped > 0) {
          lines.unshift(
            `[tuigate] ${this.#dropped} log lines dropped: the log file was too slow\n`,
          );
          this.#dropped = 0;
        }
        try {
          if (this.#file === undefined) await this.#open();
          // Write in pieces that fit the current file, rotating between them.
          let piece = "";
          let pieceBytes = 0;
          for (const line of lines) {
            const length = utf8Length(line);
            if (piece !== "" && this.#size + pieceBytes + length > this.#maxBytes) {
              await this.#write(piece);
              piece = "";
              pieceBytes = 0;
            }
            if (piece === "" && this.#size > 0 && this.#size + length > this.#maxBytes) {
              await this.#rotate();
            }
            piece += line;
            pieceBytes += length;
          }
          if (piece !== "") await this.#write(piece);
        } catch {
          this.#failed = true;
        }
      }
    } finally {
      this.#busy = false;
    }
  }

  async #write(text: string): Promise<void> {
    const bytes = encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += await this.#file!.write(bytes.subarray(offset));
    this.#size += bytes.length;
  }

  async #open(): Promise<void> {
    const dir = this.#path.slice(0, this.#path.lastIndexOf("/"));
    if (dir !== "") await Deno.mkdir(dir, { recursive: true });
    this.#file = await Deno.open(this.#path, { create: true, append: true, mode: 0o600 });
    this.#size = (await this.#file.stat()).size;
  }

  async #rotate(): Promise<void> {
    this.close();
    for (let i = this.#keep - 1; i >= 1; i--) {
      await Deno.rename(`${this.#path}.${i}`, `${this.#path}.${i + 1}`).catch(() => {});
    }
    if (this.#keep > 0) await Deno.rename(this.#path, `${this.#path}.1`).catch(() => {});
    else await Deno.remove(this.#path).catch(() => {});
    await this.#open();
  }
}
