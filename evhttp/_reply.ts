/**
 * Pieces of responses the server builds: status lines (cached per version and code), error
 * pages, and the `Allow` value for a method mask; plus extension-method names (client too).
 *
 * @module
 */

import {
  EVHTTP_REQ_MAX,
  type EvhttpExtMethod,
  type EvhttpExtMethodCb,
  evhttpMethodName,
} from "./constants.ts";
import { reasonPhrase } from "./status.ts";

/** Status lines without a caller's reason, by `code * 2 + (1.1 ? 1 : 0)` (codes 100–999). */
const statusCache: string[] = new Array(2000).fill("");

/**
 * `HTTP/1.<minor> <code> <reason>\r\n`; lines with the standard phrase are cached.
 *
 * @ignore
 */
export function statusLine(minor: number, code: number, reason: string | null): string {
  if (reason === null) {
    const key = code * 2 + (minor === 0 ? 0 : 1);
    let s = key < 2000 ? statusCache[key] : "";
    if (s === "") {
      s = `HTTP/1.${minor === 0 ? 0 : 1} ${code} ${reasonPhrase(code)}\r\n`;
      if (key < 2000) statusCache[key] = s;
    }
    return s;
  }
  return `HTTP/1.${minor === 0 ? 0 : 1} ${code} ${safeReason(reason)}\r\n`;
}

/**
 * The reason phrase with CR, LF and other control characters replaced by spaces, so a caller's
 * text can never break the status line.
 *
 * @ignore
 */
export function safeReason(reason: string): string {
  for (let i = 0; i < reason.length; i++) {
    const c = reason.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      let out = "";
      for (let j = 0; j < reason.length; j++) {
        const d = reason.charCodeAt(j);
        out += (d < 0x20 && d !== 0x09) || d === 0x7f ? " " : reason[j];
      }
      return out;
    }
  }
  return reason;
}

/**
 * libevent's error page: `<html><head><title>CODE PHRASE</title></head><body><h1>CODE
 * PHRASE</h1>DETAIL</body></html>` (no newlines), with the standard phrase.
 *
 * @ignore
 */
export function errorPage(code: number, detail: string | undefined): string {
  const t = `${code} ${reasonPhrase(code)}`;
  return `<html><head><title>${t}</title></head><body><h1>${t}</h1>${detail ?? ""}</body></html>`;
}

/**
 * The `Allow` header value for a method mask, e.g. `GET, HEAD, POST`; bits beyond the known
 * methods are named by the extension-method callback.
 *
 * @ignore
 */
export function allowValue(mask: number, cmp: EvhttpExtMethodCb | null): string {
  const names: string[] = [];
  for (let i = 0; i < 32; i++) {
    const bit = 1 << i;
    if ((mask & bit) !== 0) {
      const n = bit > 0 && bit <= EVHTTP_REQ_MAX ? evhttpMethodName(bit) : extMethodName(cmp, bit);
      if (n !== null) names.push(n);
    }
  }
  return names.join(", ");
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Whether `s` is an RFC 9110 token (a method, a field name, a subprotocol). @ignore */
export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/** Whether the comma-separated list `v` holds `token` (lower case), case-insensitively. @ignore */
export function hasToken(v: string, token: string): boolean {
  const lv = v.toLowerCase();
  if (lv === token) return true;
  for (const part of lv.split(",")) if (part.trim() === token) return true;
  return false;
}

/**
 * The method token an extension-method callback gives `type` (libevent's generating call:
 * `method` null, `type` set), or null when there is no callback, it declines, or the name is
 * not a token (it goes on the wire).
 *
 * @ignore
 */
export function extMethodName(cmp: EvhttpExtMethodCb | null, type: number): string | null {
  if (cmp === null) return null;
  const m: EvhttpExtMethod = { method: null, type, flags: 0 };
  if (cmp(m) !== 0 || m.type !== type) return null;
  const name = m.method;
  return typeof name === "string" && isToken(name) ? name : null;
}

/**
 * UTF-8 byte length of `s` when it is pure ASCII, else -1 (callers encode it then).
 *
 * @ignore
 */
export function asciiLength(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return -1;
  }
  return s.length;
}
