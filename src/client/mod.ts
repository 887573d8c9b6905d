/**
 * The TypeScript client of tuigate, for Deno and Node (Unix): spawns a
 * gateway, waits for `gateway.ready`, and offers typed calls, notification
 * subscriptions, server-to-client request handlers, cancellation with
 * `AbortSignal`, restarts with backoff, and a `close()` that leaves no
 * process behind.
 *
 * @example
 * ```ts
 * import { denoRunCommand, TuigateClient } from "@tuigate/tuigate/client";
 * await using client = await TuigateClient.start(denoRunCommand("./main.ts"));
 * const pong = await client.call("gateway.ping");
 * ```
 *
 * @module
 */

export * from "./tuigate_client.ts";
export * from "./client_events.ts";
export * from "./gateway_exited_error.ts";
export * from "./gateway_start_error.ts";
export * from "./gateway_methods.ts";
export * from "./restart_policy.ts";
export { JsonRpcError, type JsonRpcErrorObject } from "../protocol/json_rpc_error.ts";
export { ERROR_CODES, type ErrorCodeName } from "../protocol/error_codes.ts";
export { VERSION } from "../version.ts";
// The job states `JobInfo` (a gateway method's result type) refers to.
export type { JobState } from "../jobs/job.ts";
