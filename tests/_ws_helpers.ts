// Raw WebSocket helpers for the tests: client frames, a reader of the server's head and frames.
import assert from "node:assert/strict";
import { bounded, concat } from "./_helpers.ts";

export { concat };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A client handshake for `/ws` (libevent's regress key). */
export const HANDSHAKE =
  "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/** A client frame, masked unless `mask` is false. */
export function frame(
  opcode: number,
  payload: Uint8Array | string,
  fin = true,
  mask = true,
): Uint8Array {
  const p = typeof payload === "string" ? enc.encode(payload) : payload;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (p.length < 126) head.push(m | p.length);
  else if (p.length < 65536) head.push(m | 126, p.length >> 8, p.length & 255);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push(
      (p.length >>> 24) & 255,
      (p.length >>> 16) & 255,
      (p.length >>> 8) & 255,
      p.length & 255,
    );
  }
  const key = [0x37, 0xfa, 0x21, 0x3d];
  if (mask) head.push(...key);
  const out = new Uint8Array(head.length + p.length);
  out.set(head);
  for (let i = 0; i < p.length; i++) out[head.length + i] = mask ? p[i] ^ key[i & 3] : p[i];
  return out;
}

/** A close frame payload. */
export function closePayload(code: number, reason: Uint8Array | string = ""): Uint8Array {
  const r = typeof reason === "string" ? enc.encode(reason) : reason;
  return concat(new Uint8Array([code >> 8, code & 255]), r);
}

/** A frame as the reader returns it. */
export type Frame = { fin: boolean; opcode: number; payload: Uint8Array };

/** Reads raw bytes from a socket and parses server (unmasked) frames and the response head. */
export class FrameReader {
  #buf = new Uint8Array(0);
  #eof = false;
  constructor(readonly conn: Deno.Conn) {}

  async #more(): Promise<boolean> {
    const b = new Uint8Array(65536);
    let n: number | null;
    try {
      n = await bounded(this.conn.read(b), 3000, "socket read");
    } catch (e) {
      if (e instanceof Error && e.message.startsWith("timed out")) throw e;
      n = null; // reset
    }
    if (n === null) {
      this.#eof = true;
      return false;
    }
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(b.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /** The response head (up to the blank line). */
  async head(): Promise<string> {
    for (;;) {
      const s = dec.decode(this.#buf);
      const i = s.indexOf("\r\n\r\n");
      if (i >= 0) {
        this.#buf = this.#buf.subarray(enc.encode(s.slice(0, i + 4)).length);
        return s.slice(0, i + 4);
      }
      if (!await this.#more()) throw new Error("EOF before the response head");
    }
  }

  /** The next frame, or null at EOF. */
  async frame(): Promise<Frame | null> {
    for (;;) {
      const b = this.#buf;
      if (b.length >= 2) {
        assert.equal(b[1] & 0x80, 0, "server frames are not masked");
        let len = b[1] & 0x7f;
        let off = 2;
        if (len === 126 && b.length >= 4) {
          len = (b[2] << 8) | b[3];
          off = 4;
        } else if (len === 127 && b.length >= 10) {
          len = ((b[6] << 24) | (b[7] << 16) | (b[8] << 8) | b[9]) >>> 0;
          off = 10;
        } else if (len >= 126) len = Infinity;
        if (b.length >= off + len) {
          this.#buf = b.subarray(off + len);
          return {
            fin: (b[0] & 0x80) !== 0,
            opcode: b[0] & 0x0f,
            payload: b.slice(off, off + len),
          };
        }
      }
      if (this.#eof || !await this.#more()) return null;
    }
  }

  /** Whether the server closed the TCP connection (after any frames left). */
  async eof(): Promise<boolean> {
    while (!this.#eof) if (!await this.#more()) break;
    return this.#eof;
  }

  /** Bytes received but not parsed yet. */
  get pending(): number {
    return this.#buf.length;
  }
}

/** The status code of a close payload (1005: none). */
export function closeCode(p: Uint8Array): number {
  return p.length >= 2 ? (p[0] << 8) | p[1] : 1005;
}

/** Reads the server's 1001 close at a shutdown, answers it, then awaits the EOF and `done`. */
export async function answerShutdownClose(
  c: { send(data: Uint8Array): Promise<void> },
  r: FrameReader,
  done: Promise<void>,
): Promise<void> {
  const f = await bounded(r.frame(), 1500, "close frame 1001");
  assert.equal(f?.opcode, 8);
  assert.equal(closeCode(f!.payload), 1001);
  await c.send(frame(8, f!.payload));
  assert.ok(await r.eof());
  await bounded(done, 3000, "shutdown");
}
