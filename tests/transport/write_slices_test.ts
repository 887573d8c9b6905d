import assert from "node:assert/strict";
import { WriteSlices } from "../../src/transport/_write_slices.ts";

/** Runs one write of `bytes` that takes `ms`, as the writer would. */
async function write(slices: WriteSlices, bytes: number, ms: number, overBound = false) {
  const limit = slices.next(overBound);
  const n = Math.min(bytes, limit);
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  slices.written(n);
  return limit;
}

Deno.test("WriteSlices starts small and grows only after more than a kernel buffer went fast", async () => {
  const slices = new WriteSlices();
  assert.equal(slices.limit, 16 * 1024);
  // A pipe with room takes 64 KiB at once whatever its reader does: no growth from that.
  for (let i = 0; i < 4; i++) await write(slices, 1 << 20, 0);
  assert.equal(slices.limit, 16 * 1024);
  // A reader that keeps taking slices fast earns larger ones, up to 4 MiB.
  for (let i = 0; i < 1000 && slices.limit < 4 << 20; i++) await write(slices, 8 << 20, 0);
  assert.equal(slices.limit, 4 << 20);
  assert.equal(slices.next(true), 256 * 1024, "over the bound, at most 256 KiB");
});

Deno.test("WriteSlices cuts writes down to half a second of a slow reader, never below 4 KiB", async () => {
  const slices = new WriteSlices();
  // 16 KiB in 800 ms (20 kB/s): slices of half a second, about 10 kB.
  await write(slices, 1 << 20, 800);
  assert.ok(slices.limit >= 9_000 && slices.limit <= 11_000, `limit ${slices.limit}`);
  // Slower still: the floor.
  await write(slices, 1 << 20, 1300);
  assert.equal(slices.limit, 4 * 1024);
  // 4 KiB in 20 ms (200 kB/s) would allow 100 kB: the slices grow at most twofold per write.
  await write(slices, 1 << 20, 20);
  assert.equal(slices.limit, 8 * 1024);
  // Fast again: it takes another mebibyte of fast writes to grow.
  await write(slices, 1 << 20, 0);
  assert.equal(slices.limit, 8 * 1024);
  for (let i = 0; i < 150; i++) await write(slices, 1 << 20, 0);
  assert.equal(slices.limit, 32 * 1024);
});
