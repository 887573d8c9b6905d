/**
 * What the slowest hundredth of one-at-a-time round trips is made of. Like
 * the harness's rpc test: one echo, then pipelined echoes (window 256),
 * then sequential ones (W=1), whose round trips are recorded. For tuigate
 * the gateway is `_gc_probe_gateway.ts` (the benchmark gateway's `echo`
 * plus a record of young-generation collections), run with the start
 * task's flags, so each collection can be matched with the round trip it
 * delayed.
 *
 *   deno run -A tests/bench/latency_tail_bench.ts [--runs 3] [--compare]
 *
 * The servers' stdin and stdout are pipes here (`Deno.Command`); the
 * harness's Node client gives them socket pairs, on which every server's
 * round trips are shorter, so compare figures only within one run of this.
 *
 * `--compare` also measures the MCP SDK reference server of the harness
 * copy that `deno task bench` makes (`.bench/harness`). Prints per run: p50
 * and p99 of the W=1 round trips, p99 of those after the first 2,000, where
 * in the 10,000 the slowest hundredth lies (per tenth), and for tuigate the
 * collections during the W=1 phase, how many fell on one of the slowest
 * hundredth, and the median round trip they delayed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startFlags } from "./_start_flags.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    pipelined: { type: "string", default: "100000" },
    sequential: { type: "string", default: "10000" },
    compare: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const pipelined = Number(values.pipelined);
const sequential = Number(values.sequential);
const root = new URL("../../", import.meta.url).pathname;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const pad = "x".repeat(64);

function request(id: number | string, method = "echo"): string {
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"${method}","params":{"i":${
    typeof id === "number" ? id : 0
  },"pad":"${pad}"}}\n`;
}

/** Reads newline-ended frames from a child's stdout. */
class Frames {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunk: Uint8Array = new Uint8Array(0);
  #offset = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Waits for `count` more frames without decoding them. */
  async skip(count: number, onFrame: () => void): Promise<void> {
    for (let left = count; left > 0;) {
      const newline = this.#chunk.indexOf(0x0a, this.#offset);
      if (newline === -1) {
        await this.#fill();
        continue;
      }
      this.#offset = newline + 1;
      left--;
      onFrame();
    }
  }

  /** The next frame, decoded. */
  async next(): Promise<string> {
    let text = "";
    for (;;) {
      const newline = this.#chunk.indexOf(0x0a, this.#offset);
      if (newline !== -1) {
        text += decoder.decode(this.#chunk.subarray(this.#offset, newline));
        this.#offset = newline + 1;
        return text;
      }
      text += decoder.decode(this.#chunk.subarray(this.#offset), { stream: true });
      await this.#fill();
    }
  }

  async #fill(): Promise<void> {
    const { value, done } = await this.#reader.read();
    if (done) throw new Error("The server closed stdout");
    this.#chunk = value;
    this.#offset = 0;
  }

  release(): void {
    this.#reader.releaseLock();
  }
}

interface Run {
  latencies: Float64Array;
  drops?: [number, number][];
}

async function measure(cmd: string[], probe: boolean): Promise<Run> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: root,
    env: { TUIGATE_CRASH_LOG: "/dev/null", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const frames = new Frames(child.stdout);
  await writer.write(encoder.encode(request(0)));
  await frames.next();
  let sent = 0;
  let batch = "";
  while (sent < Math.min(256, pipelined)) batch += request(++sent);
  await writer.write(encoder.encode(batch));
  let refill = "";
  await frames.skip(pipelined, () => {
    if (sent < pipelined) refill += request(++sent);
    if (refill.length > 4096 || sent === pipelined) {
      // A failed write shows as the server closing stdout.
      if (refill !== "") writer.write(encoder.encode(refill)).catch(() => {});
      refill = "";
    }
  });
  const latencies = new Float64Array(sequential);
  for (let k = 0; k < sequential; k++) {
    const since = performance.now();
    await writer.write(encoder.encode(request(pipelined + 1 + k)));
    await frames.next();
    latencies[k] = (performance.now() - since) * 1000;
  }
  let drops: [number, number][] | undefined;
  if (probe) {
    await writer.write(encoder.encode(request("probe", "probe")));
    drops = JSON.parse(await frames.next()).result.drops;
  }
  frames.release();
  await writer.close();
  await child.status;
  return { latencies, drops };
}

function quantile(sorted: Float64Array | number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function say(line: string): Promise<void> {
  await Deno.stdout.write(encoder.encode(line + "\n"));
}

function report(label: string, run: Run): string {
  const sorted = run.latencies.slice().sort();
  const p99 = quantile(sorted, 0.99);
  const rest = run.latencies.slice(2000).sort();
  const slow = new Set<number>();
  run.latencies.forEach((value, k) => value >= p99 && slow.add(k));
  const tenths = new Array(10).fill(0);
  for (const k of slow) tenths[Math.floor((k * 10) / sequential)]++;
  let line = `${label.padEnd(8)} p50 ${quantile(sorted, 0.5).toFixed(0)} µs, p99 ${
    p99.toFixed(0)
  } µs, p99 after the first 2,000 ${
    quantile(rest, 0.99).toFixed(0)
  } µs; slowest hundredth per tenth ${tenths.join(",")}`;
  if (run.drops !== undefined) {
    // Echo index of the first W=1 request: one echo, then the pipelined ones.
    const first = pipelined + 1;
    const hits: number[] = [];
    let onSlow = 0;
    for (const [echo] of run.drops) {
      const k = echo - first;
      if (k < 0 || k >= sequential) continue;
      // The collection ran between echo k-1 and echo k: it delayed one of those round trips.
      const delayed = Math.max(run.latencies[k], k > 0 ? run.latencies[k - 1] : 0);
      hits.push(delayed);
      if (slow.has(k) || slow.has(k - 1)) onSlow++;
    }
    hits.sort((a, b) => a - b);
    line += `; ${hits.length} collections in the W=1 phase, ${onSlow} on a slowest-hundredth ` +
      `round trip; the round trips they delayed took ${
        hits.length > 0 ? quantile(hits, 0.5).toFixed(0) : "-"
      } µs (median)`;
  }
  return line;
}

const tuigate = [
  Deno.execPath(),
  "run",
  "--quiet",
  ...startFlags(),
  new URL("./_gc_probe_gateway.ts", import.meta.url).pathname,
];
const mcp = ["node", `${root}.bench/harness/servers/node_mcp_sdk.mjs`];
if (values.compare) {
  try {
    Deno.statSync(mcp[1]);
  } catch {
    await Deno.stderr.write(
      encoder.encode(`Cannot compare: ${mcp[1]} is missing (run deno task bench once first)\n`),
    );
    Deno.exit(2);
  }
}
await say(`${pipelined} pipelined echoes (W=256), then ${sequential} one at a time`);
for (let r = 0; r < runs; r++) {
  await say(report("tuigate", await measure(tuigate, true)));
  if (values.compare) await say(report("MCP SDK", await measure(mcp, false)));
}
