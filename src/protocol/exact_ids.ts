/**
 * Request ids that `JSON.parse` cannot hold exactly: integers beyond 2^53
 * (a client's 64-bit counter, say) come back rounded, so the client could
 * not match its answer and two ids could share one in-flight slot. These
 * helpers keep such ids' source text for the answer and for cancellation.
 *
 * @module
 */

import { ERROR_CODES } from "./error_codes.ts";

/** The reviver context of `JSON.parse` source text access (V8 ≥ 11.4). */
type ReviverWithSource = (
  this: unknown,
  key: string,
  value: unknown,
  context?: { source?: string },
) => unknown;

/**
 * The symbol under which {@linkcode parseExactIds} keeps, on the object
 * holding an inexact `id`, that id's source text.
 *
 * @example
 * ```ts
 * import { EXACT_ID, parseExactIds } from "@tuigate/tuigate";
 * const message = parseExactIds('{"id":12345678901234567891}') as Record<symbol, string>;
 * message[EXACT_ID]; // "12345678901234567891"
 * ```
 */
export const EXACT_ID: unique symbol = Symbol("tuigate.exactId");

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
 * Parses a frame again, keeping under {@linkcode EXACT_ID} on every object
 * whose `id` member is an inexact number (a message, a batch member, the
 * params of `$/cancelRequest`) the source text of that id. Only worth calling
 * when {@linkcode isInexactId} was true for some id.
 *
 * @example
 * ```ts
 * import { exactIdOf, parseExactIds } from "@tuigate/tuigate";
 * const batch = parseExactIds('[{"id":9007199254740993},{"id":1}]') as unknown[];
 * exactIdOf(batch[0]); // "9007199254740993"
 * exactIdOf(batch[1]); // undefined
 * ```
 */
export function parseExactIds(text: string): unknown {
  const reviver: ReviverWithSource = function (key, value, context) {
    if (key === "id" && isInexactId(value) && context?.source !== undefined) {
      Object.defineProperty(this as object, EXACT_ID, { value: context.source });
    }
    return value;
  };
  return JSON.parse(text, reviver as Parameters<typeof JSON.parse>[1]);
}

/**
 * The exact source text of `holder.id`, when {@linkcode parseExactIds} kept one.
 *
 * @example
 * ```ts
 * import { exactIdOf } from "@tuigate/tuigate";
 * exactIdOf({ id: 7 }); // undefined: nothing was lost
 * ```
 */
export function exactIdOf(holder: unknown): string | undefined {
  return typeof holder === "object" && holder !== null
    ? (holder as { [EXACT_ID]?: string })[EXACT_ID]
    : undefined;
}

/**
 * Puts an id's exact source text back into an answer frame serialised by the
 * dispatcher (which writes `{"jsonrpc":"2.0","id":…` first, with the rounded
 * number), and into the `data.id` that ends a cancellation error. Other
 * frames are returned as they are.
 *
 * @example
 * ```ts
 * import { withExactId } from "@tuigate/tuigate";
 * const frame = JSON.stringify({ jsonrpc: "2.0", id: 12345678901234567890, result: 1 });
 * withExactId(frame, "12345678901234567890");
 * // '{"jsonrpc":"2.0","id":12345678901234567890,"result":1}'
 * ```
 */
export function withExactId(frame: string, source: string): string {
  const rounded = JSON.stringify(Number(source));
  const prefix = `{"jsonrpc":"2.0","id":${rounded}`;
  if (!frame.startsWith(prefix)) return frame;
  // A cancellation error names the request in its data: `..."data":{"id":…}}}`.
  const suffix = `"data":{"id":${rounded}}}}`;
  const cancelled = frame.startsWith(
    `,"error":{"code":${ERROR_CODES.REQUEST_CANCELLED.code},`,
    prefix.length,
  );
  const body = cancelled && frame.endsWith(suffix)
    ? `${frame.slice(prefix.length, -suffix.length)}"data":{"id":${source}}}}`
    : frame.slice(prefix.length);
  return `{"jsonrpc":"2.0","id":${source}${body}`;
}
