/**
 * Test support: a library gateway whose application configured LogTape
 * itself before `runStdio`.
 *
 * - `probe` -> the messages the application's own sink has seen, after logging one more
 *
 * @module
 */

import { configure, getLogger } from "@logtape/logtape";
import { Gateway, runStdio } from "../../src/mod.ts";

const seen: string[] = [];
await configure({
  sinks: { mine: (record) => seen.push(record.message.join("")) },
  loggers: [{ category: ["app"], lowestLevel: "info", sinks: ["mine"] }],
});
const app = getLogger(["app"]);
app.info("before");
const gateway = new Gateway({ name: "own-logtape" });
gateway.register({
  name: "probe",
  handler: () => {
    app.info("in handler");
    return [...seen];
  },
});
await runStdio(gateway);
