/**
 * `--framing lsp` end to end: a real gateway process spoken to with
 * `Content-Length` frames, compared with the line framing.
 */

import assert from "node:assert/strict";
import { encodeLspFrame } from "../../src/protocol/lsp_decoder.ts";
import { type Frame, ROOT, spawnGateway } from "../_support/gateway_process.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A gateway spawned with `--framing lsp`, read with a strict Content-Length parser. */
class LspGateway {
  readonly child: Deno.ChildProcess;
  readonly frames: Frame[] = [];
  readonly headerErrors: string[] = [];
  readonly rawHeaders: string[] = [];
  readonly dir: string;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  #unclaimed: Frame[] = [];
  #reading: Promise<void>;
  #stderr = "";
  #stderrDone: Promise<void>;

  constructor(args: string[], dir: string) {
    this.dir = dir;
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}/main.ts`, "--framing", "lsp", ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { TUIGATE_CRASH_LOG: `${dir}/exits.jsonl`, TUIGATE_STATE_DIR: `${dir}/state` },
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.#reading = this.#read();
    this.#stderrDone = this.#readStderr();
  }

  async #readStderr(): Promise<void> {
    for await (const chunk of this.child.stderr.pipeThrough(new TextDecoderStream())) {
      this.#stderr += chunk;
    }
  }

  async #read(): Promise<void> {
    // Every frame must be exactly "Content-Length: N\r\n\r\n" followed by N bytes of JSON.
    let pending = new Uint8Array(0);
    for await (const chunk of this.child.stdout) {
      const all = new Uint8Array(pending.length + chunk.length);
      all.set(pending);
      all.set(chunk, pending.length);
      pending = all;
      for (;;) {
        const head = decoder.decode(pending.subarray(0, Math.min(pending.length, 64)));
        const match = /^Content-Length: (\d+)\r\n\r\n/.exec(head);
        if (match === null) {
          if (pending.length >= 64) {
            this.headerErrors.push(`Unexpected output: ${JSON.stringify(head)}`);
            pending = new Uint8Array(0);
          }
          break;
        }
        const start = match[0].length;
        const length = Number(match[1]);
        if (pending.length < start + length) break;
        this.rawHeaders.push(match[0]);
        this.#deliver(JSON.parse(decoder.decode(pending.subarray(start, start + length))));
        pending = pending.slice(start + length);
      }
    }
  }

  #deliver(frame: Frame): void {
    this.frames.push(frame);
    const index = this.#waiters.findIndex((w) => w.match(frame));
    if (index === -1) this.#unclaimed.push(frame);
    else this.#waiters.splice(index, 1)[0].resolve(frame);
  }

  next(match: (f: Frame) => boolean, timeoutMs = 15_000): Promise<Frame> {
    const index = this.#unclaimed.findIndex(match);
    if (index !== -1) return Promise.resolve(this.#unclaimed.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`No matching frame within ${timeoutMs} ms; stderr:\n${this.#stderr}`));
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** The next response that is not to a request with an id of ours (id null), or to `id`. */
  response(id: unknown): Promise<Frame> {
    return this.next((f) => Array.isArray(f) || (f.id === id && !("method" in f)));
  }

  async sendRaw(bytes: Uint8Array | string): Promise<void> {
    await this.#writer.write(typeof bytes === "string" ? encoder.encode(bytes) : bytes);
  }

  async send(message: unknown): Promise<void> {
    await this.sendRaw(encodeLspFrame(JSON.stringify(message)));
  }

  async closeStdin(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.child.status;
    await this.closeStdin();
    await Promise.allSettled([this.#reading, this.#stderrDone]);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

async function spawnLsp(args: string[] = []): Promise<LspGateway> {
  return new LspGateway(args, await Deno.makeTempDir({ prefix: "tuigate-lsp-" }));
}

/** Bad inputs and what each is, as bytes for one frame body. */
const BAD_BODIES: { name: string; body: Uint8Array; id: unknown }[] = [
  { name: "invalid JSON", body: encoder.encode('{"jsonrpc":'), id: null },
  { name: "invalid UTF-8", body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), id: null },
  {
    name: "wrong jsonrpc version",
    body: encoder.encode('{"jsonrpc":"1.0","id":1,"method":"x"}'),
    id: 1,
  },
  { name: "empty batch", body: encoder.encode("[]"), id: null },
  {
    name: "unknown method",
    body: encoder.encode('{"jsonrpc":"2.0","id":2,"method":"no.such"}'),
    id: 2,
  },
  {
    name: "invalid params",
    body: encoder.encode('{"jsonrpc":"2.0","id":3,"method":"client.capabilities","params":[1]}'),
    id: 3,
  },
  {
    name: "oversize frame",
    body: encoder.encode(
      `{"jsonrpc":"2.0","id":4,"method":"gateway.ping","params":["${"x".repeat(3000)}"]}`,
    ),
    id: null,
  },
  {
    name: "batch",
    body: encoder.encode(
      '[{"jsonrpc":"2.0","id":5,"method":"no.such"},{"jsonrpc":"2.0","method":"no.such"},5]',
    ),
    id: "batch",
  },
];

function lspBytes(body: Uint8Array): Uint8Array {
  const header = encoder.encode(`Content-Length: ${body.length}\r\n\r\n`);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

function lineBytes(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out.set(body);
  out[body.length] = 0x0a;
  return out;
}

Deno.test("LSP framing answers bad input with the same error replies as the line framing", async () => {
  const limit = ["--max-frame-bytes", "2048"];
  await using lsp = await spawnLsp(limit);
  await using line = await spawnGateway(limit);
  await lsp.next((f) => f.method === "gateway.ready");
  await line.ready();
  for (const { name, body, id } of BAD_BODIES) {
    const matchLsp = id === "batch" ? lsp.next(Array.isArray) : lsp.response(id);
    const matchLine = id === "batch" ? line.next(Array.isArray) : line.response(id);
    await lsp.sendRaw(lspBytes(body));
    await line.send(lineBytes(body));
    const [fromLsp, fromLine] = await Promise.all([matchLsp, matchLine]);
    assert.deepEqual(fromLsp, fromLine, name);
    assert.ok(Array.isArray(fromLsp) || typeof fromLsp.error?.code === "number", name);
  }
  const expectedCodes = [-32700, -32700, -32600, -32600, -32601, -32602, -32600];
  const lspCodes = lsp.frames.filter((f) => !Array.isArray(f) && f.error).map((f) => f.error.code);
  assert.deepEqual(lspCodes, expectedCodes);
  const oversize = lsp.frames.find((f) => f.error?.data?.limit !== undefined);
  assert.deepEqual(oversize.error.data, { limit: 2048, bytes: BAD_BODIES[6].body.length });
  await lsp.send({ jsonrpc: "2.0", id: 9, method: "gateway.ping" });
  assert.equal((await lsp.response(9)).result.pong, true);
  assert.deepEqual(lsp.headerErrors, []);
});

Deno.test("LSP framing writes gateway.ready first and frames every reply with its byte length", async () => {
  await using lsp = await spawnLsp();
  const ready = await lsp.next((f) => f.method === "gateway.ready");
  assert.equal(lsp.frames[0], ready);
  const echo = "h\u00e9llo \u{1F600} ".repeat(40_000); // about 480 KB, multi-byte
  await lsp.send({ jsonrpc: "2.0", id: "big", method: "gateway.ping", params: { echo } });
  const response = await lsp.response("big");
  assert.equal(response.result.echo.echo, echo);
  assert.deepEqual(lsp.headerErrors, []);
  assert.ok(lsp.rawHeaders.every((h) => /^Content-Length: \d+\r\n\r\n$/.test(h)));
});

Deno.test("LSP framing answers a malformed header with -32700 and keeps serving", async () => {
  await using lsp = await spawnLsp();
  await lsp.next((f) => f.method === "gateway.ready");
  // A TUI that speaks line-delimited JSON to an LSP-framed gateway gets a prompt, clear answer.
  await lsp.sendRaw('{"jsonrpc":"2.0","id":1,"method":"gateway.ping"}\n');
  const error = await lsp.response(null);
  assert.equal(error.error.code, -32700);
  assert.match(error.error.data.reason, /Malformed header line/);
  assert.match(error.error.data.reason, /line-delimited JSON.*use --framing line/);
  await lsp.send({ jsonrpc: "2.0", id: 2, method: "gateway.ping" });
  assert.equal((await lsp.response(2)).result.pong, true);
  await lsp.sendRaw("Content-Type: application/json\r\n\r\n");
  await lsp.sendRaw("Content-Length: 0\r\n\r\n");
  await lsp.send({ jsonrpc: "2.0", id: 3, method: "gateway.ping" });
  assert.equal((await lsp.response(3)).result.pong, true);
  const errors = lsp.frames.filter((f) => f.error).map((f) => [f.error.code, f.error.data?.reason]);
  assert.equal(errors.length, 3, JSON.stringify(errors));
  assert.match(String(errors[1][1]), /no Content-Length/);
  assert.equal(errors[2][0], -32700, "an empty body is not JSON");
});

Deno.test("LSP framing answers each of 2000 pipelined requests exactly once", async () => {
  await using lsp = await spawnLsp();
  await lsp.next((f) => f.method === "gateway.ready");
  const count = 2000;
  const parts: Uint8Array[] = [];
  for (let id = 1; id <= count; id++) {
    parts.push(encodeLspFrame(JSON.stringify({ jsonrpc: "2.0", id, method: "gateway.ping" })));
  }
  const wire = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    wire.set(part, offset);
    offset += part.length;
  }
  // Written in odd-sized pieces so frames straddle reads.
  for (let i = 0; i < wire.length; i += 777) await lsp.sendRaw(wire.slice(i, i + 777));
  await lsp.response(count);
  await lsp.send({ jsonrpc: "2.0", id: "last", method: "gateway.ping" });
  await lsp.response("last");
  const answers = new Map<number, number>();
  for (const f of lsp.frames) {
    if (typeof f.id !== "number") continue;
    answers.set(f.id, (answers.get(f.id) ?? 0) + 1);
    assert.ok(f.result?.pong === true || f.error?.code === -32000, JSON.stringify(f));
  }
  assert.equal(answers.size, count);
  assert.ok([...answers.values()].every((n) => n === 1));
  assert.deepEqual(lsp.headerErrors, []);
});

Deno.test("LSP framing exits 0 on stdin EOF", async () => {
  await using lsp = await spawnLsp();
  await lsp.next((f) => f.method === "gateway.ready");
  await lsp.closeStdin();
  const status = await lsp.child.status;
  assert.equal(status.code, 0);
});
