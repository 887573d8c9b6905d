/**
 * The process around a gateway: signals, the grace period, the watchdogs,
 * uncaught errors, and the exit ledger. Every exit goes through
 * {@linkcode ProcessLifecycle.shutdown}.
 *
 * @module
 */

import { getLogger } from "../protocol/logger.ts";
import { watchInterrupt } from "../protocol/turn_budget.ts";
import { claimExit, EXIT_BY_MAIN, EXIT_BY_WATCHDOG } from "./_exit_owner.ts";
import { ParentWatch } from "./_parent_watch.ts";
import type { AsyncLineSink } from "./async_line_sink.ts";
import type { EarlySignals } from "./early_signals.ts";
import type { ExitLedger, ExitReason } from "./exit_ledger.ts";

const logger = getLogger(["tuigate", "lifecycle"]);

/** The signals the watchdog worker reports through the shared flag, by index + 1. */
const WATCHED_SIGNALS: readonly Deno.Signal[] = ["SIGTERM", "SIGHUP", "SIGINT"];

/**
 * Exit codes of the gateway process.
 *
 * @example
 * ```ts
 * import { EXIT_CODES } from "@tuigate/tuigate";
 * const status = { code: 70 }; // for example from Deno.Command(...).output()
 * if (status.code === EXIT_CODES.CRASH) {
 *   // read the last line of the exit ledger
 * }
 * ```
 */
export const EXIT_CODES = {
  /** Every orderly exit. */
  OK: 0,
  /** A bad flag or environment value. */
  USAGE: 2,
  /** An unexpected error ended the gateway. */
  CRASH: 70,
  /** The session store could not be opened or used (locked, corrupt, read-only). */
  STORE_UNAVAILABLE: 73,
} as const;

/**
 * The states of a {@linkcode ProcessLifecycle}.
 *
 * @example
 * ```ts
 * import { ExitLedger, LifecycleState, ProcessLifecycle } from "@tuigate/tuigate";
 * const lifecycle = new ProcessLifecycle(new ExitLedger("/tmp/exits.jsonl"));
 * lifecycle.state === LifecycleState.Idle; // true: start() not called yet
 * ```
 */
export enum LifecycleState {
  /** Made, not started. */
  Idle = "idle",
  /** Serving. */
  Running = "running",
  /** Shutting down; the grace timer runs. */
  Draining = "draining",
  /** Writing the ledger and exiting. */
  Exiting = "exiting",
}

/**
 * Options for {@linkcode ProcessLifecycle}.
 *
 * @example
 * ```ts
 * import { AsyncLineSink, ExitLedger, ProcessLifecycle, type ProcessLifecycleOptions } from "@tuigate/tuigate";
 * const running = new Set<string>();
 * const options: ProcessLifecycleOptions = {
 *   graceMs: 3000,
 *   stderr: new AsyncLineSink(Deno.stderr),
 *   exitOnSigint: true,
 *   inflight: () => running.size,
 *   meta: { app: "my-backend" },
 * };
 * new ProcessLifecycle(new ExitLedger("/tmp/exits.jsonl"), options);
 * ```
 */
export interface ProcessLifecycleOptions {
  /**
   * Milliseconds from the start of a shutdown to a forced exit.
   * @default {1000}
   */
  graceMs?: number;
  /**
   * Where log lines and `[tuigate-exit]` go.
   * @default {undefined} nothing is written
   */
  stderr?: AsyncLineSink;
  /**
   * Whether SIGINT shuts down (by default it is ignored: the TUI owns Ctrl+C).
   * @default {false}
   */
  exitOnSigint?: boolean;
  /**
   * Whether to start the watchdog worker.
   * @default {true}
   */
  watchdog?: boolean;
  /**
   * Milliseconds after `start()` at which the watchdog worker is started if
   * {@linkcode ProcessLifecycle.startWatchdog} was not called earlier.
   * Creating a worker blocks the main isolate for ~10 ms, so runners start it
   * right after their first frame is written instead of before.
   * @default {100}
   */
  watchdogDelayMs?: number;
  /**
   * Milliseconds past the grace period after which the watchdog kills the process.
   * @default {250}
   */
  watchdogMarginMs?: number;
  /**
   * Interval of the parent-death check, in ms; 0 disables it. The parent is
   * the one of `earlySignals` (the earliest seen), else `Deno.ppid` at
   * `start()`; on Linux, launchers between the TUI and the gateway
   * (`deno task`, `npx`, `sh -c`) are climbed over, so the TUI is watched.
   * @default {500}
   */
  parentCheckMs?: number;
  /**
   * Signals caught while the process started; the lifecycle takes them over
   * in `start()` and acts on the first at once.
   * @default {undefined}
   */
  earlySignals?: EarlySignals;
  /**
   * Requests in flight, for the ledger.
   * @default {() => 0}
   */
  inflight?: () => number;
  /**
   * Fields added to every ledger line (epoch, version, …).
   * @default {{}}
   */
  meta?: Record<string, unknown>;
  /**
   * Whether to call `Deno.exit` at the end (tests of the library may turn it off).
   * @default {true}
   */
  exit?: boolean;
}

/**
 * Details of a shutdown.
 *
 * @example
 * ```ts
 * import { ExitLedger, ProcessLifecycle, type ShutdownDetails } from "@tuigate/tuigate";
 * const lifecycle = new ProcessLifecycle(new ExitLedger("/tmp/exits.jsonl"));
 * const details: ShutdownDetails = { signal: "SIGHUP" };
 * Deno.addSignalListener("SIGHUP", () => lifecycle.shutdown("signal", details));
 * ```
 */
export interface ShutdownDetails {
  /**
   * The signal that caused it.
   * @default {undefined}
   */
  signal?: string;
  /**
   * The error that caused a crash.
   * @default {undefined}
   */
  error?: unknown;
}

/**
 * A step of the orderly drain; it gets the reason and should finish within the grace period.
 *
 * @example
 * ```ts
 * import { type DrainStep, ExitLedger, ProcessLifecycle } from "@tuigate/tuigate";
 * const flushCache: DrainStep = async (reason) => {
 *   if (reason !== "crash") await Deno.writeTextFile("/tmp/cache.json", "{}");
 * };
 * new ProcessLifecycle(new ExitLedger("/tmp/exits.jsonl")).onDrain(flushCache);
 * ```
 */
export type DrainStep = (reason: ExitReason) => Promise<void> | void;

const isWindows = Deno.build.os === "windows";

/** When `startBackground()` looks for the TUI above launchers if no runner asked earlier, in ms. */
const CLIMB_DELAY_MS = 500;

/**
 * Owns the process: installs signal and error handlers, starts the
 * watchdogs, and performs every exit: drain within the grace period, append
 * one ledger line, print `[tuigate-exit] <reason>`, exit.
 * {@linkcode runStdio} makes one; use it directly for a runner of your own.
 *
 * @example
 * ```ts
 * import { AsyncLineSink, defaultCrashLog, ExitLedger, ProcessLifecycle } from "@tuigate/tuigate";
 * const lifecycle = new ProcessLifecycle(new ExitLedger(defaultCrashLog()), {
 *   stderr: new AsyncLineSink(Deno.stderr),
 * });
 * const server = new AbortController(); // stops whatever you serve
 * lifecycle.onDrain(() => server.abort());
 * if (import.meta.main) {
 *   lifecycle.start();
 *   await lifecycle.exited; // the process exits on SIGTERM/SIGHUP or shutdown()
 * }
 * ```
 */
export class ProcessLifecycle {
  #ledger: ExitLedger;
  #graceMs: number;
  #stderr: AsyncLineSink | undefined;
  #exitOnSigint: boolean;
  #watchdogEnabled: boolean;
  #marginMs: number;
  #watchdogDelayMs: number;
  #parentCheckMs: number;
  #inflight: () => number;
  #inflightAtShutdown = 0;
  #earlySignals: EarlySignals | undefined;
  #meta: Record<string, unknown>;
  #callExit: boolean;
  #state = LifecycleState.Idle;
  /** When the process started (the runtime's time origin), for the ledger's uptime. */
  #startedAt = Math.round(performance.timeOrigin);
  #drains: DrainStep[] = [];
  #finalizers: (() => void)[] = [];
  #worker: Worker | undefined;
  /**
   * Shared with the watchdog worker, which sees signals at once: the first
   * shutdown signal's arrival (`Date.now()`, BigInt64 at byte 0), which one
   * it was (Int32 at byte 8: 1 SIGTERM, 2 SIGHUP, 3 SIGINT), and who owns
   * the exit (Int32 at byte 12, claimed once: see `_exit_owner.ts`).
   */
  #signalAt = new BigInt64Array(new SharedArrayBuffer(16), 0, 1);
  #signalSeen = new Int32Array(this.#signalAt.buffer, 8, 1);
  /** When the grace period of the shutdown under way ends (`Date.now()` time). */
  #deadline = 0;
  #groups = new Set<number>();
  #parentTimer: ReturnType<typeof setInterval> | undefined;
  /** Cancels the fallback start of the background guards scheduled by `start()`. */
  #cancelFallback: () => void = () => {};
  #initialParent = 0;
  #parentWatch: ParentWatch | undefined;
  #climbing = false;
  #askingPs = false;
  #parentTicks = 0;
  #reason: ExitReason | undefined;
  #crashed = false;
  #crashError: unknown = undefined;
  #details: ShutdownDetails = {};
  #signalListeners: [Deno.Signal, () => void][] = [];
  #exited!: (code: number) => void;
  /** Resolves with the exit code once the exit is under way. */
  readonly exited: Promise<number> = new Promise((resolve) => (this.#exited = resolve));

  /** Makes a lifecycle writing to `ledger`. */
  constructor(ledger: ExitLedger, options: ProcessLifecycleOptions = {}) {
    this.#ledger = ledger;
    this.#earlySignals = options.earlySignals;
    this.#graceMs = options.graceMs ?? 1000;
    this.#stderr = options.stderr;
    this.#exitOnSigint = options.exitOnSigint ?? false;
    this.#watchdogEnabled = options.watchdog ?? true;
    this.#marginMs = options.watchdogMarginMs ?? 250;
    this.#watchdogDelayMs = options.watchdogDelayMs ?? 100;
    this.#parentCheckMs = options.parentCheckMs ?? 500;
    this.#inflight = options.inflight ?? (() => 0);
    this.#meta = options.meta ?? {};
    this.#callExit = options.exit ?? true;
  }

  /** The current state. */
  get state(): LifecycleState {
    return this.#state;
  }

  /** The grace period in ms. */
  get graceMs(): number {
    return this.#graceMs;
  }

  /**
   * Milliseconds left for drain steps to let running work finish: until half
   * the grace period has passed, counted as the grace period is (from the
   * signal's arrival for a signal, so a main thread that saw it late does
   * not wait longer). Half the grace period while no shutdown is under way.
   */
  get finishWindowMs(): number {
    if (this.#state === LifecycleState.Idle || this.#state === LifecycleState.Running) {
      return this.#graceMs / 2;
    }
    return Math.max(0, this.#deadline - this.#graceMs / 2 - Date.now());
  }

  /** Adds a step awaited during the orderly drain (flush output, close a store, stop jobs). */
  onDrain(step: DrainStep): void {
    this.#drains.push(step);
  }

  /** Adds a synchronous step run just before exit, whatever the path (for example killing job groups). */
  onExit(finalizer: () => void): void {
    this.#finalizers.push(finalizer);
  }

  /** Tells the watchdog about a process group to kill if it has to end the process. */
  trackProcessGroup(pgid: number, alive: boolean): void {
    if (alive) this.#groups.add(pgid);
    else this.#groups.delete(pgid);
    this.#worker?.postMessage({ type: "group", pgid, alive });
  }

  /** Installs signal and error handlers and starts the watchdogs. */
  start(): void {
    if (this.#state !== LifecycleState.Idle) return;
    this.#state = LifecycleState.Running;
    const signals: Deno.Signal[] = isWindows
      ? ["SIGINT", "SIGBREAK"]
      : ["SIGTERM", "SIGHUP", "SIGINT"];
    for (const signal of signals) {
      const listener = () => this.#onSignal(signal);
      try {
        Deno.addSignalListener(signal, listener);
        this.#signalListeners.push([signal, listener]);
      } catch (error) {
        logger.warn("Cannot listen for {signal}: {error}", { signal, error });
      }
    }
    globalThis.addEventListener("unhandledrejection", this.#onRejection);
    globalThis.addEventListener("error", this.#onError);
    if (!isWindows) this.#initialParent = this.#earlySignals?.parentPid ?? Deno.ppid;
    if (this.#watchdogEnabled || this.#parentCheckMs > 0) {
      // Not `setTimeout`: its first call loads Deno's Node timers (~0.7 ms), which would then
      // delay the first answer. The web timer behind `AbortSignal.timeout` costs nothing.
      const signal = AbortSignal.timeout(this.#watchdogDelayMs);
      const listener = () => this.startBackground();
      signal.addEventListener("abort", listener, { once: true });
      // Removing the listener unrefs the timer, as `clearTimeout` would.
      this.#cancelFallback = () => signal.removeEventListener("abort", listener);
    }
    const early = this.#earlySignals?.takeOver();
    if (early !== undefined) {
      // The grace period counts from the signal's arrival during start-up, not from now.
      const arrivedAt = this.#earlySignals!.arrivedAt;
      if (arrivedAt > 0 && Atomics.load(this.#signalAt, 0) === 0n) {
        Atomics.store(this.#signalAt, 0, BigInt(arrivedAt));
      }
      this.#onSignal(early);
    }
  }

  /**
   * Starts the background guards now: the watchdog worker and the
   * parent-death check. `start()` schedules this after `watchdogDelayMs`;
   * runners call it earlier, right after their first frame is written, so
   * that creating the worker (which blocks the main isolate for ~10 ms)
   * never delays the first answer. Idempotent.
   */
  startBackground(): void {
    this.#cancelFallback();
    if (this.#state === LifecycleState.Idle || this.#state === LifecycleState.Exiting) return;
    if (this.#parentCheckMs > 0 && !isWindows && this.#parentTimer === undefined) {
      this.#parentWatch = new ParentWatch([{ pid: Deno.pid, parent: this.#initialParent }]);
      this.#parentTimer = setInterval(() => this.#checkParent(), this.#parentCheckMs);
      Deno.unrefTimer(this.#parentTimer as unknown as number);
      // A parent that died while the gateway loaded is noticed now, not a period later.
      this.#checkParent();
      if (this.#state !== LifecycleState.Running) return;
      // Finding the TUI above launchers may run `ps`: runners ask for it at the client's first
      // pause; else it starts a little later by itself.
      const later = AbortSignal.timeout(CLIMB_DELAY_MS);
      later.addEventListener("abort", () => this.watchAboveLaunchers(), { once: true });
    }
    this.startWatchdog();
  }

  /**
   * Finds the TUI above launchers that outlive it (`deno task`, `npx`,
   * `sh -c`) now, in the background, and watches it, here and in the worker
   * (Linux). `startBackground()` does it 500 ms later otherwise; runners call
   * it at the client's first pause. Idempotent.
   */
  watchAboveLaunchers(): void {
    const direct = this.#parentWatch;
    if (this.#climbing || direct === undefined || this.#state !== LifecycleState.Running) return;
    this.#climbing = true;
    void ParentWatch.discover(Deno.pid, direct.links[0].parent).then((watch) => {
      if (watch.links.length === 1 || this.#parentWatch !== direct) return;
      logger.debug("Watching the TUI (pid {pid}) above {launchers} launcher(s)", {
        pid: watch.top,
        launchers: watch.links.length - 1,
      });
      this.#parentWatch = watch;
      this.#worker?.postMessage({ type: "parent", links: watch.links, proc: watch.proc });
      this.#checkParent();
    });
  }

  #checkParent(): void {
    if (this.#state !== LifecycleState.Running) return;
    const watch = this.#parentWatch;
    if (watch?.gone(Deno.ppid)) return this.shutdown("parent-exited");
    // Without /proc, a TUI that exited but was not reaped passes the quick check: every other
    // period, `ps` tells (one at a time).
    if (watch?.inexact && !this.#askingPs && (this.#parentTicks++ & 1) === 1) {
      this.#askingPs = true;
      void watch.goneExactly().then((gone) => {
        this.#askingPs = false;
        if (gone && this.#state === LifecycleState.Running) this.shutdown("parent-exited");
      });
    }
  }

  /** Starts the watchdog worker now, if it is enabled and not started yet. Idempotent. */
  startWatchdog(): void {
    if (
      !this.#watchdogEnabled || this.#worker !== undefined || this.#state === LifecycleState.Idle
    ) return;
    if (this.#state === LifecycleState.Exiting) return;
    try {
      const worker = new Worker(new URL("./watchdog_worker.ts", import.meta.url), {
        type: "module",
      });
      // A worker that cannot load (its file missing from a copied build, say) fails later, as an
      // event: said as what it is, not left to surface as an anonymous unhandled error.
      worker.addEventListener("error", (event) => {
        event.preventDefault();
        worker.terminate();
        logger.warn(
          "Watchdog worker failed, so a signal or a dead parent goes unheard while the main thread is blocked: {message}",
          { message: event.message },
        );
      });
      worker.postMessage({
        type: "config",
        config: {
          signalAt: this.#signalAt.buffer,
          graceMs: this.#graceMs,
          marginMs: this.#marginMs,
          ledgerPath: this.#ledger.path,
          startedAt: this.#startedAt,
          parentCheckMs: isWindows ? 0 : this.#parentCheckMs,
          parentLinks: this.#parentWatch?.links,
          parentProc: this.#parentWatch?.proc,
          exitOnSigint: this.#exitOnSigint,
          ...this.#meta,
        },
      });
      for (const pgid of this.#groups) worker.postMessage({ type: "group", pgid, alive: true });
      this.#worker = worker;
      // A main thread busy with a long run of work hears of a signal from the runtime late (up
      // to 600 ms was measured with 64 CPU-heavy handlers in flight); the worker's flag is read
      // at every turn-budget check of that work, so the shutdown starts within one of them.
      watchInterrupt(this.#signalSeen, () => {
        const signal = WATCHED_SIGNALS[Atomics.load(this.#signalSeen, 0) - 1];
        if (signal !== undefined && this.#state === LifecycleState.Running) this.#onSignal(signal);
      });
    } catch (error) {
      logger.warn("Watchdog worker not started: {error}", { error });
    }
  }

  #onSignal(signal: Deno.Signal): void {
    if (signal === "SIGINT" && !this.#exitOnSigint) {
      logger.debug("Ignored SIGINT (the TUI owns Ctrl+C; --exit-on-sigint changes this)");
      return;
    }
    logger.info("Received {signal}", { signal });
    this.shutdown("signal", { signal });
  }

  #onRejection = (event: PromiseRejectionEvent): void => {
    event.preventDefault();
    logger.error("Unhandled rejection: {error}", { error: event.reason });
    void this.#ledger.append({
      event: "error",
      time: new Date().toISOString(),
      pid: Deno.pid,
      reason: "unhandled-rejection",
      error: event.reason instanceof Error ? event.reason : String(event.reason),
      ...this.#meta,
    });
  };

  #onError = (event: ErrorEvent): void => {
    event.preventDefault();
    logger.error("Uncaught error: {error}", { error: event.error });
    void this.#ledger.append({
      event: "error",
      time: new Date().toISOString(),
      pid: Deno.pid,
      reason: "uncaught-error",
      error: event.error instanceof Error ? event.error : String(event.error ?? event.message),
      ...this.#meta,
    });
  };

  /**
   * Starts the orderly exit: runs the drain steps, bounded by the grace
   * period, then exits. Later calls are ignored, but a later crash still
   * makes the exit a crash (reason `crash`, the first reason as `trigger`,
   * exit code 70), and a later `stdout-stalled` ends the drain at once with
   * that reason (the answers can no longer reach the client). Idempotent.
   */
  shutdown(reason: ExitReason, details: ShutdownDetails = {}): void {
    if (reason === "crash") {
      this.#crashed = true;
      this.#crashError ??= details.error;
    }
    if (this.#state === LifecycleState.Exiting) return;
    if (
      this.#state === LifecycleState.Draining && reason === "stdout-stalled" &&
      this.#reason !== reason
    ) {
      // The answers being drained can no longer reach the client: waiting out the grace
      // period would change nothing.
      void this.#exit(reason);
      return;
    }
    if (this.#state === LifecycleState.Draining) {
      logger.debug("Already shutting down ({first}); ignored {reason}", {
        first: this.#reason,
        reason,
      });
      return;
    }
    this.#state = LifecycleState.Draining;
    this.#reason = reason;
    this.#details = details;
    this.#inflightAtShutdown = this.#inflight();
    this.startBackground();
    this.#worker?.postMessage({
      type: "arm",
      reason,
      signal: details.signal,
      inflight: this.#inflightAtShutdown,
    });
    const graceLeft = this.#graceLeft(reason);
    this.#deadline = Date.now() + graceLeft;
    // With no grace left (`--grace 0`, or a signal seen late by a busy main thread) the drain
    // steps still run until the next turn of the timers: an exit with nothing to wait for keeps
    // its own reason, and `grace-expired` says that something was cut short.
    const grace = setTimeout(() => void this.#exit("grace-expired"), Math.max(0, graceLeft));
    const drains = this.#drains.map(async (step) => {
      try {
        await step(reason);
      } catch (error) {
        logger.error("A shutdown step failed: {error}", { error });
      }
    });
    void Promise.all(drains).then(() => {
      clearTimeout(grace);
      return this.#exit(reason);
    });
  }

  /**
   * The grace period from now. For a signal, it counts from when the signal
   * arrived, as the watchdog worker (which waits on nothing) saw it: a main
   * thread that noticed it late (a burst of heavy handlers) still exits, with
   * its ledger line and code 0, before the watchdog's own clock runs out.
   */
  #graceLeft(reason: ExitReason): number {
    const arrivedAt = Number(Atomics.load(this.#signalAt, 0));
    if (reason !== "signal" || arrivedAt === 0) return this.#graceMs;
    const late = Math.min(Math.max(0, Date.now() - arrivedAt), this.#graceMs);
    if (late > 50) logger.warn("The signal was seen {late} ms after it arrived", { late });
    return this.#graceMs - late;
  }

  async #exit(reason: ExitReason): Promise<void> {
    if (this.#state === LifecycleState.Exiting) return;
    this.#state = LifecycleState.Exiting;
    // One exit, one ledger line: the watchdog worker may be ending the process at this moment.
    const owner = claimExit(this.#signalAt.buffer as SharedArrayBuffer, EXIT_BY_MAIN);
    for (const finalizer of this.#finalizers) {
      try {
        finalizer();
      } catch (error) {
        logger.error("An exit step failed: {error}", { error });
      }
    }
    clearInterval(this.#parentTimer);
    this.#cancelFallback();
    const code = this.#crashed ? EXIT_CODES.CRASH : EXIT_CODES.OK;
    // A crash during an orderly exit (a write error after stdin EOF, say) is still a crash.
    if (this.#crashed) reason = "crash";
    const error = this.#details.error ?? this.#crashError;
    const entry = {
      event: "exit" as const,
      time: new Date().toISOString(),
      pid: Deno.pid,
      reason,
      ...(reason !== this.#reason ? { trigger: this.#reason } : {}),
      ...(this.#details.signal ? { signal: this.#details.signal } : {}),
      ...(error !== undefined ? { error } : {}),
      uptimeMs: Date.now() - this.#startedAt,
      // In flight when the exit began, and those the exit cut short.
      inflight: this.#inflightAtShutdown,
      inflightAtExit: this.#inflight(),
      exitCode: code,
      ...this.#meta,
    };
    if (owner === EXIT_BY_WATCHDOG) {
      // The worker wrote its line and kills the process (and job groups) now; exit only if not.
      logger.debug("The watchdog is ending the process; its ledger line stands");
      await new Promise((resolve) => setTimeout(resolve, 1000));
      this.#exited(code);
      if (this.#callExit) Deno.exit(code);
      this.#cleanup();
      return;
    }
    this.#stderr?.writeLine(`[tuigate-exit] ${reason}`);
    await Promise.all([
      this.#ledger.append(entry, 150),
      this.#stderr?.flush(80),
    ]);
    this.#exited(code);
    if (this.#callExit) Deno.exit(code);
    this.#cleanup();
  }

  #cleanup(): void {
    for (const [signal, listener] of this.#signalListeners) {
      Deno.removeSignalListener(signal, listener);
    }
    this.#signalListeners = [];
    globalThis.removeEventListener("unhandledrejection", this.#onRejection);
    globalThis.removeEventListener("error", this.#onError);
    if (this.#worker !== undefined) watchInterrupt(undefined);
    this.#worker?.terminate();
  }
}
