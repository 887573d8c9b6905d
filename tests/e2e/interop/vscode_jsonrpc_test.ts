/**
 * Interop: `vscode-jsonrpc` (the JSON-RPC library of VS Code and most LSP
 * clients) drives a real gateway process over `--framing lsp`.
 */

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as rpc from "vscode-jsonrpc/node";
import { ROOT } from "../../_support/gateway_process.ts";
import { INTEROP_GATEWAY } from "../../_support/interop_gateway.ts";

interface Connected {
  connection: rpc.MessageConnection;
  child: ChildProcess;
  ready: Promise<Record<string, unknown>>;
  stderr: () => string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Spawns a gateway (main.ts, or the test gateway built on it) and connects vscode-jsonrpc to it. */
async function connect(script = INTEROP_GATEWAY): Promise<Connected> {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-vscode-" });
  const child = spawn(Deno.execPath(), ["run", "-A", script, "--framing", "lsp"], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
    env: {
      ...Deno.env.toObject(),
      TUIGATE_CRASH_LOG: `${dir}/exits.jsonl`,
      TUIGATE_STATE_DIR: `${dir}/state`,
    },
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const connection = rpc.createMessageConnection(
    new rpc.StreamMessageReader(child.stdout!),
    new rpc.StreamMessageWriter(child.stdin!),
  );
  const ready = new Promise<Record<string, unknown>>((resolve) =>
    connection.onNotification("gateway.ready", (params) => resolve(params))
  );
  connection.listen();
  return {
    connection,
    child,
    ready,
    stderr: () => stderr,
    async [Symbol.asyncDispose]() {
      connection.dispose();
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
      child.stdout!.destroy();
      child.stderr!.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test("vscode-jsonrpc over LSP framing gets gateway.ready, then answers to requests", async () => {
  await using gw = await connect(`${ROOT}/main.ts`);
  const ready = await gw.ready;
  assert.equal(ready.pid, gw.child.pid);
  assert.equal((ready.capabilities as Record<string, unknown>).cancel, "$/cancelRequest");
  const pong = await gw.connection.sendRequest<{ pong: boolean; echo: unknown }>(
    "gateway.ping",
    { text: "h\u00e9llo \u{1F600}" },
  );
  assert.equal(pong.pong, true);
  assert.deepEqual(pong.echo, { text: "h\u00e9llo \u{1F600}" });
  const info = await gw.connection.sendRequest<{ settings: { framing: string } }>("gateway.info");
  assert.equal(info.settings.framing, "lsp");
  // Errors arrive as vscode-jsonrpc ResponseErrors with the gateway's codes and data.
  await assert.rejects(
    gw.connection.sendRequest("no.such.method", {}),
    (error: unknown) => {
      assert.ok(error instanceof rpc.ResponseError);
      assert.equal(error.code, -32601);
      assert.deepEqual(error.data, { method: "no.such.method" });
      return true;
    },
  );
  // Many requests in flight at once, answered by id.
  const many = await Promise.all(
    Array.from({ length: 300 }, (_, i) => gw.connection.sendRequest("gateway.ping", { i })),
  );
  assert.deepEqual(many.map((r) => (r as { echo: { i: number } }).echo.i), [...Array(300).keys()]);
});

Deno.test("vscode-jsonrpc sends and receives notifications through the gateway", async () => {
  await using gw = await connect();
  await gw.ready;
  const received: unknown[] = [];
  gw.connection.onNotification("demo.tick", (params) => void received.push(params));
  await gw.connection.sendRequest("test.emit", {
    method: "demo.tick",
    params: { n: 1 },
    count: 5,
  });
  assert.deepEqual(received, Array(5).fill({ n: 1 }));
  await gw.connection.sendNotification("test.note", { from: "vscode", n: 1 });
  await gw.connection.sendNotification("test.note", { from: "vscode", n: 2 });
  const { notes } = await gw.connection.sendRequest<{ notes: unknown[] }>("test.notes");
  assert.deepEqual(notes, [{ from: "vscode", n: 1 }, { from: "vscode", n: 2 }]);
});

Deno.test("vscode-jsonrpc cancels a request with $/cancelRequest through a CancellationTokenSource", async () => {
  await using gw = await connect();
  await gw.ready;
  const source = new rpc.CancellationTokenSource();
  const started = performance.now();
  const sleeping = gw.connection.sendRequest("test.sleep", { ms: 30_000 }, source.token);
  setTimeout(() => source.cancel(), 200);
  await assert.rejects(sleeping, (error: unknown) => {
    assert.ok(error instanceof rpc.ResponseError);
    assert.equal(error.code, -32800); // the gateway's answer, which vscode-jsonrpc waits for
    return true;
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 10_000, `cancel took ${elapsed} ms`);
  // The handler's AbortSignal fired on the gateway side.
  const { ids } = await gw.connection.sendRequest<{ ids: unknown[] }>("test.aborted");
  assert.equal(ids.length, 1);
  assert.equal(typeof ids[0], "number");
  // The connection keeps working.
  assert.equal((await gw.connection.sendRequest<{ pong: boolean }>("gateway.ping")).pong, true);
});

Deno.test("vscode-jsonrpc answers server-to-client requests with its onRequest handlers", async () => {
  await using gw = await connect();
  await gw.ready;
  const asked: unknown[] = [];
  gw.connection.onRequest("ui.confirm", (params: { question: string }) => {
    asked.push(params);
    return { confirmed: params.question.endsWith("?") };
  });
  gw.connection.onRequest("ui.refuse", () => {
    throw new rpc.ResponseError(-32050, "The user refused", { why: "test" });
  });
  const cancels: unknown[] = [];
  gw.connection.onNotification("request.cancel", (params) => void cancels.push(params));

  // Without the capability, the gateway refuses at once instead of hanging.
  await assert.rejects(
    gw.connection.sendRequest("test.ask", { method: "ui.confirm", params: { question: "Go?" } }),
    (error: unknown) => error instanceof rpc.ResponseError && error.code === -32004,
  );
  await gw.connection.sendRequest("client.capabilities", { serverRequests: true });

  const answer = await gw.connection.sendRequest<{ result: unknown }>("test.ask", {
    method: "ui.confirm",
    params: { question: "Delete everything?" },
  });
  assert.deepEqual(answer, { result: { confirmed: true } });
  assert.deepEqual(asked, [{ question: "Delete everything?" }]);

  // The client's error travels back through the gateway with its code and data.
  await assert.rejects(
    gw.connection.sendRequest("test.ask", { method: "ui.refuse" }),
    (error: unknown) => {
      assert.ok(error instanceof rpc.ResponseError);
      assert.equal(error.code, -32050);
      assert.equal(error.message, "The user refused");
      assert.deepEqual(error.data, { why: "test" });
      return true;
    },
  );
  // A method the client does not handle: vscode-jsonrpc answers -32601.
  await assert.rejects(
    gw.connection.sendRequest("test.ask", { method: "ui.unknown" }),
    (error: unknown) => error instanceof rpc.ResponseError && error.code === -32601,
  );
  // A handler slower than the gateway's timeout: the gateway sends request.cancel once.
  gw.connection.onRequest("ui.slow", () => new Promise((resolve) => setTimeout(resolve, 1500)));
  await assert.rejects(
    gw.connection.sendRequest("test.ask", { method: "ui.slow", timeout: 300 }),
    (error: unknown) => error instanceof rpc.ResponseError && error.code === -32001,
  );
  assert.equal(cancels.length, 1);
  assert.equal((cancels[0] as { reason: string }).reason, "timeout");
  assert.match((cancels[0] as { id: string }).id, /^tuigate:/);
  // Let the late answer arrive: the gateway drops it and keeps serving.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal((await gw.connection.sendRequest<{ pong: boolean }>("gateway.ping")).pong, true);
});
