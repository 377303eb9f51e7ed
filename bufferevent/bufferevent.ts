/**
 * `Bufferevent`: a connection with an input and an output `Evbuffer`, libevent's callbacks,
 * watermarks, timeouts and rate limits. The transport behind it is a socket, the other end of a
 * pair, or another bufferevent seen through filters.
 *
 * @module
 */

import { ActiveEntry } from "../reactor/_active.ts";
import { InternalTimer } from "../reactor/_internal_timer.ts";
import { EV_READ, EV_WRITE } from "../reactor/constants.ts";
import { EvError } from "../reactor/errors.ts";
import type { EventBase } from "../reactor/event_base.ts";
import {
  type BevBackend,
  MAX_SINGLE_READ_DEFAULT,
  MAX_SINGLE_WRITE_DEFAULT,
  SUSPEND_CONNECTING,
  SUSPEND_LOOKUP,
  SUSPEND_RATE,
  SUSPEND_WM,
} from "./_backend.ts";
import { FilterBackend } from "./_filter.ts";
import { PairBackend } from "./_pair.ts";
import { SocketBackend, type TlsSettings } from "./_socket.ts";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_READING,
  BEV_EVENT_TIMEOUT,
  BEV_EVENT_WRITING,
  BEV_OPT_CLOSE_ON_FREE,
  BEV_OPT_DEFER_CALLBACKS,
  BEV_OPT_UNLOCK_CALLBACKS,
  BEV_TRIG_DEFER_CALLBACKS,
  BEV_TRIG_IGNORE_WATERMARKS,
} from "./constants.ts";
import { Evbuffer, type EvbufferCbEntry } from "./evbuffer.ts";
import type { BuffereventRateLimitGroup, RateLimitConfig } from "./ratelimit.ts";
import { checkDecrement, EV_RATE_LIMIT_MAX, RateBucket } from "./ratelimit.ts";

/** Read or write callback: `(bev, arg)`. */
export type BuffereventDataCb = (bev: Bufferevent, arg?: unknown) => void;
/** Event callback: `(bev, BEV_EVENT_* flags, arg)`. */
export type BuffereventEventCb = (bev: Bufferevent, what: number, arg?: unknown) => void;

/**
 * A filter (libevent's `bufferevent_filter_cb`): move bytes from `src` to `dst`, at most `limit`
 * (-1: no limit), in `mode` (`BEV_NORMAL`, `BEV_FLUSH`, `BEV_FINISHED`). Returns `BEV_OK`,
 * `BEV_NEED_MORE` or `BEV_ERROR`.
 */
export type BuffereventFilter = (
  src: Evbuffer,
  dst: Evbuffer,
  limit: number,
  mode: number,
  ctx?: unknown,
) => number;

/** Hints for `getaddrinfo`, as `EvdnsBase.getaddrinfo` takes them. */
export interface ResolverHints {
  /** `AF_INET` (2), `AF_INET6` (10) or `AF_UNSPEC` (0). */
  family?: number;
  /** `SOCK_STREAM` (1) or `SOCK_DGRAM` (2). */
  socktype?: number;
  /** `IPPROTO_TCP` (6) or `IPPROTO_UDP` (17). */
  protocol?: number;
  /** `EVUTIL_AI_*` flags. */
  flags?: number;
}

/** One resolved address, as `EvdnsBase.getaddrinfo` returns them. */
export interface ResolvedAddr {
  /** Address family (`AF_INET` 2 or `AF_INET6` 10). */
  family: number;
  /** Address text. */
  address: string;
  /** Port. */
  port: number;
}

/**
 * Anything with `EvdnsBase`'s `getaddrinfo` shape; `connectHostname` resolves through it, so this
 * layer does not depend on `dns/`.
 */
export interface GetaddrinfoResolver {
  /** Resolves `node`/`service`; `cb(err, results)` with an `EVUTIL_EAI_*` code (0 = success). */
  getaddrinfo(
    node: string | null,
    service: string | null,
    hints: ResolverHints | null,
    cb: (err: number, res: ResolvedAddr[] | null, arg?: unknown) => void,
    arg?: unknown,
  ): unknown;
}

/** TLS options for `Bufferevent.tlsNew` (PEM text, as `Deno.connectTls` takes it). */
export interface TlsOptions {
  /** Name to verify the server certificate against (client side). */
  hostname?: string;
  /** Extra trusted CA certificates, PEM. */
  caCerts?: string[];
  /** ALPN protocols to offer (client side). */
  alpnProtocols?: string[];
  /** Server-side handshake deadline in ms (default 10 000). */
  handshakeTimeoutMs?: number;
  /** Leave Nagle's algorithm on. */
  noDelay?: boolean;
}

/** Options for `Bufferevent.socketNew` beyond libevent's flags. */
export interface SocketBuffereventOptions {
  /** Leave Nagle's algorithm on (evdeno turns it off by default). */
  noDelay?: boolean;
}

/** Runs deferred callbacks from the loop (BEV_OPT_DEFER_CALLBACKS). */
class DeferredCbs extends ActiveEntry {
  read = false;
  write = false;
  events = 0;
  constructor(readonly bev: Bufferevent) {
    super();
    this._later = true;
  }
  _run(): void {
    this.bev._runDeferred(this);
  }
}

// Which callback `#callGuarded` runs.
const CB_READ = 0;
const CB_WRITE = 1;
const CB_EVENT = 2;

const RATE_READ = 1;
const RATE_WRITE = 2;

/**
 * A buffered connection (libevent's `bufferevent`).
 *
 * New bufferevents have writing enabled and reading disabled. Callbacks run inside the loop with
 * libevent's arguments: read and write callbacks get `(bev, arg)`, the event callback
 * `(bev, what, arg)` with `BEV_EVENT_*` flags.
 *
 * @example
 * ```ts
 * import { Bufferevent, BEV_OPT_CLOSE_ON_FREE } from "@evdeno/evdeno/bufferevent";
 * import { EventBase, EV_READ, EV_WRITE } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * const bev = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE);
 * bev.setcb((b) => {
 *   console.log(b.getInput().toString());
 *   b.free();
 * }, null, (b, what) => {
 *   if (what & 0x80) b.write("GET / HTTP/1.0\r\n\r\n"); // BEV_EVENT_CONNECTED
 *   else b.free();
 * });
 * bev.enable(EV_READ | EV_WRITE);
 * bev.connect({ hostname: "127.0.0.1", port: 8080 });
 * await base.dispatch();
 * ```
 */
export class Bufferevent {
  /** @ignore */
  readonly _base: EventBase;
  /** @ignore */
  readonly _options: number;
  /** @ignore */
  readonly _input: Evbuffer = new Evbuffer();
  /** @ignore */
  readonly _output: Evbuffer = new Evbuffer();
  /** @ignore */
  _backend!: BevBackend;
  /** @ignore */
  _readcb: BuffereventDataCb | null = null;
  /** @ignore */
  _writecb: BuffereventDataCb | null = null;
  /** @ignore */
  _eventcb: BuffereventEventCb | null = null;
  /** @ignore */
  _cbarg: unknown = undefined;
  /** @ignore */
  _enabled: number = EV_WRITE;
  /** Reasons reading is suspended (SUSPEND_*). @ignore */
  _readSuspended = 0;
  /** Reasons writing is suspended. @ignore */
  _writeSuspended = 0;
  /** @ignore */
  _wmReadLow = 0;
  /** @ignore */
  _wmReadHigh = 0;
  /** @ignore */
  _wmWriteLow = 0;
  /** @ignore */
  _wmWriteHigh = 0;
  /** @ignore */
  _freed = false;
  /** @ignore */
  _error: Error | null = null;
  /** @ignore */
  _dnsError = 0;
  /** Depth of user callbacks running for this bufferevent. @ignore */
  _inCb = 0;
  #readTimeout = 0;
  #writeTimeout = 0;
  #readTimer: InternalTimer | null = null;
  #writeTimer: InternalTimer | null = null;
  #deferred: DeferredCbs | null = null;
  /**
   * Bytes arrived while EV_READ was off or reading was suspended for the rate limit: their read
   * callback is owed once reading is on and the tokens are back.
   */
  #unannounced = false;
  /** The same for a write that completed while EV_WRITE was off. */
  #unannouncedWrite = false;
  /** Callbacks `trigger` deferred on a bufferevent without BEV_OPT_DEFER_CALLBACKS. */
  #triggered: DeferredCbs | null = null;
  #wmEntry: EvbufferCbEntry | null = null;
  #rate: RateBucket | null = null;
  /** Bumped whenever the limits in force change; transports note it when they post I/O. @ignore */
  _rateGen = 0;
  /** Per-operation caps set by `setMaxSingleRead`/`setMaxSingleWrite` (0: the default). */
  #maxSingleRead = 0;
  #maxSingleWrite = 0;
  #group: BuffereventRateLimitGroup | null = null;
  #held = false;
  /** A filter's bytes wait in the output of the bufferevent under it (see `_setPendingBelow`). */
  #pendingBelow = false;
  /** The filter stacked on this bufferevent, told about our writes for its write timeout. @ignore */
  _above: Bufferevent | null = null;

  /** Use the static constructors (`socketNew`, `pairNew`, `filterNew`, `tlsNew`). @ignore */
  constructor(base: EventBase, options: number) {
    if ((options & BEV_OPT_UNLOCK_CALLBACKS) !== 0 && (options & BEV_OPT_DEFER_CALLBACKS) === 0) {
      throw new TypeError("BEV_OPT_UNLOCK_CALLBACKS requires BEV_OPT_DEFER_CALLBACKS");
    }
    this._base = base;
    this._options = options;
    if ((options & BEV_OPT_DEFER_CALLBACKS) !== 0) {
      this.#deferred = new DeferredCbs(this);
      this.#deferred._pri = base._defaultPriority();
    }
  }

  /**
   * A bufferevent over a TCP or Unix connection (`null`: connect later with `connect`). Nagle is
   * turned off unless `opts.noDelay === false`.
   */
  static socketNew(
    base: EventBase,
    conn: Deno.Conn | null,
    options = 0,
    opts?: SocketBuffereventOptions,
  ): Bufferevent {
    const bev = new Bufferevent(base, options);
    bev._backend = new SocketBackend(bev, conn, opts?.noDelay !== false);
    return bev;
  }

  /**
   * A TLS bufferevent (libevent's `bufferevent_openssl_*` role, on Deno's TLS).
   *
   * - `conn === null`: a client; `connect(addr)` connects and runs the handshake, verifying the
   *   certificate against `tls.hostname` or, without it, the host connected to.
   * - a plain `Deno.TcpConn`: STARTTLS, the connection is upgraded in place.
   * - a `Deno.TlsConn` (accepted from a TLS listener): the server side; its handshake must finish
   *   within `tls.handshakeTimeoutMs` (default 10 000 ms).
   *
   * `BEV_EVENT_CONNECTED` is reported once the handshake completes; a failed handshake or
   * certificate check reports `BEV_EVENT_ERROR` with the Deno error in `getError()`. Freeing with
   * `BEV_OPT_CLOSE_ON_FREE` closes the TLS connection (sending close_notify), and
   * `flush(EV_WRITE, BEV_FINISHED)` half-closes it after the output drained.
   */
  static tlsNew(
    base: EventBase,
    conn: Deno.Conn | null,
    tls: TlsOptions,
    options = 0,
  ): Bufferevent {
    const bev = new Bufferevent(base, options);
    const settings: TlsSettings = {};
    if (tls.hostname !== undefined) settings.hostname = tls.hostname;
    if (tls.caCerts !== undefined) settings.caCerts = tls.caCerts;
    if (tls.alpnProtocols !== undefined) settings.alpnProtocols = tls.alpnProtocols;
    if (tls.handshakeTimeoutMs !== undefined) settings.handshakeTimeoutMs = tls.handshakeTimeoutMs;
    bev._backend = new SocketBackend(bev, conn, tls.noDelay !== false, settings);
    return bev;
  }

  /** The TLS handshake details (ALPN protocol, …) of an established TLS bufferevent, or null. */
  tlsHandshakeInfo(): Promise<Deno.TlsHandshakeInfo> | null {
    const b = this._backend;
    return b instanceof SocketBackend ? b.tlsInfo() : null;
  }

  /**
   * Two bufferevents joined in memory, like a socketpair. Callbacks are always deferred. Freeing
   * one end gives the other `BEV_EVENT_EOF`.
   */
  static pairNew(base: EventBase, options = 0): [Bufferevent, Bufferevent] {
    const a = new Bufferevent(base, options | BEV_OPT_DEFER_CALLBACKS);
    const b = new Bufferevent(base, options | BEV_OPT_DEFER_CALLBACKS);
    const pa = new PairBackend(a);
    const pb = new PairBackend(b);
    pa.partner = pb;
    pb.partner = pa;
    a._backend = pa;
    b._backend = pb;
    return [a, b];
  }

  /**
   * A bufferevent that sees `under` through filters (`null` passes data through). It takes over
   * `under`'s callbacks; with `BEV_OPT_CLOSE_ON_FREE` freeing it frees `under`.
   */
  static filterNew(
    under: Bufferevent,
    inFilter: BuffereventFilter | null,
    outFilter: BuffereventFilter | null,
    options = 0,
    ctx?: unknown,
  ): Bufferevent {
    const bev = new Bufferevent(under._base, options);
    bev._backend = new FilterBackend(bev, under, inFilter, outFilter, ctx);
    return bev;
  }

  /** Sets the callbacks and their shared argument (`null` removes one). */
  setcb(
    readcb: BuffereventDataCb | null,
    writecb: BuffereventDataCb | null,
    eventcb: BuffereventEventCb | null,
    arg?: unknown,
  ): void {
    this._readcb = readcb;
    this._writecb = writecb;
    this._eventcb = eventcb;
    this._cbarg = arg;
  }

  /** The callbacks and argument set by `setcb`. */
  getcb(): {
    readcb: BuffereventDataCb | null;
    writecb: BuffereventDataCb | null;
    eventcb: BuffereventEventCb | null;
    arg: unknown;
  } {
    return {
      readcb: this._readcb,
      writecb: this._writecb,
      eventcb: this._eventcb,
      arg: this._cbarg,
    };
  }

  /** Enables `EV_READ` and/or `EV_WRITE`; (re)arms the timeouts of those directions. */
  enable(events: number): void {
    if (this._freed) return;
    const added = events & ~this._enabled & (EV_READ | EV_WRITE);
    this._enabled |= events & (EV_READ | EV_WRITE);
    // libevent re-adds the events with their timeouts: enabling restarts them.
    if ((events & EV_READ) !== 0) {
      this.#readTimer?.disarm();
      this.#armReadTimer();
      // In libevent those bytes would still be in the socket, readable: the read callback
      // runs from the loop once reading is on again (and the rate limit lets it read).
      if (this.#unannounced && (this._readSuspended & SUSPEND_RATE) === 0) this.#announce();
    }
    if ((events & EV_WRITE) !== 0) {
      this.#writeTimer?.disarm();
      this._armWriteTimer();
      if (this.#unannouncedWrite) {
        this.#unannouncedWrite = false;
        if (this._output.length <= this._wmWriteLow) this.#deferCb(false, true, 0);
      }
    }
    if (added !== 0) this._backend.kick();
    this._updateHold();
  }

  /** Disables `EV_READ` and/or `EV_WRITE` (no reads are started, no writes issued). */
  disable(events: number): void {
    if (this._freed) return;
    this._enabled &= ~events;
    if ((events & EV_READ) !== 0) this.#readTimer?.disarm();
    if ((events & EV_WRITE) !== 0) this.#writeTimer?.disarm();
    // The transport adjusts (a filter stops its underlying bufferevent's reading).
    this._backend.kick();
    this._updateHold();
  }

  /** Enabled directions (`EV_READ | EV_WRITE` bits). */
  getEnabled(): number {
    return this._enabled;
  }

  /** Removes up to `max` bytes (default: all) from the input. */
  read(max = Infinity): Uint8Array {
    const n = Math.min(max, this._input.length);
    return this._input.remove(n);
  }

  /** Moves all input into `dst`. */
  readBuffer(dst: Evbuffer): void {
    dst.addBuffer(this._input);
  }

  /** Appends bytes to the output; writing starts if `EV_WRITE` is enabled. */
  write(data: Uint8Array | string): void {
    if (this._freed) return;
    this._output.add(data);
  }

  /** Moves all of `src` to the output. */
  writeBuffer(src: Evbuffer): void {
    if (this._freed) return;
    this._output.addBuffer(src);
  }

  /** The input buffer (the user drains it; the transport appends). */
  getInput(): Evbuffer {
    return this._input;
  }

  /** The output buffer (the user appends; the transport drains). */
  getOutput(): Evbuffer {
    return this._output;
  }

  /**
   * Sets watermarks for `EV_READ` and/or `EV_WRITE`. Read: the read callback waits for `low`
   * bytes; reading stops at `high` (0: no limit) and resumes when the input drains below it.
   * Write: the write callback runs when the output drains to `low` or less.
   */
  setWatermark(events: number, low: number, high: number): void {
    if ((events & EV_WRITE) !== 0) {
      this._wmWriteLow = low;
      this._wmWriteHigh = high;
    }
    if ((events & EV_READ) !== 0) {
      // Lengths are whole, so `length >= x` and `length >= ceil(x)` agree; a whole high mark
      // keeps the room left for a read whole (a read under one byte would look like EOF).
      low = Math.ceil(low);
      high = Math.ceil(high);
      this._wmReadLow = low;
      this._wmReadHigh = high;
      if (high > 0) {
        if (this.#wmEntry === null) {
          this.#wmEntry = this._input.addCb((buf) => {
            if (this._wmReadHigh === 0 || buf.length < this._wmReadHigh) {
              this._unsuspendRead(SUSPEND_WM);
            }
          });
        }
        if (this._input.length >= high) this._suspendRead(SUSPEND_WM);
        else this._unsuspendRead(SUSPEND_WM);
      } else {
        if (this.#wmEntry !== null) {
          this._input.removeCb(this.#wmEntry);
          this.#wmEntry = null;
        }
        this._unsuspendRead(SUSPEND_WM);
      }
    }
  }

  /** The `[low, high]` watermarks of exactly `EV_READ` or exactly `EV_WRITE`. */
  getWatermark(events: number): [number, number] {
    if (events === EV_READ) return [this._wmReadLow, this._wmReadHigh];
    if (events === EV_WRITE) return [this._wmWriteLow, this._wmWriteHigh];
    throw new TypeError("getWatermark takes exactly EV_READ or EV_WRITE");
  }

  /**
   * Read and write timeouts in ms (0 or undefined: none). A timeout disables its direction and
   * reports `BEV_EVENT_TIMEOUT | BEV_EVENT_READING` (or `WRITING`); enable again to re-arm.
   */
  setTimeouts(readMs?: number, writeMs?: number): void {
    this.#readTimeout = readMs !== undefined && readMs > 0 ? readMs : 0;
    this.#writeTimeout = writeMs !== undefined && writeMs > 0 ? writeMs : 0;
    this.#readTimer?.disarm();
    this.#writeTimer?.disarm();
    this.#armReadTimer();
    this._armWriteTimer();
  }

  /**
   * Flushes: `BEV_FINISHED` on `EV_WRITE` half-closes the connection once the output has
   * drained (the other direction keeps working). Returns -1 unsupported, 0 nothing, 1 data.
   */
  flush(iotype: number, mode: number): number {
    if (this._freed) return -1;
    return this._backend.flush(iotype, mode);
  }

  /**
   * Connects a socket bufferevent created without a connection. Reports `BEV_EVENT_CONNECTED`
   * or `BEV_EVENT_ERROR` (with `getError()`) through the event callback.
   */
  connect(addr: Deno.ConnectOptions | Deno.UnixConnectOptions): void {
    const sb = this._backend;
    if (!(sb instanceof SocketBackend)) throw new TypeError("connect() needs a socket bufferevent");
    sb.connect(addr);
  }

  /**
   * Resolves `hostname` (through `dns`, or the system resolver when `null`) and connects to the
   * first address. `family` is `AF_INET` (2), `AF_INET6` (10) or `AF_UNSPEC` (0). A failed
   * lookup reports `BEV_EVENT_ERROR` and `getDnsError()` tells the `EVUTIL_EAI_*` code.
   */
  connectHostname(
    dns: GetaddrinfoResolver | null,
    family: number,
    hostname: string,
    port: number,
  ): void {
    const sb = this._backend;
    if (!(sb instanceof SocketBackend)) {
      throw new TypeError("connectHostname() needs a socket bufferevent");
    }
    if (family !== 0 && family !== 2 && family !== 10) throw new RangeError("bad address family");
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError("bad port");
    sb.connectHostname(dns, family, hostname, port);
  }

  /** The `EVUTIL_EAI_*` error of the last `connectHostname` lookup, 0 if none. */
  getDnsError(): number {
    return this._dnsError;
  }

  /**
   * Applies a token-bucket rate limit (`null` removes it). Replacing one keeps the bucket's
   * levels, clipped down to the new bursts (libevent: tokens spent this tick stay spent).
   */
  setRateLimit(cfg: RateLimitConfig | null): void {
    // A freed bufferevent's refill timer is gone for good (libevent deletes the event).
    if (this._freed) return;
    this._rateGen++;
    if (cfg === null) {
      // The old bucket's refill timer must not outlive it (libevent deletes the refill event).
      this.#rate?.stop();
      this.#rate = null;
    } else if (this.#rate !== null) {
      if (this.#rate.cfg !== cfg) this.#rate.setCfg(cfg);
    } else {
      this.#rate = new RateBucket(this._base, cfg, () => this._rateRefilled());
    }
    this._rateRefilled();
  }

  /** The rate limit set by `setRateLimit`, or null (libevent's `bufferevent_get_token_bucket_cfg`). */
  getTokenBucketCfg(): RateLimitConfig | null {
    return this.#rate?.cfg ?? null;
  }

  /**
   * The own read bucket's level: negative when overdrawn, `EV_RATE_LIMIT_MAX` without a read
   * limit (libevent's `bufferevent_get_read_limit`; a group's level is the group's business).
   */
  getReadLimit(): number {
    return this.#rate?.readLevel() ?? EV_RATE_LIMIT_MAX;
  }

  /** The own write bucket's level (see `getReadLimit`). */
  getWriteLimit(): number {
    return this.#rate?.writeLevel() ?? EV_RATE_LIMIT_MAX;
  }

  /**
   * The most the next read may take: the single-read cap, the own bucket and the group share
   * (libevent's `bufferevent_get_max_to_read`). 0 while a rate limit holds reading back.
   */
  getMaxToRead(): number {
    return capAt(this.#rateReadAllowance(), this.getMaxSingleRead());
  }

  /** The most the next write may take (see `getMaxToRead`). */
  getMaxToWrite(): number {
    return capAt(this.#rateWriteAllowance(), this.getMaxSingleWrite());
  }

  /**
   * Takes `n` tokens from the own read bucket by hand (a negative `n` adds them), suspending or
   * resuming reading to match (libevent's `bufferevent_decrement_read_limit`). Throws without
   * a rate limit.
   */
  decrementReadLimit(n: number): void {
    checkDecrement(n);
    if (this.#rate === null) throw new EvError("decrementReadLimit() needs a rate limit");
    if (this._freed) return;
    this.#rate.consumeRead(n);
    this._rateRefilled();
  }

  /** Takes `n` tokens from the own write bucket by hand (see `decrementReadLimit`). */
  decrementWriteLimit(n: number): void {
    checkDecrement(n);
    if (this.#rate === null) throw new EvError("decrementWriteLimit() needs a rate limit");
    if (this._freed) return;
    this.#rate.consumeWrite(n);
    this._rateRefilled();
  }

  /**
   * Caps each read of a socket bufferevent at `n` bytes (libevent's
   * `bufferevent_set_max_single_read`); 0 restores the default (one 64 KiB block: libevent's
   * default is 16 KiB, but larger reads measured faster here).
   */
  setMaxSingleRead(n: number): void {
    this.#maxSingleRead = checkMaxSingle(n);
  }

  /**
   * Caps each write of a socket bufferevent at `n` bytes; 0 restores the default (4 MiB). A cap
   * above the default is honoured.
   */
  setMaxSingleWrite(n: number): void {
    this.#maxSingleWrite = checkMaxSingle(n);
  }

  /** The per-read cap (libevent's `bufferevent_get_max_single_read`). */
  getMaxSingleRead(): number {
    return this.#maxSingleRead || MAX_SINGLE_READ_DEFAULT;
  }

  /** The per-write cap (libevent's `bufferevent_get_max_single_write`). */
  getMaxSingleWrite(): number {
    return this.#maxSingleWrite || MAX_SINGLE_WRITE_DEFAULT;
  }

  /** The base this bufferevent runs on. */
  getBase(): EventBase {
    return this._base;
  }

  /** The connection of a socket bufferevent (null before `connect` completes or for pairs). */
  getConn(): Deno.Conn | null {
    return this._backend.getConn();
  }

  /** The error behind the last `BEV_EVENT_ERROR`, or null. */
  getError(): Error | null {
    return this._error;
  }

  /** The other end of a pair, or null (freed, or not a pair). */
  pairGetPartner(): Bufferevent | null {
    const b = this._backend;
    return b instanceof PairBackend && b.partner !== null ? b.partner.bev : null;
  }

  /** The bufferevent under a filter, or null. */
  getUnderlying(): Bufferevent | null {
    const b = this._backend;
    return b instanceof FilterBackend ? b.under : null;
  }

  /**
   * Runs the read callback if the input reaches the read low watermark and the write callback
   * if the output is at or below the write low watermark (libevent's `bufferevent_trigger`).
   * `options`: `BEV_TRIG_IGNORE_WATERMARKS` runs them regardless, `BEV_TRIG_DEFER_CALLBACKS`
   * runs them from the loop.
   */
  trigger(iotype: number, options = 0): void {
    const ignoreWm = (options & BEV_TRIG_IGNORE_WATERMARKS) !== 0;
    const defer = (options & BEV_TRIG_DEFER_CALLBACKS) !== 0;
    if ((iotype & EV_READ) !== 0 && (ignoreWm || this._input.length >= this._wmReadLow)) {
      if (defer) this.#deferCb(true, false, 0);
      else this._runReadcb();
    }
    if ((iotype & EV_WRITE) !== 0 && (ignoreWm || this._output.length <= this._wmWriteLow)) {
      if (defer) this.#deferCb(false, true, 0);
      else this._runWritecb();
    }
  }

  /**
   * Runs the event callback with `what` as if the event had happened (libevent's
   * `bufferevent_trigger_event`); `BEV_TRIG_DEFER_CALLBACKS` runs it from the loop instead.
   *
   * @example
   * ```ts
   * import { Bufferevent, BEV_EVENT_EOF, BEV_EVENT_READING } from "@evdeno/evdeno/bufferevent";
   * import { EventBase } from "@evdeno/evdeno/reactor";
   * const [a] = Bufferevent.pairNew(new EventBase(), 0);
   * a.setcb(null, null, (_bev, what) => console.log("event", what));
   * a.triggerEvent(BEV_EVENT_READING | BEV_EVENT_EOF);
   * ```
   */
  triggerEvent(what: number, options = 0): void {
    if ((options & BEV_TRIG_DEFER_CALLBACKS) !== 0) this.#deferCb(false, false, what);
    else this._runEventcb(what);
  }

  /** Queues callbacks to run from the loop, as a deferred-callbacks bufferevent does. */
  #deferCb(read: boolean, write: boolean, events: number): void {
    if (this._freed) return;
    let d = this.#deferred ?? this.#triggered;
    if (d === null) {
      // Not a deferred-callbacks bufferevent: an entry of its own for triggered callbacks.
      d = this.#triggered = new DeferredCbs(this);
      d._pri = this._base._defaultPriority();
    }
    if (read) d.read = true;
    if (write) d.write = true;
    d.events |= events;
    this._base._activateEntry(d);
  }

  /**
   * Frees the bufferevent: callbacks are cleared at once, pending output is not flushed, and with
   * `BEV_OPT_CLOSE_ON_FREE` the connection (or underlying bufferevent) is closed.
   */
  free(): void {
    if (this._freed) return;
    this._freed = true;
    this._readcb = this._writecb = null;
    this._eventcb = null;
    this.#readTimer?.disarm();
    this.#writeTimer?.disarm();
    this.#rate?.stop();
    this.#group?.removeFromGroup(this);
    if (this.#deferred !== null) this._base._deactivate(this.#deferred);
    if (this.#triggered !== null) this._base._deactivate(this.#triggered);
    this._backend.free();
    this._updateHold();
  }

  /** Whether `BEV_OPT_CLOSE_ON_FREE` was given. @ignore */
  _closeOnFree(): boolean {
    return (this._options & BEV_OPT_CLOSE_ON_FREE) !== 0;
  }

  // ---- internal: what backends call ----

  /** Whether reads should be issued now. @ignore */
  _readActive(): boolean {
    return (this._enabled & EV_READ) !== 0 && this._readSuspended === 0 && !this._freed;
  }

  /** Whether writes should be issued now. @ignore */
  _writeActive(): boolean {
    return (this._enabled & EV_WRITE) !== 0 && this._writeSuspended === 0 && !this._freed;
  }

  /** How many bytes the next read may take (-1: unlimited). @ignore */
  _readLimit(): number {
    let lim = this.#rateReadAllowance();
    const single = this.#maxSingleRead;
    if (single > 0 && (lim < 0 || single < lim)) lim = single;
    if (this._wmReadHigh > 0) {
      const room = Math.max(0, this._wmReadHigh - this._input.length);
      if (lim < 0 || room < lim) lim = room;
    }
    return lim;
  }

  /** Whether the rate limits allow no read now. @ignore */
  _rateReadBlocked(): boolean {
    return this.#rateReadAllowance() === 0;
  }

  /** What the rate limits (own bucket and group) allow the next read (-1: unlimited). */
  #rateReadAllowance(): number {
    let lim = -1;
    const r = this.#rate?.readAllowance() ?? -1;
    if (r >= 0) lim = r;
    const g = this.#group?.readAllowance() ?? -1;
    if (g >= 0 && (lim < 0 || g < lim)) lim = g;
    return lim;
  }

  /** How many bytes the next write may take (never unlimited: the single-write cap). @ignore */
  _writeLimit(): number {
    return capAt(this.#rateWriteAllowance(), this.#maxSingleWrite || MAX_SINGLE_WRITE_DEFAULT);
  }

  /** What the rate limits allow the next read and write (-1: unlimited), for pairs. @ignore */
  _rateAllowance(write: boolean): number {
    return write ? this.#rateWriteAllowance() : this.#rateReadAllowance();
  }

  /** What the rate limits (own bucket and group) allow the next write (-1: unlimited). */
  #rateWriteAllowance(): number {
    let lim = -1;
    const r = this.#rate?.writeAllowance() ?? -1;
    if (r >= 0) lim = r;
    const g = this.#group?.writeAllowance() ?? -1;
    if (g >= 0 && (lim < 0 || g < lim)) lim = g;
    return lim;
  }

  /** Whether writes must complete through the loop (someone can observe them). @ignore */
  _observesWrites(): boolean {
    return this._writecb !== null || this.#writeTimeout > 0 || this.#rate !== null ||
      this.#group !== null || this.#deferred !== null || this._output._userCbCount() > 0;
  }

  /** The transport read `n` bytes into the input. @ignore */
  _readDone(n: number, gen: number = this._rateGen): void {
    // Freed during a hand-over: no accounting, which could re-arm a refill timer for nothing.
    if (this._freed) return;
    // Suspended before these bytes came (decrementReadLimit emptied the bucket with a read
    // already posted): libevent would not have read them yet.
    const rateHeld = (this._readSuspended & SUSPEND_RATE) !== 0;
    if (this.#rate !== null || this.#group !== null) {
      this.#consume(RATE_READ, n, gen === this._rateGen ? n : this.#unforeseen(RATE_READ, n));
    }
    this.#readTimer?.touch();
    if (this._wmReadHigh > 0 && this._input.length >= this._wmReadHigh) {
      this._suspendRead(SUSPEND_WM);
    }
    // Bytes from a read in flight when EV_READ was turned off, or when the rate limit suspended
    // reading, stay buffered, unannounced (no read callback while disabled or out of tokens, as
    // in libevent); enabling, or the tokens coming back, announces them.
    if ((this._enabled & EV_READ) === 0 || rateHeld) {
      this.#unannounced = true;
      return;
    }
    if (this._input.length >= this._wmReadLow && this._input.length > 0) this._runReadcb();
  }

  /** The transport wrote `n` bytes from the output (already drained). @ignore */
  _wroteDone(n: number, gen: number = this._rateGen): void {
    if (this._freed) return;
    if (this.#rate !== null || this.#group !== null) {
      this.#consume(RATE_WRITE, n, gen === this._rateGen ? n : this.#unforeseen(RATE_WRITE, n));
    }
    if (this._output.length === 0) this.#writeTimer?.disarm();
    else this.#writeTimer?.touch();
    const above = this._above;
    if (above !== null) above._lowerWrote(this._output.length === 0);
    if ((this._enabled & EV_WRITE) === 0) {
      // A write in flight when EV_WRITE went off (a write timeout): announced once it is on.
      this.#unannouncedWrite = true;
      return;
    }
    if (this._output.length <= this._wmWriteLow) this._runWritecb();
  }

  /** @ignore */
  _runReadcb(): void {
    if (this._readcb === null) return;
    const d = this.#deferred;
    if (d !== null) {
      d.read = true;
      this._base._activateEntry(d);
      return;
    }
    this.#invokeData(this._readcb);
  }

  /** @ignore */
  _runWritecb(): void {
    if (this._writecb === null) return;
    const d = this.#deferred;
    if (d !== null) {
      d.write = true;
      this._base._activateEntry(d);
      return;
    }
    this.#invokeData(this._writecb);
  }

  /** Reports `what` (BEV_EVENT_*); errors disable the direction as libevent does. @ignore */
  _runEventcb(what: number): void {
    if (this._eventcb === null || this._freed) return;
    const d = this.#deferred;
    if (d !== null) {
      d.events |= what;
      this._base._activateEntry(d);
      return;
    }
    this._inCb++;
    try {
      this._eventcb(this, what, this._cbarg);
    } catch (e) {
      this._base._reportError(e);
    } finally {
      this._inCb--;
    }
    if (!this._freed) this._backend.afterCallback();
  }

  /** @ignore */
  _runDeferred(d: DeferredCbs): void {
    const ev = d.events;
    const r = d.read;
    const w = d.write;
    d.events = 0;
    d.read = d.write = false;
    this._inCb++;
    // CONNECTED first, then read, write, and the other events (libevent's order). Each in its
    // own try: a throwing read callback must not swallow an EOF queued with it.
    if ((ev & BEV_EVENT_CONNECTED) !== 0) this.#callGuarded(CB_EVENT, BEV_EVENT_CONNECTED);
    if (r) this.#callGuarded(CB_READ, 0);
    if (w) this.#callGuarded(CB_WRITE, 0);
    const rest = ev & ~BEV_EVENT_CONNECTED;
    if (rest !== 0) this.#callGuarded(CB_EVENT, rest);
    this._inCb--;
    if (!this._freed) this._backend.afterCallback();
  }

  /** Runs one user callback (unless freed meanwhile), reporting what it throws. */
  #callGuarded(which: number, what: number): void {
    if (this._freed) return;
    try {
      if (which === CB_READ) this._readcb?.(this, this._cbarg);
      else if (which === CB_WRITE) this._writecb?.(this, this._cbarg);
      else this._eventcb?.(this, what, this._cbarg);
    } catch (e) {
      this._base._reportError(e);
    }
  }

  /** @ignore */
  _suspendRead(reason: number): void {
    this._readSuspended |= reason;
    // libevent deletes the read event, and its timeout with it, while reading is suspended.
    this.#readTimer?.disarm();
  }

  /** @ignore */
  _unsuspendRead(reason: number): void {
    if ((this._readSuspended & reason) === 0) return;
    this._readSuspended &= ~reason;
    // Tokens are back: bytes held back while there were none are due (enabling announces
    // them if reading is off now).
    if (
      (reason & SUSPEND_RATE) !== 0 && this.#unannounced && (this._enabled & EV_READ) !== 0
    ) this.#announce();
    if (this._readSuspended === 0) {
      this.#armReadTimer();
      this._backend.kick();
    }
  }

  /** Runs the read callback, from the loop, for bytes that arrived unannounced. */
  #announce(): void {
    this.#unannounced = false;
    if (this._input.length >= this._wmReadLow && this._input.length > 0) {
      this.#deferCb(true, false, 0);
    }
  }

  /** @ignore */
  _suspendWrite(reason: number): void {
    this._writeSuspended |= reason;
    // Waiting for tokens is not the peer's fault: no write timeout meanwhile (as libevent);
    // but during a connect the timer is the connect's deadline, which stays.
    if ((this._writeSuspended & SUSPEND_CONNECTING) === 0) this.#writeTimer?.disarm();
  }

  /** @ignore */
  _unsuspendWrite(reason: number): void {
    if ((this._writeSuspended & reason) === 0) return;
    this._writeSuspended &= ~reason;
    if (this._writeSuspended === 0) {
      this._armWriteTimer();
      this._backend.kick();
    }
  }

  /** Records an error and reports `what | BEV_EVENT_ERROR`, disabling that direction. @ignore */
  _fail(what: number, err: unknown): void {
    this._error = err instanceof Error ? err : new EvError(String(err));
    this._disableFor(what);
    this._runEventcb(what);
  }

  /** Disables the direction(s) named by BEV_EVENT_READING/WRITING. @ignore */
  _disableFor(what: number): void {
    let dis = 0;
    if ((what & BEV_EVENT_READING) !== 0) dis |= EV_READ;
    if ((what & BEV_EVENT_WRITING) !== 0) dis |= EV_WRITE;
    if (dis !== 0) this.disable(dis);
  }

  /** The connect phase began or ended. @ignore */
  _setConnecting(on: boolean, lookup = false): void {
    const r = lookup ? SUSPEND_LOOKUP : SUSPEND_CONNECTING;
    if (on) {
      this._readSuspended |= r;
      this._writeSuspended |= r;
      // The write timeout bounds the connect (and TLS handshake), as in libevent.
      if (!lookup) this._armWriteTimer();
    } else {
      this._readSuspended &= ~r;
      this._writeSuspended &= ~r;
      // The connect phase is over: its deadline gives way to the ordinary timeouts.
      if (!lookup) this.#writeTimer?.disarm();
      this.#armReadTimer();
      this._armWriteTimer();
    }
  }

  /** Keeps the loop alive while I/O is wanted. @ignore */
  _updateHold(): void {
    const want = !this._freed && this._backend.busy();
    if (want !== this.#held) {
      this.#held = want;
      this._base._nRefs += want ? 1 : -1;
    }
  }

  /**
   * A filter moved its output down and bytes wait below (`pending`), or they are gone: for the
   * write timeout, what waits below counts as output still pending. @ignore
   */
  _setPendingBelow(pending: boolean): void {
    this.#pendingBelow = pending;
    if (pending) this._armWriteTimer();
    else if (this._output.length === 0) this.#writeTimer?.disarm();
  }

  /** Whether this filter's bytes wait below it. @ignore */
  _isPendingBelow(): boolean {
    return this.#pendingBelow;
  }

  /** The bufferevent under this filter wrote: progress for our write timeout too. @ignore */
  _lowerWrote(drained: boolean): void {
    if (drained) this._setPendingBelow(false);
    else this.#writeTimer?.touch();
    // A filter stacked on this one waits on the same bytes.
    const above = this._above;
    if (above !== null) above._lowerWrote(drained && this._output.length === 0);
  }

  /** (Re)arms the write timeout if writing is enabled and output is pending. @ignore */
  _armWriteTimer(): void {
    if (this.#writeTimeout === 0 || (this._enabled & EV_WRITE) === 0) return;
    const connecting = (this._writeSuspended & SUSPEND_CONNECTING) !== 0;
    const idle = this._output.length === 0 && !this.#pendingBelow;
    if (!connecting && (idle || (this._writeSuspended & SUSPEND_RATE) !== 0)) return;
    if (this.#writeTimer === null) {
      this.#writeTimer = new InternalTimer(this._base, () => this.#timedOut(BEV_EVENT_WRITING));
    }
    if (!this.#writeTimer.armed) this.#writeTimer.arm(this.#writeTimeout);
  }

  /** @ignore */
  _rateGroup(): BuffereventRateLimitGroup | null {
    return this.#group;
  }

  /** @ignore */
  _setGroup(g: BuffereventRateLimitGroup | null): void {
    this._rateGen++;
    this.#group = g;
    this._rateRefilled();
  }

  /** Tokens came back: resume what the rate limit suspended. @ignore */
  _rateRefilled(): void {
    if (this._freed) return;
    // The buckets alone decide (the watermark has its own suspension reason).
    if (this.#rateReadAllowance() === 0) this._suspendRead(SUSPEND_RATE);
    else this._unsuspendRead(SUSPEND_RATE);
    if (this.#rateWriteAllowance() === 0) this._suspendWrite(SUSPEND_RATE);
    else this._unsuspendWrite(SUSPEND_RATE);
  }

  /**
   * What to charge for `n` bytes of a read or write issued before the limits changed (a read is
   * posted ahead, up to 64 KiB): at most what the new limits would have allowed, so applying a
   * limit to a busy connection does not leave it owing seconds of tokens (libevent reads and
   * writes only once ready, under the limits of that moment).
   */
  #unforeseen(dir: number, n: number): number {
    const allowed = dir === RATE_READ ? this.#rateReadAllowance() : this.#rateWriteAllowance();
    return allowed < 0 || allowed >= n ? n : allowed;
  }

  /** Charges `charge` tokens for `n` bytes moved (the group's totals count `n`). */
  #consume(dir: number, n: number, charge: number): void {
    if (dir === RATE_READ) {
      this.#rate?.consumeRead(charge);
      this.#group?.consumeRead(n, charge);
      if (this.#rateReadAllowance() === 0) this._suspendRead(SUSPEND_RATE);
    } else {
      this.#rate?.consumeWrite(charge);
      this.#group?.consumeWrite(n, charge);
      if (this.#rateWriteAllowance() === 0) this._suspendWrite(SUSPEND_RATE);
    }
  }

  #armReadTimer(): void {
    if (this.#readTimeout === 0 || !this._readActive()) return;
    if (this.#readTimer === null) {
      this.#readTimer = new InternalTimer(this._base, () => this.#timedOut(BEV_EVENT_READING));
    }
    if (!this.#readTimer.armed) this.#readTimer.arm(this.#readTimeout);
  }

  #timedOut(dir: number): void {
    if (this._freed) return;
    this._disableFor(dir);
    this._runEventcb(BEV_EVENT_TIMEOUT | dir);
  }

  #invokeData(cb: BuffereventDataCb): void {
    this._inCb++;
    try {
      cb(this, this._cbarg);
    } catch (e) {
      this._base._reportError(e);
    } finally {
      this._inCb--;
    }
    if (!this._freed) this._backend.afterCallback();
  }
}

/** A per-operation cap: a whole byte count, 0 for the default (libevent: 0 resets it). */
function checkMaxSingle(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("a cap must be a whole byte count");
  return n;
}

/** `allowance` (-1: unlimited) capped at `cap`. */
function capAt(allowance: number, cap: number): number {
  return allowance >= 0 && allowance < cap ? allowance : cap;
}
