/**
 * evdeno: libevent's architecture, written natively in TypeScript for Deno.
 *
 * - `reactor`: `EventBase`, `Event`, timers, signals, `Socket`
 *
 * @example
 * ```ts
 * import { EventBase, evtimerNew } from "@evdeno/evdeno";
 * const base = new EventBase();
 * evtimerNew(base, () => console.log("hello")).add(10);
 * await base.dispatch();
 * ```
 *
 * @module
 */

export * from "./reactor/mod.ts";
