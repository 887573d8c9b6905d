/**
 * Appends one job's events to its session log, in order, with a bound on
 * the bytes in flight so a fast job is held back by the store instead of
 * growing memory, and each commit of its output stays short.
 *
 * @module
 */

import { getLogger } from "../protocol/logger.ts";
import type { JobSessionLog } from "./job_session_log.ts";

const logger = getLogger(["tuigate", "jobs"]);

/** Options for {@linkcode SessionWriter}. */
export interface SessionWriterOptions {
  /**
   * Bytes of event data (roughly: the lengths of its top-level values) that
   * may be waiting to be stored before {@linkcode SessionWriter.room} waits.
   * A commit serialises and stores what waits, on the main thread, so this
   * also bounds how long one commit of a fast job's output takes.
   * @default {131072}
   */
  maxInflightBytes?: number;
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
  #maxInflightBytes: number;
  #job: string;
  #inflight = 0;
  #inflightBytes = 0;
  #failed = false;
  /** The last append's settling. */
  #tail: Promise<void> = Promise.resolve();
  #waiters: (() => void)[] = [];

  /** Makes a writer for `session`. */
  constructor(log: JobSessionLog, session: string, options: SessionWriterOptions = {}) {
    this.#log = log;
    this.#session = session;
    this.#maxInflightBytes = options.maxInflightBytes ?? 128 * 1024;
    this.#job = options.job ?? "?";
  }

  /**
   * Appends an event now (calls keep their order); failures are logged once
   * and stop later appends. Resolves once the event is stored, or its append
   * failed (never rejects), so that it can be sent to peers only then.
   */
  append(type: string, data: Record<string, unknown>, deltaKey?: string): Promise<void> {
    // After a failure nothing more is stored, but what was appended before still settles first.
    if (this.#failed) return this.#tail;
    const bytes = roughSize(data);
    this.#inflight++;
    this.#inflightBytes += bytes;
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
    return this.#tail = appended.then(
      () => this.#settle(bytes),
      (error) => {
        if (!this.#failed) {
          this.#failed = true;
          logger.warn("Job {job} stopped logging to session {session}: {error}", {
            job: this.#job,
            session: this.#session,
            error,
          });
        }
        this.#settle(bytes);
      },
    );
  }

  /** Resolves when fewer than `maxInflightBytes` wait to be stored. */
  async room(): Promise<void> {
    while (this.#inflightBytes >= this.#maxInflightBytes) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Resolves when no append is in flight. */
  async drained(): Promise<void> {
    while (this.#inflight > 0) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #settle(bytes: number): void {
    this.#inflight--;
    this.#inflightBytes -= bytes;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** The lengths of an event's top-level values (strings by length, anything else as 8), plus 64. */
function roughSize(data: Record<string, unknown>): number {
  let size = 64;
  for (const key in data) {
    const value = data[key];
    size += key.length + (typeof value === "string" ? value.length : 8);
  }
  return size;
}
