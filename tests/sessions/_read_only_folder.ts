/**
 * Test support: real ways to make a folder unwritable, which differ when
 * tests run as root (chmod does not stop root):
 *
 * - `ro-bind-mount`: a read-only bind mount of the folder in a private mount
 *   namespace (`unshare -m`), i.e. a real read-only file system (EROFS).
 *   Needs root with CAP_SYS_ADMIN; only the wrapped command sees it.
 * - `immutable`: `chattr +i` on the folder and its files (EPERM even for
 *   root; needs CAP_LINUX_IMMUTABLE and ext2/3/4, xfs, btrfs…).
 * - `chmod`: mode 0555/0444 (EACCES), which works for non-root users only.
 *
 * Every method is verified by trying to write; the first that really
 * refuses writes is used.
 *
 * @module
 */

/** A folder made unwritable for a test. */
export interface ReadOnlyFolder {
  /** The folder. */
  path: string;
  /** How it was made unwritable, or `"none"` when nothing works here. */
  method: "ro-bind-mount" | "immutable" | "chmod" | "none";
  /** Prefixes a command so that it runs with the folder unwritable. */
  wrap(command: string[]): string[];
  /** Switches a `ro-bind-mount` folder to an in-place method (for code running in this process). */
  fallback(): Promise<void>;
  /** Makes the folder writable again. */
  release(): Promise<void>;
}

/** Options for {@linkcode readOnlyFolder}. */
export interface ReadOnlyFolderOptions {
  /**
   * Whether a read-only bind mount (for spawned commands) may be used.
   * @default {true}
   */
  mount?: boolean;
}

async function run(command: string[]): Promise<{ ok: boolean; stderr: string }> {
  try {
    const output = await new Deno.Command(command[0], {
      args: command.slice(1),
      stdout: "null",
      stderr: "piped",
    }).output();
    return { ok: output.success, stderr: new TextDecoder().decode(output.stderr) };
  } catch (error) {
    return { ok: false, stderr: String(error) };
  }
}

async function writable(path: string): Promise<boolean> {
  const probe = `${path}/.probe-${crypto.randomUUID()}`;
  try {
    await Deno.writeTextFile(probe, "x");
    await Deno.remove(probe);
    return true;
  } catch {
    return false;
  }
}

async function entries(path: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(path)) names.push(`${path}/${entry.name}`);
  return names;
}

function mountPrefix(path: string): string[] {
  return [
    "unshare",
    "-m",
    "sh",
    "-c",
    'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && shift && exec "$@"',
    path,
    "--",
  ];
}

async function inPlace(
  path: string,
): Promise<{ method: "immutable" | "chmod"; undo: () => Promise<void> } | undefined> {
  const files = await entries(path);
  if ((await run(["chattr", "+i", path, ...files])).ok) {
    const undo = async () => void (await run(["chattr", "-i", path, ...files]));
    if (!(await writable(path))) return { method: "immutable", undo };
    await undo();
  }
  const modes = new Map<string, number>();
  for (const file of [path, ...files]) modes.set(file, (await Deno.stat(file)).mode! & 0o777);
  for (const file of files) await Deno.chmod(file, 0o444);
  await Deno.chmod(path, 0o555);
  const undo = async () => {
    for (const [file, mode] of modes) await Deno.chmod(file, mode).catch(() => {});
  };
  if (!(await writable(path))) return { method: "chmod", undo };
  await undo();
  return undefined;
}

/** Creates `path` if needed and makes it unwritable by the first method that works here. */
export async function readOnlyFolder(
  path: string,
  options: ReadOnlyFolderOptions = {},
): Promise<ReadOnlyFolder> {
  await Deno.mkdir(path, { recursive: true });
  let undo = async () => {};
  const folder: ReadOnlyFolder = {
    path,
    method: "none",
    wrap: (command) => command,
    fallback: async () => {
      const found = await inPlace(path);
      folder.method = found?.method ?? "none";
      folder.wrap = (command) => command;
      undo = found?.undo ?? (async () => {});
    },
    release: () => undo(),
  };
  if (options.mount !== false) {
    const probe = await run([...mountPrefix(path), "sh", "-c", `touch "${path}/.probe"`]);
    if (!probe.ok && /read-only file system/i.test(probe.stderr)) {
      folder.method = "ro-bind-mount";
      folder.wrap = (command) => [...mountPrefix(path), ...command];
      return folder;
    }
    await Deno.remove(`${path}/.probe`).catch(() => {});
  }
  await folder.fallback();
  return folder;
}
