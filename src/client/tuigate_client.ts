/**
 * The TypeScript client: spawns a gateway, waits for `gateway.ready`, and
 * speaks JSON-RPC 2.0 to it. Runs under Deno and Node (node: modules only).
 *
 * @module
 */

import process from "node:process";
import { JsonRpcError } from "../protocol/json_rpc_error.ts";
import { classifyMessage } from "../protocol/messages.ts";
import { GatewayProcess, type ProcessExit } from "./_gateway_process.ts";
import { processTree, signalTree, type TreeProcess } from "./_process_tree.ts";
import {
  type ClientEventMap,
  ExitEvent,
  ProtocolErrorEvent,
  ReadyEvent,
  RestartEvent,
  RestartFailedEvent,
} from "./client_events.ts";
import { GatewayExitedError } from "./gateway_exited_error.ts";
import type {
  GatewayMethods,
  GatewayNotifications,
  ParamsOf,
  ReadyParams,
  ResultOf,
} from "./gateway_methods.ts";
import { GatewayStartError } from "./gateway_start_error.ts";
import {
  backoffDelay,
  type RestartOptions,
  type RestartPolicy,
  restartPolicy,
} from "./restart_policy.ts";

/**
 * Options for {@linkcode TuigateClient}.
 *
 * @example
 * ```ts
 * import { type ClientOptions, TuigateClient } from "@tuigate/tuigate/client";
 * const options: ClientOptions = {
 *   command: "tuigate",
 *   callTimeoutMs: 30_000,
 *   restart: { maxAttempts: 3 },
 *   onStderr: (text) => console.error(text),
 * };
 * await using client = await TuigateClient.start(options);
 * ```
 */
export interface ClientOptions {
  /**
   * The program to spawn: a compiled tuigate binary, `deno` (see
   * {@linkcode denoRunCommand}), or any gateway built with the library.
   * @default {"tuigate"}
   */
  command?: string;
  /**
   * Its arguments.
   * @default {[]}
   */
  args?: string[];
  /**
   * Its working folder.
   * @default {process.cwd()}
   */
  cwd?: string;
  /**
   * Environment variables, added to the client's own (`undefined` removes one).
   * @default {{}}
   */
  env?: Record<string, string | undefined>;
  /**
   * The stdio framing. The client sets `TUIGATE_FRAMING` for the gateway to
   * match (a `--framing` argument would override it).
   * @default {"line"}
   */
  framing?: "line" | "lsp";
  /**
   * How long to wait for `gateway.ready` before giving up with a
   * {@linkcode GatewayStartError} that ends with the tail of stderr; `0` or
   * `Infinity` (or anything over 2^31 - 1) for no limit.
   * @default {15000}
   */
  readyTimeoutMs?: number;
  /**
   * The timeout of calls that do not give their own, in ms; `0` or `Infinity`
   * (or anything over 2^31 - 1) for none.
   * @default {0}
   */
  callTimeoutMs?: number;
  /**
   * Whether the client announces `client.capabilities {"serverRequests": true}`
   * right after `gateway.ready`, on every (re)start. It does so whether or not
   * a handler is registered yet: a request with no handler is answered at
   * once with -32601, so the gateway never waits in vain.
   * @default {true}
   */
  serverRequests?: boolean;
  /**
   * More capabilities to announce with `client.capabilities`.
   * @default {{}}
   */
  capabilities?: Record<string, unknown>;
  /**
   * Whether (and how) to restart a gateway that exited unexpectedly: `true`
   * for the default policy, or a {@linkcode RestartOptions}.
   * @default {false}
   */
  restart?: boolean | RestartOptions;
  /**
   * `close()` step 1: how long to wait for the gateway to exit after its
   * stdin was ended (it drains and exits on EOF, within its own grace);
   * `Infinity` (or anything over 2^31 - 1) waits without limit.
   * @default {3000}
   */
  closeInputWaitMs?: number;
  /**
   * `close()` step 2: how long to wait after SIGTERM to the whole tree.
   * @default {2000}
   */
  terminateWaitMs?: number;
  /**
   * `close()` step 3: how long to wait after SIGKILL to the whole tree.
   * @default {2000}
   */
  killWaitMs?: number;
  /**
   * How much of the gateway's stderr is kept for errors, in bytes.
   * @default {8192}
   */
  stderrTailBytes?: number;
  /**
   * Called with each piece of the gateway's stderr (for example to log it);
   * by default stderr is only kept as a tail, never printed.
   * @default {undefined}
   */
  onStderr?: (text: string) => void;
  /**
   * The longest frame read from the gateway, in bytes: a longer one is
   * skipped (not held in memory) and reported as a `protocolerror`.
   * @default {268435456}
   */
  maxFrameBytes?: number;
}

/**
 * Options of one call.
 *
 * @example
 * ```ts
 * import { type CallOptions, TuigateClient } from "@tuigate/tuigate/client";
 * await using client = await TuigateClient.start({ command: "tuigate" });
 * const options: CallOptions = { signal: AbortSignal.timeout(10_000), timeout: 5000 };
 * const { jobs } = await client.call("job.list", { state: "running" }, options);
 * ```
 */
export interface CallOptions {
  /** Aborting it sends `$/cancelRequest` and rejects the call with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Milliseconds before the call is cancelled (with `$/cancelRequest`) and
   * rejects with a `TimeoutError` DOMException; `0` or `Infinity` (or
   * anything over 2^31 - 1) for none.
   * @default {ClientOptions.callTimeoutMs}
   */
  timeout?: number;
}

/**
 * What a handler of a server-to-client request receives besides the params.
 *
 * @example
 * ```ts
 * import type { ServerRequestContext, TuigateClient } from "@tuigate/tuigate/client";
 * declare const client: TuigateClient;
 * client.handle("ui.pick", async (_params, context: ServerRequestContext) => {
 *   await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
 *   return { cancelled: context.signal.aborted, id: context.id };
 * });
 * ```
 */
export interface ServerRequestContext {
  /** Aborted when the gateway sends `request.cancel` for this request (timeout, cancel, shutdown). */
  signal: AbortSignal;
  /** The request id (`"tuigate:R:N"`: a random part per gateway process, then a count). */
  id: string | number;
  /** The method. */
  method: string;
}

/**
 * A handler of server-to-client requests; its result (or thrown `JsonRpcError`) is the answer.
 *
 * @example
 * ```ts
 * import { JsonRpcError, type ServerRequestHandler, TuigateClient } from "@tuigate/tuigate/client";
 * const confirm: ServerRequestHandler = (params) => {
 *   if (typeof params !== "object") throw new JsonRpcError(-32602, "Invalid params");
 *   return { ok: true };
 * };
 * await using client = await TuigateClient.start({ command: "tuigate" });
 * client.handle("ui.confirm", confirm);
 * ```
 */
export type ServerRequestHandler = (
  params: unknown,
  context: ServerRequestContext,
) => unknown | Promise<unknown>;

/**
 * The states of a {@linkcode TuigateClient}.
 *
 * @example
 * ```ts
 * import { ClientState, TuigateClient } from "@tuigate/tuigate/client";
 * const client = new TuigateClient({ command: "tuigate" });
 * client.state === ClientState.Idle; // true: start() not called yet
 * await client.start();
 * if (client.state === ClientState.Ready) await client.close();
 * ```
 */
export enum ClientState {
  /** Made, not started. */
  Idle = "idle",
  /** Spawned, waiting for `gateway.ready`. */
  Starting = "starting",
  /** Connected. */
  Ready = "ready",
  /** The gateway exited unexpectedly; restart attempts are under way. Calls wait. */
  Restarting = "restarting",
  /** `close()` is under way. */
  Closing = "closing",
  /** Closed, or the gateway is gone for good. Calls reject with {@linkcode GatewayExitedError}. */
  Closed = "closed",
}

/**
 * How `close()` ended the gateway.
 *
 * @example
 * ```ts
 * import { type CloseResult, TuigateClient } from "@tuigate/tuigate/client";
 * const client = await TuigateClient.start({ command: "tuigate" });
 * const result: CloseResult = await client.close();
 * if (result.step !== "stdin") console.error(`gateway needed ${result.step} (${result.ms} ms)`);
 * ```
 */
export interface CloseResult {
  /** The exit code, or `null`. */
  code: number | null;
  /** The signal that ended it, or `null`. */
  signal: string | null;
  /** The step that ended it: `"stdin"` (EOF), `"sigterm"`, `"sigkill"`, or `"gone"` (it was not running). */
  step: "stdin" | "sigterm" | "sigkill" | "gone";
  /** Milliseconds `close()` took. */
  ms: number;
  /** Processes of its session still alive after it exited, then killed. */
  leftovers: number;
}

/**
 * A spawned command line.
 *
 * @example
 * ```ts
 * import { type CommandLine, TuigateClient } from "@tuigate/tuigate/client";
 * const line: CommandLine = { command: "./my-backend", args: ["--framing", "line"] };
 * await using client = await TuigateClient.start({ ...line, cwd: "/tmp" });
 * ```
 */
export interface CommandLine {
  /** The program. */
  command: string;
  /** Its arguments. */
  args: string[];
}

/**
 * Options for {@linkcode denoRunCommand}.
 *
 * @example
 * ```ts
 * import { denoRunCommand, type DenoRunOptions, TuigateClient } from "@tuigate/tuigate/client";
 * const options: DenoRunOptions = { permissions: ["--allow-all"], args: ["--framing", "lsp"] };
 * await using client = await TuigateClient.start({
 *   ...denoRunCommand("./main.ts", options),
 *   framing: "lsp",
 * });
 * ```
 */
export interface DenoRunOptions {
  /**
   * The deno binary.
   * @default {process.execPath under Deno, else "deno"}
   */
  deno?: string;
  /**
   * Permission flags (those of the `start` task).
   * @default {["--quiet", "--allow-read", "--allow-write", "--allow-env", "--allow-run", "--allow-net", "--allow-sys=osRelease"]}
   */
  permissions?: string[];
  /**
   * Gateway flags appended after the script.
   * @default {[]}
   */
  args?: string[];
}

/**
 * The command line that runs a gateway script (such as tuigate's `main.ts`)
 * with `deno run`.
 *
 * @example
 * ```ts
 * import { denoRunCommand, TuigateClient } from "@tuigate/tuigate/client";
 * await using client = await TuigateClient.start(denoRunCommand("./main.ts"));
 * ```
 */
export function denoRunCommand(script: string, options: DenoRunOptions = {}): CommandLine {
  const deno = options.deno ?? (process.versions.deno !== undefined ? process.execPath : "deno");
  return {
    command: deno,
    args: [
      "run",
      ...(options.permissions ?? [
        "--quiet",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-run",
        "--allow-net",
        "--allow-sys=osRelease",
      ]),
      script,
      ...(options.args ?? []),
    ],
  };
}

interface PendingCall {
  process: GatewayProcess;
  method: string;
  reject: (error: unknown) => void;
  settle: (message: Record<string, unknown>) => void;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // Rejections are for whoever waits, if anyone.
  return { promise, resolve, reject };
}

type Settings =
  & Required<
    Omit<ClientOptions, "onStderr" | "restart" | "cwd" | "env">
  >
  & {
    cwd: string | undefined;
    env: Record<string, string>;
    onStderr: ((text: string) => void) | undefined;
    restart: RestartPolicy | undefined;
  };

function settingsOf(options: ClientOptions): Settings {
  const framing = options.framing ?? "line";
  const capabilities = options.capabilities ?? {};
  try {
    JSON.stringify(capabilities);
  } catch (error) {
    throw new TypeError(
      `Cannot create the client: its capabilities cannot be serialised as JSON (${
        (error as Error).message
      })`,
    );
  }
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...process.env, TUIGATE_FRAMING: framing })) {
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return {
    command: options.command ?? "tuigate",
    args: options.args ?? [],
    cwd: options.cwd,
    env,
    framing,
    readyTimeoutMs: options.readyTimeoutMs ?? 15_000,
    callTimeoutMs: options.callTimeoutMs ?? 0,
    serverRequests: options.serverRequests ?? true,
    capabilities,
    restart: options.restart === true
      ? restartPolicy()
      : options.restart
      ? restartPolicy(options.restart)
      : undefined,
    closeInputWaitMs: options.closeInputWaitMs ?? 3000,
    terminateWaitMs: options.terminateWaitMs ?? 2000,
    killWaitMs: options.killWaitMs ?? 2000,
    stderrTailBytes: options.stderrTailBytes ?? 8192,
    onStderr: options.onStderr,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
  };
}

/**
 * The longest frame the client reads by default: 256 MiB, past what one
 * JavaScript string holds as JSON text, so no real answer is refused, while a
 * corrupt length cannot make the client allocate without bound.
 */
const DEFAULT_MAX_FRAME_BYTES = 256 * 1024 * 1024;

/** The built-in method that makes the gateway exit: an exit the client asked for. */
const SHUTDOWN_METHOD = "gateway.shutdown";

/**
 * The longest delay a timer can take (2^31 - 1 ms, about 24.8 days): a
 * longer one fires at once, so such a wait (or `Infinity`) has no timer.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Whether a wait of `ms` is bounded by a timer (a positive, finite delay a timer can take). */
function hasLimit(ms: number): boolean {
  return ms > 0 && ms <= MAX_TIMER_MS;
}

/** Resolves with the value, or `undefined` after `ms` (no limit above {@linkcode MAX_TIMER_MS}). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  if (ms > MAX_TIMER_MS) return await promise;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((
    resolve,
  ) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describeExit(exit: ProcessExit): string {
  if (exit.error !== undefined) return `could not be spawned (${exit.error.message})`;
  return exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

function errorObject(error: unknown, method: string): Record<string, unknown> {
  if (error instanceof JsonRpcError) return { ...error.toJson() };
  const candidate = error as { code?: unknown; message?: unknown; data?: unknown } | null;
  if (
    typeof candidate === "object" && candidate !== null && typeof candidate.code === "number" &&
    Number.isInteger(candidate.code) && typeof candidate.message === "string"
  ) {
    const json: Record<string, unknown> = { code: candidate.code, message: candidate.message };
    if (candidate.data !== undefined) json.data = candidate.data;
    return json;
  }
  return {
    code: -32603,
    message: `Client handler for ${method} failed: ${
      error instanceof Error ? error.message : String(error)
    }`,
  };
}

/**
 * A client of a tuigate gateway (or any gateway built with the library): it
 * spawns the process, waits for `gateway.ready`, and offers typed calls,
 * notification subscriptions, handlers for server-to-client requests, and
 * cancellation with `AbortSignal`. It works under Deno and Node (Unix).
 *
 * - An unexpected exit rejects every pending call with
 *   {@linkcode GatewayExitedError}; with `restart`, the client respawns the
 *   gateway with exponential backoff and jitter, dispatching a `restart`
 *   event per attempt and `ready` when one succeeds. Calls made meanwhile
 *   wait for it.
 * - `close()` ends stdin and waits, then sends SIGTERM, waits, then SIGKILL
 *   to the whole tree (the gateway runs detached, in its own session, and
 *   every process of that session or descended from it is signalled).
 *
 * It is an `EventTarget`: `ready`, `exit`, `restart`, `restartfailed` and
 * `protocolerror` (see {@linkcode ClientEventMap}).
 *
 * @example
 * ```ts
 * import { denoRunCommand, TuigateClient } from "@tuigate/tuigate/client";
 *
 * await using client = await TuigateClient.start(denoRunCommand("./main.ts"));
 * const { pong } = await client.call("gateway.ping");
 * const stop = client.on("job.output", (p) => p.text && Deno.stdout.write(new TextEncoder().encode(p.text)));
 * client.handle("ui.confirm", (params) => ({ ok: true }));
 * const { job } = await client.call("job.start", { cmd: "ls", args: ["-l"] });
 * const cancel = new AbortController();
 * await client.call("job.cancel", { job }, { signal: cancel.signal, timeout: 5000 });
 * stop();
 * ```
 */
export class TuigateClient<
  M extends object = GatewayMethods,
  N extends object = GatewayNotifications,
> extends EventTarget {
  #settings: Settings;
  #state = ClientState.Idle;
  #process: GatewayProcess | undefined;
  #ready: ReadyParams | undefined;
  #readyAt = 0;
  #awaitingReady: { process: GatewayProcess; resolve: (params: ReadyParams) => void } | undefined;
  #connected: Deferred<void> = deferred();
  #nextId = 1;
  #pending = new Map<number, PendingCall>();
  #listeners = new Map<string, Set<(params: never, method: string) => void>>();
  #handlers = new Map<string, ServerRequestHandler>();
  #inbound = new Map<string, AbortController>();
  #handledExits = new WeakSet<GatewayProcess>();
  #attempts = 0;
  #startPromise: Promise<ReadyParams> | undefined;
  #closePromise: Promise<CloseResult> | undefined;
  #closing = new AbortController();

  /** Makes a client; nothing is spawned before {@linkcode TuigateClient.start}. */
  constructor(options: ClientOptions = {}) {
    super();
    this.#settings = settingsOf(options);
  }

  /** Makes a client and starts it: resolves once the gateway is ready. */
  static async start<M extends object = GatewayMethods, N extends object = GatewayNotifications>(
    options: ClientOptions = {},
  ): Promise<TuigateClient<M, N>> {
    const client = new TuigateClient<M, N>(options);
    await client.start();
    return client;
  }

  /** The current state. */
  get state(): ClientState {
    return this.#state;
  }

  /** The params of the last `gateway.ready`, once started. */
  get ready(): ReadyParams | undefined {
    return this.#ready;
  }

  /** The pid of the current gateway process. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** The last bytes the current (or last) gateway process wrote to stderr. */
  get stderrTail(): string {
    return this.#process?.stderrTail ?? "";
  }

  /**
   * Spawns the gateway and resolves with the params of `gateway.ready`
   * (after announcing capabilities). Rejects with {@linkcode GatewayStartError}
   * when it cannot be spawned, exits first, or is not ready within
   * `readyTimeoutMs`. Calling it again returns the same promise.
   */
  start(): Promise<ReadyParams> {
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  async #start(): Promise<ReadyParams> {
    if (this.#state !== ClientState.Idle) {
      throw new GatewayExitedError("Cannot start the client: it is closed", { closed: true });
    }
    this.#state = ClientState.Starting;
    try {
      const params = await this.#spawn();
      this.#becomeReady(params, 0);
      return params;
    } catch (error) {
      if (this.#state === ClientState.Starting) this.#state = ClientState.Closed;
      this.#connected.reject(error);
      throw error;
    }
  }

  /** Calls a method and resolves with its result; rejects with a `JsonRpcError` for an error response. */
  call<K extends keyof M & string>(
    method: K,
    ...args: undefined extends ParamsOf<M, K> ? [params?: ParamsOf<M, K>, options?: CallOptions]
      : [params: ParamsOf<M, K>, options?: CallOptions]
  ): Promise<ResultOf<M, K>>;
  /** Calls a method not in the type map (methods in it must match its types). */
  call<R = unknown, S extends string = string>(
    method: S & (S extends keyof M ? never : unknown),
    params?: unknown,
    options?: CallOptions,
  ): Promise<R>;
  call(method: string, params?: unknown, options: CallOptions = {}): Promise<unknown> {
    return this.#call(method, params, options);
  }

  async #call(method: string, params: unknown, options: CallOptions): Promise<unknown> {
    const signal = options.signal;
    signal?.throwIfAborted();
    const timeoutMs = options.timeout ?? this.#settings.callTimeoutMs;
    const deadline = new AbortController();
    const timer = hasLimit(timeoutMs)
      ? setTimeout(
        () =>
          deadline.abort(
            new DOMException(`Call ${method} timed out after ${timeoutMs} ms`, "TimeoutError"),
          ),
        timeoutMs,
      )
      : undefined;
    const abort = signal === undefined ? deadline.signal : AbortSignal.any([
      signal,
      deadline.signal,
    ]);
    try {
      // Ready: written before this returns, so a call made just before close() is still sent
      // (close() ends stdin after what was written) and answered.
      const gateway = this.#state === ClientState.Ready
        ? this.#process!
        : await this.#whenConnected(method, abort);
      if (method !== SHUTDOWN_METHOD) return await this.#request(gateway, method, params, abort);
      // Asked for: its exit is expected, and the client does not restart it.
      gateway.shutdownRequested = true;
      try {
        return await this.#request(gateway, method, params, abort);
      } catch (error) {
        if (error instanceof JsonRpcError) gateway.shutdownRequested = false; // Refused.
        throw error;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves with the ready process, waiting through a start or restart. */
  async #whenConnected(method: string, signal: AbortSignal): Promise<GatewayProcess> {
    for (;;) {
      switch (this.#state) {
        case ClientState.Ready:
          return this.#process!;
        case ClientState.Idle:
          throw new Error(`Cannot call ${method}: the client is not started (call start() first)`);
        case ClientState.Closing:
        case ClientState.Closed:
          throw new GatewayExitedError(`Cannot call ${method}: the client is closed`, {
            closed: this.#closePromise !== undefined,
            stderrTail: this.stderrTail,
          });
        default: {
          signal.throwIfAborted();
          let onAbort: (() => void) | undefined;
          const aborted = new Promise<never>((_, reject) => {
            onAbort = () => reject(signal.reason);
            signal.addEventListener("abort", onAbort, { once: true });
          });
          try {
            await Promise.race([this.#connected.promise, aborted]);
          } finally {
            signal.removeEventListener("abort", onAbort!);
          }
        }
      }
    }
  }

  #request(
    gateway: GatewayProcess,
    method: string,
    params: unknown,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    signal?.throwIfAborted();
    const id = this.#nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const onAbort = () => {
        if (!this.#pending.delete(id)) return;
        void gateway.write({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id } });
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => signal?.removeEventListener("abort", onAbort);
      this.#pending.set(id, {
        process: gateway,
        method,
        reject: (error) => {
          done();
          reject(error);
        },
        settle: (message) => {
          done();
          if ("error" in message) {
            const error = message.error as { code: number; message: string; data?: unknown };
            reject(new JsonRpcError(error.code, error.message, error.data));
          } else {
            resolve(message.result);
          }
        },
      });
      const message = params === undefined
        ? { jsonrpc: "2.0", id, method }
        : { jsonrpc: "2.0", id, method, params };
      try {
        void gateway.write(message);
      } catch (error) {
        // The params cannot be serialised (a BigInt, a cycle): nothing was sent, nothing is left pending.
        this.#pending.delete(id);
        done();
        reject(
          new TypeError(`Cannot call ${method}: its params cannot be serialised as JSON`, {
            cause: error,
          }),
        );
      }
    });
  }

  /** Sends a notification (no answer). Waits through a start or restart; rejects when closed. */
  async notify(method: string, params?: unknown): Promise<void> {
    const gateway = this.#state === ClientState.Ready
      ? this.#process!
      : await this.#whenConnected(method, new AbortController().signal);
    if (method === SHUTDOWN_METHOD) gateway.shutdownRequested = true;
    await gateway.write(
      params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params },
    );
  }

  /**
   * Calls `handler` with the params of every notification of `method` (from
   * every gateway process, across restarts). Returns a function that
   * unsubscribes. Handlers must not throw; what they throw is ignored.
   */
  on<K extends keyof N & string>(method: K, handler: (params: N[K], method: K) => void): () => void;
  /** Subscribes to a notification not in the type map. */
  on(method: string, handler: (params: unknown, method: string) => void): () => void;
  on(method: string, handler: (params: never, method: string) => void): () => void {
    let set = this.#listeners.get(method);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(method, set);
    }
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.#listeners.get(method) === set) this.#listeners.delete(method);
    };
  }

  /**
   * Answers the gateway's requests of `method` with `handler`'s result, or
   * with the error it throws (a `JsonRpcError`, or anything with a numeric
   * `code` and a `message`; other errors become -32603). The handler's
   * signal aborts when the gateway sends `request.cancel`; no answer is sent
   * then. Returns a function that removes the handler.
   * Throws a `TypeError` if `method` already has a handler.
   */
  handle(method: string, handler: ServerRequestHandler): () => void {
    if (this.#handlers.has(method)) {
      throw new TypeError(`Cannot handle ${method}: a handler is already registered`);
    }
    this.#handlers.set(method, handler);
    return () => {
      if (this.#handlers.get(method) === handler) this.#handlers.delete(method);
    };
  }

  async #spawn(): Promise<ReadyParams> {
    const settings = this.#settings;
    let firstProtocolError: string | undefined;
    const gateway: GatewayProcess = new GatewayProcess({
      command: settings.command,
      args: settings.args,
      cwd: settings.cwd,
      env: settings.env,
      framing: settings.framing,
      maxFrameBytes: settings.maxFrameBytes,
      stderrTailBytes: settings.stderrTailBytes,
      onStderr: settings.onStderr,
      onMessage: (message) => this.#onMessage(gateway, message),
      onProtocolError: (reason, text) => {
        firstProtocolError ??= reason;
        if (this.#process === gateway) this.dispatchEvent(new ProtocolErrorEvent(reason, text));
      },
    });
    this.#process = gateway;
    void gateway.exited.then((exit) => this.#onExit(gateway, exit));
    const ready = new Promise<ReadyParams>((resolve) => {
      this.#awaitingReady = { process: gateway, resolve };
    });
    const started = Promise.race([ready, gateway.exited.then((exit) => ({ exit }))]);
    const outcome = hasLimit(settings.readyTimeoutMs)
      ? await within(started, settings.readyTimeoutMs)
      : await started;
    this.#awaitingReady = undefined;
    this.#throwIfClosing(); // close() takes care of the process.
    if (outcome === undefined) {
      await this.#killTree(gateway, "SIGKILL");
      await gateway.exited;
      throw new GatewayStartError(
        `Gateway ${settings.command} did not send gateway.ready within ${settings.readyTimeoutMs} ms${
          firstProtocolError === undefined
            ? ""
            : ` (its stdout is not ${settings.framing} framing as the client expects: ${firstProtocolError})`
        }`,
        { stderrTail: gateway.stderrTail },
      );
    }
    if ("exit" in outcome) {
      const exit = outcome.exit;
      throw new GatewayStartError(
        `Gateway ${settings.command} ${describeExit(exit)} before sending gateway.ready`,
        { stderrTail: gateway.stderrTail, code: exit.code, signal: exit.signal, cause: exit.error },
      );
    }
    this.#throwIfClosing();
    const announce: Record<string, unknown> = { ...settings.capabilities };
    if (settings.serverRequests) announce.serverRequests = true;
    if (Object.keys(announce).length > 0) {
      // Bounded by what is left of the ready timeout: a gateway that never answers fails the start.
      const left = Math.max(1, settings.readyTimeoutMs - (performance.now() - gateway.spawnedAt));
      const deadline = new AbortController();
      const timer = hasLimit(settings.readyTimeoutMs)
        ? setTimeout(() => deadline.abort(), left)
        : undefined;
      try {
        await this.#request(gateway, "client.capabilities", announce, deadline.signal);
      } catch (error) {
        if (deadline.signal.aborted) {
          await this.#killTree(gateway, "SIGKILL");
          await gateway.exited;
          this.#throwIfClosing();
          throw new GatewayStartError(
            `Gateway ${settings.command} did not answer client.capabilities within ${settings.readyTimeoutMs} ms of starting`,
            { stderrTail: gateway.stderrTail },
          );
        }
        if (error instanceof GatewayExitedError) {
          this.#throwIfClosing();
          throw new GatewayStartError(
            `Gateway ${settings.command} exited while the client announced its capabilities`,
            { stderrTail: gateway.stderrTail, cause: error },
          );
        }
        // A gateway without client.capabilities (-32601) simply never asks the client.
        if (!(error instanceof JsonRpcError)) {
          // Anything else: nothing may be left running that the caller cannot close.
          await this.#killTree(gateway, "SIGKILL");
          await gateway.exited;
          this.#throwIfClosing();
          throw new GatewayStartError(
            `Gateway ${settings.command} could not be told the client's capabilities: ${
              (error as Error).message
            }`,
            { stderrTail: gateway.stderrTail, cause: error },
          );
        }
      } finally {
        clearTimeout(timer);
      }
    }
    this.#throwIfClosing();
    return outcome;
  }

  #throwIfClosing(): void {
    if (this.#state === ClientState.Closing || this.#state === ClientState.Closed) {
      throw new GatewayExitedError("The client was closed while the gateway was starting", {
        closed: true,
        stderrTail: this.stderrTail,
      });
    }
  }

  #becomeReady(params: ReadyParams, attempt: number): void {
    this.#ready = params;
    this.#readyAt = performance.now();
    this.#state = ClientState.Ready;
    this.#connected.resolve();
    this.dispatchEvent(new ReadyEvent(params, attempt));
  }

  #onMessage(gateway: GatewayProcess, message: unknown): void {
    if (Array.isArray(message)) {
      for (const item of message) this.#onMessage(gateway, item);
      return;
    }
    if (typeof message !== "object" || message === null) {
      this.dispatchEvent(new ProtocolErrorEvent("A message is not an object", String(message)));
      return;
    }
    const m = message as Record<string, unknown>;
    if (typeof m.method === "string") {
      if ("id" in m && (typeof m.id === "string" || typeof m.id === "number")) {
        this.#answer(gateway, m.id, m.method, m.params).catch((error) =>
          this.dispatchEvent(
            new ProtocolErrorEvent(`Answering ${m.method} failed: ${(error as Error).message}`),
          )
        );
      } else {
        this.#notification(gateway, m.method, m.params);
      }
      return;
    }
    if (typeof m.id === "number") {
      const pending = this.#pending.get(m.id);
      // Otherwise a late answer to a cancelled or timed-out call: dropped.
      if (pending === undefined || pending.process !== gateway) return;
      this.#pending.delete(m.id);
      const found = classifyMessage(m);
      if (found.kind === "response") {
        pending.settle(m);
        return;
      }
      const reason = found.kind === "invalid" ? found.reason : "Not a response";
      pending.reject(
        new JsonRpcError(
          -32600,
          `The gateway's answer to ${pending.method} (${m.id}) is not a valid response: ${reason}`,
          { id: m.id, reason },
        ),
      );
      this.dispatchEvent(
        new ProtocolErrorEvent(
          `An answer is not a valid response: ${reason}`,
          JSON.stringify(m).slice(0, 200),
        ),
      );
      return;
    }
    if ("error" in m) {
      // An error the gateway could not tie to a request (id null): a parse error of ours.
      this.dispatchEvent(
        new ProtocolErrorEvent(
          "The gateway answered an unreadable frame",
          JSON.stringify(m).slice(0, 200),
        ),
      );
    }
  }

  #notification(gateway: GatewayProcess, method: string, params: unknown): void {
    if (method === "gateway.ready" && this.#awaitingReady?.process === gateway) {
      this.#awaitingReady.resolve(params as ReadyParams);
    } else if (method === "request.cancel") {
      const id = (params as { id?: unknown; reason?: unknown } | undefined)?.id;
      const controller = this.#inbound.get(String(id));
      if (controller !== undefined) {
        this.#inbound.delete(String(id));
        controller.abort(
          new DOMException(
            `The gateway cancelled request ${String(id)}: ${
              String((params as { reason?: unknown }).reason)
            }`,
            "AbortError",
          ),
        );
      }
    }
    const set = this.#listeners.get(method);
    if (set === undefined) return;
    for (const handler of [...set]) {
      try {
        handler(params as never, method);
      } catch {
        // Documented: a throwing handler does not stop the others.
      }
    }
  }

  async #answer(
    gateway: GatewayProcess,
    id: string | number,
    method: string,
    params: unknown,
  ): Promise<void> {
    const handler = this.#handlers.get(method);
    if (handler === undefined) {
      await gateway.write({
        jsonrpc: "2.0",
        id,
        error: { code: -32601, message: "Method not found", data: { method } },
      });
      return;
    }
    const controller = new AbortController();
    this.#inbound.set(String(id), controller);
    let reply: Record<string, unknown>;
    try {
      const result = await handler(params, { signal: controller.signal, id, method });
      reply = { jsonrpc: "2.0", id, result: result === undefined ? null : result };
    } catch (error) {
      reply = { jsonrpc: "2.0", id, error: errorObject(error, method) };
    }
    if (this.#inbound.get(String(id)) === controller) this.#inbound.delete(String(id));
    if (controller.signal.aborted || gateway.gone) return;
    try {
      await gateway.write(reply);
    } catch (error) {
      // The handler's result cannot be serialised: answer -32603 instead of leaving the gateway waiting.
      await gateway.write({
        jsonrpc: "2.0",
        id,
        error: {
          code: -32603,
          message: `Result of ${method} could not be serialised: ${(error as Error).message}`,
          data: { method },
        },
      });
    }
  }

  #onExit(gateway: GatewayProcess, exit: ProcessExit): void {
    if (this.#handledExits.has(gateway)) return;
    this.#handledExits.add(gateway);
    const closing = this.#closePromise !== undefined;
    const stderrTail = gateway.stderrTail;
    for (const [id, pending] of this.#pending) {
      if (pending.process !== gateway) continue;
      this.#pending.delete(id);
      pending.reject(
        new GatewayExitedError(
          closing
            ? `Gateway closed while ${pending.method} was pending`
            : `Gateway ${describeExit(exit)} while ${pending.method} was pending`,
          { code: exit.code, signal: exit.signal, stderrTail, closed: closing },
        ),
      );
    }
    if (this.#process === gateway) {
      for (const controller of this.#inbound.values()) {
        controller.abort(new DOMException("The gateway exited", "AbortError"));
      }
      this.#inbound.clear();
    }
    if (exit.error !== undefined && gateway.pid === undefined) return; // Never ran: no exit event.
    const wasReady = this.#state === ClientState.Ready && this.#process === gateway;
    // Asked for with gateway.shutdown: an expected exit, after which the client is closed.
    const shutDown = gateway.shutdownRequested && !closing;
    const restart = this.#settings.restart;
    const unexpected = wasReady && !closing && !shutDown;
    const cause = new GatewayExitedError(
      shutDown
        ? "The gateway was shut down (gateway.shutdown)"
        : `Gateway ${describeExit(exit)} unexpectedly`,
      { code: exit.code, signal: exit.signal, stderrTail },
    );
    if (wasReady && !closing) {
      // The state changes before any exit listener runs: a call made from one waits for the
      // restart or rejects, and a close() made from one is not undone by a restart.
      void this.#sweep(gateway);
      this.#state = unexpected && restart !== undefined
        ? ClientState.Restarting
        : ClientState.Closed;
      this.#connected = deferred();
      if (this.#state === ClientState.Closed) this.#connected.reject(cause);
    }
    this.dispatchEvent(
      new ExitEvent(
        { code: exit.code, signal: exit.signal, expected: closing || shutDown, stderrTail },
        gateway.pid ?? -1,
      ),
    );
    // A listener may have called close(): then there is no restart.
    if (!unexpected || restart === undefined || this.#state !== ClientState.Restarting) return;
    void this.#restart(restart, cause);
  }

  async #restart(policy: RestartPolicy, cause: Error): Promise<void> {
    if (performance.now() - this.#readyAt >= policy.stableAfterMs) this.#attempts = 0;
    let last = cause;
    for (;;) {
      if (this.#state !== ClientState.Restarting) return;
      this.#attempts++;
      if (this.#attempts > policy.maxAttempts) {
        const attempts = this.#attempts - 1;
        this.#state = ClientState.Closed;
        const error = new GatewayExitedError(
          `Gateway could not be restarted after ${attempts} attempts: ${last.message}`,
          { stderrTail: this.stderrTail, cause: last },
        );
        this.#connected.reject(error);
        this.dispatchEvent(new RestartFailedEvent(attempts, last));
        return;
      }
      const attempt = this.#attempts;
      const delayMs = backoffDelay(attempt, policy);
      this.dispatchEvent(
        new RestartEvent({ attempt, delayMs, maxAttempts: policy.maxAttempts }, last),
      );
      // A restart listener may have called close(): its abort has already fired.
      if (this.#state !== ClientState.Restarting) return;
      let onClose: (() => void) | undefined;
      await within(
        new Promise<void>((resolve) => {
          onClose = resolve;
          this.#closing.signal.addEventListener("abort", onClose, { once: true });
        }),
        delayMs,
      );
      this.#closing.signal.removeEventListener("abort", onClose!);
      if (this.#state !== ClientState.Restarting) return;
      try {
        const params = await this.#spawn();
        if (this.#state !== ClientState.Restarting) return;
        this.#becomeReady(params, attempt);
        return;
      } catch (error) {
        last = error as Error;
      }
    }
  }

  /** Signals the whole tree of a gateway process: its session, its group, its descendants. */
  async #killTree(gateway: GatewayProcess, signal: NodeJS.Signals): Promise<TreeProcess[]> {
    const pid = gateway.pid;
    if (pid === undefined) return [];
    const tree = await processTree(pid);
    if (!gateway.gone && !tree.some((p) => p.pid === pid)) {
      tree.push({ pid, ppid: process.pid, pgid: pid, sid: pid });
    }
    signalTree(tree, signal);
    return tree;
  }

  /**
   * Kills what a gateway that is gone left behind: what is still in its
   * session, and the processes of earlier snapshots of its tree (a process
   * that made a session of its own is found by parent pid only while the
   * gateway lives). Returns how many processes were killed.
   */
  async #sweep(gateway: GatewayProcess, known: TreeProcess[] = []): Promise<number> {
    const pid = gateway.pid;
    if (pid === undefined) return 0;
    const left = new Map<number, TreeProcess>();
    for (const p of known) left.set(p.pid, p);
    for (const p of await processTree(pid)) left.set(p.pid, p);
    left.delete(pid);
    if (left.size === 0) return 0;
    return signalTree([...left.values()], "SIGKILL");
  }

  /**
   * Closes the client: ends the gateway's stdin and waits `closeInputWaitMs`,
   * then sends SIGTERM to the whole tree and waits `terminateWaitMs`, then
   * SIGKILL and waits `killWaitMs`; whatever its session still holds after
   * the gateway exited is killed too. Pending calls reject with
   * {@linkcode GatewayExitedError} (`closed: true`). Idempotent.
   */
  close(): Promise<CloseResult> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<CloseResult> {
    const started = performance.now();
    this.#state = ClientState.Closing;
    this.#closing.abort();
    const settings = this.#settings;
    const gateway = this.#process;
    let step: CloseResult["step"] = "gone";
    let exit: ProcessExit | undefined;
    const known: TreeProcess[] = [];
    if (gateway !== undefined && !gateway.gone) {
      step = "stdin";
      gateway.endInput();
      exit = await within(gateway.exited, settings.closeInputWaitMs);
      if (exit === undefined) {
        step = "sigterm";
        known.push(...await this.#killTree(gateway, "SIGTERM"));
        exit = await within(gateway.exited, settings.terminateWaitMs);
      }
      if (exit === undefined) {
        step = "sigkill";
        known.push(...await this.#killTree(gateway, "SIGKILL"));
        exit = await within(gateway.exited, settings.killWaitMs);
      }
    }
    if (gateway !== undefined) {
      exit ??= gateway.gone ? await gateway.exited : undefined;
      if (exit !== undefined) this.#onExit(gateway, exit);
    }
    const leftovers = gateway === undefined ? 0 : await this.#sweep(gateway, known);
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.reject(
        new GatewayExitedError(`Client closed while ${pending.method} was pending`, {
          closed: true,
        }),
      );
    }
    this.#state = ClientState.Closed;
    this.#connected.reject(
      new GatewayExitedError("The client is closed", { closed: true, stderrTail: this.stderrTail }),
    );
    return {
      code: exit?.code ?? null,
      signal: exit?.signal ?? null,
      step,
      ms: performance.now() - started,
      leftovers,
    };
  }

  /** Closes the client (see {@linkcode TuigateClient.close}). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Listens to a lifecycle event (see {@linkcode ClientEventMap}). */
  override addEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (event: ClientEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Listens to any event. */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null | ((event: never) => void),
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  /** Stops listening to a lifecycle event. */
  override removeEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (event: ClientEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Stops listening to any event. */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null | ((event: never) => void),
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(
      type,
      listener as EventListenerOrEventListenerObject | null,
      options,
    );
  }
}
