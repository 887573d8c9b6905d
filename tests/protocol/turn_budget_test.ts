import assert from "node:assert/strict";
import { nextTurn, TURN_BUDGET_MS, turnOverdue } from "../../src/mod.ts";

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

Deno.test("turnOverdue says so once a turn has run for the budget, and starts over after nextTurn", async () => {
  await nextTurn();
  assert.equal(turnOverdue(), false); // the first check starts the clock
  busy(TURN_BUDGET_MS / 2);
  assert.equal(turnOverdue(), false);
  busy(TURN_BUDGET_MS);
  assert.equal(turnOverdue(), true);
  await nextTurn();
  assert.equal(turnOverdue(), false);
});

Deno.test("nextTurn lets a signal listener run between stretches of work", async () => {
  // In a process of its own, like a gateway's main thread, in 8 ms stretches (behind a chain of
  // setImmediate turns the signal waited about 130 ms in 4 runs of 5, behind digests alone up
  // to 460 ms).
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../_support/turn_probe.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(output.code, 0);
  const latencyMs = Number(new TextDecoder().decode(output.stdout).trim());
  assert.ok(latencyMs >= 0, "the signal listener never ran");
  assert.ok(latencyMs < 100, `the signal listener ran ${latencyMs} ms after the signal`);
});
