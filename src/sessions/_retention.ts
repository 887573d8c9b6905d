/**
 * The retention rule both session stores apply: the oldest events go first,
 * and a session's newest event is never pruned.
 *
 * @module
 */

import type { RetentionPolicy } from "./session_store.ts";

/** The counters of one session that pruning changes. */
export interface PrunableSession {
  /** The seq of the oldest stored event. */
  oldest: number;
  /** The seq of the newest event. */
  latest: number;
  /** Events stored. */
  events: number;
  /** Bytes of events stored. */
  bytes: number;
}

/** The size of one stored event, by seq. */
export interface StoredSize {
  /** The event's seq. */
  seq: number;
  /** Its stored size in bytes. */
  size: number;
}

/** Events and bytes pruned. */
export interface Pruned {
  /** Events pruned. */
  events: number;
  /** Bytes pruned. */
  bytes: number;
}

/** Whether the event `seq` may be pruned now: it is its session's oldest, and not its newest. */
export function isPrunable(session: PrunableSession, seq: number): boolean {
  return seq === session.oldest && seq < session.latest;
}

/** Removes the oldest event (of `size` bytes) from a session's counters. */
export function dropOldest(session: PrunableSession, size: number): void {
  session.oldest++;
  session.events--;
  session.bytes -= size;
}

/**
 * Prunes one session to its per-session bounds, oldest first, never its
 * newest event. `oldestFirst` yields the session's stored events from its
 * oldest on (it is read only as far as needed); the session's counters are
 * updated and the pruned totals returned.
 */
export function pruneSession(
  session: PrunableSession,
  retention: Readonly<RetentionPolicy>,
  oldestFirst: () => Iterable<StoredSize>,
): Pruned {
  const over = () =>
    session.events > retention.maxEventsPerSession || session.bytes > retention.maxBytesPerSession;
  const pruned: Pruned = { events: 0, bytes: 0 };
  if (!over()) return pruned;
  for (const event of oldestFirst()) {
    if (!over() || !isPrunable(session, event.seq)) break;
    dropOldest(session, event.size);
    pruned.events++;
    pruned.bytes += event.size;
  }
  return pruned;
}
