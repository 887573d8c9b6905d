/**
 * Timer helpers: an abortable sleep and a bounded wait.
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds; rejects with the signal's reason if it aborts first.
 *
 * @example
 * ```ts
 * import { sleep } from "@tuigate/tuigate";
 * await sleep(10);
 * await sleep(10_000, AbortSignal.timeout(10)).catch((reason) => reason.name); // "TimeoutError"
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Resolves with the promise's value, or with `fallback` after `ms`
 * milliseconds, whichever comes first. Never rejects because of the timer
 * (a rejection of `promise` itself still propagates). The timer is cleared.
 *
 * @example
 * ```ts
 * import { withTimeout } from "@tuigate/tuigate";
 * const never = new Promise<string>(() => {});
 * await withTimeout(never, 10, "no answer"); // "no answer"
 * ```
 */
export function withTimeout<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
