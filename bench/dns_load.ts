// DNS lookup throughput against a dnsmasq this script starts on a free loopback port, in one run:
// evdeno's EvdnsBase (cache off) vs Deno.resolveDns (nameServer option) vs node:dns Resolver
// (c-ares, setServers), at concurrency 1 and 64; then cached getaddrinfo lookups/s.
//
//   deno run -A bench/dns_load.ts [--queries 20000] [--cached 1000000]
import { Resolver } from "node:dns";
import { EventBase } from "../reactor/mod.ts";
import { AF_INET, DNS_ERR_NONE, EVDNS_BASE_NO_CACHE, EvdnsBase } from "../dns/mod.ts";
import { haveDnsmasq, startDnsmasq } from "../tests/interop/_dnsmasq.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}
const QUERIES = arg("queries", 20000);
const CACHED = arg("cached", 1000000);
const NAME = "h.test";

if (!haveDnsmasq()) {
  console.log("dnsmasq not installed (Debian package dnsmasq-base): nothing to measure");
  Deno.exit(0);
}
const dm = await startDnsmasq(["--host-record=h.test,10.0.0.7", "--dns-forward-max=1000"]);

async function evdeno(conc: number, n: number): Promise<number> {
  const base = new EventBase();
  const dns = new EvdnsBase(base, EVDNS_BASE_NO_CACHE);
  dns.nameserverIpAdd(`127.0.0.1:${dm.port}`);
  dns.setOption("max-inflight:", String(Math.max(64, conc)));
  let started = 0;
  let ok = 0;
  const cb = (result: number) => {
    if (result === DNS_ERR_NONE) ok++;
    if (started < n) {
      started++;
      dns.resolveIpv4(NAME, 0, cb);
    }
  };
  const t0 = performance.now();
  for (; started < conc; started++) dns.resolveIpv4(NAME, 0, cb);
  await base.dispatch();
  const dt = performance.now() - t0;
  dns.free(false);
  base.free();
  if (ok !== n) console.error(`evdeno: ${n - ok} failures`);
  return (n / dt) * 1000;
}

async function denoResolve(conc: number, n: number): Promise<number> {
  let left = n;
  const opts = { nameServer: { ipAddr: "127.0.0.1", port: dm.port } };
  const worker = async () => {
    while (left > 0) {
      left--;
      await Deno.resolveDns(NAME, "A", opts);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, worker));
  return (n / (performance.now() - t0)) * 1000;
}

async function nodeResolve(conc: number, n: number): Promise<number> {
  const r = new Resolver();
  r.setServers([`127.0.0.1:${dm.port}`]);
  let left = n;
  const one = () => new Promise<void>((res, rej) => r.resolve4(NAME, (e) => (e ? rej(e) : res())));
  const worker = async () => {
    while (left > 0) {
      left--;
      await one();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, worker));
  return (n / (performance.now() - t0)) * 1000;
}

async function cachedGai(n: number): Promise<number> {
  const base = new EventBase();
  const dns = new EvdnsBase(base, 0);
  dns.nameserverIpAdd(`127.0.0.1:${dm.port}`);
  const hints = { family: AF_INET, socktype: 1, protocol: 6 };
  dns.getaddrinfo(NAME, "80", hints, () => {});
  await base.dispatch(); // fills the cache
  let started = 0;
  let ok = 0;
  const cb = (err: number) => {
    if (err === 0) ok++;
    if (started < n) {
      started++;
      dns.getaddrinfo(NAME, "80", hints, cb);
    }
  };
  const t0 = performance.now();
  for (; started < 64; started++) dns.getaddrinfo(NAME, "80", hints, cb);
  await base.dispatch();
  const dt = performance.now() - t0;
  dns.free(false);
  base.free();
  if (ok !== n) console.error(`cached getaddrinfo: ${n - ok} failures`);
  return (n / dt) * 1000;
}

const fmt = (x: number) => `${(x / 1000).toFixed(1)} k/s`.padStart(11);
try {
  // Warm-up (JIT, dnsmasq).
  await evdeno(64, 2000);
  await denoResolve(64, 1000);
  await nodeResolve(64, 1000);
  console.log(`dnsmasq on 127.0.0.1:${dm.port}, ${QUERIES} A queries per cell (cache off)\n`);
  console.log(
    "concurrency |   evdeno   | Deno.resolveDns | node:dns (c-ares) | vs resolveDns | vs c-ares",
  );
  console.log(
    "------------|------------|-----------------|-------------------|---------------|----------",
  );
  for (const conc of [1, 64]) {
    const n = conc === 1 ? Math.min(QUERIES, 5000) : QUERIES;
    const e = await evdeno(conc, n);
    const d = await denoResolve(conc, n);
    const c = await nodeResolve(conc, n);
    console.log(
      `${String(conc).padStart(11)} | ${fmt(e)} | ${fmt(d).padStart(15)} | ${
        fmt(c).padStart(17)
      } | ${(e / d).toFixed(2).padStart(12)}× | ${(e / c).toFixed(2).padStart(7)}×`,
    );
  }
  const g = await cachedGai(CACHED);
  console.log(`\ncached getaddrinfo (concurrency 64): ${(g / 1e6).toFixed(2)} M lookups/s`);
} finally {
  await dm.stop();
}
