import { DEFAULT_MAX_FRAME_BYTES, type FrameDecoder, type FrameEvent } from "./frame_decoder.ts";

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

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Splits newline-delimited frames out of byte chunks in amortised linear time:
 * each byte is scanned once, and a frame split over several chunks is copied
 * once when its end arrives. A trailing `\r` is removed, blank lines are
 * skipped, and a frame longer than the limit is reported and skipped without
 * being held in memory.
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
  #parts: Uint8Array[] = [];
  #pending = 0;
  #skipping = false;
  #skipped = 0;

  /** Makes a decoder. */
  constructor(options: LineDecoderOptions = {}) {
    this.#limit = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.#pending;
  }

  /** Whether no partial frame is held and no oversize frame is being skipped. */
  get idle(): boolean {
    return this.#pending === 0 && !this.#skipping;
  }

  /**
   * Feeds a chunk. The chunk is copied where it must be kept, so the caller
   * may reuse it, unless `owned` is true: then the decoder keeps views of it
   * and the caller must not reuse it.
   */
  push(chunk: Uint8Array, emit: (event: FrameEvent) => void, owned = false): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline === -1) {
        this.#hold(chunk.subarray(start), owned);
        return;
      }
      const piece = chunk.subarray(start, newline);
      start = newline + 1;
      if (this.#skipping) {
        const total = this.#skipped + piece.length;
        this.#skipping = false;
        this.#skipped = 0;
        emit({ kind: "oversize", bytes: total, limit: this.#limit });
        continue;
      }
      let line: Uint8Array;
      if (this.#pending === 0) {
        line = piece;
      } else {
        line = new Uint8Array(this.#pending + piece.length);
        let offset = 0;
        for (const part of this.#parts) {
          line.set(part, offset);
          offset += part.length;
        }
        line.set(piece, offset);
        this.#parts = [];
        this.#pending = 0;
      }
      let end = line.length;
      if (end > 0 && line[end - 1] === CARRIAGE_RETURN) end--;
      if (end > this.#limit) {
        emit({ kind: "oversize", bytes: end, limit: this.#limit });
        continue;
      }
      if (isBlank(line, end)) continue;
      emit({ kind: "frame", bytes: end === line.length ? line : line.subarray(0, end) });
    }
  }

  #hold(rest: Uint8Array, owned: boolean): void {
    if (rest.length === 0) return;
    if (this.#skipping) {
      this.#skipped += rest.length;
      return;
    }
    // One extra byte is allowed for a "\r" that may precede the newline.
    if (this.#pending + rest.length > this.#limit + 1) {
      this.#skipping = true;
      this.#skipped = this.#pending + rest.length;
      this.#parts = [];
      this.#pending = 0;
      return;
    }
    // A view is kept only when it is most of its buffer: a small view would pin a large buffer.
    this.#parts.push(owned && rest.length * 2 >= rest.buffer.byteLength ? rest : rest.slice());
    this.#pending += rest.length;
  }
}

function isBlank(bytes: Uint8Array, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x09 && b !== CARRIAGE_RETURN) return false;
  }
  return true;
}
