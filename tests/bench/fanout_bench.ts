/**
 * Benchmark (not a test): fan-out of one session's events to 1, 10 and 100
 * WebSocket viewers of a real `main.ts serve` process.
 *
 * One writer connection appends events to a session with `session.append`
 * (a window of requests in flight); every viewer connection has attached to
 * the session and receives each event as `session.event`. Each event
 * carries the time it was sent (this process's clock, shared by writer and
 * viewers), so delivery latency is measured from the append request to the
 * viewer's receipt of the notification.
 *
 * ```sh
 * deno run -A tests/bench/fanout_bench.ts                 # sqlite store
 * deno run -A tests/bench/fanout_bench.ts --state memory  # no persistence
 * deno run -A tests/bench/fanout_bench.ts --events 5000 --viewers 1,10,100 --window 64
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";

const ROOT = new URL("../../", import.meta.url).pathname;

interface Options {
  events: number;
  viewers: number[];
  window: number;
  state: string;
  size: number;
}

interface Result {
  viewers: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  deliveriesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  gatewayCpu: number;
  benchCpu: number;
}

/** CPU seconds used so far by a process (Linux /proc), or NaN elsewhere. */
async function cpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const EVENT_PREFIX = '{"jsonrpc":"2.0","method":"session.event"';
const SENT_AT = '"sentAt":';

class Client {
  readonly socket: WebSocket;
  #pending = new Map<number, (value: unknown) => void>();
  #nextId = 1;
  /** Called with the `sentAt` of every `session.event` (read without parsing the whole frame). */
  onEvent: ((sentAt: number) => void) | undefined;

  constructor(url: string, token: string) {
    this.socket = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
    this.socket.onmessage = (event) => {
      const text = String(event.data);
      if (text.startsWith(EVENT_PREFIX)) {
        const at = text.indexOf(SENT_AT);
        this.onEvent?.(parseFloat(text.slice(at + SENT_AT.length, at + SENT_AT.length + 24)));
        return;
      }
      const message = JSON.parse(text);
      if (message.id !== undefined) {
        const resolve = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        resolve?.(message);
      }
    };
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.onopen = () => resolve();
      this.socket.onerror = (event) => reject(new Error((event as ErrorEvent).message));
    });
  }

  // deno-lint-ignore no-explicit-any
  request(method: string, params: unknown): Promise<any> {
    const id = this.#nextId++;
    const answer = new Promise((resolve) => this.#pending.set(id, resolve));
    this.socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    return answer;
  }

  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.socket.onclose = () => resolve()));
    this.socket.close();
    return closed;
  }
}

async function startServer(
  state: string,
): Promise<{ child: Deno.ChildProcess; url: string; token: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-fanout-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}main.ts`,
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--state",
      state,
      "--log-level",
      "error",
    ],
    env: { TUIGATE_STATE_DIR: `${dir}/state`, TUIGATE_CRASH_LOG: `${dir}/exits.jsonl` },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("The server exited before announcing its address");
    text += value;
  }
  reader.releaseLock();
  const announcement = JSON.parse(text.split("\n")[0]);
  const token = (await Deno.readTextFile(announcement.tokenFile)).trim();
  return { child, url: announcement.listening.url, token, dir };
}

async function run(
  server: { url: string; token: string; child: Deno.ChildProcess },
  viewerCount: number,
  options: Options,
): Promise<Result> {
  const { url, token } = server;
  const writer = new Client(url, token);
  await writer.opened();
  const created = await writer.request("session.create", { title: `fanout-${viewerCount}` });
  const session = created.result.id;
  const viewers = Array.from({ length: viewerCount }, () => new Client(url, token));
  await Promise.all(viewers.map((v) => v.opened()));
  for (const viewer of viewers) await viewer.request("session.attach", { session });

  const total = options.events;
  const latencies = new Float64Array(total * viewerCount);
  let deliveries = 0;
  let lastArrival = 0;
  let done!: () => void;
  const allDelivered = new Promise<void>((resolve) => (done = resolve));
  const padding = "p".repeat(options.size);
  for (const viewer of viewers) {
    viewer.onEvent = (sentAt) => {
      const now = performance.now();
      latencies[deliveries++] = now - sentAt;
      lastArrival = now;
      if (deliveries === total * viewerCount) done();
    };
  }

  const cpuBefore = await cpuSeconds(server.child.pid);
  const benchBefore = await cpuSeconds(Deno.pid);
  const started = performance.now();
  let sent = 0;
  const lane = async () => {
    while (sent < total) {
      const n = sent++;
      await writer.request("session.append", {
        session,
        type: "bench",
        data: { n, sentAt: performance.now(), padding },
      });
    }
  };
  await Promise.all(Array.from({ length: options.window }, lane));
  await allDelivered;
  const seconds = (lastArrival - started) / 1000;
  const gatewayCpu = ((await cpuSeconds(server.child.pid)) - cpuBefore) / seconds;
  const benchCpu = ((await cpuSeconds(Deno.pid)) - benchBefore) / seconds;
  latencies.sort();
  await Promise.all([writer, ...viewers].map((c) => c.close()));
  return {
    viewers: viewerCount,
    events: total,
    seconds,
    eventsPerSecond: total / seconds,
    deliveriesPerSecond: (total * viewerCount) / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies[latencies.length - 1],
    gatewayCpu,
    benchCpu,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      events: { type: "string", default: "3000" },
      viewers: { type: "string", default: "1,10,100" },
      window: { type: "string", default: "32" },
      state: { type: "string", default: "sqlite" },
      size: { type: "string", default: "64" },
    },
  });
  const options: Options = {
    events: Number(values.events),
    viewers: values.viewers.split(",").map(Number),
    window: Number(values.window),
    state: values.state,
    size: Number(values.size),
  };
  const server = await startServer(options.state);
  const out = (line: string) => Deno.stdout.write(new TextEncoder().encode(line + "\n"));
  try {
    // Warm-up: JIT, SQLite pages, socket buffers.
    await run(server, 2, { ...options, events: 500 });
    await out(
      `fan-out of one session (${options.state} store, ${options.events} events of ~${options.size} B, window ${options.window})`,
    );
    const row = (cells: (string | number)[]) => out(`| ${cells.join(" | ")} |`);
    await row([
      "viewers",
      "events/s",
      "deliveries/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "gateway CPU",
      "bench CPU",
    ]);
    await row(["--:", "--:", "--:", "--:", "--:", "--:", "--:", "--:"]);
    for (const viewers of options.viewers) {
      const r = await run(server, viewers, options);
      await row([
        r.viewers,
        Math.round(r.eventsPerSecond),
        Math.round(r.deliveriesPerSecond),
        r.p50Ms.toFixed(1),
        r.p99Ms.toFixed(1),
        r.maxMs.toFixed(1),
        `${Math.round(r.gatewayCpu * 100)} %`,
        `${Math.round(r.benchCpu * 100)} %`,
      ]);
    }
  } finally {
    server.child.kill("SIGTERM");
    await server.child.status;
    await server.child.stdout.cancel().catch(() => {});
    await Deno.remove(server.dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await main();
