/**
 * Benchmark (not a test): session events per second, appended and
 * delivered, with persistence on (SQLite) and off (memory).
 *
 * - `library`: in process, a SessionManager with one attached Peer whose
 *   output buffer is drained as fast as a transport would; a producer
 *   appends bursts of events; timed until the peer has every event.
 * - `library, no peer`: the same appends, timed until all are committed.
 * - `library, deltas`: job-output-like appends with a deltaKey (merged
 *   while uncommitted), timed until committed; shows how many rows remain.
 * - `stdio`: a real gateway process (main.ts); the client attaches and
 *   pipelines `session.append` requests, timed until every `session.event`
 *   has been read back.
 *
 * ```sh
 * deno run -A tests/bench/sessions_bench.ts [--events 100000]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Peer } from "../../src/protocol/peer.ts";
import { MemorySessionStore } from "../../src/sessions/memory_session_store.ts";
import { SessionManager } from "../../src/sessions/session_manager.ts";
import type { SessionStore } from "../../src/sessions/session_store.ts";
import { SqliteSessionStore } from "../../src/sessions/sqlite_session_store.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { events: { type: "string", default: "100000" } },
});
const EVENTS = Number(values.events);
const BURST = 500;
const PAYLOAD = { text: "x".repeat(64) };

interface Row {
  scenario: string;
  store: string;
  events: number;
  seconds: number;
  commits: number | string;
  stored: number | string;
}

const rows: Row[] = [];

async function openStore(kind: string, dir: string): Promise<SessionStore> {
  return kind === "sqlite"
    ? await SqliteSessionStore.open(`${dir}/sessions.sqlite`, {
      retention: {
        maxEventsPerSession: 10_000_000,
        maxTotalBytes: 4 * 1024 ** 3,
        maxBytesPerSession: 4 * 1024 ** 3,
      },
    })
    : new MemorySessionStore({
      retention: {
        maxEventsPerSession: 10_000_000,
        maxTotalBytes: 4 * 1024 ** 3,
        maxBytesPerSession: 4 * 1024 ** 3,
      },
    });
}

function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Drains a peer's output like a transport with an instant writer; resolves when `count` session.event frames were read. */
async function drain(peer: Peer, count: number): Promise<void> {
  let seen = 0;
  while (seen < count) {
    await peer.output.readable();
    const batch = peer.output.take();
    if (batch === undefined) continue;
    for (const frame of batch.frames) if (frame.includes('"session.event"')) seen++;
    await Promise.resolve();
    peer.output.release(batch.bytes);
  }
}

async function library(kind: string, attach: boolean): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-bench-" });
  const store = await openStore(kind, dir);
  const sessions = new SessionManager(store);
  const { id } = sessions.create({ title: "bench" });
  const peer = new Peer({ transport: "bench" });
  if (attach) await sessions.attach(peer, id);
  const commits = store.stats().commits;
  const started = performance.now();
  const delivered = attach ? drain(peer, EVENTS) : Promise.resolve();
  let last: Promise<unknown> = Promise.resolve();
  for (let sent = 0; sent < EVENTS; sent += BURST) {
    for (let i = 0; i < BURST && sent + i < EVENTS; i++) {
      last = sessions.append(id, "bench", PAYLOAD);
    }
    await tick();
  }
  await last;
  await delivered;
  const seconds = (performance.now() - started) / 1000;
  rows.push({
    scenario: attach ? "library, 1 peer attached" : "library, no peer",
    store: kind,
    events: EVENTS,
    seconds,
    commits: store.stats().commits - commits,
    stored: store.stats().events,
  });
  sessions.shutdownSync();
  peer.close("bench");
  await Deno.remove(dir, { recursive: true });
}

async function deltas(kind: string): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-bench-" });
  const store = await openStore(kind, dir);
  const sessions = new SessionManager(store);
  const { id } = sessions.create({ title: "bench" });
  const started = performance.now();
  let last: Promise<unknown> = Promise.resolve();
  for (let sent = 0; sent < EVENTS; sent += BURST) {
    for (let i = 0; i < BURST && sent + i < EVENTS; i++) {
      last = sessions.append(id, "job.output", {
        job: "j1",
        stream: "stdout",
        text: "y\n".repeat(32),
      }, {
        deltaKey: "j1:stdout",
      });
    }
    await tick();
  }
  await last;
  const seconds = (performance.now() - started) / 1000;
  rows.push({
    scenario: "library, deltas (merged)",
    store: kind,
    events: EVENTS,
    seconds,
    commits: store.stats().commits,
    stored: store.stats().events,
  });
  sessions.shutdownSync();
  await Deno.remove(dir, { recursive: true });
}

async function stdio(kind: string): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tuigate-bench-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../main.ts", import.meta.url).pathname,
      "--state",
      kind,
      "--session-max-events",
      "10000000",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    env: { TUIGATE_STATE_DIR: dir, TUIGATE_CRASH_LOG: `${dir}/exits.jsonl` },
  }).spawn();
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  let events = 0;
  let answers = 0;
  let wake: (() => void) | undefined;
  const waitFor = async (condition: () => boolean) => {
    while (!condition()) await new Promise<void>((resolve) => (wake = resolve));
  };
  const results = new Map<string, unknown>();
  const reading = (async () => {
    let pending = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf("\n")) !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.includes('"method":"session.event"')) {
          events++;
          continue;
        }
        const frame = JSON.parse(line);
        if (typeof frame.id === "string") results.set(frame.id, frame.result ?? frame.error);
        else if (frame.id !== undefined) answers++;
      }
      wake?.();
    }
  })();
  const call = async (id: string, method: string, params: unknown) => {
    await writer.write(
      encoder.encode(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n"),
    );
    await waitFor(() => results.has(id));
    return results.get(id) as Record<string, unknown>;
  };
  const { id } = await call("create", "session.create", { title: "bench" }) as { id: string };
  await call("attach", "session.attach", { session: id });
  const started = performance.now();
  let sent = 0;
  while (sent < EVENTS) {
    // Keep at most 1000 appends outstanding: the dispatcher's queue bound.
    const burst = Math.min(BURST, EVENTS - sent);
    let text = "";
    for (let i = 0; i < burst; i++) {
      text += JSON.stringify({
        jsonrpc: "2.0",
        id: sent + i,
        method: "session.append",
        params: { session: id, type: "bench", data: PAYLOAD },
      }) + "\n";
    }
    sent += burst;
    await writer.write(encoder.encode(text));
    await waitFor(() => answers >= sent - 500);
  }
  await waitFor(() => events >= EVENTS && answers >= EVENTS);
  const seconds = (performance.now() - started) / 1000;
  const info = await call("info", "gateway.info", {}) as {
    sessions: { commits: number; events: number };
  };
  rows.push({
    scenario: "stdio process, client attached",
    store: kind,
    events: EVENTS,
    seconds,
    commits: info.sessions.commits,
    stored: info.sessions.events,
  });
  await writer.close();
  await child.status;
  await reading;
  await Deno.remove(dir, { recursive: true });
}

for (const kind of ["sqlite", "memory"]) {
  await library(kind, true);
  await library(kind, false);
  await deltas(kind);
  await stdio(kind);
}

const header = ["scenario", "store", "events", "seconds", "events/s", "commits", "rows stored"];
const table = rows.map((row) => [
  row.scenario,
  row.store,
  String(row.events),
  row.seconds.toFixed(3),
  Math.round(row.events / row.seconds).toLocaleString("en-US"),
  String(row.commits),
  String(row.stored),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
const out = [
  line(header),
  `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
  ...table.map(line),
].join("\n");
await Deno.stdout.write(new TextEncoder().encode(`${out}\n`));
