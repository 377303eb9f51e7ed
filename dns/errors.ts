/**
 * Human-readable texts for evdns result codes and getaddrinfo error codes, as libevent words them.
 *
 * @module
 */

import {
  DNS_ERR_CANCEL,
  DNS_ERR_FORMAT,
  DNS_ERR_NODATA,
  DNS_ERR_NONE,
  DNS_ERR_NOTEXIST,
  DNS_ERR_NOTIMPL,
  DNS_ERR_REFUSED,
  DNS_ERR_SERVERFAILED,
  DNS_ERR_SHUTDOWN,
  DNS_ERR_TIMEOUT,
  DNS_ERR_TRUNCATED,
  DNS_ERR_UNKNOWN,
  EVUTIL_EAI_ADDRFAMILY,
  EVUTIL_EAI_AGAIN,
  EVUTIL_EAI_BADFLAGS,
  EVUTIL_EAI_CANCEL,
  EVUTIL_EAI_FAIL,
  EVUTIL_EAI_FAMILY,
  EVUTIL_EAI_MEMORY,
  EVUTIL_EAI_NODATA,
  EVUTIL_EAI_NONAME,
  EVUTIL_EAI_SERVICE,
  EVUTIL_EAI_SOCKTYPE,
  EVUTIL_EAI_SYSTEM,
} from "./constants.ts";

const DNS_ERR_TEXT: ReadonlyMap<number, string> = new Map([
  [DNS_ERR_NONE, "no error"],
  [DNS_ERR_FORMAT, "misformatted query"],
  [DNS_ERR_SERVERFAILED, "server failed"],
  [DNS_ERR_NOTEXIST, "name does not exist"],
  [DNS_ERR_NOTIMPL, "query not implemented"],
  [DNS_ERR_REFUSED, "refused"],
  [DNS_ERR_TRUNCATED, "reply truncated or ill-formed"],
  [DNS_ERR_UNKNOWN, "unknown"],
  [DNS_ERR_TIMEOUT, "request timed out"],
  [DNS_ERR_SHUTDOWN, "dns subsystem shut down"],
  [DNS_ERR_CANCEL, "dns request canceled"],
  [DNS_ERR_NODATA, "no records in the reply"],
]);

const EAI_TEXT: ReadonlyMap<number, string> = new Map([
  [0, "No error"],
  [EVUTIL_EAI_CANCEL, "Request canceled"],
  [EVUTIL_EAI_ADDRFAMILY, "address family for nodename not supported"],
  [EVUTIL_EAI_AGAIN, "temporary failure in name resolution"],
  [EVUTIL_EAI_BADFLAGS, "invalid value for ai_flags"],
  [EVUTIL_EAI_FAIL, "non-recoverable failure in name resolution"],
  [EVUTIL_EAI_FAMILY, "ai_family not supported"],
  [EVUTIL_EAI_MEMORY, "memory allocation failure"],
  [EVUTIL_EAI_NODATA, "no address associated with nodename"],
  [EVUTIL_EAI_NONAME, "nodename nor servname provided, or not known"],
  [EVUTIL_EAI_SERVICE, "servname not supported for ai_socktype"],
  [EVUTIL_EAI_SOCKTYPE, "ai_socktype not supported"],
  [EVUTIL_EAI_SYSTEM, "system error"],
]);

/**
 * The text for a `DNS_ERR_*` code, worded as libevent's `evdns_err_to_string`;
 * `"[Unknown error code]"` for anything else.
 *
 * @example
 * ```ts
 * import { DNS_ERR_TIMEOUT, evdnsErrToString } from "@evdeno/evdeno/dns";
 * evdnsErrToString(DNS_ERR_TIMEOUT); // "request timed out"
 * ```
 */
export function evdnsErrToString(err: number): string {
  return DNS_ERR_TEXT.get(err) ?? "[Unknown error code]";
}

/**
 * The text for an `EVUTIL_EAI_*` getaddrinfo error code (0 is "No error"), worded as libevent's
 * `evutil_gai_strerror`; `"Unknown error code"` for anything else.
 *
 * @example
 * ```ts
 * import { EVUTIL_EAI_NONAME, evutilGaiStrerror } from "@evdeno/evdeno/dns";
 * evutilGaiStrerror(EVUTIL_EAI_NONAME); // "nodename nor servname provided, or not known"
 * ```
 */
export function evutilGaiStrerror(code: number): string {
  return EAI_TEXT.get(code) ?? "Unknown error code";
}
