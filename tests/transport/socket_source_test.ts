/**
 * SocketSource's read-ahead against a stand-in socket with Node's `onread`
 * pause semantics. A stand-in, because the case under test (a read that
 * lands after the pause was asked for) cannot be forced on a real socket;
 * tests/transport/stdio_pipes_test.ts runs SocketSource on real pipes.
 */

import assert from "node:assert/strict";
import { SocketSource } from "../../src/transport/_socket_source.ts";

/**
 * A stand-in for a `node:net` socket read with `onread`: it hands queued
 * chunks to the callback until the callback returns false, then stops until
 * `resume()`, as Node's does.
 */
class FakeSocket {
  static last: FakeSocket;
  readonly kernel: Uint8Array[] = [];
  reading = true;
  resumes = 0;
  ended = false;
  #callback: (n: number, bytes: Uint8Array) => boolean;
  #buffer: Uint8Array;
  #onEnd: (() => void) | undefined;

  constructor(options: {
    onread: { buffer: Uint8Array; callback: (n: number, bytes: Uint8Array) => boolean };
  }) {
    this.#callback = options.onread.callback;
    this.#buffer = options.onread.buffer;
    FakeSocket.last = this;
  }

  on(event: string, listener: () => void): this {
    if (event === "end") this.#onEnd = listener;
    return this;
  }

  pause(): void {
    this.reading = false;
  }

  resume(): void {
    this.resumes++;
    if (this.reading) return;
    this.reading = true;
    queueMicrotask(() => this.pump());
  }

  /** Hands one queued chunk to the callback, reading or not (a read already under way). */
  deliver(): boolean {
    const chunk = this.kernel.shift()!;
    this.#buffer.set(chunk);
    return this.#callback(chunk.length, this.#buffer);
  }

  pump(): void {
    while (this.reading && this.kernel.length > 0) {
      if (!this.deliver()) this.reading = false;
    }
    if (this.reading && this.ended) this.#onEnd?.();
  }
}

const fakeNet = { Socket: FakeSocket } as unknown as typeof import("node:net");

Deno.test("SocketSource pauses its socket past its read-ahead and resumes it as it is read, even after a late read", async () => {
  const source = new SocketSource(fakeNet, 0);
  const socket = FakeSocket.last;
  const chunks = 40;
  for (let i = 0; i < chunks; i++) socket.kernel.push(new Uint8Array(64 * 1024).fill(i));
  socket.ended = true;
  socket.pump();
  assert.equal(socket.reading, false, "the socket is paused once 1 MiB is read ahead");
  assert.ok(socket.kernel.length > 0);
  // A read that was already under way when the pause was asked for lands anyway.
  socket.deliver();
  const p = new Uint8Array(100_000);
  let total = 0;
  let misplaced = 0;
  for (;;) {
    const n = await Promise.race([
      source.read(p),
      new Promise<"hang">((resolve) => setTimeout(() => resolve("hang"), 1000)),
    ]);
    assert.notEqual(n, "hang", `read() waits with ${socket.kernel.length} chunks unread`);
    if (n === null) break;
    for (let i = 0; i < (n as number); i++) {
      if (p[i] !== Math.floor((total + i) / (64 * 1024))) misplaced++;
    }
    total += n as number;
  }
  assert.ok(socket.resumes > 0);
  // Every chunk, whole and in order.
  assert.equal(total, chunks * 64 * 1024);
  assert.equal(misplaced, 0);
});
