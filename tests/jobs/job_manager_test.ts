import assert from "node:assert/strict";
import { JobManager } from "../../src/jobs/job_manager.ts";
import type { JobSessionLog } from "../../src/jobs/job_session_log.ts";
import { JsonRpcError } from "../../src/protocol/json_rpc_error.ts";
import { Peer } from "../../src/protocol/peer.ts";
import {
  FAMILY_SCRIPT,
  FAMILY_SIZE,
  killAll,
  parsePids,
  PeerReader,
  pidsOf,
  STUBBORN_SCRIPT,
  STUBBORN_SIZE,
  survivors,
} from "./_job_support.ts";

function sh(script: string, extra: { stdin?: boolean; session?: string } = {}) {
  return { cmd: "sh", args: ["-c", script], ...extra };
}

async function waitForPids(reader: PeerReader, job: string, count: number): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pids = parsePids(reader.text(job));
    if (pids.length >= count) return pids;
    if (Date.now() > deadline) throw new Error(`Only ${pids.length} pids printed`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function rejectsWith(promise: Promise<unknown>, code: number): Promise<JsonRpcError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof JsonRpcError, `expected JsonRpcError, got ${error}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  throw new assert.AssertionError({ message: `expected an error with code ${code}` });
}

Deno.test("JobManager streams stdout and stderr as job.output deltas, then job.exit after the last output", async () => {
  await using jobs = new JobManager();
  await using reader = new PeerReader(new Peer());
  const job = await jobs.start(
    sh("printf 'one\\n'; printf 'err\\n' >&2; sleep 0.1; printf 'two\\n'"),
    { target: reader.peer },
  );
  assert.match(job.id, /\S/);
  assert.ok(job.pid > 1);
  const exit = await reader.exit(job.id);
  assert.deepEqual(
    { code: exit.params.code, signal: exit.params.signal },
    { code: 0, signal: null },
  );
  assert.equal(typeof exit.params.durationMs, "number");
  const exitIndex = reader.frames.indexOf(exit);
  const outputs = reader.frames.filter((f) => f.method === "job.output");
  assert.ok(outputs.length >= 2);
  for (const frame of outputs) {
    assert.ok(reader.frames.indexOf(frame) < exitIndex, "output after job.exit");
    assert.equal(frame.params.job, job.id);
    assert.equal(frame.params.key, `job:${job.id}:${frame.params.stream}`);
  }
  assert.equal(reader.text(job.id, "stdout"), "one\ntwo\n");
  assert.equal(reader.text(job.id, "stderr"), "err\n");
  const info = jobs.get(job.id).info();
  assert.equal(info.state, "exited");
  assert.equal(info.code, 0);
  assert.equal(info.cmd, "sh");
});

Deno.test("JobManager reports the exit code, or the signal with a null code", async () => {
  await using jobs = new JobManager();
  await using reader = new PeerReader(new Peer());
  const coded = await jobs.start(sh("exit 42"), { target: reader.peer });
  const killed = await jobs.start(sh("kill -USR1 $$; sleep 5"), { target: reader.peer });
  const codedExit = await reader.exit(coded.id);
  const killedExit = await reader.exit(killed.id);
  assert.equal(codedExit.params.code, 42);
  assert.equal(codedExit.params.signal, null);
  assert.equal(killedExit.params.code, null);
  assert.equal(killedExit.params.signal, "SIGUSR1");
  assert.equal(jobs.get(killed.id).info().signal, "SIGUSR1");
});

Deno.test("JobManager sends bytes that are not UTF-8 as base64 and valid text as text", async () => {
  await using jobs = new JobManager();
  await using reader = new PeerReader(new Peer());
  const job = await jobs.start(sh("printf 'ok\\377\\376end'"), { target: reader.peer });
  await reader.exit(job.id);
  const outputs = reader.frames.filter((f) => f.method === "job.output");
  assert.ok(outputs.some((f) => f.params.base64 === btoa("\xff\xfe")), JSON.stringify(outputs));
  assert.ok(outputs.some((f) => typeof f.params.text === "string" && f.params.text.includes("ok")));
  assert.deepEqual([...reader.output(job.id)], [0x6f, 0x6b, 0xff, 0xfe, 0x65, 0x6e, 0x64]);
});

Deno.test("JobManager never splits a multi-byte character written across separate chunks", async () => {
  await using jobs = new JobManager();
  await using reader = new PeerReader(new Peer());
  const job = await jobs.start(
    sh(
      "printf 'a\\360'; sleep 0.15; printf '\\237\\216'; sleep 0.15; printf '\\211b\\303'; sleep 0.15; printf '\\251\\n'",
    ),
    { target: reader.peer },
  );
  await reader.exit(job.id);
  const outputs = reader.frames.filter((f) => f.method === "job.output");
  assert.ok(outputs.length >= 2, `expected several frames, got ${outputs.length}`);
  for (const frame of outputs) {
    assert.equal(
      typeof frame.params.text,
      "string",
      `a frame carried bytes: ${JSON.stringify(frame)}`,
    );
    assert.ok(!frame.params.text.includes("\uFFFD"));
  }
  assert.equal(outputs.map((f) => f.params.text).join(""), "a🎉bé\n");
});

Deno.test("JobManager refuses a job beyond maxJobs with JOB_LIMIT and accepts one again after an exit", async () => {
  await using jobs = new JobManager({ maxJobs: 2 });
  await using reader = new PeerReader(new Peer());
  const first = await jobs.start({ cmd: "sleep", args: ["30"] }, { target: reader.peer });
  await jobs.start({ cmd: "sleep", args: ["30"] }, { target: reader.peer });
  const error = await rejectsWith(
    jobs.start({ cmd: "sleep", args: ["30"] }, { target: reader.peer }),
    -32021,
  );
  assert.match(error.message, /limit is 2/);
  assert.equal(jobs.running, 2);
  await jobs.cancel(first.id);
  const third = await jobs.start({ cmd: "true" }, { target: reader.peer });
  await reader.exit(third.id);
});

Deno.test("JobManager answers JOB_SPAWN_FAILED for a missing command, a non-executable file, a missing folder and a file as folder", async () => {
  await using jobs = new JobManager();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/script.sh`, "echo hi\n", { mode: 0o644 });
    const missing = await rejectsWith(jobs.start({ cmd: "tuigate-no-such-command" }), -32022);
    assert.match(missing.message, /tuigate-no-such-command.*not found/);
    const notExecutable = await rejectsWith(jobs.start({ cmd: `${dir}/script.sh` }), -32022);
    assert.match(notExecutable.message, /permission denied/);
    const noFolder = await rejectsWith(
      jobs.start({ cmd: "echo", cwd: `${dir}/nowhere` }),
      -32022,
    );
    assert.match(noFolder.message, /working folder .* does not exist/);
    const aFile = await rejectsWith(jobs.start({ cmd: "echo", cwd: `${dir}/script.sh` }), -32022);
    assert.match(aFile.message, /working folder .*script\.sh" is a file, not a folder/);
    assert.equal((aFile.data as { reason: string }).reason, "cwd-not-a-folder");
    assert.equal(jobs.list().length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Job.write feeds stdin (text and bytes) and eof closes it", async () => {
  await using jobs = new JobManager();
  await using reader = new PeerReader(new Peer());
  const job = await jobs.start({ cmd: "cat", stdin: true }, { target: reader.peer });
  assert.equal(await job.write(new TextEncoder().encode("hello ")), 6);
  assert.equal(await job.write(new Uint8Array([0xc3, 0xa9, 0x0a]), true), 3);
  const exit = await reader.exit(job.id);
  assert.equal(exit.params.code, 0);
  assert.equal(reader.text(job.id), "hello é\n");
});

Deno.test("Job.write is refused with JOB_STDIN_CLOSED without stdin: true and after eof", async () => {
  await using jobs = new JobManager();
  await using reader = new PeerReader(new Peer());
  const closed = await jobs.start({ cmd: "sleep", args: ["30"] }, { target: reader.peer });
  const error = await rejectsWith(closed.write(new Uint8Array([0x61])), -32024);
  assert.match(error.message, /without stdin: true/);
  const open = await jobs.start({ cmd: "cat", stdin: true }, { target: reader.peer });
  await open.write(new Uint8Array(0), true);
  await rejectsWith(open.write(new Uint8Array([0x61])), -32024);
  await reader.exit(open.id);
  await rejectsWith(open.write(new Uint8Array([0x61])), -32023);
});

Deno.test("Job.signal delivers a signal that the job handles", async () => {
  await using jobs = new JobManager();
  await using reader = new PeerReader(new Peer());
  const job = await jobs.start(
    sh(`trap 'echo got-usr1; exit 7' USR1; echo ready; while :; do sleep 0.05; done`),
    { target: reader.peer },
  );
  await waitForText(reader, job.id, "ready");
  job.signal("SIGUSR1");
  const exit = await reader.exit(job.id);
  assert.equal(exit.params.code, 7);
  assert.match(reader.text(job.id), /got-usr1/);
  await rejectsWith(Promise.resolve().then(() => job.signal("SIGUSR1")), -32023);
});

async function waitForText(reader: PeerReader, job: string, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!reader.text(job).includes(text)) {
    if (Date.now() > deadline) throw new Error(`No ${text} in ${reader.text(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("Job.cancel terminates the whole group and kills a job that ignores SIGTERM after the grace", async () => {
  await using jobs = new JobManager();
  await using reader = new PeerReader(new Peer());
  const family = await jobs.start(sh(FAMILY_SCRIPT), { target: reader.peer });
  const stubborn = await jobs.start(sh(STUBBORN_SCRIPT), { target: reader.peer });
  const pids = [
    ...await waitForPids(reader, family.id, FAMILY_SIZE),
    ...await waitForPids(reader, stubborn.id, STUBBORN_SIZE),
  ];
  try {
    const familyInfo = await jobs.cancel(family.id, 5000);
    assert.equal(familyInfo.state, "exited");
    assert.equal(familyInfo.signal, "SIGTERM");
    const since = performance.now();
    const stubbornInfo = await jobs.cancel(stubborn.id, 300);
    const took = performance.now() - since;
    assert.equal(stubbornInfo.signal, "SIGKILL");
    assert.ok(took >= 250, `SIGKILL came after ${took} ms, before the grace`);
    assert.deepEqual(await survivors(pids), []);
    const exits = reader.frames.filter((f) => f.method === "job.exit");
    assert.equal(exits.length, 2);
  } finally {
    killAll(pids);
  }
});

Deno.test("JobManager terminates what a job left running in its group once the job exits", async () => {
  await using jobs = new JobManager({ killGraceMs: 300 });
  await using reader = new PeerReader(new Peer());
  const job = await jobs.start(
    sh(`sleep 300 & echo "pid $!"; (trap '' TERM; exec sleep 300) & echo "pid $!"`),
    { target: reader.peer },
  );
  const exit = await reader.exit(job.id);
  const pids = parsePids(reader.text(job.id));
  try {
    assert.equal(pids.length, 2);
    assert.equal(exit.params.code, 0);
    assert.deepEqual(await survivors(pids), []);
  } finally {
    killAll(pids);
  }
});

Deno.test("JobManager.shutdown ends every job, grandchildren and SIGTERM-ignoring processes included", async () => {
  const jobs = new JobManager();
  await using reader = new PeerReader(new Peer());
  const family = await jobs.start(sh(FAMILY_SCRIPT), { target: reader.peer });
  const stubborn = await jobs.start(sh(STUBBORN_SCRIPT), { target: reader.peer });
  const pids = [
    ...await waitForPids(reader, family.id, FAMILY_SIZE),
    ...await waitForPids(reader, stubborn.id, STUBBORN_SIZE),
  ];
  try {
    const since = performance.now();
    await jobs.shutdown(300, 200);
    assert.ok(performance.now() - since < 2000);
    assert.deepEqual(await survivors(pids), []);
    const refused = await rejectsWith(jobs.start({ cmd: "true" }), -32002);
    assert.equal(refused.message, 'Cannot start "true": the gateway is shutting down');
    assert.equal((refused.data as { reason: string }).reason, "shutting-down");
  } finally {
    killAll(pids);
  }
});

Deno.test("JobManager cancels a job without a session when its client goes away", async () => {
  await using jobs = new JobManager();
  const reader = new PeerReader(new Peer());
  const job = await jobs.start(sh(FAMILY_SCRIPT), { target: reader.peer });
  const pids = await waitForPids(reader, job.id, FAMILY_SIZE);
  try {
    await reader[Symbol.asyncDispose]();
    const info = await job.ended;
    assert.equal(info.state, "exited");
    assert.deepEqual(await survivors(pids), []);
  } finally {
    killAll(pids);
  }
});

Deno.test("JobManager cancels a job when the signal given to start is aborted", async () => {
  await using jobs = new JobManager({ killGraceMs: 300 });
  await using reader = new PeerReader(new Peer());
  const controller = new AbortController();
  const job = await jobs.start(sh(STUBBORN_SCRIPT), {
    target: reader.peer,
    signal: controller.signal,
  });
  const pids = await waitForPids(reader, job.id, STUBBORN_SIZE);
  try {
    controller.abort();
    const info = await job.ended;
    assert.equal(info.signal, "SIGKILL");
    assert.deepEqual(await survivors(pids), []);
    await assert.rejects(
      jobs.start({ cmd: "true" }, { signal: controller.signal }),
      (error: Error) => error.name === "AbortError",
    );
    assert.equal(jobs.list().length, 1);
  } finally {
    killAll(pids);
  }
});

/** A session log kept in memory, refusing unknown sessions as the real store does. */
class MemorySessionLog implements JobSessionLog {
  readonly events: {
    session: string;
    type: string;
    data: Record<string, unknown>;
    deltaKey?: string;
  }[] = [];
  readonly sessions = new Set<string>(["s1"]);

  async append(
    session: string,
    type: string,
    data: Record<string, unknown>,
    options?: { deltaKey?: string },
  ): Promise<unknown> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (!this.sessions.has(session)) throw JsonRpcError.from("SESSION_NOT_FOUND", { session });
    this.events.push({ session, type, data, deltaKey: options?.deltaKey });
    return { seq: this.events.length };
  }
}

Deno.test("A job with a session appends its start, output and exit to the session log, in order", async () => {
  const log = new MemorySessionLog();
  await using jobs = new JobManager({ sessionLog: log });
  await using reader = new PeerReader(new Peer());
  const job = await jobs.start(
    sh("printf 'a\\n'; printf 'x\\377' >&2; sleep 0.05; printf 'b\\n'; exit 3", { session: "s1" }),
    { target: reader.peer },
  );
  await reader.exit(job.id);
  // The exit is appended after the last output; wait for it to be stored.
  const deadline = Date.now() + 5000;
  while (log.events.at(-1)?.type !== "job.exit" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const types = log.events.map((e) => e.type);
  assert.equal(types[0], "job.start");
  assert.equal(types.at(-1), "job.exit");
  assert.ok(types.slice(1, -1).every((t) => t === "job.output"));
  assert.ok(log.events.every((e) => e.session === "s1" && e.data.job === job.id));
  assert.equal(log.events[0].data.pid, job.pid);
  assert.deepEqual(log.events.at(-1)!.data, {
    job: job.id,
    code: 3,
    signal: null,
    durationMs: log.events.at(-1)!.data.durationMs,
  });
  const outputs = log.events.filter((e) => e.type === "job.output");
  for (const event of outputs) {
    assert.equal(event.deltaKey, `job:${job.id}:${event.data.stream}`);
  }
  const stdout = outputs.filter((e) => e.data.stream === "stdout").map((e) => e.data.text).join("");
  assert.equal(stdout, "a\nb\n");
  const stderr = outputs.filter((e) => e.data.stream === "stderr");
  assert.deepEqual(stderr.map((e) => e.data.text ?? e.data.base64), ["x", btoa("\xff")]);
});

/** A session log that stores job.start at once and holds every later event until released. */
class GatedSessionLog implements JobSessionLog {
  readonly stored: { type: string; data: Record<string, unknown> }[] = [];
  #open = false;
  #held: (() => void)[] = [];

  async append(_session: string, type: string, data: Record<string, unknown>): Promise<unknown> {
    if (!this.#open && type !== "job.start") {
      await new Promise<void>((resolve) => this.#held.push(resolve));
    }
    this.stored.push({ type, data });
    return { seq: this.stored.length };
  }

  release(): void {
    this.#open = true;
    for (const resolve of this.#held.splice(0)) resolve();
  }
}

Deno.test("A job with a session sends its output and job.exit only once they are stored", async () => {
  const log = new GatedSessionLog();
  await using jobs = new JobManager({ sessionLog: log });
  await using reader = new PeerReader(new Peer());
  const job = await jobs.start(sh("printf 'a\\n'; sleep 0.05; printf 'b\\n'", { session: "s1" }), {
    target: reader.peer,
  });
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.deepEqual(
    reader.frames.filter((f) => f.params?.job === job.id).map((f) => f.method),
    [],
    "nothing is sent while the store holds it",
  );
  log.release();
  await reader.exit(job.id);
  assert.equal(reader.text(job.id), "a\nb\n");
  const sent = reader.frames.filter((f) => f.params?.job === job.id).map((f) => f.method);
  assert.equal(sent.at(-1), "job.exit", "the exit comes after the last output");
  assert.deepEqual(log.stored.map((e) => e.type).slice(-1), ["job.exit"]);
  const stored = log.stored.filter((e) => e.type === "job.output").map((e) => e.data.text).join("");
  assert.equal(stored, "a\nb\n");
});

Deno.test("job.start with an unknown session fails with the log's error and leaves no process", async () => {
  const log = new MemorySessionLog();
  await using jobs = new JobManager({ sessionLog: log });
  await rejectsWith(jobs.start({ cmd: "sleep", args: ["317.25"], session: "nope" }), -32010);
  assert.equal(jobs.list().length, 0);
  assert.equal(jobs.running, 0);
  assert.deepEqual(await survivors(await pidsOf(["sleep", "317.25"])), []);
});

Deno.test("JobManager without a session log refuses session with METHOD_DISABLED", async () => {
  await using jobs = new JobManager();
  const error = await rejectsWith(jobs.start({ cmd: "true", session: "s1" }), -32003);
  assert.equal(
    error.message,
    'Cannot start "true" in session s1: sessions are not available on this gateway',
  );
  assert.equal(jobs.list().length, 0);
});
