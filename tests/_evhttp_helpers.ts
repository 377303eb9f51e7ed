// Helpers for the evhttp server tests: a server on an ephemeral loopback port with its loop
// running, and a raw-socket client that sends bytes and parses whole responses.

import { Evhttp, type EvhttpConnection } from "../evhttp/mod.ts";
import { EV_TIMEOUT, EventBase } from "../reactor/mod.ts";
import { concat } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One parsed response. */
export interface RawResponse {
  version: string;
  status: number;
  reason: string;
  /** Header fields in order, names as sent. */
  fields: [string, string][];
  /** Lowercase name → value (duplicates joined with ", "). */
  headers: Map<string, string>;
  body: Uint8Array;
  text: string;
  /** The whole response as text (head and body as received). */
  raw: string;
}

/** A raw TCP client with a receive buffer. */
export class RawClient {
  conn: Deno.TcpConn;
  #buf = new Uint8Array(0);
  #eof = false;
  #scratch = new Uint8Array(65536);

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async send(data: string | Uint8Array): Promise<void> {
    const b = typeof data === "string" ? enc.encode(data) : data;
    let off = 0;
    while (off < b.length) off += await this.conn.write(b.subarray(off));
  }

  /** Reads more bytes; false at EOF (or on a reset). */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    let n: number | null;
    try {
      n = await this.conn.read(this.#scratch);
    } catch {
      n = null;
    }
    if (n === null) {
      this.#eof = true;
      return false;
    }
    const nb = new Uint8Array(this.#buf.length + n);
    nb.set(this.#buf);
    nb.set(this.#scratch.subarray(0, n), this.#buf.length);
    this.#buf = nb;
    return true;
  }

  /** Bytes buffered but not consumed yet. */
  get pending(): number {
    return this.#buf.length;
  }

  /**
   * Reads one complete response. `head`: the request was HEAD (no body). Returns null at EOF
   * before a status line.
   */
  async response(opts: { head?: boolean } = {}): Promise<RawResponse | null> {
    let headEnd = -1;
    for (;;) {
      headEnd = findCrlfCrlf(this.#buf);
      if (headEnd >= 0) break;
      if (!(await this.#fill())) {
        if (this.#buf.length === 0) return null;
        throw new Error(`EOF inside a response head: ${JSON.stringify(dec.decode(this.#buf))}`);
      }
    }
    const headText = dec.decode(this.#buf.subarray(0, headEnd));
    const lines = headText.split("\r\n");
    const m = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (m === null) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
    const fields: [string, string][] = [];
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(":");
      const k = l.slice(0, c);
      const v = l.slice(c + 1).trim();
      fields.push([k, v]);
      const lk = k.toLowerCase();
      headers.set(lk, headers.has(lk) ? headers.get(lk) + ", " + v : v);
    }
    const status = Number(m[2]);
    let pos = headEnd + 4;
    let body: Uint8Array;
    const noBody = opts.head || (status >= 100 && status < 200) || status === 204 ||
      status === 304;
    if (noBody) {
      body = new Uint8Array(0);
    } else if ((headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked")) {
      const parts: Uint8Array[] = [];
      for (;;) {
        let eol = indexOfCrlf(this.#buf, pos);
        while (eol < 0) {
          if (!(await this.#fill())) throw new Error("EOF in chunk size");
          eol = indexOfCrlf(this.#buf, pos);
        }
        const size = parseInt(dec.decode(this.#buf.subarray(pos, eol)), 16);
        pos = eol + 2;
        while (this.#buf.length < pos + size + 2) {
          if (!(await this.#fill())) throw new Error("EOF in chunk data");
        }
        if (size === 0) {
          // No trailers from this server: the last chunk is followed by CRLF.
          pos += 2;
          break;
        }
        parts.push(this.#buf.slice(pos, pos + size));
        pos += size + 2;
      }
      body = concat(...parts);
    } else if (headers.has("content-length")) {
      const n = Number(headers.get("content-length"));
      while (this.#buf.length < pos + n) {
        if (!(await this.#fill())) throw new Error("EOF in body");
      }
      body = this.#buf.slice(pos, pos + n);
      pos += n;
    } else {
      while (await this.#fill()) { /* until EOF */ }
      body = this.#buf.slice(pos);
      pos = this.#buf.length;
    }
    const raw = dec.decode(this.#buf.subarray(0, pos));
    this.#buf = this.#buf.slice(pos);
    return {
      version: m[1]!,
      status,
      reason: m[3]!,
      fields,
      headers,
      body,
      text: dec.decode(body),
      raw,
    };
  }

  /** Waits for EOF; returns whatever arrived before it (as text). */
  async readToEof(): Promise<string> {
    while (await this.#fill()) { /* keep reading */ }
    const s = dec.decode(this.#buf);
    this.#buf = new Uint8Array(0);
    return s;
  }

  /** True when the server closes the connection (EOF or reset) before sending anything more. */
  async closedByPeer(): Promise<boolean> {
    const before = this.#buf.length;
    while (await this.#fill()) { /* keep reading */ }
    return this.#buf.length === before;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

function findCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function indexOfCrlf(b: Uint8Array, from: number): number {
  for (let i = from; i + 1 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10) return i;
  return -1;
}

/** A running server for one test. */
export interface TestServer {
  base: EventBase;
  http: Evhttp;
  port: number;
}

/**
 * Runs `fn` against a server configured by `setup`, with its loop running; frees everything
 * afterwards and waits for the loop to end.
 */
export async function withServer(
  setup: (http: Evhttp, base: EventBase) => void,
  fn: (s: TestServer) => Promise<void>,
): Promise<void> {
  const base = new EventBase();
  const http = new Evhttp(base);
  setup(http, base);
  const bound = http.bindSocket("127.0.0.1", 0);
  const port = (bound.addr as Deno.NetAddr).port;
  const loop = base.dispatch();
  try {
    await fn({ base, http, port });
  } finally {
    http.free();
    await loop;
    base.free();
  }
}

/** Sends `request` on a new connection and returns the first response (connection closed). */
export async function exchange(
  port: number,
  request: string | Uint8Array,
  opts: { head?: boolean } = {},
): Promise<RawResponse | null> {
  const c = await RawClient.connect(port);
  try {
    await c.send(request);
    return await c.response(opts);
  } finally {
    c.close();
  }
}

// ----------------------------------------------------------------------------- fake servers

/** A fake server started by `withFake`. */
export interface FakeServer {
  port: number;
  /** Connections accepted so far. */
  accepted: number;
}

/** Reads from `conn` until `buf` holds a complete request head; returns [head, rest]. */
export class Reader {
  buf = new Uint8Array(0);
  #scratch = new Uint8Array(65536);
  constructor(readonly conn: Deno.Conn) {}

  async fill(): Promise<boolean> {
    let n: number | null;
    try {
      n = await this.conn.read(this.#scratch);
    } catch {
      n = null;
    }
    if (n === null) return false;
    const nb = new Uint8Array(this.buf.length + n);
    nb.set(this.buf);
    nb.set(this.#scratch.subarray(0, n), this.buf.length);
    this.buf = nb;
    return true;
  }

  /** One request head (and its Content-Length body); null at EOF. */
  async request(): Promise<{ head: string; body: string } | null> {
    for (;;) {
      const s = dec.decode(this.buf);
      const end = s.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = s.slice(0, end);
        const m = /content-length: *(\d+)/i.exec(head);
        const len = m === null ? 0 : Number(m[1]);
        while (this.buf.length < end + 4 + len) {
          if (!(await this.fill())) return null;
        }
        const body = dec.decode(this.buf.subarray(end + 4, end + 4 + len));
        this.buf = this.buf.slice(end + 4 + len);
        return { head, body };
      }
      if (!(await this.fill())) return null;
    }
  }

  /** Waits until `n` request heads are buffered; false at EOF. */
  async heads(n: number): Promise<boolean> {
    while ((dec.decode(this.buf).match(/\r\n\r\n/g) ?? []).length < n) {
      if (!(await this.fill())) return false;
    }
    return true;
  }

  /** Reads until EOF. */
  async drainToEof(): Promise<void> {
    while (await this.fill()) { /* discard */ }
  }
}

/** Writes everything, swallowing errors (the peer may be gone). */
export async function writeAllQuiet(
  conn: Deno.Conn,
  data: string | Uint8Array,
): Promise<void> {
  const b = typeof data === "string" ? enc.encode(data) : data;
  let off = 0;
  try {
    while (off < b.length) off += await conn.write(b.subarray(off));
  } catch { /* the client went away */ }
}

/**
 * A raw TCP server: `handler(conn, index)` runs for every accepted connection. Everything is
 * closed and awaited after `fn`.
 */
export async function withFake(
  handler: (conn: Deno.TcpConn, index: number) => Promise<void>,
  fn: (s: FakeServer) => Promise<void>,
  port = 0,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const s: FakeServer = { port: (listener.addr as Deno.NetAddr).port, accepted: 0 };
  const conns = new Set<Deno.TcpConn>();
  const tasks: Promise<void>[] = [];
  const acceptLoop = (async () => {
    for (;;) {
      let c: Deno.TcpConn;
      try {
        c = await listener.accept();
      } catch {
        return;
      }
      conns.add(c);
      const idx = s.accepted++;
      tasks.push(
        handler(c, idx).catch(() => {}).finally(() => {
          if (conns.delete(c)) {
            try {
              c.close();
            } catch { /* closed by the handler */ }
          }
        }),
      );
    }
  })();
  try {
    await fn(s);
  } finally {
    listener.close();
    await acceptLoop;
    for (const c of conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    conns.clear();
    await Promise.all(tasks);
  }
}

/**
 * Runs `fn` with a base whose loop runs meanwhile (kept alive by a long timer between requests);
 * frees the client connections `track` was given, then the base.
 */
export async function withClient(
  fn: (base: EventBase, track: (c: EvhttpConnection) => EvhttpConnection) => Promise<void>,
): Promise<void> {
  const base = new EventBase();
  const conns: EvhttpConnection[] = [];
  base.once(null, EV_TIMEOUT, () => {}, undefined, 600_000);
  const loop = base.dispatch();
  try {
    await fn(base, (c) => {
      conns.push(c);
      return c;
    });
  } finally {
    for (const c of conns) c.free();
    base.loopbreak();
    await loop;
    base.free();
  }
}
