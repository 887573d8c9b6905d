/**
 * A `node:net` socket on a descriptor as a byte sink.
 *
 * @module
 */

import type { Socket } from "node:net";
import { type BlockingHandle, blockingHandle, setBlocking, toDenoError } from "./_node_socket.ts";

/** Options for {@linkcode SocketSink}. */
export interface SocketSinkOptions {
  /**
   * Writes at least this large go through `bulkWrite` instead.
   * @default {Infinity}
   */
  bulkBytes?: number;
  /**
   * Where bulk writes go, with the descriptor blocking meanwhile (such as
   * `Deno.stdout.write`, which runs on a runtime thread).
   * @default {undefined}
   */
  bulkWrite?: (p: Uint8Array) => Promise<number>;
  /**
   * The mode to leave the descriptor in on `release()`: blocking or not.
   * @default {true}
   */
  blockingAfter?: boolean;
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
  #bulkWrite: ((p: Uint8Array) => Promise<number>) | undefined;
  #bulkBytes: number;
  #blockingAfter: boolean;

  /** Writes to descriptor `fd` through a socket of `net`. Only one write may be under way at a time. */
  constructor(net: typeof import("node:net"), fd: number, options: SocketSinkOptions = {}) {
    const socket = new net.Socket({ fd, readable: false, writable: true });
    this.#socket = socket;
    socket.on("error", (error: unknown) => {
      this.#error ??= toDenoError(error);
    });
    this.#bulkWrite = options.bulkWrite;
    this.#bulkBytes = options.bulkBytes ?? Infinity;
    this.#blockingAfter = options.blockingAfter ?? true;
  }

  /** Writes `p`; resolves with the count written (all of it on the socket). */
  write(p: Uint8Array): Promise<number> {
    if (this.#error === undefined && this.#socket.destroyed) {
      // Closed without an error (released): the descriptor number may be another file's now.
      this.#error = new Deno.errors.BadResource("Cannot write to stdout: its socket is closed");
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (p.length >= this.#bulkBytes && this.#bulkWrite !== undefined) {
      const handle = blockingHandle(this.#socket);
      if (handle !== undefined) return this.#writeBulk(p, this.#bulkWrite, handle);
    }
    return new Promise((resolve, reject) => {
      this.#socket.write(p, (error) => {
        if (error === undefined || error === null) return resolve(p.length);
        this.#error ??= toDenoError(error);
        reject(this.#error);
      });
    });
  }

  /**
   * Leaves the descriptor in the mode given to the constructor. For the last
   * moment before exit. Never throws.
   */
  release(): void {
    setBlocking(this.#socket, this.#blockingAfter);
  }

  async #writeBulk(
    p: Uint8Array,
    bulkWrite: (p: Uint8Array) => Promise<number>,
    handle: BlockingHandle,
  ): Promise<number> {
    // No socket write is under way (each one is awaited), so the reactor expects nothing.
    if (handle.setBlocking(true) !== 0) {
      this.#bulkWrite = undefined;
      return await this.write(p);
    }
    try {
      return await bulkWrite(p);
    } finally {
      setBlocking(this.#socket, false);
    }
  }
}
