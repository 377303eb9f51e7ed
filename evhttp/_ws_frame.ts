/**
 * WebSocket framing (RFC 6455 §5): frames read from an input `Evbuffer` and written to an output
 * one. Reading checks everything §5 makes a protocol error, so the session above only sees whole,
 * valid frames.
 *
 * @module
 */

import type { Evbuffer } from "../bufferevent/evbuffer.ts";

/** Opcodes (RFC 6455 §5.2). @ignore */
export const OP_CONT = 0x0;
/** @ignore */
export const OP_TEXT = 0x1;
/** @ignore */
export const OP_BINARY = 0x2;
/** @ignore */
export const OP_CLOSE = 0x8;
/** @ignore */
export const OP_PING = 0x9;
/** @ignore */
export const OP_PONG = 0xa;

/** A frame taken from the input. @ignore */
export interface WsFrame {
  fin: boolean;
  opcode: number;
  /** Unmasked payload. */
  payload: Uint8Array;
}

/** Why reading stopped: the close code to send (1002 protocol error, 1009 too big). @ignore */
export class WsFrameError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Takes the next whole frame from `input`, or returns null while it is incomplete. Throws
 * `WsFrameError` for a frame the peer must not send: `masked` says whether frames must be
 * masked (client to server) or must not be (server to client); `max` bounds one frame's payload.
 * @ignore
 */
export function readFrame(input: Evbuffer, masked: boolean, max: number): WsFrame | null {
  const avail = input.length;
  if (avail < 2) return null;
  const h = input.pullup(Math.min(avail, 14))!;
  const b0 = h[0];
  const b1 = h[1];
  if ((b0 & 0x70) !== 0) throw new WsFrameError(1002, "reserved bits set without an extension");
  const opcode = b0 & 0x0f;
  const fin = (b0 & 0x80) !== 0;
  if ((opcode > OP_BINARY && opcode < OP_CLOSE) || opcode > OP_PONG) {
    throw new WsFrameError(1002, `reserved opcode ${opcode}`);
  }
  const isMasked = (b1 & 0x80) !== 0;
  if (isMasked !== masked) {
    throw new WsFrameError(1002, masked ? "unmasked client frame" : "masked server frame");
  }
  let len = b1 & 0x7f;
  let off = 2;
  if (opcode >= OP_CLOSE && (len > 125 || !fin)) {
    throw new WsFrameError(1002, "control frame fragmented or over 125 bytes");
  }
  if (len === 126) {
    if (avail < 4) return null;
    len = (h[2] << 8) | h[3];
    off = 4;
  } else if (len === 127) {
    if (avail < 10) return null;
    if ((h[2] & 0x80) !== 0) throw new WsFrameError(1002, "64-bit length with the top bit set");
    const hi = ((h[2] << 24) | (h[3] << 16) | (h[4] << 8) | h[5]) >>> 0;
    const lo = ((h[6] << 24) | (h[7] << 16) | (h[8] << 8) | h[9]) >>> 0;
    len = hi * 0x100000000 + lo;
    off = 10;
  }
  if (len > max) throw new WsFrameError(1009, `frame of ${len} bytes over the ${max}-byte limit`);
  const need = off + (masked ? 4 : 0) + len;
  if (avail < need) return null;
  let key: Uint8Array | null = null;
  if (masked) {
    // Copied: the pullup view dies with the drain below.
    key = h.slice(off, off + 4);
    off += 4;
  }
  input.drain(off);
  const payload = len === 0 ? EMPTY : input.remove(len);
  if (key !== null) {
    const n = payload.length;
    for (let i = 0; i < n; i++) payload[i] ^= key[i & 3];
  }
  return { fin, opcode, payload };
}

/**
 * Appends one frame to `out`. Clients mask their frames with a fresh random key (RFC 6455
 * §5.3); servers never mask. @ignore
 */
export function writeFrame(
  out: Evbuffer,
  opcode: number,
  payload: Uint8Array,
  mask: boolean,
  fin = true,
): void {
  const len = payload.length;
  const head = new Uint8Array(14);
  head[0] = (fin ? 0x80 : 0) | opcode;
  let off: number;
  const m = mask ? 0x80 : 0;
  if (len < 126) {
    head[1] = m | len;
    off = 2;
  } else if (len < 65536) {
    head[1] = m | 126;
    head[2] = len >>> 8;
    head[3] = len & 0xff;
    off = 4;
  } else {
    head[1] = m | 127;
    const hi = Math.floor(len / 0x100000000);
    const lo = len >>> 0;
    head[2] = hi >>> 24;
    head[3] = (hi >>> 16) & 0xff;
    head[4] = (hi >>> 8) & 0xff;
    head[5] = hi & 0xff;
    head[6] = lo >>> 24;
    head[7] = (lo >>> 16) & 0xff;
    head[8] = (lo >>> 8) & 0xff;
    head[9] = lo & 0xff;
    off = 10;
  }
  if (!mask) {
    out.add(head.subarray(0, off));
    if (len > 0) out.add(payload);
    return;
  }
  const key = crypto.getRandomValues(new Uint8Array(4));
  head.set(key, off);
  off += 4;
  out.add(head.subarray(0, off));
  if (len === 0) return;
  const body = new Uint8Array(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ key[i & 3];
  out.addReference(body);
}
