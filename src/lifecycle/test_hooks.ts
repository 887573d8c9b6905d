/**
 * Test-only methods, registered with `--test-hooks`.
 *
 * @module
 */

import type { BuiltinHost } from "./builtin_methods.ts";
import type { ProcessLifecycle } from "./process_lifecycle.ts";

/**
 * Registers `debug.block`, which busy-loops the main isolate for `ms`
 * milliseconds, 50 ms after it answers, or with `atExit: true` in the exit
 * steps (after the drain, before the ledger line); only for tests
 * (`--test-hooks`). Returns the setup step that hands it the lifecycle.
 */
export function registerTestHooks(gateway: BuiltinHost): (lifecycle: ProcessLifecycle) => void {
  let lifecycle: ProcessLifecycle | undefined;
  gateway.register({
    name: "debug.block",
    summary: "Test only: blocks the main isolate for `ms` milliseconds, soon or at exit",
    jsonSchema: {
      params: {
        type: "object",
        properties: { ms: { type: "number" }, atExit: { type: "boolean" } },
      },
      result: { type: "object" },
    },
    handler: (params) => {
      const { ms = 1000, atExit = false } = (params ?? {}) as { ms?: number; atExit?: boolean };
      if (atExit) lifecycle?.onExit(() => busy(ms));
      else setTimeout(() => busy(ms), 50);
      return { blocking: ms, atExit };
    },
  });
  return (given) => {
    lifecycle = given;
  };
}

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // Busy on purpose: the watchdog must end the process from its own thread.
  }
}
