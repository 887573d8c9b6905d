import assert from "node:assert/strict";

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string } }[];
}

/** The specifiers the code of `root` reaches at run time: type-only imports left out. */
async function codeGraph(root: string): Promise<Set<string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", root],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success, "deno info failed");
  const info: { roots: string[]; modules: InfoModule[] } = JSON.parse(
    new TextDecoder().decode(output.stdout),
  );
  const bySpecifier = new Map(info.modules.map((module) => [module.specifier, module]));
  const reached = new Set<string>();
  const queue = [...info.roots];
  while (queue.length > 0) {
    const specifier = queue.pop()!;
    if (reached.has(specifier)) continue;
    reached.add(specifier);
    for (const dependency of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dependency.code !== undefined) queue.push(dependency.code.specifier);
    }
  }
  return reached;
}

Deno.test("The library's code reaches no npm package by a literal import, so none is resolved at start", async () => {
  const reached = await codeGraph("src/mod.ts");
  assert.ok(reached.size > 20, `the graph looks incomplete: ${reached.size} modules`);
  const npm = [...reached].filter((specifier) => specifier.startsWith("npm:"));
  assert.deepEqual(npm, []);
  // Before the first answer only node:async_hooks (AsyncLocalStorage, issue 4); node:fs and
  // node:net are imported for the stdio move after it.
  const node = [...reached].filter((specifier) => specifier.startsWith("node:")).sort();
  assert.deepEqual(node, ["node:async_hooks", "node:fs", "node:net"]);
});
