/** The public API's documentation: an example on every export, and examples that type-check. */

import assert from "node:assert/strict";
import { ROOT } from "./_support/gateway_process.ts";

const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
const entryPoints = config.exports as Record<string, string>;

interface DocDeclaration {
  kind: string;
  declarationKind?: string;
  location: { filename: string; line: number };
  jsDoc?: { tags?: { kind: string }[] };
}

Deno.test("Every export of every entry point has JSDoc with an @example", async () => {
  const missing = new Set<string>();
  for (const file of Object.values(entryPoints)) {
    const path = `${ROOT}/${file.slice(2)}`;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["doc", "--json", path],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
    const doc = JSON.parse(new TextDecoder().decode(output.stdout));
    const symbols = doc.nodes[`file://${path}`].symbols as {
      name: string;
      declarations: DocDeclaration[];
    }[];
    assert.ok(symbols.length > 0, `${file} exports nothing`);
    for (const symbol of symbols) {
      for (const declaration of symbol.declarations) {
        if (declaration.declarationKind === "private") continue;
        if (declaration.kind === "import" || declaration.kind === "moduleDoc") continue;
        if ((declaration.jsDoc?.tags ?? []).some((tag) => tag.kind === "example")) continue;
        const where = declaration.location.filename.replace(`file://${ROOT}/`, "");
        missing.add(`${symbol.name} (${where}:${declaration.location.line})`);
      }
    }
  }
  assert.deepEqual([...missing], []);
});

Deno.test("Every documentation example in src/ type-checks", async () => {
  // `deno check --doc-only` imports every export into each snippet, which noUnusedLocals and noUnusedParameters reject,
  // so the check runs with a copy of deno.json without it, the package's subpaths mapped to src/.
  const dir = await Deno.makeTempDir({ prefix: "tuigate-docs-" });
  try {
    const imports = { ...config.imports };
    for (const [subpath, file] of Object.entries(entryPoints)) {
      imports[`@tuigate/tuigate${subpath.slice(1)}`] = `${ROOT}/${file.slice(2)}`;
    }
    await Deno.copyFile(`${ROOT}/deno.lock`, `${dir}/deno.lock`);
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        imports,
        compilerOptions: {
          ...config.compilerOptions,
          noUnusedLocals: false,
          noUnusedParameters: false,
        },
        lock: { path: `${dir}/deno.lock`, frozen: false },
      }),
    );
    const files: string[] = [];
    const walk = async (folder: string) => {
      for await (const entry of Deno.readDir(folder)) {
        if (entry.isDirectory) await walk(`${folder}/${entry.name}`);
        else if (entry.name.endsWith(".ts")) files.push(`${folder}/${entry.name}`);
      }
    };
    await walk(`${ROOT}/src`);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--doc-only", "--config", `${dir}/deno.json`, ...files],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
