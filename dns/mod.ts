/**
 * evdns: an asynchronous DNS resolver (`EvdnsBase`, with `getaddrinfo` and a promise helper)
 * speaking the wire protocol itself, plus libevent's DNS constants and error texts.
 *
 * UDP needs Deno's `--unstable-net` (or `"unstable": ["net"]` in your deno.json).
 *
 * @example
 * ```ts
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * import { EvdnsBase, EVDNS_BASE_INITIALIZE_NAMESERVERS } from "@evdeno/evdeno/dns";
 * const base = new EventBase();
 * const dns = new EvdnsBase(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
 * dns.getaddrinfo("example.com", "443", null, (err, res) => console.log(err, res));
 * await base.dispatch();
 * dns.free(false);
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export * from "./errors.ts";
export {
  type Addrinfo,
  type AddrinfoHints,
  type DnsRecord,
  type DnsResult,
  EvdnsBase,
  EvdnsGetaddrinfoRequest,
  EvdnsRequest,
  type GetaddrinfoCb,
  type ResolveCb,
} from "./evdns_base.ts";
export * from "./server.ts";
