/**
 * `EvConnListener`: accepts TCP or Unix connections and hands each to a callback.
 *
 * @example
 * ```ts
 * import { EvConnListener, LEV_OPT_CLOSE_ON_FREE } from "@evdeno/evdeno/listener";
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * const lev = EvConnListener.newBind(base, (_l, conn) => conn.close(), null,
 *   LEV_OPT_CLOSE_ON_FREE, -1, { hostname: "127.0.0.1", port: 0 });
 * lev.free();
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export { EvConnListener, type ListenerCb, type ListenerErrorCb } from "./listener.ts";
