/**
 * Logging through `@logtape/logtape` with sinks that never block, and
 * `console.*` routed to the logger so nothing but frames reaches stdout.
 *
 * @module
 */

import type { LogRecord } from "@logtape/logtape";
import { getLogger, type LogLevel, useLogtape } from "../protocol/logger.ts";
import type { AsyncLineSink } from "./async_line_sink.ts";
import type { RotatingFileSink } from "./rotating_file_sink.ts";

/**
 * Options for {@linkcode setupLogging}.
 *
 * @example
 * ```ts
 * import { AsyncLineSink, type LoggingOptions, RotatingFileSink, setupLogging } from "@tuigate/tuigate";
 * const options: LoggingOptions = {
 *   level: "debug",
 *   file: new RotatingFileSink("/tmp/my-backend.log", { maxBytes: 1024 * 1024 }),
 * };
 * if (import.meta.main) await setupLogging(new AsyncLineSink(Deno.stderr), options);
 * ```
 */
export interface LoggingOptions {
  /**
   * The lowest level written.
   * @default {"info"}
   */
  level?: LogLevel;
  /**
   * A log file written besides stderr.
   * @default {undefined}
   */
  file?: RotatingFileSink;
}

/**
 * Loads and configures logtape to write to `stderr` (and a file) through
 * queues that never block, routes every tuigate logger to it, and routes
 * `console.*` to the logger.
 *
 * @example
 * ```ts
 * import { AsyncLineSink, getLogger, setupLogging } from "@tuigate/tuigate";
 * await setupLogging(new AsyncLineSink(Deno.stderr), { level: "debug" });
 * getLogger(["tuigate", "my-backend"]).debug("Logging is ready");
 * ```
 */
export async function setupLogging(
  stderr: AsyncLineSink,
  options: LoggingOptions = {},
): Promise<void> {
  const logtape = await import("@logtape/logtape");
  const format = logtape.getTextFormatter({ timestamp: "date-time-timezone" });
  const file = options.file;
  const sinks: Record<string, (record: LogRecord) => void> = {
    stderr: (record) => stderr.writeLine(format(record)),
  };
  if (file !== undefined) sinks.file = (record) => file.writeLine(format(record));
  const names = Object.keys(sinks);
  await logtape.reset();
  await logtape.configure({
    sinks,
    loggers: [
      { category: ["tuigate"], lowestLevel: options.level ?? "info", sinks: names },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: names },
    ],
  });
  useLogtape(logtape);
  routeConsole();
}

/**
 * Replaces every `console` method with one that logs through the
 * `["tuigate", "console"]` logger, so nothing (not even `console.count` or
 * `console.timeEnd`) can write to stdout or block on a full pipe.
 * {@linkcode setupLogging} calls it. Given a `sink`, console lines go
 * straight to it instead, for an application whose own LogTape setup (a
 * console sink, say) must not loop back into LogTape.
 *
 * @example
 * ```ts
 * import { routeConsole } from "@tuigate/tuigate";
 * if (import.meta.main) {
 *   routeConsole();
 *   const { log } = console;
 *   log("This goes to the log, not to stdout");
 * }
 * ```
 */
export function routeConsole(sink?: { writeLine(line: string): void }): void {
  const logger = sink === undefined ? getLogger(["tuigate", "console"]) : lineLogger(sink);
  // LogTape reads `{name}` in a message as a placeholder: console text is escaped (`{{`, `}}`).
  const text = sink === undefined
    ? (args: unknown[]) => consoleText(args).replaceAll("{", "{{").replaceAll("}", "}}")
    : consoleText;
  const counts = new Map<string, number>();
  const timers = new Map<string, number>();
  const target = globalThis.console as unknown as Record<string, unknown>;
  const levels: Record<string, "debug" | "info" | "warn" | "error"> = {
    debug: "debug",
    trace: "debug",
    warn: "warn",
    error: "error",
  };
  for (const name of Object.keys(target)) {
    if (typeof target[name] !== "function") continue;
    const level = levels[name] ?? "info";
    target[name] = (...args: unknown[]) => logger[level](text(args));
  }
  target.assert = (condition: unknown, ...args: unknown[]) => {
    if (!condition) logger.error(`Assertion failed${args.length ? ": " + text(args) : ""}`);
  };
  target.count = (label = "default") => {
    const n = (counts.get(String(label)) ?? 0) + 1;
    counts.set(String(label), n);
    logger.info(`${label}: ${n}`);
  };
  target.countReset = (label = "default") => void counts.delete(String(label));
  target.time = (label = "default") => void timers.set(String(label), performance.now());
  const elapsed = (label: string, args: unknown[], end: boolean) => {
    const start = timers.get(label);
    if (start === undefined) return;
    if (end) timers.delete(label);
    logger.info(
      `${label}: ${(performance.now() - start).toFixed(3)}ms${args.length ? " " + text(args) : ""}`,
    );
  };
  target.timeLog = (label = "default", ...args: unknown[]) => elapsed(String(label), args, false);
  target.timeEnd = (label = "default") => elapsed(String(label), [], true);
  for (
    const name of [
      "group",
      "groupCollapsed",
      "groupEnd",
      "clear",
      "profile",
      "profileEnd",
      "timeStamp",
    ]
  ) {
    target[name] = () => {};
  }
}

/** The console's levels written as plain lines, for {@linkcode routeConsole} with a sink. */
function lineLogger(sink: { writeLine(line: string): void }): Pick<
  ReturnType<typeof getLogger>,
  "debug" | "info" | "warn" | "error"
> {
  const at = (level: string) => (message: string) =>
    sink.writeLine(`${new Date().toISOString()} [${level}] console: ${message}`);
  return { debug: at("DBG"), info: at("INF"), warn: at("WRN"), error: at("ERR") };
}

/** `console.log`'s arguments as one line: format directives applied (`%c` styles dropped). */
function consoleText(args: unknown[]): string {
  const show = (a: unknown) => typeof a === "string" ? a : Deno.inspect(a, { colors: false });
  const rest = [...args];
  let first = "";
  if (typeof rest[0] === "string") {
    first = (rest.shift() as string).replace(/%([sdifoOjc%])/g, (match, directive: string) => {
      if (directive === "%") return "%";
      if (rest.length === 0) return match;
      const value = rest.shift();
      if (directive === "c") return "";
      if (directive === "d" || directive === "i") return String(Number.parseInt(String(value)));
      if (directive === "f") return String(Number.parseFloat(String(value)));
      return directive === "s" ? String(value) : show(value);
    });
  }
  return [first, ...rest.map(show)].filter((part, i) => i > 0 || part !== "" || args.length === 0)
    .join(" ");
}
