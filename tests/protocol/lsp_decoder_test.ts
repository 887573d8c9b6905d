import assert from "node:assert/strict";
import { concatBytes } from "../../src/protocol/bytes.ts";
import type { FrameEvent } from "../../src/protocol/frame_decoder.ts";
import {
  encodeLspFrame,
  LspDecoder,
  type LspDecoderOptions,
  MAX_HEADER_LINE_BYTES,
} from "../../src/protocol/lsp_decoder.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Seen = { frame: string } | { oversize: number; limit: number } | { headerError: string };

/** Feeds chunks to a fresh decoder and lists what came out, in order. */
function decode(chunks: (string | Uint8Array)[], options: LspDecoderOptions = {}): Seen[] {
  const seen: Seen[] = [];
  const lsp = new LspDecoder({
    ...options,
    onHeaderError: (reason) => seen.push({ headerError: reason }),
  });
  const emit = (event: FrameEvent) => {
    if (event.kind === "frame") seen.push({ frame: decoder.decode(event.bytes) });
    else seen.push({ oversize: event.bytes, limit: event.limit });
  };
  for (const chunk of chunks) {
    const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    // Copy into a scratch buffer that is overwritten afterwards, as a transport's read buffer is.
    const scratch = new Uint8Array(bytes);
    lsp.push(scratch, emit);
    scratch.fill(0x21);
  }
  return seen;
}

function frame(body: string): string {
  return decoder.decode(encodeLspFrame(body));
}

Deno.test("LspDecoder splits several frames out of one chunk", () => {
  const seen = decode([frame('{"a":1}') + frame('{"b":2}') + frame("[]")]);
  assert.deepEqual(seen, [{ frame: '{"a":1}' }, { frame: '{"b":2}' }, { frame: "[]" }]);
});

Deno.test("LspDecoder gives the same frames when fed one byte at a time", () => {
  const wire = encoder.encode(frame('{"text":"h\u00e9llo \u{1F600}"}') + frame('{"n":2}'));
  const bytes = [...wire].map((b) => new Uint8Array([b]));
  assert.deepEqual(decode(bytes), [{ frame: '{"text":"h\u00e9llo \u{1F600}"}' }, {
    frame: '{"n":2}',
  }]);
});

Deno.test("LspDecoder counts Content-Length in bytes, not characters", () => {
  const body = '{"s":"\u00e9\u{1F600}"}';
  const wire = `Content-Length: ${encoder.encode(body).length}\r\n\r\n${body}{"next":1}`;
  const seen = decode([wire]);
  assert.deepEqual(seen, [{ frame: body }]);
});

Deno.test("LspDecoder reassembles frames from random chunkings", () => {
  const bodies = Array.from(
    { length: 200 },
    (_, i) => JSON.stringify({ i, pad: "x\u00e9".repeat((i * 37) % 300) }),
  );
  const wire = concatBytes(bodies.map(encodeLspFrame));
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 20; round++) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < wire.length;) {
      const n = 1 + Math.floor(random() * 700);
      chunks.push(wire.subarray(i, i + n));
      i += n;
    }
    const seen = decode(chunks);
    assert.deepEqual(seen, bodies.map((b) => ({ frame: b })));
  }
});

Deno.test("LspDecoder accepts any header case, extra headers, a UTF-8 Content-Type and bare LF", () => {
  const seen = decode([
    'content-length: 7\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{"a":1}',
    'X-Anything: yes\r\nCONTENT-LENGTH:7\r\n\r\n{"b":2}',
    'Content-Length: 7\n\n{"c":3}',
    'Content-Type: application/json; charset="UTF8"\r\nContent-Length: 7\r\n\r\n{"d":4}',
  ]);
  assert.deepEqual(seen, [
    { frame: '{"a":1}' },
    { frame: '{"b":2}' },
    { frame: '{"c":3}' },
    { frame: '{"d":4}' },
  ]);
});

Deno.test("LspDecoder ignores blank lines between frames", () => {
  const seen = decode([frame("{}") + "\r\n\r\n\n" + frame("[1]")]);
  assert.deepEqual(seen, [{ frame: "{}" }, { frame: "[1]" }]);
});

Deno.test("LspDecoder emits an empty frame for Content-Length: 0", () => {
  assert.deepEqual(decode(["Content-Length: 0\r\n\r\n" + frame("{}")]), [{ frame: "" }, {
    frame: "{}",
  }]);
});

Deno.test("LspDecoder skips an oversize body without holding it and reports it once", () => {
  const limit = 1000;
  const big = "x".repeat(50_000);
  const seen: Seen[] = [];
  const lsp = new LspDecoder({ maxFrameBytes: limit });
  let maxPending = 0;
  const wire = encoder.encode(frame(big) + frame('{"after":1}'));
  for (let i = 0; i < wire.length; i += 4096) {
    lsp.push(wire.subarray(i, i + 4096), (event) => {
      if (event.kind === "frame") seen.push({ frame: decoder.decode(event.bytes) });
      else seen.push({ oversize: event.bytes, limit: event.limit });
    });
    maxPending = Math.max(maxPending, lsp.pendingBytes);
  }
  assert.deepEqual(seen, [{ oversize: 50_000, limit }, { frame: '{"after":1}' }]);
  assert.ok(maxPending < 100, `held ${maxPending} bytes while skipping`);
});

Deno.test("LspDecoder reports an oversize body as soon as its header block ends, before the body arrives", () => {
  const seen: Seen[] = [];
  const lsp = new LspDecoder({ maxFrameBytes: 1000 });
  const emit = (event: FrameEvent) => {
    if (event.kind === "frame") seen.push({ frame: decoder.decode(event.bytes) });
    else seen.push({ oversize: event.bytes, limit: event.limit });
  };
  lsp.push(encoder.encode("Content-Length: 5000\r\n\r\n"), emit);
  assert.deepEqual(seen, [{ oversize: 5000, limit: 1000 }]);
  lsp.push(encoder.encode("z".repeat(5000) + frame('{"after":1}')), emit);
  assert.deepEqual(seen, [{ oversize: 5000, limit: 1000 }, { frame: '{"after":1}' }]);
});

Deno.test("LspDecoder reports a Content-Length beyond 2^53 as oversize and finds the next frame", () => {
  for (const digits of ["9007199254740993", "1" + "0".repeat(23)]) {
    const seen = decode(
      [`Content-Length: ${digits}\r\n\r\n{"lost":1}`, frame('{"after":1}')],
      { maxFrameBytes: 1000 },
    );
    assert.deepEqual(seen, [{ oversize: Number(digits), limit: 1000 }, { frame: '{"after":1}' }]);
  }
});

Deno.test("LspDecoder accepts a body of exactly the limit", () => {
  const body = `"${"y".repeat(98)}"`;
  assert.deepEqual(decode([frame(body)], { maxFrameBytes: 100 }), [{ frame: body }]);
  assert.deepEqual(decode([frame(body + " ")], { maxFrameBytes: 100 }), [{
    oversize: 101,
    limit: 100,
  }]);
});

Deno.test("LspDecoder reports a header block without Content-Length and recovers", () => {
  const seen = decode(["Content-Type: application/json\r\n\r\n" + frame('{"ok":1}')]);
  assert.equal(seen.length, 2);
  assert.match((seen[0] as { headerError: string }).headerError, /no Content-Length/);
  assert.deepEqual(seen[1], { frame: '{"ok":1}' });
});

Deno.test("LspDecoder reports line-delimited JSON at once, with a hint, and recovers", () => {
  const seen = decode(['{"jsonrpc":"2.0","id":1,"method":"gateway.ping"}\n']);
  assert.equal(seen.length, 1, "reported at the newline, not after 8 KiB");
  const reason = (seen[0] as { headerError: string }).headerError;
  assert.match(reason, /Malformed header line/);
  assert.match(reason, /line-delimited JSON.*--framing line/);
  const more = decode([
    '{"jsonrpc":"2.0","id":1,"method":"a"}\n{"jsonrpc":"2.0","id":2,"method":"b"}\n' +
    frame('{"ok":2}'),
  ]);
  assert.equal(more.filter((s) => "headerError" in s).length, 1, "one report per burst");
  assert.deepEqual(more.at(-1), { frame: '{"ok":2}' });
});

Deno.test("LspDecoder finds a Content-Length header glued to the end of garbage", () => {
  // A body sent with a wrong, too small length leaves its tail in front of the next header.
  const seen = decode([
    'Content-Length: 5\r\n\r\n{"id":1,"x":2}' + frame('{"ok":3}'),
  ]);
  assert.deepEqual(seen[0], { frame: '{"id"' });
  assert.equal(seen.filter((s) => "headerError" in s).length, 1);
  assert.deepEqual(seen.at(-1), { frame: '{"ok":3}' });
});

Deno.test("LspDecoder rejects an invalid Content-Length and recovers", () => {
  for (const value of ["abc", "-1", "1e3", "12 34", ""]) {
    const seen = decode([`Content-Length: ${value}\r\n\r\n` + frame('{"ok":4}')]);
    assert.match((seen[0] as { headerError: string }).headerError, /Content-Length/, value);
    assert.deepEqual(seen.at(-1), { frame: '{"ok":4}' }, value);
  }
});

Deno.test("LspDecoder rejects conflicting Content-Length headers and recovers whatever body follows", () => {
  // Neither length says where the body ends: the next frame is found by its header.
  for (const body of ["", "{}", "[1]", "null\n"]) {
    const seen = decode([
      "Content-Length: 2\r\nContent-Length: 3\r\n\r\n" + body + frame('{"ok":5}'),
    ]);
    assert.deepEqual(seen, [
      { headerError: "Conflicting Content-Length headers (2 and 3)" },
      { frame: '{"ok":5}' },
    ], JSON.stringify(body));
  }
});

Deno.test("LspDecoder rejects a charset other than UTF-8 and skips that body", () => {
  const seen = decode([
    "Content-Length: 4\r\nContent-Type: application/json; charset=utf-16\r\n\r\n{\0}\0" +
    frame('{"ok":6}'),
  ]);
  assert.deepEqual(seen, [
    { headerError: 'Unsupported charset "utf-16": bodies must be UTF-8' },
    { frame: '{"ok":6}' },
  ]);
});

Deno.test("LspDecoder reports an over-long header line once and holds at most 8 KiB of it", () => {
  const lsp = new LspDecoder({ onHeaderError: (reason) => errors.push(reason) });
  const errors: string[] = [];
  const frames: string[] = [];
  let maxPending = 0;
  const junk = encoder.encode("z".repeat(64 * 1024));
  for (let i = 0; i < 16; i++) {
    lsp.push(junk, () => {});
    maxPending = Math.max(maxPending, lsp.pendingBytes);
  }
  lsp.push(encoder.encode("\r\n" + frame('{"ok":7}')), (event) => {
    if (event.kind === "frame") frames.push(decoder.decode(event.bytes));
  });
  assert.equal(errors.length, 1);
  assert.match(errors[0], /longer than 8192 bytes/);
  assert.ok(maxPending <= MAX_HEADER_LINE_BYTES + 64, `held ${maxPending} bytes`);
  assert.deepEqual(frames, ['{"ok":7}']);
});

Deno.test("encodeLspFrame writes the byte length of the UTF-8 body", () => {
  assert.equal(decoder.decode(encodeLspFrame('"\u00e9"')), 'Content-Length: 4\r\n\r\n"\u00e9"');
});
