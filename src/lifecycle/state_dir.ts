/**
 * The default state folder: `$XDG_STATE_HOME/tuigate`, else `~/.local/state/tuigate`.
 *
 * @example
 * ```ts
 * import { defaultStateDir } from "@tuigate/tuigate";
 * defaultStateDir({ HOME: "/home/ada" }); // "/home/ada/.local/state/tuigate"
 * defaultStateDir({ XDG_STATE_HOME: "/var/state" }); // "/var/state/tuigate"
 * ```
 */
export function defaultStateDir(env: Record<string, string | undefined>): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg !== undefined && xdg !== "" && xdg.startsWith("/")) return `${xdg}/tuigate`;
  const home = env.HOME ?? env.USERPROFILE ?? ".";
  return `${home}/.local/state/tuigate`;
}

/**
 * The default exit ledger: `$TUIGATE_CRASH_LOG`, else `exits.jsonl` in
 * `$TUIGATE_STATE_DIR`, else in the default state folder (empty values count
 * as unset). Without permission to read the environment it falls back to
 * `./.tuigate/exits.jsonl`.
 *
 * @example
 * ```ts
 * import { defaultCrashLog } from "@tuigate/tuigate";
 * defaultCrashLog(); // $TUIGATE_CRASH_LOG, else for example "/home/ada/.local/state/tuigate/exits.jsonl"
 * ```
 */
export function defaultCrashLog(): string {
  try {
    const env = {
      TUIGATE_CRASH_LOG: Deno.env.get("TUIGATE_CRASH_LOG"),
      TUIGATE_STATE_DIR: Deno.env.get("TUIGATE_STATE_DIR"),
      XDG_STATE_HOME: Deno.env.get("XDG_STATE_HOME"),
      HOME: Deno.env.get("HOME"),
    };
    return env.TUIGATE_CRASH_LOG ||
      `${env.TUIGATE_STATE_DIR || defaultStateDir(env)}/exits.jsonl`;
  } catch {
    return "./.tuigate/exits.jsonl";
  }
}
