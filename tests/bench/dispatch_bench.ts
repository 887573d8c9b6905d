/**
 * Benchmark (not a test): what one request costs the gateway without any
 * I/O. Batches of 256 `echo` requests (the shape of ../shared/bench's rpc
 * test) go through `Dispatcher.handleText` and the peer's output buffer,
 * whose frames are taken, encoded and released as a transport would; the
 * figure is nanoseconds per request, per round. `--size 1048576 --window 4
 * --requests 400` gives the large test's shape instead (1 MiB pads, four at
 * a time), where the cost is parsing, serialising and encoding the frames.
 *
 * Run with the start task's V8 flags to match the product, and add
 * `--trace-gc-nvp` to see what each young-generation collection copies
 * (V8 prints to stdout):
 *
 * ```sh
 * deno run -A --v8-flags=--min-semi-space-size=4,--max-semi-space-size=4,--heap-growing-percent=20 \
 *   tests/bench/dispatch_bench.ts [--requests 400000] [--rounds 7] [--size 64] [--window 256]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Gateway, Peer } from "../../src/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    requests: { type: "string", default: "400000" },
    rounds: { type: "string", default: "7" },
    size: { type: "string", default: "64" },
    window: { type: "string", default: "256" },
  },
});
const requests = Number(values.requests);
const rounds = Number(values.rounds);
const WINDOW = Number(values.window);
const SIZE = Number(values.size);
const encoder = new TextEncoder();
for (const [flag, value] of Object.entries({ requests, rounds, size: SIZE, window: WINDOW })) {
  if (!Number.isSafeInteger(value) || value < (flag === "size" ? 0 : 1)) {
    await Deno.stderr.write(
      encoder.encode(
        `Invalid --${flag}: expected a whole number, got ${values[flag as keyof typeof values]}\n`,
      ),
    );
    Deno.exit(2);
  }
}

/** Prints one line: a benchmark's stdout is its report (no console in this repository). */
async function print(text: string): Promise<void> {
  await Deno.stdout.write(encoder.encode(text + "\n"));
}

const gateway = new Gateway({ name: "dispatch-bench", announceReady: false });
gateway.register({ name: "echo", handler: (params) => params });
const peer = new Peer({ transport: "bench" });
gateway.open(peer);

const pad = "x".repeat(SIZE);
const texts: string[] = [];
for (let k = 0; k < WINDOW; k++) {
  texts.push(
    `{"jsonrpc":"2.0","id":${k + 1},"method":"echo","params":{"i":${k},"pad":"${pad}"}}`,
  );
}

let answered = 0;
let out = new Uint8Array(1024 * 1024);
/** Takes the answers and encodes each into one reused buffer, as the stdio transport does. */
function drain(): void {
  for (;;) {
    const batch = peer.output.take();
    if (batch === undefined) return;
    for (const frame of batch.frames) {
      if (out.length < frame.length + 1) out = new Uint8Array(frame.length * 2);
      encoder.encodeInto(frame, out);
    }
    answered += batch.frames.length;
    peer.output.release(batch.bytes);
  }
}

const perRound: number[] = [];
for (let round = 0; round < rounds; round++) {
  const started = performance.now();
  for (let sent = 0; sent < requests; sent += WINDOW) {
    for (let k = 0; k < WINDOW; k++) gateway.dispatcher.handleText(texts[k], peer);
    drain();
    // Let timers and the event loop run now and then, as they would between reads.
    if (sent % (32 * WINDOW) === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const ns = (performance.now() - started) * 1e6 / requests;
  perRound.push(ns);
  await print(`round ${round + 1}: ${ns.toFixed(0)} ns per request`);
}
const expected = rounds * Math.ceil(requests / WINDOW) * WINDOW;
if (answered !== expected) throw new Error(`Answered ${answered} of ${expected} requests`);
const sorted = perRound.slice(1).sort((a, b) => a - b);
await print(
  `median of rounds 2–${rounds}: ${
    sorted[Math.floor(sorted.length / 2)].toFixed(0)
  } ns per request`,
);
