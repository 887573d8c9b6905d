/**
 * Test support: a library gateway whose application configured LogTape the
 * usual way, with LogTape's console sink, before `runStdio`.
 *
 * - `hello` -> `true`, after logging `APP-LOG-LINE` and `console.error("CONSOLE-ERR-LINE")`
 *
 * @module
 */

import { configure, getConsoleSink, getLogger } from "@logtape/logtape";
import { Gateway, runStdio } from "../../src/mod.ts";

await configure({
  sinks: { console: getConsoleSink() },
  loggers: [
    { category: ["app"], lowestLevel: "info", sinks: ["console"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
  ],
});
const app = getLogger(["app"]);
const gateway = new Gateway({ name: "console-sink" });
gateway.register({
  name: "hello",
  handler: () => {
    app.info("APP-LOG-LINE");
    // deno-lint-ignore no-console
    console.error("CONSOLE-ERR-LINE");
    return true;
  },
});
await runStdio(gateway);
