import assert from "node:assert/strict";
import { type QuietTarget, whenQuiet } from "../../src/lifecycle/_when_quiet.ts";

/** A client whose reads and output are set by the test; counts how often it is looked at. */
class FakeClient implements QuietTarget {
  looks = 0;
  read = 0;
  empty = true;
  readonly peer = { output: this };
  /** Reads on every look when `always`: a client that never pauses. */
  always = false;
  get bytesIn(): number {
    this.looks++;
    if (this.always) this.read++;
    return this.read;
  }
}

/** Awaits `promise` while a timer keeps the event loop alive (whenQuiet's timers do not). */
async function held<T>(promise: Promise<T>): Promise<T> {
  const keepAlive = setInterval(() => {}, 50);
  try {
    return await promise;
  } finally {
    clearInterval(keepAlive);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("whenQuiet looks less and less often while the client never pauses, and gives up at maxMs", async () => {
  const client = new FakeClient();
  client.always = true;
  const started = performance.now();
  await held(whenQuiet(client, { maxMs: 600 }));
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 590, `resolved after ${elapsed} ms, before maxMs`);
  // Looking every 5 ms would take 120 looks; the gaps double up to a second.
  assert.ok(client.looks <= 20, `${client.looks} looks in 600 ms`);
});

Deno.test("whenQuiet resolves at the first pause after a busy spell, not during it", async () => {
  const client = new FakeClient();
  const busy = setInterval(() => client.read += 100, 1);
  let resolvedAt = 0;
  const quiet = whenQuiet(client, { maxGapMs: 100 }).then(() => resolvedAt = performance.now());
  await delay(200);
  clearInterval(busy);
  const pausedAt = performance.now();
  await held(quiet);
  assert.ok(resolvedAt >= pausedAt, "resolved while the client was still sending");
  assert.ok(resolvedAt - pausedAt < 1000, `resolved ${resolvedAt - pausedAt} ms after the pause`);
});

Deno.test("whenQuiet counts waiting output as busy", async () => {
  const client = new FakeClient();
  client.empty = false;
  let resolved = false;
  const quiet = whenQuiet(client, { maxGapMs: 20 }).then(() => resolved = true);
  await delay(100);
  assert.equal(resolved, false);
  client.empty = true;
  await held(quiet);
  assert.equal(resolved, true);
});

Deno.test("whenQuiet ends as soon as stop() says so", async () => {
  const client = new FakeClient();
  client.always = true;
  let asked = 0;
  const started = performance.now();
  await held(whenQuiet(client, { stop: () => ++asked === 3 }));
  assert.equal(asked, 3);
  assert.ok(performance.now() - started < 1000);
});
