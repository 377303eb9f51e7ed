/**
 * Resolver transports: short-lived UDP sockets (each on its own OS-chosen, randomized source
 * port, rotated after a few queries and closed as soon as nothing waits on them, so no idle
 * receive keeps the process alive) and one pipelined TCP connection per nameserver.
 *
 * Completions run as promise reactions, outside any callback: they only parse, match and queue,
 * never call user code (that happens in the request's active entry).
 *
 * @module
 */

import type { EventBase } from "../reactor/event_base.ts";
import { InternalTimer } from "../reactor/_internal_timer.ts";
import type { ServerAddr } from "./_resolv_conf.ts";

/** Where transports deliver packets. @ignore */
export interface PacketSink {
  /** A datagram arrived on `sock` from `from`. */
  _onUdp(data: Uint8Array, from: Deno.NetAddr, sock: UdpSock): void;
  /** A length-delimited message arrived on `chan`. */
  _onTcp(data: Uint8Array, chan: TcpChannel): void;
  /** `chan` closed (EOF, error or idle). */
  _onTcpClosed(chan: TcpChannel): void;
}

/**
 * The error thrown when UDP is not available (Deno without `--unstable-net`).
 *
 * @ignore
 */
export function assertUdpAvailable(): void {
  if (typeof Deno.listenDatagram !== "function") {
    throw new TypeError(
      "evdeno's DNS resolver needs UDP (Deno.listenDatagram): run Deno with --unstable-net " +
        'or add "unstable": ["net"] to deno.json',
    );
  }
}

/**
 * A UDP socket shared by up to `maxUses` queries. `users` counts queries still waiting on it; it
 * closes when retired and unused.
 *
 * @ignore
 */
export class UdpSock {
  readonly conn: Deno.DatagramConn;
  readonly family: 4 | 6;
  readonly bound: boolean;
  users = 0;
  uses = 0;
  retired = false;
  closed = false;
  #sink: PacketSink;
  #buf: Uint8Array;
  #receiving = false;
  #onData: (r: [Uint8Array, Deno.Addr]) => void;
  #onErr: () => void;

  constructor(
    sink: PacketSink,
    family: 4 | 6,
    bindHost: string | null,
    bufSize: number,
  ) {
    this.#sink = sink;
    this.family = family;
    this.bound = bindHost !== null;
    this.conn = Deno.listenDatagram({
      transport: "udp",
      hostname: bindHost ?? (family === 4 ? "0.0.0.0" : "::"),
      port: 0,
    });
    this.#buf = new Uint8Array(bufSize);
    this.#onData = (r) => {
      this.#receiving = false;
      if (this.closed) return;
      this.#sink._onUdp(r[0], r[1] as Deno.NetAddr, this);
      this.#arm();
    };
    this.#onErr = () => {
      this.#receiving = false;
      // A receive error on an open socket (ICMP unreachable surfaces as ECONNREFUSED on some
      // systems) says nothing a timeout will not: keep listening while queries wait.
      if (!this.closed) this.#arm();
    };
  }

  /** Starts receiving if a query waits and no receive is pending. */
  #arm(): void {
    if (this.#receiving || this.closed || this.users === 0) return;
    this.#receiving = true;
    this.conn.receive(this.#buf).then(this.#onData, this.#onErr);
  }

  /** Sends `packet` to `to` (errors are left to the retransmission timer). */
  send(packet: Uint8Array, to: ServerAddr): void {
    this.#arm();
    this.conn.send(packet, { transport: "udp", hostname: to.hostname, port: to.port }).catch(
      noop,
    );
  }

  /** One more query waits on this socket. */
  acquire(): void {
    this.users++;
    this.uses++;
  }

  /** A query stopped waiting; closes the socket when retired and idle. */
  release(): void {
    if (--this.users === 0 && this.retired) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

function noop(): void {}

/**
 * One TCP connection to a nameserver, carrying 2-byte length-prefixed messages both ways.
 * Queries written before the connection is up wait in order; replies may come in any order.
 *
 * @ignore
 */
export class TcpChannel {
  readonly server: ServerAddr;
  conn: Deno.TcpConn | null = null;
  closed = false;
  /** Queries waiting for a reply on this channel. */
  users = 0;
  /** When the channel was opened (the loop's monotonic ms). */
  readonly openedAt: number;
  #sink: PacketSink;
  #out: Uint8Array[] = [];
  #writing = false;
  #rbuf = new Uint8Array(4096);
  #rlen = 0;
  #idle: InternalTimer;
  #idleMs: number;
  #base: EventBase;

  constructor(base: EventBase, sink: PacketSink, server: ServerAddr, idleMs: number) {
    this.#base = base;
    this.#sink = sink;
    this.server = server;
    this.openedAt = base._monoNow();
    this.#idleMs = idleMs;
    // The idle timer must not keep the loop running: compensate its hold (see #armIdle).
    this.#idle = new InternalTimer(base, () => {
      base._nRefs++;
      if (this.users === 0) this.close();
    });
    Deno.connect({ hostname: server.hostname, port: server.port }).then((c) => {
      if (this.closed) {
        c.close();
        return;
      }
      c.setNoDelay(true);
      c.unref();
      this.conn = c;
      this.#flush();
      this.#readLoop(c);
    }, () => this.close());
  }

  /** Queues one message (the length prefix is added here). */
  send(packet: Uint8Array): void {
    const framed = new Uint8Array(packet.length + 2);
    framed[0] = packet.length >> 8;
    framed[1] = packet.length;
    framed.set(packet, 2);
    this.#out.push(framed);
    this.#disarmIdle();
    if (this.conn !== null) this.#flush();
  }

  /** A waiting query finished; starts the idle countdown when none is left. */
  release(): void {
    if (--this.users === 0 && !this.closed) {
      const t = this.#idle;
      const was = t.armed;
      t.arm(this.#idleMs);
      if (!was) this.#base._nRefs--;
    }
  }

  #disarmIdle(): void {
    if (this.#idle.armed) {
      this.#base._nRefs++;
      this.#idle.disarm();
    }
  }

  async #flush(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#out.length > 0 && !this.closed) {
        const conn = this.conn!;
        const msg = this.#out.length === 1 ? this.#out[0] : concat(this.#out);
        this.#out.length = 0;
        let off = 0;
        while (off < msg.length) off += await conn.write(msg.subarray(off));
      }
    } catch {
      this.close();
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(conn: Deno.TcpConn): Promise<void> {
    try {
      for (;;) {
        if (this.#rlen === this.#rbuf.length) {
          const bigger = new Uint8Array(this.#rbuf.length * 2);
          bigger.set(this.#rbuf);
          this.#rbuf = bigger;
        }
        const n = await conn.read(this.#rbuf.subarray(this.#rlen));
        if (n === null || this.closed) break;
        this.#rlen += n;
        this.#deliver();
      }
    } catch { /* reset or closed locally: pending queries retransmit on their timers */ }
    this.close();
  }

  #deliver(): void {
    const buf = this.#rbuf;
    let off = 0;
    while (this.#rlen - off >= 2) {
      const len = (buf[off] << 8) | buf[off + 1];
      if (this.#rlen - off - 2 < len) {
        if (len + 2 > buf.length) {
          const bigger = new Uint8Array(len + 2);
          bigger.set(buf.subarray(off, this.#rlen));
          this.#rbuf = bigger;
          this.#rlen -= off;
          return;
        }
        break;
      }
      // A copy, because the read buffer is reused while the message is handled.
      this.#sink._onTcp(buf.slice(off + 2, off + 2 + len), this);
      if (this.closed) return;
      off += 2 + len;
    }
    if (off > 0) {
      buf.copyWithin(0, off, this.#rlen);
      this.#rlen -= off;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#disarmIdle();
    this.#out.length = 0;
    if (this.conn !== null) {
      try {
        this.conn.close();
      } catch { /* already closed */ }
    }
    this.#sink._onTcpClosed(this);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A configured nameserver and its health. @ignore */
export class Nameserver {
  readonly addr: ServerAddr;
  readonly key: string;
  up = true;
  /** Consecutive timeouts. */
  timeouts = 0;
  failedTimes = 0;
  probeAt = 0;
  probing = false;
  tcp: TcpChannel | null = null;
  constructor(addr: ServerAddr) {
    this.addr = addr;
    this.key = addr.family === 6
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
  }
}
