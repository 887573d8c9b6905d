/**
 * Test support: an in-process client on a real {@linkcode Gateway} and
 * {@linkcode Peer}: requests go through the real dispatcher, and a pump
 * reads the peer's real output buffer like a transport does (it can be
 * paused to play a slow reader).
 *
 * @module
 */

import type { Gateway } from "../../src/lifecycle/gateway.ts";
import { Peer, type PeerOptions } from "../../src/protocol/peer.ts";

// deno-lint-ignore no-explicit-any
export type Frame = any;

/** One client of a gateway, in process. */
export class PeerClient {
  /** The peer. */
  readonly peer: Peer;
  /** Every frame read, in order. */
  readonly frames: Frame[] = [];
  #gateway: Gateway;
  #nextId = 1;
  #waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  #paused: PromiseWithResolvers<void> | undefined;
  #done: Promise<void>;

  /** Opens a peer on the gateway and starts reading its output. */
  constructor(gateway: Gateway, options: PeerOptions = {}) {
    this.#gateway = gateway;
    this.peer = new Peer({ transport: "test", ...options });
    gateway.open(this.peer);
    this.#done = this.#pump();
  }

  async #pump(): Promise<void> {
    const output = this.peer.output;
    for (;;) {
      await output.readable();
      if (this.#paused) await this.#paused.promise;
      if (output.closed) return;
      const batch = output.take();
      if (batch === undefined) continue;
      await new Promise((resolve) => setTimeout(resolve, 0)); // A write takes a while.
      output.release(batch.bytes);
      for (const text of batch.frames) {
        const frame = JSON.parse(text);
        this.frames.push(frame);
        const index = this.#waiters.findIndex((w) => w.match(frame));
        if (index !== -1) this.#waiters.splice(index, 1)[0].resolve(frame);
      }
    }
  }

  /** Stops reading (the output buffer fills up). */
  pause(): void {
    this.#paused ??= Promise.withResolvers<void>();
  }

  /** Reads again. */
  resume(): void {
    this.#paused?.resolve();
    this.#paused = undefined;
  }

  /** Sends a request through the dispatcher and resolves with the response frame. */
  request(method: string, params?: unknown): Promise<Frame> {
    const id = this.#nextId++;
    const response = this.waitFor((f) => f.id === id && !("method" in f));
    this.#gateway.dispatcher.handleText(
      JSON.stringify({ jsonrpc: "2.0", id, method, params }),
      this.peer,
    );
    return response;
  }

  /** Sends a request and returns its result, or throws its error. */
  async call(method: string, params?: unknown): Promise<Frame> {
    const response = await this.request(method, params);
    if (response.error) throw Object.assign(new Error(response.error.message), response.error);
    return response.result;
  }

  /** Resolves with the first frame, read from now on or already read, that matches. */
  waitFor(match: (f: Frame) => boolean, timeoutMs = 10_000, fromIndex?: number): Promise<Frame> {
    if (fromIndex !== undefined) {
      const found = this.frames.slice(fromIndex).find(match);
      if (found !== undefined) return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (frame: Frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`No matching frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** The `session.event` params read so far for a session. */
  events(session: string): Frame[] {
    return this.frames
      .filter((f) => f.method === "session.event" && f.params.session === session)
      .map((f) => f.params);
  }

  /** Resolves when `session.event` with at least `seq` has been read for `session`. */
  async waitForSeq(session: string, seq: number, timeoutMs = 10_000): Promise<void> {
    if (this.events(session).some((e) => e.seq >= seq)) return;
    await this.waitFor(
      (f) => f.method === "session.event" && f.params.session === session && f.params.seq >= seq,
      timeoutMs,
    );
  }

  /** Closes the peer (as a transport does when its client goes away). */
  async close(reason = "test-close"): Promise<void> {
    this.resume();
    this.peer.close(reason);
    this.#gateway.close(this.peer, reason);
    await this.#done;
  }
}

/** Asserts that `events` are numbered `from`, `from + 1`, … with no gap and no duplicate. */
export function contiguous(events: { seq: number }[], from = 1): boolean {
  return events.every((event, i) => event.seq === from + i);
}
