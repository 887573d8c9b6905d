/**
 * The flags of `deno task start` (permissions and V8 flags, what the
 * compiled binary gets too), so that benchmarks run the gateway as users do.
 *
 * @module
 */

/** The words between `run` and `main.ts` in the start task, without `--quiet`. */
export function startFlags(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)));
  const words = String(config.tasks.start).split(/\s+/);
  return words.slice(words.indexOf("run") + 1, words.indexOf("main.ts"))
    .filter((word) => word !== "" && word !== "--quiet");
}
