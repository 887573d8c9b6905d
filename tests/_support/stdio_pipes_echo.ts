/**
 * Test support: echoes stdin to stdout through {@linkcode StdioPipes}. The
 * first chunk goes through `Deno.stdin`/`Deno.stdout`; then it asks for the
 * move onto sockets and echoes the rest, in writes of up to 100,000 bytes
 * (so both small socket writes and bulk writes happen). At the end it prints
 * one JSON report on stderr: whether the move was taken, the paths, bytes
 * echoed, the class of the error that stopped it, if any, and whether
 * stdout's descriptor is non-blocking.
 *
 *   deno run -A tests/_support/stdio_pipes_echo.ts [--no-sockets] [--pause-ms N]
 *
 * `--pause-ms N` stops reading for N ms after the first chunk read on the
 * new path (to test that the socket stops taking input it cannot hold).
 *
 * @module
 */

import { StdioPipes } from "../../src/transport/stdio_pipes.ts";

const pipes = new StdioPipes({ sockets: !Deno.args.includes("--no-sockets") });
const pauseAt = Deno.args.indexOf("--pause-ms");
const pauseMs = pauseAt === -1 ? 0 : Number(Deno.args[pauseAt + 1]);
const buffer = new Uint8Array(100_000);
let bytes = 0;
let reads = 0;
let upgraded: boolean | undefined;
let error: string | undefined;

async function writeAll(p: Uint8Array): Promise<void> {
  for (let at = 0; at < p.length;) at += await pipes.output.write(p.subarray(at));
}

try {
  for (let n = await pipes.input.read(buffer); n !== null; n = await pipes.input.read(buffer)) {
    await writeAll(buffer.subarray(0, n));
    bytes += n;
    reads++;
    if (upgraded === undefined) upgraded = await pipes.upgrade();
    if (reads === 2 && pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
} catch (e) {
  error = (e as Error).constructor.name;
}
/** Whether stdout's descriptor is non-blocking now (Linux; `undefined` elsewhere). */
function stdoutNonBlocking(): boolean | undefined {
  try {
    const flags = /flags:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/fdinfo/1"))![1];
    return (parseInt(flags, 8) & 0o4000) !== 0;
  } catch {
    return undefined;
  }
}

const report = {
  upgraded,
  input: pipes.inputPath,
  output: pipes.outputPath,
  bytes,
  error,
  stdoutNonBlocking: stdoutNonBlocking(),
};
await Deno.stderr.write(new TextEncoder().encode(JSON.stringify(report) + "\n"));
Deno.exit(0);
