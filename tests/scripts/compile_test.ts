import assert from "node:assert/strict";
import { explain, outputFolder, startPermissions, TARGETS } from "../../scripts/compile.ts";

Deno.test("compile uses exactly the permissions of the start task", async () => {
  const permissions = await startPermissions();
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.ok(permissions.length > 0);
  for (const flag of permissions) assert.ok(config.tasks.start.includes(flag), flag);
  assert.equal(permissions.includes("--allow-all"), false);
  assert.ok(permissions.some((flag) => flag.startsWith("--v8-flags=")));
});

Deno.test("compile knows the five deno compile targets", () => {
  assert.equal(TARGETS.length, 5);
  assert.ok(TARGETS.includes("x86_64-unknown-linux-gnu"));
  assert.ok(TARGETS.includes("x86_64-pc-windows-msvc"));
});

Deno.test("compile explains a runtime that cannot be downloaded in one clear line", () => {
  const stderr =
    "error: Writing deno compile executable\n\nCaused by:\n    0: error sending request\n    3: dns error\n";
  const line = explain("aarch64-apple-darwin", stderr);
  assert.match(
    line,
    /^Cannot build aarch64-apple-darwin: the Deno runtime for compiling \(denort\) could not be downloaded/,
  );
  assert.match(line, /DENORT_BIN/);
  assert.equal(line.includes("\n"), false);
  assert.match(
    explain("x86_64-apple-darwin", 'error: Module not found "file:///x.ts"\n'),
    /Module not found/,
  );
});

Deno.test("compile writes to an absolute --out-dir as given and to a relative one inside the repository", () => {
  const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
  assert.equal(outputFolder("/tmp/tuigate-bin"), "/tmp/tuigate-bin");
  assert.equal(outputFolder("dist"), `${root}/dist`);
  assert.equal(outputFolder("./out/bin/"), `${root}/out/bin/`);
});
