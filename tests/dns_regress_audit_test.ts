// Audit of EvdnsBase / EvdnsServerPort against libevent's regress_dns.c catalogue (inventory
// §4.6) and the evdns rules of §3. Tests starting "Regression test." fail on the code they were
// written against and name the libevent test or rule they follow; "Control:" tests pass and cover
// behaviour no other suite checked. Fake nameservers run in-process on 127.0.0.1 and key their
// state by query name (16-bit ids collide).
import assert from "node:assert/strict";
import { EventBase } from "../reactor/mod.ts";
import {
  AF_INET,
  DNS_CNAME,
  DNS_CNAME_CALLBACK,
  DNS_ERR_NODATA,
  DNS_ERR_NONE,
  DNS_ERR_NOTEXIST,
  DNS_ERR_NOTIMPL,
  DNS_ERR_SHUTDOWN,
  DNS_ERR_TIMEOUT,
  DNS_ERR_TRUNCATED,
  DNS_IPv4_A,
  DNS_QUERY_IGNTC,
  DNS_QUERY_NO_CACHE,
  DNS_QUERY_NO_SEARCH,
  DNS_QUERY_USEVC,
  EVDNS_SOPT_TCP_IDLE_TIMEOUT,
  EVDNS_SOPT_TCP_MAX_CLIENTS,
  EvdnsBase,
  EvdnsServerPort,
  EVUTIL_AI_CANONNAME,
  EVUTIL_EAI_FAIL,
  EVUTIL_EAI_NONAME,
  SOCK_STREAM,
} from "../dns/mod.ts";
import { type DnsMessage, type DnsRR, parseMessage } from "../dns/_wire.ts";
import { EvConnListener } from "../listener/listener.ts";
import { LEV_OPT_CLOSE_ON_FREE } from "../listener/constants.ts";
import { bounded } from "./_helpers.ts";
import { a, aaaa, cname, Fake, reply } from "./_dns_helpers.ts";

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

function soa42(): DnsRR {
  return {
    name: "example.com",
    type: 6,
    dnsClass: 1,
    ttl: 42,
    data: {
      mname: "ns.example.com",
      rname: "h.example.com",
      serial: 1,
      refresh: 1,
      retry: 1,
      expire: 1,
      minimum: 42,
    },
  };
}

function newDns(base: EventBase, servers: string[], timeout = "0.2"): EvdnsBase {
  base.setLogCallback(() => {});
  const dns = new EvdnsBase(base, 0);
  for (const s of servers) dns.nameserverIpAdd(s);
  dns.setOption("timeout:", timeout);
  dns.setOption("randomize-case:", "0");
  return dns;
}

interface Call {
  result: number;
  type: number;
  count: number;
  ttl: number;
  addresses: string[];
}

function recorder(out: Call[]) {
  return (result: number, type: number, count: number, ttl: number, addresses: string[]) => {
    out.push({ result, type, count, ttl, addresses: [...addresses] });
  };
}

/** A TCP nameserver on 127.0.0.1: `handler(q, connIndex)` returns the reply or null (silence). */
class FakeTcp {
  listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  conns: Deno.Conn[] = [];
  seen: { name: string; conn: number }[] = [];
  #tasks: Promise<void>[] = [];
  #accepting: Promise<void>;
  constructor(handler: (q: DnsMessage, conn: number) => Uint8Array | null) {
    this.#accepting = (async () => {
      try {
        for (;;) {
          const c = await this.listener.accept();
          const idx = this.conns.length;
          this.conns.push(c);
          this.#tasks.push(this.#serve(c, idx, handler));
        }
      } catch { /* listener closed */ }
    })();
  }
  async #serve(
    c: Deno.Conn,
    idx: number,
    handler: (q: DnsMessage, conn: number) => Uint8Array | null,
  ): Promise<void> {
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await c.read(chunk);
        if (n === null) break;
        const next = new Uint8Array(buf.length + n);
        next.set(buf);
        next.set(chunk.subarray(0, n), buf.length);
        buf = next;
        while (buf.length >= 2) {
          const len = (buf[0] << 8) | buf[1];
          if (buf.length < 2 + len) break;
          const q = parseMessage(buf.slice(2, 2 + len));
          buf = buf.slice(2 + len);
          if (q === null || q.questions.length === 0) continue;
          this.seen.push({ name: q.questions[0].name.toLowerCase(), conn: idx });
          const r = handler(q, idx);
          if (r !== null) {
            const framed = new Uint8Array(r.length + 2);
            framed[0] = r.length >> 8;
            framed[1] = r.length & 0xff;
            framed.set(r, 2);
            await c.write(framed);
          }
        }
      }
    } catch { /* reset or closed */ }
    try {
      c.close();
    } catch { /* already closed */ }
  }
  get addr(): string {
    return `127.0.0.1:${(this.listener.addr as Deno.NetAddr).port}`;
  }
  async close(): Promise<void> {
    this.listener.close();
    await this.#accepting;
    for (const c of this.conns) {
      try {
        c.close();
      } catch { /* closed by #serve */ }
    }
    await Promise.all(this.#tasks);
  }
}

// ---------------------------------------------------------------------------------------------
// search ★ (regress_dns.c dns_search_test_impl): CNAME entries and callback order
// ---------------------------------------------------------------------------------------------

// Regression test. libevent `dns/search` ★, request r[8]: the regress server's "CNAME" table
// entry answers `hostc.c.example.com` with an A record (11.22.33.44) *and* a CNAME record
// (-> cname.c.example.com), both owned by the query name. With DNS_CNAME_CALLBACK libevent's
// reply_parse remembers every CNAME in the answer section and reply_run_callback calls back
// twice: (NONE, DNS_IPv4_A, 1, [11.22.33.44]) and then (NONE, DNS_CNAME, 1, "cname.c.example.com");
// the test asserts the last call is the DNS_CNAME one. evdeno's extractAnswer
// (dns/evdns_base.ts) stops at the first owner that has the asked type and only looks at a CNAME
// when no address is found there, so the CNAME is dropped and only the A callback runs.
// Likely fix: keep the first CNAME owned by the query name even when an address record was found
// at the same owner (that is also what getaddrinfo's canonname needs, see below).
Deno.test("audit: search r[8]: a CNAME next to the A record still gets the DNS_CNAME callback", async () => {
  const srv = new Fake((q, from, s) => {
    const name = q.questions[0].name;
    if (name.toLowerCase() === "hostc.c.example.com" && q.questions[0].type === 1) {
      s.send(
        reply(q, {
          answers: [a(name, "11.22.33.44", 100), cname(name, "cname.c.example.com", 100)],
        }),
        from,
      );
    } else s.send(reply(q, { rcode: 3 }), from);
  });
  const base = new EventBase();
  const dns = newDns(base, [srv.addr]);
  const calls: Call[] = [];
  dns.resolveIpv4(
    "hostc.c.example.com",
    DNS_QUERY_NO_SEARCH | DNS_CNAME_CALLBACK,
    recorder(calls),
  );
  await bounded(base.dispatch(), 3000, "dispatch");
  dns.free(false);
  base.free();
  await srv.close();
  assert.deepEqual(
    calls.map((c) => [c.result, c.type, c.count, c.addresses]),
    [
      [DNS_ERR_NONE, DNS_IPv4_A, 1, ["11.22.33.44"]],
      [DNS_ERR_NONE, DNS_CNAME, 1, ["cname.c.example.com"]],
    ],
  );
});

// Regression test. libevent reply_run_callback (evdns.c) runs the address callback first and the
// extra DNS_CNAME_CALLBACK call *after* it (`user_callback(NONE, DNS_IPv4_A, ...)` then
// `if (reply.cname) user_callback(NONE, DNS_CNAME, 1, ...)`); `test search` depends on it (its
// generic callback keeps the last call, and it expects DNS_CNAME). evdeno's EvdnsRequest._run
// (dns/evdns_base.ts) calls the DNS_CNAME callback before the address callback, so a ported
// program sees them swapped. Expected [A, CNAME]; actual [CNAME, A]. Fix: emit the CNAME call
// after the main one. (tests/dns_review_test.ts "DNS_CNAME_CALLBACK and RFC 2308 NODATA TTL"
// asserts the current, reversed order and would need updating.)
Deno.test("audit: DNS_CNAME_CALLBACK fires after the address callback, as in libevent", async () => {
  const srv = new Fake((q, from, s) => {
    const name = q.questions[0].name;
    s.send(
      reply(q, {
        answers: [cname(name, "web.example.com", 100), a("web.example.com", "10.0.0.3")],
      }),
      from,
    );
  });
  const base = new EventBase();
  const dns = newDns(base, [srv.addr]);
  const calls: Call[] = [];
  dns.resolveIpv4("www.example.com", DNS_QUERY_NO_SEARCH | DNS_CNAME_CALLBACK, recorder(calls));
  await bounded(base.dispatch(), 3000, "dispatch");
  dns.free(false);
  base.free();
  await srv.close();
  assert.deepEqual(calls.map((c) => c.type), [DNS_IPv4_A, DNS_CNAME]);
});

// Control: the rest of libevent `dns/search` ★ (r[0]..r[7]) with its server table: search list
// a/b/c.example.com added with searchAdd (tried c, b, a), NO_SEARCH, a name that exhausts the
// list, NODATA/NXDOMAIN TTLs from an SOA (42) and NODATA without SOA (ttl 0).
Deno.test("audit: control: libevent search table (r[0]..r[7])", async () => {
  const table: Record<string, { rcode: number; soa?: boolean; addr?: string }> = {
    "host.a.example.com": { rcode: 3 },
    "host.b.example.com": { rcode: 3 },
    "host.c.example.com": { rcode: 0, addr: "11.22.33.44" },
    "host2.a.example.com": { rcode: 3 },
    "host2.b.example.com": { rcode: 0, addr: "200.100.0.100" },
    "host2.c.example.com": { rcode: 3 },
    "hostn.a.example.com": { rcode: 0, soa: true },
    "hostn.b.example.com": { rcode: 3, soa: true },
    "hostn.c.example.com": { rcode: 0 },
  };
  const srv = new Fake((q, from, s) => {
    const name = q.questions[0].name;
    const e = table[name.toLowerCase()] ?? { rcode: 3 };
    s.send(
      reply(q, {
        rcode: e.rcode,
        answers: e.addr !== undefined ? [a(name, e.addr)] : [],
        authority: e.soa ? [soa42()] : [],
      }),
      from,
    );
  });
  const base = new EventBase();
  const dns = newDns(base, [srv.addr]);
  dns.searchAdd("a.example.com");
  dns.searchAdd("b.example.com");
  dns.searchAdd("c.example.com");
  const r: Call[][] = [];
  const go = (name: string, flags: number) => {
    const out: Call[] = [];
    r.push(out);
    dns.resolveIpv4(name, flags | DNS_QUERY_NO_CACHE, recorder(out));
  };
  go("host", 0);
  go("host2", 0);
  go("host", DNS_QUERY_NO_SEARCH);
  go("host2", DNS_QUERY_NO_SEARCH);
  go("host3", 0);
  go("hostn.a.example.com", DNS_QUERY_NO_SEARCH);
  go("hostn.b.example.com", DNS_QUERY_NO_SEARCH);
  go("hostn.c.example.com", DNS_QUERY_NO_SEARCH);
  await bounded(base.dispatch(), 3000, "dispatch");
  dns.free(false);
  base.free();
  await srv.close();
  const last = r.map((calls) => calls.at(-1)!);
  assert.deepEqual(last[0].addresses, ["11.22.33.44"]);
  assert.deepEqual(last[1].addresses, ["200.100.0.100"]);
  assert.deepEqual(last.slice(2, 5).map((c) => c.result), [
    DNS_ERR_NOTEXIST,
    DNS_ERR_NOTEXIST,
    DNS_ERR_NOTEXIST,
  ]);
  assert.deepEqual(last.slice(5).map((c) => [c.result, c.ttl]), [
    [DNS_ERR_NODATA, 42],
    [DNS_ERR_NOTEXIST, 42],
    [DNS_ERR_NODATA, 0],
  ]);
  // host3 walked c, b, a and then the bare name (0 dots < ndots 1).
  const host3 = srv.names().filter((n) => n.startsWith("host3"));
  assert.deepEqual(host3, [
    "host3.c.example.com",
    "host3.b.example.com",
    "host3.a.example.com",
    "host3",
  ]);
});

// ---------------------------------------------------------------------------------------------
// getaddrinfo_async (regress_dns.c test_getaddrinfo_async)
// ---------------------------------------------------------------------------------------------

// Regression test. libevent `dns/getaddrinfo_async` case 0 (and case 12, `long.example.com`):
// be_getaddrinfo_server_cb answers both.example.com with its A/AAAA record plus a CNAME owned by
// the query name (-> both-canonical.example.com), and with EVUTIL_AI_CANONNAME the test asserts
// `ai_canonname == "both-canonical.example.com"`. evdeno's extractAnswer (dns/evdns_base.ts)
// ignores a CNAME at an owner that already has the asked type, so #gaiComplete falls back to the
// node name: canonname is "both.example.com". Expected the CNAME target.
Deno.test("audit: getaddrinfo_async case 0: CANONNAME from a CNAME sent next to the addresses", async () => {
  const srv = new Fake((q, from, s) => {
    const name = q.questions[0].name;
    const rr = q.questions[0].type === 1 ? a(name, "80.80.32.32") : aaaa(name, "80ff::bbbb");
    s.send(reply(q, { answers: [rr, cname(name, "both-canonical.example.com", 1000)] }), from);
  });
  const base = new EventBase();
  const dns = newDns(base, [srv.addr], "0.3");
  const out: { err: number; canon?: string; addrs: string[] }[] = [];
  dns.getaddrinfo(
    "both.example.com",
    "8000",
    { socktype: SOCK_STREAM, flags: EVUTIL_AI_CANONNAME },
    (err, res) =>
      out.push({ err, canon: res?.[0]?.canonname, addrs: (res ?? []).map((x) => x.address) }),
  );
  await bounded(base.dispatch(), 3000, "dispatch");
  dns.free(false);
  base.free();
  await srv.close();
  assert.deepEqual(out, [{
    err: 0,
    canon: "both-canonical.example.com",
    addrs: ["80.80.32.32", "80ff::bbbb"],
  }]);
});

// Regression test. libevent `dns/getaddrinfo_async` case 1: v4only.example.com asked with
// EVUTIL_AI_CANONNAME, answered without any CNAME; the test asserts `ai_canonname == NULL`
// (libevent's add_cname_to_reply only sets a canonname it received as a CNAME). evdeno's
// #gaiComplete (dns/evdns_base.ts, `const canonName = cname ?? g._node`) reports the node name.
// Low severity (POSIX getaddrinfo would give the name); either match libevent or list it in the
// README's differences.
Deno.test("audit: getaddrinfo_async case 1: CANONNAME without a CNAME leaves canonname unset", async () => {
  const srv = new Fake((q, from, s) => {
    const name = q.questions[0].name;
    if (q.questions[0].type === 1) s.send(reply(q, { answers: [a(name, "18.52.86.120")] }), from);
    else s.send(reply(q, { rcode: 3 }), from);
  });
  const base = new EventBase();
  const dns = newDns(base, [srv.addr], "0.3");
  const out: { err: number; canon?: string }[] = [];
  dns.getaddrinfo(
    "v4only.example.com",
    "8001",
    { socktype: SOCK_STREAM, flags: EVUTIL_AI_CANONNAME },
    (err, res) => out.push({ err, canon: res?.[0]?.canonname }),
  );
  await bounded(base.dispatch(), 3000, "dispatch");
  dns.free(false);
  base.free();
  await srv.close();
  assert.deepEqual(out, [{ err: 0, canon: undefined }]);
});

// Control: libevent `dns/getaddrinfo_async` cases 5-8 and 10 with its settings (timeout 0.3,
// getaddrinfo-allow-skew 0.2): NXDOMAIN for INET and UNSPEC → EAI_NONAME; AAAA silent → IPv4 only
// after the skew; A NXDOMAIN + AAAA silent → EAI_NONAME; A silent → IPv6 only.
Deno.test("audit: control: getaddrinfo_async NXDOMAIN and one-family-timeout cases", async () => {
  const srv = new Fake((q, from, s) => {
    const name = q.questions[0].name;
    const t = q.questions[0].type;
    switch (name.toLowerCase()) {
      case "v6timeout.example.com":
        if (t === 1) s.send(reply(q, { answers: [a(name, "171.205.239.1")] }), from);
        return;
      case "v4timeout.example.com":
        if (t === 28) s.send(reply(q, { answers: [aaaa(name, "a0a::ff01")] }), from);
        return;
      case "v6timeout-nonexist.example.com":
        if (t === 1) s.send(reply(q, { rcode: 3 }), from);
        return;
      default:
        s.send(reply(q, { rcode: 3 }), from);
    }
  });
  const base = new EventBase();
  const dns = newDns(base, [srv.addr], "0.3");
  dns.setOption("getaddrinfo-allow-skew", "0.2");
  const out = new Map<string, [number, string[]]>();
  const go = (tag: string, node: string, family: number) =>
    dns.getaddrinfo(node, "80", { family, socktype: SOCK_STREAM }, (err, res) => {
      out.set(tag, [err, (res ?? []).map((x) => x.address)]);
    });
  go("5", "nosuchplace.example.com", AF_INET);
  go("6", "nosuchplace.example.com", 0);
  go("7", "v6timeout.example.com", 0);
  go("8", "v6timeout-nonexist.example.com", 0);
  go("10", "v4timeout.example.com", 0);
  const t0 = performance.now();
  await bounded(base.dispatch(), 3000, "dispatch");
  const took = performance.now() - t0;
  dns.free(false);
  base.free();
  await srv.close();
  assert.deepEqual(Object.fromEntries(out), {
    "5": [EVUTIL_EAI_NONAME, []],
    "6": [EVUTIL_EAI_NONAME, []],
    "7": [0, ["171.205.239.1"]],
    "8": [EVUTIL_EAI_NONAME, []],
    "10": [0, ["a0a::ff01"]],
  });
  assert.ok(took < 800, `answers waited for the skew, not the 0.9 s timeouts (${took} ms)`);
});

// Regression test. libevent evdns_getaddrinfo_gotresolve (§3.7): when the first sub-query fails
// with DNS_ERR_TIMEOUT the skew timer is *not* started (`if (result != DNS_ERR_TIMEOUT)
// evtimer_add(&data->timeout, allow_skew)`): the other family still gets its own full chance.
// evdeno's #gaiSubDone starts `getaddrinfo-allow-skew` after any first completion, so an AAAA
// query that was queued behind the timed-out A query (max-inflight 1) is cancelled 50 ms after
// it starts and the caller gets EVUTIL_EAI_FAIL instead of the IPv6 answer that arrives ~100 ms
// later. Fix: don't arm the skew timer when the finished sub-query timed out.
Deno.test("audit: getaddrinfo: a timed-out first family does not start the skew timer", async () => {
  const seen = new Map<string, number>();
  const srv = new Fake((q, from, s) => {
    const name = q.questions[0].name;
    if (q.questions[0].type !== 28) return; // A: silent
    const key = name.toLowerCase();
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    if (n >= 2) s.send(reply(q, { answers: [aaaa(name, "2001:db8::7")] }), from); // 1st dropped
  });
  const base = new EventBase();
  const dns = newDns(base, [srv.addr], "0.1");
  dns.setOption("attempts:", "2");
  dns.setOption("max-inflight:", "1");
  dns.setOption("getaddrinfo-allow-skew:", "0.05");
  const out: [number, string[]][] = [];
  dns.getaddrinfo("v4timeout.example.com", null, { socktype: SOCK_STREAM }, (err, res) => {
    out.push([err, (res ?? []).map((x) => x.address)]);
  });
  await bounded(base.dispatch(), 3000, "dispatch");
  dns.free(false);
  base.free();
  await srv.close();
  assert.deepEqual(out, [[0, ["2001:db8::7"]]]);
});

// Control: libevent `dns/client_fail_requests_getaddrinfo`: free(true) with 20 getaddrinfo
// requests in flight gives every callback EVUTIL_EAI_FAIL, once.
Deno.test("audit: control: client_fail_requests_getaddrinfo → 20 × EVUTIL_EAI_FAIL", async () => {
  const srv = new Fake(null);
  const base = new EventBase();
  const dns = newDns(base, [srv.addr], "1");
  const errs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const r = dns.getaddrinfo("foof.example.com", "80", null, (e) => errs.push(e));
    assert.ok(r !== null);
  }
  dns.free(true);
  await bounded(base.dispatch(), 3000, "dispatch");
  base.free();
  await srv.close();
  assert.deepEqual(errs, Array(20).fill(EVUTIL_EAI_FAIL));
});

// ---------------------------------------------------------------------------------------------
// retry ★, reissue, failover thresholds (§3.4)
// ---------------------------------------------------------------------------------------------

// Control: libevent `dns/retry` ★ with its options (timeout 0.2, max-timeouts 10, initial-probe
// 0.1): a server dropping the first two queries still answers within the default 3 attempts;
// with max-timeouts 2 and attempts 3, three drops give DNS_ERR_TIMEOUT; the next lookup succeeds
// (evdeno probes lazily, so the down server is simply asked again).
Deno.test("audit: control: retry ★: drops within attempts succeed, beyond them TIMEOUT, then recovery", async () => {
  let drops = 2;
  const srv = new Fake((q, from, s) => {
    const name = q.questions[0].name;
    if (name.toLowerCase() === "host.example.com" && drops > 0) {
      drops--;
      return;
    }
    s.send(reply(q, { answers: [a(name, "16.32.64.128", 100)] }), from);
  });
  const base = new EventBase();
  const dns = newDns(base, [srv.addr], "0.2");
  dns.setOption("max-timeouts:", "10");
  dns.setOption("initial-probe-timeout", "0.1");
  const calls: Call[] = [];
  dns.resolveIpv4("host.example.com", DNS_QUERY_NO_CACHE, recorder(calls));
  await bounded(base.dispatch(), 3000, "dispatch 1");
  assert.equal(drops, 0);
  drops = 3;
  dns.setOption("max-timeouts:", "2");
  dns.setOption("attempts:", "3");
  dns.resolveIpv4("host.example.com", DNS_QUERY_NO_CACHE, recorder(calls));
  await bounded(base.dispatch(), 3000, "dispatch 2");
  assert.equal(drops, 0);
  dns.resolveIpv4("host.example.com", DNS_QUERY_NO_CACHE, recorder(calls));
  await bounded(base.dispatch(), 3000, "dispatch 3");
  dns.free(false);
  base.free();
  await srv.close();
  assert.deepEqual(calls.map((c) => [c.result, c.addresses]), [
    [DNS_ERR_NONE, ["16.32.64.128"]],
    [DNS_ERR_TIMEOUT, []],
    [DNS_ERR_NONE, ["16.32.64.128"]],
  ]);
});

// Control: libevent `dns/reissue` exactly: the request is sent while server 1 (answering
// NOTIMPL) is the only nameserver, server 2 is added afterwards, and the NOTIMPL reissues the
// query to server 2 (timeout 0.3, max-timeouts 2, attempts 5).
Deno.test("audit: control: reissue: NOTIMPL from the only server, second server added later", async () => {
  const s1 = new Fake((q, from, s) => s.send(reply(q, { rcode: 4 }), from));
  const s2 = new Fake((q, from, s) => {
    s.send(reply(q, { answers: [a(q.questions[0].name, "240.15.240.15")] }), from);
  });
  const base = new EventBase();
  const dns = newDns(base, [s1.addr], "0.3");
  dns.setOption("max-timeouts:", "2");
  dns.setOption("attempts:", "5");
  const calls: Call[] = [];
  dns.resolveIpv4("foof.example.com", 0, recorder(calls));
  dns.nameserverIpAdd(s2.addr);
  await bounded(base.dispatch(), 3000, "dispatch");
  dns.free(false);
  base.free();
  await s1.close();
  await s2.close();
  assert.deepEqual(calls.map((c) => [c.result, c.type, c.addresses]), [
    [DNS_ERR_NONE, DNS_IPv4_A, ["240.15.240.15"]],
  ]);
  assert.ok(s1.log.length > 0, "server 1 was asked first");
});

// Regression test. libevent request_reissue (evdns.c, §3.4 "NOTIMPL or REFUSED … reissue"):
// a reissue to another server resets the transmission count (`req->reissue_count++;
// req->tx_count = 0;`), so the reissued query gets the full `attempts` budget. evdeno's
// #onMessage (dns/evdns_base.ts, case 4/5) calls #transmit without resetting `req._tx`, so the
// NOTIMPL transmission is counted: with attempts 2, server 2 gets one transmission only and a
// single lost datagram ends the lookup with DNS_ERR_TIMEOUT. Expected NONE (server 2 answers the
// retransmission). Fix: `req._tx = 0` before the reissue.
Deno.test("audit: reissue after NOTIMPL gets a fresh attempts budget", async () => {
  const s1 = new Fake((q, from, s) => s.send(reply(q, { rcode: 4 }), from));
  const seen = new Map<string, number>();
  const s2 = new Fake((q, from, s) => {
    const name = q.questions[0].name;
    const n = (seen.get(name.toLowerCase()) ?? 0) + 1;
    seen.set(name.toLowerCase(), n);
    if (n >= 2) s.send(reply(q, { answers: [a(name, "240.15.240.15")] }), from); // 1st lost
  });
  const base = new EventBase();
  const dns = newDns(base, [s1.addr, s2.addr], "0.15");
  dns.setOption("attempts:", "2");
  const calls: Call[] = [];
  dns.resolveIpv4("foof.example.com", 0, recorder(calls));
  await bounded(base.dispatch(), 3000, "dispatch");
  dns.free(false);
  base.free();
  await s1.close();
  await s2.close();
  assert.deepEqual(s1.names(), ["foof.example.com"], "first transmission went to server 1");
  assert.deepEqual(calls.map((c) => [c.result, c.addresses]), [
    [DNS_ERR_NONE, ["240.15.240.15"]],
  ]);
});

// Control: §3.1/§3.4 `max-timeouts`, where evdeno deliberately differs from libevent. libevent
// marks a nameserver down when its consecutive-timeout counter *exceeds* max-timeouts
// (`req->ns->timedout > global_max_nameserver_timeout`) and increments the counter of the server
// picked for the retransmission, not of the one that timed out. evdeno counts the server that
// timed out and marks it down when the counter *reaches* max-timeouts, so traffic leaves a silent
// server one timeout sooner; "review: a server marked down is probed" and "failover: a silent
// first nameserver, a second that answers" rely on it, and the README lists the difference. With
// max-timeouts 2 the silent server is skipped by round-robin after its second timeout: q3 goes
// straight to the good server.
Deno.test("audit: control: max-timeouts N marks a server down at its N-th consecutive timeout", async () => {
  const silent = new Fake(null);
  const good = new Fake((q, from, s) => {
    s.send(reply(q, { answers: [a(q.questions[0].name, "10.0.0.2")] }), from);
  });
  const base = new EventBase();
  const dns = newDns(base, [silent.addr, good.addr], "0.1");
  dns.setOption("max-timeouts:", "2");
  dns.setOption("attempts:", "2");
  const calls: Call[] = [];
  for (const name of ["q1.example.com", "q2.example.com", "q3.example.com"]) {
    dns.resolveIpv4(name, DNS_QUERY_NO_CACHE, recorder(calls));
    await bounded(base.dispatch(), 3000, `dispatch ${name}`);
  }
  dns.free(false);
  base.free();
  await silent.close();
  await good.close();
  assert.deepEqual(calls.map((c) => c.result), [DNS_ERR_NONE, DNS_ERR_NONE, DNS_ERR_NONE]);
  assert.deepEqual(silent.names(), ["q1.example.com", "q2.example.com"]);
  assert.deepEqual(good.names(), ["q1.example.com", "q2.example.com", "q3.example.com"]);
});

// ---------------------------------------------------------------------------------------------
// TCP (§3.5): tcp_resolve, tcp_timeout, tcp_notimpl
// ---------------------------------------------------------------------------------------------

// Regression test. libevent `dns/tcp_resolve` (and `dns/edns`): for the IGNTC lookup of a
// truncated answer it asserts `r.type != DNS_IPv4_A` and `r.result == DNS_ERR_TRUNCATED`, because
// reply_run_callback reports every failure as `user_callback(err, 0, 0, ttl, NULL)`: type 0,
// count 0. evdeno's EvdnsRequest._run (dns/evdns_base.ts) always passes the request's type
// (DNS_IPv4_A) even when `result` is an error. Expected type 0 on errors. (tests/dns_review_test.ts
// asserts type 1 for a NODATA result and would need updating.)
Deno.test("audit: tcp_resolve: an error callback carries type 0, not DNS_IPv4_A", async () => {
  const srv = new Fake((q, from, s) => s.send(reply(q, { tc: true }), from));
  const base = new EventBase();
  const dns = newDns(base, [srv.addr]);
  const calls: Call[] = [];
  dns.resolveIpv4("medium.b.example.com", DNS_QUERY_IGNTC, recorder(calls));
  await bounded(base.dispatch(), 3000, "dispatch");
  dns.free(false);
  base.free();
  await srv.close();
  assert.deepEqual(calls.map((c) => [c.result, c.count]), [[DNS_ERR_TRUNCATED, 0]]);
  assert.equal(calls[0].type, 0, "libevent reports failures with type 0");
});

// Regression test. §3.5 / evdns_request_timeout_callback: "A TCP query timeout tears the
// connection down and retransmits all TCP queries for that server"
// (`disconnect_and_free_connection(req->ns->connection); retransmit_all_tcp_requests_for(ns)`).
// evdeno's #onTimeout → #transmit (dns/evdns_base.ts) re-sends on the same TcpChannel when it is
// still open, so a connection the server accepted but stopped serving is never replaced and the
// lookup ends in DNS_ERR_TIMEOUT although a fresh connection would be answered. Expected NONE on
// the second connection. Fix: on a TCP timeout close `ns.tcp` (re-queueing its other queries)
// before retransmitting.
Deno.test("audit: tcp_timeout: a TCP retransmission goes out on a new connection", async () => {
  const tcp = new FakeTcp((q, conn) => {
    if (conn === 0) return null; // the first connection is accepted but never answered
    return reply(q, { answers: [a(q.questions[0].name, "11.22.33.45")] });
  });
  const base = new EventBase();
  const dns = newDns(base, [tcp.addr], "0.2");
  dns.setOption("attempts:", "2");
  const calls: Call[] = [];
  dns.resolveIpv4("lost.request.com", DNS_QUERY_USEVC, recorder(calls));
  await bounded(base.dispatch(), 3000, "dispatch");
  dns.free(false);
  base.free();
  await tcp.close();
  assert.deepEqual(calls.map((c) => [c.result, c.addresses]), [[DNS_ERR_NONE, ["11.22.33.45"]]]);
  assert.deepEqual(tcp.seen.map((s) => s.conn), [0, 1]);
});

// Control: libevent `dns/tcp_notimpl` (§3.5 "NOTIMPL over TCP is returned to the caller"): a
// USEVC lookup answered NOTIMPL by an EvdnsServerPort TCP listener (the only nameserver) gets
// DNS_ERR_NOTIMPL, with no UDP traffic.
Deno.test("audit: control: tcp_notimpl: NOTIMPL over TCP reaches the caller", async () => {
  const srvBase = new EventBase();
  const lev = EvConnListener.newBind(srvBase, null, null, LEV_OPT_CLOSE_ON_FREE, -1, {
    hostname: "127.0.0.1",
    port: 0,
  });
  const protos: string[] = [];
  const port = EvdnsServerPort.addWithListener(srvBase, lev, 0, (req) => {
    protos.push(req.protocol);
    req.respond(DNS_ERR_NOTIMPL);
  });
  const srvLoop = srvBase.loop();
  const base = new EventBase();
  const dns = newDns(base, [`127.0.0.1:${(lev.addr as Deno.NetAddr).port}`], "1");
  const calls: Call[] = [];
  dns.resolveIpv4("notimpl.example.com", DNS_QUERY_USEVC, recorder(calls));
  await bounded(base.dispatch(), 3000, "dispatch");
  dns.free(false);
  base.free();
  port.close();
  await bounded(srvLoop, 3000, "server loop");
  srvBase.free();
  assert.deepEqual(calls.map((c) => c.result), [DNS_ERR_NOTIMPL]);
  assert.deepEqual(protos, ["tcp"]);
});

// ---------------------------------------------------------------------------------------------
// Options: set_options, set_server_options, client_fail_waiting_requests
// ---------------------------------------------------------------------------------------------

// Control: libevent `dns/set_options` value matrix (test_set_option), with and without the
// trailing colon; evdeno throws where libevent returns -1.
Deno.test("audit: control: set_options accepts and rejects what libevent does", () => {
  const base = new EventBase();
  const dns = new EvdnsBase(base, 0);
  const ok = (n: string, v: string) => {
    try {
      dns.setOption(n, v);
      return true;
    } catch {
      return false;
    }
  };
  const bad: string[] = [];
  const expect = (n: string, v: string, want: boolean) => {
    for (const name of [n, n + ":"]) if (ok(name, v) !== want) bad.push(`${name} ${v}`);
  };
  for (
    const n of [
      "ndots",
      "max-timeouts",
      "max-inflight",
      "attempts",
      "randomize-case",
      "so-rcvbuf",
      "so-sndbuf",
    ]
  ) {
    for (const v of ["0", "1", "10000"]) expect(n, v, true);
    for (const v of ["foo", "3.14"]) expect(n, v, false);
  }
  for (const n of ["timeout", "getaddrinfo-allow-skew", "initial-probe-timeout"]) {
    for (const v of ["1", "0.001", "3.14", "10000"]) expect(n, v, true);
    for (const v of ["0", "foo"]) expect(n, v, false);
  }
  for (const v of ["8.8.8.8:80", "1.2.3.4", "::1:82", "3::4"]) expect("bind-to", v, true);
  for (const v of ["3.14", "foo"]) expect("bind-to", v, false);
  for (const n of ["use-vc", "ignore-tc"]) {
    expect(n, "", true);
    for (const v of ["1", "foo"]) expect(n, v, false);
  }
  expect("no-such-option", "whatever", true); // unknown names are ignored
  dns.free(false);
  base.free();
  assert.deepEqual(bad, []);
});

// Control: libevent `dns/set_server_options`: the TCP-only options are accepted (0, 1, 100) on a
// TCP port and refused on a UDP port.
Deno.test("audit: control: set_server_options: TCP options refused on a UDP port", () => {
  const base = new EventBase();
  const lev = EvConnListener.newBind(base, null, null, LEV_OPT_CLOSE_ON_FREE, -1, {
    hostname: "127.0.0.1",
    port: 0,
  });
  const tcpPort = EvdnsServerPort.addWithListener(base, lev, 0, (req) => req.drop());
  const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const udpPort = EvdnsServerPort.add(base, udp, 0, (req) => req.drop());
  const results: string[] = [];
  for (const opt of [EVDNS_SOPT_TCP_MAX_CLIENTS, EVDNS_SOPT_TCP_IDLE_TIMEOUT]) {
    for (const v of [0, 1, 100]) {
      try {
        tcpPort.setOption(opt, v);
        results.push("tcp ok");
      } catch {
        results.push("tcp refused");
      }
    }
    for (const v of [0, 100]) {
      try {
        udpPort.setOption(opt, v);
        results.push("udp ok");
      } catch {
        results.push("udp refused");
      }
    }
  }
  tcpPort.close();
  udpPort.close();
  base.free();
  assert.deepEqual(results, [
    ...["tcp ok", "tcp ok", "tcp ok", "udp refused", "udp refused"],
    ...["tcp ok", "tcp ok", "tcp ok", "udp refused", "udp refused"],
  ]);
});

// Control: libevent `dns/client_fail_waiting_requests`: max-inflight 11 and 20 lookups, then
// free(true): in-flight and queued lookups alike get DNS_ERR_SHUTDOWN, each exactly once.
Deno.test("audit: control: client_fail_waiting_requests → 20 × SHUTDOWN", async () => {
  const srv = new Fake(null);
  const base = new EventBase();
  const dns = newDns(base, [srv.addr], "1");
  dns.setOption("max-inflight:", "11");
  const calls: Call[] = [];
  for (let i = 0; i < 20; i++) dns.resolveIpv4("foof.example.com", 0, recorder(calls));
  dns.free(true);
  await bounded(base.dispatch(), 3000, "dispatch");
  base.free();
  await srv.close();
  assert.deepEqual(calls.map((c) => c.result), Array(20).fill(DNS_ERR_SHUTDOWN));
});
