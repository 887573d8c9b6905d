import assert from "node:assert/strict";
import { spawnGateway } from "../_support/gateway_process.ts";

/** Waits until the current log file or the one just rotated holds `text`. */
async function waitForLogLine(dir: string, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const name of ["tuigate.log", "tuigate.log.1"]) {
      const content = await Deno.readTextFile(`${dir}/${name}`).catch(() => "");
      if (content.includes(text)) return;
    }
    if (Date.now() > deadline) throw new Error(`No ${text} in ${dir} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("Gateway writes its log file with a size bound and rotation", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/logs/tuigate.log`;
  await using gw = await spawnGateway([
    "--log-file",
    path,
    "--log-level",
    "debug",
    "--log-file-max-bytes",
    "4096",
    "--log-file-keep",
    "2",
  ]);
  await gw.ready();
  let batch = "";
  for (let i = 0; i < 3000; i++) batch += `{"jsonrpc":"2.0","method":"no.such.method.${i}"}\n`;
  await gw.send(batch);
  await gw.request("gateway.ping");
  // The answer comes before the file sink has written the burst's 3000 lines (about 100
  // rotations), and at exit the gateway waits at most 200 ms for the sink: on a loaded machine
  // it can exit in the middle of a rotation, with tuigate.log renamed away and not yet reopened.
  // Wait until the burst's last line is on disk; what is logged after stdin closes is one line.
  await waitForLogLine(`${dir}/logs`, 'no.such.method.2999"');
  await gw.closeStdin();
  assert.equal((await gw.waitExit(5000)).code, 0);
  const names: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/logs`)) names.push(entry.name);
  names.sort();
  assert.deepEqual(names, ["tuigate.log", "tuigate.log.1", "tuigate.log.2"]);
  for (const name of names) {
    const { size } = await Deno.stat(`${dir}/logs/${name}`);
    assert.ok(size <= 4096 + 64 * 1024, `${name} is ${size} bytes`);
  }
  const rotated = await Deno.readTextFile(`${dir}/logs/tuigate.log.1`);
  assert.match(rotated, /no\.such\.method/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Gateway logs nothing below --log-level and only frames reach stdout", async () => {
  await using gw = await spawnGateway(["--log-level", "error"]);
  await gw.ready();
  await gw.send('{"jsonrpc":"2.0","method":"no.such.method"}\n');
  await gw.request("gateway.ping");
  await gw.closeStdin();
  await gw.waitExit(5000);
  assert.doesNotMatch(gw.stderr, /no\.such\.method/);
  assert.deepEqual(gw.invalidLines, []);
});

Deno.test("Gateway says on stderr, at any log level, that its log file cannot be written, and serves on", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/not-a-folder`, "");
  const path = `${dir}/not-a-folder/tuigate.log`;
  await using gw = await spawnGateway(["--log-file", path, "--log-level", "error"]);
  await gw.ready();
  assert.equal((await gw.request("gateway.ping")).result.pong, true);
  await gw.closeStdin();
  assert.equal((await gw.waitExit(5000)).code, 0);
  const said = gw.stderr.split("\n").filter((line) => line.includes("cannot write the log file"));
  assert.equal(said.length, 1, gw.stderr);
  assert.ok(said[0].includes(path), said[0]);
  await Deno.remove(dir, { recursive: true });
});
