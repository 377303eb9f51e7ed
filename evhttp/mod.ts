/**
 * `evhttp`: an HTTP/1.1 server and client with libevent's API (`Evhttp`, `EvhttpRequest`,
 * `EvhttpConnection`), a promise helper (`evhttpFetch`), header lists
 * (`Evkeyvalq`), URI parsing and encoding helpers, status codes and reason phrases, and
 * WebSocket sessions (`evwsNewSession`, `evwsConnect`, `EvwsConnection`).
 *
 * @example
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import { Evhttp, HTTP_OK } from "@evdeno/evdeno/evhttp";
 * const base = new EventBase();
 * const http = new Evhttp(base);
 * http.setCb("/hello", (req) => req.sendReply(HTTP_OK, null, "hello\n"));
 * const bound = http.bindSocket("127.0.0.1", 0);
 * console.log("listening on", bound.addr);
 * // await base.dispatch();
 * http.free();
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export { isValidStatus, reasonPhrase, STATUS_TEXT, statusAllowsBody } from "./status.ts";
export { Evkeyvalq } from "./keyvalq.ts";
export {
  evhttpDecodeUri,
  evhttpEncodeUri,
  evhttpHtmlescape,
  evhttpParseQuery,
  evhttpParseQueryStr,
  evhttpParseQueryStrFlags,
  EvhttpUri,
  evhttpUridecode,
  evhttpUridecodeBytes,
  evhttpUriencode,
} from "./uri.ts";
export {
  type EvhttpClientTls,
  EvhttpConnection,
  type EvhttpConnectionCloseCb,
  type EvhttpConnectionOptions,
} from "./connection.ts";
export { evhttpFetch, type EvhttpFetchInit, type EvhttpFetchResponse } from "./fetch.ts";
export {
  EvhttpRequest,
  type ReplyBody,
  type ReplyChunkCb,
  type RequestCb,
  type RequestErrorCb,
} from "./request.ts";
export {
  Evhttp,
  type EvhttpBevCb,
  EvhttpBoundSocket,
  type EvhttpErrorCb,
  type EvhttpHeaderCb,
  type EvhttpNewreqCb,
} from "./evhttp.ts";
export {
  type EvwsCloseCb,
  evwsConnect,
  EvwsConnection,
  type EvwsConnectOptions,
  type EvwsMessageCb,
  evwsNewSession,
  WS_BINARY_FRAME,
  WS_CR_ABNORMAL,
  WS_CR_DATA_TOO_BIG,
  WS_CR_GOING_AWAY,
  WS_CR_INVALID_DATA,
  WS_CR_NONE,
  WS_CR_NORMAL,
  WS_CR_PROTO_ERR,
  WS_TEXT_FRAME,
} from "./ws.ts";
