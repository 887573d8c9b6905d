/**
 * Command-line flags and environment variables, parsed into settings.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { LogLevel } from "../protocol/logger.ts";
import { isLoopbackHost } from "../transport/websocket/listen_address.ts";
import { defaultStateDir } from "./state_dir.ts";

/** The gateway's effective settings. */
export interface Settings {
  /** `"stdio"` or `"serve"`. */
  mode: "stdio" | "serve";
  /** Seconds between a shutdown request and a forced exit. */
  graceSeconds: number;
  /** The longest frame accepted, in bytes. */
  maxFrameBytes: number;
  /** The bound on queued output per peer, in bytes. */
  outBufferBytes: number;
  /** Seconds control frames may wait for room before the peer counts as stalled. */
  stallTimeoutSeconds: number;
  /** Handlers that may run at once. */
  maxInflight: number;
  /** Requests that may wait for a slot. */
  maxQueued: number;
  /** The exit ledger's path. */
  crashLog: string;
  /** Whether SIGINT shuts the gateway down (by default it is ignored). */
  exitOnSigint: boolean;
  /** The lowest log level written. */
  logLevel: LogLevelName;
  /** An optional log file. */
  logFile: string | undefined;
  /** The log file's size bound before rotation, in bytes. */
  logFileMaxBytes: number;
  /** How many rotated log files are kept. */
  logFileKeep: number;
  /** `"line"` or `"lsp"` framing on stdio. */
  framing: "line" | "lsp";
  /**
   * `"auto"` moves stdin and stdout onto reactor-polled sockets once the first
   * frame is written, when both are pipes or sockets; `"deno"` keeps
   * `Deno.stdin` and `Deno.stdout`.
   */
  stdioIo: "auto" | "deno";
  /** The folder of the session store and the exit ledger. */
  stateDir: string;
  /** Whether `--state-dir` or `TUIGATE_STATE_DIR` chose it (else it is the default). */
  stateDirChosen: boolean;
  /** `"sqlite"` for the durable store, `"memory"` for none. */
  state: "sqlite" | "memory";
  /** Session retention: events kept per session. */
  sessionMaxEvents: number;
  /** Session retention: bytes of events kept per session. */
  sessionMaxBytes: number;
  /** Session retention: bytes of events kept in the whole store. */
  stateMaxBytes: number;
  /** Seconds a store write waits for another gateway's lock before failing. */
  stateBusyTimeoutSeconds: number;
  /** Whether test-only methods (such as `debug.block`) are registered. */
  testHooks: boolean;
  /** Maximum concurrent jobs. */
  maxJobs: number;
  /** Serve mode: the address to listen on. */
  listen: { hostname: string; port: number };
  /** Serve mode: the bearer token, if given. */
  token: string | undefined;
  /**
   * Serve mode: where the token is written, if given; else `STATE_DIR/token`
   * (or `STATE_DIR/token-PID` while another server holds that one).
   */
  tokenFile: string | undefined;
  /** Serve mode: browser origins allowed. */
  allowOrigins: string[];
  /** Serve mode: whether a non-loopback address may be bound. */
  allowRemote: boolean;
  /** Serve mode: extra host names accepted in the `Host` header. */
  allowHosts: string[];
  /** Serve mode: seconds of silence before a heartbeat ping; no pong within as long again closes the connection (0 disables). */
  heartbeatSeconds: number;
  /** Serve mode: seconds a client may leave its socket undrained before it is closed with 4008. */
  sendDeadlineSeconds: number;
  /** Serve mode: whether the server exits when the process that started it exits. */
  exitWithParent: boolean;
  /** Serve mode: whether jobs are allowed over WebSocket. */
  allowJobs: boolean;
  /** Serve mode: where the listening address is written as JSON. */
  readyFile: string | undefined;
  /** Mirror every frame the stdio peer receives to this WebSocket URL. */
  mirrorUrl: string | undefined;
}

/** Names of log levels: the same as {@linkcode LogLevel}. */
export type LogLevelName = LogLevel;

const LOG_LEVELS: readonly LogLevelName[] = ["trace", "debug", "info", "warning", "error", "fatal"];

/** A bad flag or environment value; main prints its message and exits 2. */
export class UsageError extends Error {
  /** Makes a usage error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The result of {@linkcode parseSettings}. */
export interface ParsedSettings {
  /** The settings. */
  settings: Settings;
  /** Values that were invalid but have a safe fallback, one line each. */
  warnings: string[];
  /** Whether `--help` was given. */
  help: boolean;
  /** Whether `--version` was given. */
  version: boolean;
}

/** Options for {@linkcode parseSettings}. */
export interface ParseSettingsOptions {
  /**
   * Environment variables.
   * @default {Deno.env.toObject()}
   */
  env?: Record<string, string | undefined>;
  /**
   * The home folder, for the default state folder.
   * @default {env.HOME}
   */
  home?: string;
}

/** The usage text printed by `--help`. */
export const USAGE = `Usage: tuigate [serve] [options]

A JSON-RPC 2.0 gateway for terminal UIs: newline-delimited JSON on stdio,
or WebSocket with "serve".

Options:
  --grace SECONDS             shutdown grace period (env TUIGATE_SHUTDOWN_GRACE_S, default 1)
  --max-frame-bytes N         longest frame accepted (env TUIGATE_MAX_FRAME_BYTES, default 16777216)
  --out-buffer-bytes N        bound on queued output per peer (env TUIGATE_OUT_BUFFER_BYTES, default 8388608)
  --stall-timeout SECONDS     a reader stalled this long counts as gone (env TUIGATE_STALL_TIMEOUT_S, default 10)
  --max-inflight N            handlers running at once (env TUIGATE_MAX_INFLIGHT, default 64)
  --max-queued N              requests waiting for a slot (env TUIGATE_MAX_QUEUED, default 1024)
  --crash-log PATH            exit ledger (env TUIGATE_CRASH_LOG, default STATE_DIR/exits.jsonl)
  --exit-on-sigint            shut down on SIGINT (by default SIGINT is ignored)
  --log-level LEVEL           trace|debug|info|warning|error|fatal (env TUIGATE_LOG_LEVEL, default info)
  --log-file PATH             also log to a file (env TUIGATE_LOG_FILE)
  --log-file-max-bytes N      rotate the log file at this size (env TUIGATE_LOG_FILE_MAX_BYTES, default 10485760)
  --log-file-keep N           rotated log files kept, at most 1000 (env TUIGATE_LOG_FILE_KEEP, default 3)
  --framing line|lsp          stdio framing (env TUIGATE_FRAMING, default line)
  --stdio-io auto|deno        stdio reads and writes: auto moves pipes onto polled sockets after the
                              first frame, deno keeps Deno.stdin/stdout (env TUIGATE_STDIO_IO, default auto)
  --state-dir DIR             state folder (env TUIGATE_STATE_DIR, default $XDG_STATE_HOME/tuigate)
  --state sqlite|memory       session store (env TUIGATE_STATE, default sqlite)
  --session-max-events N      events kept per session (env TUIGATE_SESSION_MAX_EVENTS, default 50000)
  --session-max-bytes N       bytes of events kept per session (env TUIGATE_SESSION_MAX_BYTES, default 33554432)
  --state-max-bytes N         bytes of events kept in the store (env TUIGATE_STATE_MAX_BYTES, default 268435456)
  --state-busy-timeout SECONDS  wait for another gateway's store lock (env TUIGATE_STATE_BUSY_TIMEOUT_S, default 5)
  --max-jobs N                concurrent jobs (env TUIGATE_MAX_JOBS, default 16)
  --listen HOST:PORT          serve: address (env TUIGATE_LISTEN, default 127.0.0.1:0)
  --token TOKEN               serve: bearer token (env TUIGATE_TOKEN, default random)
  --token-file PATH           serve: where the token is written (default STATE_DIR/token)
  --allow-origin ORIGIN       serve: a browser origin allowed (repeatable)
  --allow-remote              serve: allow binding a non-loopback address
  --allow-host HOST           serve: a further name accepted in the Host header (repeatable)
  --allow-jobs                serve: allow jobs over WebSocket
  --ready-file PATH           serve: write the listening address here as JSON
  --heartbeat SECONDS         serve: ping after this much silence, close without a pong (env TUIGATE_HEARTBEAT_S, default 20, 0 disables)
  --send-deadline SECONDS     serve: close a client that does not drain its socket this long (env TUIGATE_SEND_DEADLINE_S, default 10)
  --exit-with-parent          serve: exit when the parent process exits (default: keep serving)
  --mirror URL                mirror frames the stdio peer receives to ws://HOST:PORT/PATH (env TUIGATE_MIRROR_URL)
  --test-hooks                register test-only methods (debug.block)
  --help                      print this text
  --version                   print the version
`;

function integer(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    throw new UsageError(`Invalid value for ${name}: "${raw}" is not a whole number`);
  }
  const value = Number(raw.trim());
  if (value < min) throw new UsageError(`Invalid value for ${name}: ${value} is below ${min}`);
  if (value > max) throw new UsageError(`Invalid value for ${name}: ${value} is above ${max}`);
  return value;
}

/** The most rotated log files kept (`--log-file-keep`). */
const MAX_LOG_FILE_KEEP = 1000;

/**
 * The longest wait a timer can take, in seconds (2^31 - 1 ms, about 24.8
 * days): a longer one would fire at once.
 */
const MAX_SECONDS = 2_147_483;

/** One of two values, the first by default; anything else is a {@linkcode UsageError}. */
function either<T extends string>(
  [name, raw]: [string, string | undefined],
  allowed: readonly [T, T],
): T {
  const value = raw ?? allowed[0];
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) {
    throw new UsageError(
      `Invalid value for ${name}: "${value}" is not "${allowed[0]}" or "${allowed[1]}"`,
    );
  }
  return found;
}

function seconds(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const text = raw.trim();
  // Decimal only, as for --grace: `Number` would also take "0x10" or "1e9".
  if (!/^\d+(\.\d*)?$|^\.\d+$/.test(text)) {
    throw new UsageError(`Invalid value for ${name}: "${raw}" is not a number of seconds`);
  }
  const value = Number(text);
  if (value > MAX_SECONDS) {
    throw new UsageError(
      `Invalid value for ${name}: ${text} s is more than ${MAX_SECONDS} s (about 24.8 days)`,
    );
  }
  return value;
}

const OPTIONS = {
  "grace": { type: "string" },
  "max-frame-bytes": { type: "string" },
  "out-buffer-bytes": { type: "string" },
  "stall-timeout": { type: "string" },
  "max-inflight": { type: "string" },
  "max-queued": { type: "string" },
  "crash-log": { type: "string" },
  "exit-on-sigint": { type: "boolean" },
  "log-level": { type: "string" },
  "log-file": { type: "string" },
  "log-file-max-bytes": { type: "string" },
  "log-file-keep": { type: "string" },
  "framing": { type: "string" },
  "stdio-io": { type: "string" },
  "state-dir": { type: "string" },
  "state": { type: "string" },
  "session-max-events": { type: "string" },
  "session-max-bytes": { type: "string" },
  "state-max-bytes": { type: "string" },
  "state-busy-timeout": { type: "string" },
  "max-jobs": { type: "string" },
  "listen": { type: "string" },
  "token": { type: "string" },
  "token-file": { type: "string" },
  "allow-origin": { type: "string", multiple: true },
  "allow-remote": { type: "boolean" },
  "allow-host": { type: "string", multiple: true },
  "heartbeat": { type: "string" },
  "send-deadline": { type: "string" },
  "exit-with-parent": { type: "boolean" },
  "allow-jobs": { type: "boolean" },
  "ready-file": { type: "string" },
  "mirror": { type: "string" },
  "test-hooks": { type: "boolean" },
  "help": { type: "boolean", short: "h" },
  "version": { type: "boolean" },
} as const;

/**
 * Joins `--flag value` into `--flag=value` for options that take a value, so
 * that a value starting with "-" (say `--grace -1`) is read as the value, and
 * then judged, instead of being mistaken for a flag.
 */
function joinValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const name = arg.startsWith("--") && !arg.includes("=") ? arg.slice(2) : undefined;
    const option = name === undefined
      ? undefined
      : (OPTIONS as Record<string, { type: string }>)[name];
    if (option?.type === "string" && i + 1 < args.length && args[i + 1] !== "--") {
      out.push(`${arg}=${args[++i]}`);
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * Parses arguments and environment into settings. Throws a
 * {@linkcode UsageError} for a bad flag; an invalid grace period falls back
 * to the default with a warning.
 */
export function parseSettings(args: string[], options: ParseSettingsOptions = {}): ParsedSettings {
  const env = options.env ?? {};
  let parsed;
  try {
    parsed = parseArgs({
      args: joinValues(args),
      allowPositionals: true,
      strict: true,
      options: OPTIONS,
    });
  } catch (error) {
    const first = (error as Error).message.split("\n")[0];
    const name = /'([^']+)'/.exec(first)?.[1];
    throw new UsageError(
      (error as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && name !== undefined
        ? `Unknown flag ${name}`
        : first.replace(/\.$/, ""),
    );
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1 || (positionals.length === 1 && positionals[0] !== "serve")) {
    throw new UsageError(`Unknown command "${positionals.join(" ")}": the only command is "serve"`);
  }
  const warnings: string[] = [];

  const graceRaw = values.grace ?? env.TUIGATE_SHUTDOWN_GRACE_S;
  let graceSeconds = 1;
  if (graceRaw !== undefined) {
    const value = Number(graceRaw.trim());
    // Seconds in decimal only: `Number` would also take "0x1", "1e1" or "0b1".
    const decimal = /^\d+(\.\d*)?$|^\.\d+$/.test(graceRaw.trim());
    if (!decimal || !Number.isFinite(value) || value < 0 || value > 3600) {
      warnings.push(`Invalid grace period "${graceRaw}": using the default of 1 s`);
    } else {
      graceSeconds = value;
    }
  }

  // The name to report and the raw value of a string option: the flag's when given, else the
  // variable's; with `emptyUnset`, an empty variable counts as unset.
  const given = (
    flag: string,
    variable: string,
    emptyUnset = false,
  ): [string, string | undefined] => {
    const flagValue = (values as Record<string, unknown>)[flag] as string | undefined;
    if (flagValue !== undefined) return [`--${flag}`, flagValue];
    return [variable, emptyUnset ? env[variable] || undefined : env[variable]];
  };
  // An empty variable counts as unset, as for the path variables (and runStdio's TUIGATE_FRAMING).
  const [levelName, levelRaw] = given("log-level", "TUIGATE_LOG_LEVEL", true);
  const logLevel = (levelRaw ?? "info").toLowerCase();
  const level = logLevel === "warn" ? "warning" : logLevel;
  if (!LOG_LEVELS.includes(level as LogLevelName)) {
    throw new UsageError(
      `Invalid value for ${levelName}: "${logLevel}" is not one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  const framing = either(
    given("framing", "TUIGATE_FRAMING", true),
    ["line", "lsp"],
  );
  const stdioIo = either(
    given("stdio-io", "TUIGATE_STDIO_IO", true),
    ["auto", "deno"],
  );
  const state = either(
    given("state", "TUIGATE_STATE", true),
    ["sqlite", "memory"],
  );
  // An empty path means "not set", as for every path flag and variable.
  const chosenStateDir = values["state-dir"] || env.TUIGATE_STATE_DIR || undefined;
  const stateDir = chosenStateDir ?? defaultStateDir({ HOME: options.home, ...env });
  const listen = parseListen(values.listen || env.TUIGATE_LISTEN || "127.0.0.1:0");
  const [mirrorName, mirrorUrl] = given("mirror", "TUIGATE_MIRROR_URL");
  if (mirrorUrl !== undefined && mirrorUrl !== "" && !isWebSocketUrl(mirrorUrl)) {
    throw new UsageError(
      `Invalid value for ${mirrorName}: "${mirrorUrl}" is not a ws:// or wss:// URL`,
    );
  }

  const settings: Settings = {
    mode: positionals[0] === "serve" ? "serve" : "stdio",
    graceSeconds,
    maxFrameBytes: integer(
      ...given("max-frame-bytes", "TUIGATE_MAX_FRAME_BYTES"),
      16 * 1024 * 1024,
      64,
    ),
    outBufferBytes: integer(
      ...given("out-buffer-bytes", "TUIGATE_OUT_BUFFER_BYTES"),
      8 * 1024 * 1024,
      1024,
    ),
    stallTimeoutSeconds: seconds(
      ...given("stall-timeout", "TUIGATE_STALL_TIMEOUT_S"),
      10,
    ),
    maxInflight: integer(
      ...given("max-inflight", "TUIGATE_MAX_INFLIGHT"),
      64,
      1,
    ),
    maxQueued: integer(
      ...given("max-queued", "TUIGATE_MAX_QUEUED"),
      1024,
      0,
    ),
    crashLog: values["crash-log"] || env.TUIGATE_CRASH_LOG || `${stateDir}/exits.jsonl`,
    exitOnSigint: values["exit-on-sigint"] ?? false,
    logLevel: level as LogLevelName,
    logFile: values["log-file"] || env.TUIGATE_LOG_FILE || undefined,
    logFileMaxBytes: integer(
      ...given("log-file-max-bytes", "TUIGATE_LOG_FILE_MAX_BYTES"),
      10 * 1024 * 1024,
      1024,
    ),
    logFileKeep: integer(
      ...given("log-file-keep", "TUIGATE_LOG_FILE_KEEP"),
      3,
      0,
      // Each rotation renames every kept file: a bound keeps it quick.
      MAX_LOG_FILE_KEEP,
    ),
    framing,
    stdioIo,
    stateDir,
    stateDirChosen: chosenStateDir !== undefined,
    state,
    sessionMaxEvents: integer(
      ...given("session-max-events", "TUIGATE_SESSION_MAX_EVENTS"),
      50_000,
      1,
    ),
    sessionMaxBytes: integer(
      ...given("session-max-bytes", "TUIGATE_SESSION_MAX_BYTES"),
      32 * 1024 * 1024,
      1,
    ),
    stateMaxBytes: integer(
      ...given("state-max-bytes", "TUIGATE_STATE_MAX_BYTES"),
      256 * 1024 * 1024,
      1,
    ),
    stateBusyTimeoutSeconds: seconds(
      ...given("state-busy-timeout", "TUIGATE_STATE_BUSY_TIMEOUT_S"),
      5,
    ),
    testHooks: values["test-hooks"] ?? false,
    maxJobs: integer(
      ...given("max-jobs", "TUIGATE_MAX_JOBS"),
      16,
      1,
    ),
    listen,
    // An empty token would let anyone in: it counts as unset, so a random one is generated.
    token: bearerToken(values.token || env.TUIGATE_TOKEN || undefined, values.token !== undefined),
    tokenFile: values["token-file"] || undefined,
    allowOrigins: values["allow-origin"] ?? [],
    allowRemote: values["allow-remote"] ?? false,
    allowHosts: values["allow-host"] ?? [],
    heartbeatSeconds: seconds(
      ...given("heartbeat", "TUIGATE_HEARTBEAT_S"),
      20,
    ),
    sendDeadlineSeconds: seconds(
      ...given("send-deadline", "TUIGATE_SEND_DEADLINE_S"),
      10,
    ),
    exitWithParent: values["exit-with-parent"] ?? false,
    allowJobs: values["allow-jobs"] ?? false,
    readyFile: values["ready-file"] || undefined,
    mirrorUrl: mirrorUrl === "" ? undefined : mirrorUrl,
  };
  if (settings.mode === "serve" && !settings.allowRemote && !isLoopbackHost(listen.hostname)) {
    throw new UsageError(
      `Refusing to listen on ${listen.hostname}: it is not a loopback address (pass --allow-remote to allow it)`,
    );
  }
  return { settings, warnings, help: values.help ?? false, version: values.version ?? false };
}

/** Whether `text` parses as a ws:// or wss:// URL with a host and a valid port. */
function isWebSocketUrl(text: string): boolean {
  if (!/^wss?:\/\/[^/]+/.test(text)) return false;
  try {
    return new URL(text).hostname !== "";
  } catch {
    return false;
  }
}

function parseListen(raw: string): { hostname: string; port: number } {
  // HOST:PORT, [IPV6]:PORT, or :PORT and PORT alone for the default host 127.0.0.1.
  const match = /^(?:(\[[^\]]+\]|[^:]+)?:)?(\d+)$/.exec(raw.trim());
  if (match === null) {
    throw new UsageError(`Invalid value for --listen: "${raw}" is not HOST:PORT`);
  }
  const port = Number(match[2]);
  if (port > 65535) throw new UsageError(`Invalid value for --listen: port ${port} is above 65535`);
  const host = match[1] ?? "127.0.0.1";
  const hostname = host.startsWith("[") ? host.slice(1, -1) : host;
  return { hostname, port };
}

/**
 * A token every client can present both ways: `Authorization: Bearer` takes
 * RFC 6750 token characters, the subprotocol `tuigate.bearer.<token>` only
 * RFC 7230 ones; these are in both.
 */
function bearerToken(token: string | undefined, fromFlag: boolean): string | undefined {
  if (token === undefined || /^[A-Za-z0-9\-._~+]+$/.test(token)) return token;
  throw new UsageError(
    `Invalid value for ${
      fromFlag ? "--token" : "TUIGATE_TOKEN"
    }: a bearer token may hold only letters, digits and - . _ ~ + (it travels in a header and a subprotocol)`,
  );
}
