/**
 * The checks a WebSocket upgrade request passes before it is upgraded: the
 * `Host` header (DNS rebinding), the browser `Origin`, and the bearer token.
 *
 * @module
 */

import {
  BEARER_SUBPROTOCOL_PREFIX,
  offeredSubprotocols,
  presentedToken,
  tokensMatch,
  TUIGATE_SUBPROTOCOL,
} from "./bearer_token.ts";
import {
  isIpv4Literal,
  isIpv6Literal,
  isLoopbackHost,
  isWildcardHost,
  type ListeningAddress,
  unbracket,
} from "./listen_address.ts";

/**
 * What an {@linkcode UpgradeGuard} enforces.
 *
 * @example
 * ```ts
 * import { listeningAddress, UpgradeGuard, type UpgradePolicy } from "@tuigate/tuigate/websocket";
 * const policy: UpgradePolicy = {
 *   token: "s3cret",
 *   address: listeningAddress("127.0.0.1", 8765),
 *   allowOrigins: ["https://app.example"],
 * };
 * const guard = new UpgradeGuard(policy);
 * ```
 */
export interface UpgradePolicy {
  /** The bearer token every connection must present. */
  token: string;
  /** The address the server listens on (its port is the one bound). */
  address: ListeningAddress;
  /**
   * Browser origins allowed (`"https://app.example"`; `"*"` allows any). A
   * request without an `Origin` header (not a browser) is not affected.
   * @default {[]}
   */
  allowOrigins?: readonly string[];
  /**
   * Extra host names accepted in the `Host` header, besides the listening address.
   * @default {[]}
   */
  allowHosts?: readonly string[];
}

/**
 * Why an upgrade was refused.
 *
 * @example
 * ```ts
 * import type { RefusalKind } from "@tuigate/tuigate/websocket";
 * const refused: Record<RefusalKind, number> = { host: 0, origin: 0, token: 0, "not-upgrade": 0 };
 * const count = (kind: RefusalKind) => refused[kind]++;
 * ```
 */
export type RefusalKind = "host" | "origin" | "token" | "not-upgrade";

/**
 * The outcome of {@linkcode UpgradeGuard.check}.
 *
 * @example
 * ```ts
 * import { listeningAddress, UpgradeGuard } from "@tuigate/tuigate/websocket";
 * import type { UpgradeDecision } from "@tuigate/tuigate/websocket";
 * const guard = new UpgradeGuard({ token: "s3", address: listeningAddress("127.0.0.1", 8765) });
 * Deno.serve({ port: 8765 }, (request) => {
 *   const decision: UpgradeDecision = guard.check(request);
 *   if (!decision.ok) return new Response(decision.reason, { status: decision.status });
 *   return Deno.upgradeWebSocket(request, { protocol: decision.protocol }).response;
 * });
 * ```
 */
export type UpgradeDecision =
  | {
    ok: true;
    /** The subprotocol to select in the response, if any. */
    protocol: string | undefined;
    /** How the token was presented. */
    via: "header" | "subprotocol";
  }
  | {
    ok: false;
    /** The HTTP status to answer with (400, 401, 403, 421 or 426). */
    status: number;
    /** What was wrong. */
    kind: RefusalKind;
    /** A one-line reason, sent as the body and logged (never contains the token). */
    reason: string;
  };

/**
 * Checks upgrade requests, in this order: `Host` (400 when missing, 421
 * when it is not the listening address: DNS rebinding), `Origin` (403 when
 * present and not allowed), bearer token (401 when missing or wrong), and
 * finally that it is a WebSocket upgrade at all (426).
 *
 * @example
 * ```ts
 * import { listeningAddress, UpgradeGuard } from "@tuigate/tuigate/websocket";
 * const guard = new UpgradeGuard({ token: "s3cret", address: listeningAddress("127.0.0.1", 8080) });
 * const decision = guard.check(new Request("http://127.0.0.1:8080/"));
 * // decision.ok === false, decision.status === 401
 * ```
 */
export class UpgradeGuard {
  #token: string;
  #address: ListeningAddress;
  #origins: Set<string>;
  #anyOrigin: boolean;
  #hosts: Set<string>;

  /** Makes a guard for a policy. */
  constructor(policy: UpgradePolicy) {
    this.#token = policy.token;
    this.#address = policy.address;
    const origins = (policy.allowOrigins ?? []).map(normaliseOrigin);
    this.#anyOrigin = origins.includes("*");
    this.#origins = new Set(origins);
    this.#hosts = new Set((policy.allowHosts ?? []).map((h) => unbracket(h.trim().toLowerCase())));
  }

  /** Decides whether a request may be upgraded. */
  check(request: Request): UpgradeDecision {
    const host = request.headers.get("host");
    if (host === null || host.trim() === "") {
      return { ok: false, status: 400, kind: "host", reason: "Missing Host header" };
    }
    if (!this.#hostAllowed(host.trim())) {
      return {
        ok: false,
        status: 421,
        kind: "host",
        reason: `Host ${
          JSON.stringify(host.slice(0, 100))
        } is not the listening address ${this.#address.host}:${this.#address.port}`,
      };
    }
    const origin = request.headers.get("origin");
    if (origin !== null && !this.#anyOrigin && !this.#origins.has(normaliseOrigin(origin))) {
      return {
        ok: false,
        status: 403,
        kind: "origin",
        reason: `Origin ${
          JSON.stringify(origin.slice(0, 200))
        } is not allowed (see --allow-origin)`,
      };
    }
    const presented = presentedToken(request);
    if (presented === undefined) {
      return {
        ok: false,
        status: 401,
        kind: "token",
        reason:
          "Missing bearer token (Authorization: Bearer or the tuigate.bearer.<token> subprotocol)",
      };
    }
    if (!tokensMatch(presented.token, this.#token)) {
      return { ok: false, status: 401, kind: "token", reason: "Invalid bearer token" };
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return {
        ok: false,
        status: 426,
        kind: "not-upgrade",
        reason: "Expected a WebSocket upgrade request",
      };
    }
    const offered = offeredSubprotocols(request);
    let protocol: string | undefined;
    if (offered.includes(TUIGATE_SUBPROTOCOL)) protocol = TUIGATE_SUBPROTOCOL;
    else if (presented.via === "subprotocol") {
      protocol = offered.find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
    }
    return { ok: true, protocol, via: presented.via };
  }

  #hostAllowed(header: string): boolean {
    const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(header);
    if (match === null) return false;
    const name = unbracket(match[1]).toLowerCase();
    const port = match[2] === undefined ? 80 : Number(match[2]);
    if (port !== this.#address.port || name === "") return false;
    if (this.#hosts.has(name)) return true;
    const bound = unbracket(this.#address.host).toLowerCase();
    if (name === bound) return true;
    if (isLoopbackHost(bound)) return isLoopbackHost(name);
    if (isWildcardHost(bound)) {
      return name === "localhost" || isIpv4Literal(name) || isIpv6Literal(name);
    }
    return false;
  }
}

function normaliseOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, "");
}
