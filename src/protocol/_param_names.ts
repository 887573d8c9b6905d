/**
 * Params schemas read from outside: absent params, and params given by
 * position for methods whose schema takes them by name.
 *
 * @module
 */

import type { ZodType } from "zod";

/** Wrappers that leave an object schema's properties as they are. */
const WRAPPERS = new Set(["optional", "default", "prefault", "nullable", "readonly"]);

const absentAccepted = new WeakMap<ZodType, boolean>();

/** Whether a params schema takes no params at all (`undefined`), as `optional()` and `default()` do. */
export function acceptsAbsent(schema: ZodType): boolean {
  let accepted = absentAccepted.get(schema);
  if (accepted === undefined) {
    accepted = schema.safeParse(undefined).success;
    absentAccepted.set(schema, accepted);
  }
  return accepted;
}

const namesOfSchema = new WeakMap<object, readonly string[] | null>();

/**
 * The property names of an object schema, in declaration order (looking
 * through `optional()`, `default()` and the like), or `null` when the schema
 * is not an object.
 */
export function paramNamesOf(schema: ZodType): readonly string[] | null {
  let names = namesOfSchema.get(schema);
  if (names !== undefined) return names;
  names = null;
  // Read through zod v4's public `def`, so that zod itself need not be loaded here.
  let def = (schema as { def?: SchemaDef }).def;
  for (let depth = 0; def !== undefined && depth < 8; depth++) {
    if (def.type === "object" && typeof def.shape === "object" && def.shape !== null) {
      names = Object.keys(def.shape);
      break;
    }
    if (!WRAPPERS.has(def.type ?? "")) break;
    def = def.innerType?.def;
  }
  namesOfSchema.set(schema, names);
  return names;
}

/**
 * Names params given by position after `names`, in order; `undefined` when
 * there are more of them than names. Missing trailing params stay absent, so
 * their schema's optional and default rules apply.
 */
export function nameParams(
  params: readonly unknown[],
  names: readonly string[],
): Record<string, unknown> | undefined {
  if (params.length > names.length) return undefined;
  const named: Record<string, unknown> = {};
  for (let i = 0; i < params.length; i++) named[names[i]] = params[i];
  return named;
}

interface SchemaDef {
  type?: string;
  shape?: Record<string, unknown> | null;
  innerType?: { def?: SchemaDef };
}
