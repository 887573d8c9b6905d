/**
 * A `node:net` socket as a {@linkcode ByteSource} or a {@linkcode ByteSink},
 * with Node's error codes turned into the `Deno.errors` the transport knows.
 *
 * @module
 */

import type { Socket } from "node:net";

/** The most one socket read takes. */
const READ_BYTES = 64 * 1024;
/** Bytes read ahead of the consumer; with less room than one read left, the socket pauses. */
const STORE_BYTES = 1024 * 1024;

/** `Deno.errors` for the Node codes that mean the peer is gone; anything else is kept. */
function toDenoError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case "EPIPE":
      return new Deno.errors.BrokenPipe(message, { cause: error });
    case "ECONNRESET":
      return new Deno.errors.ConnectionReset(message, { cause: error });
    case "EBADF":
    case "ERR_STREAM_DESTROYED":
      return new Deno.errors.BadResource(message, { cause: error });
    default:
      return error;
  }
}

/** The part of a `node:net` socket's handle that switches its descriptor's blocking mode. */
interface BlockingHandle {
  setBlocking(blocking: boolean): number;
}

/** The socket's handle when it can switch blocking mode (not a documented API). */
function blockingHandle(socket: Socket): BlockingHandle | undefined {
  const handle = (socket as unknown as { _handle?: Partial<BlockingHandle> })._handle;
  return typeof handle?.setBlocking === "function" ? handle as BlockingHandle : undefined;
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

  #blocking: boolean;
  #left = false;

  /**
   * Reads descriptor `fd`; `blocking` is the mode to leave it in once done
   * (at the end of input, or on {@linkcode SocketSource.release}).
   */
  constructor(net: typeof import("node:net"), fd: number, blocking: boolean) {
    this.#blocking = blocking;
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
      this.#leave();
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
    try {
      blockingHandle(this.#socket)?.setBlocking(this.#blocking);
    } catch {
      // The descriptor is gone already.
    }
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

/**
 * Writes to a socket; each write resolves once the bytes are handed to the
 * kernel. A write of at least `bulkBytes` goes through `bulkWrite` instead,
 * with the descriptor made blocking for it: a reactor write of a large batch
 * moves only when the main thread is free, while a blocking write on a
 * runtime thread (`Deno.stdout.write`) keeps moving while the main thread
 * parses the next request. Small writes stay on the socket, where their
 * latency is lowest.
 */
export class SocketSink {
  #socket: Socket;
  #error: unknown = undefined;
  #handle: BlockingHandle | undefined;
  #bulkWrite: (p: Uint8Array) => Promise<number>;
  #bulkBytes: number;

  constructor(
    net: typeof import("node:net"),
    fd: number,
    bulkWrite: (p: Uint8Array) => Promise<number>,
    bulkBytes: number,
  ) {
    const socket = new net.Socket({ fd, readable: false, writable: true });
    this.#socket = socket;
    socket.on("error", (error: unknown) => {
      this.#error ??= toDenoError(error);
    });
    // Without it every write stays on the socket.
    this.#handle = blockingHandle(socket);
    this.#bulkWrite = bulkWrite;
    this.#bulkBytes = bulkBytes;
  }

  /** Writes `p`; resolves with the count written (all of it on the socket). */
  write(p: Uint8Array): Promise<number> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (p.length >= this.#bulkBytes && this.#handle !== undefined) return this.#writeBulk(p);
    return new Promise((resolve, reject) => {
      this.#socket.write(p, (error) => {
        if (error === undefined || error === null) return resolve(p.length);
        this.#error ??= toDenoError(error);
        reject(this.#error);
      });
    });
  }

  /**
   * Puts the descriptor in blocking mode, or not, as before the move. For
   * the last moment before exit. Never throws.
   */
  release(blocking: boolean): void {
    try {
      blockingHandle(this.#socket)?.setBlocking(blocking);
    } catch {
      // Exiting anyway.
    }
  }

  async #writeBulk(p: Uint8Array): Promise<number> {
    const handle = this.#handle!;
    // No socket write is under way (each one is awaited), so the reactor expects nothing.
    if (handle.setBlocking(true) !== 0) {
      this.#handle = undefined;
      return await this.write(p);
    }
    try {
      return await this.#bulkWrite(p);
    } finally {
      handle.setBlocking(false);
    }
  }
}
