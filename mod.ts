/**
 * evdeno: libevent's architecture, written natively in TypeScript for Deno.
 *
 * - `reactor`: `EventBase`, `Event`, timers, signals, `Socket` (readiness emulation)
 * - `bufferevent`: `Evbuffer`, `Bufferevent` (socket, pair, filter), rate limits
 * - `listener`: `EvConnListener`
 * - `dns`: `EvdnsBase` (asynchronous resolver, `getaddrinfo`), `EvdnsServerPort` (DNS server)
 * - `evhttp`: `Evhttp` (HTTP/1.1 server with libevent's router), `EvhttpConnection` and
 *   `evhttpFetch` (client), `EvhttpUri` and the URI helpers, WebSocket (`evwsNewSession`,
 *   `evwsConnect`)
 *
 * UDP pieces need `--unstable-net` (or `"unstable": ["net"]` in your deno.json).
 *
 * @example
 * ```ts
 * import { Bufferevent, BEV_OPT_CLOSE_ON_FREE, EV_READ, EV_WRITE, EvConnListener, EventBase }
 *   from "@evdeno/evdeno";
 * const base = new EventBase();
 * const lev = EvConnListener.newBind(base, (_l, conn) => {
 *   const bev = Bufferevent.socketNew(base, conn, BEV_OPT_CLOSE_ON_FREE);
 *   bev.setcb((b) => b.getOutput().addBuffer(b.getInput()), null, (b) => b.free());
 *   bev.enable(EV_READ | EV_WRITE);
 * }, null, 0, -1, { hostname: "127.0.0.1", port: 0 });
 * console.log("echo server on", lev.addr);
 * lev.free();
 * ```
 *
 * @module
 */

export * from "./reactor/mod.ts";
export * from "./bufferevent/mod.ts";
export * from "./listener/mod.ts";
export * from "./dns/mod.ts";
export * from "./evhttp/mod.ts";
