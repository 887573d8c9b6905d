/**
 * The tuigate version.
 *
 * @example
 * ```ts
 * import { Gateway, VERSION } from "@tuigate/tuigate";
 * new Gateway().version === VERSION; // true
 * ```
 */
export const VERSION = "0.1.0";

/**
 * The wire protocol version announced in `gateway.ready`; raised on incompatible changes.
 *
 * @example
 * ```ts
 * import { PROTOCOL_VERSION } from "@tuigate/tuigate";
 * const ready = { protocol: 1 }; // the params of a gateway.ready notification
 * if (ready.protocol !== PROTOCOL_VERSION) throw new Error("Unsupported gateway protocol");
 * ```
 */
export const PROTOCOL_VERSION = 1;
