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
  /**
   * After a failed open or write, how long lines are dropped (and counted)
   * before the file is tried again, in ms.
   * @default {5000}
   */
  retryMs?: number;
  /**
   * Called when the file cannot be opened or written (a missing folder, a
   * full disk), once until a write succeeds again: say so where it is seen.
   * @default {undefined} nothing is said
   */
  onError?: (error: unknown) => void;
}

const encoder = new TextEncoder();

/**
 * Appends lines to a file, rotating it at a size bound. Never throws from
 * `writeLine`. When the file cannot be written, lines are dropped and
 * counted for `retryMs`, then it is tried again; the first line written
 * after says how many were lost.
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
  /** When the last open or write failed (`Date.now()`), or 0 while the file works. */
  #failedAt = 0;
  #warned = false;
  #dropped = 0;
  #lost = 0;
  #retryMs: number;
  #onError: ((error: unknown) => void) | undefined;

  /** Makes a sink for `path`; the file is opened on the first write. */
  constructor(path: string, options: RotatingFileSinkOptions = {}) {
    this.#path = path;
    this.#maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.#keep = options.keep ?? 3;
    this.#maxLines = options.maxLines ?? 10_000;
    this.#retryMs = options.retryMs ?? 5000;
    this.#onError = options.onError;
  }

  /** Queues a line. */
  writeLine(line: string): void {
    if (this.#failedAt !== 0) {
      if (Date.now() - this.#failedAt < this.#retryMs) {
        this.#lost++;
        return;
      }
      this.#failedAt = 0; // try the file again
    }
    this.#lines.push(line.endsWith("\n") ? line : line + "\n");
    if (this.#lines.length > this.#maxLines) {
      this.#lines.shift();
      this.#dropped++;
    }
    if (!this.#busy) void this.#drain();
  }

  /**
   * Resolves `true` once every queued line is written (or, with the file
   * failing, dropped), or `false` after `timeoutMs`.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#busy || this.#lines.length > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return true;
  }

  /**
   * Opens the file now rather than at the first line, so that a path that
   * cannot be used is said (`onError`) at start. Resolves whether it is open.
   */
  async open(): Promise<boolean> {
    try {
      await this.#open();
      return true;
    } catch (error) {
      this.#fail(error);
      return false;
    }
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
      while (this.#lines.length > 0) {
        const lines = this.#lines;
        this.#lines = [];
        const notices: string[] = [];
        const [dropped, lost] = [this.#dropped, this.#lost];
        if (dropped > 0) {
          notices.push(`[tuigate] ${dropped} log lines dropped: the log file was too slow\n`);
        }
        if (lost > 0) {
          notices.push(`[tuigate] ${lost} log lines dropped: the log file could not be written\n`);
        }
        this.#dropped = 0;
        this.#lost = 0;
        const all = [...notices, ...lines];
        /** How many of `all` are written. */
        let done = 0;
        try {
          await this.#open();
          // Write in pieces that fit the current file, rotating between them.
          let piece = "";
          let pieceBytes = 0;
          for (const [i, line] of all.entries()) {
            const length = utf8Length(line);
            if (piece !== "" && this.#size + pieceBytes + length > this.#maxBytes) {
              await this.#write(piece);
              done = i;
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
          this.#warned = false;
        } catch (error) {
          // Lines not written are lost and counted; the counts carry over if their notices were.
          this.close();
          this.#fail(error);
          let notice = 0;
          if (dropped > 0 && done <= notice++) this.#dropped += dropped;
          if (lost > 0 && done <= notice++) this.#lost += lost;
          this.#lost += lines.length - Math.max(0, done - notices.length) + this.#lines.length;
          this.#lines = [];
        }
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Starts a retry period, and says so unless it was said since the file last worked. */
  #fail(error: unknown): void {
    this.#failedAt = Date.now();
    if (this.#warned) return;
    this.#warned = true;
    this.#onError?.(error);
  }

  async #write(text: string): Promise<void> {
    const bytes = encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += await this.#file!.write(bytes.subarray(offset));
    this.#size += bytes.length;
  }

  #opening: Promise<void> | undefined;

  /** Opens the file unless it is open; one attempt at a time. */
  #open(): Promise<void> {
    if (this.#file !== undefined) return Promise.resolve();
    this.#opening ??= (async () => {
      try {
        const dir = this.#path.slice(0, this.#path.lastIndexOf("/"));
        if (dir !== "") await Deno.mkdir(dir, { recursive: true });
        const file = await Deno.open(this.#path, { create: true, append: true, mode: 0o600 });
        this.#size = (await file.stat()).size;
        this.#file = file;
      } finally {
        this.#opening = undefined;
      }
    })();
    return this.#opening;
  }

  /**
   * Moves the full file to `PATH.1` (older ones up by one) and starts an
   * empty one. `PATH` is never missing meanwhile, so an exit or a kill in the
   * middle leaves a current file: the full one gets its second name first
   * (a hard link), then a new empty file replaces the name in one rename.
   * Where hard links are refused, it falls back to rename-then-open.
   */
  async #rotate(): Promise<void> {
    const path = this.#path;
    this.close();
    for (let i = this.#keep - 1; i >= 1; i--) {
      await Deno.rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => {});
    }
    if (this.#keep > 0) {
      await Deno.remove(`${path}.1`).catch(() => {}); // left there when keep is 1
      if (!await Deno.link(path, `${path}.1`).then(() => true, () => false)) {
        await Deno.rename(path, `${path}.1`).catch(() => {});
        return await this.#open();
      }
    }
    const fresh = `${path}.${Deno.pid}.new`;
    await Deno.remove(fresh).catch(() => {});
    const file = await Deno.open(fresh, { create: true, append: true, mode: 0o600 });
    try {
      await Deno.rename(fresh, path);
    } catch (error) {
      file.close();
      await Deno.remove(fresh).catch(() => {});
      throw error;
    }
    this.#file = file;
    this.#size = 0;
  }
}
