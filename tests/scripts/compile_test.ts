import assert from "node:assert/strict";
import {
  explain,
  outputFolder,
  refuseRuntime,
  startPermissions,
  TARGETS,
} from "../../scripts/compile.ts";

const root = new URL("../../", import.meta.url);
const hostTarget = (TARGETS as readonly string[]).includes(Deno.build.target);

/** Runs `deno task compile`'s script for this machine's target into `outDir`, with `DENORT_BIN`. */
async function compileHost(outDir: string, denortBin: string) {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "scripts/compile.ts",
      "--target",
      Deno.build.target,
      "--out-dir",
      outDir,
    ],
    cwd: root,
    env: { DENORT_BIN: denortBin },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(result.stderr).trimEnd();
  const files = [];
  for await (const entry of Deno.readDir(outDir)) files.push(entry.name);
  return { code: result.code, lines: stderr.split("\n"), files };
}

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

Deno.test(
  "compile refuses a DENORT_BIN that is the deno CLI itself in one line and builds nothing",
  {
    ignore: !hostTarget,
  },
  async () => {
    const outDir = await Deno.makeTempDir();
    try {
      const { code, lines, files } = await compileHost(outDir, Deno.execPath());
      assert.equal(code, 1);
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(
        lines[0],
        /^compile: DENORT_BIN=.* is the deno CLI itself, not a denort runtime/,
      );
      assert.deepEqual(files, []);
    } finally {
      await Deno.remove(outDir, { recursive: true });
    }
  },
);

Deno.test("compile refuses the deno CLI behind a symlink and accepts any other file as DENORT_BIN", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.symlink(Deno.execPath(), `${dir}/denort`);
    assert.match((await refuseRuntime(`${dir}/denort`))!, /is the deno CLI itself/);
    await Deno.writeTextFile(`${dir}/other`, "");
    assert.equal(await refuseRuntime(`${dir}/other`), undefined);
    assert.equal(await refuseRuntime(`${dir}/missing`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compile deletes a binary for this machine that does not start the gateway", {
  ignore: !hostTarget,
}, async () => {
  // A hard link (or copy) of the deno CLI passes the path check, builds, and then runs as the CLI.
  const dir = await Deno.makeTempDir();
  const outDir = `${dir}/out`;
  await Deno.mkdir(outDir);
  const runtime = `${dir}/not-denort`;
  try {
    await Deno.link(Deno.execPath(), runtime).catch(() => Deno.copyFile(Deno.execPath(), runtime));
    const { code, lines, files } = await compileHost(outDir, runtime);
    assert.equal(code, 1);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0],
      /^compile: Cannot build .*: the binary built does not start the gateway \(`--version` printed "deno \d/,
    );
    assert.match(lines[0], /not "tuigate \d+\.\d+\.\d+"\); the runtime must be denort$/);
    assert.deepEqual(files, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
