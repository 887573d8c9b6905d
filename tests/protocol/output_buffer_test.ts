import assert from "node:assert/strict";
import { OutputBuffer } from "../../src/protocol/output_buffer.ts";

type Frame = { method?: string; id?: number; params?: Record<string, unknown> };

function drain(buffer: OutputBuffer): Frame[] {
  const frames: Frame[] = [];
  for (let batch = buffer.take(); batch !== undefined; batch = buffer.take()) {
    for (const text of batch.frames) frames.push(JSON.parse(text));
    buffer.release(batch.bytes);
  }
  return frames;
}

function control(i: number): string {
  return JSON.stringify({ jsonrpc: "2.0", method: "control", params: { i } });
}

Deno.test("OutputBuffer keeps control frames and deltas in emission order while within its bound", () => {
  const buffer = new OutputBuffer({ maxBytes: 1 << 20 });
  void buffer.pushControl(control(1));
  buffer.pushDelta("k", "stream", { pos: 0 }, { text: "a" });
  buffer.pushDelta("k", "stream", { pos: 1 }, { text: "b" });
  void buffer.pushControl(control(2));
  const frames = drain(buffer);
  assert.deepEqual(frames.map((f) => f.method), ["control", "stream", "stream", "control"]);
  assert.equal(frames[1].params!.text, "a");
  assert.equal(frames[1].params!.key, "k");
  assert.equal(buffer.stats().coalescedDeltas, 0);
});

Deno.test("OutputBuffer merges deltas of one key when over its bound, keeping the earliest position", () => {
  const buffer = new OutputBuffer({ maxBytes: 1000 });
  for (let i = 0; i < 50; i++) {
    buffer.pushDelta("job:1:stdout", "job.output", { pos: i }, { text: `${i % 10}` });
  }
  const frames = drain(buffer);
  assert.ok(frames.length < 50);
  const text = frames.map((f) => f.params!.text).join("");
  assert.equal(text, Array.from({ length: 50 }, (_, i) => `${i % 10}`).join(""));
  assert.equal(frames[0].params!.pos, 0);
  assert.ok(buffer.stats().coalescedDeltas > 0);
  assert.equal(buffer.stats().droppedDeltas, 0);
});

Deno.test("OutputBuffer drops the oldest deltas when merging is not enough, and the next delta says how many", () => {
  const buffer = new OutputBuffer({ maxBytes: 1000 });
  for (let i = 0; i < 40; i++) {
    buffer.pushDelta("k", "d", { pos: i * 100 }, { text: "x".repeat(100) });
  }
  assert.ok(buffer.stats().queuedBytes <= 1000 + 200);
  const frames = drain(buffer);
  const dropped = frames.reduce((n, f) => n + Number(f.params!.dropped ?? 0), 0);
  assert.ok(dropped > 0);
  assert.equal(dropped, buffer.stats().droppedDeltas);
  const delivered = frames.reduce((n, f) => n + String(f.params!.text).length, 0) / 100;
  assert.equal(delivered + dropped, 40);
  // A later delta of the key carries any remaining count.
  buffer.pushDelta("k", "d", { pos: 9999 }, { text: "y" });
  assert.equal(drain(buffer)[0].params!.dropped, undefined);
});

Deno.test("OutputBuffer never drops or reorders control frames and never lets a delta overtake one", async () => {
  const buffer = new OutputBuffer({ maxBytes: 2000 });
  const pending: Promise<void>[] = [];
  for (let i = 0; i < 100; i++) {
    buffer.pushDelta("k", "d", { i }, { text: "z".repeat(50) });
    pending.push(buffer.pushControl(control(i)));
  }
  const frames = drain(buffer);
  await Promise.all(pending);
  const controls = frames.filter((f) => f.method === "control").map((f) => f.params!.i);
  assert.deepEqual(controls, Array.from({ length: 100 }, (_, i) => i));
  // Every delta arrives before the control frame emitted after it.
  let lastControl = -1;
  for (const frame of frames) {
    if (frame.method === "control") lastControl = Number(frame.params!.i);
    else {assert.ok(
        Number(frame.params!.i) > lastControl,
        `delta ${frame.params!.i} after control ${lastControl}`,
      );}
  }
});

Deno.test("OutputBuffer holds back a control producer until the writer makes room", async () => {
  const buffer = new OutputBuffer({ maxBytes: 100 });
  await buffer.pushControl(control(1));
  let released = false;
  const waiting = buffer.pushControl(JSON.stringify({ pad: "x".repeat(200) })).then(
    () => (released = true),
  );
  await Promise.resolve();
  assert.equal(released, false);
  assert.equal(buffer.stats().controlWaits, 1);
  drain(buffer);
  await waiting;
  assert.equal(released, true);
});

/** Pushes control frames of 100 bytes until more than `bytes` are queued; returns the last one's promise. */
function pushPast(buffer: OutputBuffer, bytes: number): Promise<void> {
  let last: Promise<void> = Promise.resolve();
  const frame = JSON.stringify({ p: "x".repeat(91) }); // 100 bytes with its newline
  while (buffer.stats().queuedBytes <= bytes) last = buffer.pushControl(frame);
  return last;
}

/** Whether `promise` has settled once the microtasks queued now have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

Deno.test("OutputBuffer holds an awaiting producer above paceBytes until the writer has written down to it", async () => {
  const buffer = new OutputBuffer({
    maxBytes: 10_000,
    paceBytes: 1000,
    maxBatchBytes: 500,
    paceMaxWaitMs: 60_000,
  });
  assert.equal(await settled(pushPast(buffer, 900)), true, "below the pace level: at once");
  const held = pushPast(buffer, 1000);
  assert.equal(await settled(held), false, "above it: held while the writer is at work");
  const batch = buffer.take()!;
  assert.equal(await settled(held), false, "taken but not yet written");
  buffer.release(batch.bytes); // 1100 - 500: down to the level
  assert.equal(await settled(held), true);
  assert.equal(buffer.stats().controlWaits, 0, "a paced wait is not a wait for room");
  assert.equal(batch.frames.length + drain(buffer).length, 11, "every frame is kept");
  buffer.close();
});

Deno.test("OutputBuffer stops pacing after a wait reaches paceMaxWaitMs, until a batch is written fast", async () => {
  let stalled = 0;
  const buffer = new OutputBuffer({
    maxBytes: 3_000_000,
    paceBytes: 1_000_000,
    maxBatchBytes: 100_000,
    paceMaxWaitMs: 200,
    stallTimeoutMs: 300,
    onStall: () => stalled++,
  });
  const held = pushPast(buffer, 1_000_000);
  const started = performance.now();
  await held;
  const waited = performance.now() - started;
  assert.ok(
    waited >= 190 && waited < 5000,
    `held for the 200 ms limit, not at once or for good: ${waited}`,
  );
  assert.equal(await settled(pushPast(buffer, 2_900_000)), true, "then at once up to the bound");
  const beyond = pushPast(buffer, 3_000_000);
  assert.equal(await settled(beyond), false, "beyond the bound: waits for room");
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(stalled, 1, "and the stall timeout runs as before");
  // A large batch written at once (a fast client) turns pacing back on.
  buffer.release(buffer.take()!.bytes);
  await beyond;
  drain(buffer);
  assert.equal(await settled(pushPast(buffer, 1_000_000)), false, "paced again");
  buffer.close();
});

Deno.test("OutputBuffer stops pacing after a large batch written slowly", async () => {
  const buffer = new OutputBuffer({
    maxBytes: 3_000_000,
    paceBytes: 1_000_000,
    maxBatchBytes: 100_000,
    paceMaxWaitMs: 60_000,
  });
  const paced = pushPast(buffer, 1_000_000);
  assert.equal(await settled(paced), false);
  // 100 KB in 30 ms: 3.3 MB/s, a slow client.
  const slow = buffer.take()!;
  await new Promise((resolve) => setTimeout(resolve, 30));
  buffer.release(slow.bytes);
  assert.equal(await settled(paced), true);
  assert.equal(await settled(pushPast(buffer, 1_500_000)), true, "and does not pace after it");
  buffer.close();
});

Deno.test("OutputBuffer wakes paced producers when it closes", async () => {
  const buffer = new OutputBuffer({ maxBytes: 10_000, paceBytes: 1000, paceMaxWaitMs: 60_000 });
  const held = pushPast(buffer, 1000);
  assert.equal(await settled(held), false);
  buffer.close();
  assert.equal(await settled(held), true);
});

Deno.test("OutputBuffer.drainedTo waits until the writer has drained the buffer to a level", async () => {
  const buffer = new OutputBuffer({ maxBytes: 1 << 20, maxBatchBytes: 100 });
  await buffer.drainedTo(0); // empty: at once
  for (let i = 0; i < 4; i++) buffer.pushDelta("k", "out", {}, { text: "x".repeat(100) });
  const queued = buffer.stats().queuedBytes;
  await buffer.drainedTo(queued); // at the level already: at once
  let woken = false;
  const waiting = buffer.drainedTo(150).then(() => (woken = true));
  const first = buffer.take()!;
  await Promise.resolve();
  assert.equal(woken, false, "taken but not yet written still counts");
  buffer.release(first.bytes);
  for (let batch = buffer.take(); batch !== undefined; batch = buffer.take()) {
    await Promise.resolve();
    assert.equal(woken, buffer.stats().queuedBytes <= 150, `${buffer.stats().queuedBytes} queued`);
    buffer.release(batch.bytes);
  }
  await waiting;
  assert.equal(buffer.stats().queuedBytes, 0);
});

Deno.test("OutputBuffer.drainedTo ends when its signal aborts or the buffer closes", async () => {
  const buffer = new OutputBuffer({ maxBytes: 1 << 20 });
  buffer.pushDelta("k", "out", {}, { text: "x".repeat(1000) });
  const aborted = new AbortController();
  const waiting = buffer.drainedTo(0, aborted.signal);
  aborted.abort();
  await waiting;
  assert.ok(buffer.stats().queuedBytes > 0, "it ended by the signal, not by draining");
  await buffer.drainedTo(0, aborted.signal); // already aborted: at once
  const closing = buffer.drainedTo(0);
  buffer.close();
  await closing;
  await buffer.drainedTo(0); // closed: at once
});

Deno.test("OutputBuffer calls onStall when a control frame waits longer than the stall timeout", async () => {
  let stalled = 0;
  const buffer = new OutputBuffer({ maxBytes: 10, stallTimeoutMs: 50, onStall: () => stalled++ });
  void buffer.pushControl("x".repeat(20));
  void buffer.pushControl("y".repeat(20));
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(stalled, 1);
  buffer.close();
});

Deno.test("OutputBuffer.limitStall shortens the stall timeout of a wait already under way, and never lengthens it", async () => {
  let stalled = 0;
  const buffer = new OutputBuffer({
    maxBytes: 10,
    stallTimeoutMs: 10_000,
    onStall: () => stalled++,
  });
  void buffer.pushControl("x".repeat(20));
  void buffer.pushControl("y".repeat(20));
  buffer.limitStall(60_000); // ignored
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(stalled, 0);
  buffer.limitStall(50);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(stalled, 1);
  buffer.close();
});

Deno.test("OutputBuffer does not call onStall while a slow reader keeps taking batches, and does once it stops", async () => {
  let stalled = 0;
  const buffer = new OutputBuffer({
    maxBytes: 100,
    maxBatchBytes: 30,
    stallTimeoutMs: 80,
    onStall: () => stalled++,
  });
  for (let i = 0; i < 40; i++) void buffer.pushControl("x".repeat(20));
  const waiting = buffer.room();
  assert.equal(buffer.overBound, true);
  // A reader that takes one small batch every 30 ms: slow (about 1.3 s for all), never stopped.
  for (let i = 0; i < 12; i++) {
    await new Promise((resolve) => setTimeout(resolve, 30));
    buffer.release(buffer.take()!.bytes);
  }
  assert.equal(stalled, 0, "a reader making progress is not stalled");
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(stalled, 1, "a reader that stopped is");
  buffer.close();
  await waiting;
});

Deno.test("OutputBuffer sends bytes deltas as base64 and merges them byte-exactly", () => {
  const buffer = new OutputBuffer({ maxBytes: 1000 });
  const parts = [new Uint8Array([0xff, 0x00]), new Uint8Array([0xfe])];
  for (let i = 0; i < 12; i++) parts.push(new Uint8Array(30).fill(i));
  for (const bytes of parts) buffer.pushDelta("b", "d", {}, { bytes });
  assert.ok(buffer.stats().coalescedDeltas > 0);
  assert.equal(buffer.stats().droppedDeltas, 0);
  const frames = drain(buffer);
  const all = frames.flatMap((f) =>
    Array.from(atob(String(f.params!.base64)), (c) => c.charCodeAt(0))
  );
  assert.deepEqual(all, parts.flatMap((p) => Array.from(p)));
});

Deno.test("OutputBuffer reports queued bytes, high-water mark and counters", () => {
  const buffer = new OutputBuffer({ maxBytes: 1 << 20 });
  void buffer.pushControl(control(1));
  const stats = buffer.stats();
  assert.ok(stats.queuedBytes > 0);
  assert.equal(stats.queuedFrames, 1);
  assert.ok(stats.highWaterBytes >= stats.queuedBytes);
  drain(buffer);
  assert.equal(buffer.stats().queuedBytes, 0);
  assert.equal(buffer.stats().framesOut, 1);
});

Deno.test("OutputBuffer merges rather than drops after it has drained once", () => {
  const fresh = new OutputBuffer({ maxBytes: 4000 });
  const used = new OutputBuffer({ maxBytes: 4000 });
  void used.pushControl(control(0));
  used.pushDelta("k", "d", {}, { text: "warm-up" });
  drain(used);
  for (const buffer of [fresh, used]) {
    void buffer.pushControl(control(1));
    for (let i = 0; i < 60; i++) buffer.pushDelta("k", "d", { i }, { text: "y".repeat(40) });
  }
  assert.equal(used.stats().droppedDeltas, fresh.stats().droppedDeltas);
  assert.equal(used.stats().coalescedDeltas, fresh.stats().coalescedDeltas);
  assert.ok(used.stats().coalescedDeltas > 0);
});

Deno.test("OutputBuffer counts a delta's params against the bound", () => {
  const buffer = new OutputBuffer({ maxBytes: 1 << 20 });
  buffer.pushDelta("k", "d", { big: "p".repeat(10_000) }, { text: "x" });
  assert.ok(buffer.stats().queuedBytes > 10_000);
});

Deno.test("OutputBuffer keeps merged non-ASCII text exact through merges, drops and reuse of its merge storage", () => {
  let state = 99;
  const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const alphabet = ["a", "é", "€", "😀", "\n", '"', "\\", "\u0001"];
  // Merges grow past the 4 KiB a merge's storage starts with (a quarter of the bound).
  const buffer = new OutputBuffer({ maxBytes: 64 * 1024 });
  const sent = new Map<string, string[]>([["k1", []], ["k2", []]]);
  const frames: Frame[] = [];
  for (let i = 0; i < 20_000; i++) {
    const key = random() < 0.7 ? "k1" : "k2";
    let payload = "";
    for (let n = Math.floor(random() * 40); n > 0; n--) {
      payload += alphabet[Math.floor(random() * alphabet.length)];
    }
    const list = sent.get(key)!;
    // Each delta's text names its index, so the delivered text can be split up again.
    buffer.pushDelta(key, "stream", { pos: list.length }, { text: `<${list.length}|${payload}>` });
    list.push(payload);
    if (random() < 0.01) void buffer.pushControl(control(i));
    if (random() < 0.001) {
      // The reader takes a batch now and then, so pressure comes and goes.
      const batch = buffer.take();
      if (batch !== undefined) {
        for (const text of batch.frames) frames.push(JSON.parse(text));
        buffer.release(batch.bytes);
      }
    }
  }
  frames.push(...drain(buffer));
  let dropped = 0;
  const next = new Map([["k1", 0], ["k2", 0]]);
  for (const frame of frames) {
    if (frame.method !== "stream") continue;
    const key = String(frame.params!.key);
    const list = sent.get(key)!;
    dropped += Number(frame.params!.dropped ?? 0);
    const parts = [...String(frame.params!.text).matchAll(/<(\d+)\|([^>]*)>/gs)];
    assert.equal(parts.map((p) => p[0]).join(""), frame.params!.text, "whole deltas only");
    assert.equal(Number(parts[0][1]), frame.params!.pos, "the earliest delta's params");
    for (const [, index, payload] of parts) {
      assert.ok(Number(index) >= next.get(key)!, "in order, each once");
      assert.equal(payload, list[Number(index)], `delta ${index} of ${key}`);
      next.set(key, Number(index) + 1);
    }
  }
  const delivered = frames.filter((f) => f.method === "stream")
    .reduce((n, f) => n + String(f.params!.text).split("<").length - 1, 0);
  assert.ok(buffer.stats().coalescedDeltas > 0 && buffer.stats().droppedDeltas > 0);
  assert.equal(delivered + buffer.stats().droppedDeltas, 20_000);
  assert.ok(dropped <= buffer.stats().droppedDeltas);
});

Deno.test("OutputBuffer merges a surrogate pair split between deltas and keeps lone surrogates", () => {
  const buffer = new OutputBuffer({ maxBytes: 1000 });
  // A large delta of another key fills the buffer: from then on the deltas of "k" merge.
  buffer.pushDelta("other", "d", {}, { text: "x".repeat(900) });
  const parts = ["a\uD83D", "\uDE00b", "\uD800c", "d", "é€", "\uDBFF"];
  for (let round = 0; round < 3; round++) {
    for (const [i, text] of parts.entries()) buffer.pushDelta("k", "d", { i }, { text });
  }
  const frames = drain(buffer).filter((f) => f.params!.key === "k");
  assert.ok(frames.length < parts.length * 3, "the deltas of k were merged");
  assert.equal(buffer.stats().droppedDeltas, 1, "only the large delta of the other key");
  assert.equal(frames.map((f) => String(f.params!.text)).join(""), parts.join("").repeat(3));
});

Deno.test("OutputBuffer is empty once its last live frame is taken, with merged-away deltas behind it", () => {
  // One frame per batch: the merges leave dead entries behind the last live one.
  const buffer = new OutputBuffer({ maxBytes: 10_000, maxBatchBytes: 1 });
  buffer.pushDelta("k", "m", {}, { text: "x".repeat(20) });
  for (let i = 0; i < 60; i++) buffer.pushDelta("k", "m", {}, { text: "x".repeat(100) });
  assert.ok(buffer.stats().coalescedDeltas > 0, "the test needs merges");
  let text = "";
  for (let batch = buffer.take(); batch !== undefined; batch = buffer.take()) {
    for (const frame of batch.frames) text += JSON.parse(frame).params.text;
    buffer.release(batch.bytes);
    if (text.length === 20 + 60 * 100) {
      // What waits for the output to drain is told so now, not after one more take().
      assert.equal(buffer.empty, true);
    }
  }
  assert.equal(text.length, 20 + 60 * 100);
  assert.equal(buffer.empty, true);
});

Deno.test("OutputBuffer drops a delta whose params cannot be serialised and sends every other frame", () => {
  const buffer = new OutputBuffer({ maxBytes: 1 << 20 });
  void buffer.pushControl(control(1));
  buffer.pushDelta("k", "out", { seq: 1n }, { text: "lost" });
  buffer.pushDelta("j", "out", { seq: 2 }, { text: "kept" });
  void buffer.pushControl(control(2));
  const frames = drain(buffer);
  assert.deepEqual(frames.map((f) => f.params!.i ?? f.params!.text), [1, "kept", 2]);
  assert.equal(buffer.stats().droppedDeltas, 1);
  assert.equal(buffer.empty, true);
});

/** A buffer of 2000 bytes with a batch of 1950 being written: a stream's deltas are all it can drop. */
function busyBuffer(): { buffer: OutputBuffer; inFlight: { bytes: number } } {
  const buffer = new OutputBuffer({ maxBytes: 2000 });
  void buffer.pushControl(JSON.stringify({ p: "x".repeat(1941) }));
  return { buffer, inFlight: buffer.take()! };
}

function sumDropped(frames: Frame[]): number {
  return frames.reduce((n, f) => n + Number(f.params?.dropped ?? 0), 0);
}

Deno.test("OutputBuffer keeps the place of a stream's dropped newest delta, so the client learns of a lost tail before the control frame behind it", () => {
  const { buffer, inFlight } = busyBuffer();
  for (let i = 0; i < 8; i++) {
    buffer.pushDelta("job:1:stdout", "job.output", {}, { text: `${i}`.repeat(100) });
  }
  void buffer.pushControl(JSON.stringify({ jsonrpc: "2.0", method: "job.exit", params: {} }));
  buffer.release(inFlight.bytes);
  const frames = drain(buffer);
  assert.equal(buffer.stats().droppedDeltas, 8);
  assert.equal(sumDropped(frames), 8, "every dropped delta is told on the wire");
  assert.deepEqual(frames.map((f) => f.method), ["job.output", "job.exit"]);
  assert.equal(frames[0].params!.text, "", "the newest delta left a stub with no payload");
  // Nothing is left to carry: the stream's next delta says nothing more.
  buffer.pushDelta("job:1:stdout", "job.output", {}, { text: "y" });
  assert.equal(drain(buffer)[0].params!.dropped, undefined);
});

Deno.test("OutputBuffer stubs take at most an eighth of the bound, then the next delta of the key carries the count", () => {
  const { buffer, inFlight } = busyBuffer();
  for (let i = 0; i < 20; i++) {
    buffer.pushDelta(`job:${i}:stdout`, "job.output", {}, { text: "z".repeat(100) });
  }
  const stubBytes = buffer.stats().queuedBytes - inFlight.bytes;
  assert.ok(stubBytes <= 250, `stubs hold ${stubBytes} bytes`);
  buffer.release(inFlight.bytes);
  const stubs = drain(buffer);
  assert.ok(stubs.length > 0 && stubs.length < 20);
  for (let i = 0; i < 20; i++) buffer.pushDelta(`job:${i}:stdout`, "job.output", {}, { text: "y" });
  assert.equal(sumDropped(stubs) + sumDropped(drain(buffer)), 20);
});

Deno.test("OutputBuffer remembers dropped deltas for the latest 1024 keys only", () => {
  // Each key's one delta is dropped for room, and no later delta of it comes to tell.
  const buffer = new OutputBuffer({ maxBytes: 200 });
  for (let key = 0; key < 1500; key++) {
    buffer.pushDelta(`stream:${key}`, "d", {}, { text: "x".repeat(150) });
  }
  drain(buffer);
  assert.ok(buffer.stats().droppedDeltas >= 1400);
  // The newest keys still say what they lost; the oldest were forgotten (the map is bounded).
  buffer.pushDelta("stream:1498", "d", {}, { text: "y" });
  buffer.pushDelta("stream:0", "d", {}, { text: "y" });
  const [newest, oldest] = drain(buffer);
  assert.equal(newest.params!.dropped, 1);
  assert.equal(oldest.params!.dropped, undefined);
});
