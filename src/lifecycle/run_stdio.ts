/**
 * Runs a gateway as a process on stdio: the transport, the lifecycle
 * (signals, grace, watchdogs, ledger) and the wiring between them.
 *
 * @module
 */

import {
  getLogger,
  loggingConfigured,
  useLogtape,
  waitingRecordCount,
  whenRecordWaits,
} from "../protocol/logger.ts";
import { withTimeout } from "../protocol/timing.ts";
import { StdioPipes } from "../transport/stdio_pipes.ts";
import { type Framing, StdioTransport, TransportState } from "../transport/stdio_transport.ts";
import { AsyncLineSink } from "./async_line_sink.ts";
import type { EarlySignals } from "./early_signals.ts";
import { ExitLedger } from "./exit_ledger.ts";
import type { Gateway } from "./gateway.ts";
import { routeConsole, setupLogging } from "./logging.ts";
import { ProcessLifecycle } from "./process_lifecycle.ts";
import { defaultCrashLog } from "./state_dir.ts";
import { whenQuiet } from "./_when_quiet.ts";

const logger = getLogger(["tuigate", "stdio"]);

/**
 * Options for {@linkcode runStdio}.
 *
 * @example
 * ```ts
 * import { Gateway, runStdio, type RunStdioOptions } from "@tuigate/tuigate";
 * const store = { close: async () => {} }; // a store of your own
 * const options: RunStdioOptions = {
 *   graceSeconds: 3,
 *   framing: "lsp",
 *   crashLog: "/tmp/my-backend/exits.jsonl",
 *   setup: (lifecycle) => lifecycle.onDrain(() => store.close()),
 * };
 * if (import.meta.main) await runStdio(new Gateway(), options);
 * ```
 */
export interface RunStdioOptions {
  /**
   * Seconds from a shutdown request to a forced exit.
   * @default {1}
   */
  graceSeconds?: number;
  /**
   * The exit ledger's path.
   * @default {"$TUIGATE_CRASH_LOG, else exits.jsonl in $TUIGATE_STATE_DIR, else in $XDG_STATE_HOME/tuigate"}
   */
  crashLog?: string;
  /**
   * Whether SIGINT shuts down.
   * @default {false}
   */
  exitOnSigint?: boolean;
  /**
   * Signals caught while the process started (see {@linkcode EarlySignals}).
   * @default {undefined}
   */
  earlySignals?: EarlySignals;
  /**
   * The stdio framing. Unset, it follows `TUIGATE_FRAMING` as `main.ts`
   * does (the TypeScript client sets it to match its own framing); an unset
   * or invalid value (the latter with a warning) means `"line"`.
   * @default {"line"}
   */
  framing?: Framing;
  /**
   * The longest frame accepted, in bytes.
   * @default {16777216}
   */
  maxFrameBytes?: number;
  /**
   * The bound on queued output, in bytes.
   * @default {8388608}
   */
  outBufferBytes?: number;
  /**
   * Seconds control frames may wait for room before the reader counts as gone.
   * @default {10}
   */
  stallTimeoutSeconds?: number;
  /**
   * The stderr line sink (shared with the logger).
   * @default {new AsyncLineSink(Deno.stderr)}
   */
  stderr?: AsyncLineSink;
  /**
   * Whether to start the watchdog worker.
   * @default {true}
   */
  watchdog?: boolean;
  /**
   * Whether stdin and stdout move onto reactor-polled sockets after the first
   * frame, at the client's first pause (250 ms at most), when both are pipes
   * or sockets (see {@linkcode StdioPipes}).
   * @default {true}
   */
  stdioSockets?: boolean;
  /**
   * Called with every batch of frames written to stdout (for mirroring).
   * @default {undefined}
   */
  tap?: (frames: readonly string[]) => void;
  /**
   * Called with the lifecycle before serving starts, to add drain and exit steps.
   * @default {undefined}
   */
  setup?: (lifecycle: ProcessLifecycle) => void;
  /**
   * Whether to route `console.*` to the logger and, unless logging was set up
   * already (`setupLogging`, or a LogTape configuration of the application's,
   * which is then used as it is), log to `stderr` at `info` level, so that
   * nothing but frames reaches stdout and a handler's stack is logged. The
   * logger is loaded only when there is something to write: at once for a
   * record at info or above, else when 100 records wait or at the client's
   * first pause after the first frame, and at shutdown. So it costs neither
   * startup nor a busy client's requests any time; what is logged before
   * waits for it.
   * @default {true}
   */
  logging?: boolean;
}

/**
 * Serves a gateway on stdin/stdout until the TUI goes away, a signal
 * arrives or `gateway.shutdown` is called; then exits the process with a
 * ledger line. Resolves with the exit code (the process exits first).
 *
 * @example
 * ```ts
 * import { Gateway, runStdio } from "@tuigate/tuigate";
 * if (import.meta.main) await runStdio(new Gateway(), { graceSeconds: 2 });
 * ```
 */
export function runStdio(gateway: Gateway, options: RunStdioOptions = {}): Promise<number> {
  const stderr = options.stderr ?? new AsyncLineSink(Deno.stderr);
  const crashLog = options.crashLog ?? defaultCrashLog();
  const pipes = new StdioPipes({ sockets: options.stdioSockets });
  gateway.addInfo("stdio", () => ({ input: pipes.inputPath, output: pipes.outputPath }));
  const transport = new StdioTransport(gateway, {
    input: pipes.input,
    output: pipes.output,
    framing: options.framing ?? framingFromEnv(),
    maxFrameBytes: options.maxFrameBytes,
    outBufferBytes: options.outBufferBytes,
    stallTimeoutMs: (options.stallTimeoutSeconds ?? 10) * 1000,
    tap: options.tap,
  });
  const lifecycle = new ProcessLifecycle(new ExitLedger(crashLog), {
    graceMs: (options.graceSeconds ?? 1) * 1000,
    stderr,
    exitOnSigint: options.exitOnSigint,
    earlySignals: options.earlySignals,
    watchdog: options.watchdog,
    inflight: () => gateway.dispatcher.stats().inflight,
    meta: { epoch: gateway.epoch, version: gateway.version },
  });
  lifecycle.onDrain(async (reason) => {
    if (reason === "stdout-peer-gone" || reason === "stdout-stalled" || reason === "crash") {
      transport.stopReading();
      transport.close(reason);
      return;
    }
    // Requests already read finish for up to half the grace period. No new request is taken
    // (each is answered -32002 at once), but input is still read meanwhile, so that the
    // client's answers to those requests' own questions and its cancellations arrive. Then
    // reading stops, what still runs is aborted and answered -32002 (reason "shutdown", as
    // over WebSocket), and the answers drain.
    transport.peer.finish("shutdown");
    // With stdin gone the client can answer no question: a handler waiting on one hears so now.
    if (reason === "stdin-eof") transport.peer.cancelServerRequests("stdin-eof");
    await withTimeout(gateway.dispatcher.idle(), lifecycle.finishWindowMs, undefined);
    transport.stopReading();
    // Every request still in flight is answered -32002 now (a handler that ignores its signal
    // cannot hold the exit); only the answers have to drain.
    transport.peer.beginClose("shutdown");
    await transport.drained();
  });
  gateway.onShutdownRequest((reason) => lifecycle.shutdown(reason));
  void transport.ended.then((end) => {
    lifecycle.shutdown(end.reason, end.reason === "crash" ? { error: end.error } : {});
  });
  // A write failure after another ending (stdin EOF, say) still makes the exit a crash.
  void transport.failed.then((error) => lifecycle.shutdown("crash", { error }));
  // A stall while answers drain (after stdin EOF, say) ends the exit at once.
  void transport.stalled.then(() => lifecycle.shutdown("stdout-stalled"));
  options.setup?.(lifecycle);
  const logging = options.logging !== false && !loggingConfigured();
  let loggingStarted: Promise<void> | undefined;
  // A failure is reported like any uncaught error: logged to the ledger, not fatal.
  const startLogging = () =>
    loggingStarted ??= loggingConfigured()
      ? Promise.resolve()
      : logToStderrUnlessConfigured(stderr).catch((error) => reportError(error));
  if (logging) {
    routeConsole();
    // Loading the logger holds the main thread ~10 ms: at once for a record worth printing,
    // else when many wait or at the client's first pause (below). An exit writes what waits.
    whenRecordWaits("info", () => void startLogging());
    lifecycle.onDrain(() => startLogging());
  }
  transport.start();
  lifecycle.start();
  // The watchdog as soon as the first frame is on its way, not once the main thread sees its
  // write finish: a burst the client sends on reading it can hold that up for 0.5 s, and a
  // SIGTERM before the worker runs would be seen late and get a full grace period from then.
  // It costs the main thread ~10 ms, while the write goes on off the main thread.
  void transport.firstWriteStarted.then(() => lifecycle.startBackground());
  void transport.firstWrite.then(async () => {
    // Loading node:net for the move (~20 ms) blocks the main thread too: it waits for a pause
    // in the client's first burst, so its requests are not held up, but not for long (the move
    // is what makes round trips fast).
    await whenQuiet(transport, { maxMs: QUIET_MAX_MS });
    if (transport.state !== TransportState.Running) return;
    try {
      await pipes.upgrade();
    } catch (error) {
      reportError(error); // stdio stays where it is
    }
    // In the same pause: finding the TUI above a `deno task` may run `ps`.
    lifecycle.watchAboveLaunchers();
  });
  if (logging) {
    // Only records below info wait for the logger now: it can wait for a real pause, or for
    // enough of them that an application's own debug logging would start losing some.
    void transport.firstWrite.then(async () => {
      await whenQuiet(transport, {
        stop: () => loggingStarted !== undefined || waitingRecordCount() >= LOG_WAITING_MAX,
      });
      void startLogging();
    });
  }
  return lifecycle.exited;
}

/** `TUIGATE_FRAMING` when it names a framing; `undefined` (line framing) otherwise. */
function framingFromEnv(): Framing | undefined {
  let value: string | undefined;
  try {
    value = Deno.env.get("TUIGATE_FRAMING");
  } catch {
    return undefined; // No permission to read the environment.
  }
  if (value === undefined || value === "" || value === "line" || value === "lsp") {
    return value === "lsp" ? "lsp" : undefined;
  }
  logger.warn("Ignored TUIGATE_FRAMING {value}: not line or lsp (line framing is used)", { value });
  return undefined;
}

/** The longest wait for a pause before the stdio move; then it is done anyway. */
const QUIET_MAX_MS = 250;
/** How many log records may wait before the logger is loaded without a pause. */
const LOG_WAITING_MAX = 100;

/**
 * Logs through LogTape: the application's own configuration when it made
 * one (it is never reset; `console.*` then writes to stderr directly), else
 * tuigate's stderr setup.
 */
async function logToStderrUnlessConfigured(stderr: AsyncLineSink): Promise<void> {
  const logtape = await import("@logtape/logtape");
  if (logtape.getConfig() === null) return await setupLogging(stderr);
  useLogtape(logtape);
  // The app's LogTape may write through console.* (a console sink): those lines go to stderr
  // as they are, not back into LogTape under a category the app's setup does not cover.
  routeConsole(stderr);
}
