/**
 * Text appended as UTF-8 bytes into one growable buffer. The output buffer
 * merges waiting deltas into it, so that the many small strings a stream
 * emits die young instead of being kept, promoted and collected late.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
/** The least storage a builder grows to. */
const MIN_BYTES = 64;

/** Where a builder gets larger storage and leaves what it outgrew. */
export interface Utf8Storage {
  /** Storage of at least `bytes` bytes. */
  take(bytes: number): Uint8Array;
  /** Storage no longer used, for reuse. */
  give(storage: Uint8Array): void;
}

/**
 * A growable UTF-8 text buffer whose storage comes from, and goes back to, a
 * {@linkcode Utf8Storage}. Text that is not well-formed UTF-16 (a lone
 * surrogate, or half of a pair split between two appends) cannot be held as
 * UTF-8: from there on the builder keeps a string, so every code unit comes
 * out as it went in.
 */
export class Utf8Builder {
  #bytes: Uint8Array = EMPTY;
  #length = 0;
  /** Text before the bytes, used once an append was not well-formed. */
  #prefix = "";
  #storage: Utf8Storage;

  /** Makes an empty builder; it takes storage at its first append. */
  constructor(storage: Utf8Storage) {
    this.#storage = storage;
  }

  /** Appends text. */
  append(text: string): void {
    if (!text.isWellFormed() || this.#prefix !== "" && endsWithHighSurrogate(this.#prefix)) {
      // Kept as a string: the bytes so far are folded into it, so the order stays.
      this.#prefix = this.#prefix + this.#decodeBytes() + text;
      this.#length = 0;
      return;
    }
    let rest = text;
    for (;;) {
      const { read, written } = encoder.encodeInto(rest, this.#bytes.subarray(this.#length));
      this.#length += written;
      if (read === rest.length) return;
      rest = rest.slice(read);
      // A UTF-16 code unit takes at most three bytes.
      this.#grow(rest.length * 3);
    }
  }

  /** Appends what another builder holds. */
  appendBuilder(other: Utf8Builder): void {
    if (other.#prefix !== "") {
      this.append(other.toString());
      return;
    }
    const bytes = other.#bytes.subarray(0, other.#length);
    if (this.#prefix !== "") {
      this.#prefix = this.#prefix + this.#decodeBytes() + decoder.decode(bytes);
      this.#length = 0;
      return;
    }
    if (this.#bytes.length - this.#length < bytes.length) this.#grow(bytes.length);
    this.#bytes.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** The text held. */
  toString(): string {
    return this.#prefix + this.#decodeBytes();
  }

  /** Empties the builder and gives its storage back; the builder must not be used after. */
  release(): void {
    if (this.#bytes.length > 0) this.#storage.give(this.#bytes);
    this.#bytes = EMPTY;
    this.#length = 0;
    this.#prefix = "";
  }

  #decodeBytes(): string {
    return this.#length === 0 ? "" : decoder.decode(this.#bytes.subarray(0, this.#length));
  }

  #grow(extra: number): void {
    const grown = this.#storage.take(
      Math.max(this.#bytes.length * 2, this.#length + extra, MIN_BYTES),
    );
    grown.set(this.#bytes.subarray(0, this.#length));
    if (this.#bytes.length > 0) this.#storage.give(this.#bytes);
    this.#bytes = grown;
  }
}

function endsWithHighSurrogate(text: string): boolean {
  const last = text.charCodeAt(text.length - 1);
  return last >= 0xd800 && last <= 0xdbff;
}
