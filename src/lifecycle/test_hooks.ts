/**
 * Test-only methods, registered with `--test-hooks`.
 *
 * @module
 */

import type { BuiltinHost } from "./builtin_methods.ts";

/** Registers `debug.block`, which busy-loops the main isolate; only for tests (`--test-hooks`). */
export function registerTestHooks(gateway: BuiltinHost): void {
  gateway.register({
    name: "debug.block",
    summary: "Test only: blocks the main isolate for `ms` milliseconds",
    jsonSchema: {
      params: { type: "object", properties: { ms: { type: "number" } } },
      result: { type: "object" },
    },
    handler: (params) => {
      const ms = Number((params as { ms?: number } | undefined)?.ms ?? 1000);
      setTimeout(() => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          // Busy on purpose: the watchdog must end the process from its own thread.
        }
      }, 50);
      return { blocking: ms };
    },
  });
}
