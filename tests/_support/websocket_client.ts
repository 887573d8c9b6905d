/**
 * Test support: a JSON-RPC client over Deno's own `WebSocket`, and a
 * helper that spawns `main.ts serve` and reads its announcement.
 *
 * @module
 */

import { withTimeout } from "../../src/protocol/timing.ts";
import {
  type Frame,
  type GatewayProcess,
  spawnGateway,
  type SpawnGatewayOptions,
} from "./gateway_process.ts";

/** How a test client presents its token. */
export type TokenVia = "header" | "subprotocol" | "none";

/** Options for {@linkcode TestWebSocket.open}. */
export interface TestWebSocketOptions {
  /** The bearer token. */
  token?: string;
  /** How the token is presented. @default {"header"} */
  via?: TokenVia;
  /** Extra headers. */
  headers?: Record<string, string>;
  /** Milliseconds to wait for the connection. @default {10000} */
  timeoutMs?: number;
}

/** How a socket closed. */
export interface CloseInfo {
  /** The close code. */
  code: number;
  /** The close reason. */
  reason: string;
  /** When (performance.now()). */
  at: number;
}

/** A JSON-RPC client over a WebSocket, for tests. */
export class TestWebSocket {
  /** The socket. */
  readonly socket: WebSocket;
  /** Every message received, parsed. */
  readonly messages: Frame[] = [];
  /** Arrival times (performance.now()) of every message, in order. */
  readonly arrivals: number[] = [];
  /** Resolves when the socket closes. */
  readonly closed: Promise<CloseInfo>;
  #waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  #unclaimed: Frame[] = [];
  #nextId = 1;
  #onMessage: ((frame: Frame, at: number) => void) | undefined;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        resolve({ code: event.code, reason: event.reason, at: performance.now() });
      });
    });
    socket.addEventListener("message", (event) => {
      const at = performance.now();
      const frame = JSON.parse(String(event.data));
      this.messages.push(frame);
      this.arrivals.push(at);
      this.#onMessage?.(frame, at);
      const index = this.#waiters.findIndex((w) => w.match(frame));
      if (index !== -1) this.#waiters.splice(index, 1)[0].resolve(frame);
      else this.#unclaimed.push(frame);
    });
  }

  /** Opens a connection; rejects when it fails. */
  static open(url: string, options: TestWebSocketOptions = {}): Promise<TestWebSocket> {
    const via = options.via ?? "header";
    const headers: Record<string, string> = { ...options.headers };
    const protocols: string[] = [];
    if (via === "header" && options.token !== undefined) {
      headers.Authorization = `Bearer ${options.token}`;
    }
    if (via === "subprotocol" && options.token !== undefined) {
      protocols.push("tuigate", `tuigate.bearer.${options.token}`);
    }
    const socket = new WebSocket(url, { protocols, headers });
    const client = new TestWebSocket(socket);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.close();
        reject(new Error("Connection timed out"));
      }, options.timeoutMs ?? 10_000);
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(client);
      });
      socket.addEventListener("error", (event) => {
        clearTimeout(timer);
        reject(new Error((event as ErrorEvent).message || "WebSocket error"));
      });
    });
  }

  /** Calls `listener` for every message from now on. */
  onMessage(listener: (frame: Frame, at: number) => void): void {
    this.#onMessage = listener;
  }

  /** Resolves with the next unclaimed message that matches, or rejects after `timeoutMs`. */
  next(match: (f: Frame) => boolean = () => true, timeoutMs = 10_000): Promise<Frame> {
    const index = this.#unclaimed.findIndex(match);
    if (index !== -1) return Promise.resolve(this.#unclaimed.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
        reject(new Error(`No matching message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Resolves with the next notification of `method`. */
  notification(method: string, timeoutMs = 10_000): Promise<Frame> {
    return this.next((f) => f?.method === method && !("id" in f), timeoutMs);
  }

  /** Resolves with the response to `id`. */
  response(id: unknown, timeoutMs = 10_000): Promise<Frame> {
    return this.next(
      (f) =>
        f !== null && typeof f === "object" && !Array.isArray(f) && f.id === id && !("method" in f),
      timeoutMs,
    );
  }

  /** Sends a message (serialised) or raw text. */
  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Sends a request with a fresh id and resolves with its response. */
  request(method: string, params?: unknown, timeoutMs = 10_000): Promise<Frame> {
    const id = this.#nextId++;
    const response = this.response(id, timeoutMs);
    this.send(
      params === undefined
        ? { jsonrpc: "2.0", id, method }
        : { jsonrpc: "2.0", id, method, params },
    );
    return response;
  }

  /** Closes the socket. */
  close(code = 1000): void {
    try {
      this.socket.close(code);
    } catch {
      // Already closed.
    }
  }

  /** Closes the socket and waits (briefly) for the close to complete. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await withTimeout(this.closed, 1000, undefined);
  }
}

/** A spawned `main.ts serve`, with its announcement and token. */
export interface ServeProcess {
  /** The process. */
  gw: GatewayProcess;
  /** The JSON line announced on stdout. */
  announcement: Frame;
  /** The URL to connect to. */
  url: string;
  /** The port. */
  port: number;
  /** The token (read from the token file, or the one given). */
  token: string;
}

/**
 * Spawns `main.ts serve --listen 127.0.0.1:0 ...args`, waits for the
 * announcement on stdout and reads the token file (unless `token` is given).
 */
export async function spawnServe(
  args: string[] = [],
  options: SpawnGatewayOptions & { token?: string; listen?: string } = {},
): Promise<ServeProcess> {
  const gw = await spawnGateway(
    ["serve", "--listen", options.listen ?? "127.0.0.1:0", ...args],
    options,
  );
  let announcement: Frame;
  try {
    announcement = await gw.next(
      (f) => f !== null && typeof f === "object" && "listening" in f,
      15_000,
    );
  } catch (error) {
    await gw[Symbol.asyncDispose]();
    throw error;
  }
  const token = options.token ??
    (await Deno.readTextFile(announcement.tokenFile)).trim();
  return {
    gw,
    announcement,
    url: announcement.listening.url,
    port: announcement.listening.port,
    token,
  };
}
