import type { FrameDecoder, FrameEvent } from "./line_decoder.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "./line_decoder.ts";

/** Options for {@linkcode LspDecoder}. */
export interface LspDecoderOptions {
  /**
   * The longest body accepted, in bytes.
   * @default {16777216}
   */
  maxFrameBytes?: number;
  /** Called with a description when a header block is malformed; the decoder then resynchronises. */
  onHeaderError?: (reason: string) => void;
}

const MAX_HEADER_BYTES = 8192;
const encoder = new TextEncoder();

/**
 * Splits `Content-Length` framed messages (the LSP base protocol) out of byte
 * chunks. Bodies over the limit are reported and skipped without being held
 * in memory.
 */
export class LspDecoder implements FrameDecoder {
  #limit: number;
  #onHeaderError: ((reason: string) => void) | undefined;
  #header: number[] = [];
  #body: Uint8Array | undefined;
  #bodyOffset = 0;
  #skip = 0;
  #skipTotal = 0;

  /** Makes a decoder. */
  constructor(options: LspDecoderOptions = {}) {
    this.#limit = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#onHeaderError = options.onHeaderError;
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.#header.length + this.#bodyOffset;
  }

  /** Feeds a chunk. */
  push(chunk: Uint8Array, emit: (event: FrameEvent) => void): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        if (this.#skip === 0) {
          emit({ kind: "oversize", bytes: this.#skipTotal, limit: this.#limit });
        }
        continue;
      }
      if (this.#body !== undefined) {
        const n = Math.min(this.#body.length - this.#bodyOffset, chunk.length - i);
        if (this.#bodyOffset === 0 && n === this.#body.length) {
          // The whole body is in this chunk: no copy.
          const body = chunk.subarray(i, i + n);
          this.#body = undefined;
          i += n;
          emit({ kind: "frame", bytes: body });
          continue;
        }
        this.#body.set(chunk.subarray(i, i + n), this.#bodyOffset);
        this.#bodyOffset += n;
        i += n;
        if (this.#bodyOffset === this.#body.length) {
          const body = this.#body;
          this.#body = undefined;
          this.#bodyOffset = 0;
          emit({ kind: "frame", bytes: body });
        }
        continue;
      }
      this.#header.push(chunk[i++]);
      const h = this.#header;
      const n = h.length;
      if (
        n >= 4 && h[n - 1] === 0x0a && h[n - 2] === 0x0d && h[n - 3] === 0x0a && h[n - 4] === 0x0d
      ) {
        this.#startBody(new TextDecoder().decode(new Uint8Array(h)));
        this.#header = [];
      } else if (n > MAX_HEADER_BYTES) {
        this.#header = [];
        this.#onHeaderError?.(`Header block longer than ${MAX_HEADER_BYTES} bytes`);
      }
    }
  }

  #startBody(headers: string): void {
    let length: number | undefined;
    for (const line of headers.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon === -1) continue;
      if (line.slice(0, colon).trim().toLowerCase() === "content-length") {
        const value = line.slice(colon + 1).trim();
        if (/^\d+$/.test(value)) length = Number(value);
      }
    }
    if (length === undefined) {
      this.#onHeaderError?.("Header block has no valid Content-Length");
      return;
    }
    if (length > this.#limit) {
      this.#skip = length;
      this.#skipTotal = length;
      if (length === 0) this.#skip = 0;
      return;
    }
    if (length === 0) return;
    this.#body = new Uint8Array(length);
    this.#bodyOffset = 0;
  }
}

/** Frames a message body with a `Content-Length` header. */
export function encodeLspFrame(body: string): Uint8Array {
  const bytes = encoder.encode(body);
  const header = encoder.encode(`Content-Length: ${bytes.length}\r\n\r\n`);
  const out = new Uint8Array(header.length + bytes.length);
  out.set(header, 0);
  out.set(bytes, header.length);
  return out;
}
