/**
 * `EvhttpConnection`: one HTTP connection (libevent's `evhttp_connection`). On the server side
 * the `Evhttp` creates one per accepted client and hands it out through
 * `EvhttpRequest.getConnection()`; the client side (`baseNew`, `makeRequest`) builds on this
 * class in a later module.
 *
 * @module
 */

import type { Bufferevent } from "../bufferevent/bufferevent.ts";
import type { EventBase } from "../reactor/event_base.ts";

/** Called when a connection closes: `(conn, arg)`. */
export type EvhttpConnectionCloseCb = (conn: EvhttpConnection, arg?: unknown) => void;

/**
 * An HTTP connection. Server connections are created by `Evhttp` for each accepted client; a
 * request handler reaches its connection with `req.getConnection()` (which returns `null` once
 * the client went away).
 *
 * @example
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

  /** Use `Evhttp` (server) or the client factories; not constructed directly. @ignore */
  constructor(base: EventBase) {
    this._base = base;
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

  /** Sets the callback run once when the connection closes (`null` removes it). */
  setCloseCb(cb: EvhttpConnectionCloseCb | null, arg?: unknown): void {
    this._closeCb = cb;
    this._closeArg = arg;
  }

  /** Read and write timeout in ms for this connection (0 or negative: none). */
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

  /** Largest head (request/status line plus fields, without line endings); negative: none. */
  setMaxHeadersSize(n: number): void {
    this._maxHeadersSize = n < 0 ? -1 : n;
  }

  /** Largest body; negative: none. */
  setMaxBodySize(n: number): void {
    this._maxBodySize = n < 0 ? -1 : n;
  }

  /** Closes the connection now; a request still in progress is detached (replies are no-ops). */
  free(): void {
    this._close();
  }

  /** Pushes the timeouts to the bufferevent. @ignore */
  _applyTimeouts(): void {
    this._bev?.setTimeouts(this._readTimeout, this._writeTimeout);
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
