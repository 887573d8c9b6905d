/** StdioPipes on real process stdio: the move onto sockets, when it is not taken, and errors. */

import assert from "node:assert/strict";
import { ROOT } from "../_support/gateway_process.ts";

const ECHO = `${ROOT}/tests/_support/stdio_pipes_echo.ts`;

interface Report {
  upgraded?: boolean;
  input: string;
  output: string;
  bytes: number;
  error?: string;
  stdoutNonBlocking?: boolean;
}

function echo(args: string[] = []): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ECHO, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs the echo script through `sh -c` (for redirections) and returns its stdout text. */
async function echoInShell(redirect: string, input: string): Promise<string> {
  const output = await new Deno.Command("sh", {
    args: [
      "-c",
      `printf '%s' "$1" | exec "$0" run -A "$2" ${redirect}`,
      Deno.execPath(),
      input,
      ECHO,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout);
}

async function report(child: Deno.ChildProcess): Promise<Report> {
  const text = await new Response(child.stderr).text();
  return JSON.parse(text.trim().split("\n").at(-1)!);
}

/** Deterministic bytes of every value, so that a lost, doubled or moved byte shows. */
function pattern(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = 0x2545f491;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

Deno.test("StdioPipes moves onto sockets between two reads and passes every byte through in order", async () => {
  const child = echo();
  const data = pattern(6 * 1024 * 1024 + 333);
  const writer = child.stdin.getWriter();
  const received = (async () => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of child.stdout) chunks.push(chunk);
    return chunks;
  })();
  // A first piece alone (read on Deno.stdin), then the rest in uneven pieces, some while the
  // socket path is being loaded.
  await writer.write(data.subarray(0, 1000));
  let at = 1000;
  for (let size = 1; at < data.length; size = (size * 7 + 13) % 200_000 + 1) {
    await writer.write(data.subarray(at, at + size));
    at += size;
  }
  await writer.close();
  const chunks = await received;
  const back = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    back.set(chunk, offset);
    offset += chunk.length;
  }
  assert.equal(back.length, data.length);
  assert.ok(back.every((byte, i) => byte === data[i]), "echoed bytes differ");
  assert.deepEqual(await report(child), {
    upgraded: true,
    input: "sockets",
    output: "sockets",
    bytes: data.length,
    // Bulk writes make the descriptor blocking only while they run.
    stdoutNonBlocking: Deno.build.os === "linux" ? true : undefined,
  });
  assert.equal((await child.status).code, 0);
});

Deno.test("StdioPipes with sockets: false stays on Deno.stdin and Deno.stdout", async () => {
  const child = echo(["--no-sockets"]);
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("one\n"));
  const reader = child.stdout.getReader();
  await reader.read();
  await writer.write(new TextEncoder().encode("two\n"));
  await reader.read();
  await writer.close();
  await reader.cancel();
  assert.deepEqual(await report(child), {
    upgraded: false,
    input: "deno",
    output: "deno",
    bytes: 8,
    stdoutNonBlocking: Deno.build.os === "linux" ? false : undefined,
  });
});

Deno.test("StdioPipes stays on Deno.stdout when stdout is also stderr (2>&1)", async () => {
  const text = await echoInShell("2>&1", "hello\n");
  const report: Report = JSON.parse(text.slice(text.indexOf("{")));
  assert.equal(text.slice(0, text.indexOf("{")), "hello\n");
  assert.equal(report.upgraded, false);
  assert.equal(report.output, "deno");
  assert.equal(report.bytes, 6);
});

Deno.test("StdioPipes stays on Deno.stdin when stdin is a file", async () => {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, "from a file\n");
    const shell = await new Deno.Command("sh", {
      args: ["-c", `exec "$0" run -A "$1" < "$2" | cat`, Deno.execPath(), ECHO, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(shell.stdout), "from a file\n");
    const report: Report = JSON.parse(new TextDecoder().decode(shell.stderr).trim());
    assert.equal(report.upgraded, false);
    assert.equal(report.input, "deno");
    assert.equal(report.bytes, 12);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("StdioPipes on sockets turns a reader that went away into Deno.errors.BrokenPipe", async () => {
  const child = echo();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  await writer.write(new TextEncoder().encode("first\n"));
  await reader.read(); // echoed on Deno.stdout; the echo moves before its next read
  await reader.cancel(); // the reader goes away
  for (let i = 0; i < 20; i++) {
    try {
      await writer.write(new TextEncoder().encode("more\n"));
    } catch {
      break; // the child is gone
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const got = await report(child);
  assert.equal(got.output, "sockets");
  assert.equal(got.error, "BrokenPipe");
  assert.equal((await child.status).code, 0);
});

Deno.test("StdioPipes on sockets stops taking input it cannot hold while it is not read", async () => {
  const child = echo(["--pause-ms", "1500"]);
  const writer = child.stdin.getWriter();
  const drained = (async () => {
    for await (const _ of child.stdout) { /* echoed bytes are not checked here */ }
  })();
  await writer.write(new TextEncoder().encode("first\n"));
  await new Promise((resolve) => setTimeout(resolve, 300)); // node:net is loaded
  await writer.write(new TextEncoder().encode("second\n")); // the first read on the socket
  // The echo now reads nothing for 1.5 s: only what its buffer and the pipe hold goes in.
  const piece = new Uint8Array(64 * 1024);
  let accepted = 0;
  const deadline = performance.now() + 800;
  let pending: Promise<void> | undefined;
  while (performance.now() < deadline) {
    pending ??= writer.write(piece).then(() => {
      accepted += piece.length;
      pending = undefined;
    });
    await Promise.race([pending, new Promise((resolve) => setTimeout(resolve, 10))]);
  }
  assert.ok(accepted > 0);
  assert.ok(accepted < 3 * 1024 * 1024, `${accepted} bytes were taken while not read`);
  await pending;
  await writer.close();
  await drained;
  const got = await report(child);
  assert.equal(got.input, "sockets");
  assert.equal(got.bytes, "first\nsecond\n".length + accepted);
});

Deno.test("StdioPipes on one socket for stdin and stdout passes every byte through in order", async () => {
  // Python makes the socket pair (Deno cannot) and hands one end to the echo as both
  // descriptors; it half-closes only once every byte came back, so an echo whose main thread
  // blocked on a read of the shared socket would hang here.
  const script = `
import socket, subprocess, sys, threading, json
data = bytes((i * 7 + i // 251) % 256 for i in range(3 * 1024 * 1024 + 77))
a, b = socket.socketpair()
p = subprocess.Popen(sys.argv[1:], stdin=b, stdout=b, stderr=subprocess.PIPE)
b.close()
def send():
    a.sendall(data[:500])
    view = memoryview(data)[500:]
    for at in range(0, len(view), 70000):
        a.sendall(view[at:at + 70000])
threading.Thread(target=send, daemon=True).start()
got = bytearray()
a.settimeout(10)
try:
    while len(got) < len(data):
        chunk = a.recv(1 << 20)
        if not chunk:
            break
        got += chunk
except socket.timeout:
    p.kill()
a.shutdown(socket.SHUT_WR)
err = p.stderr.read().decode()
print(json.dumps({"same": bytes(got) == data, "length": len(got), "code": p.wait(), "report": err.strip().splitlines()[-1]}))
`;
  const output = await new Deno.Command("python3", {
    args: ["-c", script, Deno.execPath(), "run", "-A", ECHO],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const result = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.equal(result.same, true, `${result.length} bytes came back`);
  assert.equal(result.code, 0);
  const report: Report = JSON.parse(result.report);
  assert.equal(report.input, "sockets");
  assert.equal(report.output, "sockets");
});

Deno.test("StdioPipes leaves stdin and stdout blocking again when the process exits, for the next holder of the pipes", async () => {
  // The echo and then python3 share one stdin pipe and one stdout pipe, as a shell group does;
  // python3 reports whether each is non-blocking.
  const check = "import fcntl, os, sys; sys.stderr.write('next %s %s\\n' % " +
    "tuple(bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK) for fd in (0, 1)))";
  const child = new Deno.Command("sh", {
    args: ["-c", `"$0" run -A "$1" && exec python3 -c "$2"`, Deno.execPath(), ECHO, check],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  await writer.write(new TextEncoder().encode("first\n"));
  await reader.read(); // the echo moves before its next read
  await writer.write(new TextEncoder().encode("second\n"));
  await reader.read(); // echoed through the socket
  await writer.close();
  reader.releaseLock();
  const [report, next] = new TextDecoder().decode((await child.output()).stderr).trim().split("\n");
  assert.equal((JSON.parse(report) as Report).output, "sockets");
  assert.equal(next, "next False False");
});
