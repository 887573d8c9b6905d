/** Signals that arrive while the gateway is still loading. */

import assert from "node:assert/strict";
import { ROOT, spawnGateway } from "../_support/gateway_process.ts";

/** Waits until the process catches `signal` (its bit in /proc's SigCgt): its first listener is in place. */
async function catches(pid: number, signal: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const mask = BigInt(`0x${/^SigCgt:\s*([0-9a-f]+)$/m.exec(status)![1]}`);
    if ((mask >> BigInt(signal - 1)) & 1n) return performance.now() - started;
    if (performance.now() - started > 10_000) throw new Error(`Signal ${signal} never caught`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
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
  await using gw = await spawnGateway();
  // As soon as its SIGINT listener (the first one) is in place: before that, SIGINT's default
  // action would end any process.
  await catches(gw.child.pid, 2);
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
    await using gw = await spawnGateway();
    await catches(gw.child.pid, 15);
    gw.kill("SIGTERM");
    const status = await gw.waitExit(5000);
    assert.equal(status.code, 0);
    const last = (await gw.ledger()).at(-1)!;
    assert.equal(last.reason, "signal");
    assert.equal(last.signal, "SIGTERM");
  },
);
