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
    code: -32060,
    message: "To-do 99 not found",
    data: { id: 99 },
  });

  const { result } = await gw.request("rpc.discover");
  const names = result.methods.map((m: { name: string }) => m.name);
  assert.ok(names.includes("todo.add") && names.includes("gateway.ping"));

  await gw.closeStdin();
  const status = await gw.waitExit(3000);
  assert.equal(status.code, 0);
});
