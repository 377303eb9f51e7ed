/**
 * `EvhttpRequest`: one HTTP request and its response (libevent's `evhttp_request`). The server
 * creates them for incoming requests; client code creates them with `new EvhttpRequest(cb, arg)`.
 *
 * @module
 */

import { Evbuffer } from "../bufferevent/evbuffer.ts";
import { EvError } from "../reactor/errors.ts";
import { EVHTTP_REQ_CONNECT, EVHTTP_URI_NONCONFORMANT } from "./constants.ts";
import type { EvhttpConnection } from "./connection.ts";
import { Evkeyvalq } from "./keyvalq.ts";
import { isValidStatus } from "./status.ts";
import { EvhttpUri } from "./uri.ts";

/**
 * A request callback: `(req, arg)`. It may be async: a rejection is reported like a throw (and
 * a request not yet answered gets a 500).
 */
export type RequestCb = (req: EvhttpRequest, arg?: unknown) => void;

/**
 * Routes the rejection of an async callback's promise to the base's error report, so it is logged like a throw
 * instead of ending the process as an unhandled rejection. @ignore
 */
export function _catchAsync(r: unknown, base: { _reportError(e: unknown): void }): void {
  if (r instanceof Promise) r.then(undefined, (e) => base._reportError(e));
}

/** Called when a request fails: `(EVREQ_HTTP_* code, arg)`. */
export type RequestErrorCb = (err: number, arg?: unknown) => void;

/** Called once a streamed chunk has been written: `(conn, arg)`. */
export type ReplyChunkCb = (conn: EvhttpConnection, arg?: unknown) => void;

/** A body for the reply methods. */
export type ReplyBody = Evbuffer | Uint8Array | string;

/**
 * What a server connection does for its requests (implemented in `_server_conn.ts`).
 *
 * @ignore
 */
export interface RequestOwner {
  /** @ignore */
  _sendReply(req: EvhttpRequest, code: number, reason: string | null, body?: ReplyBody): void;
  /** @ignore */
  _sendError(req: EvhttpRequest, code: number, reason?: string): void;
  /** @ignore */
  _replyStart(req: EvhttpRequest, code: number, reason: string | null): void;
  /** @ignore */
  _replyChunk(req: EvhttpRequest, body: ReplyBody, cb: ReplyChunkCb | null, arg: unknown): void;
  /** @ignore */
  _replyEnd(req: EvhttpRequest): void;
  /** @ignore */
  _cancel(req: EvhttpRequest): void;
}

/**
 * What a client connection does for its requests (implemented in `_client_conn.ts`).
 *
 * @ignore
 */
export interface ClientOwner {
  /** @ignore */
  _cancel(req: EvhttpRequest): void;
  /** More of a streamed request body is ready in `req._cx.stream`. @ignore */
  _streamMore(req: EvhttpRequest): void;
}

/**
 * Client-side bookkeeping of a request (created by `makeRequest` or `sendRequestChunk`).
 *
 * @ignore
 */
export class ClientReqState {
  /** The connection the request is queued on (null: not made, or finished). */
  owner: ClientOwner | null = null;
  /** Framed pieces of a streamed body that have not gone to the connection yet. */
  stream: Evbuffer | null = null;
  /** The body is sent chunked, piece by piece. */
  streaming = false;
  /** `sendRequestEnd` was called. */
  streamEnded = false;
  /** The request head went out on the current transport. */
  headSent = false;
  /** The whole request went out (or is queued in the output). */
  bodySent = false;
  /** The body waits for `100 Continue`. */
  waitContinue = false;
  /** Interim (1xx) responses received so far. */
  interims = 0;
  /** Answered, failed or cancelled: later body pieces are dropped, not buffered. */
  finished = false;
  /** The request said `Connection: close`. */
  closeReq = false;
  /** Safe to send again on a new connection (idempotent, no body). */
  resendable = false;
  /** Already resent once after the server dropped a reused connection. */
  retried = false;
  /**
   * Cancelled while another request ahead of it was on the wire (pipelining): its answer is
   * read and thrown away, so neither the connection nor the requests ahead are disturbed.
   */
  discard = false;
  /** Why the request failed. */
  error: Error | null = null;
}

const encoder = new TextEncoder();

const NOT_STARTED = 0;
const STREAMING = 1;
const DONE = 2;

/**
 * An HTTP request with its headers and body buffers, and (on the server) the means to answer
 * it. A handler answers with exactly one of `sendReply`, `sendError`, or `sendReplyStart` …
 * `sendReplyChunk`* … `sendReplyEnd`, now or later (from another callback). If the client went
 * away meanwhile, `getConnection()` returns `null` and the reply methods do nothing.
 *
 * Server requests can stream their body: call `setChunkedCb` from the `Evhttp.setHeaderCb`
 * hook, and each piece of body is delivered in `getInputBuffer()` (drained after the callback)
 * before the request callback runs at the end of the body.
 *
 * @example
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import { Evhttp, EvhttpRequest, EVHTTP_REQ_POST } from "@evdeno/evdeno/evhttp";
 * const base = new EventBase();
 * const http = new Evhttp(base);
 * http.setCb("/echo", (req: EvhttpRequest) => {
 *   if (req.getCommand() !== EVHTTP_REQ_POST) return req.sendError(405);
 *   req.getOutputHeaders().add("Content-Type", "application/octet-stream");
 *   req.sendReply(200, "OK", req.getInputBuffer());
 * });
 * http.free();
 * ```
 */
export class EvhttpRequest {
  /** @ignore */
  _cb: RequestCb | null;
  /** @ignore */
  _arg: unknown;
  /** @ignore */
  _chunkCb: RequestCb | null = null;
  /** @ignore */
  _errorCb: RequestErrorCb | null = null;
  /** Server: runs once the reply is written (one field, allocated only when set). @ignore */
  _onComplete: { cb: RequestCb; arg: unknown } | null = null;
  /** The server connection answering this request (null: client request or detached). @ignore */
  _owner: RequestOwner | null = null;
  /** @ignore */
  _conn: EvhttpConnection | null = null;
  /** Client-side state (null for server requests and unsent client requests). @ignore */
  _cx: ClientReqState | null = null;
  /** Whether the server created this request. @ignore */
  _incoming = false;
  /** @ignore */
  _method = 0;
  /** @ignore */
  _methodName = "";
  /** @ignore */
  _uri = "";
  /** @ignore */
  _major = 1;
  /** @ignore */
  _minor = 1;
  /** @ignore */
  _inHeaders: Evkeyvalq | null = null;
  /** @ignore */
  _outHeaders: Evkeyvalq | null = null;
  /** @ignore */
  _inBuf: Evbuffer | null = null;
  /** @ignore */
  _outBuf: Evbuffer | null = null;
  /** @ignore */
  _code = 0;
  /** @ignore */
  _reason = "";
  /** Host header value as received (null: none). @ignore */
  _hostHeader: string | null = null;
  /** Reply progress: NOT_STARTED, STREAMING, DONE. @ignore */
  _replyState: number = NOT_STARTED;
  /** The response to this request is chunked. @ignore */
  _chunkedOut = false;
  /** The response may carry a body (not HEAD, 1xx, 204, 304). @ignore */
  _bodyOut = true;
  #host: string | null | undefined = undefined;
  #uriObj: EvhttpUri | null = null;

  /**
   * A request for the client side: `cb(req, arg)` runs when the response is complete (or with
   * the request failed). Server requests are created by `Evhttp`.
   */
  constructor(cb: RequestCb | null = null, arg?: unknown) {
    this._cb = cb;
    this._arg = arg;
  }

  /** The request target as received (or as given to `makeRequest`). */
  getUri(): string {
    return this._uri;
  }

  /**
   * The request target parsed (libevent's non-conformant mode, as the server accepts targets);
   * an empty URI if it does not parse.
   */
  getEvhttpUri(): EvhttpUri {
    if (this.#uriObj === null) {
      // CONNECT's target is an authority (`host:port`), as libevent's
      // evhttp_uri_parse_authority reads it; others are parsed as URI references.
      const s = this._method === EVHTTP_REQ_CONNECT ? "//" + this._uri : this._uri;
      this.#uriObj = EvhttpUri.parse(s, EVHTTP_URI_NONCONFORMANT) ??
        new EvhttpUri(EVHTTP_URI_NONCONFORMANT);
    }
    return this.#uriObj;
  }

  /**
   * The target or Host changed (a server request filled from its head): forget what was derived
   * from them.
   * @ignore
   */
  _resetDerived(): void {
    this.#host = undefined;
    this.#uriObj = null;
  }

  /**
   * The method as an `EVHTTP_REQ_*` bit, or the bit the extension-method callback gave it
   * (`Evhttp.setExtMethodCmp`); 0 for a method the server does not know (only an error page's
   * request, seen by `Evhttp.setErrorcb`, has one).
   */
  getCommand(): number {
    return this._method;
  }

  /** The method token as received (e.g. `"GET"`). */
  getCommandName(): string {
    return this._methodName;
  }

  /** HTTP version of the request as `[major, minor]`. */
  getVersion(): [number, number] {
    return [this._major, this._minor];
  }

  /**
   * The host the request is for: the host of an absolute request target, else the `Host`
   * header without a trailing `:port`; `""` when neither is present.
   */
  getHost(): string {
    if (this.#host === undefined) this.#host = this._computeHost();
    return this.#host ?? "";
  }

  /** Input headers: the request's on the server, the response's on the client. */
  getInputHeaders(): Evkeyvalq {
    if (this._inHeaders === null) this._inHeaders = new Evkeyvalq();
    return this._inHeaders;
  }

  /** Output headers: the response's on the server, the request's on the client. */
  getOutputHeaders(): Evkeyvalq {
    if (this._outHeaders === null) this._outHeaders = new Evkeyvalq();
    return this._outHeaders;
  }

  /** The received body (request body on the server). */
  getInputBuffer(): Evbuffer {
    if (this._inBuf === null) this._inBuf = new Evbuffer();
    return this._inBuf;
  }

  /** The body to send; `sendReply` without a body sends what is here. */
  getOutputBuffer(): Evbuffer {
    if (this._outBuf === null) this._outBuf = new Evbuffer();
    return this._outBuf;
  }

  /** The response status code (0 before one is known). */
  getResponseCode(): number {
    return this._code;
  }

  /** The response reason phrase. */
  getResponseCodeLine(): string {
    return this._reason;
  }

  /** The connection, or `null` once the client went away (or for an unsent client request). */
  getConnection(): EvhttpConnection | null {
    const c = this._conn;
    // Requests answered earlier on a connection that closed since still point at it.
    return c !== null && !c._gone() ? c : null;
  }

  /**
   * Sends the response: status `code`, `reason` (`null`: the standard phrase), and `body` (moved
   * out of an `Evbuffer`, copied from bytes or a string) after whatever the output buffer holds.
   * `Date`, `Content-Length` and the default `Content-Type` are added; responses to HEAD and 1xx,
   * 204 and 304 responses never carry a body. A no-op once the client went away.
   */
  sendReply(code: number, reason: string | null, body?: ReplyBody): void {
    checkStatus(code);
    if (!this.#canReply("sendReply")) return;
    this._owner!._sendReply(this, code, reason, body);
  }

  /**
   * Sends an HTML error page and closes the connection afterwards. The status line carries the
   * standard reason phrase; `reason` (HTML, not escaped) goes into the page body only.
   */
  sendError(code: number, reason?: string): void {
    checkStatus(code);
    if (!this.#canReply("sendError")) return;
    this._owner!._sendError(this, code, reason);
  }

  /**
   * Starts a streamed reply: the head goes out now. Without a `Content-Length` in the output
   * headers the body is chunked on HTTP/1.1 and delimited by closing the connection on 1.0.
   */
  sendReplyStart(code: number, reason: string | null): void {
    checkStatus(code);
    if (!this.#canReply("sendReplyStart")) return;
    this._owner!._replyStart(this, code, reason);
  }

  /** Sends one piece of a streamed reply (ignored when empty or when no body is allowed). */
  sendReplyChunk(body: ReplyBody): void {
    if (this.#canStream()) this._owner!._replyChunk(this, body, null, undefined);
  }

  /**
   * Like `sendReplyChunk`; `cb(conn, arg)` runs once the output holding this chunk has been
   * written to the socket, which is the moment to produce the next one (backpressure).
   */
  sendReplyChunkWithCb(body: ReplyBody, cb: ReplyChunkCb, arg?: unknown): void {
    if (this.#canStream()) this._owner!._replyChunk(this, body, cb, arg);
  }

  /** Ends a streamed reply (the last chunk on HTTP/1.1). */
  sendReplyEnd(): void {
    if (this._incoming && this._owner === null) return;
    if (this._replyState !== STREAMING) {
      if (this._replyState === DONE) return;
      throw new EvError("sendReplyEnd without sendReplyStart");
    }
    this._owner!._replyEnd(this);
  }

  /**
   * Streams the body: `cb(req, arg)` runs for each piece received, with the piece in
   * `getInputBuffer()`, which is drained after the callback. On the server set it from the
   * `Evhttp.setHeaderCb` hook (before the body is read); `arg` is the argument registered with
   * the route.
   */
  setChunkedCb(cb: RequestCb | null): void {
    this._chunkCb = cb;
  }

  /**
   * `cb(EVREQ_HTTP_*, arg)` runs if the request fails; on the server, `EVREQ_HTTP_EOF` when the
   * client goes away before the reply is complete.
   */
  setErrorCb(cb: RequestErrorCb | null): void {
    this._errorCb = cb;
  }

  /**
   * Server side: `cb(req, arg)` runs once the reply has been completely written to the socket
   * (the connection's output buffer is empty) — after `sendReply`, `sendError`, `sendReplyEnd`
   * or an error page the server sent for this request — and before the request is let go
   * (libevent's `evhttp_request_set_on_complete_cb`). It does not run when the connection
   * fails before the reply is out. Set it from the request callback, or from
   * `Evhttp.setNewreqcb` to cover error pages too. `null` removes it.
   *
   * @example
   * ```ts
   * import { EventBase } from "@evdeno/evdeno/reactor";
   * import { Evhttp } from "@evdeno/evdeno/evhttp";
   * const http = new Evhttp(new EventBase());
   * http.setCb("/big", (req) => {
   *   const started = performance.now();
   *   req.setOnCompleteCb((r) => {
   *     console.log(r.getUri(), "written in", performance.now() - started, "ms");
   *   });
   *   req.sendReply(200, null, "x".repeat(1 << 20));
   * });
   * http.free();
   * ```
   */
  setOnCompleteCb(cb: RequestCb | null, arg?: unknown): void {
    this._onComplete = cb === null ? null : { cb, arg };
  }

  /**
   * Cancels the request. On the server the connection is closed without a reply (a no-op once
   * the reply is complete or the client is gone). On the client the error callback runs with
   * `EVREQ_HTTP_REQUEST_CANCEL` and the request callback does not run; a request already on the
   * wire resets its connection (the requests queued behind it go out on a new one). A no-op
   * once the response is complete.
   */
  cancel(): void {
    if (this._owner !== null) this._owner._cancel(this);
    else if (this._cx !== null && this._cx.owner !== null) this._cx.owner._cancel(this);
  }

  /**
   * Client side: sends one piece of a chunked request body. The body is streamed when the
   * output headers carry `Transfer-Encoding: chunked` at `makeRequest`, or when this is called
   * before `makeRequest`; pieces are framed as chunks and go out in order once the request
   * head is on the wire. End with `sendRequestEnd`. Empty pieces are ignored.
   */
  sendRequestChunk(body: ReplyBody): void {
    if (this._incoming) throw new EvError("sendRequestChunk: not a client request");
    const cx = this._cx ??= new ClientReqState();
    if (cx.owner !== null && !cx.streaming) {
      throw new EvError("sendRequestChunk: the request was made without a streamed body");
    }
    if (cx.streamEnded) throw new EvError("sendRequestChunk after sendRequestEnd");
    // After the request ended (answered, failed, cancelled) a piece goes nowhere: a pump that
    // does not check would otherwise fill memory with an upload nobody sends.
    if (cx.finished) return;
    const n = typeof body === "string" ? -1 : body.length;
    if (n === 0 || body === "") return;
    const out = cx.stream ??= new Evbuffer();
    if (typeof body === "string") {
      const bytes = encoder.encode(body);
      out.add(bytes.length.toString(16) + "\r\n");
      out.add(bytes);
    } else {
      out.add(n.toString(16) + "\r\n");
      if (body instanceof Uint8Array) out.add(body);
      else out.addBuffer(body);
    }
    out.add("\r\n");
    if (cx.owner !== null) cx.owner._streamMore(this);
  }

  /** Client side: ends a streamed request body (sends the last chunk). */
  sendRequestEnd(): void {
    if (this._incoming) throw new EvError("sendRequestEnd: not a client request");
    const cx = this._cx ??= new ClientReqState();
    if (cx.owner !== null && !cx.streaming) {
      throw new EvError("sendRequestEnd: the request was made without a streamed body");
    }
    if (cx.streamEnded) return;
    cx.streamEnded = true;
    if (cx.finished) return;
    (cx.stream ??= new Evbuffer()).add("0\r\n\r\n");
    if (cx.owner !== null) cx.owner._streamMore(this);
  }

  /**
   * Client side: why the request failed (a connect, TLS, protocol, timeout or cancel error
   * with the underlying error as `cause`), or `null`.
   */
  getError(): Error | null {
    return this._cx?.error ?? null;
  }

  /** Whether the request came from a client (server side). */
  isIncoming(): boolean {
    return this._incoming;
  }

  /** @ignore */
  _computeHost(): string | null {
    const u = this._uri;
    if (u.length !== 0 && u.charCodeAt(0) !== 0x2f) {
      const parsed = this.getEvhttpUri();
      if (parsed.host !== null) return parsed.host;
    }
    const h = this._hostHeader;
    if (h === null) return null;
    // Strip a trailing ":digits" (and keep IPv6 literals whole).
    let i = h.length - 1;
    while (i >= 0 && h.charCodeAt(i) >= 0x30 && h.charCodeAt(i) <= 0x39) i--;
    if (i >= 0 && h.charCodeAt(i) === 0x3a && h.charCodeAt(i - 1) !== 0x3a) {
      const bracket = h.lastIndexOf("]");
      if (h.charCodeAt(0) !== 0x5b || bracket === i - 1) return h.slice(0, i);
    }
    return h;
  }

  #canReply(what: string): boolean {
    if (this._owner === null) {
      if (this._incoming) return false;
      throw new EvError(`${what}: not a server request`);
    }
    if (this._replyState !== NOT_STARTED) throw new EvError(`${what}: the reply was already sent`);
    return true;
  }

  #canStream(): boolean {
    if (this._owner === null) {
      if (this._incoming) return false;
      throw new EvError("sendReplyChunk: not a server request");
    }
    if (this._replyState !== STREAMING) {
      throw new EvError("sendReplyChunk without sendReplyStart");
    }
    return true;
  }
}

/** @ignore */
export const REPLY_NOT_STARTED = NOT_STARTED;
/** @ignore */
export const REPLY_STREAMING = STREAMING;
/** @ignore */
export const REPLY_DONE = DONE;

/** A status to send must be a three-digit code in 100–599 (RFC 9110 §15); anything else is misuse. */
function checkStatus(code: number): void {
  if (!isValidStatus(code)) throw new RangeError(`invalid HTTP status code ${code}`);
}
