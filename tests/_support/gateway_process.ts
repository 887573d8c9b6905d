/**
 * Test support: spawns a real gateway process (`main.ts` by default) with
 * piped stdio, and reads its stdout frame by frame.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The repository root. */
export const ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** Options for {@linkcode spawnGateway}. */
export interface SpawnGatewayOptions {
  /**
   * The script to run.
   * @default {`${ROOT}/main.ts`}
   */
  script?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /**
   * Whether stderr is read (false leaves it unread, to fill up).
   * @default {true}
   */
  readStderr?: boolean;
  /**
   * Whether stdout is read from the start.
   * @default {true}
   */
  readStdout?: boolean;
  /** Deno permission flags. @default {["-A"]} */
  permissions?: string[];
  /** The working folder. @default {ROOT} */
  cwd?: string;
}

/** A message read from the gateway. */
// deno-lint-ignore no-explicit-any
export type Frame = any;

/** A running gateway process. */
export class GatewayProcess {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** A temporary folder for state and the ledger. */
  readonly dir: string;
  /** The ledger path. */
  readonly ledgerPath: string;
  /** Lines on stdout that were not valid JSON. */
  readonly invalidLines: string[] = [];
  /** Every frame read so far. */
  readonly frames: Frame[] = [];
  #waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  #unclaimed: Frame[] = [];
  #stderr = "";
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #stdoutDone: Promise<void> = Promise.resolve();
  #stderrDone: Promise<void> = Promise.resolve();
  #nextId = 1_000_001;
  /** When the process was spawned (performance.now()). */
  readonly spawnedAt: number = performance.now();
  /** Resolves with the exit status and the time from spawn. */
  readonly exited: Promise<Deno.CommandStatus & { at: number }>;

  /** Use {@linkcode spawnGateway}. */
  constructor(args: string[], options: SpawnGatewayOptions, dir: string) {
    this.dir = dir;
    this.ledgerPath = `${dir}/exits.jsonl`;
    const command = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...(options.permissions ?? ["-A"]),
        options.script ?? `${ROOT}/main.ts`,
        ...args,
      ],
      cwd: options.cwd ?? ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: {
        TUIGATE_CRASH_LOG: this.ledgerPath,
        TUIGATE_STATE_DIR: `${dir}/state`,
        NO_COLOR: "1",
        ...options.env,
      },
    });
    this.child = command.spawn();
    this.#writer = this.child.stdin.getWriter();
    this.exited = this.child.status.then((status) => ({ ...status, at: performance.now() }));
    if (options.readStdout ?? true) this.#stdoutDone = this.#readStdout();
    if (options.readStderr ?? true) this.#stderrDone = this.#readStderr();
  }

  /** Everything read from stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  async #readStdout(): Promise<void> {
    let pending = "";
    try {
      for await (const chunk of this.child.stdout.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        let newline;
        while ((newline = pending.indexOf("\n")) !== -1) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          let frame: Frame;
          try {
            frame = JSON.parse(line);
          } catch {
            this.invalidLines.push(line);
            continue;
          }
          this.#deliver(frame);
        }
      }
    } catch {
      // The stream was cancelled.
    }
    if (pending !== "") this.invalidLines.push(pending);
  }

  async #readStderr(): Promise<void> {
    try {
      for await (const chunk of this.child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr += chunk;
      }
    } catch {
      // The stream was cancelled.
    }
  }

  #deliver(frame: Frame): void {
    this.frames.push(frame);
    const index = this.#waiters.findIndex((w) => w.match(frame));
    if (index !== -1) {
      const [waiter] = this.#waiters.splice(index, 1);
      waiter.resolve(frame);
    } else {
      this.#unclaimed.push(frame);
    }
  }

  /** Resolves with the next frame (not yet claimed) that matches, or rejects after `timeoutMs`. */
  next(match: (f: Frame) => boolean = () => true, timeoutMs = 10_000): Promise<Frame> {
    const index = this.#unclaimed.findIndex(match);
    if (index !== -1) return Promise.resolve(this.#unclaimed.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      // deno-lint-ignore prefer-const -- assigned after the waiter that reads it is registered
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter = {
        match,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      // Registered before setTimeout: under `deno test`, setTimeout may run queued microtasks.
      this.#waiters.push(waiter);
      timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index === -1) return;
        this.#waiters.splice(index, 1);
        reject(
          new Error(
            `No matching frame within ${timeoutMs} ms; stderr:\n${this.#stderr.slice(-2000)}`,
          ),
        );
      }, timeoutMs);
    });
  }

  /** Resolves with the response to `id`. */
  response(id: unknown, timeoutMs = 10_000): Promise<Frame> {
    return this.next(
      (f) =>
        f !== null && typeof f === "object" && !Array.isArray(f) && f.id === id && !("method" in f),
      timeoutMs,
    );
  }

  /** Resolves with the next notification of `method`. */
  notification(method: string, timeoutMs = 10_000): Promise<Frame> {
    return this.next((f) => f?.method === method && !("id" in f), timeoutMs);
  }

  /** Writes a message (serialised with a newline) or raw text/bytes. */
  async send(message: unknown): Promise<void> {
    const bytes = message instanceof Uint8Array
      ? message
      : encoder.encode(typeof message === "string" ? message : JSON.stringify(message) + "\n");
    await this.#writer.write(bytes);
  }

  /** Sends a request with a fresh numeric id and resolves with its response. */
  request(method: string, params?: unknown, timeoutMs = 10_000): Promise<Frame> {
    return this.call(this.#nextId++, method, params, timeoutMs);
  }

  /**
   * Sends a request with the given id and resolves with its response. The
   * write is queued at once, in order with later sends, so the caller can go
   * on (send more, signal the process) before awaiting the answer.
   */
  call(id: string | number, method: string, params?: unknown, timeoutMs = 10_000): Promise<Frame> {
    const response = this.response(id, timeoutMs);
    const message = params === undefined
      ? { jsonrpc: "2.0", id, method }
      : { jsonrpc: "2.0", id, method, params };
    return this.send(message).then(() => response);
  }

  /** Waits for `gateway.ready`. */
  ready(timeoutMs = 15_000): Promise<Frame> {
    return this.notification("gateway.ready", timeoutMs);
  }

  /**
   * Waits until `gateway.info` says stdin and stdout have moved onto sockets
   * (see `StdioPipes`); the move follows the first frame within milliseconds.
   */
  async onSockets(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { stdio } = (await this.request("gateway.info")).result;
      if (stdio.input === "sockets" && stdio.output === "sockets") return;
      if (Date.now() > deadline) throw new Error(`stdio stayed on ${JSON.stringify(stdio)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Closes the gateway's stdin. */
  async closeStdin(): Promise<void> {
    try {
      await this.#writer.close();
    } catch {
      // Already closed.
    }
  }

  /** Sends a signal. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /**
   * Blocks the main isolate with `debug.block` (needs `--test-hooks`) for 20 s,
   * sends `signal` 300 ms later, and waits up to 6 s for the exit. Resolves
   * with the block's answer and the exit status (ms counted from the signal).
   */
  async signalWhileBlocked(signal: Deno.Signal): Promise<{
    reply: Frame;
    status: Deno.CommandStatus & { ms: number; timedOut: boolean };
  }> {
    const reply = await this.request("debug.block", { ms: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const since = performance.now();
    this.kill(signal);
    return { reply, status: await this.waitExit(6000, since) };
  }

  /** Waits for exit, killing the process after `timeoutMs`. Resolves with the status and ms since `since`. */
  async waitExit(
    timeoutMs = 10_000,
    since = this.spawnedAt,
  ): Promise<Deno.CommandStatus & { ms: number; timedOut: boolean }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((
      resolve,
    ) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === "timeout") {
      this.kill("SIGKILL");
      const status = await this.exited;
      return { ...status, ms: status.at - since, timedOut: true };
    }
    return { ...result, ms: result.at - since, timedOut: false };
  }

  /** The ledger's entries. */
  async ledger(): Promise<Record<string, unknown>[]> {
    try {
      const text = await Deno.readTextFile(this.ledgerPath);
      return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
    } catch {
      return [];
    }
  }

  /** Kills the process if still running, releases streams and removes the temporary folder. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.exited;
    await this.closeStdin();
    await Promise.allSettled([this.#stdoutDone, this.#stderrDone]);
    try {
      await this.child.stdout.cancel();
    } catch { /* consumed */ }
    try {
      await this.child.stderr.cancel();
    } catch { /* consumed */ }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Spawns `deno run -A main.ts ...args` with a fresh temporary state folder
 * and ledger.
 *
 * @example
 * ```ts
 * await using gw = await spawnGateway();
 * await gw.ready();
 * const pong = await gw.request("gateway.ping");
 * ```
 */
export async function spawnGateway(
  args: string[] = [],
  options: SpawnGatewayOptions = {},
): Promise<GatewayProcess> {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-test-" });
  return new GatewayProcess(args, options, dir);
}

/** Decodes bytes as UTF-8. */
export function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
