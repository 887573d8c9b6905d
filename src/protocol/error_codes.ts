/**
 * The one table of JSON-RPC error codes tuigate sends. The README's error
 * table is checked against it by a test.
 *
 * @module
 */

/**
 * One entry of {@linkcode ERROR_CODES}.
 *
 * @example
 * ```ts
 * import { ERROR_CODES, type ErrorCodeInfo } from "@tuigate/tuigate";
 * const info: ErrorCodeInfo = ERROR_CODES.METHOD_NOT_FOUND;
 * const row = `| ${info.code} | ${info.message} | ${info.description} |`;
 * ```
 */
export interface ErrorCodeInfo {
  /** The numeric JSON-RPC error code. */
  readonly code: number;
  /** The default `message` sent with the code. */
  readonly message: string;
  /** When the gateway sends it. */
  readonly description: string;
}

/**
 * Every error code the gateway sends, by name.
 *
 * @example
 * ```ts
 * import { ERROR_CODES } from "@tuigate/tuigate";
 * ERROR_CODES.METHOD_NOT_FOUND.code; // -32601
 * ```
 */
export const ERROR_CODES = {
  PARSE_ERROR: {
    code: -32700,
    message: "Parse error",
    description: "The frame is not valid JSON or not valid UTF-8",
  },
  INVALID_REQUEST: {
    code: -32600,
    message: "Invalid Request",
    description: "The message is not a JSON-RPC 2.0 request, or the frame exceeds the size limit",
  },
  METHOD_NOT_FOUND: {
    code: -32601,
    message: "Method not found",
    description: "No method of that name is registered",
  },
  INVALID_PARAMS: {
    code: -32602,
    message: "Invalid params",
    description: "The params do not match the method's schema; `data.issues` lists the paths",
  },
  INTERNAL_ERROR: {
    code: -32603,
    message: "Internal error",
    description: "The handler threw, or its result could not be serialised",
  },
  REQUEST_CANCELLED: {
    code: -32800,
    message: "Request cancelled",
    description: "The request was cancelled with `$/cancelRequest`",
  },
  OVERLOADED: {
    code: -32000,
    message: "Gateway overloaded",
    description: "Too many requests in flight and queued; `data.retryAfterMs` says when to retry",
  },
  REQUEST_TIMEOUT: {
    code: -32001,
    message: "Request timed out",
    description: "The method's declared timeout expired before it finished",
  },
  CONNECTION_CLOSED: {
    code: -32002,
    message: "Connection closed",
    description: "The peer went away or the gateway is shutting down",
  },
  METHOD_DISABLED: {
    code: -32003,
    message: "Method disabled",
    description: "The method is not allowed on this transport (for example jobs over WebSocket)",
  },
  SERVER_REQUESTS_UNSUPPORTED: {
    code: -32004,
    message: "Client does not accept server requests",
    description:
      "A handler asked the client something, but the client did not announce `serverRequests`",
  },
  SESSION_NOT_FOUND: {
    code: -32010,
    message: "Session not found",
    description: "No session has that id",
  },
  SESSION_CLOSED: {
    code: -32011,
    message: "Session closed",
    description: "The session is closed and accepts no more events",
  },
  STORE_ERROR: {
    code: -32012,
    message: "Store error",
    description: "The session store failed (locked, read-only or corrupt)",
  },
  JOB_NOT_FOUND: {
    code: -32020,
    message: "Job not found",
    description: "No job has that id",
  },
  JOB_LIMIT: {
    code: -32021,
    message: "Too many jobs",
    description: "The maximum number of concurrent jobs is running",
  },
  JOB_SPAWN_FAILED: {
    code: -32022,
    message: "Command could not be started",
    description: "The command does not exist or cannot be run",
  },
  JOB_NOT_RUNNING: {
    code: -32023,
    message: "Job not running",
    description: "The job has already exited",
  },
  JOB_STDIN_CLOSED: {
    code: -32024,
    message: "Job stdin not open",
    description: "The job was started without `stdin: true`, or its stdin is closed",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/**
 * The name of an entry in {@linkcode ERROR_CODES}.
 *
 * @example
 * ```ts
 * import { ERROR_CODES, type ErrorCodeName } from "@tuigate/tuigate";
 * const name: ErrorCodeName = "JOB_NOT_FOUND";
 * ERROR_CODES[name].code; // -32020
 * ```
 */
export type ErrorCodeName = keyof typeof ERROR_CODES;
