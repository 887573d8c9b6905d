/** The tuigate version. */
export const VERSION = "0.1.0";

/** The wire protocol version announced in `gateway.ready`; raised on incompatible changes. */
export const PROTOCOL_VERSION = 1;
