/**
 * Serve mode and mirroring: the WebSocket transport, `serveWebSocket` (the
 * process runner for it) and the mirror client. A separate entry point, so
 * that stdio-only gateways do not load it.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { serveWebSocket } from "@tuigate/tuigate/websocket";
 * await serveWebSocket(new Gateway(), { hostname: "127.0.0.1", port: 0 });
 * ```
 *
 * @module
 */

export * from "../transport/websocket/mod.ts";
export * from "../transport/mirror_client.ts";
export * from "../lifecycle/run_serve.ts";
export * from "../lifecycle/attach_mirror.ts";
