// A small dig: resolves NAME with evdeno's own resolver and prints the answers with their TTLs
// and the response code.
//
//   deno run --allow-net --allow-read examples/dns_lookup.ts example.com --server 127.0.0.1:5353 --type AAAA
//
// Without --server the nameservers come from /etc/resolv.conf. UDP needs --unstable-net (this
// repo's deno.json enables it).
import {
  dnsTypeFromString,
  dnsTypeToString,
  EVDNS_BASE_INITIALIZE_NAMESERVERS,
  EvdnsBase,
  evdnsErrToString,
  EventBase,
} from "../mod.ts";
import { flag, positional } from "./_args.ts";

const names = positional(["server", "type", "timeout"]);
if (names.length === 0) {
  console.error("usage: dns_lookup.ts NAME [--server IP[:PORT]] [--type A|AAAA|MX|TXT|…]");
  Deno.exit(2);
}
const server = flag("server", "");
const typeName = flag("type", "A").toUpperCase();
const type = dnsTypeFromString(typeName);
if (type < 0) {
  console.error(`unknown record type ${typeName}`);
  Deno.exit(2);
}

const base = new EventBase();
const dns = new EvdnsBase(base, server === "" ? EVDNS_BASE_INITIALIZE_NAMESERVERS : 0);
if (server !== "") dns.nameserverIpAdd(server);
dns.setOption("timeout:", flag("timeout", "2"));

function show(data: unknown): string {
  if (typeof data === "string") return data;
  if (Array.isArray(data)) return data.map((s) => JSON.stringify(s)).join(" ");
  if (data instanceof Uint8Array) {
    return `\\# ${data.length} ${[...data].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  }
  return Object.values(data as Record<string, unknown>).join(" ");
}

let status = 0;
for (const name of names) {
  const t0 = performance.now();
  const [{ result, records }] = await Promise.all([dns.resolve(name, type), base.dispatch()]);
  const ms = (performance.now() - t0).toFixed(1);
  console.log(
    `;; ${name} ${typeName}: status ${
      evdnsErrToString(result).toUpperCase()
    } (${result}), ${records.length} records, ${ms} ms`,
  );
  for (const r of records) {
    console.log(`${r.name}.\t${r.ttl}\tIN\t${dnsTypeToString(r.type)}\t${show(r.data)}`);
  }
  if (result !== 0) status = 1;
}
dns.free(false);
base.free();
Deno.exit(status);
