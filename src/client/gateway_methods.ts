/**
 * Types of the wire protocol as the client sees it: the params and results
 * of the gateway's methods and the params of its notifications. They type
 * {@linkcode TuigateClient.call} and {@linkcode TuigateClient.on}; a custom
 * gateway's methods are added by extending the maps.
 *
 * @example Typing a custom gateway's methods
 * ```ts
 * import { type GatewayMethods, TuigateClient } from "@tuigate/tuigate/client";
 * interface MyMethods extends GatewayMethods {
 *   "math.add": { params: { a: number; b: number }; result: number };
 * }
 * const client = new TuigateClient<MyMethods>({ command: "./my-backend" });
 * await client.start();
 * const sum: number = await client.call("math.add", { a: 1, b: 2 });
 * ```
 *
 * @module
 */

import type { JobInfo } from "../jobs/job.ts";

/**
 * One method: its params and its result.
 *
 * @example
 * ```ts
 * import type { GatewayMethods, MethodSpec } from "@tuigate/tuigate/client";
 * interface MathAdd extends MethodSpec {
 *   params: { a: number; b: number };
 *   result: number;
 * }
 * interface MyMethods extends GatewayMethods {
 *   "math.add": MathAdd;
 * }
 * ```
 */
export interface MethodSpec {
  /** The params; `undefined` in the type when they may be omitted. */
  params: unknown;
  /** The result. */
  result: unknown;
}

/**
 * The params of `gateway.ready`, the first frame of every gateway.
 *
 * @example
 * ```ts
 * import { type ReadyParams, TuigateClient } from "@tuigate/tuigate/client";
 * const client = new TuigateClient({ command: "tuigate" });
 * const ready: ReadyParams = await client.start();
 * const hasJobs = ready.capabilities.jobs !== undefined;
 * ```
 */
export interface ReadyParams {
  /** The gateway's name. */
  name: string;
  /** The gateway's version. */
  version: string;
  /** The gateway's pid. */
  pid: number;
  /** The wire protocol version. */
  protocol: number;
  /** A fresh random id per gateway process. */
  epoch: string;
  /** This peer's id. */
  peer: string;
  /** `"stdio"` or `"websocket"`. */
  transport: string;
  /** What the gateway supports (`batch`, `cancel`, `serverRequests`, `deltas`, `jobs`, ...). */
  capabilities: Record<string, unknown>;
}

/** The state of one job, as `job.get` and `job.list` report it (the type the jobs module defines). */
export type { JobInfo };

/**
 * The params of `job.output`, a delta notification of job output.
 *
 * @example
 * ```ts
 * import { type JobOutputParams, TuigateClient } from "@tuigate/tuigate/client";
 * await using client = await TuigateClient.start({ command: "tuigate" });
 * client.on("job.output", (params: JobOutputParams) => {
 *   if (params.dropped) console.error(`${params.dropped} deltas of ${params.key} dropped`);
 * });
 * ```
 */
export interface JobOutputParams {
  /** The job id. */
  job: string;
  /** `"stdout"` or `"stderr"`. */
  stream: "stdout" | "stderr";
  /** The delta key (`job:<id>:<stream>`). */
  key: string;
  /** The output, when it is valid UTF-8. */
  text?: string;
  /** The output as base64, when it is not valid UTF-8. */
  base64?: string;
  /** Deltas of this key dropped before this one because the client read too slowly. */
  dropped?: number;
}

/**
 * The params of `job.exit`.
 *
 * @example
 * ```ts
 * import { type JobExitParams, TuigateClient } from "@tuigate/tuigate/client";
 * await using client = await TuigateClient.start({ command: "tuigate" });
 * client.on("job.exit", (params: JobExitParams) => {
 *   console.error(`job ${params.job} exited with ${params.code ?? params.signal}`);
 * });
 * ```
 */
export interface JobExitParams {
  /** The job id. */
  job: string;
  /** The exit code, or `null` when a signal ended the command. */
  code: number | null;
  /** The signal that ended the command, or `null`. */
  signal: string | null;
  /** Milliseconds from start to exit. */
  durationMs: number;
}

/**
 * The methods of the tuigate command (built-ins and jobs).
 *
 * @example
 * ```ts
 * import type { GatewayMethods } from "@tuigate/tuigate/client";
 * type JobStartParams = GatewayMethods["job.start"]["params"];
 * const params: JobStartParams = { cmd: "make", args: ["test"], cwd: "/src/project" };
 * ```
 */
export interface GatewayMethods {
  /** Answers at once; params, if any, are echoed back. */
  "gateway.ping": { params: unknown; result: { pong: true; time: number; echo?: unknown } };
  /** Version, pid, uptime, settings and counters. */
  "gateway.info": { params: Record<string, never> | undefined; result: Record<string, unknown> };
  /** Replies, then shuts the gateway down (exit 0). */
  "gateway.shutdown": { params: Record<string, never> | undefined; result: { ok: true } };
  /** Announces what the client supports, for example `{"serverRequests": true}`. */
  "client.capabilities": {
    params: { serverRequests?: boolean; [name: string]: unknown };
    result: { capabilities: Record<string, unknown> };
  };
  /** The OpenRPC document of every method. */
  "rpc.discover": { params: Record<string, never> | undefined; result: Record<string, unknown> };
  /** Starts a command; its output streams as `job.output`, its end as `job.exit`. */
  "job.start": {
    params: {
      cmd: string;
      args?: string[];
      cwd?: string;
      env?: Record<string, string>;
      session?: string;
      stdin?: boolean;
    };
    result: { job: string; pid: number };
  };
  /** Writes to a job's stdin. */
  "job.write": {
    params: { job: string; data?: string; base64?: string; eof?: boolean };
    result: { written: number };
  };
  /** Sends a signal to a job's process group. */
  "job.signal": {
    params: { job: string; signal: string; group?: boolean };
    result: { job: string; signal: string };
  };
  /** SIGTERM to the job's process group, SIGKILL after a grace; answers once it ended. */
  "job.cancel": { params: { job: string; graceMs?: number }; result: JobInfo };
  /** The state of one job. */
  "job.get": { params: { job: string }; result: JobInfo };
  /** Running and recently exited jobs. */
  "job.list": {
    params: { state?: "running" | "exited"; session?: string } | undefined;
    result: { jobs: JobInfo[] };
  };
}

/**
 * The notifications of the tuigate command, by method.
 *
 * @example
 * ```ts
 * import type { GatewayNotifications } from "@tuigate/tuigate/client";
 * interface MyNotifications extends GatewayNotifications {
 *   "build.progress": { done: number; total: number };
 * }
 * ```
 */
export interface GatewayNotifications {
  /** The first frame of every gateway. */
  "gateway.ready": ReadyParams;
  /** Job output (a delta: coalesced or dropped, with a count, when the client reads slowly). */
  "job.output": JobOutputParams;
  /** A job exited and all its output went out. */
  "job.exit": JobExitParams;
  /** The gateway gave up on a request it sent the client. */
  "request.cancel": { id: string | number; reason: string };
}

/**
 * The result type of method `K` of map `M`, or `unknown`.
 *
 * @example
 * ```ts
 * import type { GatewayMethods, ResultOf } from "@tuigate/tuigate/client";
 * type Started = ResultOf<GatewayMethods, "job.start">; // { job: string; pid: number }
 * const started: Started = { job: "j1", pid: 4242 };
 * ```
 */
export type ResultOf<M, K> = K extends keyof M ? M[K] extends { result: infer R } ? R : unknown
  : unknown;

/**
 * The params type of method `K` of map `M`, or `unknown`.
 *
 * @example
 * ```ts
 * import type { GatewayMethods, ParamsOf } from "@tuigate/tuigate/client";
 * type WriteParams = ParamsOf<GatewayMethods, "job.write">;
 * const params: WriteParams = { job: "j1", data: "yes\n" };
 * ```
 */
export type ParamsOf<M, K> = K extends keyof M ? M[K] extends { params: infer P } ? P : unknown
  : unknown;
