/**
 * The jobs of one gateway: starting within limits, looking them up, and
 * ending every one of them when the gateway goes.
 *
 * @module
 */

import { JsonRpcError } from "../protocol/json_rpc_error.ts";
import { getLogger } from "../protocol/logger.ts";
import { withTimeout } from "../protocol/timing.ts";
import { Job, type JobInfo, type JobOutputTarget, type JobSpec, JobState } from "./job.ts";
import type { JobSessionLog } from "./job_session_log.ts";

const logger = getLogger(["tuigate", "jobs"]);

/**
 * Options for {@linkcode JobManager}.
 *
 * @example
 * ```ts
 * import { JobManager, type JobManagerOptions } from "@tuigate/tuigate/jobs";
 * const options: JobManagerOptions = { maxJobs: 4, killGraceMs: 2000, keepExited: 20 };
 * await using jobs = new JobManager(options);
 * ```
 */
export interface JobManagerOptions {
  /**
   * Jobs that may run at once; more get `JOB_LIMIT`.
   * @default {16}
   */
  maxJobs?: number;
  /**
   * Milliseconds between SIGTERM and SIGKILL for `job.cancel` (and for
   * processes a command leaves behind).
   * @default {1000}
   */
  killGraceMs?: number;
  /**
   * Where jobs started with a `session` log their events.
   * @default {undefined} `session` is refused
   */
  sessionLog?: JobSessionLog;
  /**
   * Exited jobs kept for `job.get` and `job.list` (oldest forgotten first).
   * @default {100}
   */
  keepExited?: number;
}

/**
 * Options for {@linkcode JobManager.start}.
 *
 * @example
 * ```ts
 * import { JobManager, type JobStartOptions } from "@tuigate/tuigate/jobs";
 * await using jobs = new JobManager();
 * const options: JobStartOptions = { signal: AbortSignal.timeout(60_000) }; // cancel after 1 min
 * const job = await jobs.start({ cmd: "make", args: ["test"] }, options);
 * ```
 */
export interface JobStartOptions {
  /**
   * Where output and exit go (the peer that started the job). A target with
   * an `onClose` method (a peer) cancels its jobs without a session when it closes.
   * @default {undefined} output is only logged to the session, if any
   */
  target?: JobOutputTarget;
  /**
   * Aborting it cancels the job (SIGTERM to the group, SIGKILL after the grace).
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * Filters for {@linkcode JobManager.list}.
 *
 * @example
 * ```ts
 * import { type JobListFilter, JobManager, JobState } from "@tuigate/tuigate/jobs";
 * await using jobs = new JobManager();
 * const filter: JobListFilter = { state: JobState.Exited, session: "s1" };
 * const exited = jobs.list(filter);
 * ```
 */
export interface JobListFilter {
  /**
   * Only jobs in this state.
   * @default {undefined} any state
   */
  state?: JobState;
  /**
   * Only jobs logging to this session.
   * @default {undefined} any session or none
   */
  session?: string;
}

/**
 * Counters for `gateway.info`.
 *
 * @example
 * ```ts
 * import { JobManager, type JobManagerStats } from "@tuigate/tuigate/jobs";
 * await using jobs = new JobManager({ maxJobs: 8 });
 * const stats: JobManagerStats = jobs.stats();
 * const free = stats.maxJobs - stats.running; // 8
 * ```
 */
export interface JobManagerStats {
  /** Jobs running now. */
  running: number;
  /** Jobs started since the gateway started. */
  started: number;
  /** The limit on running jobs. */
  maxJobs: number;
}

/**
 * Told when a job's process group appears (`alive`) and when it is gone.
 *
 * @example
 * ```ts
 * import { JobManager, type ProcessGroupTracker } from "@tuigate/tuigate/jobs";
 * const groups = new Set<number>();
 * const tracker: ProcessGroupTracker = (pgid, alive) => {
 *   if (alive) groups.add(pgid);
 *   else groups.delete(pgid);
 * };
 * await using jobs = new JobManager();
 * jobs.trackProcessGroups(tracker);
 * ```
 */
export type ProcessGroupTracker = (pgid: number, alive: boolean) => void;

/**
 * The states of a {@linkcode JobManager}.
 *
 * @example
 * ```ts
 * import { JobManager, JobManagerState } from "@tuigate/tuigate/jobs";
 * const jobs = new JobManager();
 * if (jobs.state === JobManagerState.Open) await jobs.start({ cmd: "true" });
 * await jobs.shutdown(); // jobs.state is now JobManagerState.Closed
 * ```
 */
export enum JobManagerState {
  /** Starting jobs. */
  Open = "open",
  /** Ending every job; no new job starts. */
  Closing = "closing",
  /** Every job has ended. */
  Closed = "closed",
}

/**
 * Runs jobs for clients: each in its own process group, limited in number,
 * all of them terminated (then killed) on {@linkcode JobManager.shutdown}.
 *
 * @example
 * ```ts
 * import { JobManager } from "@tuigate/tuigate/jobs";
 * await using jobs = new JobManager({ maxJobs: 4 });
 * const job = await jobs.start({ cmd: "sleep", args: ["10"] });
 * await jobs.cancel(job.id); // SIGTERM to the group, SIGKILL after the grace
 * ```
 */
export class JobManager {
  #maxJobs: number;
  #killGraceMs: number;
  #sessionLog: JobSessionLog | undefined;
  #keepExited: number;
  #jobs = new Map<string, Job>();
  #started = 0;
  #prefix = Math.random().toString(36).slice(2, 6);
  #tracker: ProcessGroupTracker | undefined;
  #groups = new Set<number>();
  #watchedTargets = new WeakSet<object>();
  #state = JobManagerState.Open;

  /** Makes a manager with no jobs. */
  constructor(options: JobManagerOptions = {}) {
    this.#maxJobs = options.maxJobs ?? 16;
    this.#killGraceMs = options.killGraceMs ?? 1000;
    this.#sessionLog = options.sessionLog;
    this.#keepExited = options.keepExited ?? 100;
  }

  /** The current state. */
  get state(): JobManagerState {
    return this.#state;
  }

  /** Jobs running now (including ones whose last output is being read). */
  get running(): number {
    let running = 0;
    for (const job of this.#jobs.values()) if (job.state === JobState.Running) running++;
    return running;
  }

  /** Counters for `gateway.info`. */
  stats(): JobManagerStats {
    return { running: this.running, started: this.#started, maxJobs: this.#maxJobs };
  }

  /**
   * Sets who is told about process groups (the process lifecycle's
   * watchdog); groups alive now are reported at once.
   */
  trackProcessGroups(tracker: ProcessGroupTracker): void {
    this.#tracker = tracker;
    for (const pgid of this.#groups) tracker(pgid, true);
  }

  /**
   * Starts a job whose output and exit go to `options.target`. Resolves as
   * soon as it runs. Throws `CONNECTION_CLOSED` once shutting down,
   * `JOB_LIMIT` at the limit, `METHOD_DISABLED` for `spec.session` without
   * a session log, `JOB_SPAWN_FAILED` when the command cannot start, and the
   * session log's error when `spec.session` cannot be logged to.
   */
  async start(spec: JobSpec, options: JobStartOptions = {}): Promise<Job> {
    const target = options.target;
    options.signal?.throwIfAborted();
    if (this.#state !== JobManagerState.Open) {
      throw JsonRpcError.from(
        "CONNECTION_CLOSED",
        { cmd: spec.cmd, reason: "shutting-down" },
        `Cannot start ${JSON.stringify(spec.cmd)}: the gateway is shutting down`,
      );
    }
    const running = this.running;
    if (running >= this.#maxJobs) {
      throw JsonRpcError.from(
        "JOB_LIMIT",
        { maxJobs: this.#maxJobs, running },
        `Cannot start ${
          JSON.stringify(spec.cmd)
        }: ${running} jobs are running, the limit is ${this.#maxJobs} (--max-jobs)`,
      );
    }
    if (spec.session !== undefined && this.#sessionLog === undefined) {
      throw JsonRpcError.from(
        "METHOD_DISABLED",
        { cmd: spec.cmd, session: spec.session, reason: "no-sessions" },
        `Cannot start ${
          JSON.stringify(spec.cmd)
        } in session ${spec.session}: sessions are not available on this gateway`,
      );
    }
    // A job refused for its session must not have run: ask before spawning. (Its first event
    // is appended after, with its pid; a session closed in between still kills the job.)
    if (spec.session !== undefined) this.#sessionLog!.assertWritable?.(spec.session);
    const id = `${this.#prefix}-${this.#started + 1}`;
    // Spawning is synchronous, so the count above cannot be overtaken by another start.
    const job = Job.spawn(id, spec, {
      target,
      sessionLog: this.#sessionLog,
      killGraceMs: this.#killGraceMs,
      onProcessGroup: (pgid, alive) => this.#onGroup(pgid, alive),
    });
    this.#jobs.set(id, job);
    this.#started++;
    try {
      await job.run();
    } catch (error) {
      this.#jobs.delete(id);
      throw error;
    }
    logger.info("Job {job} started: {cmd} (pid {pid})", { job: id, cmd: spec.cmd, pid: job.pid });
    void job.ended.then((info) => {
      logger.info("Job {job} exited: code {code}, signal {signal}", { ...info });
      this.#forgetOld();
    });
    if (target !== undefined) this.#watchTarget(target);
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = () => void job.cancel(this.#killGraceMs);
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        void job.ended.then(() => signal.removeEventListener("abort", onAbort));
      }
    }
    return job;
  }

  /** The job with that id; throws `JOB_NOT_FOUND`. */
  get(id: string): Job {
    const job = this.#jobs.get(id);
    if (job === undefined) {
      throw JsonRpcError.from("JOB_NOT_FOUND", { job: id }, `Job not found: ${id}`);
    }
    return job;
  }

  /** Every known job (running, then recently exited), oldest first. */
  list(filter: JobListFilter = {}): JobInfo[] {
    const infos: JobInfo[] = [];
    for (const job of this.#jobs.values()) {
      if (filter.state !== undefined && job.state !== filter.state) continue;
      if (filter.session !== undefined && job.session !== filter.session) continue;
      infos.push(job.info());
    }
    return infos;
  }

  /** Cancels a job: SIGTERM to its group, SIGKILL after `graceMs`; resolves once it ended. */
  cancel(id: string, graceMs: number = this.#killGraceMs): Promise<JobInfo> {
    return this.get(id).cancel(graceMs);
  }

  /**
   * Ends every job: SIGTERM to every group, SIGKILL after `graceMs`, and
   * resolves when all have ended or `graceMs` plus `marginMs` has passed.
   * No job starts afterwards. Idempotent.
   */
  async shutdown(graceMs: number = this.#killGraceMs, marginMs = 200): Promise<void> {
    if (this.#state === JobManagerState.Closed) return;
    this.#state = JobManagerState.Closing;
    const ending = [...this.#jobs.values()]
      .filter((job) => job.state === JobState.Running)
      .map((job) => job.cancel(graceMs));
    if (ending.length > 0) {
      logger.info("Ending {count} job(s)", { count: ending.length });
      await withTimeout(Promise.all(ending), graceMs + marginMs, undefined);
    }
    this.killAll();
    this.#state = JobManagerState.Closed;
  }

  /** Sends SIGKILL to every job's process group that may still exist. Synchronous. */
  killAll(): void {
    for (const job of this.#jobs.values()) {
      if (!job.groupGone) job.kill();
    }
  }

  /** Shuts down with the default grace. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  #onGroup(pgid: number, alive: boolean): void {
    if (alive) this.#groups.add(pgid);
    else this.#groups.delete(pgid);
    this.#tracker?.(pgid, alive);
  }

  /** Jobs without a session end when the client that started them goes away. */
  #watchTarget(target: JobOutputTarget): void {
    const closable = target as JobOutputTarget & {
      onClose?: (listener: (reason: string) => void) => unknown;
    };
    if (typeof closable.onClose !== "function" || this.#watchedTargets.has(target)) return;
    this.#watchedTargets.add(target);
    closable.onClose((reason) => {
      for (const job of this.#jobs.values()) {
        if (job.target === target && job.session === undefined && job.state === JobState.Running) {
          logger.info("Cancelling job {job}: its client went away ({reason})", {
            job: job.id,
            reason,
          });
          void job.cancel(this.#killGraceMs);
        }
      }
    });
  }

  #forgetOld(): void {
    let exited = 0;
    for (const job of this.#jobs.values()) if (job.state === JobState.Exited) exited++;
    for (const [id, job] of this.#jobs) {
      if (exited <= this.#keepExited) break;
      if (job.state === JobState.Exited && job.groupGone) {
        this.#jobs.delete(id);
        exited--;
      }
    }
  }
}
