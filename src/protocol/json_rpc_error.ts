import { ERROR_CODES, type ErrorCodeName } from "./error_codes.ts";

/**
 * The error object of a JSON-RPC 2.0 response.
 *
 * @example
 * ```ts
 * import { JsonRpcError, type JsonRpcErrorObject } from "@tuigate/tuigate";
 * const error: JsonRpcErrorObject = JsonRpcError.from("JOB_LIMIT").toJson();
 * error.code; // -32021
 * ```
 */
export interface JsonRpcErrorObject {
  /** The error code. */
  code: number;
  /** A short description of the error. */
  message: string;
  /** Additional structured information. */
  data?: unknown;
}

/**
 * The domain error of tuigate: a JSON-RPC error code with a message and
 * optional data. Throw it from a handler to answer with that code.
 *
 * @example Answer with a gateway error
 * ```ts
 * import * as z from "zod";
 * import { defineMethod, JsonRpcError } from "@tuigate/tuigate";
 * defineMethod({
 *   name: "notes.open",
 *   params: z.object({ session: z.string() }),
 *   handler: ({ session }) => {
 *     throw JsonRpcError.from("SESSION_NOT_FOUND", { session });
 *   },
 * });
 * ```
 */
export class JsonRpcError extends Error {
  /** The JSON-RPC error code. */
  readonly code: number;
  /** Structured data sent in the error's `data` member. */
  readonly data?: unknown;

  /** Makes an error with an explicit code, message and optional data. */
  constructor(code: number, message: string, data?: unknown, options?: ErrorOptions) {
    super(message, options);
    this.name = "JsonRpcError";
    this.code = code;
    if (data !== undefined) this.data = data;
  }

  /** Makes an error from an entry of the error table, optionally with a more specific message. */
  static from(name: ErrorCodeName, data?: unknown, message?: string): JsonRpcError {
    const info = ERROR_CODES[name];
    return new JsonRpcError(info.code, message ?? info.message, data);
  }

  /** The error as a JSON-RPC error object. */
  toJson(): JsonRpcErrorObject {
    const json: JsonRpcErrorObject = { code: this.code, message: this.message };
    if (this.data !== undefined) json.data = this.data;
    return json;
  }
}
