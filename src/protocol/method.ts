/**
 * How an author describes a method: its name, schemas, limits and handler.
 *
 * @module
 */

/** @internal zod's own public type: deno doc cannot tell that an npm package's types are public. */
import type { ZodType } from "zod";
import type { Logger } from "./logger.ts";
import type { JsonRpcId } from "./messages.ts";
import type { DeltaPayload } from "./output_buffer.ts";
import type { Peer, ServerRequestOptions } from "./peer.ts";

/**
 * A JSON Schema object, as used in the OpenRPC document.
 *
 * @example
 * ```ts
 * import { Gateway, type JsonSchema } from "@tuigate/tuigate";
 * const params: JsonSchema = { type: "object", properties: { path: { type: "string" } } };
 * new Gateway().register({
 *   name: "files.read",
 *   jsonSchema: { params },
 *   handler: (p) => Deno.readTextFile((p as { path: string }).path),
 * });
 * ```
 */
export type JsonSchema = Record<string, unknown>;

/**
 * What a handler receives besides its params.
 *
 * @example
 * ```ts
 * import { defineMethod, type MethodContext } from "@tuigate/tuigate";
 * defineMethod({
 *   name: "build.run",
 *   handler: async (_params, context: MethodContext) => {
 *     context.logger.info("Build for {peer}", { peer: context.peer.id });
 *     context.delta("build:log", "build.log", {}, { text: "compiling\n" });
 *     await context.notify("build.progress", { percent: 50 });
 *     const sure = await context.request("ui.confirm", { text: "Deploy?" }, { timeout: 5000 });
 *     return { deployed: sure === true && !context.signal.aborted };
 *   },
 * });
 * ```
 */
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

/**
 * A method handler.
 *
 * @example
 * ```ts
 * import { Gateway, type MethodHandler } from "@tuigate/tuigate";
 * const echo: MethodHandler<unknown, unknown> = (params) => params;
 * new Gateway().register({ name: "echo", handler: echo });
 * ```
 */
export type MethodHandler<P = unknown, R = unknown> = (
  params: P,
  context: MethodContext,
) => R | Promise<R>;

/**
 * The description of one method.
 *
 * @example
 * ```ts
 * import * as z from "zod";
 * import { Gateway, type MethodDefinition, sleep } from "@tuigate/tuigate";
 * const wait: MethodDefinition<{ ms: number }, string> = {
 *   name: "demo.wait",
 *   summary: "Waits, then answers",
 *   params: z.object({ ms: z.number().int().min(0) }),
 *   result: z.string(),
 *   timeoutMs: 5000,
 *   sequential: true,
 *   handler: async ({ ms }, { signal }) => {
 *     await sleep(ms, signal);
 *     return "done";
 *   },
 * };
 * new Gateway().register(wait);
 * ```
 */
export interface MethodDefinition<P = unknown, R = unknown> {
  /** The method name, for example `"files.list"`. */
  name: string;
  /**
   * A one-line summary for `rpc.discover`.
   * @default {undefined}
   */
  summary?: string;
  /**
   * The params schema (zod v4). Params failing it get -32602.
   * @default {undefined} params are passed as given
   */
  params?: ZodType<P>;
  /**
   * The result schema (zod v4), for `rpc.discover` and tests.
   * @default {undefined}
   */
  result?: ZodType<R>;
  /**
   * JSON Schemas to publish when no zod schema is given.
   * @default {undefined}
   */
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
 * import { defineMethod, Gateway } from "@tuigate/tuigate";
 * const add = defineMethod({
 *   name: "math.add",
 *   params: z.object({ a: z.number(), b: z.number() }),
 *   result: z.number(),
 *   handler: ({ a, b }) => a + b, // a and b are numbers
 * });
 * new Gateway().register(add);
 * ```
 */
export function defineMethod<P, R>(definition: MethodDefinition<P, R>): MethodDefinition<P, R> {
  return definition;
}

/**
 * A method definition with any params and result types, for lists of
 * methods (`GatewayOptions.methods`).
 *
 * @example
 * ```ts
 * import * as z from "zod";
 * import { type AnyMethodDefinition, defineMethod } from "@tuigate/tuigate";
 * const methods: AnyMethodDefinition[] = [
 *   defineMethod({ name: "a", params: z.object({ n: z.number() }), handler: ({ n }) => n }),
 *   defineMethod({ name: "b", handler: () => "b" }),
 * ];
 * ```
 */
// deno-lint-ignore no-explicit-any
export type AnyMethodDefinition = MethodDefinition<any, any>;
