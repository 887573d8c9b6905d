/**
 * Every example of section 7 of the JSON-RPC 2.0 specification, against a
 * real gateway process (method names prefixed with `test.`).
 */

import assert from "node:assert/strict";
import {
  type Frame,
  type GatewayProcess,
  ROOT,
  spawnGateway,
} from "../_support/gateway_process.ts";

const TEST_GATEWAY = `${ROOT}/tests/_support/test_gateway.ts`;

/** Sends raw text and returns every frame that arrives before the answer to a follow-up ping. */
async function exchange(gw: GatewayProcess, raw: string): Promise<unknown[]> {
  const before = gw.frames.length;
  const marker = `marker-${crypto.randomUUID()}`;
  await gw.send(raw.endsWith("\n") ? raw : raw + "\n");
  await gw.send({ jsonrpc: "2.0", id: marker, method: "gateway.ping" });
  await gw.response(marker);
  return gw.frames.slice(before).filter((f) => !(f && f.id === marker));
}

function byId(frames: unknown[]): Map<unknown, Record<string, unknown>> {
  return new Map((frames as Record<string, unknown>[]).map((f) => [f.id, f]));
}

Deno.test("Gateway follows every example of section 7 of the JSON-RPC 2.0 specification", async (t) => {
  await using gw = await spawnGateway([], { script: TEST_GATEWAY });
  await gw.ready();

  await t.step("rpc call with positional parameters", async () => {
    assert.deepEqual(
      await exchange(
        gw,
        '{"jsonrpc": "2.0", "method": "test.subtract", "params": [42, 23], "id": 1}',
      ),
      [
        { jsonrpc: "2.0", result: 19, id: 1 },
      ],
    );
    assert.deepEqual(
      await exchange(
        gw,
        '{"jsonrpc": "2.0", "method": "test.subtract", "params": [23, 42], "id": 2}',
      ),
      [
        { jsonrpc: "2.0", result: -19, id: 2 },
      ],
    );
  });

  await t.step("rpc call with named parameters", async () => {
    assert.deepEqual(
      await exchange(
        gw,
        '{"jsonrpc": "2.0", "method": "test.subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}',
      ),
      [{ jsonrpc: "2.0", result: 19, id: 3 }],
    );
    assert.deepEqual(
      await exchange(
        gw,
        '{"jsonrpc": "2.0", "method": "test.subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}',
      ),
      [{ jsonrpc: "2.0", result: 19, id: 4 }],
    );
  });

  await t.step("a notification is never answered", async () => {
    assert.deepEqual(
      await exchange(gw, '{"jsonrpc": "2.0", "method": "test.update", "params": [1,2,3,4,5]}'),
      [],
    );
    assert.deepEqual(await exchange(gw, '{"jsonrpc": "2.0", "method": "foobar"}'), []);
    const notified = await gw.request("test.notified");
    assert.deepEqual(notified.result, [["update", [1, 2, 3, 4, 5]]]);
  });

  await t.step("rpc call of a non-existent method", async () => {
    const [frame] = await exchange(
      gw,
      '{"jsonrpc": "2.0", "method": "foobar", "id": "1"}',
    ) as Frame[];
    assert.equal(frame.id, "1");
    assert.equal(frame.error.code, -32601);
    assert.equal(frame.error.message, "Method not found");
  });

  await t.step("rpc call with invalid JSON", async () => {
    const [frame] = await exchange(
      gw,
      '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]',
    ) as Frame[];
    assert.equal(frame.id, null);
    assert.equal(frame.error.code, -32700);
    assert.equal(frame.error.message, "Parse error");
  });

  await t.step("rpc call with an invalid Request object", async () => {
    const [frame] = await exchange(
      gw,
      '{"jsonrpc": "2.0", "method": 1, "params": "bar"}',
    ) as Frame[];
    assert.equal(frame.id, null);
    assert.equal(frame.error.code, -32600);
    assert.equal(frame.error.message, "Invalid Request");
  });

  await t.step("rpc call batch with invalid JSON", async () => {
    const frames = await exchange(
      gw,
      '[{"jsonrpc": "2.0", "method": "test.sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]',
    ) as Frame[];
    assert.equal(frames.length, 1);
    assert.equal(Array.isArray(frames[0]), false);
    assert.equal(frames[0].id, null);
    assert.equal(frames[0].error.code, -32700);
  });

  await t.step("rpc call with an empty Array", async () => {
    const frames = await exchange(gw, "[]") as Frame[];
    assert.equal(frames.length, 1);
    assert.equal(Array.isArray(frames[0]), false);
    assert.equal(frames[0].id, null);
    assert.equal(frames[0].error.code, -32600);
    assert.equal(frames[0].error.message, "Invalid Request");
  });

  await t.step("rpc call with an invalid batch, but not empty", async () => {
    const [frame] = await exchange(gw, "[1]") as unknown[][];
    assert.ok(Array.isArray(frame));
    assert.equal(frame.length, 1);
    assert.deepEqual((frame[0] as Frame).id, null);
    assert.equal((frame[0] as Frame).error.code, -32600);
  });

  await t.step("rpc call with an invalid batch", async () => {
    const [frame] = await exchange(gw, "[1,2,3]") as Frame[][];
    assert.ok(Array.isArray(frame));
    assert.equal(frame.length, 3);
    for (const member of frame) {
      assert.equal(member.id, null);
      assert.equal(member.error.code, -32600);
    }
  });

  await t.step("rpc call batch", async () => {
    const [frame] = await exchange(
      gw,
      JSON.stringify([
        { jsonrpc: "2.0", method: "test.sum", params: [1, 2, 4], id: "1" },
        { jsonrpc: "2.0", method: "test.notifyHello", params: [7] },
        { jsonrpc: "2.0", method: "test.subtract", params: [42, 23], id: "2" },
        { foo: "boo" },
        { jsonrpc: "2.0", method: "foo.get", params: { name: "myself" }, id: "5" },
        { jsonrpc: "2.0", method: "test.getData", id: "9" },
      ]),
    ) as Frame[][];
    assert.ok(Array.isArray(frame));
    assert.equal(frame.length, 5);
    const answers = byId(frame);
    assert.deepEqual(answers.get("1"), { jsonrpc: "2.0", result: 7, id: "1" });
    assert.deepEqual(answers.get("2"), { jsonrpc: "2.0", result: 19, id: "2" });
    assert.equal((answers.get(null)!.error as Record<string, unknown>).code, -32600);
    assert.deepEqual(
      { ...answers.get("5")!.error as Record<string, unknown>, data: undefined },
      { code: -32601, message: "Method not found", data: undefined },
    );
    assert.deepEqual(answers.get("9"), { jsonrpc: "2.0", result: ["hello", 5], id: "9" });
  });

  await t.step("rpc call batch (all notifications)", async () => {
    const frames = await exchange(
      gw,
      JSON.stringify([
        { jsonrpc: "2.0", method: "test.notifyHello", params: [1, 2, 4] },
        { jsonrpc: "2.0", method: "test.notifyHello", params: [7] },
      ]),
    );
    assert.deepEqual(frames, []);
  });

  assert.deepEqual(gw.invalidLines, []);
});

Deno.test("Gateway accepts string, number and null ids and answers each with the same id", async () => {
  await using gw = await spawnGateway([], { script: TEST_GATEWAY });
  await gw.ready();
  for (const id of ["abc", 0, -7, 1.5, null]) {
    const reply = gw.response(id);
    await gw.send({ jsonrpc: "2.0", id, method: "test.add", params: { a: 1, b: 2 } });
    assert.deepEqual(await reply, { jsonrpc: "2.0", id, result: 3 });
  }
  // Invalid id kinds are invalid requests answered with id null.
  const frames = await exchange(
    gw,
    '{"jsonrpc":"2.0","id":{"x":1},"method":"gateway.ping"}',
  ) as Frame[];
  assert.equal(frames[0].id, null);
  assert.equal(frames[0].error.code, -32600);
});

Deno.test("Gateway accepts \\r\\n line endings and ignores blank lines", async () => {
  await using gw = await spawnGateway([], { script: TEST_GATEWAY });
  await gw.ready();
  await gw.send(
    '\n\r\n   \n{"jsonrpc":"2.0","id":1,"method":"test.add","params":{"a":2,"b":3}}\r\n\n',
  );
  const reply = await gw.response(1);
  assert.equal(reply.result, 5);
  const pong = await gw.request("gateway.ping");
  assert.equal(pong.result.pong, true);
  // Nothing but the two answers (and ready) was written: blank lines got no error.
  assert.equal(gw.frames.filter((f) => f.error !== undefined).length, 0);
});
