// An authoritative DNS server for the zones in a JSON file (default examples/dns_zone.json),
// over UDP and TCP on the same port: A, AAAA, CNAME (followed inside the zone), MX, TXT, SRV,
// PTR, NS and SOA; NXDOMAIN or NODATA with the SOA in the authority section otherwise, REFUSED
// for names outside its zones. Try `dig @127.0.0.1 -p 5300 www.example.test`.
//
//   deno run --allow-net --allow-read examples/dns_server.ts [--port 5300] [--host 127.0.0.1] [--zone FILE]
import { EvConnListener, EventBase, evsignalNew, LEV_OPT_REUSEABLE } from "../mod.ts";
import { type EvdnsReplyData, EvdnsServerPort, type EvdnsServerRequest } from "../dns/server.ts";
import {
  DNS_CLASS_INET,
  DNS_ERR_NONE,
  DNS_ERR_NOTEXIST,
  DNS_ERR_REFUSED,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_ANY,
  DNS_TYPE_CNAME,
  DNS_TYPE_MX,
  DNS_TYPE_NS,
  DNS_TYPE_SOA,
  DNS_TYPE_SRV,
  dnsTypeFromString,
  EVDNS_ADDITIONAL_SECTION,
  EVDNS_ANSWER_SECTION,
  EVDNS_AUTHORITY_SECTION,
  EVDNS_FLAGS_AA,
} from "../dns/constants.ts";
import { flag, portFlag } from "./_args.ts";

interface Soa {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}
interface ZoneFile {
  ttl?: number;
  zones: { origin: string; soa: Soa }[];
  records: { name: string; type: string; ttl?: number; data: EvdnsReplyData }[];
}
interface Rr {
  type: number;
  ttl: number;
  data: EvdnsReplyData;
}

const zonePath = flag("zone", new URL("./dns_zone.json", import.meta.url).pathname);
const zone = JSON.parse(await Deno.readTextFile(zonePath)) as ZoneFile;
const defaultTtl = zone.ttl ?? 300;

// Lower-cased owner name → its records; names are compared as DNS does, case-insensitively.
const names = new Map<string, Rr[]>();
for (const r of zone.records) {
  const type = dnsTypeFromString(r.type);
  if (type < 0) throw new Error(`unknown record type ${r.type}`);
  const key = r.name.toLowerCase();
  if (!names.has(key)) names.set(key, []);
  names.get(key)!.push({ type, ttl: r.ttl ?? defaultTtl, data: r.data });
}
interface Zone {
  origin: string;
  /** `"." + origin`, made once rather than per query. */
  dotOrigin: string;
  soa: Soa;
}
const zones: Zone[] = zone.zones.map((z) => {
  const origin = z.origin.toLowerCase();
  return { origin, dotOrigin: "." + origin, soa: z.soa };
});

/** Whether the "." at `i` separates labels (it is not escaped by an odd run of backslashes). */
function isLabelDot(name: string, i: number): boolean {
  let n = 0;
  while (i - n - 1 >= 0 && name.charCodeAt(i - n - 1) === 0x5c) n++;
  return n % 2 === 0;
}

function zoneOf(name: string): Zone | null {
  let best: Zone | null = null;
  for (const z of zones) {
    // Label by label: "www\.example.test" is the label "www.example" in "test", not in
    // "example.test".
    const inside = name === z.origin ||
      (name.endsWith(z.dotOrigin) && isLabelDot(name, name.length - z.dotOrigin.length));
    if (inside && (best === null || z.origin.length > best.origin.length)) best = z;
  }
  return best;
}

/** Address records of the host a record points at, for the additional section. */
function glue(req: EvdnsServerRequest, data: EvdnsReplyData, type: number): void {
  const target = type === DNS_TYPE_MX
    ? (data as { exchange: string }).exchange
    : type === DNS_TYPE_SRV
    ? (data as { target: string }).target
    : type === DNS_TYPE_NS
    ? (data as string)
    : null;
  if (target === null) return;
  for (const rr of names.get(target.toLowerCase()) ?? []) {
    if (rr.type === DNS_TYPE_A || rr.type === DNS_TYPE_AAAA) {
      req.addReply(EVDNS_ADDITIONAL_SECTION, target, rr.type, DNS_CLASS_INET, rr.ttl, rr.data);
    }
  }
}

function cnameOf(rrs: Rr[]): Rr | undefined {
  for (const rr of rrs) if (rr.type === DNS_TYPE_CNAME) return rr;
  return undefined;
}

function answer(req: EvdnsServerRequest): void {
  const q = req.questions[0];
  const lower = q.name.toLowerCase();
  const z = q.dnsClass === DNS_CLASS_INET ? zoneOf(lower) : null;
  if (z === null) return req.respond(DNS_ERR_REFUSED);
  req.setFlags(EVDNS_FLAGS_AA);
  // The owner is written as asked, so the reply repeats the asker's spelling and case.
  let owner = q.name;
  let rrs = names.get(lower);
  for (let hops = 0; rrs !== undefined && hops < 8; hops++) {
    const cname = cnameOf(rrs);
    if (cname === undefined || q.type === DNS_TYPE_CNAME || q.type === DNS_TYPE_ANY) break;
    req.addReply(
      EVDNS_ANSWER_SECTION,
      owner,
      DNS_TYPE_CNAME,
      DNS_CLASS_INET,
      cname.ttl,
      cname.data,
    );
    owner = cname.data as string;
    rrs = names.get(owner.toLowerCase());
  }
  let found = 0;
  for (const rr of rrs ?? []) {
    if (rr.type !== q.type && q.type !== DNS_TYPE_ANY) continue;
    req.addReply(EVDNS_ANSWER_SECTION, owner, rr.type, DNS_CLASS_INET, rr.ttl, rr.data);
    glue(req, rr.data, rr.type);
    found++;
  }
  if (q.type === DNS_TYPE_SOA && owner.toLowerCase() === z.origin) {
    req.addReply(EVDNS_ANSWER_SECTION, owner, DNS_TYPE_SOA, DNS_CLASS_INET, defaultTtl, z.soa);
    found++;
  }
  if (found === 0) {
    // NXDOMAIN or NODATA: the SOA tells resolvers how long to cache the absence (RFC 2308).
    const ttl = Math.min(defaultTtl, z.soa.minimum);
    req.addReply(EVDNS_AUTHORITY_SECTION, z.origin, DNS_TYPE_SOA, DNS_CLASS_INET, ttl, z.soa);
  }
  // A name with no records of its own but names below it (`_tcp` under `_sip._tcp`) exists:
  // NODATA, not NXDOMAIN (RFC 8020), or resolvers would hide everything below it.
  const exists = rrs !== undefined || owner !== q.name || hasChildren(lower);
  req.respond(exists ? DNS_ERR_NONE : DNS_ERR_NOTEXIST);
}

function hasChildren(name: string): boolean {
  const suffix = "." + name;
  for (const n of names.keys()) if (n.endsWith(suffix)) return true;
  return false;
}

const host = flag("host", "127.0.0.1");
const wanted = portFlag(5300);
const base = new EventBase();

// UDP first; with --port 0 the TCP listener then takes the port UDP got.
let udp: Deno.DatagramConn | null = null;
let lev: EvConnListener | null = null;
for (let attempt = 0; lev === null; attempt++) {
  udp = Deno.listenDatagram({ transport: "udp", hostname: host, port: wanted });
  const port = (udp.addr as Deno.NetAddr).port;
  try {
    lev = EvConnListener.newBind(base, null, null, LEV_OPT_REUSEABLE, -1, { hostname: host, port });
  } catch (e) {
    udp.close();
    if (wanted !== 0 || attempt >= 10) throw e;
  }
}
const udpPort = EvdnsServerPort.add(base, udp!, 0, answer);
const tcpPort = EvdnsServerPort.addWithListener(base, lev, 0, answer);
const addr = udp!.addr as Deno.NetAddr;
console.log(`listening on ${addr.hostname}:${addr.port}`);

const sigint = evsignalNew(base, "SIGINT", () => {
  udpPort.close();
  tcpPort.close();
  sigint.del();
  base.loopbreak();
});
sigint.add();

await base.dispatch();
base.free();
