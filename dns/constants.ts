/**
 * DNS constants with libevent's names and values: evdns error codes, result types, query and
 * base flags, resolv.conf option categories, record types and classes, reply sections, server
 * flags, and the `EVUTIL_EAI_*` / `EVUTIL_AI_*` / `AF_*` / `SOCK_*` / `IPPROTO_*` values that
 * `getaddrinfo` uses.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------
// evdns result codes (callback `result` / `DnsResult.result`)

/** No error. @example `if (result === DNS_ERR_NONE) console.log(addresses)` */
export const DNS_ERR_NONE = 0;
/** The nameserver could not interpret the query (rcode 1). @example `if (result === DNS_ERR_FORMAT) {}` */
export const DNS_ERR_FORMAT = 1;
/** The nameserver failed (rcode 2). @example `if (result === DNS_ERR_SERVERFAILED) {}` */
export const DNS_ERR_SERVERFAILED = 2;
/** The name does not exist (NXDOMAIN, rcode 3). @example `if (result === DNS_ERR_NOTEXIST) {}` */
export const DNS_ERR_NOTEXIST = 3;
/** The nameserver does not implement the query (rcode 4). @example `if (result === DNS_ERR_NOTIMPL) {}` */
export const DNS_ERR_NOTIMPL = 4;
/** The nameserver refused the query (rcode 5). @example `if (result === DNS_ERR_REFUSED) {}` */
export const DNS_ERR_REFUSED = 5;
/** The reply was truncated or ill-formed. @example `if (result === DNS_ERR_TRUNCATED) {}` */
export const DNS_ERR_TRUNCATED = 65;
/** Unknown error (also response codes 6–15). @example `if (result === DNS_ERR_UNKNOWN) {}` */
export const DNS_ERR_UNKNOWN = 66;
/** No reply arrived in time after every attempt. @example `if (result === DNS_ERR_TIMEOUT) {}` */
export const DNS_ERR_TIMEOUT = 67;
/** The resolver was freed with requests pending. @example `if (result === DNS_ERR_SHUTDOWN) {}` */
export const DNS_ERR_SHUTDOWN = 68;
/** The request was cancelled. @example `if (result === DNS_ERR_CANCEL) {}` */
export const DNS_ERR_CANCEL = 69;
/** The name exists but has no records of the asked type. @example `if (result === DNS_ERR_NODATA) {}` */
export const DNS_ERR_NODATA = 70;

// ---------------------------------------------------------------------------------------------
// Result types passed to resolve callbacks

/** Callback `type`: IPv4 addresses. @example `if (type === DNS_IPv4_A) console.log(addresses)` */
// deno-lint-ignore camelcase
export const DNS_IPv4_A = 1;
/** Callback `type`: a PTR host name. @example `if (type === DNS_PTR) console.log(addresses[0])` */
export const DNS_PTR = 2;
/** Callback `type`: IPv6 addresses. @example `if (type === DNS_IPv6_AAAA) console.log(addresses)` */
// deno-lint-ignore camelcase
export const DNS_IPv6_AAAA = 3;
/** Callback `type`: a CNAME target (with `DNS_CNAME_CALLBACK`). @example `if (type === DNS_CNAME) {}` */
export const DNS_CNAME = 4;

// ---------------------------------------------------------------------------------------------
// Query flags

/** Query flag: do not apply the search list. @example `dns.resolveIpv4("host", DNS_QUERY_NO_SEARCH, cb)` */
export const DNS_QUERY_NO_SEARCH = 0x01;
/** Old name of `DNS_QUERY_NO_SEARCH`. @example `dns.resolveIpv4("host", DNS_NO_SEARCH, cb)` */
export const DNS_NO_SEARCH = 0x01;
/** Query flag: use TCP for this query. @example `dns.resolveIpv4("example.com", DNS_QUERY_USEVC, cb)` */
export const DNS_QUERY_USEVC = 0x02;
/** Query flag: do not retry over TCP on a truncated reply. @example `dns.resolveIpv4("example.com", DNS_QUERY_IGNTC, cb)` */
export const DNS_QUERY_IGNTC = 0x04;
/** Query flag (evdeno): neither read nor fill the answer cache for this query. @example `dns.resolveIpv4("example.com", DNS_QUERY_NO_CACHE, cb)` */
export const DNS_QUERY_NO_CACHE = 0x100;
/** Query flag: also report the CNAME through the callback. @example `dns.resolveIpv4("www.example.com", DNS_CNAME_CALLBACK, cb)` */
export const DNS_CNAME_CALLBACK = 0x80;

// ---------------------------------------------------------------------------------------------
// EvdnsBase constructor flags

/** Read resolv.conf and the hosts file on creation. @example `new EvdnsBase(base, EVDNS_BASE_INITIALIZE_NAMESERVERS)` */
export const EVDNS_BASE_INITIALIZE_NAMESERVERS = 1;
/** Do not cache answers. @example `new EvdnsBase(base, EVDNS_BASE_NO_CACHE)` */
export const EVDNS_BASE_NO_CACHE = 0x10;
/** Let the loop exit while no request is in flight. @example `new EvdnsBase(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE)` */
export const EVDNS_BASE_DISABLE_WHEN_INACTIVE = 0x8000;
/** Do not fall back to 127.0.0.1 when no nameserver is configured. @example `new EvdnsBase(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_NAMESERVERS_NO_DEFAULT)` */
export const EVDNS_BASE_NAMESERVERS_NO_DEFAULT = 0x10000;

// ---------------------------------------------------------------------------------------------
// resolv.conf parse categories

/** resolv.conf: apply `search`, `domain` and `ndots`. @example `dns.resolvConfParse(DNS_OPTION_SEARCH, "/etc/resolv.conf")` */
export const DNS_OPTION_SEARCH = 1;
/** resolv.conf: apply `nameserver` lines. @example `dns.resolvConfParse(DNS_OPTION_NAMESERVERS, "/etc/resolv.conf")` */
export const DNS_OPTION_NAMESERVERS = 2;
/** resolv.conf: apply the other `options`. @example `dns.resolvConfParse(DNS_OPTION_MISC, "/etc/resolv.conf")` */
export const DNS_OPTION_MISC = 4;
/** resolv.conf: also load the hosts file. @example `dns.resolvConfParse(DNS_OPTION_HOSTSFILE, "/etc/resolv.conf")` */
export const DNS_OPTION_HOSTSFILE = 8;
/** resolv.conf: every category. @example `dns.resolvConfParse(DNS_OPTIONS_ALL, "/etc/resolv.conf")` */
export const DNS_OPTIONS_ALL = 15;
/** resolv.conf: no 127.0.0.1 fallback when the file names no nameserver. @example `dns.resolvConfParse(DNS_OPTIONS_ALL | DNS_OPTION_NAMESERVERS_NO_DEFAULT, "/etc/resolv.conf")` */
export const DNS_OPTION_NAMESERVERS_NO_DEFAULT = 16;

// ---------------------------------------------------------------------------------------------
// Record types and classes

/** Record type A (IPv4 address). @example `await dns.resolve("example.com", DNS_TYPE_A)` */
export const DNS_TYPE_A = 1;
/** Record type NS (nameserver). @example `await dns.resolve("example.com", DNS_TYPE_NS)` */
export const DNS_TYPE_NS = 2;
/** Record type CNAME (canonical name). @example `await dns.resolve("www.example.com", DNS_TYPE_CNAME)` */
export const DNS_TYPE_CNAME = 5;
/** Record type SOA (start of authority). @example `await dns.resolve("example.com", DNS_TYPE_SOA)` */
export const DNS_TYPE_SOA = 6;
/** Record type PTR (reverse pointer). @example `await dns.resolve("4.3.2.1.in-addr.arpa", DNS_TYPE_PTR)` */
export const DNS_TYPE_PTR = 12;
/** Record type MX (mail exchange). @example `await dns.resolve("example.com", DNS_TYPE_MX)` */
export const DNS_TYPE_MX = 15;
/** Record type TXT (text strings). @example `await dns.resolve("example.com", DNS_TYPE_TXT)` */
export const DNS_TYPE_TXT = 16;
/** Record type AAAA (IPv6 address). @example `await dns.resolve("example.com", DNS_TYPE_AAAA)` */
export const DNS_TYPE_AAAA = 28;
/** Record type SRV (service location). @example `await dns.resolve("_sip._tcp.example.com", DNS_TYPE_SRV)` */
export const DNS_TYPE_SRV = 33;
/** Pseudo record type OPT (EDNS, RFC 6891). @example `if (rr.type === DNS_TYPE_OPT) {}` */
export const DNS_TYPE_OPT = 41;
/** Query type AXFR (zone transfer). @example `if (q.type === DNS_TYPE_AXFR) req.respond(DNS_ERR_REFUSED)` */
export const DNS_TYPE_AXFR = 252;
/** Query type ANY (all records). @example `if (q.type === DNS_TYPE_ANY) {}` */
export const DNS_TYPE_ANY = 255;
/** Class IN (Internet). @example `req.addReply(EVDNS_ANSWER_SECTION, name, DNS_TYPE_TXT, DNS_CLASS_INET, 60, "hi")` */
export const DNS_CLASS_INET = 1;

/** libevent's name for `DNS_TYPE_A`. @example `if (q.type === EVDNS_TYPE_A) {}` */
export const EVDNS_TYPE_A = 1;
/** libevent's name for `DNS_TYPE_NS`. @example `if (q.type === EVDNS_TYPE_NS) {}` */
export const EVDNS_TYPE_NS = 2;
/** libevent's name for `DNS_TYPE_CNAME`. @example `if (q.type === EVDNS_TYPE_CNAME) {}` */
export const EVDNS_TYPE_CNAME = 5;
/** libevent's name for `DNS_TYPE_SOA`. @example `if (q.type === EVDNS_TYPE_SOA) {}` */
export const EVDNS_TYPE_SOA = 6;
/** libevent's name for `DNS_TYPE_PTR`. @example `if (q.type === EVDNS_TYPE_PTR) {}` */
export const EVDNS_TYPE_PTR = 12;
/** libevent's name for `DNS_TYPE_MX`. @example `if (q.type === EVDNS_TYPE_MX) {}` */
export const EVDNS_TYPE_MX = 15;
/** libevent's name for `DNS_TYPE_TXT`. @example `if (q.type === EVDNS_TYPE_TXT) {}` */
export const EVDNS_TYPE_TXT = 16;
/** libevent's name for `DNS_TYPE_AAAA`. @example `if (q.type === EVDNS_TYPE_AAAA) {}` */
export const EVDNS_TYPE_AAAA = 28;
/** libevent's name for `DNS_TYPE_AXFR`. @example `if (q.type === EVDNS_QTYPE_AXFR) {}` */
export const EVDNS_QTYPE_AXFR = 252;
/** libevent's name for `DNS_TYPE_ANY`. @example `if (q.type === EVDNS_QTYPE_ALL) {}` */
export const EVDNS_QTYPE_ALL = 255;
/** libevent's name for `DNS_CLASS_INET`. @example `if (q.dnsClass === EVDNS_CLASS_INET) {}` */
export const EVDNS_CLASS_INET = 1;

// ---------------------------------------------------------------------------------------------
// Server side

/** Reply section: answers. @example `req.addReply(EVDNS_ANSWER_SECTION, name, DNS_TYPE_TXT, DNS_CLASS_INET, 60, "hi")` */
export const EVDNS_ANSWER_SECTION = 0;
/** Reply section: authority. @example `req.addReply(EVDNS_AUTHORITY_SECTION, zone, DNS_TYPE_NS, DNS_CLASS_INET, 60, ns)` */
export const EVDNS_AUTHORITY_SECTION = 1;
/** Reply section: additional records. @example `req.addReply(EVDNS_ADDITIONAL_SECTION, ns, DNS_TYPE_A, DNS_CLASS_INET, 60, addr)` */
export const EVDNS_ADDITIONAL_SECTION = 2;
/** Header flag AA (authoritative answer), libevent's value. @example `if (flags & EVDNS_FLAGS_AA) {}` */
export const EVDNS_FLAGS_AA = 0x400;
/** Header flag RD (recursion desired), libevent's value. @example `if (flags & EVDNS_FLAGS_RD) {}` */
export const EVDNS_FLAGS_RD = 0x080;

// ---------------------------------------------------------------------------------------------
// getaddrinfo

/** getaddrinfo error: the host has no address of the asked family. @example `if (err === EVUTIL_EAI_ADDRFAMILY) {}` */
export const EVUTIL_EAI_ADDRFAMILY: number = -901;
/** getaddrinfo error: temporary failure, try again. @example `if (err === EVUTIL_EAI_AGAIN) {}` */
export const EVUTIL_EAI_AGAIN: number = -902;
/** getaddrinfo error: invalid `flags` hint. @example `if (err === EVUTIL_EAI_BADFLAGS) {}` */
export const EVUTIL_EAI_BADFLAGS: number = -903;
/** getaddrinfo error: permanent failure. @example `if (err === EVUTIL_EAI_FAIL) {}` */
export const EVUTIL_EAI_FAIL: number = -904;
/** getaddrinfo error: unsupported `family` hint. @example `if (err === EVUTIL_EAI_FAMILY) {}` */
export const EVUTIL_EAI_FAMILY: number = -905;
/** getaddrinfo error: out of memory. @example `if (err === EVUTIL_EAI_MEMORY) {}` */
export const EVUTIL_EAI_MEMORY: number = -906;
/** getaddrinfo error: the name exists but has no address. @example `if (err === EVUTIL_EAI_NODATA) {}` */
export const EVUTIL_EAI_NODATA: number = -907;
/** getaddrinfo error: unknown host or service. @example `if (err === EVUTIL_EAI_NONAME) {}` */
export const EVUTIL_EAI_NONAME: number = -908;
/** getaddrinfo error: the service is not available for the socket type. @example `if (err === EVUTIL_EAI_SERVICE) {}` */
export const EVUTIL_EAI_SERVICE: number = -909;
/** getaddrinfo error: unsupported `socktype` hint. @example `if (err === EVUTIL_EAI_SOCKTYPE) {}` */
export const EVUTIL_EAI_SOCKTYPE: number = -910;
/** getaddrinfo error: system error. @example `if (err === EVUTIL_EAI_SYSTEM) {}` */
export const EVUTIL_EAI_SYSTEM: number = -911;
/** getaddrinfo error: the request was cancelled. @example `if (err === EVUTIL_EAI_CANCEL) {}` */
export const EVUTIL_EAI_CANCEL: number = -90001;

/** getaddrinfo hint: addresses for binding (wildcard when `node` is null). @example `dns.getaddrinfo(null, "80", { flags: EVUTIL_AI_PASSIVE }, cb)` */
export const EVUTIL_AI_PASSIVE = 0x1000;
/** getaddrinfo hint: report the canonical name. @example `dns.getaddrinfo("www.example.com", null, { flags: EVUTIL_AI_CANONNAME }, cb)` */
export const EVUTIL_AI_CANONNAME = 0x2000;
/** getaddrinfo hint: `node` must be a numeric address (no lookup). @example `dns.getaddrinfo("10.0.0.1", "80", { flags: EVUTIL_AI_NUMERICHOST }, cb)` */
export const EVUTIL_AI_NUMERICHOST = 0x4000;
/** getaddrinfo hint: `service` must be a port number. @example `dns.getaddrinfo("example.com", "8080", { flags: EVUTIL_AI_NUMERICSERV }, cb)` */
export const EVUTIL_AI_NUMERICSERV = 0x8000;
/** getaddrinfo hint: IPv4 results as IPv4-mapped IPv6 when asking for AF_INET6. @example `dns.getaddrinfo("example.com", null, { family: AF_INET6, flags: EVUTIL_AI_V4MAPPED }, cb)` */
export const EVUTIL_AI_V4MAPPED = 0x10000;
/** getaddrinfo hint: with V4MAPPED, return both IPv6 and mapped IPv4 results. @example `dns.getaddrinfo("example.com", null, { family: AF_INET6, flags: EVUTIL_AI_V4MAPPED | EVUTIL_AI_ALL }, cb)` */
export const EVUTIL_AI_ALL = 0x20000;
/** getaddrinfo hint: only families configured on this host. @example `dns.getaddrinfo("example.com", "80", { flags: EVUTIL_AI_ADDRCONFIG }, cb)` */
export const EVUTIL_AI_ADDRCONFIG = 0x40000;

/** Address family: any. @example `dns.getaddrinfo("example.com", "80", { family: AF_UNSPEC }, cb)` */
export const AF_UNSPEC = 0;
/** Address family: IPv4. @example `dns.getaddrinfo("example.com", "80", { family: AF_INET }, cb)` */
export const AF_INET = 2;
/** Address family: IPv6 (Linux's value). @example `dns.getaddrinfo("example.com", "80", { family: AF_INET6 }, cb)` */
export const AF_INET6 = 10;
/** Socket type: stream (TCP). @example `dns.getaddrinfo("example.com", "80", { socktype: SOCK_STREAM }, cb)` */
export const SOCK_STREAM = 1;
/** Socket type: datagram (UDP). @example `dns.getaddrinfo("example.com", "53", { socktype: SOCK_DGRAM }, cb)` */
export const SOCK_DGRAM = 2;
/** Protocol: TCP. @example `dns.getaddrinfo("example.com", "80", { protocol: IPPROTO_TCP }, cb)` */
export const IPPROTO_TCP = 6;
/** Protocol: UDP. @example `dns.getaddrinfo("example.com", "53", { protocol: IPPROTO_UDP }, cb)` */
export const IPPROTO_UDP = 17;

// ---------------------------------------------------------------------------------------------
// Record type names

const TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [DNS_TYPE_A, "A"],
  [DNS_TYPE_NS, "NS"],
  [DNS_TYPE_CNAME, "CNAME"],
  [DNS_TYPE_SOA, "SOA"],
  [DNS_TYPE_PTR, "PTR"],
  [DNS_TYPE_MX, "MX"],
  [DNS_TYPE_TXT, "TXT"],
  [DNS_TYPE_AAAA, "AAAA"],
  [DNS_TYPE_SRV, "SRV"],
  [DNS_TYPE_OPT, "OPT"],
  [DNS_TYPE_AXFR, "AXFR"],
  [DNS_TYPE_ANY, "ANY"],
]);

const TYPE_NUMBERS: ReadonlyMap<string, number> = new Map(
  [...TYPE_NAMES].map(([n, s]) => [s, n]),
);

/**
 * The record type number for a type mnemonic (case-insensitive): `"AAAA"` → 28. RFC 3597's
 * generic `TYPEnnn` form is accepted, and a number in 0..65535 passes through unchanged.
 * Returns -1 for an unknown name or an out-of-range number.
 *
 * @example
 * ```ts
 * import { dnsTypeFromString } from "@evdeno/evdeno/dns";
 * dnsTypeFromString("aaaa"); // 28
 * dnsTypeFromString("TYPE99"); // 99
 * dnsTypeFromString(15); // 15
 * ```
 */
export function dnsTypeFromString(type: string | number): number {
  if (typeof type === "number") {
    return Number.isInteger(type) && type >= 0 && type <= 0xffff ? type : -1;
  }
  const upper = type.toUpperCase();
  const known = TYPE_NUMBERS.get(upper);
  if (known !== undefined) return known;
  if (/^TYPE[0-9]{1,5}$/.test(upper)) {
    const n = Number(upper.slice(4));
    if (n <= 0xffff) return n;
  }
  return -1;
}

/**
 * The mnemonic of a record type number: 28 → `"AAAA"`; types without a mnemonic here use RFC
 * 3597's `TYPEnnn` form. A string passes through unchanged.
 *
 * @example
 * ```ts
 * import { dnsTypeToString } from "@evdeno/evdeno/dns";
 * dnsTypeToString(28); // "AAAA"
 * dnsTypeToString(123); // "TYPE123"
 * ```
 */
export function dnsTypeToString(type: number | string): string {
  if (typeof type === "string") return type;
  return TYPE_NAMES.get(type) ?? `TYPE${type}`;
}
