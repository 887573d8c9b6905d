/**
 * What jobs need from a session store: appending events to a session's log.
 *
 * @module
 */

/**
 * Options for {@linkcode JobSessionLog.append}.
 *
 * @example
 * ```ts
 * import type { JobSessionAppendOptions, JobSessionLog } from "@tuigate/tuigate/jobs";
 * declare const log: JobSessionLog;
 * const options: JobSessionAppendOptions = { deltaKey: "job:j1:stdout" };
 * await log.append("s1", "job.output", { job: "j1", text: "ok\n" }, options);
 * ```
 */
export interface JobSessionAppendOptions {
  /**
   * A stream key: consecutive events with the same key are stored merged
   * (job output passes `job:<id>:<stream>`).
   * @default {undefined} stored as its own event
   */
  deltaKey?: string;
}

/**
 * A session log that jobs append their events to (`job.start`,
 * `job.output`, `job.exit`), so a reconnecting client can replay output it
 * missed. The sessions feature's `SessionManager` satisfies it.
 *
 * @example
 * ```ts
 * import type { JobSessionLog } from "@tuigate/tuigate/jobs";
 * const events: unknown[] = [];
 * const log: JobSessionLog = {
 *   append(session, type, data) {
 *     events.push({ session, type, data });
 *     return Promise.resolve();
 *   },
 * };
 * ```
 */
export interface JobSessionLog {
  /**
   * Appends one event to a session's log. Calls are made in event order;
   * the promise settles when the event is stored (it rejects, for example
   * with `SESSION_NOT_FOUND`, when it cannot be).
   */
  append(
    session: string,
    type: string,
    data: Record<string, unknown>,
    options?: JobSessionAppendOptions,
  ): Promise<unknown>;
  /**
   * Throws what `append` would reject with (`SESSION_NOT_FOUND`,
   * `SESSION_CLOSED`) when the session cannot take events now. Asked before a
   * job is spawned, so that a job refused for its session never runs.
   */
  assertWritable?(session: string): void;
}
