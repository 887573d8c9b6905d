/**
 * Test support: a library gateway whose application configured LogTape
 * itself, with tuigate's own debug records, before `runStdio` (and never
 * called `useLogtape`: tuigate finds the configuration when it loads LogTape).
 *
 * - `seen` -> how many tuigate debug records the application's sink received
 *
 * @module
 */

import { configure } from "@logtape/logtape";
import { Gateway, runStdio } from "../../src/mod.ts";

let seen = 0;
await configure({
  sinks: { mine: () => seen++ },
  loggers: [
    { category: ["tuigate"], lowestLevel: "debug", sinks: ["mine"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
  ],
});
const gateway = new Gateway({ name: "own-debug-logtape" });
gateway.register({ name: "seen", handler: () => seen });
await runStdio(gateway);
