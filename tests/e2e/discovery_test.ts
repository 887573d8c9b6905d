/** `rpc.discover` returns a valid OpenRPC 1.3 document, and the README's method reference matches it. */

import assert from "node:assert/strict";
import jsonSchemaMetaModule from "@json-schema-tools/meta-schema";
import metaSchemaModule from "@open-rpc/meta-schema";
import AjvModule from "ajv";
import { ERROR_CODES } from "../../src/protocol/error_codes.ts";
import { ROOT, spawnGateway } from "../_support/gateway_process.ts";
import { methodTableRows } from "../../scripts/method_table.ts";

interface Validator {
  (data: unknown): boolean;
  errors?: unknown;
}
interface AjvInstance {
  addSchema(schema: unknown, key: string): void;
  compile(schema: unknown): Validator;
}
const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as new (
  options: Record<string, unknown>,
) => AjvInstance;
// deno-lint-ignore no-explicit-any
const metaSchema = (metaSchemaModule as any).openrpcDocument ?? metaSchemaModule;
// deno-lint-ignore no-explicit-any
const jsonSchemaMeta = (jsonSchemaMetaModule as any).default ?? jsonSchemaMetaModule;

async function discover(args: string[] = []) {
  await using gw = await spawnGateway(["--state", "memory", ...args]);
  await gw.ready();
  const reply = await gw.request("rpc.discover");
  return reply.result;
}

Deno.test("rpc.discover returns an OpenRPC 1.3 document that validates against the OpenRPC meta-schema", async () => {
  const document = await discover();
  assert.match(document.openrpc, /^1\.3\.\d+$/);
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  // The OpenRPC meta-schema refers to the JSON Schema meta-schema by URL; both come from npm, pinned.
  const { $schema: _ignored, ...jsonSchemaMetaWithoutDraft } = jsonSchemaMeta;
  ajv.addSchema(jsonSchemaMetaWithoutDraft, "https://meta.json-schema.tools");
  const validate = ajv.compile(metaSchema);
  const valid = validate(document);
  assert.equal(valid, true, JSON.stringify(validate.errors, null, 2));
  // The validator does reject a broken document.
  assert.equal(validate({ ...document, methods: [{ name: 1 }] }), false);
  const names = document.methods.map((m: { name: string }) => m.name);
  for (
    const name of [
      "gateway.ping",
      "gateway.info",
      "gateway.shutdown",
      "rpc.discover",
      "client.capabilities",
    ]
  ) {
    assert.ok(names.includes(name), name);
  }
  // Every method's params and result are JSON Schema objects.
  for (const method of document.methods) {
    assert.equal(typeof method.result.schema, "object", method.name);
    for (const param of method.params) assert.equal(typeof param.schema, "object", method.name);
  }
});

Deno.test("rpc.discover lists zod params in order with required flags, and they may go by position", async () => {
  await using gw = await spawnGateway([], { script: `${ROOT}/tests/_support/test_gateway.ts` });
  await gw.ready();
  const { result } = await gw.request("rpc.discover");
  const add = result.methods.find((m: { name: string }) => m.name === "test.add");
  assert.equal(add.paramStructure, "either");
  // In the order listed: a, then b.
  assert.equal((await gw.request("test.add", [2, 3])).result, 5);
  assert.equal((await gw.request("test.add", { b: 3, a: 2 })).result, 5);
  assert.deepEqual(
    add.params.map((p: { name: string; required: boolean }) => [p.name, p.required]),
    [["a", true], ["b", true]],
  );
  assert.equal(add.params[0].schema.type, "number");
  assert.equal(add.result.schema.type, "number");
});

/** Rows of the first Markdown table under a heading. */
async function readmeTable(heading: string): Promise<string[][]> {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const start = readme.indexOf(heading);
  assert.notEqual(start, -1, `README has no "${heading}" section`);
  const lines = readme.slice(start).split("\n");
  const rows: string[][] = [];
  let inTable = false;
  for (const line of lines.slice(1)) {
    if (line.startsWith("#")) break;
    if (line.startsWith("|")) {
      inTable = true;
      // Cells end at each "|" that is not escaped as "\\|".
      const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
      if (!cells.every((c) => /^:?-+:?$/.test(c))) rows.push(cells);
    } else if (inTable) {
      break;
    }
  }
  return rows.slice(1); // without the header row
}

Deno.test("README's method reference lists exactly the methods rpc.discover returns, with their summaries", async () => {
  const document = await discover();
  const rows = await readmeTable("## Method reference");
  const documented = rows.map((r) => r[0].replace(/`/g, "")).sort();
  const served = document.methods.map((m: { name: string }) => m.name).sort();
  assert.deepEqual(documented, served);
  // Row by row, in discovery order: `deno run -A scripts/method_table.ts` prints the table.
  assert.deepEqual(rows, methodTableRows(document.methods));
});

Deno.test("README's error table matches the error code table in the code", async () => {
  const rows = await readmeTable("## Error codes");
  const documented = rows.map((r) => [Number(r[0].replace(/`/g, "")), r[1].replace(/`/g, "")]);
  const table = Object.entries(ERROR_CODES).map(([name, info]) => [info.code, name]);
  assert.deepEqual(documented.sort(), table.sort());
});
