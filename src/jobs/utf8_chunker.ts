/**
 * Splits a byte stream into UTF-8 text and raw byte segments, never
 * splitting a multi-byte character between two segments or two chunks.
 *
 * @module
 */

import { concatBytes } from "../protocol/bytes.ts";

/**
 * One piece of output: valid UTF-8 as text, anything else as raw bytes.
 *
 * @example
 * ```ts
 * import { Utf8Chunker, type Utf8Segment } from "@tuigate/tuigate/jobs";
 * const segments: Utf8Segment[] = new Utf8Chunker().push(new Uint8Array([0x6f, 0x6b, 0xff]));
 * for (const segment of segments) {
 *   if ("text" in segment) console.log(segment.text);
 *   else console.log(`${segment.bytes.length} raw bytes`);
 * }
 * ```
 */
export type Utf8Segment = { text: string } | { bytes: Uint8Array };

const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const EMPTY = new Uint8Array(0);

/**
 * Turns chunks of a byte stream into {@linkcode Utf8Segment}s. Valid UTF-8
 * becomes text; invalid bytes are passed through as bytes (sent as base64).
 * A character whose bytes straddle two chunks is held back until it is
 * complete, so no segment ever ends inside a character.
 *
 * @example
 * ```ts
 * import { Utf8Chunker } from "@tuigate/tuigate/jobs";
 * const chunker = new Utf8Chunker();
 * chunker.push(new Uint8Array([0x68, 0xc3])); // [{ text: "h" }]
 * chunker.push(new Uint8Array([0xa9]));       // [{ text: "é" }]
 * chunker.flush();                             // []
 * ```
 */
export class Utf8Chunker {
  #pending: Uint8Array = EMPTY;

  /** Bytes held back because they may start a character not yet complete. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** Adds a chunk and returns the segments that are complete, in order. */
  push(chunk: Uint8Array): Utf8Segment[] {
    const data = this.#pending.length > 0 ? concatBytes([this.#pending, chunk]) : chunk;
    const end = completeLength(data);
    this.#pending = end === data.length ? EMPTY : data.slice(end);
    return segment(data.subarray(0, end));
  }

  /** Ends the stream: returns any held-back bytes (an incomplete character) as a bytes segment. */
  flush(): Utf8Segment[] {
    const rest = this.#pending;
    this.#pending = EMPTY;
    return rest.length === 0 ? [] : [{ bytes: rest }];
  }
}

/**
 * The length of `data` without a trailing sequence that is a valid but
 * incomplete start of a character (at most three bytes).
 */
function completeLength(data: Uint8Array): number {
  const n = data.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const byte = data[n - back];
    if (byte < 0x80) return n;
    if (byte < 0xc0) continue; // A continuation byte: look further back.
    const need = sequenceLength(byte);
    if (need === 0 || need <= back) return n; // Invalid lead, or complete.
    // Only hold bytes that can still become a valid character.
    return validPrefix(data, n - back, back) ? n - back : n;
  }
  return n;
}

/** The length a lead byte announces (2..4), or 0 for a byte that never leads. */
function sequenceLength(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** The allowed range of the byte after a lead byte (RFC 3629 table). */
function secondRange(lead: number): [number, number] {
  if (lead === 0xe0) return [0xa0, 0xbf];
  if (lead === 0xed) return [0x80, 0x9f];
  if (lead === 0xf0) return [0x90, 0xbf];
  if (lead === 0xf4) return [0x80, 0x8f];
  return [0x80, 0xbf];
}

/** Whether `count` bytes at `start` are a valid start of a character. */
function validPrefix(data: Uint8Array, start: number, count: number): boolean {
  const lead = data[start];
  for (let i = 1; i < count; i++) {
    const byte = data[start + i];
    const [low, high] = i === 1 ? secondRange(lead) : [0x80, 0xbf];
    if (byte < low || byte > high) return false;
  }
  return true;
}

/** The length of the valid character at `i`, or 0 when the byte there starts no valid character. */
function validCharLength(data: Uint8Array, i: number): number {
  const lead = data[i];
  if (lead < 0x80) return 1;
  const need = sequenceLength(lead);
  if (need === 0 || i + need > data.length) return 0;
  return validPrefix(data, i, need) ? need : 0;
}

/**
 * A chunk that splits into more runs than this, averaging fewer than
 * {@linkcode BINARY_AVERAGE_RUN} bytes, is binary data: it goes out as one
 * bytes segment rather than as many tiny frames.
 */
const BINARY_MIN_RUNS = 16;
const BINARY_AVERAGE_RUN = 64;

function segment(data: Uint8Array): Utf8Segment[] {
  if (data.length === 0) return [];
  try {
    return [{ text: fatalDecoder.decode(data) }];
  } catch {
    // Some bytes are not UTF-8: split into valid runs and invalid runs below.
  }
  let runs = 0;
  let wasValid: boolean | undefined;
  for (let i = 0; i < data.length;) {
    const length = validCharLength(data, i);
    const valid = length > 0;
    if (valid !== wasValid) {
      runs++;
      wasValid = valid;
      if (runs > BINARY_MIN_RUNS && runs * BINARY_AVERAGE_RUN > data.length) {
        return [{ bytes: data.slice() }];
      }
    }
    i += valid ? length : 1;
  }
  const segments: Utf8Segment[] = [];
  let runStart = 0;
  let runValid = true;
  let i = 0;
  const close = (at: number) => {
    if (at === runStart) return;
    const run = data.subarray(runStart, at);
    segments.push(runValid ? { text: decoder.decode(run) } : { bytes: run.slice() });
    runStart = at;
  };
  while (i < data.length) {
    const length = validCharLength(data, i);
    const valid = length > 0;
    if (valid !== runValid) {
      close(i);
      runValid = valid;
    }
    i += valid ? length : 1;
  }
  close(data.length);
  return segments;
}
