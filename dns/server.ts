/**
 * The DNS server side (libevent's `evdns_add_server_port_*` and `evdns_server_request_*`):
 * `EvdnsServerPort` reads queries from a UDP socket or from TCP connections accepted by an
 * `EvConnListener`, and hands each to a callback as an `EvdnsServerRequest`, which collects
 * records and is answered with `respond(rcode)`.
 *
 * @module
 */

import { ActiveEntry } from "../reactor/_active.ts";
import { InternalTimer } from "../reactor/_internal_timer.ts";
import { EV_READ, EV_WRITE, EVENT_LOG_DEBUG, EVENT_LOG_WARN } from "../reactor/constants.ts";
import { EvError } from "../reactor/errors.ts";
import type { EventBase } from "../reactor/event_base.ts";
import { Bufferevent } from "../bufferevent/bufferevent.ts";
import { BEV_OPT_CLOSE_ON_FREE } from "../bufferevent/constants.ts";
import type { EvConnListener } from "../listener/listener.ts";
import { isIpv4, isIpv6 } from "./_addr.ts";
import { TcpClient, tcpEventCb, tcpReadCb, tcpWriteCb } from "./_server_tcp.ts";
import { ParsedQuery, parseServerQuery, QUERY_DROP, QUERY_OK } from "./_server_query.ts";
import {
  type DnsEdns,
  type DnsQuestion,
  type DnsRR,
  encodeResponseView,
  FLAG_RD,
  isValidName,
  nameToWire,
} from "./_wire.ts";
import {
  DNS_ERR_CANCEL,
  DNS_ERR_NODATA,
  DNS_ERR_SERVERFAILED,
  DNS_ERR_SHUTDOWN,
  DNS_ERR_TIMEOUT,
  DNS_ERR_TRUNCATED,
  DNS_ERR_UNKNOWN,
  EVDNS_FLAGS_AA,
  EVDNS_FLAGS_RD,
} from "./constants.ts";

/**
 * `setOption` on a TCP port: most clients connected at once (default 10, libevent's
 * `MAX_CLIENT_CONNECTIONS`); further connections are closed at once.
 *
 * @example
 * ```ts ignore
 * port.setOption(EVDNS_SOPT_TCP_MAX_CLIENTS, 100);
 * ```
 */
export const EVDNS_SOPT_TCP_MAX_CLIENTS = 0;
/**
 * `setOption` on a TCP port: idle timeout of a client connection in **ms** (libevent takes
 * seconds; default 10 000 ms). A client that sends nothing and reads nothing for that long is
 * disconnected.
 *
 * @example
 * ```ts ignore
 * port.setOption(EVDNS_SOPT_TCP_IDLE_TIMEOUT, 30_000);
 * ```
 */
export const EVDNS_SOPT_TCP_IDLE_TIMEOUT = 1;

/** Called for each query: `(req, arg)`. Answer now or later with `req.respond()` / `req.drop()`. */
export type EvdnsServerCb = (req: EvdnsServerRequest, arg?: unknown) => void;

/**
 * What `addReply` takes as record data: raw rdata bytes for any type; a string for A/AAAA
 * (address text), CNAME/PTR/NS (a name), TXT (one text, split into 255-byte pieces) or a type
 * this library does not know (a name, written uncompressed); `string[]` for TXT; and objects for
 * MX, SRV and SOA, shaped as the resolver returns them.
 */
export type EvdnsReplyData =
  | Uint8Array
  | string
  | readonly string[]
  | { preference: number; exchange: string }
  | { priority: number; weight: number; port: number; target: string }
  | {
    mname: string;
    rname: string;
    serial: number;
    refresh: number;
    retry: number;
    expire: number;
    minimum: number;
  };

// Defaults and limits.
const DEFAULT_TCP_MAX_CLIENTS = 10;
const DEFAULT_TCP_IDLE_MS = 10_000;
/** Receive buffer per datagram; larger queries are cut by the kernel and read as malformed. */
const UDP_RECV_SIZE = 4096;
/** Datagrams read but not yet handled; reading pauses beyond this until the loop catches up. */
const UDP_MAX_STAGED = 64;
/**
 * UDP replies are copied into slabs this big: a fresh small array per reply would live on V8's
 * heap and be moved off it by the send op, and a larger one costs a malloc and GC accounting.
 */
const SEND_SLAB_SIZE = 65536;
/** UDP payload the server advertises in its OPT record. */
const EDNS_ADVERTISED = UDP_RECV_SIZE;
/** Plain DNS over UDP (RFC 1035 §4.2.1). */
const UDP_PLAIN_LIMIT = 512;
/** The largest IPv4 UDP payload. */
const UDP_MAX_PAYLOAD = 65507;
/** Output queued to a TCP client past which its queries are not read until it catches up. */
const TCP_OUTPUT_HIGH = 256 * 1024;
const RETRY_MS = 10;

const TYPE_A = 1;
const TYPE_NS = 2;
const TYPE_CNAME = 5;
const TYPE_SOA = 6;
const TYPE_PTR = 12;
const TYPE_MX = 15;
const TYPE_TXT = 16;
const TYPE_AAAA = 28;
const TYPE_SRV = 33;
const CLASS_IN = 1;
const RCODE_SERVFAIL = 2;
/** Query flags echoed in the reply: opcode, RD and CD (libevent keeps RD and CD). */
const ECHOED_FLAGS = 0x7800 | FLAG_RD | 0x0010;
/** Flags `setFlags` may set: AA, and libevent's `EVDNS_FLAGS_RD` (0x080, the RA bit). */
const SETTABLE_FLAGS = EVDNS_FLAGS_AA | EVDNS_FLAGS_RD;

function isU16(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 0xffff;
}

function isU32(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || !isValidName(name)) {
    throw new RangeError(`invalid DNS name for ${what}: ${JSON.stringify(name)}`);
  }
  return name;
}

function checkTtl(ttl: number): number {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fffffff) {
    throw new RangeError(`TTL must be an integer in 0..2147483647: ${ttl}`);
  }
  return ttl;
}

/**
 * Checks record data against its type (so `respond` cannot fail on it later) and returns what
 * the wire writer takes. Misuse throws `TypeError` / `RangeError`.
 */
function checkData(type: number, data: unknown): unknown {
  if (data instanceof Uint8Array) {
    if (data.length > 0xffff) throw new RangeError("rdata longer than 65535 bytes");
    return data.slice();
  }
  switch (type) {
    case TYPE_A:
      if (typeof data === "string" && isIpv4(data)) return data;
      throw new TypeError(`A data must be IPv4 text: ${String(data)}`);
    case TYPE_AAAA:
      if (typeof data === "string" && isIpv6(data)) return data;
      throw new TypeError(`AAAA data must be IPv6 text: ${String(data)}`);
    case TYPE_CNAME:
    case TYPE_PTR:
    case TYPE_NS:
      return checkName(data, "record data");
    case TYPE_TXT: {
      if (typeof data === "string") return data;
      if (Array.isArray(data) && data.every((s) => typeof s === "string")) return data.slice();
      throw new TypeError("TXT data must be a string or an array of strings");
    }
    case TYPE_MX: {
      const mx = data as { preference?: unknown; exchange?: unknown } | null;
      if (typeof mx !== "object" || mx === null || !isU16(mx.preference)) {
        throw new TypeError("MX data must be { preference, exchange }");
      }
      return { preference: mx.preference, exchange: checkName(mx.exchange, "MX exchange") };
    }
    case TYPE_SRV: {
      const s = data as Record<string, unknown> | null;
      if (
        typeof s !== "object" || s === null || !isU16(s.priority) || !isU16(s.weight) ||
        !isU16(s.port)
      ) {
        throw new TypeError("SRV data must be { priority, weight, port, target }");
      }
      return {
        priority: s.priority,
        weight: s.weight,
        port: s.port,
        target: checkName(s.target, "SRV target"),
      };
    }
    case TYPE_SOA: {
      const s = data as Record<string, unknown> | null;
      if (
        typeof s !== "object" || s === null || !isU32(s.serial) || !isU32(s.refresh) ||
        !isU32(s.retry) || !isU32(s.expire) || !isU32(s.minimum)
      ) {
        throw new TypeError(
          "SOA data must be { mname, rname, serial, refresh, retry, expire, minimum }",
        );
      }
      return {
        mname: checkName(s.mname, "SOA mname"),
        rname: checkName(s.rname, "SOA rname"),
        serial: s.serial,
        refresh: s.refresh,
        retry: s.retry,
        expire: s.expire,
        minimum: s.minimum,
      };
    }
  }
  if (typeof data === "string") {
    // libevent's `is_name` for other types: the data is a name. RFC 3597 forbids compressing
    // names inside types a server may not know, so it goes out uncompressed.
    const wire = nameToWire(data);
    if (wire === null) throw new RangeError(`invalid DNS name: ${JSON.stringify(data)}`);
    return wire;
  }
  throw new TypeError(`data for record type ${type} must be a Uint8Array or a name`);
}

/** The reply code for a `respond()` argument. */
function rcodeFor(err: number): number {
  if (Number.isInteger(err) && err >= 0 && err <= 15) return err;
  switch (err) {
    case DNS_ERR_NODATA:
      return 0;
    case DNS_ERR_TRUNCATED:
    case DNS_ERR_UNKNOWN:
    case DNS_ERR_TIMEOUT:
    case DNS_ERR_SHUTDOWN:
    case DNS_ERR_CANCEL:
      return RCODE_SERVFAIL;
  }
  throw new RangeError(`respond() takes a response code 0..15 or a DNS_ERR_* code: ${err}`);
}

/** OPT for a reply to a query that had one (DO copied, RFC 3225). */
function replyEdns(q: DnsEdns | null): DnsEdns | undefined {
  return q === null ? undefined : { udpSize: EDNS_ADVERTISED, version: 0, do: q.do };
}

/** Reply size limit over UDP: 512, or the client's EDNS size (RFC 6891 §6.2.5). */
function udpLimit(edns: DnsEdns | null): number {
  if (edns === null) return UDP_PLAIN_LIMIT;
  return Math.min(Math.max(edns.udpSize, UDP_PLAIN_LIMIT), UDP_MAX_PAYLOAD);
}

/**
 * Builds a reply carrying no records (FORMERR, NOTIMPL, SERVFAIL after an encoding failure), as
 * a view that the next encoding overwrites: the caller copies it out at once.
 */
function errorReply(
  id: number,
  flags: number,
  rcode: number,
  questions: DnsQuestion[],
  edns: DnsEdns | null,
): Uint8Array {
  return encodeResponseView({
    id,
    flags: flags & ECHOED_FLAGS,
    rcode,
    questions,
    edns: replyEdns(edns),
  });
}

class UdpEntry extends ActiveEntry {
  constructor(readonly port: EvdnsServerPort) {
    super();
  }
  _run(): void {
    this.port._deliverUdp();
  }
}

function acceptCb(_lev: EvConnListener, conn: Deno.Conn, remote: Deno.Addr, arg?: unknown): void {
  (arg as EvdnsServerPort)._tcpAccept(conn, remote);
}

/**
 * A DNS server port: libevent's `evdns_server_port`. `add` serves a UDP socket,
 * `addWithListener` serves TCP connections (2-byte length framing, RFC 1035 §4.2.2) accepted by
 * an `EvConnListener`. Each well-formed query reaches the callback inside the loop as an
 * `EvdnsServerRequest`; malformed ones are answered with FORMERR (never echoing a question that
 * did not parse), queries with an opcode other than QUERY with NOTIMPL, and packets without a
 * header or with the QR bit set are dropped. The port owns its socket or listener and closes it
 * in `close()`.
 *
 * @example
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import {
 *   DNS_ERR_NONE,
 *   DNS_ERR_NOTEXIST,
 *   DNS_TYPE_A,
 *   EvdnsServerPort,
 * } from "@evdeno/evdeno/dns";
 *
 * const base = new EventBase();
 * const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
 * const port = EvdnsServerPort.add(base, udp, 0, (req) => {
 *   const q = req.questions[0];
 *   if (q.name.toLowerCase() !== "www.example.test") return req.respond(DNS_ERR_NOTEXIST);
 *   if (q.type === DNS_TYPE_A) req.addAReply(q.name, ["192.0.2.1"], 300);
 *   req.respond(DNS_ERR_NONE);
 * });
 * // await base.dispatch();  // serves until port.close()
 * port.close();
 * base.free();
 * ```
 */
export class EvdnsServerPort {
  #base: EventBase;
  #cb: EvdnsServerCb;
  #arg: unknown;
  #closed = false;
  #held = false;
  #parsed = new ParsedQuery();
  // UDP
  #udp: Deno.DatagramConn | null = null;
  #udpOpen = false;
  #entry: UdpEntry | null = null;
  #receiving = false;
  #sending = 0;
  #recvBuf: Uint8Array | null = null;
  #pool: Uint8Array[] = [];
  // Fixed arrays and a count: emptying an array by `length = 0` frees its storage, so pushes
  // would reallocate it on every pass.
  #staged = 0;
  #stagedData: (Uint8Array | null)[] = new Array(UDP_MAX_STAGED).fill(null);
  #stagedBuf: (Uint8Array | null)[] = new Array(UDP_MAX_STAGED).fill(null);
  #stagedAddr: (Deno.NetAddr | null)[] = new Array(UDP_MAX_STAGED).fill(null);
  #slab: Uint8Array | null = null;
  #slabOff = 0;
  #retry: InternalTimer | null = null;
  #onRecv: ((r: [Uint8Array, Deno.Addr]) => void) | null = null;
  #onRecvErr: ((e: unknown) => void) | null = null;
  #onSent: () => void;
  #onSendErr: (e: unknown) => void;
  // TCP
  #listener: EvConnListener | null = null;
  #clients = new Set<TcpClient>();
  #maxClients = DEFAULT_TCP_MAX_CLIENTS;
  #idleMs = DEFAULT_TCP_IDLE_MS;

  /**
   * Serves DNS over a bound UDP socket (libevent's `evdns_add_server_port_with_base`). `flags`
   * must be 0. The port takes the socket over: `close()` closes it.
   */
  static add(
    base: EventBase,
    socket: Deno.DatagramConn,
    flags: number,
    cb: EvdnsServerCb,
    arg?: unknown,
  ): EvdnsServerPort {
    if (flags !== 0) throw new RangeError("EvdnsServerPort.add: flags must be 0");
    if (typeof cb !== "function") throw new TypeError("EvdnsServerPort.add: cb must be a function");
    const port = new EvdnsServerPort(base, cb, arg);
    port.#startUdp(socket);
    return port;
  }

  /**
   * Serves DNS over TCP connections accepted by `listener` (libevent's
   * `evdns_add_server_port_with_listener`). `flags` must be 0. The port replaces the listener's
   * callback and frees the listener in `close()`. At most 10 clients at once with a 10 s idle
   * timeout by default (`setOption`).
   */
  static addWithListener(
    base: EventBase,
    listener: EvConnListener,
    flags: number,
    cb: EvdnsServerCb,
    arg?: unknown,
  ): EvdnsServerPort {
    if (flags !== 0) throw new RangeError("EvdnsServerPort.addWithListener: flags must be 0");
    if (typeof cb !== "function") {
      throw new TypeError("EvdnsServerPort.addWithListener: cb must be a function");
    }
    const port = new EvdnsServerPort(base, cb, arg);
    port.#listener = listener;
    listener.setCb(acceptCb, port);
    port.#updateHold();
    return port;
  }

  private constructor(base: EventBase, cb: EvdnsServerCb, arg: unknown) {
    this.#base = base;
    this.#cb = cb;
    this.#arg = arg;
    this.#onSent = () => {
      this.#sending--;
      this.#opDone();
    };
    this.#onSendErr = (e) => {
      this.#sending--;
      if (!this.#closed) {
        this.#base._log(EVENT_LOG_DEBUG, `evdns server: send failed: ${(e as Error)?.message}`);
      }
      this.#opDone();
    };
  }

  /**
   * Sets a TCP option (libevent's `evdns_server_port_set_option`): `EVDNS_SOPT_TCP_MAX_CLIENTS`
   * (count) or `EVDNS_SOPT_TCP_IDLE_TIMEOUT` (ms). Throws `TypeError` on a UDP port and
   * `RangeError` for an unknown option or a bad value.
   */
  setOption(option: number, value: number): void {
    if (this.#listener === null) throw new TypeError("server options apply to TCP ports only");
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`option value must be a non-negative integer: ${value}`);
    }
    if (option === EVDNS_SOPT_TCP_MAX_CLIENTS) {
      this.#maxClients = value;
    } else if (option === EVDNS_SOPT_TCP_IDLE_TIMEOUT) {
      this.#idleMs = value;
      for (const c of this.#clients) c.bev.setTimeouts(value, value);
    } else {
      throw new RangeError(`unknown server option ${option}`);
    }
  }

  /** TCP clients connected now (0 for a UDP port). */
  get clientCount(): number {
    return this.#clients.size;
  }

  /**
   * Closes the port (libevent's `evdns_close_server_port`): its socket or listener is closed,
   * TCP clients are disconnected, and requests still unanswered become no-ops. Replies already
   * handed to the socket are sent first.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#entry !== null) this.#base._deactivate(this.#entry);
    this.#retry?.disarm();
    this.#unstage();
    if (this.#listener !== null) {
      this.#listener.free();
      for (const c of [...this.#clients]) this._tcpClose(c);
    }
    this.#maybeCloseUdp();
    this.#updateHold();
  }

  // ---- UDP ----

  #startUdp(socket: Deno.DatagramConn): void {
    this.#udp = socket;
    this.#udpOpen = true;
    // Only a running loop keeps the process alive (`unref` exists at runtime, not in the types).
    // Deno charges an op per operation on an unref'ed resource: let the base ref it while the
    // loop runs and unref it when the loop returns.
    const u = socket as unknown as { ref?: () => void; unref?: () => void };
    if (typeof u.unref === "function" && typeof u.ref === "function") {
      this.#base._trackResource(u as { ref(): void; unref(): void });
    }
    const entry = new UdpEntry(this);
    entry._pri = this.#base._defaultPriority();
    this.#entry = entry;
    this.#onRecv = (r) => {
      this.#receiving = false;
      const buf = this.#recvBuf!;
      this.#recvBuf = null;
      if (this.#closed) {
        this.#opDone();
        return;
      }
      const k = this.#staged++;
      this.#stagedData[k] = r[0];
      this.#stagedBuf[k] = buf;
      this.#stagedAddr[k] = r[1] as Deno.NetAddr;
      this.#base._activateEntry(entry);
      // Keep one read in flight while the loop handles this one.
      this.#kickRecv();
    };
    this.#onRecvErr = (e) => {
      this.#receiving = false;
      if (this.#recvBuf !== null) this.#pool.push(this.#recvBuf);
      this.#recvBuf = null;
      if (this.#closed) {
        this.#opDone();
        return;
      }
      if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) {
        // The socket was closed under the port: nothing more will come.
        this.#udpOpen = false;
        this.#base._log(EVENT_LOG_WARN, "evdns server: UDP socket closed");
        this.#updateHold();
        return;
      }
      // A transient error (ICMP feedback and the like): read again shortly, never spin.
      this.#base._log(EVENT_LOG_DEBUG, `evdns server: receive failed: ${(e as Error)?.message}`);
      this.#retry ??= new InternalTimer(this.#base, () => this.#kickRecv());
      this.#retry.arm(RETRY_MS);
      this.#updateHold();
    };
    this.#updateHold();
    this.#kickRecv();
  }

  #kickRecv(): void {
    if (
      this.#receiving || this.#closed || !this.#udpOpen ||
      this.#staged >= UDP_MAX_STAGED || this.#retry?.armed === true
    ) {
      return;
    }
    const buf = this.#pool.pop() ?? new Uint8Array(UDP_RECV_SIZE);
    this.#recvBuf = buf;
    this.#receiving = true;
    this.#updateHold();
    this.#udp!.receive(buf).then(this.#onRecv!, this.#onRecvErr!);
  }

  /** Handles the datagrams read since the last pass. @ignore */
  _deliverUdp(): void {
    const data = this.#stagedData;
    const bufs = this.#stagedBuf;
    const addrs = this.#stagedAddr;
    const parsed = this.#parsed;
    const n = this.#staged;
    for (let i = 0; i < n && !this.#closed; i++) {
      const status = parseServerQuery(data[i]!, parsed);
      // The request keeps no reference to the bytes: the buffer can take the next datagram.
      this.#pool.push(bufs[i]!);
      if (status === QUERY_DROP) continue;
      const addr = addrs[i]!;
      if (status !== QUERY_OK) {
        this._sendUdp(
          errorReply(parsed.id, parsed.flags, status, parsed.questions, parsed.edns),
          addr,
        );
        continue;
      }
      const req = new EvdnsServerRequest(this, parsed, addr, null);
      try {
        this.#cb(req, this.#arg);
      } catch (e) {
        this.#base._reportError(e);
        req.respond(DNS_ERR_SERVERFAILED); // a no-op if it was answered before the throw
      }
    }
    // Nothing can be staged while this runs (promise handlers wait for the loop to yield).
    this.#unstage();
    this.#kickRecv();
  }

  /** Forgets the staged datagrams (their bytes and senders are not kept alive). */
  #unstage(): void {
    for (let i = 0; i < this.#staged; i++) {
      this.#stagedData[i] = null;
      this.#stagedBuf[i] = null;
      this.#stagedAddr[i] = null;
    }
    this.#staged = 0;
  }

  /** Sends a UDP reply. @ignore */
  _sendUdp(bytes: Uint8Array, addr: Deno.NetAddr): void {
    if (this.#closed || !this.#udpOpen) return;
    this.#sending++;
    this.#updateHold();
    this.#udp!.send(this.#copyOut(bytes), addr).then(this.#onSent, this.#onSendErr);
  }

  /**
   * Copies a reply (often a view of the shared writer) into the current slab. A full slab is
   * left to the sends still reading from it and collected after them.
   */
  #copyOut(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (n > SEND_SLAB_SIZE >> 4) return bytes.slice();
    let slab = this.#slab;
    if (slab === null || slab.length - this.#slabOff < n) {
      slab = this.#slab = new Uint8Array(SEND_SLAB_SIZE);
      this.#slabOff = 0;
    }
    const off = this.#slabOff;
    const out = slab.subarray(off, off + n);
    out.set(bytes);
    this.#slabOff = off + n;
    return out;
  }

  /** A receive or send finished. */
  #opDone(): void {
    this.#maybeCloseUdp();
    this.#updateHold();
  }

  #maybeCloseUdp(): void {
    // A closing port waits for its sends, then closes the socket, which ends the pending read.
    if (!this.#closed || this.#udp === null || this.#sending > 0 || !this.#udpOpen) return;
    this.#udpOpen = false;
    this.#base._untrackResource(this.#udp as unknown as { ref(): void; unref(): void });
    try {
      this.#udp.close();
    } catch { /* closed by the user already */ }
  }

  /**
   * An open port, a pending read or an unsent reply keeps `loop()` running; once closed, the
   * loop returns only after the socket's operations have settled.
   */
  #updateHold(): void {
    const want = (!this.#closed && (this.#udpOpen || this.#listener !== null)) ||
      this.#receiving || this.#sending > 0;
    if (want === this.#held) return;
    this.#held = want;
    this.#base._nRefs += want ? 1 : -1;
    if (!want) this.#base._wake();
  }

  // ---- TCP ----

  /** A connection was accepted. @ignore */
  _tcpAccept(conn: Deno.Conn, remote: Deno.Addr): void {
    if (this.#closed || this.#clients.size >= this.#maxClients) {
      if (!this.#closed) {
        this.#base._log(EVENT_LOG_DEBUG, "evdns server: too many TCP clients, closing one");
      }
      try {
        conn.close();
      } catch { /* already gone */ }
      return;
    }
    const bev = Bufferevent.socketNew(this.#base, conn, BEV_OPT_CLOSE_ON_FREE);
    const c = new TcpClient(this, bev, remote as Deno.NetAddr);
    this.#clients.add(c);
    bev.setcb(tcpReadCb, tcpWriteCb, tcpEventCb, c);
    bev.setTimeouts(this.#idleMs, this.#idleMs);
    bev.enable(EV_READ | EV_WRITE);
  }

  /** Reads every complete frame a client sent. @ignore */
  _tcpRead(client: unknown): void {
    const c = client as TcpClient;
    const input = c.bev.getInput();
    const parsed = this.#parsed;
    let framed = false;
    while (!c.gone && !this.#closed) {
      const have = input.length;
      const head = have < 2 ? null : input.pullup(2)!;
      const len = head === null ? -1 : (head[0] << 8) | head[1];
      if (len < 0 || have < 2 + len) {
        this.#partialFrame(c, have, framed);
        return;
      }
      framed = true;
      const frame = input.pullup(2 + len)!.subarray(2, 2 + len);
      const status = parseServerQuery(frame, parsed);
      input.drain(2 + len);
      if (status === QUERY_DROP) continue;
      if (status !== QUERY_OK) {
        this.#tcpWrite(
          c,
          errorReply(parsed.id, parsed.flags, status, parsed.questions, parsed.edns),
        );
        continue;
      }
      c.pending++;
      const req = new EvdnsServerRequest(this, parsed, c.addr, c);
      try {
        this.#cb(req, this.#arg);
      } catch (e) {
        this.#base._reportError(e);
        // Unanswered, it would hold the client's slot for ever (a half-closed client waits for
        // its pending answers with reading off and no timer left to end it).
        req.respond(DNS_ERR_SERVERFAILED); // a no-op if it was answered before the throw
      }
    }
  }

  /**
   * Bytes of an incomplete frame are waiting. The idle timeout restarts with every byte, so a
   * client dripping a byte at a time could hold a slot for ever (ten such held every slot): a
   * frame must also arrive whole within the idle timeout of its first byte.
   */
  #partialFrame(c: TcpClient, have: number, framed: boolean): void {
    if (have === 0) {
      c.frameStart = -1;
      return;
    }
    const now = this.#base._monoNow();
    if (framed || c.frameStart < 0) c.frameStart = now;
    else if (this.#idleMs > 0 && now - c.frameStart > this.#idleMs) this._tcpClose(c);
  }

  /** Queues a framed reply on a TCP client. */
  #tcpWrite(c: TcpClient, msg: Uint8Array): void {
    const framed = new Uint8Array(msg.length + 2);
    framed[0] = msg.length >> 8;
    framed[1] = msg.length;
    framed.set(msg, 2);
    c.bev.write(framed);
    // A client that sends queries but never reads answers must not grow the output forever.
    if (c.bev.getOutput().length > TCP_OUTPUT_HIGH) c.bev.disable(EV_READ);
  }

  /** A request of a TCP client was answered (`msg`) or dropped (`null`). @ignore */
  _tcpReply(client: unknown, msg: Uint8Array | null): void {
    const c = client as TcpClient;
    c.pending--;
    if (c.gone || this.#closed) return;
    if (msg !== null) this.#tcpWrite(c, msg);
    if (c.eof && c.pending === 0 && c.bev.getOutput().length === 0) this._tcpClose(c);
  }

  /** A client's output drained. @ignore */
  _tcpDrained(client: unknown): void {
    const c = client as TcpClient;
    if (c.gone) return;
    if (c.eof) {
      if (c.pending === 0) this._tcpClose(c);
      return;
    }
    if ((c.bev.getEnabled() & EV_READ) === 0) c.bev.enable(EV_READ);
  }

  /** Disconnects a client. @ignore */
  _tcpClose(client: unknown): void {
    const c = client as TcpClient;
    if (c.gone) return;
    c.gone = true;
    this.#clients.delete(c);
    c.bev.free();
  }

  /** Whether replies can still be sent. @ignore */
  _isClosed(): boolean {
    return this.#closed;
  }
}

/**
 * One query received by an `EvdnsServerPort` (libevent's `evdns_server_request`). Add records
 * with the `add*Reply` methods, then answer with `respond(rcode)` or discard with `drop()`;
 * either may come later, from any callback. Names in `questions` are presentation strings
 * (`\.` and `\DDD` escapes) that round-trip byte for byte through the `add*Reply` methods, so a
 * reply repeats the asker's name, case included. Replies compress names; over UDP a reply
 * larger than 512 bytes (or the client's EDNS size) is cut to whole records with TC set, and a
 * query with an OPT record gets one back.
 *
 * @example
 * ```ts
 * import {
 *   DNS_ERR_NONE,
 *   DNS_TYPE_MX,
 *   DNS_CLASS_INET,
 *   EVDNS_ANSWER_SECTION,
 *   type EvdnsServerRequest,
 * } from "@evdeno/evdeno/dns";
 *
 * function answer(req: EvdnsServerRequest): void {
 *   const q = req.questions[0];
 *   if (q.type === DNS_TYPE_MX) {
 *     req.addReply(EVDNS_ANSWER_SECTION, q.name, DNS_TYPE_MX, DNS_CLASS_INET, 300, {
 *       preference: 10,
 *       exchange: "mail.example.test",
 *     });
 *   }
 *   req.respond(DNS_ERR_NONE);
 * }
 * ```
 */
export class EvdnsServerRequest {
  /** The query's questions (exactly one: a query with another count is answered FORMERR). */
  readonly questions: { name: string; type: number; dnsClass: number }[];
  #port: EvdnsServerPort;
  #client: TcpClient | null;
  #addr: Deno.NetAddr;
  #id: number;
  #queryFlags: number;
  #replyFlags: number;
  #edns: DnsEdns | null;
  #sections: [DnsRR[] | null, DnsRR[] | null, DnsRR[] | null] = [null, null, null];
  #done = false;

  /** Made by the server port. @ignore */
  constructor(
    port: EvdnsServerPort,
    parsed: ParsedQuery,
    addr: Deno.NetAddr,
    client: TcpClient | null,
  ) {
    this.questions = parsed.questions;
    this.#port = port;
    this.#client = client;
    this.#addr = addr;
    this.#id = parsed.id;
    this.#queryFlags = parsed.flags;
    this.#replyFlags = parsed.flags & ECHOED_FLAGS;
    this.#edns = parsed.edns;
  }

  /** The query's header flags word (RD is `0x0100`, CD `0x0010`). */
  get flags(): number {
    return this.#queryFlags;
  }

  /** `"tcp"` or `"udp"`: the transport the query came over. */
  get protocol(): "udp" | "tcp" {
    return this.#client === null ? "udp" : "tcp";
  }

  /** The UDP payload size the client advertised with EDNS, or 0 when it sent no OPT record. */
  get ednsUdpSize(): number {
    return this.#edns === null ? 0 : this.#edns.udpSize;
  }

  /**
   * Sets reply flags (libevent's `evdns_server_request_set_flags`): `EVDNS_FLAGS_AA` (0x400)
   * and `EVDNS_FLAGS_RD` (libevent's value 0x080, which is the RA bit on the wire); other bits
   * are ignored. Replaces what an earlier call set.
   */
  setFlags(flags: number): void {
    this.#replyFlags = (this.#replyFlags & ~SETTABLE_FLAGS) | (flags & SETTABLE_FLAGS);
  }

  /** One A record per address in the answer section. */
  addAReply(name: string, addrs: string[], ttl: number): void {
    this.#addMany(name, TYPE_A, addrs, ttl);
  }

  /** One AAAA record per address in the answer section. */
  addAaaaReply(name: string, addrs: string[], ttl: number): void {
    this.#addMany(name, TYPE_AAAA, addrs, ttl);
  }

  /** A PTR record (`reverseName`, e.g. `4.3.2.1.in-addr.arpa`, pointing to `target`). */
  addPtrReply(reverseName: string, target: string, ttl: number): void {
    this.addReply(0, reverseName, TYPE_PTR, CLASS_IN, ttl, target);
  }

  /** A CNAME record in the answer section. */
  addCnameReply(name: string, target: string, ttl: number): void {
    this.addReply(0, name, TYPE_CNAME, CLASS_IN, ttl, target);
  }

  /**
   * Appends a record to `EVDNS_ANSWER_SECTION` (0), `EVDNS_AUTHORITY_SECTION` (1) or
   * `EVDNS_ADDITIONAL_SECTION` (2). `data` is checked against `type` now (see
   * `EvdnsReplyData`); misuse throws `TypeError`/`RangeError`, and adding to an answered
   * request throws `EvError`.
   */
  addReply(
    section: number,
    name: string,
    type: number,
    dnsClass: number,
    ttl: number,
    data: EvdnsReplyData,
  ): void {
    if (section !== 0 && section !== 1 && section !== 2) {
      throw new RangeError(`section must be 0, 1 or 2: ${section}`);
    }
    if (!isU16(type) || !isU16(dnsClass)) throw new RangeError("type and class must be 0..65535");
    const rr: DnsRR = {
      name: checkName(name, "record owner"),
      type,
      dnsClass,
      ttl: checkTtl(ttl),
      data: checkData(type, data),
    };
    this.#push(section, rr);
  }

  #addMany(name: string, type: number, addrs: string[], ttl: number): void {
    checkName(name, "record owner");
    checkTtl(ttl);
    if (!Array.isArray(addrs)) throw new TypeError("addresses must be an array of strings");
    // Check every address before adding any, so a bad one leaves the request unchanged.
    for (const a of addrs) checkData(type, a);
    for (const a of addrs) this.#push(0, { name, type, dnsClass: CLASS_IN, ttl, data: a });
  }

  #push(section: number, rr: DnsRR): void {
    if (this.#done) throw new EvError("the request was already answered or dropped");
    // `[rr]` allocates room for one; `[]` then push would allocate a 17-slot store.
    const list = this.#sections[section];
    if (list === null) this.#sections[section] = [rr];
    else list.push(rr);
  }

  /**
   * Sends the reply with response code `err`: 0..15 go out as they are (`DNS_ERR_NONE`,
   * `DNS_ERR_FORMAT`, `DNS_ERR_SERVERFAILED`, `DNS_ERR_NOTEXIST`, `DNS_ERR_NOTIMPL`,
   * `DNS_ERR_REFUSED`, …); `DNS_ERR_NODATA` is NOERROR, and the resolver-side codes
   * (`DNS_ERR_TIMEOUT`, `DNS_ERR_UNKNOWN`, …) are SERVFAIL. Any other value throws `RangeError`.
   * After `close()`, after the TCP client went away, or a second time, it does nothing.
   */
  respond(err: number): void {
    const rcode = rcodeFor(err);
    if (this.#done) return;
    this.#done = true;
    const client = this.#client;
    const port = this.#port;
    if (port._isClosed() || (client !== null && client.gone)) {
      if (client !== null) port._tcpReply(client, null);
      return;
    }
    const [an, ns, ar] = this.#sections;
    const questions = this.questions;
    let bytes: Uint8Array;
    try {
      // A view of the shared writer: `_sendUdp` and `_tcpReply` copy it before anything else
      // is encoded.
      bytes = encodeResponseView({
        id: this.#id,
        flags: this.#replyFlags,
        rcode,
        questions,
        answers: an ?? undefined,
        authority: ns ?? undefined,
        additional: ar ?? undefined,
        edns: replyEdns(this.#edns),
      }, { maxSize: client === null ? udpLimit(this.#edns) : 0xffff });
    } catch {
      // Only a message over 64 KiB gets here (the records were checked when added).
      bytes = errorReply(this.#id, this.#queryFlags, RCODE_SERVFAIL, questions, this.#edns);
    }
    this.#sections[0] = this.#sections[1] = this.#sections[2] = null;
    if (client === null) port._sendUdp(bytes, this.#addr);
    else port._tcpReply(client, bytes);
  }

  /** Discards the request without answering (libevent's `evdns_server_request_drop`). */
  drop(): void {
    if (this.#done) return;
    this.#done = true;
    this.#sections[0] = this.#sections[1] = this.#sections[2] = null;
    if (this.#client !== null) this.#port._tcpReply(this.#client, null);
  }

  /** The client's address (UDP source address, or the TCP peer). */
  getRequestingAddr(): Deno.NetAddr {
    return this.#addr;
  }
}
