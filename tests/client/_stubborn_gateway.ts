/**
 * A fake gateway for close() tests: it sends gateway.ready, never reads
 * stdin (so EOF does not end it), and starts children that ignore SIGTERM:
 * one in its process group, one in a group of its own and one in a session
 * of its own. Its `gateway.ready` params list their pids.
 *
 * Usage: `deno run -A _stubborn_gateway.ts MODE` where MODE is
 * - `ignore-term`: ignores SIGTERM too (only SIGKILL ends it);
 * - `exit-on-term`: exits 0 on SIGTERM, leaving its children behind;
 * - `exit-on-eof`: exits 0 on stdin EOF, leaving its children behind.
 *
 * It never answers requests (start the client with `serverRequests: false`),
 * and it kills its children and exits when its parent is gone.
 *
 * @module
 */

const mode = Deno.args[0] ?? "ignore-term";
const ignoreTerm = "trap '' TERM; while :; do sleep 1; done";
const spawn = (cmd: string, args: string[]) =>
  new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
const children = [
  // In the gateway's own process group.
  spawn("sh", ["-c", ignoreTerm]),
  // In a process group of its own, in the gateway's session (as jobs are).
  spawn("perl", ["-e", '$SIG{TERM} = "IGNORE"; setpgrp(0, 0); sleep 1 while 1;']),
  // In a session of its own: only its parent pid ties it to the gateway.
  spawn("setsid", ["sh", "-c", ignoreTerm]),
];
if (mode === "exit-on-term") Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
else Deno.addSignalListener("SIGTERM", () => {});
const ready = {
  jsonrpc: "2.0",
  method: "gateway.ready",
  params: {
    name: "stubborn",
    version: "0",
    pid: Deno.pid,
    protocol: 1,
    epoch: crypto.randomUUID(),
    peer: "stdio-1",
    transport: "stdio",
    capabilities: {},
    children: children.map((c) => c.pid),
  },
};
await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(ready) + "\n"));
if (mode === "exit-on-eof") {
  const buffer = new Uint8Array(1024);
  while ((await Deno.stdin.read(buffer)) !== null) {
    // Ignore input.
  }
  Deno.exit(0);
}
// Never outlive the test that started it, even when that test crashes.
setInterval(() => {
  if (Deno.ppid !== 1) return;
  for (const child of children) {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // Not a group leader, or gone.
    }
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone.
    }
  }
  Deno.exit(1);
}, 500);
