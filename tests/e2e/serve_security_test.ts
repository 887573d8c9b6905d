import assert from "node:assert/strict";
import { spawnGateway } from "../_support/gateway_process.ts";
import { rawUpgrade } from "../_support/raw_websocket.ts";
import { spawnServe, TestWebSocket } from "../_support/websocket_client.ts";

Deno.test("Serve announces its address as one JSON line and writes the token to a 0600 file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-ready-" });
  try {
    const readyFile = `${dir}/ready.json`;
    const serve = await spawnServe(["--ready-file", readyFile]);
    await using gw = serve.gw;
    const { announcement } = serve;
    assert.equal(gw.frames[0], announcement, "the announcement is the first line on stdout");
    assert.equal(announcement.listening.host, "127.0.0.1");
    assert.ok(announcement.listening.port > 0);
    assert.equal(announcement.listening.url, `ws://127.0.0.1:${announcement.listening.port}/`);
    assert.equal(announcement.pid, gw.child.pid);
    assert.equal(announcement.tokenFile, `${gw.dir}/state/token`);
    const stat = await Deno.stat(announcement.tokenFile);
    assert.equal(stat.mode! & 0o777, 0o600);
    assert.match(serve.token, /^[A-Za-z0-9_-]{43}$/);
    const ready = JSON.parse(await Deno.readTextFile(readyFile));
    assert.deepEqual(ready, announcement);
    gw.kill("SIGTERM");
    assert.equal((await gw.waitExit()).code, 0);
    await assert.rejects(Deno.stat(announcement.tokenFile), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(readyFile), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Serve accepts the token in the Authorization header and in the tuigate.bearer subprotocol", async () => {
  const serve = await spawnServe();
  await using gw = serve.gw;
  await using viaHeader = await TestWebSocket.open(serve.url, {
    token: serve.token,
    via: "header",
  });
  await using viaProtocol = await TestWebSocket.open(serve.url, {
    token: serve.token,
    via: "subprotocol",
  });
  assert.equal(viaProtocol.socket.protocol, "tuigate");
  for (const client of [viaHeader, viaProtocol]) {
    const ready = await client.notification("gateway.ready");
    assert.equal(client.messages[0], ready, "gateway.ready is the first message");
    assert.equal(ready.params.transport, "websocket");
    assert.equal(ready.params.pid, gw.child.pid);
    assert.equal((await client.request("gateway.ping")).result.pong, true);
  }
});

Deno.test("Serve refuses an upgrade without a token with 401, before upgrading, and logs it", async () => {
  const serve = await spawnServe();
  await using _gw = serve.gw;
  const refused = await rawUpgrade(serve.port);
  assert.equal(refused.status, 401);
  assert.equal(refused.socket, undefined);
  assert.match(refused.headers["www-authenticate"], /^Bearer/);
  await assert.rejects(TestWebSocket.open(serve.url, { via: "none" }));
  await waitFor(() => /Refused a connection from .* 401/.test(serve.gw.stderr));
});

Deno.test("Serve refuses a wrong token with 401, in the header and in the subprotocol", async () => {
  const serve = await spawnServe();
  await using gw = serve.gw;
  const wrong = serve.token.slice(0, -1) + (serve.token.endsWith("A") ? "B" : "A");
  const header = await rawUpgrade(serve.port, { headers: { Authorization: `Bearer ${wrong}` } });
  assert.equal(header.status, 401);
  const protocol = await rawUpgrade(serve.port, {
    headers: { "Sec-WebSocket-Protocol": `tuigate, tuigate.bearer.${wrong}` },
  });
  assert.equal(protocol.status, 401);
  await assert.rejects(TestWebSocket.open(serve.url, { token: wrong }));
  await assert.rejects(TestWebSocket.open(serve.url, { token: wrong, via: "subprotocol" }));
  assert.doesNotMatch(gw.stderr, new RegExp(wrong), "tokens never reach the log");
});

Deno.test("Serve with an empty TUIGATE_TOKEN generates a token and refuses empty or malformed credentials", async () => {
  const serve = await spawnServe([], { env: { TUIGATE_TOKEN: "" } });
  await using _gw = serve.gw;
  assert.ok(serve.token.length >= 32, "a generated token, written to the token file");
  const attempts: Record<string, string>[] = [
    { Authorization: "Basic abc" },
    { Authorization: "Bearer" },
    { "Sec-WebSocket-Protocol": "tuigate, tuigate.bearer." },
  ];
  for (const headers of attempts) {
    assert.equal((await rawUpgrade(serve.port, { headers })).status, 401, JSON.stringify(headers));
  }
  await using client = await TestWebSocket.open(serve.url, { token: serve.token });
  assert.equal((await client.request("gateway.ping")).result.pong, true);
});

Deno.test("Serve refuses a browser Origin that is not in --allow-origin with 403", async () => {
  const serve = await spawnServe(["--allow-origin", "https://dash.example"]);
  await using gw = serve.gw;
  const auth = { Authorization: `Bearer ${serve.token}` };
  const foreign = await rawUpgrade(serve.port, {
    headers: { ...auth, Origin: "https://evil.example" },
  });
  assert.equal(foreign.status, 403);
  assert.match(foreign.body, /evil\.example/);
  const nullOrigin = await rawUpgrade(serve.port, { headers: { ...auth, Origin: "null" } });
  assert.equal(nullOrigin.status, 403);
  const allowed = await rawUpgrade(serve.port, {
    headers: { ...auth, Origin: "https://dash.example" },
  });
  assert.equal(allowed.status, 101);
  allowed.socket!.close();
  await waitFor(() => /Refused a connection from .* 403/.test(gw.stderr));
});

Deno.test("Serve refuses a Host header that is not the listening address (DNS rebinding)", async () => {
  const serve = await spawnServe();
  await using gw = serve.gw;
  const auth = { Authorization: `Bearer ${serve.token}` };
  const rebound = await rawUpgrade(serve.port, {
    host: `evil.example:${serve.port}`,
    headers: auth,
  });
  assert.equal(rebound.status, 421);
  const otherPort = await rawUpgrade(serve.port, {
    host: `127.0.0.1:${serve.port + 1}`,
    headers: auth,
  });
  assert.equal(otherPort.status, 421);
  const noPort = await rawUpgrade(serve.port, { host: "127.0.0.1", headers: auth });
  assert.equal(noPort.status, 421);
  for (
    const host of [`127.0.0.1:${serve.port}`, `localhost:${serve.port}`, `[::1]:${serve.port}`]
  ) {
    const ok = await rawUpgrade(serve.port, { host, headers: auth });
    assert.equal(ok.status, 101, `Host ${host}`);
    ok.socket!.close();
  }
  await waitFor(() => /Refused a connection from .* 421/.test(gw.stderr));
});

Deno.test("Serve refuses to bind a non-loopback address without --allow-remote", async () => {
  await using gw = await spawnGateway(["serve", "--listen", "0.0.0.0:0"]);
  const status = await gw.waitExit();
  assert.equal(status.code, 2);
  assert.match(gw.stderr, /not a loopback address.*--allow-remote/);
  assert.equal(gw.frames.length, 0, "nothing is announced");
});

Deno.test("Serve binds a non-loopback address with --allow-remote and checks Host against it", async () => {
  const serve = await spawnServe(["--allow-remote"], { listen: "0.0.0.0:0" });
  await using _gw = serve.gw;
  assert.equal(serve.announcement.listening.host, "0.0.0.0");
  const auth = { Authorization: `Bearer ${serve.token}` };
  const ok = await rawUpgrade(serve.port, { host: `127.0.0.1:${serve.port}`, headers: auth });
  assert.equal(ok.status, 101);
  ok.socket!.close();
  const rebound = await rawUpgrade(serve.port, {
    host: `evil.example:${serve.port}`,
    headers: auth,
  });
  assert.equal(rebound.status, 421);
});

Deno.test("Serve uses --token and TUIGATE_TOKEN as given and writes no token file", async () => {
  const token = "given-token-123";
  for (const [args, env] of [[["--token", token], {}], [[], { TUIGATE_TOKEN: token }]] as const) {
    const serve = await spawnServe([...args], { token, env: { ...env } });
    await using gw = serve.gw;
    assert.equal(serve.announcement.tokenFile, null);
    await assert.rejects(Deno.stat(`${gw.dir}/state/token`), Deno.errors.NotFound);
    await using client = await TestWebSocket.open(serve.url, { token });
    assert.equal((await client.request("gateway.ping")).result.pong, true);
    const info = await client.request("gateway.info");
    assert.equal(info.result.settings.token, "(hidden)");
    assert.doesNotMatch(JSON.stringify(info.result), new RegExp(token));
  }
});

Deno.test("Serve does not hand TUIGATE_TOKEN on to the jobs it runs", async () => {
  const token = "secret-token-456";
  const serve = await spawnServe(["--allow-jobs"], { token, env: { TUIGATE_TOKEN: token } });
  await using _gw = serve.gw;
  await using client = await TestWebSocket.open(serve.url, { token });
  const started = await client.request("job.start", {
    cmd: "sh",
    args: ["-c", 'printf "%s" "${TUIGATE_TOKEN-unset}"'],
  });
  assert.equal(started.error, undefined, JSON.stringify(started.error));
  const output = await client.next((f) =>
    f.method === "job.output" && f.params.job === started.result.job
  );
  assert.equal(output.params.text, "unset");
});

Deno.test("Serve refuses job methods with -32003 unless --allow-jobs is given", async () => {
  {
    const serve = await spawnServe();
    await using _gw = serve.gw;
    await using client = await TestWebSocket.open(serve.url, { token: serve.token });
    const ready = await client.notification("gateway.ready");
    assert.equal(ready.params.capabilities.jobs, false);
    const refused = await client.request("job.start", { command: ["true"] });
    assert.equal(refused.error.code, -32003);
    assert.equal(refused.error.data.requires, "jobs");
    assert.equal((await client.request("job.list")).error.code, -32003);
  }
  {
    const serve = await spawnServe(["--allow-jobs"]);
    await using _gw = serve.gw;
    await using client = await TestWebSocket.open(serve.url, { token: serve.token });
    const list = await client.request("job.list");
    assert.equal(list.error, undefined, JSON.stringify(list));
  }
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("Condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
