import { DEFAULT_MAX_FRAME_BYTES, type FrameDecoder, type FrameEvent } from "./frame_decoder.ts";
import { indexOfNewline } from "./bytes.ts";

/**
 * Options for {@linkcode LineDecoder}.
 *
 * @example
 * ```ts
 * import { LineDecoder } from "@tuigate/tuigate";
 * new LineDecoder({ maxFrameBytes: 1024 * 1024 });
 * ```
 */
export interface LineDecoderOptions {
  /**
   * The longest frame accepted, in bytes (without the line ending).
   * @default {16777216}
   */
  maxFrameBytes?: number;
}

const CARRIAGE_RETURN = 0x0d;
/** The buffer's usual size, and the least free space {@linkcode LineDecoder.space} offers. */
const BASE_BYTES = 256 * 1024;
/** A grown buffer goes back to the usual size after this many commits that did not need it. */
const SHRINK_AFTER_COMMITS = 64;

/**
 * Splits newline-delimited frames out of a byte stream in amortised linear
 * time. Input is read straight into the decoder's one buffer
 * ({@linkcode LineDecoder.space} and {@linkcode LineDecoder.commit}), or
 * copied into it with {@linkcode LineDecoder.push}; each byte is scanned once
 * and a frame is handed on in place, never joined from pieces. The buffer
 * grows by doubling for a long frame and shrinks back once long frames stop.
 * A trailing `\r` is removed, blank lines are skipped, and a frame longer
 * than the limit is reported and skipped without being held in memory.
 *
 * The bytes of a `"frame"` event are a view of the buffer: they are valid
 * only until `emit` returns.
 *
 * @example
 * ```ts
 * import { LineDecoder } from "@tuigate/tuigate";
 * const frames: string[] = [];
 * new LineDecoder().push(new TextEncoder().encode('{"a":1}\n\n{"b":2}\r\n'), (e) => {
 *   if (e.kind === "frame") frames.push(new TextDecoder().decode(e.bytes));
 * });
 * ```
 */
export class LineDecoder implements FrameDecoder {
  #limit: number;
  #buffer = new Uint8Array(0);
  /** Where the held (incomplete) frame starts. */
  #start = 0;
  /** Where the bytes read so far end. */
  #end = 0;
  #skipping = false;
  #skipped = 0;
  /** Whether the last byte skipped was a "\r" (the newline may come in the next read). */
  #skippedCarriageReturn = false;
  #roomyCommits = 0;

  /** Makes a decoder. */
  constructor(options: LineDecoderOptions = {}) {
    this.#limit = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.#end - this.#start;
  }

  /** Whether no partial frame is held and no oversize frame is being skipped. */
  get idle(): boolean {
    return this.#end === this.#start && !this.#skipping;
  }

  /** The buffer's current size in bytes. */
  get capacity(): number {
    return this.#buffer.length;
  }

  /**
   * Free space at the end of the buffer to read input into, at least
   * `minBytes` long (default 256 KiB); then call `commit` with the count read.
   * The view is valid until the next call on the decoder.
   */
  space(minBytes = BASE_BYTES): Uint8Array {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    const held = this.#end - this.#start;
    if (this.#buffer.length - this.#end < minBytes) {
      if (this.#start > 0 && this.#buffer.length - held >= minBytes) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        // Doubling keeps growth linear; a frame never needs more than the limit plus one read.
        const ceiling = Math.max(this.#limit + 1, held) + minBytes;
        let size = Math.max(this.#buffer.length * 2, BASE_BYTES);
        // Near the ceiling, go straight to it rather than through one more doubling.
        if (size * 1.5 > ceiling) size = ceiling;
        const grown = new Uint8Array(Math.max(size, held + minBytes));
        grown.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = grown;
      }
      this.#start = 0;
      this.#end = held;
    }
    return this.#buffer.subarray(this.#end);
  }

  /**
   * Takes `n` bytes just read into {@linkcode LineDecoder.space} and emits
   * every frame they complete. When the decoder was idle, the caller may have
   * handled whole lines at the start of them itself: `handled` says how many
   * bytes (up to and including a newline) to drop unseen.
   */
  commit(n: number, emit: (event: FrameEvent) => void, handled = 0): void {
    this.#commit(n, emit, handled, undefined);
  }

  /** `newlineAt`: where the bytes just read hold their only newline (-1: none); not known when undefined. */
  #commit(
    n: number,
    emit: (event: FrameEvent) => void,
    handled: number,
    newlineAt: number | undefined,
  ): void {
    let scan = this.#end;
    this.#end += n;
    if (handled > 0) {
      this.#start += handled;
      scan += handled;
    }
    const buffer = this.#buffer;
    const end = this.#end;
    // Only the bytes just read are searched (the held ones have no newline).
    for (;;) {
      let newline: number;
      if (newlineAt === undefined) {
        newline = scan < end ? indexOfNewline(buffer, scan, end) : -1;
      } else {
        newline = newlineAt === -1 ? -1 : scan + newlineAt;
        newlineAt = -1; // nothing follows the only newline
      }
      if (newline === -1) break;
      const start = this.#start;
      this.#start = scan = newline + 1;
      if (this.#skipping) {
        // The size excludes a "\r" before the newline, as for a frame not skipped.
        const carriageReturn = newline > start
          ? buffer[newline - 1] === CARRIAGE_RETURN
          : this.#skippedCarriageReturn;
        const total = this.#skipped + newline - start - (carriageReturn ? 1 : 0);
        this.#skipping = false;
        this.#skipped = 0;
        emit({ kind: "oversize", bytes: total, limit: this.#limit });
        continue;
      }
      let lineEnd = newline;
      if (lineEnd > start && buffer[lineEnd - 1] === CARRIAGE_RETURN) lineEnd--;
      if (lineEnd - start > this.#limit) {
        emit({ kind: "oversize", bytes: lineEnd - start, limit: this.#limit });
        continue;
      }
      if (isBlank(buffer, start, lineEnd)) continue;
      emit({ kind: "frame", bytes: buffer.subarray(start, lineEnd) });
    }
    const held = this.#end - this.#start;
    if (this.#skipping) {
      this.#skipped += held;
      if (held > 0) this.#skippedCarriageReturn = buffer[end - 1] === CARRIAGE_RETURN;
      this.#start = this.#end;
    } else if (held > this.#limit + 1) {
      // One extra byte is allowed for a "\r" that may precede the newline.
      this.#skipping = true;
      this.#skipped = held;
      this.#skippedCarriageReturn = buffer[end - 1] === CARRIAGE_RETURN;
      // Nothing more of this frame is kept: let the grown buffer go at once.
      this.#buffer = new Uint8Array(BASE_BYTES);
      this.#start = this.#end = 0;
    }
    this.#maybeShrink(held);
  }

  /**
   * Feeds a chunk by copying it into the buffer; calls `emit` for every
   * complete frame or oversize skip. The chunk may be reused after return.
   */
  push(chunk: Uint8Array, emit: (event: FrameEvent) => void): void {
    this.#copyIn(chunk, emit, undefined);
  }

  /**
   * Feeds `chunk` up to and including its first newline (all of it when it
   * has none), calling `emit` for the frame that newline completes. Returns
   * how many bytes it took. Each byte is searched once, so a frame that
   * spans many reads costs one search of its bytes, not two. A caller that
   * already searched `chunk` passes where its first newline is (-1: none).
   */
  pushUntilNewline(
    chunk: Uint8Array,
    emit: (event: FrameEvent) => void,
    newline: number = indexOfNewline(chunk),
  ): number {
    const taken = newline === -1 ? chunk.length : newline + 1;
    this.#copyIn(chunk.subarray(0, taken), emit, newline !== -1);
    return taken;
  }

  /**
   * Copies `bytes` into the buffer piece by piece, committing each.
   * `endsWithNewline`: unknown (searched), or whether the last byte is the
   * only newline in them.
   */
  #copyIn(
    bytes: Uint8Array,
    emit: (event: FrameEvent) => void,
    endsWithNewline: boolean | undefined,
  ): void {
    let offset = 0;
    while (offset < bytes.length) {
      const space = this.space(Math.min(bytes.length - offset, BASE_BYTES));
      const count = Math.min(space.length, bytes.length - offset);
      space.set(bytes.subarray(offset, offset + count));
      offset += count;
      // Only the last piece can end with the newline: the ones before it hold none.
      const newlineAt = endsWithNewline === undefined
        ? undefined
        : endsWithNewline && offset === bytes.length
        ? count - 1
        : -1;
      this.#commit(count, emit, 0, newlineAt);
    }
  }

  #maybeShrink(held: number): void {
    if (this.#buffer.length <= BASE_BYTES) return;
    if (held > BASE_BYTES / 2) {
      this.#roomyCommits = 0;
      return;
    }
    if (++this.#roomyCommits < SHRINK_AFTER_COMMITS) return;
    this.#roomyCommits = 0;
    const small = new Uint8Array(BASE_BYTES);
    const kept = this.#skipping ? 0 : held;
    small.set(this.#buffer.subarray(this.#end - kept, this.#end));
    this.#buffer = small;
    this.#start = 0;
    this.#end = kept;
  }
}

function isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x09 && b !== CARRIAGE_RETURN) return false;
  }
  return true;
}
