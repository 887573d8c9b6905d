/**
 * An example TUI built with Ink (React for the terminal) on the tuigate
 * TypeScript client: it spawns tuigate, starts a job, shows its output as it
 * streams, and lets the user cancel it (c), run it again (r) and quit (q).
 *
 * ```sh
 * deno run -A examples/ink_tui/main.tsx                      # a ticking shell loop
 * deno run -A examples/ink_tui/main.tsx -- ping -c 5 localhost
 * deno run -A examples/ink_tui/main.tsx --gateway ./tuigate -- make test
 * ```
 *
 * Ink 8 needs Node 22 or later, so the example runs under Deno. The
 * gateway's stderr is kept by the client (for errors), never printed over
 * the screen. Quitting closes the client: the gateway's stdin ends, it
 * cancels the job (its whole process group) and exits.
 *
 * @module
 */

import { render } from "ink";
import { denoRunCommand, TuigateClient } from "../../src/client/mod.ts";
import { JobScreen } from "./job_screen.tsx";
import type { JobCommand } from "./use_job.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const DEFAULT_JOB: JobCommand = {
  cmd: "sh",
  args: ["-c", 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'],
};

function parseArgs(args: string[]): { gateway: string | undefined; job: JobCommand } {
  let gateway: string | undefined;
  const rest = [...args];
  while (rest.length > 0 && rest[0] !== "--") {
    const flag = rest.shift()!;
    if (flag === "--gateway" && rest.length > 0) gateway = rest.shift();
    else throw new TypeError(`Unknown argument ${JSON.stringify(flag)}`);
  }
  rest.shift();
  const job = rest.length > 0 ? { cmd: rest[0], args: rest.slice(1) } : DEFAULT_JOB;
  return { gateway, job };
}

if (import.meta.main) {
  const { gateway, job } = parseArgs(Deno.args);
  const client = new TuigateClient(
    gateway === undefined ? denoRunCommand(MAIN) : { command: gateway },
  );
  const app = render(<JobScreen client={client} command={job} />);
  await app.waitUntilExit();
  await client.close();
}
