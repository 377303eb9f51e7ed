/**
 * URI parsing and percent-encoding helpers: `EvhttpUri` (RFC 3986 URI references, libevent's
 * `evhttp_uri_*`), `evhttpUriencode` / `evhttpUridecode`, query-string parsing into an
 * `Evkeyvalq`, and HTML escaping.
 *
 * @example
 * ```ts
 * import { EvhttpUri, evhttpParseQueryStr } from "./uri.ts";
 * const uri = EvhttpUri.parse("http://example.com:8080/search?q=deno+http#top")!;
 * uri.port; // 8080
 * evhttpParseQueryStr(uri.query!).find("q"); // "deno http"
 * ```
 *
 * @module
 */

import {
  EVHTTP_URI_HOST_STRIP_BRACKETS,
  EVHTTP_URI_NONCONFORMANT,
  EVHTTP_URI_QUERY_LAST_VAL,
  EVHTTP_URI_QUERY_NONCONFORMANT,
  EVHTTP_URI_UNIX_SOCKET,
} from "./constants.ts";
import { Evkeyvalq, lowerKey } from "./keyvalq.ts";

// ---------------------------------------------------------------------------
// Character classes (RFC 3986 §2), as 128-entry tables indexed by char code.

const UNRESERVED = new Uint8Array(128);
const SUBDELIM = new Uint8Array(128);
const HEXVAL = new Int8Array(128).fill(-1);
{
  const set = (t: Uint8Array, chars: string) => {
    for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  };
  for (let c = 0x30; c <= 0x39; c++) UNRESERVED[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) UNRESERVED[c] = UNRESERVED[c + 0x20] = 1;
  set(UNRESERVED, "-._~");
  set(SUBDELIM, "!$&'()*+,;=");
  for (let i = 0; i < 10; i++) HEXVAL[0x30 + i] = i;
  for (let i = 0; i < 6; i++) HEXVAL[0x41 + i] = HEXVAL[0x61 + i] = 10 + i;
}

function isHex(c: number): boolean {
  return c < 128 && HEXVAL[c] >= 0;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** unreserved / sub-delims / extra chars / pct-encoded over `s[a..b)`. */
function charsOk(s: string, a: number, b: number, extra: string): boolean {
  let i = a;
  while (i < b) {
    const c = s.charCodeAt(i);
    if (c < 128 && (UNRESERVED[c] || SUBDELIM[c])) i++;
    else if (c === 0x25) {
      if (i + 2 < b && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) i += 3;
      else return false;
    } else if (extra.length !== 0 && extra.indexOf(s[i]) >= 0) i++;
    else return false;
  }
  return true;
}

function schemeOk(s: string, a: number, b: number): boolean {
  if (a >= b || !isAlpha(s.charCodeAt(a))) return false;
  for (let i = a + 1; i < b; i++) {
    const c = s.charCodeAt(i);
    if (!isAlpha(c) && !isDigit(c) && c !== 0x2b && c !== 0x2d && c !== 0x2e) return false;
  }
  return true;
}

function isIpv4(s: string): boolean {
  const parts = s.split(".");
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || (p.length > 1 && p[0] === "0")) return false;
    for (let i = 0; i < p.length; i++) if (!isDigit(p.charCodeAt(i))) return false;
    if (Number(p) > 255) return false;
  }
  return true;
}

/**
 * Whether `s` is a textual IPv6 address as `inet_pton(AF_INET6)` accepts it (hex groups, one
 * `::`, an optional dotted IPv4 tail).
 *
 * @ignore
 */
export function isIpv6(s: string): boolean {
  const n = s.length;
  if (n < 2 || n > 45) return false;
  let groups = 0;
  let dbl = false;
  let i = 0;
  if (s.charCodeAt(0) === 0x3a) {
    if (s.charCodeAt(1) !== 0x3a) return false;
    dbl = true;
    i = 2;
  }
  while (i < n) {
    let j = i;
    while (j < n && j - i < 5 && isHex(s.charCodeAt(j))) j++;
    if (j < n && s.charCodeAt(j) === 0x2e) {
      if (!isIpv4(s.slice(i))) return false;
      groups += 2;
      break;
    }
    if (j === i || j - i > 4) return false;
    groups++;
    i = j;
    if (i === n) break;
    if (s.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i === n) return false;
    if (s.charCodeAt(i) === 0x3a) {
      if (dbl) return false;
      dbl = true;
      i++;
    }
  }
  return dbl ? groups <= 7 : groups === 8;
}

/** `[IPv6]` → 1, `[vX.future]` → 2, anything else → 0. */
function bracketAddr(s: string): number {
  const n = s.length;
  if (n < 3 || s.charCodeAt(0) !== 0x5b || s.charCodeAt(n - 1) !== 0x5d) return 0;
  if (s.charCodeAt(1) === 0x76) {
    let i = 2;
    if (!isHex(s.charCodeAt(i))) return 0;
    while (i < n - 1 && isHex(s.charCodeAt(i))) i++;
    if (s.charCodeAt(i) !== 0x2e || i + 1 >= n - 1) return 0;
    // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ): no percent-encoding.
    const pct = s.indexOf("%", i + 1);
    if (pct >= 0 && pct < n - 1) return 0;
    return charsOk(s, i + 1, n - 1, ":") ? 2 : 0;
  }
  return isIpv6(s.slice(1, n - 1)) ? 1 : 0;
}

// URI parts for endOfPart.
const PART_PATH = 0;
const PART_QUERY = 1;
const PART_FRAGMENT = 2;

/** Index where the path/query/fragment starting at `i` ends. */
function endOfPart(s: string, i: number, part: number, flags: number): number {
  const n = s.length;
  if (flags & EVHTTP_URI_NONCONFORMANT) {
    if (part === PART_FRAGMENT) return n;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x23 || (c === 0x3f && part === PART_PATH)) return i;
    }
    return n;
  }
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c < 128 && (UNRESERVED[c] || SUBDELIM[c])) i++;
    else if (c === 0x3a || c === 0x40 || c === 0x2f) i++;
    else if (c === 0x25 && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) i += 3;
    else if (c === 0x3f && part !== PART_PATH) i++;
    else return i;
  }
  return n;
}

function hostOk(host: string, flags: number): boolean {
  if (host.charCodeAt(0) === 0x5b) return bracketAddr(host) !== 0;
  if ((flags & EVHTTP_URI_HOST_STRIP_BRACKETS) && host.indexOf(":") >= 0) return isIpv6(host);
  return charsOk(host, 0, host.length, "");
}

/**
 * A parsed URI reference (RFC 3986), libevent's `struct evhttp_uri`. Components are kept as
 * written (no percent-decoding); absent ones are `null` and an absent port is `-1`. A `null`
 * host means "no authority"; `""` means an empty one (`file:///etc/motd`).
 *
 * Assigning a component validates it and throws `TypeError` (`RangeError` for the port) when it
 * is ill-formed, as libevent's `evhttp_uri_set_*` return -1.
 *
 * @example
 * ```ts
 * import { EvhttpUri } from "./uri.ts";
 * const u = EvhttpUri.parse("scheme://user:pass@foo.com:42/?q=test#frag")!;
 * [u.scheme, u.userinfo, u.host, u.port, u.path, u.query, u.fragment];
 * // ["scheme", "user:pass", "foo.com", 42, "/", "q=test", "frag"]
 * u.host = "example.org";
 * u.join(); // "scheme://user:pass@example.org:42/?q=test#frag"
 * ```
 */
export class EvhttpUri {
  #flags: number;
  #scheme: string | null = null;
  #userinfo: string | null = null;
  #host: string | null = null;
  #unixsocket: string | null = null;
  #port = -1;
  #path: string | null = null;
  #query: string | null = null;
  #fragment: string | null = null;

  /** An empty URI (every component absent); `flags` are the `EVHTTP_URI_*` parse flags. */
  constructor(flags = 0) {
    this.#flags = flags;
  }

  /**
   * Parses a URI reference; `null` when it is malformed. `flags`: `EVHTTP_URI_NONCONFORMANT`
   * (path = anything up to `?`/`#`, query anything up to `#`), `EVHTTP_URI_HOST_STRIP_BRACKETS`
   * (IPv6 hosts without `[]`), `EVHTTP_URI_UNIX_SOCKET` (`http://unix:/path.sock:/req`).
   */
  static parse(s: string, flags = 0): EvhttpUri | null {
    const uri = new EvhttpUri(flags);
    const n = s.length;
    let p = 0;

    const colon = s.indexOf(":");
    if (colon > 0 && schemeOk(s, 0, colon)) {
      uri.#scheme = s.slice(0, colon);
      p = colon + 1;
    }

    let gotAuthority = false;
    if (s.charCodeAt(p) === 0x2f && s.charCodeAt(p + 1) === 0x2f) {
      p += 2;
      gotAuthority = true;
      const end = uri.#parseAuthority(s, p, flags);
      if (end < 0) return null;
      p = end;
    }

    const pathStart = p;
    p = endOfPart(s, p, PART_PATH, flags);
    const path = s.slice(pathStart, p);
    if (p < n && s.charCodeAt(p) === 0x3f) {
      const q = p + 1;
      p = endOfPart(s, q, PART_QUERY, flags);
      uri.#query = s.slice(q, p);
    }
    if (p < n && s.charCodeAt(p) === 0x23) {
      const f = p + 1;
      p = endOfPart(s, f, PART_FRAGMENT, flags);
      uri.#fragment = s.slice(f, p);
    }
    if (p !== n) return null;

    if (!gotAuthority && path.startsWith("//")) return null;
    if (gotAuthority && path.length !== 0 && path.charCodeAt(0) !== 0x2f) return null;
    if (uri.#scheme === null) {
      // Without a scheme, a colon in the first segment would read as one (RFC 3986 §4.2).
      const c = path.indexOf(":");
      if (c >= 0) {
        const slash = path.indexOf("/");
        if (slash < 0 || c < slash) return null;
      }
    }
    uri.#path = path;
    return uri;
  }

  /** Parses `[userinfo@]host[:port]` from `s[p..]`; returns where the authority ends, or -1. */
  #parseAuthority(s: string, p: number, flags: number): number {
    const n = s.length;
    let end = p;
    while (end < n) {
      const c = s.charCodeAt(end);
      if (c === 0x2f || c === 0x3f || c === 0x23) break;
      end++;
    }
    let hostStart = p;
    const at = s.indexOf("@", p);
    if (flags & EVHTTP_URI_UNIX_SOCKET) {
      // `unix:` authorities run to the next colon, since the socket path has slashes.
      const us = at >= 0 && at < end ? at + 1 : p;
      if (s.startsWith("unix:", us)) {
        const close = s.indexOf(":", us + 5);
        if (close < 0) return -1;
        if (us !== p) {
          if (!charsOk(s, p, us - 1, ":")) return -1;
          this.#userinfo = s.slice(p, us - 1);
        }
        this.#unixsocket = s.slice(us + 5, close);
        return close + 1;
      }
    }
    if (end === p) {
      this.#host = "";
      return end;
    }
    if (at >= 0 && at < end) {
      if (!charsOk(s, p, at, ":")) return -1;
      this.#userinfo = s.slice(p, at);
      hostStart = at + 1;
    }
    let hostEnd = end;
    let q = end - 1;
    while (q >= hostStart && isDigit(s.charCodeAt(q))) q--;
    if (q >= hostStart && s.charCodeAt(q) === 0x3a) {
      if (q + 1 < end) {
        const port = Number(s.slice(q + 1, end));
        if (port > 65535) return -1;
        this.#port = port;
      }
      hostEnd = q;
    }
    const host = s.slice(hostStart, hostEnd);
    if (
      host.charCodeAt(0) === 0x5b && host.length >= 2 && host.charCodeAt(host.length - 1) === 0x5d
    ) {
      const kind = bracketAddr(host);
      if (kind === 0) return -1;
      this.#host = kind === 1 && (flags & EVHTTP_URI_HOST_STRIP_BRACKETS)
        ? host.slice(1, -1)
        : host;
    } else {
      if (!charsOk(host, 0, host.length, "")) return -1;
      this.#host = host;
    }
    return end;
  }

  /** The `EVHTTP_URI_*` flags this URI was parsed with (they also govern the setters). */
  get flags(): number {
    return this.#flags;
  }
  set flags(f: number) {
    this.#flags = f;
  }

  /** Scheme without the colon (`"http"`), or `null`. */
  get scheme(): string | null {
    return this.#scheme;
  }
  set scheme(v: string | null) {
    if (v !== null && !schemeOk(v, 0, v.length)) {
      throw new TypeError(`invalid URI scheme: ${JSON.stringify(v)}`);
    }
    this.#scheme = v;
  }

  /** Userinfo before `@` (`"user:pass"`), or `null`. */
  get userinfo(): string | null {
    return this.#userinfo;
  }
  set userinfo(v: string | null) {
    if (v !== null && !charsOk(v, 0, v.length, ":")) {
      throw new TypeError(`invalid URI userinfo: ${JSON.stringify(v)}`);
    }
    this.#userinfo = v;
  }

  /** Host (`[::1]` keeps its brackets unless `EVHTTP_URI_HOST_STRIP_BRACKETS`); `null` = no authority. */
  get host(): string | null {
    return this.#host;
  }
  set host(v: string | null) {
    if (v !== null && v.length !== 0) {
      if (!hostOk(v, this.#flags)) throw new TypeError(`invalid URI host: ${JSON.stringify(v)}`);
      if ((this.#flags & EVHTTP_URI_HOST_STRIP_BRACKETS) && bracketAddr(v) === 1) {
        v = v.slice(1, -1);
      }
    }
    this.#host = v;
  }

  /** Unix socket path of an `http://unix:PATH:/…` URI (`EVHTTP_URI_UNIX_SOCKET`), or `null`. */
  get unixsocket(): string | null {
    return this.#unixsocket;
  }
  set unixsocket(v: string | null) {
    if (v !== null && v.indexOf(":") >= 0) {
      throw new TypeError(`invalid unix socket path: ${JSON.stringify(v)}`);
    }
    this.#unixsocket = v;
  }

  /** Port, or -1 when absent. */
  get port(): number {
    return this.#port;
  }
  set port(v: number) {
    if (!Number.isInteger(v) || v < -1 || v > 65535) {
      throw new RangeError(`invalid URI port: ${v}`);
    }
    this.#port = v;
  }

  /** Path as written (`""` when empty), or `null` on a URI built without one. */
  get path(): string | null {
    return this.#path;
  }
  set path(v: string | null) {
    if (v !== null && endOfPart(v, 0, PART_PATH, this.#flags) !== v.length) {
      throw new TypeError(`invalid URI path: ${JSON.stringify(v)}`);
    }
    this.#path = v;
  }

  /** Query without the `?`, or `null`. */
  get query(): string | null {
    return this.#query;
  }
  set query(v: string | null) {
    if (v !== null && endOfPart(v, 0, PART_QUERY, this.#flags) !== v.length) {
      throw new TypeError(`invalid URI query: ${JSON.stringify(v)}`);
    }
    this.#query = v;
  }

  /** Fragment without the `#`, or `null`. */
  get fragment(): string | null {
    return this.#fragment;
  }
  set fragment(v: string | null) {
    if (v !== null && endOfPart(v, 0, PART_FRAGMENT, this.#flags) !== v.length) {
      throw new TypeError(`invalid URI fragment: ${JSON.stringify(v)}`);
    }
    this.#fragment = v;
  }

  /**
   * Serialises the URI (no escaping). Throws `TypeError` when there is an authority and the
   * path is neither empty nor starts with `/` (libevent's join returns NULL then).
   */
  join(): string {
    let out = "";
    if (this.#scheme !== null) out += this.#scheme + ":";
    if (this.#host !== null || this.#unixsocket !== null) {
      out += "//";
      if (this.#userinfo !== null) out += this.#userinfo + "@";
      if (this.#unixsocket !== null) out += "unix:" + this.#unixsocket + ":";
      else if (this.#host!.indexOf(":") >= 0 && this.#host!.charCodeAt(0) !== 0x5b) {
        out += "[" + this.#host + "]";
      } else out += this.#host;
      if (this.#port >= 0 && this.#unixsocket === null) out += ":" + this.#port;
      const p = this.#path;
      if (p !== null && p.length !== 0 && p.charCodeAt(0) !== 0x2f) {
        throw new TypeError("cannot join a URI with an authority and a relative path");
      }
    }
    if (this.#path !== null) out += this.#path;
    if (this.#query !== null) out += "?" + this.#query;
    if (this.#fragment !== null) out += "#" + this.#fragment;
    return out;
  }

  /** Same as `join()`. */
  toString(): string {
    return this.join();
  }
}

// ---------------------------------------------------------------------------
// Percent-encoding

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const HEX_UPPER = "0123456789ABCDEF";
const ENCODED: string[] = [];
for (let b = 0; b < 256; b++) {
  ENCODED.push(
    b < 128 && UNRESERVED[b] ? String.fromCharCode(b) : "%" + HEX_UPPER[b >> 4] + HEX_UPPER[b & 15],
  );
}

/**
 * Percent-encodes everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`), with
 * uppercase hex; a string is encoded as UTF-8 first, a `Uint8Array` byte by byte. With
 * `spaceToPlus`, spaces become `+`.
 *
 * @example
 * ```ts
 * import { evhttpUriencode } from "./uri.ts";
 * evhttpUriencode("1+2=3 ", true); // "1%2B2%3D3+"
 * evhttpUriencode(new Uint8Array([0xff, 0]), false); // "%FF%00"
 * ```
 */
export function evhttpUriencode(s: string | Uint8Array, spaceToPlus = false): string {
  if (typeof s === "string") {
    let i = 0;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128 || !UNRESERVED[c]) break;
    }
    if (i === s.length) return s;
    s = encoder.encode(s);
  }
  const parts: string[] = [];
  for (let i = 0; i < s.length; i++) {
    const b = s[i];
    parts.push(b === 0x20 && spaceToPlus ? "+" : ENCODED[b]);
  }
  return parts.join("");
}

/**
 * Percent-encodes `s` (UTF-8), keeping only unreserved characters; spaces become `%20`.
 * libevent's `evhttp_encode_uri`.
 *
 * @example
 * ```ts
 * import { evhttpEncodeUri } from "./uri.ts";
 * evhttpEncodeUri("a b/c"); // "a%20b%2Fc"
 * ```
 */
export function evhttpEncodeUri(s: string): string {
  return evhttpUriencode(s, false);
}

/** `plusFrom`: index from which `+` decodes to a space (Infinity: never). */
function decodeToBytes(s: string, plusFrom: number): Uint8Array {
  const src = encoder.encode(s);
  const out = new Uint8Array(src.length);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    if (b === 0x25 && i + 2 < src.length && isHex(src[i + 1]) && isHex(src[i + 2])) {
      out[o++] = (HEXVAL[src[i + 1]] << 4) | HEXVAL[src[i + 2]];
      i += 2;
    } else if (b === 0x2b && i >= plusFrom) {
      out[o++] = 0x20;
    } else out[o++] = b;
  }
  return out.subarray(0, o);
}

function needsDecode(s: string, plus: boolean): boolean {
  return s.indexOf("%") >= 0 || (plus && s.indexOf("+") >= 0);
}

/**
 * Decodes `%XX` escapes (valid hex only; a malformed `%` sequence is kept literally) and, with
 * `decodePlus`, `+` as a space. The decoded bytes are read as UTF-8; a byte sequence that is not
 * valid UTF-8 becomes U+FFFD (as `URLSearchParams` does). Use `evhttpUridecodeBytes` for the raw
 * bytes.
 *
 * @example
 * ```ts
 * import { evhttpUridecode } from "./uri.ts";
 * evhttpUridecode("plus+should%20work+", true); // "plus should work "
 * evhttpUridecode("%%xhello", false); // "%%xhello"
 * evhttpUridecode("caf%C3%A9", false); // "café"
 * ```
 */
export function evhttpUridecode(s: string, decodePlus: boolean): string {
  if (!needsDecode(s, decodePlus)) return s;
  return decoder.decode(decodeToBytes(s, decodePlus ? 0 : Infinity));
}

/**
 * Like `evhttpUridecode`, but returns the decoded bytes (the string's own characters as UTF-8).
 *
 * @example
 * ```ts
 * import { evhttpUridecodeBytes } from "./uri.ts";
 * evhttpUridecodeBytes("%00x%FF", false); // Uint8Array [0, 120, 255]
 * ```
 */
export function evhttpUridecodeBytes(s: string, decodePlus: boolean): Uint8Array {
  return decodeToBytes(s, decodePlus ? 0 : Infinity).slice();
}

/**
 * Decodes `%XX` escapes, and `+` as a space only after the first `?` (libevent's deprecated
 * `evhttp_decode_uri`).
 *
 * @example
 * ```ts
 * import { evhttpDecodeUri } from "./uri.ts";
 * evhttpDecodeUri("/normal+path/?key=val+with+spaces"); // "/normal+path/?key=val with spaces"
 * ```
 */
export function evhttpDecodeUri(s: string): string {
  const q = s.indexOf("?");
  const plus = q >= 0 && s.indexOf("+", q) >= 0;
  if (!needsDecode(s, plus)) return s;
  // The `?` is ASCII, so its index in the UTF-8 bytes is past that of its UTF-16 index.
  const plusFrom = q < 0 ? Infinity : encoder.encode(s.slice(0, q)).length;
  return decoder.decode(decodeToBytes(s, plusFrom));
}

/**
 * The percent-decoded path of a request target (no `+` decoding), as evhttp matches callbacks:
 * the path of an origin-form target (`/a%20b?x` → `/a b`) or of an absolute one
 * (`http://h/p` → `/p`); `null` when the target does not parse.
 *
 * @ignore
 */
export function requestPath(target: string): string | null {
  let path: string;
  // Any target starting with "/" is origin-form (RFC 9112 §3.2.1), "//x/admin" included: read as
  // a URI it had the authority "x" and routed to "/admin" (libevent does), past a front proxy's
  // rules for "/admin".
  if (target.charCodeAt(0) === 0x2f) {
    let end = target.length;
    for (let i = 1; i < end; i++) {
      const c = target.charCodeAt(i);
      if (c === 0x3f || c === 0x23) end = i;
    }
    path = end === target.length ? target : target.slice(0, end);
  } else {
    const uri = EvhttpUri.parse(target, EVHTTP_URI_NONCONFORMANT);
    if (uri === null) return null;
    path = uri.path!;
    // An absolute target without a path asks for "/" (RFC 9110 §4.2.3).
    if (path === "" && uri.host !== null) path = "/";
  }
  return path.indexOf("%") < 0 ? path : evhttpUridecode(path, false);
}

// ---------------------------------------------------------------------------
// Query strings

/**
 * Parses `key=value&…` into an `Evkeyvalq`; values are percent-decoded with `+` as a space,
 * keys are kept as written. Strict unless `flags` says otherwise: a pair without `=`, an empty
 * key or an empty pair (`&&`) makes it return `null`. `EVHTTP_URI_QUERY_NONCONFORMANT`: a pair
 * without `=` gets an empty value, empty pairs and keys are skipped. `EVHTTP_URI_QUERY_LAST_VAL`:
 * a later duplicate key replaces the earlier value.
 *
 * @example
 * ```ts
 * import { evhttpParseQueryStrFlags } from "./uri.ts";
 * import { EVHTTP_URI_QUERY_NONCONFORMANT } from "./constants.ts";
 * evhttpParseQueryStrFlags("q=test&q2", 0); // null
 * evhttpParseQueryStrFlags("q=test&q2", EVHTTP_URI_QUERY_NONCONFORMANT)!.find("q2"); // ""
 * ```
 */
export function evhttpParseQueryStrFlags(query: string, flags: number): Evkeyvalq | null {
  const out = new Evkeyvalq();
  const strict = (flags & EVHTTP_URI_QUERY_NONCONFORMANT) === 0;
  const lastVal = (flags & EVHTTP_URI_QUERY_LAST_VAL) !== 0;
  const n = query.length;
  // With LAST_VAL the pairs are collected first and deduplicated in one pass at the end:
  // removing each earlier duplicate as it comes was quadratic in the number of keys.
  const pairs: string[] | null = lastVal ? [] : null;
  let p = 0;
  // The next "=" at or after p (n: none); looked up again only once p has passed it, so pairs
  // without one (`a&a&a…`) do not each scan the rest of the query.
  let eq = -1;
  while (p < n) {
    let amp = query.indexOf("&", p);
    if (amp < 0) amp = n;
    if (amp === p) {
      if (strict) return null;
      p = amp + 1;
      continue;
    }
    if (eq < p) {
      eq = query.indexOf("=", p);
      if (eq < 0) eq = n;
    }
    let key: string;
    let value: string;
    if (eq >= amp) {
      if (strict) return null;
      key = query.slice(p, amp);
      value = "";
    } else {
      key = query.slice(p, eq);
      value = evhttpUridecode(query.slice(eq + 1, amp), true);
    }
    if (key.length === 0) {
      if (strict) return null;
    } else if (pairs !== null) pairs.push(key, lowerKey(key), value);
    else out._addUnchecked(key, lowerKey(key), value);
    p = amp + 1;
  }
  if (pairs !== null) {
    // libevent removes the earlier pair and appends the later one: the last occurrences, in
    // their order.
    const seen = new Set<string>();
    const keep: number[] = [];
    for (let i = pairs.length - 3; i >= 0; i -= 3) {
      if (seen.has(pairs[i + 1]!)) continue;
      seen.add(pairs[i + 1]!);
      keep.push(i);
    }
    for (let k = keep.length - 1; k >= 0; k--) {
      const i = keep[k]!;
      out._addUnchecked(pairs[i]!, pairs[i + 1]!, pairs[i + 2]!);
    }
  }
  return out;
}

/**
 * Parses a query string strictly (see `evhttpParseQueryStrFlags`). On malformed input it
 * returns an **empty** `Evkeyvalq` (libevent returns -1 and clears the list); call
 * `evhttpParseQueryStrFlags(q, 0)` to tell malformed from empty.
 *
 * @example
 * ```ts
 * import { evhttpParseQueryStr } from "./uri.ts";
 * evhttpParseQueryStr("q=test+foo&x=%41").find("q"); // "test foo"
 * evhttpParseQueryStr("q&&x").size; // 0
 * ```
 */
export function evhttpParseQueryStr(query: string): Evkeyvalq {
  return evhttpParseQueryStrFlags(query, 0) ?? new Evkeyvalq();
}

/**
 * Parses the query part of a whole URI (libevent's deprecated `evhttp_parse_query`); `null` when
 * the URI or its query is malformed; an empty list when there is no query.
 *
 * @example
 * ```ts
 * import { evhttpParseQuery } from "./uri.ts";
 * evhttpParseQuery("http://www.test.com/?q=test&foo=bar")!.find("foo"); // "bar"
 * ```
 */
export function evhttpParseQuery(uri: string): Evkeyvalq | null {
  // Strict, as libevent's evhttp_parse_query: a malformed URI gives null.
  const u = EvhttpUri.parse(uri, 0);
  if (u === null) return null;
  if (u.query === null) return new Evkeyvalq();
  return evhttpParseQueryStrFlags(u.query, 0);
}

// ---------------------------------------------------------------------------
// HTML

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#039;",
};

/**
 * Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attributes.
 *
 * @example
 * ```ts
 * import { evhttpHtmlescape } from "./uri.ts";
 * evhttpHtmlescape(`<a href="x">'&'</a>`);
 * // "&lt;a href=&quot;x&quot;&gt;&#039;&amp;&#039;&lt;/a&gt;"
 * ```
 */
export function evhttpHtmlescape(s: string): string {
  return /[&<>"']/.test(s) ? s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]) : s;
}
