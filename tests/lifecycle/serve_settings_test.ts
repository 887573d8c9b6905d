import assert from "node:assert/strict";
import { parseSettings, UsageError } from "../../src/lifecycle/settings.ts";

Deno.test("parseSettings gives serve-mode defaults: loopback, 20 s heartbeat, 10 s send deadline", () => {
  const { settings } = parseSettings(["serve"], { env: { HOME: "/home/u" } });
  assert.deepEqual(settings.listen, { hostname: "127.0.0.1", port: 0 });
  assert.equal(settings.heartbeatSeconds, 20);
  assert.equal(settings.sendDeadlineSeconds, 10);
  assert.deepEqual(settings.allowHosts, []);
  assert.equal(settings.exitWithParent, false);
  assert.equal(settings.allowJobs, false);
  // Decided when serving: STATE_DIR/token, or STATE_DIR/token-PID while another server holds it.
  assert.equal(settings.tokenFile, undefined);
});

Deno.test("parseSettings reads the serve flags and their environment variables", () => {
  const { settings } = parseSettings([
    "serve",
    "--heartbeat",
    "0.5",
    "--send-deadline",
    "2",
    "--allow-host",
    "box.local",
    "--allow-host",
    "box",
    "--exit-with-parent",
    "--allow-jobs",
  ], { env: {} });
  assert.equal(settings.heartbeatSeconds, 0.5);
  assert.equal(settings.sendDeadlineSeconds, 2);
  assert.deepEqual(settings.allowHosts, ["box.local", "box"]);
  assert.equal(settings.exitWithParent, true);
  assert.equal(settings.allowJobs, true);
  const fromEnv = parseSettings(["serve"], {
    env: { TUIGATE_HEARTBEAT_S: "0", TUIGATE_SEND_DEADLINE_S: "30", TUIGATE_TOKEN: "t" },
  }).settings;
  assert.equal(fromEnv.heartbeatSeconds, 0);
  assert.equal(fromEnv.sendDeadlineSeconds, 30);
  assert.equal(fromEnv.token, "t");
  assert.throws(() => parseSettings(["serve", "--heartbeat", "soon"], { env: {} }), UsageError);
});

Deno.test("parseSettings refuses a non-loopback serve address unless --allow-remote is given", () => {
  for (const listen of ["0.0.0.0:0", "[::]:8080", "192.168.1.2:9000", "example.com:80"]) {
    assert.throws(
      () => parseSettings(["serve", "--listen", listen], { env: {} }),
      (e) => e instanceof UsageError && /--allow-remote/.test(e.message),
      listen,
    );
    const { settings } = parseSettings(["serve", "--listen", listen, "--allow-remote"], {
      env: {},
    });
    assert.equal(settings.allowRemote, true);
  }
  assert.throws(
    () => parseSettings(["serve"], { env: { TUIGATE_LISTEN: "0.0.0.0:1" } }),
    UsageError,
  );
  for (const listen of ["127.0.0.1:0", "localhost:8080", "[::1]:0", "127.0.0.2:1"]) {
    assert.equal(
      parseSettings(["serve", "--listen", listen], { env: {} }).settings.allowRemote,
      false,
    );
  }
  // stdio mode does not listen, so --listen is not checked there.
  assert.equal(parseSettings(["--listen", "0.0.0.0:0"], { env: {} }).settings.mode, "stdio");
});

Deno.test("parseSettings takes --listen :PORT and PORT for the default host 127.0.0.1, and rejects other shapes", () => {
  for (const [listen, port] of [[":0", 0], ["8080", 8080], [" :9000 ", 9000]] as const) {
    assert.deepEqual(
      parseSettings(["serve", "--listen", listen], { env: {} }).settings.listen,
      { hostname: "127.0.0.1", port },
    );
  }
  for (const listen of ["host:", "host:port", "::1:80", "a:b:1"]) {
    assert.throws(
      () => parseSettings(["serve", "--listen", listen], { env: {} }),
      (error: unknown) => error instanceof UsageError && /--listen/.test(error.message),
      listen,
    );
  }
});

Deno.test("parseSettings treats empty path and address values as unset", () => {
  const { settings } = parseSettings(
    ["serve", "--listen", "", "--token-file", "", "--ready-file", "", "--log-file", ""],
    { env: { HOME: "/home/u", TUIGATE_STATE_DIR: "", TUIGATE_CRASH_LOG: "" } },
  );
  assert.deepEqual(settings.listen, { hostname: "127.0.0.1", port: 0 });
  assert.equal(settings.tokenFile, undefined);
  assert.equal(settings.readyFile, undefined);
  assert.equal(settings.logFile, undefined);
  assert.equal(settings.stateDir, "/home/u/.local/state/tuigate");
  assert.equal(settings.crashLog, "/home/u/.local/state/tuigate/exits.jsonl");
});

Deno.test("parseSettings refuses a token a client could not present in a header and a subprotocol", () => {
  for (const token of ["a b", "tok/en", "x=", "é"]) {
    assert.throws(
      () => parseSettings(["serve", "--token", token], { env: { HOME: "/home/u" } }),
      (error: Error) =>
        error instanceof UsageError &&
        /Invalid value for --token: a bearer token/.test(error.message),
    );
    assert.throws(
      () => parseSettings(["serve"], { env: { HOME: "/home/u", TUIGATE_TOKEN: token } }),
      (error: Error) => error instanceof UsageError && /TUIGATE_TOKEN/.test(error.message),
    );
  }
  const { settings } = parseSettings(["serve", "--token", "Ab9-._~+"], {
    env: { HOME: "/home/u" },
  });
  assert.equal(settings.token, "Ab9-._~+");
});
