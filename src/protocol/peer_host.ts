import type { Dispatcher } from "./dispatcher.ts";
import type { Peer } from "./peer.ts";

/**
 * What a transport needs from a gateway: a dispatcher for frames, and hooks
 * to announce a new peer and to forget one that closed.
 */
export interface PeerHost {
  /** The dispatcher that handles every frame. */
  readonly dispatcher: Dispatcher;
  /** Registers a new peer and queues `gateway.ready` as its first frame. */
  open(peer: Peer): void;
  /** Forgets a peer that has closed. */
  close(peer: Peer, reason: string): void;
}
