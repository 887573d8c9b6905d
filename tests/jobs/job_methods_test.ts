import assert from "node:assert/strict";
import { JobManager } from "../../src/jobs/job_manager.ts";
import { jobMethods, JOBS_CAPABILITY, registerJobMethods } from "../../src/jobs/job_methods.ts";
import { Gateway } from "../../src/lifecycle/gateway.ts";
import { Peer } from "../../src/protocol/peer.ts";
import { PeerReader } from "./_job_support.ts";

const JOB_METHODS = ["job.start", "job.write", "job.signal", "job.cancel", "job.get", "job.list"];

Deno.test('Every job method declares requires: "jobs"', () => {
  const methods = jobMethods(new JobManager());
  assert.deepEqual(methods.map((m) => m.name).sort(), [...JOB_METHODS].sort());
  for (const method of methods) assert.equal(method.requires, JOBS_CAPABILITY);
});

Deno.test("Job methods answer -32003 on a peer not granted jobs, and run on one that is", async () => {
  await using jobs = new JobManager();
  const gateway = new Gateway();
  registerJobMethods(gateway, jobs);
  await using refused = new PeerReader(new Peer({ transport: "websocket", grants: [] }));
  await using granted = new PeerReader(new Peer({ transport: "stdio", grants: ["jobs"] }));
  gateway.open(refused.peer);
  gateway.open(granted.peer);
  const ready = await refused.wait((f) => f.method === "gateway.ready");
  assert.equal(ready.params.capabilities.jobs, false);
  const grantedReady = await granted.wait((f) => f.method === "gateway.ready");
  assert.equal(grantedReady.params.capabilities.jobs, true);
  for (const [index, method] of JOB_METHODS.entries()) {
    gateway.dispatcher.handleText(
      JSON.stringify({ jsonrpc: "2.0", id: index, method, params: { cmd: "true", job: "x" } }),
      refused.peer,
    );
    const response = await refused.wait((f) => f.id === index);
    assert.equal(response.error?.code, -32003, `${method}: ${JSON.stringify(response)}`);
  }
  assert.equal(jobs.list().length, 0);
  gateway.dispatcher.handleText(
    JSON.stringify({ jsonrpc: "2.0", id: 1, method: "job.start", params: { cmd: "true" } }),
    granted.peer,
  );
  const started = await granted.wait((f) => f.id === 1);
  assert.equal(typeof started.result.job, "string");
  const exit = await granted.wait((f) => f.method === "job.exit");
  assert.equal(exit.params.job, started.result.job);
  assert.equal(refused.frames.filter((f) => f.method === "job.exit").length, 0);
});

Deno.test("Job methods answer -32602 for params that do not match their schema", async () => {
  await using jobs = new JobManager();
  const gateway = new Gateway();
  registerJobMethods(gateway, jobs);
  await using reader = new PeerReader(new Peer({ grants: ["jobs"] }));
  gateway.open(reader.peer);
  const bad = [
    ["job.start", {}],
    ["job.start", { cmd: "echo", args: "not-an-array" }],
    ["job.write", { job: "x", data: "a", base64: "YQ==" }],
    ["job.cancel", { job: "x", graceMs: -1 }],
  ] as const;
  for (const [index, [method, params]] of bad.entries()) {
    gateway.dispatcher.handleText(
      JSON.stringify({ jsonrpc: "2.0", id: index, method, params }),
      reader.peer,
    );
    const response = await reader.wait((f) => f.id === index);
    assert.equal(response.error?.code, -32602, `${method} ${JSON.stringify(params)}`);
  }
});
