/**
 * `EvdnsBase`: libevent's asynchronous stub resolver, speaking the DNS wire protocol itself over
 * UDP (randomized source ports) and TCP, with resolv.conf, the hosts file, search domains,
 * retransmission and failover, nameserver probing, a TTL cache with negative caching, and
 * `getaddrinfo`.
 *
 * UDP needs Deno's `--unstable-net` (or `"unstable": ["net"]` in deno.json).
 *
 * @module
 */

import { ActiveEntry } from "../reactor/_active.ts";
import { InternalTimer } from "../reactor/_internal_timer.ts";
import { EVENT_LOG_ERR, EVENT_LOG_MSG, EVENT_LOG_WARN } from "../reactor/constants.ts";
import { EvError } from "../reactor/errors.ts";
import type { EventBase } from "../reactor/event_base.ts";
import {
  formatIpv4,
  formatIpv6,
  parseIpv4,
  parseIpv6,
  reverseName4,
  reverseName6,
} from "./_addr.ts";
import {
  isLoopback,
  parseHosts,
  parseResolvConf,
  parseServerAddr,
  type ServerAddr,
} from "./_resolv_conf.ts";
import { assertUdpAvailable, Nameserver, TcpChannel, UdpSock } from "./_transport.ts";
import {
  type DnsMessage,
  type DnsRR,
  type DnsSoaData,
  encodeQuery,
  normalizeName,
  parseMessage,
} from "./_wire.ts";
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  DNS_CNAME,
  DNS_CNAME_CALLBACK,
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
  DNS_IPv4_A,
  DNS_IPv6_AAAA,
  DNS_OPTION_HOSTSFILE,
  DNS_OPTION_MISC,
  DNS_OPTION_NAMESERVERS,
  DNS_OPTION_NAMESERVERS_NO_DEFAULT,
  DNS_OPTION_SEARCH,
  DNS_OPTIONS_ALL,
  DNS_PTR,
  DNS_QUERY_IGNTC,
  DNS_QUERY_NO_CACHE,
  DNS_QUERY_NO_SEARCH,
  DNS_QUERY_USEVC,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_ANY,
  DNS_TYPE_CNAME,
  DNS_TYPE_PTR,
  DNS_TYPE_SOA,
  dnsTypeFromString,
  EVDNS_BASE_INITIALIZE_NAMESERVERS,
  EVDNS_BASE_NAMESERVERS_NO_DEFAULT,
  EVDNS_BASE_NO_CACHE,
  EVUTIL_AI_ADDRCONFIG,
  EVUTIL_AI_ALL,
  EVUTIL_AI_CANONNAME,
  EVUTIL_AI_NUMERICHOST,
  EVUTIL_AI_NUMERICSERV,
  EVUTIL_AI_PASSIVE,
  EVUTIL_AI_V4MAPPED,
  EVUTIL_EAI_ADDRFAMILY,
  EVUTIL_EAI_AGAIN,
  EVUTIL_EAI_BADFLAGS,
  EVUTIL_EAI_CANCEL,
  EVUTIL_EAI_FAIL,
  EVUTIL_EAI_FAMILY,
  EVUTIL_EAI_NODATA,
  EVUTIL_EAI_NONAME,
  EVUTIL_EAI_SERVICE,
  EVUTIL_EAI_SOCKTYPE,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SOCK_DGRAM,
  SOCK_STREAM,
} from "./constants.ts";

/**
 * Callback of the `resolve*` methods: `result` is a `DNS_ERR_*` code, `type` is `DNS_IPv4_A`,
 * `DNS_IPv6_AAAA` or `DNS_PTR` on success and 0 on failure (as in libevent), `ttl` the smallest
 * TTL of the answer in seconds (for negative answers the SOA's, RFC 2308), and `addresses` the
 * addresses (or the PTR name) as text. With `DNS_CNAME_CALLBACK`, a successful answer that
 * carried a CNAME is followed by a second call with type `DNS_CNAME` and the CNAME's target.
 */
export type ResolveCb = (
  result: number,
  type: number,
  count: number,
  ttl: number,
  addresses: string[],
  arg?: unknown,
) => void;

/** Callback of `EvdnsBase.getaddrinfo`: `err` is an `EVUTIL_EAI_*` code, 0 on success. */
export type GetaddrinfoCb = (err: number, res: Addrinfo[] | null, arg?: unknown) => void;

/**
 * A record returned by `EvdnsBase.resolve`. `data` is a string for A, AAAA, CNAME, PTR and NS;
 * `{ preference, exchange }` for MX; `string[]` for TXT; `{ priority, weight, port, target }`
 * for SRV; `{ mname, rname, serial, refresh, retry, expire, minimum }` for SOA; the raw rdata
 * (`Uint8Array`) for other types.
 */
export interface DnsRecord {
  /** Owner name. */
  name: string;
  /** Record type (`DNS_TYPE_*`). */
  type: number;
  /** Remaining time to live in seconds. */
  ttl: number;
  /** Decoded data (see the interface doc). */
  data: unknown;
}

/** Result of `EvdnsBase.resolve`. */
export interface DnsResult {
  /** `DNS_ERR_*` code, 0 on success. */
  result: number;
  /** The answer: CNAME records of the chain, then the records of the asked type. */
  records: DnsRecord[];
}

/** Hints of `EvdnsBase.getaddrinfo` (libevent's `struct evutil_addrinfo` hints). */
export interface AddrinfoHints {
  /** `AF_UNSPEC` (0, default), `AF_INET` (2) or `AF_INET6` (10). */
  family?: number;
  /** `SOCK_STREAM` (1), `SOCK_DGRAM` (2), or 0 for both. */
  socktype?: number;
  /** `IPPROTO_TCP` (6), `IPPROTO_UDP` (17), or 0. */
  protocol?: number;
  /** `EVUTIL_AI_*` flags. */
  flags?: number;
}

/** One `getaddrinfo` result. Results may be shared between calls: treat them as read-only. */
export interface Addrinfo {
  /** `AF_INET` (2) or `AF_INET6` (10). */
  family: number;
  /** `SOCK_STREAM` (1) or `SOCK_DGRAM` (2). */
  socktype: number;
  /** `IPPROTO_TCP` (6) or `IPPROTO_UDP` (17). */
  protocol: number;
  /** Address text. */
  address: string;
  /** Port from the service. */
  port: number;
  /**
   * Canonical name (the CNAME target), on the first result when `EVUTIL_AI_CANONNAME` was asked;
   * unset when the answer carried no CNAME, as in libevent.
   */
  canonname?: string;
}

// ---------------------------------------------------------------------------------------------

const ST_NEW = 0;
const ST_WAITING = 1;
const ST_INFLIGHT = 2;
const ST_DONE = 3; // callback queued
const ST_FINISHED = 4;

const NO_RRS: DnsRR[] = [];
const NO_ADDRS: string[] = [];

/** Random bytes drawn in batches: ids and 0x20 bits cost a byte read, not a syscall. */
const rnd = new Uint8Array(2048);
let rndPos = rnd.length;
function randByte(): number {
  if (rndPos === rnd.length) {
    crypto.getRandomValues(rnd);
    rndPos = 0;
  }
  return rnd[rndPos++];
}

const caseScratch = new Uint16Array(1100);
/** Flips each ASCII letter's case on a random bit (DNS 0x20, draft-vixie-dnsext-dns0x20). */
function randomizeCase(name: string): string {
  const n = name.length;
  let bits = 0;
  let left = 0;
  for (let i = 0; i < n; i++) {
    let c = name.charCodeAt(i);
    const l = c | 0x20;
    if (l >= 0x61 && l <= 0x7a) {
      if (left === 0) {
        bits = randByte();
        left = 8;
      }
      c = (bits & 1) !== 0 ? l & ~0x20 : l;
      bits >>= 1;
      left--;
    }
    caseScratch[i] = c;
  }
  return String.fromCharCode.apply(null, caseScratch.subarray(0, n) as unknown as number[]);
}

/** What a cache slot holds: one name and type's answer. */
interface CacheEntry {
  expires: number;
  stored: number;
  /** Approximate memory held (see `entryCost`). */
  cost: number;
  result: number;
  ttl: number;
  rrs: DnsRR[];
  addrs: string[];
  cname: string | null;
}

/**
 * A pending `resolve*` lookup, returned so it can be cancelled with `EvdnsBase.cancelRequest`.
 *
 * @example
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import { EvdnsBase } from "@evdeno/evdeno/dns";
 * const base = new EventBase();
 * const dns = new EvdnsBase(base, 0);
 * dns.nameserverIpAdd("127.0.0.1:5353");
 * const req = dns.resolveIpv4("example.com", 0, (result) => console.log(result));
 * dns.cancelRequest(req); // the callback runs with DNS_ERR_CANCEL
 * await base.dispatch();
 * dns.free(false);
 * ```
 */
export class EvdnsRequest extends ActiveEntry {
  /** @ignore */
  _dns: EvdnsBase;
  /** @ignore */
  _type: number;
  /** @ignore */
  _flags: number;
  /** @ignore */
  _cb: ResolveCb | null;
  /** @ignore */
  _arg: unknown;
  /**
   * Internal completion (getaddrinfo, promises, probes) instead of `_cb`.
   * @ignore
   */
  _done: ((r: EvdnsRequest) => void) | null = null;
  /** @ignore */
  _candidates: string[] = NO_ADDRS;
  /** @ignore */
  _ci: number = 0;
  /** @ignore */
  _state: number = ST_NEW;
  /** @ignore */
  _id: number = -1;
  /** @ignore */
  _wireName: string = "";
  /** @ignore */
  _packet: Uint8Array | null = null;
  /** @ignore */
  _server: Nameserver | null = null;
  /**
   * Servers this id was sent to (a reply is accepted from any of them).
   * @ignore
   */
  _asked: Nameserver[] = [];
  /** @ignore */
  _tx: number = 0;
  /** @ignore */
  _reissues: number = 0;
  /** @ignore */
  _tcp: boolean = false;
  /** @ignore */
  _sock: UdpSock | null = null;
  /** @ignore */
  _chan: TcpChannel | null = null;
  /** @ignore */
  _timer: InternalTimer | null = null;
  /** @ignore */
  _probe: Nameserver | null = null;
  /** @ignore */
  _held: boolean = false;
  /** @ignore */
  _result: number = DNS_ERR_NONE;
  /** @ignore */
  _ttl: number = 0;
  /** @ignore */
  _rrs: DnsRR[] = NO_RRS;
  /** @ignore */
  _addrs: string[] = NO_ADDRS;
  /** @ignore */
  _cname: string | null = null;
  /**
   * Monotonic ms at which a cached answer was stored (TTL aging); -1 for fresh answers.
   * @ignore
   */
  _stored: number = -1;

  /** @ignore */
  constructor(dns: EvdnsBase, type: number, flags: number, cb: ResolveCb | null, arg: unknown) {
    super();
    this._dns = dns;
    this._type = type;
    this._flags = flags;
    this._cb = cb;
    this._arg = arg;
  }

  /** The query name currently being tried (after search-list expansion). */
  get name(): string {
    return this._candidates[Math.min(this._ci, this._candidates.length - 1)] ?? "";
  }

  /** @ignore */
  _run(): void {
    if (this._state !== ST_DONE) return;
    this._state = ST_FINISHED;
    const done = this._done;
    if (done !== null) {
      done(this);
      return;
    }
    const cb = this._cb;
    if (cb === null) return;
    const rtype = this._type === DNS_TYPE_A
      ? DNS_IPv4_A
      : this._type === DNS_TYPE_AAAA
      ? DNS_IPv6_AAAA
      : this._type === DNS_TYPE_PTR
      ? DNS_PTR
      : this._type;
    const addrs = this._addrs;
    const ok = this._result === DNS_ERR_NONE;
    try {
      // libevent's reply_run_callback reports failures as (err, 0, 0, ttl, NULL): ported code
      // tells success from failure by the type as well as the result.
      cb(this._result, ok ? rtype : 0, addrs.length, this._ttl, addrs, this._arg);
      // After the address callback, as in libevent: ported callbacks that keep the last call
      // (libevent's `test search`) expect the DNS_CNAME one there.
      if (ok && (this._flags & DNS_CNAME_CALLBACK) !== 0 && this._cname !== null) {
        cb(DNS_ERR_NONE, DNS_CNAME, 1, this._ttl, [this._cname], this._arg);
      }
    } catch (e) {
      this._dns._base._reportError(e);
    }
  }
}

/** A `getaddrinfo` answered without a lookup: its callback runs from the loop. */
class GaiImmediate extends ActiveEntry {
  base: EventBase;
  cb: GetaddrinfoCb;
  arg: unknown;
  err: number;
  res: Addrinfo[] | null;
  constructor(
    base: EventBase,
    cb: GetaddrinfoCb,
    arg: unknown,
    err: number,
    res: Addrinfo[] | null,
  ) {
    super();
    this.base = base;
    this.cb = cb;
    this.arg = arg;
    this.err = err;
    this.res = res;
    this._pri = base._defaultPriority();
  }
  _run(): void {
    try {
      this.cb(this.err, this.res, this.arg);
    } catch (e) {
      this.base._reportError(e);
    }
  }
}

/** Cached `getaddrinfo` answers for one node name. */
interface GaiCacheEntry {
  v4: string[] | null;
  v4Exp: number;
  v6: string[] | null;
  v6Exp: number;
  /** The answer's CNAME target; null when it had none (CANONNAME then leaves canonname unset). */
  canon: string | null;
  /** Built result arrays per hints/port combination (a few: ports may come from users). */
  built: Map<number, Addrinfo[]>;
  /** Approximate memory held by the address lists. */
  cost: number;
}

/** Hints/port combinations whose built results an entry keeps. */
const GAI_BUILT_MAX = 8;

interface NormHints {
  family: number;
  socktype: number;
  protocol: number;
  flags: number;
}

/**
 * A pending `getaddrinfo` lookup (parallel A and AAAA queries), returned so it can be
 * cancelled.
 *
 * @example
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import { EvdnsBase } from "@evdeno/evdeno/dns";
 * const base = new EventBase();
 * const dns = new EvdnsBase(base, 0);
 * dns.nameserverIpAdd("127.0.0.1:5353");
 * const req = dns.getaddrinfo("example.com", "80", null, (err, res) => console.log(err, res));
 * req?.cancel(); // the callback runs with EVUTIL_EAI_CANCEL
 * await base.dispatch();
 * dns.free(false);
 * ```
 */
export class EvdnsGetaddrinfoRequest {
  /** @ignore */
  _dns: EvdnsBase;
  /** @ignore */
  _node: string;
  /** @ignore */
  _port: number;
  /** @ignore */
  _hints: NormHints;
  /** @ignore */
  _cb: GetaddrinfoCb;
  /** @ignore */
  _arg: unknown;
  /** @ignore */
  _v4: EvdnsRequest | null = null;
  /** @ignore */
  _v6: EvdnsRequest | null = null;
  /** @ignore */
  _pending: number = 0;
  /** @ignore */
  _finished: boolean = false;
  /** @ignore */
  _cancelled: boolean = false;
  /** @ignore */
  _lastErr: number = DNS_ERR_NONE;
  /** @ignore */
  _skew: InternalTimer | null = null;

  /** @ignore */
  constructor(
    dns: EvdnsBase,
    node: string,
    port: number,
    hints: NormHints,
    cb: GetaddrinfoCb,
    arg: unknown,
  ) {
    this._dns = dns;
    this._node = node;
    this._port = port;
    this._hints = hints;
    this._cb = cb;
    this._arg = arg;
  }

  /**
   * Cancels the lookup (libevent's `evdns_getaddrinfo_cancel`): the callback runs with
   * `EVUTIL_EAI_CANCEL` once both queries stopped. No effect after the callback ran.
   */
  cancel(): void {
    this._dns._gaiCancel(this);
  }
}

// ---------------------------------------------------------------------------------------------

interface Options {
  ndots: number;
  timeoutMs: number;
  attempts: number;
  maxTimeouts: number;
  maxInflight: number;
  randomizeCase: boolean;
  bindTo: string | null;
  initialProbeMs: number;
  maxProbeMs: number;
  probeBackoff: number;
  allowSkewMs: number;
  tcpIdleMs: number;
  useVc: boolean;
  ignoreTc: boolean;
  ednsUdpSize: number;
}

/** Queries per UDP socket before a fresh socket (and source port) is used. */
const QUERIES_PER_SOCKET = 32;
/** Cache slots before the oldest are evicted. */
const CACHE_MAX = 16384;
/**
 * Approximate bytes each cache (answers, getaddrinfo results) may hold before its oldest entries
 * are evicted, and the most one entry may cost to be cached at all: a count alone let a hostile
 * nameserver park megabytes per entry (64 KiB TCP answers of long names). Module-wide; tests
 * lower them.
 * @ignore
 */
export const dnsCacheLimits = { maxCost: 32 * 1024 * 1024, entryMaxCost: 2 * 1024 * 1024 };

/**
 * One of the resolver's caches: oldest first (a Map keeps insertion order), bounded by the entry
 * count and by the summed `cost` of its entries.
 */
class CostedCache<V extends { cost: number }> {
  readonly #map = new Map<string, V>();
  #cost = 0;

  get(key: string): V | undefined {
    return this.#map.get(key);
  }

  delete(key: string): void {
    const v = this.#map.get(key);
    if (v === undefined) return;
    this.#map.delete(key);
    this.#cost -= v.cost;
  }

  clear(): void {
    this.#map.clear();
    this.#cost = 0;
  }

  /** Stores `v` under `key` (replacing any), evicting the oldest to make room for it. */
  set(key: string, v: V): void {
    this.delete(key);
    this.#evict(CACHE_MAX - 1, dnsCacheLimits.maxCost - v.cost);
    this.#map.set(key, v);
    this.#cost += v.cost;
  }

  /** `v` (stored under `key`) now costs `cost`: dropped if over an entry's bound, else room made. */
  recost(key: string, v: V, cost: number): void {
    this.#cost += cost - v.cost;
    v.cost = cost;
    if (cost > dnsCacheLimits.entryMaxCost) this.delete(key);
    else this.#evict(CACHE_MAX, dnsCacheLimits.maxCost);
  }

  /** Drops the oldest entries while more than `count` or a cost over `cost`. */
  #evict(count: number, cost: number): void {
    const map = this.#map;
    while (map.size > 0 && (map.size > count || this.#cost > cost)) {
      this.delete(map.keys().next().value!);
    }
  }
}

/** A search domain without leading dots or the trailing one ("" if nothing is left). */
function searchDomain(domain: string): string {
  let d = domain;
  while (d.startsWith(".")) d = d.slice(1);
  return d.endsWith(".") ? d.slice(0, -1) : d;
}

/** Rough memory held by decoded rdata: its strings and byte arrays, and a fixed part. */
function dataCost(d: unknown): number {
  if (typeof d === "string") return 16 + d.length;
  if (d instanceof Uint8Array) return 64 + d.length;
  if (Array.isArray(d)) {
    let c = 16;
    for (const x of d) c += dataCost(x);
    return c;
  }
  if (d !== null && typeof d === "object") {
    let c = 32;
    for (const v of Object.values(d)) c += typeof v === "number" ? 8 : dataCost(v);
    return c;
  }
  return 8;
}

/** Rough memory a cached answer holds (strings count a byte per character). */
function entryCost(rrs: DnsRR[], addrs: string[], cname: string | null): number {
  let c = 128 + (cname?.length ?? 0);
  for (const rr of rrs) c += 64 + rr.name.length + dataCost(rr.data) + (rr.raw?.length ?? 0);
  for (const a of addrs) c += 16 + a.length;
  return c;
}
const WELL_KNOWN_SERVICES: ReadonlyMap<string, number> = new Map([
  ["http", 80],
  ["https", 443],
  ["domain", 53],
  ["ftp", 21],
  ["ssh", 22],
  ["telnet", 23],
  ["smtp", 25],
  ["pop3", 110],
  ["imap", 143],
  ["imaps", 993],
  ["pop3s", 995],
  ["submission", 587],
  ["ntp", 123],
]);

/**
 * libevent's evdns resolver (`struct evdns_base`), speaking DNS itself: UDP from randomized
 * source ports, TCP after truncation or with `use-vc`, retransmission and round-robin failover,
 * failed nameservers probed back with back-off, search domains with ndots, the hosts file, a
 * TTL cache with negative caching (RFC 2308; opt out with `EVDNS_BASE_NO_CACHE` or
 * `DNS_QUERY_NO_CACHE`), and `getaddrinfo`.
 *
 * Stronger than libevent: with `randomize-case:` on, the reply's question must match the sent
 * name case-sensitively; replies with the right id but the wrong question are ignored; SERVFAIL
 * on the last attempt reports `DNS_ERR_SERVERFAILED`; every lookup ends in bounded time.
 *
 * Callbacks run inside `base.loop()`. Needs `--unstable-net` (UDP).
 *
 * @example
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import { DNS_ERR_NONE, EvdnsBase, evdnsErrToString } from "@evdeno/evdeno/dns";
 * const base = new EventBase();
 * const dns = new EvdnsBase(base, 0);
 * dns.nameserverIpAdd("127.0.0.1:5353");
 * dns.resolveIpv4("example.com", 0, (result, _type, _count, ttl, addresses) => {
 *   if (result === DNS_ERR_NONE) console.log(addresses, `ttl ${ttl}`);
 *   else console.log(evdnsErrToString(result));
 * });
 * await base.dispatch();
 * const { result, records } = await Promise.all([dns.resolve("example.com", "MX"), base.dispatch()])
 *   .then(([r]) => r);
 * console.log(result, records);
 * dns.free(false);
 * ```
 */
export class EvdnsBase {
  /** @ignore */
  _base: EventBase;
  #flags: number;
  #opts: Options = {
    ndots: 1,
    timeoutMs: 5000,
    attempts: 3,
    maxTimeouts: 3,
    maxInflight: 64,
    randomizeCase: true,
    bindTo: null,
    initialProbeMs: 10000,
    maxProbeMs: 3600000,
    probeBackoff: 3,
    allowSkewMs: 3000,
    tcpIdleMs: 5000,
    useVc: false,
    ignoreTc: false,
    ednsUdpSize: 512,
  };
  #servers: Nameserver[] = [];
  #rr = 0;
  #downCount = 0;
  #search: string[] = [];
  #hosts = new Map<string, { v4: string[]; v6: string[] }>();
  #suspended = false;
  #freed = false;
  #inflight = new Map<number, EvdnsRequest>();
  #nInflight = 0;
  #waiting: EvdnsRequest[] = [];
  #waitHead = 0;
  #live = new Set<EvdnsRequest>();
  #liveGai = new Set<EvdnsGetaddrinfoRequest>();
  #socks: (UdpSock | null)[] = [null, null, null, null];
  #cache = new CostedCache<CacheEntry>();
  #gaiCache = new CostedCache<GaiCacheEntry>();
  /**
   * Repeated getaddrinfo calls: (node, service, hints) → the cache entry their last call was
   * answered from, skipping service parsing, numeric and hosts-file checks. Cleared whenever the
   * hosts file or the cache changes.
   */
  #gaiFast = new Map<string, { lower: string; ce: GaiCacheEntry; h: NormHints; port: number }>();
  #cacheOn: boolean;

  /**
   * Creates a resolver on `base`. `flags`: `EVDNS_BASE_INITIALIZE_NAMESERVERS` reads
   * /etc/resolv.conf and /etc/hosts (a missing resolv.conf leaves no nameserver and logs an
   * error), `EVDNS_BASE_NAMESERVERS_NO_DEFAULT` (no 127.0.0.1 fallback), `EVDNS_BASE_NO_CACHE`,
   * `EVDNS_BASE_DISABLE_WHEN_INACTIVE` (accepted; evdeno's resolver never holds the loop while
   * idle). Throws `TypeError` when UDP is unavailable (no `--unstable-net`).
   */
  constructor(base: EventBase, flags = 0) {
    assertUdpAvailable();
    this._base = base;
    this.#flags = flags;
    this.#cacheOn = (flags & EVDNS_BASE_NO_CACHE) === 0;
    if ((flags & EVDNS_BASE_INITIALIZE_NAMESERVERS) !== 0) {
      let f = DNS_OPTIONS_ALL;
      if ((flags & EVDNS_BASE_NAMESERVERS_NO_DEFAULT) !== 0) f |= DNS_OPTION_NAMESERVERS_NO_DEFAULT;
      this.resolvConfParse(f, "/etc/resolv.conf");
    }
  }

  #checkLive(): void {
    if (this.#freed) throw new EvError("EvdnsBase used after free()");
  }

  // ---- configuration -------------------------------------------------------------------------

  /**
   * Adds a nameserver: `"1.2.3.4"`, `"1.2.3.4:5353"`, `"::1"`, `"[::1]:5353"` (port 53 by
   * default). Adding one already present does nothing. Throws `TypeError` when unparsable.
   */
  nameserverIpAdd(ipPort: string): void {
    this.#checkLive();
    const addr = parseServerAddr(ipPort);
    if (addr === null) throw new TypeError(`unparsable nameserver address: ${ipPort}`);
    const ns = new Nameserver(addr);
    if (this.#servers.some((s) => s.key === ns.key)) return;
    this.#servers.push(ns);
    if (!this.#suspended) this.#pump();
  }

  /** Number of configured nameservers. */
  countNameservers(): number {
    return this.#servers.length;
  }

  /** The `i`-th nameserver as `"ip:port"` (`"[v6]:port"`), or null when out of range. */
  getNameserverAddr(i: number): string | null {
    return this.#servers[i]?.key ?? null;
  }

  /**
   * Removes every nameserver and holds new and in-flight lookups (in-flight ones go back to the
   * front of the queue) until `resume()`.
   */
  clearNameserversAndSuspend(): void {
    this.#checkLive();
    this.#suspended = true;
    const back: EvdnsRequest[] = [];
    for (const req of this.#inflight.values()) {
      if (req._probe !== null) {
        this.#endTransmission(req);
        this.#drop(req);
        continue;
      }
      this.#endTransmission(req);
      req._state = ST_WAITING;
      back.push(req);
    }
    this.#waiting = back.concat(this.#waiting.slice(this.#waitHead));
    this.#waitHead = 0;
    for (const s of this.#servers) s.tcp?.close();
    this.#servers = [];
    this.#downCount = 0;
  }

  /** Sends the lookups held since `clearNameserversAndSuspend()`. */
  resume(): void {
    this.#checkLive();
    this.#suspended = false;
    this.#pump();
  }

  /**
   * Reads a resolv.conf file (libevent's `evdns_base_resolv_conf_parse`): `nameserver`,
   * `domain`, `search` and `options` lines, applied per the `DNS_OPTION_*` categories in
   * `flags`; `DNS_OPTION_HOSTSFILE` also loads /etc/hosts. Returns libevent's code: 0, 1 when
   * the file cannot be read (then no nameserver is added and an error is logged), 6 when it names
   * no nameserver (127.0.0.1 is added unless `DNS_OPTION_NAMESERVERS_NO_DEFAULT`). Never throws
   * for file or content problems.
   */
  resolvConfParse(flags: number, filename: string): number {
    this.#checkLive();
    let text: string;
    try {
      text = Deno.readTextFileSync(filename);
    } catch (e) {
      this._base._log(
        EVENT_LOG_ERR,
        `evdns: cannot read ${filename} (${e instanceof Error ? e.message : String(e)}): ` +
          "no nameservers configured",
      );
      if ((flags & DNS_OPTION_HOSTSFILE) !== 0) this.loadHosts(null);
      return 1;
    }
    const conf = parseResolvConf(text);
    if ((flags & DNS_OPTION_NAMESERVERS) !== 0) {
      for (const ns of conf.nameservers) {
        try {
          this.nameserverIpAdd(ns);
        } catch {
          this._base._log(EVENT_LOG_WARN, `evdns: ignoring bad nameserver ${ns} in ${filename}`);
        }
      }
    }
    if ((flags & DNS_OPTION_SEARCH) !== 0) {
      if (conf.search !== null) {
        // A search/domain line replaces the list (libevent), in file order.
        this.searchClear();
        for (const d of conf.search) {
          const n = searchDomain(d);
          if (n !== "") this.#search.push(n);
        }
      } else if (this.#search.length === 0) {
        // No such line: domains added before stay; the hostname's domain only fills an empty list.
        let host = "";
        try {
          host = Deno.hostname();
        } catch { /* no --allow-sys: no derived domain */ }
        const dot = host.indexOf(".");
        if (dot >= 0 && dot < host.length - 1) this.searchAdd(host.slice(dot + 1));
      }
    }
    for (const [name, value] of conf.options) {
      const cat = name === "ndots"
        ? DNS_OPTION_SEARCH
        : name === "bind-to"
        ? DNS_OPTION_NAMESERVERS
        : DNS_OPTION_MISC;
      if ((flags & cat) === 0) continue;
      try {
        this.setOption(name, value ?? "");
      } catch {
        this._base._log(EVENT_LOG_WARN, `evdns: ignoring bad option ${name} in ${filename}`);
      }
    }
    if ((flags & DNS_OPTION_HOSTSFILE) !== 0) this.loadHosts("/etc/hosts");
    // "No nameservers" is the resolver's state after parsing, not the file's (libevent checks
    // its server list): an unparsable line adds none; servers added before count.
    if ((flags & DNS_OPTION_NAMESERVERS) !== 0 && this.#servers.length === 0) {
      if ((flags & DNS_OPTION_NAMESERVERS_NO_DEFAULT) === 0) this.nameserverIpAdd("127.0.0.1");
      return 6;
    }
    return 0;
  }

  /**
   * Sets an option, resolv.conf style, with or without the trailing colon (durations in seconds,
   * as in libevent): `ndots`, `timeout`, `attempts`, `max-timeouts`, `max-inflight`,
   * `randomize-case`, `bind-to`, `initial-probe-timeout`, `max-probe-timeout`,
   * `probe-backoff-factor`, `getaddrinfo-allow-skew`, `tcp-idle-timeout`, `use-vc`, `ignore-tc`,
   * `edns-udp-size`, `so-rcvbuf`, `so-sndbuf` (accepted, no effect in Deno). Unknown names are
   * ignored (libevent); a bad value throws `RangeError`.
   */
  setOption(name: string, value: string): void {
    this.#checkLive();
    const key = name.endsWith(":") ? name.slice(0, -1) : name;
    const o = this.#opts;
    const int = (): number => {
      if (!/^-?[0-9]+$/.test(value.trim())) {
        throw new RangeError(`${key}: not an integer: ${value}`);
      }
      return Number(value.trim());
    };
    const secs = (): number => {
      const v = value.trim();
      if (!/^[0-9]*\.?[0-9]+$/.test(v)) throw new RangeError(`${key}: not a duration: ${value}`);
      const ms = Math.round(Number(v) * 1000);
      if (ms < 1) throw new RangeError(`${key}: must be at least 1 ms`);
      return ms;
    };
    const clip = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
    switch (key) {
      case "ndots":
        o.ndots = Math.max(0, int());
        break;
      case "timeout":
        o.timeoutMs = secs();
        break;
      case "attempts":
        o.attempts = clip(int(), 1, 255);
        break;
      case "max-timeouts":
        o.maxTimeouts = clip(int(), 1, 255);
        break;
      case "max-inflight":
        o.maxInflight = clip(int(), 1, 65000);
        this.#pump();
        break;
      case "randomize-case":
        o.randomizeCase = int() !== 0;
        break;
      case "bind-to": {
        const a = parseServerAddr(value);
        if (a === null) throw new RangeError(`bind-to: bad address ${value}`);
        o.bindTo = a.hostname;
        break;
      }
      case "initial-probe-timeout":
        o.initialProbeMs = Math.min(secs(), 3600000);
        if (o.initialProbeMs > o.maxProbeMs) o.initialProbeMs = o.maxProbeMs;
        break;
      case "max-probe-timeout":
        o.maxProbeMs = clip(int(), 1, 3600) * 1000;
        if (o.initialProbeMs > o.maxProbeMs) o.initialProbeMs = o.maxProbeMs;
        break;
      case "probe-backoff-factor":
        o.probeBackoff = clip(int(), 1, 10);
        break;
      case "getaddrinfo-allow-skew":
        o.allowSkewMs = secs();
        break;
      case "tcp-idle-timeout":
        o.tcpIdleMs = secs();
        break;
      case "use-vc":
      case "ignore-tc":
        if (value !== "") throw new RangeError(`${key} takes no value`);
        if (key === "use-vc") o.useVc = true;
        else o.ignoreTc = true;
        break;
      case "edns-udp-size": {
        const prev = o.ednsUdpSize;
        o.ednsUdpSize = clip(int(), 512, 65535);
        // Sockets read at most the size they were opened for: larger answers need new ones.
        if (o.ednsUdpSize > Math.max(4096, prev)) this.#retireSockets();
        break;
      }
      case "so-rcvbuf":
      case "so-sndbuf":
        int();
        break;
      default:
        break;
    }
  }

  /**
   * Adds a search domain (leading dots stripped). Like libevent, it is put at the front: domains
   * added with this method are tried in reverse order of the calls.
   */
  searchAdd(domain: string): void {
    const d = searchDomain(domain);
    if (d !== "") this.#search.unshift(d);
  }

  /** Empties the search list. */
  searchClear(): void {
    this.#search = [];
  }

  /** Sets `ndots`: names with at least this many dots are tried as given first. */
  searchNdotsSet(n: number): void {
    this.#opts.ndots = Math.max(0, Math.trunc(n));
  }

  /**
   * Adds /etc/hosts-style entries from `filename` (consulted by `getaddrinfo` only, as in
   * libevent). When the file cannot be read (or `filename` is null), adds `localhost` for
   * 127.0.0.1 and ::1.
   */
  loadHosts(filename: string | null): void {
    let text: string | null = null;
    if (filename !== null) {
      try {
        text = Deno.readTextFileSync(filename);
      } catch {
        text = null;
      }
    }
    parseHosts(text ?? "127.0.0.1 localhost\n::1 localhost\n", this.#hosts);
    this.#gaiFast.clear();
  }

  /** Forgets every hosts-file entry. */
  clearHostAddresses(): void {
    this.#hosts.clear();
    this.#gaiFast.clear();
  }

  /** Empties the answer cache (resolver and `getaddrinfo`). */
  cacheClear(): void {
    this.#cache.clear();
    this.#gaiCache.clear();
    this.#gaiFast.clear();
  }

  // ---- lookups -------------------------------------------------------------------------------

  /** Looks up A records (search list applies unless `DNS_QUERY_NO_SEARCH`). */
  resolveIpv4(name: string, flags: number, cb: ResolveCb, arg?: unknown): EvdnsRequest {
    return this.#start(name, DNS_TYPE_A, flags, cb, arg, null, true);
  }

  /** Looks up AAAA records (search list applies unless `DNS_QUERY_NO_SEARCH`). */
  resolveIpv6(name: string, flags: number, cb: ResolveCb, arg?: unknown): EvdnsRequest {
    return this.#start(name, DNS_TYPE_AAAA, flags, cb, arg, null, true);
  }

  /** Looks up the PTR name of an IPv4 address (`"192.0.2.1"`); never searched. */
  resolveReverse(ipv4: string, flags: number, cb: ResolveCb, arg?: unknown): EvdnsRequest {
    return this.#start(reverseName4(ipv4) ?? "", DNS_TYPE_PTR, flags, cb, arg, null, false);
  }

  /** Looks up the PTR name of an IPv6 address (`"2001:db8::1"`); never searched. */
  resolveReverseIpv6(ipv6: string, flags: number, cb: ResolveCb, arg?: unknown): EvdnsRequest {
    return this.#start(reverseName6(ipv6) ?? "", DNS_TYPE_PTR, flags, cb, arg, null, false);
  }

  /**
   * Looks up any record type (`"A"`, `"MX"`, `"TXT"`, … or a number) with the same search,
   * cache and transport rules; resolves to `{ result, records }` where `result` is a `DNS_ERR_*`
   * code. Rejects (`RangeError`) only for an unknown type. The base's loop must run for the
   * promise to settle.
   */
  resolve(name: string, type: string | number, flags = 0): Promise<DnsResult> {
    this.#checkLive();
    const t = dnsTypeFromString(type);
    if (t < 0) return Promise.reject(new RangeError(`unknown DNS record type: ${String(type)}`));
    return new Promise<DnsResult>((resolve) => {
      this.#start(name, t, flags, null, undefined, (r) => {
        resolve({ result: r._result, records: toRecords(r) });
      }, t !== DNS_TYPE_PTR);
    });
  }

  /**
   * Cancels a lookup: its callback runs (from the loop) with `DNS_ERR_CANCEL`. No effect when
   * the callback is already due.
   */
  cancelRequest(req: EvdnsRequest): void {
    if (req._dns !== this) return;
    if (req._state === ST_DONE || req._state === ST_FINISHED) return;
    this.#endTransmission(req);
    this.#finish(req, DNS_ERR_CANCEL, 0, NO_RRS, NO_ADDRS, null);
  }

  /**
   * Frees the resolver: sockets close, and pending lookups get `DNS_ERR_SHUTDOWN` (getaddrinfo:
   * `EVUTIL_EAI_FAIL`) when `failRequests`, or are dropped silently otherwise. Further use
   * throws.
   */
  free(failRequests: boolean): void {
    if (this.#freed) return;
    for (const g of [...this.#liveGai]) {
      if (!failRequests) {
        g._finished = true;
        this.#gaiStopSkew(g);
        this.#liveGai.delete(g);
      }
    }
    for (const req of [...this.#live]) {
      this.#endTransmission(req);
      if (failRequests && req._probe === null) {
        this.#finish(req, DNS_ERR_SHUTDOWN, 0, NO_RRS, NO_ADDRS, null);
      } else {
        this.#drop(req);
      }
    }
    this.#freed = true;
    this.#waiting = [];
    this.#waitHead = 0;
    for (let i = 0; i < this.#socks.length; i++) {
      const s = this.#socks[i];
      if (s !== null) {
        s.retired = true;
        s.close();
      }
      this.#socks[i] = null;
    }
    for (const s of this.#servers) s.tcp?.close();
    this.#servers = [];
    this.#cache.clear();
    this.#gaiCache.clear();
    this.#gaiFast.clear();
  }

  // ---- request machinery ---------------------------------------------------------------------

  #start(
    name: string,
    type: number,
    flags: number,
    cb: ResolveCb | null,
    arg: unknown,
    done: ((r: EvdnsRequest) => void) | null,
    searchable: boolean,
  ): EvdnsRequest {
    this.#checkLive();
    const req = new EvdnsRequest(this, type, flags, cb, arg);
    req._done = done;
    req._pri = this._base._defaultPriority();
    this.#live.add(req);
    req._held = true;
    this._base._nRefs++;
    const cands = this.#candidates(name, searchable && (flags & DNS_QUERY_NO_SEARCH) === 0);
    if (cands.length === 0) {
      this.#finish(req, DNS_ERR_FORMAT, 0, NO_RRS, NO_ADDRS, null);
      return req;
    }
    req._candidates = cands;
    req._tcp = (flags & DNS_QUERY_USEVC) !== 0 || this.#opts.useVc;
    this.#submit(req);
    return req;
  }

  /** The names to try, in order (libevent's search algorithm, §3.6); invalid ones dropped. */
  #candidates(name: string, search: boolean): string[] {
    const bare = name === "" ? null : normalizeName(name);
    if (bare === null || bare === "") return [];
    // A trailing dot marks an absolute name: never searched (libevent would search it).
    if (!search || this.#search.length === 0 || name.endsWith(".")) return [bare];
    let dots = 0;
    for (let i = 0; i < bare.length; i++) if (bare.charCodeAt(i) === 0x2e) dots++;
    const out: string[] = [];
    if (dots >= this.#opts.ndots) out.push(bare);
    for (const d of this.#search) {
      const full = normalizeName(bare + "." + d);
      if (full !== null) out.push(full);
    }
    if (dots < this.#opts.ndots) out.push(bare);
    return out;
  }

  #cacheKey(req: EvdnsRequest): string {
    return req._type + ":" + req._candidates[req._ci].toLowerCase();
  }

  /** Tries the current candidate: from the cache, or queued for the network. */
  #submit(req: EvdnsRequest): void {
    if (this.#cacheOn && (req._flags & DNS_QUERY_NO_CACHE) === 0 && req._probe === null) {
      const key = this.#cacheKey(req);
      const e = this.#cache.get(key);
      if (e !== undefined) {
        const now = this._base._monoNow();
        if (e.expires > now) {
          req._stored = e.stored;
          const ttl = Math.max(0, Math.floor(e.ttl - (now - e.stored) / 1000));
          this.#answer(req, e.result, ttl, e.rrs, e.addrs, e.cname, false);
          return;
        }
        this.#cache.delete(key);
      }
    }
    if (this.#suspended || this.#nInflight >= this.#opts.maxInflight) {
      req._state = ST_WAITING;
      this.#waiting.push(req);
      return;
    }
    this.#launch(req);
  }

  #pump(): void {
    const q = this.#waiting;
    while (
      !this.#suspended && this.#nInflight < this.#opts.maxInflight && this.#waitHead < q.length
    ) {
      const req = q[this.#waitHead++];
      if (req._state === ST_WAITING) this.#launch(req);
    }
    if (this.#waitHead === q.length) {
      q.length = 0;
      this.#waitHead = 0;
    } else if (this.#waitHead > 1024) {
      this.#waiting = q.slice(this.#waitHead);
      this.#waitHead = 0;
    }
  }

  #pickId(): number {
    for (;;) {
      const id = (randByte() << 8) | randByte();
      if (id !== 0xffff && !this.#inflight.has(id)) return id;
    }
  }

  #launch(req: EvdnsRequest): void {
    req._state = ST_INFLIGHT;
    this.#nInflight++;
    const id = this.#pickId();
    req._id = id;
    this.#inflight.set(id, req);
    const qname = req._candidates[req._ci];
    req._wireName = this.#opts.randomizeCase ? randomizeCase(qname) : qname;
    const edns = this.#opts.ednsUdpSize;
    req._packet = encodeQuery(
      id,
      req._wireName,
      req._type,
      edns > 512 && !req._tcp ? { ednsUdpSize: edns } : {},
    );
    req._tx = 0;
    req._reissues = 0;
    this.#transmit(req, null);
  }

  /** Sends the request's packet to `to` (or the next nameserver) and arms its timeout. */
  #transmit(req: EvdnsRequest, to: Nameserver | null): void {
    const ns = to ?? req._probe ?? this.#pickServer();
    req._tx++;
    req._server = ns;
    if (ns !== null) {
      if (!req._asked.includes(ns)) req._asked.push(ns);
      if (req._tcp) {
        this.#sendTcp(req, ns);
      } else {
        // A retransmission goes out on the socket the query already used (libevent resends the
        // same packet the same way), so a late answer to an earlier copy is still accepted;
        // only a fresh query, or one moving to a server of another family, takes the current one.
        const prev = req._sock;
        const sock = prev !== null && !prev.closed && prev.family === ns.addr.family &&
            prev.bound === this.#wantsBind(ns.addr)
          ? prev
          : this.#sockFor(ns.addr);
        if (req._sock !== sock) {
          req._sock?.release();
          req._sock = sock;
          sock.acquire();
        }
        sock.send(req._packet!, ns.addr);
      }
    }
    let t = req._timer;
    if (t === null) t = req._timer = new InternalTimer(this._base, () => this.#onTimeout(req));
    t.arm(this.#opts.timeoutMs);
  }

  /** Writes the request's packet on `ns`'s TCP connection, opening one when it has none. */
  #sendTcp(req: EvdnsRequest, ns: Nameserver): void {
    let chan = ns.tcp;
    if (chan === null || chan.closed) {
      chan = ns.tcp = new TcpChannel(this._base, this, ns.addr, this.#opts.tcpIdleMs);
    }
    if (req._chan !== chan) {
      req._chan?.release();
      req._chan = chan;
      chan.users++;
    }
    chan.send(req._packet!);
  }

  /**
   * A TCP query timed out: its connection is presumed stuck (accepted but no longer served), so
   * it is closed and every other query on it is re-sent on a fresh one, as libevent's timeout
   * callback does. The others keep their own deadlines and attempt counts: a query sent a moment
   * ago is not charged (or failed) for a stall it did not wait out.
   */
  #resetTcp(req: EvdnsRequest, chan: TcpChannel): void {
    chan.close();
    for (const r of this.#inflight.values()) {
      if (r !== req && r._chan === chan && r._server !== null) this.#sendTcp(r, r._server);
    }
  }

  /** Whether queries to `addr` go out from the `bind-to` address. */
  #wantsBind(addr: ServerAddr): boolean {
    const bindTo = this.#opts.bindTo;
    const bindFam = bindTo === null ? 0 : bindTo.includes(":") ? 6 : 4;
    return bindFam === addr.family && !isLoopback(addr);
  }

  /** Retires the current UDP sockets: the next queries open new ones (with current options). */
  #retireSockets(): void {
    for (let i = 0; i < this.#socks.length; i++) {
      const s = this.#socks[i];
      if (s === null) continue;
      s.retired = true;
      if (s.users === 0) s.close();
      this.#socks[i] = null;
    }
  }

  #sockFor(addr: ServerAddr): UdpSock {
    const bindTo = this.#opts.bindTo;
    const useBind = this.#wantsBind(addr);
    const slot = (addr.family === 6 ? 1 : 0) + (useBind ? 2 : 0);
    let s = this.#socks[slot];
    if (s === null || s.uses >= QUERIES_PER_SOCKET) {
      if (s !== null) {
        s.retired = true;
        if (s.users === 0) s.close();
      }
      s = this.#socks[slot] = new UdpSock(
        this,
        addr.family,
        useBind ? bindTo : null,
        Math.max(4096, this.#opts.ednsUdpSize),
      );
    }
    return s;
  }

  /** Round-robin over nameservers believed up (over all when none is); probes the due ones. */
  #pickServer(): Nameserver | null {
    const list = this.#servers;
    const n = list.length;
    if (n === 0) return null;
    if (this.#downCount > 0) this.#probeDue();
    for (let i = 0; i < n; i++) {
      const s = list[this.#rr++ % n];
      if (s.up) return s;
    }
    return list[this.#rr++ % n];
  }

  /** Releases the request's id, socket, timer and in-flight slot. */
  #endTransmission(req: EvdnsRequest): void {
    if (req._state === ST_WAITING) {
      req._state = ST_NEW; // the queue skips it
      return;
    }
    if (req._state !== ST_INFLIGHT) return;
    req._state = ST_NEW;
    this.#inflight.delete(req._id);
    req._id = -1;
    req._asked.length = 0;
    req._timer?.disarm();
    if (req._sock !== null) {
      req._sock.release();
      req._sock = null;
    }
    if (req._chan !== null) {
      req._chan.release();
      req._chan = null;
    }
    this.#nInflight--;
    if (!this.#freed) this.#pump();
  }

  #onTimeout(req: EvdnsRequest): void {
    if (req._state !== ST_INFLIGHT) return;
    const ns = req._server;
    if (req._probe !== null) {
      this.#probeResult(req, false);
      return;
    }
    if (ns !== null && ++ns.timeouts >= this.#opts.maxTimeouts) this.#markDown(ns);
    const chan = req._chan;
    // Only a connection open for a whole timeout is presumed stuck: one opened since (for the
    // queries of the last reset) is not torn down again by every query that times out on it,
    // which opened a connection per timed-out query and rescanned every query in flight each time.
    if (
      req._tcp && chan !== null && !chan.closed &&
      this._base._monoNow() - chan.openedAt >= this.#opts.timeoutMs
    ) this.#resetTcp(req, chan);
    if (req._tx >= this.#opts.attempts) {
      if (ns !== null) this.#markDown(ns);
      this.#endTransmission(req);
      // A timeout ends the whole search (libevent).
      this.#finish(req, DNS_ERR_TIMEOUT, 0, NO_RRS, NO_ADDRS, null);
      return;
    }
    this.#transmit(req, null);
  }

  #markDown(ns: Nameserver): void {
    if (!ns.up) return;
    ns.up = false;
    ns.failedTimes = 1;
    ns.probeAt = this._base._monoNow() + this.#opts.initialProbeMs;
    this.#downCount++;
    this._base._log(EVENT_LOG_WARN, `evdns: nameserver ${ns.key} is down`);
  }

  #markUp(ns: Nameserver): void {
    ns.timeouts = 0;
    if (ns.up) return;
    ns.up = true;
    ns.failedTimes = 0;
    this.#downCount--;
    this._base._log(EVENT_LOG_MSG, `evdns: nameserver ${ns.key} is up`);
  }

  /** Sends probes to down servers whose back-off expired (lazily, when a query is sent). */
  #probeDue(): void {
    const now = this._base._monoNow();
    for (const s of this.#servers) {
      if (s.up || s.probing || s.probeAt > now) continue;
      s.probing = true;
      const req = new EvdnsRequest(this, DNS_TYPE_A, DNS_QUERY_NO_SEARCH, null, undefined);
      req._pri = this._base._defaultPriority();
      req._probe = s;
      req._candidates = ["google.com"];
      req._done = noopDone;
      this.#live.add(req);
      req._state = ST_INFLIGHT;
      this.#nInflight++;
      const id = this.#pickId();
      req._id = id;
      this.#inflight.set(id, req);
      req._wireName = this.#opts.randomizeCase ? randomizeCase("google.com") : "google.com";
      req._packet = encodeQuery(id, req._wireName, DNS_TYPE_A);
      this.#transmit(req, s);
    }
  }

  #probeResult(req: EvdnsRequest, ok: boolean): void {
    const s = req._probe!;
    this.#endTransmission(req);
    this.#drop(req);
    s.probing = false;
    if (!this.#servers.includes(s)) return;
    if (ok) {
      this.#markUp(s);
      return;
    }
    const o = this.#opts;
    const delay = Math.min(o.initialProbeMs * o.probeBackoff ** s.failedTimes, o.maxProbeMs);
    s.failedTimes++;
    s.probeAt = this._base._monoNow() + delay;
  }

  /** Forgets a request without a callback. */
  #drop(req: EvdnsRequest): void {
    req._state = ST_FINISHED;
    this.#live.delete(req);
    if (req._held) {
      req._held = false;
      this._base._nRefs--;
    }
  }

  /** The final answer: cached by the caller, callback queued. */
  #finish(
    req: EvdnsRequest,
    result: number,
    ttl: number,
    rrs: DnsRR[],
    addrs: string[],
    cname: string | null,
  ): void {
    req._result = result;
    req._ttl = ttl;
    req._rrs = rrs;
    req._addrs = addrs;
    req._cname = cname;
    req._state = ST_DONE;
    this.#live.delete(req);
    if (req._held) {
      req._held = false;
      this._base._nRefs--;
    }
    this._base._activateEntry(req);
  }

  /** An answer for the current candidate (from the wire or the cache). */
  #answer(
    req: EvdnsRequest,
    result: number,
    ttl: number,
    rrs: DnsRR[],
    addrs: string[],
    cname: string | null,
    fresh: boolean,
  ): void {
    this.#endTransmission(req);
    if (
      fresh && this.#cacheOn && (req._flags & DNS_QUERY_NO_CACHE) === 0 && ttl > 0 &&
      (result === DNS_ERR_NONE || result === DNS_ERR_NOTEXIST || result === DNS_ERR_NODATA)
    ) {
      const cost = entryCost(rrs, addrs, cname);
      if (cost <= dnsCacheLimits.entryMaxCost) {
        const now = this._base._monoNow();
        this.#cache.set(this.#cacheKey(req), {
          expires: now + ttl * 1000,
          stored: now,
          cost,
          result,
          ttl,
          rrs,
          addrs,
          cname,
        });
      }
    }
    if (fresh) req._stored = -1;
    if (result !== DNS_ERR_NONE && req._ci + 1 < req._candidates.length) {
      req._ci++;
      this.#submit(req);
      return;
    }
    this.#finish(req, result, ttl, rrs, addrs, cname);
  }

  // ---- replies -------------------------------------------------------------------------------

  /** @ignore */
  _onUdp(data: Uint8Array, from: Deno.NetAddr, sock: UdpSock): void {
    if (data.length < 12) return;
    const req = this.#inflight.get((data[0] << 8) | data[1]);
    if (req === undefined || req._sock !== sock || req._tcp) return;
    let ns: Nameserver | null = null;
    for (const s of req._asked) {
      if (
        s.addr.port === from.port &&
        canonicalHost(s.addr.hostname) === canonicalHost(from.hostname)
      ) {
        ns = s;
        break;
      }
    }
    if (ns === null) return; // not from a server we asked
    this.#onMessage(req, data, ns);
  }

  /** @ignore */
  _onTcp(data: Uint8Array, chan: TcpChannel): void {
    if (data.length < 12) return;
    const req = this.#inflight.get((data[0] << 8) | data[1]);
    if (req === undefined || req._chan !== chan || !req._tcp) return;
    const ns = req._asked.find((s) => s.tcp === chan);
    if (ns === undefined) return;
    this.#onMessage(req, data, ns);
  }

  /** @ignore */
  _onTcpClosed(chan: TcpChannel): void {
    for (const s of this.#servers) if (s.tcp === chan) s.tcp = null;
  }

  #onMessage(req: EvdnsRequest, data: Uint8Array, ns: Nameserver): void {
    const msg = parseMessage(data);
    // Malformed, not a response, or not our question: ignored, so neither garbage nor a spoofer
    // can end the lookup; the genuine answer (or the timeout) still can.
    if (msg === null || !msg.qr || !this.#questionMatches(msg, req)) return;
    if (req._probe !== null) {
      this.#probeResult(req, msg.rcode === 0 || msg.rcode === 3);
      return;
    }
    ns.timeouts = 0;
    if (this.#opts.randomizeCase) {
      // Report owner names as asked, not in the 0x20 mix sent on the wire.
      const wire = req._wireName;
      const asked = req._candidates[req._ci];
      for (const rr of msg.answers) if (rr.name === wire) rr.name = asked;
    }
    if (msg.tc && !req._tcp) {
      if (this.#opts.ignoreTc || (req._flags & DNS_QUERY_IGNTC) !== 0) {
        this.#answer(req, DNS_ERR_TRUNCATED, 0, NO_RRS, NO_ADDRS, null, false);
      } else {
        this.#toTcp(req, ns);
      }
      return;
    }
    switch (msg.rcode) {
      case 0: {
        this.#markUp(ns);
        const { rrs, addrs, ttl, cname } = extractAnswer(msg, req._candidates[req._ci], req._type);
        if (addrs.length > 0 || (rrs.length > 0 && req._type === DNS_TYPE_ANY)) {
          this.#answer(req, DNS_ERR_NONE, ttl, rrs, addrs, cname, true);
        } else {
          this.#answer(req, DNS_ERR_NODATA, negativeTtl(msg), rrs, NO_ADDRS, cname, true);
        }
        return;
      }
      case 3:
        this.#markUp(ns);
        this.#answer(req, DNS_ERR_NOTEXIST, negativeTtl(msg), NO_RRS, NO_ADDRS, null, true);
        return;
      case 4:
      case 5: {
        this.#markDown(ns);
        const other = this.#servers.some((s) => s !== ns && s.up);
        if (req._reissues < 1 && other) {
          req._reissues++;
          // The new server gets the full attempts budget (libevent's request_reissue), so one
          // lost datagram there does not end the lookup.
          req._tx = 0;
          this.#transmit(req, null);
          return;
        }
        this.#answer(
          req,
          msg.rcode === 4 ? DNS_ERR_NOTIMPL : DNS_ERR_REFUSED,
          0,
          NO_RRS,
          NO_ADDRS,
          null,
          false,
        );
        return;
      }
      case 2:
        // SERVFAIL: like a timeout, try the next server while attempts remain, but report
        // SERVERFAILED (not TIMEOUT) at the end.
        if (req._tx < this.#opts.attempts) {
          this.#transmit(req, null);
          return;
        }
        this.#answer(req, DNS_ERR_SERVERFAILED, 0, NO_RRS, NO_ADDRS, null, false);
        return;
      case 1:
        this.#answer(req, DNS_ERR_FORMAT, 0, NO_RRS, NO_ADDRS, null, false);
        return;
      default:
        this.#answer(req, DNS_ERR_UNKNOWN, 0, NO_RRS, NO_ADDRS, null, false);
    }
  }

  #questionMatches(msg: DnsMessage, req: EvdnsRequest): boolean {
    const want = req._wireName;
    const exact = this.#opts.randomizeCase;
    for (const q of msg.questions) {
      if (q.type !== req._type || q.dnsClass !== 1) continue;
      if (exact ? q.name === want : q.name.toLowerCase() === want.toLowerCase()) return true;
    }
    return false;
  }

  /** Retries a truncated answer over TCP with the same server and a new id. */
  #toTcp(req: EvdnsRequest, ns: Nameserver): void {
    this.#inflight.delete(req._id);
    const id = this.#pickId();
    req._id = id;
    this.#inflight.set(id, req);
    req._tcp = true;
    req._packet = encodeQuery(id, req._wireName, req._type);
    if (req._sock !== null) {
      req._sock.release();
      req._sock = null;
    }
    req._asked.length = 0;
    req._tx = 0;
    this.#transmit(req, ns);
  }

  // ---- getaddrinfo ---------------------------------------------------------------------------

  /**
   * Resolves `node` and `service` into addresses (libevent's `evdns_getaddrinfo`): numeric
   * hosts, a null node (wildcard with `EVUTIL_AI_PASSIVE`, else loopback), hosts-file names
   * and cached names are answered without a query (the callback still runs from the loop) and
   * `null` is returned; otherwise A and AAAA are queried in parallel (per `hints.family`), IPv4
   * results first, and a cancellable request is returned. `cb(err, res)` gets an
   * `EVUTIL_EAI_*` code (0 on success).
   */
  getaddrinfo(
    node: string | null,
    service: string | null,
    hints: AddrinfoHints | null,
    cb: GetaddrinfoCb,
    arg?: unknown,
  ): EvdnsGetaddrinfoRequest | null {
    this.#checkLive();
    const base = this._base;
    let fastKey: string | null = null;
    if (this.#cacheOn && node !== null && service !== null) {
      fastKey = hints === null
        ? node + "\u0000" + service
        : node + "\u0000" + service + "\u0000" + (hints.family ?? 0) + "," +
          (hints.socktype ?? 0) + "," + (hints.protocol ?? 0) + "," + (hints.flags ?? 0);
      const m = this.#gaiFast.get(fastKey);
      if (m !== undefined && this.#gaiCache.get(m.lower) === m.ce) {
        const res = this.#gaiFromCache(m.ce, m.h, m.port);
        if (res !== null) {
          base._activateEntry(new GaiImmediate(base, cb, arg, 0, res));
          return null;
        }
      }
    }
    const family = hints?.family ?? AF_UNSPEC;
    const flags = hints?.flags ?? 0;
    let socktype = hints?.socktype ?? 0;
    let protocol = hints?.protocol ?? 0;
    let err = 0;
    const known = EVUTIL_AI_PASSIVE | EVUTIL_AI_CANONNAME | EVUTIL_AI_NUMERICHOST |
      EVUTIL_AI_NUMERICSERV | EVUTIL_AI_V4MAPPED | EVUTIL_AI_ALL | EVUTIL_AI_ADDRCONFIG;
    if ((flags & ~known) !== 0) err = EVUTIL_EAI_BADFLAGS;
    else if (family !== AF_UNSPEC && family !== AF_INET && family !== AF_INET6) {
      err = EVUTIL_EAI_FAMILY;
    } else if (socktype !== 0 && socktype !== SOCK_STREAM && socktype !== SOCK_DGRAM) {
      err = EVUTIL_EAI_SOCKTYPE;
    } else if (protocol !== 0 && protocol !== IPPROTO_TCP && protocol !== IPPROTO_UDP) {
      err = EVUTIL_EAI_SERVICE;
    }
    if (socktype === 0 && protocol !== 0) {
      socktype = protocol === IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
    }
    if (protocol === 0 && socktype !== 0) {
      protocol = socktype === SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
    }
    let port = 0;
    if (err === 0 && service !== null && service !== "") {
      if (/^[0-9]{1,5}$/.test(service) && Number(service) <= 65535) port = Number(service);
      else if ((flags & EVUTIL_AI_NUMERICSERV) !== 0) err = EVUTIL_EAI_NONAME;
      else {
        const p = WELL_KNOWN_SERVICES.get(service.toLowerCase());
        // libevent's evutil_getaddrinfo_common_ answers any unparsable service with NONAME.
        if (p === undefined) err = EVUTIL_EAI_NONAME;
        else port = p;
      }
    }
    if (err === 0 && node === null && (service === null || service === "")) err = EVUTIL_EAI_NONAME;
    const h: NormHints = { family, socktype, protocol, flags };
    if (err !== 0) {
      base._activateEntry(new GaiImmediate(base, cb, arg, err, null));
      return null;
    }
    // Null node: wildcard or loopback.
    if (node === null) {
      const passive = (flags & EVUTIL_AI_PASSIVE) !== 0;
      const v4 = family !== AF_INET6 ? [passive ? "0.0.0.0" : "127.0.0.1"] : NO_ADDRS;
      const v6 = family !== AF_INET ? [passive ? "::" : "::1"] : NO_ADDRS;
      base._activateEntry(new GaiImmediate(base, cb, arg, 0, buildAddrinfo(v4, v6, port, h, null)));
      return null;
    }
    // Numeric host.
    const n4 = parseIpv4(node);
    const n6 = n4 === null ? parseIpv6(node) : null;
    if (n4 !== null || n6 !== null) {
      let res: Addrinfo[] | null = null;
      let e = 0;
      if (n4 !== null) {
        if (family === AF_INET6) e = EVUTIL_EAI_ADDRFAMILY;
        else res = buildAddrinfo([formatIpv4(n4)], NO_ADDRS, port, h, null);
      } else {
        if (family === AF_INET) e = EVUTIL_EAI_ADDRFAMILY;
        else res = buildAddrinfo(NO_ADDRS, [formatIpv6(n6!)], port, h, null);
      }
      base._activateEntry(new GaiImmediate(base, cb, arg, e, res));
      return null;
    }
    if ((flags & EVUTIL_AI_NUMERICHOST) !== 0) {
      base._activateEntry(new GaiImmediate(base, cb, arg, EVUTIL_EAI_NONAME, null));
      return null;
    }
    let lower = node.toLowerCase();
    if (lower.endsWith(".")) lower = lower.slice(0, -1);
    // Hosts file.
    const he = this.#hosts.get(lower);
    if (he !== undefined) {
      const v4 = family !== AF_INET6 ? he.v4 : NO_ADDRS;
      const v6 = family !== AF_INET ? he.v6 : NO_ADDRS;
      if (v4.length + v6.length > 0) {
        base._activateEntry(
          new GaiImmediate(base, cb, arg, 0, buildAddrinfo(v4, v6, port, h, null)),
        );
        return null;
      }
      if (he.v4.length + he.v6.length > 0) {
        base._activateEntry(new GaiImmediate(base, cb, arg, EVUTIL_EAI_ADDRFAMILY, null));
        return null;
      }
    }
    // Cache: a Map lookup and a queued entry, no promise and no query.
    if (this.#cacheOn) {
      const ce = this.#gaiCache.get(lower);
      if (ce !== undefined) {
        const res = this.#gaiFromCache(ce, h, port);
        if (res !== null) {
          if (fastKey !== null) {
            if (this.#gaiFast.size >= 4096) this.#gaiFast.clear();
            this.#gaiFast.set(fastKey, { lower, ce, h, port });
          }
          base._activateEntry(new GaiImmediate(base, cb, arg, 0, res));
          return null;
        }
      }
    }
    const g = new EvdnsGetaddrinfoRequest(this, node, port, h, cb, arg);
    this.#liveGai.add(g);
    const done = (r: EvdnsRequest) => this.#gaiSubDone(g, r);
    if (family !== AF_INET6) {
      g._pending++;
      g._v4 = this.#start(node, DNS_TYPE_A, 0, null, undefined, done, true);
    }
    if (family !== AF_INET) {
      g._pending++;
      g._v6 = this.#start(node, DNS_TYPE_AAAA, 0, null, undefined, done, true);
    }
    return g;
  }

  #gaiFromCache(ce: GaiCacheEntry, h: NormHints, port: number): Addrinfo[] | null {
    const now = this._base._monoNow();
    const want4 = h.family !== AF_INET6;
    const want6 = h.family !== AF_INET;
    if (want4 && (ce.v4 === null || ce.v4Exp <= now)) return null;
    if (want6 && (ce.v6 === null || ce.v6Exp <= now)) return null;
    const canon = (h.flags & EVUTIL_AI_CANONNAME) !== 0;
    const v4 = want4 ? ce.v4! : NO_ADDRS;
    const v6 = want6 ? ce.v6! : NO_ADDRS;
    if (v4.length + v6.length === 0) return null;
    const key = (((port * 4 + h.socktype) * 32 + h.protocol) * 16 + h.family) * 2 + (canon ? 1 : 0);
    let res = ce.built.get(key);
    if (res === undefined) {
      res = buildAddrinfo(v4, v6, port, h, canon ? ce.canon : null);
      if (ce.built.size >= GAI_BUILT_MAX) ce.built.clear();
      ce.built.set(key, res);
    }
    return res;
  }

  #gaiSubDone(g: EvdnsGetaddrinfoRequest, r: EvdnsRequest): void {
    g._pending--;
    if (g._finished) return;
    if (r._result !== DNS_ERR_NONE) g._lastErr = r._result;
    if (g._cancelled) {
      if (g._pending === 0) this.#gaiDeliver(g, EVUTIL_EAI_CANCEL, null);
      return;
    }
    if (g._pending > 0) {
      // First answer in: give the other family `getaddrinfo-allow-skew` to arrive. Not after a
      // timeout (libevent's evdns_getaddrinfo_gotresolve): the other query may have waited in
      // the queue behind the timed-out one and deserves its own full timeout.
      if (g._skew === null && r._result !== DNS_ERR_TIMEOUT) {
        g._skew = new InternalTimer(this._base, () => this.#gaiSkewExpired(g));
        g._skew.arm(this.#opts.allowSkewMs);
      }
      return;
    }
    this.#gaiComplete(g);
  }

  #gaiSkewExpired(g: EvdnsGetaddrinfoRequest): void {
    if (g._finished) return;
    const other = g._v4 !== null && g._v4._state < ST_DONE ? g._v4 : g._v6;
    if (other !== null && other._state < ST_DONE) {
      // Stop waiting: the other query's result is discarded when it comes back.
      this.#endTransmission(other);
      this.#drop(other);
      g._pending--;
    }
    this.#gaiComplete(g);
  }

  #gaiComplete(g: EvdnsGetaddrinfoRequest): void {
    this.#gaiStopSkew(g);
    const v4r = g._v4 !== null && g._v4._state === ST_FINISHED ? g._v4 : null;
    const v6r = g._v6 !== null && g._v6._state === ST_FINISHED ? g._v6 : null;
    const v4 = v4r !== null && v4r._result === DNS_ERR_NONE ? v4r._addrs : NO_ADDRS;
    const v6 = v6r !== null && v6r._result === DNS_ERR_NONE ? v6r._addrs : NO_ADDRS;
    if (v4.length + v6.length === 0) {
      const e = g._lastErr;
      const code = e === DNS_ERR_NONE
        ? EVUTIL_EAI_AGAIN
        : e === DNS_ERR_NOTEXIST
        ? EVUTIL_EAI_NONAME
        : e === DNS_ERR_NODATA
        ? EVUTIL_EAI_NODATA
        : EVUTIL_EAI_FAIL;
      this.#gaiDeliver(g, code, null);
      return;
    }
    const h = g._hints;
    // Only a received CNAME names the host canonically (libevent's add_cname_to_reply); the node
    // name is not substituted.
    const cname = v4r?._cname ?? v6r?._cname ?? null;
    if (this.#cacheOn && !this.#freed) this.#gaiStore(g, v4r, v6r, cname);
    const res = buildAddrinfo(
      v4,
      v6,
      g._port,
      h,
      (h.flags & EVUTIL_AI_CANONNAME) !== 0 ? cname : null,
    );
    this.#gaiDeliver(g, 0, res);
  }

  #gaiStore(
    g: EvdnsGetaddrinfoRequest,
    v4r: EvdnsRequest | null,
    v6r: EvdnsRequest | null,
    canon: string | null,
  ): void {
    let lower = g._node.toLowerCase();
    if (lower.endsWith(".")) lower = lower.slice(0, -1);
    const cache = this.#gaiCache;
    let ce = cache.get(lower);
    if (ce === undefined) {
      ce = { v4: null, v4Exp: 0, v6: null, v6Exp: 0, canon: null, built: new Map(), cost: 0 };
      cache.set(lower, ce);
    }
    const now = this._base._monoNow();
    const usable = (r: EvdnsRequest) =>
      r._ttl > 0 && (r._result === DNS_ERR_NONE || r._result === DNS_ERR_NODATA);
    if (v4r !== null && usable(v4r)) {
      ce.v4 = v4r._result === DNS_ERR_NONE ? v4r._addrs : NO_ADDRS;
      ce.v4Exp = now + v4r._ttl * 1000;
    }
    if (v6r !== null && usable(v6r)) {
      ce.v6 = v6r._result === DNS_ERR_NONE ? v6r._addrs : NO_ADDRS;
      ce.v6Exp = now + v6r._ttl * 1000;
    }
    ce.canon = canon;
    ce.built.clear();
    // Built results count twice over their lists: they are objects per address.
    const cost = 3 * entryCost(NO_RRS, ce.v4 ?? NO_ADDRS, null) +
      3 * entryCost(NO_RRS, ce.v6 ?? NO_ADDRS, canon);
    cache.recost(lower, ce, cost);
  }

  #gaiStopSkew(g: EvdnsGetaddrinfoRequest): void {
    if (g._skew !== null) g._skew.disarm();
  }

  #gaiDeliver(g: EvdnsGetaddrinfoRequest, err: number, res: Addrinfo[] | null): void {
    if (g._finished) return;
    g._finished = true;
    this.#gaiStopSkew(g);
    this.#liveGai.delete(g);
    try {
      g._cb(err, res, g._arg);
    } catch (e) {
      this._base._reportError(e);
    }
  }

  /** @ignore */
  _gaiCancel(g: EvdnsGetaddrinfoRequest): void {
    if (g._finished || g._cancelled) return;
    g._cancelled = true;
    this.#gaiStopSkew(g);
    let live = false;
    for (const r of [g._v4, g._v6]) {
      if (r !== null && r._state < ST_DONE) {
        this.cancelRequest(r);
        live = true;
      }
    }
    if (!live) {
      // Both sub-queries already delivered: answer now, from the loop.
      g._finished = true;
      this.#liveGai.delete(g);
      this._base._activateEntry(
        new GaiImmediate(this._base, g._cb, g._arg, EVUTIL_EAI_CANCEL, null),
      );
    }
  }
}

function noopDone(): void {}

/** Deno reports IPv6 peers in canonical text already; IPv4-mapped ones are unwrapped. */
function canonicalHost(h: string): string {
  if (h.startsWith("::ffff:") && h.indexOf(".") > 0) return h.slice(7);
  return h;
}

/** The answer records for `qname`/`qtype`, following the CNAME chain (owner names checked). */
function extractAnswer(
  msg: DnsMessage,
  qname: string,
  qtype: number,
): { rrs: DnsRR[]; addrs: string[]; ttl: number; cname: string | null } {
  const answers = msg.answers;
  const rrs: DnsRR[] = [];
  const addrs: string[] = [];
  let ttl = 0x7fffffff;
  let cname: string | null = null;
  if (qtype === DNS_TYPE_ANY) {
    for (const rr of answers) {
      rrs.push(rr);
      if (rr.ttl < ttl) ttl = rr.ttl;
    }
    return { rrs, addrs, ttl: rrs.length > 0 ? ttl : 0, cname };
  }
  let cur = qname.toLowerCase();
  for (let hop = 0; hop < 16; hop++) {
    let next: DnsRR | null = null;
    let found = false;
    for (const rr of answers) {
      if (rr.dnsClass !== 1 || rr.name.toLowerCase() !== cur) continue;
      if (rr.type === qtype) {
        if (typeof rr.data !== "string" && (qtype === DNS_TYPE_A || qtype === DNS_TYPE_AAAA)) {
          continue;
        }
        rrs.push(rr);
        addrs.push(typeof rr.data === "string" ? rr.data : "");
        found = true;
        if (rr.ttl < ttl) ttl = rr.ttl;
      } else if (rr.type === DNS_TYPE_CNAME && next === null) {
        next = rr;
      }
    }
    if (found) {
      // A CNAME beside the addresses at the query name is still reported (libevent remembers
      // it): DNS_CNAME_CALLBACK and getaddrinfo's canonname use it. It is not followed.
      if (hop === 0 && next !== null && typeof next.data === "string") cname = next.data;
      break;
    }
    if (next === null) break;
    rrs.push(next);
    if (next.ttl < ttl) ttl = next.ttl;
    cname = next.data as string;
    cur = cname.toLowerCase();
  }
  return { rrs, addrs, ttl: rrs.length > 0 ? ttl : 0, cname };
}

/** RFC 2308 §5: min(SOA TTL, SOA MINIMUM) from the authority section, 0 without a SOA. */
function negativeTtl(msg: DnsMessage): number {
  for (const rr of msg.authority) {
    if (rr.type === DNS_TYPE_SOA && rr.dnsClass === 1) {
      const soa = rr.data as DnsSoaData;
      return Math.min(rr.ttl, soa.minimum);
    }
  }
  return 0;
}

function toRecords(r: EvdnsRequest): DnsRecord[] {
  const age = r._stored < 0 ? 0 : Math.floor((r._dns._base._monoNow() - r._stored) / 1000);
  const out: DnsRecord[] = [];
  for (const rr of r._rrs) {
    out.push({ name: rr.name, type: rr.type, ttl: Math.max(0, rr.ttl - age), data: rr.data });
  }
  return out;
}

function buildAddrinfo(
  v4: string[],
  v6: string[],
  port: number,
  h: NormHints,
  canon: string | null,
): Addrinfo[] {
  const kinds: [number, number][] = h.socktype === 0
    ? [[SOCK_STREAM, IPPROTO_TCP], [SOCK_DGRAM, IPPROTO_UDP]]
    : [[h.socktype, h.protocol]];
  const out: Addrinfo[] = [];
  for (const [fam, list] of [[AF_INET, v4], [AF_INET6, v6]] as const) {
    for (const address of list) {
      for (const [socktype, protocol] of kinds) {
        const ai: Addrinfo = { family: fam, socktype, protocol, address, port };
        if (canon !== null && out.length === 0) ai.canonname = canon;
        out.push(Object.freeze(ai));
      }
    }
  }
  return Object.freeze(out) as Addrinfo[];
}
