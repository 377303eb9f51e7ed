/**
 * How the DNS server reads an incoming query: what it answers, what it rejects with FORMERR or
 * NOTIMPL, and what it drops. Never throws.
 *
 * @module
 */

import { type DnsEdns, type DnsQuestion, FLAG_QR, readFirstQuestion } from "./_wire.ts";

/** The query is well formed: hand it to the user callback. @ignore */
export const QUERY_OK = 0;
/** Answer FORMERR (questions echoed only if they parsed and there is exactly one). @ignore */
export const QUERY_FORMERR = 1;
/** Answer NOTIMPL (opcode other than QUERY). @ignore */
export const QUERY_NOTIMPL = 4;
/** Send nothing: no header, or a response (answering it could start a reflection loop). @ignore */
export const QUERY_DROP = -1;
/**
 * Answer BADVERS (extended rcode 16, RFC 6891 §6.1.3): an EDNS version this server does not
 * speak (only 0 exists). @ignore
 */
export const QUERY_BADVERS = 16;

const TYPE_OPT = 41;
const NO_QUESTIONS: DnsQuestion[] = [];

/**
 * The fields of a query the server keeps. One instance is reused per port, so a datagram costs
 * no result object of its own.
 *
 * @ignore
 */
export class ParsedQuery {
  /** Transaction id. */
  id = 0;
  /** The query's flags word. */
  flags = 0;
  /** The questions to echo (empty when they must not be echoed). */
  questions: DnsQuestion[] = NO_QUESTIONS;
  /** The query's OPT record, or null. */
  edns: DnsEdns | null = null;
  /** Offset just after the question (scratch for the parser). */
  end = 0;
}

/** Offset after the (possibly compressed) name at `off`, or -1; pointers are not followed. */
function skipName(buf: Uint8Array, off: number, len: number): number {
  let p = off;
  let wire = 1;
  while (p < len) {
    const b = buf[p];
    if (b === 0) return p + 1;
    if ((b & 0xc0) === 0xc0) return p + 2 <= len ? p + 2 : -1;
    if ((b & 0xc0) !== 0) return -1;
    wire += 1 + b;
    if (wire > 255) return -1;
    p += 1 + b;
  }
  return -1;
}

/**
 * Reads `buf` into `out` and says what to do with it: `QUERY_OK`, `QUERY_FORMERR`,
 * `QUERY_NOTIMPL`, `QUERY_BADVERS` or `QUERY_DROP`. A query must carry exactly one question (RFC 9619); the
 * records after it are only walked to find a well-formed OPT (RFC 6891).
 *
 * @ignore
 */
export function parseServerQuery(buf: Uint8Array, out: ParsedQuery): number {
  const len = buf.length;
  out.questions = NO_QUESTIONS;
  out.edns = null;
  if (len < 12) return QUERY_DROP;
  const flags = (buf[2] << 8) | buf[3];
  if ((flags & FLAG_QR) !== 0) return QUERY_DROP;
  out.id = (buf[0] << 8) | buf[1];
  out.flags = flags;
  const qd = (buf[4] << 8) | buf[5];
  if (qd !== 1) return QUERY_FORMERR;
  const q = readFirstQuestion(buf, out);
  if (q === null) return QUERY_FORMERR;
  const an = (buf[6] << 8) | buf[7];
  const ns = (buf[8] << 8) | buf[9];
  const total = an + ns + ((buf[10] << 8) | buf[11]);
  let pos = out.end;
  let edns: DnsEdns | null = null;
  for (let i = 0; i < total; i++) {
    const start = pos;
    pos = skipName(buf, pos, len);
    if (pos < 0 || pos + 10 > len) {
      pos = -1;
      break;
    }
    const type = (buf[pos] << 8) | buf[pos + 1];
    const rdlen = (buf[pos + 8] << 8) | buf[pos + 9];
    if (pos + 10 + rdlen > len) {
      pos = -1;
      break;
    }
    if (type === TYPE_OPT && i >= an + ns) {
      // RFC 6891 §6.1.1: at most one OPT, owned by the root.
      if (edns !== null || buf[start] !== 0) {
        pos = -1;
        break;
      }
      edns = {
        udpSize: (buf[pos + 2] << 8) | buf[pos + 3],
        version: buf[pos + 5],
        do: (buf[pos + 6] & 0x80) !== 0,
      };
    }
    pos += 10 + rdlen;
  }
  out.questions = [q];
  if (pos < 0) return QUERY_FORMERR;
  out.edns = edns;
  if (((flags >> 11) & 0xf) !== 0) return QUERY_NOTIMPL;
  if (edns !== null && edns.version > 0) return QUERY_BADVERS;
  return QUERY_OK;
}
