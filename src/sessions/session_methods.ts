/**
 * The `session.*` JSON-RPC methods, over a {@linkcode SessionManager}.
 *
 * @module
 */

import * as z from "zod";
import type { MethodDefinition } from "../protocol/method.ts";
import type { SessionManager } from "./session_manager.ts";

/**
 * What {@linkcode registerSessionMethods} needs from a gateway (a `Gateway` fits).
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { MemorySessionStore, SessionManager } from "@tuigate/tuigate/sessions";
 * import { registerSessionMethods, type SessionMethodHost } from "@tuigate/tuigate/sessions";
 * const host: SessionMethodHost = new Gateway();
 * registerSessionMethods(host, new SessionManager(new MemorySessionStore()));
 * ```
 */
export interface SessionMethodHost {
  /** Registers a method. */
  register<P, R>(method: MethodDefinition<P, R>): unknown;
  /** Adds a section to `gateway.info`. */
  addInfo?(name: string, provider: () => unknown): void;
  /** Announces a capability in `gateway.ready`. */
  setCapability?(name: string, value: unknown): void;
}

const sessionId = z.string().min(1).max(200).describe("The session id");
const cursor = z.number().int().min(0);

/** The JSON shape of a session. */
const sessionInfoSchema = z.object({
  id: z.string(),
  title: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: z.number(),
  updatedAt: z.number(),
  closedAt: z.number().nullable(),
  closed: z.boolean(),
  latest: z.number().describe("The seq of the newest event (0 when none)"),
  oldest: z.number().describe("The seq of the oldest stored event (latest + 1 when none)"),
  events: z.number().describe("Events stored"),
  bytes: z.number().describe("Bytes of events stored"),
});

/** The JSON shape of a session event (the params of `session.event`). */
const sessionEventSchema = z.object({
  session: z.string(),
  seq: z.number().int(),
  type: z.string(),
  time: z.number().describe("ms since the Unix epoch"),
  data: z.record(z.string(), z.unknown()),
});

/**
 * Registers `session.create`, `session.list`, `session.get`,
 * `session.close`, `session.attach`, `session.detach`,
 * `session.events.since` and `session.append` on a gateway, plus a
 * `sessions` section in `gateway.info` and the `sessions` capability.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { MemorySessionStore, registerSessionMethods, SessionManager } from "@tuigate/tuigate/sessions";
 * const gateway = new Gateway();
 * const sessions = new SessionManager(new MemorySessionStore(), { epoch: gateway.epoch });
 * registerSessionMethods(gateway, sessions);
 * ```
 */
export function registerSessionMethods(host: SessionMethodHost, sessions: SessionManager): void {
  host.register({
    name: "session.create",
    summary: "Creates a session `{title?, metadata?}`",
    params: z.object({
      title: z.string().max(10_000).optional(),
      metadata: z.record(z.string(), z.unknown()).optional(),
    }),
    result: sessionInfoSchema,
    handler: (params) => sessions.createAsync(params),
  });
  host.register({
    name: "session.list",
    summary: "Lists sessions, newest first, including those of other gateways on the same store",
    params: z.object({
      includeClosed: z.boolean().optional(),
      limit: z.number().int().min(1).max(10_000).optional(),
    }),
    result: z.object({ sessions: z.array(sessionInfoSchema) }),
    handler: (params) => ({ sessions: sessions.list(params) }),
  });
  host.register({
    name: "session.get",
    summary: "Describes one session `{session}`",
    params: z.object({ session: sessionId }),
    result: sessionInfoSchema,
    handler: ({ session }) => sessions.get(session),
  });
  host.register({
    name: "session.close",
    summary: "Closes a session: appends a last `session.closed` event; later appends fail",
    params: z.object({ session: sessionId }),
    result: sessionInfoSchema,
    handler: ({ session }) => sessions.close(session),
  });
  host.register({
    name: "session.attach",
    summary:
      "`{session, after?}`: replays every event after `after` as `session.event`, then every new one, with no gap and no duplicate",
    params: z.object({
      session: sessionId,
      after: cursor.optional().describe("Replay events with seq > after; absent: only new events"),
    }),
    result: z.object({
      session: z.string(),
      after: z.number(),
      latest: z.number().describe("The seq of the last event sent before this result"),
      replayed: z.number(),
      truncated: z.boolean().describe("Some events after `after` were pruned"),
      epoch: z.string(),
    }),
    handler: ({ session, after }, context) =>
      sessions.attach(context.peer, session, { after, signal: context.signal }),
  });
  host.register({
    name: "session.detach",
    summary: "Stops sending a session's events to the calling peer",
    params: z.object({ session: sessionId }),
    result: z.object({ detached: z.boolean() }),
    handler: ({ session }, context) => ({ detached: sessions.detach(context.peer, session) }),
  });
  host.register({
    name: "session.events.since",
    summary:
      "`{session, after, limit}`: stored events with seq > `after`, at most `limit` of them → `{events, latest, truncated, epoch}`",
    params: z.object({
      session: sessionId,
      after: cursor.default(0),
      limit: z.number().int().min(1).max(10_000).default(1000),
    }),
    result: z.object({
      events: z.array(sessionEventSchema),
      latest: z.number(),
      truncated: z.boolean().describe("Some events after `after` were pruned"),
      epoch: z.string(),
    }),
    handler: ({ session, after, limit }) => sessions.eventsSince(session, { after, limit }),
  });
  host.register({
    name: "session.append",
    summary:
      "`{session, type, data, deltaKey?}`: appends an event; answers once it is stored (attached peers get it as `session.event`)",
    params: z.object({
      session: sessionId,
      type: z.string().min(1).max(200),
      data: z.record(z.string(), z.unknown()).default({}),
      deltaKey: z.string().min(1).optional().describe(
        "Consecutive uncommitted events with this key are stored merged (data.text concatenated)",
      ),
    }),
    result: z.object({ session: z.string(), seq: z.number(), type: z.string(), time: z.number() }),
    handler: async ({ session, type, data, deltaKey }) => {
      const event = await sessions.append(session, type, data, { deltaKey });
      return { session: event.session, seq: event.seq, type: event.type, time: event.time };
    },
  });
  host.addInfo?.("sessions", () => sessions.stats());
  host.setCapability?.("sessions", true);
}
