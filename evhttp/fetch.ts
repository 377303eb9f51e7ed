/**
 * `evhttpFetch`: a promise over the evhttp client, for code that prefers `await`. It is a thin
 * layer on `EvhttpConnection` + `EvhttpRequest` — the same connection code, parser, timeouts
 * and TLS — not a second client.
 *
 * @module
 */

import type { Evbuffer } from "../bufferevent/evbuffer.ts";
import type { EvdnsBase } from "../dns/evdns_base.ts";
import { EvError } from "../reactor/errors.ts";
import type { EventBase } from "../reactor/event_base.ts";
import {
  EVHTTP_REQ_GET,
  EVHTTP_URI_HOST_STRIP_BRACKETS,
  evhttpMethodFromName,
  evhttpMethodName,
  EVREQ_HTTP_BUFFER_ERROR,
  EVREQ_HTTP_DATA_TOO_LONG,
  EVREQ_HTTP_EOF,
  EVREQ_HTTP_INVALID_HEADER,
  EVREQ_HTTP_REQUEST_CANCEL,
  EVREQ_HTTP_TIMEOUT,
} from "./constants.ts";
import { type EvhttpClientTls, EvhttpConnection } from "./connection.ts";
import { Evkeyvalq } from "./keyvalq.ts";
import { EvhttpRequest } from "./request.ts";
import { EvhttpUri } from "./uri.ts";

/** Options of `evhttpFetch`. */
export interface EvhttpFetchInit {
  /** Method name (`"POST"`) or `EVHTTP_REQ_*` bit; default GET. */
  method?: string | number;
  /** Request header fields (`Host` is added unless given). */
  headers?: Record<string, string> | [string, string][] | Evkeyvalq;
  /** Request body (sent with a `Content-Length`). */
  body?: string | Uint8Array | Evbuffer;
  /** Resolver for host names (default: the system resolver). */
  dns?: EvdnsBase | null;
  /** TLS settings for `https:` URLs (extra CA certificates, the name to verify). */
  tls?: EvhttpClientTls;
  /** Read and write timeout in ms (default 50 000). */
  timeoutMs?: number;
  /** Connect timeout in ms (default 45 000). */
  connectTimeoutMs?: number;
  /** Largest response body accepted (default: unlimited). */
  maxBodySize?: number;
  /** Largest response head accepted (default: unlimited). */
  maxHeadersSize?: number;
  /**
   * A client connection to send on (keep-alive reuse across calls). It must point at the URL's
   * host and port; the caller frees it. Without it each call makes and frees its own.
   */
  connection?: EvhttpConnection;
  /** Aborting cancels the request; the promise rejects. */
  signal?: AbortSignal;
}

/** What `evhttpFetch` resolves to. */
export interface EvhttpFetchResponse {
  /** Status code. */
  status: number;
  /** Reason phrase as sent. */
  reason: string;
  /** Response header fields (and trailers). */
  headers: Evkeyvalq;
  /** The whole body. */
  body: Uint8Array;
  /** The body decoded as UTF-8. */
  text(): string;
  /** The body parsed as JSON. */
  json(): unknown;
}

const KIND_NAMES: Record<number, string> = {
  [EVREQ_HTTP_TIMEOUT]: "timeout",
  [EVREQ_HTTP_EOF]: "connection closed",
  [EVREQ_HTTP_INVALID_HEADER]: "invalid response",
  [EVREQ_HTTP_BUFFER_ERROR]: "buffer error",
  [EVREQ_HTTP_REQUEST_CANCEL]: "cancelled",
  [EVREQ_HTTP_DATA_TOO_LONG]: "response too large",
};

const decoder = new TextDecoder();

/**
 * Fetches `url` (`http:` or `https:`) with the evhttp client and resolves to the complete
 * response; rejects with an `EvError` naming the failure (its `cause` is the underlying error,
 * e.g. the TLS certificate error). The promise settles from inside the loop, so `base` must be
 * dispatching (start `base.dispatch()` before or after the call). Each call uses its own
 * connection and frees it, unless `init.connection` is given.
 *
 * @example
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import { evhttpFetch } from "@evdeno/evdeno/evhttp";
 * const base = new EventBase();
 * const pending = evhttpFetch(base, "http://127.0.0.1:8080/hello", {
 *   method: "POST",
 *   body: "data",
 *   headers: { "Content-Type": "text/plain" },
 * });
 * // await base.dispatch();
 * // const res = await pending;
 * // console.log(res.status, res.headers.find("Content-Type"), res.text());
 * pending.catch(() => {});
 * ```
 */
export function evhttpFetch(
  base: EventBase,
  url: string,
  init: EvhttpFetchInit = {},
): Promise<EvhttpFetchResponse> {
  return new Promise<EvhttpFetchResponse>((resolve, reject) => {
    const uri = EvhttpUri.parse(url, EVHTTP_URI_HOST_STRIP_BRACKETS);
    const scheme = uri?.scheme?.toLowerCase();
    if (uri === null || (scheme !== "http" && scheme !== "https") || !uri.host) {
      reject(new TypeError(`evhttpFetch: not an http(s) URL: ${url}`));
      return;
    }
    let method = EVHTTP_REQ_GET;
    if (typeof init.method === "number") method = init.method;
    else if (init.method !== undefined) method = evhttpMethodFromName(init.method);
    if (evhttpMethodName(method) === null) {
      reject(new TypeError(`evhttpFetch: unknown method ${init.method}`));
      return;
    }
    const https = scheme === "https";
    const port = uri.port >= 0 ? uri.port : https ? 443 : 80;
    let target = uri.path === null || uri.path === "" ? "/" : uri.path;
    if (uri.query !== null) target += "?" + uri.query;

    const own = init.connection === undefined;
    let conn: EvhttpConnection;
    try {
      conn = init.connection ?? EvhttpConnection.baseNew(
        base,
        init.dns ?? null,
        uri.host,
        port,
        https ? { tls: init.tls ?? {} } : undefined,
      );
    } catch (e) {
      reject(e);
      return;
    }
    if (own) {
      if (init.timeoutMs !== undefined) conn.setTimeout(init.timeoutMs);
      if (init.connectTimeoutMs !== undefined) conn.setConnectTimeout(init.connectTimeoutMs);
      if (init.maxBodySize !== undefined) conn.setMaxBodySize(init.maxBodySize);
      if (init.maxHeadersSize !== undefined) conn.setMaxHeadersSize(init.maxHeadersSize);
    }

    let kind = -1;
    const signal = init.signal;
    const onAbort = () => req.cancel();
    const req = new EvhttpRequest((r) => {
      signal?.removeEventListener("abort", onAbort);
      if (own) conn.free();
      if (r.getResponseCode() === 0 || kind >= 0) {
        const err = r.getError();
        const what = KIND_NAMES[kind] ?? "failed";
        reject(new EvError(`evhttpFetch ${url}: ${what}: ${err?.message ?? what}`, { cause: err }));
        return;
      }
      const inBuf = r.getInputBuffer();
      const body = inBuf.length === 0 ? new Uint8Array(0) : inBuf.remove(inBuf.length);
      resolve({
        status: r.getResponseCode(),
        reason: r.getResponseCodeLine(),
        headers: r.getInputHeaders(),
        body,
        text: () => decoder.decode(body),
        json: () => JSON.parse(decoder.decode(body)),
      });
    });
    req.setErrorCb((k) => {
      kind = k;
      if (k === EVREQ_HTTP_REQUEST_CANCEL) {
        // A cancelled request gets no main callback (libevent): settle here.
        signal?.removeEventListener("abort", onAbort);
        if (own) conn.free();
        reject(new EvError(`evhttpFetch ${url}: cancelled`, { cause: signal?.reason }));
      }
    });
    try {
      const h = req.getOutputHeaders();
      const hs = init.headers;
      if (hs instanceof Evkeyvalq) {
        for (let i = 0; i < hs.size; i++) h.add(hs.keyAt(i), hs.valueAt(i));
      } else if (Array.isArray(hs)) {
        for (const [k, v] of hs) h.add(k, v);
      } else if (hs !== undefined) {
        for (const k of Object.keys(hs)) h.add(k, hs[k]!);
      }
      const body = init.body;
      if (body !== undefined) {
        const out = req.getOutputBuffer();
        if (typeof body === "string" || body instanceof Uint8Array) out.add(body);
        else out.addBuffer(body);
      }
    } catch (e) {
      if (own) conn.free();
      reject(e);
      return;
    }
    if (signal?.aborted) {
      if (own) conn.free();
      reject(new EvError(`evhttpFetch ${url}: cancelled`, { cause: signal.reason }));
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      conn.makeRequest(req, method, target);
    } catch (e) {
      signal?.removeEventListener("abort", onAbort);
      if (own) conn.free();
      reject(e);
    }
  });
}
