/**
 * stdin and stdout as a byte source and sink that start on `Deno.stdin` and
 * `Deno.stdout` and can move onto sockets the runtime's reactor polls.
 *
 * Each `Deno.stdin.read` and `Deno.stdout.write` runs on a blocking thread,
 * which costs every request a thread hand-off each way. A `node:net` socket
 * on the same descriptor is polled on the main thread instead. Loading
 * `node:net` costs about 12 ms, so the move happens after the first frame is
 * written (startup is not delayed), at the next read and the next write that
 * start after it loaded: a read or write under way on the old path always
 * finishes there first, so no byte is read twice, lost or reordered.
 *
 * @module
 */

import type { ByteSink } from "./frame_writer.ts";
import type { ByteSource } from "./stdio_transport.ts";
import type { SocketSink, SocketSource } from "./_socket_stdio.ts";

/**
 * Writes at least this large go through `Deno.stdout.write` on a runtime
 * thread (the descriptor made blocking for them), so that a large answer
 * keeps flowing while the main thread parses the next request.
 */
const BULK_BYTES = 64 * 1024;

/**
 * Which path stdin or stdout takes.
 *
 * @example
 * ```ts
 * import { StdioPath, StdioPipes } from "@tuigate/tuigate";
 * const pipes = new StdioPipes();
 * pipes.inputPath === StdioPath.Deno; // true until upgrade() and the next read
 * ```
 */
export enum StdioPath {
  /** `Deno.stdin.read` and `Deno.stdout.write`. */
  Deno = "deno",
  /** `node:net` sockets on descriptors 0 and 1. */
  Sockets = "sockets",
}

/** What the move onto sockets needs, once loaded. */
interface Loaded {
  net: typeof import("node:net");
  sockets: typeof import("./_socket_stdio.ts");
  /** Writes at least this large go through `Deno.stdout.write`. */
  bulkBytes: number;
  /** Whether fds 0 and 1 were non-blocking before the move. */
  nonBlocking: [boolean, boolean];
}

/**
 * Options for {@linkcode StdioPipes}.
 *
 * @example
 * ```ts
 * import { StdioPipes, type StdioPipesOptions } from "@tuigate/tuigate";
 * const options: StdioPipesOptions = { sockets: false };
 * const pipes = new StdioPipes(options);
 * await pipes.upgrade(); // false: stays on Deno.stdin and Deno.stdout
 * ```
 */
export interface StdioPipesOptions {
  /**
   * Whether {@linkcode StdioPipes.upgrade} may move onto sockets.
   * @default {true}
   */
  sockets?: boolean;
}

/**
 * stdin and stdout for a stdio transport: `input` and `output` start on
 * `Deno.stdin` and `Deno.stdout`; {@linkcode StdioPipes.upgrade} moves them
 * onto reactor-polled sockets when both are pipes or sockets that stderr
 * does not share (a socket leaves its descriptor non-blocking, and stderr is
 * written through `Deno.stderr`, which expects a blocking one).
 *
 * @example
 * ```ts
 * import { Gateway, StdioPipes, StdioTransport } from "@tuigate/tuigate";
 * const pipes = new StdioPipes();
 * const transport = new StdioTransport(new Gateway(), pipes);
 * transport.start();
 * await transport.firstWrite;
 * await pipes.upgrade();
 * ```
 */
export class StdioPipes {
  /** The byte source: stdin. */
  readonly input: ByteSource;
  /** The byte sink: stdout. */
  readonly output: ByteSink;
  #allowed: boolean;
  #source: SocketSource | undefined;
  #sink: SocketSink | undefined;
  #loaded: Loaded | undefined;
  #upgrading: Promise<boolean> | undefined;

  /** Makes the pair; nothing is read or written until asked. */
  constructor(options: StdioPipesOptions = {}) {
    this.#allowed = options.sockets ?? true;
    this.input = { read: (p) => this.#read(p) };
    this.output = { write: (p) => this.#write(p) };
  }

  /** The path reads take now. */
  get inputPath(): StdioPath {
    return this.#source === undefined ? StdioPath.Deno : StdioPath.Sockets;
  }

  /** The path writes take now. */
  get outputPath(): StdioPath {
    return this.#sink === undefined ? StdioPath.Deno : StdioPath.Sockets;
  }

  /**
   * Loads `node:net` when the descriptors allow the move; the next read and
   * the next write then start on sockets. Resolves `true` when the move is
   * set, `false` when stdio stays on `Deno.stdin`/`Deno.stdout` (not allowed,
   * not pipes, shared with stderr, or not on this platform). Idempotent.
   */
  upgrade(): Promise<boolean> {
    this.#upgrading ??= this.#load();
    return this.#upgrading;
  }

  async #load(): Promise<boolean> {
    const fit = this.#allowed ? socketFit() : undefined;
    if (fit === undefined) return false;
    // Loaded only now, with node:net: neither is on the way to the first answer.
    const [net, sockets] = await Promise.all([import("node:net"), import("./_socket_stdio.ts")]);
    this.#loaded = {
      net,
      sockets,
      bulkBytes: fit.bulk ? BULK_BYTES : Infinity,
      nonBlocking: [nonBlocking(0), nonBlocking(1)],
    };
    // Deno.exit dispatches "unload" synchronously: nothing runs between the release and the exit.
    globalThis.addEventListener("unload", () => this.release());
    return true;
  }

  /**
   * Puts stdin and stdout back in the blocking mode they had before the
   * move: the sockets leave them non-blocking, which every other holder of
   * the same pipe ends would see (a shell's next command, say). Runs by
   * itself when the process exits (the `unload` event); call it only when
   * done reading and writing. A process killed by a signal keeps them
   * non-blocking. Idempotent.
   */
  release(): void {
    const loaded = this.#loaded;
    if (loaded === undefined) return;
    this.#source?.release();
    this.#sink?.release(!loaded.nonBlocking[1]);
  }

  #read(p: Uint8Array): Promise<number | null> {
    if (this.#source === undefined) {
      const loaded = this.#loaded;
      if (loaded === undefined) return Deno.stdin.read(p);
      this.#source = new loaded.sockets.SocketSource(loaded.net, 0, !loaded.nonBlocking[0]);
    }
    return this.#source.read(p);
  }

  #write(p: Uint8Array): Promise<number> {
    if (this.#sink === undefined) {
      const loaded = this.#loaded;
      if (loaded === undefined) return Deno.stdout.write(p);
      this.#sink = new loaded.sockets.SocketSink(
        loaded.net,
        1,
        (bytes) => Deno.stdout.write(bytes),
        loaded.bulkBytes,
      );
    }
    return this.#sink.write(p);
  }
}

/**
 * Whether stdin and stdout can move onto sockets: both pipes or sockets that
 * stderr does not share (unknown, as without permission to stat or on
 * Windows, means no). `bulk` is whether large writes may make stdout
 * blocking for a while: not when stdin is the same socket, whose reads
 * would then block the main thread.
 */
function socketFit(): { bulk: boolean } | undefined {
  if (Deno.build.os === "windows") return undefined;
  try {
    const stdin = Deno.statSync("/dev/stdin");
    const stdout = Deno.statSync("/dev/stdout");
    if (!(stdin.isFifo || stdin.isSocket) || !(stdout.isFifo || stdout.isSocket)) return undefined;
    let stderr: Deno.FileInfo | undefined;
    try {
      stderr = Deno.statSync("/dev/stderr");
    } catch {
      stderr = undefined; // no stderr to share with
    }
    if (stderr !== undefined && (same(stderr, stdout) || same(stderr, stdin))) return undefined;
    return { bulk: !same(stdin, stdout) };
  } catch {
    return undefined;
  }
}

/** Whether a descriptor is non-blocking now (Linux; elsewhere assumed not, the usual state). */
function nonBlocking(fd: number): boolean {
  try {
    const flags = /^flags:\s+([0-7]+)$/m.exec(Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`));
    return flags !== null && (parseInt(flags[1], 8) & 0o4000) !== 0;
  } catch {
    return false;
  }
}

function same(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.ino === b.ino && a.dev === b.dev;
}
