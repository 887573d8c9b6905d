import assert from "node:assert/strict";
import { classifyMessage, isJsonRpcId } from "../../src/protocol/messages.ts";

Deno.test("classifyMessage tells requests, notifications and responses apart", () => {
  assert.equal(classifyMessage({ jsonrpc: "2.0", id: 1, method: "a" }).kind, "request");
  assert.equal(classifyMessage({ jsonrpc: "2.0", id: null, method: "a" }).kind, "request");
  assert.equal(classifyMessage({ jsonrpc: "2.0", method: "a", params: [1] }).kind, "notification");
  assert.equal(classifyMessage({ jsonrpc: "2.0", id: "x", result: null }).kind, "response");
  assert.equal(
    classifyMessage({ jsonrpc: "2.0", id: 2, error: { code: -1, message: "m" } }).kind,
    "response",
  );
});

Deno.test("classifyMessage names what is wrong with an invalid message", () => {
  const cases: [unknown, RegExp, unknown][] = [
    [[1], /must be a JSON object/, null],
    [{ jsonrpc: "1.0", id: 3, method: "a" }, /"jsonrpc" member must be exactly "2.0"/, 3],
    [
      { jsonrpc: "2.0", id: {}, method: "a" },
      /"id" member must be a string, a number or null/,
      null,
    ],
    [{ jsonrpc: "2.0", id: 4, method: 1 }, /"method" member must be a string/, 4],
    [{ jsonrpc: "2.0", id: 5, method: "a", params: "p" }, /"params" member must be/, 5],
    [{ jsonrpc: "2.0", id: 6, error: null }, /"error" member must be an error object/, null],
    [
      { jsonrpc: "2.0", id: 7, result: 1, error: { code: 1, message: "m" } },
      /either "result" or "error", not both/,
      7,
    ],
    [{ jsonrpc: "2.0", result: 1 }, /A response must have an "id" member/, null],
    [{ jsonrpc: "2.0", id: 8 }, /no "method" and is not a response/, 8],
  ];
  for (const [value, reason, id] of cases) {
    const classified = classifyMessage(value);
    assert.equal(classified.kind, "invalid", JSON.stringify(value));
    if (classified.kind !== "invalid") continue;
    assert.match(classified.reason, reason, JSON.stringify(value));
    assert.equal(classified.id, id, JSON.stringify(value));
  }
});

Deno.test("isJsonRpcId accepts strings, numbers and null only", () => {
  for (const id of ["a", 0, -1.5, null]) assert.equal(isJsonRpcId(id), true, String(id));
  for (const id of [undefined, true, {}, [], 1n]) assert.equal(isJsonRpcId(id), false, String(id));
});
