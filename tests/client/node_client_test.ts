/**
 * The client under Node: src/client/mod.ts is bundled to one JavaScript
 * file with `deno bundle` (Node cannot load TypeScript), then a Node script
 * uses it against a real gateway.
 */

import assert from "node:assert/strict";
import { ROOT } from "../_support/gateway_process.ts";
import { INTEROP_GATEWAY } from "../_support/interop_gateway.ts";

const NODE_SCRIPT = new URL("./_node_script.mjs", import.meta.url).pathname;

function hasNode(): boolean {
  try {
    return new Deno.Command("node", { args: ["--version"] }).outputSync().success;
  } catch {
    return false;
  }
}

Deno.test("TuigateClient bundled with deno bundle runs under Node: calls, notifications, cancel, server requests, restart, close", async () => {
  assert.ok(hasNode(), "node is not installed");
  const dir = await Deno.makeTempDir({ prefix: "tuigate-node-" });
  try {
    const bundle = `${dir}/tuigate_client.mjs`;
    const bundled = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "deno", "-o", bundle, `${ROOT}/src/client/mod.ts`],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(bundled.success, new TextDecoder().decode(bundled.stderr));
    const source = await Deno.readTextFile(bundle);
    assert.doesNotMatch(source, /\bDeno\./, "the client uses no Deno API");

    const run = await new Deno.Command("node", {
      args: [NODE_SCRIPT, bundle, Deno.execPath(), INTEROP_GATEWAY],
      cwd: ROOT,
      env: { TUIGATE_CRASH_LOG: `${dir}/exits.jsonl`, TUIGATE_STATE_DIR: `${dir}/state` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `node failed:\n${stderr}`);
    const seen = JSON.parse(new TextDecoder().decode(run.stdout));
    assert.match(seen.runtime, /^node v?\d+/);
    assert.equal(seen.readyPidMatches, true);
    assert.equal(seen.ping.pong, true);
    assert.deepEqual(seen.ping.echo, { from: "node" });
    assert.deepEqual(seen.unknown, { isJsonRpcError: true, code: -32601 });
    assert.deepEqual(seen.ticks, [{ n: 1 }, { n: 1 }, { n: 1 }]);
    assert.equal(seen.abortedWith, "AbortError");
    assert.equal(seen.gatewayAborted, 1);
    assert.deepEqual(seen.asked, { result: { yes: "ok?" } });
    assert.deepEqual(seen.exitError, { isGatewayExitedError: true, signal: "SIGKILL" });
    assert.deepEqual(seen.afterRestart, { again: true });
    assert.deepEqual(seen.restarts, [1]);
    assert.equal(seen.newPid, true);
    assert.deepEqual(seen.close, { step: "stdin", code: 0 });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
