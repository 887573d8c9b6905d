/**
 * Ties a job manager to the process lifecycle: every job's process group is
 * terminated during the orderly drain, killed right before exit, and known
 * to the watchdog worker in case it has to end the process itself.
 *
 * @module
 */

import { GroupLifeline } from "./group_lifeline.ts";
import type { JobManager } from "./job_manager.ts";

/**
 * What jobs need from the process lifecycle; `ProcessLifecycle` is one.
 *
 * @example
 * ```ts
 * import { ExitLedger, ProcessLifecycle } from "@tuigate/tuigate";
 * import { bindJobsToLifecycle, type JobLifecycle, JobManager } from "@tuigate/tuigate/jobs";
 * const lifecycle: JobLifecycle = new ProcessLifecycle(new ExitLedger("/tmp/exits.jsonl"));
 * bindJobsToLifecycle(new JobManager(), lifecycle);
 * ```
 */
export interface JobLifecycle {
  /** Milliseconds from the start of a shutdown to a forced exit. */
  readonly graceMs: number;
  /** Adds a step awaited (within the grace period) during an orderly shutdown. */
  onDrain(step: () => Promise<void> | void): void;
  /** Adds a synchronous step run right before the process exits, whatever the path. */
  onExit(finalizer: () => void): void;
  /** Tells the watchdog which process groups to SIGKILL if it must end the process. */
  trackProcessGroup(pgid: number, alive: boolean): void;
  /** Starts the watchdog worker now if it is not running yet (it may start lazily). Idempotent. */
  startWatchdog?(): void;
}

/**
 * Options for {@linkcode bindJobsToLifecycle}.
 *
 * @example
 * ```ts
 * import { Gateway, runStdio } from "@tuigate/tuigate";
 * import { bindJobsToLifecycle, type BindJobsOptions, JobManager } from "@tuigate/tuigate/jobs";
 * const jobs = new JobManager();
 * const options: BindJobsOptions = { killGraceMs: 1000 };
 * await runStdio(new Gateway(), {
 *   setup: (lifecycle) => bindJobsToLifecycle(jobs, lifecycle, options),
 * });
 * ```
 */
export interface BindJobsOptions {
  /**
   * Milliseconds between SIGTERM and SIGKILL during shutdown; shorter than
   * the gateway's grace so the gateway still exits within it.
   * @default {Math.floor(lifecycle.graceMs / 2)}
   */
  killGraceMs?: number;
  /**
   * Whether a {@linkcode GroupLifeline} watches the job groups, so that they
   * are killed even when the gateway itself is SIGKILLed.
   * @default {true}
   */
  lifeline?: boolean;
}

/**
 * On drain: SIGTERM to every job's group, SIGKILL after half the grace
 * period, wait (bounded) for them to end. On exit: SIGKILL every group
 * still there, synchronously. The watchdog learns every group.
 *
 * @example
 * ```ts
 * import { Gateway, runStdio } from "@tuigate/tuigate";
 * import { bindJobsToLifecycle, JobManager, registerJobMethods } from "@tuigate/tuigate/jobs";
 * const gateway = new Gateway();
 * const jobs = new JobManager();
 * registerJobMethods(gateway, jobs);
 * await runStdio(gateway, { setup: (lifecycle) => bindJobsToLifecycle(jobs, lifecycle) });
 * ```
 */
export function bindJobsToLifecycle(
  jobs: JobManager,
  lifecycle: JobLifecycle,
  options: BindJobsOptions = {},
): void {
  const graceMs = lifecycle.graceMs;
  const killGraceMs = options.killGraceMs ?? Math.floor(graceMs / 2);
  const marginMs = Math.max(0, Math.min(200, Math.floor((graceMs - killGraceMs) / 2)));
  const lifeline = options.lifeline === false ? undefined : new GroupLifeline();
  jobs.trackProcessGroups((pgid, alive) => {
    // The watchdog may start lazily; a group told before it runs would be lost.
    if (alive) lifecycle.startWatchdog?.();
    lifecycle.trackProcessGroup(pgid, alive);
    lifeline?.track(pgid, alive);
  });
  lifecycle.onDrain(async () => {
    await jobs.shutdown(killGraceMs, marginMs);
    // Every group has ended: the lifeline has nothing left to guard (and would end with us anyway).
    await lifeline?.close();
  });
  lifecycle.onExit(() => jobs.killAll());
}
