/**
 * Binds each request's context to the async work it starts, so timers,
 * promises and nested calls emit to the peer that asked.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import type { MethodContext } from "./method.ts";
import type { Peer } from "./peer.ts";

const storage = new AsyncLocalStorage<MethodContext>();

/**
 * Runs `fn` with `context` bound as the current request context. The
 * dispatcher does this for every handler; use it for callbacks that run
 * later on behalf of a request.
 *
 * @example
 * ```ts
 * import { currentContext, defineMethod, runInContext } from "@tuigate/tuigate";
 * const listeners: (() => void)[] = [];
 * defineMethod({
 *   name: "events.subscribe",
 *   handler: (_params, context) => {
 *     // Called later from another request's work: bind it back to this subscriber.
 *     listeners.push(() => runInContext(context, () => currentContext()?.notify("events.fired")));
 *   },
 * });
 * ```
 */
export function runInContext<T>(context: MethodContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * The context of the request whose work is running now, or `undefined`
 * outside any handler.
 *
 * @example
 * ```ts
 * import { currentContext } from "@tuigate/tuigate";
 * setTimeout(() => currentContext()?.notify("later", {}), 100);
 * ```
 */
export function currentContext(): MethodContext | undefined {
  return storage.getStore();
}

/**
 * The peer whose request is running now, or `undefined` outside any handler.
 *
 * @example
 * ```ts
 * import { currentPeer, getLogger } from "@tuigate/tuigate";
 * function audit(action: string): void {
 *   getLogger(["my-backend", "audit"]).info("{peer} did {action}", { peer: currentPeer()?.id, action });
 * }
 * audit("login");
 * ```
 */
export function currentPeer(): Peer | undefined {
  return storage.getStore()?.peer;
}
