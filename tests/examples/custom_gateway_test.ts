import assert from "node:assert/strict";
import { ROOT, spawnGateway } from "../_support/gateway_process.ts";

const EXAMPLE = `${ROOT}/examples/custom_gateway/main.ts`;

Deno.test("Custom gateway example serves its methods, the built-ins and schemas end to end", async () => {
  await using gw = await spawnGateway([], {
    script: EXAMPLE,
    permissions: ["--allow-env", "--allow-read", "--allow-write"],
  });
  const ready = await gw.ready();
  assert.equal(ready.params.name, "todo-backend");
  assert.equal(ready.params.version, "1.0.0");

  const added = await gw.request("todo.add", { title: "Write the closing note" });
  assert.deepEqual(added.result, { id: 1, title: "Write the closing note", done: false });
  const changed = await gw.notification("todo.changed");
  assert.deepEqual(changed.params.todo, added.result);
  await gw.request("todo.add", { title: "Ship it" });
  const done = await gw.request("todo.complete", { id: 1 });
  assert.equal(done.result.done, true);
  const open = await gw.request("todo.list", { open: true });
  assert.deepEqual(open.result.map((t: { title: string }) => t.title), ["Ship it"]);

  const invalid = await gw.request("todo.add", { title: "" });
  assert.equal(invalid.error.code, -32602);
  assert.equal(invalid.error.data.issues[0].path, "title");
  const missing = await gw.request("todo.complete", { id: 99 });
  assert.deepEqual(missing.error, {
    code: 404,
    message: "To-do 99 not found",
    data: { id: 99 },
  });

  // Pipelined in one write: the completion runs while the add awaits its notification, and the
  // add still answers the to-do as it was added.
  const pipelined = gw.response("p-add");
  const completed = gw.response("p-done");
  await gw.send(
    [
      { jsonrpc: "2.0", id: "p-add", method: "todo.add", params: { title: "Race" } },
      { jsonrpc: "2.0", id: "p-done", method: "todo.complete", params: { id: 3 } },
    ].map((m) => JSON.stringify(m) + "\n").join(""),
  );
  assert.deepEqual((await pipelined).result, { id: 3, title: "Race", done: false });
  assert.deepEqual((await completed).result, { id: 3, title: "Race", done: true });

  const { result } = await gw.request("rpc.discover");
  const names = result.methods.map((m: { name: string }) => m.name);
  assert.ok(names.includes("todo.add") && names.includes("gateway.ping"));

  await gw.closeStdin();
  const status = await gw.waitExit(3000);
  assert.equal(status.code, 0);
});
