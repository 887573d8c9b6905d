/**
 * The tuigate command (what `main.ts` runs): flags, logging, the built-in
 * features (sessions, jobs, the mirror), then stdio or WebSocket serving.
 *
 * @module
 */

import { getLogger } from "../protocol/logger.ts";
import { withTimeout } from "../protocol/timing.ts";
import { AsyncLineSink } from "./async_line_sink.ts";
import { type EarlyExitOptions, writeEarlyExit } from "./early_exit.ts";
import { EarlySignals } from "./early_signals.ts";
import { ExitLedger } from "./exit_ledger.ts";
import { defaultCrashLog } from "./state_dir.ts";
import { registerTestHooks } from "./test_hooks.ts";
import { Gateway } from "./gateway.ts";
import { setupLogging } from "./logging.ts";
import { EXIT_CODES, type ProcessLifecycle } from "./process_lifecycle.ts";
import { RotatingFileSink } from "./rotating_file_sink.ts";
import { runStdio } from "./run_stdio.ts";
import { parseSettings, type Settings, USAGE, UsageError } from "./settings.ts";
import { VERSION } from "../version.ts";

const encoder = new TextEncoder();

/** Writes text to a stream without ever waiting more than `timeoutMs`. */
async function say(
  stream: { write(p: Uint8Array): Promise<number> },
  text: string,
  timeoutMs = 200,
): Promise<void> {
  const bytes = encoder.encode(text);
  const write = (async () => {
    let offset = 0;
    while (offset < bytes.length) offset += await stream.write(bytes.subarray(offset));
  })().catch(() => {});
  await Promise.race([write, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
}

/** What the features of the command need from the process lifecycle. */
export interface Features {
  /** Steps run with the lifecycle before serving: add drain and exit steps here. */
  setup: ((lifecycle: ProcessLifecycle) => void)[];
}

/** Builds the gateway the command serves, with every built-in feature. */
export async function buildGateway(
  settings: Settings,
): Promise<{ gateway: Gateway; features: Features }> {
  // <sessions> (issue 5): open the store, register session.* methods, push a setup step.
  const sessionsFeature = await import("../sessions/mod.ts");
  const open = (kind: "sqlite" | "memory") =>
    sessionsFeature.openSessionStore({
      kind,
      dir: settings.stateDir,
      retention: {
        maxEventsPerSession: settings.sessionMaxEvents,
        maxBytesPerSession: settings.sessionMaxBytes,
        maxTotalBytes: settings.stateMaxBytes,
      },
      busyTimeoutMs: settings.stateBusyTimeoutSeconds * 1000,
    });
  let state = settings.state;
  let store;
  try {
    store = await open(state);
  } catch (error) {
    // A folder the user chose must work (exit 73); the default one may be unwritable (a read-only
    // home, a sandbox): then the gateway still serves, with sessions kept in memory, and says so.
    // A locked, corrupt or newer store is never set aside: that would split or hide sessions.
    const problem = (error as { problem?: string }).problem;
    if (settings.stateDirChosen || !(error instanceof Error)) throw error;
    if (error.name !== "StoreUnavailableError") throw error;
    if (problem !== "read-only" && problem !== "unavailable") throw error;
    getLogger(["tuigate", "main"]).warn(
      "Sessions are kept in memory for this run: the default state folder cannot be used ({error}); set --state-dir to a writable folder to keep them",
      { error: error.message },
    );
    state = "memory";
    store = await open(state);
  }
  const gateway = new Gateway({
    settings: {
      ...settings,
      state,
      token: settings.token === undefined ? undefined : "(hidden)",
    },
    maxInflight: settings.maxInflight,
    maxQueued: settings.maxQueued,
  });
  const features: Features = { setup: [] };
  if (settings.testHooks) features.setup.push(registerTestHooks(gateway));
  const sessions = new sessionsFeature.SessionManager(store, { epoch: gateway.epoch });
  sessionsFeature.registerSessionMethods(gateway, sessions);
  features.setup.push((lifecycle) => {
    // Drain: let handlers finish (within half the grace period), commit what they appended.
    lifecycle.onDrain(async () => {
      await withTimeout(gateway.dispatcher.idle(), lifecycle.finishWindowMs, undefined);
      await sessions.flush();
    });
    // Exit (every path, after all drain steps): commit what later steps appended, close the store.
    lifecycle.onExit(() => sessions.shutdownSync());
  });
  // </sessions>
  // <jobs> (issue 7): register job.* methods, push a setup step.
  {
    const { bindJobsToLifecycle, JobManager, registerJobMethods } = await import(
      "../jobs/mod.ts"
    );
    const jobs = new JobManager({
      maxJobs: settings.maxJobs,
      killGraceMs: settings.graceSeconds * 1000,
      // Jobs started with `session` append job.start / job.output / job.exit there.
      sessionLog: sessions,
    });
    registerJobMethods(gateway, jobs);
    features.setup.push((lifecycle) => bindJobsToLifecycle(jobs, lifecycle));
  }
  // </jobs>
  await Promise.resolve();
  return { gateway, features };
}

/**
 * Options for {@linkcode runCommand}.
 *
 * @example
 * ```ts
 * import { EarlySignals } from "./early_signals.ts";
 * import type { RunCommandOptions } from "./run_command.ts";
 * const options: RunCommandOptions = { earlySignals: new EarlySignals() };
 * ```
 */
export interface RunCommandOptions {
  /**
   * Listeners made as early as possible (before this module loads), so that
   * a signal during start-up still gets an orderly exit.
   * @default {new EarlySignals()}
   */
  earlySignals?: EarlySignals;
}

/**
 * Runs the tuigate command with `args` (flags as in `--help`) until it
 * ends; resolves with the exit code. Never throws: an unexpected error is a
 * crash, written to stderr and the ledger (exit code 70).
 *
 * @example
 * ```ts
 * import { runCommand } from "./run_command.ts";
 * Deno.exit(await runCommand(["--version"]));
 * ```
 */
export async function runCommand(args: string[], options: RunCommandOptions = {}): Promise<number> {
  try {
    return await main(args, options.earlySignals ?? new EarlySignals());
  } catch (error) {
    // Anything unexpected before the lifecycle took over is a crash: say so, record it, exit 70.
    return await exitEarly("crash", {
      crashLog: defaultCrashLog(),
      stderr: new AsyncLineSink(Deno.stderr),
      code: EXIT_CODES.CRASH,
      error,
      line: `tuigate: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
}

async function main(args: string[], earlySignals: EarlySignals): Promise<number> {
  let parsed;
  try {
    // --help and --version answer whatever the environment holds (a bad variable is not theirs).
    const helpOrVersion = args.some((arg) => /^(-h|--help|--version)$/.test(arg));
    parsed = parseSettings(args, { env: helpOrVersion ? {} : Deno.env.toObject() });
  } catch (error) {
    if (error instanceof UsageError) {
      // One line on stderr; the ledger (at its default path) also records the exit.
      await Promise.all([
        say(Deno.stderr, `tuigate: ${error.message} (see --help)\n`),
        new ExitLedger(crashLogFlag(args) ?? defaultCrashLog()).append({
          event: "exit",
          time: new Date().toISOString(),
          pid: Deno.pid,
          reason: "bad-flags",
          error: error.message,
          uptimeMs: Math.round(performance.now()),
          inflight: 0,
          exitCode: EXIT_CODES.USAGE,
          version: VERSION,
        }, 150),
      ]);
      return EXIT_CODES.USAGE;
    }
    throw error;
  }
  if (parsed.help) {
    await say(Deno.stdout, USAGE);
    return EXIT_CODES.OK;
  }
  if (parsed.version) {
    await say(Deno.stdout, `tuigate ${VERSION}\n`);
    return EXIT_CODES.OK;
  }
  const settings = parsed.settings;
  // Read: the secret is not handed on to every job's environment.
  try {
    Deno.env.delete("TUIGATE_TOKEN");
  } catch {
    // Without --allow-env there is nothing to hand on either.
  }
  const stderr = new AsyncLineSink(Deno.stderr);
  const logFile = settings.logFile;
  const file = logFile === undefined ? undefined : new RotatingFileSink(logFile, {
    maxBytes: settings.logFileMaxBytes,
    keep: settings.logFileKeep,
    // On stderr whatever the log level: the file is where the user looks for the log.
    onError: (error) =>
      stderr.writeLine(
        `tuigate: cannot write the log file ${logFile}: ${
          error instanceof Error ? error.message : String(error)
        }; trying again in 5 s, counting the lines lost meanwhile`,
      ),
  });
  // Opened now, in the background: a log file that cannot be written is said at start.
  void file?.open();
  await setupLogging(stderr, { level: settings.logLevel, file });
  const logger = getLogger(["tuigate", "main"]);
  // On stderr whatever the log level: a value was ignored, the user must hear of it.
  for (const warning of parsed.warnings) stderr.writeLine(`tuigate: ${warning}`);
  // A signal during a slow start-up (a store busy past its timeout, say) is honoured within the
  // grace period too: exit 0 with a ledger line, unless building the gateway ended first (then
  // serving takes the signal over, or start-up already exits for its own reason).
  let building = true;
  let deadline: ReturnType<typeof setTimeout> | undefined;
  let exitingEarly: Promise<number> | undefined;
  earlySignals.onSignal((signal) => {
    // Counted from the signal's arrival, which may have come before logging was set up.
    const left = settings.graceSeconds * 1000 - (Date.now() - earlySignals.arrivedAt);
    deadline = setTimeout(async () => {
      if (!building || earlySignals.takenOver) return;
      const exit = { crashLog: settings.crashLog, stderr, code: EXIT_CODES.OK, fields: { signal } };
      exitingEarly = exitEarly("signal", exit);
      Deno.exit(await exitingEarly);
    }, Math.max(0, left));
  });

  let built: Awaited<ReturnType<typeof buildGateway>>;
  try {
    built = await buildGateway(settings);
  } catch (error) {
    building = false;
    clearTimeout(deadline);
    // <sessions>: a store that is locked, read-only or corrupt ends the gateway with one line.
    if (error instanceof Error && error.name === "StoreUnavailableError") {
      return await exitEarly("store-unavailable", {
        crashLog: settings.crashLog,
        stderr,
        code: EXIT_CODES.STORE_UNAVAILABLE,
        error,
        line: `tuigate: ${error.message}`,
      });
    }
    throw error;
  }
  building = false;
  clearTimeout(deadline);
  // The deadline's exit is under way (its ledger line written or being written): it is the only one.
  if (exitingEarly !== undefined) return await exitingEarly;
  const { gateway, features } = built;
  if (file !== undefined) {
    features.setup.push((lifecycle) => {
      lifecycle.onDrain(async () =>
        void await file.flush(Math.min(200, settings.graceSeconds * 500))
      );
    });
  }
  const setup = (lifecycle: ProcessLifecycle) => {
    for (const step of features.setup) step(lifecycle);
  };
  // <serve> (issue 6): settings.mode === "serve" serves WebSocket instead of stdio.
  if (settings.mode === "serve") {
    if (settings.mirrorUrl !== undefined) {
      logger.warn("--mirror mirrors stdio only; ignored in serve mode");
    }
    const { serveWebSocket } = await import("./run_serve.ts");
    return await serveWebSocket(gateway, {
      hostname: settings.listen.hostname,
      port: settings.listen.port,
      token: settings.token,
      tokenFile: settings.tokenFile,
      stateDir: settings.stateDir,
      readyFile: settings.readyFile,
      allowOrigins: settings.allowOrigins,
      allowHosts: settings.allowHosts,
      allowRemote: settings.allowRemote,
      allowJobs: settings.allowJobs,
      maxFrameBytes: settings.maxFrameBytes,
      outBufferBytes: settings.outBufferBytes,
      stallTimeoutSeconds: settings.stallTimeoutSeconds,
      sendDeadlineSeconds: settings.sendDeadlineSeconds,
      heartbeatSeconds: settings.heartbeatSeconds,
      graceSeconds: settings.graceSeconds,
      crashLog: settings.crashLog,
      exitOnSigint: settings.exitOnSigint ? true : undefined,
      exitWithParent: settings.exitWithParent,
      earlySignals,
      stderr,
      setup,
    });
  }
  let tap: ((frames: readonly string[]) => void) | undefined;
  if (settings.mirrorUrl !== undefined) {
    const { attachMirror } = await import("./attach_mirror.ts");
    const mirror = attachMirror(gateway, settings.mirrorUrl);
    features.setup.push(mirror.setup);
    tap = mirror.tap;
  } else {
    gateway.addInfo("mirror", () => ({ state: "off" }));
  }
  // </serve>
  return await runStdio(gateway, {
    graceSeconds: settings.graceSeconds,
    crashLog: settings.crashLog,
    exitOnSigint: settings.exitOnSigint,
    framing: settings.framing,
    stdioSockets: settings.stdioIo === "auto",
    maxFrameBytes: settings.maxFrameBytes,
    outBufferBytes: settings.outBufferBytes,
    stallTimeoutSeconds: settings.stallTimeoutSeconds,
    earlySignals,
    stderr,
    tap,
    setup,
  });
}

/**
 * The `--crash-log` given on a command line whose other flags may be bad, if
 * any: the last one, as for every flag given twice.
 */
function crashLogFlag(args: string[]): string | undefined {
  let given: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--") break;
    if (args[i].startsWith("--crash-log=")) given = args[i].slice("--crash-log=".length);
    else if (args[i] === "--crash-log") given = args[++i];
  }
  return given || undefined;
}

/** The one early exit under way, if any. */
let exiting: Promise<number> | undefined;

/**
 * Ends the process before serving started (see {@linkcode writeEarlyExit}).
 * One exit only: a start-up deadline and a start-up failure may race; the
 * first one wins.
 */
async function exitEarly(reason: string, exit: EarlyExitOptions): Promise<number> {
  exiting ??= writeEarlyExit(reason, exit);
  return await exiting;
}
