/**
 * Slow-reader benchmark with delta frames (issue 3): the client stops
 * reading for 3 s while one million 64-byte deltas are offered (with a
 * control `mark` every 10,000); a `gateway.ping` is sent during the stall.
 * Prints peak RSS above idle, how soon the ping is answered once the client
 * reads again, and whether every control frame arrived, in order.
 *
 *   deno run -A tests/bench/slow_reader_bench.ts [--count 1000000] [--stall-ms 3000]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startFlags } from "./_start_flags.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    count: { type: "string", default: "1000000" },
    "stall-ms": { type: "string", default: "3000" },
    "shared-text": { type: "boolean", default: false },
  },
});
const COUNT = Number(values.count);
const STALL_MS = Number(values["stall-ms"]);
const MARK_EVERY = 10_000;
const here = new URL(".", import.meta.url).pathname;

async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "--quiet", ...startFlags(), `${here}bench_gateway.ts`],
  stdin: "piped",
  stdout: "piped",
  stderr: "null",
  env: { TUIGATE_CRASH_LOG: `${Deno.makeTempDirSync()}/exits.jsonl` },
}).spawn();
const writer = child.stdin.getWriter();
const encoder = new TextEncoder();
const send = (m: unknown) => writer.write(encoder.encode(JSON.stringify(m) + "\n"));
const reader = child.stdout.getReader();
const decoder = new TextDecoder();
let pending = "";
// deno-lint-ignore no-explicit-any
async function nextFrames(): Promise<any[] | null> {
  const { value, done } = await reader.read();
  if (done) return null;
  pending += decoder.decode(value, { stream: true });
  const lines = pending.split("\n");
  pending = lines.pop()!;
  return lines.filter((l) => l !== "").map((l) => JSON.parse(l));
}

// Warm up and take the idle RSS.
await send({ jsonrpc: "2.0", id: 1, method: "echo", params: { i: 0 } });
while (!(await nextFrames())?.some((f) => f.id === 1));
await new Promise((r) => setTimeout(r, 200));
const idle = await rssKiB(child.pid);

// Stall: stop reading, offer the deltas, ping during the stall.
await send({
  jsonrpc: "2.0",
  id: 2,
  method: "deltas",
  params: { count: COUNT, size: 64, markEvery: MARK_EVERY, distinct: !values["shared-text"] },
});
let peak = idle;
const sampler = setInterval(async () => {
  try {
    peak = Math.max(peak, await rssKiB(child.pid));
  } catch { /* exited */ }
}, 100);
await new Promise((r) => setTimeout(r, STALL_MS / 2));
await send({ jsonrpc: "2.0", id: 3, method: "echo", params: { ping: true } });
await new Promise((r) => setTimeout(r, STALL_MS / 2));
peak = Math.max(peak, await rssKiB(child.pid));
clearInterval(sampler);

// Resume reading.
const resumed = performance.now();
let pingMs: number | undefined;
let doneMs: number | undefined;
const marks: number[] = [];
let deltaFrames = 0;
let deltaBytes = 0;
let dropped = 0;
while (doneMs === undefined) {
  const frames = await nextFrames();
  if (frames === null) break;
  for (const f of frames) {
    if (f.id === 3) pingMs = performance.now() - resumed;
    else if (f.id === 2) doneMs = performance.now() - resumed;
    else if (f.method === "mark") marks.push(f.params.i);
    else if (f.method === "stream.delta") {
      deltaFrames++;
      deltaBytes += f.params.text.length;
      dropped += f.params.dropped ?? 0;
    }
  }
}
const expectedMarks = Array.from(
  { length: Math.floor(COUNT / MARK_EVERY) },
  (_, k) => (k + 1) * MARK_EVERY - 1,
);
const marksInOrder = JSON.stringify(marks) === JSON.stringify(expectedMarks);
await writer.close();
await child.status;

const delivered = deltaBytes / 64;
const rows = [
  ["deltas offered", COUNT.toLocaleString("en")],
  ["stall", `${STALL_MS} ms`],
  ["idle RSS", `${(idle / 1024).toFixed(1)} MiB`],
  ["peak RSS during stall", `${(peak / 1024).toFixed(1)} MiB`],
  ["peak above idle (target < 64 MiB)", `${((peak - idle) / 1024).toFixed(1)} MiB`],
  ["ping answered after resume", pingMs === undefined ? "NOT ANSWERED" : `${pingMs.toFixed(1)} ms`],
  [
    "flood answered after resume",
    doneMs === undefined ? "NOT ANSWERED" : `${doneMs.toFixed(1)} ms`,
  ],
  [
    "control marks in order, none missing",
    `${marksInOrder} (${marks.length}/${expectedMarks.length})`,
  ],
  ["delta frames delivered", deltaFrames.toLocaleString("en")],
  [
    "deltas delivered (merged) + dropped",
    `${delivered.toLocaleString("en")} + ${dropped.toLocaleString("en")} = ${
      (delivered + dropped).toLocaleString("en")
    }`,
  ],
];
const width = Math.max(...rows.map((r) => r[0].length));
await Deno.stdout.write(encoder.encode(
  "\nslow reader with deltas\n" + rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n") +
    "\n",
));
