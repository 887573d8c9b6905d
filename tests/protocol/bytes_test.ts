import assert from "node:assert/strict";
import {
  concatBytes,
  decodeUtf8,
  indexOfNewline,
  lastIndexOfNewline,
  utf8Length,
} from "../../src/protocol/bytes.ts";

const encoder = new TextEncoder();

Deno.test("decodeUtf8 decodes valid UTF-8, including a real U+FFFD", () => {
  assert.equal(decodeUtf8(encoder.encode('{"t":"é€😀"}')), '{"t":"é€😀"}');
  assert.equal(decodeUtf8(encoder.encode("a\uFFFDb")), "a\uFFFDb");
  assert.equal(decodeUtf8(new Uint8Array(0)), "");
});

Deno.test("decodeUtf8 throws a TypeError on invalid UTF-8 as a fatal decoder does", () => {
  for (
    const bad of [
      [0xff],
      [0x61, 0xc3], // truncated sequence
      [0xed, 0xa0, 0x80], // a surrogate
      [0xc0, 0xaf], // overlong
      [0xef, 0xbf, 0xbd, 0xff], // a real U+FFFD followed by an invalid byte
    ]
  ) {
    assert.throws(() => decodeUtf8(new Uint8Array(bad)), TypeError, `bytes ${bad}`);
  }
});

Deno.test("decodeUtf8 keeps a leading byte order mark as text", () => {
  assert.equal(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])), "\uFEFFa");
});

Deno.test("utf8Length counts UTF-8 bytes and stops at a limit", () => {
  assert.equal(utf8Length("é€😀"), encoder.encode("é€😀").length);
  assert.equal(utf8Length("abc", 2), Infinity);
});

Deno.test("utf8Length counts long ASCII runs, then what follows them, like TextEncoder", () => {
  const ascii = "y\n".repeat(50_000);
  assert.equal(utf8Length(ascii), 100_000);
  assert.equal(utf8Length(ascii, 99_999), Infinity);
  assert.equal(utf8Length(ascii, 100_000), 100_000);
  for (const tail of ["é", "€", "😀", "\ud800", "\udc00x", "a\u0080\u07ff\u0800\uffff"]) {
    const text = ascii + tail + ascii;
    const bytes = encoder.encode(text).length;
    assert.equal(utf8Length(text), bytes, JSON.stringify(tail));
    assert.equal(utf8Length(text, bytes), bytes, JSON.stringify(tail));
    assert.equal(utf8Length(text, bytes - 1), Infinity, JSON.stringify(tail));
  }
});

Deno.test("concatBytes joins chunks in order", () => {
  assert.deepEqual(
    concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]),
    new Uint8Array([1, 2, 3]),
  );
});

/** A small seeded generator, so that a failing case can be replayed. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

Deno.test("indexOfNewline and lastIndexOfNewline agree with indexOf and lastIndexOf at every alignment", () => {
  const random = lcg(20261121);
  const backing = new Uint8Array(1024);
  for (let trial = 0; trial < 20_000; trial++) {
    const offset = Math.floor(random() * 16);
    const length = Math.floor(random() * 600);
    const bytes = backing.subarray(offset, offset + length);
    bytes.fill(0x78);
    // Newlines, and bytes one bit away from a newline (0x0b, 0x8a, 0x0e) that must not match.
    for (const value of [0x0a, 0x0a, 0x0b, 0x8a, 0x0e]) {
      if (length > 0 && random() < 0.5) bytes[Math.floor(random() * length)] = value;
    }
    const from = Math.floor(random() * (length + 2)) - 1;
    const to = Math.floor(random() * (length + 2));
    const first = bytes.indexOf(0x0a, Math.max(0, from));
    assert.equal(
      indexOfNewline(bytes, from, to),
      first >= to ? -1 : first,
      `indexOfNewline, trial ${trial}`,
    );
    assert.equal(
      lastIndexOfNewline(bytes, to),
      to <= 0 ? -1 : bytes.lastIndexOf(0x0a, to - 1),
      `lastIndexOfNewline, trial ${trial}`,
    );
  }
});

Deno.test("indexOfNewline finds the end of a large frame, wherever it is", () => {
  const frame = new Uint8Array(3 * 1024 * 1024 + 5).fill(0x78);
  for (const at of [0, 7, 8, 4095, 1024 * 1024 + 3, frame.length - 1]) {
    frame[at] = 0x0a;
    assert.equal(indexOfNewline(frame), at);
    assert.equal(lastIndexOfNewline(frame), at);
    assert.equal(indexOfNewline(frame, at + 1), -1);
    frame[at] = 0x78;
  }
  assert.equal(indexOfNewline(frame), -1);
  assert.equal(lastIndexOfNewline(frame), -1);
});
