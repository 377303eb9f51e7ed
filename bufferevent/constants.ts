/**
 * Constants of evbuffers and bufferevents, with libevent's names and values.
 *
 * @module
 */

/** `readln`/`searchEol` style: a line ends at any run of CR and LF bytes (blank lines vanish). @example `buf.readln(EVBUFFER_EOL_ANY)` */
export const EVBUFFER_EOL_ANY = 0;
/** `readln`/`searchEol` style: a line ends at LF, optionally preceded by CR. @example `buf.readln(EVBUFFER_EOL_CRLF)` */
export const EVBUFFER_EOL_CRLF = 1;
/** `readln`/`searchEol` style: a line ends only at CR LF. @example `buf.readln(EVBUFFER_EOL_CRLF_STRICT)` */
export const EVBUFFER_EOL_CRLF_STRICT = 2;
/** `readln`/`searchEol` style: a line ends only at LF (a CR stays in the line). @example `buf.readln(EVBUFFER_EOL_LF)` */
export const EVBUFFER_EOL_LF = 3;
/** `readln`/`searchEol` style: a line ends at a NUL byte. @example `buf.readln(EVBUFFER_EOL_NUL)` */
export const EVBUFFER_EOL_NUL = 4;

/** Evbuffer callback flag: the callback runs (set by default). @example `buf.cbClearFlags(entry, EVBUFFER_CB_ENABLED)` */
export const EVBUFFER_CB_ENABLED = 1;

/** Event flag: the error or EOF happened while reading. @example `if (events & BEV_EVENT_READING) {}` */
export const BEV_EVENT_READING = 0x01;
/** Event flag: the error or timeout happened while writing. @example `if (events & BEV_EVENT_WRITING) {}` */
export const BEV_EVENT_WRITING = 0x02;
/** Event flag: the peer closed its side (end of file). @example `if (events & BEV_EVENT_EOF) bev.free()` */
export const BEV_EVENT_EOF = 0x10;
/** Event flag: an error occurred; `getError()` tells which. @example `if (events & BEV_EVENT_ERROR) console.error(bev.getError())` */
export const BEV_EVENT_ERROR = 0x20;
/** Event flag: a read or write timeout expired. @example `if (events & BEV_EVENT_TIMEOUT) bev.free()` */
export const BEV_EVENT_TIMEOUT = 0x40;
/** Event flag: a connect (or TLS handshake) completed. @example `if (events & BEV_EVENT_CONNECTED) bev.enable(EV_READ)` */
export const BEV_EVENT_CONNECTED = 0x80;

/** Option: `free()` also closes the underlying connection. @example `Bufferevent.socketNew(base, conn, BEV_OPT_CLOSE_ON_FREE)` */
export const BEV_OPT_CLOSE_ON_FREE = 1;
/** Option: thread safety; accepted for portability, no effect in a single-threaded runtime. @example `Bufferevent.socketNew(base, conn, BEV_OPT_THREADSAFE)` */
export const BEV_OPT_THREADSAFE = 2;
/** Option: run the bufferevent's callbacks deferred, from the event loop. @example `Bufferevent.socketNew(base, conn, BEV_OPT_DEFER_CALLBACKS)` */
export const BEV_OPT_DEFER_CALLBACKS = 4;
/** Option: release the lock while callbacks run; accepted for portability, no effect here. @example `Bufferevent.socketNew(base, conn, BEV_OPT_UNLOCK_CALLBACKS)` */
export const BEV_OPT_UNLOCK_CALLBACKS = 8;

/** `trigger` option: run the callbacks whatever the watermarks say. @example `bev.trigger(EV_READ, BEV_TRIG_IGNORE_WATERMARKS)` */
export const BEV_TRIG_IGNORE_WATERMARKS = 0x10000;
/** `trigger`/`triggerEvent` option: run the callbacks from the loop, not now. @example `bev.trigger(EV_WRITE, BEV_TRIG_DEFER_CALLBACKS)` */
export const BEV_TRIG_DEFER_CALLBACKS: number = BEV_OPT_DEFER_CALLBACKS;

/** Flush/filter mode: ordinary processing. @example `bev.flush(EV_WRITE, BEV_NORMAL)` */
export const BEV_NORMAL = 0;
/** Flush/filter mode: push out everything buffered so far. @example `bev.flush(EV_WRITE, BEV_FLUSH)` */
export const BEV_FLUSH = 1;
/** Flush/filter mode: no more data will come; on `EV_WRITE` half-closes after draining. @example `bev.flush(EV_WRITE, BEV_FINISHED)` */
export const BEV_FINISHED = 2;

/** Filter result: some bytes were processed. @example `return BEV_OK;` */
export const BEV_OK = 0;
/** Filter result: more input is needed before output can be produced. @example `return BEV_NEED_MORE;` */
export const BEV_NEED_MORE = 1;
/** Filter result: the filter failed; the bufferevent reports `BEV_EVENT_ERROR`. @example `return BEV_ERROR;` */
export const BEV_ERROR = 2;
