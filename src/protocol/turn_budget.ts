/**
 * Keeps long runs of work from starving the event loop. Code that handles
 * many items in one go (the frames of one read, calls waiting for a slot)
 * asks {@linkcode turnOverdue} now and then; once the current turn of the
 * event loop has run for {@linkcode TURN_BUDGET_MS}, it awaits
 * {@linkcode nextTurn}, so that signals, timers and I/O are served in
 * between (a SIGTERM is noticed in milliseconds, not after the whole burst).
 *
 * @module
 */

/**
 * How long one turn of the event loop may run before work that can wait
 * lets the loop turn: 10 ms.
 *
 * @example
 * ```ts
 * import { TURN_BUDGET_MS } from "@tuigate/tuigate";
 * TURN_BUDGET_MS; // 10
 * ```
 */
export const TURN_BUDGET_MS = 10;

/** When the current turn's first check was made; -1 when none was made in this turn. */
let turnStarted = -1;

/** The shared flag {@linkcode watchInterrupt} looks at, and what to run once it is set. */
let interrupt: { flag: Int32Array; handler: () => void } | undefined;

/**
 * Makes every {@linkcode turnOverdue} also look at a flag another thread
 * may set (`flag[0]`, read with `Atomics`): once it is non-zero, `handler`
 * runs in a microtask, once, and `turnOverdue()` answers `true`, so that the
 * work under way yields at once. For events that the busy main thread's
 * runtime would deliver late, such as a signal the watchdog thread has
 * already seen. `undefined` stops watching.
 *
 * @example
 * ```ts
 * import { watchInterrupt } from "@tuigate/tuigate";
 * const flag = new Int32Array(new SharedArrayBuffer(4)); // set by a worker: Atomics.store(flag, 0, 1)
 * watchInterrupt(flag, () => {
 *   // Begin the shutdown the worker saw a reason for.
 * });
 * ```
 */
export function watchInterrupt(flag: Int32Array | undefined, handler?: () => void): void {
  interrupt = flag === undefined || handler === undefined ? undefined : { flag, handler };
}

function endTurn(): void {
  turnStarted = -1;
}

/**
 * Whether the current turn of the event loop has run for at least
 * {@linkcode TURN_BUDGET_MS} since the first call in it. Costs one clock
 * read, so callers in hot loops ask every few items, not every one.
 *
 * @example
 * ```ts
 * import { nextTurn, turnOverdue } from "@tuigate/tuigate";
 * async function handleAll(items: (() => void)[]): Promise<void> {
 *   for (const item of items) {
 *     item();
 *     if (turnOverdue()) await nextTurn();
 *   }
 * }
 * ```
 */
export function turnOverdue(): boolean {
  if (interrupt !== undefined && Atomics.load(interrupt.flag, 0) !== 0) {
    queueMicrotask(interrupt.handler);
    interrupt = undefined;
    return true;
  }
  const now = performance.now();
  if (turnStarted < 0) {
    turnStarted = now;
    // Runs once the loop has turned (and polled I/O and signals): a new turn starts then.
    setImmediate(endTurn);
    return false;
  }
  return now - turnStarted >= TURN_BUDGET_MS;
}

const NOTHING = new Uint8Array(0);

/** How often {@linkcode nextTurn} lets the runtime park, at most: 50 ms. */
const PARK_EVERY_MS = 50;

/** When {@linkcode nextTurn} last let the runtime park. */
let parkedAt = -Infinity;

/**
 * Resolves on a later turn of the event loop, after the runtime has served
 * the I/O, timers and signals waiting now.
 *
 * Usually it awaits an operation that really runs outside JavaScript (a
 * digest of nothing, about 40 µs): `setImmediate` turns only JavaScript's
 * own loop, and a SIGTERM waited 130 ms or more behind a chain of them. But
 * while the runtime always has work ready, it looks at signals and sockets
 * only every 61st time round (measured: up to 460 ms behind 8 ms stretches),
 * so at least every {@linkcode PARK_EVERY_MS} it waits for a timer instead,
 * which lets the runtime park and poll them (`setTimeout(0)`: about 2 ms).
 *
 * @example
 * ```ts
 * import { nextTurn } from "@tuigate/tuigate";
 * await nextTurn();
 * ```
 */
export async function nextTurn(): Promise<void> {
  if (performance.now() - parkedAt >= PARK_EVERY_MS) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    parkedAt = performance.now();
  } else {
    await crypto.subtle.digest("SHA-1", NOTHING);
  }
  turnStarted = -1;
}
