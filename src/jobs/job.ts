/**
 * One job: a command running in its own process group, its output streamed
 * as delta notifications, its exit reported once all output is out.
 *
 * @module
 */

import { toBase64 } from "../protocol/bytes.ts";
import { JsonRpcError } from "../protocol/json_rpc_error.ts";
import { getLogger } from "../protocol/logger.ts";
import type { DeltaPayload } from "../protocol/output_buffer.ts";
import { withTimeout } from "../protocol/timing.ts";
import { SessionWriter } from "./_session_writer.ts";
import type { JobSessionLog } from "./job_session_log.ts";
import { Utf8Chunker, type Utf8Segment } from "./utf8_chunker.ts";

const logger = getLogger(["tuigate", "jobs"]);

/**
 * The output streams of a job.
 *
 * @example
 * ```ts
 * import type { JobStream } from "@tuigate/tuigate/jobs";
 * const streams: JobStream[] = ["stdout", "stderr"];
 * const keys = streams.map((stream) => `job:j1:${stream}`); // the delta keys of job j1
 * ```
 */
export type JobStream = "stdout" | "stderr";

/**
 * The states of a {@linkcode Job}.
 *
 * @example
 * ```ts
 * import { JobManager, JobState } from "@tuigate/tuigate/jobs";
 * await using jobs = new JobManager();
 * const running = jobs.list({ state: JobState.Running });
 * ```
 */
export enum JobState {
  /** The command runs, or its last output is still being read. */
  Running = "running",
  /** The command exited, all its output went out and `job.exit` was sent. */
  Exited = "exited",
}

/**
 * What to run: the params of `job.start`.
 *
 * @example
 * ```ts
 * import { JobManager, type JobSpec } from "@tuigate/tuigate/jobs";
 * const spec: JobSpec = { cmd: "make", args: ["test"], cwd: "/src/project", env: { CI: "1" } };
 * await using jobs = new JobManager();
 * const job = await jobs.start(spec);
 * ```
 */
export interface JobSpec {
  /** The program: a name looked up in `PATH`, or a path. */
  cmd: string;
  /**
   * Its arguments.
   * @default {[]}
   */
  args?: string[];
  /**
   * The working folder.
   * @default {Deno.cwd()}
   */
  cwd?: string;
  /**
   * Environment variables added to (or replacing) the gateway's.
   * @default {{}}
   */
  env?: Record<string, string>;
  /**
   * A session whose log gets every event of the job.
   * @default {undefined}
   */
  session?: string;
  /**
   * Whether stdin is a pipe for `job.write`; otherwise it is closed.
   * @default {false}
   */
  stdin?: boolean;
}

/**
 * Where a job's events go; a {@linkcode Peer} is one.
 *
 * @example
 * ```ts
 * import { JobManager, type JobOutputTarget } from "@tuigate/tuigate/jobs";
 * const target: JobOutputTarget = {
 *   delta: (_key, _method, _params, payload) => "text" in payload && console.log(payload.text),
 *   notify: async (method, params) => console.log(method, params),
 * };
 * await using jobs = new JobManager();
 * await jobs.start({ cmd: "echo", args: ["hi"] }, { target });
 * ```
 */
export interface JobOutputTarget {
  /** Sends a coalescable `job.output` delta. */
  delta(key: string, method: string, params: Record<string, unknown>, payload: DeltaPayload): void;
  /** Sends the `job.exit` control notification. */
  notify(method: string, params?: unknown): Promise<void>;
  /**
   * The target's output buffer: while it holds more than a little, or drops
   * deltas, the job's output is read more slowly (the client is behind).
   * @default {undefined} output is read as fast as it comes
   */
  readonly output?: {
    stats(): { queuedBytes: number; droppedDeltas: number };
    drainedTo(bytes: number, signal?: AbortSignal): Promise<void>;
    /** Whether the buffer is closed (its client gone). */
    readonly closed?: boolean;
    /**
     * When the client last took output (`Date.now()`): while it reads, the job
     * waits for it however slowly it reads.
     */
    readonly progressAt?: number;
  };
}

/**
 * The params of the `job.exit` notification.
 *
 * @example
 * ```ts
 * import type { JobExit } from "@tuigate/tuigate/jobs";
 * const exit: JobExit = { job: "j1", code: null, signal: "SIGTERM", durationMs: 1520 };
 * const failed = exit.code !== 0;
 * ```
 */
export interface JobExit {
  /** The job id. */
  job: string;
  /** The exit code, or `null` when a signal ended the command. */
  code: number | null;
  /** The signal that ended the command (for example `"SIGTERM"`), or `null`. */
  signal: string | null;
  /** Milliseconds from start to exit. */
  durationMs: number;
}

/**
 * What `job.get` and `job.list` report about a job.
 *
 * @example
 * ```ts
 * import { type JobInfo, JobManager } from "@tuigate/tuigate/jobs";
 * await using jobs = new JobManager();
 * const job = await jobs.start({ cmd: "sleep", args: ["1"] });
 * const info: JobInfo = await job.ended;
 * const summary = `${info.cmd}: exit ${info.code} after ${info.durationMs} ms`;
 * ```
 */
export interface JobInfo {
  /** The job id. */
  job: string;
  /** `"running"` or `"exited"`. */
  state: JobState;
  /** The process id of the command (also its process group id). */
  pid: number;
  /** The program. */
  cmd: string;
  /** Its arguments. */
  args: string[];
  /** Its working folder. */
  cwd: string;
  /** The session it logs to, or `null`. */
  session: string | null;
  /** Whether stdin was opened for `job.write`. */
  stdin: boolean;
  /** When it started, in ms since the Unix epoch. */
  startedAt: number;
  /** When it exited, in ms since the Unix epoch; `null` while running. */
  exitedAt: number | null;
  /** The exit code; `null` while running or when a signal ended it. */
  code: number | null;
  /** The signal that ended it, or `null`. */
  signal: string | null;
  /** Milliseconds from start to exit; `null` while running. */
  durationMs: number | null;
}

/**
 * Options for {@linkcode Job.spawn}.
 *
 * @example
 * ```ts
 * import { Job, type JobOptions } from "@tuigate/tuigate/jobs";
 * const options: JobOptions = { killGraceMs: 500, lingerMs: 250 };
 * const job = Job.spawn("build-1", { cmd: "make" }, options);
 * await job.run();
 * ```
 */
export interface JobOptions {
  /**
   * Where output and exit go (the peer that started the job).
   * @default {undefined} output is only logged to the session, if any
   */
  target?: JobOutputTarget;
  /**
   * The session log used when the spec names a session.
   * @default {undefined}
   */
  sessionLog?: JobSessionLog;
  /**
   * Milliseconds between SIGTERM and SIGKILL for processes left in the
   * group after the command itself exited.
   * @default {1000}
   */
  killGraceMs?: number;
  /**
   * Milliseconds output pipes may stay open after the group was killed
   * (held by a process that left the group) before reading stops.
   * @default {1000}
   */
  lingerMs?: number;
  /**
   * Told when the job's process group appears and when it is gone.
   * @default {undefined}
   */
  onProcessGroup?: (pgid: number, alive: boolean) => void;
}

/**
 * The delta method of job output.
 *
 * @example
 * ```ts
 * import { JOB_OUTPUT_METHOD } from "@tuigate/tuigate/jobs";
 * const isJobOutput = (message: { method?: string }) => message.method === JOB_OUTPUT_METHOD;
 * ```
 */
export const JOB_OUTPUT_METHOD = "job.output";
/**
 * The notification sent when a job has exited and all its output went out.
 *
 * @example
 * ```ts
 * import { JOB_EXIT_METHOD } from "@tuigate/tuigate/jobs";
 * const isJobExit = (message: { method?: string }) => message.method === JOB_EXIT_METHOD;
 * ```
 */
export const JOB_EXIT_METHOD = "job.exit";

/**
 * Queued output above which a job's reading waits for the client (in bytes of
 * JSON). An answer never overtakes output queued before it, so this is what
 * it can wait behind: with 64 KiB a ping answered during `yes` took as long as
 * when idle, and the job's throughput fell by about a tenth against 1 MiB.
 */
const SOFT_LIMIT_BYTES = 64 * 1024;
/**
 * The longest wait per chunk read for a client that takes no output, in ms:
 * after it, reading goes on and the output buffer merges or drops (a stalled
 * client does not wedge the job, and costs little CPU: at most one 64 KiB
 * chunk per stream per wait).
 */
const PACE_MAX_WAIT_MS = 100;
/**
 * A client that took output within this long is reading, in ms: the job
 * waits for it however slow it is, so that its answers never queue behind
 * more than {@linkcode SOFT_LIMIT_BYTES} of output (a stdout write to a slow
 * reader is sized to about half a second of its reading).
 */
const READING_WINDOW_MS = 1000;

/**
 * A running command. Make one with {@linkcode Job.spawn}, then
 * {@linkcode Job.run} it; {@linkcode JobManager} does both.
 *
 * @example
 * ```ts
 * import { Job } from "@tuigate/tuigate/jobs";
 * const job = Job.spawn("j1", { cmd: "echo", args: ["hi"] });
 * await job.run();
 * const info = await job.ended; // { state: "exited", code: 0, ... }
 * ```
 */
export class Job {
  /** The job id. */
  readonly id: string;
  /** The command's pid. */
  readonly pid: number;
  /** The process group id (the command leads its own group and session). */
  readonly pgid: number;
  /** When it started, in ms since the Unix epoch. */
  readonly startedAt: number = Date.now();
  /** Resolves with the final info once `job.exit` was sent. */
  readonly ended: Promise<JobInfo>;
  #spec: Required<Omit<JobSpec, "session" | "env">> & { session: string | undefined };
  #child: Deno.ChildProcess;
  #target: JobOutputTarget | undefined;
  #sessionLog: JobSessionLog | undefined;
  #session: SessionWriter | undefined;
  #killGraceMs: number;
  #lingerMs: number;
  #onProcessGroup: ((pgid: number, alive: boolean) => void) | undefined;
  #state = JobState.Running;
  #started = performance.now();
  #exit:
    | { code: number | null; signal: string | null; durationMs: number; exitedAt: number }
    | undefined;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  #groupGone = false;
  #killTimer: ReturnType<typeof setTimeout> | undefined;
  #killAt = Infinity;
  #seenDropped = 0;
  #running = false;
  #resolveEnded!: (info: JobInfo) => void;

  private constructor(id: string, spec: JobSpec, child: Deno.ChildProcess, options: JobOptions) {
    this.id = id;
    this.#child = child;
    this.pid = child.pid;
    this.pgid = child.pid;
    this.#spec = {
      cmd: spec.cmd,
      args: spec.args ?? [],
      cwd: spec.cwd ?? Deno.cwd(),
      stdin: spec.stdin ?? false,
      session: spec.session,
    };
    this.#target = options.target;
    this.#sessionLog = options.sessionLog;
    this.#killGraceMs = options.killGraceMs ?? 1000;
    this.#lingerMs = options.lingerMs ?? 1000;
    this.#onProcessGroup = options.onProcessGroup;
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
    if (this.#spec.stdin) {
      this.#stdin = child.stdin.getWriter();
      this.#stdin.closed.catch(() => {});
    }
    this.#onProcessGroup?.(this.pgid, true);
  }

  /**
   * Starts the command in a new process group (and session), stdin closed
   * unless `spec.stdin`. Throws `JOB_SPAWN_FAILED` when it cannot start.
   */
  static spawn(id: string, spec: JobSpec, options: JobOptions = {}): Job {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(spec.cmd, {
        args: spec.args ?? [],
        cwd: spec.cwd,
        env: spec.env,
        stdin: spec.stdin ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
        // A new session, so a new process group led by the command: the whole
        // group (grandchildren included) can be signalled with kill(-pgid).
        detached: true,
      }).spawn();
    } catch (error) {
      throw spawnError(spec, error);
    }
    return new Job(id, spec, child, options);
  }

  /** The current state. */
  get state(): JobState {
    return this.#state;
  }

  /** The session the job logs to, if any. */
  get session(): string | undefined {
    return this.#spec.session;
  }

  /** The output target. */
  get target(): JobOutputTarget | undefined {
    return this.#target;
  }

  /** Whether the process group is known to be gone. */
  get groupGone(): boolean {
    return this.#groupGone;
  }

  /** What `job.get` reports. */
  info(): JobInfo {
    return {
      job: this.id,
      state: this.#state,
      pid: this.pid,
      cmd: this.#spec.cmd,
      args: [...this.#spec.args],
      cwd: this.#spec.cwd,
      session: this.#spec.session ?? null,
      stdin: this.#spec.stdin,
      startedAt: this.startedAt,
      exitedAt: this.#state === JobState.Exited ? this.#exit!.exitedAt : null,
      code: this.#state === JobState.Exited ? this.#exit!.code : null,
      signal: this.#state === JobState.Exited ? this.#exit!.signal : null,
      durationMs: this.#state === JobState.Exited ? this.#exit!.durationMs : null,
    };
  }

  /**
   * Starts streaming. With a session, first appends a `job.start` event and
   * waits for it: when that fails (an unknown session, say) the group is
   * killed and the error is thrown. Idempotent.
   */
  async run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const session = this.#spec.session;
    if (session !== undefined && this.#sessionLog !== undefined) {
      try {
        await this.#sessionLog.append(session, "job.start", {
          job: this.id,
          pid: this.pid,
          cmd: this.#spec.cmd,
          args: this.#spec.args,
          cwd: this.#spec.cwd,
          startedAt: this.startedAt,
        });
      } catch (error) {
        this.kill();
        await this.#abandon();
        throw error;
      }
      this.#session = new SessionWriter(this.#sessionLog, session, { job: this.id });
    }
    const pumps = [
      this.#pump(this.#child.stdout, "stdout"),
      this.#pump(this.#child.stderr, "stderr"),
    ];
    void this.#watch(pumps);
  }

  /**
   * Writes to the job's stdin, then closes it when `eof`. Resolves with the
   * number of bytes written. Throws `JOB_NOT_RUNNING` or `JOB_STDIN_CLOSED`.
   */
  async write(bytes: Uint8Array, eof = false): Promise<number> {
    if (this.#state !== JobState.Running) {
      throw JsonRpcError.from(
        "JOB_NOT_RUNNING",
        { job: this.id },
        `Cannot write to job ${this.id}: it has exited`,
      );
    }
    const writer = this.#stdin;
    if (writer === undefined) {
      throw JsonRpcError.from(
        "JOB_STDIN_CLOSED",
        { job: this.id },
        this.#spec.stdin
          ? `Cannot write to job ${this.id}: its stdin was closed`
          : `Cannot write to job ${this.id}: it was started without stdin: true`,
      );
    }
    if (eof) this.#stdin = undefined;
    try {
      // Both calls are made before any await, so writes keep their request order.
      const wrote = bytes.length > 0 ? writer.write(bytes) : Promise.resolve();
      const closed = eof ? writer.close() : Promise.resolve();
      await wrote;
      await closed;
    } catch (error) {
      this.#stdin = undefined;
      writer.releaseLock();
      throw JsonRpcError.from(
        "JOB_STDIN_CLOSED",
        { job: this.id, error: String(error) },
        `Cannot write to job ${this.id}: its stdin is closed (${(error as Error).message})`,
      );
    }
    return bytes.length;
  }

  /**
   * Sends a signal to the job's whole process group (or to the command only,
   * with `group: false`). Throws `JOB_NOT_RUNNING` when nothing is left to signal.
   */
  signal(signal: Deno.Signal, group = true): void {
    const ok = this.#state === JobState.Running &&
      (group ? this.#signalGroup(signal) : this.#signalLeader(signal));
    if (!ok) {
      throw JsonRpcError.from(
        "JOB_NOT_RUNNING",
        { job: this.id },
        `Cannot signal job ${this.id}: it has exited`,
      );
    }
  }

  /**
   * Sends SIGTERM to the whole process group and SIGKILL after `graceMs`;
   * resolves with the final info once the job has ended. Idempotent.
   */
  cancel(graceMs: number = this.#killGraceMs): Promise<JobInfo> {
    if (this.#state === JobState.Running) {
      this.#signalGroup("SIGTERM");
      this.#scheduleKill(graceMs);
    }
    return this.ended;
  }

  /** Sends SIGKILL to the whole process group at once (synchronous; for the last moment before exit). */
  kill(): void {
    this.#signalGroup("SIGKILL");
  }

  async #pump(stream: ReadableStream<Uint8Array>, name: JobStream): Promise<void> {
    const reader = stream.getReader();
    this.#readers.push(reader);
    const chunker = new Utf8Chunker();
    const key = `job:${this.id}:${name}`;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.#emit(key, name, chunker.push(value));
        await this.#pace();
      }
    } catch (error) {
      logger.debug("Reading {stream} of job {job} stopped: {error}", {
        stream: name,
        job: this.id,
        error,
      });
    }
    this.#emit(key, name, chunker.flush());
    reader.releaseLock();
  }

  #emit(key: string, stream: JobStream, segments: Utf8Segment[]): void {
    for (const segment of segments) {
      const params = { job: this.id, stream };
      if (this.#session === undefined) {
        this.#target?.delta(key, JOB_OUTPUT_METHOD, params, segment);
        continue;
      }
      const data = "text" in segment
        ? { ...params, text: segment.text }
        : { ...params, base64: toBase64(segment.bytes) };
      // Stored before it is sent: what the client saw survives a crash of the gateway. Appends
      // settle in order, so the deltas keep theirs.
      void this.#session.append(JOB_OUTPUT_METHOD, data, key).then(() =>
        this.#target?.delta(key, JOB_OUTPUT_METHOD, params, segment)
      );
    }
  }

  /**
   * Holds the reader back while the client is behind: until the output
   * buffer has drained to {@linkcode SOFT_LIMIT_BYTES} (so frames the client
   * asks for, such as a ping's answer, wait behind little output). A client
   * that keeps reading is waited for however slow it is; one that took
   * nothing for {@linkcode READING_WINDOW_MS} only for
   * {@linkcode PACE_MAX_WAIT_MS} per chunk. Also waits for the session store.
   */
  async #pace(): Promise<void> {
    const output = this.#target?.output;
    if (output !== undefined) {
      const { queuedBytes, droppedDeltas } = output.stats();
      if (queuedBytes > SOFT_LIMIT_BYTES || droppedDeltas !== this.#seenDropped) {
        for (;;) {
          const deadline = new AbortController();
          const timer = setTimeout(() => deadline.abort(), PACE_MAX_WAIT_MS);
          await output.drainedTo(SOFT_LIMIT_BYTES, deadline.signal);
          clearTimeout(timer);
          if (!deadline.signal.aborted || output.closed) break;
          const reading = output.progressAt !== undefined &&
            Date.now() - output.progressAt < READING_WINDOW_MS;
          if (!reading) break;
        }
      }
      this.#seenDropped = output.stats().droppedDeltas;
    }
    if (this.#session !== undefined) await this.#session.room();
  }

  async #watch(pumps: Promise<void>[]): Promise<void> {
    const status = await this.#child.status;
    const durationMs = Math.round(performance.now() - this.#started);
    this.#exit = {
      code: status.signal === null ? status.code : null,
      signal: status.signal,
      durationMs,
      exitedAt: Date.now(),
    };
    // A job ends with its command: whatever it left running in its group goes too.
    if (this.#signalGroup("SIGTERM")) {
      logger.debug("Job {job} exited leaving processes in its group; terminating them", {
        job: this.id,
      });
      this.#scheduleKill(this.#killGraceMs);
    }
    const all = Promise.all(pumps);
    const limit = (this.#groupGone ? 0 : this.#killGraceMs) + this.#lingerMs;
    if (!(await withTimeout(all.then(() => true), limit, false))) {
      logger.warn(
        "Output of job {job} is held open by a process outside its group; stopped reading",
        {
          job: this.id,
        },
      );
      for (const reader of this.#readers) reader.cancel().catch(() => {});
      await all;
    }
    this.#closeStdin();
    this.#state = JobState.Exited;
    const exit: JobExit = {
      job: this.id,
      code: this.#exit.code,
      signal: this.#exit.signal,
      durationMs,
    };
    // Stored first, and after the output's appends, which send the last output deltas.
    if (this.#session !== undefined) await this.#session.append(JOB_EXIT_METHOD, { ...exit });
    void this.#target?.notify(JOB_EXIT_METHOD, exit);
    this.#resolveEnded(this.info());
  }

  /** Cleans up after a job that never ran (its session could not be logged to). */
  async #abandon(): Promise<void> {
    await this.#child.status;
    this.#closeStdin();
    await Promise.allSettled([this.#child.stdout.cancel(), this.#child.stderr.cancel()]);
  }

  #closeStdin(): void {
    const writer = this.#stdin;
    this.#stdin = undefined;
    if (writer !== undefined) writer.close().catch(() => {});
  }

  #scheduleKill(ms: number): void {
    if (this.#groupGone) return;
    const at = Date.now() + ms;
    if (at >= this.#killAt) return;
    clearTimeout(this.#killTimer);
    this.#killAt = at;
    this.#killTimer = setTimeout(() => this.#signalGroup("SIGKILL"), ms);
    Deno.unrefTimer(this.#killTimer as unknown as number);
  }

  /** Signals the group; false when it is gone. */
  #signalGroup(signal: Deno.Signal): boolean {
    if (this.#groupGone || this.pgid <= 1) return false;
    try {
      Deno.kill(-this.pgid, signal);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        logger.warn("Cannot send {signal} to job {job}: {error}", { signal, job: this.id, error });
        return false;
      }
      this.#markGroupGone();
      return false;
    }
    // Nothing survives SIGKILL: the group is gone (its members may still be reaped).
    if (signal === "SIGKILL") this.#markGroupGone();
    return true;
  }

  #signalLeader(signal: Deno.Signal): boolean {
    if (this.#exit !== undefined) return false;
    try {
      this.#child.kill(signal);
      return true;
    } catch {
      return false;
    }
  }

  #markGroupGone(): void {
    if (this.#groupGone) return;
    this.#groupGone = true;
    clearTimeout(this.#killTimer);
    this.#killTimer = undefined;
    this.#onProcessGroup?.(this.pgid, false);
  }
}

/** Whether a path names something that is not a folder (a spawn's cwd error says "not found" for both). */
function isFile(path: string | undefined): boolean {
  if (path === undefined) return false;
  try {
    return !Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function spawnError(spec: JobSpec, error: unknown): JsonRpcError {
  const message = error instanceof Error ? error.message : String(error);
  const data = { cmd: spec.cmd, cwd: spec.cwd, error: message };
  const name = JSON.stringify(spec.cmd);
  if (error instanceof Deno.errors.NotFound) {
    if (/cwd/i.test(message)) {
      const folder = JSON.stringify(spec.cwd);
      return isFile(spec.cwd)
        ? JsonRpcError.from(
          "JOB_SPAWN_FAILED",
          { ...data, reason: "cwd-not-a-folder" },
          `Cannot start ${name}: the working folder ${folder} is a file, not a folder`,
        )
        : JsonRpcError.from(
          "JOB_SPAWN_FAILED",
          { ...data, reason: "cwd-not-found" },
          `Cannot start ${name}: the working folder ${folder} does not exist`,
        );
    }
    return JsonRpcError.from(
      "JOB_SPAWN_FAILED",
      { ...data, reason: "not-found" },
      `Cannot start ${name}: command not found`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return JsonRpcError.from(
      "JOB_SPAWN_FAILED",
      { ...data, reason: "permission-denied" },
      `Cannot start ${name}: permission denied (not an executable file)`,
    );
  }
  if (error instanceof Deno.errors.NotCapable) {
    return JsonRpcError.from(
      "JOB_SPAWN_FAILED",
      { ...data, reason: "not-allowed" },
      `Cannot start ${name}: the gateway was not given --allow-run`,
    );
  }
  return JsonRpcError.from(
    "JOB_SPAWN_FAILED",
    { ...data, reason: "error" },
    `Cannot start ${name}: ${message}`,
  );
}
