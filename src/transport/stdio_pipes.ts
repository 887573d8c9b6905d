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
import type { SocketSink } from "./_socket_sink.ts";
import type { SocketSource } from "./_socket_source.ts";

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
  source: typeof import("./_socket_source.ts");
  sink: typeof import("./_socket_sink.ts");
  /** Whether stdin and stdout are one socket. */
  shared: boolean;
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
  /** The byte source: stdin. One read at a time: the next starts once the last resolved. */
  readonly input: ByteSource;
  /** The byte sink: stdout. One write at a time: the next starts once the last resolved. */
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
    if (!this.#allowed || Deno.build.os === "windows") return false;
    // Loaded only now: none of it is on the way to the first answer.
    const [net, fs, source, sink] = await Promise.all([
      import("node:net"),
      import("node:fs"),
      import("./_socket_source.ts"),
      import("./_socket_sink.ts"),
    ]);
    const fit = socketFit(fs);
    if (fit === undefined) return false;
    this.#loaded = {
      net,
      source,
      sink,
      shared: fit.shared,
      nonBlocking: [nonBlocking(0), nonBlocking(1)],
    };
    // Deno.exit dispatches "unload" synchronously: nothing runs between the release and the exit.
    globalThis.addEventListener("unload", this.#onUnload);
    return true;
  }

  /**
   * Puts stdin and stdout back in the blocking mode they had before the
   * move (blocking, where it cannot be read): the sockets make them
   * non-blocking, which every other holder of the same pipe ends would see
   * (a shell's next command, say). stdin is put back at its end already.
   * Runs by itself when the process exits through `Deno.exit` or runs out of
   * work (the `unload` event); call it only when done reading and writing.
   * A process ended by a signal's default action or by an uncaught error
   * leaves them non-blocking. Idempotent.
   *
   * Once stdin has ended or stdout has failed, the runtime closes that
   * descriptor, and the next file opened may take its number: do not use
   * `Deno.stdin` or `Deno.stdout` then.
   */
  release(): void {
    globalThis.removeEventListener("unload", this.#onUnload);
    this.#source?.release();
    this.#sink?.release();
  }

  #onUnload = (): void => this.release();

  #read(p: Uint8Array): Promise<number | null> {
    if (this.#source === undefined) {
      const loaded = this.#loaded;
      if (loaded === undefined) return Deno.stdin.read(p);
      try {
        this.#source = new loaded.source.SocketSource(loaded.net, 0, {
          blockingAfter: !loaded.nonBlocking[0],
          // One socket for both: making it blocking at the end of input would block writes.
          leaveAtEnd: !loaded.shared,
        });
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#source.read(p);
  }

  #write(p: Uint8Array): Promise<number> {
    if (this.#sink === undefined) {
      const loaded = this.#loaded;
      if (loaded === undefined) return Deno.stdout.write(p);
      try {
        this.#sink = new loaded.sink.SocketSink(loaded.net, 1, {
          // One socket for both: making it blocking for a write would block the reads of it.
          bulkBytes: loaded.shared ? Infinity : BULK_BYTES,
          bulkWrite: (bytes) => Deno.stdout.write(bytes),
          blockingAfter: !loaded.nonBlocking[1],
        });
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#sink.write(p);
  }
}

/**
 * Whether stdin and stdout can move onto sockets: both pipes or sockets that
 * stderr does not share (unknown means no). `shared` is whether stdin and
 * stdout are one socket.
 */
function socketFit(fs: typeof import("node:fs")): { shared: boolean } | undefined {
  try {
    const stdin = fs.fstatSync(0);
    const stdout = fs.fstatSync(1);
    if (!(stdin.isFIFO() || stdin.isSocket()) || !(stdout.isFIFO() || stdout.isSocket())) {
      return undefined;
    }
    let stderr: import("node:fs").Stats | undefined;
    try {
      stderr = fs.fstatSync(2);
    } catch {
      stderr = undefined; // no stderr to share with
    }
    if (stderr !== undefined && (same(stderr, stdout) || same(stderr, stdin))) return undefined;
    return { shared: same(stdin, stdout) };
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

function same(a: import("node:fs").Stats, b: import("node:fs").Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev;
}
