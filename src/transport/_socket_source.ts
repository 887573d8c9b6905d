/**
 * A `node:net` socket on a descriptor as a byte source.
 *
 * @module
 */

import type { Socket } from "node:net";
import { setBlocking, toDenoError } from "./_node_socket.ts";

/** The most one socket read takes. */
const READ_BYTES = 64 * 1024;
/** Bytes read ahead of the consumer; with less room than one read left, the socket pauses. */
const STORE_BYTES = 1024 * 1024;

/** Options for {@linkcode SocketSource}. */
export interface SocketSourceOptions {
  /**
   * The mode to leave the descriptor in once done: blocking or not.
   * @default {true}
   */
  blockingAfter?: boolean;
  /**
   * Whether that mode is set at the end of input already (the runtime closes
   * the descriptor soon after), rather than only on `release()`. Not when the
   * descriptor's socket is also the output's: that is still being written.
   * @default {true}
   */
  leaveAtEnd?: boolean;
}

/**
 * Reads a socket descriptor into the caller's buffers. The socket reads into
 * one reused buffer (`onread`), not a new chunk per read: a 64 MiB frame
 * passing through leaves no garbage. At most {@linkcode STORE_BYTES} are
 * read ahead; then the socket pauses, so the kernel's pipe fills and the
 * writer waits, as it does when `Deno.stdin` is not read.
 */
export class SocketSource {
  #socket: Socket;
  #store = new Uint8Array(STORE_BYTES);
  #start = 0;
  #end = 0;
  #paused = false;
  #ended = false;
  #error: unknown = undefined;
  #wake: (() => void) | undefined;

  #blockingAfter: boolean;
  #left = false;

  /** Reads descriptor `fd` through a socket of `net`. Only one read may be under way at a time. */
  constructor(net: typeof import("node:net"), fd: number, options: SocketSourceOptions = {}) {
    this.#blockingAfter = options.blockingAfter ?? true;
    const leaveAtEnd = options.leaveAtEnd ?? true;
    const buffer = new Uint8Array(READ_BYTES);
    this.#socket = new net.Socket({
      fd,
      readable: true,
      writable: false,
      onread: { buffer, callback: (n: number, bytes: Uint8Array) => this.#take(bytes, n) },
    });
    this.#socket.on("end", () => {
      this.#ended = true;
      // Now, while the descriptor is still open: the runtime closes it soon after.
      if (leaveAtEnd) this.#leave();
      this.#notify();
    });
    this.#socket.on("error", (error: unknown) => {
      this.#error ??= toDenoError(error);
      this.#notify();
    });
  }

  /** Reads into `p`; resolves with the count, or `null` at the end of input. */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#end === this.#start) {
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    const n = Math.min(p.length, this.#end - this.#start);
    p.set(this.#store.subarray(this.#start, this.#start + n));
    this.#start += n;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      if (this.#store.length > STORE_BYTES) this.#store = new Uint8Array(STORE_BYTES);
    }
    if (this.#paused && this.#room() >= READ_BYTES) {
      this.#paused = false;
      this.#socket.resume();
    }
    return n;
  }

  /**
   * Stops reading and leaves the descriptor in the mode given to the
   * constructor. For the last moment before exit: reading does not resume.
   * Idempotent; never throws.
   */
  release(): void {
    try {
      this.#socket.pause();
    } catch {
      // Exiting anyway.
    }
    this.#leave();
  }

  #leave(): void {
    if (this.#left) return;
    this.#left = true;
    setBlocking(this.#socket, this.#blockingAfter);
  }

  /** Takes one socket read; returns `false` (pausing the socket) when another might not fit. */
  #take(bytes: Uint8Array, n: number): boolean {
    if (n > 0) {
      if (this.#end + n > this.#store.length) {
        const queued = this.#end - this.#start;
        if (queued + n > this.#store.length) {
          // A read that came in after the pause was asked for: keep it, never drop input.
          const store = new Uint8Array(2 * (queued + n));
          store.set(this.#store.subarray(this.#start, this.#end));
          this.#store = store;
        } else {
          this.#store.copyWithin(0, this.#start, this.#end);
        }
        this.#end = queued;
        this.#start = 0;
      }
      this.#store.set(bytes.subarray(0, n), this.#end);
      this.#end += n;
      this.#notify();
    }
    // Once a pause is asked for, the socket stays stopped until read() resumes it, even when a
    // late read grew the store: returning true would not restart it.
    if (this.#room() < READ_BYTES) this.#paused = true;
    return !this.#paused;
  }

  #room(): number {
    return this.#store.length - (this.#end - this.#start);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
