import assert from "node:assert/strict";
import { GroupLifeline, GroupLifelineState } from "../../src/jobs/mod.ts";
import { alive } from "../_support/process_state.ts";

function spawnGroup(): Deno.ChildProcess {
  return new Deno.Command("sleep", { args: ["30"], detached: true, stdout: "null", stderr: "null" })
    .spawn();
}

Deno.test("GroupLifeline kills the groups still listed when its pipe closes, and spares those that ended", async () => {
  const kept = spawnGroup();
  const ended = spawnGroup();
  const lifeline = new GroupLifeline();
  assert.equal(lifeline.state, GroupLifelineState.Idle);
  lifeline.track(kept.pid, true);
  lifeline.track(ended.pid, true);
  assert.equal(lifeline.state, GroupLifelineState.Watching);
  const watcher = lifeline.pid!;
  assert.ok(alive(watcher));
  lifeline.track(ended.pid, false); // told it ended: not the lifeline's to kill any more
  await lifeline.close();
  assert.equal(lifeline.state, GroupLifelineState.Closed);
  assert.equal((await kept.status).signal, "SIGKILL");
  assert.equal(alive(ended.pid), true);
  assert.equal(alive(watcher), false);
  ended.kill("SIGKILL");
  await ended.status;
  await lifeline.close(); // idempotent
});

Deno.test("GroupLifeline starts no watcher until a group appears", async () => {
  const lifeline = new GroupLifeline();
  lifeline.track(12345, false);
  assert.equal(lifeline.pid, undefined);
  await lifeline.close();
  assert.equal(lifeline.state, GroupLifelineState.Closed);
});
