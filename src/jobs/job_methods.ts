/**
 * The `job.*` methods: start, write, signal, cancel, get and list.
 *
 * @module
 */

import * as z from "zod";
import { JsonRpcError } from "../protocol/json_rpc_error.ts";
import { defineMethod, type MethodDefinition } from "../protocol/method.ts";
import { JobState } from "./job.ts";
import type { JobManager } from "./job_manager.ts";
import { JOB_SIGNALS, parseSignal } from "./_signals.ts";

/**
 * What {@linkcode registerJobMethods} needs from a gateway.
 *
 * @example
 * ```ts
 * import type { MethodDefinition } from "@tuigate/tuigate";
 * import { JobManager, type JobMethodHost, registerJobMethods } from "@tuigate/tuigate/jobs";
 * const methods: MethodDefinition[] = [];
 * const host: JobMethodHost = { register: (method) => methods.push(method as MethodDefinition) };
 * registerJobMethods(host, new JobManager());
 * ```
 */
export interface JobMethodHost {
  /** Registers a method. */
  register<P, R>(method: MethodDefinition<P, R>): unknown;
  /** Announces a capability in `gateway.ready`. */
  setCapability?(name: string, value: unknown): void;
  /** Adds a section to `gateway.info`. */
  addInfo?(name: string, provider: () => unknown): void;
}

/**
 * The capability a transport must grant for `job.*` methods.
 *
 * @example
 * ```ts
 * import { Gateway, StdioTransport } from "@tuigate/tuigate";
 * import { JOBS_CAPABILITY } from "@tuigate/tuigate/jobs";
 * new StdioTransport(new Gateway(), { grants: [JOBS_CAPABILITY] });
 * ```
 */
export const JOBS_CAPABILITY = "jobs";

const jobId = z.string().min(1).describe("A job id returned by job.start");
const jobInfo = z.object({
  job: z.string(),
  state: z.enum([JobState.Running, JobState.Exited]),
  pid: z.number().int(),
  cmd: z.string(),
  args: z.array(z.string()),
  cwd: z.string(),
  session: z.string().nullable(),
  stdin: z.boolean(),
  startedAt: z.number().describe("ms since the Unix epoch"),
  exitedAt: z.number().nullable(),
  code: z.number().int().nullable().describe("null while running or when a signal ended the job"),
  signal: z.string().nullable(),
  durationMs: z.number().nullable(),
});

const startParams = z.object({
  cmd: z.string().min(1).describe("The program: a name looked up in PATH, or a path"),
  args: z.array(z.string()).optional(),
  cwd: z.string().min(1).optional(),
  env: z.record(z.string(), z.string()).optional().describe(
    "Added to the gateway's environment",
  ),
  session: z.string().min(1).optional().describe("Also append every job event to this session"),
  stdin: z.boolean().optional().describe("Open stdin for job.write (default: closed)"),
});

const writeParams = z.object({
  job: jobId,
  data: z.string().optional().describe("Text, written as UTF-8"),
  base64: z.string().optional().describe("Bytes, as base64"),
  eof: z.boolean().optional().describe("Close stdin after writing"),
}).refine((p) => p.data === undefined || p.base64 === undefined, {
  message: "Give data or base64, not both",
});

/**
 * The `job.*` method definitions over a manager. Each requires the `"jobs"`
 * capability: the stdio peer has it, WebSocket peers only with `--allow-jobs`.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { jobMethods, JobManager } from "@tuigate/tuigate/jobs";
 * const gateway = new Gateway();
 * for (const method of jobMethods(new JobManager())) gateway.register(method);
 * ```
 */
export function jobMethods(jobs: JobManager): MethodDefinition<never, unknown>[] {
  const methods = [
    defineMethod({
      name: "job.start",
      summary:
        "`{cmd, args?, cwd?, env?, session?, stdin?}` → `{job, pid}` at once; the command runs in its own process group, its output streams as `job.output` deltas, then `job.exit`",
      requires: JOBS_CAPABILITY,
      params: startParams,
      result: z.object({ job: z.string(), pid: z.number().int() }),
      handler: async (params, context) => {
        // Output and exit go to the peer that started the job (captured here, not ambient).
        const job = await jobs.start(params, { target: context.peer });
        return { job: job.id, pid: job.pid };
      },
    }),
    defineMethod({
      name: "job.write",
      summary:
        "`{job, data? | base64?, eof?}`: writes to the stdin of a job started with `stdin: true`; `eof` closes it",
      requires: JOBS_CAPABILITY,
      params: writeParams,
      result: z.object({ written: z.number().int() }),
      handler: async (params) => {
        const job = jobs.get(params.job);
        const bytes = params.base64 !== undefined
          ? fromBase64(params.base64)
          : new TextEncoder().encode(params.data ?? "");
        return { written: await job.write(bytes, params.eof ?? false) };
      },
    }),
    defineMethod({
      name: "job.signal",
      summary:
        "`{job, signal, group? = true}`: signals the job's process group (or only the command with `group: false`)",
      requires: JOBS_CAPABILITY,
      params: z.object({
        job: jobId,
        signal: z.string().min(1).describe(`One of ${JOB_SIGNALS.join(", ")}`),
        group: z.boolean().optional().describe("Signal the whole process group (default true)"),
      }),
      result: z.object({ job: z.string(), signal: z.string() }),
      handler: (params) => {
        const signal = parseSignal(params.signal);
        if (signal === undefined) {
          throw JsonRpcError.from(
            "INVALID_PARAMS",
            { signal: params.signal, allowed: JOB_SIGNALS },
            `Invalid params: unknown signal ${JSON.stringify(params.signal)}`,
          );
        }
        jobs.get(params.job).signal(signal, params.group ?? true);
        return { job: params.job, signal };
      },
    }),
    defineMethod({
      name: "job.cancel",
      summary:
        "`{job, graceMs?}`: SIGTERM to the whole process group, SIGKILL after a grace; answers once it ended",
      requires: JOBS_CAPABILITY,
      params: z.object({
        job: jobId,
        graceMs: z.number().int().nonnegative().optional().describe(
          "Milliseconds before SIGKILL (default: the gateway's grace)",
        ),
      }),
      result: jobInfo,
      handler: (params) => jobs.cancel(params.job, params.graceMs),
    }),
    defineMethod({
      name: "job.get",
      summary: "`{job}`: the state of one job",
      requires: JOBS_CAPABILITY,
      params: z.object({ job: jobId }),
      result: jobInfo,
      handler: (params) => jobs.get(params.job).info(),
    }),
    defineMethod({
      name: "job.list",
      summary: "Running and recently exited jobs, oldest first",
      requires: JOBS_CAPABILITY,
      params: z.object({
        state: z.enum([JobState.Running, JobState.Exited]).optional(),
        session: z.string().optional(),
      }),
      result: z.object({ jobs: z.array(jobInfo) }),
      handler: (params) => ({ jobs: jobs.list(params) }),
    }),
  ];
  return methods as unknown as MethodDefinition<never, unknown>[];
}

/**
 * Registers the `job.*` methods on a gateway, announces the `jobs`
 * capability (`false` without `--allow-run`) and adds a `jobs` section to
 * `gateway.info`.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { JobManager, registerJobMethods } from "@tuigate/tuigate/jobs";
 * const gateway = new Gateway();
 * registerJobMethods(gateway, new JobManager({ maxJobs: 8 }));
 * ```
 */
export function registerJobMethods(host: JobMethodHost, jobs: JobManager): void {
  for (const method of jobMethods(jobs)) host.register(method);
  // Without --allow-run every job.start would fail (`not-allowed`): a client hears so at once.
  host.setCapability?.(JOBS_CAPABILITY, mayRun());
  host.addInfo?.("jobs", () => jobs.stats());
}

/** Whether this process may run commands (it was given `--allow-run`). */
function mayRun(): boolean {
  try {
    return Deno.permissions.querySync({ name: "run" }).state === "granted";
  } catch {
    return true; // Cannot tell: job.start says so if not.
  }
}

function fromBase64(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw JsonRpcError.from(
      "INVALID_PARAMS",
      { field: "base64" },
      "Invalid params: base64 is not valid base64",
    );
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
