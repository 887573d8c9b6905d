import assert from "node:assert/strict";
import { concatBytes, decodeUtf8, utf8Length } from "../../src/protocol/bytes.ts";

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

Deno.test("concatBytes joins chunks in order", () => {
  assert.deepEqual(
    concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]),
    new Uint8Array([1, 2, 3]),
  );
});
