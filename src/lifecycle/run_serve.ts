/**
 * Runs a gateway as a WebSocket server process: the server, the lifecycle
 * (signals, grace, watchdog, ledger), the token file and the announcement
 * of the chosen address.
 *
 * @module
 */

import { getLogger } from "../protocol/logger.ts";
import { withTimeout } from "../protocol/timing.ts";
import { writePrivateFile, writeTokenFile } from "../transport/websocket/bearer_token.ts";
import { claimTokenFile, removeIfOwned } from "./_token_file_claim.ts";
import type { ListeningAddress } from "../transport/websocket/listen_address.ts";
import { WebSocketServer } from "../transport/websocket/websocket_server.ts";
import { AsyncLineSink } from "./async_line_sink.ts";
import { writeEarlyExit } from "./early_exit.ts";
import type { EarlySignals } from "./early_signals.ts";
import { ExitLedger } from "./exit_ledger.ts";
import type { Gateway } from "./gateway.ts";
import { EXIT_CODES, LifecycleState, ProcessLifecycle } from "./process_lifecycle.ts";
import { defaultCrashLog, defaultStateDir } from "./state_dir.ts";

const logger = getLogger(["tuigate", "serve"]);
const encoder = new TextEncoder();

/**
 * Options for {@linkcode serveWebSocket}.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { serveWebSocket, type ServeWebSocketOptions } from "@tuigate/tuigate/websocket";
 * const options: ServeWebSocketOptions = {
 *   port: 8765,
 *   readyFile: "/tmp/my-backend.ready.json",
 *   allowOrigins: ["https://app.example"],
 * };
 * if (import.meta.main) await serveWebSocket(new Gateway(), options);
 * ```
 */
export interface ServeWebSocketOptions {
  /**
   * The host to listen on.
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The port; 0 picks a free one.
   * @default {0}
   */
  port?: number;
  /**
   * The bearer token. When absent a random one is made and written to `tokenFile`.
   * @default {undefined}
   */
  token?: string;
  /**
   * Where a generated token is written (mode 0600); removed at exit. By
   * default `token` in `stateDir`, or `token-PID` there while another live
   * server holds that path (its pid is in `token.owner`).
   * @default {"$XDG_STATE_HOME/tuigate/token"}
   */
  tokenFile?: string;
  /**
   * The state folder, where the default token file goes.
   * @default {"$XDG_STATE_HOME/tuigate"}
   */
  stateDir?: string;
  /**
   * Where the announcement (the listening address as JSON) is also written; removed at exit.
   * @default {undefined}
   */
  readyFile?: string;
  /**
   * Whether the announcement is written to stdout as one JSON line.
   * @default {true}
   */
  announce?: boolean;
  /**
   * Browser origins allowed (`"*"` for any).
   * @default {[]}
   */
  allowOrigins?: string[];
  /**
   * Extra names accepted in the `Host` header.
   * @default {[]}
   */
  allowHosts?: string[];
  /**
   * Whether a non-loopback address may be bound.
   * @default {false}
   */
  allowRemote?: boolean;
  /**
   * Whether WebSocket peers are granted `"jobs"` (methods that run programs or touch files).
   * @default {false}
   */
  allowJobs?: boolean;
  /**
   * The longest message accepted, in bytes (1009 beyond).
   * @default {16777216}
   */
  maxFrameBytes?: number;
  /**
   * The bound on each connection's queued output, in bytes.
   * @default {8388608}
   */
  outBufferBytes?: number;
  /**
   * Seconds control frames may wait for room before a client counts as stalled.
   * @default {10}
   */
  stallTimeoutSeconds?: number;
  /**
   * Seconds a client may leave its socket undrained before it is closed with 4008.
   * @default {10}
   */
  sendDeadlineSeconds?: number;
  /**
   * Seconds of silence before a heartbeat ping; 0 disables heartbeats.
   * @default {20}
   */
  heartbeatSeconds?: number;
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
   * Whether SIGINT shuts down. When absent, SIGINT shuts down if stdin is a
   * terminal (someone started the server by hand) and is ignored otherwise.
   * @default {undefined}
   */
  exitOnSigint?: boolean;
  /**
   * Signals caught while the process started (see {@linkcode EarlySignals}).
   * @default {undefined}
   */
  earlySignals?: EarlySignals;
  /**
   * Whether the server exits when its parent process exits.
   * @default {false}
   */
  exitWithParent?: boolean;
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
   * Called with the lifecycle and the server before serving starts, to add drain and exit steps.
   * @default {undefined}
   */
  setup?: (lifecycle: ProcessLifecycle, server: WebSocketServer) => void;
}

/**
 * The announcement written to stdout and the ready file.
 *
 * @example
 * ```ts
 * import type { ServeAnnouncement } from "@tuigate/tuigate/websocket";
 * const text = await Deno.readTextFile("/tmp/my-backend.ready.json");
 * const announcement: ServeAnnouncement = JSON.parse(text);
 * const token = await Deno.readTextFile(announcement.tokenFile ?? "/run/my-backend/token");
 * const ws = new WebSocket(announcement.url, ["tuigate", `tuigate.bearer.${token.trim()}`]);
 * ```
 */
export interface ServeAnnouncement {
  /** Where the server listens. */
  listening: ListeningAddress;
  /** The URL, repeated for convenience. */
  url: string;
  /** The port, repeated for convenience. */
  port: number;
  /** Where the generated token was written, or `null` when it was given. */
  tokenFile: string | null;
  /** The gateway's process id. */
  pid: number;
  /** The gateway's epoch. */
  epoch: string;
}

/** Why serving never started; the reason of its ledger line. */
type StartFailure = "token-file-failed" | "ready-file-failed" | "listen-failed";

/** Writes all of `text`; resolves false when the stream refuses it. */
async function writeAll(
  stream: { write(p: Uint8Array): Promise<number> },
  text: string,
): Promise<boolean> {
  const bytes = encoder.encode(text);
  try {
    let offset = 0;
    while (offset < bytes.length) offset += await stream.write(bytes.subarray(offset));
    return true;
  } catch {
    return false;
  }
}

function stdinIsTerminal(): boolean {
  try {
    return Deno.stdin.isTerminal();
  } catch {
    return false;
  }
}

/**
 * Serves a gateway over WebSocket until a signal arrives or
 * `gateway.shutdown` is called; then closes every connection with 1001 and
 * exits the process within the grace period, with a ledger line. Stdin is
 * not read: its end does not stop the server. Resolves with the exit code
 * (the process exits first).
 *
 * When serving cannot start, it resolves at once, without exiting, with
 * `EXIT_CODES.USAGE` (2: the address, the token file or the ready file
 * given cannot be used), after one line on stderr, `[tuigate-exit] <reason>`
 * and one ledger line whose reason is `"token-file-failed"` (the token file
 * cannot be written), `"ready-file-failed"` (the ready file cannot be
 * written) or `"listen-failed"` (the address is taken, not loopback without
 * `allowRemote`, or cannot be bound).
 *
 * Once listening, one JSON line is written to stdout (and to `readyFile`):
 * `{"listening":{"host","port","url"},"url","port","tokenFile","pid","epoch"}`.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { serveWebSocket } from "@tuigate/tuigate/websocket";
 * // Serves until SIGTERM or gateway.shutdown, then exits the process.
 * if (import.meta.main) await serveWebSocket(new Gateway(), { port: 0, graceSeconds: 2 });
 * ```
 */
export async function serveWebSocket(
  gateway: Gateway,
  options: ServeWebSocketOptions = {},
): Promise<number> {
  const stderr = options.stderr ?? new AsyncLineSink(Deno.stderr);
  const stateDir = options.stateDir ?? defaultStateDir(Deno.env.toObject());
  const crashLog = options.crashLog ?? defaultCrashLog();
  const graceMs = (options.graceSeconds ?? 1) * 1000;
  const generated = options.token === undefined;
  const server = new WebSocketServer(gateway, {
    hostname: options.hostname,
    port: options.port,
    token: options.token,
    allowOrigins: options.allowOrigins,
    allowHosts: options.allowHosts,
    allowRemote: options.allowRemote,
    grants: options.allowJobs === true ? ["jobs"] : [],
    maxFrameBytes: options.maxFrameBytes,
    outBufferBytes: options.outBufferBytes,
    stallTimeoutMs: (options.stallTimeoutSeconds ?? 10) * 1000,
    sendDeadlineMs: (options.sendDeadlineSeconds ?? 10) * 1000,
    heartbeatMs: (options.heartbeatSeconds ?? 20) * 1000,
  });
  const fail = (reason: StartFailure, message: string, error: unknown): Promise<number> => {
    return writeEarlyExit(reason, {
      crashLog,
      stderr,
      code: EXIT_CODES.USAGE,
      // One plain line, as for a bad flag: a log record's format would bury it.
      line: `${gateway.name}: ${message}`,
      error,
      fields: { epoch: gateway.epoch, version: gateway.version, transport: "websocket" },
      flushMs: 200,
    });
  };

  // Listen first: a server that cannot bind must not replace (then remove) the token file
  // of a server already running with the same state folder.
  let address: ListeningAddress;
  try {
    address = await server.listen();
  } catch (error) {
    const host = options.hostname ?? "127.0.0.1";
    return await fail(
      "listen-failed",
      `Cannot listen on ${host}:${options.port ?? 0}: ${(error as Error).message}`,
      error,
    );
  }
  // The default path is claimed: a second server on the same state folder writes its own file.
  const claim = generated && options.tokenFile === undefined
    ? await claimTokenFile(stateDir)
    : undefined;
  const tokenFile = generated ? (options.tokenFile ?? claim!.path) : undefined;
  if (tokenFile !== undefined) {
    try {
      await writeTokenFile(tokenFile, server.token);
    } catch (error) {
      await server.close({ timeoutMs: 200 });
      await claim?.release();
      return await fail(
        "token-file-failed",
        `Cannot write the token file ${tokenFile}: ${(error as Error).message}`,
        error,
      );
    }
  }

  const announcement: ServeAnnouncement = {
    listening: address,
    url: address.url,
    port: address.port,
    tokenFile: tokenFile ?? null,
    pid: Deno.pid,
    epoch: gateway.epoch,
  };
  const line = JSON.stringify(announcement) + "\n";
  // Before the lifecycle starts: a signal caught during start-up then shuts down right after,
  // and its drain step removes this file (it must not outlive the server). A launcher waits for
  // this file, so a server that cannot write it must not go on serving unannounced.
  if (options.readyFile !== undefined) {
    try {
      await writePrivateFile(options.readyFile, line);
    } catch (error) {
      await server.close({ timeoutMs: 200 });
      if (tokenFile !== undefined) await removeIfOwned(tokenFile, server.token + "\n");
      await claim?.release();
      return await fail(
        "ready-file-failed",
        `Cannot write the ready file ${options.readyFile}: ${(error as Error).message}`,
        error,
      );
    }
  }

  const lifecycle = new ProcessLifecycle(new ExitLedger(crashLog), {
    graceMs,
    stderr,
    exitOnSigint: options.exitOnSigint ?? stdinIsTerminal(),
    earlySignals: options.earlySignals,
    watchdog: options.watchdog,
    parentCheckMs: options.exitWithParent === true ? 500 : 0,
    inflight: () => gateway.dispatcher.stats().inflight,
    meta: { epoch: gateway.epoch, version: gateway.version, transport: "websocket" },
  });
  lifecycle.onDrain(async () => {
    await server.close({
      code: 1001,
      reason: "Gateway shutting down",
      timeoutMs: Math.max(0, graceMs * 0.8 - 50),
      idle: () => gateway.dispatcher.idle(),
    });
    await Promise.all([
      tokenFile === undefined
        ? undefined
        : removeIfOwned(tokenFile, server.token + "\n").then(() => claim?.release()),
      options.readyFile === undefined ? undefined : removeIfOwned(options.readyFile, undefined),
    ]);
  });
  gateway.onShutdownRequest((reason) => lifecycle.shutdown(reason));
  gateway.addInfo("websocket", () => server.stats());
  options.setup?.(lifecycle, server);

  lifecycle.start();
  if (lifecycle.state !== LifecycleState.Running) return await lifecycle.exited;
  if (options.announce ?? true) {
    if (!(await withTimeout(writeAll(Deno.stdout, line), 1000, false))) {
      logger.warn("Could not announce the listening address on stdout");
    }
  }
  logger.info("Serving WebSocket on {url} (token {source})", {
    url: address.url,
    source: tokenFile === undefined ? "given" : `in ${tokenFile}`,
  });
  lifecycle.startBackground();
  return await lifecycle.exited;
}
