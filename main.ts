/**
 * The tuigate command: a JSON-RPC 2.0 gateway for terminal UIs.
 *
 * ```sh
 * deno task start            # stdio
 * deno task start serve      # WebSocket
 * ```
 *
 * Only the early signal listeners load before this module runs: the rest of
 * the gateway is imported after them, so that a SIGTERM or SIGHUP sent while
 * it loads (longer with a cold module cache) still ends in an orderly exit
 * with a ledger line, and a SIGINT is ignored as it is later.
 *
 * @module
 */

import { EarlySignals } from "./src/lifecycle/early_signals.ts";

if (import.meta.main) {
  const earlySignals = new EarlySignals({ exitOnSigint: Deno.args.includes("--exit-on-sigint") });
  if (Deno.args.includes("--test-hooks")) await holdStartForTests();
  const { runCommand } = await import("./src/lifecycle/run_command.ts");
  Deno.exit(await runCommand(Deno.args, { earlySignals }));
}

/**
 * With `--test-hooks`: says on stderr that the early listeners are in place,
 * then holds the start for 300 ms, so that a test can send a signal inside
 * the loading window without guessing when it opens (Deno itself catches
 * SIGINT and SIGTERM from its first moment, so /proc cannot tell).
 */
async function holdStartForTests(): Promise<void> {
  const hold = new Promise((resolve) => setTimeout(resolve, 300));
  // Not awaited: a stderr nobody reads must not hold the start longer (nor keep a signal waiting).
  Deno.stderr.write(
    new TextEncoder().encode("[tuigate] test hooks: early signal listeners in place\n"),
  ).catch(() => {});
  await hold;
}
