/**
 * When and how often the client restarts a gateway that exited unexpectedly.
 *
 * @module
 */

/**
 * How {@linkcode TuigateClient} restarts a gateway that exited unexpectedly.
 *
 * @example
 * ```ts
 * import { type RestartOptions, TuigateClient } from "@tuigate/tuigate/client";
 * const restart: RestartOptions = { maxAttempts: 3, initialDelayMs: 250, maxDelayMs: 2000 };
 * await using client = await TuigateClient.start({ command: "tuigate", restart });
 * ```
 */
export interface RestartOptions {
  /**
   * Attempts in a row before giving up (then `restartfailed` is emitted and
   * calls reject with `GatewayExitedError`).
   * @default {5}
   */
  maxAttempts?: number;
  /**
   * The delay before the first attempt, in ms.
   * @default {100}
   */
  initialDelayMs?: number;
  /**
   * The longest delay between attempts, in ms.
   * @default {10000}
   */
  maxDelayMs?: number;
  /**
   * The factor by which the delay grows with each attempt.
   * @default {2}
   */
  factor?: number;
  /**
   * The random part of each delay, as a fraction of it: a delay `d` becomes
   * a uniform pick in `[d * (1 - jitter), d]`, so clients restarted together
   * spread out.
   * @default {0.5}
   */
  jitter?: number;
  /**
   * A gateway that stayed up this long after `gateway.ready` counts as
   * stable: the next unexpected exit starts again from attempt 1.
   * @default {30000}
   */
  stableAfterMs?: number;
}

/**
 * {@linkcode RestartOptions} with every default filled in.
 *
 * @example
 * ```ts
 * import { backoffDelay, type RestartPolicy, restartPolicy } from "@tuigate/tuigate/client";
 * const policy: RestartPolicy = restartPolicy({ maxAttempts: 3 });
 * const delays = [1, 2, 3].map((attempt) => backoffDelay(attempt, policy));
 * ```
 */
export type RestartPolicy = Required<RestartOptions>;

/**
 * Fills in the defaults of {@linkcode RestartOptions}.
 *
 * @example
 * ```ts
 * import { restartPolicy } from "@tuigate/tuigate/client";
 * const policy = restartPolicy({ maxAttempts: 10 });
 * policy.initialDelayMs; // 100
 * policy.maxAttempts; // 10
 * ```
 */
export function restartPolicy(options: RestartOptions = {}): RestartPolicy {
  return {
    maxAttempts: options.maxAttempts ?? 5,
    initialDelayMs: options.initialDelayMs ?? 100,
    maxDelayMs: options.maxDelayMs ?? 10_000,
    factor: options.factor ?? 2,
    jitter: Math.min(1, Math.max(0, options.jitter ?? 0.5)),
    stableAfterMs: options.stableAfterMs ?? 30_000,
  };
}

/**
 * The delay before restart attempt `attempt` (1-based): exponential backoff
 * capped at `maxDelayMs`, minus a random jitter.
 *
 * @example
 * ```ts
 * import { backoffDelay, restartPolicy } from "@tuigate/tuigate/client";
 * const policy = restartPolicy({ initialDelayMs: 100, jitter: 0 });
 * backoffDelay(3, policy); // 400
 * ```
 */
export function backoffDelay(
  attempt: number,
  policy: RestartPolicy,
  random: () => number = Math.random,
): number {
  const base = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * policy.factor ** Math.max(0, attempt - 1),
  );
  return Math.round(base * (1 - policy.jitter * random()));
}
