// Hostile nameservers must not turn a small answer into a lot of memory: compressed names are
// decoded once per message (a 2-byte pointer to a long name of unprintable bytes used to become
// a fresh 1 000-character string per record: 8 MiB of strings for one 64 KiB answer), and the
// resolver's caches are bounded by an estimate of the memory they hold, not only by a count.
// Configuration files parse in linear time.
import assert from "node:assert/strict";
import { EventBase } from "../reactor/mod.ts";
import { DNS_ERR_NONE, DNS_OPTION_SEARCH, EvdnsBase } from "../dns/mod.ts";
import { dnsCacheLimits } from "../dns/evdns_base.ts";
import { parseMessage } from "../dns/_wire.ts";
import { type HostsEntry, parseHosts, parseResolvConf } from "../dns/_resolv_conf.ts";
import { bounded } from "./_helpers.ts";
import { a, Fake, reply } from "./_dns_helpers.ts";

/** Four 62-byte labels of byte 0x01: 253 bytes on the wire, 1 011 characters escaped. */
const LONG_LABELS = new Uint8Array(4 * 63 + 1);
for (let l = 0; l < 4; l++) {
  LONG_LABELS[l * 63] = 62;
  LONG_LABELS.fill(1, l * 63 + 1, l * 63 + 63);
}
const LONG_NAME = Array.from({ length: 4 }, () => "\\001".repeat(62)).join(".");

/**
 * A 64 KiB answer whose question is the long name and whose MX records all point at it, every
 * other one through a one-letter label first ("a.<long name>").
 */
function hostileAnswer(): Uint8Array {
  const out: number[] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
  out.push(...LONG_LABELS, 0, 15, 0, 1);
  let n = 0;
  while (out.length + 20 <= 65535) {
    const prefixed = n % 2 === 1;
    if (prefixed) out.push(1, 0x61);
    out.push(0xc0, 12, 0, 15, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 0, 10, 0xc0, 12);
    n++;
  }
  out[6] = n >> 8;
  out[7] = n & 0xff;
  return new Uint8Array(out);
}

Deno.test("dns wire: pointers to one long name share its decoding, with the same names as before", () => {
  const pkt = hostileAnswer();
  const m = parseMessage(pkt)!;
  assert.ok(m !== null);
  assert.ok(m.answers.length > 3000);
  assert.equal(m.questions[0]!.name, LONG_NAME);
  m.answers.forEach((rr, i) => {
    assert.equal(rr.name, i % 2 === 1 ? "a." + LONG_NAME : LONG_NAME);
    assert.equal((rr.data as { exchange: string }).exchange, LONG_NAME);
  });
  // Retained: parsed answers kept (as a cache would) cost about what benign ones do.
  parseMessage(pkt);
  const kept = [];
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < 10; i++) kept.push(parseMessage(pkt));
  const grew = Deno.memoryUsage().heapUsed - before;
  assert.equal(kept.length, 10);
  // 640 KiB of packets; decoded afresh per record they held 86 MB.
  assert.ok(grew < 30e6, `10 parsed answers hold ${(grew / 1e6).toFixed(0)} MB`);
});

async function withResolver(
  records: number,
  fn: (lookup: (name: string) => Promise<number>, srv: Fake) => Promise<void>,
): Promise<void> {
  const srv = new Fake((q, from, s) => {
    const name = q.questions[0]!.name;
    const answers = Array.from({ length: records }, (_, i) => a(name, `10.0.${i >> 8}.${i & 255}`));
    s.send(reply(q, { answers }), from);
  });
  const base = new EventBase();
  const dns = new EvdnsBase(base, 0);
  dns.nameserverIpAdd(srv.addr);
  dns.setOption("randomize-case:", "0");
  dns.setOption("timeout:", "0.5");
  const saved = { ...dnsCacheLimits };
  try {
    const lookup = async (name: string) => {
      let got = -2;
      dns.resolveIpv4(name, 0, (result, _t, count) => got = result === DNS_ERR_NONE ? count : -1);
      await bounded(base.dispatch(), 3000, `lookup of ${name}`);
      return got;
    };
    await fn(lookup, srv);
    dns.free(false);
  } finally {
    Object.assign(dnsCacheLimits, saved);
    base.free();
    await srv.close();
  }
}

Deno.test("dns cache: the oldest answers are evicted once the cached answers' memory passes its budget", async () => {
  // 25 records keep the answer within 512 bytes (no EDNS needed).
  await withResolver(25, async (lookup, srv) => {
    // About 3 KB per answer of 25 records: four or five fit in 15 KB.
    dnsCacheLimits.maxCost = 15_000;
    for (let i = 0; i < 10; i++) assert.equal(await lookup(`n${i}.test`), 25);
    const asked = (name: string) => srv.names().filter((n) => n === name).length;
    assert.equal(await lookup("n9.test"), 25);
    assert.equal(asked("n9.test"), 1, "the newest answer is still cached");
    assert.equal(await lookup("n0.test"), 25);
    assert.equal(asked("n0.test"), 2, "the oldest was evicted and asked again");
  });
});

Deno.test("dns cache: an answer costing more than an entry may is delivered but not cached", async () => {
  await withResolver(25, async (lookup, srv) => {
    dnsCacheLimits.entryMaxCost = 2_000;
    assert.equal(await lookup("big.test"), 25);
    assert.equal(await lookup("big.test"), 25);
    assert.equal(srv.names().filter((n) => n === "big.test").length, 2);
  });
});

Deno.test("resolv.conf and hosts: CRLF lines lose their comments; big files parse in linear time", () => {
  const conf = parseResolvConf("nameserver 1.2.3.4 # main\r\nsearch a.test ; old\r\n#x\r\n");
  assert.deepEqual(conf.nameservers, ["1.2.3.4"]);
  assert.deepEqual(conf.search, ["a.test"]);
  const hosts = new Map<string, HostsEntry>();
  parseHosts("10.0.0.1 good # evil.example\r\n10.0.0.1 good\r\n10.0.0.2 good\r\n", hosts);
  assert.deepEqual([...hosts.keys()], ["good"]);
  assert.deepEqual(hosts.get("good")!.v4, ["10.0.0.1", "10.0.0.2"]);
  // Each was quadratic: 40 000 addresses for one name took 1.3 s, a line of 40 000 "#" before
  // a CR 0.6 s, and a search line of 200 000 domains 2.8 s once loaded.
  const t0 = performance.now();
  const many = new Map<string, HostsEntry>();
  parseHosts(
    Array.from({ length: 40_000 }, (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255} h`).join(
      "\n",
    ),
    many,
  );
  parseResolvConf("#".repeat(40_000) + "\r\n");
  const search = parseResolvConf(
    "search " + Array.from({ length: 200_000 }, (_, i) => `d${i}.test`).join(" "),
  ).search!;
  // Loaded into a resolver: the list used to be built by prepending each domain.
  const file = Deno.makeTempFileSync();
  try {
    Deno.writeTextFileSync(file, "search " + search.join(" ") + "\n");
    const base = new EventBase();
    const dns = new EvdnsBase(base, 0);
    assert.equal(dns.resolvConfParse(DNS_OPTION_SEARCH, file), 0);
    dns.free(false);
    base.free();
  } finally {
    Deno.removeSync(file);
  }
  const ms = performance.now() - t0;
  assert.equal(many.get("h")!.v4.length, 40_000);
  assert.equal(search.length, 200_000);
  assert.ok(ms < 1500, `took ${ms.toFixed(0)} ms`);
});

Deno.test("resolver over TCP: a nameserver that accepts and never answers costs a connection per timeout period, not per query", async () => {
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let conns = 0;
  const open: Deno.Conn[] = [];
  const reads: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const c of tcp) {
      conns++;
      open.push(c);
      reads.push((async () => {
        const b = new Uint8Array(65536);
        try {
          while ((await c.read(b)) !== null) { /* never answer */ }
        } catch { /* closed */ }
      })());
    }
  })().catch(() => {});
  const base = new EventBase();
  base.setLogCallback(() => {});
  const dns = new EvdnsBase(base, 0);
  try {
    dns.nameserverIpAdd(`127.0.0.1:${(tcp.addr as Deno.NetAddr).port}`);
    dns.setOption("use-vc", "");
    dns.setOption("timeout:", "0.3");
    dns.setOption("attempts:", "1");
    const results: number[] = [];
    for (let i = 0; i < 300; i++) {
      dns.resolveIpv4(`h${i}.example.test`, 0, (r) => results.push(r));
    }
    await bounded(base.dispatch(), 10_000, "300 lookups timing out");
    assert.equal(results.length, 300);
    // Each timed-out query used to close the connection its predecessor had just opened: 300
    // connections. Now one per stuck period (64 queries in flight at a time).
    assert.ok(conns <= 20, `${conns} connections`);
  } finally {
    dns.free(false);
    base.free();
    tcp.close();
    for (const c of open) c.close();
    await accepting;
    await Promise.all(reads);
  }
});
