/**
 * Routes JSON-RPC frames to method handlers: batches, notifications,
 * cancellation, timeouts, a concurrency limit with an overload error, and
 * sequential methods.
 *
 * @module
 */

import type { ZodType } from "zod";
import { decodeUtf8 } from "./bytes.ts";
import { loggableError } from "./loggable_error.ts";
import { getLogger, type Logger } from "./logger.ts";
import type { DeltaPayload } from "./output_buffer.ts";
import { ERROR_CODES } from "./error_codes.ts";
import { exactIdOf, isInexactId, parseExactIds, withExactId } from "./exact_ids.ts";
import { JsonRpcError, type JsonRpcErrorObject } from "./json_rpc_error.ts";
import { classifyMessage, type JsonRpcId, type JsonRpcRequest } from "./messages.ts";
import type { AnyMethodDefinition, MethodContext, MethodDefinition } from "./method.ts";
import { InflightRequest, type Peer, PeerState, type ServerRequestOptions } from "./peer.ts";
import { acceptsAbsent, nameParams, paramNamesOf } from "./_param_names.ts";
import { runInContext } from "./request_scope.ts";
import { nextTurn, turnOverdue } from "./turn_budget.ts";

const logger = getLogger(["tuigate", "dispatcher"]);

/**
 * Options for {@linkcode Dispatcher}; {@linkcode Gateway} takes them too.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * const gateway = new Gateway({ maxInflight: 8, maxQueued: 64, retryAfterMs: 250 });
 * gateway.dispatcher.limits; // { maxInflight: 8, maxQueued: 64 }
 * ```
 */
export interface DispatcherOptions {
  /**
   * Handlers that may run at once.
   * @default {64}
   */
  maxInflight?: number;
  /**
   * Requests that may wait for a free slot; beyond that they are refused with -32000.
   * @default {1024}
   */
  maxQueued?: number;
  /**
   * The `retryAfterMs` hint sent with an overload error.
   * @default {100}
   */
  retryAfterMs?: number;
}

/**
 * Counters reported by {@linkcode Dispatcher.stats}.
 *
 * @example
 * ```ts
 * import { type DispatcherStats, Gateway } from "@tuigate/tuigate";
 * const gateway = new Gateway();
 * const stats: DispatcherStats = gateway.dispatcher.stats();
 * const busy = stats.inflight + stats.queued > 0;
 * ```
 */
export interface DispatcherStats {
  /** Handlers running now. */
  inflight: number;
  /** Requests waiting for a slot now. */
  queued: number;
  /** Requests received. */
  requests: number;
  /** Notifications received. */
  notifications: number;
  /** Error responses sent. */
  errors: number;
  /** Requests refused with the overload error. */
  overloaded: number;
  /** Requests cancelled. */
  cancelled: number;
  /** Requests that timed out. */
  timedOut: number;
}

type Respond = (text: string) => void;

interface Call {
  peer: Peer;
  definition: MethodDefinition;
  message: JsonRpcRequest;
  respond: Respond | undefined;
  record: InflightRequest | undefined;
  /** Arrival order, so that waiting calls start in the order they came. */
  seq: number;
  timer?: ReturnType<typeof setTimeout>;
  /** Answered (cancelled, say) while it waited: it is skipped, and no longer counts as queued. */
  dropped?: boolean;
}

/**
 * The record of a request that knows its call, so that a cancellation can
 * find it. (A `WeakMap` from record to call cost every request ephemeron
 * work in the garbage collector: about a quarter of the throughput.)
 */
class CallRecord extends InflightRequest {
  call: Call | undefined = undefined;
  /** The key in `peer.inflight`: the id, or its exact digits when it lost some (see exact_ids.ts). */
  key: JsonRpcId = null;
  /** The dispatcher that answers it. */
  owner: Dispatcher | undefined = undefined;

  /**
   * Aborted from outside (its peer closing): the request is answered at once
   * with the named error, so a handler that ignores its signal cannot hold
   * the answer back; what it returns later is dropped.
   */
  override abort(reason: unknown): void {
    const call = this.call;
    if (!this.answered && call !== undefined && reason instanceof JsonRpcError) {
      this.owner?.[ANSWER_EARLY](call, reason); // answers, then comes back here with `answered` set
      return;
    }
    super.abort(reason);
  }
}

/** The dispatcher's answer-now method, for its own call records only (the symbol is not exported). */
const ANSWER_EARLY = Symbol("answerEarly");

/** The in-flight key of a request or of `$/cancelRequest`'s params: its id, exactly. */
function inflightKey(holder: { id?: unknown }): JsonRpcId {
  const source = exactIdOf(holder);
  return source === undefined ? holder.id as JsonRpcId : `\u0000exact:${source}`;
}

const CANCEL_METHOD = "$/cancelRequest";

/**
 * Whether `JSON.stringify(value)` gives JSON or throws, but cannot give
 * `undefined` (as a function, a symbol or a `toJSON()` that returns
 * `undefined` do). May throw (a hostile `Proxy`).
 */
function surelyHasJson(value: unknown): boolean {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return true;
    case "object":
      // `in`, not a read of `toJSON`: as fast whatever the object, and a toJSON that is not a
      // function only sends it the careful way.
      return value === null || !("toJSON" in value);
    default:
      return false;
  }
}

/** The context a handler receives: one small object per call, its signal made on first use. */
class RequestContext implements MethodContext {
  readonly peer: Peer;
  readonly id: JsonRpcId | undefined;
  #record: InflightRequest;

  constructor(peer: Peer, record: InflightRequest, id: JsonRpcId | undefined) {
    this.peer = peer;
    this.#record = record;
    this.id = id;
  }

  get signal(): AbortSignal {
    return this.#record.signal;
  }

  get method(): string {
    return this.#record.method;
  }

  get logger(): Logger {
    return getLogger(["tuigate", "method", this.#record.method]);
  }

  notify(method: string, params?: unknown): Promise<void> {
    return this.peer.notify(method, params);
  }

  delta(key: string, method: string, params: Record<string, unknown>, payload: DeltaPayload): void {
    this.peer.delta(key, method, params, payload);
  }

  request(method: string, params?: unknown, options?: ServerRequestOptions): Promise<unknown> {
    const signal = this.#record.signal;
    return this.peer.request(method, params, {
      ...options,
      signal: options?.signal ? AbortSignal.any([options.signal, signal]) : signal,
    });
  }
}

/**
 * Params given by position to a method whose schema names them: named in the
 * schema's order (the order `rpc.discover` lists them in). Arrays for other
 * schemas are left as they are.
 */
function byName(params: unknown[], schema: ZodType, method: string): unknown {
  const names = paramNamesOf(schema);
  if (names === null) return params;
  const named = nameParams(params, names);
  if (named !== undefined) return named;
  throw JsonRpcError.from(
    "INVALID_PARAMS",
    { method, issues: [{ path: "", message: "Too many params", code: "too_big" }] },
    `Invalid params for ${method}: it takes at most ${names.length} params by position (${
      names.join(", ") || "none"
    }), got ${params.length}`,
  );
}

/** Whether a parsed message (or `$/cancelRequest`'s params) carries an integer id that lost digits. */
function hasInexactId(message: unknown): boolean {
  if (typeof message !== "object" || message === null) return false;
  const { id, params } = message as { id?: unknown; params?: unknown };
  return isInexactId(id) ||
    (typeof params === "object" && params !== null && isInexactId((params as { id?: unknown }).id));
}

/** Wraps `respond` so that the answer to `message` carries its id's exact digits, if it has some. */
function exact(message: unknown, respond: (frame: string) => void): (frame: string) => void {
  const source = exactIdOf(message);
  return source === undefined ? respond : (frame) => respond(withExactId(frame, source));
}

/**
 * Serialises an error response. Data that cannot be serialised (a BigInt,
 * a cycle) is left out, with a warning in the log; the code and message stay.
 *
 * @example
 * ```ts
 * import { errorFrame, JsonRpcError } from "@tuigate/tuigate";
 * errorFrame(7, JsonRpcError.from("METHOD_NOT_FOUND").toJson());
 * // '{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found"}}'
 * ```
 */
export function errorFrame(id: JsonRpcId, error: JsonRpcErrorObject): string {
  try {
    return JSON.stringify({ jsonrpc: "2.0", id, error });
  } catch (reason) {
    logger.warn(
      "Error {code} {message} is sent without its data, which cannot be serialised: {reason}",
      {
        code: error.code,
        message: error.message,
        reason: reason instanceof Error ? reason.message : String(reason),
      },
    );
    return JSON.stringify({
      jsonrpc: "2.0",
      id,
      error: { code: error.code, message: error.message },
    });
  }
}

/**
 * The method registry and router. One dispatcher serves every peer of a
 * gateway; its limits are gateway-wide.
 *
 * @example
 * ```ts
 * import { Dispatcher, Peer } from "@tuigate/tuigate";
 * const dispatcher = new Dispatcher();
 * dispatcher.register({ name: "hello", handler: () => "world" });
 * const peer = new Peer();
 * dispatcher.handleText('{"jsonrpc":"2.0","id":1,"method":"hello"}', peer);
 * ```
 */
export class Dispatcher {
  #methods = new Map<string, MethodDefinition>();
  #maxInflight: number;
  #maxQueued: number;
  #retryAfterMs: number;
  #running = 0;
  #queue: Call[] = [];
  #queueHead = 0;
  #pumpScheduled = false;
  #sequential = new Map<string, { busy: boolean; waiting: Call[] }>();
  #sequentialWaiting = 0;
  /** Waiting calls already answered (cancelled): still in a queue until their turn, but not queued work. */
  #droppedWaiting = 0;
  #idleWaiters: (() => void)[] = [];
  #arrivals = 0;
  #pumping = false;
  #stats = { requests: 0, notifications: 0, errors: 0, overloaded: 0, cancelled: 0, timedOut: 0 };

  /** Makes an empty dispatcher. */
  constructor(options: DispatcherOptions = {}) {
    this.#maxInflight = options.maxInflight ?? 64;
    this.#maxQueued = options.maxQueued ?? 1024;
    this.#retryAfterMs = options.retryAfterMs ?? 100;
  }

  /** Registers a method. Throws a `TypeError` if the name is taken. */
  register(definition: AnyMethodDefinition): void {
    const method = definition as MethodDefinition;
    if (this.#methods.has(method.name)) {
      throw new TypeError(
        `Cannot register method "${method.name}": the name is already registered`,
      );
    }
    this.#methods.set(method.name, method);
  }

  /** The registered methods, in registration order. */
  methods(): MethodDefinition[] {
    return [...this.#methods.values()];
  }

  /** Current counters. */
  stats(): DispatcherStats {
    return { inflight: this.#running, queued: this.#waiting(), ...this.#stats };
  }

  /** The limits in force. */
  get limits(): { maxInflight: number; maxQueued: number } {
    return { maxInflight: this.#maxInflight, maxQueued: this.#maxQueued };
  }

  /** Resolves when no handler is running or waiting. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#waiting() === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Handles one frame of UTF-8 bytes from a peer. The bytes are decoded before this returns. */
  handleBytes(bytes: Uint8Array, peer: Peer): void {
    let text: string;
    try {
      text = decodeUtf8(bytes);
    } catch {
      this.#sendError(peer, null, "PARSE_ERROR", { reason: "The frame is not valid UTF-8" });
      return;
    }
    this.handleText(text, peer);
  }

  /** Handles one frame of text from a peer. */
  handleText(text: string, peer: Peer): void {
    peer.countFrameIn();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.#sendError(peer, null, "PARSE_ERROR", { reason: (error as Error).message });
      return;
    }
    if (Array.isArray(value) ? value.some(hasInexactId) : hasInexactId(value)) {
      // Rare: an integer id beyond 2^53. Parse again keeping its digits.
      value = parseExactIds(text);
    }
    if (!Array.isArray(value)) {
      this.#handleMessage(value, peer, exact(value, (frame) => void peer.sendFrame(frame)));
      return;
    }
    if (value.length === 0) {
      this.#sendError(peer, null, "INVALID_REQUEST", { reason: "A batch must not be empty" });
      return;
    }
    this.#handleBatch(value, peer);
  }

  /** Answers a frame that exceeded the size limit. */
  rejectOversize(peer: Peer, bytes: number, limit: number): void {
    this.#sendError(
      peer,
      null,
      "INVALID_REQUEST",
      { limit, bytes },
      `Frame of ${bytes} bytes exceeds the limit of ${limit} bytes`,
    );
  }

  /** Answers a frame whose header block (LSP framing) could not be read. */
  rejectHeader(peer: Peer, reason: string): void {
    this.#sendError(peer, null, "PARSE_ERROR", { reason });
  }

  #handleBatch(values: unknown[], peer: Peer): void {
    const parts: string[] = [];
    let outstanding = values.length;
    const settle = () => {
      if (--outstanding === 0 && parts.length > 0) {
        void peer.sendFrame(`[${parts.join(",")}]`);
      }
    };
    for (const value of values) {
      let answered = false;
      const done = this.#handleMessage(
        value,
        peer,
        exact(value, (frame) => {
          if (answered) return;
          answered = true;
          parts.push(frame);
          settle();
        }),
      );
      if (!done) {
        // No response will come for this member (a notification or a response).
        settle();
      }
    }
  }

  /** Returns whether a response will be produced through `respond`. */
  #handleMessage(value: unknown, peer: Peer, respond: Respond): boolean {
    const classified = classifyMessage(value);
    switch (classified.kind) {
      case "invalid":
        this.#stats.errors++;
        if (
          typeof value === "object" && value !== null && !("method" in value) &&
          typeof (value as { id?: unknown }).id === "string"
        ) {
          // A broken answer to one of our own requests: its handler hears so now, not at its timeout.
          peer.rejectInvalidResponse((value as { id: string }).id, classified.reason);
        }
        respond(errorFrame(classified.id, {
          code: ERROR_CODES.INVALID_REQUEST.code,
          message: ERROR_CODES.INVALID_REQUEST.message,
          data: { reason: classified.reason },
        }));
        return true;
      case "response":
        peer.handleResponse(classified.message);
        return false;
      case "notification":
        this.#stats.notifications++;
        this.#handleNotification(classified.message, peer);
        return false;
      case "request":
        this.#stats.requests++;
        this.#handleRequest(classified.message, peer, respond);
        return true;
    }
  }

  #handleNotification(message: JsonRpcRequest, peer: Peer): void {
    if (message.method === CANCEL_METHOD) {
      const params = message.params as { id?: unknown } | undefined;
      const id = params && !Array.isArray(params) ? params.id : undefined;
      if (typeof id === "string" || typeof id === "number" || id === null) {
        this.#cancel(peer, inflightKey(params!));
      }
      return;
    }
    const definition = this.#methods.get(message.method);
    if (definition === undefined) {
      logger.debug("Ignored notification for unknown method {method}", { method: message.method });
      return;
    }
    if (definition.requires !== undefined && !peer.grants(definition.requires)) return;
    if (peer.state !== PeerState.Open) return;
    this.#admit({
      peer,
      definition,
      message,
      respond: undefined,
      record: undefined,
      seq: ++this.#arrivals,
    });
  }

  #handleRequest(message: JsonRpcRequest & { id: JsonRpcId }, peer: Peer, respond: Respond): void {
    const id = message.id;
    const definition = this.#methods.get(message.method);
    if (definition === undefined) {
      this.#stats.errors++;
      respond(errorFrame(id, {
        code: ERROR_CODES.METHOD_NOT_FOUND.code,
        message: "Method not found",
        data: { method: message.method },
      }));
      return;
    }
    if (definition.requires !== undefined && !peer.grants(definition.requires)) {
      this.#stats.errors++;
      respond(errorFrame(id, {
        code: ERROR_CODES.METHOD_DISABLED.code,
        message: `Method ${message.method} is disabled on the ${peer.transport} transport`,
        data: { method: message.method, requires: definition.requires },
      }));
      return;
    }
    if (peer.state !== PeerState.Open) {
      this.#stats.errors++;
      respond(
        errorFrame(
          id,
          JsonRpcError.from(
            "CONNECTION_CLOSED",
            { reason: peer.closeReason },
            `Request not started: the connection is closing (${peer.closeReason})`,
          ).toJson(),
        ),
      );
      return;
    }
    const record = new CallRecord(id, message.method);
    const call: Call = { peer, definition, message, respond, record, seq: ++this.#arrivals };
    record.call = call;
    const key = record.key = inflightKey(message);
    record.owner = this;
    // Registered before admission: a synchronous handler finishes inside #admit.
    peer.inflight.set(key, record);
    if (!this.#admit(call) && peer.inflight.get(key) === record) peer.inflight.delete(key);
  }

  /** Starts, queues or refuses a call. Returns false when refused. */
  #admit(call: Call): boolean {
    const sequential = call.definition.sequential === true;
    if (sequential) {
      const lane = this.#lane(call.definition.name);
      if (lane.busy) {
        if (this.#waiting() >= this.#maxQueued) return this.#refuse(call);
        lane.waiting.push(call);
        this.#sequentialWaiting++;
        return true;
      }
      lane.busy = true;
    }
    if (this.#running < this.#maxInflight && this.#queueHead === this.#queue.length) {
      this.#start(call);
      return true;
    }
    if (this.#waiting() >= this.#maxQueued) {
      if (sequential) this.#lane(call.definition.name).busy = false;
      return this.#refuse(call);
    }
    this.#enqueue(call);
    this.#pump();
    return true;
  }

  /** Queues a call in arrival order (a sequential call released by its lane may have arrived early). */
  #enqueue(call: Call): void {
    const queue = this.#queue;
    if (queue.length === this.#queueHead || queue[queue.length - 1].seq < call.seq) {
      queue.push(call);
      return;
    }
    let low = this.#queueHead;
    let high = queue.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (queue[mid].seq < call.seq) low = mid + 1;
      else high = mid;
    }
    queue.splice(low, 0, call);
  }

  #lane(name: string): { busy: boolean; waiting: Call[] } {
    let lane = this.#sequential.get(name);
    if (lane === undefined) {
      lane = { busy: false, waiting: [] };
      this.#sequential.set(name, lane);
    }
    return lane;
  }

  /**
   * Calls waiting for a slot. Answered ones waiting to be skipped do not
   * count, up to max-queued of them: beyond that they do, so that a client
   * cancelling what it queues cannot pile up calls while every slot is held.
   */
  #waiting(): number {
    const free = Math.min(this.#droppedWaiting, this.#maxQueued);
    return this.#queue.length - this.#queueHead + this.#sequentialWaiting - free;
  }

  #refuse(call: Call): boolean {
    this.#stats.overloaded++;
    if (call.respond === undefined) {
      logger.warn("Dropped notification {method}: gateway overloaded", {
        method: call.message.method,
      });
      return false;
    }
    this.#stats.errors++;
    call.respond(errorFrame(call.message.id ?? null, {
      code: ERROR_CODES.OVERLOADED.code,
      message:
        `Gateway overloaded: ${this.#running} requests in flight and ${this.#waiting()} queued`,
      data: {
        inflight: this.#running,
        queued: this.#waiting(),
        maxInflight: this.#maxInflight,
        maxQueued: this.#maxQueued,
        retryAfterMs: this.#retryAfterMs,
      },
    }));
    return false;
  }

  /**
   * Cancels a request of a peer: a queued one is dropped, a running one has
   * its signal aborted; either is answered with -32800 unless already
   * answered. Unknown ids are ignored.
   */
  cancel(peer: Peer, id: string | number): void {
    this.#cancel(peer, id);
  }

  #cancel(peer: Peer, key: JsonRpcId): void {
    const record = peer.inflight.get(key);
    const id = record?.id ?? null;
    const call = record instanceof CallRecord ? record.call : undefined;
    if (record === undefined || call === undefined || record.answered) return;
    this.#stats.cancelled++;
    const error = JsonRpcError.from(
      "REQUEST_CANCELLED",
      { id },
      `Request ${exactIdOf(call.message) ?? JSON.stringify(id)} cancelled by the client`,
    );
    this.#answerEarly(call, error);
  }

  /**
   * Answers one of this dispatcher's own calls now (see `CallRecord.abort`).
   *
   * @ignore
   */
  [ANSWER_EARLY](call: Call, error: JsonRpcError): void {
    this.#answerEarly(call, error);
  }

  /** Answers a call now (cancelled or timed out) through its own channel, batch or not, and aborts its signal. */
  #answerEarly(call: Call, error: JsonRpcError): void {
    const record = call.record!;
    record.answered = true;
    this.#stats.errors++;
    call.respond?.(errorFrame(record.id ?? null, error.toJson()));
    record.abort(error);
    if (!record.started && !call.dropped) {
      call.dropped = true;
      this.#droppedWaiting++;
      // It waits only to be skipped: its params need not wait with it.
      call.message = { jsonrpc: "2.0", id: call.message.id, method: call.message.method };
      if (record instanceof CallRecord) call.peer.inflight.delete(record.key);
    }
  }

  /**
   * Runs a call. A handler that returns synchronously is answered and its
   * slot released before this returns; an async one holds its slot until it
   * settles.
   */
  #start(call: Call): void {
    this.#running++;
    let outcome: unknown;
    try {
      outcome = this.#invoke(call);
    } catch (error) {
      this.#settle(call, false, error);
      this.#finish(call, true);
      return;
    }
    if (outcome instanceof Promise) {
      outcome.then(
        (result) => this.#settle(call, true, result),
        (error) => this.#settle(call, false, error),
      ).finally(() => this.#finish(call, true));
    } else {
      this.#settle(call, true, outcome);
      this.#finish(call, true);
    }
  }

  /** Releases what a call held (its slot if it ran, its lane) and starts what was waiting. */
  #finish(call: Call, ran: boolean): void {
    if (ran) this.#running--;
    const record = call.record;
    if (call.respond === undefined) {
      if (record !== undefined) call.peer.notifications.delete(record);
    } else if (record instanceof CallRecord) {
      if (call.peer.inflight.get(record.key) === record) call.peer.inflight.delete(record.key);
      // The ambient context may keep the record alive for a while: not the call and its params.
      record.call = undefined;
    }
    if (call.definition.sequential === true) {
      const lane = this.#lane(call.definition.name);
      const next = lane.waiting.shift();
      if (next === undefined) {
        lane.busy = false;
      } else {
        // The lane stays busy for `next`, which waits its turn with everything else.
        this.#sequentialWaiting--;
        this.#enqueue(next);
      }
    }
    this.#pump();
  }

  /** Starts waiting calls while slots are free. Iterative: nested calls from synchronous handlers only mark work. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#running < this.#maxInflight && this.#queueHead < this.#queue.length) {
        if (turnOverdue()) {
          // A long chain of calls (each one's end starts the next) would hold the event loop:
          // the rest start on a later turn, after signals and I/O are served.
          this.#pumpLater();
          break;
        }
        const next = this.#queue[this.#queueHead];
        this.#queue[this.#queueHead++] = undefined as unknown as Call;
        if (this.#skip(next)) {
          if (next.dropped) this.#droppedWaiting--;
          this.#finish(next, false);
          continue;
        }
        this.#start(next);
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#queueHead > 0 && this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    }
    if (this.#idleWaiters.length > 0 && this.#running === 0 && this.#waiting() === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  #pumpLater(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    void nextTurn().then(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Whether a waiting call should not run: cancelled while it waited, or its peer is gone. */
  #skip(call: Call): boolean {
    if (call.record?.answered) return true;
    if (call.peer.state === PeerState.Open || call.peer.finishing) return false;
    if (call.record !== undefined && call.respond !== undefined) {
      this.#answerEarly(
        call,
        JsonRpcError.from(
          "CONNECTION_CLOSED",
          { reason: call.peer.closeReason },
          `Request not started: the connection is closing (${call.peer.closeReason})`,
        ),
      );
    }
    return true;
  }

  /** Validates params and calls the handler in its context; returns its result or promise. */
  #invoke(call: Call): unknown {
    const { peer, definition, message } = call;
    let record = call.record;
    if (record === undefined) {
      // A notification: tracked so that closing the peer aborts it too.
      record = call.record = new InflightRequest(undefined, message.method);
      peer.notifications.add(record);
    }
    if (record.answered) return undefined;
    record.started = true;
    if (definition.timeoutMs !== undefined && call.respond !== undefined) {
      const timeoutMs = definition.timeoutMs;
      call.timer = setTimeout(() => {
        if (record.answered) return;
        this.#stats.timedOut++;
        this.#answerEarly(
          call,
          JsonRpcError.from(
            "REQUEST_TIMEOUT",
            { method: message.method, timeoutMs },
            `Method ${message.method} timed out after ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
    }
    let params: unknown = message.params;
    if (definition.params !== undefined) {
      if (Array.isArray(params)) params = byName(params, definition.params, message.method);
      // Absent params are `undefined` to a schema that takes that (`optional()`, `default()`),
      // and `{}` to any other, so that its fields' own defaults apply.
      const parsed = definition.params.safeParse(
        params === undefined && !acceptsAbsent(definition.params) ? {} : params,
      );
      if (!parsed.success) {
        const issues = parsed.error.issues.map((issue) => ({
          path: issue.path.map(String).join("."),
          message: issue.message,
          code: issue.code,
        }));
        throw JsonRpcError.from(
          "INVALID_PARAMS",
          { method: message.method, issues },
          `Invalid params for ${message.method}: ${
            issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")
          }`,
        );
      }
      params = parsed.data;
    }
    const context = new RequestContext(peer, record, message.id);
    return runInContext(context, () => definition.handler(params, context));
  }

  /** Answers a call with its outcome, unless it was already answered. */
  #settle(call: Call, ok: boolean, value: unknown): void {
    clearTimeout(call.timer);
    if (!ok) {
      this.#fail(call, value);
      return;
    }
    const { record, message } = call;
    if (call.respond === undefined || record === undefined || record.answered) return;
    let frame: string | undefined;
    let reason = "it has no JSON form (a function or a symbol, say)";
    try {
      const result = value === undefined ? null : value;
      if (surelyHasJson(result)) {
        // One pass over the whole frame: building it around the result's JSON would copy a
        // large result once more, and leave one more large string for the collector.
        frame = JSON.stringify({ jsonrpc: "2.0", id: message.id, result });
      } else {
        // A function, a symbol, or a toJSON() that returns undefined has no JSON at all.
        const json = JSON.stringify(result);
        if (json !== undefined) {
          frame = `{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"result":${json}}`;
        }
      }
    } catch (error) {
      const loggable = loggableError(error);
      reason = typeof loggable === "string" ? loggable : loggable.message;
    }
    if (frame === undefined) {
      logger.error("Result of {method} could not be serialised: {reason}", {
        method: message.method,
        reason,
      });
      this.#fail(
        call,
        new JsonRpcError(
          ERROR_CODES.INTERNAL_ERROR.code,
          `Result of method ${message.method} could not be serialised: ${reason}`,
          { method: message.method },
        ),
      );
      return;
    }
    record.answered = true;
    // The id comes right after "jsonrpc", as exact ids (exact_ids.ts) expect.
    call.respond(frame);
  }

  #fail(call: Call, error: unknown): void {
    const { record, message } = call;
    if (call.respond === undefined || record === undefined) {
      logger.error("Notification handler {method} failed: {error}", {
        method: message.method,
        error,
      });
      return;
    }
    if (record.answered) return;
    record.answered = true;
    this.#stats.errors++;
    let json: JsonRpcErrorObject | undefined;
    try {
      if (error instanceof JsonRpcError) json = error.toJson();
    } catch {
      // A thrown value that throws when looked at (a hostile Proxy): an internal error.
    }
    if (json === undefined) {
      logger.error("Method {method} threw: {error}", {
        method: message.method,
        error: loggableError(error),
      });
      json = {
        code: ERROR_CODES.INTERNAL_ERROR.code,
        message: `Internal error in method ${message.method}`,
        data: { method: message.method },
      };
    }
    call.respond(errorFrame(message.id ?? null, json));
  }

  #sendError(
    peer: Peer,
    id: JsonRpcId,
    name: keyof typeof ERROR_CODES,
    data?: unknown,
    message?: string,
  ): void {
    this.#stats.errors++;
    void peer.sendFrame(errorFrame(id, JsonRpcError.from(name, data, message).toJson()));
  }
}
