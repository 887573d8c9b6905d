/**
 * Test support: the smallest library gateway, as an author writes it: no
 * logging set up, a handler that uses `console.log` and one that throws.
 *
 * - `plain.log {text}` -> `true`, after `console.log(text, { braces: ["{kept}"] })`
 * - `plain.throw {text}` -> throws `new Error(text)`
 * - `plain.badData` -> throws a `JsonRpcError` whose data holds a BigInt
 *
 * @module
 */

import { Gateway, JsonRpcError, runStdio } from "../../src/mod.ts";

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
gateway.register({
  name: "plain.badData",
  handler: () => {
    throw new JsonRpcError(-32050, "Bad data 5e7a", { count: 10n });
  },
});
await runStdio(gateway);
