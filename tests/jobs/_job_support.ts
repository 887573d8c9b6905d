/**
 * Helpers for the jobs tests: reading a peer's output in-process, reading a
 * gateway's stdout without keeping bulk output, and checking processes.
 *
 * @module
 */

import { concatBytes } from "../../src/protocol/bytes.ts";
import type { Peer } from "../../src/protocol/peer.ts";
import type { GatewayProcess } from "../_support/gateway_process.ts";
import { alive } from "../_support/process_state.ts";

/** A frame read from a peer or a gateway. */
// deno-lint-ignore no-explicit-any
export type Frame = any;

/** Waits for frames matching a predicate. */
class FrameLog {
  readonly frames: Frame[] = [];
  #waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];

  add(frame: Frame): void {
    this.frames.push(frame);
    for (const waiter of [...this.#waiters]) {
      if (waiter.match(frame)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(frame);
      }
    }
  }

  /** The first frame (already read or still to come) that matches. */
  wait(match: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const found = this.frames.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        timer: undefined as ReturnType<typeof setTimeout> | undefined,
        resolve: (f: Frame) => {
          clearTimeout(waiter.timer);
          resolve(f);
        },
      };
      // Registered before setTimeout: under `deno test`, arming a timer may run queued microtasks.
      this.#waiters.push(waiter);
      waiter.timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index === -1) return;
        this.#waiters.splice(index, 1);
        reject(new Error(`No matching frame within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }
}

/** Reads every frame a peer's output buffer yields, like a transport that writes at full speed. */
export class PeerReader extends FrameLog {
  readonly peer: Peer;
  #done: Promise<void>;

  /** Starts reading `peer`. */
  constructor(peer: Peer) {
    super();
    this.peer = peer;
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    const output = this.peer.output;
    for (;;) {
      await output.readable();
      if (output.closed) return;
      const batch = output.take();
      if (batch === undefined) continue;
      for (const frame of batch.frames) this.add(JSON.parse(frame));
      output.release(batch.bytes);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  /** The job.exit notification of `job`. */
  exit(job: string, timeoutMs = 10_000): Promise<Frame> {
    return this.wait((f) => f.method === "job.exit" && f.params.job === job, timeoutMs);
  }

  /** Everything `job` wrote to `stream`, as bytes (text and base64 frames joined). */
  output(job: string, stream = "stdout"): Uint8Array {
    return outputOf(this.frames, job, stream);
  }

  /** The output of `job` on `stream` decoded as UTF-8. */
  text(job: string, stream = "stdout"): string {
    return new TextDecoder().decode(this.output(job, stream));
  }

  /** Closes the peer and stops reading. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.peer.close("test-end");
    await this.#done;
  }
}

/** Joins the job.output frames of one job and stream into bytes. */
export function outputOf(frames: Frame[], job: string, stream = "stdout"): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of frames) {
    if (f.method !== "job.output" || f.params.job !== job || f.params.stream !== stream) continue;
    if (typeof f.params.text === "string") parts.push(new TextEncoder().encode(f.params.text));
    else parts.push(Uint8Array.from(atob(f.params.base64), (c) => c.charCodeAt(0)));
  }
  return concatBytes(parts);
}

/**
 * Reads a gateway's stdout (spawned with `readStdout: false`), keeping every
 * frame except job.output, of which it only counts payload characters.
 */
export class LeanStdoutReader extends FrameLog {
  /** job.output frames seen. */
  outputFrames = 0;
  /** Characters of job.output text (or base64) seen. */
  outputChars = 0;
  /** Lines that were not JSON. */
  readonly invalid: string[] = [];
  /** Resolves when stdout ends. */
  readonly done: Promise<void>;
  #gw: GatewayProcess;
  #nextId = 0;

  #pauseMs: number;

  /** Starts reading the gateway's stdout, pausing `pauseMs` after each chunk read (a slow client). */
  constructor(gw: GatewayProcess, options: { pauseMs?: number } = {}) {
    super();
    this.#gw = gw;
    this.#pauseMs = options.pauseMs ?? 0;
    this.done = this.#loop(gw.child.stdout);
  }

  /** Sends a request with the next numeric id; resolves with its answer (waits up to 10 s). */
  async call(method: string, params?: unknown): Promise<Frame> {
    const request = { jsonrpc: "2.0", id: ++this.#nextId, method, params };
    const response = this.wait((f) => f.id === request.id, 10_000);
    await this.#gw.send(request);
    return await response;
  }

  /** Waits until `chars` characters of job output were seen, or `timeoutMs` passed. */
  async outputAtLeast(chars: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.outputChars < chars && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async #loop(stdout: ReadableStream<Uint8Array>): Promise<void> {
    let pending = "";
    try {
      for await (const chunk of stdout.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        let start = 0;
        let newline;
        while ((newline = pending.indexOf("\n", start)) !== -1) {
          const line = pending.slice(start, newline);
          start = newline + 1;
          let frame: Frame;
          try {
            frame = JSON.parse(line);
          } catch {
            this.invalid.push(line.slice(0, 200));
            continue;
          }
          if (frame.method === "job.output") {
            this.outputFrames++;
            this.outputChars += (frame.params.text ?? frame.params.base64).length;
          } else {
            this.add(frame);
          }
        }
        pending = pending.slice(start);
        if (this.#pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#pauseMs));
      }
    } catch {
      // Cancelled.
    }
  }
}

/** Whether a process exists and is not a zombie (Linux /proc). */
export function isAlive(pid: number): Promise<boolean> {
  return Promise.resolve(alive(pid));
}

/** The pids of `pids` still alive after waiting up to `timeoutMs` for them to die. */
export async function survivors(pids: number[], timeoutMs = 1000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive: number[] = [];
    for (const pid of pids) if (await isAlive(pid)) alive.push(pid);
    if (alive.length === 0 || Date.now() >= deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The pids of processes whose command line ends with `argv` (Linux /proc; argv[0] may be a full path). */
export async function pidsOf(argv: string[]): Promise<number[]> {
  const wanted = argv.join("\0") + "\0";
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (cmdline === wanted || cmdline.endsWith(`/${wanted}`)) {
        pids.push(Number(entry.name));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** SIGKILLs leftover pids so a failing test does not leave processes behind. */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Gone.
    }
  }
}

/**
 * A shell script that starts a child, a child shell with a grandchild, and a
 * child that ignores SIGTERM; each of the five processes is printed as a
 * "pid N" line. Then it waits.
 */
export const FAMILY_SCRIPT = [
  `echo "pid $$"`,
  `sleep 300 & echo "pid $!"`,
  `sh -c 'sleep 300 & echo "pid $!"; wait' & echo "pid $!"`,
  `(trap '' TERM; exec sleep 300) & echo "pid $!"`,
  `wait`,
].join("\n");

/** The number of "pid" lines {@linkcode FAMILY_SCRIPT} prints. */
export const FAMILY_SIZE = 5;

/** A shell script that ignores SIGTERM, as does its child; prints two "pid N" lines, then loops. */
export const STUBBORN_SCRIPT = [
  `trap '' TERM`,
  `echo "pid $$"`,
  `sleep 300 & echo "pid $!"`,
  `while :; do sleep 0.05; done`,
].join("\n");

/** The number of "pid" lines {@linkcode STUBBORN_SCRIPT} prints. */
export const STUBBORN_SIZE = 2;

/** Every "pid N" in text output. */
export function parsePids(text: string): number[] {
  return [...text.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
}
