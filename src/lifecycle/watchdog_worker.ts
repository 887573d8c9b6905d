/**
 * The watchdog worker. It runs on its own thread, so it still runs when the
 * main isolate is stuck. When SIGTERM or SIGHUP arrives (or the main isolate
 * says shutdown began) it starts its own clock; if the process is still alive
 * after the grace period plus a margin, it appends a ledger line and kills
 * the process (and any job process groups it was told about) with SIGKILL.
 *
 * It also watches the parent process when the main isolate does: if the
 * parent is gone and the main isolate has not said it is shutting down one
 * check period later, the main isolate is stuck, and the worker ends the
 * process after the margin (ledger reason `parent-exited`, `via: "watchdog"`).
 *
 * One exit writes one ledger line: the worker and the main isolate claim the
 * exit in a shared slot, and the worker leaves it to a main isolate that
 * claimed it first (killing the process only if it is still alive a while
 * later, without a line of its own).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { claimExit, EXIT_BY_MAIN, EXIT_BY_WATCHDOG } from "./_exit_owner.ts";
import { type ParentLink, ParentWatch } from "./_parent_watch.ts";

/** How long a main isolate that claimed the exit gets to finish it before the kill. */
const MAIN_EXIT_MARGIN_MS = 1000;

interface Config {
  /**
   * Shared with the main isolate: the first shutdown signal's arrival (BigInt64
   * at byte 0, ms since the epoch), which one (Int32 at byte 8: 1 SIGTERM,
   * 2 SIGHUP, 3 SIGINT) and who owns the exit (Int32 at byte 12).
   */
  signalAt?: SharedArrayBuffer;
  graceMs: number;
  marginMs: number;
  ledgerPath: string;
  startedAt: number;
  epoch: string;
  version: string;
  /** How often the main isolate checks its parent, in ms; 0 when it does not. */
  parentCheckMs?: number;
  /** The processes up to the TUI and their parents at start (see `_parent_watch.ts`). */
  parentLinks?: ParentLink[];
  /** Whether other processes' `/proc` entries can be read. */
  parentProc?: boolean;
  /** Whether SIGINT ends the gateway as SIGTERM does. */
  exitOnSigint?: boolean;
}

let config: Config | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let armedBy = "";
let signal: string | undefined;
let inflight: number | null = null;
let parentWatch: ParentWatch | undefined;
const processGroups = new Set<number>();

function arm(reason: string, delayMs?: number): void {
  if (config === undefined || timer !== undefined) return;
  armedBy = reason;
  timer = setTimeout(() => void fire(), delayMs ?? config.graceMs + config.marginMs);
}

/**
 * Polls the parent pid as the main isolate does. Once the parent is gone, the
 * main isolate has one of its check periods (plus a little) to say it is
 * shutting down, which arms the usual clock; if it has not, it is stuck.
 */
function watchParent(periodMs: number): void {
  const poll = setInterval(() => {
    if (parentWatch === undefined || !parentWatch.gone(Deno.ppid)) return;
    clearInterval(poll);
    const wait = setTimeout(() => arm("parent-exited", config?.marginMs ?? 250), periodMs + 250);
    Deno.unrefTimer(wait);
  }, Math.max(50, Math.floor(periodMs / 2)));
  Deno.unrefTimer(poll);
}

async function fire(): Promise<void> {
  if (config === undefined) return;
  if (config.signalAt !== undefined) {
    if (claimExit(config.signalAt, EXIT_BY_WATCHDOG) === EXIT_BY_MAIN) {
      // The main isolate is exiting and wrote its line: kill only if it never gets there.
      setTimeout(kill, MAIN_EXIT_MARGIN_MS);
      return;
    }
  }
  const parentExited = armedBy === "parent-exited";
  const entry = {
    event: "exit",
    time: new Date().toISOString(),
    pid: Deno.pid,
    // The main isolate was stuck: the worker ended the process for the reason it saw.
    reason: parentExited ? "parent-exited" : "watchdog",
    via: "watchdog",
    trigger: armedBy,
    signal,
    // As the main isolate last said (when it began shutting down); null if it never could.
    inflight,
    uptime: (Date.now() - config.startedAt) / 1000,
    uptimeMs: Date.now() - config.startedAt,
    graceMs: config.graceMs,
    epoch: config.epoch,
    version: config.version,
    exitSignal: "SIGKILL",
  };
  const write = Deno.writeTextFile(config.ledgerPath, JSON.stringify(entry) + "\n", {
    append: true,
    create: true,
  })
    .catch(() => {});
  const line = new TextEncoder().encode(`[tuigate-exit] ${entry.reason}\n`);
  const say = Deno.stderr.write(line).catch(() => 0);
  await Promise.race([
    Promise.all([write, say]),
    new Promise((resolve) => setTimeout(resolve, 100)),
  ]);
  kill();
}

/** Kills the job process groups, then the process. */
function kill(): void {
  for (const group of processGroups) {
    try {
      Deno.kill(-group, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  Deno.kill(Deno.pid, "SIGKILL");
}

const SIGNAL_CODES = { SIGTERM: 1, SIGHUP: 2, SIGINT: 3 } as const;

for (const name of ["SIGTERM", "SIGHUP", "SIGINT"] as const) {
  try {
    Deno.addSignalListener(name, () => {
      // SIGINT belongs to the TUI unless the gateway was told to exit on it.
      if (name === "SIGINT" && config?.exitOnSigint !== true) return;
      if (signal === undefined && config?.signalAt !== undefined) {
        // The main isolate may see the signal late: it counts its grace period from this, and
        // its long runs of work look at the second slot (1 SIGTERM, 2 SIGHUP) to start at once.
        Atomics.compareExchange(
          new BigInt64Array(config.signalAt, 0, 1),
          0,
          0n,
          BigInt(Date.now()),
        );
        Atomics.compareExchange(
          new Int32Array(config.signalAt, 8, 1),
          0,
          0,
          SIGNAL_CODES[name],
        );
      }
      signal ??= name;
      arm(name);
    });
  } catch {
    // Not supported on this platform.
  }
}

self.onmessage = (event: MessageEvent) => {
  const message = event.data as
    | { type: "config"; config: Config }
    | { type: "arm"; reason: string; signal?: string; inflight: number }
    | { type: "group"; pgid: number; alive: boolean }
    | { type: "parent"; links: ParentLink[]; proc: boolean };
  if (message.type === "config") {
    config = message.config;
    const { parentCheckMs = 0, parentLinks } = config;
    if (parentCheckMs > 0 && parentLinks !== undefined && parentLinks.length > 0) {
      parentWatch ??= new ParentWatch(parentLinks, config.parentProc);
      watchParent(parentCheckMs);
    }
  } else if (message.type === "parent") {
    // The main isolate found the TUI above launchers after the worker started.
    parentWatch = new ParentWatch(message.links, message.proc);
  } else if (message.type === "arm") {
    signal ??= message.signal;
    inflight = message.inflight;
    arm(message.reason);
  } else if (message.type === "group") {
    if (message.alive) processGroups.add(message.pgid);
    else processGroups.delete(message.pgid);
  }
};
