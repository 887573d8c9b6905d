import assert from "node:assert/strict";
import { Gateway, isInexactId, parseExactIds, Peer, withExactId } from "../../src/mod.ts";

Deno.test("isInexactId is true only for integers beyond 2^53", () => {
  assert.equal(isInexactId(12345678901234567890), true);
  assert.equal(isInexactId(2 ** 53), true);
  for (const id of [2 ** 53 - 1, 1, -7, 1.5, "12345678901234567890", null, undefined]) {
    assert.equal(isInexactId(id), false, String(id));
  }
});

Deno.test("parseExactIds keeps the digits of big ids of a message and of batch members", () => {
  const single = parseExactIds('{"jsonrpc":"2.0","id":12345678901234567891,"method":"m"}');
  assert.equal(single.sources.get(single.value as object), "12345678901234567891");
  const batch = parseExactIds(
    '[{"id":9007199254740993,"method":"a"},{"id":5,"method":"b"},{"params":{"id":99999999999999999999}}]',
  );
  const members = batch.value as object[];
  assert.equal(batch.sources.get(members[0]), "9007199254740993");
  assert.equal(batch.sources.has(members[1]), false);
  assert.equal(batch.sources.has(members[2]), false, "only a message's own id");
});

Deno.test("withExactId rewrites only the id of a frame the dispatcher wrote", () => {
  const frame = JSON.stringify({ jsonrpc: "2.0", id: 9007199254740993, result: { id: 1 } });
  assert.equal(
    withExactId(frame, 9007199254740993, "9007199254740993"),
    '{"jsonrpc":"2.0","id":9007199254740993,"result":{"id":1}}',
  );
  assert.equal(withExactId('{"other":1}', 9007199254740993, "9007199254740993"), '{"other":1}');
});

Deno.test("Dispatcher answers big integer ids with their exact digits, alone, in a batch and in errors", async () => {
  const gateway = new Gateway({ announceReady: false });
  gateway.register({ name: "echo", handler: (params) => params });
  const peer = new Peer();
  gateway.open(peer);
  gateway.dispatcher.handleText(
    '{"jsonrpc":"2.0","id":12345678901234567891,"method":"echo","params":[1]}',
    peer,
  );
  gateway.dispatcher.handleText(
    '[{"jsonrpc":"2.0","id":18446744073709551615,"method":"echo","params":[2]},' +
      '{"jsonrpc":"2.0","id":3,"method":"echo","params":[3]},' +
      '{"jsonrpc":"2.0","id":9007199254740993,"method":"no.such"}]',
    peer,
  );
  await gateway.dispatcher.idle();
  const texts: string[] = [];
  for (let batch = peer.output.take(); batch !== undefined; batch = peer.output.take()) {
    texts.push(...batch.frames);
    peer.output.release(batch.bytes);
  }
  assert.equal(texts[0], '{"jsonrpc":"2.0","id":12345678901234567891,"result":[1]}');
  assert.match(texts[1], /"id":18446744073709551615,"result":\[2\]/);
  assert.match(texts[1], /"id":3,"result":\[3\]/);
  assert.match(texts[1], /"id":9007199254740993,"error":\{"code":-32601/);
});
