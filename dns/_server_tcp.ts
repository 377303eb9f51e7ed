/**
 * The per-connection state of a DNS server's TCP clients and the bufferevent callbacks that
 * drive it (shared functions with the client as `arg`, so a connection costs no closures).
 *
 * @module
 */

import type { Bufferevent } from "../bufferevent/bufferevent.ts";
import { BEV_EVENT_EOF } from "../bufferevent/constants.ts";
import { EV_READ } from "../reactor/constants.ts";

/** What a TCP client needs from its server port. @ignore */
export interface TcpClientOwner {
  /** Reads the complete frames the client sent. */
  _tcpRead(c: TcpClient): void;
  /** The client's output drained. */
  _tcpDrained(c: TcpClient): void;
  /** Disconnects the client. */
  _tcpClose(c: TcpClient): void;
}

/** One TCP client connection of a server port. @ignore */
export class TcpClient {
  /** Requests handed out and not yet answered or dropped. */
  pending = 0;
  /** The client half-closed: close once its pending requests are answered and flushed. */
  eof = false;
  /** Closed; requests answered later are dropped silently. */
  gone = false;
  /** When the incomplete frame in the input began arriving (loop ms), -1 if none. */
  frameStart = -1;
  /** Binds a client to its port, connection and peer address. */
  constructor(
    readonly port: TcpClientOwner,
    readonly bev: Bufferevent,
    readonly addr: Deno.NetAddr,
  ) {}
}

/** Bufferevent read callback. @ignore */
export function tcpReadCb(_bev: Bufferevent, arg?: unknown): void {
  const c = arg as TcpClient;
  c.port._tcpRead(c);
}

/** Bufferevent write callback (output drained). @ignore */
export function tcpWriteCb(_bev: Bufferevent, arg?: unknown): void {
  const c = arg as TcpClient;
  c.port._tcpDrained(c);
}

/** Bufferevent event callback: EOF, error or idle timeout. @ignore */
export function tcpEventCb(_bev: Bufferevent, what: number, arg?: unknown): void {
  const c = arg as TcpClient;
  if ((what & BEV_EVENT_EOF) !== 0) {
    c.eof = true;
    if (c.pending > 0 || c.bev.getOutput().length > 0) {
      // A half-close: answers are still to come or to flush, so keep the connection for them.
      c.bev.disable(EV_READ);
      return;
    }
  }
  c.port._tcpClose(c);
}
