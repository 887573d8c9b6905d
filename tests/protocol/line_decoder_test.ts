import assert from "node:assert/strict";
import type { FrameEvent } from "../../src/protocol/frame_decoder.ts";
import { LineDecoder } from "../../src/protocol/line_decoder.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function feed(
  lineDecoder: LineDecoder,
  chunks: (string | Uint8Array)[],
): (string | { oversize: number })[] {
  const out: (string | { oversize: number })[] = [];
  const emit = (event: FrameEvent) => {
    out.push(event.kind === "frame" ? decoder.decode(event.bytes) : { oversize: event.bytes });
  };
  for (const chunk of chunks) {
    lineDecoder.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk, emit);
  }
  return out;
}

Deno.test("LineDecoder splits frames, strips \\r and skips blank lines", () => {
  assert.deepEqual(feed(new LineDecoder(), ['{"a":1}\n\n  \r\n{"b":2}\r\n{"c"', ":3}\n"]), [
    '{"a":1}',
    '{"b":2}',
    '{"c":3}',
  ]);
});

Deno.test("LineDecoder joins a frame split over many chunks and reports pending bytes", () => {
  const lineDecoder = new LineDecoder();
  const text = '{"jsonrpc":"2.0","id":1,"method":"x"}';
  const out = feed(lineDecoder, text.split(""));
  assert.deepEqual(out, []);
  assert.equal(lineDecoder.pendingBytes, text.length);
  assert.deepEqual(feed(lineDecoder, ["\n"]), [text]);
  assert.equal(lineDecoder.pendingBytes, 0);
});

Deno.test("LineDecoder keeps a multi-byte character split between chunks intact", () => {
  const bytes = encoder.encode('{"t":"é€😀"}\n');
  const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
  assert.deepEqual(feed(new LineDecoder(), chunks), ['{"t":"é€😀"}']);
});

Deno.test("LineDecoder reports an oversize frame once, holds at most the limit, and resumes", () => {
  const lineDecoder = new LineDecoder({ maxFrameBytes: 10 });
  const out = feed(lineDecoder, ["0123456789AB", "CDEF", "GHIJ\nok\n"]);
  assert.deepEqual(out, [{ oversize: 20 }, "ok"]);
  assert.ok(lineDecoder.pendingBytes <= 11);
  assert.deepEqual(feed(new LineDecoder({ maxFrameBytes: 4 }), ["12345\n1234\n"]), [
    { oversize: 5 },
    "1234",
  ]);
});

Deno.test("LineDecoder reuses nothing of a caller's chunk after push returns", () => {
  const lineDecoder = new LineDecoder();
  const chunk = encoder.encode('{"a":');
  feed(lineDecoder, [chunk]);
  chunk.fill(0x20);
  assert.deepEqual(feed(lineDecoder, ["1}\n"]), ['{"a":1}']);
});

Deno.test("LineDecoder splits in linear time: 64 MiB of one-byte chunks would be quadratic", () => {
  // A 2 MiB frame fed in 4 KiB chunks: re-copying the buffer per chunk would copy ~512 MiB.
  const lineDecoder = new LineDecoder();
  const chunk = encoder.encode("x".repeat(4096));
  let frames = 0;
  const start = performance.now();
  for (let i = 0; i < 512; i++) lineDecoder.push(chunk, () => frames++);
  lineDecoder.push(encoder.encode("\n"), () => frames++);
  assert.equal(frames, 1);
  assert.ok(performance.now() - start < 2000);
});
