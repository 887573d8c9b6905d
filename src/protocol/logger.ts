/**
 * A thin facade over `@logtape/logtape` that loads it lazily: the core
 * (everything on the path to a gateway's first answer) never waits for the
 * logging library to load. Records made before {@linkcode useLogtape} is
 * called are kept (up to 1000) and replayed.
 *
 * @module
 */

import type * as LogTape from "@logtape/logtape";

/**
 * The log levels, lowest first.
 *
 * @example
 * ```ts
 * import { AsyncLineSink, type LogLevel, setupLogging } from "@tuigate/tuigate";
 * const level: LogLevel = "debug";
 * await setupLogging(new AsyncLineSink(Deno.stderr), { level });
 * ```
 */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

/**
 * The logger API tuigate uses: logtape's message templates with properties.
 *
 * @example
 * ```ts
 * import { getLogger, type Logger } from "@tuigate/tuigate";
 * const logger: Logger = getLogger(["my-backend", "files"]);
 * logger.warn("Cannot read {path}", { path: "/etc/shadow" });
 * ```
 */
export interface Logger {
  /** Logs at trace level. */
  trace(message: string, properties?: Record<string, unknown>): void;
  /** Logs at debug level. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Logs at info level. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Logs at warning level. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Logs at error level. */
  error(message: string, properties?: Record<string, unknown>): void;
  /** Logs at fatal level. */
  fatal(message: string, properties?: Record<string, unknown>): void;
}

/**
 * The `@logtape/logtape` module, as passed to {@linkcode useLogtape}.
 *
 * @example
 * ```ts
 * import { type LogtapeModule, useLogtape } from "@tuigate/tuigate";
 * const logtape: LogtapeModule = await import("@logtape/logtape");
 * await logtape.configure({ sinks: { console: logtape.getConsoleSink() }, loggers: [] });
 * useLogtape(logtape);
 * ```
 */
export type LogtapeModule = typeof LogTape;

type Pending = [
  category: string[],
  level: LogLevel,
  message: string,
  properties: Record<string, unknown> | undefined,
];

const MAX_PENDING = 1000;
const LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];
let backend: LogtapeModule | undefined;
let pending: Pending[] = [];
let waiters: [lowest: number, listener: () => void][] = [];

function emit(
  category: string[],
  level: LogLevel,
  message: string,
  properties: Record<string, unknown> | undefined,
): void {
  if (backend === undefined) {
    if (pending.length >= MAX_PENDING) pending.shift();
    pending.push([category, level, message, properties]);
    if (waiters.length > 0) wakeWaiters(LEVELS.indexOf(level));
    return;
  }
  const logger = backend.getLogger(category);
  if (level === "warning") logger.warn(message, properties ?? {});
  else logger[level](message, properties ?? {});
}

function wakeWaiters(rank: number): void {
  const due = waiters.filter(([lowest]) => rank >= lowest);
  if (due.length === 0) return;
  waiters = waiters.filter(([lowest]) => rank < lowest);
  for (const [, listener] of due) {
    // A listener before may have put logtape in use (synchronously): the rest are not called then.
    if (backend !== undefined) return;
    notify(listener);
  }
}

/** Calls a listener; what it throws is reported like any uncaught error, never to the logging code. */
function notify(listener: () => void): void {
  try {
    listener();
  } catch (error) {
    reportError(error);
  }
}

/**
 * Calls `listener` once, as soon as a record at `level` or above waits for
 * {@linkcode useLogtape} (at once if one waits already). Never called once
 * logtape is in use. For loading logtape only when there is something worth
 * saying: until then a gateway need not spend the time or memory.
 *
 * @example
 * ```ts
 * import { AsyncLineSink, getLogger, setupLogging, whenRecordWaits } from "@tuigate/tuigate";
 * whenRecordWaits("info", () => void setupLogging(new AsyncLineSink(Deno.stderr)));
 * getLogger(["tuigate", "demo"]).info("This loads the logger, then is written");
 * ```
 */
export function whenRecordWaits(level: LogLevel, listener: () => void): void {
  if (backend !== undefined) return;
  const lowest = LEVELS.indexOf(level);
  if (pending.some(([, waiting]) => LEVELS.indexOf(waiting) >= lowest)) {
    notify(listener);
    return;
  }
  waiters.push([lowest, listener]);
}

/**
 * How many records wait for {@linkcode useLogtape} (at most 1000: past that
 * the oldest are dropped). Always 0 once logtape is in use.
 *
 * @example
 * ```ts
 * import { getLogger, waitingRecordCount } from "@tuigate/tuigate";
 * getLogger(["tuigate", "demo"]).debug("Kept until logging is set up");
 * waitingRecordCount(); // 1, unless logging was set up already
 * ```
 */
export function waitingRecordCount(): number {
  return pending.length;
}

/**
 * A logger for a category, for example `["tuigate", "sessions"]`.
 *
 * @example
 * ```ts
 * import { getLogger } from "@tuigate/tuigate";
 * getLogger(["my-backend"]).info("Started {name}", { name: "demo" });
 * ```
 */
export function getLogger(category: string[]): Logger {
  return {
    trace: (message, properties) => emit(category, "trace", message, properties),
    debug: (message, properties) => emit(category, "debug", message, properties),
    info: (message, properties) => emit(category, "info", message, properties),
    warn: (message, properties) => emit(category, "warning", message, properties),
    error: (message, properties) => emit(category, "error", message, properties),
    fatal: (message, properties) => emit(category, "fatal", message, properties),
  };
}

/**
 * Routes every logger to a loaded (and configured) logtape module, replaying
 * what was logged before. {@linkcode setupLogging} does this for you.
 *
 * @example
 * ```ts
 * import * as logtape from "@logtape/logtape";
 * import { AsyncLineSink, useLogtape } from "@tuigate/tuigate";
 * const stderr = new AsyncLineSink(Deno.stderr);
 * const format = logtape.getTextFormatter();
 * await logtape.configure({
 *   sinks: { stderr: (record) => stderr.writeLine(format(record)) },
 *   loggers: [{ category: ["tuigate"], lowestLevel: "info", sinks: ["stderr"] }],
 * });
 * useLogtape(logtape);
 * ```
 */
export function useLogtape(module: LogtapeModule): void {
  backend = module;
  waiters = [];
  const replay = pending;
  pending = [];
  for (const [category, level, message, properties] of replay) {
    emit(category, level, message, properties);
  }
}

/**
 * Whether {@linkcode useLogtape} was called (directly or by `setupLogging`):
 * until then, log records wait in a bounded queue.
 *
 * @example
 * ```ts
 * import { loggingConfigured } from "@tuigate/tuigate";
 * if (!loggingConfigured()) {
 *   // nothing has configured logging yet: set it up here
 * }
 * ```
 */
export function loggingConfigured(): boolean {
  return backend !== undefined;
}
