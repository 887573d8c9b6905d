/**
 * Serve mode and mirroring: the WebSocket transport, `serveWebSocket` (the
 * process runner for it) and the mirror client. A separate entry point, so
 * that stdio-only gateways do not load it.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { serveWebSocket } from "@tuigate/tuigate/websocket";
 * if (import.meta.main) await serveWebSocket(new Gateway(), { hostname: "127.0.0.1", port: 0 });
 * ```
 *
 * @module
 */

export * from "../transport/websocket/mod.ts";
export * from "../transport/mirror_client.ts";
export * from "../lifecycle/run_serve.ts";
export * from "../lifecycle/attach_mirror.ts";

// Core types this entry's API refers to, re-exported so that its documentation is complete.
export type { AsyncLineSink } from "../lifecycle/async_line_sink.ts";
export type { EarlySignals } from "../lifecycle/early_signals.ts";
export type { ExitReason } from "../lifecycle/exit_ledger.ts";
export type { Gateway, ShutdownRequestHandler } from "../lifecycle/gateway.ts";
export type {
  DrainStep,
  LifecycleState,
  ProcessLifecycle,
  ShutdownDetails,
} from "../lifecycle/process_lifecycle.ts";
export type { Dispatcher, DispatcherStats } from "../protocol/dispatcher.ts";
export type { JsonRpcErrorObject } from "../protocol/json_rpc_error.ts";
export type {
  JsonRpcFailure,
  JsonRpcId,
  JsonRpcResponse,
  JsonRpcSuccess,
} from "../protocol/messages.ts";
export type { DeltaPayload, OutputBuffer, OutputBufferStats } from "../protocol/output_buffer.ts";
export type { InflightRequest, Peer, PeerState, ServerRequestOptions } from "../protocol/peer.ts";
export type { PeerHost } from "../protocol/peer_host.ts";
