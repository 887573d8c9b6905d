/**
 * The screen of the example TUI: the gateway, the job, its streaming
 * output, and the keys (c cancel, r run again, q quit).
 *
 * @module
 */

import { Box, Text, useApp, useInput } from "ink";
import type { TuigateClient } from "../../src/client/mod.ts";
import { type JobCommand, type JobStatus, useJob } from "./use_job.ts";

/** Props of {@linkcode JobScreen}. */
export interface JobScreenProps {
  /** The client (started by the screen if it is not yet). */
  client: TuigateClient;
  /** The command to run as a job. */
  command: JobCommand;
}

const COLORS: Record<JobStatus, string> = {
  connecting: "yellow",
  starting: "yellow",
  running: "green",
  cancelling: "yellow",
  cancelled: "red",
  exited: "blue",
  failed: "red",
};

function formatBytes(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** Shows one job's output as it streams, and reacts to keys. */
export function JobScreen({ client, command }: JobScreenProps): React.ReactElement {
  const { exit } = useApp();
  const job = useJob(client, command);
  useInput((input) => {
    if (input === "c") job.cancel();
    else if (input === "r") job.rerun();
    else if (input === "q") exit();
  });
  const ended = job.ended === undefined
    ? ""
    : ` (${job.ended}${job.durationMs === undefined ? "" : ` after ${job.durationMs} ms`})`;
  const gateway = job.gateway === undefined
    ? "connecting..."
    : `${job.gateway.name} ${job.gateway.version} · pid ${job.gateway.pid}`;
  return (
    <Box flexDirection="column">
      <Box flexDirection="column" borderStyle="round" paddingX={1}>
        <Text bold>tuigate · Ink example</Text>
        <Text>gateway: {gateway}</Text>
        <Text>
          job: {job.job === undefined ? "-" : `${job.job.id} · pid ${job.job.pid}`} ·{" "}
          {[command.cmd, ...command.args].join(" ")}
        </Text>
        <Text>
          status: <Text color={COLORS[job.status]}>{job.status}{ended}</Text>
          {" · "}
          {job.lineCount} lines · {formatBytes(job.bytes)}
          {job.dropped > 0 ? ` · ${job.dropped} dropped` : ""}
        </Text>
        {job.error !== undefined && <Text color="red">error: {job.error}</Text>}
      </Box>
      <Box flexDirection="column" paddingX={1} height={14}>
        <Text dimColor>output:</Text>
        {job.lines.map((line, i) => <Text key={`${job.lineCount}-${i}`}>{line}</Text>)}
      </Box>
      <Text dimColor>keys: c cancel · r run again · q quit</Text>
    </Box>
  );
}
