/**
 * The server side of one HTTP connection: a state machine over a bufferevent. Heads are parsed
 * from views of the input (no copy when the head sits in one chunk), bodies are moved into the
 * request's input buffer without copying (Content-Length) or decoded in place (chunked), and
 * each response goes to the output in one `add` for the head (plus the body), so one write
 * carries it — and the responses to pipelined requests that were parsed in the same pass.
 *
 * @module
 */

import type { Bufferevent } from "../bufferevent/bufferevent.ts";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_TIMEOUT,
  BEV_EVENT_WRITING,
  BEV_FINISHED,
} from "../bufferevent/constants.ts";
import { Evbuffer } from "../bufferevent/evbuffer.ts";
import { ActiveEntry } from "../reactor/_active.ts";
import { InternalTimer } from "../reactor/_internal_timer.ts";
import { EV_READ, EV_WRITE } from "../reactor/constants.ts";
import type { EventBase } from "../reactor/event_base.ts";
import { httpDate } from "./_date.ts";
import {
  ChunkedDecoder,
  drainEmptyLines,
  findHeadEnd,
  headLimitStatus,
  memoRequestHead,
  parseRequestHead,
  replayRequestHead,
  RequestHead,
  UNKNOWN_METHOD,
} from "./_parser.ts";
import { allowValue, asciiLength, errorPage, statusLine } from "./_reply.ts";
import {
  EVHTTP_REQ_CONNECT,
  EVHTTP_REQ_HEAD,
  EVHTTP_REQ_MAX,
  type EvhttpExtMethod,
  EVREQ_HTTP_EOF,
} from "./constants.ts";
import { EvhttpConnection } from "./connection.ts";
import type { Evkeyvalq } from "./keyvalq.ts";
import type { Evhttp, EvhttpErrorCb } from "./evhttp.ts";
import {
  _catchAsync,
  EvhttpRequest,
  REPLY_DONE,
  REPLY_NOT_STARTED,
  REPLY_STREAMING,
  type ReplyBody,
  type ReplyChunkCb,
  type RequestOwner,
} from "./request.ts";
import { reasonPhrase, statusAllowsBody } from "./status.ts";
import { evhttpHtmlescape, requestPath } from "./uri.ts";

/**
 * How long a request whose client sent EOF keeps the connection when no read timeout is set
 * (libevent's HTTP read timeout). Module-wide; tests lower it.
 * @ignore
 */
export const eofGrace = { ms: 50_000 };
const S_HEAD = 0;
const S_BODY = 1;
const S_HANDLING = 2;
const S_CLOSING = 3;
const S_FREED = 4;
/** A 101 switched the connection to another protocol: its bufferevent belongs to the handler. */
const S_UPGRADED = 5;

/** Stop parsing pipelined requests while this much output waits; resume once it drained. */
const OUT_HIGH = 1024 * 1024;
/** Stop reading while a handler runs and this much input is buffered. */
const IN_HIGH = 1024 * 1024;
/** How long a closing connection keeps reading (and discarding) after its last byte went out. */
const LINGER_MS = 2000;

// Why the write callback is wanted (it makes writes observable, so it is set only when needed).
const W_CLOSE = 1;
const W_CHUNK = 2;
const W_RESUME = 4;
/** Replies with an on-complete callback wait for the output to drain. */
const W_COMPLETE = 8;
/** The next request is attached (newreqcb) once the previous reply went out. */
const W_ATTACH = 16;

const CONTINUE_LINE = "HTTP/1.1 100 Continue\r\n\r\n";
const encoder = new TextEncoder();

/** A 2xx answer to CONNECT: it opens a tunnel, so it carries no body and no framing. */
function connectOk(req: EvhttpRequest, code: number): boolean {
  return code >= 200 && code < 300 && req._method === EVHTTP_REQ_CONNECT;
}

/** Shared by every connection: parsing is synchronous, the fields are copied out at once. */
const head = new RequestHead();
/** The last request target and its path (`null`: refused), for `#beginRequest`. */
let lastTarget = "\0";
let lastPath: string | null = null;

const NO_BYTES = new Uint8Array(0);
/**
 * Response heads are written straight into the output's tail array (`wbuf` from `wpos` on):
 * no head string is concatenated and encoded, no view is allocated. Set only while one head is
 * being written, which is synchronous.
 */
let wbuf: Uint8Array = NO_BYTES;
let wpos = 0;

/** Appends `s` at `wpos`: ASCII char by char, anything else through the UTF-8 encoder. */
function put(s: string): void {
  const n = s.length;
  const b = wbuf;
  let p = wpos;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      p += encoder.encodeInto(i === 0 ? s : s.slice(i), b.subarray(p)).written;
      break;
    }
    b[p++] = c;
  }
  wpos = p;
}

/**
 * What the head being written depends on, besides the request's version and flags. Set by
 * `#writeHead` for one synchronous write, like `wbuf`/`wpos`; `h` is cleared afterwards so no
 * request's headers are kept.
 */
const headKey = {
  status: "",
  h: null as Evkeyvalq | null,
  ct: null as string | null,
  allow: false,
  /** A 2xx answer to CONNECT: it carries no Content-Length even if the handler set one. */
  connectOk: false,
  bodyLen: 0,
  bodyOut: false,
};

/**
 * The head of the last complete (not streamed) reply up to its Connection line, and the key it
 * was written for. A server answering alike requests writes the same head every time (only the
 * Date changes, once a second): comparing the key and copying the bytes instead of formatting
 * took pipelined requests from 1.57 to 1.35 µs of CPU each. One entry: a miss costs one copy.
 */
const headCache = {
  status: "",
  /** Header names and values as given (compared with `===`), `n` of them. */
  keys: [] as string[],
  vals: [] as string[],
  n: -1,
  ct: null as string | null,
  allow: false,
  connectOk: false,
  bodyLen: 0,
  bodyOut: false,
  /** The Date value written, or null when the user supplied a Date header. */
  date: null as string | null,
  connClose: false,
  bytes: new Uint8Array(256),
  /** `bytes` up to `len`, kept so a hit copies without allocating a view. */
  view: new Uint8Array(0),
  len: 0,
};

/** Whether `headCache` holds the head for `headKey` (and this second's Date). */
function headCacheHit(base: EventBase): boolean {
  const c = headCache;
  const k = headKey;
  const h = k.h;
  const n = h === null ? 0 : h.size;
  if (
    c.status !== k.status || c.ct !== k.ct || c.allow !== k.allow ||
    c.connectOk !== k.connectOk || c.bodyLen !== k.bodyLen || c.bodyOut !== k.bodyOut ||
    c.n !== n
  ) return false;
  for (let i = 0; i < n; i++) {
    if (h!.keyAt(i) !== c.keys[i] || h!.valueAt(i) !== c.vals[i]) return false;
  }
  return c.date === null || c.date === httpDate(base.gettimeofdayCached());
}

/** Keeps `wbuf[from, to)`, the head just formatted for `headKey`. */
function headCacheStore(date: string | null, connClose: boolean, from: number, to: number): void {
  const c = headCache;
  const k = headKey;
  const len = to - from;
  if (c.bytes.length < len) c.bytes = new Uint8Array(len * 2);
  c.bytes.set(wbuf.subarray(from, to));
  c.len = len;
  c.view = c.bytes.subarray(0, len);
  const h = k.h;
  const n = h === null ? 0 : h.size;
  for (let i = 0; i < n; i++) {
    c.keys[i] = h!.keyAt(i);
    c.vals[i] = h!.valueAt(i);
  }
  c.keys.length = c.vals.length = n;
  c.n = n;
  c.status = k.status;
  c.ct = k.ct;
  c.allow = k.allow;
  c.connectOk = k.connectOk;
  c.bodyLen = k.bodyLen;
  c.bodyOut = k.bodyOut;
  c.date = date;
  c.connClose = connClose;
}

class ProcessEntry extends ActiveEntry {
  constructor(readonly conn: ServerConn) {
    super();
  }
  _run(): void {
    this.conn._runEntry();
  }
}

function onRead(_bev: Bufferevent, arg: unknown): void {
  (arg as ServerConn)._onRead();
}

function onWrite(_bev: Bufferevent, arg: unknown): void {
  (arg as ServerConn)._onWrite();
}

function onEvent(_bev: Bufferevent, what: number, arg: unknown): void {
  (arg as ServerConn)._onEvent(what);
}

/** @ignore */
export class ServerConn extends EvhttpConnection implements RequestOwner {
  /** The server that accepted the connection (limits and timeouts come from it). */
  readonly http: Evhttp;
  state = S_HEAD;
  req: EvhttpRequest | null = null;
  /** Set while the server is shutting down or the lifetime cap passed: close after a reply. */
  closeSoon = false;
  /** Refused over the connection limit (answered 503, closing). */
  refused = false;
  #bev: Bufferevent;
  #entry: ProcessEntry;
  #processing = false;
  /** Empty-line bytes ignored before the request line being awaited (counted against the limit). */
  #blank = 0;
  /** How much of an incomplete head was searched for its end already (from its first byte). */
  #headSeen = 0;
  /** An error page is being built (the errorcb runs). */
  #pageInProgress = false;
  #peerEof = false;
  #bodyLeft = 0;
  #decoder: ChunkedDecoder | null = null;
  #headTimer: InternalTimer | null = null;
  #lifeTimer: InternalTimer | null = null;
  #lingerTimer: InternalTimer | null = null;
  /** After the peer's EOF with a request in the handler: how long the reply may take to begin. */
  #eofTimer: InternalTimer | null = null;
  #want = 0;
  #chunkCbs: (ReplyChunkCb | unknown)[] = [];
  #readPaused = false;
  #headerTimeout: number;
  /** The request being handled will be answered with `Connection: close`. */
  #closeAfter = false;
  /** An HTTP/1.0 request asked for keep-alive (and gets it). */
  #keepAlive10 = false;
  /** Closing may leave unread bytes from the client: half-close and drain before closing. */
  #linger = false;
  /** The request the newreqcb saw, waiting for its head (null when no newreqcb is set). */
  #pending: EvhttpRequest | null = null;
  /** A newreqcb is due before the next head may be parsed. */
  #needAttach = false;
  /** Run at a graceful shutdown once a 101 handed the connection over. @ignore */
  _shutdownHook: (() => void) | null = null;
  /** Replies written to the output whose on-complete callbacks wait for it to drain. */
  #completes: EvhttpRequest[] | null = null;

  constructor(base: EventBase, http: Evhttp, bev: Bufferevent, remote: Deno.Addr) {
    super(base);
    this.http = http;
    this.#bev = bev;
    this._bev = bev;
    if (remote.transport === "tcp" || remote.transport === "udp") {
      this._peerAddress = remote.hostname;
      this._peerPort = remote.port;
    }
    this.#entry = new ProcessEntry(this);
    this.#entry._pri = base._defaultPriority();
    this._readTimeout = http._readTimeout;
    this._writeTimeout = http._writeTimeout;
    this._maxHeadersSize = http._maxHeadersSize;
    this._maxBodySize = http._maxBodySize;
    this._extMethodCmp = http._extMethodCmp;
    this.#headerTimeout = http._headerTimeout;
    bev.setcb(onRead, null, onEvent, this);
    this._applyTimeouts();
    if (http._lifetime > 0) {
      this.#lifeTimer = new InternalTimer(base, () => this.#lifetimeOver());
      this.#lifeTimer.arm(http._lifetime);
    }
  }

  /** Starts reading requests. */
  start(): void {
    if (this.http._newreqcb !== null && !this.#attach()) return;
    this.#armHeadTimer();
    this.#bev.enable(EV_READ | EV_WRITE);
  }

  /**
   * Attaches the next request object and shows it to the newreqcb (libevent creates it before
   * reading, so the hook can throttle or set per-request callbacks). False when the hook closed
   * the connection.
   */
  #attach(): boolean {
    this.#needAttach = false;
    const cb = this.http._newreqcb;
    if (cb === null) return true;
    const req = this.#newRequest();
    this.#pending = req;
    let r: number | void;
    try {
      r = cb(req, this.http._newreqcbArg);
    } catch (e) {
      this._base._reportError(e);
      r = -1;
    }
    if (this.state === S_FREED) return false;
    if (r !== undefined && r < 0) {
      this.#pending = null;
      this._close();
      return false;
    }
    return true;
  }

  /** Answers 503 without reading anything, then closes (over the connection limit). */
  reject503(): void {
    this.#bev.enable(EV_WRITE);
    this.#writeErrorPage(null, 503, undefined, null);
  }

  /** Whether no request is in progress (nothing received of the next one either). */
  isIdle(): boolean {
    return this.state === S_HEAD && this.#bev.getInput().length === 0;
  }

  // ------------------------------------------------------------------ bufferevent callbacks

  _onRead(): void {
    const st = this.state;
    if (st === S_CLOSING) {
      const input = this.#bev.getInput();
      input.drain(input.length);
      return;
    }
    if (st === S_HANDLING) {
      // A handler is busy: keep what arrives (pipelined requests) but bound it.
      if (this.#bev.getInput().length >= IN_HIGH) this.#pauseRead();
      return;
    }
    this._process();
  }

  _onWrite(): void {
    const want = this.#want;
    if ((want & W_CHUNK) !== 0) {
      this.#want &= ~W_CHUNK;
      const cbs = this.#chunkCbs;
      this.#chunkCbs = [];
      for (let i = 0; i < cbs.length; i += 2) {
        try {
          (cbs[i] as ReplyChunkCb)(this, cbs[i + 1]);
        } catch (e) {
          this._base._reportError(e);
        }
        if (this.state === S_FREED) return;
      }
    }
    if ((want & W_COMPLETE) !== 0) {
      this.#want &= ~W_COMPLETE;
      this.#runCompletes();
      if (this.state === S_FREED) return;
    }
    if ((want & W_ATTACH) !== 0) {
      this.#want &= ~W_ATTACH;
      if (this.state === S_HEAD && this.#needAttach && !this.#attach()) return;
    }
    if ((want & W_RESUME) !== 0) {
      this.#want &= ~W_RESUME;
      this._process();
    }
    if (this.state === S_CLOSING && this.#bev.getOutput().length === 0) {
      this.#want &= ~W_CLOSE;
      this.#finishClose();
    }
    this.#syncWriteCb();
  }

  _onEvent(what: number): void {
    // A TLS bufferevent reports its finished handshake; requests simply follow.
    if (what === BEV_EVENT_CONNECTED) return;
    if ((what & BEV_EVENT_TIMEOUT) !== 0) {
      if ((what & BEV_EVENT_WRITING) !== 0) {
        this._close();
        return;
      }
      this.#readTimedOut();
      return;
    }
    if ((what & BEV_EVENT_EOF) !== 0) {
      this.#peerEof = true;
      switch (this.state) {
        case S_HEAD:
        case S_BODY:
          // Nothing or part of a request: libevent closes without a response.
          this.#closeWhenWritten();
          return;
        case S_HANDLING:
          // Half-close: the reply (and those to requests already buffered) can still be
          // delivered; the connection closes once nothing is left. But a peer that closed for
          // good looks the same: a handler that has not begun its reply within the read timeout
          // loses the connection (EVREQ_HTTP_EOF), so it cannot pin it forever.
          this.#armEofTimer();
          return;
        case S_CLOSING:
          if (this.#bev.getOutput().length === 0) this._close();
          return;
      }
      return;
    }
    // Errors: the peer is gone.
    this._close();
  }

  // ------------------------------------------------------------------ request processing

  /** The connection's loop entry: deferred chunk callbacks, then buffered requests. */
  _runEntry(): void {
    if (
      (this.#want & (W_CHUNK | W_COMPLETE | W_ATTACH)) !== 0 &&
      this.#bev.getOutput().length === 0
    ) this._onWrite();
    if (this.state === S_HEAD) this._process();
  }

  /** Parses and dispatches what is buffered, as far as it goes. */
  _process(): void {
    if (this.#processing) return;
    this.#processing = true;
    try {
      const bev = this.#bev;
      const input = bev.getInput();
      for (;;) {
        const st = this.state;
        if (st === S_HEAD) {
          if (this.#heldBack()) {
            this.#want |= W_RESUME;
            this.#syncWriteCb();
            // What waits unparsed is bounded as when a handler runs: stop reading at the mark
            // (a client that never reads its replies cannot make us buffer without limit).
            if (input.length >= IN_HIGH && !this.#readPaused) this.#pauseRead();
            break;
          }
          if (this.#readPaused && input.length < IN_HIGH) {
            // Nothing holds us back any more and no handler runs: read on.
            this.#readPaused = false;
            bev.enable(EV_READ);
          }
          if (input.length === 0) {
            if (this.#peerEof) this.#closeWhenWritten();
            break;
          }
          if (!this.#parseHead(input)) break;
        } else if (st === S_BODY) {
          if (!this.#readBody(input)) break;
        } else break;
      }
    } finally {
      this.#processing = false;
    }
  }

  /** Whether parsing the next request waits for the output to drain or for the attach. */
  #heldBack(): boolean {
    return this.#bev.getOutput().length >= OUT_HIGH || this.#needAttach;
  }

  /** Tries to parse one head; false when more bytes are needed or the connection is closing. */
  #parseHead(input: Evbuffer): boolean {
    // The first chunk is parsed in place: its array and live range, no view allocated.
    let view = input._front();
    let from = input._frontOff;
    let to = input._frontEnd;
    const max = this._maxHeadersSize;
    const c0 = view[from];
    if (c0 === 0x0d || c0 === 0x0a) {
      // Empty lines before a request line are ignored (RFC 9112 §2.2) but count against the
      // header limit, so a flood of them is neither buffered nor endless.
      this.#blank += drainEmptyLines(input);
      if (max >= 0 && this.#blank > max) {
        this.#protocolError(400, false);
        return false;
      }
      if (input.length === 0) return false;
      view = input._front();
      from = input._frontOff;
      to = input._frontEnd;
    }
    // A head byte-equal to the last good one replays that parse (within this server's limit).
    let end = replayRequestHead(view, from, to, head);
    let code = 0;
    if (end < 0 || (max >= 0 && end - from > max)) {
      end = findHeadEnd(view, from, to, from + this.#headSeen);
      if (end < 0 && to - from < input.length) {
        const cap = max < 0 ? input.length : Math.min(input.length, max * 3 + 4096);
        view = input.pullup(cap)!;
        from = 0;
        to = view.length;
        end = findHeadEnd(view, 0, to, this.#headSeen);
      }
      if (end < 0) {
        this.#headSeen = to - from;
        const lim = headLimitStatus(view, from, -1, max, to);
        if (lim !== 0) this.#protocolError(lim, false);
        else if (this.#peerEof) this.#closeWhenWritten();
        else if (this.#headTimer !== null && !this.#headTimer.armed) this.#armHeadTimer();
        return false;
      }
      const lim = headLimitStatus(view, from, end, max);
      if (lim !== 0) {
        this.#protocolError(lim, false);
        return false;
      }
      code = parseRequestHead(view, from, end, head);
      if (code === 0) memoRequestHead(view, from, end, head);
    }
    input.drain(end - from);
    this.#blank = 0;
    this.#headSeen = 0;
    this.#headTimer?.disarm();
    if (code !== 0) {
      if (code === 501 && head.errorReason === UNKNOWN_METHOD && this._extMethodCmp !== null) {
        code = this.#extMethod();
      }
      if (code !== 0) {
        this.#protocolError(code, true);
        return false;
      }
    }
    this.#beginRequest();
    return this.state === S_HEAD || this.state === S_BODY;
  }

  /**
   * Offers an unknown method token to the extension-method callback; 0 when it maps it to a
   * bit (now in `head.method`), else the status to answer with.
   */
  #extMethod(): number {
    const m: EvhttpExtMethod = { method: head.methodName, type: 0, flags: 0 };
    let r: number;
    try {
      r = this._extMethodCmp!(m);
    } catch (e) {
      this._base._reportError(e);
      return 501;
    }
    if (this.state === S_FREED || r !== 0) return 501;
    // libevent refuses a callback that rewrites the token or claims flags while parsing.
    if (m.method !== head.methodName || m.flags !== 0) return 400;
    const t = m.type;
    if (!Number.isInteger(t) || t < -0x80000000 || t > 0xffffffff || (t >>> 0) <= EVHTTP_REQ_MAX) {
      return 501;
    }
    head.method = t;
    head.errorReason = "";
    return 0;
  }

  #beginRequest(): void {
    const http = this.http;
    // The request the newreqcb saw, if one is set.
    const req = this.#pending ?? this.#newRequest();
    this.#pending = null;
    req._owner = this;
    this.#fillFromHead(req);
    req._bodyOut = head.method !== EVHTTP_REQ_HEAD;
    this.req = req;
    this.#closeAfter = this.closeSoon || head.connectionClose ||
      (head.minor === 0 && !head.connectionKeepAlive);
    this.#keepAlive10 = head.minor === 0 && head.connectionKeepAlive && !this.#closeAfter;
    const chunked = head.chunked;
    const cl = head.contentLength;
    const expectContinue = head.expectContinue;

    if ((http._allowedMethods & head.method) === 0) {
      this.#writeErrorPage(req, 405, undefined, this.#allowHeader());
      return;
    }
    if (head.expectOther) {
      this.#writeErrorPage(req, 417, undefined, null);
      return;
    }
    // Repeated targets (the same string, from the intern cache or a replayed head) reuse the
    // path found and checked for the previous one.
    const uri = head.uri;
    let path: string | null;
    // CONNECT's authority-form target has no path (libevent routes it with an empty one).
    if (head.method === EVHTTP_REQ_CONNECT) path = "";
    else if (uri === lastTarget) path = lastPath;
    else {
      path = requestPath(uri);
      if (path !== null && path.indexOf("\0") >= 0) path = null;
      lastTarget = uri;
      lastPath = path;
    }
    if (path === null) {
      this.#writeErrorPage(req, 400, undefined, null);
      return;
    }
    const maxBody = this._maxBodySize;
    if (maxBody >= 0 && cl > maxBody) {
      this.#writeErrorPage(req, 413, undefined, null);
      return;
    }

    const server = http._hasVhosts() ? http._findVhost(req.getHost()) : http;
    server._route(req, path);
    const hasBody = chunked || cl > 0;
    const hcb = server._headerCb;
    if (hcb !== null) {
      // While the hook runs the body is still unread: a reply from it closes afterwards.
      this.state = hasBody ? S_BODY : S_HANDLING;
      let r: number | void = 0;
      try {
        r = hcb(req, server._headerArg);
      } catch (e) {
        this._base._reportError(e);
        r = -1;
      }
      if (this.state === S_FREED || this.req !== req) return;
      if (r !== undefined && r < 0) {
        if (req._replyState === REPLY_NOT_STARTED) {
          this._close();
          return;
        }
      }
      if (req._replyState !== REPLY_NOT_STARTED) return;
      this.state = S_HEAD;
    }

    if (chunked) {
      const maxHead = this._maxHeadersSize;
      const d = this.#decoder ??= new ChunkedDecoder({
        maxBodySize: maxBody < 0 ? Infinity : maxBody,
        // Trailers are header fields: the header limit bounds them too.
        maxTrailerSize: maxHead < 0 ? 65536 : maxHead,
      });
      d.reset();
      this.#bodyLeft = -1;
    } else if (cl > 0) {
      this.#bodyLeft = cl;
    } else {
      this.#dispatch(req);
      return;
    }
    if (expectContinue && this.#bev.getInput().length === 0) {
      this.#bev.getOutput().add(CONTINUE_LINE);
    }
    this.state = S_BODY;
  }

  /** Moves body bytes into the request; false when more are needed (or on an error). */
  #readBody(input: Evbuffer): boolean {
    const req = this.req!;
    const buf = req.getInputBuffer();
    if (this.#bodyLeft >= 0) {
      const n = Math.min(this.#bodyLeft, input.length);
      if (n > 0) {
        input.removeBuffer(buf, n);
        this.#bodyLeft -= n;
        if (!this.#deliverPiece(req, buf)) return false;
      }
      if (this.#bodyLeft > 0) return false;
    } else {
      const d = this.#decoder!;
      let consumed = 0;
      const views = input.peek();
      for (let v = 0; v < views.length && !d.done && d.error === 0; v++) {
        const view = views[v]!;
        const used = d.feed(view, 0, view.length);
        consumed += used;
        for (let i = 0; i < d.count; i++) buf.add(d.data(view, i));
      }
      input.drain(consumed);
      if (d.error !== 0) {
        this.#protocolError(d.error, false);
        return false;
      }
      if (buf.length > 0 && !this.#deliverPiece(req, buf)) return false;
      if (!d.done) return false;
      const tr = d.trailers;
      const ih = req.getInputHeaders();
      for (let i = 0; i < tr.size; i++) {
        ih._addUnchecked(tr.keyAt(i), tr._lkeyAt(i), tr.valueAt(i));
      }
    }
    this.#dispatch(req);
    return this.state === S_HEAD;
  }

  /** Hands a body piece to the chunked callback, if any; false when the request went away. */
  #deliverPiece(req: EvhttpRequest, buf: Evbuffer): boolean {
    const cb = req._chunkCb;
    if (cb === null || buf.length === 0) return true;
    try {
      _catchAsync(cb(req, req._arg), this._base);
    } catch (e) {
      this._base._reportError(e);
    }
    buf.drain(buf.length);
    return this.req === req && this.state === S_BODY;
  }

  #dispatch(req: EvhttpRequest): void {
    this.state = S_HANDLING;
    // The peer closed already (a pipelined request after its half-close): this handler gets
    // the read timeout to begin its reply too.
    if (this.#peerEof) this.#armEofTimer();
    const cb = req._cb;
    if (cb === null) {
      this.#default404(req);
      return;
    }
    let r: unknown;
    try {
      r = cb(req, req._arg);
    } catch (e) {
      this.#handlerFailed(req, e);
      return;
    }
    // An async handler's rejection is the same failure: reported (not an unhandled rejection
    // that ends the process) and answered.
    if (r instanceof Promise) r.then(undefined, (e) => this.#handlerFailed(req, e));
  }

  /**
   * A handler threw (or its promise rejected): 500 if it had not begun its reply; if it was
   * streaming one, the connection is closed after what was written, so the client sees the
   * reply cut short instead of waiting for its end.
   */
  #handlerFailed(req: EvhttpRequest, e: unknown): void {
    this._base._reportError(e);
    if (this.req !== req || this.state === S_FREED) return;
    if (req._replyState === REPLY_NOT_STARTED) this.#writeErrorPage(req, 500, undefined, null);
    else if (req._replyState === REPLY_STREAMING) this.#closeWhenWritten();
  }

  #default404(req: EvhttpRequest): void {
    this.#writeErrorPage(
      req,
      404,
      `<p>The requested URL ${evhttpHtmlescape(req._uri)} was not found on this server.</p>`,
      null,
    );
  }

  // ------------------------------------------------------------------ replies

  _sendReply(req: EvhttpRequest, code: number, reason: string | null, body?: ReplyBody): void {
    // Checked before anything is written: a bad body used to fail after the head went out, and
    // the 500 page followed a 200 head on the same connection.
    if (
      body !== undefined && body !== null && typeof body !== "string" &&
      !(body instanceof Uint8Array) && !(body instanceof Evbuffer)
    ) throw new TypeError("a reply body is a string, a Uint8Array or an Evbuffer");
    if (this.req !== req || this.state === S_FREED) return;
    if (code === 101) {
      this.#switchProtocols(req, reason);
      return;
    }
    this.#eofTimer?.disarm();
    req._code = code;
    req._reason = reason ?? reasonPhrase(code);
    let bodyBytes: Uint8Array | null = null;
    let bodyStr: string | null = null;
    let bodyLen = 0;
    let out = req._outBuf;
    if (out !== null && out.length > 0) {
      if (body !== undefined) appendBody(out, body);
      bodyLen = out.length;
    } else if (body !== undefined) {
      if (typeof body === "string") {
        const n = body.length < 16384 ? asciiLength(body) : -1;
        if (n >= 0) {
          bodyStr = body;
          bodyLen = n;
        } else {
          bodyBytes = encoder.encode(body);
          bodyLen = bodyBytes.length;
        }
      } else if (body instanceof Uint8Array) {
        bodyBytes = body;
        bodyLen = body.length;
      } else {
        out = body;
        bodyLen = body.length;
      }
    }
    const allow = statusAllowsBody(code);
    const send = allow && req._bodyOut && !connectOk(req, code);
    const output = this.#bev.getOutput();
    // A short ASCII body goes out with the head, in the same append.
    const inline = send && bodyStr !== null ? bodyStr : null;
    // Answered before its body was read: the rest is discarded and the connection closes, so
    // the head must say so (a keep-alive client would send its next request into the void).
    if (this.state === S_BODY) this.#closeAfter = true;
    this.#writeHead(output, req, code, reason, allow, allow ? bodyLen : -1, false, inline);
    if (send && inline === null) {
      if (bodyBytes !== null) output.add(bodyBytes);
      else if (out !== null) output.addBuffer(out);
    }
    if (out !== null && out.length > 0) out.drain(out.length);
    req._replyState = REPLY_DONE;
    this.#requestDone(req);
  }

  _sendError(req: EvhttpRequest, code: number, reason?: string): void {
    if (this.req !== req || this.state === S_FREED) return;
    this.#writeErrorPage(req, code, reason, null);
  }

  _replyStart(req: EvhttpRequest, code: number, reason: string | null): void {
    if (this.req !== req || this.state === S_FREED) return;
    if (code === 101) {
      this.#switchProtocols(req, reason);
      return;
    }
    this.#eofTimer?.disarm();
    req._code = code;
    req._reason = reason ?? reasonPhrase(code);
    const allow = statusAllowsBody(code);
    const hasBody = allow && req._bodyOut && !connectOk(req, code);
    if (this.state === S_BODY) this.#closeAfter = true;
    this.#writeHead(this.#bev.getOutput(), req, code, reason, allow, -1, hasBody, null);
    req._replyState = REPLY_STREAMING;
    if (!hasBody) req._bodyOut = false;
    if (this.state === S_BODY) {
      // Answering before the body arrived: the rest of it is dropped and the connection closes.
      this.state = S_HANDLING;
      this.#linger = true;
    }
  }

  _replyChunk(req: EvhttpRequest, body: ReplyBody, cb: ReplyChunkCb | null, arg: unknown): void {
    if (this.req !== req || this.state === S_FREED) return;
    if (this.#peerEof) this.#armEofTimer();
    const output = this.#bev.getOutput();
    let n: number;
    if (req._bodyOut) {
      if (typeof body === "string") {
        const bytes = encoder.encode(body);
        n = bytes.length;
        if (n > 0) {
          if (req._chunkedOut) output.add(n.toString(16) + "\r\n");
          output.add(bytes);
        }
      } else if (body instanceof Uint8Array) {
        n = body.length;
        if (n > 0) {
          if (req._chunkedOut) output.add(n.toString(16) + "\r\n");
          output.add(body);
        }
      } else {
        n = body.length;
        if (n > 0) {
          if (req._chunkedOut) output.add(n.toString(16) + "\r\n");
          output.addBuffer(body);
        }
      }
      if (n > 0 && req._chunkedOut) output.add("\r\n");
    } else if (body instanceof Evbuffer) {
      body.drain(body.length);
    }
    if (cb !== null) {
      this.#chunkCbs.push(cb, arg);
      this.#want |= W_CHUNK;
      this.#syncWriteCb();
      // Nothing to write: run the callback from the loop, never inside this call.
      if (output.length === 0) this._base._activateEntry(this.#entry);
    }
  }

  _replyEnd(req: EvhttpRequest): void {
    if (this.req !== req || this.state === S_FREED) return;
    if (req._chunkedOut) this.#bev.getOutput().add("0\r\n\r\n");
    req._replyState = REPLY_DONE;
    this.#requestDone(req);
  }

  /**
   * Answers `101 Switching Protocols` and hands the connection over: the protocol changes right
   * after the head's empty line (RFC 9110 §15.2.2), so HTTP stops here. The head carries the
   * handler's headers as given (its `Connection: Upgrade` and `Upgrade` included, which every
   * other reply has replaced by the server's own decision); no body, no framing. The
   * bufferevent (`req.getConnection().getBufferevent()`) is left with no callbacks, reading
   * disabled, no read timeout, and in its input whatever the client sent after the request.
   * The connection still counts against `setMaxConnections`, `free()` on it closes it, and
   * `Evhttp.free()` or the end of a shutdown closes it too.
   */
  #switchProtocols(req: EvhttpRequest, reason: string | null): void {
    const bev = this.#bev;
    req._code = 101;
    req._reason = reason ?? reasonPhrase(101);
    if (this.state !== S_HANDLING || req._replyState !== REPLY_NOT_STARTED) {
      // Mid-body (the rest of the request would be read as the new protocol) or after a
      // reply began: a switch cannot be made cleanly.
      this.#writeErrorPage(req, 500, "cannot switch protocols here", null);
      return;
    }
    let head = statusLine(1, 101, reason);
    let hasDate = false;
    const h = req._outHeaders;
    if (h !== null) {
      for (let i = 0; i < h.size; i++) {
        const lk = h._lkeyAt(i);
        // No body follows: framing headers would describe bytes of the new protocol.
        if (lk === "content-length" || lk === "transfer-encoding") continue;
        if (lk === "date") hasDate = true;
        head += h.keyAt(i) + ": " + h.valueAt(i) + "\r\n";
      }
    }
    if (!hasDate) head += "Date: " + httpDate(this._base.gettimeofdayCached()) + "\r\n";
    bev.getOutput().add(head + "\r\n");
    req._replyState = REPLY_DONE;
    req._owner = null;
    this.state = S_UPGRADED;
    this.req = null;
    this.#headTimer?.disarm();
    this.#lifeTimer?.disarm();
    this.#eofTimer?.disarm();
    this._base._deactivate(this.#entry);
    this.#want = 0;
    this.#chunkCbs = [];
    bev.setcb(null, null, null);
    bev.disable(EV_READ);
    bev.setTimeouts(0, this._writeTimeout);
    this.#readPaused = false;
    // Earlier pipelined replies still draining: their on-complete callbacks cannot wait for a
    // write callback that now belongs to the other protocol; they run now rather than never.
    this.#runCompletes();
    if (this.state !== S_UPGRADED) return;
    const done = req._onComplete;
    if (done !== null) {
      // No HTTP exchange is left to wait for: the head goes out with what follows it.
      try {
        done.cb(req, done.arg);
      } catch (e) {
        this._base._reportError(e);
      }
    }
  }

  /** Whether a 101 handed this connection to another protocol. @ignore */
  _upgraded(): boolean {
    return this.state === S_UPGRADED;
  }

  _cancel(req: EvhttpRequest): void {
    if (this.req !== req || this.state === S_FREED) return;
    if (req._replyState === REPLY_DONE) return;
    req._owner = null;
    req._conn = null;
    this._close();
  }

  /**
   * Appends the response head to `output`, followed by `body` when given (ASCII, already
   * counted in `bodyLen`). `bodyLen`: the length of a complete body (-1: streaming, or none
   * allowed); `stream`: a streamed reply that will carry a body.
   */
  #writeHead(
    output: Evbuffer,
    req: EvhttpRequest,
    code: number,
    reason: string | null,
    allow: boolean,
    bodyLen: number,
    stream: boolean,
    body: string | null,
  ): void {
    const h = req._outHeaders;
    const ct = this.http._defaultContentType;
    const k = headKey;
    k.status = statusLine(req._minor, code, reason);
    k.h = h;
    k.ct = ct;
    k.allow = allow;
    k.connectOk = connectOk(req, code);
    k.bodyLen = bodyLen;
    k.bodyOut = req._bodyOut;
    const hit = !stream && headCacheHit(this._base);
    // Room for the Connection line, the blank line and an inline ASCII body, plus the head: the
    // cached one's size, or the worst case of 3 UTF-8 bytes per UTF-16 unit the user supplied.
    let room = 64 + (body === null ? 0 : body.length);
    if (hit) room += headCache.len;
    else {
      room += 128 + (ct === null ? 0 : ct.length * 3) + (reason === null ? 0 : reason.length * 3);
      if (h !== null) {
        for (let i = 0; i < h.size; i++) {
          room += (h.keyAt(i).length + h.valueAt(i).length) * 3 + 4;
        }
      }
    }
    wbuf = output._tailReserve(room);
    wpos = output._tailAt;
    let connClose: boolean;
    if (hit) {
      const c = headCache;
      wbuf.set(c.view, wpos);
      wpos += c.len;
      connClose = c.connClose;
    } else {
      connClose = this.#formatHead(req, stream);
    }
    k.h = null;
    if (connClose || this.closeSoon) this.#closeAfter = true;
    if (this.#closeAfter) {
      if (req._minor >= 1 || this.#keepAlive10) put("Connection: close\r\n");
    } else if (this.#keepAlive10) {
      put("Connection: keep-alive\r\n");
    }
    put("\r\n");
    if (body !== null) put(body);
    const end = wpos;
    wbuf = NO_BYTES;
    output._tailCommit(end);
  }

  /**
   * Formats the head for `headKey` from the status line to before the Connection line at `wpos`,
   * and keeps a copy for the next alike reply (complete replies only). Returns whether the
   * user's headers ask to close.
   */
  #formatHead(req: EvhttpRequest, stream: boolean): boolean {
    const { h, ct, allow, connectOk, bodyLen } = headKey;
    const start = wpos;
    put(headKey.status);
    let date: string | null = null;
    let hasDate = false;
    let hasType = false;
    let hasLength = false;
    let connClose = false;
    if (h !== null) {
      const n = h.size;
      for (let i = 0; i < n; i++) {
        const lk = h._lkeyAt(i);
        const v = h.valueAt(i);
        switch (lk.length) {
          case 4:
            if (lk === "date") hasDate = true;
            break;
          case 10:
            if (lk === "connection") {
              if (/(^|[\s,])close($|[\s,])/i.test(v)) connClose = true;
              // Our own decision is written below; the user's keep-alive/close is folded in.
              continue;
            }
            break;
          case 12:
            if (lk === "content-type") hasType = true;
            break;
          case 14:
            if (lk === "content-length") {
              if (!allow || connectOk) continue;
              hasLength = true;
            }
            break;
          case 17:
            if (lk === "transfer-encoding") {
              // Framing is ours to decide: a user's Transfer-Encoding would lie about the body.
              continue;
            }
            break;
        }
        put(h.keyAt(i));
        put(": ");
        put(v);
        put("\r\n");
      }
    }
    if (!hasDate) {
      date = httpDate(this._base.gettimeofdayCached());
      put("Date: ");
      put(date);
      put("\r\n");
    }
    // A 2xx answer to CONNECT starts a tunnel: no body, so no framing (RFC 9110 §9.3.6).
    if (allow && !connectOk) {
      if (!hasType && (bodyLen > 0 || stream || req._bodyOut)) {
        if (ct !== null) {
          put("Content-Type: ");
          put(ct);
          put("\r\n");
        }
      }
      if (stream) {
        if (!hasLength) {
          if (req._minor >= 1) {
            req._chunkedOut = true;
            put("Transfer-Encoding: chunked\r\n");
          } else {
            // HTTP/1.0 without a length: the body ends when the connection does.
            this.#closeAfter = true;
          }
        }
      } else if (!hasLength && bodyLen >= 0) {
        if (req._bodyOut || bodyLen > 0) {
          put("Content-Length: ");
          put("" + bodyLen);
          put("\r\n");
        }
      }
    }
    if (!stream) headCacheStore(date, connClose, start, wpos);
    return connClose;
  }

  /**
   * Writes an error page and closes after it. `req` null: the request could not be parsed.
   * The status line always says HTTP/1.1 with the standard phrase (libevent's page layout).
   */
  #writeErrorPage(
    req: EvhttpRequest | null,
    code: number,
    detail: string | undefined,
    allowHeader: string | null,
    parsed = false,
  ): void {
    if (this.state === S_FREED) return;
    if (req === null) {
      if (this.state === S_BODY) req = this.req;
      else if (this.#pending !== null) {
        // No head was taken yet: the page answers the request the newreqcb saw, as in libevent.
        req = this.#pending;
        this.#pending = null;
        if (parsed) this.#fillFromHead(req);
      }
    }
    let custom: Evbuffer | null = null;
    const ecb = this.http._errorcb;
    if (ecb !== null) {
      if (req === null) {
        req = this.#newRequest();
        if (parsed) this.#fillFromHead(req);
      }
      custom = this.#customPage(ecb, req, code, detail);
      if (this.state === S_FREED) return;
    }
    const bytes = custom === null ? encoder.encode(errorPage(code, detail)) : null;
    const len = custom !== null ? custom.length : bytes!.length;
    let s = statusLine(1, code, null);
    s += "Date: " + httpDate(this._base.gettimeofdayCached()) + "\r\n";
    if (allowHeader !== null) s += "Allow: " + allowHeader + "\r\n";
    const withBody = statusAllowsBody(code);
    if (withBody) {
      s += "Content-Type: text/html\r\nContent-Length: " + len + "\r\n";
    }
    s += "Connection: close\r\n\r\n";
    const output = this.#bev.getOutput();
    output.add(s);
    if (withBody && (req === null || req._method !== EVHTTP_REQ_HEAD)) {
      if (custom !== null) output.addBuffer(custom);
      else output.add(bytes!);
    }
    if (req !== null) {
      req._code = code;
      req._reason = reasonPhrase(code);
      req._replyState = REPLY_DONE;
      if (req._outHeaders !== null) req._outHeaders.clear();
      if (req._outBuf !== null) req._outBuf.drain(req._outBuf.length);
      if (req._onComplete !== null) this.#queueComplete(req);
    }
    this.#closeAfter = true;
    this.#linger = true;
    this.#beginClose();
  }

  /** The errorcb's page for `req`, or null for the default page. */
  #customPage(
    ecb: EvhttpErrorCb,
    req: EvhttpRequest,
    code: number,
    detail: string | undefined,
  ): Evbuffer | null {
    const buf = new Evbuffer();
    // The page is being sent: a reply from inside the callback must not slip out before it.
    const state = req._replyState;
    req._replyState = REPLY_DONE;
    let r: number | void;
    // A page is in progress: shutdown() from the callback must let it go out (not "idle").
    this.#pageInProgress = true;
    try {
      r = ecb(req, buf, code, detail ?? null, this.http._errorcbArg);
    } catch (e) {
      this._base._reportError(e);
      r = -1;
    } finally {
      this.#pageInProgress = false;
    }
    req._replyState = state;
    return (r !== undefined && r < 0) || buf.length === 0 ? null : buf;
  }

  /** A request received on this connection, not yet filled in. */
  #newRequest(): EvhttpRequest {
    const req = new EvhttpRequest(null);
    req._incoming = true;
    req._conn = this;
    return req;
  }

  /** Copies what `parseRequestHead` got into `req` (also of a rejected head, for the errorcb). */
  #fillFromHead(req: EvhttpRequest): void {
    req._method = head.method;
    req._methodName = head.methodName;
    req._uri = head.uri;
    req._major = head.major;
    req._minor = head.minor;
    req._inHeaders = head.headers;
    req._hostHeader = head.host;
    // The newreqcb may have asked for the host or URI before there was a head.
    req._resetDerived();
  }

  /** The `Allow` value for a 405 (extension methods named by the callback). */
  #allowHeader(): string {
    try {
      return allowValue(this.http._allowedMethods, this._extMethodCmp);
    } catch (e) {
      this._base._reportError(e);
      return allowValue(this.http._allowedMethods, null);
    }
  }

  #protocolError(code: number, parsed: boolean): void {
    this.#headTimer?.disarm();
    this.#writeErrorPage(null, code, undefined, null, parsed);
  }

  /** `req`'s on-complete callback runs once the output holding its reply has drained. */
  #queueComplete(req: EvhttpRequest): void {
    (this.#completes ??= []).push(req);
    this.#want |= W_COMPLETE;
    this.#syncWriteCb();
    if (this.#bev.getOutput().length === 0) this._base._activateEntry(this.#entry);
  }

  #runCompletes(): void {
    const list = this.#completes;
    this.#completes = null;
    if (list === null) return;
    for (let i = 0; i < list.length; i++) {
      const req = list[i]!;
      const oc = req._onComplete;
      if (oc === null) continue;
      try {
        oc.cb(req, oc.arg);
      } catch (e) {
        this._base._reportError(e);
      }
      if (this.state === S_FREED) return;
    }
  }

  /** The reply to `req` is complete. */
  #requestDone(req: EvhttpRequest): void {
    req._owner = null;
    if (req._onComplete !== null) this.#queueComplete(req);
    // closeSoon: shutdown() or the lifetime cap came after this reply's head (a streamed
    // reply's head goes out at its start), so the head could not say it; close now.
    if (this.#closeAfter || this.closeSoon || this.state === S_BODY) {
      this.#beginClose();
      return;
    }
    this.req = null;
    this.state = S_HEAD;
    this.#closeAfter = false;
    this.#keepAlive10 = false;
    if (this.http._newreqcb !== null) {
      // libevent attaches the next request once the reply is written; reading waits for it.
      this.#needAttach = true;
      this.#want |= W_ATTACH;
      this.#syncWriteCb();
      if (this.#bev.getOutput().length === 0) this._base._activateEntry(this.#entry);
    }
    if (this.#readPaused) {
      this.#readPaused = false;
      this.#bev.enable(EV_READ);
    }
    if (!this.#processing) {
      if (this.#bev.getInput().length > 0 || this.#peerEof) {
        this._base._activateEntry(this.#entry);
      }
    }
  }

  // ------------------------------------------------------------------ closing and timeouts

  /** Stops handling requests; closes once the output drained (lingering to read the rest). */
  #beginClose(): void {
    if (this.state === S_CLOSING || this.state === S_FREED) return;
    const bev = this.#bev;
    const input = bev.getInput();
    if (input.length > 0 || this.state === S_BODY) this.#linger = true;
    this.state = S_CLOSING;
    this.#headTimer?.disarm();
    const req = this.req;
    if (req !== null) req._owner = null;
    input.drain(input.length);
    if (bev.getOutput().length === 0) {
      if (this.#completes === null) {
        this.#finishClose();
        return;
      }
      // On-complete callbacks first, from the loop (never inside the reply call).
      this._base._activateEntry(this.#entry);
    }
    this.#want |= W_CLOSE;
    this.#syncWriteCb();
  }

  /** Output drained while closing: half-close and wait for the peer's EOF (bounded). */
  #finishClose(): void {
    if (this.#peerEof || !this.#linger) {
      this._close();
      return;
    }
    const bev = this.#bev;
    bev.flush(EV_WRITE, BEV_FINISHED);
    if (this.#lingerTimer === null) {
      this.#lingerTimer = new InternalTimer(this._base, () => this._close());
      this.#lingerTimer.arm(LINGER_MS);
      bev.setTimeouts(0, this._writeTimeout);
      bev.enable(EV_READ);
    }
  }

  /** Closes after what was already written went out (EOF from the peer, idle). */
  #closeWhenWritten(): void {
    if (this.state === S_FREED) return;
    this.state = S_CLOSING;
    if (this.#bev.getOutput().length === 0) {
      this._close();
      return;
    }
    this.#want |= W_CLOSE;
    this.#syncWriteCb();
  }

  #readTimedOut(): void {
    switch (this.state) {
      case S_HEAD:
        if (this.#bev.getInput().length === 0) this.#closeWhenWritten();
        else if (this.#heldBack() || (this.#want & W_RESUME) !== 0) {
          // What is buffered waits on us (earlier replies to drain, or the newreqcb attach),
          // not on the client: keep reading meanwhile.
          this.#bev.enable(EV_READ);
        } else this.#writeErrorPage(null, 408, undefined, null);
        return;
      case S_BODY:
        this.#writeErrorPage(null, 408, undefined, null);
        return;
      case S_HANDLING:
        // The handler is taking its time; the read timeout only guards receiving.
        if (!this.#readPaused) this.#bev.enable(EV_READ);
        return;
      default:
        this._close();
    }
  }

  #armEofTimer(): void {
    // Without a read timeout (the server default, as libevent's) a peer gone for good would pin
    // the connection for ever (long polls: every setMaxConnections slot): libevent's HTTP read
    // timeout, 50 s, is the grace a half-closed client gets instead.
    const ms = this._readTimeout > 0 ? this._readTimeout : eofGrace.ms;
    const t = this.#eofTimer ??= new InternalTimer(this._base, () => {
      const req = this.req;
      // Not begun, or a streamed reply that sent nothing for a whole read timeout: a client that
      // only half-closed keeps a live stream (each chunk re-arms this), but an idle stream to a
      // client that went away (long poll, server-sent events) must not be pinned for ever
      // (libevent closes at the EOF: `terminate_chunked_oneshot`).
      if (
        this.state === S_HANDLING && req !== null &&
        (req._replyState === REPLY_NOT_STARTED || req._replyState === REPLY_STREAMING)
      ) {
        this._close();
      }
    });
    t.arm(ms);
  }

  #armHeadTimer(): void {
    if (this.#headerTimeout <= 0) return;
    if (this.#headTimer === null) {
      this.#headTimer = new InternalTimer(this._base, () => this.#headTimedOut());
    }
    this.#headTimer.arm(this.#headerTimeout);
  }

  #headTimedOut(): void {
    if (this.state !== S_HEAD) return;
    if (this.#bev.getInput().length === 0 && this.req === null) this.#closeWhenWritten();
    else this.#writeErrorPage(null, 408, undefined, null);
  }

  #lifetimeOver(): void {
    this.closeSoon = true;
    if (this.state === S_HEAD) {
      if (this.#bev.getInput().length === 0) this.#closeWhenWritten();
      else this.#writeErrorPage(null, 408, undefined, null);
    } else if (this.state === S_BODY) {
      this.#writeErrorPage(null, 408, undefined, null);
    }
    // S_HANDLING: the reply will say `Connection: close`.
  }

  /** Closes an idle connection (server shutdown); true if it was idle. */
  closeIfIdle(): boolean {
    if (this.state === S_UPGRADED) {
      // The other protocol decides how to end (a WebSocket sends its close frame).
      const hook = this._shutdownHook;
      if (hook !== null) {
        try {
          hook();
        } catch (e) {
          this._base._reportError(e);
        }
      }
      return false;
    }
    if (this.state === S_HEAD && this.#bev.getInput().length === 0 && !this.#pageInProgress) {
      this.#closeWhenWritten();
      return true;
    }
    return false;
  }

  #pauseRead(): void {
    this.#readPaused = true;
    this.#bev.disable(EV_READ);
  }

  #syncWriteCb(): void {
    if (this.state === S_FREED) return;
    const bev = this.#bev;
    const want = this.#want !== 0;
    if (want !== (bev._writecb !== null)) bev.setcb(onRead, want ? onWrite : null, onEvent, this);
  }

  override _gone(): boolean {
    return this.state === S_FREED;
  }

  override _close(): void {
    if (this.state === S_FREED) return;
    this.state = S_FREED;
    this.#headTimer?.disarm();
    this.#lifeTimer?.disarm();
    this.#lingerTimer?.disarm();
    this.#eofTimer?.disarm();
    this._base._deactivate(this.#entry);
    this.#chunkCbs = [];
    // Replies not fully written never complete (libevent drops them with the connection).
    this.#completes = null;
    this.#pending = null;
    const req = this.req;
    this.req = null;
    this._bev = null;
    this.#bev.free();
    if (req !== null) {
      const unfinished = req._replyState !== REPLY_DONE;
      req._owner = null;
      req._conn = null;
      if (unfinished && req._errorCb !== null) {
        try {
          req._errorCb(EVREQ_HTTP_EOF, req._arg);
        } catch (e) {
          this._base._reportError(e);
        }
      }
    }
    this.http._connClosed(this);
    this._runCloseCb();
  }

  override _applyTimeouts(): void {
    if (this.state === S_FREED || this.state === S_UPGRADED) return;
    this.#bev.setTimeouts(this._readTimeout, this._writeTimeout);
  }
}

function appendBody(out: Evbuffer, body: ReplyBody): void {
  if (typeof body === "string" || body instanceof Uint8Array) out.add(body);
  else out.addBuffer(body);
}
