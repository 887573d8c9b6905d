/**
 * How an author describes a method: its name, schemas, limits and handler.
 *
 * @module
 */

import type * as z from "zod";
import type { Logger } from "./logger.ts";
import type { JsonRpcId } from "./messages.ts";
import type { DeltaPayload } from "./output_buffer.ts";
import type { Peer, ServerRequestOptions } from "./peer.ts";

/** A JSON Schema object, as used in the OpenRPC document. */
export type JsonSchema = Record<string, unknown>;

/** What a handler receives besides its params. */
export interface MethodContext {
  /** Aborted on `$/cancelRequest`, on timeout, when the peer goes away or when the gateway shuts down. */
  readonly signal: AbortSignal;
  /** The request id; `undefined` for a notification. */
  readonly id: JsonRpcId | undefined;
  /** The method name. */
  readonly method: string;
  /** The calling peer. */
  readonly peer: Peer;
  /** A logger for this method. */
  readonly logger: Logger;
  /** Sends a control notification to the calling peer (never dropped). Await it to respect back-pressure. */
  notify(method: string, params?: unknown): Promise<void>;
  /** Sends a coalescable delta notification under a stream key to the calling peer. */
  delta(key: string, method: string, params: Record<string, unknown>, payload: DeltaPayload): void;
  /** Sends a request to the calling peer and resolves with its result. */
  request(method: string, params?: unknown, options?: ServerRequestOptions): Promise<unknown>;
}

/** A method handler. */
export type MethodHandler<P = unknown, R = unknown> = (
  params: P,
  context: MethodContext,
) => R | Promise<R>;

/** The description of one method. */
export interface MethodDefinition<P = unknown, R = unknown> {
  /** The method name, for example `"files.list"`. */
  name: string;
  /** A one-line summary for `rpc.discover`. */
  summary?: string;
  /** The params schema (zod v4). Params failing it get -32602. When absent, params are passed as given. */
  params?: z.ZodType<P>;
  /** The result schema (zod v4), for `rpc.discover` and tests. */
  result?: z.ZodType<R>;
  /** JSON Schemas to publish when no zod schema is given. */
  jsonSchema?: { params?: JsonSchema; result?: JsonSchema };
  /**
   * Milliseconds after which the signal is aborted and the request answered with -32001.
   * @default {undefined} no timeout
   */
  timeoutMs?: number;
  /**
   * Whether calls run one at a time, in arrival order.
   * @default {false}
   */
  sequential?: boolean;
  /**
   * A capability the peer's transport must grant, for example `"jobs"`; otherwise -32003.
   * @default {undefined}
   */
  requires?: string;
  /** The handler. */
  handler: MethodHandler<P, R>;
}

/**
 * Defines a method with typed params and result.
 *
 * @example
 * ```ts
 * import * as z from "zod";
 * import { defineMethod } from "@tuigate/tuigate";
 * const add = defineMethod({
 *   name: "math.add",
 *   params: z.object({ a: z.number(), b: z.number() }),
 *   result: z.number(),
 *   handler: ({ a, b }) => a + b,
 * });
 * ```
 */
export function defineMethod<P, R>(definition: MethodDefinition<P, R>): MethodDefinition<P, R> {
  return definition;
}
