/**
 * The client side of an `EvhttpConnection` (libevent's outgoing `evhttp_connection`): a lazy
 * transport that connects on the first request, reconnects for the next one after the server
 * closed it, retries refused connects with exponential back-off, sends queued requests in order
 * (one at a time, or pipelined when asked), and parses responses from views of the input with
 * the server's parser.
 *
 * @module
 */

import { Bufferevent } from "../bufferevent/bufferevent.ts";
import type { GetaddrinfoResolver, TlsOptions } from "../bufferevent/bufferevent.ts";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_READING,
  BEV_EVENT_TIMEOUT,
  BEV_OPT_CLOSE_ON_FREE,
} from "../bufferevent/constants.ts";
import { Evbuffer } from "../bufferevent/evbuffer.ts";
import { SUSPEND_CONNECTING, SUSPEND_LOOKUP } from "../bufferevent/_backend.ts";
import { InternalTimer } from "../reactor/_internal_timer.ts";
import { EV_READ, EV_WRITE } from "../reactor/constants.ts";
import { EvError } from "../reactor/errors.ts";
import type { EventBase } from "../reactor/event_base.ts";
import {
  ChunkedDecoder,
  drainEmptyLines,
  findHeadEnd,
  headLimitStatus,
  parseResponseHead,
  ResponseHead,
} from "./_parser.ts";
import {
  EVHTTP_REQ_CONNECT,
  EVHTTP_REQ_DELETE,
  EVHTTP_REQ_GET,
  EVHTTP_REQ_HEAD,
  EVHTTP_REQ_OPTIONS,
  EVHTTP_REQ_POST,
  EVHTTP_REQ_PUT,
  EVHTTP_REQ_TRACE,
  evhttpMethodName,
  EVREQ_HTTP_DATA_TOO_LONG,
  EVREQ_HTTP_EOF,
  EVREQ_HTTP_INVALID_HEADER,
  EVREQ_HTTP_REQUEST_CANCEL,
  EVREQ_HTTP_TIMEOUT,
} from "./constants.ts";
import type { EvhttpConnection } from "./connection.ts";
import { extMethodName, hasToken } from "./_reply.ts";
import { _catchAsync, type ClientOwner, ClientReqState, type EvhttpRequest } from "./request.ts";

// Transport states.
const C_DISCONNECTED = 0;
const C_CONNECTING = 1;
const C_CONNECTED = 2;
const C_RETRY_WAIT = 3;
const C_FREED = 4;

// What the next input bytes are.
const R_HEAD = 0;
const R_LENGTH = 1;
const R_CHUNKED = 2;
const R_UNTIL_CLOSE = 3;

/**
 * Most requests a pipelining connection has on the wire at once. Without a cap the whole queue
 * went out, and a server closing after each answer made every close send the rest again:
 * quadratic in the queue (1 000 requests: 21 MB sent).
 */
const PIPELINE_MAX = 32;

/** Interim (1xx) responses accepted before a request's final one. */
const MAX_INTERIM = 32;

/** libevent's `HTTP_CONNECT_TIMEOUT` (45 s). @ignore */
export const DEFAULT_CONNECT_TIMEOUT_MS = 45_000;
/** libevent's `HTTP_READ_TIMEOUT` / `HTTP_WRITE_TIMEOUT` (50 s). @ignore */
export const DEFAULT_IO_TIMEOUT_MS = 50_000;
/** libevent's initial retry delay (2 s). @ignore */
export const DEFAULT_RETRY_DELAY_MS = 2_000;
/** libevent caps the doubled retry delay at an hour. */
const MAX_RETRY_DELAY_MS = 3_600_000;

/** Methods a request may be repeated with (RFC 9110 §9.2.2), when it has no body. */
const IDEMPOTENT = EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
  EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE;

/** Shared by every connection: parsing is synchronous and the fields are taken at once. */
const head = new ResponseHead();

/** Where and how a client connection connects. @ignore */
export interface ClientTarget {
  /** Resolver for host names (null: the system resolver). */
  dns: GetaddrinfoResolver | null;
  /** Host name or address. */
  host: string;
  /** Port. */
  port: number;
  /** TLS settings (HTTPS), or null. */
  tls: TlsOptions | null;
  /** A caller-provided bufferevent for the first transport. */
  bev: Bufferevent | null;
  /** Makes the bufferevent of each transport (caller-provided). */
  factory: ((base: EventBase) => Bufferevent) | null;
}

function onRead(_bev: Bufferevent, arg: unknown): void {
  (arg as ClientConn)._process();
}

function onEvent(bev: Bufferevent, what: number, arg: unknown): void {
  (arg as ClientConn)._onEvent(bev, what);
}

/** The `Host` header value for `host:port` (the port left out when it is the default). */
function hostHeader(host: string, port: number, tls: boolean): string {
  let h = host;
  if (h.indexOf(":") >= 0 && h.charCodeAt(0) !== 0x5b) h = "[" + h + "]";
  const dflt = tls ? port === 443 : port === 80;
  return dflt ? h : h + ":" + port;
}

/**
 * A connection's requests in order: taken from the front as they finish. An array's `shift()`
 * copies the rest once the array is large (V8), which made a queue of 160 000 requests take
 * 12 s; here the front advances and the array is compacted now and then.
 *
 * @ignore
 */
export class RequestQueue {
  #a: (EvhttpRequest | undefined)[] = [];
  #h = 0;

  /** Requests in the queue. */
  get length(): number {
    return this.#a.length - this.#h;
  }

  /** The `i`-th request from the front. */
  at(i: number): EvhttpRequest {
    return this.#a[this.#h + i]!;
  }

  push(req: EvhttpRequest): void {
    this.#a.push(req);
  }

  indexOf(req: EvhttpRequest): number {
    const i = this.#a.indexOf(req, this.#h);
    return i < 0 ? -1 : i - this.#h;
  }

  removeAt(i: number): void {
    this.#a.splice(this.#h + i, 1);
  }

  shift(): EvhttpRequest {
    const a = this.#a;
    const req = a[this.#h]!;
    a[this.#h++] = undefined;
    if (this.#h === a.length) {
      a.length = 0;
      this.#h = 0;
    } else if (this.#h >= 1024 && this.#h * 2 >= a.length) {
      a.splice(0, this.#h);
      this.#h = 0;
    }
    return req;
  }

  /** Empties the queue, returning what it held in order. */
  takeAll(): EvhttpRequest[] {
    const rest = this.#a.slice(this.#h) as EvhttpRequest[];
    this.#a = [];
    this.#h = 0;
    return rest;
  }
}

/**
 * The client machine of one `EvhttpConnection`.
 *
 * @ignore
 */
export class ClientConn implements ClientOwner {
  readonly conn: EvhttpConnection;
  readonly base: EventBase;
  /** Every request made and not finished, in order; the first `nSent` are on the wire. */
  queue: RequestQueue = new RequestQueue();
  nSent = 0;
  retries = 0;
  initialRetryDelay: number = DEFAULT_RETRY_DELAY_MS;
  connectTimeout: number = DEFAULT_CONNECT_TIMEOUT_MS;
  pipelining = false;
  state: number = C_DISCONNECTED;
  #target: ClientTarget;
  #givenUsed = false;
  #hostHeader: string;
  #bev: Bufferevent | null = null;
  /** Empty-line bytes skipped before the status line being awaited (counted against the limit). */
  #blank = 0;
  /** How much of an incomplete head was searched for its end already. */
  #headSeen = 0;
  #rstate = R_HEAD;
  #bodyLeft = 0;
  #bodyTotal = 0;
  #decoder: ChunkedDecoder | null = null;
  #decoderMax = -2;
  #decoderHead = -2;
  /** The transport closes after the response being read. */
  #closeAfter = false;
  /** A request on the wire said `Connection: close`: send nothing more on this transport. */
  #noMoreSends = false;
  /** Bytes of the current response arrived. */
  #gotBytes = false;
  /** Responses completed on the current transport. */
  #uses = 0;
  #retryCnt = 0;
  #processing = false;
  #connectTimer: InternalTimer;
  #retryTimer: InternalTimer;

  constructor(conn: EvhttpConnection, target: ClientTarget) {
    this.conn = conn;
    this.base = conn._base;
    this.#target = target;
    this.#hostHeader = hostHeader(
      target.host,
      target.port,
      target.tls !== null || (target.bev !== null && target.port === 443) ||
        (target.factory !== null && target.port === 443),
    );
    this.#connectTimer = new InternalTimer(this.base, () => this.#connectTimedOut());
    this.#retryTimer = new InternalTimer(this.base, () => this.#retryNow());
  }

  // ------------------------------------------------------------------ requests

  makeRequest(req: EvhttpRequest, method: number, uri: string): void {
    if (this.state === C_FREED) throw new EvError("makeRequest on a freed connection");
    if (req._incoming) throw new EvError("makeRequest: a server request cannot be sent");
    const name = evhttpMethodName(method) ?? extMethodName(this.conn._extMethodCmp, method);
    if (name === null) throw new TypeError(`makeRequest: unknown method ${method}`);
    if (/[\r\n\0]/.test(uri) || uri.length === 0) {
      throw new TypeError(`makeRequest: invalid request target ${JSON.stringify(uri)}`);
    }
    const cx = req._cx ??= new ClientReqState();
    if (cx.owner !== null) throw new EvError("makeRequest: the request is already pending");
    req._method = method;
    req._methodName = name;
    req._uri = uri;
    req._code = 0;
    req._reason = "";
    req._conn = this.conn;
    cx.owner = this;
    cx.headSent =
      cx.bodySent =
      cx.waitContinue =
      cx.closeReq =
      cx.retried =
        false;
    cx.error = null;
    const oh = req.getOutputHeaders();
    const te = oh.find("Transfer-Encoding");
    cx.streaming = cx.stream !== null || (te !== undefined && hasToken(te, "chunked"));
    const body = req._outBuf;
    if (cx.streaming) {
      if (te === undefined) oh.add("Transfer-Encoding", "chunked");
      oh.remove("Content-Length");
      if (body !== null && body.length > 0) {
        // What the output buffer held is the first chunk, ahead of any streamed pieces.
        const first = new Evbuffer();
        first.add(body.length.toString(16) + "\r\n");
        first.addBuffer(body);
        first.add("\r\n");
        if (cx.stream !== null) first.addBuffer(cx.stream);
        cx.stream = first;
      }
    }
    cx.resendable = !cx.streaming && (body === null || body.length === 0) &&
      (method & IDEMPOTENT) !== 0;
    this.queue.push(req);
    this.#kick();
  }

  _cancel(req: EvhttpRequest): void {
    const i = this.queue.indexOf(req);
    if (i < 0) return;
    const cx = req._cx!;
    if (cx.discard) return;
    cx.error = new EvError("request cancelled");
    if (i > 0 && i < this.nSent) {
      // Pipelined behind another on the wire: dropping the transport would replay (or fail)
      // the requests ahead; let its answer come and throw it away instead.
      cx.discard = true;
      this.#errorCb(req, EVREQ_HTTP_REQUEST_CANCEL);
      return;
    }
    cx.owner = null;
    cx.finished = true;
    cx.stream = null;
    this.queue.removeAt(i);
    if (i < this.nSent) {
      // The first on the wire: the only way to stop it is to drop the transport (libevent).
      this.nSent--;
      this.#dropTransport();
      this.#kick();
    } else if (this.queue.length === 0 && this.state === C_RETRY_WAIT) {
      this.#retryTimer.disarm();
      this.state = C_DISCONNECTED;
      // The next request starts with its full retry allowance (libevent resets the count).
      this.#retryCnt = 0;
    }
    this.#errorCb(req, EVREQ_HTTP_REQUEST_CANCEL);
  }

  _streamMore(req: EvhttpRequest): void {
    const cx = req._cx!;
    if (!cx.headSent || cx.waitContinue || this.#bev === null) return;
    this.#flushStream(req, this.#bev.getOutput());
    if (cx.bodySent) this.#trySend();
  }

  /** Frees the connection; pending requests fail with `EVREQ_HTTP_REQUEST_CANCEL`. */
  free(): void {
    if (this.state === C_FREED) return;
    this.#connectTimer.disarm();
    this.#retryTimer.disarm();
    const pending = this.queue.takeAll();
    this.nSent = 0;
    this.#dropTransport();
    this.state = C_FREED;
    const given = this.#target.bev;
    if (given !== null && !this.#givenUsed) {
      this.#givenUsed = true;
      given.free();
    }
    for (const req of pending) {
      this.#fail(req, EVREQ_HTTP_REQUEST_CANCEL, new EvError("the connection was freed"));
    }
  }

  applyTimeouts(): void {
    // While connecting the connect timeout governs; #connected() applies these.
    if (this.state === C_CONNECTING) return;
    this.#bev?.setTimeouts(this.conn._readTimeout, this.conn._writeTimeout);
  }

  // ------------------------------------------------------------------ transport

  /** Starts whatever the queue needs: a connect, or sending. */
  #kick(): void {
    if (this.queue.length === 0) return;
    if (this.state === C_DISCONNECTED) this.#connect();
    else if (this.state === C_CONNECTED) this.#trySend();
  }

  #newBufferevent(): Bufferevent | null {
    const t = this.#target;
    if (t.bev !== null && !this.#givenUsed) {
      this.#givenUsed = true;
      return t.bev;
    }
    if (t.factory !== null) return t.factory(this.base);
    if (t.tls !== null) return Bufferevent.tlsNew(this.base, null, t.tls, BEV_OPT_CLOSE_ON_FREE);
    if (t.bev !== null) return null;
    return Bufferevent.socketNew(this.base, null, BEV_OPT_CLOSE_ON_FREE);
  }

  #connect(): void {
    let bev: Bufferevent | null;
    try {
      bev = this.#newBufferevent();
    } catch (e) {
      this.#failAll(EVREQ_HTTP_EOF, new EvError("cannot create the bufferevent", { cause: e }));
      return;
    }
    if (bev === null) {
      this.#failAll(
        EVREQ_HTTP_EOF,
        new EvError(
          "the bufferevent given to baseBuffereventNew was already used; pass a factory " +
            "function to reconnect",
        ),
      );
      return;
    }
    this.state = C_CONNECTING;
    this.#bev = bev;
    this.conn._bev = bev;
    this.#resetTransportState();
    bev.setcb(onRead, null, onEvent, this);
    if (bev.getConn() !== null) {
      // A bufferevent that is already connected (libevent's reuse_new).
      bev.enable(EV_READ | EV_WRITE);
      this.#connected();
      return;
    }
    if (this.connectTimeout > 0) this.#connectTimer.arm(this.connectTimeout);
    if ((bev._writeSuspended & (SUSPEND_CONNECTING | SUSPEND_LOOKUP)) !== 0) {
      // A factory that started the connect itself (a UNIX path, a bound source address): its
      // BEV_EVENT_CONNECTED (or error) settles it, as for ours.
      bev.enable(EV_READ | EV_WRITE);
      return;
    }
    const t = this.#target;
    try {
      bev.connectHostname(t.dns, 0, t.host, t.port);
    } catch (e) {
      this.#connectFailed(e, false);
      return;
    }
    bev.enable(EV_READ | EV_WRITE);
  }

  #connected(): void {
    this.#connectTimer.disarm();
    // Set once connected: during the connect the connect timeout governs, not the write one.
    this.#bev?.setTimeouts(this.conn._readTimeout, this.conn._writeTimeout);
    this.state = C_CONNECTED;
    this.#retryCnt = 0;
    this.#trySend();
  }

  #connectTimedOut(): void {
    if (this.state !== C_CONNECTING) return;
    const t = this.#target;
    this.#connectFailed(new Deno.errors.TimedOut(`connect to ${t.host}:${t.port} timed out`), true);
  }

  #connectFailed(err: unknown, timedOut: boolean): void {
    this.#connectTimer.disarm();
    const bev = this.#bev;
    this.#bev = null;
    this.conn._bev = null;
    bev?.free();
    this.state = C_DISCONNECTED;
    const t = this.#target;
    // Only a refused or timed-out connect is retried (libevent); DNS and TLS failures are not.
    const retryable = timedOut || err instanceof Deno.errors.ConnectionRefused;
    if (retryable && this.queue.length > 0 && (this.retries < 0 || this.#retryCnt < this.retries)) {
      const delay = Math.min(this.initialRetryDelay * 2 ** this.#retryCnt, MAX_RETRY_DELAY_MS);
      this.#retryCnt++;
      this.state = C_RETRY_WAIT;
      this.#retryTimer.arm(delay);
      return;
    }
    this.#retryCnt = 0;
    const msg = err instanceof Error ? err.message : String(err);
    const tlsFailed = t.tls !== null && !retryable && !(err instanceof Deno.errors.NotFound);
    this.#failAll(
      timedOut ? EVREQ_HTTP_TIMEOUT : EVREQ_HTTP_EOF,
      new EvError(
        tlsFailed
          ? `TLS connection to ${t.host}:${t.port} failed: ${msg}`
          : `cannot connect to ${t.host}:${t.port}: ${msg}`,
        { cause: err },
      ),
    );
  }

  #retryNow(): void {
    if (this.state !== C_RETRY_WAIT) return;
    this.state = C_DISCONNECTED;
    this.#kick();
  }

  #resetTransportState(): void {
    this.#rstate = R_HEAD;
    this.#blank = 0;
    this.#headSeen = 0;
    this.#closeAfter = false;
    this.#noMoreSends = false;
    this.#gotBytes = false;
    this.#uses = 0;
  }

  /**
   * Closes the transport. Requests on the wire go back to waiting (the callers removed the one
   * that failed or finished); the close callback runs if the transport was up.
   */
  #dropTransport(): void {
    const bev = this.#bev;
    if (bev === null) return;
    const wasUp = this.state === C_CONNECTED;
    this.#connectTimer.disarm();
    this.#bev = null;
    this.conn._bev = null;
    this.state = C_DISCONNECTED;
    bev.free();
    // Cancelled requests that were on the wire are done with: no answer will come now.
    let n = this.nSent;
    for (let i = n - 1; i >= 0; i--) {
      const cx = this.queue.at(i)._cx!;
      if (cx.discard) {
        cx.owner = null;
        this.queue.removeAt(i);
        n--;
      }
    }
    for (let i = 0; i < n; i++) {
      const cx = this.queue.at(i)._cx!;
      cx.headSent = cx.bodySent = cx.waitContinue = false;
      cx.interims = 0;
    }
    this.nSent = 0;
    this.#rstate = R_HEAD;
    if (wasUp) {
      const cb = this.conn._closeCb;
      if (cb !== null) {
        try {
          cb(this.conn, this.conn._closeArg);
        } catch (e) {
          this.base._reportError(e);
        }
      }
    }
  }

  _onEvent(bev: Bufferevent, what: number): void {
    if (bev !== this.#bev) return;
    if ((what & BEV_EVENT_CONNECTED) !== 0) {
      if (this.state === C_CONNECTING) this.#connected();
      return;
    }
    if (this.state === C_CONNECTING) {
      this.#connectFailed(bev.getError() ?? new EvError("connect failed"), false);
      return;
    }
    if ((what & BEV_EVENT_TIMEOUT) !== 0) {
      if (this.nSent === 0) {
        // An idle connection timed out: close it quietly, as libevent's close detection does.
        this.#dropTransport();
        this.#kick();
        return;
      }
      if ((what & BEV_EVENT_READING) !== 0 && bev.getOutput().length > 0) {
        // Still uploading the request: the response cannot be late yet.
        bev.enable(EV_READ);
        return;
      }
      this.#failCurrent(EVREQ_HTTP_TIMEOUT, new EvError("the request timed out"));
      return;
    }
    // EOF or an error.
    if (this.nSent > 0) this._process();
    if (bev !== this.#bev) return;
    if (this.nSent === 0) {
      // The server closed an idle keep-alive connection: the next request reconnects.
      this.#dropTransport();
      this.#kick();
      return;
    }
    if (this.#rstate === R_UNTIL_CLOSE && (what & BEV_EVENT_EOF) !== 0) {
      this.#complete(this.queue.at(0));
      return;
    }
    const req = this.queue.at(0);
    const cx = req._cx!;
    if (!this.#gotBytes && this.#uses > 0 && cx.resendable && !cx.retried) {
      // The server dropped a reused connection before answering (it raced our request with
      // its idle close): send the request again on a new connection, once.
      cx.retried = true;
      this.#dropTransport();
      this.#kick();
      return;
    }
    const err = bev.getError();
    this.#failCurrent(
      EVREQ_HTTP_EOF,
      err !== null
        ? new EvError(`connection error: ${err.message}`, { cause: err })
        : new EvError("the server closed the connection before the response was complete"),
    );
  }

  // ------------------------------------------------------------------ sending

  #trySend(): void {
    const bev = this.#bev!;
    const q = this.queue;
    while (this.nSent < q.length) {
      if (this.nSent > 0) {
        // Pipelining: only requests that could be resent go behind others (RFC 9112 §9.3.2).
        if (!this.pipelining || this.#noMoreSends || this.nSent >= PIPELINE_MAX) break;
        if (!q.at(this.nSent - 1)._cx!.bodySent || !q.at(this.nSent)._cx!.resendable) break;
      }
      this.#writeRequest(q.at(this.nSent++), bev.getOutput());
    }
  }

  #writeRequest(req: EvhttpRequest, out: Evbuffer): void {
    const cx = req._cx!;
    let s = req._methodName + " " + req._uri + " HTTP/1.1\r\n";
    let hasHost = false;
    let hasLength = false;
    let expect = false;
    const h = req._outHeaders;
    if (h !== null) {
      const n = h.size;
      for (let i = 0; i < n; i++) {
        const lk = h._lkeyAt(i);
        const v = h.valueAt(i);
        switch (lk.length) {
          case 4:
            if (lk === "host") hasHost = true;
            break;
          case 6:
            if (lk === "expect" && hasToken(v, "100-continue")) expect = true;
            break;
          case 10:
            if (lk === "connection" && hasToken(v, "close")) cx.closeReq = true;
            break;
          case 14:
            if (lk === "content-length") hasLength = true;
            break;
        }
        s += h.keyAt(i) + ": " + v + "\r\n";
      }
    }
    if (!hasHost) s += "Host: " + this.#hostHeader + "\r\n";
    const body = req._outBuf;
    const blen = body === null ? 0 : body.length;
    if (!cx.streaming && !hasLength) {
      const m = req._method;
      if (blen > 0 || m === EVHTTP_REQ_POST || m === EVHTTP_REQ_PUT) {
        s += "Content-Length: " + blen + "\r\n";
      }
    }
    out.add(s + "\r\n");
    cx.headSent = true;
    if (cx.closeReq) this.#noMoreSends = true;
    if (expect && (blen > 0 || cx.streaming)) {
      cx.waitContinue = true;
      return;
    }
    this.#writeBody(req, out);
  }

  #writeBody(req: EvhttpRequest, out: Evbuffer): void {
    const cx = req._cx!;
    if (cx.streaming) {
      this.#flushStream(req, out);
      return;
    }
    const body = req._outBuf;
    if (body !== null && body.length > 0) out.addBuffer(body);
    cx.bodySent = true;
  }

  #flushStream(req: EvhttpRequest, out: Evbuffer): void {
    const cx = req._cx!;
    if (cx.stream !== null && cx.stream.length > 0) out.addBuffer(cx.stream);
    if (cx.streamEnded) cx.bodySent = true;
  }

  // ------------------------------------------------------------------ receiving

  /** Parses what arrived, as far as it goes. */
  _process(): void {
    if (this.#processing) return;
    const bev = this.#bev;
    if (bev === null) return;
    this.#processing = true;
    try {
      const input = bev.getInput();
      while (this.#bev === bev) {
        if (this.nSent === 0) {
          if (input.length > 0) {
            // Bytes nobody asked for: the connection cannot be trusted any more.
            this.#dropTransport();
            this.#kick();
          }
          break;
        }
        if (input.length > 0) this.#gotBytes = true;
        if (this.#rstate === R_HEAD) {
          if (input.length === 0 || !this.#parseHead(bev, input)) break;
        } else if (!this.#readBody(input)) break;
      }
    } finally {
      this.#processing = false;
    }
  }

  /** Parses one head; false when more bytes are needed or the request failed. */
  #parseHead(bev: Bufferevent, input: Evbuffer): boolean {
    const max = this.conn._maxHeadersSize;
    // Empty lines before a status line are skipped, but count against the head limit.
    this.#blank += drainEmptyLines(input);
    if (max >= 0 && this.#blank > max) {
      this.#failCurrent(
        EVREQ_HTTP_INVALID_HEADER,
        new EvError(`over ${max} bytes of empty lines before the status line`),
      );
      return false;
    }
    if (input.length === 0) return false;
    let view = input.peek(1)[0]!;
    let end = findHeadEnd(view, 0, view.length, this.#headSeen);
    if (end < 0 && view.length < input.length) {
      const cap = max < 0 ? input.length : Math.min(input.length, max * 3 + 4096);
      view = input.pullup(cap)!;
      end = findHeadEnd(view, 0, view.length, this.#headSeen);
    }
    this.#headSeen = end < 0 ? view.length : 0;
    if (max >= 0 && headLimitStatus(view, 0, end, max) !== 0) {
      this.#failCurrent(
        EVREQ_HTTP_INVALID_HEADER,
        new EvError(`the response head is over the ${max}-byte limit`),
      );
      return false;
    }
    if (end < 0) return false;
    const rc = parseResponseHead(view, 0, end, head);
    input.drain(end);
    this.#blank = 0;
    if (rc !== 0) {
      this.#failCurrent(
        EVREQ_HTTP_INVALID_HEADER,
        new EvError(`invalid response head: ${head.errorReason}`),
      );
      return false;
    }
    const req = this.queue.at(0);
    const cx = req._cx!;
    const code = head.code;
    if (code < 200 && code !== 101) {
      // Interim responses are skipped, but not without end: each resets the read timeout, so
      // a server sending 103s for ever kept a request (and evhttpFetch's promise) open for ever.
      if (++cx.interims > MAX_INTERIM) {
        this.#failCurrent(
          EVREQ_HTTP_INVALID_HEADER,
          new EvError(`more than ${MAX_INTERIM} interim (1xx) responses`),
        );
        return false;
      }
      // 100 releases a body held back for it.
      if (code === 100 && cx.waitContinue) {
        cx.waitContinue = false;
        this.#writeBody(req, bev.getOutput());
        this.#trySend();
      }
      return true;
    }
    req._code = code;
    req._reason = head.reason;
    req._inHeaders = head.headers;
    if (cx.waitContinue) {
      // A final answer before 100 Continue: the body is never sent, so the connection's
      // framing is unknown to the server; do not reuse it.
      cx.waitContinue = false;
      this.#closeAfter = true;
    }
    if (
      !cx.bodySent || head.connectionClose || cx.closeReq || code === 101 ||
      (req._method === EVHTTP_REQ_CONNECT && code >= 200 && code < 300) ||
      (head.minor === 0 && !head.connectionKeepAlive)
    ) {
      this.#closeAfter = true;
    }
    if (this.#closeAfter) this.#noMoreSends = true;
    const m = req._method;
    if (
      m === EVHTTP_REQ_HEAD || code === 204 || code === 304 || code === 101 ||
      (m === EVHTTP_REQ_CONNECT && code < 300)
    ) {
      this.#complete(req);
      return this.#bev === bev;
    }
    const maxBody = this.conn._maxBodySize;
    this.#bodyTotal = 0;
    if (head.chunked) {
      const maxHead = this.conn._maxHeadersSize;
      if (
        this.#decoder === null || this.#decoderMax !== maxBody || this.#decoderHead !== maxHead
      ) {
        this.#decoder = new ChunkedDecoder({
          maxBodySize: maxBody < 0 ? Infinity : maxBody,
          // Trailers are header fields: the header limit bounds them too (libevent).
          maxTrailerSize: maxHead < 0 ? 65536 : maxHead,
          allowFold: true,
        });
        this.#decoderMax = maxBody;
        this.#decoderHead = maxHead;
      } else this.#decoder.reset();
      this.#rstate = R_CHUNKED;
    } else if (head.contentLength >= 0) {
      const cl = head.contentLength;
      if (maxBody >= 0 && cl > maxBody) {
        this.#failCurrent(
          EVREQ_HTTP_DATA_TOO_LONG,
          new EvError(`the response body (${cl} bytes) is over the ${maxBody}-byte limit`),
        );
        return false;
      }
      if (cl === 0) {
        this.#complete(req);
        return this.#bev === bev;
      }
      this.#bodyLeft = cl;
      this.#rstate = R_LENGTH;
    } else {
      // No length: the body runs until the server closes (RFC 9112 §6.3).
      this.#rstate = R_UNTIL_CLOSE;
      this.#closeAfter = true;
      this.#noMoreSends = true;
    }
    return true;
  }

  /** Moves body bytes into the request; false when more are needed (or the request ended). */
  #readBody(input: Evbuffer): boolean {
    const bev = this.#bev;
    const req = this.queue.at(0);
    const buf = req.getInputBuffer();
    const st = this.#rstate;
    if (st === R_LENGTH) {
      const n = Math.min(this.#bodyLeft, input.length);
      if (n > 0) {
        input.removeBuffer(buf, n);
        this.#bodyLeft -= n;
        if (!this.#deliverPiece(req, buf)) return false;
      }
      if (this.#bodyLeft > 0) return false;
    } else if (st === R_CHUNKED) {
      const d = this.#decoder!;
      let consumed = 0;
      const views = input.peek();
      for (let v = 0; v < views.length && !d.done && d.error === 0; v++) {
        const view = views[v]!;
        consumed += d.feed(view, 0, view.length);
        for (let i = 0; i < d.count; i++) buf.add(d.data(view, i));
      }
      input.drain(consumed);
      if (d.error !== 0) {
        if (d.error === 413) {
          this.#failCurrent(
            EVREQ_HTTP_DATA_TOO_LONG,
            new EvError(`the response body is over the ${this.conn._maxBodySize}-byte limit`),
          );
        } else {
          this.#failCurrent(
            EVREQ_HTTP_INVALID_HEADER,
            new EvError(`invalid chunked body: ${d.errorReason}`),
          );
        }
        return false;
      }
      if (buf.length > 0 && !this.#deliverPiece(req, buf)) return false;
      if (!d.done) return false;
      const tr = d.trailers;
      if (tr.size > 0) {
        const ih = req.getInputHeaders();
        for (let i = 0; i < tr.size; i++) {
          ih._addUnchecked(tr.keyAt(i), tr._lkeyAt(i), tr.valueAt(i));
        }
      }
    } else {
      const n = input.length;
      if (n === 0) return false;
      const max = this.conn._maxBodySize;
      this.#bodyTotal += n;
      if (max >= 0 && this.#bodyTotal > max) {
        this.#failCurrent(
          EVREQ_HTTP_DATA_TOO_LONG,
          new EvError(`the response body is over the ${max}-byte limit`),
        );
        return false;
      }
      input.removeBuffer(buf, n);
      this.#deliverPiece(req, buf);
      return false;
    }
    this.#complete(req);
    return this.#bev === bev;
  }

  /** Hands a piece to the chunked callback; false when the request went away meanwhile. */
  #deliverPiece(req: EvhttpRequest, buf: Evbuffer): boolean {
    if (req._cx!.discard) {
      buf.drain(buf.length);
      return true;
    }
    const cb = req._chunkCb;
    if (cb === null || buf.length === 0) return true;
    const bev = this.#bev;
    try {
      _catchAsync(cb(req, req._arg), this.base);
    } catch (e) {
      this.base._reportError(e);
    }
    buf.drain(buf.length);
    return this.#bev === bev && this.queue.length > 0 && this.queue.at(0) === req;
  }

  // ------------------------------------------------------------------ finishing requests

  /** The response to `req` (the first on the wire) is complete. */
  #complete(req: EvhttpRequest): void {
    this.queue.shift();
    this.nSent--;
    this.#uses++;
    this.#rstate = R_HEAD;
    this.#gotBytes = false;
    const done = req._cx!;
    done.owner = null;
    done.finished = true;
    done.stream = null;
    if (this.#closeAfter || this.#unsolicited()) this.#dropTransport();
    // The next request goes out before the callback runs (libevent's order).
    this.#kick();
    if (req._cx!.discard) return;
    const cb = req._cb;
    if (cb === null) return;
    try {
      _catchAsync(cb(req, req._arg), this.base);
    } catch (e) {
      this.base._reportError(e);
    }
  }

  /**
   * Whether bytes other than empty lines follow a response while no other request is on the
   * wire: nobody asked for them, and the next request must not take them for its answer.
   */
  #unsolicited(): boolean {
    const input = this.#bev?.getInput();
    if (this.nSent !== 0 || input === undefined || input.length === 0) return false;
    drainEmptyLines(input);
    return input.length > 0;
  }

  /** The first request on the wire failed: drop the transport, go on with the others. */
  #failCurrent(kind: number, err: Error): void {
    const req = this.queue.shift();
    this.nSent--;
    this.#dropTransport();
    this.#kick();
    this.#fail(req, kind, err);
  }

  #failAll(kind: number, err: Error): void {
    const reqs = this.queue.takeAll();
    this.nSent = 0;
    for (const req of reqs) this.#fail(req, kind, err);
  }

  /** Error callback, then the request callback with the response code 0. */
  #fail(req: EvhttpRequest, kind: number, err: Error): void {
    const cx = req._cx!;
    cx.owner = null;
    cx.finished = true;
    cx.stream = null;
    // A cancelled request was told so already.
    if (cx.discard) return;
    cx.error = err;
    req._code = 0;
    req._reason = "";
    this.#errorCb(req, kind);
    const cb = req._cb;
    if (cb === null) return;
    try {
      _catchAsync(cb(req, req._arg), this.base);
    } catch (e) {
      this.base._reportError(e);
    }
  }

  #errorCb(req: EvhttpRequest, kind: number): void {
    const ecb = req._errorCb;
    if (ecb === null) return;
    try {
      ecb(kind, req._arg);
    } catch (e) {
      this.base._reportError(e);
    }
  }
}
