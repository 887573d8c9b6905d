/**
 * The benchmark gateway's `echo`, plus a record of young-generation
 * collections: each echo reads `Deno.memoryUsage().heapUsed`, and a drop
 * since the previous echo means a collection ran between them. `probe`
 * answers `{ echoes, drops: [echoIndex, bytesFreed][] }`. Used by
 * `latency_tail_bench.ts`; the extra read costs about a microsecond per echo.
 *
 * @module
 */

import { Gateway, runStdio } from "../../src/mod.ts";

const gateway = new Gateway({ name: "tuigate-gc-probe", announceReady: false });
const drops: [number, number][] = [];
let echoes = 0;
let lastUsed = 0;

gateway.register({
  name: "echo",
  summary: "Returns its params, noting a collection since the last echo",
  handler: (params) => {
    const used = Deno.memoryUsage().heapUsed;
    if (used < lastUsed) drops.push([echoes, lastUsed - used]);
    lastUsed = used;
    echoes++;
    return params;
  },
});

gateway.register({
  name: "probe",
  summary: "Echoes so far and the collections seen between them",
  handler: () => ({ echoes, drops }),
});

await runStdio(gateway, {
  // As the benchmark gateway: TUIGATE_STDIO_IO=deno measures the Deno.stdin/stdout path.
  stdioSockets: Deno.env.get("TUIGATE_STDIO_IO") !== "deno",
  crashLog: Deno.env.get("TUIGATE_CRASH_LOG") ??
    `${Deno.env.get("TMPDIR") ?? "/tmp"}/tuigate-bench-exits.jsonl`,
});
