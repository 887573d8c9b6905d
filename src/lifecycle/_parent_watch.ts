/**
 * Which processes stand for "the TUI" above the gateway, and whether one of
 * them is gone. A TUI that spawns `deno task start` (or `npx …`, or
 * `sh -c …`) is not the gateway's parent: the launcher in between waits for
 * its child and outlives the TUI, re-parented, so `Deno.ppid` never changes.
 * The watch climbs over such launchers and notices when the TUI goes.
 *
 * Deno lets only `--allow-all` read another process's `/proc` entry. With it,
 * the checks are exact: a launcher that got a new parent means the process
 * above it exited. With the start task's narrower permissions, the climb
 * asks `ps`; the quick check asks the kernel whether each pid still exists
 * (`kill(pid, 0)`, which a TUI that exited but was not reaped yet passes),
 * and a slower exact check asks `ps` again ({@linkcode ParentWatch.goneExactly}).
 *
 * @module
 */

/** One step up: `pid`'s parent was `parent` when the watch began. */
export interface ParentLink {
  /** A process on the way up (the gateway itself first). */
  pid: number;
  /** Its parent when the watch began. */
  parent: number;
}

/** At most this many launchers are climbed over (`npx` → `sh -c` → `deno task` is three). */
const MAX_LAUNCHERS = 4;

const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ash", "ksh", "mksh", "busybox"]);

/**
 * The processes from the gateway up to the TUI, and how to check on them.
 * Only the first link (the gateway and its parent) off Linux.
 */
export class ParentWatch {
  /** The links, the gateway's own first. */
  readonly links: readonly ParentLink[];
  /** Whether `/proc` entries of other processes can be read (exact checks). */
  readonly proc: boolean;

  /** Makes a watch of known links (a worker re-makes the main isolate's). */
  constructor(links: readonly ParentLink[], proc = false) {
    this.links = links;
    this.proc = proc;
  }

  /**
   * Climbs from the gateway (`self`, whose parent was `parent`) over every
   * launcher to the first process that is not one (the TUI). Never throws:
   * what cannot be read ends the climb.
   */
  static async discover(self: number, parent: number): Promise<ParentWatch> {
    const links: ParentLink[] = [{ pid: self, parent }];
    if (Deno.build.os !== "linux") return new ParentWatch(links);
    // The parent's own entry tells whether /proc can be read here (a gone parent ends it anyway).
    let info = await fromProc(parent);
    const proc = info !== undefined;
    info ??= await fromPs(parent);
    let pid = parent;
    for (let i = 0; i < MAX_LAUNCHERS && pid > 1; i++) {
      if (i > 0) info = proc ? await fromProc(pid) : await fromPs(pid);
      if (info === undefined || !isLauncher(info.argv) || info.parent <= 1) break;
      links.push({ pid, parent: info.parent });
      pid = info.parent;
    }
    return new ParentWatch(links, proc);
  }

  /** The TUI's pid: the parent at the top of the links. */
  get top(): number {
    return this.links[this.links.length - 1].parent;
  }

  /**
   * Whether the TUI is gone: the gateway has a new parent, a launcher has a
   * new parent or exited, or the TUI exited. `selfParent` is `Deno.ppid` now.
   */
  gone(selfParent: number): boolean {
    if (selfParent !== this.links[0].parent) return true;
    for (const link of this.links.slice(1)) {
      if (this.proc) {
        if (fromProcSync(link.pid)?.parent !== link.parent) return true;
      } else if (!exists(link.pid)) return true;
    }
    return this.links.length > 1 && !this.proc && !exists(this.top);
  }

  /**
   * Whether `gone()` can miss an exit: launchers are watched without `/proc`,
   * so {@linkcode ParentWatch.goneExactly} should be asked now and then.
   */
  get inexact(): boolean {
    return this.links.length > 1 && !this.proc;
  }

  /**
   * The exact check through `ps`: a launcher with a new parent, or one gone,
   * or a TUI that exited (even unreaped). `false` when `ps` cannot tell.
   */
  async goneExactly(): Promise<boolean> {
    const above = this.links.slice(1);
    const table = await psTable([...above.map((link) => link.pid), this.top]);
    if (table === undefined) return false;
    for (const link of above) {
      const row = table.get(link.pid);
      if (row === undefined || row.zombie || row.parent !== link.parent) return true;
    }
    const top = table.get(this.top);
    return top === undefined || top.zombie;
  }
}

/**
 * Whether a command line is a launcher that waits for its child: `deno task`,
 * `npm`/`npx` (`npm exec …` once node renames itself), or a shell's `-c`.
 */
export function isLauncher(argv: readonly string[]): boolean {
  if (argv.length === 0) return false;
  const name = baseName(argv[0].split(" ")[0]);
  if (name === "npm" || name === "npx") return true;
  if (name === "node" && argv.slice(1).some((arg) => /np[mx]-cli\.js$/.test(arg))) return true;
  if (SHELLS.has(name)) return argv.length >= 3 && /^-[a-z]*c[a-z]*$/.test(argv[1]);
  if (name === "deno" || name === "deno.exe") {
    return argv.slice(1).find((arg) => !arg.startsWith("-")) === "task";
  }
  return false;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

interface ProcessInfo {
  parent: number;
  argv: string[];
}

async function fromProc(pid: number): Promise<ProcessInfo | undefined> {
  try {
    const [stat, cmdline] = await Promise.all([
      Deno.readTextFile(`/proc/${pid}/stat`),
      Deno.readTextFile(`/proc/${pid}/cmdline`),
    ]);
    const parent = parentInStat(stat);
    if (parent === undefined) return undefined;
    return { parent, argv: cmdline.split("\0").filter((arg) => arg !== "") };
  } catch {
    return undefined;
  }
}

function fromProcSync(pid: number): ProcessInfo | undefined {
  try {
    const parent = parentInStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
    return parent === undefined ? undefined : { parent, argv: [] };
  } catch {
    return undefined;
  }
}

/**
 * `ps -o COLUMNS -p PIDS`: its output (empty when none of the pids exists,
 * which is an answer), or `undefined` when `ps` cannot be run.
 */
async function ps(columns: string, pids: number[]): Promise<string | undefined> {
  if (Deno.permissions.querySync({ name: "run", command: "ps" }).state !== "granted") {
    return undefined;
  }
  try {
    const { stdout } = await new Deno.Command("ps", {
      args: ["-o", columns, "-p", pids.join(",")],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(stdout);
  } catch {
    return undefined;
  }
}

/** `ps -o ppid=,args=`: the arguments come joined by spaces, enough to tell a launcher. */
async function fromPs(pid: number): Promise<ProcessInfo | undefined> {
  const match = /^\s*(\d+)\s+(.*)$/.exec((await ps("ppid=,args=", [pid]))?.trim() ?? "");
  if (match === null) return undefined;
  return { parent: Number(match[1]), argv: match[2].split(" ").filter((arg) => arg !== "") };
}

/** `ps` rows by pid: parent and whether the process exited (a zombie); `undefined` if `ps` failed. */
async function psTable(
  pids: number[],
): Promise<Map<number, { parent: number; zombie: boolean }> | undefined> {
  const output = await ps("pid=,ppid=,stat=", pids);
  if (output === undefined) return undefined;
  const table = new Map<number, { parent: number; zombie: boolean }>();
  for (const line of output.split("\n")) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\S+)/.exec(line);
    if (match !== null) {
      table.set(Number(match[1]), { parent: Number(match[2]), zombie: match[3][0] === "Z" });
    }
  }
  return table;
}

/** "pid (comm) state ppid …": `undefined` for a process that has exited (a zombie). */
function parentInStat(stat: string): number | undefined {
  // comm may hold spaces and parentheses, so count from the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** Whether a pid exists (`kill(pid, 0)`); one that cannot be asked counts as alive. */
function exists(pid: number): boolean {
  try {
    Deno.kill(pid, 0 as unknown as Deno.Signal);
    return true;
  } catch (error) {
    return !(error instanceof Deno.errors.NotFound);
  }
}
