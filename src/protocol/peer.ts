/**
 * One connected client: its output buffer, its requests in flight, the
 * requests the gateway has sent it, and its lifecycle.
 *
 * @module
 */

import { getLogger } from "./logger.ts";
import { ERROR_CODES } from "./error_codes.ts";
import { JsonRpcError } from "./json_rpc_error.ts";
import type { JsonRpcId, JsonRpcResponse } from "./messages.ts";
import { type DeltaPayload, OutputBuffer, type OutputBufferOptions } from "./output_buffer.ts";

const logger = getLogger(["tuigate", "peer"]);

/**
 * Options for {@linkcode Peer}.
 *
 * @example
 * ```ts
 * import { Peer } from "@tuigate/tuigate";
 * const peer = new Peer({ transport: "pipe", grants: ["jobs"], maxBytes: 1024 * 1024 });
 * peer.grants("jobs"); // true
 * ```
 */
export interface PeerOptions extends OutputBufferOptions {
  /**
   * The transport's name, for logs and `gateway.info`.
   * @default {"stdio"}
   */
  transport?: string;
  /**
   * Capabilities the transport grants, for example `"jobs"`.
   * @default {[]}
   */
  grants?: Iterable<string>;
}

/**
 * Options for {@linkcode Peer.request}.
 *
 * @example
 * ```ts
 * import { defineMethod, type ServerRequestOptions } from "@tuigate/tuigate";
 * defineMethod({
 *   name: "files.delete",
 *   handler: async (_params, { request, signal }) => {
 *     const options: ServerRequestOptions = { timeout: 60_000, signal };
 *     return await request("ui.confirm", { text: "Delete 3 files?" }, options);
 *   },
 * });
 * ```
 */
export interface ServerRequestOptions {
  /**
   * Milliseconds to wait for the answer.
   * @default {30000}
   */
  timeout?: number;
  /**
   * Cancels the request.
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * The states of a {@linkcode Peer}.
 *
 * @example
 * ```ts
 * import { Peer, PeerState } from "@tuigate/tuigate";
 * const peer = new Peer();
 * peer.beginClose("shutdown");
 * peer.state === PeerState.Closing; // true
 * ```
 */
export enum PeerState {
  /** Accepting messages. */
  Open = "open",
  /** Finishing in-flight work; new requests are refused. */
  Closing = "closing",
  /** Gone. */
  Closed = "closed",
}

interface PendingServerRequest {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  cleanup: () => void;
}

/**
 * A request of a peer being handled. Its `AbortController` is made only when
 * the handler first looks at `signal`, so handlers that never do cost
 * nothing for it.
 *
 * @example
 * ```ts
 * import { InflightRequest } from "@tuigate/tuigate";
 * const request = new InflightRequest(1, "files.list");
 * request.abort(new Error("Cancelled"));
 * request.signal.aborted; // true
 * ```
 */
export class InflightRequest {
  /** The request id (`undefined` for a notification). */
  readonly id: JsonRpcId | undefined;
  /** The method. */
  readonly method: string;
  /** Whether a response has been queued. */
  answered = false;
  /** Whether the handler has started. */
  started = false;
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;

  /** Makes a record for a request (or a notification, with `id` undefined). */
  constructor(id: JsonRpcId | undefined, method: string) {
    this.id = id;
    this.method = method;
  }

  /** The handler's signal. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether the request was aborted. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Aborts the handler's signal with a reason. Idempotent. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

let peerCounter = 0;

/**
 * The prefix of server-to-client request ids: `tuigate:` and 48 random bits
 * drawn once per process, so that no id a client picks for its own requests
 * can equal one (`tuigate:1` is not enough: a client may number its own so).
 */
const SERVER_REQUEST_PREFIX = `tuigate:${randomHex(6)}:`;

/** `count` random bytes as lowercase hex digits. */
function randomHex(count: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(count));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * One connected client. Transports create it, feed its frames to a
 * dispatcher and write what its {@linkcode Peer.output} yields.
 *
 * @example A transport of your own
 * ```ts
 * import { Gateway, Peer } from "@tuigate/tuigate";
 * const gateway = new Gateway();
 * const peer = new Peer({ transport: "memory" });
 * gateway.open(peer); // queues gateway.ready
 * gateway.dispatcher.handleText('{"jsonrpc":"2.0","id":1,"method":"gateway.ping"}', peer);
 * await gateway.dispatcher.idle();
 * const batch = peer.output.take(); // { frames: [gateway.ready, the ping's answer], bytes }
 * if (batch) peer.output.release(batch.bytes);
 * peer.close("done");
 * gateway.close(peer, "done");
 * ```
 */
export class Peer {
  /** A unique id, for example `"stdio-1"`. */
  readonly id: string;
  /** The transport's name. */
  readonly transport: string;
  /** The bounded output of this peer. */
  readonly output: OutputBuffer;
  /** Requests in flight, by id (a `Map` tells `1` and `"1"` apart). */
  readonly inflight: Map<JsonRpcId, InflightRequest> = new Map();
  /** Notification handlers running now. */
  readonly notifications: Set<InflightRequest> = new Set();
  #clientCapabilities: Readonly<Record<string, unknown>> = {};
  #framesIn = 0;
  #grants: Set<string>;
  #state: PeerState = PeerState.Open;
  #pending = new Map<string, PendingServerRequest>();
  #nextRequest = 1;
  #closeListeners = new Set<(reason: string) => void>();
  #closeReason: string | undefined;
  #finishing = false;

  /** Makes an open peer. */
  constructor(options: PeerOptions = {}) {
    this.transport = options.transport ?? "stdio";
    this.id = `${this.transport}-${++peerCounter}`;
    this.#grants = new Set(options.grants ?? []);
    this.output = new OutputBuffer(options);
  }

  /**
   * Whether the peer is closing but lets what it already accepted finish:
   * between {@linkcode Peer.finish} and {@linkcode Peer.beginClose}.
   */
  get finishing(): boolean {
    return this.#finishing;
  }

  /** The current state. */
  get state(): PeerState {
    return this.#state;
  }

  /** Why the peer closed, once it has. */
  get closeReason(): string | undefined {
    return this.#closeReason;
  }

  /** What the client announced with `client.capabilities`. */
  get clientCapabilities(): Readonly<Record<string, unknown>> {
    return this.#clientCapabilities;
  }

  /** Merges capabilities the client announced into {@linkcode Peer.clientCapabilities}; returns the result. */
  announceCapabilities(capabilities: Record<string, unknown>): Readonly<Record<string, unknown>> {
    this.#clientCapabilities = { ...this.#clientCapabilities, ...capabilities };
    return this.#clientCapabilities;
  }

  /** Frames received. */
  get framesIn(): number {
    return this.#framesIn;
  }

  /** Counts one frame received. */
  countFrameIn(): void {
    this.#framesIn++;
  }

  /** Whether the transport grants a capability. */
  grants(capability: string): boolean {
    return this.#grants.has(capability);
  }

  /** Queues a serialised control frame. */
  sendFrame(text: string): Promise<void> {
    return this.output.pushControl(text);
  }

  /**
   * Sends a control notification. Await it to be held back while the client
   * is behind (see {@linkcode OutputBuffer.pushControl}).
   */
  notify(method: string, params?: unknown): Promise<void> {
    if (this.#state === PeerState.Closed) return Promise.resolve();
    const message = params === undefined
      ? { jsonrpc: "2.0", method }
      : { jsonrpc: "2.0", method, params };
    return this.output.pushControl(JSON.stringify(message));
  }

  /** Sends a coalescable delta notification. */
  delta(key: string, method: string, params: Record<string, unknown>, payload: DeltaPayload): void {
    if (this.#state === PeerState.Closed) return;
    this.output.pushDelta(key, method, params, payload);
  }

  /** Registers a listener called once when the peer closes. Returns a function that removes it. */
  onClose(listener: (reason: string) => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /**
   * Sends a request to the client and resolves with its result. Fails at
   * once unless the client announced `serverRequests`. On timeout, cancel or
   * close, the client gets exactly one `request.cancel` notification.
   */
  request(method: string, params?: unknown, options: ServerRequestOptions = {}): Promise<unknown> {
    if (this.#state !== PeerState.Open) {
      return Promise.reject(
        JsonRpcError.from(
          "CONNECTION_CLOSED",
          { method },
          `Cannot send request "${method}": the connection is closing`,
        ),
      );
    }
    if (this.clientCapabilities.serverRequests !== true) {
      return Promise.reject(
        JsonRpcError.from(
          "SERVER_REQUESTS_UNSUPPORTED",
          { method },
          `Cannot send request "${method}": the client did not announce serverRequests with client.capabilities`,
        ),
      );
    }
    const signal = options.signal;
    if (signal?.aborted) {
      return Promise.reject(
        JsonRpcError.from(
          "REQUEST_CANCELLED",
          { method },
          `Request "${method}" not sent: its signal was already aborted`,
        ),
      );
    }
    const id = `${SERVER_REQUEST_PREFIX}${this.#nextRequest++}`;
    const timeoutMs = options.timeout ?? 30_000;
    return new Promise<unknown>((resolve, reject) => {
      // A handler aborted by its method's own deadline tells the client "timeout".
      const onAbort = () =>
        this.#cancelServerRequest(
          id,
          signal?.reason instanceof JsonRpcError &&
            signal.reason.code === ERROR_CODES.REQUEST_TIMEOUT.code
            ? "timeout"
            : "cancelled",
          JsonRpcError.from(
            "REQUEST_CANCELLED",
            { method, id },
            `Request "${method}" cancelled: its signal was aborted`,
          ),
        );
      const timer = setTimeout(() =>
        this.#cancelServerRequest(
          id,
          "timeout",
          JsonRpcError.from(
            "REQUEST_TIMEOUT",
            { method, id, timeoutMs },
            `Request "${method}" timed out after ${timeoutMs} ms`,
          ),
        ), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        method,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      });
      const message = params === undefined
        ? { jsonrpc: "2.0", id, method }
        : { jsonrpc: "2.0", id, method, params };
      this.output.pushControl(JSON.stringify(message));
    });
  }

  /** Settles a pending server request with the client's response. Late or unknown responses are logged and dropped. */
  handleResponse(message: JsonRpcResponse): void {
    const key = typeof message.id === "string" ? message.id : String(message.id);
    const pending = this.#takePending(key);
    if (pending === undefined) {
      logger.warn("Dropped a response for unknown or settled request {id}", { id: message.id });
      return;
    }
    if ("error" in message) {
      const error = message.error;
      pending.reject(new JsonRpcError(error.code, error.message, error.data));
    } else {
      pending.resolve(message.result);
    }
  }

  /**
   * Settles a pending server request whose answer from the client was not a
   * valid response (both `result` and `error`, say): it rejects with -32600
   * and `reason`, at once rather than at its timeout. Returns whether `id`
   * was pending.
   *
   * @example
   * ```ts
   * import { Peer } from "@tuigate/tuigate";
   * const peer = new Peer({ transport: "test" });
   * peer.rejectInvalidResponse("tuigate:0123456789ab:1", "Both result and error"); // false: not pending
   * ```
   */
  rejectInvalidResponse(id: string, reason: string): boolean {
    const pending = this.#takePending(id);
    if (pending === undefined) return false;
    pending.reject(
      JsonRpcError.from(
        "INVALID_REQUEST",
        { id, reason },
        `The client's answer to ${pending.method} (${id}) is not a valid response: ${reason}`,
      ),
    );
    return true;
  }

  /** Server requests waiting for an answer. */
  get pendingServerRequests(): number {
    return this.#pending.size;
  }

  /** Removes a pending server request and stops its timer and signal listener; `undefined` if none. */
  #takePending(id: string): PendingServerRequest | undefined {
    const pending = this.#pending.get(id);
    if (pending === undefined) return undefined;
    this.#pending.delete(id);
    pending.cleanup();
    return pending;
  }

  #cancelServerRequest(id: string, reason: string, error: JsonRpcError): void {
    const pending = this.#takePending(id);
    if (pending === undefined) return;
    if (this.#state !== PeerState.Closed) {
      this.output.pushControl(
        JSON.stringify({ jsonrpc: "2.0", method: "request.cancel", params: { id, reason } }),
      );
    }
    pending.reject(error);
  }

  /**
   * Settles every pending server request now with -32002 (`reason` in its
   * data), as closing does, while the peer's own requests go on: for when the
   * client can no longer answer (its input ended) but may still read.
   *
   * @example
   * ```ts
   * import { Peer } from "@tuigate/tuigate";
   * const peer = new Peer();
   * peer.cancelServerRequests("stdin-eof");
   * peer.pendingServerRequests; // 0
   * ```
   */
  cancelServerRequests(reason: string): void {
    const error = JsonRpcError.from(
      "CONNECTION_CLOSED",
      { reason },
      `Connection closed: ${reason}`,
    );
    for (const id of [...this.#pending.keys()]) this.#cancelServerRequest(id, reason, error);
  }

  /**
   * Starts closing gently: new requests are refused (-32002), but requests
   * already accepted, running or queued, go on and are answered. Call
   * {@linkcode Peer.beginClose} when they may run no longer. Idempotent.
   *
   * @example
   * ```ts
   * import { Peer } from "@tuigate/tuigate";
   * const peer = new Peer();
   * peer.finish("shutdown");
   * peer.finishing; // true: in-flight handlers are not aborted yet
   * peer.beginClose("shutdown");
   * peer.finishing; // false: now they are
   * ```
   */
  finish(reason: string): void {
    if (this.#state !== PeerState.Open) return;
    this.#state = PeerState.Closing;
    this.#finishing = true;
    this.#closeReason = reason;
  }

  /**
   * Starts closing: new requests are refused, every in-flight handler's
   * signal is aborted and every pending server request is settled with
   * -32002. Output still drains. Idempotent.
   */
  beginClose(reason: string): void {
    if (this.#state === PeerState.Closed) return;
    if (this.#state === PeerState.Closing && !this.#finishing) return;
    this.#state = PeerState.Closing;
    this.#finishing = false;
    this.#closeReason ??= reason;
    reason = this.#closeReason;
    this.cancelServerRequests(reason);
    const error = JsonRpcError.from(
      "CONNECTION_CLOSED",
      { reason },
      `Connection closed: ${reason}`,
    );
    for (const request of this.inflight.values()) request.abort(error);
    for (const request of this.notifications) request.abort(error);
  }

  /** Closes the peer at once: drops queued output and tells close listeners. Idempotent. */
  close(reason: string): void {
    if (this.#state === PeerState.Closed) return;
    this.beginClose(reason);
    this.#state = PeerState.Closed;
    this.output.close();
    for (const listener of this.#closeListeners) {
      try {
        listener(this.#closeReason ?? reason);
      } catch (error) {
        logger.error("A close listener of {peer} threw: {error}", { peer: this.id, error });
      }
    }
    this.#closeListeners.clear();
  }
}
