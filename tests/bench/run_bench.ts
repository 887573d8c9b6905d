/**
 * `deno task bench`: runs the shared stdio benchmark harness
 * (`../shared/bench`) with the tuigate bench gateway beside the reference
 * servers, all in one run, prints the harness's tables and the target
 * ratios computed from that same run, then the stdio floors (see
 * {@link ./stdio_floor.ts}) beside tuigate, the MCP SDK server and the naive
 * Deno server, then the delta slow-reader benchmark.
 *
 *   deno task bench [--reps 3] [--servers a,b] [--skip-harness] [--skip-floors] [--skip-slow-reader] [-- client options]
 *
 * The bench gateway runs twice: `tuigate` from its TypeScript source, and
 * `tuigate_built` prebuilt into `.bench/built` as `deno task build` does
 * (scripts/build.ts), both with the start task's flags; the targets are
 * given for each.
 *
 * The shared folder is read-only, so the harness is copied to
 * `.bench/harness` and its npm dependencies installed
 * there. Raw results go to `.bench/raw-STAMP.jsonl`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { build } from "../../scripts/build.ts";
import { startFlags } from "./_start_flags.ts";

const root = new URL("../../", import.meta.url).pathname;
const encoder = new TextEncoder();
const REFERENCES = [
  "py_threaded",
  "node_mcp_sdk",
  "node_vscode_jsonrpc",
  "deno_naive",
  "limit_cat",
  "limit_flood",
];

async function say(text: string): Promise<void> {
  await Deno.stdout.write(encoder.encode(text + "\n"));
}

async function run(cmd: string, args: string[], cwd: string, capture = false): Promise<string> {
  const result = await new Deno.Command(cmd, {
    args,
    cwd,
    stdout: capture ? "piped" : "inherit",
    stderr: "inherit",
  }).output();
  if (!result.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed with exit code ${result.code}`);
  }
  return capture ? new TextDecoder().decode(result.stdout) : "";
}

async function prepareHarness(source: string, scratch: string): Promise<string> {
  const harness = `${scratch}/harness`;
  await Deno.mkdir(harness, { recursive: true });
  for await (const entry of Deno.readDir(source)) {
    if (entry.name === "node_modules" || entry.name === "results") continue;
    if (entry.isDirectory) {
      await Deno.mkdir(`${harness}/${entry.name}`, { recursive: true });
      for await (const inner of Deno.readDir(`${source}/${entry.name}`)) {
        if (inner.isFile) {
          await Deno.copyFile(
            `${source}/${entry.name}/${inner.name}`,
            `${harness}/${entry.name}/${inner.name}`,
          );
        }
      }
    } else if (entry.isFile) {
      await Deno.copyFile(`${source}/${entry.name}`, `${harness}/${entry.name}`);
    }
  }
  await Deno.mkdir(`${harness}/results/scratch`, { recursive: true });
  try {
    await Deno.stat(`${harness}/node_modules/@modelcontextprotocol/sdk`);
  } catch {
    await say("bench: installing the harness's npm dependencies");
    await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], harness);
  }
  return harness;
}

// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function figure(rows: Row[], server: string, test: string, field: string): number {
  return median(
    rows.filter((r) => r.server === server && r.test === test && !r.superseded && r.ok).map((r) =>
      Number(r[field])
    ),
  );
}

function ratioRow(
  name: string,
  value: number,
  target: string,
  pass: boolean,
  detail: string,
): string[] {
  return [
    name,
    Number.isFinite(value) ? value.toFixed(2) : "n/a",
    target,
    pass ? "yes" : "NO",
    detail,
  ];
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  return [
    line(rows[0]),
    "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|",
    ...rows.slice(1).map(line),
  ].join("\n");
}

async function targets(
  rows: Row[],
  t: string,
  options: { ledgerPath: string; graceMs: number },
): Promise<string> {
  const { ledgerPath, graceMs } = options;
  const mcp = "node_mcp_sdk";
  const rpc = figure(rows, t, "rpc", "req_s") / figure(rows, mcp, "rpc", "req_s");
  const p99t = figure(rows, t, "rpc", "lat_p99_us");
  const p99m = figure(rows, mcp, "rpc", "lat_p99_us");
  const push = figure(rows, t, "push", "notif_s") / figure(rows, mcp, "push", "notif_s");
  const others = ["py_threaded", "node_mcp_sdk", "node_vscode_jsonrpc", "deno_naive"];
  const bestLarge = Math.max(
    ...others.map((s) => figure(rows, s, "large", "mb_s")).filter(Number.isFinite),
  );
  const large = figure(rows, t, "large", "mb_s") / bestLarge;
  const startup = figure(rows, t, "startup", "startup_ms") /
    figure(rows, "deno_naive", "startup", "startup_ms");
  const wedged = rows.filter((r) => r.server === t && r.test === "sigterm_wedged" && !r.superseded);
  const exitMs = median(wedged.map((r) => Number(r.exit_ms)));
  const allZero = wedged.length > 0 && wedged.every((r) => r.exit_code === 0);
  let ledgerLines = 0;
  try {
    ledgerLines = (await Deno.readTextFile(ledgerPath)).split("\n")
      .filter((l) => l.includes('"event":"exit"') && /"signal":"SIGTERM"/.test(l)).length;
  } catch { /* none */ }
  return table([
    ["target", "measured", "goal", "met", "figures (medians, this run)"],
    ratioRow(
      "rpc throughput vs MCP SDK",
      rpc,
      ">= 1.5x",
      rpc >= 1.5,
      `${figure(rows, t, "rpc", "req_s").toFixed(0)} vs ${
        figure(rows, mcp, "rpc", "req_s").toFixed(0)
      } req/s`,
    ),
    ratioRow(
      "rpc p99 latency vs MCP SDK",
      p99t / p99m,
      "<= 1.0x",
      p99t <= p99m,
      `${p99t.toFixed(0)} vs ${p99m.toFixed(0)} us`,
    ),
    ratioRow(
      "push throughput vs MCP SDK",
      push,
      ">= 2x",
      push >= 2,
      `${figure(rows, t, "push", "notif_s").toFixed(0)} vs ${
        figure(rows, mcp, "push", "notif_s").toFixed(0)
      } notif/s`,
    ),
    ratioRow(
      "large frames vs best reference",
      large,
      ">= 1.3x",
      large >= 1.3,
      `${figure(rows, t, "large", "mb_s").toFixed(1)} vs ${bestLarge.toFixed(1)} MB/s`,
    ),
    ratioRow(
      "startup vs naive Deno",
      startup,
      "<= 1.2x",
      startup <= 1.2,
      `${figure(rows, t, "startup", "startup_ms").toFixed(1)} vs ${
        figure(rows, "deno_naive", "startup", "startup_ms").toFixed(1)
      } ms`,
    ),
    [
      "SIGTERM with stdout wedged",
      Number.isFinite(exitMs) ? `${exitMs.toFixed(0)} ms` : "n/a",
      `exit 0, ledger, <= ${graceMs + 100} ms`,
      allZero && exitMs <= graceMs + 100 && ledgerLines >= wedged.length ? "yes" : "NO",
      `exit codes ${
        wedged.map((r) => r.exit_code).join(",")
      }; ${ledgerLines} ledger lines for ${wedged.length} runs`,
    ],
  ]);
}

/** A server entry of the harness's `servers.json`. */
interface Server {
  name: string;
  framing: string;
  cmd: string[];
  env?: Record<string, string>;
}

/** Runs one `client.mjs` test against one server; the JSON line it prints. */
async function clientTest(harness: string, server: Server, test: string): Promise<Row> {
  const [cmd, ...args] = server.cmd;
  const result = await new Deno.Command("node", {
    args: ["client.mjs", "--framing", server.framing, "--test", test, "--label", server.name, "--"]
      .concat(cmd, args),
    cwd: harness,
    env: server.env,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const lines = new TextDecoder().decode(result.stdout).split("\n").filter((l) =>
    l.startsWith("{")
  );
  if (!result.success || lines.length === 0) {
    throw new Error(`client.mjs --test ${test} for ${server.name} failed (exit ${result.code})`);
  }
  return JSON.parse(lines[lines.length - 1]);
}

/**
 * Measures the stdio floors (tests/bench/stdio_floor.ts) beside tuigate, the
 * MCP SDK server and the naive Deno server: startup and rpc, interleaved so
 * every figure comes from the same minutes. No server can beat the floor of
 * the stdio path it uses, so these rows say how much of a gap is the runtime's.
 */
async function floors(
  harness: string,
  tuigate: Server[],
  shared: Server[],
  reps: number,
): Promise<string> {
  const floor = (name: string, flags: string[]): Server => ({
    name,
    framing: "ndjson",
    cmd: [Deno.execPath(), "run", "--quiet", "-A", `${root}tests/bench/stdio_floor.ts`, ...flags],
    env: { DENO_NO_UPDATE_CHECK: "1" },
  });
  const byName = (name: string) => shared.find((s) => s.name === name);
  const plan: [Server | undefined, string[]][] = [
    ...tuigate.map((server): [Server, string[]] => [server, ["startup", "rpc"]]),
    [byName("node_mcp_sdk"), ["rpc"]],
    [byName("deno_naive"), ["startup"]],
    [floor("floor_deno_stdio", []), ["startup", "rpc"]],
    [floor("floor_deno_stdio_async_hooks", ["--async-hooks"]), ["startup"]],
    [floor("floor_node_net", ["--stdio", "node-net"]), ["rpc"]],
  ];
  const rows: Row[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const [server, tests] of plan) {
      if (server === undefined) continue;
      for (const test of tests) rows.push(await clientTest(harness, server, test));
    }
  }
  const cell = (server: string, test: string, field: string, digits: number) => {
    const value = median(
      rows.filter((r) => r.label === server && r.test === test && r.ok !== false)
        .map((r) => Number(r[field])),
    );
    return Number.isFinite(value) ? value.toFixed(digits) : "-";
  };
  const names = plan.flatMap(([server]) => server === undefined ? [] : [server.name]);
  return table([
    ["server", "startup (ms)", "rpc (req/s)", "p50 W=1 (us)", "p99 W=1 (us)"],
    ...names.map((name) => [
      name,
      cell(name, "startup", "startup_ms", 1),
      cell(name, "rpc", "req_s", 0),
      cell(name, "rpc", "lat_p50_us", 0),
      cell(name, "rpc", "lat_p99_us", 0),
    ]),
  ]);
}

/** The `--v8-flags=…` of the start task, so the bench gateway runs as the product does. */
async function main(): Promise<void> {
  const dashdash = Deno.args.indexOf("--");
  const own = dashdash === -1 ? Deno.args : Deno.args.slice(0, dashdash);
  const extra = dashdash === -1 ? [] : Deno.args.slice(dashdash + 1);
  const { values } = parseArgs({
    args: own,
    options: {
      reps: { type: "string", default: "3" },
      servers: { type: "string" },
      "skip-harness": { type: "boolean", default: false },
      "skip-floors": { type: "boolean", default: false },
      "skip-slow-reader": { type: "boolean", default: false },
      "shared-dir": { type: "string", default: `${root}../shared/bench` },
    },
  });
  const scratch = `${root}.bench`;
  await Deno.mkdir(scratch, { recursive: true });
  // The same gateway twice: from its TypeScript source, and prebuilt as `deno task build` does.
  const built = await build(`${scratch}/built`, { entries: ["tests/bench/bench_gateway.ts"] });
  const gateway = (name: string, script: string): Server & { ledger: string } => ({
    name,
    framing: "ndjson",
    cmd: [Deno.execPath(), "run", "--quiet", ...startFlags(), script],
    env: { TUIGATE_CRASH_LOG: `${scratch}/${name}-exits.jsonl`, DENO_NO_UPDATE_CHECK: "1" },
    ledger: `${scratch}/${name}-exits.jsonl`,
  });
  const tuigate = [
    gateway("tuigate", `${root}tests/bench/bench_gateway.ts`),
    gateway("tuigate_built", built.entries[0]),
  ];
  const needHarness = !values["skip-harness"] || !values["skip-floors"];
  const harness = needHarness ? await prepareHarness(values["shared-dir"]!, scratch) : "";
  const shared: Server[] = needHarness
    ? JSON.parse(await Deno.readTextFile(`${harness}/servers.json`)).servers
    : [];
  if (!values["skip-harness"]) {
    for (const { ledger } of tuigate) await Deno.remove(ledger).catch(() => {});
    const servers = [
      ...tuigate.map(({ ledger: _, ...server }) => server),
      ...shared.filter((s) => REFERENCES.includes(s.name)),
    ]
      .filter((s) => values.servers === undefined || values.servers.split(",").includes(s.name));
    const serversFile = `${scratch}/servers.json`;
    await Deno.writeTextFile(serversFile, JSON.stringify({ servers }, null, 2));
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const out = `${scratch}/raw-${stamp}.jsonl`;
    await say(
      `bench: node run.mjs --reps ${values.reps} --servers-file ${serversFile} --out ${out}`,
    );
    await run("node", [
      "run.mjs",
      "--reps",
      values.reps!,
      "--servers-file",
      serversFile,
      "--out",
      out,
      ...(extra.length ? ["--", ...extra] : []),
    ], harness);
    await say(await run("node", ["report.mjs", out], harness, true));
    const rows: Row[] = (await Deno.readTextFile(out)).split("\n").filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l));
    for (const { name, ledger } of tuigate) {
      if (!rows.some((row) => row.server === name)) continue;
      const form = name === "tuigate" ? "from TypeScript source" : "prebuilt with deno task build";
      await say(`\n## ${name} targets, the gateway ${form} (ratios within this run)\n`);
      await say(await targets(rows, name, { ledgerPath: ledger, graceMs: 1000 }));
    }
  }
  if (!values["skip-floors"]) {
    await say("\n## stdio floors (startup and rpc, interleaved, medians of --reps)\n");
    await say(await floors(harness, tuigate, shared, Number(values.reps)));
  }
  if (!values["skip-slow-reader"]) {
    await run(Deno.execPath(), ["run", "-A", `${root}tests/bench/slow_reader_bench.ts`], root);
  }
}

if (import.meta.main) await main();
