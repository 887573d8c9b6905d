/**
 * Finding and signalling every process a gateway started: its session (the
 * client spawns it detached, so it leads a session and a process group, and
 * jobs in their own process groups stay in that session) plus every
 * descendant by parent pid. Unix only; Linux reads /proc, others run `ps`.
 *
 * @module
 */

import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import process from "node:process";

/** One process of a tree. */
export interface TreeProcess {
  /** Its pid. */
  pid: number;
  /** Its parent's pid. */
  ppid: number;
  /** Its process group. */
  pgid: number;
  /** Its session, or -1 when unknown. */
  sid: number;
}

async function fromProc(): Promise<TreeProcess[] | undefined> {
  let names: string[];
  try {
    names = await readdir("/proc");
  } catch {
    return undefined;
  }
  const all: TreeProcess[] = [];
  await Promise.all(
    names.filter((n) => /^\d+$/.test(n)).map(async (name) => {
      try {
        const stat = await readFile(`/proc/${name}/stat`, "utf8");
        // "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        all.push({
          pid: Number(name),
          ppid: Number(fields[1]),
          pgid: Number(fields[2]),
          sid: Number(fields[3]),
        });
      } catch {
        // The process ended meanwhile.
      }
    }),
  );
  return all;
}

function fromPs(): Promise<TreeProcess[]> {
  return new Promise((resolve) => {
    execFile("ps", ["-A", "-o", "pid=,ppid=,pgid="], (error, stdout) => {
      if (error !== null) {
        resolve([]);
        return;
      }
      const all: TreeProcess[] = [];
      for (const line of stdout.split("\n")) {
        const [pid, ppid, pgid] = line.trim().split(/\s+/).map(Number);
        if (Number.isInteger(pid) && Number.isInteger(ppid)) all.push({ pid, ppid, pgid, sid: -1 });
      }
      resolve(all);
    });
  });
}

/** Lists the processes of a system (pid, ppid, pgid, session). */
export async function listProcesses(): Promise<TreeProcess[]> {
  return (await fromProc()) ?? (await fromPs());
}

/**
 * The processes of the tree rooted at `root` (a session leader): its
 * session, its process group and its descendants. Never includes the caller.
 */
export async function processTree(root: number): Promise<TreeProcess[]> {
  const all = await listProcesses();
  const children = new Map<number, TreeProcess[]>();
  for (const p of all) {
    const list = children.get(p.ppid);
    if (list === undefined) children.set(p.ppid, [p]);
    else list.push(p);
  }
  const tree = new Map<number, TreeProcess>();
  for (const p of all) if (p.sid === root || p.pgid === root || p.pid === root) tree.set(p.pid, p);
  const queue = [root, ...tree.keys()];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (tree.has(child.pid)) continue;
      tree.set(child.pid, child);
      queue.push(child.pid);
    }
  }
  tree.delete(process.pid);
  return [...tree.values()];
}

/**
 * Sends a signal to every process group of a tree and to every process in
 * it. Returns how many processes were signalled. The tree never holds the
 * caller's own group: the gateway leads its own session, and a process can
 * only join a group of its own session.
 */
export function signalTree(tree: TreeProcess[], signal: NodeJS.Signals): number {
  let signalled = 0;
  for (const pgid of new Set(tree.map((p) => p.pgid))) {
    if (pgid > 1) send(-pgid, signal);
  }
  for (const p of tree) if (send(p.pid, signal)) signalled++;
  return signalled;
}

function send(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch {
    return false; // Gone already, or not ours.
  }
}
