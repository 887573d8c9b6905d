/**
 * Catches SIGTERM and SIGHUP while a gateway starts, before its
 * `ProcessLifecycle` listens, so that a signal sent during start-up
 * still ends in an orderly exit with a ledger line instead of the default
 * action (death with no trace).
 *
 * @module
 */

/**
 * Options for {@linkcode EarlySignals}.
 *
 * @example
 * ```ts
 * import { EarlySignals, type EarlySignalsOptions } from "@tuigate/tuigate";
 * const options: EarlySignalsOptions = { exitOnSigint: Deno.args.includes("--exit-on-sigint") };
 * new EarlySignals(options);
 * ```
 */
export interface EarlySignalsOptions {
  /**
   * Whether SIGINT counts like SIGTERM (the lifecycle's `exitOnSigint`);
   * otherwise it is caught and ignored.
   * @default {false}
   */
  exitOnSigint?: boolean;
}

/**
 * Listens for SIGTERM and SIGHUP from the moment it is made (SIGBREAK on
 * Windows) and remembers the first; SIGINT is caught too, and ignored
 * unless `exitOnSigint`; a lifecycle given it in
 * `ProcessLifecycleOptions.earlySignals` takes over when it starts and acts on
 * that signal at once.
 *
 * @example
 * ```ts
 * import { EarlySignals, ExitLedger, ProcessLifecycle } from "@tuigate/tuigate";
 * const early = new EarlySignals(); // first thing: start-up may take a while
 * const lifecycle = new ProcessLifecycle(new ExitLedger("/tmp/exits.jsonl"), {
 *   earlySignals: early,
 * });
 * lifecycle.start(); // a SIGTERM received before this shuts down now
 * ```
 */
export class EarlySignals {
  #signal: Deno.Signal | undefined;
  #arrivedAt = 0;
  #listeners: [Deno.Signal, () => void][] = [];
  #onSignal: ((signal: Deno.Signal) => void)[] = [];
  #takenOver = false;
  /**
   * The parent pid when these listeners were made, the earliest moment of the
   * process: a lifecycle given them watches this parent, so one that died
   * while the gateway loaded is noticed too.
   */
  readonly parentPid: number = Deno.ppid;

  /** Starts listening. */
  constructor(options: EarlySignalsOptions = {}) {
    // SIGINT first: Ctrl+C reaches the whole foreground group, the gateway too, and until it is
    // caught its default action would end the gateway.
    const signals: Deno.Signal[] = Deno.build.os === "windows"
      ? ["SIGINT", "SIGBREAK"]
      : ["SIGINT", "SIGTERM", "SIGHUP"];
    const exitOnSigint = options.exitOnSigint ?? false;
    for (const signal of signals) {
      const listener = () => {
        // Ignored as the lifecycle will ignore it (listening keeps the default action away).
        if (signal === "SIGINT" && !exitOnSigint) return;
        if (this.#signal !== undefined) return;
        this.#signal = signal;
        this.#arrivedAt = Date.now();
        for (const callback of this.#onSignal) {
          try {
            callback(signal);
          } catch (error) {
            reportError(error); // like any uncaught error: logged, not fatal
          }
        }
      };
      try {
        Deno.addSignalListener(signal, listener);
        this.#listeners.push([signal, listener]);
      } catch {
        // Not supported here: the lifecycle will say so when it listens itself.
      }
    }
  }

  /** The first signal received, if any. */
  get signal(): Deno.Signal | undefined {
    return this.#signal;
  }

  /** When the first signal arrived (`Date.now()`), or 0: the grace period counts from then. */
  get arrivedAt(): number {
    return this.#arrivedAt;
  }

  /** Whether a lifecycle took the signals over (see {@linkcode EarlySignals.takeOver}). */
  get takenOver(): boolean {
    return this.#takenOver;
  }

  /**
   * Calls `callback` with the first signal: at once if it came already, else
   * when it comes, unless a lifecycle has taken over by then. For a deadline
   * on a start-up that might not finish in time.
   */
  onSignal(callback: (signal: Deno.Signal) => void): void {
    if (this.#takenOver) return;
    if (this.#signal !== undefined) callback(this.#signal);
    else this.#onSignal.push(callback);
  }

  /**
   * Stops listening and returns the first signal received, if any. Called by
   * `ProcessLifecycle.start()` once its own listeners are in place.
   * Idempotent.
   */
  takeOver(): Deno.Signal | undefined {
    for (const [signal, listener] of this.#listeners) Deno.removeSignalListener(signal, listener);
    this.#listeners = [];
    this.#onSignal = [];
    this.#takenOver = true;
    return this.#signal;
  }
}
