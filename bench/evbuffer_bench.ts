/**
 * Evbuffer micro-benchmarks, each group against a naive baseline that keeps one contiguous
 * Uint8Array and concatenates (copies) on every append.
 *
 *   deno bench --allow-all bench/evbuffer_bench.ts
 *
 * @module
 */

import { Evbuffer } from "../bufferevent/evbuffer.ts";
import { EVBUFFER_EOL_CRLF } from "../bufferevent/constants.ts";
import { BlockPool } from "../bufferevent/_pool.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function naiveSearch(hay: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  for (let i = hay.indexOf(first); i >= 0 && i + needle.length <= hay.length;) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
    i = hay.indexOf(first, i + 1);
  }
  return -1;
}

let sink = 0;

// ---- add + drain: 16 messages of 64 B, then everything drained (a request/response cycle).
const msg64 = new Uint8Array(64).fill(0x61);
const evb64 = new Evbuffer();
Deno.bench("Evbuffer add 16×64 B + drain", { group: "add64" }, () => {
  for (let i = 0; i < 16; i++) evb64.add(msg64);
  evb64.drain(evb64.length);
});
let acc64: Uint8Array = new Uint8Array(0);
Deno.bench("concat add 16×64 B + drain", { group: "add64", baseline: true }, () => {
  for (let i = 0; i < 16; i++) acc64 = concat(acc64, msg64);
  acc64 = acc64.subarray(acc64.length);
});
const str64 = "x".repeat(62) + "\r\n";
const evbStr = new Evbuffer();
Deno.bench("Evbuffer add 16×64-char strings + drain", { group: "add64" }, () => {
  for (let i = 0; i < 16; i++) evbStr.add(str64);
  evbStr.drain(evbStr.length);
});

// ---- add + drain of 16 KiB chunks, four at a time.
const msg16k = new Uint8Array(16384).fill(0x62);
const evb16 = new Evbuffer();
Deno.bench("Evbuffer add 4×16 KiB + drain", { group: "add16k" }, () => {
  for (let i = 0; i < 4; i++) evb16.add(msg16k);
  evb16.drain(evb16.length);
});
Deno.bench("Evbuffer addReference 4×16 KiB + drain", { group: "add16k" }, () => {
  for (let i = 0; i < 4; i++) evb16.addReference(msg16k);
  evb16.drain(evb16.length);
});
let acc16: Uint8Array = new Uint8Array(0);
Deno.bench("concat add 4×16 KiB + drain", { group: "add16k", baseline: true }, () => {
  for (let i = 0; i < 4; i++) acc16 = concat(acc16, msg16k);
  acc16 = acc16.subarray(acc16.length);
});

// ---- readln over 1 MiB of CRLF lines arriving as 64 KiB socket reads (pooled blocks).
const lines: string[] = [];
let total = 0;
for (let i = 0; total < 1 << 20; i++) {
  const l = `Header-${i}: some value of moderate length ${i * 7}\r\n`;
  lines.push(l);
  total += l.length;
}
const text = enc.encode(lines.join("")).subarray(0, 1 << 20);
const pool = new BlockPool(65536, 32);
Deno.bench("Evbuffer readln CRLF over 1 MiB (64 KiB reads)", { group: "readln" }, () => {
  const buf = new Evbuffer();
  for (let off = 0; off < text.length; off += 65536) {
    const blk = pool.acquire();
    const part = text.subarray(off, off + 65536);
    blk.buf.set(part);
    buf._addShared(blk, 0, part.length);
    blk.release();
    while (buf.readln(EVBUFFER_EOL_CRLF) !== null) sink++;
  }
  buf.free();
});
Deno.bench("concat readln CRLF over 1 MiB (64 KiB reads)", {
  group: "readln",
  baseline: true,
}, () => {
  let acc: Uint8Array = new Uint8Array(0);
  for (let off = 0; off < text.length; off += 65536) {
    acc = concat(acc, text.subarray(off, off + 65536));
    for (;;) {
      const i = acc.indexOf(10);
      if (i < 0) break;
      const end = i > 0 && acc[i - 1] === 13 ? i - 1 : i;
      sink += dec.decode(acc.subarray(0, end)).length;
      acc = acc.subarray(i + 1);
    }
  }
});

// ---- search for a 4-byte needle at the end of 1 MiB spread over 1024 chunks.
const hay = new Uint8Array(1 << 20);
for (let i = 0; i < hay.length; i++) hay[i] = 97 + (i % 23);
const needle = enc.encode("WXYZ");
hay.set(needle, hay.length - 6);
const searchBuf = new Evbuffer();
for (let off = 0; off < hay.length; off += 1024) {
  searchBuf.addReference(hay.subarray(off, off + 1024));
}
Deno.bench("Evbuffer search 4 B in 1 MiB / 1024 chunks", { group: "search" }, () => {
  sink += searchBuf.search(needle);
});
const hayChunks: Uint8Array[] = [];
for (let off = 0; off < hay.length; off += 1024) hayChunks.push(hay.subarray(off, off + 1024));
Deno.bench("concat + search 4 B in 1 MiB / 1024 chunks", {
  group: "search",
  baseline: true,
}, () => {
  const flat = new Uint8Array(hay.length);
  let o = 0;
  for (const c of hayChunks) {
    flat.set(c, o);
    o += c.length;
  }
  sink += naiveSearch(flat, needle);
});
Deno.bench("search 4 B in one contiguous 1 MiB array (no concat)", { group: "search" }, () => {
  sink += naiveSearch(hay, needle);
});

// ---- addBuffer: move 16 chunks of 4 KiB from one buffer to another, then drain.
const piece = new Uint8Array(4096).fill(0x63);
const srcBuf = new Evbuffer();
const dstBuf = new Evbuffer();
Deno.bench("Evbuffer addBuffer 16×4 KiB chunks + drain", { group: "move" }, () => {
  for (let i = 0; i < 16; i++) srcBuf.addReference(piece);
  dstBuf.addBuffer(srcBuf);
  dstBuf.drain(dstBuf.length);
});
Deno.bench("Evbuffer removeBuffer 40000 of 16×4 KiB + drain", { group: "move" }, () => {
  for (let i = 0; i < 16; i++) srcBuf.addReference(piece);
  srcBuf.removeBuffer(dstBuf, 40000);
  dstBuf.drain(dstBuf.length);
  srcBuf.drain(srcBuf.length);
});
Deno.bench("concat move 16×4 KiB + drain", { group: "move", baseline: true }, () => {
  let src: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < 16; i++) src = concat(src, piece);
  let dst: Uint8Array = new Uint8Array(0);
  dst = concat(dst, src);
  sink += dst.length;
});

// ---- the write path: coalescing many small chunks for one write.
const scratch = new Uint8Array(16384);
const out = new Evbuffer();
Deno.bench("Evbuffer _peekWrite 64 small references + drain", { group: "write" }, () => {
  for (let i = 0; i < 64; i++) out.addReference(msg64);
  while (out.length > 0) out._drainInternal(out._peekWrite(65536, scratch).length);
});
Deno.bench("concat 64 small arrays for one write", { group: "write", baseline: true }, () => {
  let acc: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < 64; i++) acc = concat(acc, msg64);
  sink += acc.length;
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink); // keep results observable
});
