/**
 * Builds the OpenRPC 1.3 document that `rpc.discover` returns.
 *
 * @module
 */

import { acceptsAbsent } from "./_param_names.ts";
import { ERROR_CODES } from "./error_codes.ts";
import type { JsonSchema, MethodDefinition } from "./method.ts";

/**
 * The OpenRPC version of the document.
 *
 * @example
 * ```ts
 * import { buildOpenRpcDocument, OPENRPC_VERSION } from "@tuigate/tuigate";
 * const document = await buildOpenRpcDocument([], { title: "demo", version: "1.0.0" });
 * document.openrpc === OPENRPC_VERSION; // true
 * ```
 */
export const OPENRPC_VERSION = "1.3.2";

/**
 * Options for {@linkcode buildOpenRpcDocument}.
 *
 * @example
 * ```ts
 * import { buildOpenRpcDocument, type OpenRpcInfo } from "@tuigate/tuigate";
 * const info: OpenRpcInfo = { title: "my-backend", version: "2.1.0", description: "Files and builds" };
 * await buildOpenRpcDocument([], info);
 * ```
 */
export interface OpenRpcInfo {
  /** The API title. */
  title: string;
  /** The API version. */
  version: string;
  /**
   * A description.
   * @default {undefined}
   */
  description?: string;
}

type ToJsonSchema = (schema: unknown, options?: Record<string, unknown>) => JsonSchema;

/** Converts a method's zod schemas (or given JSON Schemas) to JSON Schema. */
async function schemasOf(
  method: MethodDefinition,
): Promise<{ params: JsonSchema | undefined; result: JsonSchema }> {
  let toJsonSchema: ToJsonSchema | undefined;
  if (method.params !== undefined || method.result !== undefined) {
    const zod = await import("zod");
    toJsonSchema = (schema) =>
      zod.toJSONSchema(schema as Parameters<typeof zod.toJSONSchema>[0], {
        unrepresentable: "any",
        io: "input",
      }) as JsonSchema;
  }
  const params = method.params !== undefined
    ? toJsonSchema!(method.params)
    : method.jsonSchema?.params;
  const result = method.result !== undefined
    ? toJsonSchema!(method.result)
    : method.jsonSchema?.result ?? {};
  return { params, result: stripMeta(result) };
}

function stripMeta(schema: JsonSchema): JsonSchema {
  const { $schema: _ignored, ...rest } = schema;
  return rest;
}

/**
 * The OpenRPC 1.3 document describing `methods`: by-name params expanded
 * from object schemas, results as JSON Schema, and the error table. Loads
 * zod on first use when a method has zod schemas.
 *
 * @example
 * ```ts
 * import { buildOpenRpcDocument, Gateway } from "@tuigate/tuigate";
 * const gateway = new Gateway({ name: "my-backend" });
 * const document = await buildOpenRpcDocument(gateway.dispatcher.methods(), {
 *   title: gateway.name,
 *   version: gateway.version,
 * });
 * document.methods; // [{ name: "gateway.ping", ... }, ...]
 * ```
 */
export async function buildOpenRpcDocument(
  methods: MethodDefinition[],
  info: OpenRpcInfo,
): Promise<Record<string, unknown>> {
  const described = [];
  for (const method of methods) {
    const { params, result } = await schemasOf(method);
    const entry: Record<string, unknown> = { name: method.name };
    if (method.summary !== undefined) entry.summary = method.summary;
    const stripped = params === undefined ? undefined : stripMeta(params);
    if (
      stripped !== undefined && stripped.type === "object" &&
      typeof stripped.properties === "object"
    ) {
      // A schema that takes no params at all (`optional()`, `default()`) requires none of them.
      const required = new Set(
        Array.isArray(stripped.required) &&
          (method.params === undefined || !acceptsAbsent(method.params))
          ? stripped.required as string[]
          : [],
      );
      entry.params = Object.entries(stripped.properties as Record<string, JsonSchema>).map(
        ([name, schema]) => ({ name, schema, required: required.has(name) }),
      );
      // By position too, in this order (the dispatcher names them).
      entry.paramStructure = "either";
    } else if (stripped !== undefined && stripped.type === "object") {
      // An object with no declared properties (a record, say): params go by name.
      entry.params = [];
      entry.paramStructure = "by-name";
    } else if (stripped !== undefined) {
      // Params the dispatcher would accept when absent (as `undefined`, or else as `{}`) are optional.
      const required = method.params !== undefined && !acceptsAbsent(method.params) &&
        !method.params.safeParse({}).success;
      entry.params = [{ name: "params", schema: stripped, required }];
      entry.paramStructure = "either";
    } else {
      entry.params = [];
    }
    entry.result = { name: `${method.name}.result`, schema: result };
    described.push(entry);
  }
  const errors: Record<string, { code: number; message: string; data?: unknown }> = {};
  for (const [name, error] of Object.entries(ERROR_CODES)) {
    errors[name] = { code: error.code, message: error.message };
  }
  return {
    openrpc: OPENRPC_VERSION,
    info: {
      title: info.title,
      version: info.version,
      ...(info.description ? { description: info.description } : {}),
    },
    methods: described,
    components: { errors },
  };
}
