/**
 * Test support: works in 8 ms stretches with `nextTurn()` between them, as a
 * gateway's read loop does in a burst, while a timer is pending; sends
 * itself SIGUSR2 after 40 stretches and prints how many milliseconds later
 * the listener ran (-1: never, within 400 stretches). It does so 5 times,
 * each 40 stretches after the listener ran, and prints the 5 numbers on one
 * line.
 *
 * @module
 */

import { nextTurn } from "../../src/protocol/turn_budget.ts";

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

let seenAt = -1;
Deno.addSignalListener("SIGUSR2", () => seenAt = performance.now());
const timer = setInterval(() => {}, 20);
const latencies: number[] = [];
for (let round = 0; round < 5; round++) {
  seenAt = -1;
  let sentAt = -1;
  for (let step = 0; seenAt < 0 && step < 400; step++) {
    if (step === 40) {
      sentAt = performance.now();
      Deno.kill(Deno.pid, "SIGUSR2");
    }
    busy(8);
    await nextTurn();
  }
  latencies.push(seenAt < 0 ? -1 : seenAt - sentAt);
}
clearInterval(timer);
await Deno.stdout.write(new TextEncoder().encode(`${latencies.join(" ")}\n`));
Deno.exit(0);
