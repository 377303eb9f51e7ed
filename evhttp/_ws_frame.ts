/**
 * WebSocket framing (RFC 6455 §5): frames read from an input `Evbuffer` and written to an output
 * one. Reading checks everything §5 makes a protocol error, so the session above only sees whole,
 * valid frames.
 *
 * @module
 */

import type { Evbuffer } from "../bufferevent/evbuffer.ts";
import { defaultPool, type PooledBlock } from "../bufferevent/_pool.ts";

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
  // Control frames are already capped at 125 bytes; the limit is on messages.
  if (opcode < OP_CLOSE && len > max) {
    throw new WsFrameError(1009, `frame of ${len} bytes over the ${max}-byte limit`);
  }
  const need = off + (masked ? 4 : 0) + len;
  if (avail < need) return null;
  if (len === 0) {
    input.drain(need);
    return { fin, opcode, payload: EMPTY };
  }
  // Copied straight out of the chunks (a frame spanning two read blocks is not linearized
  // first), then unmasked in place: the copy is native and the fresh array word-aligned.
  const payload = input.copyoutFrom(need - len, len);
  if (masked) xorMask(payload, payload, h.slice(off, off + 4));
  input.drain(need);
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
  arena: FrameArena | null = null,
): void {
  const len = payload.length;
  const hlen = (len < 126 ? 2 : len < 65536 ? 4 : 10) + (mask ? 4 : 0);
  // Small frames are appended into the output's tail chunk; a large one becomes a single chunk
  // of its own (head and payload together), so the write hands it over without another copy.
  const whole = len >= LARGE_FRAME;
  let buf: Uint8Array = headScratch;
  let block: PooledBlock | null = null;
  let start = 0;
  if (whole) {
    if (arena !== null && hlen + len + 3 <= arenaSize) {
      start = arena.take(hlen, len, mask);
      block = arena.block!;
      buf = block.buf.subarray(start, start + hlen + len);
    } else buf = new Uint8Array(hlen + len);
  }
  buf[0] = (fin ? 0x80 : 0) | opcode;
  const m = mask ? 0x80 : 0;
  if (len < 126) buf[1] = m | len;
  else if (len < 65536) {
    buf[1] = m | 126;
    buf[2] = len >>> 8;
    buf[3] = len & 0xff;
  } else {
    buf[1] = m | 127;
    const hi = Math.floor(len / 0x100000000);
    const lo = len >>> 0;
    buf[2] = hi >>> 24;
    buf[3] = (hi >>> 16) & 0xff;
    buf[4] = (hi >>> 8) & 0xff;
    buf[5] = hi & 0xff;
    buf[6] = lo >>> 24;
    buf[7] = (lo >>> 16) & 0xff;
    buf[8] = (lo >>> 8) & 0xff;
    buf[9] = lo & 0xff;
  }
  let key: Uint8Array | null = null;
  if (mask) {
    key = buf.subarray(hlen - 4, hlen);
    crypto.getRandomValues(key);
  }
  if (whole) {
    const body = buf.subarray(hlen);
    if (key !== null) xorMask(payload, body, key.slice());
    else body.set(payload);
    if (block !== null) out._addShared(block, start, start + hlen + len);
    else out.addReference(buf);
    return;
  }
  out.add(buf.subarray(0, hlen));
  if (len === 0) return;
  if (key === null) {
    out.add(payload);
    return;
  }
  const body = new Uint8Array(len);
  xorMask(payload, body, key.slice());
  out.add(body);
}

/** Frames from this size on are written as one chunk of their own. */
const LARGE_FRAME = 4096;

/** Largest frame (head, alignment and payload) laid out in an arena block. */
const arenaSize = defaultPool.blockSize;

/**
 * Where one connection lays out its large frames: one after another in pooled 64 KiB blocks,
 * instead of a fresh zeroed array per frame (that allocation cost a fifth of the CPU of a 16 KiB
 * echo). Each frame's chunk in the output holds a reference on its block, so a block returns to
 * the pool once its frames are written and the arena has moved on or let go; consecutive frames
 * of one block merge into one chunk and leave in one write. A connection's arena holds its block
 * only while it has output waiting ({@linkcode FrameArena.release} when the output drains), so
 * idle connections pin nothing and a slow one pins no more than its own pending frames.
 * @ignore
 */
export class FrameArena {
  /** The block being filled. @ignore */
  block: PooledBlock | null = null;
  #pos = 0;

  /**
   * Reserves a frame of `hlen + len` bytes in {@linkcode block} and returns its offset; with
   * `align` the body (after the head) starts on a word boundary, so unmasking runs a word at a
   * time. @ignore
   */
  take(hlen: number, len: number, align: boolean): number {
    let at = align ? this.#pos + ((4 - ((this.#pos + hlen) & 3)) & 3) : this.#pos;
    if (this.block === null || at + hlen + len > arenaSize) {
      this.block?.release();
      this.block = defaultPool.acquire();
      at = align ? (4 - (hlen & 3)) & 3 : 0;
    }
    this.#pos = at + hlen + len;
    return at;
  }

  /** Lets go of the current block (it recycles once its frames are written). @ignore */
  release(): void {
    const b = this.block;
    if (b === null) return;
    this.block = null;
    this.#pos = 0;
    b.release();
  }
}
const headScratch = new Uint8Array(14);

/**
 * `dst[i] = src[i] ^ key[i % 4]`, four bytes at a time where both are word-aligned (a 16 KiB
 * message unmasked byte by byte cost more CPU than everything else per message).
 */
function xorMask(src: Uint8Array, dst: Uint8Array, key: Uint8Array): void {
  const n = src.length;
  let i = 0;
  if ((dst.byteOffset & 3) === 0 && (src.byteOffset & 3) === 0 && n >= 16) {
    const words = n >>> 2;
    const s32 = new Uint32Array(src.buffer, src.byteOffset, words);
    const d32 = new Uint32Array(dst.buffer, dst.byteOffset, words);
    // The key as the platform's word: the bytes XOR in the same order either way.
    const k32 = new Uint32Array(key.buffer.slice(key.byteOffset, key.byteOffset + 4))[0];
    // Unrolled: V8 does not, and eight words per turn ran 2.8x faster than one here.
    let w = 0;
    for (const n8 = words & ~7; w < n8; w += 8) {
      d32[w] = s32[w] ^ k32;
      d32[w + 1] = s32[w + 1] ^ k32;
      d32[w + 2] = s32[w + 2] ^ k32;
      d32[w + 3] = s32[w + 3] ^ k32;
      d32[w + 4] = s32[w + 4] ^ k32;
      d32[w + 5] = s32[w + 5] ^ k32;
      d32[w + 6] = s32[w + 6] ^ k32;
      d32[w + 7] = s32[w + 7] ^ k32;
    }
    for (; w < words; w++) d32[w] = s32[w] ^ k32;
    i = words << 2;
  }
  for (; i < n; i++) dst[i] = src[i] ^ key[i & 3];
}
