/**
 * `Socket`: readiness emulation over Deno's completion-based I/O. While an `EV_READ` event is
 * pending, exactly one read (accept, receive) is in flight; its result is staged and the event
 * becomes active, and the callback takes the staged bytes with `recv()`.
 *
 * @module
 */

import { DirectIo } from "./_fast_io.ts";
import { EV_CLOSED, EV_ET, EV_READ, EV_WRITE } from "./constants.ts";
import { EvError } from "./errors.ts";
import type { Event } from "./event.ts";
import type { EventBase } from "./event_base.ts";

const KIND_CONN = 0;
const KIND_LISTENER = 1;
const KIND_DATAGRAM = 2;
const KIND_FILE = 3;

const IO = EV_READ | EV_WRITE | EV_CLOSED;
const MIN_READ = 4096;
const MAX_READ = 65536;
/**
 * Bytes kept staged while reading on for edge-triggered or EV_CLOSED watchers (a kernel's
 * receive buffer stands in the same place): past it, reading waits for the application.
 */
const STAGE_MAX = 256 * 1024;
/** Bytes queued for writing below which the socket counts as writable. */
const DEFAULT_SEND_LIMIT = 256 * 1024;
/** Sends up to this size are copied into the shared slab; bigger ones get their own copy. */
const SLAB_MAX_COPY = 4096;
/**
 * `recv` results up to this size are copied into the shared slab, so the read buffer is reused;
 * bigger ones are handed over and the next read gets a fresh buffer.
 */
const RECV_MAX_COPY = 2048;
const SLAB_SIZE = 65536;
const NO_CONNS: Deno.Conn[] = [];
const NO_DGRAMS: [Uint8Array, Deno.Addr][] = [];
let slab = new Uint8Array(0);
let slabOff = 0;

/**
 * A fresh `n`-byte view for a small copy (what `send` queued, what `recv` returns). A fresh
 * small typed array costs an ArrayBuffer on V8's heap, more GC, and must be moved off the heap
 * when handed to a write op, which measured as the largest per-message cost of the send path.
 * Views are carved from one slab shared by all sockets (a slab per socket cost 64 KiB of
 * zeroed memory per connection), as Node's Buffer pool does: carved ranges are never reused,
 * and a full slab is replaced, living on while any view of it does.
 */
function carve(n: number): Uint8Array {
  if (slab.length - slabOff < n) {
    slab = new Uint8Array(SLAB_SIZE);
    slabOff = 0;
  }
  const off = slabOff;
  slabOff = off + n;
  return slab.subarray(off, off + n);
}
/** Largest write issued at once when coalescing queued sends. */
const COALESCE_MAX = 65536;

const encoder = new TextEncoder();

/** What `Socket.from` accepts. */
export type SocketResource =
  | Deno.Conn
  | Deno.Listener
  | Deno.DatagramConn
  | Deno.FsFile
  | typeof Deno.stdin;

type Readable = { read(p: Uint8Array): Promise<number | null> };
type Writable = { write(p: Uint8Array): Promise<number> };

/**
 * A non-blocking descriptor emulated over a Deno resource.
 *
 * @example
 * ```ts
 * import { Event, EventBase, EV_PERSIST, EV_READ, Socket } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * const listener = Socket.from(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
 * new Event(base, listener, EV_READ | EV_PERSIST, () => {
 *   const conn = listener.accept();
 *   if (conn === null) return;
 *   const s = Socket.from(conn);
 *   new Event(base, s, EV_READ | EV_PERSIST, (_src, _what) => {
 *     const data = s.recv();
 *     if (data === null) return; // would block
 *     if (data.length === 0) return s.close(); // EOF
 *     s.send(data);
 *   }).add();
 * }).add();
 * ```
 */
export class Socket {
  #kind: number;
  #res: SocketResource;
  #base: EventBase | null = null;
  #readEvs: Event[] = [];
  /** How many of `#readEvs` watch EV_READ (the others only EV_CLOSED). */
  #nReaders = 0;
  /** Watchers that need reads to go on while bytes are staged: EV_ET readers, EV_CLOSED. */
  #nEager = 0;
  /** Closed with sent bytes still queued: the resource closes once they are written. */
  #closeAfterWrites = false;
  /** The last failed `sendto` (datagram sockets keep working after one). */
  #sendErr: Error | null = null;
  #writeEvs: Event[] = [];
  #reading = false;
  #buf: Uint8Array | null = null;
  #spare: Uint8Array | null = null;
  #readSize = MIN_READ;
  /** Bytes read and not yet taken: `#staged[#stagedOff..#stagedEnd)` (no view per read). */
  #staged: Uint8Array | null = null;
  #stagedOff = 0;
  #stagedEnd = 0;
  #eof = false;
  #err: Error | null = null;
  #closed = false;
  /** Staged accepts (listeners) and datagrams; other kinds share empty arrays never pushed to. */
  #accepted: Deno.Conn[];
  #dgrams: [Uint8Array, Deno.Addr][];
  #outQ: Uint8Array[] = [];
  #outBytes = 0;
  #writing = false;
  #sendLimit = DEFAULT_SEND_LIMIT;
  #pollAll = false;
  /** @ignore */
  _pollScheduled = false;
  /** A connection's I/O through the runtime's ops (see _fast_io.ts), or null. */
  #io: DirectIo | null;
  #onRead: (n: number | null) => void;
  #onReadErr: (e: unknown) => void;
  #onWrote: (n: number) => void;
  #onWriteErr: (e: unknown) => void;

  private constructor(kind: number, res: SocketResource) {
    this.#kind = kind;
    this.#res = res;
    this.#accepted = kind === KIND_LISTENER ? [] : NO_CONNS;
    this.#dgrams = kind === KIND_DATAGRAM ? [] : NO_DGRAMS;
    this.#io = kind === KIND_CONN ? DirectIo.for(res) : null;
    // The direct op reports the end of the stream as 0 (`read` methods as null).
    this.#onRead = (n) => {
      this.#io?.readDone();
      this.#readDone(n === 0 ? null : n);
    };
    this.#onReadErr = (e) => {
      this.#io?.readDone();
      this.#readFailed(e);
    };
    this.#onWrote = (n) => this.#writeDone(n);
    this.#onWriteErr = (e) => this.#failed(e);
  }

  /**
   * Wraps a connection, listener, datagram socket, file (pipe, FIFO) or stdin. Connections and
   * listeners keep the process alive only while their base's loop runs.
   */
  static from(res: SocketResource): Socket {
    let kind: number;
    const r = res as unknown as Record<string, unknown>;
    if (typeof r.accept === "function") kind = KIND_LISTENER;
    else if (typeof r.receive === "function") kind = KIND_DATAGRAM;
    else if (typeof r.closeWrite === "function") kind = KIND_CONN;
    else if (typeof r.read === "function") kind = KIND_FILE;
    else throw new TypeError("Socket.from: unsupported resource");
    return new Socket(kind, res);
  }

  /** The wrapped resource. */
  get resource(): SocketResource {
    return this.#res;
  }

  /**
   * Takes up to `max` staged bytes. Returns null when nothing is staged yet (would block) and an
   * empty array at end of stream. Throws the stored error of a failed socket. The bytes are the
   * caller's to keep; like a Node `Buffer` from the pool, a small result may view a larger
   * shared `ArrayBuffer` (use `.slice()` if you need one of its own).
   */
  recv(max = Infinity): Uint8Array | null {
    const st = this.#staged;
    if (st !== null) {
      const off = this.#stagedOff;
      const n = Math.min(max, this.#stagedEnd - off);
      let out: Uint8Array;
      if (n <= RECV_MAX_COPY) {
        out = carve(n);
        out.set(st.subarray(off, off + n));
      } else {
        out = st.subarray(off, off + n);
        this.#spare = null;
      }
      this.#stagedOff = off + n;
      if (this.#stagedOff >= this.#stagedEnd) {
        this.#staged = null;
        // Inside a callback the read is re-armed after it returns (or, from another event's
        // callback, at the next pass), so what the callback sends goes out first.
        const base = this.#base;
        if (base === null || !base._inPass()) this.#startRead();
        else base._schedulePoll(this);
      }
      return out;
    }
    if (this.#err !== null) throw this.#err;
    if (this.#eof) return new Uint8Array(0);
    if (this.#closed) throw new EvError("recv() on a closed Socket");
    this.#startRead();
    return null;
  }

  /**
   * Queues bytes for writing and returns how many were accepted (0 when the outgoing queue is
   * full: wait for `EV_WRITE`). Throws only when the socket already knows it is broken.
   */
  send(data: Uint8Array | string): number {
    if (this.#err !== null) throw this.#err;
    if (this.#closed) throw new EvError("send() on a closed Socket");
    if (this.#kind === KIND_LISTENER || this.#kind === KIND_DATAGRAM) {
      throw new TypeError("send() needs a stream socket (use sendto for datagrams)");
    }
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const room = this.#sendLimit - this.#outBytes;
    if (room <= 0 || bytes.length === 0) return 0;
    const n = bytes.length <= room ? bytes.length : room;
    this.#outQ.push(this.#copyOut(bytes, n));
    this.#outBytes += n;
    if (!this.#writing) this.#startWrite();
    return n;
  }

  /** Copies what `send` accepted (small sends into the shared slab, see `carve`). */
  #copyOut(bytes: Uint8Array, n: number): Uint8Array {
    if (n > SLAB_MAX_COPY) return bytes.slice(0, n);
    const out = carve(n);
    out.set(n === bytes.length ? bytes : bytes.subarray(0, n));
    return out;
  }

  /** Takes one staged accepted connection (listener sockets), or null. */
  accept(): Deno.Conn | null {
    const c = this.#accepted.shift();
    if (c !== undefined) {
      if (this.#accepted.length === 0) this.#startRead();
      return c;
    }
    if (this.#err !== null) {
      const e = this.#err;
      this.#err = null; // an accept error is transient: report once, keep listening
      this.#startRead();
      throw e;
    }
    this.#startRead();
    return null;
  }

  /** Takes one staged datagram and its sender (datagram sockets), or null. */
  recvfrom(): [Uint8Array, Deno.Addr] | null {
    const d = this.#dgrams.shift();
    if (d !== undefined) {
      if (this.#dgrams.length === 0) this.#startRead();
      return d;
    }
    if (this.#err !== null) throw this.#err;
    this.#startRead();
    return null;
  }

  /** Sends one datagram to `addr`; returns its length. Failures are kept in `error()`. */
  sendto(data: Uint8Array | string, addr: Deno.Addr): number {
    if (this.#kind !== KIND_DATAGRAM) throw new TypeError("sendto() needs a datagram socket");
    if (this.#closed) throw new EvError("sendto() on a closed Socket");
    const bytes = typeof data === "string" ? encoder.encode(data) : data.slice();
    this.#outBytes += bytes.length;
    (this.#res as Deno.DatagramConn).send(bytes, addr).then(
      () => this.#writeDone(bytes.length),
      (e) => {
        // One datagram failed (EMSGSIZE, unreachable, …): like sendto(2) returning -1, the
        // socket itself carries on.
        this.#sendErr = e instanceof Error ? e : new EvError(String(e));
        this.#writeDone(bytes.length);
      },
    );
    return bytes.length;
  }

  /** The last error (libevent's `EVUTIL_SOCKET_ERROR`), or null. */
  error(): Error | null {
    return this.#err ?? this.#sendErr;
  }

  /** Sets how many queued bytes make the socket non-writable (default 256 KiB). */
  setSendLimit(bytes: number): void {
    this.#sendLimit = Math.max(1, bytes);
  }

  /** Closes the resource. Pending events never fire again; delete them too. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#staged = null;
    for (const c of this.#accepted) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    this.#accepted.length = 0;
    this.#base?._untrackResource(
      this.#io ?? this.#res as unknown as { ref(): void; unref(): void },
    );
    if (this.#outQ.length > 0 && this.#err === null && this.#kind !== KIND_DATAGRAM) {
      // What send() accepted is the application's data in "the kernel": it goes out, then
      // the resource closes (close(2) on a socket with unsent data delivers it too).
      this.#closeAfterWrites = true;
      if (!this.#writing) this.#startWrite();
      return;
    }
    this.#outQ.length = 0;
    this.#closeResource();
  }

  #closeResource(): void {
    try {
      (this.#res as { close(): void }).close();
    } catch { /* already closed */ }
  }

  /** A short description for `EventBase.dump()`. */
  toString(): string {
    const kinds = ["conn", "listener", "datagram", "file"];
    return `[socket ${kinds[this.#kind]}${this.#closed ? " closed" : ""}]`;
  }

  // ---- internal: event registration and readiness ----

  /** @ignore */
  _register(ev: Event): void {
    const base = ev.base;
    if (this.#base === null) {
      this.#base = base;
      const r = this.#res as unknown as { ref?: () => void; unref?: () => void };
      if (this.#io !== null) base._trackResource(this.#io);
      else if (typeof r.ref === "function" && typeof r.unref === "function") {
        base._trackResource(r as { ref(): void; unref(): void });
      }
    }
    const first = this.#readEvs.length + this.#writeEvs.length === 0;
    if ((ev.events & (EV_READ | EV_CLOSED)) !== 0) this.#readEvs.push(ev);
    if ((ev.events & EV_READ) !== 0) this.#nReaders++;
    if ((ev.events & (EV_ET | EV_CLOSED)) !== 0) this.#nEager++;
    if ((ev.events & EV_WRITE) !== 0) this.#writeEvs.push(ev);
    if (first) base._socketTrack(this, true);
    if ((this.#ready() & ev.events & IO) !== 0) {
      // Already ready when added: report on the next pass, as a poll would (edge events too).
      this.#pollAll = true;
      base._schedulePoll(this);
    }
    if ((ev.events & (EV_READ | EV_CLOSED)) !== 0) this.#startRead();
  }

  /** @ignore */
  _unregister(ev: Event): void {
    let i = this.#readEvs.indexOf(ev);
    if (i >= 0) {
      this.#readEvs.splice(i, 1);
      if ((ev.events & EV_READ) !== 0) this.#nReaders--;
      if ((ev.events & (EV_ET | EV_CLOSED)) !== 0) this.#nEager--;
    }
    i = this.#writeEvs.indexOf(ev);
    if (i >= 0) this.#writeEvs.splice(i, 1);
    if (this.#readEvs.length + this.#writeEvs.length === 0) ev.base._socketTrack(this, false);
  }

  /**
   * After an I/O callback: re-arm the read (after what the callback sent), and for a
   * level-triggered event that is still pending, fire again next pass if still ready.
   * @ignore
   */
  _recheck(ev: Event, level: boolean): void {
    if (level && (this.#ready() & ev.events & IO) !== 0) ev.base._schedulePoll(this);
    this.#startRead();
  }

  /** @ignore */
  _prepoll(): void {
    const all = this.#pollAll;
    this.#pollAll = false;
    this.#fire(this.#ready(), all);
    // A recv() from another event's callback emptied the stage: read on.
    this.#startRead();
  }

  /** @ignore */
  _events(): Iterable<Event> {
    return [...this.#readEvs, ...this.#writeEvs];
  }

  #ready(): number {
    let m = 0;
    if (this.#closed) return 0;
    if (this.#err !== null) return IO;
    // By kind: a connection's check must not touch the listener and datagram queues (with
    // thousands of sockets every extra cache line read per event shows).
    const k = this.#kind;
    if (
      this.#staged !== null || this.#eof ||
      (k === KIND_LISTENER
        ? this.#accepted.length > 0
        : k === KIND_DATAGRAM && this.#dgrams.length > 0)
    ) m |= EV_READ;
    if (this.#eof) m |= EV_CLOSED;
    if (this.#kind !== KIND_LISTENER && this.#outBytes < this.#sendLimit) m |= EV_WRITE;
    return m;
  }

  /** Activates the registered events that `mask` satisfies (edge events only if `edges`). */
  #fire(mask: number, edges: boolean): void {
    const base = this.#base;
    if (base === null || mask === 0 || this.#closed) return;
    if ((mask & (EV_READ | EV_CLOSED)) !== 0) {
      const evs = this.#readEvs;
      for (let i = 0; i < evs.length; i++) {
        const ev = evs[i]!;
        const r = ev.events & mask & IO;
        // An edge-triggered event reports EV_ET with what fired, as libevent does.
        if (r !== 0 && (edges || (ev.events & EV_ET) === 0)) {
          base._activate(ev, r | (ev.events & EV_ET));
        }
      }
    }
    if ((mask & EV_WRITE) !== 0) {
      const evs = this.#writeEvs;
      for (let i = 0; i < evs.length; i++) {
        const ev = evs[i]!;
        const r = ev.events & mask & IO;
        // An edge-triggered event reports EV_ET with what fired, as libevent does.
        if (r !== 0 && (edges || (ev.events & EV_ET) === 0)) {
          base._activate(ev, r | (ev.events & EV_ET));
        }
      }
    }
  }

  #startRead(): void {
    if (
      this.#reading || this.#closed || this.#eof || this.#err !== null ||
      this.#readEvs.length === 0
    ) return;
    switch (this.#kind) {
      case KIND_LISTENER:
        if (this.#accepted.length > 0) return;
        this.#reading = true;
        (this.#res as Deno.Listener).accept().then((c) => {
          this.#reading = false;
          if (this.#closed) {
            c.close();
            return;
          }
          this.#accepted.push(c);
          this.#fire(EV_READ, true);
        }, this.#onReadErr);
        return;
      case KIND_DATAGRAM:
        if (this.#dgrams.length > 0) return;
        this.#reading = true;
        (this.#res as Deno.DatagramConn).receive().then((d) => {
          this.#reading = false;
          if (this.#closed) return;
          this.#dgrams.push(d);
          this.#fire(EV_READ, true);
        }, this.#onReadErr);
        return;
      default: {
        if (this.#staged !== null) {
          // Unconsumed bytes: a level-triggered reader is asked again for them, so no more are
          // read; edge-triggered and EV_CLOSED watchers need to see what comes next (within a
          // bound, as a kernel buffer would hold it).
          if (!this.#onlyClosedWatchers() && this.#nEager === 0) return;
          if (this.#stagedEnd - this.#stagedOff >= STAGE_MAX) return;
        }
        this.#reading = true;
        if (this.#staged !== null) this.#spare = null; // staged bytes still live in it
        let buf = this.#spare;
        if (buf === null || buf.length !== this.#readSize) {
          buf = this.#spare = new Uint8Array(this.#readSize);
        }
        this.#buf = buf;
        const io = this.#io;
        if (io !== null) io.read(buf).then(this.#onRead, this.#onReadErr);
        else (this.#res as Readable).read(buf).then(this.#onRead, this.#onReadErr);
      }
    }
  }

  #onlyClosedWatchers(): boolean {
    return this.#nReaders === 0;
  }

  #readDone(n: number | null): void {
    this.#reading = false;
    if (this.#closed) return;
    const buf = this.#buf!;
    this.#buf = null;
    if (n === null) {
      this.#eof = true;
      this.#fire(EV_READ | EV_CLOSED, true);
      return;
    }
    // Start small so idle sockets pin little memory; grow while reads come back full.
    if (n === buf.length) {
      if (this.#readSize < MAX_READ) this.#readSize *= 2;
    } else if (n < this.#readSize >> 2 && this.#readSize > MIN_READ) this.#readSize >>= 1;
    const st = this.#staged;
    if (st !== null) {
      // Only EV_CLOSED watchers: keep reading to see the close, keeping the bytes.
      const rest = st.subarray(this.#stagedOff, this.#stagedEnd);
      const merged = new Uint8Array(rest.length + n);
      merged.set(rest);
      merged.set(buf.subarray(0, n), rest.length);
      this.#staged = merged;
      this.#stagedEnd = merged.length;
    } else {
      this.#staged = buf;
      this.#stagedEnd = n;
    }
    this.#stagedOff = 0;
    this.#fire(EV_READ, true);
    if (this.#onlyClosedWatchers() || this.#nEager > 0) this.#startRead();
  }

  #readFailed(e: unknown): void {
    this.#reading = false;
    this.#buf = null;
    if (this.#closed) return;
    this.#failed(e);
  }

  #failed(e: unknown): void {
    if (this.#closed) {
      // A write of the bytes left at close() failed: nothing more can go out.
      if (this.#closeAfterWrites) {
        this.#closeAfterWrites = false;
        this.#outQ.length = 0;
        this.#closeResource();
      }
      return;
    }
    this.#err = e instanceof Error ? e : new EvError(String(e));
    this.#writing = false;
    this.#fire(IO, true);
  }

  #startWrite(): void {
    const q = this.#outQ;
    if (q.length === 0 || (this.#closed && !this.#closeAfterWrites) || this.#err !== null) {
      this.#writing = false;
      if (this.#closeAfterWrites && q.length === 0) {
        this.#closeAfterWrites = false;
        this.#closeResource();
      }
      return;
    }
    this.#writing = true;
    let chunk = q[0]!;
    if (q.length > 1 && chunk.length < COALESCE_MAX) {
      // Many small sends become one write(2).
      let total = 0;
      let k = 0;
      while (k < q.length && total + q[k]!.length <= COALESCE_MAX) total += q[k++]!.length;
      if (k > 1) {
        const merged = new Uint8Array(total);
        let off = 0;
        for (let i = 0; i < k; i++) {
          merged.set(q[i]!, off);
          off += q[i]!.length;
        }
        q.splice(0, k, merged);
        chunk = merged;
      }
    }
    const io = this.#io;
    if (io !== null) io.write(chunk).then(this.#onWrote, this.#onWriteErr);
    else (this.#res as Writable).write(chunk).then(this.#onWrote, this.#onWriteErr);
  }

  #writeDone(n: number): void {
    if (this.#closed && !this.#closeAfterWrites) return;
    const before = this.#outBytes;
    this.#outBytes -= n;
    if (this.#kind !== KIND_DATAGRAM) {
      const q = this.#outQ;
      const head = q[0]!;
      if (n < head.length) q[0] = head.subarray(n);
      else q.shift();
      this.#startWrite();
    }
    if (before >= this.#sendLimit && this.#outBytes < this.#sendLimit) this.#fire(EV_WRITE, true);
  }
}
