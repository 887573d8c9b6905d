/**
 * A React hook that runs one command as a tuigate job through the client
 * and keeps what the screen needs: status, the tail of the output, counts.
 *
 * @module
 */

import { useCallback, useEffect, useRef, useState } from "react";
import type { ExitEvent, JobExitParams, ReadyParams, TuigateClient } from "../../src/client/mod.ts";

/** Where a job is in its life, as shown on screen. */
export type JobStatus =
  | "connecting"
  | "starting"
  | "running"
  | "cancelling"
  | "cancelled"
  | "exited"
  | "failed";

/** What the screen shows about the job. */
export interface JobView {
  /** The status. */
  status: JobStatus;
  /** The gateway's `gateway.ready` params, once connected. */
  gateway: ReadyParams | undefined;
  /** The job id and pid, once started. */
  job: { id: string; pid: number } | undefined;
  /** The last lines of output (stdout and stderr, in arrival order). */
  lines: string[];
  /** Lines of output so far. */
  lineCount: number;
  /** Bytes of output so far (UTF-8). */
  bytes: number;
  /** Output deltas the gateway dropped because the screen read too slowly. */
  dropped: number;
  /** How the job ended: `"code 0"`, `"SIGTERM"`, ... */
  ended: string | undefined;
  /** Its run time, once ended. */
  durationMs: number | undefined;
  /** The last error, if any. */
  error: string | undefined;
}

/** The command a job runs. */
export interface JobCommand {
  /** The program. */
  cmd: string;
  /** Its arguments. */
  args: string[];
}

type EarlyEvent =
  | { kind: "output"; text: string; dropped: number }
  | { kind: "exit"; exit: JobExitParams };

const encoder = new TextEncoder();

/** What a run has not produced yet: the view of a job about to start. */
const FRESH_RUN = {
  job: undefined,
  lines: [],
  lineCount: 0,
  bytes: 0,
  dropped: 0,
  ended: undefined,
  durationMs: undefined,
  error: undefined,
} satisfies Partial<JobView>;

/**
 * Starts `command` as a job once the client is ready, streams its output
 * into the view, and offers `cancel()` (job.cancel: SIGTERM to its process
 * group, SIGKILL after a grace) and `rerun()` once it ended.
 */
export function useJob(
  client: TuigateClient,
  command: JobCommand,
  keepLines = 12,
): JobView & { cancel(): void; rerun(): void } {
  const [view, setView] = useState<JobView>({
    status: "connecting",
    gateway: undefined,
    ...FRESH_RUN,
  });
  const current = useRef<string | undefined>(undefined);
  const cancelling = useRef(false);
  // A job's output and even its exit can arrive before job.start answers: kept, in order, until
  // its id is known.
  const early = useRef(new Map<string, EarlyEvent[]>());
  const partial = useRef("");

  // Split into lines here, in arrival order, not inside a state updater (React runs those later).
  const append = useCallback((text: string, dropped: number) => {
    const parts = (partial.current + text).split("\n");
    partial.current = parts.pop() ?? "";
    const bytes = encoder.encode(text).length;
    setView((v) => ({
      ...v,
      lines: [...v.lines, ...parts].slice(-keepLines),
      lineCount: v.lineCount + parts.length,
      bytes: v.bytes + bytes,
      dropped: v.dropped + dropped,
    }));
  }, [keepLines]);

  const finish = useCallback((params: JobExitParams) => {
    const last = partial.current;
    partial.current = "";
    setView((v) => ({
      ...v,
      lines: last === "" ? v.lines : [...v.lines, last].slice(-keepLines),
      lineCount: last === "" ? v.lineCount : v.lineCount + 1,
      status: cancelling.current ? "cancelled" : "exited",
      ended: params.signal ?? `code ${params.code}`,
      durationMs: params.durationMs,
    }));
  }, [keepLines]);

  const start = useCallback(async () => {
    cancelling.current = false;
    partial.current = "";
    setView((v) => ({ ...v, status: "starting", ...FRESH_RUN }));
    try {
      const { job, pid } = await client.call("job.start", command);
      current.current = job;
      setView((
        v,
      ) => (v.status === "starting" ? { ...v, status: "running", job: { id: job, pid } } : {
        ...v,
        job: { id: job, pid },
      }));
      for (const event of early.current.get(job) ?? []) {
        if (event.kind === "output") append(event.text, event.dropped);
        else finish(event.exit);
      }
      early.current.clear();
    } catch (error) {
      setView((v) => ({ ...v, status: "failed", error: (error as Error).message }));
    }
  }, [client, command, append, finish]);

  useEffect(() => {
    const keep = (job: string, event: EarlyEvent) => {
      const list = early.current.get(job) ?? [];
      list.push(event);
      early.current.set(job, list);
    };
    const offOutput = client.on("job.output", (params) => {
      const text = params.text ?? (params.base64 !== undefined ? "[binary output]\n" : "");
      const dropped = params.dropped ?? 0;
      if (params.job === current.current) append(text, dropped);
      else keep(params.job, { kind: "output", text, dropped });
    });
    const offExit = client.on("job.exit", (params) => {
      if (params.job === current.current) finish(params);
      else keep(params.job, { kind: "exit", exit: params });
    });
    const onExit = (event: ExitEvent) => {
      if (event.expected) return; // q: closing the client ends the gateway.
      setView((v) => ({
        ...v,
        status: "failed",
        error: `The gateway exited: ${event.stderrTail}`,
      }));
    };
    client.addEventListener("exit", onExit);
    void (async () => {
      try {
        const gateway = await client.start();
        setView((v) => ({ ...v, gateway }));
        await start();
      } catch (error) {
        setView((v) => ({ ...v, status: "failed", error: (error as Error).message }));
      }
    })();
    return () => {
      offOutput();
      offExit();
      client.removeEventListener("exit", onExit);
    };
  }, [client]);

  const cancel = useCallback(() => {
    const job = current.current;
    if (job === undefined || cancelling.current) return;
    cancelling.current = true;
    setView((v) => (v.status === "running" ? { ...v, status: "cancelling" } : v));
    client.call("job.cancel", { job }).catch((error: Error) => {
      // Already exited: the job.exit notification tells the rest.
      if (!/not running/i.test(error.message)) {
        setView((v) => ({ ...v, error: error.message }));
      }
    });
  }, [client]);

  // Read at key time: a key may arrive before the effects of the last render re-subscribed.
  const status = useRef(view.status);
  status.current = view.status;
  const rerun = useCallback(() => {
    if (status.current === "cancelled" || status.current === "exited") void start();
  }, [start]);

  return { ...view, cancel, rerun };
}
