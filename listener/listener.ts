/**
 * `EvConnListener`: accepts connections and hands each to a callback (libevent's
 * `evconnlistener`).
 *
 * @module
 */

import { ActiveEntry } from "../reactor/_active.ts";
import { InternalTimer } from "../reactor/_internal_timer.ts";
import { EvError } from "../reactor/errors.ts";
import type { EventBase } from "../reactor/event_base.ts";
import { LEV_OPT_CLOSE_ON_FREE, LEV_OPT_DISABLED, LEV_OPT_REUSEABLE_PORT } from "./constants.ts";

/** Called for each accepted connection: `(listener, conn, remoteAddr, arg)`. */
export type ListenerCb = (
  lev: EvConnListener,
  conn: Deno.Conn,
  remote: Deno.Addr,
  arg?: unknown,
) => void;

/** Called when accepting fails: `(listener, error, arg)`. The listener keeps accepting. */
export type ListenerErrorCb = (lev: EvConnListener, err: Error, arg?: unknown) => void;

/** First back-off after an accept error, doubled up to `MAX_BACKOFF`. */
const MIN_BACKOFF = 10;
const MAX_BACKOFF = 1000;
/** Accepted connections staged before the callback runs; accepting pauses beyond this. */
const MAX_STAGED = 128;

class AcceptEntry extends ActiveEntry {
  constructor(readonly lev: EvConnListener) {
    super();
  }
  _run(): void {
    this.lev._deliver();
  }
}

/**
 * A connection listener. Each accepted connection goes to the callback, which usually wraps it in
 * `Bufferevent.socketNew`. An accept error never stops the listener for good: it is reported to
 * the error callback and accepting resumes after a short back-off.
 *
 * `backlog` is accepted for compatibility but Deno does not expose the listen backlog (the
 * runtime uses its own default).
 *
 * @example
 * ```ts
 * import { EvConnListener, LEV_OPT_CLOSE_ON_FREE, LEV_OPT_REUSEABLE } from "@evdeno/evdeno/listener";
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * const lev = EvConnListener.newBind(base, (_lev, conn) => {
 *   conn.close(); // hand it to Bufferevent.socketNew in real code
 * }, null, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1, { hostname: "127.0.0.1", port: 0 });
 * console.log("listening on", lev.addr);
 * lev.free();
 * ```
 */
export class EvConnListener {
  #base: EventBase;
  #cb: ListenerCb | null;
  #arg: unknown;
  #errcb: ListenerErrorCb | null = null;
  #flags: number;
  #listener: Deno.Listener;
  #enabled: boolean;
  #accepting = false;
  /** Freed for its owner with our accept still in flight: ref the listener once it settles. */
  #giveBack = false;
  #staged: Deno.Conn[] = [];
  #err: Error | null = null;
  #entry: AcceptEntry;
  #freed = false;
  #held = false;
  #backoff = 0;
  #timer: InternalTimer;
  #onAccept: (c: Deno.Conn) => void;
  #onAcceptErr: (e: unknown) => void;

  /**
   * Binds `addr` (TCP, or Unix with `{ transport: "unix", path }`) and listens. Binding a port in
   * use throws an `EvError` whose `cause` is `Deno.errors.AddrInUse`. `LEV_OPT_REUSEABLE_PORT` on
   * a Unix address throws a `TypeError`.
   */
  static newBind(
    base: EventBase,
    cb: ListenerCb | null,
    arg: unknown,
    flags: number,
    backlog: number,
    addr: Deno.ListenOptions | Deno.UnixListenOptions,
  ): EvConnListener {
    // SO_REUSEPORT means nothing for AF_UNIX; libevent fails to create such a listener rather
    // than let two processes believe they share one path.
    if ("path" in addr && (flags & LEV_OPT_REUSEABLE_PORT) !== 0) {
      throw new TypeError("LEV_OPT_REUSEABLE_PORT is not supported on Unix sockets");
    }
    let l: Deno.Listener;
    try {
      if ("path" in addr) {
        l = Deno.listen({ ...(addr as Deno.UnixListenOptions), transport: "unix" });
      } else {
        const a = addr as Deno.ListenOptions;
        const opts: Deno.TcpListenOptions = { hostname: a.hostname, port: a.port };
        if ((flags & LEV_OPT_REUSEABLE_PORT) !== 0) opts.reusePort = true;
        l = Deno.listen(opts);
      }
    } catch (e) {
      throw new EvError(`cannot listen: ${(e as Error).message}`, { cause: e });
    }
    return new EvConnListener(base, cb, arg, flags | LEV_OPT_CLOSE_ON_FREE, backlog, l);
  }

  /**
   * Binds a TLS listener (`Deno.listenTls`; `tls.cert`/`tls.key` are PEM text). Accepted
   * connections are `Deno.TlsConn`s: wrap them with `Bufferevent.tlsNew(base, conn, {})` to get
   * `BEV_EVENT_CONNECTED` after the handshake (and a handshake deadline).
   */
  static newBindTls(
    base: EventBase,
    cb: ListenerCb | null,
    arg: unknown,
    flags: number,
    backlog: number,
    addr: Deno.ListenOptions,
    tls: { cert: string; key: string; alpnProtocols?: string[] },
  ): EvConnListener {
    let l: Deno.Listener;
    try {
      const opts: Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem = {
        hostname: addr.hostname,
        port: addr.port,
        cert: tls.cert,
        key: tls.key,
      };
      if (tls.alpnProtocols !== undefined) opts.alpnProtocols = tls.alpnProtocols;
      l = Deno.listenTls(opts);
    } catch (e) {
      throw new EvError(`cannot listen: ${(e as Error).message}`, { cause: e });
    }
    return new EvConnListener(base, cb, arg, flags | LEV_OPT_CLOSE_ON_FREE, backlog, l);
  }

  /** Wraps an existing listener (closed on `free()` only with `LEV_OPT_CLOSE_ON_FREE`). */
  constructor(
    base: EventBase,
    cb: ListenerCb | null,
    arg: unknown,
    flags: number,
    _backlog: number,
    listener: Deno.Listener,
  ) {
    this.#base = base;
    this.#cb = cb;
    this.#arg = arg;
    this.#flags = flags;
    this.#listener = listener;
    this.#enabled = (flags & LEV_OPT_DISABLED) === 0;
    this.#entry = new AcceptEntry(this);
    this.#entry._pri = base._defaultPriority();
    this.#timer = new InternalTimer(base, () => this.#kick());
    this.#onAccept = (c) => {
      this.#accepting = false;
      if (this.#freed) {
        // Deno cannot cancel an accept: this one outlived free() and its connection has no
        // callback to go to (see free()).
        c.close();
        this.#returnListener();
        return;
      }
      this.#backoff = 0;
      this.#staged.push(c);
      this.#base._activateEntry(this.#entry);
      // Keep the accept pipeline full: a burst of clients is taken in one pass.
      this.#kick();
    };
    this.#onAcceptErr = (e) => {
      this.#accepting = false;
      if (this.#freed) {
        this.#returnListener();
        return;
      }
      if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) {
        // The listener was closed under us: nothing more will come.
        this.#enabled = false;
        this.#hold();
        return;
      }
      if (
        e instanceof Deno.errors.ConnectionAborted || e instanceof Deno.errors.NotConnected ||
        e instanceof Deno.errors.ConnectionReset
      ) {
        // A client gave up before we took it (ECONNABORTED; or reset after the accept, which
        // Deno reports as ENOTCONN from its getpeername): that client's failure, not the
        // listener's, so no back-off. libevent retries at once. Backing off here let a client
        // resetting one connection a second keep the server from accepting anyone.
        this.#kick();
        return;
      }
      this.#err = e instanceof Error ? e : new EvError(String(e));
      this.#base._activateEntry(this.#entry);
    };
    const u = listener as unknown as { ref?: () => void; unref?: () => void };
    if (typeof u.unref === "function" && typeof u.ref === "function") {
      base._trackResource(listener as unknown as { ref(): void; unref(): void });
    }
    this.#kick();
  }

  /** The address the listener is bound to (port 0 binds an ephemeral port; read it here). */
  get addr(): Deno.Addr {
    return this.#listener.addr;
  }

  /** The wrapped `Deno.Listener`. */
  get listener(): Deno.Listener {
    return this.#listener;
  }

  /** Starts (or resumes) accepting. */
  enable(): void {
    if (this.#freed) return;
    this.#enabled = true;
    this.#kick();
    if (this.#staged.length > 0) this.#base._activateEntry(this.#entry);
  }

  /** Stops accepting; connections wait in the kernel's queue until `enable()`. */
  disable(): void {
    this.#enabled = false;
    this.#hold();
  }

  /** Changes the callback; a listener that had none starts accepting now. */
  setCb(cb: ListenerCb | null, arg?: unknown): void {
    this.#cb = cb;
    this.#arg = arg;
    this.#kick();
    if (cb !== null && this.#staged.length > 0) this.#base._activateEntry(this.#entry);
  }

  /** Sets the error callback (accept failures such as running out of descriptors). */
  setErrorCb(cb: ListenerErrorCb | null): void {
    this.#errcb = cb;
  }

  /** The base. */
  getBase(): EventBase {
    return this.#base;
  }

  /**
   * Stops accepting; with `LEV_OPT_CLOSE_ON_FREE` closes the listener. Safe in its callback.
   * Without that flag the listener stays open for its owner, but an accept already in flight
   * cannot be cancelled in Deno: it takes the next connection and closes it.
   */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#enabled = false;
    this.#timer.disarm();
    this.#base._deactivate(this.#entry);
    for (const c of this.#staged) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    this.#staged.length = 0;
    this.#base._untrackResource(this.#listener as unknown as { ref(): void; unref(): void });
    if ((this.#flags & LEV_OPT_CLOSE_ON_FREE) !== 0) {
      try {
        this.#listener.close();
      } catch { /* already closed */ }
    } else if (this.#accepting) {
      // Left open for its owner, but our accept cannot be cancelled: until it settles it must
      // not keep the process alive; then the owner gets the listener back ref'ed.
      this.#giveBack = true;
      this.#refListener(false);
    } else {
      // Left open for its owner as it came: ref'ed (the stopped loop may have unref'ed it).
      this.#refListener(true);
    }
    this.#hold();
  }

  /** Our last accept settled after free(): the owner's listener keeps the process alive again. */
  #returnListener(): void {
    if (!this.#giveBack) return;
    this.#giveBack = false;
    this.#refListener(true);
  }

  #refListener(on: boolean): void {
    const l = this.#listener as unknown as { ref?: () => void; unref?: () => void };
    try {
      if (on) l.ref?.();
      else l.unref?.();
    } catch { /* closed */ }
  }

  /** Runs the callbacks for what was accepted. @ignore */
  _deliver(): void {
    const err = this.#err;
    if (err !== null) {
      this.#err = null;
      if (this.#errcb !== null) {
        try {
          this.#errcb(this, err, this.#arg);
        } catch (e) {
          this.#base._reportError(e);
        }
      } else {
        this.#base._log(2, `accept failed: ${err.message}`);
      }
      if (this.#freed) return;
      this.#backoff = Math.min(MAX_BACKOFF, this.#backoff === 0 ? MIN_BACKOFF : this.#backoff * 2);
      this.#timer.arm(this.#backoff);
      this.#hold();
    }
    while (this.#staged.length > 0 && this.#enabled && this.#cb !== null && !this.#freed) {
      const c = this.#staged.shift()!;
      try {
        this.#cb(this, c, c.remoteAddr, this.#arg);
      } catch (e) {
        this.#base._reportError(e);
      }
    }
    this.#kick();
  }

  #kick(): void {
    if (
      this.#accepting || this.#freed || !this.#enabled || this.#cb === null ||
      this.#timer.armed || this.#staged.length >= MAX_STAGED
    ) {
      this.#hold();
      return;
    }
    this.#accepting = true;
    this.#hold();
    this.#listener.accept().then(this.#onAccept, this.#onAcceptErr);
  }

  /** A listener that can accept keeps the loop running, as libevent's pending accept event does. */
  #hold(): void {
    const want = !this.#freed && this.#enabled && this.#cb !== null;
    if (want !== this.#held) {
      this.#held = want;
      this.#base._nRefs += want ? 1 : -1;
    }
  }
}
