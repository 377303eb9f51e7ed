// EvdnsBase against a real dnsmasq (Debian package dnsmasq-base) started on a free loopback port:
// A, AAAA, PTR, CNAME chains, MX/TXT, NXDOMAIN, NODATA, search domains and ndots, truncation
// and the TCP fallback, use-vc, cancel, free, getaddrinfo and the cache.
import assert from "node:assert/strict";
import { EventBase } from "../../reactor/mod.ts";
import {
  AF_INET,
  DNS_ERR_CANCEL,
  DNS_ERR_NODATA,
  DNS_ERR_NONE,
  DNS_ERR_NOTEXIST,
  DNS_ERR_REFUSED,
  DNS_ERR_SHUTDOWN,
  DNS_ERR_TRUNCATED,
  DNS_IPv4_A,
  DNS_IPv6_AAAA,
  DNS_PTR,
  DNS_QUERY_IGNTC,
  DNS_QUERY_NO_SEARCH,
  DNS_TYPE_CNAME,
  DNS_TYPE_TXT,
  EvdnsBase,
  EVUTIL_AI_CANONNAME,
  EVUTIL_EAI_NONAME,
} from "../../dns/mod.ts";
import { haveDnsmasq, startDnsmasq } from "./_dnsmasq.ts";

const have = haveDnsmasq();
if (!have) console.log("dnsmasq not installed (Debian package dnsmasq-base): skipping");

const BIG_TXT = Array.from({ length: 12 }, (_, i) => `"${"x".repeat(200)}${i}"`).join(",");

interface Got {
  result: number;
  type: number;
  count: number;
  ttl: number;
  addresses: string[];
}

function collect(out: Got[]) {
  return (result: number, type: number, count: number, ttl: number, addresses: string[]) => {
    out.push({ result, type, count, ttl, addresses });
  };
}

Deno.test({ name: "evdns against dnsmasq", ignore: !have }, async (t) => {
  const dm = await startDnsmasq([
    "--address=/addr.test/10.1.2.3",
    "--host-record=h.test,10.0.0.7,fd00::7",
    "--host-record=host.a.test,11.22.33.44",
    "--host-record=host2.b.test,200.100.0.100",
    "--local=/name/",
    "--host-record=dotted.name,10.9.9.9",
    "--host-record=dotted.name.a.test,10.8.8.8",
    "--cname=c1.test,c2.test",
    "--cname=c2.test,h.test",
    "--mx-host=m.test,mail.test,5",
    "--txt-record=t.test,hello,world",
    `--txt-record=big.test,${BIG_TXT}`,
  ]);
  const server = `127.0.0.1:${dm.port}`;
  const setup = () => {
    const base = new EventBase();
    const dns = new EvdnsBase(base, 0);
    dns.nameserverIpAdd(server);
    dns.setOption("timeout:", "0.5");
    return { base, dns };
  };
  try {
    await t.step("A, AAAA, PTR, CNAME chain, NXDOMAIN, NODATA", async () => {
      const { base, dns } = setup();
      const a: Got[] = [];
      const aaaa: Got[] = [];
      const ptr: Got[] = [];
      const ptr6: Got[] = [];
      const cname: Got[] = [];
      const nx: Got[] = [];
      const nodata: Got[] = [];
      dns.resolveIpv4("addr.test", 0, collect(a));
      dns.resolveIpv6("h.test", 0, collect(aaaa));
      dns.resolveReverse("10.0.0.7", 0, collect(ptr));
      dns.resolveReverseIpv6("fd00::7", 0, collect(ptr6));
      dns.resolveIpv4("c1.test", 0, collect(cname));
      dns.resolveIpv4("nx.test", 0, collect(nx));
      dns.resolveIpv6("host.a.test", 0, collect(nodata));
      assert.equal(await base.dispatch(), 1);
      assert.deepEqual(a, [{
        result: 0,
        type: DNS_IPv4_A,
        count: 1,
        ttl: 60,
        addresses: ["10.1.2.3"],
      }]);
      assert.deepEqual(aaaa[0].addresses, ["fd00::7"]);
      assert.equal(aaaa[0].type, DNS_IPv6_AAAA);
      assert.deepEqual(ptr[0], {
        result: 0,
        type: DNS_PTR,
        count: 1,
        ttl: 60,
        addresses: ["h.test"],
      });
      assert.deepEqual(ptr6[0].addresses, ["h.test"]);
      assert.deepEqual(cname[0].addresses, ["10.0.0.7"]);
      assert.equal(nx[0].result, DNS_ERR_NOTEXIST);
      assert.equal(nodata[0].result, DNS_ERR_NODATA);
      const [r] = await Promise.all([dns.resolve("c1.test", "A"), base.dispatch()]);
      assert.equal(r.result, DNS_ERR_NONE);
      assert.deepEqual(r.records.map((x) => x.type), [DNS_TYPE_CNAME, DNS_TYPE_CNAME, 1]);
      assert.deepEqual(r.records.map((x) => x.data), ["c2.test", "h.test", "10.0.0.7"]);
      const [mx, txt] = await Promise.all([
        dns.resolve("m.test", "MX"),
        dns.resolve("t.test", DNS_TYPE_TXT),
        base.dispatch(),
      ]);
      assert.deepEqual(mx.records[0].data, { preference: 5, exchange: "mail.test" });
      assert.deepEqual(txt.records[0].data, ["hello", "world"]);
      dns.free(false);
      base.free();
    });

    await t.step("search domains and ndots", async () => {
      const { base, dns } = setup();
      dns.searchAdd("c.test");
      dns.searchAdd("b.test");
      dns.searchAdd("a.test"); // tried first: searchAdd prepends, as in libevent
      const host: Got[] = [];
      const host2: Got[] = [];
      const noSearch: Got[] = [];
      const host3: Got[] = [];
      const dotted: Got[] = [];
      dns.resolveIpv4("host", 0, collect(host));
      dns.resolveIpv4("host2", 0, collect(host2));
      dns.resolveIpv4("host", DNS_QUERY_NO_SEARCH, collect(noSearch));
      dns.resolveIpv4("host3", 0, collect(host3));
      dns.resolveIpv4("dotted.name", 0, collect(dotted)); // 1 dot >= ndots 1: as given first
      await base.dispatch();
      assert.deepEqual(host[0].addresses, ["11.22.33.44"]);
      assert.deepEqual(host2[0].addresses, ["200.100.0.100"]);
      // dnsmasq refuses names outside its local domains: the bare "host" is REFUSED, and the
      // last candidate's error is the one reported.
      assert.equal(noSearch[0].result, DNS_ERR_REFUSED);
      assert.equal(host3[0].result, DNS_ERR_REFUSED);
      assert.deepEqual(dotted[0].addresses, ["10.9.9.9"]);
      // With ndots 2, "dotted.name" is tried with the search list first.
      dns.searchNdotsSet(2);
      const dotted2: Got[] = [];
      dns.resolveIpv4("dotted.name", 0, collect(dotted2));
      await base.dispatch();
      assert.deepEqual(dotted2[0].addresses, ["10.8.8.8"]);
      dns.free(false);
      base.free();
    });

    await t.step(
      "truncated answer falls back to TCP; IGNTC reports TRUNCATED; use-vc",
      async () => {
        const { base, dns } = setup();
        const [big, trunc] = await Promise.all([
          dns.resolve("big.test", "TXT", 0),
          dns.resolve("big.test", "TXT", DNS_QUERY_IGNTC | 0x100),
          base.dispatch(),
        ]);
        assert.equal(big.result, DNS_ERR_NONE);
        assert.equal((big.records[0].data as string[]).length, 12);
        assert.equal(trunc.result, DNS_ERR_TRUNCATED);
        dns.setOption("use-vc", "");
        const got: Got[] = [];
        dns.resolveIpv4("h.test", 0x100, collect(got));
        await base.dispatch();
        assert.deepEqual(got[0].addresses, ["10.0.0.7"]);
        dns.free(false);
        base.free();
      },
    );

    await t.step("cancel and free(true)", async () => {
      const { base, dns } = setup();
      const c: Got[] = [];
      const s: Got[] = [];
      const req = dns.resolveIpv4("h.test", 0, collect(c));
      dns.cancelRequest(req);
      dns.setOption("max-inflight:", "1");
      dns.resolveIpv4("addr.test", 0, collect(s));
      dns.resolveIpv4("h.test", 0x100, collect(s)); // queued behind the first
      dns.free(true);
      await base.dispatch();
      assert.deepEqual(c.map((x) => x.result), [DNS_ERR_CANCEL]);
      assert.deepEqual(s.map((x) => x.result), [DNS_ERR_SHUTDOWN, DNS_ERR_SHUTDOWN]);
      base.free();
    });

    await t.step("getaddrinfo: parallel A/AAAA, canonname, NXDOMAIN, cache", async () => {
      const { base, dns } = setup();
      const out: [number, unknown][] = [];
      dns.getaddrinfo("c1.test", "80", { flags: EVUTIL_AI_CANONNAME, socktype: 1 }, (e, r) => {
        out.push([e, r]);
      });
      const nx: [number, unknown][] = [];
      dns.getaddrinfo("nx.test", null, { family: AF_INET }, (e, r) => nx.push([e, r]));
      await base.dispatch();
      assert.deepEqual(out[0], [0, [
        { family: 2, socktype: 1, protocol: 6, address: "10.0.0.7", port: 80, canonname: "h.test" },
        { family: 10, socktype: 1, protocol: 6, address: "fd00::7", port: 80 },
      ]]);
      assert.deepEqual(nx, [[EVUTIL_EAI_NONAME, null]]);
      // Cached now: answered without a lookup (null request), still from the loop.
      let sync = true;
      const r = dns.getaddrinfo("c1.test", "81", { family: AF_INET, socktype: 1 }, (e, res) => {
        assert.equal(sync, false);
        out.push([e, res?.[0].port]);
      });
      sync = false;
      assert.equal(r, null);
      await base.dispatch();
      assert.deepEqual(out[1], [0, 81]);
      dns.free(false);
      base.free();
    });
  } finally {
    await dm.stop();
  }
});
