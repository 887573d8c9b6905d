/**
 * Test support: whether a process still runs, read from Linux's /proc.
 *
 * @module
 */

/** Whether a process exists and is not a zombie waiting to be reaped (nor dead). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat[stat.lastIndexOf(")") + 2];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}
