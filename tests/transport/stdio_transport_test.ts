import assert from "node:assert/strict";
import {
  type ByteSink,
  type ByteSource,
  concatBytes,
  Gateway,
  StdioTransport,
  type StdioTransportOptions,
} from "../../src/mod.ts";

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

Deno.test("StdioTransport answers a last line that has no newline at the end of input", async (t) => {
  const cases: [string, string, (answers: Record<string, unknown>[]) => void][] = [
    [
      "a request",
      '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}\n{"jsonrpc":"2.0","id":2,"method":"echo","params":[2]}',
      (answers) => {
        assert.deepEqual(answers.map((a) => a.result), [[1], [2]]);
      },
    ],
    [
      "a request ending in \\r",
      '{"jsonrpc":"2.0","id":3,"method":"echo","params":[3]}\r',
      (answers) => {
        assert.deepEqual(answers, [{ jsonrpc: "2.0", id: 3, result: [3] }]);
      },
    ],
    ["invalid JSON", '{"jsonrpc":"2.0","id":4,', (answers) => {
      assert.equal(answers.length, 1);
      assert.equal(answers[0].id, null);
      assert.equal((answers[0].error as { code: number }).code, -32700);
    }],
    [
      "a frame over the limit",
      `{"jsonrpc":"2.0","id":5,"method":"echo","params":["${"x".repeat(300)}"]}`,
      (answers) => {
        assert.equal(answers.length, 1);
        assert.equal(answers[0].id, null);
        assert.equal((answers[0].error as { code: number }).code, -32600);
      },
    ],
    ["blanks", "  \r", (answers) => assert.deepEqual(answers, [])],
  ];
  for (const [name, input, check] of cases) {
    await t.step(name, async () => {
      const output = memorySink(1 << 20);
      const transport = new StdioTransport(echoGateway(), {
        input: memorySource(encoder.encode(input), 7),
        output,
        maxFrameBytes: 256,
      });
      transport.start();
      assert.deepEqual(await transport.ended, { reason: "stdin-eof" });
      await transport.drained();
      check(
        output.text().split("\n").filter((line) => line !== "").map((line) => JSON.parse(line)),
      );
    });
  }
});

Deno.test("StdioTransport drops an LSP frame cut short by the end of input, after answering the whole ones", async () => {
  const body = '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}';
  const input = `Content-Length: ${body.length}\r\n\r\n${body}Content-Length: 99\r\n\r\n{"json`;
  const output = memorySink(1 << 20);
  const transport = new StdioTransport(echoGateway(), {
    input: memorySource(encoder.encode(input), 5),
    output,
    framing: "lsp",
  });
  transport.start();
  assert.deepEqual(await transport.ended, { reason: "stdin-eof" });
  await transport.drained();
  const text = output.text();
  assert.equal(text.match(/Content-Length/g)?.length, 1);
  assert.match(text, /"result":\[1\]/);
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

Deno.test("StdioTransport stops reading while its answers exceed the output bound, and reads on once the client does", async () => {
  // 8,000 requests (440 KB) whose answers are 6 times their size (2.6 MB); the bound is 64 KiB.
  const requests = Array.from(
    { length: 8000 },
    (_, i) => JSON.stringify({ jsonrpc: "2.0", id: i, method: "grow", params: { i } }),
  ).join("\n") + "\n";
  const input = memorySource(encoder.encode(requests), 4096);
  let bytesRead = 0;
  const counted: ByteSource = {
    async read(p) {
      const n = await input.read(p);
      if (n !== null) bytesRead += n;
      return n;
    },
  };
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const sink = memorySink(1 << 20);
  const wedged: ByteSink = {
    async write(p) {
      await opened; // the client reads nothing until told to
      return sink.write(p);
    },
  };
  const gateway = new Gateway({ announceReady: false });
  gateway.register({ name: "grow", handler: () => "x".repeat(300) });
  const transport = new StdioTransport(gateway, {
    input: counted,
    output: wedged,
    outBufferBytes: 64 * 1024,
  });
  transport.start();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const queued = transport.peer.output.stats().highWaterBytes;
  // Three 4 KiB reads fill the bound; at most two more are taken (one already read ahead).
  assert.ok(bytesRead <= 5 * 4096, `read ${bytesRead} bytes while nothing was written`);
  assert.ok(queued < 64 * 1024 + 2 * 4096 * 6, `queued ${queued} bytes`);
  open();
  assert.deepEqual(await transport.ended, { reason: "stdin-eof" });
  await transport.drained();
  const answers = sink.text().trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(answers.map((a) => a.id), Array.from({ length: 8000 }, (_, i) => i));
});

// 3,000 requests in one read whose answers are 10 KB each: 30 MB if all were dispatched at once.
const BIG_REQUESTS = Array.from(
  { length: 3000 },
  (_, i) => JSON.stringify({ jsonrpc: "2.0", id: i, method: "big", params: { i } }),
);
const BOUND_CASES: [string, Uint8Array, Partial<StdioTransportOptions>][] = [
  ["line framing", encoder.encode(BIG_REQUESTS.join("\n") + "\n"), {}],
  [
    "line framing with --max-frame-bytes below the read size",
    encoder.encode(BIG_REQUESTS.join("\n") + "\n"),
    { maxFrameBytes: 4096 },
  ],
  [
    "line framing with an invalid UTF-8 line in the read",
    concatBytes([encoder.encode(BIG_REQUESTS.join("\n") + "\n"), new Uint8Array([0xff, 0x0a])]),
    {},
  ],
  [
    "LSP framing",
    encoder.encode(BIG_REQUESTS.map((f) => `Content-Length: ${f.length}\r\n\r\n${f}`).join("")),
    { framing: "lsp" },
  ],
];

for (const [name, input, options] of BOUND_CASES) {
  Deno.test(`StdioTransport holds the rest of a read once one frame's answers exceed the output bound: ${name}`, async () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const sink = memorySink(1 << 20);
    const gateway = new Gateway({ announceReady: false });
    gateway.register({ name: "big", handler: () => "é".repeat(5000) });
    const transport = new StdioTransport(gateway, {
      input: memorySource(input, 1 << 20),
      output: {
        async write(p) {
          await opened;
          return sink.write(p);
        },
      },
      outBufferBytes: 64 * 1024,
      ...options,
    });
    transport.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const queued = transport.peer.output.stats().highWaterBytes;
    assert.ok(queued < 64 * 1024 + 2 * 10_010, `queued ${queued} bytes for a 64 KiB bound`);
    open();
    assert.deepEqual(await transport.ended, { reason: "stdin-eof" });
    await transport.drained();
    const answers = sink.text().trim().split(
      options.framing === "lsp" ? /Content-Length: \d+\r\n\r\n/ : "\n",
    )
      .filter((part) => part !== "").map((part) => JSON.parse(part));
    const results = answers.filter((a) => a.id !== null);
    assert.deepEqual(results.map((a) => a.id), Array.from({ length: 3000 }, (_, i) => i));
    assert.equal(results[2999].result, "é".repeat(5000));
  });
}

/** A source like {@linkcode memorySource} whose reads have random sizes from `sizes`. */
function randomSource(bytes: Uint8Array, sizes: number[], random: () => number): ByteSource {
  let offset = 0;
  return {
    read(p) {
      if (offset >= bytes.length) return Promise.resolve(null);
      const size = sizes[Math.floor(random() * sizes.length)];
      const count = Math.min(p.length, size, bytes.length - offset);
      p.set(bytes.subarray(offset, offset + count));
      offset += count;
      return Promise.resolve(count);
    },
  };
}

Deno.test("StdioTransport frames a random mix of lines the same way at any read sizes", async () => {
  let state = 7;
  const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const limit = 64 * 1024;
  for (let round = 0; round < 6; round++) {
    // Each line with the answer it must get: an echoed id, or an error code with id null.
    const parts: Uint8Array[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 300; i++) {
      const kind = Math.floor(random() * 8);
      const end = random() < 0.3 ? "\r\n" : "\n";
      if (kind === 0) {
        parts.push(encoder.encode(random() < 0.5 ? end : ` \t${end}`)); // blank: no answer
      } else if (kind === 1) {
        parts.push(encoder.encode('{"jsonrpc":"2.0","id":1,"method":"echo","params":["'));
        parts.push(new Uint8Array([0xc3, 0x28])); // invalid UTF-8
        parts.push(encoder.encode(`"]}${end}`));
        expected.push("-32700");
      } else if (kind === 2) {
        parts.push(encoder.encode(`{"jsonrpc":"2.0","id":${i},"method":"echo","params":[`));
        parts.push(encoder.encode(`"${"z".repeat(limit + Math.floor(random() * 3000))}"]}${end}`));
        expected.push("-32600");
      } else if (kind === 3) {
        parts.push(encoder.encode(`{not json${end}`));
        expected.push("-32700");
      } else {
        // Requests from a few bytes to nearly the limit, ASCII or not.
        const size = [10, 100, 5000, limit - 200][kind - 4];
        const text = (kind % 2 === 0 ? "x" : "é€😀").repeat(Math.ceil(size / 9));
        parts.push(encoder.encode(
          JSON.stringify({ jsonrpc: "2.0", id: i, method: "echo", params: [text] }) + end,
        ));
        expected.push(`${i}:${text.length}`);
      }
    }
    const output = memorySink(1 << 20);
    const transport = new StdioTransport(echoGateway(), {
      input: randomSource(concatBytes(parts), [1, 7, 100, 4096, 70_000, 1 << 20], random),
      output,
      maxFrameBytes: limit,
    });
    transport.start();
    assert.deepEqual(await transport.ended, { reason: "stdin-eof" });
    await transport.drained();
    const answers = output.text().trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(
      answers.map((answer) =>
        answer.error === undefined
          ? `${answer.id}:${answer.result[0].length}`
          : (assert.equal(answer.id, null), String(answer.error.code))
      ),
      expected,
      `round ${round}`,
    );
  }
});

/** A sink that records each write's text; `fail` makes the next write reject with it instead. */
function recordingSink(): ByteSink & { writes: string[]; fail?: Error } {
  const sink: ByteSink & { writes: string[]; fail?: Error } = {
    writes: [],
    write(p) {
      if (sink.fail !== undefined) return Promise.reject(sink.fail);
      sink.writes.push(decoder.decode(p));
      return Promise.resolve(p.length);
    },
  };
  return sink;
}

/** A source that hands out `bytes` in one read, then never ends (the client stays). */
function openSource(bytes: Uint8Array): ByteSource {
  let given = false;
  return {
    read(p) {
      if (given) return new Promise(() => {});
      given = true;
      p.set(bytes);
      return Promise.resolve(bytes.length);
    },
  };
}

function echoRequests(count: number, framing: "line" | "lsp" = "line"): Uint8Array {
  const frames = Array.from(
    { length: count },
    (_, i) => JSON.stringify({ jsonrpc: "2.0", id: i, method: "echo", params: { i } }),
  );
  return encoder.encode(
    framing === "line"
      ? frames.join("\n") + "\n"
      : frames.map((frame) => `Content-Length: ${frame.length}\r\n\r\n${frame}`).join(""),
  );
}

for (const framing of ["line", "lsp"] as const) {
  Deno.test(`StdioTransport sends the first answers of a read while it still handles the rest: ${framing} framing`, async () => {
    const sink = recordingSink();
    const writesSeen: number[] = [];
    const gateway = new Gateway({ announceReady: false });
    gateway.register({
      name: "echo",
      handler: (params) => {
        writesSeen.push(sink.writes.length);
        return params;
      },
    });
    // 200 requests in a single read.
    const transport = new StdioTransport(gateway, {
      input: memorySource(echoRequests(200, framing), 1 << 20),
      output: sink,
      framing,
    });
    transport.start();
    assert.deepEqual(await transport.ended, { reason: "stdin-eof" });
    await transport.drained();
    // The first 64 answers were written before request 64 was handled; the rest after the read.
    assert.equal(writesSeen[63], 0);
    assert.equal(writesSeen[64], 1);
    assert.equal(writesSeen[199], 1);
    const frames = (text: string) =>
      framing === "line"
        ? text.trimEnd().split("\n")
        : text.split(/Content-Length: \d+\r\n\r\n/).slice(1);
    assert.equal(frames(sink.writes[0]).length, 64);
    const answers = sink.writes.flatMap(frames).map((frame) => JSON.parse(frame));
    assert.deepEqual(answers.map((answer) => answer.id), Array.from({ length: 200 }, (_, i) => i));
    assert.deepEqual(answers[199], { jsonrpc: "2.0", id: 199, result: { i: 199 } });
  });
}

/** A gateway whose `echo` counts the requests it handled. */
function countingGateway(): { gateway: Gateway; handled: () => number } {
  let handled = 0;
  const gateway = new Gateway({ announceReady: false });
  gateway.register({
    name: "echo",
    handler: (params) => {
      handled++;
      return params;
    },
  });
  return { gateway, handled: () => handled };
}

for (
  const [name, error, reason] of [
    [
      "finds the reader gone",
      new Deno.errors.BrokenPipe("Broken pipe (os error 32)"),
      "stdout-peer-gone",
    ],
    [
      "fails for another reason",
      new Deno.errors.PermissionDenied("Permission denied (os error 13)"),
      "crash",
    ],
  ] as const
) {
  Deno.test(`StdioTransport ends as ${reason} when an early write ${name}, and writes nothing after it`, async () => {
    const { gateway, handled } = countingGateway();
    const handledAtWrite: number[] = [];
    const sink: ByteSink = {
      write() {
        handledAtWrite.push(handled());
        return Promise.reject(error);
      },
    };
    const transport = new StdioTransport(gateway, {
      input: openSource(echoRequests(200)),
      output: sink,
    });
    transport.start();
    const end = await transport.ended;
    assert.equal(end.reason, reason);
    if (reason === "crash") assert.equal(await transport.failed, error);
    await transport.drained(); // resolves: nothing more can be written
    // The one write tried was the early one, made after 64 of the 200 requests.
    assert.deepEqual(handledAtWrite, [64]);
    assert.equal(transport.writer.writes, 1);
  });
}

Deno.test("StdioTransport drained() waits for an early write still under way", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let firstCalled!: () => void;
  const firstCall = new Promise<void>((resolve) => (firstCalled = resolve));
  const written: string[] = [];
  const sink: ByteSink = {
    async write(p) {
      const text = decoder.decode(p);
      if (written.length === 0) {
        firstCalled();
        await released;
      }
      written.push(text);
      return p.length;
    },
  };
  const transport = new StdioTransport(echoGateway(), {
    input: memorySource(echoRequests(200), 1 << 20),
    output: sink,
  });
  transport.start();
  await firstCall;
  let drained = false;
  const draining = transport.drained().then(() => (drained = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(drained, false);
  release();
  await draining;
  const ids = written.join("").trimEnd().split("\n").map((line) => JSON.parse(line).id);
  assert.deepEqual(ids, Array.from({ length: 200 }, (_, i) => i));
  assert.equal(written[0].trimEnd().split("\n").length, 64);
});

Deno.test("StdioTransport's tap sees the frames in the order they are written, early writes included", async () => {
  const sink = recordingSink();
  const tapped: string[] = [];
  const transport = new StdioTransport(echoGateway(), {
    input: memorySource(echoRequests(300), 1 << 20),
    output: sink,
    tap: (frames) => tapped.push(...frames),
  });
  transport.start();
  await transport.ended;
  await transport.drained();
  assert.ok(sink.writes.length >= 2, `${sink.writes.length} writes`);
  assert.equal(sink.writes.join(""), tapped.map((frame) => frame + "\n").join(""));
  assert.equal(tapped.length, 300);
});

Deno.test("StdioTransport answers a malformed LSP header in its place among the frames of one read", async () => {
  const frame = (body: string) => `Content-Length: ${encoder.encode(body).length}\r\n\r\n${body}`;
  const input = frame('{"jsonrpc":"2.0","id":1,"method":"echo","params":["first"]}') +
    "Content-Length: abc\r\n\r\n" +
    frame('{"jsonrpc":"2.0","id":2,"method":"echo","params":["third"]}');
  const output = memorySink(1 << 20);
  const transport = new StdioTransport(echoGateway(), {
    input: memorySource(encoder.encode(input), 1 << 16), // one read
    output,
    framing: "lsp",
  });
  transport.start();
  await transport.ended;
  await transport.drained();
  const bodies = output.text().split(/Content-Length: \d+\r\n\r\n/).filter((b) => b !== "");
  assert.deepEqual(bodies.map((b) => JSON.parse(b).id), [1, null, 2]);
  assert.equal(JSON.parse(bodies[1]).error.code, -32700);
});

Deno.test("StdioTransport logs a failure that escapes the dispatcher and goes on reading the next frames", async () => {
  const gateway = echoGateway();
  const dispatcher = gateway.dispatcher;
  const handleText = dispatcher.handleText.bind(dispatcher);
  // As if the dispatcher had a bug for one frame: it throws instead of answering.
  dispatcher.handleText = (text, peer) => {
    if (text.includes("boom")) throw new Error("Dispatcher bug");
    handleText(text, peer);
  };
  const lines = [1, "boom", 3].map((p, i) =>
    JSON.stringify({ jsonrpc: "2.0", id: i + 1, method: "echo", params: [p] })
  );
  for (const chunkBytes of [1 << 16, 7]) { // the whole-read path and the frame-by-frame one
    const output = memorySink(1 << 20);
    const transport = new StdioTransport(gateway, {
      input: memorySource(encoder.encode(lines.join("\n") + "\n"), chunkBytes),
      output,
    });
    transport.start();
    assert.deepEqual(await transport.ended, { reason: "stdin-eof" });
    await transport.drained();
    const ids = output.text().trim().split("\n").map((line) => JSON.parse(line).id);
    assert.deepEqual(ids, [1, 3], `chunks of ${chunkBytes}`);
  }
});

Deno.test("StdioTransport.drained() resolves once the last live frame is written, with merged-away deltas behind it", async () => {
  const gateway = new Gateway(); // gateway.ready goes first, as in a real start
  let streamed!: () => void;
  const queued = new Promise<void>((resolve) => (streamed = resolve));
  gateway.register({
    name: "stream",
    handler: (_params, context) => {
      // Answer first, then stream more than the output bound at once: merges leave dead entries.
      setTimeout(() => {
        context.delta("k", "out", {}, { text: "a".repeat(1500) });
        for (let i = 0; i < 104; i++) context.delta("k", "out", {}, { text: "y".repeat(10_000) });
        streamed();
      }, 100);
      return "started";
    },
  });
  const request = encoder.encode('{"jsonrpc":"2.0","id":1,"method":"stream"}\n');
  let reads = 0;
  const input: ByteSource = {
    read(p) {
      if (reads++ > 0) return new Promise(() => {}); // stdin stays open
      p.set(request);
      return Promise.resolve(request.length);
    },
  };
  let written = 0;
  const output: ByteSink = {
    async write(p) {
      await new Promise((resolve) => setTimeout(resolve, 20)); // a slow reader
      written += p.length;
      return p.length;
    },
  };
  const transport = new StdioTransport(gateway, { input, output, outBufferBytes: 1 << 20 });
  transport.start();
  await queued;
  await new Promise((resolve) => setTimeout(resolve, 15)); // the first batch is being written
  assert.ok(transport.peer.output.stats().coalescedDeltas > 0, "the test needs merges");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    transport.drained().then(() => "drained"),
    new Promise((resolve) => (timer = setTimeout(() => resolve("still waiting"), 3000))),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, "drained");
  assert.equal(transport.peer.output.empty, true);
  assert.ok(written > 1_040_000, `wrote ${written} bytes`);
  transport.close("test over");
});
