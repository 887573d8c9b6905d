/**
 * Wires a {@linkcode MirrorClient} to a gateway: the tap for the stdio
 * transport, the `mirror` section of `gateway.info`, and a drain step.
 *
 * @module
 */

import { sleep } from "../protocol/timing.ts";
import { MirrorClient, type MirrorClientOptions } from "../transport/mirror_client.ts";
import type { Gateway } from "./gateway.ts";
import type { ProcessLifecycle } from "./process_lifecycle.ts";

/**
 * What {@linkcode attachMirror} returns.
 *
 * @example
 * ```ts
 * import { Gateway, runStdio } from "@tuigate/tuigate";
 * import { attachMirror, type MirrorAttachment } from "@tuigate/tuigate/websocket";
 * const gateway = new Gateway();
 * const mirror: MirrorAttachment = attachMirror(gateway, "ws://127.0.0.1:9000/mirror");
 * await runStdio(gateway, { tap: mirror.tap, setup: mirror.setup });
 * ```
 */
export interface MirrorAttachment {
  /** The client. */
  client: MirrorClient;
  /** The tap to give `runStdio` (every batch of frames written to stdout). */
  tap: (frames: readonly string[]) => void;
  /** Adds the drain step (a short flush, then close) to a lifecycle. */
  setup: (lifecycle: ProcessLifecycle) => void;
}

/**
 * Options for {@linkcode attachMirror}.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { attachMirror, type AttachMirrorOptions } from "@tuigate/tuigate/websocket";
 * const options: AttachMirrorOptions = { flushMs: 500, headers: { authorization: "Bearer s3" } };
 * const mirror = attachMirror(new Gateway(), "ws://127.0.0.1:9000/mirror", options);
 * ```
 */
export interface AttachMirrorOptions extends MirrorClientOptions {
  /**
   * The longest the drain step waits for queued frames to go out, in ms.
   * @default {200}
   */
  flushMs?: number;
}

/**
 * Mirrors every frame the stdio peer receives to a dashboard at `url`,
 * best effort. Connecting starts on the next turn of the event loop, so it
 * never delays `gateway.ready`; `gateway.info` gains a `mirror` section.
 *
 * @example
 * ```ts
 * import { Gateway, runStdio } from "@tuigate/tuigate";
 * import { attachMirror } from "@tuigate/tuigate/websocket";
 * const gateway = new Gateway();
 * const mirror = attachMirror(gateway, "ws://127.0.0.1:9000/mirror");
 * await runStdio(gateway, { tap: mirror.tap, setup: mirror.setup });
 * ```
 */
export function attachMirror(
  gateway: Gateway,
  url: string,
  options: AttachMirrorOptions = {},
): MirrorAttachment {
  const client = new MirrorClient(url, {
    hello: () => ({
      name: gateway.name,
      version: gateway.version,
      pid: Deno.pid,
      epoch: gateway.epoch,
      mirrored: "stdio",
    }),
    ...options,
  });
  gateway.addInfo("mirror", () => client.info());
  setTimeout(() => client.start(), 0);
  return {
    client,
    tap: (frames) => client.push(frames),
    setup: (lifecycle) => {
      lifecycle.onDrain(async () => {
        // Let the stdio pump hand over the last frames (the answer to gateway.shutdown) first.
        await sleep(20);
        await client.close(Math.min(options.flushMs ?? 200, lifecycle.graceMs / 4));
      });
    },
  };
}
