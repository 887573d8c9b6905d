/** The default state folder: `$XDG_STATE_HOME/tuigate`, else `~/.local/state/tuigate`. */
export function defaultStateDir(env: Record<string, string | undefined>): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg !== undefined && xdg !== "" && xdg.startsWith("/")) return `${xdg}/tuigate`;
  const home = env.HOME ?? env.USERPROFILE ?? ".";
  return `${home}/.local/state/tuigate`;
}
