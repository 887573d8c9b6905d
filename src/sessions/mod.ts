/**
 * Durable sessions: ordered event logs in SQLite (or memory), replay from a
 * cursor, and several clients on one session.
 *
 * @example Serve a gateway with sessions
 * ```ts
 * import { Gateway, runStdio } from "@tuigate/tuigate";
 * import { openSessionStore, registerSessionMethods, SessionManager } from "@tuigate/tuigate/sessions";
 *
 * const gateway = new Gateway({ name: "my-backend" });
 * const sessions = new SessionManager(
 *   await openSessionStore({ kind: "sqlite", dir: "/tmp/my-backend" }),
 *   { epoch: gateway.epoch },
 * );
 * registerSessionMethods(gateway, sessions);
 * await runStdio(gateway, {
 *   setup: (lifecycle) => lifecycle.onExit(() => sessions.shutdownSync()),
 * });
 * ```
 *
 * @module
 */

export * from "./session_store.ts";
export * from "./store_unavailable_error.ts";
export * from "./sqlite_session_store.ts";
export * from "./memory_session_store.ts";
export * from "./open_session_store.ts";
export * from "./session_manager.ts";
export * from "./session_methods.ts";

// Core types this entry's API refers to, re-exported so that its documentation is complete.
export type { JsonRpcError, JsonRpcErrorObject } from "../protocol/json_rpc_error.ts";
export type {
  JsonRpcFailure,
  JsonRpcId,
  JsonRpcResponse,
  JsonRpcSuccess,
} from "../protocol/messages.ts";
export type { MethodDefinition } from "../protocol/method.ts";
export type { DeltaPayload, OutputBuffer, OutputBufferStats } from "../protocol/output_buffer.ts";
export type { InflightRequest, Peer, PeerState, ServerRequestOptions } from "../protocol/peer.ts";
