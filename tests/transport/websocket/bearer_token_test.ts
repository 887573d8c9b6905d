import assert from "node:assert/strict";
import {
  generateBearerToken,
  isLoopbackHost,
  tokensMatch,
  writeTokenFile,
} from "../../../src/transport/websocket/mod.ts";

Deno.test("generateBearerToken makes distinct 256-bit base64url tokens", () => {
  const tokens = new Set(Array.from({ length: 100 }, generateBearerToken));
  assert.equal(tokens.size, 100);
  for (const token of tokens) assert.match(token, /^[A-Za-z0-9_-]{43}$/);
});

Deno.test("tokensMatch is true only for the same token", () => {
  assert.equal(tokensMatch("abc", "abc"), true);
  assert.equal(tokensMatch("abd", "abc"), false);
  assert.equal(tokensMatch("ab", "abc"), false);
  assert.equal(tokensMatch("abcd", "abc"), false);
  assert.equal(tokensMatch("", "abc"), false);
  assert.equal(tokensMatch("ab\u0000", "ab"), false);
  assert.equal(tokensMatch("", ""), false, "no credential matches an empty token");
});

Deno.test("writeTokenFile writes a 0600 file in a 0700 folder and replaces an older one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nested/state/token`;
    await writeTokenFile(path, "first");
    await writeTokenFile(path, "second");
    assert.equal(await Deno.readTextFile(path), "second\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/nested/state`)).mode! & 0o777, 0o700);
    const leftovers = (await Array.fromAsync(Deno.readDir(`${dir}/nested/state`))).map((e) =>
      e.name
    );
    assert.deepEqual(leftovers, ["token"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("isLoopbackHost knows loopback names and addresses, and that wildcards are not", () => {
  for (const host of ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1"]) {
    assert.equal(isLoopbackHost(host), true, host);
  }
  for (
    const host of ["0.0.0.0", "::", "192.168.0.1", "example.com", "128.0.0.1", "localhost.evil"]
  ) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});
