import assert from "node:assert/strict";
import {
  getLogger,
  useLogtape,
  waitingRecordCount,
  whenRecordWaits,
} from "../../src/protocol/logger.ts";

// One file, one module instance: these steps share the facade's state, in order.
Deno.test("whenRecordWaits calls back for the first record at its level, then never again once logtape is used", async (t) => {
  const logger = getLogger(["tuigate", "test"]);
  const calls: string[] = [];
  await t.step("a record below the level leaves the listener waiting", () => {
    whenRecordWaits("info", () => calls.push("info"));
    logger.debug("Quiet detail");
    assert.deepEqual(calls, []);
  });
  await t.step("a record at the level calls it once", () => {
    logger.warn("Worth saying");
    logger.error("Still worth saying");
    assert.deepEqual(calls, ["info"]);
  });
  await t.step("a listener added while such a record waits is called at once", () => {
    whenRecordWaits("warning", () => calls.push("warning"));
    whenRecordWaits("fatal", () => calls.push("fatal"));
    assert.deepEqual(calls, ["info", "warning"]);
  });
  await t.step(
    "a listener that throws is reported; one that puts logtape in use stops those after it",
    async () => {
      assert.equal(waitingRecordCount(), 3);
      const logtape = await import("@logtape/logtape");
      const seen: string[] = [];
      await logtape.configure({
        sinks: { memory: (record) => seen.push(String(record.rawMessage)) },
        loggers: [
          { category: ["tuigate"], lowestLevel: "debug", sinks: ["memory"] },
          { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
        ],
      });
      const reported: unknown[] = [];
      const onError = (event: ErrorEvent) => {
        event.preventDefault();
        reported.push(event.error);
      };
      globalThis.addEventListener("error", onError);
      try {
        whenRecordWaits("fatal", () => {
          throw new Error("Listener failed");
        });
        whenRecordWaits("fatal", () => {
          calls.push("fatal: useLogtape");
          useLogtape(logtape);
        });
        whenRecordWaits("fatal", () => calls.push("never: logtape is in use"));
        logger.fatal("Worst case");
        assert.deepEqual(calls, ["info", "warning", "fatal", "fatal: useLogtape"]);
        assert.equal((reported[0] as Error).message, "Listener failed");
        assert.deepEqual(seen, [
          "Quiet detail",
          "Worth saying",
          "Still worth saying",
          "Worst case",
        ]);
        assert.equal(waitingRecordCount(), 0);
        logger.fatal("After");
        whenRecordWaits("trace", () => calls.push("late"));
        assert.equal(seen.at(-1), "After");
        assert.deepEqual(calls, ["info", "warning", "fatal", "fatal: useLogtape"]);
      } finally {
        globalThis.removeEventListener("error", onError);
        await logtape.reset();
      }
    },
  );
});
