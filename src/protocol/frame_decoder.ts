/**
 * What the line and LSP framings share: the decoder interface, its events
 * and the default frame limit.
 *
 * @module
 */

/** One event produced by a frame decoder. A frame's bytes may be valid only while `emit` runs. */
export type FrameEvent =
  | { kind: "frame"; bytes: Uint8Array }
  | { kind: "oversize"; bytes: number; limit: number };

/** A decoder from byte chunks to frames, shared by the line and LSP framings. */
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
