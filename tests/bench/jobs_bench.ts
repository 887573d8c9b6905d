/**
 * Jobs benchmark (issue 7), not a test. For a command that writes to stdout
 * as fast as it can (`yes` by default):
 *
 * 1. Throughput delivered to a client reading at full speed: the command run
 *    directly (the client reads its pipe) versus through the gateway (the
 *    client reads `job.output` frames from the gateway's stdout and decodes
 *    them). Also `gateway.ping` round trips sent every 50 ms meanwhile.
 * 2. The gateway's RSS while the client stops reading for a while, versus
 *    the command run directly with a stalled reader; then how soon a ping
 *    sent during the stall is answered once the client reads again.
 *
 *   deno run -A tests/bench/jobs_bench.ts [--seconds 3] [--stall-ms 3000] [--cmd yes] [--arg ARG]...
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "3" },
    "stall-ms": { type: "string", default: "3000" },
    cmd: { type: "string", default: "yes" },
    arg: { type: "string", multiple: true, default: [] },
  },
});
const SECONDS = Number(values.seconds);
const STALL_MS = Number(values["stall-ms"]);
const CMD = values.cmd!;
const ARGS = values.arg as string[];
const ROOT = new URL("../../", import.meta.url).pathname;
const encoder = new TextEncoder();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function rssKiB(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  } catch {
    return 0;
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** The command run directly: bytes per second read by a full-speed reader. */
async function directThroughput(): Promise<number> {
  const child = new Deno.Command(CMD, { args: ARGS, stdout: "piped", stderr: "null" }).spawn();
  const reader = child.stdout.getReader();
  let bytes = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    const { value, done } = await reader.read();
    if (done) break;
    bytes += value.length;
  }
  const elapsed = (performance.now() - start) / 1000;
  child.kill("SIGKILL");
  await reader.cancel();
  await child.status;
  return bytes / elapsed;
}

/** The command run directly with a reader that never reads: RSS of the command. */
async function directStallRss(): Promise<number> {
  const child = new Deno.Command(CMD, { args: ARGS, stdout: "piped", stderr: "null" }).spawn();
  let peak = 0;
  const end = performance.now() + STALL_MS;
  while (performance.now() < end) {
    peak = Math.max(peak, await rssKiB(child.pid));
    await sleep(100);
  }
  child.kill("SIGKILL");
  await child.stdout.cancel();
  await child.status;
  return peak;
}

// deno-lint-ignore no-explicit-any
type Frame = any;

/** A gateway process and a line-by-line reader of its stdout that can be paused. */
class Gateway {
  readonly child: Deno.ChildProcess;
  readonly dir = Deno.makeTempDirSync({ prefix: "tuigate-jobs-bench-" });
  payloadBytes = 0;
  outputFrames = 0;
  dropped = 0;
  paused = false;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #waiters = new Map<number, (frame: Frame) => void>();
  #nextId = 1;
  #resume: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor() {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "-A", `${ROOT}main.ts`, "--state", "memory"],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
      env: { TUIGATE_CRASH_LOG: `${this.dir}/exits.jsonl`, TUIGATE_STATE_DIR: this.dir },
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.done = this.#read();
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    let pending = "";
    let scanned = 0;
    for await (const chunk of this.child.stdout) {
      if (this.paused) await new Promise<void>((resolve) => (this.#resume = resolve));
      const text = decoder.decode(chunk, { stream: true });
      // Only the new text can hold the end of the pending line.
      if (text.indexOf("\n") === -1) {
        pending += text;
        continue;
      }
      pending += text;
      let start = 0;
      let newline;
      let from = scanned;
      scanned = 0;
      while ((newline = pending.indexOf("\n", from)) !== -1) {
        from = newline + 1;
        const frame = JSON.parse(pending.slice(start, newline));
        start = newline + 1;
        if (frame.method === "job.output") {
          this.outputFrames++;
          const p = frame.params;
          this.payloadBytes += typeof p.text === "string"
            ? encoder.encode(p.text).length
            : Math.floor(p.base64.length * 3 / 4);
          this.dropped += p.dropped ?? 0;
        } else if (typeof frame.id === "number") {
          this.#waiters.get(frame.id)?.(frame);
          this.#waiters.delete(frame.id);
        }
      }
      pending = pending.slice(start);
      scanned = pending.length;
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.#resume?.();
    this.#resume = undefined;
  }

  async request(method: string, params?: unknown): Promise<Frame> {
    const id = this.#nextId++;
    const answer = new Promise<Frame>((resolve) => this.#waiters.set(id, resolve));
    await this.#writer.write(
      encoder.encode(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n"),
    );
    return await answer;
  }

  async close(): Promise<void> {
    this.resume();
    await this.#writer.close().catch(() => {});
    const exited = await Promise.race([this.child.status.then(() => true), sleep(5000)]);
    if (!exited) this.child.kill("SIGKILL");
    await this.child.status;
    await this.done.catch(() => {});
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Through the gateway: payload bytes per second delivered, and ping round trips meanwhile. */
async function gatewayThroughput(): Promise<{ rate: number; pings: number[]; dropped: number }> {
  const gw = new Gateway();
  await gw.request("gateway.ping");
  const started = await gw.request("job.start", { cmd: CMD, args: ARGS });
  while (gw.payloadBytes === 0) await sleep(1);
  const startBytes = gw.payloadBytes;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  const pings: number[] = [];
  while (performance.now() < end) {
    const sent = performance.now();
    await gw.request("gateway.ping");
    pings.push(performance.now() - sent);
    await sleep(50);
  }
  const elapsed = (performance.now() - start) / 1000;
  const rate = (gw.payloadBytes - startBytes) / elapsed;
  await gw.request("job.cancel", { job: started.result.job });
  const dropped = gw.dropped;
  await gw.close();
  return { rate, pings: pings.sort((a, b) => a - b), dropped };
}

/** Through the gateway with the client stalled: idle and peak RSS, and the ping answer time after resuming. */
async function gatewayStall(): Promise<{ idle: number; peak: number; pingAfterResumeMs: number }> {
  const gw = new Gateway();
  await gw.request("gateway.ping");
  await sleep(300);
  const idle = await rssKiB(gw.child.pid);
  const started = await gw.request("job.start", { cmd: CMD, args: ARGS });
  while (gw.payloadBytes === 0) await sleep(1);
  gw.pause();
  let peak = idle;
  const pinged = gw.request("gateway.ping");
  const end = performance.now() + STALL_MS;
  while (performance.now() < end) {
    peak = Math.max(peak, await rssKiB(gw.child.pid));
    await sleep(50);
  }
  const resumed = performance.now();
  gw.resume();
  await pinged;
  const pingAfterResumeMs = performance.now() - resumed;
  await gw.request("job.cancel", { job: started.result.job });
  await gw.close();
  return { idle, peak, pingAfterResumeMs };
}

const MB = 1e6;
const direct = await directThroughput();
const viaGateway = await gatewayThroughput();
const directRss = await directStallRss();
const stall = await gatewayStall();

const rows: [string, string, string, string][] = [
  [
    "Throughput to a full-speed reader (MB/s)",
    (direct / MB).toFixed(1),
    (viaGateway.rate / MB).toFixed(1),
    (viaGateway.rate / direct).toFixed(3),
  ],
  [
    `RSS while the reader stalls ${STALL_MS} ms (MiB)`,
    `${(directRss / 1024).toFixed(1)} (command)`,
    `${(stall.peak / 1024).toFixed(1)} (gateway; idle ${(stall.idle / 1024).toFixed(1)})`,
    (stall.peak / directRss).toFixed(1),
  ],
  [
    "gateway.ping RTT while the job runs, p50 / p99 / max (ms)",
    "-",
    `${percentile(viaGateway.pings, 0.5).toFixed(1)} / ${
      percentile(viaGateway.pings, 0.99).toFixed(1)
    } / ${viaGateway.pings.at(-1)!.toFixed(1)} (n=${viaGateway.pings.length})`,
    "-",
  ],
  [
    "Ping sent during the stall, answered after resuming (ms)",
    "-",
    stall.pingAfterResumeMs.toFixed(1),
    "-",
  ],
  ["Deltas dropped for the full-speed reader", "-", String(viaGateway.dropped), "-"],
];
const header: [string, string, string, string] = [
  `${truncate([CMD, ...ARGS].join(" "), 40)} (${SECONDS} s)`,
  "direct",
  "via tuigate",
  "ratio",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
const out = [
  line(header),
  `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
  ...rows.map(line),
].join("\n");
await Deno.stdout.write(encoder.encode(out + "\n"));
