/**
 * A bounded queue between producers and the writer of one peer. Control
 * frames are never dropped and keep their order; delta frames may be merged
 * and, when merging is not enough, the oldest are dropped and counted.
 *
 * @module
 */

import { concatBytes, toBase64 } from "./bytes.ts";
import { getLogger } from "./logger.ts";
import { loggableError } from "./loggable_error.ts";
import { Utf8Builder, type Utf8Storage } from "./_utf8_builder.ts";

/**
 * Options for {@linkcode OutputBuffer}.
 *
 * @example
 * ```ts
 * import { OutputBuffer, type OutputBufferOptions } from "@tuigate/tuigate";
 * const stalled = new AbortController();
 * const options: OutputBufferOptions = {
 *   maxBytes: 1024 * 1024,
 *   stallTimeoutMs: 5000,
 *   onStall: () => stalled.abort(),
 * };
 * new OutputBuffer(options);
 * ```
 */
export interface OutputBufferOptions {
  /**
   * The bound on queued frames, in bytes of serialised JSON.
   * @default {8388608}
   */
  maxBytes?: number;
  /**
   * How long a control frame may wait for room, with no batch written
   * meanwhile, before the peer is treated as stalled, in ms.
   * @default {10000}
   */
  stallTimeoutMs?: number;
  /**
   * Called once when a control frame has waited `stallTimeoutMs` with no batch written meanwhile.
   * @default {undefined}
   */
  onStall?: () => void;
  /**
   * The largest batch {@linkcode OutputBuffer.take} returns, in bytes (at least one frame).
   * @default {262144}
   */
  maxBatchBytes?: number;
  /**
   * While the client reads fast, a producer that awaits
   * {@linkcode OutputBuffer.pushControl} is held back once more than this is
   * queued (at most `maxBytes`): see {@linkcode OutputBuffer.pushControl}.
   * @default {524288}
   */
  paceBytes?: number;
  /**
   * The longest a producer is paced at a time, in ms (see
   * {@linkcode OutputBuffer.pushControl}).
   * @default {100}
   */
  paceMaxWaitMs?: number;
}

/**
 * The payload of a delta frame: text, or bytes sent as base64.
 *
 * @example
 * ```ts
 * import { type DeltaPayload, Peer } from "@tuigate/tuigate";
 * const text: DeltaPayload = { text: "building…\n" };
 * const bytes: DeltaPayload = { bytes: new Uint8Array([0x1b, 0x5b, 0x32, 0x4a]) };
 * const peer = new Peer();
 * peer.delta("build:stdout", "build.output", { build: 1 }, text);
 * peer.delta("build:pty", "build.pty", { build: 1 }, bytes); // sent as "base64": "G1sySg=="
 * ```
 */
export type DeltaPayload = { text: string } | { bytes: Uint8Array };

/**
 * Counters reported by {@linkcode OutputBuffer.stats}.
 *
 * @example
 * ```ts
 * import { type OutputBufferStats, Peer } from "@tuigate/tuigate";
 * const peer = new Peer();
 * const stats: OutputBufferStats = peer.output.stats();
 * const lossy = stats.droppedDeltas > 0;
 * ```
 */
export interface OutputBufferStats {
  /** Bytes queued or being written now. */
  queuedBytes: number;
  /** Frames queued now. */
  queuedFrames: number;
  /** The highest `queuedBytes` seen. */
  highWaterBytes: number;
  /** Deltas merged into an earlier delta of the same key. */
  coalescedDeltas: number;
  /** Deltas dropped because merging was not enough. */
  droppedDeltas: number;
  /** Frames handed to the writer. */
  framesOut: number;
  /** Control frames that had to wait for room. */
  controlWaits: number;
}

/**
 * The default bound: 8 MiB.
 *
 * @example
 * ```ts
 * import { DEFAULT_OUT_BUFFER_BYTES, OutputBuffer } from "@tuigate/tuigate";
 * new OutputBuffer({ maxBytes: 2 * DEFAULT_OUT_BUFFER_BYTES });
 * ```
 */
export const DEFAULT_OUT_BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * The reading speed, in bytes per ms, from which a client counts as fast and
 * producers are paced (see {@linkcode OutputBuffer.pushControl}): 10 MB/s.
 */
const PACE_MIN_BYTES_PER_MS = 10_000;

/** Batches at least this large tell whether the client reads fast (smaller ones may fit the pipe). */
const PACE_JUDGE_BYTES = 64 * 1024;

/** How many stream keys a buffer remembers dropped deltas for, until their next delta says so. */
const MAX_CARRY_KEYS = 1024;

const logger = getLogger(["tuigate", "output"]);

const DELTA_OVERHEAD = 64;
const RESOLVED: Promise<void> = Promise.resolve();

interface ControlEntry {
  delta: false;
  text: string;
  size: number;
}

interface DeltaEntry {
  delta: true;
  key: string;
  method: string;
  params: Record<string, unknown>;
  /** The first text part; merged parts follow in `more`, joined when the frame is written. */
  text: string | undefined;
  /**
   * Text merged after `text`, kept as UTF-8 bytes in a reused buffer: the
   * merged strings are not kept, so they die young (a stream of distinct
   * strings under a stalled reader would otherwise fill the old generation).
   */
  more: Utf8Builder | undefined;
  bytes: Uint8Array[] | undefined;
  size: number;
  /** The serialised size of everything but the payload (an estimate). */
  overhead: number;
  /** Deltas in this frame; 0 for the stub of a stream's dropped newest delta, which only says `dropped`. */
  count: number;
  dropped: number;
  live: boolean;
}

type Entry = ControlEntry | DeltaEntry;

interface Waiter {
  since: number;
  resolve: () => void;
}

/** A producer waiting for the buffer to drain to a level (see {@linkcode OutputBuffer.drainedTo}). */
interface LevelWaiter {
  bytes: number;
  resolve: () => void;
}

/**
 * The bounded output buffer of one peer.
 *
 * @example
 * ```ts
 * import { OutputBuffer } from "@tuigate/tuigate";
 * const out = new OutputBuffer({ maxBytes: 1024 });
 * await out.pushControl('{"jsonrpc":"2.0","method":"hello"}');
 * out.pushDelta("job:1:stdout", "job.output", { job: 1 }, { text: "hi" });
 * const batch = out.take(); // two frames, in order
 * out.release(batch!.bytes);
 * ```
 */
export class OutputBuffer {
  #maxBytes: number;
  #maxBatch: number;
  /** A merged delta grows to at most a quarter of the bound, so dropping the oldest drops at most that. */
  #mergeCap: number;
  #dead = 0;
  /**
   * Set when the buffer goes over its bound, cleared when the writer has
   * drained it below half: while set, deltas merge into the waiting delta of
   * their key instead of queueing separately.
   */
  #pressure = false;
  #stallMs: number;
  #onStall: (() => void) | undefined;
  #queue: Entry[] = [];
  #head = 0;
  #queuedBytes = 0;
  #inFlightBytes = 0;
  /** The latest live delta of each key since the last control frame: where merges go. */
  #tail = new Map<string, DeltaEntry>();
  #segmentStart = 0;
  #fragmented = false;
  #carry = new Map<string, number>();
  /** The bytes of the stubs now queued (see `#makeRoom`). */
  #stubBytes = 0;
  /** Each key's latest stub, with the count of control frames queued before it. */
  #stubs = new Map<string, { entry: DeltaEntry; controls: number }>();
  #controls = 0;
  #live = new Map<string, number>();
  #scan = 0;
  #waiters: Waiter[] = [];
  #waiterHead = 0;
  #levelWaiters: LevelWaiter[] = [];
  #readable: (() => void) | undefined;
  #paceBytes: number;
  /** Producers held back above {@linkcode OutputBufferOptions.paceBytes}. */
  #paced: (() => void)[] = [];
  #paceTimer: ReturnType<typeof setTimeout> | undefined;
  #paceMaxWaitMs: number;
  /**
   * Whether producers are paced: set when a large batch was written at
   * {@linkcode PACE_MIN_BYTES_PER_MS} or faster, cleared when one was slower or
   * a paced wait reached {@linkcode OutputBufferOptions.paceMaxWaitMs}.
   */
  #pacing = true;
  /** When the batch being written was taken; `NaN` for a batch of dropped deltas only. */
  #takenAt = 0;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  #stalled = false;
  /** When the writer last finished a batch: a reader that makes progress is slow, not stalled. */
  #progressAt = 0;
  #closed = false;
  /** Storage of released builders, reused while the buffer is under pressure. */
  #spare: Uint8Array[] = [];
  #spareBytes = 0;
  #stats = {
    highWaterBytes: 0,
    coalescedDeltas: 0,
    droppedDeltas: 0,
    framesOut: 0,
    controlWaits: 0,
  };

  /** Makes an empty buffer. */
  constructor(options: OutputBufferOptions = {}) {
    this.#maxBytes = options.maxBytes ?? DEFAULT_OUT_BUFFER_BYTES;
    this.#maxBatch = options.maxBatchBytes ?? 256 * 1024;
    this.#paceBytes = Math.min(options.paceBytes ?? 512 * 1024, this.#maxBytes);
    this.#paceMaxWaitMs = options.paceMaxWaitMs ?? 100;
    this.#mergeCap = Math.floor(this.#maxBytes / 4);
    this.#stallMs = options.stallTimeoutMs ?? 10_000;
    this.#onStall = options.onStall;
  }

  /** Current counters. */
  stats(): OutputBufferStats {
    return {
      queuedBytes: this.#queuedBytes + this.#inFlightBytes,
      queuedFrames: this.#queue.length - this.#head - this.#dead,
      ...this.#stats,
    };
  }

  /** Whether nothing is queued or being written. */
  get empty(): boolean {
    return this.#queue.length === this.#head && this.#inFlightBytes === 0;
  }

  /** Whether more is queued than the bound allows (see {@linkcode OutputBuffer.room}). */
  get overBound(): boolean {
    return this.#total() > this.#maxBytes;
  }

  /** Whether the buffer was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues a serialised control frame. It is never dropped. The promise is
   * for producers that must not run ahead of the client (a producer that
   * awaits it is held back, never the frame). It resolves:
   *
   * - at once while at most {@linkcode OutputBufferOptions.paceBytes} are
   *   queued or being written;
   * - above that, while the client reads fast (its last large batch was
   *   written at 10 MB/s or more), once the writer has written the buffer
   *   down to that level, for at most `paceMaxWaitMs` (100 ms): a fast
   *   producer then runs just ahead of a fast client instead of filling the
   *   whole bound, and its frames die young instead of filling the old
   *   generation. A slow client (a batch written slower, or a wait that
   *   reached its limit) is not waited for: producers then run on up to the
   *   bound until a batch is written fast again;
   * - beyond the bound, once the writer has made room; the stall timeout
   *   runs meanwhile.
   */
  pushControl(text: string): Promise<void> {
    if (this.#closed) return RESOLVED;
    const size = text.length + 1;
    this.#append({ delta: false, text, size });
    // Guarded: `Map.prototype.clear` allocates a new table even when the map is empty.
    if (this.#tail.size > 0) this.#tail.clear();
    this.#segmentStart = this.#queue.length;
    this.#controls++;
    this.#fragmented = false;
    const total = this.#total();
    if (total <= this.#paceBytes) return RESOLVED;
    if (total <= this.#maxBytes) return this.#pacing ? this.#pace() : RESOLVED;
    this.#makeRoom();
    if (this.#total() <= this.#maxBytes) return RESOLVED;
    this.#stats.controlWaits++;
    return new Promise<void>((resolve) => {
      this.#waiters.push({ since: Date.now(), resolve });
      this.#armStall();
    });
  }

  /**
   * Lowers the stall timeout to `ms` (it is never raised), from now on: for
   * when the client's input has ended, since a client that sends no more
   * and reads nothing is gone.
   */
  limitStall(ms: number): void {
    if (ms >= this.#stallMs) return;
    this.#stallMs = ms;
    if (this.#stallTimer !== undefined) {
      clearTimeout(this.#stallTimer);
      this.#stallTimer = undefined;
      this.#armStall();
    }
  }

  /**
   * Resolves once the buffer holds no more than its bound (at once when it
   * does, or when it is closed), making room first by dropping what may be
   * dropped. Producers that must not run ahead await it, and a transport
   * before it reads more input. The wait counts towards the stall timeout
   * like a waiting control frame's.
   */
  room(): Promise<void> {
    if (this.#closed || this.#total() <= this.#maxBytes) return RESOLVED;
    this.#makeRoom();
    if (this.#total() <= this.#maxBytes) return RESOLVED;
    return new Promise<void>((resolve) => {
      this.#waiters.push({ since: Date.now(), resolve });
      this.#armStall();
    });
  }

  /**
   * Resolves once at most `bytes` are queued or being written (at once while
   * that holds), when the buffer closes, or when `signal` aborts. A producer
   * that keeps only a little output ahead of the frames a client asks for
   * awaits it, woken as soon as the writer finishes a batch.
   */
  drainedTo(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed || this.#total() <= bytes || signal?.aborted) return RESOLVED;
    return new Promise<void>((resolve) => {
      const waiter: LevelWaiter = {
        bytes,
        resolve: () => {
          signal?.removeEventListener("abort", abort);
          resolve();
        },
      };
      const abort = () => {
        const at = this.#levelWaiters.indexOf(waiter);
        if (at !== -1) this.#levelWaiters.splice(at, 1);
        resolve();
      };
      signal?.addEventListener("abort", abort, { once: true });
      this.#levelWaiters.push(waiter);
    });
  }

  /**
   * Queues a delta notification under a stream key. Never waits. When the
   * buffer is over its bound, deltas of one key are merged (payloads
   * concatenated, the earliest params kept), then the oldest are dropped and
   * the next delta of their key carries `dropped`.
   */
  pushDelta(
    key: string,
    method: string,
    params: Record<string, unknown>,
    payload: DeltaPayload,
  ): void {
    if (this.#closed) return;
    const isText = "text" in payload;
    const length = isText ? payload.text.length : Math.ceil(payload.bytes.length / 3) * 4;
    if (this.#fragmented && this.#total() + length > this.#maxBytes) this.#mergeTail();
    const last = this.#tail.get(key);
    if (this.#total() + length > this.#maxBytes) this.#pressure = true;
    if (
      last !== undefined && this.#pressure &&
      mergeable(last, method, isText, this.#mergeCap, length)
    ) {
      if (isText) (last.more ??= new Utf8Builder(this.#storage)).append(payload.text);
      else last.bytes!.push(payload.bytes);
      last.size += length;
      last.count++;
      this.#queuedBytes += length;
      this.#stats.coalescedDeltas++;
      const total = this.#total();
      if (total > this.#stats.highWaterBytes) this.#stats.highWaterBytes = total;
    } else {
      const entry: DeltaEntry = {
        delta: true,
        key,
        method,
        params,
        text: isText ? payload.text : undefined,
        more: undefined,
        bytes: isText ? undefined : [payload.bytes],
        size: 0,
        overhead: key.length + method.length + paramsSize(params) + DELTA_OVERHEAD,
        count: 1,
        dropped: this.#carry.size === 0 ? 0 : this.#carry.get(key) ?? 0,
        live: true,
      };
      entry.size = length + entry.overhead;
      if (entry.dropped > 0) this.#carry.delete(key);
      this.#live.set(key, (this.#live.get(key) ?? 0) + 1);
      this.#append(entry);
      if (last !== undefined) this.#fragmented = true;
      this.#tail.set(key, entry);
    }
    if (this.#total() > this.#maxBytes) {
      if (this.#fragmented) this.#mergeTail();
      this.#makeRoom();
    }
    if (this.#dead > 4096 && this.#dead * 2 > this.#queue.length - this.#head) this.#removeDead();
  }

  /** Removes merged and dropped entries from the waiting part of the queue, so a long stall holds no garbage. */
  #removeDead(): void {
    const kept: Entry[] = [];
    let segmentStart = 0;
    for (let i = this.#head; i < this.#queue.length; i++) {
      const entry = this.#queue[i];
      if (entry.delta && !entry.live) continue;
      kept.push(entry);
      if (!entry.delta) segmentStart = kept.length;
    }
    this.#queue = kept;
    this.#head = 0;
    this.#scan = 0;
    this.#segmentStart = segmentStart;
    this.#dead = 0;
  }

  /** Merges every waiting delta since the last control frame into the first of its key. */
  #mergeTail(): void {
    this.#fragmented = false;
    const firsts = new Map<string, DeltaEntry>();
    const start = Math.max(this.#segmentStart, this.#head);
    for (let i = start; i < this.#queue.length; i++) {
      const entry = this.#queue[i];
      if (!entry.delta || !entry.live) continue;
      const first = firsts.get(entry.key);
      const payload = entry.size - entry.overhead;
      if (
        first === undefined ||
        !mergeable(first, entry.method, entry.text !== undefined, this.#mergeCap, payload)
      ) {
        firsts.set(entry.key, entry);
        continue;
      }
      if (first.text !== undefined) {
        const more = (first.more ??= new Utf8Builder(this.#storage));
        more.append(entry.text!);
        if (entry.more !== undefined) {
          more.appendBuilder(entry.more);
          entry.more.release();
        }
      } else first.bytes!.push(...entry.bytes!);
      if (entry.count === 0) this.#unstub(entry);
      first.size += payload;
      first.count += entry.count;
      first.dropped += entry.dropped;
      this.#queuedBytes -= entry.size - payload;
      entry.live = false;
      entry.size = 0;
      entry.text = undefined;
      entry.more = undefined;
      entry.bytes = undefined;
      this.#dead++;
      this.#forget(entry);
      this.#stats.coalescedDeltas += entry.count;
    }
    // The latest live entry of each key is where later deltas merge.
    this.#tail.clear();
    for (let i = start; i < this.#queue.length; i++) {
      const entry = this.#queue[i];
      if (entry.delta && entry.live) this.#tail.set(entry.key, entry);
    }
  }

  /** Resolves when a frame is queued (at once if one is). */
  readable(): Promise<void> {
    if (this.#queue.length > this.#head || this.#closed) return RESOLVED;
    return new Promise<void>((resolve) => {
      this.#readable = resolve;
    });
  }

  /**
   * Removes the next batch of frames for the writer, serialised. Their bytes still count against the bound until
   * {@linkcode OutputBuffer.release} is called. Returns `undefined` when
   * nothing is queued.
   */
  take(): { frames: string[]; bytes: number } | undefined {
    const parts: string[] = [];
    let bytes = 0;
    let size = 0;
    while (this.#head < this.#queue.length && size < this.#maxBatch) {
      const entry = this.#queue[this.#head];
      this.#queue[this.#head++] = undefined as unknown as Entry;
      bytes += entry.size;
      if (entry.delta) {
        if (!entry.live) {
          this.#dead--;
          continue;
        }
        this.#forget(entry);
        if (entry.count === 0) this.#unstub(entry);
        let text: string | undefined;
        try {
          text = serialiseDelta(entry);
        } catch (error) {
          // Its params were kept as given and serialise only now: one that cannot (a BigInt, a
          // cycle) is dropped alone, with an error in the log, and every other frame goes out.
          this.#stats.droppedDeltas += entry.count;
          logger.error(
            "Dropped a {method} delta of {key}: its params cannot be serialised: {error}",
            {
              method: entry.method,
              key: entry.key,
              error: loggableError(error),
            },
          );
        }
        if (entry.more !== undefined) entry.more.release();
        entry.more = undefined;
        if (text === undefined) continue;
        parts.push(text);
        size += text.length + 1;
      } else {
        parts.push(entry.text);
        size += entry.size;
      }
    }
    // Deltas dropped for room right behind the batch go too: a queue of only those counts as
    // not empty, and whoever waits for the output to drain would wait for nothing.
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head];
      if (!entry.delta || entry.live) break;
      this.#queue[this.#head++] = undefined as unknown as Entry;
      bytes += entry.size;
      this.#dead--;
    }
    this.#compactQueue();
    this.#queuedBytes -= bytes;
    this.#inFlightBytes += bytes;
    if (parts.length === 0) {
      // Only dropped deltas: nothing is written, so nothing tells how fast the client reads.
      this.#takenAt = Number.NaN;
      this.release(bytes);
      return undefined;
    }
    this.#takenAt = performance.now();
    this.#stats.framesOut += parts.length;
    return { frames: parts, bytes };
  }

  /**
   * Tells the buffer that part of a batch was written: a reader that is slow
   * but still reading is not taken for a stalled one while a large batch goes
   * out.
   */
  progress(): void {
    this.#progressAt = Date.now();
  }

  /**
   * When the writer last made progress (`Date.now()`; 0 before any): a
   * batch, or part of one, written.
   */
  get progressAt(): number {
    return this.#progressAt;
  }

  /** Tells the buffer a batch from {@linkcode OutputBuffer.take} was written (or abandoned). */
  release(bytes: number): void {
    this.#inFlightBytes -= bytes;
    this.#progressAt = Date.now();
    const elapsed = performance.now() - this.#takenAt;
    if (bytes >= PACE_JUDGE_BYTES && !Number.isNaN(elapsed)) {
      this.#pacing = bytes >= elapsed * PACE_MIN_BYTES_PER_MS;
    }
    if (this.#paced.length > 0 && (!this.#pacing || this.#total() <= this.#paceBytes)) {
      this.#wakePaced();
    }
    if (this.#pressure && this.#total() < this.#maxBytes / 2) {
      this.#pressure = false;
      this.#dropSpares();
    }
    this.#wakeWaiters();
    if (this.#levelWaiters.length > 0) this.#wakeLevelWaiters();
  }

  /** Empties the buffer and wakes every waiting producer; later pushes are ignored. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    this.#dead = 0;
    this.#tail.clear();
    this.#live.clear();
    this.#carry.clear();
    this.#stubBytes = 0;
    this.#stubs.clear();
    this.#dropSpares();
    clearTimeout(this.#stallTimer);
    this.#wakePaced();
    for (let i = this.#waiterHead; i < this.#waiters.length; i++) this.#waiters[i].resolve();
    this.#waiters = [];
    this.#waiterHead = 0;
    const levelWaiters = this.#levelWaiters;
    this.#levelWaiters = [];
    for (const waiter of levelWaiters) waiter.resolve();
    this.#readable?.();
    this.#readable = undefined;
  }

  /**
   * Storage for merged text: the smallest spare that is large enough, else a
   * new buffer of the size asked (builders start small and double). Storage
   * given back is kept while under pressure, up to a quarter of the bound.
   */
  #storage: Utf8Storage = {
    take: (bytes) => {
      let best = -1;
      for (let i = 0; i < this.#spare.length; i++) {
        const length = this.#spare[i].length;
        if (length >= bytes && (best === -1 || length < this.#spare[best].length)) best = i;
      }
      if (best === -1) return new Uint8Array(bytes);
      const [storage] = this.#spare.splice(best, 1);
      this.#spareBytes -= storage.length;
      return storage;
    },
    give: (storage) => {
      if (!this.#pressure || this.#spareBytes + storage.length > this.#maxBytes / 4) return;
      this.#spare.push(storage);
      this.#spareBytes += storage.length;
    },
  };

  /** Lets the spare merge storage go (pressure is over, or the buffer closed). */
  #dropSpares(): void {
    this.#spare = [];
    this.#spareBytes = 0;
  }

  #total(): number {
    return this.#queuedBytes + this.#inFlightBytes;
  }

  #append(entry: Entry): void {
    this.#queue.push(entry);
    this.#queuedBytes += entry.size;
    const total = this.#total();
    if (total > this.#stats.highWaterBytes) this.#stats.highWaterBytes = total;
    const wake = this.#readable;
    if (wake !== undefined) {
      this.#readable = undefined;
      wake();
    }
  }

  /**
   * Drops the oldest live deltas until the buffer is within its bound or none
   * is left. The next live delta of the key carries the count. A key's newest
   * delta, with none after it, keeps its place as a stub with no payload that
   * carries the count (so a client learns of a lost tail before the control
   * frames behind it, such as `job.exit`); later drops of the key add to its
   * stub while no control frame came after it. Stubs take at most an eighth
   * of the bound; past that the count waits for the key's next delta.
   */
  #makeRoom(): void {
    if (this.#scan < this.#head) this.#scan = this.#head;
    while (this.#total() > this.#maxBytes && this.#scan < this.#queue.length) {
      const entry = this.#queue[this.#scan++];
      if (!entry.delta || !entry.live || entry.count === 0) continue;
      this.#stats.droppedDeltas += entry.count;
      const next = this.#nextLiveDelta(entry.key, this.#scan);
      const dropped = entry.count + entry.dropped;
      const stub = next === undefined ? this.#stubs.get(entry.key) : undefined;
      if (stub !== undefined && stub.controls === this.#controls && stub.entry.live) {
        stub.entry.dropped += dropped;
        this.#kill(entry);
        continue;
      }
      if (next === undefined && this.#stubBytes + entry.overhead <= this.#maxBytes / 8) {
        this.#queuedBytes -= entry.size - entry.overhead;
        this.#stubBytes += entry.overhead;
        entry.size = entry.overhead;
        if (entry.text !== undefined) entry.text = "";
        else entry.bytes = [];
        entry.more?.release();
        entry.more = undefined;
        entry.count = 0;
        entry.dropped = dropped;
        this.#stubs.set(entry.key, { entry, controls: this.#controls });
        continue;
      }
      this.#kill(entry);
      if (next !== undefined) next.dropped += dropped;
      else this.#carryDropped(entry.key, dropped);
    }
  }

  /** Forgets a stub that leaves the queue (taken by the writer, or merged into an earlier delta). */
  #unstub(entry: DeltaEntry): void {
    this.#stubBytes -= entry.overhead;
    if (this.#stubs.get(entry.key)?.entry === entry) this.#stubs.delete(entry.key);
  }

  /** Marks a delta dropped: it stays in the queue, dead, until the writer or a clean-up passes it. */
  #kill(entry: DeltaEntry): void {
    entry.live = false;
    this.#queuedBytes -= entry.size;
    entry.size = 0;
    entry.text = undefined;
    if (entry.more !== undefined) entry.more.release();
    entry.more = undefined;
    entry.bytes = undefined;
    this.#dead++;
    this.#forget(entry);
  }

  /**
   * Remembers deltas of `key` dropped with none of its deltas left to tell:
   * the next one will. Keys that never send another (a finished job's stream)
   * would pile up, so only the latest {@linkcode MAX_CARRY_KEYS} are kept.
   */
  #carryDropped(key: string, dropped: number): void {
    const carried = this.#carry.get(key);
    if (carried !== undefined) this.#carry.delete(key); // re-inserted as the newest
    this.#carry.set(key, (carried ?? 0) + dropped);
    if (this.#carry.size > MAX_CARRY_KEYS) {
      this.#carry.delete(this.#carry.keys().next().value!);
    }
  }

  #forget(entry: DeltaEntry): void {
    if (this.#tail.get(entry.key) === entry) this.#tail.delete(entry.key);
    const live = (this.#live.get(entry.key) ?? 1) - 1;
    if (live === 0) this.#live.delete(entry.key);
    else this.#live.set(entry.key, live);
  }

  #nextLiveDelta(key: string, from: number): DeltaEntry | undefined {
    if (!this.#live.has(key)) return undefined;
    for (let i = from; i < this.#queue.length; i++) {
      const entry = this.#queue[i];
      if (entry.delta && entry.live && entry.key === key) return entry;
    }
    return undefined;
  }

  #compactQueue(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      this.#scan = 0;
      this.#segmentStart = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#scan = Math.max(0, this.#scan - this.#head);
      this.#segmentStart = Math.max(0, this.#segmentStart - this.#head);
      this.#head = 0;
    }
  }

  /**
   * Holds a producer back until the writer has written the buffer down to
   * the pace level, for at most {@linkcode OutputBufferOptions.paceMaxWaitMs}.
   */
  #pace(): Promise<void> {
    this.#paceTimer ??= setTimeout(() => {
      this.#paceTimer = undefined;
      this.#pacing = false;
      this.#wakePaced();
    }, this.#paceMaxWaitMs);
    return new Promise<void>((resolve) => {
      this.#paced.push(resolve);
    });
  }

  #wakePaced(): void {
    clearTimeout(this.#paceTimer);
    this.#paceTimer = undefined;
    const paced = this.#paced;
    if (paced.length === 0) return;
    this.#paced = [];
    for (const resolve of paced) resolve();
  }

  #wakeWaiters(): void {
    while (this.#waiterHead < this.#waiters.length && this.#total() <= this.#maxBytes) {
      this.#waiters[this.#waiterHead++].resolve();
    }
    if (this.#waiterHead === this.#waiters.length) {
      this.#waiters = [];
      this.#waiterHead = 0;
      clearTimeout(this.#stallTimer);
      this.#stallTimer = undefined;
    }
  }

  #wakeLevelWaiters(): void {
    const total = this.#total();
    const waiting: LevelWaiter[] = [];
    const woken: LevelWaiter[] = [];
    for (const waiter of this.#levelWaiters) (total <= waiter.bytes ? woken : waiting).push(waiter);
    if (woken.length === 0) return;
    this.#levelWaiters = waiting;
    for (const waiter of woken) waiter.resolve();
  }

  #armStall(): void {
    if (this.#stallTimer !== undefined || this.#stalled) return;
    const check = () => {
      this.#stallTimer = undefined;
      if (this.#waiterHead >= this.#waiters.length || this.#closed) return;
      const waited = Date.now() - Math.max(this.#waiters[this.#waiterHead].since, this.#progressAt);
      if (waited >= this.#stallMs) {
        this.#stalled = true;
        this.#onStall?.();
        return;
      }
      this.#stallTimer = setTimeout(check, this.#stallMs - waited);
    };
    this.#stallTimer = setTimeout(check, this.#stallMs);
  }
}

/** An estimate of the serialised size of a delta's params, without serialising them. */
function paramsSize(params: Record<string, unknown>): number {
  let size = 0;
  for (const key in params) {
    const value = params[key];
    size += key.length + 4;
    if (typeof value === "string") size += value.length + 2;
    else if (typeof value === "number" || typeof value === "boolean" || value === null) size += 8;
    else if (value !== undefined) size += 32;
  }
  return size;
}

function mergeable(
  first: DeltaEntry,
  method: string,
  isText: boolean,
  cap: number,
  adding: number,
): boolean {
  // Not into a stub: it stays behind the drop scan, where a payload could never be dropped again.
  return first.live && first.count > 0 && first.method === method && first.size + adding <= cap &&
    (isText ? first.text !== undefined : first.bytes !== undefined);
}

function serialiseDelta(entry: DeltaEntry): string {
  const params: Record<string, unknown> = { ...entry.params, key: entry.key };
  if (entry.text !== undefined) {
    params.text = entry.more === undefined ? entry.text : entry.text + entry.more.toString();
  } else params.base64 = toBase64(concatBytes(entry.bytes!));
  if (entry.dropped > 0) params.dropped = entry.dropped;
  return JSON.stringify({ jsonrpc: "2.0", method: entry.method, params });
}
