/**
 * The floor of Deno's stdio paths: the least a stdio JSON-RPC server can do
 * (split lines, `JSON.parse`, answer `echo` and `flood`, batch waiting
 * answers into one write), with no dispatcher, no lifecycle, no bounds and no
 * safety. `deno task bench` measures it beside tuigate and the MCP SDK
 * server, so the latency and startup targets have a same-run floor: no
 * gateway built on a path can beat that path's floor.
 *
 *   deno run -A tests/bench/stdio_floor.ts [--stdio deno|node-net] [--async-hooks]
 *
 * - `--stdio deno` (default): `Deno.stdin.read` and `Deno.stdout.write`, the
 *   path tuigate uses. Each read and write runs on a blocking thread.
 * - `--stdio node-net`: `node:net` sockets on fds 0 and 1, polled by the
 *   runtime's reactor on the main thread (and left `O_NONBLOCK`).
 * - `--async-hooks`: loads `node:async_hooks` first, as every server that
 *   binds a context per request with `AsyncLocalStorage` must.
 *
 * @module
 */

// Flags are read by hand: `node:util` would load the Node compatibility layer,
// which is the very startup cost `--async-hooks` is there to show.
const stdio = Deno.args.includes("--stdio") ? Deno.args[Deno.args.indexOf("--stdio") + 1] : "deno";
for (const arg of Deno.args) {
  if (!["--stdio", "--async-hooks", "deno", "node-net"].includes(arg)) {
    throw new TypeError(
      `Cannot use argument ${arg}: expected --stdio deno|node-net or --async-hooks`,
    );
  }
}
if (Deno.args.includes("--async-hooks")) await import("node:async_hooks");

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const queue: string[] = [];
let rest = "";
let pumping = false;
let write: (bytes: Uint8Array) => Promise<void>;

if (stdio === "node-net") {
  const net = await import("node:net");
  const output = new net.Socket({ fd: 1, readable: false, writable: true });
  write = (bytes) =>
    output.write(bytes)
      ? Promise.resolve()
      : new Promise((resolve) => output.once("drain", resolve));
  const input = new net.Socket({ fd: 0, readable: true, writable: false });
  input.on("data", (chunk: Uint8Array) => onChunk(chunk));
  input.on("end", () => Deno.exit(0));
} else if (stdio === "deno") {
  write = async (bytes) => {
    for (let offset = 0; offset < bytes.length;) {
      offset += await Deno.stdout.write(bytes.subarray(offset));
    }
  };
  const buffer = new Uint8Array(256 * 1024);
  for (let n = await Deno.stdin.read(buffer); n !== null; n = await Deno.stdin.read(buffer)) {
    onChunk(buffer.subarray(0, n));
  }
  Deno.exit(0);
} else {
  throw new TypeError(`Cannot use --stdio ${stdio}: expected deno or node-net`);
}

function onChunk(chunk: Uint8Array): void {
  const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
  rest = lines.pop()!;
  for (const line of lines) {
    if (line.trim() === "") continue;
    const message = JSON.parse(line);
    if (message.id === undefined) continue;
    if (message.method === "flood") {
      const { count, size } = message.params as { count: number; size: number };
      const data = "x".repeat(size);
      for (let i = 0; i < count; i++) {
        queue.push(JSON.stringify({ jsonrpc: "2.0", method: "tick", params: { i, data } }) + "\n");
      }
      queue.push(
        JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { sent: count } }) + "\n",
      );
    } else {
      queue.push(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: message.params }) + "\n");
    }
  }
  void pump();
}

async function pump(): Promise<void> {
  if (pumping) return;
  pumping = true;
  while (queue.length > 0) {
    const text = queue.join("");
    queue.length = 0;
    await write(encoder.encode(text));
  }
  pumping = false;
}
