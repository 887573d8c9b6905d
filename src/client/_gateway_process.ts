/**
 * One spawned gateway process: framing both ways, the stderr tail, and its
 * exit. The client makes a new one for each (re)start.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import type { FrameDecoder, FrameEvent } from "../protocol/frame_decoder.ts";
import { LineDecoder } from "../protocol/line_decoder.ts";
import { encodeLspFrame, LspDecoder } from "../protocol/lsp_decoder.ts";

/** How a gateway process ended. */
export interface ProcessExit {
  /** The exit code, or `null`. */
  code: number | null;
  /** The signal, or `null`. */
  signal: string | null;
  /** The spawn error, when it never ran. */
  error?: Error;
}

/** Options for {@linkcode GatewayProcess}. */
export interface GatewayProcessOptions {
  command: string;
  args: string[];
  cwd: string | undefined;
  env: Record<string, string>;
  framing: "line" | "lsp";
  maxFrameBytes: number;
  stderrTailBytes: number;
  onStderr: ((text: string) => void) | undefined;
  onMessage: (message: unknown) => void;
  onProtocolError: (reason: string, text: string) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The end of `text` that takes at most `bytes` bytes as UTF-8, starting at a
 * whole character. Looks at no more than `bytes` code units.
 */
function tailOf(text: string, bytes: number): string {
  let size = 0;
  let start = text.length;
  while (start > 0) {
    const unit = text.charCodeAt(start - 1);
    const before = start >= 2 ? text.charCodeAt(start - 2) : 0;
    const pair = unit >= 0xdc00 && unit <= 0xdfff && before >= 0xd800 && before <= 0xdbff;
    const length = pair ? 4 : unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3;
    if (size + length > bytes) break;
    size += length;
    start -= pair ? 2 : 1;
  }
  return start === 0 ? text : text.slice(start);
}
/** How long stdout may stay open after the process exited before reading stops. */
const STDOUT_LINGER_MS = 500;

/** One spawned gateway process. */
export class GatewayProcess {
  readonly child: ChildProcess;
  /** Resolves once the process is gone and its stdout was read (or lingered too long). */
  readonly exited: Promise<ProcessExit>;
  /** When the process was spawned (performance.now()). */
  readonly spawnedAt: number = performance.now();
  /** Whether the client asked it to exit with `gateway.shutdown` (its exit is then expected). */
  shutdownRequested = false;
  #framing: "line" | "lsp";
  #decoder: FrameDecoder;
  #stderrTail = "";
  #tailBytes: number;
  #exit: ProcessExit | undefined;
  #inputEnded = false;

  constructor(options: GatewayProcessOptions) {
    this.#framing = options.framing;
    this.#tailBytes = options.stderrTailBytes;
    this.#decoder = options.framing === "lsp"
      ? new LspDecoder({
        maxFrameBytes: options.maxFrameBytes,
        onHeaderError: (reason) => options.onProtocolError(reason, ""),
      })
      : new LineDecoder({ maxFrameBytes: options.maxFrameBytes });
    this.child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["pipe", "pipe", "pipe"],
      // Its own session and process group: terminal signals meant for the TUI
      // do not reach it, and close() can signal everything it started.
      detached: true,
    });
    const child = this.child;
    child.stdin!.on("error", () => {
      // EPIPE once the gateway is gone: the exit handler settles what is pending.
    });
    const stdoutDone = new Promise<void>((resolve) => {
      child.stdout!.on("end", resolve).on("close", resolve).on("error", () => resolve());
    });
    const emit = (event: FrameEvent) => {
      if (event.kind === "oversize") {
        options.onProtocolError(`Frame of ${event.bytes} bytes exceeds the limit`, "");
        return;
      }
      const text = decoder.decode(event.bytes);
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch (error) {
        options.onProtocolError(
          `Output is not JSON: ${(error as Error).message}`,
          text.slice(0, 200),
        );
        return;
      }
      options.onMessage(message);
    };
    child.stdout!.on("data", (chunk: Uint8Array) => {
      try {
        // A plain view: Node's Buffer#slice does not copy, and decoders rely on slice() copying.
        this.#decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), emit);
      } catch (error) {
        // Whatever the gateway writes must not throw out of this handler (it would end the TUI).
        options.onProtocolError(`Reading the gateway's output failed: ${errorText(error)}`, "");
      }
    });
    // One streaming decoder: a character split between two chunks is kept whole.
    const stderrDecoder = new TextDecoder();
    child.stderr!.on("data", (chunk: Uint8Array) => {
      const text = stderrDecoder.decode(chunk, { stream: true });
      this.#stderrTail = tailOf(this.#stderrTail + text, this.#tailBytes);
      try {
        options.onStderr?.(text);
      } catch {
        // The caller's callback must not end the TUI either.
      }
    });
    child.stderr!.on("error", () => {});
    this.exited = new Promise<ProcessExit>((resolve) => {
      child.once("error", (error) => {
        if (child.pid === undefined) {
          this.#exit = { code: null, signal: null, error };
          resolve(this.#exit);
        }
      });
      child.once("exit", (code, signal) => {
        this.#exit = { code, signal };
        let timer: ReturnType<typeof setTimeout> | undefined;
        const linger = new Promise<void>((done) => (timer = setTimeout(done, STDOUT_LINGER_MS)));
        void Promise.race([stdoutDone, linger]).then(() => {
          clearTimeout(timer);
          child.stdout!.destroy();
          child.stderr!.destroy();
          child.stdin!.destroy();
          resolve({ code, signal });
        });
      });
    });
  }

  /** The pid, once spawned. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process has exited (or never started). */
  get gone(): boolean {
    return this.#exit !== undefined;
  }

  /** The last bytes written to stderr. */
  get stderrTail(): string {
    return this.#stderrTail;
  }

  /** Writes one message, framed; resolves when the pipe accepted it (waits for `drain`). */
  write(message: unknown): Promise<void> {
    const stdin = this.child.stdin!;
    if (this.#inputEnded || this.gone || stdin.destroyed) return Promise.resolve();
    const json = JSON.stringify(message);
    const bytes = this.#framing === "lsp" ? encodeLspFrame(json) : encoder.encode(`${json}\n`);
    return new Promise((resolve) => {
      if (stdin.write(bytes)) {
        resolve();
        return;
      }
      const done = () => {
        stdin.off("drain", done);
        stdin.off("close", done);
        resolve();
      };
      stdin.on("drain", done).on("close", done);
    });
  }

  /** Ends the gateway's stdin (it exits on EOF). Idempotent. */
  endInput(): void {
    if (this.#inputEnded) return;
    this.#inputEnded = true;
    try {
      this.child.stdin!.end();
    } catch {
      // Already closed.
    }
  }

  /** Signals the process itself (not its tree). */
  kill(signal: NodeJS.Signals): void {
    if (this.gone || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      // Gone.
    }
  }
}
