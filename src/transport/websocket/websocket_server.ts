/**
 * The WebSocket server of serve mode: `Deno.serve` plus
 * `Deno.upgradeWebSocket`, one peer per connection, every upgrade checked
 * (Host, Origin, bearer token) before it happens.
 *
 * @module
 */

import { getLogger } from "../../protocol/logger.ts";
import type { PeerHost } from "../../protocol/peer_host.ts";
import { withTimeout } from "../../protocol/timing.ts";
import { generateBearerToken } from "./bearer_token.ts";
import { isLoopbackHost, type ListeningAddress, listeningAddress } from "./listen_address.ts";
import { UpgradeGuard } from "./upgrade_guard.ts";
import {
  CLOSE_CODES,
  type ConnectionCause,
  type ConnectionInfo,
  ConnectionState,
  WebSocketConnection,
} from "./websocket_connection.ts";

const logger = getLogger(["tuigate", "websocket"]);

/**
 * Options for {@linkcode WebSocketServer}.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { WebSocketServer, type WebSocketServerOptions } from "@tuigate/tuigate/websocket";
 * const options: WebSocketServerOptions = { port: 8765, grants: ["jobs"], heartbeatMs: 0 };
 * const server = new WebSocketServer(new Gateway(), options);
 * await server.listen();
 * ```
 */
export interface WebSocketServerOptions {
  /**
   * The host to listen on.
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The port to listen on; 0 picks a free one.
   * @default {0}
   */
  port?: number;
  /**
   * The bearer token every connection must present; an empty one counts as none.
   * @default {generateBearerToken()}
   */
  token?: string;
  /**
   * Browser origins allowed; `"*"` allows any. Requests without `Origin` are not browsers and pass.
   * @default {[]}
   */
  allowOrigins?: readonly string[];
  /**
   * Extra names accepted in the `Host` header.
   * @default {[]}
   */
  allowHosts?: readonly string[];
  /**
   * Whether a non-loopback address may be bound.
   * @default {false}
   */
  allowRemote?: boolean;
  /**
   * Capabilities granted to every connection's peer (`["jobs"]` with `--allow-jobs`).
   * @default {[]}
   */
  grants?: readonly string[];
  /**
   * The longest message accepted, in bytes; a longer one closes its connection with 1009.
   * @default {16777216}
   */
  maxFrameBytes?: number;
  /**
   * The bound on each peer's queued output, in bytes.
   * @default {8388608}
   */
  outBufferBytes?: number;
  /**
   * How long control frames may wait for room in a peer's output buffer, in ms.
   * @default {10000}
   */
  stallTimeoutMs?: number;
  /**
   * How long a client may leave `sendHighWaterBytes` unread before it is closed with 4008, in ms.
   * @default {10000}
   */
  sendDeadlineMs?: number;
  /**
   * Bytes a socket may hold unsent before its pump waits.
   * @default {1048576}
   */
  sendHighWaterBytes?: number;
  /**
   * Milliseconds of silence after which a ping is sent; a connection that does
   * not answer within as long again is closed (1001). 0 disables heartbeats.
   * @default {20000}
   */
  heartbeatMs?: number;
}

/**
 * The states of a {@linkcode WebSocketServer}.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { WebSocketServer, WebSocketServerState } from "@tuigate/tuigate/websocket";
 * const server = new WebSocketServer(new Gateway());
 * await server.listen();
 * server.state === WebSocketServerState.Listening; // true
 * ```
 */
export enum WebSocketServerState {
  /** Made, not listening. */
  Idle = "idle",
  /** Accepting connections. */
  Listening = "listening",
  /** Closing connections; new upgrades are answered 503. */
  Closing = "closing",
  /** Stopped. */
  Closed = "closed",
}

/**
 * Options for {@linkcode WebSocketServer.close}.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { WebSocketServer, type WebSocketServerCloseOptions } from "@tuigate/tuigate/websocket";
 * const gateway = new Gateway();
 * const server = new WebSocketServer(gateway);
 * await server.listen();
 * const idle = () => gateway.dispatcher.idle(); // let in-flight requests finish
 * const options: WebSocketServerCloseOptions = { timeoutMs: 2000, idle };
 * await server.close(options);
 * ```
 */
export interface WebSocketServerCloseOptions {
  /**
   * The close code sent to every connection.
   * @default {1001}
   */
  code?: number;
  /**
   * The close reason sent to every connection.
   * @default {"Gateway shutting down"}
   */
  reason?: string;
  /**
   * The time allowed for in-flight requests to finish, output to drain and
   * close handshakes to complete, in ms; connections still open after it
   * are left to the process exit.
   * @default {1000}
   */
  timeoutMs?: number;
  /**
   * Resolves when in-flight handlers have finished (for example `dispatcher.idle()`).
   * @default {undefined} nothing to wait for
   */
  idle?: () => Promise<void>;
}

/**
 * Counters of a {@linkcode WebSocketServer}, for `gateway.info`.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { WebSocketServer, type WebSocketServerStats } from "@tuigate/tuigate/websocket";
 * const gateway = new Gateway();
 * const server = new WebSocketServer(gateway);
 * gateway.addInfo("websocket", (): WebSocketServerStats => server.stats());
 * ```
 */
export interface WebSocketServerStats {
  /** The state. */
  state: WebSocketServerState;
  /** Where it listens. */
  listening: ListeningAddress | undefined;
  /** Connections open now. */
  connections: number;
  /** Connections whose close handshake has not completed (a client that stopped reading). */
  closing: number;
  /** Upgrades accepted so far. */
  accepted: number;
  /** Requests refused, by kind. */
  refused: Record<string, number>;
  /** Connections ended, by cause. */
  closed: Partial<Record<ConnectionCause, number>>;
  /** Every open connection. */
  peers: ConnectionInfo[];
}

/**
 * Serves a gateway's dispatcher over WebSocket: every connection is its own
 * peer (`gateway.ready` first), every upgrade request is checked before it
 * is upgraded, and a slow client never holds up another.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { WebSocketServer } from "@tuigate/tuigate/websocket";
 * const server = new WebSocketServer(new Gateway(), { port: 0, token: "s3cret" });
 * const address = await server.listen();
 * const ws = new WebSocket(address.url, ["tuigate", "tuigate.bearer.s3cret"]);
 * ```
 */
export class WebSocketServer {
  #host: PeerHost;
  #options: WebSocketServerOptions;
  #token: string;
  #state = WebSocketServerState.Idle;
  #server: Deno.HttpServer | undefined;
  #address: ListeningAddress | undefined;
  #guard: UpgradeGuard | undefined;
  #connections = new Set<WebSocketConnection>();
  #closing = new Set<WebSocketConnection>();
  #accepted = 0;
  #refused: Record<string, number> = {};
  #closed: Partial<Record<ConnectionCause, number>> = {};

  /** Makes a server for a gateway (or any {@linkcode PeerHost}). */
  constructor(host: PeerHost, options: WebSocketServerOptions = {}) {
    this.#host = host;
    this.#options = options;
    // An empty token would match an empty or malformed credential: never use one.
    this.#token = options.token || generateBearerToken();
  }

  /** The bearer token connections must present. */
  get token(): string {
    return this.#token;
  }

  /** The state. */
  get state(): WebSocketServerState {
    return this.#state;
  }

  /** Where the server listens, once it does. */
  get address(): ListeningAddress | undefined {
    return this.#address;
  }

  /** The open connections. */
  connections(): WebSocketConnection[] {
    return [...this.#connections];
  }

  /**
   * Binds and starts accepting connections. Rejects with `Deno.errors.PermissionDenied`
   * for a non-loopback host without `allowRemote`, and with the system's error
   * (for example `Deno.errors.AddrInUse`) when the address cannot be bound.
   */
  listen(): Promise<ListeningAddress> {
    if (this.#state !== WebSocketServerState.Idle) {
      return Promise.reject(new TypeError("Cannot listen: the server was already started"));
    }
    const hostname = this.#options.hostname ?? "127.0.0.1";
    if (!isLoopbackHost(hostname) && this.#options.allowRemote !== true) {
      return Promise.reject(
        new Deno.errors.PermissionDenied(
          `Refusing to listen on ${hostname}: it is not a loopback address (pass --allow-remote to allow it)`,
        ),
      );
    }
    let server: Deno.HttpServer;
    try {
      server = Deno.serve({
        hostname,
        port: this.#options.port ?? 0,
        onListen: () => {},
        onError: (error) => {
          logger.error("The WebSocket server failed on a request: {error}", { error });
          return new Response("Internal error\n", { status: 500 });
        },
      }, (request, info) => this.#handle(request, info));
    } catch (error) {
      return Promise.reject(error);
    }
    this.#server = server;
    const addr = server.addr as Deno.NetAddr;
    this.#address = listeningAddress(hostname, addr.port);
    this.#guard = new UpgradeGuard({
      token: this.#token,
      address: this.#address,
      allowOrigins: this.#options.allowOrigins,
      allowHosts: this.#options.allowHosts,
    });
    this.#state = WebSocketServerState.Listening;
    logger.debug("Listening on {url}", { url: this.#address.url });
    return Promise.resolve(this.#address);
  }

  /** Counters and open connections. */
  stats(): WebSocketServerStats {
    return {
      state: this.#state,
      listening: this.#address,
      connections: this.#connections.size,
      closing: this.#closing.size,
      accepted: this.#accepted,
      refused: { ...this.#refused },
      closed: { ...this.#closed },
      peers: [...this.#connections].map((c) => c.info()),
    };
  }

  #handle(request: Request, info: Deno.ServeHandlerInfo): Response {
    const remote = formatRemote(info.remoteAddr);
    if (this.#state !== WebSocketServerState.Listening || this.#guard === undefined) {
      return new Response("Gateway shutting down\n", { status: 503 });
    }
    const decision = this.#guard.check(request);
    if (!decision.ok) {
      this.#refused[decision.kind] = (this.#refused[decision.kind] ?? 0) + 1;
      logger.warn("Refused a connection from {remote} with {status}: {reason}", {
        remote,
        status: decision.status,
        reason: decision.reason,
      });
      const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8" };
      if (decision.status === 401) headers["www-authenticate"] = 'Bearer realm="tuigate"';
      if (decision.status === 426) headers["upgrade"] = "websocket";
      return new Response(decision.reason + "\n", { status: decision.status, headers });
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      const heartbeatMs = this.#options.heartbeatMs ?? 20_000;
      upgraded = Deno.upgradeWebSocket(request, {
        protocol: decision.protocol,
        idleTimeout: heartbeatMs > 0 ? (heartbeatMs * 2) / 1000 : 0,
      });
    } catch (error) {
      this.#refused["bad-upgrade"] = (this.#refused["bad-upgrade"] ?? 0) + 1;
      logger.warn("Refused a connection from {remote} with 400: {error}", { remote, error });
      return new Response(`${(error as Error).message}\n`, { status: 400 });
    }
    const connection = new WebSocketConnection(this.#host, upgraded.socket, {
      grants: this.#options.grants ?? [],
      maxFrameBytes: this.#options.maxFrameBytes,
      outBufferBytes: this.#options.outBufferBytes,
      stallTimeoutMs: this.#options.stallTimeoutMs,
      sendDeadlineMs: this.#options.sendDeadlineMs,
      sendHighWaterBytes: this.#options.sendHighWaterBytes,
      remote,
    });
    this.#accepted++;
    this.#connections.add(connection);
    void connection.ended.then((end) => {
      this.#connections.delete(connection);
      this.#closed[end.cause] = (this.#closed[end.cause] ?? 0) + 1;
      if (connection.state !== ConnectionState.Closed) this.#closing.add(connection);
      void connection.closed.then(() => this.#closing.delete(connection));
    });
    connection.start();
    logger.debug("Accepted {peer} from {remote} (token via {via})", {
      peer: connection.peer.id,
      remote,
      via: decision.via,
    });
    return upgraded.response;
  }

  /**
   * Stops accepting, lets requests already accepted finish for up to half of
   * `timeoutMs` (new ones are refused with -32002), then aborts what still
   * runs, lets output drain, closes every connection with 1001 (or `code`)
   * and waits for the close handshakes, all within `timeoutMs`. Idempotent.
   */
  async close(options: WebSocketServerCloseOptions = {}): Promise<void> {
    if (
      this.#state === WebSocketServerState.Closing || this.#state === WebSocketServerState.Closed
    ) return;
    const wasListening = this.#state === WebSocketServerState.Listening;
    this.#state = WebSocketServerState.Closing;
    const timeoutMs = options.timeoutMs ?? 1000;
    const deadline = Date.now() + timeoutMs;
    const drainUntil = Date.now() + timeoutMs * 0.75;
    const connections = [...this.#connections];
    // Requests already accepted finish for up to half the time; then what still runs is aborted.
    for (const connection of connections) connection.finish("shutdown");
    await withTimeout(options.idle?.() ?? Promise.resolve(), timeoutMs / 2, undefined);
    for (const connection of connections) connection.beginClose("shutdown");
    const drained = (async () => {
      await (options.idle?.() ?? Promise.resolve());
      await Promise.all(connections.map((c) => c.drained()));
    })();
    await withTimeout(drained, Math.max(0, drainUntil - Date.now()), undefined);
    const code = options.code ?? CLOSE_CODES.GOING_AWAY;
    const reason = options.reason ?? "Gateway shutting down";
    for (const connection of connections) connection.close({ code, reason, cause: "shutdown" });
    // Connections already closed for a stalled client are not waited for: they rarely complete.
    const pending = connections.filter((c) => c.state !== ConnectionState.Closed);
    await withTimeout(
      Promise.all(pending.map((c) => c.closed)),
      Math.max(0, deadline - Date.now()),
      undefined,
    );
    // Only now: Deno's own shutdown would close upgraded sockets with its own code and reason.
    const server = this.#server;
    if (wasListening && server !== undefined) {
      await withTimeout(
        server.shutdown().catch(() => {}),
        Math.max(0, deadline - Date.now()),
        undefined,
      );
    }
    this.#state = WebSocketServerState.Closed;
  }

  /** Closes the server (see {@linkcode WebSocketServer.close}). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function formatRemote(addr: Deno.Addr): string {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
  }
  return addr.transport;
}
