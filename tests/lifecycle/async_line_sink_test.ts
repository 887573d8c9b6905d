import assert from "node:assert/strict";
import { AsyncLineSink } from "../../src/lifecycle/async_line_sink.ts";

/** A sink that accepts nothing until released, then everything. */
class GatedSink {
  text = "";
  #open: Promise<void>;
  release!: () => void;
  constructor() {
    this.#open = new Promise((resolve) => (this.release = resolve));
  }
  async write(p: Uint8Array): Promise<number> {
    await this.#open;
    this.text += new TextDecoder().decode(p);
    return p.length;
  }
}

Deno.test("AsyncLineSink never blocks, drops the oldest lines when full, then says how many", async () => {
  const gated = new GatedSink();
  const sink = new AsyncLineSink(gated, { maxLines: 10 });
  const started = performance.now();
  for (let i = 0; i < 1000; i++) sink.writeLine(`line ${i}`);
  assert.ok(performance.now() - started < 200);
  assert.equal(await sink.flush(50), false); // the sink is wedged: flush gives up
  gated.release();
  assert.equal(await sink.flush(1000), true);
  const lines = gated.text.trim().split("\n");
  // The first line written went out before the queue filled; then the newest 10 survive.
  assert.match(lines.join("\n"), /\[tuigate\] \d+ log lines dropped/);
  assert.equal(lines.at(-1), "line 999");
  assert.ok(lines.length <= 12, `${lines.length} lines`);
  assert.ok(sink.dropped >= 989);
});

Deno.test("AsyncLineSink stops quietly when its stream is gone", async () => {
  const sink = new AsyncLineSink({
    write: () => Promise.reject(new Deno.errors.BrokenPipe("Broken pipe")),
  });
  sink.writeLine("a");
  sink.writeLine("b");
  assert.equal(await sink.flush(100), true);
  sink.writeLine("c"); // ignored, never throws
});
