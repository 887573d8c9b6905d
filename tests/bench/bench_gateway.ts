/**
 * The benchmark gateway: built with the library API, it registers the two
 * methods of the ../shared/bench wire contract, `echo` and `flood`. It is
 * what `deno task bench` measures against the reference servers.
 *
 * `flood` sends its ticks as control notifications through the normal
 * output path (the bounded buffer, with back-pressure when it is full).
 *
 * @module
 */

import { Gateway, runStdio } from "../../src/mod.ts";

const gateway = new Gateway({ name: "tuigate-bench", announceReady: false });

gateway.register({
  name: "echo",
  summary: "Returns its params",
  handler: (params) => params,
});

gateway.register({
  name: "flood",
  summary: "Sends `count` tick notifications of `size` bytes, then answers",
  handler: async (params, context) => {
    const { count, size } = params as { count: number; size: number };
    const data = "x".repeat(size);
    for (let i = 0; i < count; i++) {
      await context.notify("tick", { i, data });
      if (context.signal.aborted) break;
    }
    return { sent: count };
  },
});

gateway.register({
  name: "deltas",
  summary:
    "Offers `count` delta notifications of `size` bytes under one key, with a control `mark` every `markEvery`",
  handler: async (params, context) => {
    const { count, size, markEvery, distinct } = params as {
      count: number;
      size: number;
      markEvery: number;
      distinct?: boolean;
    };
    const shared = "d".repeat(size);
    for (let i = 0; i < count; i++) {
      // Distinct texts, as a real stream makes them (a shared one flatters the heap).
      const text = distinct === true ? String(i).padStart(size, "d") : shared;
      context.delta("bench", "stream.delta", { first: i }, { text });
      if (i % markEvery === markEvery - 1) await context.notify("mark", { i });
      // Yield now and then so other requests (a ping) are served during the flood.
      if (i % 4096 === 4095) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return { offered: count };
  },
});

await runStdio(gateway, {
  // As main.ts does with --stdio-io: TUIGATE_STDIO_IO=deno measures the Deno.stdin/stdout path.
  stdioSockets: Deno.env.get("TUIGATE_STDIO_IO") !== "deno",
  crashLog: Deno.env.get("TUIGATE_CRASH_LOG") ??
    `${Deno.env.get("TMPDIR") ?? "/tmp"}/tuigate-bench-exits.jsonl`,
});
