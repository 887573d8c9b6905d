/**
 * What the line and LSP framings share: the decoder interface, its events
 * and the default frame limit.
 *
 * @module
 */

/**
 * One event produced by a frame decoder. A frame's bytes may be valid only while `emit` runs.
 *
 * @example
 * ```ts
 * import type { FrameEvent } from "@tuigate/tuigate";
 * const texts: string[] = [];
 * const emit = (event: FrameEvent) => {
 *   if (event.kind === "frame") texts.push(new TextDecoder().decode(event.bytes));
 *   else console.warn(`skipped a ${event.bytes}-byte frame (limit ${event.limit})`);
 * };
 * ```
 */
export type FrameEvent =
  | { kind: "frame"; bytes: Uint8Array }
  | { kind: "oversize"; bytes: number; limit: number };

/**
 * A decoder from byte chunks to frames, shared by the line and LSP framings.
 *
 * @example
 * ```ts
 * import { type FrameDecoder, LineDecoder, LspDecoder } from "@tuigate/tuigate";
 * const lsp = Deno.args.includes("--lsp");
 * const decoder: FrameDecoder = lsp ? new LspDecoder() : new LineDecoder();
 * decoder.push(new TextEncoder().encode('{"jsonrpc":"2.0","method":"x"}\n'), () => {});
 * decoder.pendingBytes; // 0 after a complete line
 * ```
 */
export interface FrameDecoder {
  /**
   * Feeds a chunk; calls `emit` for every complete frame or oversize skip.
   * Unless `owned` is true the chunk may be reused after return (the decoder
   * copies what it keeps); with `owned` the decoder may keep a view of it.
   */
  push(chunk: Uint8Array, emit: (event: FrameEvent) => void, owned?: boolean): void;
  /** Bytes held for an incomplete frame. */
  readonly pendingBytes: number;
}

/**
 * The default longest frame: 16 MiB.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_FRAME_BYTES, LineDecoder } from "@tuigate/tuigate";
 * new LineDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES / 4 });
 * ```
 */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
