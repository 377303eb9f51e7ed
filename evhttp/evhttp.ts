/**
 * `Evhttp`: the HTTP/1.1 server with libevent's router (exact paths, a generic callback,
 * virtual hosts and aliases), limits, timeouts and graceful shutdown.
 *
 * @module
 */

import { Bufferevent } from "../bufferevent/bufferevent.ts";
import { BEV_OPT_CLOSE_ON_FREE } from "../bufferevent/constants.ts";
import { EvConnListener } from "../listener/listener.ts";
import { LEV_OPT_CLOSE_ON_FREE, LEV_OPT_REUSEABLE } from "../listener/constants.ts";
import { InternalTimer } from "../reactor/_internal_timer.ts";
import { EvError } from "../reactor/errors.ts";
import type { EventBase } from "../reactor/event_base.ts";
import type { Evbuffer } from "../bufferevent/evbuffer.ts";
import { ServerConn } from "./_server_conn.ts";
import {
  EVHTTP_REQ_DELETE,
  EVHTTP_REQ_GET,
  EVHTTP_REQ_HEAD,
  EVHTTP_REQ_POST,
  EVHTTP_REQ_PUT,
  type EvhttpExtMethodCb,
} from "./constants.ts";
import type { EvhttpRequest, RequestCb } from "./request.ts";

/**
 * Makes the bufferevent for an accepted connection: `(base, arg, conn)`. It must return a
 * bufferevent carrying `conn` (for example `Bufferevent.socketNew(base, conn,
 * BEV_OPT_CLOSE_ON_FREE)`, or a filter over one); unlike libevent, the connection is passed in
 * because a Deno bufferevent cannot adopt a descriptor later.
 *
 * @example
 * ```ts
 * import { BEV_OPT_CLOSE_ON_FREE, Bufferevent } from "@evdeno/evdeno/bufferevent";
 * import type { EvhttpBevCb } from "@evdeno/evdeno/evhttp";
 * const bevcb: EvhttpBevCb = (base, _arg, conn) =>
 *   Bufferevent.socketNew(base, conn ?? null, BEV_OPT_CLOSE_ON_FREE);
 * ```
 */
export type EvhttpBevCb = (base: EventBase, arg?: unknown, conn?: Deno.Conn) => Bufferevent;

/**
 * Runs once a request's head has been received, before its body is read: `(req, arg)`. It may
 * call `req.setChunkedCb(cb)` to stream the body, or answer at once (e.g. 401 before a large
 * upload; the connection then closes after the reply). Returning a negative number closes the
 * connection without a reply.
 *
 * @example
 * ```ts
 * import { type EvhttpHeaderCb, HTTP_UNAUTHORIZED } from "@evdeno/evdeno/evhttp";
 * const headerCb: EvhttpHeaderCb = (req) => {
 *   if (req.getInputHeaders().find("Authorization") === undefined) {
 *     req.sendError(HTTP_UNAUTHORIZED); // before the body is read
 *   }
 * };
 * ```
 */
export type EvhttpHeaderCb = (req: EvhttpRequest, arg?: unknown) => number | void;

/**
 * Writes a custom error page: `(req, buf, code, reason, arg)`. `buf` is empty; whatever the
 * callback adds to it becomes the page body. Returning a negative number, or adding nothing,
 * keeps the default page. `reason` is the text the default page would carry below its heading
 * (HTML; `null` when there is none). `req` is the request the page answers; for errors before
 * a request could be read (malformed or oversized head, 408, 503 over the connection limit) it
 * is the request attached to the connection, with whatever of the head was parsed.
 *
 * @example
 * ```ts
 * import type { EvhttpErrorCb } from "@evdeno/evdeno/evhttp";
 * const errorcb: EvhttpErrorCb = (_req, buf, code) => {
 *   if (code !== 404) return -1; // the default page for everything else
 *   buf.add("<h1>Nothing here</h1>");
 * };
 * ```
 */
export type EvhttpErrorCb = (
  req: EvhttpRequest,
  buf: Evbuffer,
  code: number,
  reason: string | null,
  arg?: unknown,
) => number | void;

/**
 * Runs when a request object is attached to a connection, before anything of it is read:
 * `(req, arg)`. Returning a negative number (libevent: -1) closes the connection.
 *
 * @example
 * ```ts
 * import type { EvhttpNewreqCb } from "@evdeno/evdeno/evhttp";
 * let started = 0;
 * const newreqcb: EvhttpNewreqCb = () => (++started % 7 === 0 ? -1 : 0); // throttle every 7th
 * ```
 */
export type EvhttpNewreqCb = (req: EvhttpRequest, arg?: unknown) => number | void;

/**
 * A socket an `Evhttp` accepts connections on (libevent's `evhttp_bound_socket`).
 *
 * @example
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import { Evhttp } from "@evdeno/evdeno/evhttp";
 * const http = new Evhttp(new EventBase());
 * const bound = http.bindSocket("127.0.0.1", 0);
 * console.log("port", (bound.addr as Deno.NetAddr).port);
 * http.delAcceptSocket(bound);
 * http.free();
 * ```
 */
export class EvhttpBoundSocket {
  /** @ignore */
  readonly _lev: EvConnListener;

  /** Created by the `Evhttp` bind methods. @ignore */
  constructor(lev: EvConnListener) {
    this._lev = lev;
  }

  /** The bound address (port 0 binds an ephemeral port: read it here). */
  get addr(): Deno.Addr {
    return this._lev.addr;
  }

  /** The listener underneath. */
  getListener(): EvConnListener {
    return this._lev;
  }
}

interface Route {
  cb: RequestCb;
  arg: unknown;
}

function onAccept(_lev: EvConnListener, conn: Deno.Conn, remote: Deno.Addr, arg: unknown): void {
  (arg as Evhttp)._accept(conn, remote);
}

/** Case-insensitive glob with `*` only (libevent's vhost patterns); both already lowercased. */
function globMatch(pattern: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let star = -1;
  let mark = 0;
  while (i < s.length) {
    if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      mark = i;
    } else if (p < pattern.length && pattern[p] === s[i]) {
      p++;
      i++;
    } else if (star >= 0) {
      p = star + 1;
      i = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

/**
 * An HTTP/1.1 server (libevent's `evhttp`), built on `EvConnListener` → `Bufferevent` →
 * `Evbuffer`. Behaviour is libevent's, except where RFC 9110/9112 disagree (see the README's
 * "RFC wins" table): 405 with `Allow` for disallowed methods, 414/431 for oversized heads, 408
 * on a read timeout mid-request, 400 on ambiguous framing, bodies never sent for HEAD, 1xx, 204
 * and 304, standard reason phrases on error pages, 505 for other HTTP versions.
 *
 * Durations are milliseconds. Callbacks run inside `EventBase.loop()`.
 *
 * @example
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import { Evhttp } from "@evdeno/evdeno/evhttp";
 * const base = new EventBase();
 * const http = new Evhttp(base);
 * http.setCb("/hello", (req) => {
 *   req.getOutputHeaders().add("Content-Type", "text/plain");
 *   req.sendReply(200, "OK", "hello\n");
 * });
 * http.setTimeout(5000);
 * const bound = http.bindSocket("127.0.0.1", 0);
 * console.log("listening on", bound.addr);
 * // await base.dispatch();  // serve until http.shutdown(...) or base.loopbreak()
 * http.free();
 * ```
 */
export class Evhttp {
  /** @ignore */
  readonly _base: EventBase;
  /** @ignore */
  _readTimeout = 0;
  /** @ignore */
  _writeTimeout = 0;
  /** @ignore */
  _headerTimeout = 0;
  /** @ignore */
  _lifetime = 0;
  /** @ignore */
  _maxHeadersSize = -1;
  /** @ignore */
  _maxBodySize = -1;
  /** @ignore */
  _maxConnections = 0;
  /** @ignore */
  _allowedMethods: number = EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
    EVHTTP_REQ_DELETE;
  /** @ignore */
  _defaultContentType: string | null = "text/html; charset=ISO-8859-1";
  /** @ignore */
  _headerCb: EvhttpHeaderCb | null = null;
  /** @ignore */
  _headerArg: unknown = undefined;
  /** @ignore */
  _errorcb: EvhttpErrorCb | null = null;
  /** @ignore */
  _errorcbArg: unknown = undefined;
  /** @ignore */
  _newreqcb: EvhttpNewreqCb | null = null;
  /** @ignore */
  _newreqcbArg: unknown = undefined;
  /** @ignore */
  _extMethodCmp: EvhttpExtMethodCb | null = null;
  #bound: Set<EvhttpBoundSocket> = new Set();
  #conns: Set<ServerConn> = new Set();
  /**
   * Connections in `#conns` refused with 503: they linger to deliver it (closing with unread
   * input would reset it away) but, as in libevent, no longer count against the limit.
   */
  #nRefused = 0;
  #routes: Map<string, Route> = new Map();
  #gencb: RequestCb | null = null;
  #genarg: unknown = undefined;
  #vhosts: { pattern: string; http: Evhttp }[] = [];
  #aliases: string[] = [];
  #parent: Evhttp | null = null;
  #bevcb: EvhttpBevCb | null = null;
  #bevarg: unknown = undefined;
  #freed = false;
  #shutdownTimer: InternalTimer | null = null;
  #shutdownDone: (() => void) | null = null;
  #shutdownPromise: Promise<void> | null = null;

  /** A server on `base` with libevent's defaults (no timeouts, no limits). */
  constructor(base: EventBase) {
    this._base = base;
  }

  /** The base the server runs on. */
  getBase(): EventBase {
    return this._base;
  }

  // ------------------------------------------------------------------ sockets

  /**
   * Binds `address:port` (port 0: ephemeral; read `.addr`) and accepts on it. May be called
   * again for more addresses. Throws an `EvError` (cause `Deno.errors.AddrInUse`, …) on failure.
   */
  bindSocket(address: string, port: number): EvhttpBoundSocket {
    this.#checkSockets();
    const lev = EvConnListener.newBind(
      this._base,
      onAccept,
      this,
      LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE,
      128,
      { hostname: address, port },
    );
    return this.#addBound(lev);
  }

  /** Accepts on an already listening `Deno.Listener` (closed when the socket is deleted). */
  acceptSocket(listener: Deno.Listener): EvhttpBoundSocket {
    this.#checkSockets();
    return this.#addBound(
      new EvConnListener(this._base, onAccept, this, LEV_OPT_CLOSE_ON_FREE, 0, listener),
    );
  }

  /** Accepts on an existing `EvConnListener` (its callback is replaced; freed with the socket). */
  bindListener(lev: EvConnListener): EvhttpBoundSocket {
    this.#checkSockets();
    lev.setCb(onAccept, this);
    return this.#addBound(lev);
  }

  /**
   * Binds an HTTPS socket: `tls.cert` and `tls.key` are PEM text (as `Deno.listenTls` takes
   * them). Each connection's handshake must finish within 10 s (and within `setHeaderTimeout`
   * when that is shorter); a failed handshake (a plain-text client, an aborted one) just closes
   * that connection.
   */
  bindSocketTls(
    address: string,
    port: number,
    tls: { cert: string; key: string },
  ): EvhttpBoundSocket {
    this.#checkSockets();
    let l: Deno.TlsListener;
    try {
      l = Deno.listenTls({ hostname: address, port, cert: tls.cert, key: tls.key });
    } catch (e) {
      throw new EvError(`cannot listen: ${(e as Error).message}`, { cause: e });
    }
    return this.#addBound(
      new EvConnListener(this._base, onAccept, this, LEV_OPT_CLOSE_ON_FREE, 0, l),
    );
  }

  /** Stops accepting on `bound` and closes it (connections already accepted carry on). */
  delAcceptSocket(bound: EvhttpBoundSocket): void {
    if (!this.#bound.delete(bound)) throw new EvError("delAcceptSocket: not bound to this server");
    bound._lev.free();
  }

  // ------------------------------------------------------------------ routing

  /**
   * Registers `cb` for the exact path `path`, matched against the percent-decoded path of the
   * request target without its query (`/a%20b?x=1` matches `"/a b"`). Throws if `path` already
   * has a callback.
   */
  setCb(path: string, cb: RequestCb, arg?: unknown): void {
    if (this.#routes.has(path)) throw new EvError(`setCb: ${path} already has a callback`);
    this.#routes.set(path, { cb, arg });
  }

  /** Removes the callback of `path`; throws if there is none. */
  delCb(path: string): void {
    if (!this.#routes.delete(path)) throw new EvError(`delCb: no callback for ${path}`);
  }

  /** The callback for every request no `setCb` path matches (`null`: the default 404 page). */
  setGencb(cb: RequestCb | null, arg?: unknown): void {
    this.#gencb = cb;
    this.#genarg = arg;
  }

  /**
   * Runs `cb(req, arg)` when a request's head is complete, before its body is read (see
   * `EvhttpHeaderCb`): the place to call `req.setChunkedCb` and stream large uploads, or to
   * refuse them early. A virtual host's own hook applies to its requests.
   */
  setHeaderCb(cb: EvhttpHeaderCb | null, arg?: unknown): void {
    this._headerCb = cb;
    this._headerArg = arg;
  }

  /**
   * Custom error pages (libevent's `evhttp_set_errorcb`): every error page the server sends —
   * 404 for unrouted requests, 400, 405, 408, 413, 414, 417, 431, 501, 503, 505, and
   * `req.sendError` from handlers — gets its body from `cb(req, buf, code, reason, arg)` (see
   * `EvhttpErrorCb`). The status line, `Content-Type: text/html` and `Connection: close` stay
   * as for the default page. A virtual host's requests use the main server's callback. `null`
   * restores the default pages.
   *
   * @example
   * ```ts
   * import { EventBase } from "@evdeno/evdeno/reactor";
   * import { Evhttp, evhttpHtmlescape } from "@evdeno/evdeno/evhttp";
   * const http = new Evhttp(new EventBase());
   * http.setErrorcb((req, buf, code) => {
   *   buf.add(`<h1>${code}</h1><p>${evhttpHtmlescape(req.getUri())}</p>`);
   * });
   * http.free();
   * ```
   */
  setErrorcb(cb: EvhttpErrorCb | null, arg?: unknown): void {
    this._errorcb = cb;
    this._errorcbArg = arg;
  }

  /**
   * Runs `cb(req, arg)` each time a request object is attached to a connection (libevent's
   * `evhttp_set_newreqcb`): once a connection is accepted, and on a keep-alive connection again
   * after each reply has been written — before anything of that request is read. The request
   * is empty then; the hook may set its callbacks (e.g. `req.setOnCompleteCb`). Returning a
   * negative number (libevent: -1) closes the connection without a reply, e.g. to throttle.
   * While it is set, a pipelined request is read only after the previous reply went out (as in
   * libevent). `null` removes it.
   *
   * @example
   * ```ts
   * import { EventBase } from "@evdeno/evdeno/reactor";
   * import { Evhttp } from "@evdeno/evdeno/evhttp";
   * const http = new Evhttp(new EventBase());
   * let inFlight = 0;
   * http.setNewreqcb((req) => {
   *   if (inFlight >= 1000) return -1; // shed load: close the connection
   *   inFlight++;
   *   req.setOnCompleteCb(() => inFlight--);
   * });
   * http.free();
   * ```
   */
  setNewreqcb(cb: EvhttpNewreqCb | null, arg?: unknown): void {
    this._newreqcb = cb;
    this._newreqcbArg = arg;
  }

  /**
   * Extension methods (libevent's `evhttp_set_ext_method_cmp`): a request whose method token
   * is not one of the `EVHTTP_REQ_*` names is offered to `cb`, which may map it to a bit
   * beyond `EVHTTP_REQ_MAX` (see `EvhttpExtMethodCb`); the request is then served like any
   * other, with that bit from `req.getCommand()` and the token from `req.getCommandName()`.
   * Allow the bit with `setAllowedMethods` (else 405, with the method in `Allow`). Unmapped
   * tokens still get 501. Applies to connections accepted from now on. `null` removes it.
   *
   * @example
   * ```ts
   * import { EventBase } from "@evdeno/evdeno/reactor";
   * import { Evhttp, EVHTTP_REQ_GET, EVHTTP_REQ_MAX } from "@evdeno/evdeno/evhttp";
   * const EVHTTP_REQ_CUSTOM = EVHTTP_REQ_MAX << 1;
   * const http = new Evhttp(new EventBase());
   * http.setExtMethodCmp((m) => {
   *   if (m.method === "CUSTOM") m.type = EVHTTP_REQ_CUSTOM;
   *   else if (m.method === null && m.type === EVHTTP_REQ_CUSTOM) m.method = "CUSTOM";
   *   else return -1;
   *   return 0;
   * });
   * http.setAllowedMethods(EVHTTP_REQ_GET | EVHTTP_REQ_CUSTOM);
   * http.setCb("/custom", (req) => req.sendReply(200, null, req.getCommandName()));
   * http.free();
   * ```
   */
  setExtMethodCmp(cb: EvhttpExtMethodCb | null): void {
    this._extMethodCmp = cb;
  }

  // ------------------------------------------------------------------ configuration

  /** Read and write timeout (ms) for connections accepted from now on; ≤ 0: none. */
  setTimeout(ms: number): void {
    this.setReadTimeout(ms);
    this.setWriteTimeout(ms);
  }

  /**
   * Read timeout (ms): restarts on every read; idle between requests the connection closes
   * silently, with a request partly received it gets 408 first. ≤ 0: none.
   */
  setReadTimeout(ms: number): void {
    this._readTimeout = ms > 0 ? ms : 0;
  }

  /** Write timeout (ms) while response bytes are pending; the connection closes. ≤ 0: none. */
  setWriteTimeout(ms: number): void {
    this._writeTimeout = ms > 0 ? ms : 0;
  }

  /**
   * Deadline (ms) for receiving a whole request head, counted from the connection's accept (first
   * request) or from the first bytes of a later one, however slowly they trickle in (slowloris).
   * A partial head then gets 408 and the connection closes; a connection that sent nothing
   * closes silently. ≤ 0: none (the default).
   */
  setHeaderTimeout(ms: number): void {
    this._headerTimeout = ms > 0 ? ms : 0;
  }

  /**
   * Caps a connection's lifetime (ms from accept): afterwards an idle connection closes, a
   * request being received gets 408, and a request being handled is answered with
   * `Connection: close`. ≤ 0: no cap (the default).
   */
  setConnectionLifetime(ms: number): void {
    this._lifetime = ms > 0 ? ms : 0;
  }

  /**
   * The methods served (a mask of `EVHTTP_REQ_*`, and extension-method bits; default GET,
   * POST, HEAD, PUT, DELETE). Others get 405 with an `Allow` header; methods the server does
   * not know (nor `setExtMethodCmp` maps) get 501.
   */
  setAllowedMethods(mask: number): void {
    this._allowedMethods = mask;
  }

  /**
   * Largest request head: request line plus header lines, without line endings (< 0:
   * unlimited, the default). A longer request line gets 414, a larger head 431.
   */
  setMaxHeadersSize(n: number): void {
    this._maxHeadersSize = n < 0 ? -1 : n;
  }

  /** Largest request body (< 0: unlimited, the default); larger gets 413. */
  setMaxBodySize(n: number): void {
    this._maxBodySize = n < 0 ? -1 : n;
  }

  /** Most simultaneous connections (≤ 0: unlimited); beyond it a client gets 503 and a close. */
  setMaxConnections(n: number): void {
    this._maxConnections = n > 0 ? n : 0;
  }

  /** Connections currently open (not counting refused ones still delivering their 503). */
  getConnectionCount(): number {
    return this.#conns.size - this.#nRefused;
  }

  /**
   * The `Content-Type` added to responses with a body that set none (default
   * `text/html; charset=ISO-8859-1`, as libevent); `null`: add none.
   */
  setDefaultContentType(type: string | null): void {
    this._defaultContentType = type;
  }

  /**
   * Makes each connection's bufferevent with `cb(base, arg, conn)` (TLS, filters, options)
   * instead of a plain socket bufferevent; `null` restores the default.
   */
  setBevcb(cb: EvhttpBevCb | null, arg?: unknown): void {
    this.#bevcb = cb;
    this.#bevarg = arg;
  }

  // ------------------------------------------------------------------ virtual hosts

  /**
   * Serves requests whose host matches `pattern` (case-insensitive, `*` matches any run of
   * characters) with `vhost`'s callbacks only. `vhost` must have no sockets and not be another
   * server's virtual host already. Virtual hosts nest.
   */
  addVirtualHost(pattern: string, vhost: Evhttp): void {
    if (vhost === this || vhost.#parent !== null || vhost.#bound.size !== 0) {
      throw new EvError("addVirtualHost: the virtual host is bound or already attached");
    }
    vhost.#parent = this;
    this.#vhosts.push({ pattern: pattern.toLowerCase(), http: vhost });
  }

  /** Detaches a virtual host; throws if it is not one of this server's. */
  removeVirtualHost(vhost: Evhttp): void {
    const i = this.#vhosts.findIndex((v) => v.http === vhost);
    if (i < 0) throw new EvError("removeVirtualHost: not a virtual host of this server");
    this.#vhosts.splice(i, 1);
    vhost.#parent = null;
  }

  /** Another exact host name (case-insensitive) this server (or virtual host) answers for. */
  addServerAlias(alias: string): void {
    this.#aliases.push(alias.toLowerCase());
  }

  /** Removes an alias; throws if it is not registered. */
  removeServerAlias(alias: string): void {
    const i = this.#aliases.indexOf(alias.toLowerCase());
    if (i < 0) throw new EvError(`removeServerAlias: no alias ${alias}`);
    this.#aliases.splice(i, 1);
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Graceful shutdown: stops accepting at once, closes idle connections, lets requests in
   * progress finish (their replies say `Connection: close`), and after `deadlineMs` closes
   * whatever is left. Resolves once every connection is closed; the loop must be running for
   * that to happen. Calling it again returns the same promise.
   */
  shutdown(deadlineMs: number): Promise<void> {
    if (this.#shutdownPromise !== null) return this.#shutdownPromise;
    this.#shutdownPromise = new Promise<void>((resolve) => {
      this.#shutdownDone = resolve;
    });
    for (const b of this.#bound) b._lev.free();
    this.#bound.clear();
    for (const c of [...this.#conns]) {
      c.closeSoon = true;
      c.closeIfIdle();
    }
    if (this.#conns.size === 0) this.#finishShutdown();
    else {
      this.#shutdownTimer = new InternalTimer(this._base, () => {
        for (const c of [...this.#conns]) c._close();
        this.#finishShutdown();
      });
      this.#shutdownTimer.arm(Math.max(0, deadlineMs));
    }
    return this.#shutdownPromise;
  }

  /**
   * Frees the server: closes its sockets and every connection (requests in progress are
   * detached: their replies become no-ops), and frees its virtual hosts.
   */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    for (const b of this.#bound) b._lev.free();
    this.#bound.clear();
    for (const c of [...this.#conns]) c._close();
    for (const v of this.#vhosts) v.http.free();
    this.#vhosts = [];
    this.#routes.clear();
    this.#finishShutdown();
    // Freed from outside the loop, a waiting loop would otherwise sleep until its next
    // deadline before noticing that nothing is left.
    this._base._wake();
  }

  // ------------------------------------------------------------------ internal

  /** An accepted connection. @ignore */
  _accept(conn: Deno.Conn, remote: Deno.Addr): void {
    if (this.#freed || this.#shutdownPromise !== null) {
      try {
        conn.close();
      } catch { /* already closed */ }
      return;
    }
    let bev: Bufferevent;
    try {
      if (this.#bevcb !== null) bev = this.#bevcb(this._base, this.#bevarg, conn);
      else if (typeof (conn as Deno.TlsConn).handshake === "function") {
        // HTTPS: the handshake runs first, under a deadline, so a stalled or plain-text client
        // fails it instead of holding the connection.
        bev = Bufferevent.tlsNew(this._base, conn, {}, BEV_OPT_CLOSE_ON_FREE);
      } else bev = Bufferevent.socketNew(this._base, conn, BEV_OPT_CLOSE_ON_FREE);
    } catch (e) {
      this._base._reportError(e);
      try {
        conn.close();
      } catch { /* already closed */ }
      return;
    }
    const sc = new ServerConn(this._base, this, bev, remote);
    this.#conns.add(sc);
    if (this._maxConnections > 0 && this.#conns.size - this.#nRefused > this._maxConnections) {
      this.#nRefused++;
      sc.refused = true;
      sc.reject503();
    } else sc.start();
  }

  /** A connection closed. @ignore */
  _connClosed(sc: ServerConn): void {
    if (this.#conns.delete(sc) && sc.refused) this.#nRefused--;
    if (this.#conns.size === 0 && this.#shutdownPromise !== null) this.#finishShutdown();
  }

  /** Whether any virtual host or alias is configured. @ignore */
  _hasVhosts(): boolean {
    return this.#vhosts.length !== 0 || this.#aliases.length !== 0;
  }

  /** The server (this one or a virtual host) for `host`. @ignore */
  _findVhost(host: string): Evhttp {
    if (host.length === 0 || (this.#vhosts.length === 0 && this.#aliases.length === 0)) {
      return this;
    }
    const lh = host.toLowerCase();
    const byAlias = this.#findAlias(lh);
    if (byAlias !== null) return byAlias;
    // deno-lint-ignore no-this-alias
    let http: Evhttp = this;
    for (;;) {
      let next: Evhttp | null = null;
      for (const v of http.#vhosts) {
        if (globMatch(v.pattern, lh)) {
          next = v.http;
          break;
        }
      }
      if (next === null) return http;
      http = next;
    }
  }

  /** Sets the request's callback from this server's routes. @ignore */
  _route(req: EvhttpRequest, path: string): void {
    const r = this.#routes.get(path);
    if (r !== undefined) {
      req._cb = r.cb;
      req._arg = r.arg;
    } else {
      req._cb = this.#gencb;
      req._arg = this.#genarg;
    }
  }

  #findAlias(lh: string): Evhttp | null {
    if (this.#aliases.includes(lh)) return this;
    for (const v of this.#vhosts) {
      const f = v.http.#findAlias(lh);
      if (f !== null) return f;
    }
    return null;
  }

  #checkSockets(): void {
    if (this.#freed) throw new EvError("Evhttp was freed");
    if (this.#parent !== null) throw new EvError("a virtual host cannot have sockets");
  }

  #addBound(lev: EvConnListener): EvhttpBoundSocket {
    const b = new EvhttpBoundSocket(lev);
    this.#bound.add(b);
    return b;
  }

  #finishShutdown(): void {
    this.#shutdownTimer?.disarm();
    this.#shutdownTimer = null;
    const done = this.#shutdownDone;
    this.#shutdownDone = null;
    done?.();
  }
}
