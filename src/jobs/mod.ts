/**
 * Jobs: commands run for clients in their own process groups, with output
 * streamed as `job.output` deltas, `job.exit` after the last output,
 * cancellation, limits, optional session logging, and no orphans.
 *
 * @example
 * ```ts
 * import { Gateway, runStdio } from "@tuigate/tuigate";
 * import { bindJobsToLifecycle, JobManager, registerJobMethods } from "@tuigate/tuigate/jobs";
 * const gateway = new Gateway();
 * const jobs = new JobManager({ maxJobs: 8 });
 * registerJobMethods(gateway, jobs);
 * await runStdio(gateway, { setup: (lifecycle) => bindJobsToLifecycle(jobs, lifecycle) });
 * ```
 *
 * @module
 */

export * from "./utf8_chunker.ts";
export * from "./job_session_log.ts";
export * from "./job.ts";
export * from "./job_manager.ts";
export * from "./job_methods.ts";
export * from "./group_lifeline.ts";
export * from "./job_lifecycle.ts";

// Core types this entry's API refers to, re-exported so that its documentation is complete.
export type { ExitReason } from "../lifecycle/exit_ledger.ts";
export type {
  DrainStep,
  LifecycleState,
  ProcessLifecycle,
  ShutdownDetails,
} from "../lifecycle/process_lifecycle.ts";
export type { MethodDefinition } from "../protocol/method.ts";
export type { DeltaPayload } from "../protocol/output_buffer.ts";
