/**
 * DNS message codec (RFC 1035, RFC 3596, RFC 2782, RFC 6891), shared by the resolver and the
 * server. Parsing never throws: a malformed packet gives `null`. Encoding throws only on misuse
 * (a name or record data that cannot be encoded).
 *
 * Names are presentation strings: labels joined with `.`, no trailing dot, the root name is `""`
 * (`"."` is accepted as input too). Inside a label, `.` is written `\.`, `\` is `\\`, and every
 * byte outside 0x21–0x7E (space included) is `\DDD` (three decimal digits). Case is kept exactly
 * as on the wire, so names round-trip byte for byte.
 *
 * @module
 */

import { formatIpv4, formatIpv6, parseIpv4At, parseIpv6Into } from "./_addr.ts";

/** A question: name, type and class. @ignore */
export interface DnsQuestion {
  /** Presentation name (see the module doc for escapes). */
  name: string;
  /** Record type (`DNS_TYPE_*`). */
  type: number;
  /** Class (`DNS_CLASS_INET` = 1). */
  dnsClass: number;
}

/**
 * A resource record. `data` depends on the type: A/AAAA/CNAME/PTR/NS → string (addresses in
 * standard text form); MX → `{ preference, exchange }`; TXT → `string[]` (UTF-8);
 * SRV → `{ priority, weight, port, target }`; SOA → `{ mname, rname, serial, refresh, retry,
 * expire, minimum }`; other types (and A/AAAA whose length is not 4/16, or not class IN) →
 * `Uint8Array` rdata.
 *
 * @ignore
 */
export interface DnsRR {
  /** Owner name. */
  name: string;
  /** Record type. */
  type: number;
  /** Class. */
  dnsClass: number;
  /** Time to live in seconds (values with the top bit set read as 0, RFC 2181 §8). */
  ttl: number;
  /** Decoded rdata (see the interface doc). */
  data: unknown;
  /** A copy of the raw rdata, when `parseMessage` was asked to keep it. */
  raw?: Uint8Array;
}

/** MX data. @ignore */
export interface DnsMxData {
  /** Lower is preferred. */
  preference: number;
  /** Mail exchanger host name. */
  exchange: string;
}

/** SRV data. @ignore */
export interface DnsSrvData {
  /** Lower is preferred. */
  priority: number;
  /** Relative weight among equal priorities. */
  weight: number;
  /** Service port. */
  port: number;
  /** Target host name. */
  target: string;
}

/** SOA data. @ignore */
export interface DnsSoaData {
  /** Primary nameserver. */
  mname: string;
  /** Responsible mailbox as a name. */
  rname: string;
  /** Zone serial. */
  serial: number;
  /** Refresh interval (s). */
  refresh: number;
  /** Retry interval (s). */
  retry: number;
  /** Expiry (s). */
  expire: number;
  /** Negative-caching TTL (s). */
  minimum: number;
}

/** EDNS (OPT record) information. @ignore */
export interface DnsEdns {
  /** Advertised UDP payload size. */
  udpSize: number;
  /** EDNS version. */
  version: number;
  /** DNSSEC OK bit. */
  do: boolean;
}

/** The fixed 12-byte header. @ignore */
export interface DnsHeader {
  /** Transaction id. */
  id: number;
  /** The 16-bit flags word. */
  flags: number;
  /** Question count. */
  qdcount: number;
  /** Answer count. */
  ancount: number;
  /** Authority count. */
  nscount: number;
  /** Additional count (OPT included). */
  arcount: number;
}

/** A parsed message. The OPT record is not listed in `additional`; it is `edns`. @ignore */
export interface DnsMessage {
  /** Transaction id. */
  id: number;
  /** The 16-bit flags word. */
  flags: number;
  /** Opcode (0 = QUERY). */
  opcode: number;
  /** Response code, including the extended bits from OPT. */
  rcode: number;
  /** Response bit. */
  qr: boolean;
  /** Authoritative answer. */
  aa: boolean;
  /** Truncated. */
  tc: boolean;
  /** Recursion desired. */
  rd: boolean;
  /** Recursion available. */
  ra: boolean;
  /** Question section. */
  questions: DnsQuestion[];
  /** Answer section. */
  answers: DnsRR[];
  /** Authority section. */
  authority: DnsRR[];
  /** Additional section, without OPT. */
  additional: DnsRR[];
  /** Present when the message carried an OPT record. */
  edns?: DnsEdns;
}

/** What `encodeResponse` takes: every header field is optional. @ignore */
export interface DnsMessageInit {
  /** Transaction id. */
  id: number;
  /** Base flags word; the fields below override their bits when given. */
  flags?: number;
  /** Opcode. */
  opcode?: number;
  /** Response code; bits above 4 go into the OPT record when `edns` is set. */
  rcode?: number;
  /** Response bit (default true for `encodeResponse`). */
  qr?: boolean;
  /** Authoritative answer. */
  aa?: boolean;
  /** Truncated (also set automatically when records are cut). */
  tc?: boolean;
  /** Recursion desired. */
  rd?: boolean;
  /** Recursion available. */
  ra?: boolean;
  /** Question section. */
  questions?: DnsQuestion[];
  /** Answer section. */
  answers?: DnsRR[];
  /** Authority section. */
  authority?: DnsRR[];
  /** Additional section (without OPT). */
  additional?: DnsRR[];
  /** Adds an OPT record advertising `udpSize`. */
  edns?: DnsEdns;
}

/** Header flag bits. @ignore */
export const FLAG_QR = 0x8000;
/** @ignore */
export const FLAG_AA = 0x0400;
/** @ignore */
export const FLAG_TC = 0x0200;
/** @ignore */
export const FLAG_RD = 0x0100;
/** @ignore */
export const FLAG_RA = 0x0080;

const TYPE_A = 1;
const TYPE_NS = 2;
const TYPE_CNAME = 5;
const TYPE_SOA = 6;
const TYPE_PTR = 12;
const TYPE_MX = 15;
const TYPE_TXT = 16;
const TYPE_AAAA = 28;
const TYPE_SRV = 33;
const TYPE_OPT = 41;
const CLASS_IN = 1;

/** Initial slots of a writer's compression table (a power of two; it doubles when half full). */
const NAME_SLOTS = 64;
/** Longest name on the wire, root byte included (RFC 1035 §2.3.4). */
const MAX_NAME_WIRE = 255;
/** More pointer hops than any legitimate name needs (each hop must also go strictly back). */
const MAX_POINTER_HOPS = 64;

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Name decoding

/** Room for the longest presentation name: 254 label bytes each escaped as 4 characters. */
const nameChars = new Uint16Array(1280);
/** Where the last `readName` left off in the message (an out-parameter without allocation). */
let nameEnd = 0;

// A server reads the same few names over and over: a small direct-mapped cache hands back the
// string made last time instead of building (and later collecting) one per message.
const DECODED_SLOTS = 256;
/** Names longer than this are not cached (the slot keeps this many characters). */
const DECODED_MAX = 64;
const decodedStrings: (string | null)[] = new Array(DECODED_SLOTS).fill(null);
const decodedLengths = new Int32Array(DECODED_SLOTS);
const decodedChars = new Uint16Array(DECODED_SLOTS * DECODED_MAX);

function charsToString(n: number): string {
  if (n > DECODED_MAX) return charsToFreshString(n);
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ nameChars[i], 0x01000193);
  const slot = (h ^ (h >>> 16)) & (DECODED_SLOTS - 1);
  const base = slot * DECODED_MAX;
  let hit = decodedLengths[slot] === n;
  for (let i = 0; hit && i < n; i++) hit = decodedChars[base + i] === nameChars[i];
  const cached = decodedStrings[slot];
  if (hit && cached !== null) return cached;
  const str = charsToFreshString(n);
  decodedStrings[slot] = str;
  decodedLengths[slot] = n;
  for (let i = 0; i < n; i++) decodedChars[base + i] = nameChars[i];
  return str;
}

function charsToFreshString(n: number): string {
  // fromCharCode.apply over a typed-array view builds the string in one step; names are short,
  // so the argument count stays far below engine limits.
  return String.fromCharCode.apply(null, nameChars.subarray(0, n) as unknown as number[]);
}

// While a whole message is parsed, the name at each pointer target is decoded once and the
// string shared by every name that points there: decoded afresh, a 2-byte pointer to a long
// name of unprintable bytes (escaped, about 1 000 characters) made a 64 KiB answer hold 8 MiB of
// strings, and the resolver's cache kept them.
let memoOn = false;
/** The message being parsed: memo entries stamped with another generation are stale. */
let memoGen = 0;
// Indexed by offset, allocated on first use and grown to the largest message seen; stamped
// instead of cleared, so a small message costs nothing to forget.
let memoStamps: Int32Array = new Int32Array(0);
/** Each memoized name's wire length (root byte included, low 8 bits) and the pointer hops its
 * decoding took (above them), so a name reached through the memo obeys the same limits. */
let memoWires: Int32Array = new Int32Array(0);
let memoNames: string[] = [];
/** Wire length of the name `readName` decoded last, and the hops counted when it ended. */
let nameWire = 0;
let nameHops = 0;

/**
 * Reads the (possibly compressed) name at `off`. Returns the presentation string and sets
 * `nameEnd` to the offset just after the name's bytes at `off`; null when malformed.
 *
 * Loop-proofing: the first pointer must target an offset before the name's start and each
 * following pointer an offset before the previous target, so offsets strictly decrease; a hop
 * cap bounds the work as well (`hops`: those already taken to reach `off`).
 */
function readName(buf: Uint8Array, off: number, len: number, hops = 0): string | null {
  let pos = off;
  let limit = off;
  let jumped = false;
  let wire = 1;
  let n = 0;
  for (;;) {
    if (pos >= len) return null;
    const b = buf[pos];
    if (b === 0) {
      if (!jumped) nameEnd = pos + 1;
      break;
    }
    const kind = b & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= len) return null;
      const target = ((b & 0x3f) << 8) | buf[pos + 1];
      if (target >= limit || ++hops > MAX_POINTER_HOPS) return null;
      if (!jumped) {
        nameEnd = pos + 2;
        jumped = true;
      }
      if (memoOn) return joinSuffix(buf, target, len, hops, n, wire);
      limit = target;
      pos = target;
      continue;
    }
    if (kind !== 0) return null; // 0b01 / 0b10: extended label types, not supported
    const end = pos + 1 + b;
    wire += 1 + b;
    if (wire > MAX_NAME_WIRE || end >= len) return null;
    if (n > 0) nameChars[n++] = 0x2e;
    for (let i = pos + 1; i < end; i++) {
      const c = buf[i];
      if (c > 0x20 && c < 0x7f) {
        if (c === 0x2e || c === 0x5c) nameChars[n++] = 0x5c;
        nameChars[n++] = c;
      } else {
        nameChars[n++] = 0x5c;
        nameChars[n++] = 0x30 + ((c / 100) | 0);
        nameChars[n++] = 0x30 + (((c / 10) | 0) % 10);
        nameChars[n++] = 0x30 + (c % 10);
      }
    }
    pos = end;
  }
  nameWire = wire;
  nameHops = hops;
  return n === 0 ? "" : charsToString(n);
}

/**
 * The rest of a name is the one at `target`: decoded once per message (memoized), joined to the
 * `n` characters already in `nameChars` (`wire` bytes so far). Keeps `nameEnd` as the caller set.
 */
function joinSuffix(
  buf: Uint8Array,
  target: number,
  len: number,
  hops: number,
  n: number,
  wire: number,
): string | null {
  // The prefix is copied out first: decoding the suffix reuses the character scratch.
  const prefix = n === 0 ? "" : charsToString(n);
  if (memoStamps.length <= target) {
    // Sized by the largest message seen (most are a few hundred bytes); entries start stale.
    let size = 512;
    while (size < len) size *= 2;
    memoStamps = new Int32Array(size);
    memoWires = new Int32Array(size);
    memoNames = new Array<string>(size).fill("");
  }
  if (memoStamps[target] !== memoGen) {
    const end = nameEnd;
    const s = readName(buf, target, len, hops);
    if (s === null) return null;
    nameEnd = end;
    memoStamps[target] = memoGen;
    memoNames[target] = s;
    memoWires[target] = ((nameHops - hops) << 8) | nameWire;
  }
  const w = memoWires[target];
  return joined(prefix, memoNames[target], wire - 1 + (w & 0xff), hops + (w >> 8));
}

function joined(prefix: string, suffix: string, wire: number, hops: number): string | null {
  if (wire > MAX_NAME_WIRE || hops > MAX_POINTER_HOPS) return null;
  nameWire = wire;
  nameHops = hops;
  if (prefix.length === 0) return suffix;
  return suffix.length === 0 ? prefix : prefix + "." + suffix;
}

// ---------------------------------------------------------------------------------------------
// Name encoding

/** Scratch for one encoded name; the longest valid name is 255 bytes. */
const nameScratch = new Uint8Array(MAX_NAME_WIRE + 8);
/** Label offsets within `nameScratch` and the hash of the suffix starting at each. */
const labelStarts = new Int32Array(128);
const labelHashes = new Int32Array(128);

/**
 * Encodes a presentation name into `out` (uncompressed wire form, root byte included) and
 * returns its length, or -1 when the name is invalid: an empty label, a label over 63 bytes, a
 * name over 255 bytes, or a bad escape. Characters above U+007F are written as UTF-8.
 */
function encodeName(name: string, out: Uint8Array): number {
  const len = name.length;
  if (len === 0 || (len === 1 && name.charCodeAt(0) === 0x2e)) {
    out[0] = 0;
    return 1;
  }
  let lenPos = 0;
  let n = 1;
  let label = 0;
  for (let i = 0; i < len; i++) {
    let c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (label === 0) return -1;
      out[lenPos] = label;
      lenPos = n++;
      label = 0;
      continue;
    }
    if (c === 0x5c) {
      if (++i >= len) return -1;
      c = name.charCodeAt(i);
      if (c >= 0x30 && c <= 0x39) {
        if (i + 2 >= len) return -1;
        const d2 = name.charCodeAt(i + 1) - 0x30;
        const d3 = name.charCodeAt(i + 2) - 0x30;
        if (d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9) return -1;
        c = (c - 0x30) * 100 + d2 * 10 + d3;
        if (c > 255) return -1;
        i += 2;
        if (++label > 63 || n >= MAX_NAME_WIRE) return -1;
        out[n++] = c;
        continue;
      }
    }
    if (c < 0x80) {
      if (++label > 63 || n >= MAX_NAME_WIRE) return -1;
      out[n++] = c;
      continue;
    }
    // Non-ASCII text: UTF-8, with lone surrogates replaced as TextEncoder does.
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
      const lo = name.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    const k = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    label += k;
    if (label > 63 || n + k > MAX_NAME_WIRE) return -1;
    if (k === 2) {
      out[n++] = 0xc0 | (cp >> 6);
    } else if (k === 3) {
      out[n++] = 0xe0 | (cp >> 12);
      out[n++] = 0x80 | ((cp >> 6) & 0x3f);
    } else {
      out[n++] = 0xf0 | (cp >> 18);
      out[n++] = 0x80 | ((cp >> 12) & 0x3f);
      out[n++] = 0x80 | ((cp >> 6) & 0x3f);
    }
    out[n++] = 0x80 | (cp & 0x3f);
  }
  out[lenPos] = label;
  if (label > 0) out[n++] = 0;
  // `out` has slack past MAX_NAME_WIRE, so the last writes above stay in bounds.
  return n > MAX_NAME_WIRE ? -1 : n;
}

// Replies repeat the same names (the asker's, the zone's): a bounded map from a name to its
// wire form saves re-encoding each one for every record that carries it. Strings cache their
// hash, so a hit costs about a pointer comparison.
const ENCODED_NAMES = 1024;
/** Longer wire forms are not cached (a slot keeps this many bytes). */
const ENCODED_MAX = 64;
const encodedSlots = new Map<string, number>();
const encodedWire = new Uint8Array(ENCODED_NAMES * ENCODED_MAX);
const encodedLengths = new Uint8Array(ENCODED_NAMES);

/** `encodeName(name, nameScratch)` through the cache. */
function encodeNameCached(name: string): number {
  const slot = encodedSlots.get(name);
  if (slot !== undefined) {
    const n = encodedLengths[slot];
    const base = slot * ENCODED_MAX;
    for (let i = 0; i < n; i++) nameScratch[i] = encodedWire[base + i];
    return n;
  }
  const n = encodeName(name, nameScratch);
  if (n < 0 || n > ENCODED_MAX) return n;
  // Full: start over rather than track use (a server meeting that many names gains little).
  if (encodedSlots.size >= ENCODED_NAMES) encodedSlots.clear();
  const next = encodedSlots.size;
  encodedSlots.set(name, next);
  encodedLengths[next] = n;
  const base = next * ENCODED_MAX;
  for (let i = 0; i < n; i++) encodedWire[base + i] = nameScratch[i];
  return n;
}

/**
 * The uncompressed wire form of a presentation name, or null when it cannot be encoded.
 *
 * @ignore
 */
export function nameToWire(name: string): Uint8Array | null {
  const n = encodeName(name, nameScratch);
  return n < 0 ? null : nameScratch.slice(0, n);
}

/**
 * True when `name` is a presentation name that can be encoded (labels 1..63 bytes, at most 255
 * bytes on the wire, valid escapes).
 *
 * @ignore
 */
export function isValidName(name: string): boolean {
  return encodeNameCached(name) >= 0;
}

/**
 * The canonical presentation form of a name (escapes normalised, trailing dot dropped, case
 * kept), or null when it cannot be encoded. `normalizeName("a\\098c.") === "abc"`.
 *
 * @ignore
 */
export function normalizeName(name: string): string | null {
  const n = encodeName(name, nameScratch);
  if (n < 0) return null;
  const s = readName(nameScratch, 0, n + 1);
  return s;
}

/**
 * Compares two presentation names as DNS does: ASCII letters case-insensitively unless
 * `caseSensitive` (used for 0x20 case-randomization checks); escapes and a trailing dot do not
 * matter. Invalid names are never equal.
 *
 * @ignore
 */
export function namesEqual(a: string, b: string, caseSensitive = false): boolean {
  if (a === b) return isValidName(a);
  const na = normalizeName(a);
  const nb = normalizeName(b);
  if (na === null || nb === null) return false;
  if (caseSensitive) return na === nb;
  // Canonical presentation text is pure ASCII, so toLowerCase only folds A–Z.
  return na.length === nb.length && na.toLowerCase() === nb.toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// Parsing

function u16(buf: Uint8Array, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}

function u32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/**
 * Reads the 12-byte header, or null when `buf` is shorter.
 *
 * @ignore
 */
export function parseHeader(buf: Uint8Array): DnsHeader | null {
  if (buf.length < 12) return null;
  return {
    id: u16(buf, 0),
    flags: u16(buf, 2),
    qdcount: u16(buf, 4),
    ancount: u16(buf, 6),
    nscount: u16(buf, 8),
    arcount: u16(buf, 10),
  };
}

/** Shared question-section reader; returns the offset after the section or -1. */
function readQuestions(buf: Uint8Array, len: number, qd: number, out: DnsQuestion[]): number {
  let pos = 12;
  for (let i = 0; i < qd; i++) {
    const name = readName(buf, pos, len);
    if (name === null) return -1;
    pos = nameEnd;
    if (pos + 4 > len) return -1;
    out.push({ name, type: u16(buf, pos), dnsClass: u16(buf, pos + 2) });
    pos += 4;
  }
  return pos;
}

/**
 * Header plus question section (for the server's FORMERR decisions: a reply may echo only
 * questions that parsed). `end` is the offset just after the questions. Null when the header or a
 * question is malformed.
 *
 * @ignore
 */
export function parseQuestionOnly(
  buf: Uint8Array,
): (DnsHeader & { questions: DnsQuestion[]; end: number }) | null {
  const h = parseHeader(buf);
  if (h === null) return null;
  if (h.qdcount * 5 > buf.length - 12) return null;
  const questions: DnsQuestion[] = [];
  const end = readQuestions(buf, buf.length, h.qdcount, questions);
  if (end < 0) return null;
  return { ...h, questions, end };
}

/**
 * The single question of a query (the server checked the header and count already), or null
 * when it is malformed; `out.end` receives the offset after it. Builds no header object.
 *
 * @ignore
 */
export function readFirstQuestion(buf: Uint8Array, out: { end: number }): DnsQuestion | null {
  const len = buf.length;
  const name = readName(buf, 12, len);
  if (name === null) return null;
  const pos = nameEnd;
  if (pos + 4 > len) return null;
  out.end = pos + 4;
  return { name, type: u16(buf, pos), dnsClass: u16(buf, pos + 2) };
}

/** Marker for rdata that makes the whole message invalid. */
const BAD = Symbol("bad");

/** Reads a name that must end exactly at `end` (inside rdata). */
function rdataName(buf: Uint8Array, off: number, end: number, len: number): string | null {
  const name = readName(buf, off, len);
  return name !== null && nameEnd === end ? name : null;
}

function decodeRdata(
  buf: Uint8Array,
  off: number,
  rdlen: number,
  type: number,
  dnsClass: number,
  len: number,
): unknown {
  const end = off + rdlen;
  switch (type) {
    case TYPE_A:
      if (rdlen === 4 && dnsClass === CLASS_IN) return formatIpv4(buf, off);
      break;
    case TYPE_AAAA:
      if (rdlen === 16 && dnsClass === CLASS_IN) return formatIpv6(buf, off);
      break;
    case TYPE_CNAME:
    case TYPE_PTR:
    case TYPE_NS:
      return rdataName(buf, off, end, len) ?? BAD;
    case TYPE_MX: {
      if (rdlen < 3) return BAD;
      const exchange = rdataName(buf, off + 2, end, len);
      if (exchange === null) return BAD;
      return { preference: u16(buf, off), exchange } satisfies DnsMxData;
    }
    case TYPE_SRV: {
      if (rdlen < 7) return BAD;
      const target = rdataName(buf, off + 6, end, len);
      if (target === null) return BAD;
      return {
        priority: u16(buf, off),
        weight: u16(buf, off + 2),
        port: u16(buf, off + 4),
        target,
      } satisfies DnsSrvData;
    }
    case TYPE_SOA: {
      const mname = readName(buf, off, len);
      if (mname === null) return BAD;
      const rnameOff = nameEnd;
      if (rnameOff >= end) return BAD;
      const rname = rdataName(buf, rnameOff, end - 20, len);
      if (rname === null) return BAD;
      const p = end - 20;
      return {
        mname,
        rname,
        serial: u32(buf, p),
        refresh: u32(buf, p + 4),
        retry: u32(buf, p + 8),
        expire: u32(buf, p + 12),
        minimum: u32(buf, p + 16),
      } satisfies DnsSoaData;
    }
    case TYPE_TXT: {
      const strings: string[] = [];
      let p = off;
      while (p < end) {
        const l = buf[p];
        if (p + 1 + l > end) return BAD;
        strings.push(l === 0 ? "" : utf8Decoder.decode(buf.subarray(p + 1, p + 1 + l)));
        p += 1 + l;
      }
      return strings;
    }
  }
  return buf.slice(off, end);
}

/**
 * Parses a whole message. Never throws; null when the packet is malformed: short header, counts
 * the packet cannot hold, a bad name (pointer loop or forward pointer, label type 0b01/0b10,
 * name over 255 bytes), rdata past the end or not matching its type, or more than one OPT.
 * Bytes after the last record are ignored. With `keepRaw`, each record also gets a copy of its
 * rdata in `raw`.
 *
 * @ignore
 */
export function parseMessage(buf: Uint8Array, keepRaw = false): DnsMessage | null {
  // Generation 0 never stamps an entry (the arrays start at 0): skip it on wrap-around.
  memoGen = (memoGen + 1) | 0 || 1;
  memoOn = true;
  try {
    return parseWholeMessage(buf, keepRaw);
  } finally {
    memoOn = false;
  }
}

function parseWholeMessage(buf: Uint8Array, keepRaw: boolean): DnsMessage | null {
  const len = buf.length;
  if (len < 12) return null;
  const flags = u16(buf, 2);
  const qd = u16(buf, 4);
  const an = u16(buf, 6);
  const ns = u16(buf, 8);
  const ar = u16(buf, 10);
  // Smallest question is 5 bytes (root name, type, class); smallest record 11.
  if (qd * 5 + (an + ns + ar) * 11 > len - 12) return null;
  const questions: DnsQuestion[] = [];
  let pos = readQuestions(buf, len, qd, questions);
  if (pos < 0) return null;
  const answers: DnsRR[] = [];
  const authority: DnsRR[] = [];
  const additional: DnsRR[] = [];
  let edns: DnsEdns | undefined;
  let extRcode = 0;
  const total = an + ns + ar;
  for (let i = 0; i < total; i++) {
    const name = readName(buf, pos, len);
    if (name === null) return null;
    pos = nameEnd;
    if (pos + 10 > len) return null;
    const type = u16(buf, pos);
    const dnsClass = u16(buf, pos + 2);
    const ttl = u32(buf, pos + 4);
    const rdlen = u16(buf, pos + 8);
    pos += 10;
    if (pos + rdlen > len) return null;
    if (type === TYPE_OPT && i >= an + ns) {
      // RFC 6891 §6.1.1: one OPT, owned by the root.
      if (edns !== undefined || name !== "") return null;
      extRcode = ttl >>> 24;
      edns = { udpSize: dnsClass, version: (ttl >>> 16) & 0xff, do: (ttl & 0x8000) !== 0 };
      pos += rdlen;
      continue;
    }
    const data = decodeRdata(buf, pos, rdlen, type, dnsClass, len);
    if (data === BAD) return null;
    const rr: DnsRR = { name, type, dnsClass, ttl: ttl > 0x7fffffff ? 0 : ttl, data };
    if (keepRaw) rr.raw = buf.slice(pos, pos + rdlen);
    pos += rdlen;
    if (i < an) answers.push(rr);
    else if (i < an + ns) authority.push(rr);
    else additional.push(rr);
  }
  const msg: DnsMessage = {
    id: u16(buf, 0),
    flags,
    opcode: (flags >> 11) & 0xf,
    rcode: (extRcode << 4) | (flags & 0xf),
    qr: (flags & FLAG_QR) !== 0,
    aa: (flags & FLAG_AA) !== 0,
    tc: (flags & FLAG_TC) !== 0,
    rd: (flags & FLAG_RD) !== 0,
    ra: (flags & FLAG_RA) !== 0,
    questions,
    answers,
    authority,
    additional,
  };
  if (edns !== undefined) msg.edns = edns;
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * Builds a DNS message into a growable buffer, compressing names (RFC 1035 §4.1.4): each
 * name suffix written at an offset below 0x4000 is remembered and later occurrences become
 * pointers. Suffixes match case-sensitively by default (as libevent's server does), so every
 * name reads back with exactly the bytes it was written with; `foldCase` matches them
 * ASCII-case-insensitively instead, for smaller messages. Misuse (an invalid name, data that
 * does not fit the type) throws `RangeError` / `TypeError`.
 *
 * @example
 * ```ts
 * const w = new DnsWriter();
 * w.header(0x1234, 0x8180, 1, 1);
 * w.question({ name: "example.com", type: 1, dnsClass: 1 });
 * w.rr({ name: "example.com", type: 1, dnsClass: 1, ttl: 60, data: "192.0.2.1" });
 * const packet = w.finish();
 * ```
 *
 * @ignore
 */
export class DnsWriter {
  #buf: Uint8Array;
  #len = 0;
  // Compression table: open addressing over typed arrays, keyed by suffix hash. A slot is live
  // only while its stamp equals `#gen`, so starting a message costs one increment instead of
  // clearing (or reallocating, as Map.clear does) a table per message.
  #slotHash = new Int32Array(NAME_SLOTS);
  #slotAt = new Int32Array(NAME_SLOTS);
  #slotGen = new Uint32Array(NAME_SLOTS);
  #gen = 1;
  #used = 0;
  /** Compress names whatever their ASCII case. */
  foldCase: boolean;

  /**
   * Creates a writer with `initialSize` bytes of room (it grows as needed); `foldCase` makes
   * compression match names whatever their ASCII case.
   */
  constructor(initialSize = 512, foldCase = false) {
    this.#buf = new Uint8Array(Math.max(12, initialSize));
    this.foldCase = foldCase;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  #ensure(extra: number): void {
    const need = this.#len + extra;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  #u16(v: number): void {
    const b = this.#buf;
    b[this.#len++] = v >> 8;
    b[this.#len++] = v;
  }

  #u32(v: number): void {
    const b = this.#buf;
    b[this.#len++] = v >>> 24;
    b[this.#len++] = v >>> 16;
    b[this.#len++] = v >>> 8;
    b[this.#len++] = v;
  }

  /** Empties the writer (keeping its buffer) to start another message. */
  reset(): void {
    this.#len = 0;
    this.#forgetNames();
  }

  #forgetNames(): void {
    this.#used = 0;
    if (++this.#gen > 0xffffffff) {
      this.#gen = 1;
      this.#slotGen.fill(0);
    }
  }

  /** Where a name with suffix hash `h` equal to `nameScratch[start..n)` was written, or -1. */
  #findName(h: number, start: number, n: number): number {
    const mask = this.#slotGen.length - 1;
    const gens = this.#slotGen;
    const gen = this.#gen;
    for (let i = h & mask; gens[i] === gen; i = (i + 1) & mask) {
      if (this.#slotHash[i] === h && this.#sameName(this.#slotAt[i], start, n)) {
        return this.#slotAt[i];
      }
    }
    return -1;
  }

  #addName(h: number, at: number): void {
    if ((this.#used + 1) * 2 > this.#slotGen.length) this.#growNames();
    const mask = this.#slotGen.length - 1;
    const gens = this.#slotGen;
    const gen = this.#gen;
    let i = h & mask;
    while (gens[i] === gen) i = (i + 1) & mask;
    gens[i] = gen;
    this.#slotHash[i] = h;
    this.#slotAt[i] = at;
    this.#used++;
  }

  /** Rebuilds the table at twice the size (only messages with hundreds of names get here). */
  #growNames(): void {
    const hashes = this.#slotHash;
    const ats = this.#slotAt;
    const gens = this.#slotGen;
    const gen = this.#gen;
    const size = gens.length * 2;
    this.#slotHash = new Int32Array(size);
    this.#slotAt = new Int32Array(size);
    this.#slotGen = new Uint32Array(size);
    this.#gen = 1;
    this.#used = 0;
    for (let i = 0; i < gens.length; i++) {
      if (gens[i] === gen) this.#addName(hashes[i], ats[i]);
    }
  }

  /** Writes the 12-byte header at offset 0 and empties the rest (call first). */
  header(id: number, flags: number, qdcount = 0, ancount = 0, nscount = 0, arcount = 0): void {
    this.reset();
    this.#ensure(12);
    this.#u16(id);
    this.#u16(flags);
    this.#u16(qdcount);
    this.#u16(ancount);
    this.#u16(nscount);
    this.#u16(arcount);
  }

  /** Rewrites the four section counts in the header. */
  setCounts(qdcount: number, ancount: number, nscount: number, arcount: number): void {
    const b = this.#buf;
    b[4] = qdcount >> 8;
    b[5] = qdcount;
    b[6] = ancount >> 8;
    b[7] = ancount;
    b[8] = nscount >> 8;
    b[9] = nscount;
    b[10] = arcount >> 8;
    b[11] = arcount;
  }

  /** Rewrites the header's flags word. */
  setFlags(flags: number): void {
    this.#buf[2] = flags >> 8;
    this.#buf[3] = flags;
  }

  /** Appends raw bytes. */
  bytes(data: Uint8Array): void {
    this.#ensure(data.length);
    this.#buf.set(data, this.#len);
    this.#len += data.length;
  }

  /** Appends a name, compressed unless `compress` is false. Throws `RangeError` if invalid. */
  name(name: string, compress = true): void {
    const n = encodeNameCached(name);
    if (n < 0) throw new RangeError(`invalid DNS name: ${JSON.stringify(name)}`);
    this.#ensure(n);
    const buf = this.#buf;
    // Names are short: byte loops below beat `set` over a `subarray` made per name or label.
    if (!compress || n === 1) {
      let o = this.#len;
      for (let i = 0; i < n; i++) buf[o++] = nameScratch[i];
      this.#len = o;
      return;
    }
    // Each suffix is keyed by a hash of its bytes (computed right to left, so a suffix's hash
    // covers every label after it); a hit is confirmed against the bytes already written, so a
    // collision only costs a missed compression.
    const fold = this.foldCase;
    let labels = 0;
    for (let p = 0; p < n - 1; p += 1 + nameScratch[p]) labelStarts[labels++] = p;
    let h = 0x811c9dc5;
    for (let l = labels - 1; l >= 0; l--) {
      const start = labelStarts[l];
      const end = start + 1 + nameScratch[start];
      for (let i = start; i < end; i++) {
        let c = nameScratch[i];
        if (fold && c >= 0x41 && c <= 0x5a) c |= 0x20;
        h = Math.imul(h ^ c, 0x01000193);
      }
      labelHashes[l] = h & 0x3fffffff;
    }
    for (let l = 0; l < labels; l++) {
      const start = labelStarts[l];
      const at = this.#findName(labelHashes[l], start, n);
      if (at >= 0) {
        buf[this.#len++] = 0xc0 | (at >> 8);
        buf[this.#len++] = at;
        return;
      }
      let o = this.#len;
      if (o < 0x4000) this.#addName(labelHashes[l], o);
      const end = start + 1 + nameScratch[start];
      for (let i = start; i < end; i++) buf[o++] = nameScratch[i];
      this.#len = o;
    }
    buf[this.#len++] = 0;
  }

  /** True when the name written at `at` equals `nameScratch[start..n)` (per `foldCase`). */
  #sameName(at: number, start: number, n: number): boolean {
    const buf = this.#buf;
    const fold = this.foldCase;
    let p = at;
    let q = start;
    for (let hops = 0; hops < 128;) {
      const b = buf[p];
      if (b >= 0xc0) {
        p = ((b & 0x3f) << 8) | buf[p + 1];
        hops++;
        continue;
      }
      if (b !== nameScratch[q]) return false;
      if (b === 0) return true;
      for (let i = 1; i <= b; i++) {
        let x = buf[p + i];
        let y = nameScratch[q + i];
        if (x !== y) {
          if (!fold) return false;
          if (x >= 0x41 && x <= 0x5a) x |= 0x20;
          if (y >= 0x41 && y <= 0x5a) y |= 0x20;
          if (x !== y) return false;
        }
      }
      p += 1 + b;
      q += 1 + b;
      if (q > n) return false;
    }
    return false;
  }

  /** Appends a question; its name is compressed unless `compress` is false. */
  question(q: DnsQuestion, compress = true): void {
    this.name(q.name, compress);
    this.#ensure(4);
    this.#u16(q.type);
    this.#u16(q.dnsClass);
  }

  /**
   * Appends a resource record. `data` takes the shapes `parseMessage` produces; a `Uint8Array`
   * is written as raw rdata for any type, and TXT also takes a single string (split into
   * 255-byte pieces). Names in CNAME/PTR/NS/MX/SOA data are compressed, SRV targets are not
   * (RFC 2782).
   */
  rr(rr: DnsRR): void {
    this.name(rr.name);
    this.#ensure(10);
    this.#u16(rr.type);
    this.#u16(rr.dnsClass);
    this.#u32(rr.ttl);
    const lenAt = this.#len;
    this.#len += 2;
    this.#rdata(rr.type, rr.data);
    const rdlen = this.#len - lenAt - 2;
    if (rdlen > 0xffff) throw new RangeError("DNS rdata longer than 65535 bytes");
    this.#buf[lenAt] = rdlen >> 8;
    this.#buf[lenAt + 1] = rdlen;
  }

  #rdata(type: number, data: unknown): void {
    if (data instanceof Uint8Array) {
      this.bytes(data);
      return;
    }
    switch (type) {
      case TYPE_A:
        this.#ensure(4);
        if (typeof data !== "string" || !parseIpv4At(data, this.#buf, this.#len)) {
          throw new TypeError(`A record data must be IPv4 text: ${String(data)}`);
        }
        this.#len += 4;
        return;
      case TYPE_AAAA:
        this.#ensure(16);
        if (typeof data !== "string" || !parseIpv6Into(data, this.#buf, this.#len)) {
          throw new TypeError(`AAAA record data must be IPv6 text: ${String(data)}`);
        }
        this.#len += 16;
        return;
      case TYPE_CNAME:
      case TYPE_PTR:
      case TYPE_NS:
        if (typeof data !== "string") throw new TypeError("record data must be a name");
        this.name(data);
        return;
      case TYPE_MX: {
        const mx = data as Partial<DnsMxData> | null;
        if (typeof mx?.preference !== "number" || typeof mx.exchange !== "string") {
          throw new TypeError("MX data must be { preference, exchange }");
        }
        this.#ensure(2);
        this.#u16(mx.preference);
        this.name(mx.exchange);
        return;
      }
      case TYPE_SRV: {
        const srv = data as Partial<DnsSrvData> | null;
        if (
          typeof srv?.priority !== "number" || typeof srv.weight !== "number" ||
          typeof srv.port !== "number" || typeof srv.target !== "string"
        ) {
          throw new TypeError("SRV data must be { priority, weight, port, target }");
        }
        this.#ensure(6);
        this.#u16(srv.priority);
        this.#u16(srv.weight);
        this.#u16(srv.port);
        this.name(srv.target, false);
        return;
      }
      case TYPE_SOA: {
        const soa = data as Partial<DnsSoaData> | null;
        if (
          typeof soa?.mname !== "string" || typeof soa.rname !== "string" ||
          typeof soa.serial !== "number" || typeof soa.refresh !== "number" ||
          typeof soa.retry !== "number" || typeof soa.expire !== "number" ||
          typeof soa.minimum !== "number"
        ) {
          throw new TypeError(
            "SOA data must be { mname, rname, serial, refresh, retry, expire, minimum }",
          );
        }
        this.name(soa.mname);
        this.name(soa.rname);
        this.#ensure(20);
        this.#u32(soa.serial);
        this.#u32(soa.refresh);
        this.#u32(soa.retry);
        this.#u32(soa.expire);
        this.#u32(soa.minimum);
        return;
      }
      case TYPE_TXT: {
        if (typeof data === "string") {
          this.#txt(data);
          return;
        }
        if (!Array.isArray(data) || !data.every((s) => typeof s === "string")) {
          throw new TypeError("TXT data must be a string or an array of strings");
        }
        if (data.length === 0) this.#txt("");
        for (const s of data) this.#txt(s);
        return;
      }
    }
    throw new TypeError(`data for record type ${type} must be a Uint8Array`);
  }

  #txt(s: string): void {
    if (this.#asciiTxt(s)) return;
    const b = utf8Encoder.encode(s);
    if (b.length === 0) {
      this.#ensure(1);
      this.#buf[this.#len++] = 0;
      return;
    }
    for (let p = 0; p < b.length; p += 255) {
      const piece = b.subarray(p, Math.min(p + 255, b.length));
      this.#ensure(1 + piece.length);
      this.#buf[this.#len++] = piece.length;
      this.#buf.set(piece, this.#len);
      this.#len += piece.length;
    }
  }

  /**
   * Writes ASCII text as character-strings without a TextEncoder round trip (an op call per
   * string); false, with nothing written, when the text has other characters.
   */
  #asciiTxt(s: string): boolean {
    const n = s.length;
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return false;
    if (n === 0) {
      this.#ensure(1);
      this.#buf[this.#len++] = 0;
      return true;
    }
    this.#ensure(n + Math.ceil(n / 255));
    const buf = this.#buf;
    let o = this.#len;
    for (let p = 0; p < n;) {
      const end = Math.min(p + 255, n);
      buf[o++] = end - p;
      while (p < end) buf[o++] = s.charCodeAt(p++);
    }
    this.#len = o;
    return true;
  }

  /**
   * Appends an OPT record (RFC 6891) advertising `udpSize`; `extRcode` is the response code's
   * upper 8 bits.
   */
  opt(udpSize: number, extRcode = 0, version = 0, dnssecOk = false): void {
    this.#ensure(11);
    this.#buf[this.#len++] = 0;
    this.#u16(TYPE_OPT);
    this.#u16(udpSize);
    this.#u32(((extRcode & 0xff) << 24) | ((version & 0xff) << 16) | (dnssecOk ? 0x8000 : 0));
    this.#u16(0);
  }

  /** Cuts the message back to `length` bytes, forgetting names written past it. */
  truncate(length: number): void {
    if (length >= this.#len) return;
    this.#len = length;
    // Open addressing cannot delete in place: keep the names still inside the message.
    const hashes = this.#slotHash.slice();
    const ats = this.#slotAt.slice();
    const gens = this.#slotGen.slice();
    const gen = this.#gen;
    this.#forgetNames();
    for (let i = 0; i < gens.length; i++) {
      if (gens[i] === gen && ats[i] < length) this.#addName(hashes[i], ats[i]);
    }
  }

  /**
   * The message written so far as a view of the writer's own buffer (no copy): valid only until
   * the writer writes again.
   */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  /** A copy of the finished message; the writer is then empty and may be reused. */
  finish(): Uint8Array {
    const out = this.#buf.slice(0, this.#len);
    this.reset();
    return out;
  }
}

/** Options of `encodeQuery`. @ignore */
export interface EncodeQueryOptions {
  /** Recursion desired (default true). */
  rd?: boolean;
  /** When set, an OPT record advertising this UDP size is added. */
  ednsUdpSize?: number;
  /** DNSSEC OK bit in the OPT record. */
  dnssecOk?: boolean;
  /** Question class (default IN). */
  dnsClass?: number;
}

/**
 * A one-question query. The name is written exactly as given (callers apply 0x20 case
 * randomization beforehand). Throws `RangeError` for an invalid name.
 *
 * @ignore
 */
export function encodeQuery(
  id: number,
  name: string,
  type: number,
  opts: EncodeQueryOptions = {},
): Uint8Array {
  const n = encodeName(name, nameScratch);
  if (n < 0) throw new RangeError(`invalid DNS name: ${JSON.stringify(name)}`);
  const edns = opts.ednsUdpSize !== undefined;
  // The one name has nothing to point to, so the packet is written straight into its buffer.
  const out = new Uint8Array(12 + n + 4 + (edns ? 11 : 0));
  const flags = opts.rd === false ? 0 : FLAG_RD;
  out[0] = id >> 8;
  out[1] = id;
  out[2] = flags >> 8;
  out[5] = 1;
  out[11] = edns ? 1 : 0;
  out.set(nameScratch.subarray(0, n), 12);
  let p = 12 + n;
  const dnsClass = opts.dnsClass ?? CLASS_IN;
  out[p++] = type >> 8;
  out[p++] = type;
  out[p++] = dnsClass >> 8;
  out[p++] = dnsClass;
  if (edns) {
    const size = opts.ednsUdpSize!;
    p++; // root owner
    out[p++] = 0;
    out[p++] = TYPE_OPT;
    out[p++] = size >> 8;
    out[p++] = size;
    if (opts.dnssecOk === true) out[p + 2] = 0x80;
  }
  return out;
}

/** Options of `encodeResponse`. @ignore */
export interface EncodeResponseOptions {
  /** Largest message to produce (UDP limit); default and cap 65535. */
  maxSize?: number;
  /** Compress names whatever their ASCII case (default false: exact bytes kept). */
  foldCase?: boolean;
}

function setBit(flags: number, bit: number, on: boolean | undefined): number {
  if (on === undefined) return flags;
  return on ? flags | bit : flags & ~bit;
}

/** Reused by `encodeResponse` so a message costs one allocation (its result). */
const sharedWriter = new DnsWriter(4096);
let sharedBusy = false;

/**
 * Encodes a response (QR set unless `msg.qr === false`). When it would exceed `maxSize`, whole
 * records are cut from the end (answers are kept first, then authority, then additional), the
 * OPT record is kept, the counts are fixed and TC is set; if even the questions do not fit, they
 * are dropped too. Throws on invalid names or record data.
 *
 * @ignore
 */
export function encodeResponse(msg: DnsMessageInit, opts: EncodeResponseOptions = {}): Uint8Array {
  return encodeResponseView(msg, opts).slice();
}

/**
 * `encodeResponse` without the copy: the result is a view of a writer's buffer that the next
 * `encodeResponse*` call may overwrite, for callers that copy it out at once (the server copies
 * replies into a send slab, saving an allocation per reply).
 *
 * @ignore
 */
export function encodeResponseView(
  msg: DnsMessageInit,
  opts: EncodeResponseOptions = {},
): Uint8Array {
  // Record data could be user objects with getters that re-enter; they get their own writer.
  const w = sharedBusy ? new DnsWriter(512) : sharedWriter;
  const shared = w === sharedWriter;
  if (shared) sharedBusy = true;
  try {
    w.foldCase = opts.foldCase === true;
    writeResponse(w, msg, opts.maxSize);
    return w.view();
  } finally {
    if (shared) {
      w.reset();
      sharedBusy = false;
    }
  }
}

/** Stand-ins for absent sections, so a reply without them allocates no empty arrays. */
const NO_QUESTIONS: readonly DnsQuestion[] = [];
const NO_RRS: readonly DnsRR[] = [];

function writeResponse(w: DnsWriter, msg: DnsMessageInit, maxSize: number | undefined): void {
  let flags = msg.flags ?? 0;
  flags = setBit(flags, FLAG_QR, msg.qr ?? true);
  flags = setBit(flags, FLAG_AA, msg.aa);
  flags = setBit(flags, FLAG_TC, msg.tc);
  flags = setBit(flags, FLAG_RD, msg.rd);
  flags = setBit(flags, FLAG_RA, msg.ra);
  if (msg.opcode !== undefined) flags = (flags & ~0x7800) | ((msg.opcode & 0xf) << 11);
  const rcode = msg.rcode ?? (flags & 0xf);
  flags = (flags & ~0xf) | (rcode & 0xf);
  const questions = msg.questions ?? NO_QUESTIONS;
  const answers = msg.answers ?? NO_RRS;
  const authority = msg.authority ?? NO_RRS;
  const additional = msg.additional ?? NO_RRS;
  const edns = msg.edns;
  const optSize = edns === undefined ? 0 : 11;
  const an = answers.length;
  const ns = authority.length;
  const ar = additional.length;

  w.header(msg.id, flags, questions.length, an, ns, ar + (optSize > 0 ? 1 : 0));
  for (let i = 0; i < questions.length; i++) w.question(questions[i]);
  const questionsEnd = w.length;
  const limit = Math.max(12, Math.min(maxSize ?? 0xffff, 0xffff));
  // Records are kept as a prefix (answers, then authority, then additional): at the first one
  // that does not fit with room left for OPT, the message is cut back to the last that did.
  const budget = limit - optSize;
  let keep = 0;
  let fitEnd = questionsEnd;
  let cut = false;
  outer: for (let s = 0; s < 3; s++) {
    const section = s === 0 ? answers : s === 1 ? authority : additional;
    for (let i = 0; i < section.length; i++) {
      w.rr(section[i]);
      if (w.length > budget) {
        cut = true;
        break outer;
      }
      fitEnd = w.length;
      keep++;
    }
  }
  if (!cut && questionsEnd > budget) cut = true;
  if (cut) {
    let qd = questions.length;
    if (fitEnd > budget) {
      qd = 0;
      fitEnd = 12;
    }
    w.truncate(fitEnd);
    const keptAn = Math.min(an, keep);
    const keptNs = Math.min(ns, keep - keptAn);
    const keptAr = keep - keptAn - keptNs;
    const withOpt = optSize > 0 && fitEnd + optSize <= limit;
    w.setCounts(qd, keptAn, keptNs, keptAr + (withOpt ? 1 : 0));
    // TC only when the question, an answer or an authority record was cut: additional data that
    // does not fit is simply left out (RFC 2181 §9), a resolver need not retry over TCP for it.
    if (qd < questions.length || keep < an + ns) w.setFlags(flags | FLAG_TC);
    if (optSize > 0 && !withOpt) return;
  }
  if (edns !== undefined) w.opt(edns.udpSize, rcode >> 4, edns.version, edns.do);
}
