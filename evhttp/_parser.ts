/**
 * HTTP/1.x head parsing and chunked-body decoding on bytes (RFC 9112), with the framing facts
 * the server and client need computed while parsing. Where libevent is laxer than RFC 9110/9112
 * the RFC wins (see DESIGN.md): conflicting framing, bad field syntax and unsupported transfer
 * codings are errors, reported as the HTTP status the server should answer with.
 *
 * Text decoding: bytes are read as UTF-8 when they are valid UTF-8 and as Latin-1 (one char per
 * byte) otherwise, so no byte is ever lost. Pure ASCII, the normal case, is the same either way.
 *
 * @module
 */

import type { Evbuffer } from "../bufferevent/evbuffer.ts";
import { EVHTTP_REQ_CONNECT, EVHTTP_REQ_OPTIONS, evhttpMethodFromName } from "./constants.ts";
import { Evkeyvalq, lowerKey } from "./keyvalq.ts";
import { EvhttpUri } from "./uri.ts";
import { EVHTTP_URI_NONCONFORMANT } from "./constants.ts";

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** RFC 9110 `tchar`. */
const TCHAR = new Uint8Array(256);
{
  const extra = "!#$%&'*+-.^_`|~";
  for (let i = 0; i < extra.length; i++) TCHAR[extra.charCodeAt(i)] = 1;
  for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = TCHAR[c + 0x20] = 1;
}

/** 1 for bytes never allowed in a field value or request target: CTLs except HT, and DEL. */
const BAD_TEXT = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) BAD_TEXT[c] = c === HT ? 0 : 1;
BAD_TEXT[0x7f] = 1;

// ---------------------------------------------------------------------------
// Bytes → strings, with an intern cache so repeated names and values allocate nothing.

const utf8Fatal = new TextDecoder("utf-8", { fatal: true });
const utf8 = new TextDecoder("utf-8");

function latin1(b: Uint8Array, s: number, e: number): string {
  const parts: string[] = [];
  for (let i = s; i < e; i += 4096) {
    parts.push(
      String.fromCharCode.apply(null, b.subarray(i, Math.min(e, i + 4096)) as unknown as number[]),
    );
  }
  return parts.join("");
}

/** Decodes `b[s..e)`; `ascii` says every byte is below 0x80. */
function decode(b: Uint8Array, s: number, e: number, ascii: boolean): string {
  if (ascii) {
    // Measured: one fromCharCode call beats a TextDecoder op up to ~16 bytes, not beyond.
    if (e - s <= 16) {
      return String.fromCharCode.apply(null, b.subarray(s, e) as unknown as number[]);
    }
    return utf8.decode(b.subarray(s, e));
  }
  try {
    return utf8Fatal.decode(b.subarray(s, e));
  } catch {
    return latin1(b, s, e);
  }
}

const CACHE_SLOTS = 512;
const CACHE_MAX_LEN = 128;

// One DataView per input ArrayBuffer, kept while the buffer stays the same (creating a view
// costs more than the compare it speeds up). Built only for long compares: a server reads each
// connection into its own block, so the buffer changes with every connection served.
let dvBuffer: ArrayBufferLike | null = null;
let dvView: DataView = new DataView(new ArrayBuffer(0));

/** Compares shorter than this go byte by byte (no DataView needed). */
const WORD_COMPARE_MIN = 16;

function viewOf(b: Uint8Array): DataView {
  const ab = b.buffer;
  if (ab !== dvBuffer) {
    dvBuffer = ab;
    dvView = new DataView(ab);
  }
  return dvView;
}

/**
 * Direct-mapped cache of decoded strings keyed by their bytes, so repeated header names and
 * values (the norm) allocate nothing. Entries live in one arena (slot i at i × CACHE_MAX_LEN),
 * so a miss allocates only its string, and a hit costs one compare, four bytes at a time.
 */
class InternCache {
  #arena = new Uint8Array(CACHE_SLOTS * CACHE_MAX_LEN);
  #arenaView = new DataView(this.#arena.buffer);
  #lens = new Int32Array(CACHE_SLOTS).fill(-1);
  #strs: string[] = new Array(CACHE_SLOTS).fill("");
  #lower: string[] = new Array(CACHE_SLOTS).fill("");
  #wantLower: boolean;
  /** Lowercase form of the last string returned by `get` (when built with `wantLower`). */
  lower = "";
  /** Slot of the last string returned by `get` (-1: not cached). */
  slot = -1;

  constructor(wantLower: boolean) {
    this.#wantLower = wantLower;
  }

  /** Whether `b[s..s+len)` equals the entry in `slot` (whose length is `len`). */
  matches(slot: number, b: Uint8Array, s: number, len: number): boolean {
    const arena = this.#arena;
    const off = slot * CACHE_MAX_LEN;
    let i = 0;
    if (len >= WORD_COMPARE_MIN) {
      const cv = this.#arenaView;
      const dv = viewOf(b);
      const base = b.byteOffset + s;
      while (i + 4 <= len && cv.getUint32(off + i) === dv.getUint32(base + i)) i += 4;
      if (i + 4 <= len) return false;
    }
    while (i < len && arena[off + i] === b[s + i]) i++;
    return i === len;
  }

  /** Byte length of the entry in `slot` (-1: empty). */
  lenAt(slot: number): number {
    return this.#lens[slot];
  }

  /** String of the entry in `slot`. */
  strAt(slot: number): string {
    return this.#strs[slot];
  }

  get(b: Uint8Array, s: number, e: number, ascii: boolean): string {
    const len = e - s;
    if (len > CACHE_MAX_LEN) {
      const str = decode(b, s, e, ascii);
      if (this.#wantLower) this.lower = lowerKey(str);
      this.slot = -1;
      return str;
    }
    // A few sampled bytes pick the slot; the full compare decides.
    const h = len === 0
      ? 0
      : (b[s] * 31 + b[e - 1]) * 31 + b[s + (len >> 1)] + b[s + (len >> 2)] * 7;
    const slot = ((h ^ (len << 4)) >>> 0) & (CACHE_SLOTS - 1);
    this.slot = slot;
    if (this.#lens[slot] === len && this.matches(slot, b, s, len)) {
      if (this.#wantLower) this.lower = this.#lower[slot];
      return this.#strs[slot];
    }
    const str = decode(b, s, e, ascii);
    const arena = this.#arena;
    const off = slot * CACHE_MAX_LEN;
    for (let i = 0; i < len; i++) arena[off + i] = b[s + i];
    this.#lens[slot] = len;
    this.#strs[slot] = str;
    if (this.#wantLower) this.lower = this.#lower[slot] = lowerKey(str);
    return str;
  }
}

const names = new InternCache(true);
const values = new InternCache(false);

// Per header-name slot: the value cache slot of the last value seen with that name. Clients
// repeat their headers verbatim, so the next value is checked against it first; equal bytes
// were validated when cached, which skips the scan.
const predicted = new Int32Array(CACHE_SLOTS).fill(-1);

/**
 * If the value at `b[v..]` equals the predicted value for name slot `nslot` and the line ends
 * right after it, returns the start of the next line and leaves the string in `predStr`; else -1.
 */
let predStr = "";
function predict(b: Uint8Array, v: number, end: number, nslot: number): number {
  const vslot = predicted[nslot];
  if (vslot < 0) return -1;
  const len = values.lenAt(vslot);
  const after = v + len;
  if (len < 0 || after >= end || !values.matches(vslot, b, v, len)) return -1;
  const c = b[after];
  let next: number;
  if (c === LF) next = after + 1;
  else if (c === CR && after + 1 < end && b[after + 1] === LF) next = after + 2;
  else return -1;
  predStr = values.strAt(vslot);
  return next;
}

// ---------------------------------------------------------------------------
// Head framing

/**
 * Index of the first byte after any empty lines (CRLF or LF) at `from`: RFC 9112 §2.2 lets a
 * server ignore empty lines before a request line (some clients send one after a body).
 *
 * @ignore
 */
export function skipEmptyLines(view: Uint8Array, from: number, end: number = view.length): number {
  let p = from;
  while (p < end) {
    const c = view[p];
    if (c === LF) p++;
    else if (c === CR && p + 1 < end && view[p + 1] === LF) p += 2;
    else break;
  }
  return p;
}

/**
 * Drains the empty lines (CRLF or bare LF) at the front of `input`, across chunks, and returns
 * how many bytes went. Callers count them against their head-size limit: ignoring them must not
 * let a peer buffer an endless run of them. A CR that may be the first half of a CRLF split
 * across reads stays until its LF arrives.
 *
 * @ignore
 */
export function drainEmptyLines(input: Evbuffer): number {
  let total = 0;
  while (input.length > 0) {
    const v = input._front();
    const from = input._frontOff;
    const to = input._frontEnd;
    let p = skipEmptyLines(v, from, to);
    if (p === from) {
      // A CR ending this chunk, its LF starting the next.
      if (v[from] !== CR || to - from !== 1 || input.length < 2) break;
      if (input.pullup(2)![1] !== LF) break;
      p = from + 2;
    }
    input.drain(p - from);
    total += p - from;
  }
  return total;
}

/**
 * Index just past the empty line that ends the head starting at `from` (after any leading empty
 * lines), or -1 if the head is not complete yet. Lines may end in CRLF or a bare LF. Bytes from
 * `n` (default: the view's length) on are not looked at. `seen` is where an earlier call on a
 * shorter view of the same head stopped finding nothing: the search resumes there (a head
 * arriving read by read is scanned once, not once per read).
 *
 * @ignore
 */
export function findHeadEnd(
  view: Uint8Array,
  from: number,
  n: number = view.length,
  seen: number = from,
): number {
  const p = skipEmptyLines(view, from, n);
  // Every terminator (LF LF or LF CR LF) has two line-ending bytes in a row, so probing every
  // other byte finds it; only probes that land on CR or LF look closer. One ending past `seen`
  // starts at most two bytes before it.
  for (let i = Math.max(p + 1, seen - 3); i < n; i += 2) {
    const c = view[i];
    if (c !== LF && c !== CR) continue;
    if (view[i - 1] === LF) {
      if (c === LF) return i + 1;
      if (i + 1 < n && view[i + 1] === LF) return i + 2;
    }
    if (c === LF && i + 1 < n) {
      const d = view[i + 1];
      if (d === LF) return i + 2;
      if (d === CR && i + 2 < n && view[i + 2] === LF) return i + 3;
    }
  }
  return -1;
}

/**
 * Checks a (possibly incomplete) head against the header-size limit. The limit counts the bytes
 * of the request line and the header lines without their line endings (as libevent counts them);
 * `headEnd` is `findHeadEnd`'s answer (-1: incomplete, everything up to `limit` counts).
 * Returns 0 when within the limit (or `max < 0`: unlimited), 414 when the request line alone is
 * over it (or, incomplete, already longer than it), 431 when the head is over it.
 *
 * @ignore
 */
export function headLimitStatus(
  view: Uint8Array,
  from: number,
  headEnd: number,
  max: number,
  limit: number = view.length,
): number {
  if (max < 0) return 0;
  const end = headEnd < 0 ? limit : headEnd;
  const start = skipEmptyLines(view, from, end);
  if (end - start <= max) return 0;
  // Over the raw byte count: count exactly, line by line, without line endings.
  let total = 0;
  let p = start;
  let first = true;
  while (p < end) {
    let lf = view.indexOf(LF, p);
    if (lf < 0 || lf >= end) lf = -1;
    const stop = lf < 0 ? end : (lf > p && view[lf - 1] === CR ? lf - 1 : lf);
    const len = stop - p;
    if (first) {
      if (len > max) return 414;
      first = false;
    }
    total += len;
    if (total > max) return 431;
    if (lf < 0) break;
    p = lf + 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Field lines

/** Set by `parseFields` on failure: why the head was rejected. */
let fieldError = "";

/** Byte classes inside a field value: ordinary, whitespace, obs-text, forbidden. */
const V_TEXT = 0;
const V_WS = 1;
const V_HIGH = 2;
const V_BAD = 3;
const VCLASS = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  VCLASS[c] = BAD_TEXT[c] ? V_BAD : c === SP || c === HT ? V_WS : c >= 0x80 ? V_HIGH : V_TEXT;
}

// Results of `scanValue`.
let svEnd = 0;
let svAscii = true;
let svNext = 0;

/**
 * Scans a field value from `v` (leading OWS already skipped) to its line ending in one pass:
 * validates every byte and trims trailing OWS. Sets `svEnd` (end of the trimmed value),
 * `svAscii` and `svNext` (start of the next line); returns false on a forbidden byte
 * (CTL, NUL, DEL, bare CR), with `fieldError` set.
 */
function scanValue(b: Uint8Array, v: number, end: number): boolean {
  let last = v;
  let ascii = true;
  let j = v;
  for (; j < end; j++) {
    const c = b[j];
    const k = VCLASS[c];
    if (k === V_BAD) break;
    if (k !== V_WS) {
      last = j + 1;
      if (k === V_HIGH) ascii = false;
    }
  }
  if (j >= end) svNext = end;
  else if (b[j] === LF) svNext = j + 1;
  else if (b[j] === CR && j + 1 < end && b[j + 1] === LF) svNext = j + 2;
  else {
    fieldError = b[j] === 0
      ? "NUL in field value"
      : b[j] === CR
      ? "bare CR in field value"
      : "control character in field value";
    return false;
  }
  svEnd = last;
  svAscii = ascii;
  return true;
}

/**
 * Parses field lines from `b[p..end)` up to an empty line or `end` into `headers`. Returns 0, or
 * 400 with `fieldError` set. `allowFold`: join obs-fold continuation lines with one space (what
 * RFC 9112 §5.2 asks of user agents); otherwise a line starting with SP/HT is an error.
 */
function parseFields(
  b: Uint8Array,
  p: number,
  end: number,
  headers: Evkeyvalq,
  allowFold: boolean,
): number {
  while (p < end) {
    const c0 = b[p];
    if (c0 === LF) return 0;
    if (c0 === CR) {
      if (p + 1 < end && b[p + 1] === LF) return 0;
      fieldError = "bare CR";
      return 400;
    }

    if (c0 === SP || c0 === HT) {
      if (!allowFold || headers.size === 0) {
        fieldError = "obsolete line folding";
        return 400;
      }
      let v = p;
      while (v < end && (b[v] === SP || b[v] === HT)) v++;
      if (!scanValue(b, v, end)) return 400;
      if (svEnd > v) {
        const last = headers.size - 1;
        const prev = headers.valueAt(last);
        const more = decode(b, v, svEnd, svAscii);
        headers._setValueAt(last, prev.length === 0 ? more : prev + " " + more);
      }
      p = svNext;
      continue;
    }

    let i = p;
    while (i < end && TCHAR[b[i]]) i++;
    if (i === p || i >= end || b[i] !== COLON) {
      fieldError = i === p ? "invalid field name" : "invalid field name or missing colon";
      return 400;
    }
    const name = names.get(b, p, i, true);
    const lname = names.lower;
    const nslot = names.slot;

    let v = i + 1;
    while (v < end && (b[v] === SP || b[v] === HT)) v++;
    if (nslot >= 0) {
      const next = predict(b, v, end, nslot);
      if (next >= 0) {
        headers._addUnchecked(name, lname, predStr);
        p = next;
        continue;
      }
    }
    if (!scanValue(b, v, end)) return 400;
    headers._addUnchecked(name, lname, values.get(b, v, svEnd, svAscii));
    if (nslot >= 0) predicted[nslot] = values.slot;
    p = svNext;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Framing facts from the parsed fields

/** Shared by request and response heads. */
interface Framing {
  contentLength: number;
  chunked: boolean;
  connectionClose: boolean;
  connectionKeepAlive: boolean;
  errorReason: string;
}

function parseContentLength(v: string): number {
  if (v.length === 0 || v.length > 15) return -1;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
  }
  return Number(v);
}

/** Splits a comma list into trimmed, lowercased, non-empty elements. */
function listElements(v: string): string[] {
  const out: string[] = [];
  for (const part of v.split(",")) {
    const t = part.trim();
    if (t.length !== 0) out.push(lowerKey(t));
  }
  return out;
}

function connectionTokens(v: string, f: Framing): void {
  const lv = lowerKey(v);
  if (lv === "close") f.connectionClose = true;
  else if (lv === "keep-alive") f.connectionKeepAlive = true;
  else {
    for (const t of listElements(v)) {
      if (t === "close") f.connectionClose = true;
      else if (t === "keep-alive") f.connectionKeepAlive = true;
    }
  }
}

// Transfer-Encoding summary from the last `framingPass`.
let teSeen = false;
let teLastChunked = false;
let teOther = false;
let teTwice = false;
let teChunkedSeen = false;
let expectSeen: string | null = null;
let hostValue: string | null = null;
let hostCount = 0;

/** Walks the fields once; returns 0 or 400 (with `f.errorReason`). */
function framingPass(h: Evkeyvalq, f: Framing): number {
  teSeen =
    teLastChunked =
    teOther =
    teTwice =
    teChunkedSeen =
      false;
  expectSeen = hostValue = null;
  hostCount = 0;
  const n = h.size;
  for (let i = 0; i < n; i++) {
    const lk = h._lkeyAt(i);
    switch (lk.length) {
      case 4:
        if (lk === "host") {
          if (hostCount++ === 0) hostValue = h.valueAt(i);
        }
        break;
      case 6:
        if (lk === "expect") {
          const v = h.valueAt(i);
          expectSeen = expectSeen === null ? v : expectSeen + ", " + v;
        }
        break;
      case 10:
        if (lk === "connection") connectionTokens(h.valueAt(i), f);
        break;
      case 14:
        if (lk === "content-length") {
          const cl = parseContentLength(h.valueAt(i));
          if (cl < 0) {
            f.errorReason = "invalid Content-Length";
            return 400;
          }
          if (f.contentLength >= 0 && f.contentLength !== cl) {
            f.errorReason = "conflicting Content-Length values";
            return 400;
          }
          f.contentLength = cl;
        }
        break;
      case 17:
        if (lk === "transfer-encoding") {
          teSeen = true;
          for (const coding of listElements(h.valueAt(i))) {
            if (coding === "chunked") {
              if (teChunkedSeen) teTwice = true;
              teChunkedSeen = teLastChunked = true;
            } else {
              teOther = true;
              teLastChunked = false;
            }
          }
        }
        break;
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Requests

/**
 * What `parseRequestHead` fills in: the request line, the header fields, and the framing facts.
 * Reusable: every parse resets it (and gives it a fresh `headers` list).
 *
 * @ignore
 */
export class RequestHead {
  /** `EVHTTP_REQ_*` bit; 0 for an unknown method. */
  method = 0;
  /** Method token as sent. */
  methodName = "";
  /** Request target as sent (not decoded). */
  uri = "";
  /** HTTP major version. */
  major = 1;
  /** HTTP minor version. */
  minor = 1;
  /** Header fields in order. */
  headers: Evkeyvalq = new Evkeyvalq();
  /** Content-Length, or -1 when absent. */
  contentLength = -1;
  /** The body is chunked (Transfer-Encoding ending in `chunked`). */
  chunked = false;
  /** A Connection header lists `close`. */
  connectionClose = false;
  /** A Connection header lists `keep-alive`. */
  connectionKeepAlive = false;
  /** `Expect: 100-continue` on an HTTP/1.1 request. */
  expectContinue = false;
  /** Any other Expect value on an HTTP/1.1 request (answer 417). */
  expectOther = false;
  /** The Host header value, or `null` when absent. */
  host: string | null = null;
  /** Length of the request line without its line ending. */
  requestLineLength = 0;
  /** Why the last parse failed ("" on success). */
  errorReason = "";

  /** Clears every field for the next parse. */
  reset(): void {
    this.method = 0;
    this.methodName = "";
    this.uri = "";
    this.major = 1;
    this.minor = 1;
    this.headers = new Evkeyvalq();
    this.contentLength = -1;
    this.chunked = false;
    this.connectionClose = false;
    this.connectionKeepAlive = false;
    this.expectContinue = false;
    this.expectOther = false;
    this.host = null;
    this.requestLineLength = 0;
    this.errorReason = "";
  }
}

function fail(out: { errorReason: string }, code: number, why: string): number {
  out.errorReason = why;
  return code;
}

/**
 * Parses `"HTTP/" DIGIT "." DIGIT` at `b[s..e)` into `verOut`; returns 0, 400 (malformed) or
 * 505 (well-formed but not 1.0/1.1; also `HTTP/2`).
 */
const verOut = { major: 0, minor: 0 };
function parseVersion(b: Uint8Array, s: number, e: number): number {
  if (
    e - s < 6 || b[s] !== 0x48 || b[s + 1] !== 0x54 || b[s + 2] !== 0x54 || b[s + 3] !== 0x50 ||
    b[s + 4] !== 0x2f
  ) return 400;
  const d1 = b[s + 5] - 0x30;
  if (d1 < 0 || d1 > 9) return 400;
  if (e - s === 6) return d1 === 1 ? 400 : 505; // "HTTP/2"
  if (e - s !== 8 || b[s + 6] !== 0x2e) return 400;
  const d2 = b[s + 7] - 0x30;
  if (d2 < 0 || d2 > 9) return 400;
  verOut.major = d1;
  verOut.minor = d2;
  return d1 === 1 && d2 <= 1 ? 0 : 505;
}

/** Authority-form `host:port` for CONNECT. */
function authorityFormOk(t: string): boolean {
  const u = EvhttpUri.parse("//" + t);
  return u !== null && u.host !== null && u.host.length !== 0 && u.port >= 0 &&
    u.userinfo === null && u.path === "" && u.query === null && u.fragment === null;
}

/**
 * `RequestHead.errorReason` of the 501 for an unknown method token (the head is otherwise
 * complete: an extension-method hook may still accept it).
 *
 * @ignore
 */
export const UNKNOWN_METHOD = "unknown method";

/**
 * Parses a complete request head in `buf[start..end)` (`end` from `findHeadEnd`) into `out`.
 * Returns 0 on success, else the status to answer with: 400 malformed (request line, target,
 * field syntax, obs-fold, bad or conflicting framing), 505 an HTTP version other than 1.0/1.1,
 * 501 an unknown method token or an unsupported transfer coding. On 501 for an unknown method
 * the head is otherwise fully parsed (`out.method` 0, `out.methodName` set), so a server with
 * extension methods may accept it.
 *
 * @ignore
 */
export function parseRequestHead(
  buf: Uint8Array,
  start: number,
  end: number,
  out: RequestHead,
): number {
  out.reset();
  const p = skipEmptyLines(buf, start, end);

  // method SP target SP version; the target may contain spaces (libevent: first and last SP).
  let m = p;
  while (m < end && TCHAR[buf[m]]) m++;
  if (m === p || m >= end || buf[m] !== SP) return fail(out, 400, "malformed request line");
  const ts = m + 1;
  // One pass to the line end: validate and remember the last space.
  let lastSp = -1;
  let ascii = true;
  let j = ts;
  for (; j < end; j++) {
    const c = buf[j];
    if (c === SP) lastSp = j;
    else if (BAD_TEXT[c] || c === HT) break;
    else if (c >= 0x80) ascii = false;
  }
  let lineEnd: number;
  let stop = j;
  if (j < end && buf[j] === LF) lineEnd = j + 1;
  else if (j + 1 < end && buf[j] === CR && buf[j + 1] === LF) lineEnd = j + 2;
  else if (j >= end) return fail(out, 400, "incomplete request line");
  else {
    const c = buf[j];
    return fail(out, 400, c === 0 ? "NUL in request line" : "control character in request line");
  }
  out.requestLineLength = stop - p;
  if (lastSp === stop - 1) {
    // Trailing spaces (libevent tolerates them): find the real last space again.
    while (stop > ts && buf[stop - 1] === SP) stop--;
    lastSp = stop - 1;
    while (lastSp >= ts && buf[lastSp] !== SP) lastSp--;
  }
  if (lastSp < ts) return fail(out, 400, "malformed request line (no version)");
  const te = lastSp;
  if (te === ts || buf[ts] === SP || buf[te - 1] === SP) {
    return fail(out, 400, "malformed request target");
  }
  const vr = parseVersion(buf, lastSp + 1, stop);
  if (vr !== 0) {
    return fail(out, vr, vr === 505 ? "HTTP version not supported" : "malformed HTTP version");
  }
  out.major = verOut.major;
  out.minor = verOut.minor;

  const method = evhttpMethodFromName(buf, p, m);
  out.method = method;
  out.methodName = names.get(buf, p, m, true);
  const uri = values.get(buf, ts, te, ascii);
  out.uri = uri;

  const c0 = uri.charCodeAt(0);
  if (method === EVHTTP_REQ_CONNECT) {
    if (!authorityFormOk(uri)) return fail(out, 400, "CONNECT needs an authority-form target");
  } else if (c0 === 0x2a && uri.length === 1) {
    if (method !== EVHTTP_REQ_OPTIONS && method !== 0) {
      return fail(out, 400, "asterisk-form target is only for OPTIONS");
    }
  } else if (c0 !== 0x2f && EvhttpUri.parse(uri, EVHTTP_URI_NONCONFORMANT) === null) {
    return fail(out, 400, "malformed request target");
  }

  if (parseFields(buf, lineEnd, end, out.headers, false) !== 0) {
    return fail(out, 400, fieldError);
  }
  if (framingPass(out.headers, out) !== 0) return 400;

  if (hostCount > 1) return fail(out, 400, "more than one Host header");
  out.host = hostValue;
  if (hostValue !== null && !hostValueOk(hostValue)) return fail(out, 400, "invalid Host");
  if (teSeen) {
    if (out.minor === 0) return fail(out, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (out.contentLength >= 0) {
      return fail(out, 400, "both Transfer-Encoding and Content-Length");
    }
    if (!teLastChunked) return fail(out, 400, "Transfer-Encoding does not end in chunked");
    if (teTwice) return fail(out, 400, "chunked applied more than once");
    if (teOther) return fail(out, 501, "unsupported transfer coding");
    out.chunked = true;
  }
  if (expectSeen !== null && out.minor >= 1) {
    if (lowerKey(expectSeen) === "100-continue") out.expectContinue = true;
    else out.expectOther = true;
  }
  if (method === 0) return fail(out, 501, UNKNOWN_METHOD);
  return 0;
}

// ---------------------------------------------------------------------------
// Memo of the last good request head

/** Longer heads are not memoized (their compare would cost what parsing saves). */
const MEMO_HEAD_MAX = 1024;
const memoBytes = new Uint8Array(MEMO_HEAD_MAX);
/** Length of the memoized head's bytes (0: none). */
let memoLen = 0;
const memoHead = new RequestHead();

/**
 * If `buf[start..)` begins with exactly the bytes of the last head `memoRequestHead` kept, fills
 * `out` with what parsing them produced and returns the index just past that head; else -1.
 * Clients repeat their heads byte for byte (keep-alive polling, health checks, load balancers),
 * and equal bytes parse to equal results: a compare replaces the parse and the framing checks.
 * The headers are shared copy-on-write with the memo, so the request may still change them.
 *
 * @ignore
 */
export function replayRequestHead(
  buf: Uint8Array,
  start: number,
  to: number,
  out: RequestHead,
): number {
  const len = memoLen;
  if (len === 0 || to - start < len) return -1;
  const m = memoBytes;
  // The head's last byte (LF) and first byte reject most other heads before the full compare.
  if (buf[start + len - 1] !== LF || buf[start] !== m[0]) return -1;
  for (let i = 1; i < len; i++) {
    if (buf[start + i] !== m[i]) return -1;
  }
  copyRequestHead(out, memoHead);
  return start + len;
}

/** Copies a parsed head; the headers are shared copy-on-write. */
function copyRequestHead(dst: RequestHead, src: RequestHead): void {
  dst.method = src.method;
  dst.methodName = src.methodName;
  dst.uri = src.uri;
  dst.major = src.major;
  dst.minor = src.minor;
  dst.headers = src.headers._shareClone();
  dst.contentLength = src.contentLength;
  dst.chunked = src.chunked;
  dst.connectionClose = src.connectionClose;
  dst.connectionKeepAlive = src.connectionKeepAlive;
  dst.expectContinue = src.expectContinue;
  dst.expectOther = src.expectOther;
  dst.host = src.host;
  dst.requestLineLength = src.requestLineLength;
  dst.errorReason = src.errorReason;
}

/**
 * Keeps `buf[start..end)`, a head `parseRequestHead` just accepted into `head` (returned 0), for
 * `replayRequestHead`. Call before anything changes `head.headers`.
 *
 * @ignore
 */
export function memoRequestHead(
  buf: Uint8Array,
  start: number,
  end: number,
  head: RequestHead,
): void {
  const len = end - start;
  if (len > MEMO_HEAD_MAX) {
    memoLen = 0;
    return;
  }
  memoBytes.set(buf.subarray(start, end));
  memoLen = len;
  copyRequestHead(memoHead, head);
}

/** Host = uri-host [":" port]: reg-name / IPv4 / IP-literal characters only. */
function hostValueOk(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 0x80 || c <= SP || c === 0x2f || c === 0x3f || c === 0x23 || c === 0x40) return false;
    if (c === 0x22 || c === 0x3c || c === 0x3e || c === 0x5c || c === 0x5e || c === 0x60) {
      return false;
    }
    if (c === 0x7b || c === 0x7c || c === 0x7d) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Responses

/**
 * What `parseResponseHead` fills in. Reusable: every parse resets it.
 *
 * @ignore
 */
export class ResponseHead {
  /** HTTP major version. */
  major = 1;
  /** HTTP minor version. */
  minor = 1;
  /** Status code. */
  code = 0;
  /** Reason phrase as sent (may be empty). */
  reason = "";
  /** Header fields in order. */
  headers: Evkeyvalq = new Evkeyvalq();
  /** Content-Length, or -1 when absent (or overridden by Transfer-Encoding). */
  contentLength = -1;
  /** The body is chunked. */
  chunked = false;
  /** Transfer-Encoding present but not ending in chunked: the body runs until close. */
  untilClose = false;
  /** A Connection header lists `close`. */
  connectionClose = false;
  /** A Connection header lists `keep-alive`. */
  connectionKeepAlive = false;
  /** Why the last parse failed ("" on success). */
  errorReason = "";

  /** Clears every field for the next parse. */
  reset(): void {
    this.major = 1;
    this.minor = 1;
    this.code = 0;
    this.reason = "";
    this.headers = new Evkeyvalq();
    this.contentLength = -1;
    this.chunked = false;
    this.untilClose = false;
    this.connectionClose = false;
    this.connectionKeepAlive = false;
    this.errorReason = "";
  }
}

/**
 * Parses a complete response head in `buf[start..end)`: `HTTP/1.x NNN [reason]` and the header
 * fields (obs-fold is joined with a space, as RFC 9112 asks of clients). Returns 0, or 400 when
 * the status line or a field is malformed or the framing is invalid (a bad or conflicting
 * Content-Length). Transfer-Encoding overrides Content-Length (RFC 9112 §6.3).
 *
 * @ignore
 */
export function parseResponseHead(
  buf: Uint8Array,
  start: number,
  end: number,
  out: ResponseHead,
): number {
  out.reset();
  const p = skipEmptyLines(buf, start, end);
  const lf = buf.indexOf(LF, p);
  if (lf < 0 || lf >= end) return fail(out, 400, "incomplete status line");
  const stop = lf > p && buf[lf - 1] === CR ? lf - 1 : lf;
  if (stop - p < 12 || buf[p + 8] !== SP) return fail(out, 400, "malformed status line");
  const vr = parseVersion(buf, p, p + 8);
  if (vr !== 0 || verOut.major !== 1) return fail(out, 400, "unsupported HTTP version");
  out.major = verOut.major;
  out.minor = verOut.minor;
  let code = 0;
  for (let i = p + 9; i < p + 12; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return fail(out, 400, "malformed status code");
    code = code * 10 + d;
  }
  if (code < 100) return fail(out, 400, "malformed status code");
  out.code = code;
  if (stop > p + 12) {
    if (buf[p + 12] !== SP) return fail(out, 400, "malformed status line");
    let ascii = true;
    for (let i = p + 13; i < stop; i++) {
      const c = buf[i];
      if (BAD_TEXT[c]) return fail(out, 400, "control character in reason phrase");
      if (c >= 0x80) ascii = false;
    }
    out.reason = decode(buf, p + 13, stop, ascii);
  }
  if (parseFields(buf, lf + 1, end, out.headers, true) !== 0) return fail(out, 400, fieldError);
  if (framingPass(out.headers, out) !== 0) return 400;
  if (teSeen) {
    out.contentLength = -1;
    if (teLastChunked && !teTwice) out.chunked = true;
    else out.untilClose = true;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Chunked bodies

const S_SIZE = 0;
const S_SIZE_WS = 1;
const S_EXT = 2;
const S_SIZE_LF = 3;
const S_DATA = 4;
const S_DATA_CR = 5;
const S_DATA_LF = 6;
const S_TRAILER = 7;
const S_DONE = 8;
const S_ERROR = 9;

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;

/** Options of a `ChunkedDecoder`. */
export interface ChunkedDecoderOptions {
  /** Largest single chunk accepted (413 beyond). Default: 2^53 − 1. */
  maxChunkSize?: number;
  /** Largest total of chunk data accepted (413 beyond). Default: unlimited. */
  maxBodySize?: number;
  /** Largest trailer section in bytes (431 beyond). Default: 65536. */
  maxTrailerSize?: number;
  /** Largest chunk-size line including extensions (400 beyond). Default: 4096. */
  maxSizeLine?: number;
  /** Join obs-fold lines in trailers instead of rejecting them (for responses). */
  allowFold?: boolean;
}

/**
 * Incremental decoder of a chunked body (RFC 9112 §7.1) working on bytes: input may be split at
 * any byte. Each `feed` reports the data it found as ranges of the buffer it was given (no
 * copies): `count` ranges in `starts[i]..ends[i]`. Chunk sizes must be hex digits only (no `0x`,
 * sign or space before them); extensions after `;` are accepted and ignored; the data must be
 * followed by CRLF (or a bare LF); trailer fields end up in `trailers`.
 *
 * @ignore
 */
export class ChunkedDecoder {
  /** Number of data ranges found by the last `feed`. */
  count = 0;
  /** Starts of the data ranges found by the last `feed`. */
  readonly starts: number[] = [];
  /** Ends of the data ranges found by the last `feed`. */
  readonly ends: number[] = [];
  /** Total chunk data so far. */
  bodyLength = 0;
  /** 0, or the status describing the failure: 400 malformed, 413 too large, 431 trailers. */
  error = 0;
  /** Why decoding failed ("" otherwise). */
  errorReason = "";
  /** Trailer fields (empty until done; stays empty when there were none). */
  trailers: Evkeyvalq = new Evkeyvalq();

  #state = S_SIZE;
  #size = 0;
  #digits = 0;
  #lineLen = 0;
  #remaining = 0;
  #maxChunk: number;
  #maxBody: number;
  #maxTrailer: number;
  #maxLine: number;
  #allowFold: boolean;
  #trailer: Uint8Array | null = null;
  #trailerLen = 0;
  #trailerLineLen = 0;
  #trailerCR = false;

  /** Creates a decoder positioned at the first chunk-size line. */
  constructor(opts: ChunkedDecoderOptions = {}) {
    this.#maxChunk = opts.maxChunkSize ?? Number.MAX_SAFE_INTEGER;
    this.#maxBody = opts.maxBodySize ?? Infinity;
    this.#maxTrailer = opts.maxTrailerSize ?? 65536;
    this.#maxLine = opts.maxSizeLine ?? 4096;
    this.#allowFold = opts.allowFold ?? false;
  }

  /** The last chunk and the trailers have been read. */
  get done(): boolean {
    return this.#state === S_DONE;
  }

  /** Data range `i` of the last `feed` as a view of its buffer. */
  data(buf: Uint8Array, i: number): Uint8Array {
    return buf.subarray(this.starts[i], this.ends[i]);
  }

  /** Starts over for a new body. */
  reset(): void {
    this.count = 0;
    this.bodyLength = 0;
    this.error = 0;
    this.errorReason = "";
    this.trailers = new Evkeyvalq();
    this.#state = S_SIZE;
    this.#size =
      this.#digits =
      this.#lineLen =
      this.#remaining =
        0;
    this.#trailer = null;
    this.#trailerLen = this.#trailerLineLen = 0;
    this.#trailerCR = false;
  }

  #fail(code: number, why: string): void {
    this.#state = S_ERROR;
    this.error = code;
    this.errorReason = why;
  }

  /**
   * Consumes `buf[start..end)`; returns how many bytes were consumed. Stops early once the body
   * is complete (the rest belongs to the next message) or on an error (`error` is set then).
   */
  feed(buf: Uint8Array, start: number, end: number): number {
    this.count = 0;
    let p = start;
    while (p < end) {
      const state = this.#state;
      if (state === S_DATA) {
        const n = Math.min(this.#remaining, end - p);
        this.starts[this.count] = p;
        this.ends[this.count] = p + n;
        this.count++;
        p += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = S_DATA_CR;
        continue;
      }
      if (state === S_DONE || state === S_ERROR) break;
      if (state === S_TRAILER) {
        p = this.#feedTrailer(buf, p, end);
        continue;
      }
      const c = buf[p++];
      switch (state) {
        case S_SIZE: {
          const d = HEX[c];
          if (d >= 0) {
            this.#size = this.#size * 16 + d;
            this.#digits++;
            if (this.#size > Number.MAX_SAFE_INTEGER) {
              this.#fail(400, "chunk size overflow");
            } else if (this.#size > this.#maxChunk) this.#fail(413, "chunk too large");
            else if (++this.#lineLen > this.#maxLine) this.#fail(400, "chunk size line too long");
            break;
          }
          if (this.#digits === 0) {
            this.#fail(400, "malformed chunk size");
            break;
          }
          this.#afterDigits(c);
          break;
        }
        case S_SIZE_WS:
          this.#afterDigits(c);
          break;
        case S_EXT:
          if (c === CR) this.#state = S_SIZE_LF;
          else if (c === LF) this.#endSizeLine();
          else if (BAD_TEXT[c]) this.#fail(400, "control character in chunk extension");
          else if (++this.#lineLen > this.#maxLine) this.#fail(400, "chunk size line too long");
          break;
        case S_SIZE_LF:
          if (c === LF) this.#endSizeLine();
          else this.#fail(400, "bare CR in chunk size line");
          break;
        case S_DATA_CR:
          if (c === CR) this.#state = S_DATA_LF;
          else if (c === LF) this.#startSizeLine();
          else this.#fail(400, "missing CRLF after chunk data");
          break;
        case S_DATA_LF:
          if (c === LF) this.#startSizeLine();
          else this.#fail(400, "missing CRLF after chunk data");
          break;
      }
    }
    return p - start;
  }

  #afterDigits(c: number): void {
    if (c === SP || c === HT) {
      this.#state = S_SIZE_WS;
      if (++this.#lineLen > this.#maxLine) this.#fail(400, "chunk size line too long");
    } else if (c === 0x3b) {
      this.#state = S_EXT;
      this.#lineLen++;
    } else if (c === CR) this.#state = S_SIZE_LF;
    else if (c === LF) this.#endSizeLine();
    else this.#fail(400, "malformed chunk size");
  }

  #startSizeLine(): void {
    this.#state = S_SIZE;
    this.#size = this.#digits = this.#lineLen = 0;
  }

  #endSizeLine(): void {
    const size = this.#size;
    if (this.bodyLength + size > this.#maxBody) {
      this.#fail(413, "body too large");
      return;
    }
    if (size === 0) {
      this.#state = S_TRAILER;
      this.#trailerLineLen = 0;
      this.#trailerCR = false;
      return;
    }
    this.bodyLength += size;
    this.#remaining = size;
    this.#state = S_DATA;
  }

  /** Collects trailer bytes until an empty line; returns the new position. */
  #feedTrailer(buf: Uint8Array, p: number, end: number): number {
    while (p < end) {
      const c = buf[p++];
      if (c === LF) {
        if (this.#trailerLineLen === 0) {
          this.#finishTrailer();
          return p;
        }
        this.#appendTrailer(c);
        this.#trailerLineLen = 0;
        this.#trailerCR = false;
        continue;
      }
      if (this.#trailerCR) {
        this.#fail(400, "bare CR in trailer");
        return p;
      }
      if (c === CR) {
        this.#trailerCR = true;
        continue;
      }
      this.#trailerLineLen++;
      if (!this.#appendTrailer(c)) return p;
    }
    return p;
  }

  #appendTrailer(c: number): boolean {
    if (this.#trailerLen >= this.#maxTrailer) {
      this.#fail(431, "trailer section too large");
      return false;
    }
    let t = this.#trailer;
    if (t === null || this.#trailerLen === t.length) {
      const bigger = new Uint8Array(t === null ? 256 : t.length * 2);
      if (t !== null) bigger.set(t);
      this.#trailer = t = bigger;
    }
    t[this.#trailerLen++] = c;
    return true;
  }

  #finishTrailer(): void {
    if (this.#trailer !== null) {
      if (parseFields(this.#trailer, 0, this.#trailerLen, this.trailers, this.#allowFold) !== 0) {
        this.#fail(400, fieldError);
        return;
      }
      this.#trailer = null;
    }
    this.#state = S_DONE;
  }
}
