/**
 * Listening addresses: which host names are loopback, how a host is written
 * in a URL and in a `Host` header.
 *
 * @module
 */

/**
 * Where a WebSocket server listens.
 *
 * @example
 * ```ts
 * import { Gateway } from "@tuigate/tuigate";
 * import { type ListeningAddress, WebSocketServer } from "@tuigate/tuigate/websocket";
 * const server = new WebSocketServer(new Gateway(), { port: 0 });
 * const address: ListeningAddress = await server.listen();
 * console.log(`listening on port ${address.port}: ${address.url}`);
 * ```
 */
export interface ListeningAddress {
  /** The host name or IP address bound, as given (`"127.0.0.1"`, `"::1"`, `"localhost"`). */
  host: string;
  /** The port bound (never 0 once listening). */
  port: number;
  /** The URL clients connect to, for example `"ws://127.0.0.1:41234/"`. */
  url: string;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Whether a host is an IPv4 address literal.
 *
 * @example
 * ```ts
 * import { isIpv4Literal } from "@tuigate/tuigate/websocket";
 * isIpv4Literal("127.0.0.1"); // true
 * ```
 */
export function isIpv4Literal(host: string): boolean {
  const match = IPV4.exec(host);
  return match !== null && match.slice(1).every((part) => Number(part) <= 255);
}

/**
 * Whether a host is an IPv6 address literal (without brackets).
 *
 * @example
 * ```ts
 * import { isIpv6Literal } from "@tuigate/tuigate/websocket";
 * isIpv6Literal("::1"); // true
 * ```
 */
export function isIpv6Literal(host: string): boolean {
  return host.includes(":") && /^[0-9a-f:.]+(%[\w.-]+)?$/i.test(host);
}

/**
 * Whether a host name or address is loopback: `localhost`, `127.0.0.0/8`
 * or `::1` (with or without brackets). Wildcards (`0.0.0.0`, `::`) are not.
 *
 * @example
 * ```ts
 * import { isLoopbackHost } from "@tuigate/tuigate/websocket";
 * isLoopbackHost("127.0.0.1"); // true
 * isLoopbackHost("0.0.0.0"); // false
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const bare = unbracket(host).toLowerCase();
  if (bare === "localhost") return true;
  if (isIpv4Literal(bare)) return bare.startsWith("127.");
  if (isIpv6Literal(bare)) return /^(0{0,4}:){2,7}0{0,3}1$/.test(bare) || bare === "::1";
  return false;
}

/**
 * Whether a host is a wildcard address (`0.0.0.0` or `::`) that binds every interface.
 *
 * @example
 * ```ts
 * import { isWildcardHost } from "@tuigate/tuigate/websocket";
 * isWildcardHost("0.0.0.0"); // true
 * ```
 */
export function isWildcardHost(host: string): boolean {
  const bare = unbracket(host);
  return bare === "0.0.0.0" || /^[0:]+$/.test(bare) && bare.includes("::");
}

/**
 * A host as written in a URL or `Host` header: IPv6 literals get brackets.
 *
 * @example
 * ```ts
 * import { hostForUrl } from "@tuigate/tuigate/websocket";
 * hostForUrl("::1"); // "[::1]"
 * ```
 */
export function hostForUrl(host: string): string {
  const bare = unbracket(host);
  return isIpv6Literal(bare) ? `[${bare}]` : bare;
}

/**
 * Removes the brackets of an IPv6 literal, if any.
 *
 * @example
 * ```ts
 * import { unbracket } from "@tuigate/tuigate/websocket";
 * unbracket("[::1]"); // "::1"
 * ```
 */
export function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/**
 * The address clients see for a bound host and port.
 *
 * @example
 * ```ts
 * import { listeningAddress } from "@tuigate/tuigate/websocket";
 * listeningAddress("::1", 8080).url; // "ws://[::1]:8080/"
 * ```
 */
export function listeningAddress(host: string, port: number): ListeningAddress {
  return { host: unbracket(host), port, url: `ws://${hostForUrl(host)}:${port}/` };
}
