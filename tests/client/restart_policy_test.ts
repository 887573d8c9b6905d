import assert from "node:assert/strict";
import { backoffDelay, restartPolicy } from "../../src/client/restart_policy.ts";

Deno.test("backoffDelay doubles from initialDelayMs and stops at maxDelayMs", () => {
  const policy = restartPolicy({ initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy)), [
    100,
    200,
    400,
    800,
    1000,
    1000,
  ]);
});

Deno.test("backoffDelay takes up to the jitter fraction off each delay", () => {
  const policy = restartPolicy({ initialDelayMs: 1000, jitter: 0.25 });
  assert.equal(backoffDelay(1, policy, () => 0), 1000);
  assert.equal(backoffDelay(1, policy, () => 1), 750);
  const delays = Array.from({ length: 1000 }, () => backoffDelay(2, policy));
  assert.ok(delays.every((d) => d >= 1500 && d <= 2000));
  assert.ok(new Set(delays).size > 100, "delays are spread out");
});

Deno.test("restartPolicy fills in the documented defaults", () => {
  assert.deepEqual(restartPolicy(), {
    maxAttempts: 5,
    initialDelayMs: 100,
    maxDelayMs: 10_000,
    factor: 2,
    jitter: 0.5,
    stableAfterMs: 30_000,
  });
});
