import assert from "node:assert/strict";
import { listeningAddress, UpgradeGuard } from "../../../src/transport/websocket/mod.ts";

const TOKEN = "t0ken-abc_DEF";

function request(headers: Record<string, string>): Request {
  return new Request("http://127.0.0.1:8080/", {
    headers: {
      host: "127.0.0.1:8080",
      upgrade: "websocket",
      connection: "Upgrade",
      ...headers,
    },
  });
}

function guard(host = "127.0.0.1", options: { origins?: string[]; hosts?: string[] } = {}) {
  return new UpgradeGuard({
    token: TOKEN,
    address: listeningAddress(host, 8080),
    allowOrigins: options.origins,
    allowHosts: options.hosts,
  });
}

Deno.test("UpgradeGuard accepts the token in the Authorization header", () => {
  const decision = guard().check(request({ authorization: `Bearer ${TOKEN}` }));
  assert.deepEqual(decision, { ok: true, protocol: undefined, via: "header" });
  const lower = guard().check(request({ authorization: `bearer ${TOKEN}` }));
  assert.equal(lower.ok, true);
});

Deno.test("UpgradeGuard accepts the token as a subprotocol and selects tuigate when offered", () => {
  const both = guard().check(
    request({ "sec-websocket-protocol": `tuigate, tuigate.bearer.${TOKEN}` }),
  );
  assert.deepEqual(both, { ok: true, protocol: "tuigate", via: "subprotocol" });
  const alone = guard().check(request({ "sec-websocket-protocol": `tuigate.bearer.${TOKEN}` }));
  assert.deepEqual(alone, { ok: true, protocol: `tuigate.bearer.${TOKEN}`, via: "subprotocol" });
});

Deno.test("UpgradeGuard answers 401 for a missing, malformed or wrong token", () => {
  const cases: Record<string, string>[] = [
    {},
    { authorization: "Basic abc" },
    { authorization: `Bearer ${TOKEN}x` },
    { authorization: `Bearer ${TOKEN.slice(1)}` },
    { "sec-websocket-protocol": "tuigate.bearer.nope" },
    { "sec-websocket-protocol": "tuigate" },
  ];
  for (const headers of cases) {
    const decision = guard().check(request(headers));
    assert.equal(decision.ok, false, JSON.stringify(headers));
    if (!decision.ok) {
      assert.equal(decision.status, 401);
      assert.equal(decision.kind, "token");
      assert.doesNotMatch(decision.reason, new RegExp(TOKEN));
    }
  }
});

Deno.test("UpgradeGuard answers 403 for an Origin not allowed, and lets allowed or absent ones pass", () => {
  const auth = { authorization: `Bearer ${TOKEN}` };
  const g = guard("127.0.0.1", { origins: ["https://Dash.example/"] });
  const foreign = g.check(request({ ...auth, origin: "https://evil.example" }));
  assert.equal(foreign.ok, false);
  if (!foreign.ok) assert.equal(foreign.status, 403);
  assert.equal(g.check(request({ ...auth, origin: "https://dash.example" })).ok, true);
  assert.equal(g.check(request(auth)).ok, true);
  const any = guard("127.0.0.1", { origins: ["*"] });
  assert.equal(any.check(request({ ...auth, origin: "https://whatever.example" })).ok, true);
  // The Origin is checked before the token: a browser page learns nothing about the token.
  const noToken = g.check(request({ origin: "https://evil.example" }));
  assert.equal(!noToken.ok && noToken.status, 403);
});

Deno.test("UpgradeGuard answers 421 for a Host that is not the listening address, 400 without one", () => {
  const auth = { authorization: `Bearer ${TOKEN}` };
  const loopback = guard("127.0.0.1");
  for (const host of ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "[::1]:8080"]) {
    assert.equal(loopback.check(request({ ...auth, host })).ok, true, host);
  }
  for (const host of ["evil.example:8080", "127.0.0.1:8081", "127.0.0.1", "10.0.0.1:8080", "x:y"]) {
    const decision = loopback.check(request({ ...auth, host }));
    assert.equal(!decision.ok && decision.status, 421, host);
  }
  const named = guard("127.0.0.1", { hosts: ["my-box.local"] });
  assert.equal(named.check(request({ ...auth, host: "my-box.local:8080" })).ok, true);
  const wildcard = guard("0.0.0.0");
  assert.equal(wildcard.check(request({ ...auth, host: "192.168.1.7:8080" })).ok, true);
  assert.equal(wildcard.check(request({ ...auth, host: "[fe80::1]:8080" })).ok, true);
  const rebound = wildcard.check(request({ ...auth, host: "attacker.example:8080" }));
  assert.equal(!rebound.ok && rebound.status, 421);
  const specific = guard("192.168.1.7");
  assert.equal(specific.check(request({ ...auth, host: "192.168.1.7:8080" })).ok, true);
  const other = specific.check(request({ ...auth, host: "127.0.0.1:8080" }));
  assert.equal(!other.ok && other.status, 421);
  const missing = loopback.check(
    new Request("http://127.0.0.1:8080/", { headers: { ...auth, upgrade: "websocket" } }),
  );
  // Request fills in no Host header by itself.
  assert.equal(!missing.ok && missing.status, 400);
});

Deno.test("UpgradeGuard answers 426 to an authorised request that is not a WebSocket upgrade", () => {
  const decision = guard().check(
    new Request("http://127.0.0.1:8080/", {
      headers: { host: "127.0.0.1:8080", authorization: `Bearer ${TOKEN}` },
    }),
  );
  assert.equal(!decision.ok && decision.status, 426);
});
