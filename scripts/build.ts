/**
 * `deno task build`: bundles the gateway into plain JavaScript with
 * `deno bundle` (code splitting, minified, names kept). The folder it writes
 * needs nothing but `deno` to run: no deno.json, no lock, no npm download
 * (zod and LogTape are inside, as chunks loaded when first needed). It starts
 * sooner than the TypeScript source, since Deno loads a few chunks instead of
 * some seventy modules; run it with the start task's flags
 * (`deno task start:dist`).
 *
 *   deno task build [--out-dir dist/js] [--entry main.ts]... [--sourcemap]
 *
 * `deno bundle` leaves the watchdog worker's `new URL("./watchdog_worker.ts",
 * import.meta.url)` as it is, which would name a file that is not there: the
 * worker is bundled as an entry of its own and every such URL is pointed at
 * it. The build fails with one clear line when that URL is not found, or when
 * an `npm:`, `jsr:` or remote import is left in the output. A relative
 * `--out-dir` is taken from the repository root. It is replaced whole, so it
 * must be empty, missing, or a folder this script wrote before.
 *
 * @module
 */

import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const WORKER_ENTRY = "src/lifecycle/watchdog_worker.ts";
const WORKER_URL = '"./watchdog_worker.ts"';
const MARKER = ".tuigate-build";
const LEFT_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)["'](?:npm:|jsr:|https?:)[^"']*["']/;

/** Options for {@linkcode build}. */
export interface BuildOptions {
  /**
   * The entry modules, relative to the repository root or absolute.
   * @default {["main.ts"]}
   */
  entries?: string[];
  /**
   * Whether to write linked source maps (`.js.map`). They make stacks
   * readable, and cost about 2 ms of start-up, as Deno reads them at load.
   * @default {false}
   */
  sourcemap?: boolean;
}

/** What {@linkcode build} wrote. */
export interface BuildResult {
  /** The output folder. */
  outDir: string;
  /** Each entry's built file, in the order of the entries. */
  entries: string[];
  /** The bundled watchdog worker. */
  worker: string;
  /** Every `.js` file written. */
  files: string[];
  /** How many watchdog worker URLs were pointed at the built worker. */
  workerUrls: number;
}

/**
 * Bundles `entries` (and the watchdog worker) into `outDir`, replacing it.
 *
 * @example
 * ```ts
 * import { build } from "./build.ts";
 * const { entries } = await build("/tmp/tuigate-js");
 * // deno run <the start task's flags> /tmp/tuigate-js/main.js
 * ```
 */
export async function build(outDir: string, options: BuildOptions = {}): Promise<BuildResult> {
  const out = isAbsolute(outDir) ? outDir : join(root, outDir);
  const entries = (options.entries ?? ["main.ts"]).map((e) => isAbsolute(e) ? e : join(root, e));
  await mustBeReplaceable(out);
  const staging = `${out}.staging-${Deno.pid}`;
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  try {
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform=deno",
        "--code-splitting",
        "--minify",
        "--keep-names",
        ...(options.sourcemap ? ["--sourcemap=linked"] : []),
        "--outdir",
        staging,
        ...entries,
        join(root, WORKER_ENTRY),
      ],
      cwd: root,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!result.success) {
      const stderr = new TextDecoder().decode(result.stderr).trim().split("\n");
      throw new Error(
        `Cannot build: deno bundle failed: ${stderr.at(-1) ?? `exit ${result.code}`}`,
      );
    }
    const files = await jsFiles(staging);
    const worker = files.find((file) => basename(file) === "watchdog_worker.js");
    if (worker === undefined) throw new Error("Cannot build: deno bundle wrote no watchdog worker");
    let workerUrls = 0;
    for (const file of files) {
      const text = await Deno.readTextFile(file);
      const left = text.match(LEFT_IMPORT);
      if (left !== null) {
        throw new Error(
          `Cannot build: ${relative(staging, file)} still imports ${
            left[0]
          }, which would need a download at run time`,
        );
      }
      const parts = text.split(WORKER_URL);
      if (parts.length === 1) continue;
      workerUrls += parts.length - 1;
      const path = relative(dirname(file), worker);
      await Deno.writeTextFile(
        file,
        parts.join(JSON.stringify(path.startsWith("../") ? path : `./${path}`)),
      );
    }
    if (workerUrls === 0) {
      throw new Error(
        `Cannot build: the watchdog worker's URL (${WORKER_URL}) is not in the bundle, so the gateway would run without its watchdog`,
      );
    }
    await Deno.writeTextFile(
      `${staging}/${MARKER}`,
      "Written by deno task build; replaced whole.\n",
    );
    await Deno.remove(out, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    await Deno.mkdir(dirname(out), { recursive: true });
    await Deno.rename(staging, out);
    const moved = (file: string) => join(out, relative(staging, file));
    return {
      outDir: out,
      entries: entries.map((entry) => moved(builtPath(staging, files, entry))),
      worker: moved(worker),
      files: files.map(moved),
      workerUrls,
    };
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

/** Refuses an output folder that holds files this script did not write. */
async function mustBeReplaceable(out: string): Promise<void> {
  let empty = true;
  try {
    for await (const _ of Deno.readDir(out)) {
      empty = false;
      break;
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (empty) return;
  try {
    await Deno.stat(`${out}/${MARKER}`);
  } catch {
    throw new Error(
      `Cannot build into ${out}: it holds files that deno task build did not write (no ${MARKER}); name an empty or new folder`,
    );
  }
}

/** The built file of `entry`: the one whose path ends like the entry's, with `.js`. */
function builtPath(staging: string, files: string[], entry: string): string {
  const stem = entry.replace(/\.[cm]?[jt]sx?$/, "");
  const found = files
    .filter((file) => stem.endsWith(`/${relative(staging, file).replace(/\.js$/, "")}`))
    .sort((a, b) => b.length - a.length)[0];
  if (found === undefined) throw new Error(`Cannot build: no output for ${entry}`);
  return found;
}

async function jsFiles(folder: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(folder)) {
    const path = join(folder, entry.name);
    if (entry.isDirectory) files.push(...await jsFiles(path));
    else if (entry.isFile && entry.name.endsWith(".js")) files.push(path);
  }
  return files.sort();
}

async function main(): Promise<number> {
  const say = (text: string) => Deno.stderr.write(new TextEncoder().encode(`build: ${text}\n`));
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        "out-dir": { type: "string", default: "dist/js" },
        entry: { type: "string", multiple: true },
        sourcemap: { type: "boolean", default: false },
      },
    }));
  } catch (error) {
    await say((error as Error).message);
    return 2;
  }
  try {
    const result = await build(values["out-dir"], {
      entries: values.entry,
      sourcemap: values.sourcemap,
    });
    for (const entry of result.entries) await say(`built ${entry}`);
    return 0;
  } catch (error) {
    await say((error as Error).message);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main());
