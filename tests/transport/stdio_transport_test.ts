import assert from "node:assert/strict";
import { type ByteSink, type ByteSource, Gateway, StdioTransport } from "../../src/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A source that hands out the given bytes in reads of at most `chunkBytes`, then ends. */
function memorySource(bytes: Uint8Array, chunkBytes: number): ByteSource {
  let offset = 0;
  return {
    read(p) {
      if (offset >= bytes.length) return Promise.resolve(null);
      const count = Math.min(p.length, chunkBytes, bytes.length - offset);
      p.set(bytes.subarray(offset, offset + count));
      offset += count;
      return Promise.resolve(count);
    },
  };
}

/** A sink that copies what it is given, accepting at most `writeBytes` per call, a little later. */
function memorySink(writeBytes: number): ByteSink & { text(): string } {
  const chunks: Uint8Array[] = [];
  return {
    async write(p) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      const count = Math.min(p.length, writeBytes);
      chunks.push(p.slice(0, count));
      return count;
    },
    text: () => chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join(""),
  };
}

function echoGateway(): Gateway {
  const gateway = new Gateway({ announceReady: false });
  gateway.register({ name: "echo", handler: (params) => params });
  return gateway;
}

Deno.test("StdioTransport answers large frames one after another with their own contents", async () => {
  const pads = ["a", "b", "c", "d"].map((letter, i) => letter.repeat(300_000 + i * 1000));
  const input =
    pads.map((pad, i) => JSON.stringify({ jsonrpc: "2.0", id: i, method: "echo", params: { pad } }))
      .join("\n") + "\n";
  const output = memorySink(100_000); // partial writes of a reused buffer
  const transport = new StdioTransport(echoGateway(), {
    input: memorySource(encoder.encode(input), 70_000),
    output,
  });
  transport.start();
  assert.deepEqual(await transport.ended, { reason: "stdin-eof" });
  await transport.drained();
  const lines = output.text().split("\n");
  assert.equal(lines.pop(), "");
  assert.deepEqual(
    lines.map((line) => JSON.parse(line)),
    pads.map((pad, id) => ({
      jsonrpc: "2.0",
      id,
      result: { pad },
    })),
  );
});

Deno.test("StdioTransport splits frames across reads, multi-byte characters included", async () => {
  const frames = Array.from(
    { length: 200 },
    (_, i) => JSON.stringify({ jsonrpc: "2.0", id: i, method: "echo", params: { t: `é€😀 ${i}` } }),
  );
  const output = memorySink(1 << 20);
  const transport = new StdioTransport(echoGateway(), {
    input: memorySource(encoder.encode(frames.join("\r\n") + "\r\n"), 7),
    output,
  });
  transport.start();
  await transport.ended;
  await transport.drained();
  const answers = output.text().trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(answers.map((a) => a.result.t), frames.map((_, i) => `é€😀 ${i}`));
});

Deno.test("StdioTransport answers invalid UTF-8 with -32700 and keeps serving", async () => {
  const bytes = new Uint8Array([
    ...encoder.encode('{"jsonrpc":"2.0","id":1,"method":"echo","params":["'),
    0xff,
    ...encoder.encode('"]}\n{"jsonrpc":"2.0","id":2,"method":"echo","params":["\uFFFD"]}\n'),
  ]);
  const output = memorySink(1 << 20);
  const transport = new StdioTransport(echoGateway(), {
    input: memorySource(bytes, 1 << 16),
    output,
  });
  transport.start();
  await transport.ended;
  await transport.drained();
  const answers = output.text().trim().split("\n").map((line) => JSON.parse(line));
  assert.equal(answers.length, 2);
  assert.equal(answers[0].id, null);
  assert.equal(answers[0].error.code, -32700);
  assert.deepEqual(answers[1], { jsonrpc: "2.0", id: 2, result: ["\uFFFD"] });
});

Deno.test("StdioTransport writes large and small non-ASCII answers whole", async () => {
  const texts = ["é".repeat(400_000), "€😀", "ü".repeat(1000), "x".repeat(200_000)];
  const input =
    texts.map((t, i) => JSON.stringify({ jsonrpc: "2.0", id: i, method: "echo", params: { t } }))
      .join("\n") + "\n";
  const output = memorySink(64 * 1024);
  const transport = new StdioTransport(echoGateway(), {
    input: memorySource(encoder.encode(input), 1 << 16),
    output,
  });
  transport.start();
  await transport.ended;
  await transport.drained();
  const answers = output.text().trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(answers.map((a) => a.result.t), texts);
});
