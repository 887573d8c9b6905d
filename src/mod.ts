/**
 * tuigate: a JSON-RPC 2.0 gateway that terminal UIs spawn as their backend.
 * Define methods, make a {@linkcode Gateway}, serve it on stdio with
 * {@linkcode runStdio} or on any transport of your own.
 *
 * @example A custom gateway
 * ```ts
 * import * as z from "zod";
 * import { defineMethod, Gateway, runStdio } from "@tuigate/tuigate";
 *
 * const gateway = new Gateway({ name: "my-backend" });
 * gateway.register(defineMethod({
 *   name: "math.add",
 *   params: z.object({ a: z.number(), b: z.number() }),
 *   handler: ({ a, b }) => a + b,
 * }));
 * if (import.meta.main) await runStdio(gateway);
 * ```
 *
 * @module
 */

export * from "./protocol/error_codes.ts";
export * from "./protocol/logger.ts";
export * from "./protocol/bytes.ts";
export * from "./protocol/timing.ts";
export * from "./protocol/json_rpc_error.ts";
export * from "./protocol/loggable_error.ts";
export * from "./protocol/messages.ts";
export * from "./protocol/frame_decoder.ts";
export * from "./protocol/line_decoder.ts";
export * from "./protocol/lsp_decoder.ts";
export * from "./protocol/output_buffer.ts";
export * from "./protocol/method.ts";
export * from "./protocol/peer.ts";
export * from "./protocol/peer_host.ts";
export * from "./protocol/dispatcher.ts";
export * from "./protocol/exact_ids.ts";
export * from "./protocol/request_scope.ts";
export * from "./protocol/openrpc.ts";
export * from "./protocol/turn_budget.ts";
export * from "./transport/frame_writer.ts";
export * from "./transport/stdio_pipes.ts";
export * from "./transport/stdio_transport.ts";
export * from "./lifecycle/async_line_sink.ts";
export * from "./lifecycle/early_exit.ts";
export * from "./lifecycle/early_signals.ts";
export * from "./lifecycle/exit_ledger.ts";
export * from "./lifecycle/gateway.ts";
export * from "./lifecycle/process_lifecycle.ts";
export * from "./lifecycle/run_stdio.ts";
export * from "./lifecycle/state_dir.ts";
export * from "./lifecycle/logging.ts";
export * from "./lifecycle/rotating_file_sink.ts";
export * from "./version.ts";
