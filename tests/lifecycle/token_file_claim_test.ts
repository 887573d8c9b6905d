import assert from "node:assert/strict";

const CLAIM = new URL("../../src/lifecycle/_token_file_claim.ts", import.meta.url).href;

/** Runs `claimTokenFile(dir)` in a fresh process at wall-clock time `at`; resolves with the path's name. */
async function claimAt(dir: string, at: number): Promise<string> {
  const code = `
    const { claimTokenFile } = await import(${JSON.stringify(CLAIM)});
    while (Date.now() < ${at}) await new Promise((r) => setTimeout(r, 1));
    const claim = await claimTokenFile(${JSON.stringify(dir)});
    console.log(claim.path.split("/").pop());
    await new Promise((r) => setTimeout(r, 300));
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return new TextDecoder().decode(output.stdout).trim();
}

Deno.test("claimTokenFile gives a stale claim to one of two servers starting together, never both", async () => {
  for (let round = 0; round < 4; round++) {
    const dir = await Deno.makeTempDir();
    // The pid of a process that is gone: a claim left by a server that was killed.
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    await Deno.writeTextFile(`${dir}/token.owner`, `${gone.pid}\n`);
    const at = Date.now() + 600;
    const names = await Promise.all([claimAt(dir, at), claimAt(dir, at)]);
    assert.equal(names.filter((name) => name === "token").length, 1, JSON.stringify(names));
    assert.equal(names.filter((name) => /^token-\d+$/.test(name)).length, 1, JSON.stringify(names));
    await Deno.remove(dir, { recursive: true });
  }
});
