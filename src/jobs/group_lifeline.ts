/**
 * A lifeline for job process groups: a small `sh` process, in a session of
 * its own, that reads a pipe from the gateway and SIGKILLs the job groups it
 * was told about when that pipe closes. The pipe closes however the gateway
 * dies, SIGKILL and the OOM killer included, which no handler inside the
 * gateway can catch.
 *
 * @module
 */

/**
 * The watcher's script: `+PGID` adds a group, `-PGID` removes one; at the end
 * of input every group still listed is killed. (`kill -9 -PGID`: dash, the
 * usual `sh`, rejects `kill -KILL -- -PGID`.)
 */
const SCRIPT = `
groups=" "
while IFS= read -r line; do
  case "$line" in
    +*) groups="$groups\${line#+} " ;;
    -*) g="\${line#-}"
        case "$groups" in *" $g "*) groups="\${groups%%" $g "*} \${groups#*" $g "}" ;; esac ;;
  esac
done
for g in $groups; do kill -9 "-$g" 2>/dev/null; done
`;

/**
 * The states of a {@linkcode GroupLifeline}.
 *
 * @example
 * ```ts
 * import { GroupLifeline, GroupLifelineState } from "@tuigate/tuigate/jobs";
 * const lifeline = new GroupLifeline();
 * lifeline.state === GroupLifelineState.Idle; // true: no group yet, no watcher
 * ```
 */
export enum GroupLifelineState {
  /** No watcher yet: it starts with the first group. */
  Idle = "idle",
  /** The watcher runs and knows the live groups. */
  Watching = "watching",
  /** Closed; groups told afterwards are ignored. */
  Closed = "closed",
  /** The watcher could not be started (no `sh`, no permission); nothing is watched. */
  Failed = "failed",
}

/**
 * Kills job process groups left behind by a gateway that died without
 * shutting down. Give it every group as it comes and goes (it fits
 * `JobManager.trackProcessGroups`); the watcher starts with the first group.
 * On an orderly exit the job manager has already ended the groups, and the
 * watcher, finding its pipe closed, kills nothing that is still theirs.
 *
 * @example
 * ```ts
 * import { GroupLifeline, JobManager } from "@tuigate/tuigate/jobs";
 * const lifeline = new GroupLifeline();
 * const jobs = new JobManager();
 * jobs.trackProcessGroups((pgid, alive) => lifeline.track(pgid, alive));
 * await jobs.shutdown();
 * await lifeline.close();
 * ```
 */
export class GroupLifeline {
  #state = GroupLifelineState.Idle;
  #child: Deno.ChildProcess | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #encoder = new TextEncoder();

  /** The current state. */
  get state(): GroupLifelineState {
    return this.#state;
  }

  /** The watcher's pid, once it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Tells the watcher a group appeared (`alive`) or ended. Never throws. */
  track(pgid: number, alive: boolean): void {
    if (this.#state === GroupLifelineState.Idle && alive) this.#start();
    if (this.#state !== GroupLifelineState.Watching || this.#writer === undefined) return;
    const writer = this.#writer;
    const line = this.#encoder.encode(`${alive ? "+" : "-"}${pgid}\n`);
    // In order, never awaited by the caller: the pipe holds 64 KiB of such lines.
    this.#writing = this.#writing.then(() => writer.write(line)).catch(() => {});
  }

  /**
   * Closes the pipe: the watcher kills the groups still listed, then exits.
   * Resolves when it has. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state !== GroupLifelineState.Watching) {
      if (this.#state === GroupLifelineState.Idle) this.#state = GroupLifelineState.Closed;
      return;
    }
    this.#state = GroupLifelineState.Closed;
    await this.#writing;
    await this.#writer?.close().catch(() => {});
    await this.#child?.status;
  }

  /** Closes it; see {@linkcode GroupLifeline.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #start(): void {
    try {
      this.#child = new Deno.Command("sh", {
        args: ["-c", SCRIPT],
        stdin: "piped",
        // Not the gateway's stdout or stderr: holding them would keep the TUI's pipes open.
        stdout: "null",
        stderr: "null",
        // Its own session: a signal to the gateway's process group does not reach it.
        detached: true,
      }).spawn();
      this.#child.unref();
      this.#writer = this.#child.stdin.getWriter();
      this.#state = GroupLifelineState.Watching;
    } catch {
      this.#state = GroupLifelineState.Failed;
    }
  }
}
