/**
 * The socket transport of a bufferevent. Reads complete into a pooled block the bufferevent
 * holds; the completion only records the byte count and queues the bufferevent's preallocated
 * entry, and in dispatch the range becomes a zero-copy chunk of the input. Writes go out from the
 * output's own chunks and are drained when they complete.
 *
 * @module
 */

import { ActiveEntry } from "../reactor/_active.ts";
import { DirectIo } from "../reactor/_fast_io.ts";
import { InternalTimer } from "../reactor/_internal_timer.ts";
import { EV_READ, EV_WRITE } from "../reactor/constants.ts";
import { type BevBackend, SUSPEND_RATE } from "./_backend.ts";
import { BlockPool, defaultPool, type PooledBlock } from "./_pool.ts";
import type { Bufferevent, GetaddrinfoResolver, ResolvedAddr } from "./bufferevent.ts";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_EVENT_WRITING,
  BEV_FINISHED,
} from "./constants.ts";

/** Idle connections read into small blocks; busy ones switch to the 64 KiB pool. */
const smallPool = new BlockPool(4096, 1024);
/** A block with less room than this is replaced before the next read. */
const MIN_TAIL = 1024;
/**
 * Read-ahead cap: a bufferevent whose read callback feeds its output (an echo, a proxy, a
 * server answering requests) starts no new read while a write is pending, as a plain
 * `read → await write` loop does. Readiness emulation otherwise lets reads outrun a congested
 * writer (a naive echo to a slow reader grows by the sender's rate), and a read in flight
 * beside a write costs Deno ~0.4 µs more per message than the two in turn.
 *
 * Each `stallMs` that a capped write makes no progress, reads may take `grant` bytes: the
 * peer may be waiting for us to read before it reads (two peers echoing a large transfer to
 * each other), and refusing for good would deadlock both. The grant is not grown: a slow
 * reader looks the same from here (the kernel wakes a writer only once half its send buffer
 * drained, ~1 s apart at 1 MiB/s), and 640 KiB/s of read-ahead stays below what it drains.
 * Module-wide; tests shorten `stallMs` to exercise the grants quickly.
 */
export const readAheadStall = { stallMs: 100, grant: 64 * 1024 };
const SCRATCH = 64 * 1024;
/** Scratch of connections that never had more than this queued (idle memory stays small). */
const SMALL_SCRATCH = 4096;

const ST_READ = 1;
const ST_WROTE = 2;
const ST_WRITE_START = 4;
const ST_CONNECTED = 8;
const ST_CONNECT_FAILED = 16;

/** libevent's EVUTIL_EAI_NONAME (the resolver's constants live above this layer). */
const EVUTIL_EAI_NONAME = -908;

/** Whether a resolver's getaddrinfo result is a request that can be cancelled. */
function isCancellable(req: unknown): req is { cancel(): void } {
  return typeof req === "object" && req !== null &&
    typeof (req as { cancel?: unknown }).cancel === "function";
}

class SocketEntry extends ActiveEntry {
  constructor(readonly sb: SocketBackend) {
    super();
  }
  _run(): void {
    this.sb.run();
  }
}

/** TLS settings of a TLS bufferevent. @ignore */
export interface TlsSettings {
  hostname?: string;
  caCerts?: string[];
  alpnProtocols?: string[];
  handshakeTimeoutMs?: number;
}

/**
 * Default deadline for a server-side handshake, so a stalled client cannot hold a bufferevent
 * (Deno still keeps the TCP socket of a silent peer after the close: see the README).
 */
const DEFAULT_HANDSHAKE_MS = 10_000;

function isTlsConn(c: Deno.Conn): c is Deno.TlsConn {
  return typeof (c as Deno.TlsConn).handshake === "function";
}

function isCancellation(e: unknown): boolean {
  return e instanceof Deno.errors.Interrupted || e instanceof Deno.errors.BadResource;
}

/** @ignore */
export class SocketBackend implements BevBackend {
  readonly bev: Bufferevent;
  conn: Deno.Conn | null = null;
  #noDelay: boolean;
  /** I/O through the runtime's ops, or null: use `conn.read`/`conn.write`. */
  #io: DirectIo | null = null;
  #entry: SocketEntry;
  #state = 0;
  #reading = false;
  #writing = false;
  #connecting = false;
  #eof = false;
  /**
   * The end of the stream (or a read error, left in #readErr) came while EV_READ was off: it is
   * reported once reading is on again, as libevent, reading nothing meanwhile, would see it.
   */
  #endHeld = false;
  #closed = false;
  #finishing = false;
  #shutdown = false;
  #block: PooledBlock | null = null;
  #blockOff = 0;
  /** The view of the whole current block that the last full-block read used (null: none). */
  #readView: Uint8Array | null = null;
  #readLen = 0;
  /** The bufferevent's rate-limit generation when the read or write in flight was posted. */
  #readGen = 0;
  #writeGen = 0;
  #readResult: number | null = 0;
  #readErr: unknown = null;
  #big = false;
  #smallReads = 0;
  #wrote = 0;
  #writeErr: unknown = null;
  #scratch: Uint8Array | null = null;
  #connectErr: unknown = null;
  /** The `connectHostname` lookup in flight, when the resolver can cancel it. */
  #lookup: { cancel(): void } | null = null;
  #onRead: (n: number | null) => void;
  #onReadErr: (e: unknown) => void;
  #onWrote: (n: number) => void;
  /** `free()` found a write in flight: the output is freed when it completes. */
  #freeOutputAfterWrite = false;
  #onWriteErr: (e: unknown) => void;

  #tls: TlsSettings | null;
  /** The TLS connection whose handshake is in flight, and its deadline (server side). */
  #hsConn: Deno.TlsConn | null = null;
  /** The handshake in progress is a server's (on a connection the user handed over). */
  #hsServer = false;
  #hsTimer: InternalTimer | null = null;
  /** Read-ahead cap state: the stall timer, what is left of the current grant, the count of
   * completed writes and its value when the stall timer was armed. */
  #stallTimer: InternalTimer | null = null;
  #stallBudget = 0;
  #writes = 0;
  #stallSeen = 0;
  /** Whether the last read callback added to the output (an echo or proxy): only then can
   * reads outrun the writer. A client reading the reply to its own big write is not capped, nor
   * is a bufferevent with deferred callbacks (its read callback runs later, unseen here). */
  #feedsOutput = false;

  constructor(
    bev: Bufferevent,
    conn: Deno.Conn | null,
    noDelay: boolean,
    tls: TlsSettings | null = null,
  ) {
    this.#tls = tls;
    this.bev = bev;
    bev._backend = this;
    this.#noDelay = noDelay;
    this.#entry = new SocketEntry(this);
    this.#entry._pri = bev._base._defaultPriority();
    this.#onRead = (n) => {
      this.#reading = false;
      this.#io?.readDone();
      // The direct op reports the end of the stream as 0 (`Conn.read` as null).
      this.#readResult = n === 0 ? null : n;
      this.#queue(ST_READ);
    };
    this.#onReadErr = (e) => {
      this.#reading = false;
      this.#io?.readDone();
      this.#readErr = e;
      this.#queue(ST_READ);
    };
    this.#onWrote = (n) => this.#writeCompleted(n);
    this.#onWriteErr = (e) => {
      this.#writing = false;
      if (this.#outputFreedAfterWrite()) return;
      this.#writeErr = e;
      this.#queue(ST_WROTE);
    };
    // Hook output additions made outside our callbacks: they start a write on the next pass.
    bev._output._setAddHook(() => this.outputAdded());
    // As libevent's socket bufferevents: the output's front belongs to the writer (a user drain
    // would drop bytes a write in flight is sending) and the input's end to the reader.
    bev._output.freeze(true);
    bev._input.freeze(false);
    if (conn === null) return;
    if (tls === null) this.#attach(conn);
    else if (isTlsConn(conn)) this.#establish(this.#handshake(conn, true));
    else {
      // STARTTLS: upgrade an existing plain connection, verifying the peer's name.
      const host = tls.hostname ?? (conn.remoteAddr as Deno.NetAddr).hostname;
      this.#establish(this.#upgrade(conn, host));
    }
  }

  /** TLS info of an established TLS connection (ALPN protocol and so on), or null. */
  tlsInfo(): Promise<Deno.TlsHandshakeInfo> | null {
    const c = this.conn;
    return c !== null && isTlsConn(c) ? c.handshake() : null;
  }

  async #upgrade(conn: Deno.Conn, hostname: string): Promise<Deno.Conn> {
    const t = this.#tls!;
    const opts: Deno.StartTlsOptions = { hostname };
    if (t.caCerts !== undefined) opts.caCerts = t.caCerts;
    if (t.alpnProtocols !== undefined) opts.alpnProtocols = t.alpnProtocols;
    const tc = await Deno.startTls(conn as Deno.TcpConn, opts);
    return this.#handshake(tc, false);
  }

  async #handshake(tc: Deno.TlsConn, server: boolean): Promise<Deno.Conn> {
    let timer: InternalTimer | null = null;
    if (server) {
      // A server-side handshake has a deadline: closing the connection fails the handshake.
      timer = new InternalTimer(this.bev._base, () => {
        try {
          tc.close();
        } catch { /* already closed */ }
      });
      timer.arm(this.#tls?.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_MS);
    }
    this.#hsConn = tc;
    this.#hsServer = server;
    this.#hsTimer = timer;
    try {
      await tc.handshake();
      return tc;
    } catch (e) {
      try {
        tc.close();
      } catch { /* already closed */ }
      if (timer !== null && !timer.armed) {
        throw new Deno.errors.TimedOut("TLS handshake timed out", { cause: e });
      }
      throw e;
    } finally {
      timer?.disarm();
      this.#hsConn = null;
      this.#hsTimer = null;
    }
  }

  #establish(p: Promise<Deno.Conn>): void {
    this.#connecting = true;
    this.bev._setConnecting(true);
    this.bev._updateHold();
    p.then((c) => {
      this.#connecting = false;
      if (this.#closed) {
        try {
          c.close();
        } catch { /* already closed */ }
        return;
      }
      this.#attach(c);
      this.#queue(ST_CONNECTED);
    }, (e) => {
      this.#connecting = false;
      this.#connectErr = e;
      // Deno.connect resolved the name itself (connectHostname with the system resolver): a
      // lookup failure is a DNS error, as getaddrinfo's would be in libevent.
      if (e instanceof Error && /failed to lookup address/i.test(e.message)) {
        this.bev._dnsError = EVUTIL_EAI_NONAME;
      }
      this.#queue(ST_CONNECT_FAILED);
    });
  }

  getConn(): Deno.Conn | null {
    return this.conn;
  }

  busy(): boolean {
    if (this.#closed) return false;
    // A read still in flight is not counted: posted before reading was turned off, it cannot be
    // taken back, and libevent (whose read event is deleted) would not hold the loop for it.
    // Its bytes or end wait unannounced; the base unrefs it with the other resources once the
    // loop has stopped, and refs it again when the loop runs.
    if (this.#connecting || this.#writing) return true;
    if (this.conn === null) return false;
    return (this.bev._readActive() && !this.#eof) ||
      (this.bev._output.length > 0 && this.bev._writeActive());
  }

  kick(): void {
    if (this.conn === null || this.#closed) return;
    if (this.#endHeld && this.bev._readActive()) {
      this.#endHeld = false;
      this.#queue(ST_READ);
    }
    this.#startRead();
    if (this.bev._inCb === 0 && this.bev._output.length > 0 && !this.#writing) {
      this.#queue(ST_WRITE_START);
    }
    this.bev._updateHold();
  }

  outputAdded(): void {
    if (this.#writing || this.bev._inCb > 0 || this.conn === null) return;
    this.#queue(ST_WRITE_START);
  }

  afterCallback(): void {
    // What the callback wrote goes out in one write, before the next read is re-armed.
    if (!this.#writing) this.#startWrite();
    this.#startRead();
    this.bev._updateHold();
  }

  flush(iotype: number, mode: number): number {
    if ((iotype & EV_WRITE) !== 0 && mode === BEV_FINISHED) {
      this.#finishing = true;
      this.#maybeShutdown();
    }
    return 0;
  }

  free(): void {
    const bev = this.bev;
    bev._output._setAddHook(null);
    bev._base._deactivate(this.#entry);
    const lookup = this.#lookup;
    if (lookup !== null) {
      // Its callback sees the bufferevent freed and does nothing more.
      this.#lookup = null;
      lookup.cancel();
    }
    const inFlightRead = this.#reading;
    const inFlightWrite = this.#writing;
    if (this.conn !== null) {
      const tc = this.conn as Deno.TcpConn;
      bev._base._untrackResource(this.#io ?? tc);
      // Left open for its owner: our read still in flight must not keep the process alive.
      if (!bev._closeOnFree() && inFlightRead) {
        if (this.#io !== null) this.#io.unref();
        else if (typeof tc.unref === "function") {
          try {
            tc.unref();
          } catch { /* closed */ }
        }
      }
    }
    if (bev._closeOnFree() && this.conn !== null && !this.#closed) {
      this.#closed = true;
      try {
        this.conn.close();
      } catch { /* already closed */ }
    }
    this.#closed = true;
    this.#stallTimer?.disarm();
    if (this.#hsConn !== null) {
      // Freed mid-handshake: its deadline must not keep the loop running, and with
      // CLOSE_ON_FREE the connection goes now (the handshake then fails, unobserved). So does a
      // client's TLS connection, which only this bufferevent holds (startTls took the TCP one):
      // left open, its pending handshake kept the process alive for ever.
      this.#hsTimer?.disarm();
      if (bev._closeOnFree() || !this.#hsServer) {
        try {
          this.#hsConn.close();
        } catch { /* already closed */ }
      }
    }
    // A read still in flight may yet write into its block, and a write in flight still reads
    // from the output's chunks: leave those to the garbage collector instead of the pool.
    if (this.#block !== null && !inFlightRead) this.#block.release();
    this.#block = null;
    this.#readView = null;
    bev._input.free();
    // A write in flight still reads from the output's chunks: free them once it is done (file
    // segments closed, reference cleanups run), not never.
    if (!inFlightWrite) bev._output.free();
    else this.#freeOutputAfterWrite = true;
  }

  connect(addr: Deno.ConnectOptions | Deno.UnixConnectOptions, verifyHost?: string): void {
    if (this.conn !== null || this.#connecting) throw new TypeError("already connected");
    if ("path" in addr) {
      if (this.#tls !== null) throw new TypeError("TLS over Unix sockets is not supported");
      this.#establish(Deno.connect(addr as Deno.UnixConnectOptions));
      return;
    }
    const a = addr as Deno.ConnectOptions;
    if (this.#tls === null) {
      this.#establish(Deno.connect(a));
      return;
    }
    // Without tls.hostname the certificate is verified against the host we connect to.
    const host = this.#tls.hostname ?? verifyHost ?? a.hostname ?? "127.0.0.1";
    this.#establish(
      Deno.connect(a).then((c) => {
        // Freed while the TCP connect ran: no TLS session for a bufferevent that is gone.
        if (this.#closed) {
          c.close();
          throw new Deno.errors.Interrupted("freed during connect");
        }
        return this.#upgrade(c, host);
      }),
    );
  }

  connectHostname(
    dns: GetaddrinfoResolver | null,
    family: number,
    hostname: string,
    port: number,
  ): void {
    if (this.conn !== null || this.#connecting) throw new TypeError("already connected");
    const host = hostname.startsWith("[") && hostname.endsWith("]")
      ? hostname.slice(1, -1)
      : hostname;
    if (dns === null) {
      // The system resolver: Deno.connect resolves names itself.
      this.connect({ hostname: host, port });
      return;
    }
    this.#connecting = true;
    this.bev._setConnecting(true, true);
    this.bev._updateHold();
    const req = dns.getaddrinfo(
      host,
      String(port),
      { family, socktype: 1, protocol: 6 },
      (err: number, res: ResolvedAddr[] | null) => {
        this.#lookup = null;
        this.#connecting = false;
        this.bev._setConnecting(false, true);
        if (this.#closed || this.bev._freed) return;
        if (err !== 0 || res === null || res.length === 0) {
          this.bev._dnsError = err !== 0 ? err : EVUTIL_EAI_NONAME;
          this.#connectErr = new Deno.errors.NotFound(`cannot resolve ${host}`);
          this.#queue(ST_CONNECT_FAILED);
          return;
        }
        this.connect({ hostname: res[0]!.address, port }, host);
      },
    );
    // A lookup still running when the bufferevent is freed is cancelled (libevent does).
    if (this.#connecting && isCancellable(req)) this.#lookup = req;
  }

  /** Runs queued completions in dispatch. */
  run(): void {
    const st = this.#state;
    this.#state = 0;
    const bev = this.bev;
    if (bev._freed) return;
    if ((st & ST_CONNECT_FAILED) !== 0) {
      bev._setConnecting(false);
      bev._fail(BEV_EVENT_ERROR, this.#connectErr);
      bev._updateHold();
      return;
    }
    if ((st & ST_CONNECTED) !== 0) {
      bev._setConnecting(false);
      bev._runEventcb(BEV_EVENT_CONNECTED);
      if (bev._freed) return;
      if ((bev._enabled & EV_WRITE) !== 0 && bev._output.length <= bev._wmWriteLow) {
        bev._runWritecb();
      }
      if (bev._freed) return;
    }
    if ((st & ST_READ) !== 0) this.#readCompleted();
    if (bev._freed) return;
    if ((st & ST_WROTE) !== 0) this.#wroteCompleted();
    if (bev._freed) return;
    this.#startWrite();
    this.#startRead();
    bev._updateHold();
  }

  #attach(c: Deno.Conn): void {
    this.conn = c;
    const tc = c as Deno.TcpConn;
    if (this.#noDelay && typeof tc.setNoDelay === "function") {
      try {
        tc.setNoDelay(true);
      } catch { /* not a TCP connection */ }
    }
    const io = this.#io = DirectIo.for(c);
    // Only a running loop keeps the process alive, never a pending read.
    if (io !== null) this.bev._base._trackResource(io);
    else if (typeof tc.unref === "function") this.bev._base._trackResource(tc);
    this.#startRead();
    this.bev._updateHold();
  }

  #queue(flag: number): void {
    this.#state |= flag;
    this.bev._base._activateEntry(this.#entry);
  }

  #startRead(): void {
    const bev = this.bev;
    if (
      this.#reading || this.#eof || this.#closed || this.conn === null || this.#connecting ||
      !bev._readActive()
    ) return;
    let lim = bev._readLimit();
    // Limits are whole bytes (amounts, shares and watermarks are): 0 is the only "none", and a
    // zero-length read must never be posted (it would come back as the end of the stream).
    if (lim === 0) {
      // Out of tokens (not just at the watermark): suspended, so the refill resumes us.
      if (bev._rateReadBlocked()) bev._suspendRead(SUSPEND_RATE);
      return;
    }
    const capped = this.#feedsOutput && this.#writing;
    if (capped && this.#stallBudget <= 0) {
      this.#armStall();
      return;
    }
    let block = this.#block;
    const pool = this.#big ? defaultPool : smallPool;
    // Nothing else references the block (the input drained every byte read into it): read
    // into its start again, which keeps one hot block and the same view per connection.
    if (block !== null && this.#blockOff !== 0 && block.refs === 1) this.#blockOff = 0;
    if (
      block === null || block.buf.length !== pool.blockSize ||
      block.buf.length - this.#blockOff < MIN_TAIL
    ) {
      if (block !== null) block.release();
      block = this.#block = pool.acquire();
      this.#blockOff = 0;
      this.#readView = null;
    }
    const off = this.#blockOff;
    const room = block.buf.length - off;
    if (lim < 0 || lim > room) lim = room;
    if (capped && lim > this.#stallBudget) lim = this.#stallBudget;
    this.#readLen = lim;
    this.#readGen = bev._rateGen;
    this.#reading = true;
    let view = this.#readView;
    if (off !== 0 || lim !== room || view === null) {
      view = block.buf.subarray(off, off + lim);
      // Only a view of the whole block is worth keeping: it is what steady reads use.
      this.#readView = off === 0 && lim === room ? view : null;
    }
    const io = this.#io;
    if (io !== null) io.read(view).then(this.#onRead, this.#onReadErr);
    else this.conn.read(view).then(this.#onRead, this.#onReadErr);
  }

  #readCompleted(): void {
    const bev = this.bev;
    const err = this.#readErr;
    const n = this.#readResult;
    if (err !== null || n === null) {
      if (this.#closed || (err !== null && isCancellation(err) && this.#shutdown)) {
        this.#readErr = null;
        return;
      }
      this.#eof = true;
      // libevent reads nothing while EV_READ is off, so it sees the end only once reading is
      // on again: kick() reports it then, after the bytes held back have been announced.
      if ((bev._enabled & EV_READ) === 0) {
        this.#endHeld = true;
        return;
      }
      this.#readErr = null;
      if (err !== null) bev._fail(BEV_EVENT_READING | BEV_EVENT_ERROR, err);
      else {
        bev._disableFor(BEV_EVENT_READING);
        bev._runEventcb(BEV_EVENT_READING | BEV_EVENT_EOF);
      }
      return;
    }
    const block = this.#block!;
    const off = this.#blockOff;
    bev._input._addShared(block, off, off + n);
    this.#blockOff = off + n;
    if (this.#stallBudget > 0) this.#stallBudget -= n;
    // Grow to the big pool while reads come back full; shrink when they stay small.
    if (n === this.#readLen && n >= 2048) {
      this.#big = true;
      this.#smallReads = 0;
    } else if (this.#big && n < 2048 && ++this.#smallReads >= 4) {
      this.#big = false;
    }
    const before = bev._output.length;
    bev._readDone(n, this.#readGen);
    this.#feedsOutput = bev._output.length > before;
  }

  #startWrite(): void {
    const bev = this.bev;
    const out = bev._output;
    if (this.#writing || this.#closed || this.conn === null || this.#connecting) return;
    // A finished write not yet drained from the output (its completion is queued, e.g. behind
    // a read whose callback wrote more): starting now would send those bytes again.
    if (this.#wrote !== 0 || this.#writeErr !== null) return;
    if (out.length === 0) {
      this.#maybeShutdown();
      return;
    }
    if (!bev._writeActive()) return;
    if (this.#shutdown) {
      // Written after flush(EV_WRITE, BEV_FINISHED) shut the write side down: nothing can carry
      // it, so report it as the failed write it is (EPIPE) rather than hold it for ever.
      if (this.#writeErr === null) {
        this.#writeErr = new Deno.errors.BrokenPipe("write after the write side was shut down");
        this.#queue(ST_WROTE);
      }
      return;
    }
    // Already capped by the single-write cap (4 MiB unless set otherwise).
    const max = bev._writeLimit();
    if (max === 0) {
      // Out of tokens (a group emptied by others): suspended, so the refill resumes us.
      bev._suspendWrite(SUSPEND_RATE);
      return;
    }
    let scratch = this.#scratch;
    if (scratch === null || (scratch.length < SCRATCH && out.length > scratch.length)) {
      // Only replaced between writes (#writing is false here), so no write still reads it.
      scratch = this.#scratch = new Uint8Array(
        out.length > SMALL_SCRATCH ? SCRATCH : SMALL_SCRATCH,
      );
    }
    const chunk = out._peekWrite(max, scratch);
    if (out._fileShort) {
      // A file in the output ended early: what follows it would land where the peer expects
      // the missing bytes. The stream is broken: fail the write (libevent's sendfile would).
      out._fileShort = false;
      this.#writeErr = new Deno.errors.UnexpectedEof("a file segment in the output ended early");
      this.#queue(ST_WROTE);
      return;
    }
    this.#writing = true;
    this.#writeGen = bev._rateGen;
    bev._armWriteTimer();
    const io = this.#io;
    if (io !== null) io.write(chunk).then(this.#onWrote, this.#onWriteErr);
    else this.conn.write(chunk).then(this.#onWrote, this.#onWriteErr);
  }

  /** Freed while a write was in flight: the output is released now that it is done. */
  #outputFreedAfterWrite(): boolean {
    if (!this.#freeOutputAfterWrite) return false;
    this.#freeOutputAfterWrite = false;
    this.bev._output.free();
    return true;
  }

  #writeCompleted(n: number): void {
    this.#writing = false;
    const bev = this.bev;
    if (this.#outputFreedAfterWrite() || this.#closed || bev._freed) return;
    // Write progress for the read-ahead cap's stall check (no timer work per write).
    this.#writes++;
    this.#stallBudget = 0;
    if (!bev._observesWrites() && !this.#finishing) {
      // Nobody can observe this write: finish it here, without a dispatch pass.
      bev._output._drainInternal(n);
      if (bev._output.length > 0) {
        this.#startWrite();
        // Uncapped (a client sending a large request) keeps reading while it writes.
        if (this.#state === 0) this.#startRead();
      } else if (this.#state === 0) {
        this.#startRead();
        bev._updateHold();
      }
      return;
    }
    this.#wrote += n;
    this.#queue(ST_WROTE);
  }

  #wroteCompleted(): void {
    const bev = this.bev;
    const err = this.#writeErr;
    if (err !== null) {
      this.#writeErr = null;
      if (this.#closed) return;
      bev._fail(BEV_EVENT_WRITING | BEV_EVENT_ERROR, err);
      return;
    }
    const n = this.#wrote;
    this.#wrote = 0;
    if (n > 0) {
      bev._output._drainInternal(n);
      bev._wroteDone(n, this.#writeGen);
    }
  }

  #armStall(): void {
    const t = this.#stallTimer ??= new InternalTimer(this.bev._base, () => this.#stalled());
    if (t.armed) return;
    this.#stallSeen = this.#writes;
    t.arm(readAheadStall.stallMs);
  }

  /** `stallMs` after the cap held a read back: grant one read if no write completed since. */
  #stalled(): void {
    if (this.#closed || !this.#writing || !this.#feedsOutput) return;
    if (this.#writes !== this.#stallSeen) {
      // The peer took bytes: it reads, so the cap holds; look again later.
      this.#stallSeen = this.#writes;
      this.#stallTimer!.arm(readAheadStall.stallMs);
      return;
    }
    this.#stallBudget = readAheadStall.grant;
    this.#startRead();
  }

  #maybeShutdown(): void {
    if (!this.#finishing || this.#shutdown || this.#writing || this.conn === null) return;
    if (this.bev._output.length > 0) return;
    this.#shutdown = true;
    this.conn.closeWrite().catch(() => {/* the peer is gone: the read side reports it */});
  }
}
