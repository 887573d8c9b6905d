/**
 * The watchdog worker. It runs on its own thread, so it still runs when the
 * main isolate is stuck. When SIGTERM or SIGHUP arrives (or the main isolate
 * says shutdown began) it starts its own clock; if the process is still alive
 * after the grace period plus a margin, it appends a ledger line and kills
 * the process (and any job process groups it was told about) with SIGKILL.
 *
 * @module
 */

/// <reference lib="deno.worker" />

interface Config {
  graceMs: number;
  marginMs: number;
  ledgerPath: string;
  startedAt: number;
  epoch: string;
  version: string;
}

let config: Config | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let armedBy = "";
let signal: string | undefined;
let inflight: number | null = null;
const processGroups = new Set<number>();

function arm(reason: string): void {
  if (config === undefined || timer !== undefined) return;
  armedBy = reason;
  timer = setTimeout(() => void fire(), config.graceMs + config.marginMs);
}

async function fire(): Promise<void> {
  if (config === undefined) return;
  const entry = {
    event: "exit",
    time: new Date().toISOString(),
    pid: Deno.pid,
    reason: "watchdog",
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
  const line = new TextEncoder().encode("[tuigate-exit] watchdog\n");
  const say = Deno.stderr.write(line).catch(() => 0);
  await Promise.race([
    Promise.all([write, say]),
    new Promise((resolve) => setTimeout(resolve, 100)),
  ]);
  for (const group of processGroups) {
    try {
      Deno.kill(-group, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  Deno.kill(Deno.pid, "SIGKILL");
}

for (const name of ["SIGTERM", "SIGHUP"] as const) {
  try {
    Deno.addSignalListener(name, () => {
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
    | { type: "group"; pgid: number; alive: boolean };
  if (message.type === "config") config = message.config;
  else if (message.type === "arm") {
    signal ??= message.signal;
    inflight = message.inflight;
    arm(message.reason);
  } else if (message.type === "group") {
    if (message.alive) processGroups.add(message.pgid);
    else processGroups.delete(message.pgid);
  }
};
