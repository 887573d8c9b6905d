/**
 * Logging through `@logtape/logtape` with sinks that never block, and
 * `console.*` routed to the logger so nothing but frames reaches stdout.
 *
 * @module
 */

import type { LogRecord } from "@logtape/logtape";
import { getLogger, useLogtape } from "../protocol/logger.ts";
import type { AsyncLineSink } from "./async_line_sink.ts";
import type { RotatingFileSink } from "./rotating_file_sink.ts";
import type { LogLevelName } from "./settings.ts";

/** Options for {@linkcode setupLogging}. */
export interface LoggingOptions {
  /**
   * The lowest level written.
   * @default {"info"}
   */
  level?: LogLevelName;
  /** An optional log file. */
  file?: RotatingFileSink;
}

/**
 * Loads and configures logtape to write to `stderr` (and a file) through
 * queues that never block, routes every tuigate logger to it, and routes
 * `console.*` to the logger.
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

/** Replaces `console.*` with calls to the `["tuigate", "console"]` logger. */
export function routeConsole(): void {
  const logger = getLogger(["tuigate", "console"]);
  const text = (args: unknown[]) =>
    args.map((a) => typeof a === "string" ? a : Deno.inspect(a, { colors: false })).join(" ");
  const target = globalThis.console as unknown as Record<string, unknown>;
  target.log = (...args: unknown[]) => logger.info(text(args));
  target.info = (...args: unknown[]) => logger.info(text(args));
  target.debug = (...args: unknown[]) => logger.debug(text(args));
  target.trace = (...args: unknown[]) => logger.trace(text(args));
  target.warn = (...args: unknown[]) => logger.warn(text(args));
  target.error = (...args: unknown[]) => logger.error(text(args));
  target.dir = (value: unknown) => logger.info(text([value]));
  target.table = (value: unknown) => logger.info(text([value]));
}
