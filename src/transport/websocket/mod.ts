/**
 * WebSocket serve mode: a server that serves a gateway's dispatcher over
 * WebSocket with bearer-token, Origin and Host checks, one peer per
 * connection, heartbeats and a send deadline.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { WebSocketServer } from "@tuigate/tuigate/websocket";
 * const server = new WebSocketServer(new Gateway(), { token: "s3cret" });
 * const { url } = await server.listen();
 * ```
 *
 * @module
 */

export * from "./bearer_token.ts";
export * from "./listen_address.ts";
export * from "./upgrade_guard.ts";
export * from "./websocket_connection.ts";
export * from "./websocket_server.ts";
