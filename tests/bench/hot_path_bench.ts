/**
 * Benchmark (not a test): the measurements behind four choices on the
 * request path, each printed as a figure.
 *
 * - `utf8`: decoding a 1 MiB frame with a `fatal` `TextDecoder` against
 *   {@linkcode decodeUtf8} (lenient, strict only when U+FFFD appears).
 * - `context`: `AsyncLocalStorage.run` with a fresh store per call, a
 *   constant store, and no call at all. Deno keeps the store reachable for a
 *   while, so a store that reaches a request's params makes them survive
 *   young-generation collections; run with `--v8-flags=--trace-gc` to see
 *   the mark-compacts.
 * - `record`: a `WeakMap` from a record to its call against a field on the
 *   record (the dispatcher's choice).
 * - `newline`: finding the end of a 1 MiB frame with
 *   `Uint8Array.prototype.indexOf` against {@linkcode indexOfNewline}
 *   (eight bytes at a time); framing searches every byte of a large frame.
 *
 * ```sh
 * deno run tests/bench/hot_path_bench.ts [--rounds 3000000]
 * ```
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { parseArgs } from "node:util";
import { decodeUtf8, indexOfNewline } from "../../src/protocol/bytes.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "3000000" } },
});
const rounds = Number(values.rounds);
const encoder = new TextEncoder();

async function say(text: string): Promise<void> {
  await Deno.stdout.write(encoder.encode(text + "\n"));
}

function time(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

// utf8
const frame = encoder.encode(
  JSON.stringify({ jsonrpc: "2.0", id: 1, method: "echo", params: { pad: "x".repeat(1 << 20) } }),
);
const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
for (let i = 0; i < 50; i++) fatal.decode(frame), decodeUtf8(frame);
const decodes = 300;
const fatalMs = time(() => {
  for (let i = 0; i < decodes; i++) fatal.decode(frame);
});
const ours = time(() => {
  for (let i = 0; i < decodes; i++) decodeUtf8(frame);
});
await say(
  `utf8     1 MiB frame: fatal TextDecoder ${(fatalMs / decodes).toFixed(3)} ms, decodeUtf8 ${
    (ours / decodes).toFixed(3)
  } ms`,
);

// context
const storage = new AsyncLocalStorage<object>();
let sink = 0;
const handler = () => sink++;
const constant = {};
const fresh = time(() => {
  for (let i = 0; i < rounds; i++) {
    storage.run({ i, params: new Array(8).fill(i), method: "m" + i }, handler);
  }
});
const same = time(() => {
  for (let i = 0; i < rounds; i++) {
    const params = { i, params: new Array(8).fill(i), method: "m" + i };
    storage.run(params.i >= 0 ? constant : params, handler);
  }
});
const none = time(() => {
  for (let i = 0; i < rounds; i++) {
    const params = { i, params: new Array(8).fill(i), method: "m" + i };
    if (params.i >= 0) handler();
  }
});
await say(
  `context  ${rounds} calls: run(fresh store) ${fresh.toFixed(0)} ms, run(constant store) ${
    same.toFixed(0)
  } ms, no run ${none.toFixed(0)} ms`,
);

// record
class Call {
  constructor(readonly params: unknown) {}
}
class WithField {
  call: Call | undefined = undefined;
}
const weak = new WeakMap<object, Call>();
const viaWeakMap = time(() => {
  for (let i = 0; i < rounds; i++) {
    const record = {};
    weak.set(record, new Call([i]));
    if (weak.get(record) === undefined) break;
  }
});
const viaField = time(() => {
  for (let i = 0; i < rounds; i++) {
    const record = new WithField();
    record.call = new Call([i]);
    if (record.call === undefined) break;
  }
});
await say(
  `record   ${rounds} records: WeakMap ${viaWeakMap.toFixed(0)} ms, field ${
    viaField.toFixed(0)
  } ms`,
);
// newline
const body = frame.subarray(0, frame.length - 1);
for (let i = 0; i < 50; i++) sink += body.indexOf(0x0a) + indexOfNewline(body);
const scans = 600;
const nativeMs = time(() => {
  for (let i = 0; i < scans; i++) sink += body.indexOf(0x0a);
});
const wordwiseMs = time(() => {
  for (let i = 0; i < scans; i++) sink += indexOfNewline(body);
});
await say(
  `newline  1 MiB frame: indexOf ${(nativeMs / scans).toFixed(3)} ms, indexOfNewline ${
    (wordwiseMs / scans).toFixed(3)
  } ms`,
);
if (sink < -1e15) await say("unreachable");
