/**
 * `EvhttpConnection`: one HTTP connection (libevent's `evhttp_connection`). On the server side
 * the `Evhttp` creates one per accepted client and hands it out through
 * `EvhttpRequest.getConnection()`; on the client side `baseNew` / `baseBuffereventNew` create
 * one and `makeRequest` sends requests on it (the state machine is in `_client_conn.ts`).
 *
 * @module
 */

import type { Bufferevent } from "../bufferevent/bufferevent.ts";
import type { EvdnsBase } from "../dns/evdns_base.ts";
import { EvError } from "../reactor/errors.ts";
import type { EventBase } from "../reactor/event_base.ts";
import { ClientConn, DEFAULT_IO_TIMEOUT_MS } from "./_client_conn.ts";
import type { EvhttpExtMethodCb } from "./constants.ts";
import type { EvhttpRequest } from "./request.ts";

/** Called when a connection closes: `(conn, arg)`. */
export type EvhttpConnectionCloseCb = (conn: EvhttpConnection, arg?: unknown) => void;

/** TLS settings of an HTTPS client connection (PEM text for `caCerts`). */
export interface EvhttpClientTls {
  /** Name to verify the server certificate against (default: the host connected to). */
  hostname?: string;
  /** Extra trusted CA certificates, PEM (default: the system's roots only). */
  caCerts?: string[];
  /** ALPN protocols to offer. */
  alpnProtocols?: string[];
}

/** Options of `EvhttpConnection.baseNew`. */
export interface EvhttpConnectionOptions {
  /** Speak HTTPS: TLS with certificate verification (always on). */
  tls?: EvhttpClientTls;
}

/**
 * An HTTP connection, client or server side.
 *
 * **Client.** `EvhttpConnection.baseNew(base, dns, host, port)` makes a lazy connection: it
 * connects (through `dns`, or the system resolver when `null`; over TLS with `opts.tls`) when
 * the first request is made, keeps the connection alive between requests, and reconnects for
 * the next request once the server closed it. Requests queued with `makeRequest` go out in
 * order, one at a time (libevent), or pipelined after `setPipelining(true)`. Each request's
 * callback runs when its response is complete; on failure its error callback runs first with
 * an `EVREQ_HTTP_*` kind, then the request callback with `getResponseCode() === 0` and the
 * reason in `req.getError()` (libevent passes `NULL` instead). An idle keep-alive connection
 * keeps the loop running until the server closes it or it is freed, as in libevent.
 *
 * **Server.** `Evhttp` creates one for each accepted client; a request handler reaches it with
 * `req.getConnection()` (which returns `null` once the client went away).
 *
 * @example Client
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import { EVHTTP_REQ_GET, EvhttpConnection, EvhttpRequest } from "@evdeno/evdeno/evhttp";
 * const base = new EventBase();
 * const conn = EvhttpConnection.baseNew(base, null, "127.0.0.1", 8080);
 * const req = new EvhttpRequest((r) => {
 *   if (r.getResponseCode() === 0) console.error("failed:", r.getError()?.message);
 *   else console.log(r.getResponseCode(), r.getInputBuffer().toString());
 *   conn.free();
 * });
 * req.getOutputHeaders().add("Accept", "text/plain");
 * conn.makeRequest(req, EVHTTP_REQ_GET, "/hello");
 * // await base.dispatch();
 * conn.free();
 * ```
 *
 * @example Server
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import { Evhttp } from "@evdeno/evdeno/evhttp";
 * const base = new EventBase();
 * const http = new Evhttp(base);
 * http.setGencb((req) => {
 *   const conn = req.getConnection();
 *   if (conn !== null) {
 *     const peer = conn.getPeer();
 *     conn.setCloseCb(() => console.log("bye", peer.address));
 *     req.sendReply(200, null, `hello ${peer.address}:${peer.port}\n`);
 *   }
 * });
 * http.free();
 * ```
 */
export class EvhttpConnection {
  /** @ignore */
  _base: EventBase;
  /** @ignore */
  _bev: Bufferevent | null = null;
  /** @ignore */
  _peerAddress = "";
  /** @ignore */
  _peerPort = 0;
  /** @ignore */
  _closeCb: EvhttpConnectionCloseCb | null = null;
  /** @ignore */
  _closeArg: unknown = undefined;
  /** Read and write timeouts in ms (0: none). @ignore */
  _readTimeout = 0;
  /** @ignore */
  _writeTimeout = 0;
  /** Header limit in bytes (-1: unlimited). @ignore */
  _maxHeadersSize: number = -1;
  /** Body limit in bytes (-1: unlimited). @ignore */
  _maxBodySize: number = -1;
  /** Extension methods (server: copied from the `Evhttp` at accept). @ignore */
  _extMethodCmp: EvhttpExtMethodCb | null = null;

  /** The client machine (null for server connections). @ignore */
  _client: ClientConn | null = null;

  /** Use `Evhttp` (server) or the client factories; not constructed directly. @ignore */
  constructor(base: EventBase) {
    this._base = base;
  }

  /**
   * A client connection to `address:port` (libevent's `evhttp_connection_base_new`). Nothing
   * happens until the first `makeRequest`. A host name resolves through `dns` (the system
   * resolver when `null`). `opts.tls` makes it HTTPS: the server certificate is verified
   * against `tls.hostname` (default: `address`) with the system roots plus `tls.caCerts`.
   * Timeouts start at libevent's defaults: 45 s connect, 50 s read and write.
   */
  static baseNew(
    base: EventBase,
    dns: EvdnsBase | null,
    address: string,
    port: number,
    opts?: EvhttpConnectionOptions,
  ): EvhttpConnection {
    checkPort(port);
    const c = EvhttpConnection.#newClient(base, address, port);
    const tls = opts?.tls;
    c._client = new ClientConn(c, {
      dns,
      host: address,
      port,
      tls: tls === undefined ? null : { ...tls },
      bev: null,
      factory: null,
    });
    return c;
  }

  /**
   * A client connection over a bufferevent the caller made (libevent's
   * `evhttp_connection_base_bufferevent_new`), e.g. a `Bufferevent.tlsNew` one. An unconnected
   * `bev` is connected to `address:port` on the first request; a connected one is used as is.
   * A `Bufferevent` serves one transport only: pass a factory `(base) => Bufferevent` instead
   * to let the connection reconnect after the server closed it. `bev` is freed with the
   * connection.
   */
  static baseBuffereventNew(
    base: EventBase,
    dns: EvdnsBase | null,
    bev: Bufferevent | ((base: EventBase) => Bufferevent),
    address: string,
    port: number,
  ): EvhttpConnection {
    checkPort(port);
    const c = EvhttpConnection.#newClient(base, address, port);
    const isFactory = typeof bev === "function";
    c._client = new ClientConn(c, {
      dns,
      host: address,
      port,
      tls: null,
      bev: isFactory ? null : bev,
      factory: isFactory ? bev : null,
    });
    return c;
  }

  static #newClient(base: EventBase, address: string, port: number): EvhttpConnection {
    const c = new EvhttpConnection(base);
    c._peerAddress = address;
    c._peerPort = port;
    c._readTimeout = DEFAULT_IO_TIMEOUT_MS;
    c._writeTimeout = DEFAULT_IO_TIMEOUT_MS;
    return c;
  }

  /**
   * Client: queues `req` for sending with `method` (an `EVHTTP_REQ_*` bit) and `uri` (the
   * request target, e.g. `/path?query`). Connects if needed. The request line says HTTP/1.1;
   * `Host` is added unless the output headers have one; the body is the request's output
   * buffer with a `Content-Length` (always for POST and PUT), or streamed chunked (see
   * `EvhttpRequest.sendRequestChunk`). With `Expect: 100-continue` in the output headers the
   * body waits for the server's `100 Continue`. Throws for a server connection, a freed
   * connection, a request already pending, a method that is neither an `EVHTTP_REQ_*` bit nor
   * named by the `setExtMethodCmp` callback, or a target with CR, LF or NUL.
   */
  makeRequest(req: EvhttpRequest, method: number, uri: string): void {
    this.#clientSide("makeRequest").makeRequest(req, method, uri);
  }

  /**
   * Client: how many times a refused or timed-out connect is retried (libevent's default 0;
   * -1: forever). The n-th retry waits `initialRetryDelay × 2^(n-1)`, capped at an hour.
   */
  setRetries(n: number): void {
    this.#clientSide("setRetries").retries = n < 0 ? -1 : Math.floor(n);
  }

  /** Client: the delay before the first connect retry in ms (libevent's default 2000). */
  setInitialRetryDelay(ms: number): void {
    this.#clientSide("setInitialRetryDelay").initialRetryDelay = ms > 0 ? ms : 0;
  }

  /** Client: connect timeout in ms, TLS handshake included (default 45 000; 0: none). */
  setConnectTimeout(ms: number): void {
    this.#clientSide("setConnectTimeout").connectTimeout = ms > 0 ? ms : 0;
  }

  /**
   * Client: send queued requests without waiting for the previous response (HTTP/1.1
   * pipelining; off by default, as in libevent). Only requests without a body and with an
   * idempotent method are pipelined behind others; responses still complete in order.
   */
  setPipelining(on: boolean): void {
    this.#clientSide("setPipelining").pipelining = on;
  }

  /** Client: number of requests made and not finished yet. */
  getPendingCount(): number {
    return this.#clientSide("getPendingCount").queue.length;
  }

  #clientSide(what: string): ClientConn {
    const c = this._client;
    if (c === null) throw new EvError(`${what}: not a client connection`);
    return c;
  }

  /** The peer's address and port (`""`/0 for non-IP transports). */
  getPeer(): { address: string; port: number } {
    return { address: this._peerAddress, port: this._peerPort };
  }

  /** The base the connection runs on. */
  getBase(): EventBase {
    return this._base;
  }

  /** The bufferevent carrying the connection (`null` once it is closed). */
  getBufferevent(): Bufferevent | null {
    return this._bev;
  }

  /**
   * Sets the callback run when the connection closes (`null` removes it): once for a server
   * connection, each time the transport of a client connection closes.
   */
  setCloseCb(cb: EvhttpConnectionCloseCb | null, arg?: unknown): void {
    this._closeCb = cb;
    this._closeArg = arg;
  }

  /**
   * Read and write timeout in ms for this connection (0 or negative: none). Client
   * connections start at 50 000 (libevent); their connect timeout is `setConnectTimeout`.
   */
  setTimeout(ms: number): void {
    this.setReadTimeout(ms);
    this.setWriteTimeout(ms);
  }

  /** Read timeout in ms (0 or negative: none). */
  setReadTimeout(ms: number): void {
    this._readTimeout = ms > 0 ? ms : 0;
    this._applyTimeouts();
  }

  /** Write timeout in ms (0 or negative: none). */
  setWriteTimeout(ms: number): void {
    this._writeTimeout = ms > 0 ? ms : 0;
    this._applyTimeouts();
  }

  /**
   * Largest head (request/status line plus fields, without line endings); negative: none. A
   * client fails a larger response with `EVREQ_HTTP_INVALID_HEADER`.
   */
  setMaxHeadersSize(n: number): void {
    this._maxHeadersSize = n < 0 ? -1 : n;
  }

  /** Largest body; negative: none. A client fails a larger one with `EVREQ_HTTP_DATA_TOO_LONG`. */
  setMaxBodySize(n: number): void {
    this._maxBodySize = n < 0 ? -1 : n;
  }

  /**
   * Extension methods for this connection (libevent's `evhttp_connection_set_ext_method_cmp`;
   * `null` removes them). Client: `makeRequest` accepts a method bit the callback names. Server:
   * requests with a method token the callback maps to a bit are served instead of answered
   * with 501 (a server connection starts with its `Evhttp`'s callback, see
   * `Evhttp.setExtMethodCmp`).
   *
   * @example
   * ```ts
   * import { EventBase } from "@evdeno/evdeno/reactor";
   * import { EVHTTP_REQ_MAX, EvhttpConnection, EvhttpRequest } from "@evdeno/evdeno/evhttp";
   * const EVHTTP_REQ_CUSTOM = EVHTTP_REQ_MAX << 1;
   * const base = new EventBase();
   * const conn = EvhttpConnection.baseNew(base, null, "127.0.0.1", 8080);
   * conn.setExtMethodCmp((m) => {
   *   if (m.method === null && m.type === EVHTTP_REQ_CUSTOM) m.method = "CUSTOM";
   *   else if (m.method === "CUSTOM") m.type = EVHTTP_REQ_CUSTOM;
   *   else return -1;
   *   return 0;
   * });
   * const req = new EvhttpRequest((r) => console.log(r.getResponseCode()));
   * conn.makeRequest(req, EVHTTP_REQ_CUSTOM, "/custom"); // "CUSTOM /custom HTTP/1.1"
   * // await base.dispatch();
   * conn.free();
   * ```
   */
  setExtMethodCmp(cb: EvhttpExtMethodCb | null): void {
    this._extMethodCmp = cb;
  }

  /**
   * Closes the connection now. Server: a request still in progress is detached (replies are
   * no-ops). Client: every pending request fails — its error callback gets
   * `EVREQ_HTTP_REQUEST_CANCEL`, then its callback runs with response code 0 (libevent frees
   * them silently) — and the close callback runs if the transport was up.
   */
  free(): void {
    if (this._client !== null) this._client.free();
    else this._close();
  }

  /** Pushes the timeouts to the bufferevent. @ignore */
  _applyTimeouts(): void {
    if (this._client !== null) this._client.applyTimeouts();
    else this._bev?.setTimeouts(this._readTimeout, this._writeTimeout);
  }

  /** Whether this connection is gone for the requests it served (a closed server side). @ignore */
  _gone(): boolean {
    return false;
  }

  /** Closes the transport; subclasses override. @ignore */
  _close(): void {
    const bev = this._bev;
    if (bev === null) return;
    this._bev = null;
    bev.free();
    this._runCloseCb();
  }

  /** Runs the close callback once. @ignore */
  _runCloseCb(): void {
    const cb = this._closeCb;
    if (cb === null) return;
    this._closeCb = null;
    try {
      cb(this, this._closeArg);
    } catch (e) {
      this._base._reportError(e);
    }
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`invalid port ${port}`);
  }
}
