import assert from "node:assert/strict";
import { SessionWriter } from "../../src/jobs/_session_writer.ts";
import type { JobSessionLog } from "../../src/jobs/job_session_log.ts";

/** A session log whose appends stay pending until `commit()`. */
function pendingLog() {
  const pending: (() => void)[] = [];
  const appended: string[] = [];
  const log: JobSessionLog = {
    append(_session, _type, data) {
      appended.push(String(data.text));
      return new Promise<void>((resolve) => pending.push(resolve));
    },
  };
  const commit = () => pending.splice(0).forEach((resolve) => resolve());
  return { log, appended, commit };
}

async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

Deno.test("SessionWriter.room waits while maxInflightBytes of output are not yet stored", async () => {
  const { log, appended, commit } = pendingLog();
  const writer = new SessionWriter(log, "s1", { maxInflightBytes: 1000 });
  writer.append("job.output", { text: "x".repeat(400) }, "k");
  assert.equal(await settled(writer.room()), true, "400 bytes in flight: room");
  writer.append("job.output", { text: "y".repeat(600) }, "k");
  const room = writer.room();
  assert.equal(await settled(room), false, "over 1000 bytes in flight: waits");
  commit();
  assert.equal(await settled(room), true, "stored: room again");
  assert.deepEqual(appended.map((text) => text[0]), ["x", "y"]);
  await writer.drained();
});

Deno.test("SessionWriter keeps appending in order after a wait and stops after a failure", async () => {
  let fail = false;
  const appended: number[] = [];
  const log: JobSessionLog = {
    append(_session, _type, data) {
      appended.push(data.i as number);
      return fail ? Promise.reject(new Error("store gone")) : Promise.resolve();
    },
  };
  const writer = new SessionWriter(log, "s1", { maxInflightBytes: 100 });
  for (let i = 0; i < 5; i++) {
    await writer.room();
    writer.append("job.output", { i, text: "z".repeat(80) });
  }
  fail = true;
  writer.append("job.output", { i: 5 });
  await writer.drained();
  writer.append("job.output", { i: 6 });
  await writer.drained();
  assert.deepEqual(appended, [0, 1, 2, 3, 4, 5]);
});
