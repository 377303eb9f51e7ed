/**
 * Buffered I/O: `Evbuffer` (a chain buffer) and `Bufferevent` (a connection with input and output
 * buffers, watermarks, timeouts and rate limits), plus pairs and filters.
 *
 * @example
 * ```ts
 * import { Bufferevent, BEV_OPT_CLOSE_ON_FREE } from "@evdeno/evdeno/bufferevent";
 * import { EventBase, EV_READ } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * const [a, b] = Bufferevent.pairNew(base, BEV_OPT_CLOSE_ON_FREE);
 * b.setcb((bev) => {
 *   console.log(bev.getInput().toString()); // "hello"
 *   a.free();
 *   b.free();
 * }, null, null);
 * b.enable(EV_READ);
 * a.write("hello");
 * await base.dispatch();
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export {
  Evbuffer,
  type EvbufferCb,
  type EvbufferCbEntry,
  type EvbufferCbInfo,
  EvbufferFrozenError,
} from "./evbuffer.ts";
export {
  Bufferevent,
  type BuffereventDataCb,
  type BuffereventEventCb,
  type BuffereventFilter,
  type GetaddrinfoResolver,
  type ResolvedAddr,
  type ResolverHints,
  type SocketBuffereventOptions,
  type TlsOptions,
} from "./bufferevent.ts";
export {
  BuffereventRateLimitGroup,
  EV_RATE_LIMIT_MAX,
  evTokenBucketCfgNew,
  type RateLimitConfig,
  type RateLimitGroupTotals,
} from "./ratelimit.ts";
