import assert from "node:assert/strict";
import { RotatingFileSink } from "../../src/mod.ts";

Deno.test("RotatingFileSink keeps every file within its size bound in bytes, non-ASCII lines included", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-log-" });
  try {
    const log = new RotatingFileSink(`${dir}/gateway.log`, { maxBytes: 4096, keep: 50 });
    // Three bytes per character: a length in UTF-16 units would undercount threefold.
    const lines = Array.from({ length: 200 }, (_, i) => `${i} ${"日本語".repeat(20)}`);
    for (const line of lines) log.writeLine(line);
    assert.equal(await log.flush(5000), true);
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.ok(names.length > 5, `rotated into ${names.length} files`);
    const seen: string[] = [];
    for (const name of names) {
      const bytes = await Deno.readFile(`${dir}/${name}`);
      assert.ok(bytes.length <= 4096, `${name} holds ${bytes.length} bytes`);
      seen.push(...new TextDecoder().decode(bytes).split("\n").filter((l) => l !== ""));
    }
    assert.deepEqual(seen.sort(), [...lines].sort(), "no line lost or split");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RotatingFileSink says once that its file cannot be written, counts the lines lost, and writes again once it can", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-log-" });
  try {
    // A file where the log's folder should be: opening fails until it is removed.
    await Deno.writeTextFile(`${dir}/logs`, "");
    const errors: unknown[] = [];
    const log = new RotatingFileSink(`${dir}/logs/gateway.log`, {
      retryMs: 100,
      onError: (error) => errors.push(error),
    });
    assert.equal(await log.open(), false, "opened at start, to say at once that it cannot be");
    log.writeLine("a");
    log.writeLine("b");
    assert.equal(await log.flush(1000), true);
    log.writeLine("c"); // within the retry period: dropped without trying
    assert.equal(await log.flush(1000), true);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof Error);
    await Deno.remove(`${dir}/logs`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    log.writeLine("d");
    assert.equal(await log.flush(1000), true);
    assert.deepEqual((await Deno.readTextFile(`${dir}/logs/gateway.log`)).split("\n"), [
      "[tuigate] 3 log lines dropped: the log file could not be written",
      "d",
      "",
    ]);
    assert.equal(errors.length, 1);
    assert.equal(await log.open(), true);
    log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RotatingFileSink never leaves its path missing while it rotates, so an exit midway keeps a current file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-log-" });
  try {
    const path = `${dir}/gateway.log`;
    const log = new RotatingFileSink(path, { maxBytes: 1024, keep: 2 });
    log.writeLine("first");
    assert.equal(await log.flush(1000), true);
    // Look between every step of the sink's work (each of its awaits lets this run).
    let looks = 0;
    let missing = 0;
    let done = false;
    const watching = (async () => {
      while (!done) {
        looks++;
        if (await Deno.stat(path).then(() => false, () => true)) missing++;
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    })();
    for (let i = 0; i < 400; i++) log.writeLine(`${i} ${"x".repeat(100)}`);
    assert.equal(await log.flush(10_000), true);
    done = true;
    await watching;
    log.close();
    assert.ok(looks > 5, `looked ${looks} times`);
    assert.equal(missing, 0, `missing at ${missing} of ${looks} looks`);
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names.sort(), ["gateway.log", "gateway.log.1", "gateway.log.2"]);
    assert.match(await Deno.readTextFile(path), /^399 x+\n$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
