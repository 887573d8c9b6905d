/**
 * A gateway for end-to-end tests, built with the library API: the built-in
 * methods plus test methods for cancellation, timeouts, sequencing,
 * server-to-client requests, schemas, serialisation failures and context
 * binding.
 *
 * @module
 */

import * as z from "zod";
import {
  currentContext,
  defineMethod,
  Gateway,
  JsonRpcError,
  runStdio,
  sleep,
} from "../../src/mod.ts";
import { setupLogging } from "../../src/lifecycle/logging.ts";
import { AsyncLineSink } from "../../src/lifecycle/async_line_sink.ts";
import { registerTestHooks } from "../../src/lifecycle/test_hooks.ts";

const gateway = new Gateway({
  name: "tuigate-test",
  maxInflight: Number(Deno.env.get("TEST_MAX_INFLIGHT") ?? 64),
  maxQueued: Number(Deno.env.get("TEST_MAX_QUEUED") ?? 1024),
});
registerTestHooks(gateway);

const started: string[] = [];

gateway.register(defineMethod({
  name: "test.sleep",
  params: z.object({ ms: z.number().int().min(0), tag: z.string().optional() }),
  handler: async ({ ms, tag }, ctx) => {
    if (tag !== undefined) started.push(tag);
    await sleep(ms, ctx.signal);
    return { slept: ms, tag };
  },
}));

gateway.register(defineMethod({
  name: "test.stubbornSleep",
  params: z.object({ ms: z.number().int().min(0), tag: z.string().optional() }),
  handler: async ({ ms, tag }) => {
    if (tag !== undefined) started.push(tag);
    await sleep(ms); // ignores its signal
    return { slept: ms, tag };
  },
}));

gateway.register(defineMethod({
  name: "test.started",
  handler: () => started,
}));

gateway.register(defineMethod({
  name: "test.deadline",
  timeoutMs: 100,
  params: z.object({ ms: z.number() }),
  handler: async ({ ms }, ctx) => {
    await sleep(ms, ctx.signal);
    return "finished";
  },
}));

const order: number[] = [];
let concurrent = 0;
let maxConcurrent = 0;
gateway.register(defineMethod({
  name: "test.sequential",
  sequential: true,
  params: z.object({ n: z.number(), ms: z.number() }),
  handler: async ({ n, ms }) => {
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    await sleep(ms);
    order.push(n);
    concurrent--;
    return n;
  },
}));
gateway.register({ name: "test.sequentialOrder", handler: () => ({ order, maxConcurrent }) });

gateway.register(defineMethod({
  name: "test.ask",
  params: z.object({
    method: z.string(),
    params: z.unknown().optional(),
    timeout: z.number().optional(),
  }),
  handler: async ({ method, params, timeout }, ctx) => {
    try {
      return { answer: await ctx.request(method, params, { timeout }) };
    } catch (error) {
      if (error instanceof JsonRpcError) return { error: error.toJson() };
      throw error;
    }
  },
}));

gateway.register(defineMethod({
  name: "test.add",
  summary: "Adds two numbers",
  params: z.object({ a: z.number(), b: z.number() }),
  result: z.number(),
  handler: ({ a, b }) => a + b,
}));

// The methods of the JSON-RPC 2.0 specification's examples (section 7), under a test prefix.
gateway.register({
  name: "test.subtract",
  handler: (params) => {
    if (Array.isArray(params)) return Number(params[0]) - Number(params[1]);
    const { minuend, subtrahend } = params as { minuend: number; subtrahend: number };
    return minuend - subtrahend;
  },
});
gateway.register({
  name: "test.sum",
  handler: (params) => (params as number[]).reduce((a, b) => a + b, 0),
});
const notified: unknown[] = [];
gateway.register({
  name: "test.update",
  handler: (params) => void notified.push(["update", params]),
});
gateway.register({
  name: "test.notifyHello",
  handler: (params) => void notified.push(["notify_hello", params]),
});
gateway.register({ name: "test.getData", handler: () => ["hello", 5] });
gateway.register({ name: "test.notified", handler: () => notified });

gateway.register({ name: "test.bigint", handler: () => ({ big: 1n }) });
gateway.register({
  name: "test.cycle",
  handler: () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    return a;
  },
});
gateway.register({
  name: "test.throw",
  handler: () => {
    throw new Error("secret internal detail");
  },
});
gateway.register({
  name: "test.domainError",
  handler: () => {
    throw new JsonRpcError(-32050, "Custom failure", { why: "because" });
  },
});

gateway.register(defineMethod({
  name: "test.later",
  summary: "Answers at once; 50 ms later emits test.later.fired through the ambient context",
  params: z.object({ tag: z.string() }),
  handler: ({ tag }) => {
    setTimeout(() => void currentContext()?.notify("test.later.fired", { tag }), 50);
    return { scheduled: tag };
  },
}));

gateway.register(defineMethod({
  name: "test.flood",
  params: z.object({
    count: z.number(),
    size: z.number().default(16),
    delta: z.boolean().default(false),
  }),
  handler: async ({ count, size, delta }, ctx) => {
    const data = "x".repeat(size);
    for (let i = 0; i < count; i++) {
      if (delta) ctx.delta("flood", "test.delta", { first: i }, { text: data });
      else await ctx.notify("test.tick", { i, data });
      if (ctx.signal.aborted) break;
      if (delta && i % 1000 === 999) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return { sent: count };
  },
}));

gateway.register(defineMethod({
  name: "test.crunch",
  summary: "Computes for `ms` (after one await when `async`), then answers `size` characters",
  params: z.object({
    ms: z.number(),
    size: z.number().default(0),
    async: z.boolean().default(false),
  }),
  handler: ({ ms, size, async }) => {
    const crunch = () => {
      const end = performance.now() + ms;
      while (performance.now() < end) { /* work the main thread */ }
      return "x".repeat(size);
    };
    return async ? Promise.resolve().then(crunch) : crunch();
  },
}));

gateway.register({
  name: "test.logFlood",
  handler: (params) => {
    const n = Number((params as { lines?: number } | undefined)?.lines ?? 10000);
    const logger = currentContext()!.logger;
    for (let i = 0; i < n; i++) {
      logger.warn("Log flood line {i} with some padding to fill stderr quickly", { i });
    }
    return { logged: n };
  },
});

gateway.register({
  name: "test.reject",
  summary: "Leaves a promise rejection unhandled",
  handler: () => {
    void Promise.reject(new Error("unhandled test rejection"));
    return { ok: true };
  },
});
gateway.register({
  name: "test.uncaught",
  summary: "Throws from a timer",
  handler: () => {
    setTimeout(() => {
      throw new Error("uncaught test error");
    }, 0);
    return { ok: true };
  },
});

const stderr = new AsyncLineSink(Deno.stderr);
await setupLogging(stderr, { level: "info" });
await runStdio(gateway, {
  graceSeconds: Number(Deno.env.get("TUIGATE_SHUTDOWN_GRACE_S") ?? 1),
  crashLog: Deno.env.get("TUIGATE_CRASH_LOG"),
  outBufferBytes: Deno.env.get("TEST_OUT_BUFFER_BYTES")
    ? Number(Deno.env.get("TEST_OUT_BUFFER_BYTES"))
    : undefined,
  stallTimeoutSeconds: Deno.env.get("TEST_STALL_S")
    ? Number(Deno.env.get("TEST_STALL_S"))
    : undefined,
  stdioSockets: Deno.env.get("TUIGATE_STDIO_IO") !== "deno",
  stderr,
});
