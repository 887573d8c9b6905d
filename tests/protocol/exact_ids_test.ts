import assert from "node:assert/strict";
import {
  errorFrame,
  exactIdOf,
  Gateway,
  isInexactId,
  JsonRpcError,
  parseExactIds,
  Peer,
  sleep,
  withExactId,
} from "../../src/mod.ts";

/** Every frame the peer's output holds, as text. */
function drainTexts(peer: Peer): string[] {
  const texts: string[] = [];
  for (let batch = peer.output.take(); batch !== undefined; batch = peer.output.take()) {
    texts.push(...batch.frames);
    peer.output.release(batch.bytes);
  }
  return texts;
}

Deno.test("isInexactId is true only for integers beyond 2^53", () => {
  assert.equal(isInexactId(12345678901234567890), true);
  assert.equal(isInexactId(2 ** 53), true);
  for (const id of [2 ** 53 - 1, 1, -7, 1.5, "12345678901234567890", null, undefined]) {
    assert.equal(isInexactId(id), false, String(id));
  }
});

Deno.test("parseExactIds keeps the digits of big ids of a message, of batch members and of cancel params", () => {
  const single = parseExactIds('{"jsonrpc":"2.0","id":12345678901234567891,"method":"m"}');
  assert.equal(exactIdOf(single), "12345678901234567891");
  assert.equal(JSON.stringify(single).includes("EXACT"), false, "invisible to JSON");
  const batch = parseExactIds(
    '[{"id":9007199254740993,"method":"a"},{"id":5,"method":"b"},' +
      '{"method":"$/cancelRequest","params":{"id":99999999999999999999}}]',
  ) as { params?: unknown }[];
  assert.equal(exactIdOf(batch[0]), "9007199254740993");
  assert.equal(exactIdOf(batch[1]), undefined);
  assert.equal(exactIdOf(batch[2]), undefined);
  assert.equal(exactIdOf(batch[2].params), "99999999999999999999");
});

Deno.test("withExactId rewrites only the id of a frame the dispatcher wrote", () => {
  const frame = JSON.stringify({ jsonrpc: "2.0", id: 9007199254740993, result: { id: 1 } });
  assert.equal(
    withExactId(frame, "9007199254740993"),
    '{"jsonrpc":"2.0","id":9007199254740993,"result":{"id":1}}',
  );
  assert.equal(withExactId('{"other":1}', "9007199254740993"), '{"other":1}');
});

Deno.test("Dispatcher keeps big ids that round alike apart: each answered with its digits, each cancellable alone", async () => {
  const gateway = new Gateway({ announceReady: false });
  gateway.register({
    name: "wait",
    handler: async (_params, ctx) => {
      await sleep(100, ctx.signal);
      return "done";
    },
  });
  const peer = new Peer();
  gateway.open(peer);
  // 2^53 + 1 reads back as 2^53: both would share one in-flight slot.
  gateway.dispatcher.handleText('{"jsonrpc":"2.0","id":9007199254740993,"method":"wait"}', peer);
  gateway.dispatcher.handleText('{"jsonrpc":"2.0","id":9007199254740992,"method":"wait"}', peer);
  gateway.dispatcher.handleText(
    '{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":9007199254740993}}',
    peer,
  );
  await gateway.dispatcher.idle();
  const texts = drainTexts(peer);
  assert.equal(texts.length, 2);
  const cancelled = texts.find((t) => t.includes("-32800"))!;
  assert.match(cancelled, /"id":9007199254740993,"error"/);
  assert.match(cancelled, /Request 9007199254740993 cancelled by the client/);
  assert.match(cancelled, /"data":\{"id":9007199254740993\}\}\}$/);
  assert.equal(
    texts.find((t) => t.includes("done")),
    '{"jsonrpc":"2.0","id":9007199254740992,"result":"done"}',
  );
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
  const texts = drainTexts(peer);
  assert.equal(texts[0], '{"jsonrpc":"2.0","id":12345678901234567891,"result":[1]}');
  assert.match(texts[1], /"id":18446744073709551615,"result":\[2\]/);
  assert.match(texts[1], /"id":3,"result":\[3\]/);
  assert.match(texts[1], /"id":9007199254740993,"error":\{"code":-32601/);
});

Deno.test("withExactId restores the data.id of a cancellation error but never a result's own data", () => {
  const source = "9007199254740993";
  const cancelled = errorFrame(
    9007199254740992,
    JsonRpcError.from("REQUEST_CANCELLED", { id: 9007199254740992 }).toJson(),
  );
  assert.equal(
    withExactId(cancelled, source),
    `{"jsonrpc":"2.0","id":${source},"error":{"code":-32800,"message":"Request cancelled","data":{"id":${source}}}}`,
  );
  const result = JSON.stringify({
    jsonrpc: "2.0",
    id: 9007199254740992,
    result: { data: { id: 9007199254740992 } },
  });
  assert.equal(
    withExactId(result, source),
    `{"jsonrpc":"2.0","id":${source},"result":{"data":{"id":9007199254740992}}}`,
  );
});
