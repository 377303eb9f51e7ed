/**
 * IP address text helpers for the DNS code: strict parsers, RFC 5952 formatting and reverse
 * (PTR) names. Pure functions; nothing here throws on bad input.
 *
 * @module
 */

const HEX = "0123456789abcdef";

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/**
 * Parses a dotted-quad IPv4 address into `out` at `off`; false when `s[start..end)` is not
 * exactly four decimal parts 0..255 (leading zeros are refused: they mean octal to some parsers).
 */
function parseIpv4Into(
  s: string,
  start: number,
  end: number,
  out: Uint8Array,
  off: number,
): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part === 3) return false;
      out[off + part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return false;
      value = value * 10 + (c - 0x30);
      if (value > 255) return false;
      digits++;
    } else {
      return false;
    }
  }
  if (digits === 0 || part !== 3) return false;
  out[off + 3] = value;
  return true;
}

/**
 * Parses dotted-quad IPv4 text (`"192.0.2.1"`) into 4 bytes, or null when it is not exactly that.
 *
 * @ignore
 */
export function parseIpv4(s: string): Uint8Array | null {
  if (s.length < 7 || s.length > 15) return null;
  const out = new Uint8Array(4);
  return parseIpv4Into(s, 0, s.length, out, 0) ? out : null;
}

/**
 * Parses IPv6 text in any RFC 4291 form (`"2001:db8::1"`, `"::"`, `"::ffff:192.0.2.1"`) into 16
 * bytes, or null. Zone ids (`%eth0`) and brackets are refused.
 *
 * @ignore
 */
export function parseIpv6(s: string): Uint8Array | null {
  const out = new Uint8Array(16);
  return parseIpv6Into(s, out, 0) ? out : null;
}

/**
 * `parseIpv6` writing into `out[off..off+16)` without allocating; false (with `out` partly
 * written) when `s` is not IPv6 text.
 *
 * @ignore
 */
export function parseIpv6Into(s: string, out: Uint8Array, off: number): boolean {
  const len = s.length;
  if (len < 2 || len > 45) return false;
  out.fill(0, off, off + 16);
  // Groups are written left to right; after a "::" the tail is collected and then moved to the
  // end, which leaves the gap as zeros.
  let g = 0; // 16-bit groups written so far
  let gap = -1; // group index where "::" sits
  let i = 0;
  if (s.charCodeAt(0) === 0x3a) {
    if (s.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
    if (i === len) return true;
  }
  while (i < len) {
    if (g >= 8) return false;
    let j = i;
    let value = 0;
    while (j < len && j - i < 5) {
      const h = hexValue(s.charCodeAt(j));
      if (h < 0) break;
      value = (value << 4) | h;
      j++;
    }
    const digits = j - i;
    if (j < len && s.charCodeAt(j) === 0x2e) {
      // Embedded IPv4 must be the last 32 bits.
      if (g > 6 || !parseIpv4Into(s, i, len, out, off + g * 2)) return false;
      g += 2;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    out[off + g * 2] = value >> 8;
    out[off + g * 2 + 1] = value & 0xff;
    g++;
    if (j === len) break;
    if (s.charCodeAt(j) !== 0x3a) return false;
    j++;
    if (j < len && s.charCodeAt(j) === 0x3a) {
      if (gap >= 0) return false;
      gap = g;
      j++;
      if (j === len) break;
    } else if (j === len) {
      return false; // trailing single colon
    }
    i = j;
  }
  if (gap < 0) return g === 8;
  // "::" stands for at least one zero group.
  if (g > 7) return false;
  const tailBytes = (g - gap) * 2;
  if (tailBytes > 0) {
    out.copyWithin(off + 16 - tailBytes, off + gap * 2, off + g * 2);
    out.fill(0, off + gap * 2, off + 16 - tailBytes);
  }
  return true;
}

/**
 * `parseIpv4` writing into `out[off..off+4)` without allocating; false when `s` is not
 * dotted-quad IPv4 text.
 *
 * @ignore
 */
export function parseIpv4At(s: string, out: Uint8Array, off: number): boolean {
  if (s.length < 7 || s.length > 15) return false;
  return parseIpv4Into(s, 0, s.length, out, off);
}

const SCRATCH = new Uint8Array(16);

/** True when `s` is dotted-quad IPv4 text that `parseIpv4` accepts. @ignore */
export function isIpv4(s: string): boolean {
  return parseIpv4At(s, SCRATCH, 0);
}

/** True when `s` is IPv6 text that `parseIpv6` accepts. @ignore */
export function isIpv6(s: string): boolean {
  return parseIpv6Into(s, SCRATCH, 0);
}

/** Formats 4 bytes at `off` as dotted-quad text. @ignore */
export function formatIpv4(bytes: Uint8Array, off = 0): string {
  return `${bytes[off]}.${bytes[off + 1]}.${bytes[off + 2]}.${bytes[off + 3]}`;
}

/**
 * Formats 16 bytes at `off` as RFC 5952 canonical IPv6 text: lowercase, no leading zeros, the
 * longest (first on a tie) run of two or more zero groups as `::`, and IPv4-mapped addresses as
 * `::ffff:a.b.c.d`.
 *
 * @ignore
 */
export function formatIpv6(bytes: Uint8Array, off = 0): string {
  let bestStart = -1;
  let bestLen = 1; // a lone zero group is never shortened
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const zero = bytes[off + i * 2] === 0 && bytes[off + i * 2 + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = i;
      const runLen = i - runStart + 1;
      if (runLen > bestLen) {
        bestLen = runLen;
        bestStart = runStart;
      }
    } else {
      runStart = -1;
    }
  }
  if (
    bestStart === 0 && bestLen === 5 && bytes[off + 10] === 0xff && bytes[off + 11] === 0xff
  ) {
    return "::ffff:" + formatIpv4(bytes, off + 12);
  }
  let s = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += i === 0 ? "::" : ":";
      i += bestLen - 1;
      continue;
    }
    const v = (bytes[off + i * 2] << 8) | bytes[off + i * 2 + 1];
    s += v.toString(16);
    if (i < 7) s += ":";
  }
  return s;
}

/**
 * The `in-addr.arpa` name for an IPv4 address (text or 4 bytes): `"1.2.3.4"` →
 * `"4.3.2.1.in-addr.arpa"`; null when the text is not an IPv4 address.
 *
 * @ignore
 */
export function reverseName4(addr: string | Uint8Array): string | null {
  const b = typeof addr === "string" ? parseIpv4(addr) : addr;
  if (b === null || b.length !== 4) return null;
  return `${b[3]}.${b[2]}.${b[1]}.${b[0]}.in-addr.arpa`;
}

/**
 * The nibble `ip6.arpa` name for an IPv6 address (text or 16 bytes): `"::1"` →
 * `"1.0.0.…0.ip6.arpa"` (32 nibbles, lowest first); null when the text is not an IPv6 address.
 *
 * @ignore
 */
export function reverseName6(addr: string | Uint8Array): string | null {
  const b = typeof addr === "string" ? parseIpv6(addr) : addr;
  if (b === null || b.length !== 16) return null;
  let s = "";
  for (let i = 15; i >= 0; i--) {
    s += HEX[b[i] & 0xf] + "." + HEX[b[i] >> 4] + ".";
  }
  return s + "ip6.arpa";
}
