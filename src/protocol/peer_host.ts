import type { Dispatcher } from "./dispatcher.ts";
import type { Peer } from "./peer.ts";

/**
 * What a transport needs from a gateway: a dispatcher for frames, and hooks
 * to announce a new peer and to forget one that closed. {@linkcode Gateway}
 * implements it.
 *
 * @example A transport of your own
 * ```ts
 * import { Gateway, Peer, type PeerHost } from "@tuigate/tuigate";
 * function serveLine(host: PeerHost, line: string): Peer {
 *   const peer = new Peer({ transport: "line" });
 *   host.open(peer);
 *   host.dispatcher.handleText(line, peer);
 *   peer.onClose((reason) => host.close(peer, reason));
 *   return peer;
 * }
 * serveLine(new Gateway(), '{"jsonrpc":"2.0","id":1,"method":"gateway.ping"}').close("done");
 * ```
 */
export interface PeerHost {
  /** The dispatcher that handles every frame. */
  readonly dispatcher: Dispatcher;
  /** Registers a new peer and queues `gateway.ready` as its first frame. */
  open(peer: Peer): void;
  /** Forgets a peer that has closed. */
  close(peer: Peer, reason: string): void;
}
