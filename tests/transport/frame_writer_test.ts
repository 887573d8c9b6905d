import assert from "node:assert/strict";
import {
  FrameWriter,
  FrameWriterState,
  isPeerGoneError,
} from "../../src/transport/frame_writer.ts";

/** A sink that accepts at most `max` bytes per write, after a delay, recording each write. */
class SlowSink {
  readonly writes: Uint8Array[] = [];
  constructor(readonly max: number, readonly delayMs = 1) {}
  async write(p: Uint8Array): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const n = Math.min(this.max, p.length);
    this.writes.push(p.slice(0, n));
    return n;
  }
  text(): string {
    return this.writes.map((w) => new TextDecoder().decode(w)).join("");
  }
}

Deno.test("FrameWriter completes partial writes and never interleaves frames", async () => {
  const sink = new SlowSink(7);
  const writer = new FrameWriter(sink);
  const frames = Array.from(
    { length: 50 },
    (_, i) => JSON.stringify({ i, pad: "p".repeat(i) }) + "\n",
  );
  const results = await Promise.all(frames.map((f) => writer.write(f)));
  assert.ok(results.every((r) => r === true));
  assert.equal(sink.text(), frames.join(""));
  assert.equal(writer.bytesOut, frames.join("").length);
});

Deno.test("FrameWriter hands a large frame to the sink in slices and reports each one's progress", async () => {
  const sink = new SlowSink(1 << 20);
  const progress: number[] = [];
  const writer = new FrameWriter(sink, {
    maxWriteBytes: 4096,
    onProgress: (bytes) => progress.push(bytes),
  });
  const frame = "x".repeat(10_000) + "\n";
  assert.equal(await writer.write(frame), true);
  assert.deepEqual(sink.writes.map((w) => w.length), [4096, 4096, 1809]);
  assert.deepEqual(progress, [4096, 4096, 1809]);
  assert.equal(sink.text(), frame);
});

Deno.test("FrameWriter sends frames that wait together in one write", async () => {
  const sink = new SlowSink(1 << 20, 5);
  const writer = new FrameWriter(sink);
  const first = writer.write("a\n");
  const rest = ["b\n", "c\n", "d\n"].map((f) => writer.write(f));
  await Promise.all([first, ...rest]);
  assert.equal(sink.writes.length, 2);
  assert.equal(sink.text(), "a\nb\nc\nd\n");
});

Deno.test("FrameWriter resolves false once the peer is gone and stays closed", async () => {
  let calls = 0;
  const writer = new FrameWriter({
    write() {
      calls++;
      return Promise.reject(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
    },
  });
  assert.equal(await writer.write("x\n"), false);
  assert.equal(writer.state, FrameWriterState.PeerGone);
  assert.equal(await writer.write("y\n"), false);
  assert.equal(calls, 1);
});

Deno.test("FrameWriter propagates errors that do not mean the peer is gone", async () => {
  const writer = new FrameWriter({
    write() {
      return Promise.reject(new Deno.errors.PermissionDenied("Permission denied"));
    },
  });
  await assert.rejects(writer.write("x\n"), Deno.errors.PermissionDenied);
  // A frame may be half written: nothing may follow it.
  assert.equal(writer.state, FrameWriterState.Failed);
  await assert.rejects(writer.write("y\n"), Deno.errors.PermissionDenied);
});

Deno.test("isPeerGoneError accepts BrokenPipe, BadResource and ConnectionReset only", () => {
  assert.equal(isPeerGoneError(new Deno.errors.BrokenPipe()), true);
  assert.equal(isPeerGoneError(new Deno.errors.BadResource()), true);
  assert.equal(isPeerGoneError(new Deno.errors.ConnectionReset()), true);
  assert.equal(isPeerGoneError(new Deno.errors.PermissionDenied()), false);
  assert.equal(isPeerGoneError(new Error("EPIPE")), false);
  assert.equal(isPeerGoneError(new TypeError("bug")), false);
});

Deno.test("FrameWriter reports BrokenPipe from a real pipe whose reader has closed", async () => {
  const child = new Deno.Command("sh", { args: ["-c", "exit 0"], stdin: "piped" }).spawn();
  await child.status;
  const raw = child.stdin.getWriter();
  const writer = new FrameWriter({
    async write(p) {
      await raw.write(p);
      return p.length;
    },
  });
  let result: boolean | undefined;
  for (let i = 0; i < 100 && result !== false; i++) {
    result = await writer.write("x".repeat(65536) + "\n");
  }
  assert.equal(result, false);
  assert.equal(writer.state, FrameWriterState.PeerGone);
});
