import assert from "node:assert/strict";

const MOD = new URL("../../src/mod.ts", import.meta.url).href;

Deno.test("ProcessLifecycle's fallback start of its guards does not hold a process that has exited", async () => {
  const ledger = await Deno.makeTempFile({ suffix: ".jsonl" });
  // With `exit: false` the process ends when nothing holds its event loop: the 3 s fallback
  // timer must be cancelled by the shutdown, as the orderly exit cancels every timer.
  const code = `
    const { ExitLedger, ProcessLifecycle } = await import(${JSON.stringify(MOD)});
    const lifecycle = new ProcessLifecycle(new ExitLedger(${JSON.stringify(ledger)}), {
      exit: false, watchdog: false, watchdogDelayMs: 3000,
    });
    lifecycle.start();
    lifecycle.shutdown("stdin-eof");
    console.log(await lifecycle.exited, lifecycle.state);
  `;
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    stdout: "piped",
    stderr: "null",
  }).output();
  const elapsed = performance.now() - started;
  assert.equal(new TextDecoder().decode(output.stdout).trim(), "0 exiting");
  assert.ok(elapsed < 2500, `the process took ${elapsed.toFixed(0)} ms to end`);
  const lines = (await Deno.readTextFile(ledger)).trim().split("\n");
  assert.equal(JSON.parse(lines[0]).reason, "stdin-eof");
  await Deno.remove(ledger);
});
