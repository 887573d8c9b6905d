import assert from "node:assert/strict";
import { concatBytes } from "../../src/protocol/bytes.ts";
import { Utf8Chunker, type Utf8Segment } from "../../src/jobs/utf8_chunker.ts";

const encoder = new TextEncoder();

/** Feeds chunks, returns all segments and checks no segment is empty. */
function run(chunks: Uint8Array[]): Utf8Segment[] {
  const chunker = new Utf8Chunker();
  const out: Utf8Segment[] = [];
  for (const chunk of chunks) out.push(...chunker.push(chunk));
  out.push(...chunker.flush());
  for (const segment of out) {
    assert.ok("text" in segment ? segment.text.length > 0 : segment.bytes.length > 0);
  }
  return out;
}

/** The bytes the segments stand for. */
function bytesOf(segments: Utf8Segment[]): Uint8Array {
  const parts = segments.map((s) => "text" in s ? encoder.encode(s.text) : s.bytes);
  return concatBytes(parts);
}

Deno.test("Utf8Chunker passes valid UTF-8 through as one text segment", () => {
  assert.deepEqual(run([encoder.encode("héllo wörld ✓ 🎉\n")]), [{ text: "héllo wörld ✓ 🎉\n" }]);
});

Deno.test("Utf8Chunker never splits a multi-byte character, whatever the chunk boundaries", () => {
  const text = "aé✓🎉zß€𝄞";
  const bytes = encoder.encode(text);
  for (let a = 0; a <= bytes.length; a++) {
    for (let b = a; b <= bytes.length; b++) {
      const segments = run([bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)]);
      for (const segment of segments) {
        assert.ok("text" in segment, `split ${a}/${b} produced bytes`);
        assert.ok(!segment.text.includes("\uFFFD"), `split ${a}/${b} broke a character`);
      }
      assert.equal(segments.map((s) => "text" in s ? s.text : "").join(""), text);
    }
  }
});

Deno.test("Utf8Chunker holds an incomplete character until its last byte arrives", () => {
  const chunker = new Utf8Chunker();
  assert.deepEqual(chunker.push(new Uint8Array([0x61, 0xf0, 0x9f])), [{ text: "a" }]);
  assert.equal(chunker.pendingBytes, 2);
  assert.deepEqual(chunker.push(new Uint8Array([0x8e])), []);
  assert.deepEqual(chunker.push(new Uint8Array([0x89, 0x62])), [{ text: "🎉b" }]);
  assert.deepEqual(chunker.flush(), []);
});

Deno.test("Utf8Chunker sends invalid bytes as a bytes segment between text segments", () => {
  const segments = run([new Uint8Array([0x6f, 0x6b, 0xff, 0xfe, 0x21, 0xc3, 0xa9])]);
  assert.deepEqual(segments, [
    { text: "ok" },
    { bytes: new Uint8Array([0xff, 0xfe]) },
    { text: "!é" },
  ]);
});

Deno.test("Utf8Chunker flushes a character cut off at the end as bytes", () => {
  const segments = run([new Uint8Array([0x61, 0xe2, 0x82])]);
  assert.deepEqual(segments, [{ text: "a" }, { bytes: new Uint8Array([0xe2, 0x82]) }]);
});

Deno.test("Utf8Chunker treats overlong forms, surrogates and bad continuations as bytes", () => {
  const cases = [
    [0xc0, 0xaf], // overlong "/"
    [0xe0, 0x80, 0xaf], // overlong
    [0xed, 0xa0, 0x80], // UTF-16 surrogate
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0xe2, 0xa1], // truncated by the next character
    [0x80], // a lone continuation byte
  ];
  for (const bad of cases) {
    const input = new Uint8Array([0x5b, ...bad, 0x5d]);
    const segments = run([input]);
    assert.deepEqual(bytesOf(segments), input, `bytes of ${bad} preserved`);
    assert.deepEqual(segments[0], { text: "[" });
    assert.deepEqual(segments.at(-1), { text: "]" });
    assert.ok(segments.slice(1, -1).every((s) => "bytes" in s), `${bad} sent as bytes`);
  }
});

Deno.test("Utf8Chunker does not hold back a trailing byte that can never complete", () => {
  const chunker = new Utf8Chunker();
  // 0xE0 0x80 can never start a valid character: nothing is held.
  assert.deepEqual(chunker.push(new Uint8Array([0x61, 0xe0, 0x80])), [
    { text: "a" },
    { bytes: new Uint8Array([0xe0, 0x80]) },
  ]);
  assert.equal(chunker.pendingBytes, 0);
});

Deno.test("Utf8Chunker keeps a byte order mark as text", () => {
  assert.deepEqual(run([new Uint8Array([0xef, 0xbb, 0xbf, 0x78])]), [{ text: "\uFEFFx" }]);
});

Deno.test("Utf8Chunker round-trips random bytes exactly, in any chunking", () => {
  for (let round = 0; round < 200; round++) {
    const length = 1 + Math.floor(Math.random() * 64);
    const input = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      // Mostly UTF-8 lead and continuation bytes, to hit the edge cases.
      input[i] = Math.random() < 0.3 ? 0x41 : 0x80 + Math.floor(Math.random() * 0x80);
    }
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < length;) {
      const size = 1 + Math.floor(Math.random() * 5);
      chunks.push(input.subarray(i, i + size));
      i += size;
    }
    const segments = run(chunks);
    assert.deepEqual(bytesOf(segments), input);
    for (const segment of segments) {
      if ("text" in segment) assert.ok(!segment.text.includes("\uFFFD"));
    }
  }
});

Deno.test("Utf8Chunker sends a mostly binary chunk as one bytes segment, not as many tiny ones", () => {
  const input = new Uint8Array(4096);
  for (let i = 0; i < input.length; i++) input[i] = i % 2 === 0 ? 0x41 : 0xff;
  const segments = new Utf8Chunker().push(input);
  assert.equal(segments.length, 1);
  assert.deepEqual(segments[0], { bytes: input });
});

Deno.test("Utf8Chunker keeps text with a few invalid bytes as text runs", () => {
  const text = "x".repeat(1000);
  const input = new Uint8Array([...encoder.encode(text), 0xe9, ...encoder.encode(text)]);
  assert.deepEqual(new Utf8Chunker().push(input), [
    { text },
    { bytes: new Uint8Array([0xe9]) },
    { text },
  ]);
});
