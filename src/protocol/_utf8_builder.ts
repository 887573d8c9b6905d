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

/** A growable UTF-8 text buffer whose storage can be handed back for reuse. */
export class Utf8Builder {
  #bytes: Uint8Array;
  #length = 0;
  #recycle: ((storage: Uint8Array) => void) | undefined;

  /**
   * Makes an empty builder writing into `storage`. When that is too small a
   * larger one is made, and the outgrown one goes to `recycle`, if given.
   */
  constructor(storage: Uint8Array, recycle?: (storage: Uint8Array) => void) {
    this.#bytes = storage;
    this.#recycle = recycle;
  }

  /** The bytes held. */
  get byteLength(): number {
    return this.#length;
  }

  /** Appends text (a lone surrogate becomes U+FFFD, as on the wire). */
  append(text: string): void {
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
    const bytes = other.#bytes.subarray(0, other.#length);
    if (this.#bytes.length - this.#length < bytes.length) this.#grow(bytes.length);
    this.#bytes.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** The text held. */
  toString(): string {
    return decoder.decode(this.#bytes.subarray(0, this.#length));
  }

  /** Empties the builder and returns its storage for reuse; the builder must not be used after. */
  release(): Uint8Array {
    const storage = this.#bytes;
    this.#bytes = EMPTY;
    this.#length = 0;
    return storage;
  }

  #grow(extra: number): void {
    const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + extra, 1024));
    grown.set(this.#bytes.subarray(0, this.#length));
    const outgrown = this.#bytes;
    this.#bytes = grown;
    if (outgrown.length > 0) this.#recycle?.(outgrown);
  }
}
