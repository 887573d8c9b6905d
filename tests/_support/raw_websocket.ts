/**
 * Test support: a WebSocket client written by hand over `Deno.connect`, for
 * what a real client library hides: arbitrary handshake headers (a foreign
 * `Host`), the refusal's HTTP status, a client that stops reading its
 * socket, and one that never answers pings.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Options for {@linkcode rawUpgrade}. */
export interface RawUpgradeOptions {
  /** The host to connect to. @default {"127.0.0.1"} */
  hostname?: string;
  /** The request path. @default {"/"} */
  path?: string;
  /** The `Host` header. @default {`${hostname}:${port}`} */
  host?: string;
  /** Further headers, for example `Authorization` or `Origin`. */
  headers?: Record<string, string>;
}

/** A WebSocket frame read from the server. */
export interface RawFrame {
  /** The opcode: 1 text, 2 binary, 8 close, 9 ping, 10 pong. */
  opcode: number;
  /** The payload. */
  payload: Uint8Array;
  /** The payload as text. */
  text: string;
  /** For a close frame, its code. */
  closeCode?: number;
  /** For a close frame, its reason. */
  closeReason?: string;
}

/** The answer to the upgrade request. */
export interface RawUpgradeResult {
  /** The HTTP status (101 when upgraded). */
  status: number;
  /** The response headers (names lower-cased). */
  headers: Record<string, string>;
  /** The body of a refusal (as far as it was read). */
  body: string;
  /** The open connection when upgraded. */
  socket: RawWebSocket | undefined;
}

/** An upgraded connection driven by hand. */
export class RawWebSocket {
  /** The TCP connection. */
  readonly conn: Deno.TcpConn;
  #buffer: Uint8Array;
  #start = 0;
  #closed = false;

  /** Use {@linkcode rawUpgrade}. */
  constructor(conn: Deno.TcpConn, leftover: Uint8Array) {
    this.conn = conn;
    this.#buffer = leftover;
  }

  /** Sends a text message (masked, as a client must). */
  async sendText(text: string): Promise<void> {
    await this.#writeFrame(1, encoder.encode(text));
  }

  /** Sends a text frame of raw bytes (which need not be UTF-8). */
  async sendTextBytes(bytes: Uint8Array): Promise<void> {
    await this.#writeFrame(1, bytes);
  }

  /** Sends a pong. */
  async sendPong(payload = new Uint8Array()): Promise<void> {
    await this.#writeFrame(10, payload);
  }

  /** Sends a close frame. */
  async sendClose(code = 1000): Promise<void> {
    await this.#writeFrame(8, new Uint8Array([code >> 8, code & 0xff]));
  }

  async #writeFrame(opcode: number, payload: Uint8Array): Promise<void> {
    const header: number[] = [0x80 | opcode];
    if (payload.length < 126) header.push(0x80 | payload.length);
    else if (payload.length < 65536) {
      header.push(0x80 | 126, payload.length >> 8, payload.length & 0xff);
    } else {
      header.push(0x80 | 127, 0, 0, 0, 0);
      const n = payload.length;
      header.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
    }
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const frame = new Uint8Array(header.length + 4 + payload.length);
    frame.set(header, 0);
    frame.set(mask, header.length);
    for (let i = 0; i < payload.length; i++) {
      frame[header.length + 4 + i] = payload[i] ^ mask[i & 3];
    }
    let offset = 0;
    while (offset < frame.length) offset += await this.conn.write(frame.subarray(offset));
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(256 * 1024);
    const n = await this.conn.read(chunk).catch(() => null);
    if (n === null) return false;
    const live = this.#buffer.subarray(this.#start);
    const next = new Uint8Array(live.length + n);
    next.set(live);
    next.set(chunk.subarray(0, n), live.length);
    this.#buffer = next;
    this.#start = 0;
    return true;
  }

  /** Reads the next frame; `undefined` at end of stream. */
  async readFrame(): Promise<RawFrame | undefined> {
    for (;;) {
      const frame = this.#parse();
      if (frame !== undefined) return frame;
      if (!(await this.#fill())) return undefined;
    }
  }

  /** Reads frames until one matches (answering nothing); `undefined` at end of stream. */
  async readUntil(match: (frame: RawFrame) => boolean): Promise<RawFrame | undefined> {
    for (;;) {
      const frame = await this.readFrame();
      if (frame === undefined || match(frame)) return frame;
    }
  }

  #parse(): RawFrame | undefined {
    const b = this.#buffer;
    const s = this.#start;
    const available = b.length - s;
    if (available < 2) return undefined;
    const opcode = b[s] & 0x0f;
    let length = b[s + 1] & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (available < 4) return undefined;
      length = (b[s + 2] << 8) | b[s + 3];
      offset = 4;
    } else if (length === 127) {
      if (available < 10) return undefined;
      length = 0;
      for (let i = 2; i < 10; i++) length = length * 256 + b[s + i];
      offset = 10;
    }
    if (available < offset + length) return undefined;
    const payload = b.slice(s + offset, s + offset + length);
    this.#start = s + offset + length;
    const frame: RawFrame = { opcode, payload, text: decoder.decode(payload) };
    if (opcode === 8 && payload.length >= 2) {
      frame.closeCode = (payload[0] << 8) | payload[1];
      frame.closeReason = decoder.decode(payload.subarray(2));
    }
    return frame;
  }

  /** Closes the TCP connection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * Connects and sends a WebSocket upgrade request with exactly the headers
 * given; resolves with the status and, when upgraded, the connection.
 */
export async function rawUpgrade(
  port: number,
  options: RawUpgradeOptions = {},
): Promise<RawUpgradeResult> {
  const hostname = options.hostname ?? "127.0.0.1";
  const conn = await Deno.connect({ hostname, port });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const lines = [
    `GET ${options.path ?? "/"} HTTP/1.1`,
    `Host: ${options.host ?? `${hostname}:${port}`}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
    ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ];
  await conn.write(encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
  let received = new Uint8Array();
  const chunk = new Uint8Array(64 * 1024);
  let end = -1;
  while (end === -1) {
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) break;
    const next = new Uint8Array(received.length + n);
    next.set(received);
    next.set(chunk.subarray(0, n), received.length);
    received = next;
    end = indexOfHeaderEnd(received);
  }
  if (end === -1) {
    conn.close();
    return { status: 0, headers: {}, body: "", socket: undefined };
  }
  const head = decoder.decode(received.subarray(0, end)).split("\r\n");
  const status = Number(head[0].split(" ")[1]);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
  }
  const rest = received.slice(end + 4);
  if (status === 101) {
    return { status, headers, body: "", socket: new RawWebSocket(conn, rest) };
  }
  let body = decoder.decode(rest);
  const length = Number(headers["content-length"] ?? 0);
  while (encoder.encode(body).length < length) {
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) break;
    body += decoder.decode(chunk.subarray(0, n));
  }
  conn.close();
  return { status, headers, body, socket: undefined };
}

function indexOfHeaderEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}
