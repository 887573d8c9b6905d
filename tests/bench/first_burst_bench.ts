/**
 * The first burst: how long the requests right after the first answer
 * wait. A TUI sends several requests as soon as it starts (attach a
 * session, list jobs); after its first answer the gateway starts its
 * watchdog worker, loads `node:net` for the stdio move and loads its
 * logger, and each of those holds the main thread for a while.
 *
 *   deno run -A tests/bench/first_burst_bench.ts [--spawns 10] [--requests 50]
 *
 * Each spawn runs the benchmark gateway with the start task's flags, waits
 * for the answer to one echo, then sends echoes one at a time. Prints, per
 * stdio path (`TUIGATE_STDIO_IO`), the median over spawns of the slowest
 * round trip after the first and of their total.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startFlags } from "./_start_flags.ts";

const { values } = parseArgs({
  options: {
    spawns: { type: "string", default: "10" },
    requests: { type: "string", default: "50" },
  },
});
const spawns = Number(values.spawns);
const requests = Number(values.requests);
const gateway = new URL("./bench_gateway.ts", import.meta.url).pathname;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Round trips in ms: the first request's, then each later one's. */
async function burst(io: string): Promise<number[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...startFlags(), gateway],
    env: { TUIGATE_STDIO_IO: io, TUIGATE_CRASH_LOG: "/dev/null" },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  let text = "";
  const times: number[] = [];
  for (let id = 0; id <= requests; id++) {
    const since = performance.now();
    await writer.write(
      encoder.encode(`{"jsonrpc":"2.0","id":${id},"method":"echo","params":[]}\n`),
    );
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("The gateway closed stdout");
      text += decoder.decode(value, { stream: true });
    }
    text = text.slice(text.indexOf("\n") + 1);
    times.push(performance.now() - since);
  }
  await writer.close();
  reader.releaseLock();
  await child.stdout.cancel();
  await child.status;
  return times;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const lines = [
  `first burst: ${spawns} spawns, ${requests} sequential echoes after the first answer`,
];
const rows: Record<string, { max: number[]; total: number[] }> = {
  auto: { max: [], total: [] },
  deno: { max: [], total: [] },
};
for (let i = 0; i < spawns; i++) {
  for (const io of ["auto", "deno"]) {
    const later = (await burst(io)).slice(1);
    rows[io].max.push(Math.max(...later));
    rows[io].total.push(later.reduce((a, b) => a + b, 0));
  }
}
for (const [io, row] of Object.entries(rows)) {
  lines.push(
    `  --stdio-io ${io.padEnd(5)} slowest ${median(row.max).toFixed(1)} ms, all ${
      median(row.total).toFixed(1)
    } ms (medians)`,
  );
}
await Deno.stdout.write(encoder.encode(lines.join("\n") + "\n"));
