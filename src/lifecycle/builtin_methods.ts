/**
 * The methods every gateway has: `gateway.ping`, `gateway.info`,
 * `gateway.shutdown`, `client.capabilities` and `rpc.discover`.
 *
 * @module
 */

import { JsonRpcError } from "../protocol/json_rpc_error.ts";
import { buildOpenRpcDocument } from "../protocol/openrpc.ts";
import type { Dispatcher } from "../protocol/dispatcher.ts";
import type { AnyMethodDefinition, MethodDefinition } from "../protocol/method.ts";
import type { Peer } from "../protocol/peer.ts";

/** What the built-in methods need from a gateway (a `Gateway` is one). */
export interface BuiltinHost {
  /** The name announced. */
  readonly name: string;
  /** The version announced. */
  readonly version: string;
  /** The dispatcher, for `rpc.discover`. */
  readonly dispatcher: Dispatcher;
  /** Registers a method. */
  register(method: AnyMethodDefinition): unknown;
  /** What `gateway.info` returns for a peer. */
  info(peer?: Peer): Record<string, unknown>;
  /** Asks the process runner to shut down. */
  requestShutdown(): boolean;
}

const OBJECT = { type: "object" };

/** Registers the built-in methods on a gateway. */
export function registerBuiltinMethods(gateway: BuiltinHost): void {
  gateway.register({
    name: "gateway.ping",
    summary: "Answers `{pong: true, time}` at once; params, if any, are echoed back as `echo`",
    jsonSchema: {
      params: { description: "Anything; echoed back as `echo`" },
      result: {
        type: "object",
        properties: { pong: { const: true }, time: { type: "number" }, echo: {} },
        required: ["pong", "time"],
      },
    },
    handler: (params) =>
      params === undefined
        ? { pong: true, time: Date.now() }
        : { pong: true, time: Date.now(), echo: params },
  });
  gateway.register({
    name: "gateway.info",
    summary:
      "Version, pid, uptime (`uptime` s, `uptimeMs`), Deno version, effective settings, counters (frames in/out, requests, errors, overloaded, cancelled), output buffer (queued bytes, high-water mark, coalesced and dropped deltas), stdio paths (`stdio`), sessions, jobs",
    jsonSchema: { params: OBJECT, result: OBJECT },
    handler: (_params, context) => gateway.info(context.peer),
  });
  gateway.register({
    name: "gateway.shutdown",
    summary:
      "Replies `{ok: true}`, then shuts down through the orderly path (exit 0, reason `shutdown-request`)",
    jsonSchema: {
      params: OBJECT,
      result: { type: "object", properties: { ok: { const: true } }, required: ["ok"] },
    },
    handler: () => {
      setTimeout(() => gateway.requestShutdown(), 0);
      return { ok: true };
    },
  });
  gateway.register({
    name: "client.capabilities",
    summary: 'The client announces what it supports, for example `{"serverRequests": true}`',
    jsonSchema: {
      params: {
        type: "object",
        properties: { serverRequests: { type: "boolean" } },
        additionalProperties: true,
      },
      result: { type: "object", properties: { capabilities: OBJECT }, required: ["capabilities"] },
    },
    handler: (params, context) => {
      // The same error shape as a zod-checked method's: -32602 with the failing paths.
      const invalid = (path: string, message: string, code: string) =>
        JsonRpcError.from(
          "INVALID_PARAMS",
          { method: "client.capabilities", issues: [{ path, message, code }] },
          `Invalid params for client.capabilities: ${path || "(root)"}: ${message}`,
        );
      if (typeof params !== "object" || params === null || Array.isArray(params)) {
        throw invalid("", 'Expected an object such as {"serverRequests": true}', "invalid_type");
      }
      const serverRequests = (params as Record<string, unknown>).serverRequests;
      if (serverRequests !== undefined && typeof serverRequests !== "boolean") {
        throw invalid("serverRequests", "Expected a boolean", "invalid_type");
      }
      return { capabilities: context.peer.announceCapabilities(params) };
    },
  });
  gateway.register({
    name: "rpc.discover",
    summary: "The OpenRPC 1.3 document describing every method",
    jsonSchema: { params: OBJECT, result: OBJECT },
    handler: () => discover(),
  });
  // The document is built once (converting every zod schema takes about a millisecond) and
  // again only when the methods change, so a burst of rpc.discover costs no more than pings.
  let built:
    | { methods: MethodDefinition[]; document: Promise<Record<string, unknown>> }
    | undefined;
  const discover = () => {
    const methods = gateway.dispatcher.methods();
    if (built === undefined || !sameMethods(built.methods, methods)) {
      const document = buildOpenRpcDocument(methods, {
        title: gateway.name,
        version: gateway.version,
        description: "tuigate JSON-RPC 2.0 gateway",
      });
      const entry = { methods, document };
      built = entry;
      document.catch(() => {
        if (built === entry) built = undefined;
      });
    }
    return built.document;
  };
}

function sameMethods(a: MethodDefinition[], b: MethodDefinition[]): boolean {
  return a.length === b.length && a.every((method, i) => method === b[i]);
}
