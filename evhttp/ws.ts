/**
 * WebSocket (RFC 6455) over evhttp, libevent's `evws`: `evwsNewSession` upgrades a server
 * request, `evwsConnect` opens a client connection, and both give an `EvwsConnection` that sends
 * and receives whole messages over a `Bufferevent`.
 *
 * Where libevent is lax evdeno follows the RFC: client frames must be masked (and server frames
 * must not be), a ping is answered with a pong, fragmented messages continue with continuation
 * frames, text must be valid UTF-8 (else close 1007), a received close is echoed with its code,
 * and a message over the size limit closes with 1009.
 *
 * @module
 */

import { Bufferevent } from "../bufferevent/bufferevent.ts";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_TIMEOUT,
  BEV_OPT_CLOSE_ON_FREE,
  BEV_TRIG_DEFER_CALLBACKS,
  BEV_TRIG_IGNORE_WATERMARKS,
} from "../bufferevent/constants.ts";
import { Evbuffer } from "../bufferevent/evbuffer.ts";
import type { GetaddrinfoResolver } from "../bufferevent/bufferevent.ts";
import { InternalTimer } from "../reactor/_internal_timer.ts";
import { EV_READ, EV_WRITE } from "../reactor/constants.ts";
import type { EventBase } from "../reactor/event_base.ts";
import { findHeadEnd, parseResponseHead, ResponseHead } from "./_parser.ts";
import { hasToken, isToken } from "./_reply.ts";
import { base64, sha1 } from "./_sha1.ts";
import type { ServerConn } from "./_server_conn.ts";
import {
  FrameArena,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  readFrame,
  writeFrame,
  WsFrameError,
} from "./_ws_frame.ts";
import type { Evkeyvalq } from "./keyvalq.ts";
import type { EvhttpRequest } from "./request.ts";

/** Close code: none given (an empty close frame). @example `evws.close(WS_CR_NONE)` */
export const WS_CR_NONE = 0;
/** Close code: normal closure. @example `evws.close(WS_CR_NORMAL, "bye")` */
export const WS_CR_NORMAL = 1000;
/** Close code: the endpoint is going away (server shutdown). @example `if (evws.getCloseCode() === WS_CR_GOING_AWAY) {}` */
export const WS_CR_GOING_AWAY = 1001;
/** Close code: protocol error. @example `evws.close(WS_CR_PROTO_ERR)` */
export const WS_CR_PROTO_ERR = 1002;
/** Close code: a text message was not valid UTF-8. @example `if (evws.getCloseCode() === WS_CR_INVALID_DATA) {}` */
export const WS_CR_INVALID_DATA = 1007;
/** Close code: a message was too big. @example `evws.close(WS_CR_DATA_TOO_BIG)` */
export const WS_CR_DATA_TOO_BIG = 1009;
/** Reported by `getCloseCode()` when the connection ended without a close frame. @example `if (evws.getCloseCode() === WS_CR_ABNORMAL) console.log(evws.getCloseReason())` */
export const WS_CR_ABNORMAL = 1006;
/** Message type: UTF-8 text. @example `if (type === WS_TEXT_FRAME) new TextDecoder().decode(data)` */
export const WS_TEXT_FRAME = 0x1;
/** Message type: binary data. @example `if (type === WS_BINARY_FRAME) evws.sendBinary(data)` */
export const WS_BINARY_FRAME = 0x2;

/**
 * Receives a whole message: `type` is `WS_TEXT_FRAME` (valid UTF-8 bytes) or `WS_BINARY_FRAME`.
 * @example `const echo: EvwsMessageCb = (evws, _type, data) => evws.sendBinary(data)`
 */
export type EvwsMessageCb = (
  evws: EvwsConnection,
  type: number,
  data: Uint8Array,
  arg?: unknown,
) => void;

/**
 * Runs once when the connection is gone (closed either way, failed or freed).
 * @example `evws.setCloseCb((e) => console.log("closed", e.getCloseCode()))`
 */
export type EvwsCloseCb = (evws: EvwsConnection, arg?: unknown) => void;

/**
 * Options of `evwsConnect`.
 * @example `evwsConnect(base, null, url, cb, undefined, { protocols: ["chat"], onOpen: (e) => e.sendText("hi") })`
 */
export interface EvwsConnectOptions {
  /** Subprotocols offered in `Sec-WebSocket-Protocol`, in order of preference. */
  protocols?: string[];
  /** Extra request headers (`Origin`, cookies, authorization…). */
  headers?: [string, string][];
  /** Extra CA certificates (PEM) for `wss:` URLs. */
  caCerts?: string[];
  /** Runs once the handshake succeeded. */
  onOpen?: (evws: EvwsConnection) => void;
  /** Handshake deadline in ms (default 10 000). */
  handshakeTimeoutMs?: number;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** Fragments from this size on are linked into the message buffer instead of copied. */
const PART_LINK = 4096;
/**
 * Output past which a session stops reading until the peer takes it (a ping flood, an echo to
 * a client that does not read), and below which reading resumes. Module-wide; tests lower them.
 * @ignore
 */
export const wsFlow = { high: 1024 * 1024, low: 256 * 1024 };
/** libevent's bound on one message (`ws.c`: 10 MiB). */
const DEFAULT_MAX_MESSAGE = 10 * 1024 * 1024;
/** How long a closing connection waits for the peer's close frame or EOF. */
const CLOSE_WAIT_MS = 3000;
/** Largest response head a client accepts. */
const MAX_HANDSHAKE_HEAD = 16 * 1024;

const ST_CONNECTING = 0;
const ST_OPEN = 1;
const ST_CLOSING = 2;
const ST_CLOSED = 3;

const encoder = new TextEncoder();
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The `Sec-WebSocket-Accept` value for a client's key (RFC 6455 §4.2.2). @ignore */
export function wsAcceptKey(key: string): string {
  return base64(sha1(encoder.encode(key + GUID)));
}

/** Whether a list field, which may be split over several lines (RFC 9110 §5.3), holds `token`. */
function fieldHas(h: Evkeyvalq, name: string, token: string): boolean {
  return hasToken(h.findAll(name).join(","), token);
}

function validUtf8(b: Uint8Array): boolean {
  try {
    fatalUtf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

/** Close codes a peer may send (RFC 6455 §7.4). */
function validCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

/**
 * One WebSocket connection (libevent's `evws_connection`), server or client side.
 *
 * @example
 * ```ts
 * import { EventBase, Evhttp, evwsNewSession, WS_TEXT_FRAME } from "@evdeno/evdeno/evhttp";
 * const base = new EventBase();
 * const http = new Evhttp(base);
 * http.setCb("/echo", (req) => {
 *   const ws = evwsNewSession(req, (evws, type, data) => {
 *     if (type === WS_TEXT_FRAME) evws.sendText(new TextDecoder().decode(data));
 *     else evws.sendBinary(data);
 *   });
 *   ws?.setCloseCb(() => console.log("gone"));
 * });
 * http.free();
 * ```
 */
export class EvwsConnection {
  readonly #base: EventBase;
  readonly #client: boolean;
  #bev: Bufferevent | null;
  #cb: EvwsMessageCb;
  #arg: unknown;
  #closeCb: EvwsCloseCb | null = null;
  #closeArg: unknown = undefined;
  #state: number;
  #maxMessage = DEFAULT_MAX_MESSAGE;
  /** Fragments of the message being received (its type in #msgType). */
  /**
   * The fragments of a message so far, copied into buffer chunks rather than kept as one array
   * each: a peer sending a message a byte per frame made every byte cost a typed array object
   * (240 MB of heap for a million one-byte fragments).
   */
  #parts = new Evbuffer();
  #msgType = 0;
  #sentClose = false;
  #gotClose = false;
  #closeCode = WS_CR_ABNORMAL;
  #closeReason = "";
  #timer: InternalTimer | null = null;
  #server: ServerConn | null = null;
  /** Client: messages sent before the handshake finished. */
  #pending: Evbuffer | null = null;
  #key = "";
  /** Client: the subprotocols offered. */
  #offered: string[] = [];
  /** Reading stopped because the peer does not take what we send (pongs, echoes). */
  #readPaused = false;
  /** Where large outgoing frames are laid out (held while output waits). */
  #arena = new FrameArena();
  #protocol = "";
  #onOpen: ((evws: EvwsConnection) => void) | null = null;

  /** @ignore */
  constructor(
    base: EventBase,
    bev: Bufferevent,
    client: boolean,
    cb: EvwsMessageCb,
    arg: unknown,
  ) {
    this.#base = base;
    this.#bev = bev;
    this.#client = client;
    this.#cb = cb;
    this.#arg = arg;
    this.#state = client ? ST_CONNECTING : ST_OPEN;
    bev.setcb(onRead, onWrite, onEvent, this);
    bev.enable(EV_READ | EV_WRITE);
  }

  /** Sends `text` as one text message. Ignored once the connection is closing. */
  sendText(text: string): void {
    this.#send(OP_TEXT, encoder.encode(text));
  }

  /** Sends `data` as one binary message. Ignored once the connection is closing. */
  sendBinary(data: Uint8Array): void {
    this.#send(OP_BINARY, data);
  }

  /** Sends a ping (the peer answers with a pong carrying `data`, at most 125 bytes). */
  sendPing(data: Uint8Array = new Uint8Array(0)): void {
    if (data.length > 125) throw new RangeError("a ping carries at most 125 bytes");
    this.#send(OP_PING, data);
  }

  /**
   * Starts the closing handshake (libevent's `evws_close`): sends a close frame with `code`
   * (`WS_CR_NONE`: none) and `reason`, then waits for the peer's close frame or EOF (at most
   * 3 s) before the connection goes and the close callback runs.
   */
  close(code: number = WS_CR_NORMAL, reason = ""): void {
    if (code !== WS_CR_NONE && !(validCloseCode(code) && code !== 1005)) {
      throw new RangeError(`close code ${code} may not be sent`);
    }
    const r = encoder.encode(reason);
    if (r.length > 123) throw new RangeError("a close reason is at most 123 bytes");
    if (this.#state === ST_CONNECTING) {
      // Nothing was agreed yet: just go (the close code stays "none received").
      this.#closeReason = "closed before the handshake finished";
      this.#finish();
      return;
    }
    if (this.#state !== ST_OPEN) return;
    this.#sendClose(code, r);
    if (this.#gotClose) this.#finishWhenWritten();
    else this.#armTimer(CLOSE_WAIT_MS);
  }

  /** Closes at once, without the closing handshake (libevent's `evws_connection_free`). */
  free(): void {
    this.#finish();
  }

  /** Sets the callback run once when the connection is gone (libevent's `evws_connection_set_closecb`). */
  setCloseCb(cb: EvwsCloseCb | null, arg?: unknown): void {
    this.#closeCb = cb;
    this.#closeArg = arg;
  }

  /** Replaces the message callback. */
  setMessageCb(cb: EvwsMessageCb, arg?: unknown): void {
    this.#cb = cb;
    this.#arg = arg;
  }

  /** The transport (null once closed; libevent's `evws_connection_get_bufferevent`). */
  getBufferevent(): Bufferevent | null {
    return this.#bev;
  }

  /** Largest message accepted (default 10 MiB, libevent's bound); larger ones close with 1009. */
  setMaxMessageSize(n: number): void {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError("a size must be positive");
    this.#maxMessage = n;
  }

  /** The close code the peer sent (1005 for none, `WS_CR_ABNORMAL` while none was received). */
  getCloseCode(): number {
    return this.#closeCode;
  }

  /** The close reason the peer sent ("" if none), or why the connection failed. */
  getCloseReason(): string {
    return this.#closeReason;
  }

  /** The subprotocol agreed in the handshake ("" if none). */
  getProtocol(): string {
    return this.#protocol;
  }

  /** Whether the connection is open (handshake done, no close sent or received). */
  isOpen(): boolean {
    return this.#state === ST_OPEN;
  }

  // ---------------------------------------------------------------------------- internal

  /** @ignore */
  _attachServer(sc: ServerConn, protocol: string): void {
    this.#server = sc;
    this.#protocol = protocol;
    // Evhttp.free() or a shutdown deadline closes the HTTP connection under us.
    sc.setCloseCb(() => this.#finish());
    sc._shutdownHook = () => this.close(WS_CR_GOING_AWAY);
    const bev = this.#bev!;
    if (sc.closeSoon) {
      // Upgraded while a graceful shutdown runs (the handler replied late): going away at once.
      this.close(WS_CR_GOING_AWAY);
      return;
    }
    // Frames the client sent right behind its request are already buffered.
    if (bev.getInput().length > 0) {
      bev.trigger(EV_READ, BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
    }
  }

  /** @ignore */
  _startClient(
    key: string,
    offered: string[],
    onOpen: ((evws: EvwsConnection) => void) | null,
    ms: number,
  ): void {
    this.#key = key;
    this.#offered = offered;
    this.#onOpen = onOpen;
    this.#pending = new Evbuffer();
    this.#armTimer(ms);
  }

  /** @ignore */
  _onRead(): void {
    const bev = this.#bev;
    if (bev === null) return;
    const input = bev.getInput();
    if (this.#state === ST_CONNECTING) {
      if (!this.#readHandshake(input)) return;
    }
    try {
      while (this.#bev !== null && !this.#gotClose) {
        const f = readFrame(input, !this.#client, this.#maxMessage);
        if (f === null) break;
        this.#frame(f.fin, f.opcode, f.payload);
      }
    } catch (e) {
      if (e instanceof WsFrameError) this.#fail(e.code, e.message);
      else throw e;
    }
    // After the peer's close nothing more is read (RFC 6455 §5.5.1).
    if (this.#gotClose && this.#bev !== null) input.drain(input.length);
    const b = this.#bev;
    if (b !== null && !this.#readPaused && b.getOutput().length > wsFlow.high) {
      // The peer sends faster than it takes what we answer (pongs, echoes): stop reading until
      // it catches up, so our output stays bounded.
      this.#readPaused = true;
      b.disable(EV_READ);
      b.setWatermark(EV_WRITE, wsFlow.low, 0);
    }
  }

  /** @ignore */
  _onWrite(): void {
    const bev = this.#bev;
    if (bev === null) return;
    // All written: the arena lets its block go, so an idle connection pins no memory.
    if (bev.getOutput().length === 0) this.#arena.release();
    if (this.#readPaused && bev.getOutput().length <= wsFlow.low) {
      this.#readPaused = false;
      bev.setWatermark(EV_WRITE, 0, 0);
      if (this.#state !== ST_CLOSED) {
        bev.enable(EV_READ);
        if (bev.getInput().length > 0) {
          bev.trigger(EV_READ, BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
        }
      }
    }
    if (this.#state === ST_CLOSED && bev.getOutput().length === 0) this.#finish();
  }

  /** @ignore */
  _onEvent(what: number): void {
    if ((what & BEV_EVENT_CONNECTED) !== 0) return;
    if (this.#gotClose) {
      // The closing handshake is done; how the transport ends changes nothing.
    } else if ((what & BEV_EVENT_TIMEOUT) !== 0) {
      this.#closeReason ||= "write timed out";
    } else if ((what & BEV_EVENT_ERROR) !== 0) {
      this.#closeReason ||= String(this.#bev?.getError()?.message ?? "connection error");
    } else if ((what & BEV_EVENT_EOF) !== 0 && this.#state === ST_CONNECTING) {
      this.#closeReason = "connection closed during the handshake";
    }
    this.#finish();
  }

  #send(opcode: number, data: Uint8Array): void {
    const bev = this.#bev;
    if (bev === null || this.#sentClose) return;
    if (this.#state === ST_CONNECTING) {
      writeFrame(this.#pending!, opcode, data, true, true, this.#arena);
      return;
    }
    writeFrame(bev.getOutput(), opcode, data, this.#client, true, this.#arena);
  }

  #sendClose(code: number, reason: Uint8Array): void {
    const bev = this.#bev;
    if (bev === null || this.#sentClose) return;
    this.#sentClose = true;
    let payload = new Uint8Array(0);
    if (code !== WS_CR_NONE) {
      payload = new Uint8Array(2 + reason.length);
      payload[0] = code >>> 8;
      payload[1] = code & 0xff;
      payload.set(reason, 2);
    }
    writeFrame(bev.getOutput(), OP_CLOSE, payload, this.#client);
    this.#state = ST_CLOSING;
  }

  #frame(fin: boolean, opcode: number, payload: Uint8Array): void {
    switch (opcode) {
      case OP_PING:
        if (!this.#sentClose) writeFrame(this.#bev!.getOutput(), OP_PONG, payload, this.#client);
        return;
      case OP_PONG:
        return;
      case OP_CLOSE:
        this.#peerClosed(payload);
        return;
      case OP_CONT:
        if (this.#msgType === 0) throw new WsFrameError(1002, "continuation without a message");
        break;
      default:
        if (this.#msgType !== 0) {
          throw new WsFrameError(1002, "new message inside a fragmented one");
        }
        this.#msgType = opcode;
    }
    const parts = this.#parts;
    if (parts.length + payload.length > this.#maxMessage) {
      throw new WsFrameError(1009, "message over the size limit");
    }
    if (!fin) {
      // Large fragments are fresh arrays of ours: linked, not copied; small ones are packed.
      if (payload.length >= PART_LINK) parts.addReference(payload);
      else parts.add(payload);
      return;
    }
    let data = payload;
    if (parts.length > 0) {
      if (payload.length >= PART_LINK) parts.addReference(payload);
      else parts.add(payload);
      data = parts.remove(parts.length);
    }
    const type = this.#msgType;
    this.#msgType = 0;
    if (type === OP_TEXT && !validUtf8(data)) {
      throw new WsFrameError(1007, "text message not valid UTF-8");
    }
    if (this.#sentClose) return;
    try {
      this.#cb(this, type, data, this.#arg);
    } catch (e) {
      this.#base._reportError(e);
    }
  }

  #peerClosed(payload: Uint8Array): void {
    if (payload.length === 1) throw new WsFrameError(1002, "close frame of one byte");
    let code = 1005;
    let reason = "";
    if (payload.length >= 2) {
      code = (payload[0] << 8) | payload[1];
      if (!validCloseCode(code)) throw new WsFrameError(1002, `invalid close code ${code}`);
      const r = payload.subarray(2);
      if (!validUtf8(r)) throw new WsFrameError(1007, "close reason not valid UTF-8");
      reason = fatalUtf8.decode(r);
    }
    this.#gotClose = true;
    this.#closeCode = code;
    this.#closeReason = reason;
    // Echo the code (RFC 6455 §5.5.1), then close once it is written.
    this.#sendClose(code === 1005 ? WS_CR_NONE : code, new Uint8Array(0));
    this.#finishWhenWritten();
  }

  /** Fails the connection (RFC 6455 §7.1.7): a close frame with `code`, then the end. */
  #fail(code: number, why: string): void {
    if (this.#bev === null) return;
    this.#closeReason = why;
    this.#sendClose(code, new Uint8Array(0));
    this.#finishWhenWritten();
  }

  #finishWhenWritten(): void {
    const bev = this.#bev;
    if (bev === null) return;
    this.#state = ST_CLOSED;
    bev.disable(EV_READ);
    if (bev.getOutput().length === 0) this.#finish();
    else this.#armTimer(CLOSE_WAIT_MS);
  }

  #armTimer(ms: number): void {
    const t = this.#timer ??= new InternalTimer(this.#base, () => {
      if (this.#state === ST_CONNECTING) this.#closeReason = "handshake timed out";
      this.#finish();
    });
    t.arm(ms);
  }

  #finish(): void {
    const bev = this.#bev;
    if (bev === null) return;
    this.#bev = null;
    this.#state = ST_CLOSED;
    this.#timer?.disarm();
    this.#pending = null;
    this.#arena.release();
    const sc = this.#server;
    if (sc !== null) {
      this.#server = null;
      sc._shutdownHook = null;
      sc.setCloseCb(null);
      sc.free();
    } else bev.free();
    const cb = this.#closeCb;
    this.#closeCb = null;
    if (cb !== null) {
      try {
        cb(this, this.#closeArg);
      } catch (e) {
        this.#base._reportError(e);
      }
    }
  }

  /** Client: parses the server's answer; true once open. */
  #readHandshake(input: Evbuffer): boolean {
    const view = input.pullup(Math.min(input.length, MAX_HANDSHAKE_HEAD))!;
    const end = findHeadEnd(view, 0);
    if (end < 0) {
      if (input.length >= MAX_HANDSHAKE_HEAD) this.#handshakeFailed("response head too large");
      return false;
    }
    // The HTTP client's strict parser: a malformed status line or field fails the handshake.
    const head = new ResponseHead();
    const rc = parseResponseHead(view, 0, end, head);
    input.drain(end);
    if (rc !== 0) return this.#handshakeFailed(`not an HTTP response: ${head.errorReason}`);
    if (head.code !== 101) {
      return this.#handshakeFailed(`handshake refused: ${head.code} ${head.reason}`);
    }
    // The upgrade mechanism is HTTP/1.1's (RFC 6455 §4.1); a 1.0 server cannot have done it.
    if (head.minor < 1) return this.#handshakeFailed("101 from an HTTP/1.0 server");
    const h = head.headers;
    if (!fieldHas(h, "Upgrade", "websocket")) {
      return this.#handshakeFailed("no Upgrade: websocket");
    }
    if (!fieldHas(h, "Connection", "upgrade")) {
      return this.#handshakeFailed("no Connection: Upgrade");
    }
    if (h.find("Sec-WebSocket-Accept") !== wsAcceptKey(this.#key)) {
      return this.#handshakeFailed("wrong Sec-WebSocket-Accept");
    }
    const protocol = h.find("Sec-WebSocket-Protocol") ?? "";
    if (protocol !== "" && !this.#offered.includes(protocol)) {
      return this.#handshakeFailed(`subprotocol ${protocol} was not offered`);
    }
    // No extension was requested, so none may be in use (RFC 6455 §4.1).
    if ((h.find("Sec-WebSocket-Extensions") ?? "").trim() !== "") {
      return this.#handshakeFailed("an extension was not requested");
    }
    this.#protocol = protocol;
    this.#state = ST_OPEN;
    this.#timer?.disarm();
    const pending = this.#pending;
    this.#pending = null;
    if (pending !== null && pending.length > 0) this.#bev!.getOutput().addBuffer(pending);
    const open = this.#onOpen;
    this.#onOpen = null;
    if (open !== null) {
      try {
        open(this);
      } catch (e) {
        this.#base._reportError(e);
      }
    }
    return this.#bev !== null && this.#state !== ST_CLOSED;
  }

  #handshakeFailed(why: string): false {
    this.#closeReason = why;
    this.#finish();
    return false;
  }
}

function onRead(_bev: Bufferevent, arg: unknown): void {
  (arg as EvwsConnection)._onRead();
}

function onWrite(_bev: Bufferevent, arg: unknown): void {
  (arg as EvwsConnection)._onWrite();
}

function onEvent(_bev: Bufferevent, what: number, arg: unknown): void {
  (arg as EvwsConnection)._onEvent(what);
}

/**
 * Upgrades a server request to a WebSocket (libevent's `evws_new_session`): checks the
 * handshake (`GET`, `Upgrade: websocket`, `Connection: Upgrade`, a 16-byte
 * `Sec-WebSocket-Key`, version 13), answers `101 Switching Protocols` and returns the
 * connection, whose `cb` receives each message. A bad handshake is answered 400 (426 with
 * `Sec-WebSocket-Version: 13` for another version) and `null` is returned, as it is when the
 * client already went away. A `Sec-WebSocket-Protocol` the handler set on the reply's headers is
 * kept; otherwise the first subprotocol the client offered is accepted. The session counts
 * against `setMaxConnections`; a graceful `shutdown` closes it with 1001.
 *
 * @example
 * ```ts
 * import { EventBase, Evhttp, evwsNewSession } from "@evdeno/evdeno/evhttp";
 * const base = new EventBase();
 * const http = new Evhttp(base);
 * http.setCb("/chat", (req) => {
 *   evwsNewSession(req, (evws, _type, data) => evws.sendBinary(data));
 * });
 * http.free();
 * ```
 */
export function evwsNewSession(
  req: EvhttpRequest,
  cb: EvwsMessageCb,
  arg?: unknown,
  _options = 0,
): EvwsConnection | null {
  const sc = req.getConnection() as ServerConn | null;
  // Once per request: a second call would steal the first session's transport.
  if (sc === null || sc._client !== null || sc._upgraded()) return null;
  const h = req.getInputHeaders();
  const key = h.find("Sec-WebSocket-Key")?.trim() ?? "";
  let keyOk = false;
  try {
    keyOk = atob(key).length === 16;
  } catch {
    keyOk = false;
  }
  const version = h.find("Sec-WebSocket-Version");
  if (
    req.getCommandName() !== "GET" || !fieldHas(h, "Upgrade", "websocket") ||
    !fieldHas(h, "Connection", "upgrade") || !keyOk
  ) {
    req.sendReply(400, null);
    return null;
  }
  if (version !== undefined && version.trim() !== "13") {
    req.getOutputHeaders().add("Sec-WebSocket-Version", "13");
    req.sendReply(426, null);
    return null;
  }
  const out = req.getOutputHeaders();
  let protocol = out.find("Sec-WebSocket-Protocol") ?? "";
  if (protocol === "") {
    const offered = h.find("Sec-WebSocket-Protocol");
    if (offered !== undefined) {
      protocol = offered.split(",")[0].trim();
      if (protocol !== "") out.add("Sec-WebSocket-Protocol", protocol);
    }
  }
  out.remove("Upgrade");
  out.remove("Connection");
  out.add("Upgrade", "websocket");
  out.add("Connection", "Upgrade");
  out.add("Sec-WebSocket-Accept", wsAcceptKey(key));
  req.sendReply(101, null);
  if (!sc._upgraded()) return null;
  const bev = sc.getBufferevent();
  if (bev === null) return null;
  const ws = new EvwsConnection(sc.getBase(), bev, false, cb, arg);
  ws._attachServer(sc, protocol);
  return ws;
}

/**
 * Opens a client WebSocket to `url` (`ws://host[:port]/path` or `wss://`), resolving the host
 * through `dns` (null: the system resolver). Messages sent before the handshake finishes are
 * queued; `options.onOpen` runs once it has. A failed handshake or connection runs the close
 * callback with `getCloseCode()` = `WS_CR_ABNORMAL` and the cause in `getCloseReason()`.
 *
 * @example
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import { evwsConnect } from "@evdeno/evdeno/evhttp";
 * const base = new EventBase();
 * const ws = evwsConnect(base, null, "ws://127.0.0.1:8080/echo", (evws, _type, data) => {
 *   console.log(new TextDecoder().decode(data));
 *   evws.close();
 * });
 * ws.sendText("hello");
 * ws.free(); // (a real program would `await base.dispatch()` instead)
 * ```
 */
export function evwsConnect(
  base: EventBase,
  dns: GetaddrinfoResolver | null,
  url: string,
  cb: EvwsMessageCb,
  arg?: unknown,
  options: EvwsConnectOptions = {},
): EvwsConnection {
  const u = new URL(url);
  const tls = u.protocol === "wss:";
  if (!tls && u.protocol !== "ws:") throw new TypeError(`not a WebSocket URL: ${url}`);
  const port = u.port === "" ? (tls ? 443 : 80) : Number(u.port);
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  const offered = options.protocols ?? [];
  for (const p of offered) {
    if (!isToken(p)) throw new TypeError(`not a subprotocol token: ${JSON.stringify(p)}`);
  }
  for (const [k, v] of options.headers ?? []) {
    if (!isToken(k) || /[\r\n\0]/.test(v)) {
      throw new TypeError(`bad header ${JSON.stringify(k)}`);
    }
  }
  const bev = tls
    ? Bufferevent.tlsNew(
      base,
      null,
      { hostname: host, caCerts: options.caCerts },
      BEV_OPT_CLOSE_ON_FREE,
    )
    : Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE);
  const ws = new EvwsConnection(base, bev, true, cb, arg);
  const key = base64(crypto.getRandomValues(new Uint8Array(16)));
  let head = `GET ${u.pathname || "/"}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n` +
    `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
    "Sec-WebSocket-Version: 13\r\n";
  if (offered.length > 0) head += `Sec-WebSocket-Protocol: ${offered.join(", ")}\r\n`;
  for (const [k, v] of options.headers ?? []) head += `${k}: ${v}\r\n`;
  bev.getOutput().add(head + "\r\n");
  ws._startClient(key, offered, options.onOpen ?? null, options.handshakeTimeoutMs ?? 10_000);
  bev.connectHostname(dns, 0, host, port);
  return ws;
}
