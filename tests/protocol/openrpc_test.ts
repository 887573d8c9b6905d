import assert from "node:assert/strict";
import * as z from "zod";
import { buildOpenRpcDocument, defineMethod } from "../../src/mod.ts";

interface Described {
  name: string;
  params: { name: string; required: boolean }[];
}

async function describe(params: z.ZodType): Promise<Described> {
  const document = await buildOpenRpcDocument([
    defineMethod({ name: "m", params, handler: () => null }),
  ], { title: "t", version: "1" });
  return (document.methods as Described[])[0];
}

Deno.test("buildOpenRpcDocument requires an object schema's required fields", async () => {
  const method = await describe(z.object({ a: z.number(), b: z.string().optional() }));
  assert.deepEqual(
    method.params.map((p) => [p.name, p.required]),
    [["a", true], ["b", false]],
  );
});

Deno.test("buildOpenRpcDocument requires no param of a schema that takes absent params", async () => {
  for (
    const schema of [
      z.object({ ms: z.number() }).optional(),
      z.object({ ms: z.number() }).default({ ms: 5 }),
    ]
  ) {
    const method = await describe(schema);
    assert.deepEqual(method.params.map((p) => [p.name, p.required]), [["ms", false]]);
  }
});
