/**
 * What the stdio sockets share: Node's error codes as the `Deno.errors` the
 * transport knows, and the handle method that switches a descriptor's
 * blocking mode.
 *
 * @module
 */

import type { Socket } from "node:net";

/** `Deno.errors` for the Node codes that mean the peer is gone; anything else is kept. */
export function toDenoError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case "EPIPE":
      return new Deno.errors.BrokenPipe(message, { cause: error });
    case "ECONNRESET":
      return new Deno.errors.ConnectionReset(message, { cause: error });
    case "EBADF":
    case "ERR_STREAM_DESTROYED":
      return new Deno.errors.BadResource(message, { cause: error });
    default:
      return error;
  }
}

/** The part of a `node:net` socket's handle that switches its descriptor's blocking mode. */
export interface BlockingHandle {
  /** Makes the descriptor blocking or not; 0 on success. */
  setBlocking(blocking: boolean): number;
}

/** The socket's handle while it can switch blocking mode (not a documented API), else `undefined`. */
export function blockingHandle(socket: Socket): BlockingHandle | undefined {
  if (socket.destroyed) return undefined;
  const handle = (socket as unknown as { _handle?: Partial<BlockingHandle> })._handle;
  return typeof handle?.setBlocking === "function" ? handle as BlockingHandle : undefined;
}

/** Sets a socket's descriptor blocking or not, if it is still open; never throws. */
export function setBlocking(socket: Socket, blocking: boolean): void {
  try {
    blockingHandle(socket)?.setBlocking(blocking);
  } catch {
    // The descriptor is gone.
  }
}
