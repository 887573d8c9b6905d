// Runs the TypeScript client, bundled to JavaScript, under Node against a
// real gateway, and prints what it observed as one JSON object.
//
//   node _node_script.mjs BUNDLE DENO GATEWAY_SCRIPT

import process from "node:process";

const [bundle, deno, script] = process.argv.slice(2);
const { TuigateClient, denoRunCommand, GatewayExitedError, JsonRpcError } = await import(bundle);

const seen = { runtime: `node ${process.versions.node}` };
const client = new TuigateClient({
  ...denoRunCommand(script, { deno, permissions: ["-A"] }),
  restart: { initialDelayMs: 50 },
});
const restarts = [];
client.addEventListener("restart", (event) => restarts.push(event.attempt));
const ready = await client.start();
seen.readyPidMatches = ready.pid === client.pid;

seen.ping = await client.call("gateway.ping", { from: "node" });
try {
  await client.call("no.such.method");
} catch (error) {
  seen.unknown = { isJsonRpcError: error instanceof JsonRpcError, code: error.code };
}

const ticks = [];
const stop = client.on("demo.tick", (params) => ticks.push(params));
await client.call("test.emit", { method: "demo.tick", params: { n: 1 }, count: 3 });
stop();
seen.ticks = ticks;

const controller = new AbortController();
const sleeping = client.call("test.sleep", { ms: 30000 }, { signal: controller.signal });
setTimeout(() => controller.abort(), 100);
try {
  await sleeping;
} catch (error) {
  seen.abortedWith = error.name;
}
seen.gatewayAborted = (await client.call("test.aborted")).ids.length;

client.handle("ui.confirm", (params) => ({ yes: params.question }));
seen.asked = await client.call("test.ask", { method: "ui.confirm", params: { question: "ok?" } });

const oldPid = client.pid;
const pending = client.call("test.sleep", { ms: 30000 });
await new Promise((resolve) => setTimeout(resolve, 100));
process.kill(oldPid, "SIGKILL");
try {
  await pending;
} catch (error) {
  seen.exitError = {
    isGatewayExitedError: error instanceof GatewayExitedError,
    signal: error.signal,
  };
}
seen.afterRestart = (await client.call("gateway.ping", { again: true })).echo;
seen.restarts = restarts;
seen.newPid = client.pid !== oldPid;

const closed = await client.close();
seen.close = { step: closed.step, code: closed.code };
await client[Symbol.asyncDispose]();
process.stdout.write(JSON.stringify(seen) + "\n");
