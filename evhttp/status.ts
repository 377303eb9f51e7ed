/**
 * HTTP status codes and their RFC 9110 reason phrases (plus the other codes in IANA's registry).
 *
 * @example
 * ```ts
 * import { reasonPhrase, STATUS_TEXT } from "./status.ts";
 * reasonPhrase(413); // "Content Too Large"
 * reasonPhrase(499); // "Client Error" (unregistered: the class name, as libevent does)
 * STATUS_TEXT[404]; // "Not Found"
 * ```
 *
 * @module
 */

/**
 * Registered status codes and their reason phrases (RFC 9110 §15 and the IANA HTTP Status Code
 * Registry). Frozen.
 *
 * @example
 * ```ts
 * import { STATUS_TEXT } from "./status.ts";
 * console.log(STATUS_TEXT[200]); // "OK"
 * ```
 */
export const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  100: "Continue",
  101: "Switching Protocols",
  102: "Processing",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  207: "Multi-Status",
  208: "Already Reported",
  226: "IM Used",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  305: "Use Proxy",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  423: "Locked",
  424: "Failed Dependency",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  506: "Variant Also Negotiates",
  507: "Insufficient Storage",
  508: "Loop Detected",
  510: "Not Extended",
  511: "Network Authentication Required",
});

const CLASS_NAMES: readonly string[] = [
  "Informational",
  "Success",
  "Redirection",
  "Client Error",
  "Server Error",
];

/**
 * The reason phrase for `code`: the registered phrase, else the name of its class
 * ("Informational", "Success", "Redirection", "Client Error", "Server Error") as libevent does,
 * else "Unknown Status Class" for codes outside 100–599.
 *
 * @example
 * ```ts
 * import { reasonPhrase } from "./status.ts";
 * reasonPhrase(404); // "Not Found"
 * reasonPhrase(299); // "Success"
 * reasonPhrase(42); // "Unknown Status Class"
 * ```
 */
export function reasonPhrase(code: number): string {
  const text = STATUS_TEXT[code];
  if (text !== undefined) return text;
  if (Number.isInteger(code) && code >= 100 && code <= 599) {
    return CLASS_NAMES[Math.floor(code / 100) - 1];
  }
  return "Unknown Status Class";
}

/**
 * Whether `code` is a valid status code to send: an integer in 100–599.
 *
 * @example
 * ```ts
 * import { isValidStatus } from "./status.ts";
 * isValidStatus(200); // true
 * isValidStatus(600); // false
 * ```
 */
export function isValidStatus(code: number): boolean {
  return Number.isInteger(code) && code >= 100 && code <= 599;
}

/**
 * Whether a response with this status can carry a body (not 1xx, 204 or 304; RFC 9110 §6.4.1).
 *
 * @example
 * ```ts
 * import { statusAllowsBody } from "./status.ts";
 * statusAllowsBody(204); // false
 * statusAllowsBody(200); // true
 * ```
 */
export function statusAllowsBody(code: number): boolean {
  return !(code < 200 || code === 204 || code === 304);
}
