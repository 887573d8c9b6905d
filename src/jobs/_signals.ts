/**
 * Signal names accepted by `job.signal`.
 *
 * @module
 */

/** Signals a client may send to a job. */
export const JOB_SIGNALS: readonly Deno.Signal[] = [
  "SIGABRT",
  "SIGALRM",
  "SIGCONT",
  "SIGHUP",
  "SIGINT",
  "SIGKILL",
  "SIGQUIT",
  "SIGSTOP",
  "SIGTERM",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
  "SIGPIPE",
];

/** Normalises `"term"`, `"TERM"` or `"SIGTERM"` to `"SIGTERM"`; `undefined` when not a known signal. */
export function parseSignal(name: string): Deno.Signal | undefined {
  const upper = name.trim().toUpperCase();
  const full = (upper.startsWith("SIG") ? upper : `SIG${upper}`) as Deno.Signal;
  return JOB_SIGNALS.includes(full) ? full : undefined;
}
