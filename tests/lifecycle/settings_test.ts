import assert from "node:assert/strict";
import { parseSettings, UsageError } from "../../src/lifecycle/settings.ts";

Deno.test("parseSettings gives documented defaults and the XDG state folder", () => {
  const { settings, warnings } = parseSettings([], {
    env: { XDG_STATE_HOME: "/xdg", HOME: "/home/u" },
  });
  assert.equal(settings.mode, "stdio");
  assert.equal(settings.graceSeconds, 1);
  assert.equal(settings.maxFrameBytes, 16 * 1024 * 1024);
  assert.equal(settings.outBufferBytes, 8 * 1024 * 1024);
  assert.equal(settings.stallTimeoutSeconds, 10);
  assert.equal(settings.maxInflight, 64);
  assert.equal(settings.maxQueued, 1024);
  assert.equal(settings.stateDir, "/xdg/tuigate");
  assert.equal(settings.crashLog, "/xdg/tuigate/exits.jsonl");
  assert.equal(settings.exitOnSigint, false);
  assert.deepEqual(warnings, []);
});

Deno.test("parseSettings falls back to ~/.local/state/tuigate without XDG_STATE_HOME", () => {
  const { settings } = parseSettings([], { env: { HOME: "/home/u" } });
  assert.equal(settings.stateDir, "/home/u/.local/state/tuigate");
});

Deno.test("parseSettings reads flags over environment variables", () => {
  const { settings } = parseSettings(["--grace", "2.5", "--crash-log", "/tmp/l.jsonl"], {
    env: { TUIGATE_SHUTDOWN_GRACE_S: "9", TUIGATE_CRASH_LOG: "/env.jsonl", HOME: "/h" },
  });
  assert.equal(settings.graceSeconds, 2.5);
  assert.equal(settings.crashLog, "/tmp/l.jsonl");
  const fromEnv = parseSettings([], {
    env: { TUIGATE_SHUTDOWN_GRACE_S: "3", TUIGATE_CRASH_LOG: "/env.jsonl", HOME: "/h" },
  });
  assert.equal(fromEnv.settings.graceSeconds, 3);
  assert.equal(fromEnv.settings.crashLog, "/env.jsonl");
});

Deno.test("parseSettings warns and uses the default for an invalid grace period", () => {
  for (const bad of ["soon", "-1", "", "NaN", "0x1", "1e1", "Infinity"]) {
    const { settings, warnings } = parseSettings([], {
      env: { TUIGATE_SHUTDOWN_GRACE_S: bad, HOME: "/h" },
    });
    assert.equal(settings.graceSeconds, 1, bad);
    assert.equal(warnings.length, 1, bad);
    assert.match(warnings[0], /grace/);
  }
  for (const good of ["0", "0.5", ".5", "2.", " 3 "]) {
    const { settings, warnings } = parseSettings(["--grace", good], { env: { HOME: "/h" } });
    assert.equal(settings.graceSeconds, Number(good), good);
    assert.deepEqual(warnings, [], good);
  }
});

Deno.test("parseSettings throws a UsageError naming the flag for bad values and unknown flags", () => {
  assert.throws(
    () => parseSettings(["--max-inflight", "many"], { env: {} }),
    (e) => e instanceof UsageError && /--max-inflight/.test(e.message),
  );
  assert.throws(
    () => parseSettings(["--framing", "xml"], { env: {} }),
    (e) => e instanceof UsageError && /--framing/.test(e.message),
  );
  assert.throws(
    () => parseSettings(["--stdio-io", "threads"], { env: {} }),
    (e) => e instanceof UsageError && /--stdio-io.*"threads"/.test(e.message),
  );
  assert.throws(
    () => parseSettings([], { env: { TUIGATE_STDIO_IO: "fast" } }),
    (e) => e instanceof UsageError && /TUIGATE_STDIO_IO.*"fast"/.test(e.message),
  );
  assert.throws(
    () => parseSettings(["--log-file-keep", "1001"], { env: {} }),
    (e) =>
      e instanceof UsageError &&
      e.message === "Invalid value for --log-file-keep: 1001 is above 1000",
  );
  assert.equal(parseSettings(["--log-file-keep", "1000"], { env: {} }).settings.logFileKeep, 1000);
  assert.equal(parseSettings([], { env: {} }).settings.stdioIo, "auto");
  assert.equal(parseSettings([], { env: { TUIGATE_STDIO_IO: "deno" } }).settings.stdioIo, "deno");
  assert.throws(
    () => parseSettings(["--bogus"], { env: {} }),
    (e) => e instanceof UsageError && /bogus/.test(e.message),
  );
  assert.throws(
    () => parseSettings(["launch"], { env: {} }),
    (e) => e instanceof UsageError && /launch/.test(e.message),
  );
  assert.throws(() => parseSettings(["--listen", "nohost"], { env: {} }), UsageError);
});

Deno.test("parseSettings accepts the serve command and IPv6 listen addresses", () => {
  const { settings } = parseSettings(["serve", "--listen", "[::1]:8080"], { env: {} });
  assert.equal(settings.mode, "serve");
  assert.deepEqual(settings.listen, { hostname: "::1", port: 8080 });
});

Deno.test("parseSettings reads a flag value that starts with a dash as the value", () => {
  const { settings, warnings } = parseSettings(["--grace", "-1"], { env: {} });
  assert.equal(settings.graceSeconds, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /grace/);
  assert.throws(() => parseSettings(["--max-jobs", "-3"], { env: {} }), UsageError);
});

Deno.test("parseSettings names the environment variable when a bad value came from it", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ TUIGATE_MAX_INFLIGHT: "abc" }, /^Invalid value for TUIGATE_MAX_INFLIGHT: "abc"/],
    [{ TUIGATE_HEARTBEAT_S: "soon" }, /^Invalid value for TUIGATE_HEARTBEAT_S: "soon"/],
    [{ TUIGATE_LOG_LEVEL: "loud" }, /^Invalid value for TUIGATE_LOG_LEVEL: "loud"/],
    [{ TUIGATE_FRAMING: "xml" }, /^Invalid value for TUIGATE_FRAMING: "xml"/],
    [{ TUIGATE_MIRROR_URL: "ws://[" }, /^Invalid value for TUIGATE_MIRROR_URL: "ws:\/\/\["/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => parseSettings([], { env }), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, message);
      return true;
    });
  }
  // The flag, when given, is what is named.
  assert.throws(
    () => parseSettings(["--max-inflight", "x"], { env: { TUIGATE_MAX_INFLIGHT: "abc" } }),
    /Invalid value for --max-inflight: "x"/,
  );
});

Deno.test("parseSettings refuses seconds a timer cannot wait, and seconds not in decimal", () => {
  for (
    const args of [["--stall-timeout", "3000000"], ["--heartbeat", "0x10"], [
      "--send-deadline",
      "1e9",
    ]]
  ) {
    assert.throws(() => parseSettings(args, { env: {} }), UsageError, args.join(" "));
  }
  const { settings } = parseSettings(["--stall-timeout", "2147483", "--heartbeat", "0.5"], {
    env: {},
  });
  assert.equal(settings.stallTimeoutSeconds, 2147483);
  assert.equal(settings.heartbeatSeconds, 0.5);
});

Deno.test("parseSettings refuses a mirror URL that does not parse, and takes empty enum variables as unset", () => {
  for (const url of ["ws://[", "ws://a b", "ws://h:99999/x"]) {
    assert.throws(() => parseSettings(["--mirror", url], { env: {} }), UsageError, url);
  }
  const { settings } = parseSettings([], {
    env: { TUIGATE_FRAMING: "", TUIGATE_LOG_LEVEL: "", TUIGATE_STATE: "", TUIGATE_STDIO_IO: "" },
  });
  assert.equal(settings.framing, "line");
  assert.equal(settings.logLevel, "info");
  assert.equal(settings.state, "sqlite");
  assert.equal(settings.stdioIo, "auto");
});
