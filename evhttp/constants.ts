/**
 * evhttp constants with libevent's values: request methods (`EVHTTP_REQ_*`), status codes
 * (`HTTP_*`), request error kinds (`EVREQ_HTTP_*`) and URI parsing flags, plus the method
 * name ↔ bit helpers.
 *
 * @example
 * ```ts
 * import { EVHTTP_REQ_GET, evhttpMethodName } from "./constants.ts";
 * console.log(evhttpMethodName(EVHTTP_REQ_GET)); // "GET"
 * ```
 *
 * @module
 */

// ---------------------------------------------------------------------------
// Request methods (evhttp_cmd_type bits)

/** `GET` method bit. @example `evhttp.setAllowedMethods(EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)` */
export const EVHTTP_REQ_GET = 1 << 0;
/** `POST` method bit. @example `if (req.getCommand() === EVHTTP_REQ_POST) {}` */
export const EVHTTP_REQ_POST = 1 << 1;
/** `HEAD` method bit. @example `if (req.getCommand() === EVHTTP_REQ_HEAD) {}` */
export const EVHTTP_REQ_HEAD = 1 << 2;
/** `PUT` method bit. @example `if (req.getCommand() === EVHTTP_REQ_PUT) {}` */
export const EVHTTP_REQ_PUT = 1 << 3;
/** `DELETE` method bit. @example `if (req.getCommand() === EVHTTP_REQ_DELETE) {}` */
export const EVHTTP_REQ_DELETE = 1 << 4;
/** `OPTIONS` method bit. @example `if (req.getCommand() === EVHTTP_REQ_OPTIONS) {}` */
export const EVHTTP_REQ_OPTIONS = 1 << 5;
/** `TRACE` method bit. @example `if (req.getCommand() === EVHTTP_REQ_TRACE) {}` */
export const EVHTTP_REQ_TRACE = 1 << 6;
/** `CONNECT` method bit. @example `if (req.getCommand() === EVHTTP_REQ_CONNECT) {}` */
export const EVHTTP_REQ_CONNECT = 1 << 7;
/** `PATCH` method bit. @example `if (req.getCommand() === EVHTTP_REQ_PATCH) {}` */
export const EVHTTP_REQ_PATCH = 1 << 8;
/** WebDAV `PROPFIND` method bit. @example `if (req.getCommand() === EVHTTP_REQ_PROPFIND) {}` */
export const EVHTTP_REQ_PROPFIND = 1 << 9;
/** WebDAV `PROPPATCH` method bit. @example `if (req.getCommand() === EVHTTP_REQ_PROPPATCH) {}` */
export const EVHTTP_REQ_PROPPATCH = 1 << 10;
/** WebDAV `MKCOL` method bit. @example `if (req.getCommand() === EVHTTP_REQ_MKCOL) {}` */
export const EVHTTP_REQ_MKCOL = 1 << 11;
/** WebDAV `LOCK` method bit. @example `if (req.getCommand() === EVHTTP_REQ_LOCK) {}` */
export const EVHTTP_REQ_LOCK = 1 << 12;
/** WebDAV `UNLOCK` method bit. @example `if (req.getCommand() === EVHTTP_REQ_UNLOCK) {}` */
export const EVHTTP_REQ_UNLOCK = 1 << 13;
/** WebDAV `COPY` method bit. @example `if (req.getCommand() === EVHTTP_REQ_COPY) {}` */
export const EVHTTP_REQ_COPY = 1 << 14;
/** WebDAV `MOVE` method bit. @example `if (req.getCommand() === EVHTTP_REQ_MOVE) {}` */
export const EVHTTP_REQ_MOVE = 1 << 15;
/** Highest known method bit (libevent's `EVHTTP_REQ_MAX`). @example `const all = EVHTTP_REQ_MAX * 2 - 1` */
export const EVHTTP_REQ_MAX = 1 << 15;

/** The names of the method bits, indexed by bit position. */
const METHOD_NAMES: readonly string[] = Object.freeze([
  "GET",
  "POST",
  "HEAD",
  "PUT",
  "DELETE",
  "OPTIONS",
  "TRACE",
  "CONNECT",
  "PATCH",
  "PROPFIND",
  "PROPPATCH",
  "MKCOL",
  "LOCK",
  "UNLOCK",
  "COPY",
  "MOVE",
]);

/**
 * The method name of a single `EVHTTP_REQ_*` bit, or `null` when `cmd` is not exactly one known
 * bit.
 *
 * @example
 * ```ts
 * import { EVHTTP_REQ_PATCH, evhttpMethodName } from "./constants.ts";
 * evhttpMethodName(EVHTTP_REQ_PATCH); // "PATCH"
 * ```
 */
export function evhttpMethodName(cmd: number): string | null {
  if (cmd <= 0 || cmd > EVHTTP_REQ_MAX || (cmd & (cmd - 1)) !== 0) return null;
  return METHOD_NAMES[31 - Math.clz32(cmd)];
}

/**
 * The `EVHTTP_REQ_*` bit of a method name (case-sensitive, as methods are), or 0 for an unknown
 * method. Accepts the name as a string or as bytes (`buf[start..end)`, no decoding).
 *
 * @example
 * ```ts
 * import { evhttpMethodFromName } from "./constants.ts";
 * evhttpMethodFromName("POST"); // 2
 * evhttpMethodFromName(new TextEncoder().encode("GET")); // 1
 * evhttpMethodFromName("get"); // 0
 * ```
 */
export function evhttpMethodFromName(
  name: string | Uint8Array,
  start = 0,
  end: number = name.length,
): number {
  if (typeof name === "string") {
    const i = METHOD_NAMES.indexOf(
      start === 0 && end === name.length ? name : name.slice(start, end),
    );
    return i < 0 ? 0 : 1 << i;
  }
  return methodFromBytes(name, start, end);
}

/** Matches method bytes without building a string: switch on length, then compare bytes. */
function methodFromBytes(b: Uint8Array, s: number, e: number): number {
  const c = b[s];
  switch (e - s) {
    case 3:
      if (c === 0x47 && b[s + 1] === 0x45 && b[s + 2] === 0x54) return EVHTTP_REQ_GET;
      if (c === 0x50 && b[s + 1] === 0x55 && b[s + 2] === 0x54) return EVHTTP_REQ_PUT;
      return 0;
    case 4:
      if (c === 0x50 && eq(b, s, "POST")) return EVHTTP_REQ_POST;
      if (c === 0x48 && eq(b, s, "HEAD")) return EVHTTP_REQ_HEAD;
      if (c === 0x4c && eq(b, s, "LOCK")) return EVHTTP_REQ_LOCK;
      if (c === 0x43 && eq(b, s, "COPY")) return EVHTTP_REQ_COPY;
      if (c === 0x4d && eq(b, s, "MOVE")) return EVHTTP_REQ_MOVE;
      return 0;
    case 5:
      if (c === 0x50 && eq(b, s, "PATCH")) return EVHTTP_REQ_PATCH;
      if (c === 0x54 && eq(b, s, "TRACE")) return EVHTTP_REQ_TRACE;
      if (c === 0x4d && eq(b, s, "MKCOL")) return EVHTTP_REQ_MKCOL;
      return 0;
    case 6:
      if (c === 0x44 && eq(b, s, "DELETE")) return EVHTTP_REQ_DELETE;
      if (c === 0x55 && eq(b, s, "UNLOCK")) return EVHTTP_REQ_UNLOCK;
      return 0;
    case 7:
      if (c === 0x4f && eq(b, s, "OPTIONS")) return EVHTTP_REQ_OPTIONS;
      if (c === 0x43 && eq(b, s, "CONNECT")) return EVHTTP_REQ_CONNECT;
      return 0;
    case 8:
      return c === 0x50 && eq(b, s, "PROPFIND") ? EVHTTP_REQ_PROPFIND : 0;
    case 9:
      return c === 0x50 && eq(b, s, "PROPPATCH") ? EVHTTP_REQ_PROPPATCH : 0;
    default:
      return 0;
  }
}

function eq(b: Uint8Array, s: number, lit: string): boolean {
  for (let i = 1; i < lit.length; i++) {
    if (b[s + i] !== lit.charCodeAt(i)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Extension methods (libevent's evhttp_ext_method)

/**
 * `EvhttpExtMethod.flags` bit: requests with this method may carry a body. Accepted for
 * libevent compatibility; evdeno frames bodies by their headers whatever the method (RFC 9112),
 * so it changes nothing.
 *
 * @example
 * ```ts
 * import { EVHTTP_METHOD_HAS_BODY, type EvhttpExtMethod } from "./constants.ts";
 * const m: EvhttpExtMethod = { method: null, type: 1 << 16, flags: 0 };
 * m.method = "CUSTOM";
 * m.flags |= EVHTTP_METHOD_HAS_BODY;
 * ```
 */
export const EVHTTP_METHOD_HAS_BODY = 0x0001;

/**
 * What an extension-method callback fills in (libevent's `struct evhttp_ext_method`).
 *
 * @example
 * ```ts
 * import type { EvhttpExtMethod } from "./constants.ts";
 * const m: EvhttpExtMethod = { method: "CUSTOM", type: 0, flags: 0 };
 * if (m.method === "CUSTOM") m.type = 1 << 16;
 * ```
 */
export interface EvhttpExtMethod {
  /** The method token: given when parsing a request, filled in by the callback when sending. */
  method: string | null;
  /** The method's bit (set by the callback when parsing, given when sending). */
  type: number;
  /** `EVHTTP_METHOD_HAS_BODY` or 0; must stay 0 when parsing. */
  flags: number;
}

/**
 * Maps extension methods both ways (libevent's `evhttp_ext_method_cb`); returns 0 when it knows
 * the method, anything else when not.
 *
 * - Parsing a request (`m.method` set, `m.type` 0): set `m.type` to a bit beyond
 *   `EVHTTP_REQ_MAX` and return 0. Changing `m.method` or `m.flags` there makes the request
 *   fail to parse (400), as in libevent.
 * - Sending a request (`m.method` null, `m.type` set): set `m.method` (and optionally
 *   `EVHTTP_METHOD_HAS_BODY` in `m.flags`) and return 0.
 *
 * @example
 * ```ts
 * import { EVHTTP_REQ_MAX, type EvhttpExtMethodCb } from "./constants.ts";
 * const EVHTTP_REQ_CUSTOM = EVHTTP_REQ_MAX << 1;
 * const cmp: EvhttpExtMethodCb = (m) => {
 *   if (m.method === "CUSTOM") m.type = EVHTTP_REQ_CUSTOM;
 *   else if (m.method === null && m.type === EVHTTP_REQ_CUSTOM) m.method = "CUSTOM";
 *   else return -1;
 *   return 0;
 * };
 * ```
 */
export type EvhttpExtMethodCb = (m: EvhttpExtMethod) => number;

// ---------------------------------------------------------------------------
// Status codes (libevent's names)

/** 100 Continue. @example `req.sendReply(HTTP_CONTINUE, null)` */
export const HTTP_CONTINUE = 100;
/** 101 Switching Protocols. @example `req.sendReply(HTTP_SWITCH_PROTOCOLS, null)` */
export const HTTP_SWITCH_PROTOCOLS = 101;
/** 102 Processing. @example `if (code === HTTP_PROCESSING) {}` */
export const HTTP_PROCESSING = 102;
/** 103 Early Hints. @example `if (code === HTTP_EARLYHINTS) {}` */
export const HTTP_EARLYHINTS = 103;
/** 200 OK. @example `req.sendReply(HTTP_OK, "OK", "hello")` */
export const HTTP_OK = 200;
/** 201 Created. @example `req.sendReply(HTTP_CREATED, null)` */
export const HTTP_CREATED = 201;
/** 202 Accepted. @example `req.sendReply(HTTP_ACCEPTED, null)` */
export const HTTP_ACCEPTED = 202;
/** 203 Non-Authoritative Information. @example `req.sendReply(HTTP_NONAUTHORITATIVE, null)` */
export const HTTP_NONAUTHORITATIVE = 203;
/** 204 No Content. @example `req.sendReply(HTTP_NOCONTENT, null)` */
export const HTTP_NOCONTENT = 204;
/** 206 Partial Content (evdeno addition). @example `req.sendReply(HTTP_PARTIALCONTENT, null, part)` */
export const HTTP_PARTIALCONTENT = 206;
/** 301 Moved Permanently. @example `req.sendReply(HTTP_MOVEPERM, null)` */
export const HTTP_MOVEPERM = 301;
/** 302 Found. @example `req.sendReply(HTTP_MOVETEMP, null)` */
export const HTTP_MOVETEMP = 302;
/** 304 Not Modified. @example `req.sendReply(HTTP_NOTMODIFIED, null)` */
export const HTTP_NOTMODIFIED = 304;
/** 400 Bad Request. @example `req.sendError(HTTP_BADREQUEST)` */
export const HTTP_BADREQUEST = 400;
/** 401 Unauthorized. @example `req.sendError(HTTP_UNAUTHORIZED)` */
export const HTTP_UNAUTHORIZED = 401;
/** 402 Payment Required. @example `req.sendError(HTTP_PAYMENTREQUIRED)` */
export const HTTP_PAYMENTREQUIRED = 402;
/** 403 Forbidden. @example `req.sendError(HTTP_FORBIDDEN)` */
export const HTTP_FORBIDDEN = 403;
/** 404 Not Found. @example `req.sendError(HTTP_NOTFOUND)` */
export const HTTP_NOTFOUND = 404;
/** 405 Method Not Allowed. @example `req.sendError(HTTP_BADMETHOD)` */
export const HTTP_BADMETHOD = 405;
/** 408 Request Timeout (evdeno addition). @example `req.sendError(HTTP_REQUESTTIMEOUT)` */
export const HTTP_REQUESTTIMEOUT = 408;
/** 413 Content Too Large. @example `req.sendError(HTTP_ENTITYTOOLARGE)` */
export const HTTP_ENTITYTOOLARGE = 413;
/** 414 URI Too Long (evdeno addition). @example `req.sendError(HTTP_URITOOLONG)` */
export const HTTP_URITOOLONG = 414;
/** 417 Expectation Failed. @example `req.sendError(HTTP_EXPECTATIONFAILED)` */
export const HTTP_EXPECTATIONFAILED = 417;
/** 431 Request Header Fields Too Large (evdeno addition). @example `req.sendError(HTTP_HEADERSTOOLARGE)` */
export const HTTP_HEADERSTOOLARGE = 431;
/** 500 Internal Server Error. @example `req.sendError(HTTP_INTERNAL)` */
export const HTTP_INTERNAL = 500;
/** 501 Not Implemented. @example `req.sendError(HTTP_NOTIMPLEMENTED)` */
export const HTTP_NOTIMPLEMENTED = 501;
/** 502 Bad Gateway. @example `req.sendError(HTTP_BADGATEWAY)` */
export const HTTP_BADGATEWAY = 502;
/** 503 Service Unavailable. @example `req.sendError(HTTP_SERVUNAVAIL)` */
export const HTTP_SERVUNAVAIL = 503;
/** 505 HTTP Version Not Supported (evdeno addition). @example `req.sendError(HTTP_VERSIONNOTSUPPORTED)` */
export const HTTP_VERSIONNOTSUPPORTED = 505;

// ---------------------------------------------------------------------------
// Request error kinds (enum evhttp_request_error)

/** The request timed out. @example `req.setErrorCb((err) => err === EVREQ_HTTP_TIMEOUT)` */
export const EVREQ_HTTP_TIMEOUT = 0;
/** The connection reached EOF. @example `req.setErrorCb((err) => err === EVREQ_HTTP_EOF)` */
export const EVREQ_HTTP_EOF = 1;
/** The peer sent an invalid head. @example `req.setErrorCb((err) => err === EVREQ_HTTP_INVALID_HEADER)` */
export const EVREQ_HTTP_INVALID_HEADER = 2;
/** Reading or writing a buffer failed. @example `req.setErrorCb((err) => err === EVREQ_HTTP_BUFFER_ERROR)` */
export const EVREQ_HTTP_BUFFER_ERROR = 3;
/** The request was cancelled. @example `req.setErrorCb((err) => err === EVREQ_HTTP_REQUEST_CANCEL)` */
export const EVREQ_HTTP_REQUEST_CANCEL = 4;
/** The body exceeded the size limit. @example `req.setErrorCb((err) => err === EVREQ_HTTP_DATA_TOO_LONG)` */
export const EVREQ_HTTP_DATA_TOO_LONG = 5;

// ---------------------------------------------------------------------------
// URI flags

/** `EvhttpUri.parse` flag: tolerate URIs that do not conform to RFC 3986. @example `EvhttpUri.parse("/a b", EVHTTP_URI_NONCONFORMANT)` */
export const EVHTTP_URI_NONCONFORMANT = 0x01;
/** `EvhttpUri.parse` flag: return an IPv6 host without its brackets. @example `EvhttpUri.parse("http://[::1]/", EVHTTP_URI_HOST_STRIP_BRACKETS)` */
export const EVHTTP_URI_HOST_STRIP_BRACKETS = 0x04;
/** `EvhttpUri.parse` flag: accept `http://unix:/path/to.sock:/request`. @example `EvhttpUri.parse("http://unix:/s.sock:/", EVHTTP_URI_UNIX_SOCKET)` */
export const EVHTTP_URI_UNIX_SOCKET = 0x08;
/** Query parsing flag: a pair without `=` gets an empty value; empty pairs/keys are skipped. @example `evhttpParseQueryStrFlags("a&b=1", EVHTTP_URI_QUERY_NONCONFORMANT)` */
export const EVHTTP_URI_QUERY_NONCONFORMANT = 0x01;
/** Query parsing flag: a later duplicate key replaces the earlier value. @example `evhttpParseQueryStrFlags("a=1&a=2", EVHTTP_URI_QUERY_LAST_VAL)` */
export const EVHTTP_URI_QUERY_LAST_VAL = 0x02;
