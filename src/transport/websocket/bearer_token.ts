/**
 * Bearer tokens for WebSocket connections: generating one, writing it to a
 * file only its owner can read, reading it from a request, and comparing it
 * in constant time.
 *
 * @module
 */

import { toBase64 } from "../../protocol/bytes.ts";

/**
 * The prefix of the WebSocket subprotocol that carries a token, for clients
 * that cannot set headers (browsers): `tuigate.bearer.<token>`.
 *
 * @example
 * ```ts
 * import { BEARER_SUBPROTOCOL_PREFIX, TUIGATE_SUBPROTOCOL } from "@tuigate/tuigate/websocket";
 * const token = "s3cret";
 * const ws = new WebSocket("ws://127.0.0.1:8765/", [
 *   TUIGATE_SUBPROTOCOL,
 *   `${BEARER_SUBPROTOCOL_PREFIX}${token}`,
 * ]);
 * ```
 */
export const BEARER_SUBPROTOCOL_PREFIX = "tuigate.bearer.";

/**
 * The subprotocol the server selects when a client offers it next to the token.
 *
 * @example
 * ```ts
 * import { TUIGATE_SUBPROTOCOL } from "@tuigate/tuigate/websocket";
 * const ws = new WebSocket("ws://127.0.0.1:8765/", [TUIGATE_SUBPROTOCOL, "tuigate.bearer.s3cret"]);
 * ws.onopen = () => console.log(ws.protocol === TUIGATE_SUBPROTOCOL); // true
 * ```
 */
export const TUIGATE_SUBPROTOCOL = "tuigate";

const encoder = new TextEncoder();

/**
 * Makes a random token: 32 bytes from the system CSPRNG, base64url (43 characters).
 *
 * @example
 * ```ts
 * import { generateBearerToken } from "@tuigate/tuigate/websocket";
 * const token = generateBearerToken(); // 43 characters of base64url
 * ```
 */
export function generateBearerToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return toBase64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Compares a presented token with the expected one without leaking where they differ.
 *
 * @example
 * ```ts
 * import { tokensMatch } from "@tuigate/tuigate/websocket";
 * tokensMatch("s3cret", "s3cret"); // true
 * ```
 */
export function tokensMatch(presented: string, expected: string): boolean {
  if (expected === "") return false; // no token is ever "the empty token"
  const a = encoder.encode(presented);
  const b = encoder.encode(expected);
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/**
 * The subprotocols a request offers, in order.
 *
 * @example
 * ```ts
 * import { offeredSubprotocols } from "@tuigate/tuigate/websocket";
 * const request = new Request("http://127.0.0.1/", { headers: { "sec-websocket-protocol": "tuigate, x" } });
 * offeredSubprotocols(request); // ["tuigate", "x"]
 * ```
 */
export function offeredSubprotocols(request: Request): string[] {
  const header = request.headers.get("sec-websocket-protocol");
  if (header === null) return [];
  return header.split(",").map((p) => p.trim()).filter((p) => p !== "");
}

/**
 * Where a request's token came from, and the token.
 *
 * @example
 * ```ts
 * import { type PresentedToken, presentedToken, tokensMatch } from "@tuigate/tuigate/websocket";
 * const request = new Request("http://127.0.0.1/", { headers: { authorization: "Bearer s3" } });
 * const presented: PresentedToken | undefined = presentedToken(request);
 * const allowed = presented !== undefined && tokensMatch(presented.token, "s3"); // true
 * ```
 */
export interface PresentedToken {
  /** `"header"` for `Authorization: Bearer`, `"subprotocol"` for `tuigate.bearer.<token>`. */
  via: "header" | "subprotocol";
  /** The token. */
  token: string;
}

/**
 * The token a request presents: the `Authorization: Bearer` header if there
 * is one, otherwise a `tuigate.bearer.<token>` subprotocol.
 *
 * @example
 * ```ts
 * import { presentedToken } from "@tuigate/tuigate/websocket";
 * const request = new Request("http://127.0.0.1/", { headers: { authorization: "Bearer s3cret" } });
 * presentedToken(request); // { via: "header", token: "s3cret" }
 * ```
 */
export function presentedToken(request: Request): PresentedToken | undefined {
  const header = request.headers.get("authorization");
  if (header !== null) {
    const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
    return { via: "header", token: match === null ? "" : match[1] };
  }
  for (const protocol of offeredSubprotocols(request)) {
    if (protocol.startsWith(BEARER_SUBPROTOCOL_PREFIX)) {
      return { via: "subprotocol", token: protocol.slice(BEARER_SUBPROTOCOL_PREFIX.length) };
    }
  }
  return undefined;
}

/**
 * Writes a token to `path`, readable and writable by its owner only (mode
 * 0600), atomically: a temporary file in the same folder is renamed over the
 * old one. Missing folders are made with mode 0700.
 *
 * @example
 * ```ts
 * import { generateBearerToken, writeTokenFile } from "@tuigate/tuigate/websocket";
 * await writeTokenFile("/tmp/tuigate-example/token", generateBearerToken());
 * ```
 */
export async function writeTokenFile(path: string, token: string): Promise<void> {
  await writePrivateFile(path, token + "\n");
}

/**
 * Writes text to `path` with mode 0600, atomically (temporary file, then rename).
 *
 * @example
 * ```ts
 * import { writePrivateFile } from "@tuigate/tuigate/websocket";
 * await writePrivateFile("/tmp/tuigate-example/ready.json", "{}\n");
 * ```
 */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o600 });
  try {
    const bytes = encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
  } finally {
    file.close();
  }
  try {
    if (Deno.build.os !== "windows") await Deno.chmod(temporary, 0o600);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}
