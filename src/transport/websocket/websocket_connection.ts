/**
 * One accepted WebSocket: its peer, the frames it sends to the dispatcher,
 * and the pump that moves the peer's output to the socket under a send
 * deadline.
 *
 * @module
 */

import { utf8Length } from "../../protocol/bytes.ts";
import { loggableError } from "../../protocol/loggable_error.ts";
import { getLogger } from "../../protocol/logger.ts";
import { Peer } from "../../protocol/peer.ts";
import type { PeerHost } from "../../protocol/peer_host.ts";
import { sleep } from "../../protocol/timing.ts";

const logger = getLogger(["tuigate", "websocket"]);

/**
 * WebSocket close codes the gateway sends.
 *
 * @example
 * ```ts
 * import { CLOSE_CODES } from "@tuigate/tuigate/websocket";
 * const ws = new WebSocket("ws://127.0.0.1:8765/", ["tuigate", "tuigate.bearer.s3cret"]);
 * ws.onclose = (event) => {
 *   if (event.code === CLOSE_CODES.SEND_DEADLINE) console.warn("read too slowly; reconnecting");
 * };
 * ```
 */
export const CLOSE_CODES = {
  /** The gateway is shutting down (SIGTERM, SIGHUP, `gateway.shutdown`). */
  GOING_AWAY: 1001,
  /** A message exceeded `--max-frame-bytes`. */
  MESSAGE_TOO_BIG: 1009,
  /** An unexpected error on the gateway's side. */
  INTERNAL_ERROR: 1011,
  /** The client did not drain its socket within the send deadline. */
  SEND_DEADLINE: 4008,
} as const;

/**
 * Why a connection ended.
 *
 * @example
 * ```ts
 * import type { ConnectionCause } from "@tuigate/tuigate/websocket";
 * const clientFault = (cause: ConnectionCause) =>
 *   cause === "heartbeat" || cause === "send-deadline" || cause === "oversize";
 * ```
 */
export type ConnectionCause =
  | "client"
  | "heartbeat"
  | "send-deadline"
  | "oversize"
  | "shutdown"
  | "error";

/**
 * How a connection ended.
 *
 * @example
 * ```ts
 * import type { ConnectionEnd, WebSocketConnection } from "@tuigate/tuigate/websocket";
 * declare const connection: WebSocketConnection;
 * const end: ConnectionEnd = await connection.ended;
 * console.log(`${connection.remote} left (${end.cause}): ${end.code} ${end.reason}`);
 * ```
 */
export interface ConnectionEnd {
  /** Why. */
  cause: ConnectionCause;
  /** The close code sent or received. */
  code: number;
  /** The close reason sent or received. */
  reason: string;
}

/**
 * The states of a {@linkcode WebSocketConnection}.
 *
 * @example
 * ```ts
 * import { ConnectionState, type WebSocketServer } from "@tuigate/tuigate/websocket";
 * declare const server: WebSocketServer;
 * const open = server.connections().filter((c) => c.state === ConnectionState.Open);
 * ```
 */
export enum ConnectionState {
  /** Upgraded; waiting for the socket to open. */
  Connecting = "connecting",
  /** Reading and writing. */
  Open = "open",
  /** Shutting down: new requests are refused, output still drains. */
  Draining = "draining",
  /** A close frame was queued; waiting for the socket to close. */
  Closing = "closing",
  /** Gone. */
  Closed = "closed",
}

/**
 * Options for {@linkcode WebSocketConnection}.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { WebSocketConnection } from "@tuigate/tuigate/websocket";
 * import type { WebSocketConnectionOptions } from "@tuigate/tuigate/websocket";
 * declare const socket: WebSocket; // from Deno.upgradeWebSocket(request)
 * const options: WebSocketConnectionOptions = { maxFrameBytes: 1 << 20, sendDeadlineMs: 5000 };
 * new WebSocketConnection(new Gateway(), socket, options).start();
 * ```
 */
export interface WebSocketConnectionOptions {
  /**
   * Capabilities granted to the peer (`"jobs"` only with `--allow-jobs`).
   * @default {[]}
   */
  grants?: Iterable<string>;
  /**
   * The longest message accepted, in UTF-8 bytes; a longer one closes the connection with 1009.
   * @default {16777216}
   */
  maxFrameBytes?: number;
  /**
   * The bound on the peer's queued output, in bytes.
   * @default {8388608}
   */
  outBufferBytes?: number;
  /**
   * How long control frames may wait for room in the output buffer before the client counts as stalled, in ms.
   * @default {10000}
   */
  stallTimeoutMs?: number;
  /**
   * How long the socket may stay above `sendHighWaterBytes` before the client is disconnected with 4008, in ms.
   * @default {10000}
   */
  sendDeadlineMs?: number;
  /**
   * Bytes the socket may buffer (not yet written to the network) before the pump waits.
   * @default {1048576}
   */
  sendHighWaterBytes?: number;
  /**
   * The client's address, for logs.
   * @default {"unknown"}
   */
  remote?: string;
}

/**
 * A snapshot of a connection for `gateway.info`.
 *
 * @example
 * ```ts
 * import type { ConnectionInfo, WebSocketServer } from "@tuigate/tuigate/websocket";
 * declare const server: WebSocketServer;
 * const peers: ConnectionInfo[] = server.stats().peers;
 * const slow = peers.filter((peer) => peer.bufferedAmount > 512 * 1024).map((peer) => peer.remote);
 * ```
 */
export interface ConnectionInfo {
  /** The peer id. */
  peer: string;
  /** The client's address. */
  remote: string;
  /** The state. */
  state: ConnectionState;
  /** Messages received. */
  messagesIn: number;
  /** Messages sent. */
  messagesOut: number;
  /** Bytes the socket holds that the network has not taken yet. */
  bufferedAmount: number;
}

const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * One WebSocket client of a gateway. Each text message is one JSON-RPC
 * message or batch; each frame of the peer's output goes out as one text
 * message. A client whose socket takes none of its unsent bytes for
 * `sendDeadlineMs` (or holds more than `sendHighWaterBytes` that long) is
 * closed with 4008; this only ever stops its own pump, never another
 * connection's. While the peer's output is over its bound, the client's
 * messages are held, not dispatched; past the larger of `maxFrameBytes` and
 * `outBufferBytes` held, the client is closed with 4008 too.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { WebSocketConnection } from "@tuigate/tuigate/websocket";
 * const gateway = new Gateway();
 * Deno.serve((request) => {
 *   const { socket, response } = Deno.upgradeWebSocket(request);
 *   new WebSocketConnection(gateway, socket).start();
 *   return response;
 * });
 * ```
 */
export class WebSocketConnection {
  /** The peer of this connection. */
  readonly peer: Peer;
  /** The socket. */
  readonly socket: WebSocket;
  /** Resolves once the connection stops serving (a close was sent or received), with how it ended. */
  readonly ended: Promise<ConnectionEnd>;
  /**
   * Resolves once the socket has closed. A client that stopped reading may
   * never complete the close handshake: then this stays pending while the
   * peer is already gone.
   */
  readonly closed: Promise<ConnectionEnd>;
  #host: PeerHost;
  #remote: string;
  #maxFrameBytes: number;
  #sendDeadlineMs: number;
  #highWater: number;
  #state = ConnectionState.Connecting;
  #end: ConnectionEnd | undefined;
  #resolveClosed!: (end: ConnectionEnd) => void;
  #resolveEnded!: (end: ConnectionEnd) => void;
  #opened!: () => void;
  #openedPromise: Promise<void>;
  #drainWaiters: (() => void)[] = [];
  #messagesIn = 0;
  #messagesOut = 0;
  #started = false;
  /** Messages received while the output is over its bound, waiting to be dispatched. */
  #held: (string | Uint8Array)[] = [];
  #heldHead = 0;
  #heldBytes = 0;
  #heldLimit: number;
  #releasing = false;
  /** UTF-8 bytes handed to the socket, and what the watch saw written last. */
  #handedBytes = 0;
  #lastWritten = 0;
  #stuckSince = 0;
  #watch: ReturnType<typeof setInterval> | undefined;
  /** The error the socket reported (for example a text frame that is not UTF-8), if any. */
  #socketError: string | undefined;

  /** Wraps an upgraded socket (still connecting or open). */
  constructor(host: PeerHost, socket: WebSocket, options: WebSocketConnectionOptions = {}) {
    this.#host = host;
    this.socket = socket;
    this.#remote = options.remote ?? "unknown";
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#sendDeadlineMs = options.sendDeadlineMs ?? 10_000;
    this.#highWater = options.sendHighWaterBytes ?? 1024 * 1024;
    this.#heldLimit = Math.max(this.#maxFrameBytes, options.outBufferBytes ?? 8 * 1024 * 1024);
    this.peer = new Peer({
      transport: "websocket",
      grants: options.grants ?? [],
      maxBytes: options.outBufferBytes,
      stallTimeoutMs: options.stallTimeoutMs,
      onStall: () =>
        this.#expire(`control frames waited ${options.stallTimeoutMs ?? 10_000} ms for room`),
    });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
    this.#openedPromise = new Promise((resolve) => (this.#opened = resolve));
  }

  /** The current state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** How the connection ended, once it has started closing. */
  get end(): ConnectionEnd | undefined {
    return this.#end;
  }

  /** The client's address. */
  get remote(): string {
    return this.#remote;
  }

  /** Announces the peer (`gateway.ready` is queued first) and starts reading and writing. Idempotent. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#host.open(this.peer);
    const socket = this.socket;
    socket.addEventListener("open", () => {
      if (this.#state === ConnectionState.Connecting) this.#state = ConnectionState.Open;
      this.#opened();
    });
    socket.addEventListener("message", (event) => this.#onMessage(event));
    socket.addEventListener("error", (event) => {
      this.#socketError = (event as ErrorEvent).message || "WebSocket error";
      logger.debug("WebSocket error on {peer}: {message}", {
        peer: this.peer.id,
        message: this.#socketError,
      });
    });
    socket.addEventListener("close", (event) => this.#onClosed(event.code, event.reason));
    if (socket.readyState === WebSocket.OPEN) {
      this.#state = ConnectionState.Open;
      this.#opened();
    }
    void this.#pump();
    this.#stuckSince = Date.now();
    this.#watch = setInterval(
      () => this.#watchSocket(),
      Math.min(1000, Math.max(50, this.#sendDeadlineMs / 4)),
    );
  }

  /** A snapshot for `gateway.info`. */
  info(): ConnectionInfo {
    return {
      peer: this.peer.id,
      remote: this.#remote,
      state: this.#state,
      messagesIn: this.#messagesIn,
      messagesOut: this.#messagesOut,
      bufferedAmount: this.socket.bufferedAmount,
    };
  }

  /**
   * Starts an orderly close: the peer refuses new requests (its handlers'
   * signals are aborted), queued output keeps going out. Call
   * {@linkcode WebSocketConnection.close} once {@linkcode WebSocketConnection.drained} resolves.
   */
  beginClose(reason: string): void {
    if (this.#state === ConnectionState.Draining && this.peer.finishing) {
      this.peer.beginClose(reason);
      return;
    }
    if (this.#state !== ConnectionState.Open && this.#state !== ConnectionState.Connecting) return;
    this.#state = ConnectionState.Draining;
    this.peer.beginClose(reason);
  }

  /**
   * Starts a gentle close: the peer refuses new requests, but what it
   * already accepted goes on (see {@linkcode Peer.finish}); call
   * {@linkcode WebSocketConnection.beginClose} to abort what still runs.
   */
  finish(reason: string): void {
    if (this.#state !== ConnectionState.Open && this.#state !== ConnectionState.Connecting) return;
    this.#state = ConnectionState.Draining;
    this.peer.finish(reason);
  }

  /** Resolves when every queued frame was handed to the socket and the socket sent it (or the connection ended). */
  async drained(): Promise<void> {
    if (!this.peer.output.empty && this.#pumping()) {
      await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    }
    let delay = 1;
    while (this.#pumping() && this.socket.bufferedAmount > 0) {
      await sleep(delay);
      delay = Math.min(delay * 2, 20);
    }
  }

  /**
   * Closes at once with a close code and reason: the peer is closed (queued
   * output dropped, handlers aborted) and forgotten by the gateway. Idempotent.
   */
  close(end: ConnectionEnd): void {
    if (this.#state === ConnectionState.Closing || this.#state === ConnectionState.Closed) return;
    this.#state = ConnectionState.Closing;
    this.#end = { ...end };
    this.#releasePeer(end.cause);
    try {
      this.socket.close(end.code, end.reason);
    } catch (error) {
      logger.debug("Closing the socket of {peer} failed: {error}", { peer: this.peer.id, error });
    }
    this.#opened();
  }

  #pumping(): boolean {
    return this.#state === ConnectionState.Open || this.#state === ConnectionState.Draining ||
      this.#state === ConnectionState.Connecting;
  }

  #onMessage(event: MessageEvent): void {
    if (this.#state !== ConnectionState.Open && this.#state !== ConnectionState.Draining) return;
    this.#messagesIn++;
    const data = event.data;
    if (typeof data === "string") {
      // At most 3 bytes per UTF-16 code unit: short messages need no count.
      const fits = data.length * 3 <= this.#maxFrameBytes ||
        utf8Length(data, this.#maxFrameBytes) <= this.#maxFrameBytes;
      if (!fits) {
        // Counted whole only now, on the way out: the reason says how large it was.
        this.#oversize(utf8Length(data));
        return;
      }
      this.#deliver(data, data.length);
    } else if (data instanceof ArrayBuffer) {
      if (data.byteLength > this.#maxFrameBytes) {
        this.#oversize(data.byteLength);
        return;
      }
      this.#deliver(new Uint8Array(data), data.byteLength);
    } else {
      logger.warn("Ignored a message of unexpected type from {peer}", { peer: this.peer.id });
    }
  }

  /**
   * Dispatches a message, or holds it while the peer's output is over its
   * bound (as stdio stops reading then): answers cannot pile up past the
   * bound for a client that sends without reading. A WebSocket cannot stop
   * reading, so the held messages are bounded too: past the larger of
   * `maxFrameBytes` and `outBufferBytes`, the client is closed with 4008.
   */
  #deliver(data: string | Uint8Array, size: number): void {
    if (this.#heldHead === this.#held.length && !this.peer.output.overBound) {
      this.#dispatch(data);
      return;
    }
    this.#held.push(data);
    this.#heldBytes += size;
    if (this.#heldBytes > this.#heldLimit) {
      this.#expire(
        `it sent ${this.#heldBytes} bytes of messages while the answers to earlier ones went unread`,
      );
      return;
    }
    if (!this.#releasing) void this.#releaseHeld();
  }

  #dispatch(data: string | Uint8Array): void {
    try {
      if (typeof data === "string") this.#host.dispatcher.handleText(data, this.peer);
      else this.#host.dispatcher.handleBytes(data, this.peer);
    } catch (error) {
      logger.error("Handling a message from {peer} failed: {error}", {
        peer: this.peer.id,
        error: loggableError(error),
      });
    }
  }

  /** Dispatches held messages in order, each once the output is within its bound. */
  async #releaseHeld(): Promise<void> {
    this.#releasing = true;
    try {
      while (this.#heldHead < this.#held.length && this.#pumping()) {
        await this.peer.output.room();
        if (!this.#pumping() || this.#heldHead === this.#held.length) break;
        const data = this.#held[this.#heldHead];
        this.#held[this.#heldHead++] = "";
        this.#heldBytes -= typeof data === "string" ? data.length : data.byteLength;
        if (this.#heldHead === this.#held.length) {
          this.#held = [];
          this.#heldHead = 0;
        }
        this.#dispatch(data);
      }
    } finally {
      this.#releasing = false;
    }
  }

  /**
   * Runs every quarter of the send deadline (at most every second): a client
   * whose socket holds unsent bytes and takes none of them for the send
   * deadline is closed with 4008, whether or not more is waiting to be sent
   * (the pump's own wait covers only a socket over its high-water mark, and
   * Deno's heartbeat ping waits behind the unsent bytes).
   */
  #watchSocket(): void {
    if (!this.#pumping()) {
      clearInterval(this.#watch);
      return;
    }
    const buffered = this.socket.bufferedAmount;
    const written = this.#handedBytes - buffered;
    const now = Date.now();
    if (buffered === 0 || written > this.#lastWritten) this.#stuckSince = now;
    this.#lastWritten = written;
    if (now - this.#stuckSince >= this.#sendDeadlineMs) {
      this.#expire(`${buffered} bytes unsent and none taken for ${this.#sendDeadlineMs} ms`);
    }
  }

  #oversize(bytes: number): void {
    const reason = `Message of ${bytes} bytes exceeds the limit of ${this.#maxFrameBytes}`;
    logger.warn("Closed {peer} ({remote}) with 1009: {reason}", {
      peer: this.peer.id,
      remote: this.#remote,
      reason,
    });
    this.close({ code: CLOSE_CODES.MESSAGE_TOO_BIG, reason, cause: "oversize" });
  }

  #expire(why: string): void {
    if (!this.#pumping()) return;
    logger.warn(
      "Closed {peer} ({remote}) with 4008: the client did not drain its socket ({why}, {buffered} bytes unsent)",
      {
        peer: this.peer.id,
        remote: this.#remote,
        why,
        buffered: this.socket.bufferedAmount,
      },
    );
    this.close({
      code: CLOSE_CODES.SEND_DEADLINE,
      reason: "Send deadline exceeded",
      cause: "send-deadline",
    });
  }

  #onClosed(code: number, reason: string): void {
    if (this.#state === ConnectionState.Closed) return;
    const initiated = this.#end !== undefined;
    this.#state = ConnectionState.Closed;
    if (!initiated) {
      // A close that follows a socket error (Deno drops a connection whose text frame is not
      // UTF-8, with no close frame) is an error, not the client's own close.
      const cause: ConnectionCause = reason === "No response from ping frame."
        ? "heartbeat"
        : this.#socketError !== undefined
        ? "error"
        : "client";
      this.#end = { cause, code, reason: cause === "error" ? this.#socketError! : reason };
      if (cause === "error") {
        logger.info("Closed {peer} ({remote}) after a socket error: {error}", {
          peer: this.peer.id,
          remote: this.#remote,
          error: this.#socketError,
        });
      } else if (cause === "heartbeat") {
        logger.info("Closed {peer} ({remote}): no answer to a heartbeat ping", {
          peer: this.peer.id,
          remote: this.#remote,
        });
      } else {
        logger.debug("{peer} closed by the client: {code} {reason}", {
          peer: this.peer.id,
          code,
          reason,
        });
      }
    }
    this.#releasePeer(this.#end!.cause);
    this.#opened();
    this.#wakeDrained();
    this.#resolveClosed(this.#end!);
  }

  #releasePeer(cause: ConnectionCause): void {
    clearInterval(this.#watch);
    this.#held = [];
    this.#heldHead = 0;
    this.#heldBytes = 0;
    this.peer.close(cause);
    this.#host.close(this.peer, cause);
    this.#wakeDrained();
    this.#resolveEnded(this.#end!);
  }

  async #pump(): Promise<void> {
    await this.#openedPromise;
    const output = this.peer.output;
    while (this.#pumping()) {
      await output.readable();
      if (output.closed || !this.#pumping()) break;
      if (this.socket.bufferedAmount >= this.#highWater) {
        if (!(await this.#waitForRoom())) {
          this.#expire(`more than ${this.#highWater} bytes unsent for ${this.#sendDeadlineMs} ms`);
          break;
        }
        continue;
      }
      const batch = output.take();
      if (batch === undefined) continue;
      try {
        for (const frame of batch.frames) {
          this.socket.send(frame);
          this.#handedBytes += utf8Length(frame);
        }
      } catch (error) {
        output.release(batch.bytes);
        logger.error("Sending to {peer} failed: {error}", { peer: this.peer.id, error });
        this.close({ code: CLOSE_CODES.INTERNAL_ERROR, reason: "Internal error", cause: "error" });
        break;
      }
      this.#messagesOut += batch.frames.length;
      output.release(batch.bytes);
      if (output.empty) this.#wakeDrained();
    }
    this.#wakeDrained();
  }

  /** Waits until the socket buffers less than the high-water mark; false when the deadline passed first. */
  async #waitForRoom(): Promise<boolean> {
    const since = Date.now();
    let delay = 1;
    while (this.#pumping()) {
      await sleep(delay);
      delay = Math.min(delay * 2, 25);
      if (this.socket.bufferedAmount < this.#highWater) return true;
      if (Date.now() - since >= this.#sendDeadlineMs) return false;
    }
    return true;
  }

  #wakeDrained(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }
}
