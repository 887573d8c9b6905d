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
