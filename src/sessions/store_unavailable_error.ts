/**
 * Why a session store could not be opened or used.
 *
 * @example
 * ```ts
 * import type { StoreProblem } from "@tuigate/tuigate/sessions";
 * function advice(problem: StoreProblem): string {
 *   return problem === "locked" ? "another gateway holds the store; retry" : "use --state memory";
 * }
 * ```
 */
export type StoreProblem = "locked" | "read-only" | "corrupt" | "too-new" | "unavailable";

/**
 * Options for {@linkcode StoreUnavailableError}.
 *
 * @example
 * ```ts
 * import { StoreUnavailableError } from "@tuigate/tuigate/sessions";
 * import type { StoreUnavailableErrorOptions } from "@tuigate/tuigate/sessions";
 * const options: StoreUnavailableErrorOptions = { problem: "read-only", location: "/ro/s.sqlite" };
 * throw new StoreUnavailableError("The session store is on a read-only disk", options);
 * ```
 */
export interface StoreUnavailableErrorOptions extends ErrorOptions {
  /**
   * What went wrong.
   * @default {"unavailable"}
   */
  problem?: StoreProblem;
  /**
   * The store's file.
   * @default {undefined}
   */
  location?: string;
}

/**
 * The session store cannot be opened: it stays locked past the busy
 * timeout, sits on a read-only disk, is corrupt, or has a newer schema. The
 * command prints its message as one line and exits with
 * `EXIT_CODES.STORE_UNAVAILABLE` (73). A store also throws it, with problem
 * `"locked"`, when a write finds another process holding the lock.
 *
 * @example
 * ```ts
 * import { openSessionStore, StoreUnavailableError } from "@tuigate/tuigate/sessions";
 * declare function reportStoreProblem(problem: string, message: string): void;
 * try {
 *   await openSessionStore({ kind: "sqlite", dir: "/tmp/state" });
 * } catch (error) {
 *   if (error instanceof StoreUnavailableError) reportStoreProblem(error.problem, error.message);
 * }
 * ```
 */
export class StoreUnavailableError extends Error {
  /** What went wrong. */
  readonly problem: StoreProblem;
  /** The store's file. */
  readonly location: string | undefined;

  /** Makes the error. */
  constructor(message: string, options: StoreUnavailableErrorOptions = {}) {
    super(message, options);
    this.name = "StoreUnavailableError";
    this.problem = options.problem ?? "unavailable";
    this.location = options.location;
  }
}
