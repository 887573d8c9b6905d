/**
 * The stdio transport: frames from stdin to the dispatcher, frames from the
 * peer's output buffer to stdout through one {@linkcode FrameWriter}.
 *
 * @module
 */

import { concatBytes, decodeUtf8, lastIndexOfNewline, utf8Length } from "../protocol/bytes.ts";
import { loggableError } from "../protocol/loggable_error.ts";
import { getLogger } from "../protocol/logger.ts";
import {
  DEFAULT_MAX_FRAME_BYTES,
  type FrameDecoder,
  type FrameEvent,
} from "../protocol/frame_decoder.ts";
import { LineDecoder } from "../protocol/line_decoder.ts";
import { encodeLspFrame, LspDecoder } from "../protocol/lsp_decoder.ts";
import { Peer } from "../protocol/peer.ts";
import { nextTurn, turnOverdue } from "../protocol/turn_budget.ts";
import type { PeerHost } from "../protocol/peer_host.ts";
import { type ByteSink, FrameWriter, isPeerGoneError } from "./frame_writer.ts";
import { WriteSlices } from "./_write_slices.ts";

const logger = getLogger(["tuigate", "stdio"]);
const READ_BUFFER_BYTES = 256 * 1024;
const textEncoder = new TextEncoder();
/** What ends a last line that has no newline of its own, at the end of input. */
const NEWLINE = new Uint8Array([0x0a]);

/**
 * Within one chunk of input, the answers are sent early every this many
 * frames when the writer is idle (see `#sendEarly`): a client that pipelines
 * gets to work on them while the rest of the chunk is handled.
 */
const EARLY_FRAMES = 64;

/**
 * Every this many frames of one read, the read loop asks whether the turn
 * of the event loop is overdue (one clock read), and if so lets it turn
 * before the next frame.
 */
const BUDGET_FRAMES = 8;
/**
 * Once the end of input is read while answers wait for room, how long the
 * output may make no progress before the client counts as gone (instead of
 * the full stall timeout).
 */
const EOF_STALL_MS = 1000;
/** The least size of the transport's reused output buffer. */
const MIN_OUTPUT_BYTES = 64 * 1024;
/** A reused output buffer above this size is dropped after a run of smaller batches. */
const KEEP_OUTPUT_BYTES = 1024 * 1024;

/** What an LSP read yields, in input order: frames, oversize reports and malformed headers. */
type LspEvent = FrameEvent | { kind: "header-error"; reason: string };

/**
 * Logs a failure that escaped the dispatcher while it handled one frame. The
 * read loop goes on with the next frame: one bad frame must not stop input.
 */
function frameFailed(error: unknown): void {
  logger.error("Handling a frame failed: {error}", { error: loggableError(error) });
}

/** The byte length of frames as lines, if they are pure ASCII. */
function asciiLinesLength(frames: string[]): number {
  let total = frames.length;
  for (const frame of frames) total += frame.length;
  return total;
}

/**
 * Encodes a few (typically large) frames as lines straight into `out`,
 * without concatenating strings first. Returns `undefined` when a frame is
 * not pure ASCII (its byte length is then unknown without encoding it).
 */
function encodeLines(frames: string[], out: Uint8Array): Uint8Array | undefined {
  let offset = 0;
  for (const frame of frames) {
    const { read, written } = textEncoder.encodeInto(frame, out.subarray(offset));
    if (read !== frame.length || written !== frame.length) return undefined;
    offset += written;
    out[offset++] = 0x0a;
  }
  return out.subarray(0, offset);
}

function isBlank(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/**
 * A byte source with `read`, such as `Deno.stdin`.
 *
 * @example
 * ```ts
 * import { type ByteSource, Gateway, StdioTransport } from "@tuigate/tuigate";
 * const lines = [new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"gateway.ping"}\n')];
 * const source: ByteSource = {
 *   read(p) {
 *     const chunk = lines.shift();
 *     if (chunk === undefined) return Promise.resolve(null);
 *     p.set(chunk);
 *     return Promise.resolve(chunk.length);
 *   },
 * };
 * new StdioTransport(new Gateway(), { input: source });
 * ```
 */
export interface ByteSource {
  /** Reads into `p`; resolves with the count, or `null` at end of input. */
  read(p: Uint8Array): Promise<number | null>;
}

/**
 * How frames are delimited on the wire.
 *
 * @example
 * ```ts
 * import { type Framing, Gateway, StdioTransport } from "@tuigate/tuigate";
 * const framing: Framing = Deno.args.includes("--lsp") ? "lsp" : "line";
 * new StdioTransport(new Gateway(), { framing });
 * ```
 */
export type Framing = "line" | "lsp";

/**
 * Options for {@linkcode StdioTransport}.
 *
 * @example
 * ```ts
 * import { Gateway, StdioTransport, type StdioTransportOptions } from "@tuigate/tuigate";
 * const mirrored: string[] = [];
 * const options: StdioTransportOptions = {
 *   framing: "lsp",
 *   maxFrameBytes: 1024 * 1024,
 *   grants: [], // no job methods for this client
 *   tap: (frames) => mirrored.push(...frames),
 * };
 * new StdioTransport(new Gateway(), options);
 * ```
 */
export interface StdioTransportOptions {
  /**
   * Where frames are read from.
   * @default {Deno.stdin}
   */
  input?: ByteSource;
  /**
   * Where frames are written to.
   * @default {Deno.stdout}
   */
  output?: ByteSink;
  /**
   * `"line"` for newline-delimited JSON, `"lsp"` for `Content-Length` headers.
   * @default {"line"}
   */
  framing?: Framing;
  /**
   * The longest frame accepted, in bytes.
   * @default {16777216}
   */
  maxFrameBytes?: number;
  /**
   * The bound on queued output, in bytes.
   * @default {8388608}
   */
  outBufferBytes?: number;
  /**
   * How long control frames may wait for room before the peer counts as stalled, in ms.
   * @default {10000}
   */
  stallTimeoutMs?: number;
  /**
   * Capabilities granted to the peer, for example `"jobs"`.
   * @default {["jobs"]}
   */
  grants?: Iterable<string>;
  /**
   * Called with every batch of frames written to the output (for mirroring); must not throw or block.
   * @default {undefined}
   */
  tap?: (frames: readonly string[]) => void;
}

/**
 * Why a transport ended.
 *
 * @example
 * ```ts
 * import type { TransportEnd } from "@tuigate/tuigate";
 * function exitCode(end: TransportEnd): number {
 *   return end.reason === "crash" ? 70 : 0;
 * }
 * exitCode({ reason: "stdin-eof" }); // 0
 * ```
 */
export type TransportEnd =
  | { reason: "stdin-eof" | "stdout-peer-gone" | "stdout-stalled" }
  | { reason: "crash"; error: unknown };

/**
 * The states of a {@linkcode StdioTransport}.
 *
 * @example
 * ```ts
 * import { Gateway, StdioTransport, TransportState } from "@tuigate/tuigate";
 * const transport = new StdioTransport(new Gateway());
 * transport.state === TransportState.Idle; // true: start() not called yet
 * ```
 */
export enum TransportState {
  /** Made, not started. */
  Idle = "idle",
  /** Reading and writing. */
  Running = "running",
  /** No longer reading; output still drains. */
  Draining = "draining",
  /** Ended. */
  Closed = "closed",
}

/**
 * Serves one peer over a byte source and sink, by default stdin and stdout.
 *
 * @example
 * ```ts
 * import { Gateway, StdioTransport } from "@tuigate/tuigate";
 * const transport = new StdioTransport(new Gateway({ name: "demo" }));
 * if (import.meta.main) {
 *   transport.start();
 *   const end = await transport.ended; // for example { reason: "stdin-eof" }
 *   Deno.exit(end.reason === "crash" ? 70 : 0);
 * }
 * ```
 */
export class StdioTransport {
  /** The one peer of this transport. */
  readonly peer: Peer;
  /** The writer all frames go through. */
  readonly writer: FrameWriter;
  /** Resolves with why the transport ended (input end, peer gone, stall or crash). */
  readonly ended: Promise<TransportEnd>;
  /** Resolves after the first successful write to the output. */
  readonly firstWrite: Promise<void>;
  /**
   * Resolves once the first frame has been handed to the writer: its write
   * runs off the main thread from then on, so work started now no longer
   * delays it. Unlike {@linkcode firstWrite}, it does not wait until the main
   * thread sees the write finish, which a client's burst can hold up for
   * hundreds of milliseconds.
   */
  readonly firstWriteStarted: Promise<void>;
  /**
   * Resolves with the error when writing the output fails for a reason other
   * than the reader being gone, even after the transport ended otherwise (at
   * stdin EOF, say): a frame may be half written, so that is a crash.
   */
  readonly failed: Promise<unknown>;
  /**
   * Resolves when the output stalls (control frames waited the stall timeout
   * with no progress), even after the transport ended otherwise: after stdin
   * EOF the stall timeout is {@linkcode EOF_STALL_MS} at most, so a client
   * that closed its input and reads nothing does not hold the exit.
   */
  readonly stalled: Promise<void>;
  #failed!: (error: unknown) => void;
  #stalled!: () => void;
  #firstWrite!: () => void;
  #firstWriteStarted!: () => void;
  #host: PeerHost;
  #input: ByteSource;
  #framing: Framing;
  #decoder: FrameDecoder;
  #state = TransportState.Idle;
  #end!: (end: TransportEnd) => void;
  #ended = false;
  #pumping = false;
  #pumpWaiting = false;
  #writeStopped = false;
  #early: Promise<void> | undefined;
  #heldBack = false;
  /** The read whose end of input the wait for room watches. */
  #watchedRead: Promise<number | null> | undefined;
  /** Whether the read loop should let the event loop turn before its next frame. */
  #yieldDue = false;
  #drainWaiters: (() => void)[] = [];
  #bytesIn = 0;
  #maxFrameBytes: number;
  #lines: LineDecoder | undefined;
  /** While an LSP read is decoded: its frames and header errors, in input order. */
  #lspEvents: LspEvent[] | undefined;
  #tap: ((frames: readonly string[]) => void) | undefined;
  #outBuffer = new Uint8Array(0);
  #smallBatches = 0;

  /** Makes a transport for a gateway. */
  constructor(host: PeerHost, options: StdioTransportOptions = {}) {
    this.#host = host;
    this.#input = options.input ?? Deno.stdin;
    // Over its bound, the output counts a reader that makes no progress as stalled, and a write
    // shows progress only once done: writes are sized to the reader's speed, so that a slow but
    // steady reader is seen reading.
    const slices = new WriteSlices();
    this.writer = new FrameWriter(options.output ?? Deno.stdout, {
      maxWriteBytes: () => slices.next(this.peer.output.overBound),
      onProgress: (bytes) => {
        slices.written(bytes);
        this.peer.output.progress();
      },
    });
    this.#framing = options.framing ?? "line";
    this.#tap = options.tap;
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#maxFrameBytes = maxFrameBytes;
    this.#lines = this.#framing === "line" ? new LineDecoder({ maxFrameBytes }) : undefined;
    this.#decoder = this.#lines ?? new LspDecoder({
      maxFrameBytes,
      onHeaderError: (reason) => {
        // While a read is decoded its frames are collected: the error takes its place among them.
        if (this.#lspEvents !== undefined) this.#lspEvents.push({ kind: "header-error", reason });
        else host.dispatcher.rejectHeader(this.peer, reason);
      },
    });
    this.peer = new Peer({
      transport: "stdio",
      grants: options.grants ?? ["jobs"],
      maxBytes: options.outBufferBytes,
      stallTimeoutMs: options.stallTimeoutMs,
      onStall: () => {
        this.#stalled();
        this.#finish({ reason: "stdout-stalled" });
      },
    });
    this.ended = new Promise((resolve) => (this.#end = resolve));
    this.failed = new Promise((resolve) => (this.#failed = resolve));
    this.stalled = new Promise((resolve) => (this.#stalled = resolve));
    this.firstWrite = new Promise((resolve) => (this.#firstWrite = resolve));
    this.firstWriteStarted = new Promise((resolve) => (this.#firstWriteStarted = resolve));
  }

  /** The current state. */
  get state(): TransportState {
    return this.#state;
  }

  /** Bytes read from the input. */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  /** Announces the peer (`gateway.ready` first) and starts reading and writing. */
  start(): void {
    if (this.#state !== TransportState.Idle) return;
    this.#state = TransportState.Running;
    this.#host.open(this.peer);
    void this.#pump();
    void this.#read();
  }

  /** Stops reading input; output keeps draining. Idempotent. */
  stopReading(): void {
    if (this.#state === TransportState.Running) this.#state = TransportState.Draining;
  }

  /**
   * Resolves when every queued frame has been written, or when nothing more
   * can be written (the output failed, its reader is gone, or the transport
   * was closed). Reaching the end of the input does not stop the draining.
   */
  drained(): Promise<void> {
    if (this.peer.output.empty || !this.#pumping) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Ends the transport: closes the peer and drops queued output. Idempotent. */
  close(reason = "closed"): void {
    if (this.#state === TransportState.Closed) return;
    this.#state = TransportState.Closed;
    this.peer.close(reason);
    this.#host.close(this.peer, reason);
    this.#wakeDrained();
  }

  #finish(end: TransportEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    this.stopReading();
    this.#end(end);
  }

  async #read(): Promise<void> {
    const lines = this.#lines;
    const dispatcher = this.#host.dispatcher;
    const emit = (event: FrameEvent) => {
      if (this.#state !== TransportState.Running) return;
      try {
        if (event.kind === "frame") dispatcher.handleBytes(event.bytes, this.peer);
        else dispatcher.rejectOversize(this.peer, event.bytes, event.limit);
      } catch (error) {
        frameFailed(error);
      }
    };
    // Two buffers: the next read is already under way while a chunk is handled,
    // so a writer of large frames is not held up while they are parsed.
    let current = new Uint8Array(READ_BUFFER_BYTES);
    let spare = new Uint8Array(READ_BUFFER_BYTES);
    let pending = this.#readAhead(current);
    while (this.#state === TransportState.Running) {
      let n: number | null;
      try {
        n = await pending;
      } catch (error) {
        if (isPeerGoneError(error) || error instanceof Deno.errors.Interrupted) {
          n = null;
        } else {
          this.#finish({ reason: "crash", error });
          return;
        }
      }
      if (this.#state !== TransportState.Running) return;
      if (n === null) {
        logger.debug("stdin reached end of input");
        this.#endOfInput(emit);
        // Answers that wait for room now wait on a client that sends no more: it gets 1 s to read.
        this.peer.output.limitStall(EOF_STALL_MS);
        this.#finish({ reason: "stdin-eof" });
        return;
      }
      this.#bytesIn += n;
      let rest = current.subarray(0, n);
      [current, spare] = [spare, current];
      const output = this.peer.output;
      // The next read starts at once, over the bound too (into the spare buffer: no memory
      // grows), so that the end of input is seen while the answers wait for room.
      const ahead = this.#readAhead(current);
      // Frame by frame through the decoder: to complete a frame held from the last read, and
      // for the rest of a read the bulk way cannot take (invalid UTF-8, frames over the limit).
      let oneByOne = false;
      let oneByOneFrames = 0;
      while (rest.length > 0) {
        if (lines === undefined) {
          // LSP: the decoder hands over every frame of the read at once, so they are kept
          // (copied: frame bytes are views valid only during emit) and dispatched one by one.
          const frames: LspEvent[] = this.#lspEvents = [];
          try {
            this.#decoder.push(rest, (event) => {
              frames.push(
                event.kind === "frame" ? { kind: "frame", bytes: event.bytes.slice() } : event,
              );
            });
          } finally {
            this.#lspEvents = undefined;
          }
          for (let i = 0; i < frames.length; i++) {
            if (output.overBound) {
              await this.#room(ahead);
              if (this.#state !== TransportState.Running) return;
            }
            const event = frames[i];
            if (event.kind === "header-error") {
              if (this.#state === TransportState.Running) {
                dispatcher.rejectHeader(this.peer, event.reason);
              }
            } else {
              emit(event);
            }
            if ((i + 1) % EARLY_FRAMES === 0) this.#sendEarly();
            if ((i + 1) % BUDGET_FRAMES === 0 && turnOverdue() && i + 1 < frames.length) {
              await nextTurn();
              if (this.#state !== TransportState.Running) return;
            }
          }
          break;
        }
        if (oneByOne || !lines.idle) {
          const taken = lines.pushUntilNewline(rest, emit);
          if (taken === rest.length) break;
          rest = rest.subarray(taken);
          if (++oneByOneFrames % BUDGET_FRAMES === 0 && turnOverdue()) this.#yieldDue = true;
        } else {
          const handled = this.#fastLines(rest);
          if (handled === -1) {
            // No newline at all: the start of a frame that spans reads (searched once already).
            lines.pushUntilNewline(rest, emit, -1);
            break;
          }
          if (handled === 0) {
            oneByOne = true;
            continue;
          }
          rest = rest.subarray(handled);
          if (!this.#heldBack) {
            // Every complete frame was handled; what is left (no newline) starts the next one.
            if (rest.length > 0) lines.pushUntilNewline(rest, emit, -1);
            break;
          }
        }
        if (output.overBound && rest.length > 0) {
          await this.#room(ahead);
          if (this.#state !== TransportState.Running) return;
        }
        if (this.#yieldDue && rest.length > 0) {
          // The frames so far took the whole turn: let signals, timers and writes in.
          this.#yieldDue = false;
          await nextTurn();
          if (this.#state !== TransportState.Running) return;
        }
      }
      if (this.#yieldDue) {
        this.#yieldDue = false;
        await nextTurn();
        if (this.#state !== TransportState.Running) return;
      }
      if (output.overBound) {
        // The next read is handled only once the answers fit the output bound (frames are
        // dispatched one by one, and a read's rest waits for room too), so a client that writes
        // faster than it reads cannot grow our memory.
        await this.#room(ahead);
        if (this.#state !== TransportState.Running) return;
      }
      pending = ahead;
    }
  }

  /**
   * At the end of input, a last line with no newline after it is still a
   * frame (as `printf '{...}' | tuigate` sends one): it is handled as if the
   * newline followed. A partial LSP frame cannot be completed: it is logged.
   */
  #endOfInput(emit: (event: FrameEvent) => void): void {
    if (this.#lines !== undefined) {
      if (!this.#lines.idle) this.#lines.pushUntilNewline(NEWLINE, emit, 0);
    } else if (this.#decoder.pendingBytes > 0) {
      logger.warn("Input ended inside a frame: {bytes} bytes dropped", {
        bytes: this.#decoder.pendingBytes,
      });
    }
  }

  /**
   * Waits for room in the output. Meanwhile, if the read already under way
   * finds the end of input, the output's stall timeout drops to
   * {@linkcode EOF_STALL_MS}: a client that sends no more and reads nothing
   * is gone, and the gateway exits (`stdout-stalled`) instead of waiting the
   * full stall timeout.
   */
  #room(ahead: Promise<number | null>): Promise<void> {
    if (this.#watchedRead !== ahead) {
      this.#watchedRead = ahead;
      const output = this.peer.output;
      ahead.then((n) => {
        if (n === null) output.limitStall(EOF_STALL_MS);
      }, () => {});
    }
    return this.peer.output.room();
  }

  /** Starts a read; a failure is observed by whoever awaits it, or by nobody once reading stopped. */
  #readAhead(buffer: Uint8Array): Promise<number | null> {
    const pending = this.#input.read(buffer);
    pending.catch(() => {});
    return pending;
  }

  /**
   * The common case of line framing, done in bulk: when no partial frame is
   * held, the complete lines of what was read are decoded as UTF-8 in one
   * call and dispatched as text. Returns how many bytes it handled (up to
   * and including the last newline); the decoder takes the rest. Input with
   * invalid UTF-8 is left to the decoder, which answers the bad frame alone.
   * Stops after a frame whose answers put the output over its bound,
   * returning the bytes up to that frame's end (complete frames are left).
   * Returns -1 when `bytes` hold no newline at all. Sets `#heldBack` when it
   * stopped for the bound or because the turn is overdue (complete frames
   * are left; `#yieldDue` says which), else clears it.
   */
  #fastLines(bytes: Uint8Array): number {
    this.#heldBack = false;
    const last = lastIndexOfNewline(bytes);
    if (last === -1) return -1;
    if (last >= this.#maxFrameBytes) return 0;
    let text: string;
    try {
      text = decodeUtf8(bytes.subarray(0, last));
    } catch {
      return 0;
    }
    const dispatcher = this.#host.dispatcher;
    let start = 0;
    let handled = 0;
    while (start <= text.length && this.#state === TransportState.Running) {
      let end = text.indexOf("\n", start);
      if (end === -1) end = text.length;
      let lineEnd = end;
      if (lineEnd > start && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
      if (lineEnd > start && !isBlank(text, start, lineEnd)) {
        try {
          dispatcher.handleText(
            start === 0 && lineEnd === text.length ? text : text.slice(start, lineEnd),
            this.peer,
          );
        } catch (error) {
          frameFailed(error);
        }
        if (++handled % EARLY_FRAMES === 0) this.#sendEarly();
        if (handled % BUDGET_FRAMES === 0 && turnOverdue()) this.#yieldDue = true;
      }
      start = end + 1;
      if (start <= text.length && (this.peer.output.overBound || this.#yieldDue)) {
        // Stop here: the caller waits for room, or lets the event loop turn, before the next frame.
        this.#heldBack = true;
        return text.length === last ? start : utf8Length(text.slice(0, start));
      }
    }
    return last + 1;
  }

  async #pump(): Promise<void> {
    const output = this.peer.output;
    this.#pumping = true;
    while (!this.#writeStopped) {
      this.#pumpWaiting = true;
      await output.readable();
      this.#pumpWaiting = false;
      // A batch the read loop sent early may still be under way: it holds the output buffer.
      if (this.#early !== undefined) await this.#early;
      if (this.#writeStopped || output.closed) break;
      const batch = output.take();
      if (batch === undefined) {
        // Only deltas dropped for room (or unserialisable) were left: the output is drained.
        if (output.empty) this.#wakeDrained();
        continue;
      }
      await this.#writeBatch(batch);
    }
    this.#pumping = false;
    this.#wakeDrained();
  }

  /**
   * Starts writing the answers queued so far while the read loop is still
   * handling a chunk, so that the client reads them (and sends more) while
   * the rest of the chunk is handled. Only while the pump waits for frames
   * and no write is under way; the pump writes the rest after the chunk.
   */
  #sendEarly(): void {
    if (!this.#pumpWaiting || this.#early !== undefined || this.writer.busy) return;
    const batch = this.peer.output.take();
    if (batch === undefined) return;
    this.#early = this.#writeBatch(batch).then(() => {
      this.#early = undefined;
    });
  }

  /** Writes one batch of frames; on failure, ends the transport and stops all writing. */
  async #writeBatch(batch: { frames: string[]; bytes: number }): Promise<void> {
    const output = this.peer.output;
    if (this.#tap !== undefined) {
      try {
        this.#tap(batch.frames);
      } catch (error) {
        logger.error("The output tap threw: {error}", { error });
      }
    }
    let ok: boolean;
    try {
      const writing = this.writer.write(this.#format(batch.frames));
      this.#firstWriteStarted();
      ok = await writing;
    } catch (error) {
      output.release(batch.bytes);
      this.#writeStopped = true;
      logger.fatal("Writing to stdout failed: {error}", { error });
      this.#failed(error);
      this.#finish({ reason: "crash", error });
      return;
    }
    output.release(batch.bytes);
    if (!ok) {
      this.#writeStopped = true;
      this.#finish({ reason: "stdout-peer-gone" });
      return;
    }
    this.#firstWrite();
    if (output.empty) this.#wakeDrained();
  }

  #format(frames: string[]): string | Uint8Array {
    if (this.#framing === "line") {
      // A few (typically large) frames are encoded one by one, many small ones joined first.
      const direct = frames.length <= 8
        ? encodeLines(frames, this.#outputBuffer(asciiLinesLength(frames)))
        : undefined;
      return direct ?? this.#encodeJoined(frames.join("\n"));
    }
    return concatBytes(frames.map(encodeLspFrame));
  }

  /**
   * Encodes text and a final newline into the reused output buffer. The
   * newline is written as a byte: appending it to the text first would make
   * a second string the encoder copies the whole batch into.
   */
  #encodeJoined(text: string): Uint8Array {
    let out = this.#outputBuffer(text.length + 1);
    let { read, written } = textEncoder.encodeInto(text, out);
    if (read < text.length || written === out.length) {
      // Not ASCII (or it filled the buffer, leaving no room for the newline). A UTF-16 code
      // unit takes at most three bytes; long text gets a buffer of its exact size instead of
      // one kept three times as large.
      if (text.length * 3 > KEEP_OUTPUT_BYTES) return textEncoder.encode(text + "\n");
      out = this.#outputBuffer(text.length * 3 + 1);
      ({ written } = textEncoder.encodeInto(text, out));
    }
    out[written] = 0x0a;
    return out.subarray(0, written + 1);
  }

  /**
   * A buffer of at least `length` bytes for one batch: one buffer reused
   * from batch to batch (the pump awaits each write, an early one included,
   * before it formats the next batch), so output costs no allocation per
   * write. A buffer over 1 MiB is dropped after 64 batches that did not need it.
   */
  #outputBuffer(length: number): Uint8Array {
    if (length > KEEP_OUTPUT_BYTES || this.#outBuffer.length <= KEEP_OUTPUT_BYTES) {
      this.#smallBatches = 0;
    } else if (++this.#smallBatches >= 64) {
      this.#outBuffer = new Uint8Array(0);
      this.#smallBatches = 0;
    }
    if (this.#outBuffer.length < length) {
      this.#outBuffer = new Uint8Array(
        Math.max(length, this.#outBuffer.length * 2, MIN_OUTPUT_BYTES),
      );
    }
    return this.#outBuffer;
  }

  #wakeDrained(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }
}
