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

function readInto(lineDecoder: LineDecoder, text: string, out: string[], minBytes?: number): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) {
    const space = lineDecoder.space(minBytes);
    const count = Math.min(space.length, bytes.length - offset);
    space.set(bytes.subarray(offset, offset + count));
    offset += count;
    lineDecoder.commit(count, (event) => {
      out.push(event.kind === "frame" ? decoder.decode(event.bytes) : `oversize ${event.bytes}`);
    });
  }
}

Deno.test("LineDecoder takes input read straight into its buffer with space() and commit()", () => {
  const lineDecoder = new LineDecoder();
  const out: string[] = [];
  readInto(lineDecoder, '{"a":1}\n{"b"', out);
  assert.deepEqual(out, ['{"a":1}']);
  assert.equal(lineDecoder.pendingBytes, 4);
  assert.equal(lineDecoder.idle, false);
  readInto(lineDecoder, ":2}\r\n\n", out);
  assert.deepEqual(out, ['{"a":1}', '{"b":2}']);
  assert.equal(lineDecoder.idle, true);
});

Deno.test("LineDecoder drops the lines a caller handled itself on commit", () => {
  const lineDecoder = new LineDecoder();
  const bytes = encoder.encode('{"a":1}\n{"b":2}\n{"c"');
  const space = lineDecoder.space();
  space.set(bytes);
  const out: string[] = [];
  // The caller handled the first two lines (16 bytes, through the second newline).
  lineDecoder.commit(bytes.length, (event) => {
    if (event.kind === "frame") out.push(decoder.decode(event.bytes));
  }, 16);
  assert.deepEqual(out, []);
  assert.equal(lineDecoder.pendingBytes, 4);
  readInto(lineDecoder, ":3}\n", out);
  assert.deepEqual(out, ['{"c":3}']);
});

Deno.test("LineDecoder grows its buffer for a long frame and shrinks it back afterwards", () => {
  const lineDecoder = new LineDecoder();
  const out: string[] = [];
  const long = "x".repeat(3 * 1024 * 1024);
  readInto(lineDecoder, long + "\n", out, 64 * 1024);
  assert.equal(out.length, 1);
  assert.equal(out[0], long);
  const grown = lineDecoder.capacity;
  assert.ok(grown >= long.length, `capacity ${grown}`);
  for (let i = 0; i < 80; i++) readInto(lineDecoder, `{"i":${i}}\n`, out);
  assert.equal(out.length, 81);
  assert.equal(out[80], '{"i":79}');
  assert.ok(lineDecoder.capacity < grown, `capacity ${lineDecoder.capacity} after short frames`);
});

Deno.test("LineDecoder never grows past the limit plus one read for an oversize frame, and then shrinks", () => {
  const limit = 1024 * 1024;
  const lineDecoder = new LineDecoder({ maxFrameBytes: limit });
  const out: string[] = [];
  let largest = 0;
  const bytes = encoder.encode("y".repeat(10 * limit));
  for (let offset = 0; offset < bytes.length;) {
    const space = lineDecoder.space(64 * 1024);
    largest = Math.max(largest, lineDecoder.capacity);
    const count = Math.min(space.length, bytes.length - offset);
    space.set(bytes.subarray(offset, offset + count));
    offset += count;
    lineDecoder.commit(count, () => out.push("unexpected"));
  }
  assert.ok(largest <= limit + 1 + 64 * 1024, `capacity reached ${largest}`);
  // Once the frame is known to be oversize, the grown buffer is let go.
  assert.ok(lineDecoder.capacity <= 256 * 1024, `capacity ${lineDecoder.capacity}`);
  assert.equal(lineDecoder.pendingBytes, 0);
  readInto(lineDecoder, "\nok\n", out);
  assert.deepEqual(out, [`oversize ${10 * limit}`, "ok"]);
});

Deno.test("LineDecoder frame bytes are views of its buffer, valid while emit runs", () => {
  const lineDecoder = new LineDecoder();
  const kept: Uint8Array[] = [];
  const decoded: string[] = [];
  lineDecoder.push(encoder.encode('{"a":1}\n'), (event) => {
    if (event.kind !== "frame") return;
    kept.push(event.bytes);
    decoded.push(decoder.decode(event.bytes));
  });
  lineDecoder.push(encoder.encode('{"b":2}\n'), () => {});
  assert.deepEqual(decoded, ['{"a":1}']);
  // The same region now holds the next frame: a consumer must copy to keep bytes.
  assert.equal(decoder.decode(kept[0]), '{"b":2}');
});

Deno.test("LineDecoder.pushUntilNewline takes a chunk up to its first newline and completes the held frame", () => {
  const lineDecoder = new LineDecoder({ maxFrameBytes: 1 << 20 });
  const out: string[] = [];
  const emit = (event: FrameEvent) => {
    if (event.kind === "frame") out.push(decoder.decode(event.bytes));
  };
  // A 600 KB frame over three chunks (each larger than the decoder's base buffer), then two more lines.
  const pad = "x".repeat(600_000);
  const bytes = encoder.encode(`{"pad":"${pad}"}\r\n{"a":1}\n{"b":2}\n`);
  const first = bytes.subarray(0, 300_000);
  const second = bytes.subarray(300_000, 590_000);
  const third = bytes.subarray(590_000);
  assert.equal(lineDecoder.pushUntilNewline(first, emit), first.length);
  assert.equal(lineDecoder.pushUntilNewline(second, emit), second.length);
  assert.deepEqual(out, []);
  assert.equal(lineDecoder.pendingBytes, 590_000);
  const taken = lineDecoder.pushUntilNewline(third, emit);
  assert.equal(decoder.decode(third.subarray(taken)), '{"a":1}\n{"b":2}\n');
  assert.deepEqual(out, [`{"pad":"${pad}"}`]);
  assert.ok(lineDecoder.idle);
  // What is left may go through pushUntilNewline too, one line at a time.
  let rest = third.subarray(taken);
  while (rest.length > 0) rest = rest.subarray(lineDecoder.pushUntilNewline(rest, emit));
  assert.deepEqual(out.slice(1), ['{"a":1}', '{"b":2}']);
});

Deno.test("LineDecoder.pushUntilNewline reports a frame over the limit once and resumes after it", () => {
  const lineDecoder = new LineDecoder({ maxFrameBytes: 1000 });
  const out: (string | { oversize: number })[] = [];
  const emit = (event: FrameEvent) => {
    out.push(event.kind === "frame" ? decoder.decode(event.bytes) : { oversize: event.bytes });
  };
  const chunk = encoder.encode("y".repeat(700));
  lineDecoder.pushUntilNewline(chunk, emit);
  lineDecoder.pushUntilNewline(chunk, emit);
  lineDecoder.pushUntilNewline(chunk, emit);
  assert.ok(lineDecoder.pendingBytes <= 1001);
  const end = encoder.encode('\n{"ok":true}\n');
  const taken = lineDecoder.pushUntilNewline(end, emit);
  assert.equal(taken, 1);
  lineDecoder.pushUntilNewline(end.subarray(taken), emit);
  assert.deepEqual(out, [{ oversize: 2100 }, '{"ok":true}']);
});

Deno.test("LineDecoder reports an oversize frame's size without its \\r, wherever the reads split", () => {
  const line = encoder.encode("z".repeat(400_000) + "\r\n");
  for (const chunkBytes of [1000, 399_999, 400_000, 400_001, line.length]) {
    const lineDecoder = new LineDecoder({ maxFrameBytes: 300_000 });
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < line.length; i += chunkBytes) chunks.push(line.subarray(i, i + chunkBytes));
    assert.deepEqual(feed(lineDecoder, [...chunks, '{"next":1}\n']), [
      { oversize: 400_000 },
      '{"next":1}',
    ], `reads of ${chunkBytes} bytes`);
  }
});
