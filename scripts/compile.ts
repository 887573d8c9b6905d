/**
 * `deno task compile`: builds single binaries of the gateway with
 * `deno compile`, with the same permissions as `deno task start`, for the
 * five `deno compile` targets (or those named with `--target`).
 *
 * `deno compile` needs a `denort` runtime per target: it downloads it, or
 * takes `DENORT_BIN`. Where neither works this fails with one clear line per
 * target and a non-zero exit, and leaves no binary behind. A `DENORT_BIN`
 * that is the deno CLI itself is refused, and a binary for this machine's
 * own target is run once (`--version`) and deleted unless it starts the
 * gateway: a runtime that is not `denort` builds a file that runs something
 * else.
 *
 *   deno task compile [--target TRIPLE]... [--out-dir dist]
 *
 * A relative `--out-dir` is taken from the repository root, an absolute one as is.
 *
 * @module
 */

import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { VERSION } from "../src/version.ts";

/** The targets `deno compile` supports. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

const root = fileURLToPath(new URL("..", import.meta.url));
const encoder = new TextEncoder();

async function say(text: string): Promise<void> {
  await Deno.stderr.write(encoder.encode(text + "\n"));
}

/**
 * The permission flags of the `start` task in deno.json.
 *
 * @example
 * ```ts
 * import { startPermissions } from "./compile.ts";
 * const flags = await startPermissions(); // ["--allow-read", ...]
 * ```
 */
export async function startPermissions(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  const start: string = config.tasks.start;
  return start.split(/\s+/).filter((word) =>
    word.startsWith("--allow-") || word.startsWith("--v8-flags=")
  );
}

/**
 * The folder binaries are written to: `outDir` itself when it is absolute,
 * else `outDir` inside the repository root.
 *
 * @example
 * ```ts
 * import { outputFolder } from "./compile.ts";
 * outputFolder("/tmp/bin"); // "/tmp/bin"
 * ```
 */
export function outputFolder(outDir: string): string {
  return isAbsolute(outDir) ? outDir : join(root, outDir);
}

/** Explains a failed `deno compile` in one line. */
export function explain(target: string, stderr: string): string {
  const denortBin = Deno.env.get("DENORT_BIN");
  if (
    /dns error|error sending request|failed to lookup|Connection refused|timed out|Download/i.test(
      stderr,
    )
  ) {
    return `Cannot build ${target}: the Deno runtime for compiling (denort) could not be downloaded (no network access); ` +
      "set DENORT_BIN to a local denort binary for that target or run where the Deno download server is reachable";
  }
  if (denortBin !== undefined) {
    return `Cannot build ${target} with DENORT_BIN=${denortBin}: ${lastLine(stderr)}`;
  }
  return `Cannot build ${target}: ${lastLine(stderr)}`;
}

/**
 * Why `denortBin` cannot serve as the compile runtime, or `undefined` when it
 * may: the deno CLI itself is refused, since a binary built on it starts the
 * CLI (a REPL), not the gateway.
 *
 * @example
 * ```ts
 * import { refuseRuntime } from "./compile.ts";
 * await refuseRuntime(Deno.execPath()); // "DENORT_BIN=... is the deno CLI itself, ..."
 * ```
 */
export async function refuseRuntime(
  denortBin: string,
  denoPath: string = Deno.execPath(),
): Promise<string | undefined> {
  const [runtime, deno] = await Promise.all(
    [denortBin, denoPath].map((path) => Deno.realPath(path).catch(() => path)),
  );
  if (runtime !== deno) return undefined;
  return `DENORT_BIN=${denortBin} is the deno CLI itself, not a denort runtime: ` +
    "a binary built on it would start the deno CLI, not the gateway";
}

/**
 * Runs a binary built for this machine with `--version`; resolves with why it
 * is not the gateway, or `undefined` when it printed `tuigate <VERSION>`.
 */
async function notGateway(binary: string): Promise<string | undefined> {
  const expected = `tuigate ${VERSION}`;
  let printed: string;
  try {
    const result = await new Deno.Command(binary, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(30_000),
    }).output();
    printed = new TextDecoder().decode(result.stdout).trim().split("\n")[0];
  } catch (error) {
    return `the binary built could not be run: ${(error as Error).message}`;
  }
  if (printed === expected) return undefined;
  return `the binary built does not start the gateway (\`--version\` printed "${printed}", ` +
    `not "${expected}"); the runtime must be denort`;
}

function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) =>
    l !== "" && !/^\d+:|Stack backtrace/.test(l)
  );
  return lines.at(-1) ?? "deno compile failed";
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      target: { type: "string", multiple: true },
      "out-dir": { type: "string", default: "dist" },
    },
  });
  const targets = values.target ?? [...TARGETS];
  for (const target of targets) {
    if (!(TARGETS as readonly string[]).includes(target)) {
      await say(`compile: unknown target "${target}"; the targets are ${TARGETS.join(", ")}`);
      return 2;
    }
  }
  const denortBin = Deno.env.get("DENORT_BIN");
  const refused = denortBin === undefined ? undefined : await refuseRuntime(denortBin);
  if (refused !== undefined) {
    await say(`compile: ${refused}`);
    return 1;
  }
  const permissions = await startPermissions();
  const outDir = outputFolder(values["out-dir"]);
  await Deno.mkdir(outDir, { recursive: true });
  let failed = 0;
  for (const target of targets) {
    const output = `${outDir}/tuigate-${target}${target.includes("windows") ? ".exe" : ""}`;
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "--quiet",
        ...permissions,
        "--include",
        `${root}src/lifecycle/watchdog_worker.ts`,
        // Loaded with import() after the first answer; named so that no graph analysis can miss them.
        "--include",
        `${root}src/transport/_socket_source.ts`,
        "--include",
        `${root}src/transport/_socket_sink.ts`,
        "--target",
        target,
        "--output",
        output,
        `${root}main.ts`,
      ],
      stdout: "inherit",
      stderr: "piped",
    }).output();
    const wrong = !result.success
      ? explain(target, new TextDecoder().decode(result.stderr))
      : target === Deno.build.target
      ? await notGateway(output).then((why) => why && `Cannot build ${target}: ${why}`)
      : undefined;
    if (wrong === undefined) {
      await say(`compile: built ${output}`);
      continue;
    }
    failed++;
    await Deno.remove(output).catch(() => {});
    await say(`compile: ${wrong}`);
  }
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
