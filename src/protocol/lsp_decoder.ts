/**
 * `Content-Length` framing (the base protocol of LSP), both ways: a decoder
 * from byte chunks to frames, and {@linkcode encodeLspFrame}.
 *
 * @module
 */

import { DEFAULT_MAX_FRAME_BYTES, type FrameDecoder, type FrameEvent } from "./frame_decoder.ts";

/**
 * Options for {@linkcode LspDecoder}.
 *
 * @example
 * ```ts
 * import { getLogger, LspDecoder } from "@tuigate/tuigate";
 * const logger = getLogger(["my-backend", "framing"]);
 * new LspDecoder({
 *   maxFrameBytes: 1024 * 1024,
 *   onHeaderError: (reason) => logger.warn("Bad header: {reason}", { reason }),
 * });
 * ```
 */
export interface LspDecoderOptions {
  /**
   * The longest body accepted, in bytes.
   * @default {16777216}
   */
  maxFrameBytes?: number;
  /**
   * Called with a description when a header block is malformed. The decoder
   * then resynchronises on the next `Content-Length` header and stays silent
   * until it has; so one burst of garbage is reported once.
   * @default {undefined}
   */
  onHeaderError?: (reason: string) => void;
}

/**
 * The longest header line kept, in bytes; longer lines are reported and skipped.
 *
 * @example
 * ```ts
 * import { LspDecoder, MAX_HEADER_LINE_BYTES } from "@tuigate/tuigate";
 * const errors: string[] = [];
 * const decoder = new LspDecoder({ onHeaderError: (reason) => errors.push(reason) });
 * decoder.push(new TextEncoder().encode("X".repeat(MAX_HEADER_LINE_BYTES + 1) + "\r\n"), () => {});
 * errors.length; // 1
 * ```
 */
export const MAX_HEADER_LINE_BYTES = 8192;

/** Bytes kept from the end of an over-long line, where a glued `Content-Length` header may sit. */
const TAIL_BYTES = 64;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const FIELD = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[ \t]*(.*?)[ \t]*$/;
const CONTENT_LENGTH = /content-length[ \t]*:/i;
const encoder = new TextEncoder();
const utf8 = new TextDecoder();

type Mode = "header" | "body" | "skip";

/**
 * Splits `Content-Length` framed messages (the LSP base protocol) out of byte
 * chunks, with the same size limit as the line framing:
 *
 * - Header lines end with `\r\n` (a bare `\n` is accepted); a blank line ends
 *   the block. Header names are case-insensitive; headers other than
 *   `Content-Length` and `Content-Type` are ignored.
 * - A body over the limit is reported as `oversize` as soon as its header
 *   block ends, then skipped without being held in memory; a length too
 *   large to skip (over 2^53) is reported the same way, and the decoder then
 *   looks for the next `Content-Length` header. A `Content-Length: 0` body is
 *   emitted as an empty frame (the dispatcher answers it with a parse error).
 * - A malformed block (a line that is not `Name: value`, a missing, invalid
 *   or conflicting `Content-Length`, a charset other than UTF-8, a line over
 *   8 KiB) is reported through `onHeaderError`; the decoder then skips to the
 *   next `Content-Length` header, even one glued to the end of garbage, so a
 *   client that wrote one bad frame loses only that frame.
 *
 * @example
 * ```ts
 * import { encodeLspFrame, LspDecoder } from "@tuigate/tuigate";
 * const bodies: string[] = [];
 * new LspDecoder().push(encodeLspFrame('{"jsonrpc":"2.0","method":"x"}'), (e) => {
 *   if (e.kind === "frame") bodies.push(new TextDecoder().decode(e.bytes));
 * });
 * ```
 */
export class LspDecoder implements FrameDecoder {
  #limit: number;
  #onHeaderError: ((reason: string) => void) | undefined;
  #mode: Mode = "header";
  // Header state.
  #line: number[] = [];
  #overlong = false;
  #fields = 0;
  #length: number | undefined;
  #lengthConflict = false;
  #blockError: string | undefined;
  #resyncing = false;
  // Body state.
  #body: Uint8Array | undefined;
  #bodyOffset = 0;
  // Skip state.
  #skip = 0;

  /** Makes a decoder. */
  constructor(options: LspDecoderOptions = {}) {
    this.#limit = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#onHeaderError = options.onHeaderError;
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.#line.length + this.#bodyOffset;
  }

  /** Feeds a chunk; the chunk may be reused after this returns. */
  push(chunk: Uint8Array, emit: (event: FrameEvent) => void): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#mode === "skip") {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        if (this.#skip === 0) this.#mode = "header";
        continue;
      }
      if (this.#mode === "body") {
        const body = this.#body!;
        const n = Math.min(body.length - this.#bodyOffset, chunk.length - i);
        if (this.#bodyOffset === 0 && n === body.length) {
          // The whole body is in this chunk: no copy.
          const bytes = chunk.subarray(i, i + n);
          i += n;
          this.#body = undefined;
          this.#mode = "header";
          emit({ kind: "frame", bytes });
          continue;
        }
        body.set(chunk.subarray(i, i + n), this.#bodyOffset);
        this.#bodyOffset += n;
        i += n;
        if (this.#bodyOffset === body.length) {
          this.#body = undefined;
          this.#bodyOffset = 0;
          this.#mode = "header";
          emit({ kind: "frame", bytes: body });
        }
        continue;
      }
      const byte = chunk[i++];
      if (byte !== NEWLINE) {
        this.#line.push(byte);
        if (this.#line.length > MAX_HEADER_LINE_BYTES + TAIL_BYTES) {
          if (!this.#overlong) {
            this.#overlong = true;
            this.#enterResync(`Header line longer than ${MAX_HEADER_LINE_BYTES} bytes`);
          }
          this.#line = this.#line.slice(-TAIL_BYTES);
        }
        continue;
      }
      let end = this.#line.length;
      if (end > 0 && this.#line[end - 1] === CARRIAGE_RETURN) end--;
      const line = utf8.decode(new Uint8Array(this.#line.slice(0, end)));
      this.#line = [];
      this.#overlong = false;
      if (line === "") {
        this.#endBlock(emit);
      } else {
        this.#field(line);
      }
    }
  }

  #field(line: string): void {
    if (!this.#resyncing) {
      const match = FIELD.exec(line);
      if (match !== null) {
        this.#record(match[1].toLowerCase(), match[2]);
        return;
      }
      this.#enterResync(`Malformed header line ${describe(line)}`);
    }
    // Resynchronising: wait for a Content-Length header, even one glued to the end of garbage.
    const at = line.search(CONTENT_LENGTH);
    if (at === -1) return;
    const match = FIELD.exec(line.slice(at));
    if (match === null) return;
    this.#resyncing = false;
    this.#resetBlock();
    this.#record(match[1].toLowerCase(), match[2]);
  }

  #record(name: string, value: string): void {
    this.#fields++;
    if (name === "content-length") {
      // Any run of digits is a length; one beyond 2^53 is only ever too long.
      const length = /^\d+$/.test(value) ? Number(value) : undefined;
      if (length === undefined) {
        this.#blockError ??= `Invalid Content-Length ${describe(value)}`;
      } else if (this.#length !== undefined && this.#length !== length) {
        this.#blockError ??= `Conflicting Content-Length headers (${this.#length} and ${length})`;
        this.#lengthConflict = true;
      } else {
        this.#length = length;
      }
    } else if (name === "content-type") {
      const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(value)?.[1]?.toLowerCase();
      if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
        this.#blockError ??= `Unsupported charset "${charset}": bodies must be UTF-8`;
      }
    }
  }

  /** Reports a malformed header once, then skips input until a `Content-Length` header. */
  #enterResync(reason: string): void {
    this.#resetBlock();
    if (!this.#resyncing) this.#fail(reason);
    this.#resyncing = true;
  }

  #endBlock(emit: (event: FrameEvent) => void): void {
    if (this.#fields === 0) return; // A stray blank line between frames.
    // With two lengths, neither says where the body ends: look for the next header block instead.
    const length = this.#lengthConflict ? undefined : this.#length;
    const error = this.#blockError ??
      (length === undefined ? "Header block has no Content-Length" : undefined);
    this.#resetBlock();
    if (length === undefined) {
      this.#enterResync(error!);
      return;
    }
    if (error !== undefined) {
      // The length is known: skip the body and stay in step.
      this.#fail(error);
      this.#startSkip(length);
      return;
    }
    if (length > this.#limit) {
      // Answered now, not once the body has gone by: the client may wait for it before sending more.
      emit({ kind: "oversize", bytes: length, limit: this.#limit });
      this.#startSkip(length);
      return;
    }
    if (length === 0) {
      emit({ kind: "frame", bytes: new Uint8Array(0) });
      return;
    }
    this.#body = new Uint8Array(length);
    this.#bodyOffset = 0;
    this.#mode = "body";
  }

  /** Skips a body of `length` bytes; one too long to skip (over 2^53) means looking for the next header block. */
  #startSkip(length: number): void {
    if (!Number.isSafeInteger(length)) {
      this.#resyncing = true;
      return;
    }
    this.#skip = length;
    if (length > 0) {
      this.#mode = "skip";
    }
  }

  #resetBlock(): void {
    this.#fields = 0;
    this.#length = undefined;
    this.#lengthConflict = false;
    this.#blockError = undefined;
  }

  #fail(reason: string): void {
    this.#onHeaderError?.(reason);
  }
}

function describe(text: string): string {
  const shown = JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text);
  return /^\s*[[{]/.test(text)
    ? `${shown} (this looks like line-delimited JSON: this gateway speaks Content-Length framing; use --framing line for newline-delimited JSON)`
    : shown;
}

/**
 * Frames a message body with a `Content-Length` header.
 *
 * @example
 * ```ts
 * import { encodeLspFrame } from "@tuigate/tuigate";
 * const frame = encodeLspFrame('{"jsonrpc":"2.0","method":"exit"}');
 * new TextDecoder().decode(frame); // 'Content-Length: 33\r\n\r\n{"jsonrpc":"2.0","method":"exit"}'
 * ```
 */
export function encodeLspFrame(body: string): Uint8Array {
  const bytes = encoder.encode(body);
  const header = encoder.encode(`Content-Length: ${bytes.length}\r\n\r\n`);
  const out = new Uint8Array(header.length + bytes.length);
  out.set(header, 0);
  out.set(bytes, header.length);
  return out;
}
