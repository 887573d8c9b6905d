/**
 * The gateway: a dispatcher with the built-in methods, the set of connected
 * peers, and what `gateway.ready` and `gateway.info` report.
 *
 * @module
 */

import { getLogger } from "../protocol/logger.ts";
import { Dispatcher, type DispatcherOptions } from "../protocol/dispatcher.ts";
import type { AnyMethodDefinition, MethodDefinition } from "../protocol/method.ts";
import type { Peer } from "../protocol/peer.ts";
import type { PeerHost } from "../protocol/peer_host.ts";
import { PROTOCOL_VERSION, VERSION } from "../version.ts";
import { registerBuiltinMethods } from "./builtin_methods.ts";

const logger = getLogger(["tuigate", "gateway"]);

/**
 * Options for {@linkcode Gateway}.
 *
 * @example
 * ```ts
 * import { defineMethod, Gateway, type GatewayOptions } from "@tuigate/tuigate";
 * const options: GatewayOptions = {
 *   name: "my-backend",
 *   version: "2.1.0",
 *   settings: { root: "/srv/data" },
 *   methods: [defineMethod({ name: "hello", handler: () => "world" })],
 *   maxInflight: 16,
 * };
 * new Gateway(options);
 * ```
 */
export interface GatewayOptions extends DispatcherOptions {
  /**
   * The name announced in `gateway.ready`.
   * @default {"tuigate"}
   */
  name?: string;
  /**
   * The version announced in `gateway.ready`.
   * @default {VERSION}
   */
  version?: string;
  /**
   * Effective settings reported by `gateway.info`.
   * @default {{}}
   */
  settings?: Record<string, unknown>;
  /**
   * Methods to register.
   * @default {[]}
   */
  methods?: AnyMethodDefinition[];
  /**
   * Whether each new peer gets `gateway.ready` as its first frame. Turn it off
   * only for clients that accept nothing but their own responses (for example
   * a fixed benchmark client).
   * @default {true}
   */
  announceReady?: boolean;
}

/**
 * A shutdown request from inside the gateway (for example `gateway.shutdown`).
 *
 * @example
 * ```ts
 * import { Gateway, type ShutdownRequestHandler } from "@tuigate/tuigate";
 * const controller = new AbortController();
 * const onShutdown: ShutdownRequestHandler = (reason) => controller.abort(reason);
 * const gateway = new Gateway();
 * gateway.onShutdownRequest(onShutdown);
 * gateway.requestShutdown(); // true; controller.signal.reason is "shutdown-request"
 * ```
 */
export type ShutdownRequestHandler = (reason: "shutdown-request") => void;

/**
 * A gateway. Register methods on it, then serve it over a transport
 * (`runStdio`, `serveWebSocket`, or a {@linkcode StdioTransport} of your own).
 *
 * @example
 * ```ts
 * import * as z from "zod";
 * import { Gateway, runStdio } from "@tuigate/tuigate";
 * const gateway = new Gateway({ name: "my-tui-backend" });
 * gateway.register({
 *   name: "greet",
 *   params: z.object({ name: z.string() }),
 *   handler: ({ name }) => `Hello, ${name}`,
 * });
 * gateway.addInfo("cache", () => ({ entries: 0 }));
 * if (import.meta.main) await runStdio(gateway);
 * ```
 */
export class Gateway implements PeerHost {
  /** The dispatcher of every peer. */
  readonly dispatcher: Dispatcher;
  /** A fresh random id per process, announced in `gateway.ready`. */
  readonly epoch: string = crypto.randomUUID();
  /** The name announced. */
  readonly name: string;
  /** The version announced. */
  readonly version: string;
  /** When the gateway was made (ms since the epoch). */
  readonly startedAt: number = Date.now();
  /** Effective settings reported by `gateway.info`. */
  readonly settings: Record<string, unknown>;
  #peers = new Set<Peer>();
  #capabilities: Record<string, unknown> = {
    batch: true,
    cancel: "$/cancelRequest",
    serverRequests: true,
    deltas: true,
    discover: "rpc.discover",
  };
  #infoProviders = new Map<string, () => unknown>();
  #onShutdownRequest: ShutdownRequestHandler | undefined;
  #peerOpenListeners = new Set<(peer: Peer) => void>();
  #announceReady: boolean;

  /** Makes a gateway with the built-in methods registered. */
  constructor(options: GatewayOptions = {}) {
    this.name = options.name ?? "tuigate";
    this.version = options.version ?? VERSION;
    this.settings = options.settings ?? {};
    this.#announceReady = options.announceReady ?? true;
    this.dispatcher = new Dispatcher(options);
    registerBuiltinMethods(this);
    for (const method of options.methods ?? []) this.register(method);
  }

  /** Registers a method. Returns the gateway for chaining. */
  register<P, R>(method: MethodDefinition<P, R>): this {
    this.dispatcher.register(method as unknown as MethodDefinition);
    return this;
  }

  /** Adds or replaces a capability announced in `gateway.ready`. */
  setCapability(name: string, value: unknown): void {
    this.#capabilities[name] = value;
  }

  /** The capabilities announced in `gateway.ready`. */
  get capabilities(): Record<string, unknown> {
    return { ...this.#capabilities };
  }

  /** Adds a section to `gateway.info`. */
  addInfo(name: string, provider: () => unknown): void {
    this.#infoProviders.set(name, provider);
  }

  /** Calls `listener` for every peer opened from now on. Returns a function that removes it. */
  onPeerOpen(listener: (peer: Peer) => void): () => void {
    this.#peerOpenListeners.add(listener);
    return () => this.#peerOpenListeners.delete(listener);
  }

  /** Sets who handles `gateway.shutdown`. */
  onShutdownRequest(handler: ShutdownRequestHandler): void {
    this.#onShutdownRequest = handler;
  }

  /** Asks the process runner to shut down. Returns false when no runner listens. */
  requestShutdown(): boolean {
    if (this.#onShutdownRequest === undefined) return false;
    this.#onShutdownRequest("shutdown-request");
    return true;
  }

  /** The peers connected now. */
  peers(): Peer[] {
    return [...this.#peers];
  }

  /** Registers a peer and queues `gateway.ready` as its first frame. */
  open(peer: Peer): void {
    this.#peers.add(peer);
    if (this.#announceReady) void peer.notify("gateway.ready", this.readyParams(peer));
    logger.debug("Peer {peer} opened", { peer: peer.id });
    for (const listener of this.#peerOpenListeners) listener(peer);
  }

  /** Forgets a peer. */
  close(peer: Peer, reason: string): void {
    if (this.#peers.delete(peer)) {
      logger.debug("Peer {peer} closed: {reason}", { peer: peer.id, reason });
    }
  }

  /** The params of `gateway.ready` for a peer. */
  readyParams(peer: Peer): Record<string, unknown> {
    return {
      name: this.name,
      version: this.version,
      pid: Deno.pid,
      protocol: PROTOCOL_VERSION,
      epoch: this.epoch,
      peer: peer.id,
      transport: peer.transport,
      capabilities: {
        ...this.#capabilities,
        jobs: peer.grants("jobs") && this.#capabilities.jobs === true,
      },
    };
  }

  /** What `gateway.info` returns, seen from one peer. */
  info(peer?: Peer): Record<string, unknown> {
    let framesIn = 0;
    let framesOut = 0;
    for (const p of this.#peers) {
      framesIn += p.framesIn;
      framesOut += p.output.stats().framesOut;
    }
    const info: Record<string, unknown> = {
      name: this.name,
      version: this.version,
      protocol: PROTOCOL_VERSION,
      pid: Deno.pid,
      epoch: this.epoch,
      uptime: (Date.now() - this.startedAt) / 1000,
      uptimeMs: Date.now() - this.startedAt,
      deno: Deno.version,
      settings: this.settings,
      counters: { framesIn, framesOut, peers: this.#peers.size, ...this.dispatcher.stats() },
      limits: this.dispatcher.limits,
    };
    if (peer !== undefined) {
      info.peer = { id: peer.id, transport: peer.transport, framesIn: peer.framesIn };
      info.output = peer.output.stats();
    }
    for (const [name, provider] of this.#infoProviders) {
      try {
        info[name] = provider();
      } catch (error) {
        info[name] = { error: (error as Error).message };
      }
    }
    return info;
  }
}
