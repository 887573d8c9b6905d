/** Signals that arrive while the gateway is still loading. */

import assert from "node:assert/strict";
import { ROOT, spawnGateway } from "../_support/gateway_process.ts";

/**
 * Spawns main.ts with `--test-hooks`, which holds its start for 300 ms once its early listeners
 * are in place and says so on stderr, and resolves at that moment: inside the loading window.
 * (Deno catches SIGINT and SIGTERM itself from its first moment, so /proc's SigCgt cannot tell.)
 */
async function spawnHeldAtStart() {
  const gw = await spawnGateway(["--test-hooks"]);
  const deadline = performance.now() + 10_000;
  while (!gw.stderr.includes("early signal listeners in place")) {
    if (performance.now() > deadline) throw new Error(`No hold line; stderr: ${gw.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return gw;
}

Deno.test("main.ts loads nothing but its early signal listeners before it runs", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `${ROOT}/main.ts`],
    stdout: "piped",
  }).output();
  const graph = JSON.parse(new TextDecoder().decode(output.stdout));
  const main = graph.modules.find((m: { specifier: string }) => m.specifier.endsWith("/main.ts"));
  const statics = (main.dependencies ?? [])
    .filter((d: { code?: unknown; isDynamic?: boolean }) => d.code !== undefined && !d.isDynamic)
    .map((d: { specifier: string }) => d.specifier);
  assert.deepEqual(statics, ["./src/lifecycle/early_signals.ts"]);
});

Deno.test("Gateway ignores a SIGINT that arrives while it is still loading", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  await using gw = await spawnHeldAtStart();
  gw.kill("SIGINT");
  await gw.ready();
  assert.equal((await gw.request("gateway.ping")).result.pong, true);
  await gw.closeStdin();
  assert.equal((await gw.waitExit(5000)).code, 0);
});

Deno.test(
  "Gateway exits 0 with a ledger line on a SIGTERM that arrives while it is still loading",
  { ignore: Deno.build.os !== "linux" },
  async () => {
    await using gw = await spawnHeldAtStart();
    gw.kill("SIGTERM");
    const status = await gw.waitExit(5000);
    assert.equal(status.code, 0);
    const last = (await gw.ledger()).at(-1)!;
    assert.equal(last.reason, "signal");
    assert.equal(last.signal, "SIGTERM");
  },
);
