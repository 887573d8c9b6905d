/**
 * A best-effort copy of a peer's frames to a dashboard over a WebSocket
 * client: a bounded queue that drops the oldest frames with a count, and
 * reconnection with exponential backoff and jitter.
 *
 * @module
 */

import { getLogger } from "../protocol/logger.ts";
import { sleep } from "../protocol/timing.ts";

const logger = getLogger(["tuigate", "mirror"]);

/** How long a connection must stay open for the next failure to start the backoff afresh. */
const STABLE_OPEN_MS = 1000;

/**
 * Options for {@linkcode MirrorClient}.
 *
 * @example
 * ```ts
 * import { MirrorClient, type MirrorClientOptions } from "@tuigate/tuigate/websocket";
 * const options: MirrorClientOptions = {
 *   maxQueueBytes: 1024 * 1024,
 *   maxBackoffMs: 30_000,
 *   hello: () => ({ name: "my-backend", pid: Deno.pid }),
 * };
 * new MirrorClient("ws://127.0.0.1:9000/mirror", options).start();
 * ```
 */
export interface MirrorClientOptions {
  /**
   * The bound on queued frames, in bytes; beyond it the oldest are dropped and counted.
   * @default {4194304}
   */
  maxQueueBytes?: number;
  /**
   * The bound on queued frames, in frames.
   * @default {10000}
   */
  maxQueueFrames?: number;
  /**
   * The first reconnection delay, in ms.
   * @default {100}
   */
  initialBackoffMs?: number;
  /**
   * The longest reconnection delay, in ms.
   * @default {10000}
   */
  maxBackoffMs?: number;
  /**
   * The share of each delay that is random (0 none, 1 "full jitter").
   * @default {0.5}
   */
  jitter?: number;
  /**
   * How long a connection attempt may take, in ms.
   * @default {5000}
   */
  connectTimeoutMs?: number;
  /**
   * Bytes the socket may hold unsent before frames wait in the queue.
   * @default {1048576}
   */
  sendHighWaterBytes?: number;
  /**
   * The params of the `mirror.hello` notification sent first on every connection.
   * @default {() => ({})}
   */
  hello?: () => Record<string, unknown>;
  /**
   * Subprotocols offered to the dashboard.
   * @default {[]}
   */
  protocols?: string[];
  /**
   * Headers sent with the upgrade request (for example `Authorization`).
   * @default {{}}
   */
  headers?: Record<string, string>;
}

/**
 * The states of a {@linkcode MirrorClient}.
 *
 * @example
 * ```ts
 * import { MirrorClient, MirrorState } from "@tuigate/tuigate/websocket";
 * const mirror = new MirrorClient("ws://127.0.0.1:9000/mirror");
 * mirror.start();
 * if (mirror.state === MirrorState.Backoff) console.warn("dashboard unreachable, retrying");
 * ```
 */
export enum MirrorState {
  /** Made, not started. */
  Idle = "idle",
  /** Connecting to the dashboard. */
  Connecting = "connecting",
  /** Connected; frames flow. */
  Open = "open",
  /** Waiting before the next attempt. */
  Backoff = "backoff",
  /** Closed for good. */
  Closed = "closed",
}

/**
 * What `gateway.info` reports about the mirror.
 *
 * @example
 * ```ts
 * import { MirrorClient, type MirrorInfo } from "@tuigate/tuigate/websocket";
 * const mirror = new MirrorClient("ws://127.0.0.1:9000/mirror");
 * const info: MirrorInfo = mirror.info();
 * const lossy = info.droppedFrames > 0;
 * ```
 */
export interface MirrorInfo {
  /** The dashboard URL, without credentials or query. */
  url: string;
  /** The state. */
  state: MirrorState;
  /** Successful connections so far. */
  connects: number;
  /** Failed attempts and lost connections so far. */
  failures: number;
  /** Frames queued now. */
  queuedFrames: number;
  /** Bytes queued now. */
  queuedBytes: number;
  /** Frames handed to the socket so far. */
  sentFrames: number;
  /** Frames dropped because the queue was full. */
  droppedFrames: number;
  /** The last connection error. */
  lastError: string | undefined;
  /** Milliseconds until the next attempt, while in backoff. */
  retryInMs: number | undefined;
}

/**
 * Options for {@linkcode reconnectDelay}.
 *
 * @example
 * ```ts
 * import { reconnectDelay, type ReconnectDelayOptions } from "@tuigate/tuigate/websocket";
 * const options: ReconnectDelayOptions = { initialMs: 250, maxMs: 5000, jitter: 0.5 };
 * const delays = [0, 1, 2].map((attempt) => reconnectDelay(attempt, options)); // up to 1000
 * ```
 */
export interface ReconnectDelayOptions {
  /** The first delay, in ms */
  initialMs: number;
  /** The longest delay, in ms */
  maxMs: number;
  /** The share of each delay that is random, from 0 (none) to 1 ("full jitter"). */
  jitter: number;
  /**
   * The source of randomness, in [0, 1).
   * @default {Math.random}
   */
  random?: () => number;
}

/**
 * The delay before reconnection attempt `attempt` (0-based): doubling from
 * `initialMs`, capped at `maxMs`, then reduced by up to `jitter` of itself
 * at random so that many gateways do not retry in step.
 *
 * @example
 * ```ts
 * import { reconnectDelay } from "@tuigate/tuigate/websocket";
 * reconnectDelay(3, { initialMs: 100, maxMs: 10_000, jitter: 0 }); // 800
 * ```
 */
export function reconnectDelay(attempt: number, options: ReconnectDelayOptions): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  const random = options.random ?? Math.random;
  return Math.round(ceiling * (1 - options.jitter * random()));
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

/**
 * Mirrors frames to a dashboard over WebSocket, best effort: {@linkcode MirrorClient.push}
 * never blocks or throws, connecting happens in the background, the queue is
 * bounded (the oldest frames are dropped and the dashboard is told how many
 * with a `mirror.dropped` notification), and a lost dashboard is retried
 * with exponential backoff and jitter. Every connection starts with a
 * `mirror.hello` notification.
 *
 * @example
 * ```ts
 * import { MirrorClient } from "@tuigate/tuigate/websocket";
 * const mirror = new MirrorClient("ws://127.0.0.1:9000/mirror");
 * mirror.start();
 * mirror.push(['{"jsonrpc":"2.0","method":"hello"}']);
 * ```
 */
export class MirrorClient {
  /** The dashboard URL. */
  readonly url: string;
  #maxBytes: number;
  #maxFrames: number;
  #initialMs: number;
  #maxMs: number;
  #jitter: number;
  #connectTimeoutMs: number;
  #highWater: number;
  #hello: () => Record<string, unknown>;
  #protocols: string[];
  #headers: Record<string, string>;
  #state = MirrorState.Idle;
  #socket: WebSocket | undefined;
  #queue: string[] = [];
  #head = 0;
  #queuedBytes = 0;
  #droppedTotal = 0;
  #droppedUnreported = 0;
  #sent = 0;
  #connects = 0;
  #failures = 0;
  #attempt = 0;
  #lastError: string | undefined;
  #retryAt: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #warned = false;

  /** Makes a client for a `ws://` or `wss://` URL; {@linkcode MirrorClient.start} connects. */
  constructor(url: string, options: MirrorClientOptions = {}) {
    this.url = url;
    this.#maxBytes = options.maxQueueBytes ?? 4 * 1024 * 1024;
    this.#maxFrames = options.maxQueueFrames ?? 10_000;
    this.#initialMs = options.initialBackoffMs ?? 100;
    this.#maxMs = options.maxBackoffMs ?? 10_000;
    this.#jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#highWater = options.sendHighWaterBytes ?? 1024 * 1024;
    this.#hello = options.hello ?? (() => ({}));
    this.#protocols = options.protocols ?? [];
    this.#headers = options.headers ?? {};
  }

  /** The state. */
  get state(): MirrorState {
    return this.#state;
  }

  /** What `gateway.info` reports. */
  info(): MirrorInfo {
    return {
      url: redact(this.url),
      state: this.#state,
      connects: this.#connects,
      failures: this.#failures,
      queuedFrames: this.#queue.length - this.#head,
      queuedBytes: this.#queuedBytes,
      sentFrames: this.#sent,
      droppedFrames: this.#droppedTotal,
      lastError: this.#lastError,
      retryInMs: this.#state === MirrorState.Backoff && this.#retryAt !== undefined
        ? Math.max(0, this.#retryAt - Date.now())
        : undefined,
    };
  }

  /** Starts connecting in the background. Idempotent. */
  start(): void {
    if (this.#state !== MirrorState.Idle) return;
    this.#connect();
  }

  /** Queues frames for the dashboard. Never blocks, never throws. */
  push(frames: readonly string[]): void {
    if (this.#state === MirrorState.Closed) return;
    for (const frame of frames) {
      this.#queue.push(frame);
      this.#queuedBytes += frame.length;
    }
    this.#trim();
    if (this.#state === MirrorState.Open) this.#flush();
  }

  /**
   * Closes for good: waits up to `flushMs` for queued frames to be handed
   * to an open socket, then closes it with 1001. Idempotent.
   */
  async close(flushMs = 0): Promise<void> {
    if (this.#state === MirrorState.Closed) return;
    const deadline = Date.now() + flushMs;
    while (
      this.#state === MirrorState.Open && Date.now() < deadline &&
      (this.#queue.length > this.#head || (this.#socket?.bufferedAmount ?? 0) > 0)
    ) {
      this.#flush();
      await sleep(5);
    }
    this.#state = MirrorState.Closed;
    clearTimeout(this.#timer);
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#flushTimer);
    this.#timer = this.#connectTimer = this.#flushTimer = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    try {
      socket?.close(1001, "Gateway exiting");
    } catch {
      // Already closed.
    }
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
  }

  #trim(): void {
    let dropped = 0;
    while (
      this.#queue.length - this.#head > 0 &&
      (this.#queuedBytes > this.#maxBytes || this.#queue.length - this.#head > this.#maxFrames)
    ) {
      const frame = this.#queue[this.#head];
      this.#queue[this.#head++] = "";
      this.#queuedBytes -= frame.length;
      dropped++;
    }
    if (dropped > 0) {
      this.#droppedTotal += dropped;
      this.#droppedUnreported += dropped;
      this.#compact();
    }
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #connect(): void {
    if (this.#state === MirrorState.Closed) return;
    this.#state = MirrorState.Connecting;
    this.#retryAt = undefined;
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url, {
        protocols: this.#protocols,
        headers: this.#headers,
      });
    } catch (error) {
      this.#failed(error instanceof Error ? error.message : String(error));
      return;
    }
    this.#socket = socket;
    let opened = false;
    let openedAt = 0;
    clearTimeout(this.#connectTimer);
    const timeout = this.#connectTimer = setTimeout(() => {
      this.#connectTimer = undefined;
      if (opened || this.#socket !== socket) return;
      this.#socket = undefined;
      try {
        socket.close();
      } catch {
        // Not open yet.
      }
      this.#failed(`No connection within ${this.#connectTimeoutMs} ms`);
    }, this.#connectTimeoutMs);
    socket.addEventListener("open", () => {
      clearTimeout(timeout);
      if (this.#socket !== socket || this.#state === MirrorState.Closed) {
        socket.close();
        return;
      }
      opened = true;
      openedAt = Date.now();
      this.#state = MirrorState.Open;
      this.#connects++;
      logger.info("Mirroring to {url}", { url: redact(this.url) });
      try {
        socket.send(JSON.stringify({
          jsonrpc: "2.0",
          method: "mirror.hello",
          params: { ...this.#hello(), connects: this.#connects, dropped: this.#droppedTotal },
        }));
      } catch (error) {
        logger.debug("mirror.hello failed: {error}", { error });
      }
      this.#flush();
    });
    socket.addEventListener("error", (event) => {
      this.#lastError = (event as ErrorEvent).message || "WebSocket error";
    });
    socket.addEventListener("close", (event) => {
      clearTimeout(timeout);
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (this.#state === MirrorState.Closed) return;
      if (opened) {
        logger.info("The mirror dashboard went away ({code}); reconnecting", { code: event.code });
        this.#lastError = `Closed with ${event.code}${event.reason ? ` ${event.reason}` : ""}`;
        if (Date.now() - openedAt >= STABLE_OPEN_MS) {
          // It served a while: start the backoff afresh. A dashboard that accepts and closes at
          // once keeps growing the delay (and is warned about once), instead of a busy loop.
          this.#attempt = 0;
          this.#warned = false;
        }
      }
      this.#failed(this.#lastError ?? `Closed with ${event.code}`);
    });
    // Frames from the dashboard are not part of the mirror protocol.
    socket.addEventListener("message", () => {});
  }

  #failed(message: string): void {
    if (this.#state === MirrorState.Closed) return;
    this.#failures++;
    this.#lastError = message;
    this.#state = MirrorState.Backoff;
    const delay = reconnectDelay(this.#attempt++, {
      initialMs: this.#initialMs,
      maxMs: this.#maxMs,
      jitter: this.#jitter,
    });
    this.#retryAt = Date.now() + delay;
    if (!this.#warned) {
      this.#warned = true;
      logger.warn("Cannot reach the mirror dashboard {url}: {message}; retrying with backoff", {
        url: redact(this.url),
        message,
      });
    } else {
      logger.debug("Mirror attempt failed: {message}; next in {delay} ms", { message, delay });
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #flush(): void {
    const socket = this.#socket;
    if (socket === undefined || this.#state !== MirrorState.Open) return;
    // Once the dashboard's close frame arrived the socket is closing and `send` would discard a
    // frame without a word: frames wait for the next connection instead.
    if (socket.readyState !== WebSocket.OPEN) return;
    try {
      if (this.#droppedUnreported > 0 && socket.bufferedAmount < this.#highWater) {
        socket.send(JSON.stringify({
          jsonrpc: "2.0",
          method: "mirror.dropped",
          params: { dropped: this.#droppedUnreported, total: this.#droppedTotal },
        }));
        this.#droppedUnreported = 0;
      }
      while (this.#head < this.#queue.length && socket.bufferedAmount < this.#highWater) {
        const frame = this.#queue[this.#head];
        this.#queue[this.#head++] = "";
        this.#queuedBytes -= frame.length;
        socket.send(frame);
        this.#sent++;
      }
    } catch (error) {
      logger.debug("Sending to the mirror failed: {error}", { error });
    }
    this.#compact();
    if (this.#head < this.#queue.length && this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = undefined;
        this.#flush();
      }, 10);
    }
  }
}
