/**
 * Test support: the tuigate command (`buildGateway` from main.ts, every
 * flag and feature) plus a few test-only methods, written with the library
 * API. Clients use it where a test needs the gateway to do something no
 * built-in method does on demand: ask the client (server-to-client request),
 * run long enough to be cancelled, or send notifications.
 *
 * - `test.ask {method, params?, timeout?}` -> the client's result (or its error)
 * - `test.sleep {ms}` -> `{slept}`; records the id when its signal aborts
 * - `test.aborted` -> `{ids}`: ids of `test.sleep` calls whose signal aborted
 * - `test.emit {method, params?, count?}` -> `{sent}` after sending `count` notifications
 * - `test.note` (notification or request) records its params; `test.notes` -> `{notes}`
 *
 * ```sh
 * deno run -A tests/_support/interop_gateway.ts [tuigate flags]
 * ```
 *
 * @module
 */

import * as z from "zod";
import { buildGateway } from "../../src/lifecycle/run_command.ts";
import { defineMethod, type MethodDefinition } from "../../src/protocol/method.ts";
import { AsyncLineSink } from "../../src/lifecycle/async_line_sink.ts";
import { setupLogging } from "../../src/lifecycle/logging.ts";
import type { ProcessLifecycle } from "../../src/lifecycle/process_lifecycle.ts";
import { runStdio } from "../../src/lifecycle/run_stdio.ts";
import { parseSettings } from "../../src/lifecycle/settings.ts";
import type { JsonRpcId } from "../../src/protocol/messages.ts";

/** The path of this script, to spawn it. */
export const INTEROP_GATEWAY: string = new URL(import.meta.url).pathname;

const aborted: JsonRpcId[] = [];
const notes: unknown[] = [];

const ask = defineMethod({
  name: "test.ask",
  summary: "Test only: sends a request to the calling client and returns its result",
  params: z.object({
    method: z.string(),
    params: z.unknown().optional(),
    timeout: z.number().optional(),
  }),
  handler: async ({ method, params, timeout }, ctx) => ({
    result: await ctx.request(method, params, { timeout }),
  }),
});

const sleep = defineMethod({
  name: "test.sleep",
  summary: "Test only: waits `ms` milliseconds, or until cancelled",
  params: z.object({ ms: z.number() }),
  handler: ({ ms }, ctx) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve({ slept: ms }), ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        aborted.push(ctx.id ?? null);
        reject(ctx.signal.reason);
      }, { once: true });
    }),
});

const abortedIds = defineMethod({
  name: "test.aborted",
  summary: "Test only: ids of test.sleep calls whose signal was aborted",
  handler: () => ({ ids: aborted }),
});

const emit = defineMethod({
  name: "test.emit",
  summary: "Test only: sends `count` notifications of `method` to the caller",
  params: z.object({
    method: z.string(),
    params: z.unknown().optional(),
    count: z.number().int().min(0).default(1),
  }),
  handler: async ({ method, params, count }, ctx) => {
    for (let i = 0; i < count; i++) await ctx.notify(method, params);
    return { sent: count };
  },
});

const note = defineMethod({
  name: "test.note",
  summary: "Test only: records its params (send it as a notification)",
  handler: (params) => {
    notes.push(params ?? null);
    return { noted: notes.length };
  },
});

const listNotes = defineMethod({
  name: "test.notes",
  summary: "Test only: the params of every test.note received",
  handler: () => ({ notes }),
});

if (import.meta.main) {
  const parsed = parseSettings(Deno.args, { env: Deno.env.toObject() });
  if (parsed.help || parsed.version) Deno.exit(0);
  const settings = parsed.settings;
  const stderr = new AsyncLineSink(Deno.stderr);
  await setupLogging(stderr, { level: settings.logLevel });
  const { gateway, features } = await buildGateway(settings);
  for (const method of [ask, sleep, abortedIds, emit, note, listNotes]) {
    gateway.register(method as MethodDefinition<unknown, unknown>);
  }
  const code = await runStdio(gateway, {
    graceSeconds: settings.graceSeconds,
    crashLog: settings.crashLog,
    exitOnSigint: settings.exitOnSigint,
    framing: settings.framing,
    maxFrameBytes: settings.maxFrameBytes,
    outBufferBytes: settings.outBufferBytes,
    stallTimeoutSeconds: settings.stallTimeoutSeconds,
    stderr,
    setup: (lifecycle: ProcessLifecycle) => {
      for (const step of features.setup) step(lifecycle);
    },
  });
  Deno.exit(code);
}
