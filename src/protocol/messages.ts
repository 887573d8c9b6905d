/**
 * JSON-RPC 2.0 message types and the pure function that classifies a parsed
 * value as a request, a notification, a response or an invalid message.
 *
 * @module
 */

import type { JsonRpcErrorObject } from "./json_rpc_error.ts";

/**
 * A request id: a string, a number, or `null`.
 *
 * @example
 * ```ts
 * import type { JsonRpcId } from "@tuigate/tuigate";
 * const ids: JsonRpcId[] = [1, "req-7", null];
 * ```
 */
export type JsonRpcId = string | number | null;

/**
 * Params: by position or by name.
 *
 * @example
 * ```ts
 * import type { JsonRpcParams } from "@tuigate/tuigate";
 * const byPosition: JsonRpcParams = [1, 2];
 * const byName: JsonRpcParams = { a: 1, b: 2 };
 * ```
 */
export type JsonRpcParams = unknown[] | Record<string, unknown>;

/**
 * A request (with `id`) or a notification (without).
 *
 * @example
 * ```ts
 * import type { JsonRpcRequest } from "@tuigate/tuigate";
 * const request: JsonRpcRequest = { jsonrpc: "2.0", id: 1, method: "math.add", params: [1, 2] };
 * const cancel: JsonRpcRequest = { jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 1 } };
 * ```
 */
export interface JsonRpcRequest {
  /** Always `"2.0"`. */
  jsonrpc: "2.0";
  /** Absent for a notification. */
  id?: JsonRpcId;
  /** The method name. */
  method: string;
  /** The params, if any. */
  params?: JsonRpcParams;
}

/**
 * A successful response.
 *
 * @example
 * ```ts
 * import type { JsonRpcSuccess } from "@tuigate/tuigate";
 * const response: JsonRpcSuccess = { jsonrpc: "2.0", id: 1, result: 3 };
 * ```
 */
export interface JsonRpcSuccess {
  /** Always `"2.0"`. */
  jsonrpc: "2.0";
  /** The id of the request answered. */
  id: JsonRpcId;
  /** The result. */
  result: unknown;
}

/**
 * An error response.
 *
 * @example
 * ```ts
 * import type { JsonRpcFailure } from "@tuigate/tuigate";
 * const response: JsonRpcFailure = {
 *   jsonrpc: "2.0",
 *   id: 1,
 *   error: { code: -32601, message: "Method not found", data: { method: "math.sub" } },
 * };
 * ```
 */
export interface JsonRpcFailure {
  /** Always `"2.0"`. */
  jsonrpc: "2.0";
  /** The id of the request answered, or `null` when it could not be read. */
  id: JsonRpcId;
  /** The error. */
  error: JsonRpcErrorObject;
}

/**
 * A response of either kind.
 *
 * @example
 * ```ts
 * import type { JsonRpcResponse } from "@tuigate/tuigate";
 * function resultOf(response: JsonRpcResponse): unknown {
 *   if ("error" in response) throw new Error(response.error.message);
 *   return response.result;
 * }
 * ```
 */
export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;

/**
 * Any single JSON-RPC message.
 *
 * @example
 * ```ts
 * import type { JsonRpcMessage } from "@tuigate/tuigate";
 * const batch: JsonRpcMessage[] = [
 *   { jsonrpc: "2.0", id: 1, method: "gateway.ping" },
 *   { jsonrpc: "2.0", id: 1, result: {} },
 * ];
 * ```
 */
export type JsonRpcMessage = JsonRpcRequest | JsonRpcResponse;

/**
 * What {@linkcode classifyMessage} found.
 *
 * @example
 * ```ts
 * import { type ClassifiedMessage, classifyMessage } from "@tuigate/tuigate";
 * const found: ClassifiedMessage = classifyMessage(JSON.parse('{"jsonrpc":"2.0","method":"x"}'));
 * if (found.kind === "invalid") console.error(found.reason);
 * ```
 */
export type ClassifiedMessage =
  | { kind: "request"; message: JsonRpcRequest & { id: JsonRpcId } }
  | { kind: "notification"; message: JsonRpcRequest }
  | { kind: "response"; message: JsonRpcResponse }
  | { kind: "invalid"; id: JsonRpcId; reason: string };

/**
 * Whether a value is a valid JSON-RPC id (string, finite number, or null).
 *
 * @example
 * ```ts
 * import { isJsonRpcId } from "@tuigate/tuigate";
 * isJsonRpcId("a1"); // true
 * isJsonRpcId(Number.NaN); // false
 * ```
 */
export function isJsonRpcId(value: unknown): value is JsonRpcId {
  return value === null || typeof value === "string" ||
    (typeof value === "number" && Number.isFinite(value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Classifies one parsed JSON value (not a batch).
 *
 * @example
 * ```ts
 * import { classifyMessage } from "@tuigate/tuigate";
 * classifyMessage({ jsonrpc: "2.0", id: 1, method: "gateway.ping" }).kind; // "request"
 * ```
 */
export function classifyMessage(value: unknown): ClassifiedMessage {
  if (!isPlainObject(value)) {
    return { kind: "invalid", id: null, reason: "A message must be a JSON object" };
  }
  const hasId = "id" in value;
  const id = hasId && isJsonRpcId(value.id) ? value.id : null;
  if (value.jsonrpc !== "2.0") {
    return { kind: "invalid", id, reason: 'The "jsonrpc" member must be exactly "2.0"' };
  }
  if (hasId && !isJsonRpcId(value.id)) {
    return {
      kind: "invalid",
      id: null,
      reason: 'The "id" member must be a string, a number or null',
    };
  }
  if ("method" in value) {
    if (typeof value.method !== "string") {
      return { kind: "invalid", id, reason: 'The "method" member must be a string' };
    }
    if ("params" in value && !Array.isArray(value.params) && !isPlainObject(value.params)) {
      return { kind: "invalid", id, reason: 'The "params" member must be an array or an object' };
    }
    const message = value as unknown as JsonRpcRequest;
    return hasId
      ? { kind: "request", message: message as JsonRpcRequest & { id: JsonRpcId } }
      : { kind: "notification", message };
  }
  const hasResult = "result" in value;
  const hasError = "error" in value;
  if (hasId && hasResult !== hasError) {
    if (hasError) {
      const error = value.error;
      if (
        !isPlainObject(error) || typeof error.code !== "number" || typeof error.message !== "string"
      ) {
        return { kind: "invalid", id: null, reason: 'The "error" member must be an error object' };
      }
    }
    return { kind: "response", message: value as unknown as JsonRpcResponse };
  }
  if (hasResult && hasError) {
    return {
      kind: "invalid",
      id,
      reason: 'A response must have either "result" or "error", not both',
    };
  }
  if (!hasId && (hasResult || hasError)) {
    return { kind: "invalid", id: null, reason: 'A response must have an "id" member' };
  }
  return { kind: "invalid", id, reason: 'The message has no "method" and is not a response' };
}
