/**
 * Interop: a Python client written with the standard library only
 * (python_client.py, asyncio subprocess) spawns and drives a real gateway.
 */

import assert from "node:assert/strict";
import { ROOT } from "../../_support/gateway_process.ts";
import { INTEROP_GATEWAY } from "../../_support/interop_gateway.ts";

const PYTHON_CLIENT = new URL("./python_client.py", import.meta.url).pathname;

Deno.test("A stdlib-only Python asyncio client drives the gateway: calls, notifications, cancellation, server requests, jobs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-python-" });
  try {
    const output = await new Deno.Command("python3", {
      args: [PYTHON_CLIENT, Deno.execPath(), "run", "-A", INTEROP_GATEWAY],
      cwd: ROOT,
      env: {
        TUIGATE_CRASH_LOG: `${dir}/exits.jsonl`,
        TUIGATE_STATE_DIR: `${dir}/state`,
        PYTHONDONTWRITEBYTECODE: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `python client failed:\n${stderr}`);
    const seen = JSON.parse(new TextDecoder().decode(output.stdout));

    assert.equal(seen.ready.pid, seen.ready.gatewayPid);
    assert.equal(seen.ping.pong, true);
    assert.deepEqual(seen.ping.echo, { text: "h\u00e9llo \u{1F600}" });
    assert.deepEqual(seen.concurrent, [...Array(100).keys()]);
    assert.deepEqual(seen.unknownMethod, { code: -32601, data: { method: "no.such.method" } });
    assert.deepEqual(seen.notificationsReceived, [{ n: 7 }, { n: 7 }, { n: 7 }]);
    assert.deepEqual(seen.notes, [{ from: "python" }]);
    // Cancelling the awaiting task sent $/cancelRequest: the gateway aborted the handler and answered -32800.
    assert.ok(seen.cancelledAfterMs < 5000, `cancel took ${seen.cancelledAfterMs} ms`);
    assert.deepEqual(seen.cancelAnswer, [-32800]);
    assert.equal(seen.abortedIds.length, 1);
    assert.deepEqual(seen.askAnswer, { result: { confirmed: true, question: "Proceed?" } });
    assert.deepEqual(seen.askRefused, {
      code: -32050,
      message: "Refused by the Python client",
      data: { lang: "python" },
    });
    if (seen.ready.jobs) {
      assert.equal(seen.job.stdout, "line 1\nline 2\nline 3\n");
      assert.equal(seen.job.stderr, "oops\n");
      assert.equal(seen.job.exit.job, seen.job.id);
      assert.equal(seen.job.exit.code, 0);
    } else {
      assert.fail("The gateway did not announce jobs");
    }
    assert.equal(seen.exitCode, 0);
    assert.ok(seen.exitMs < 2000, `the gateway took ${seen.exitMs} ms to exit on stdin EOF`);
    const ledger = await Deno.readTextFile(`${dir}/exits.jsonl`);
    assert.match(ledger, /"reason":"stdin-eof"/);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
