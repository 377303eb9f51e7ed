/**
 * The reactor: `EventBase` (the loop), `Event` (I/O, timer and signal interests), and `Socket`
 * (readiness emulation over Deno's completion-based I/O), with libevent's semantics and
 * constants.
 *
 * @example
 * ```ts
 * import { Event, EventBase, EV_PERSIST } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * let ticks = 0;
 * const ev = new Event(base, null, EV_PERSIST, () => {
 *   console.log("tick", ++ticks);
 *   if (ticks === 3) ev.del();
 * });
 * ev.add(100);
 * await base.dispatch();
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export { EvError } from "./errors.ts";
export { Event, type EventCallback, type EventSource, evsignalNew, evtimerNew } from "./event.ts";
export { EventBase, type EventBaseOptions, type LogCallback } from "./event_base.ts";
export { Socket, type SocketResource } from "./socket.ts";
