/**
 * Request ids that `JSON.parse` cannot hold exactly: integers beyond 2^53
 * (a client's 64-bit counter, say) come back rounded, and the client could
 * not match its answer. These helpers find such ids' source text and put it
 * back into the answer frame.
 *
 * @module
 */

/** The reviver context of `JSON.parse` source text access (V8 ≥ 11.4). */
type ReviverWithSource = (
  this: unknown,
  key: string,
  value: unknown,
  context?: { source?: string },
) => unknown;

/**
 * Whether a parsed id is a number that may have lost digits (an integer beyond 2^53).
 *
 * @example
 * ```ts
 * import { isInexactId } from "@tuigate/tuigate";
 * isInexactId(JSON.parse("12345678901234567890")); // true: it reads back as ...7000
 * isInexactId(42); // false
 * ```
 */
export function isInexactId(id: unknown): id is number {
  return typeof id === "number" && Number.isInteger(id) && !Number.isSafeInteger(id);
}

/**
 * Parses a frame again, keeping the source text of every `id` member of a
 * message (the top-level object, or a member of a top-level batch) whose
 * value is an inexact number. Returns the parsed value and the source texts
 * by message object. Only worth calling when {@linkcode isInexactId} was true.
 *
 * @example
 * ```ts
 * import { parseExactIds } from "@tuigate/tuigate";
 * const { value, sources } = parseExactIds('{"jsonrpc":"2.0","id":12345678901234567890,"method":"m"}');
 * sources.get(value as object); // "12345678901234567890"
 * ```
 */
export function parseExactIds(text: string): { value: unknown; sources: Map<object, string> } {
  const found = new WeakMap<object, string>();
  const reviver: ReviverWithSource = function (key, value, context) {
    if (key === "id" && isInexactId(value) && context?.source !== undefined) {
      found.set(this as object, context.source);
    }
    return value;
  };
  const value: unknown = JSON.parse(text, reviver as Parameters<typeof JSON.parse>[1]);
  const sources = new Map<object, string>();
  for (const message of Array.isArray(value) ? value : [value]) {
    if (typeof message !== "object" || message === null) continue;
    const source = found.get(message);
    if (source !== undefined) sources.set(message, source);
  }
  return { value, sources };
}

/**
 * Puts an id's exact source text back into an answer frame serialised by the
 * dispatcher (which writes `{"jsonrpc":"2.0","id":…` first). Other frames are
 * returned as they are.
 *
 * @example
 * ```ts
 * import { withExactId } from "@tuigate/tuigate";
 * const frame = JSON.stringify({ jsonrpc: "2.0", id: 12345678901234567890, result: 1 });
 * withExactId(frame, 12345678901234567890, "12345678901234567890");
 * // '{"jsonrpc":"2.0","id":12345678901234567890,"result":1}'
 * ```
 */
export function withExactId(frame: string, id: number, source: string): string {
  const prefix = `{"jsonrpc":"2.0","id":${JSON.stringify(id)}`;
  return frame.startsWith(prefix)
    ? `{"jsonrpc":"2.0","id":${source}${frame.slice(prefix.length)}`
    : frame;
}
