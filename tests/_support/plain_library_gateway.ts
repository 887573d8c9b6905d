/**
 * Test support: the smallest library gateway, as an author writes it: no
 * logging set up, a handler that uses `console.log` and one that throws.
 *
 * - `plain.log {text}` -> `true`, after `console.log(text, { braces: ["{kept}"] })`
 * - `plain.throw {text}` -> throws `new Error(text)`
 *
 * @module
 */

import { Gateway, runStdio } from "../../src/mod.ts";

const gateway = new Gateway({ name: "plain" });
gateway.register({
  name: "plain.log",
  handler: (params) => {
    // deno-lint-ignore no-console
    console.log((params as { text: string }).text, { braces: ["{kept}"] });
    return true;
  },
});
gateway.register({
  name: "plain.throw",
  handler: (params) => {
    throw new Error((params as { text: string }).text);
  },
});
await runStdio(gateway);
