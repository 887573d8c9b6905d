/**
 * The lifecycle events a {@linkcode TuigateClient} dispatches (it is an
 * `EventTarget`): `ready`, `exit`, `restart`, `restartfailed` and
 * `protocolerror`.
 *
 * @module
 */

import type { ReadyParams } from "./gateway_methods.ts";

/**
 * `ready`: a gateway process sent `gateway.ready` (on start and after each restart).
 *
 * @example
 * ```ts
 * import { type ReadyEvent, TuigateClient } from "@tuigate/tuigate/client";
 * const client = new TuigateClient({ command: "tuigate", restart: true });
 * client.addEventListener("ready", (event: ReadyEvent) => {
 *   if (event.attempt > 0) console.error(`gateway back, pid ${event.params.pid}`);
 * });
 * await client.start();
 * ```
 */
export class ReadyEvent extends Event {
  /** The params of `gateway.ready`. */
  readonly params: ReadyParams;
  /** 0 for the first start, else the restart attempt that succeeded. */
  readonly attempt: number;

  /** Makes the event. */
  constructor(params: ReadyParams, attempt: number) {
    super("ready");
    this.params = params;
    this.attempt = attempt;
  }
}

/**
 * `exit`: the gateway process exited.
 *
 * @example
 * ```ts
 * import { type ExitEvent, TuigateClient } from "@tuigate/tuigate/client";
 * await using client = await TuigateClient.start({ command: "tuigate" });
 * client.addEventListener("exit", (event: ExitEvent) => {
 *   if (!event.expected) console.error(`gateway ${event.pid} exited: ${event.stderrTail}`);
 * });
 * ```
 */
export class ExitEvent extends Event {
  /** The exit code, or `null` when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, if any. */
  readonly signal: string | null;
  /** Whether `close()` asked for it. */
  readonly expected: boolean;
  /** The last bytes it wrote to stderr. */
  readonly stderrTail: string;
  /** Its pid. */
  readonly pid: number;

  /** Makes the event. */
  constructor(
    init: { code: number | null; signal: string | null; expected: boolean; stderrTail: string },
    pid: number,
  ) {
    super("exit");
    this.code = init.code;
    this.signal = init.signal;
    this.expected = init.expected;
    this.stderrTail = init.stderrTail;
    this.pid = pid;
  }
}

/**
 * `restart`: a restart attempt is scheduled after an unexpected exit.
 *
 * @example
 * ```ts
 * import { type RestartEvent, TuigateClient } from "@tuigate/tuigate/client";
 * await using client = await TuigateClient.start({ command: "tuigate", restart: true });
 * client.addEventListener("restart", (event: RestartEvent) => {
 *   console.error(`restart ${event.attempt}/${event.maxAttempts} in ${event.delayMs} ms`);
 * });
 * ```
 */
export class RestartEvent extends Event {
  /** The attempt number, from 1. */
  readonly attempt: number;
  /** The delay before this attempt spawns, in ms (backoff with jitter). */
  readonly delayMs: number;
  /** The attempts allowed before giving up. */
  readonly maxAttempts: number;
  /** Why the previous process is gone (its exit, or the failed previous attempt). */
  readonly cause: Error;

  /** Makes the event. */
  constructor(init: { attempt: number; delayMs: number; maxAttempts: number }, cause: Error) {
    super("restart");
    this.attempt = init.attempt;
    this.delayMs = init.delayMs;
    this.maxAttempts = init.maxAttempts;
    this.cause = cause;
  }
}

/**
 * `restartfailed`: every restart attempt failed; the client is closed.
 *
 * @example
 * ```ts
 * import { type RestartFailedEvent, TuigateClient } from "@tuigate/tuigate/client";
 * await using client = await TuigateClient.start({ command: "tuigate", restart: true });
 * client.addEventListener("restartfailed", (event: RestartFailedEvent) => {
 *   console.error(`gave up after ${event.attempts} attempts: ${event.error.message}`);
 * });
 * ```
 */
export class RestartFailedEvent extends Event {
  /** The attempts made. */
  readonly attempts: number;
  /** The error of the last attempt. */
  readonly error: Error;

  /** Makes the event. */
  constructor(attempts: number, error: Error) {
    super("restartfailed");
    this.attempts = attempts;
    this.error = error;
  }
}

/**
 * `protocolerror`: the gateway wrote something that is not a JSON-RPC message; it was skipped.
 *
 * @example
 * ```ts
 * import { type ProtocolErrorEvent, TuigateClient } from "@tuigate/tuigate/client";
 * await using client = await TuigateClient.start({ command: "tuigate" });
 * client.addEventListener("protocolerror", (event: ProtocolErrorEvent) => {
 *   console.error(`skipped output (${event.reason}): ${event.text}`);
 * });
 * ```
 */
export class ProtocolErrorEvent extends Event {
  /** What was wrong. */
  readonly reason: string;
  /** The start of the offending text, if any. */
  readonly text: string;

  /** Makes the event. */
  constructor(reason: string, text = "") {
    super("protocolerror");
    this.reason = reason;
    this.text = text;
  }
}

/**
 * The events of a {@linkcode TuigateClient}, by type.
 *
 * @example
 * ```ts
 * import type { ClientEventMap, TuigateClient } from "@tuigate/tuigate/client";
 * function logEvents(client: TuigateClient, types: (keyof ClientEventMap)[]): void {
 *   for (const type of types) client.addEventListener(type, (event) => console.error(event.type));
 * }
 * ```
 */
export interface ClientEventMap {
  /** A gateway process is ready. */
  ready: ReadyEvent;
  /** A gateway process exited. */
  exit: ExitEvent;
  /** A restart attempt is scheduled. */
  restart: RestartEvent;
  /** Restarting gave up. */
  restartfailed: RestartFailedEvent;
  /** Unparsable output was skipped. */
  protocolerror: ProtocolErrorEvent;
}
