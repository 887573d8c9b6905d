/**
 * Which token file a serve process writes when none is given: two serve
 * processes sharing a state folder must not overwrite each other's token.
 * Files are removed only while they still hold what this process wrote.
 *
 * @module
 */

/** A token file path chosen by {@linkcode claimTokenFile}. */
export interface TokenFileClaim {
  /** Where to write the token. */
  path: string;
  /** Gives the shared path back (at exit). Idempotent; never throws. */
  release(): Promise<void>;
}

/**
 * Claims `STATE_DIR/token` by writing this process's pid to
 * `STATE_DIR/token.owner`. While another live process holds that claim, the
 * token goes to `STATE_DIR/token-PID` instead (the announcement names the
 * path either way). A claim left by a process that is gone is taken over.
 */
export async function claimTokenFile(stateDir: string): Promise<TokenFileClaim> {
  const shared = `${stateDir}/token`;
  const ownerPath = `${shared}.owner`;
  const mine = `${Deno.pid}\n`;
  const claimed: TokenFileClaim = {
    path: shared,
    release: () => removeIfOwned(ownerPath, mine),
  };
  try {
    await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(ownerPath, mine, { createNew: true, mode: 0o600 });
    return claimed;
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      // The folder cannot be written: writing the token there will say so.
      return { path: shared, release: () => Promise.resolve() };
    }
  }
  const own: TokenFileClaim = {
    path: `${stateDir}/token-${Deno.pid}`,
    release: () => Promise.resolve(),
  };
  const seen = await Deno.readTextFile(ownerPath).catch(() => "");
  const owner = Number.parseInt(seen, 10);
  if (Number.isSafeInteger(owner) && owner > 0 && owner !== Deno.pid && await isAlive(owner)) {
    return own;
  }
  // A stale claim (its process was killed before it could release it), or one being written.
  // It is taken over under a lock, and only if it is still what was read: of two servers
  // starting together, one takes it and the other writes its own file.
  const lockPath = `${ownerPath}.lock`;
  try {
    await Deno.writeTextFile(lockPath, mine, { createNew: true, mode: 0o600 });
  } catch {
    return own;
  }
  try {
    if ((await Deno.readTextFile(ownerPath).catch(() => "")) !== seen) return own;
    await Deno.writeTextFile(ownerPath, mine, { mode: 0o600 });
    return claimed;
  } catch {
    // Writing the token will report what is wrong with the folder.
    return claimed;
  } finally {
    await Deno.remove(lockPath).catch(() => {});
  }
}

/** Whether a process exists (one we may not signal counts). */
async function isAlive(pid: number): Promise<boolean> {
  try {
    const { default: process } = await import("node:process");
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}

/** Removes a file, only if it still holds `expected` (when given): never another process's. */
export async function removeIfOwned(path: string, expected: string | undefined): Promise<void> {
  try {
    if (expected !== undefined && (await Deno.readTextFile(path)) !== expected) return;
    await Deno.remove(path);
  } catch {
    // Gone already, or not ours to remove.
  }
}
