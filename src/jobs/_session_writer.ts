/**
 * Appends one job's events to its session log, in order, with a bound on
 * appends in flight so a fast job is held back by a slow store instead of
 * growing memory.
 *
 * @module
 */

import { getLogger } from "../protocol/logger.ts";
import type { JobSessionLog } from "./job_session_log.ts";

const logger = getLogger(["tuigate", "jobs"]);

/** Options for {@linkcode SessionWriter}. */
export interface SessionWriterOptions {
  /**
   * Appends that may be in flight before {@linkcode SessionWriter.room} waits.
   * @default {32}
   */
  maxInflight?: number;
  /**
   * The job id, for log lines.
   * @default {"?"}
   */
  job?: string;
}

/** Writes one job's events to one session. */
export class SessionWriter {
  #log: JobSessionLog;
  #session: string;
  #maxInflight: number;
  #job: string;
  #inflight = 0;
  #failed = false;
  #waiters: (() => void)[] = [];

  /** Makes a writer for `session`. */
  constructor(log: JobSessionLog, session: string, options: SessionWriterOptions = {}) {
    this.#log = log;
    this.#session = session;
    this.#maxInflight = options.maxInflight ?? 32;
    this.#job = options.job ?? "?";
  }

  /** Appends an event now (calls keep their order); failures are logged once and stop later appends. */
  append(type: string, data: Record<string, unknown>, deltaKey?: string): void {
    if (this.#failed) return;
    this.#inflight++;
    let appended: Promise<unknown>;
    try {
      appended = this.#log.append(
        this.#session,
        type,
        data,
        deltaKey === undefined ? undefined : { deltaKey },
      );
    } catch (error) {
      appended = Promise.reject(error);
    }
    appended.then(
      () => this.#settle(),
      (error) => {
        if (!this.#failed) {
          this.#failed = true;
          logger.warn("Job {job} stopped logging to session {session}: {error}", {
            job: this.#job,
            session: this.#session,
            error,
          });
        }
        this.#settle();
      },
    );
  }

  /** Resolves when fewer than `maxInflight` appends are in flight. */
  room(): Promise<void> {
    if (this.#inflight < this.#maxInflight) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Resolves when no append is in flight. */
  async drained(): Promise<void> {
    while (this.#inflight > 0) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #settle(): void {
    this.#inflight--;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
