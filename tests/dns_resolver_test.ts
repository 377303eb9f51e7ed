// EvdnsBase against fake UDP nameservers written here: malformed replies, spoofing (wrong id,
// question, case, source port), failover, SERVFAIL, NOTIMPL reissue, timeouts, max-inflight,
// caching, resolv.conf/hosts, getaddrinfo's synchronous paths and Bufferevent.connectHostname.
import assert from "node:assert/strict";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_ERROR,
  BEV_OPT_CLOSE_ON_FREE,
  Bufferevent,
} from "../bufferevent/mod.ts";
import { EvConnListener, LEV_OPT_CLOSE_ON_FREE } from "../listener/mod.ts";
import { EventBase } from "../reactor/mod.ts";
import {
  AF_INET,
  AF_INET6,
  DNS_ERR_NONE,
  DNS_ERR_NOTEXIST,
  DNS_ERR_SERVERFAILED,
  DNS_ERR_TIMEOUT,
  DNS_QUERY_NO_CACHE,
  EvdnsBase,
  EVUTIL_EAI_ADDRFAMILY,
  EVUTIL_EAI_NONAME,
} from "../dns/mod.ts";
import { type DnsMessage, encodeResponse, parseMessage } from "../dns/_wire.ts";

type Reply = { data: Uint8Array; fromOther?: boolean };
type Handler = (q: DnsMessage, raw: Uint8Array) => Reply[];

/** A UDP nameserver on 127.0.0.1 answering through `handler`; `other` sends from another port. */
class FakeServer {
  sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  other = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  queries = 0;
  #done: Promise<void>;
  constructor(handler: Handler | null) {
    this.#done = (async () => {
      try {
        for (;;) {
          const [d, from] = await this.sock.receive();
          this.queries++;
          const q = parseMessage(d);
          if (q === null || handler === null) continue;
          for (const r of handler(q, d)) {
            await (r.fromOther ? this.other : this.sock).send(r.data, from);
          }
        }
      } catch { /* closed */ }
    })();
  }
  get addr(): string {
    return `127.0.0.1:${(this.sock.addr as Deno.NetAddr).port}`;
  }
  async close(): Promise<void> {
    this.sock.close();
    this.other.close();
    await this.#done;
  }
}

function answer(
  q: DnsMessage,
  addr: string,
  opts: { id?: number; name?: string; rcode?: number; ttl?: number } = {},
): Uint8Array {
  const name = opts.name ?? q.questions[0].name;
  return encodeResponse({
    id: opts.id ?? q.id,
    rd: true,
    ra: true,
    rcode: opts.rcode ?? 0,
    questions: [{ name, type: q.questions[0].type, dnsClass: 1 }],
    answers: opts.rcode ? [] : [{ name, type: 1, dnsClass: 1, ttl: opts.ttl ?? 300, data: addr }],
  });
}

function nxdomain(q: DnsMessage, soaTtl: number): Uint8Array {
  return encodeResponse({
    id: q.id,
    rcode: 3,
    questions: q.questions,
    authority: [{
      name: "test",
      type: 6,
      dnsClass: 1,
      ttl: soaTtl,
      data: {
        mname: "ns.test",
        rname: "h.test",
        serial: 1,
        refresh: 1,
        retry: 1,
        expire: 1,
        minimum: 3600,
      },
    }],
  });
}

function flipCase(s: string): string {
  let out = "";
  for (const c of s) out += c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
  return out;
}

interface Got {
  result: number;
  ttl: number;
  addresses: string[];
}

function newDns(base: EventBase, servers: FakeServer[], timeout = "0.15"): EvdnsBase {
  base.setLogCallback(() => {}); // "nameserver down" warnings are expected here
  const dns = new EvdnsBase(base, 0);
  for (const s of servers) dns.nameserverIpAdd(s.addr);
  dns.setOption("timeout:", timeout);
  return dns;
}

function lookup(dns: EvdnsBase, name: string, out: Got[], flags = 0): void {
  dns.resolveIpv4(name, flags, (result, _t, _c, ttl, addresses) => {
    out.push({ result, ttl, addresses });
  });
}

Deno.test("malformed replies are ignored and never throw; the genuine answer wins", async () => {
  const garbage = (q: DnsMessage, raw: Uint8Array): Reply[] => {
    const good = answer(q, "10.0.0.1");
    const id = [raw[0], raw[1]];
    const loop = new Uint8Array([...id, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    const longLabel = new Uint8Array([
      ...id,
      0x81,
      0x80,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      64,
      ...new Array(64).fill(97),
      0,
      0,
      1,
      0,
      1,
    ]);
    const rdPast = good.slice();
    rdPast[rdPast.length - 5] = 0xff; // rdlength beyond the packet
    const qd0 = good.slice();
    qd0[5] = 0;
    const qd50 = good.slice();
    qd50[5] = 50;
    const longName = new Uint8Array([
      ...id,
      0x81,
      0x80,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      ...new Array(5).fill([60, ...new Array(60).fill(98)]).flat(),
      0,
      0,
      1,
      0,
      1,
    ]);
    return [
      { data: good.subarray(0, 7) }, // truncated header
      { data: new Uint8Array(0) },
      { data: loop },
      { data: longLabel },
      { data: longName },
      { data: rdPast },
      { data: qd0 },
      { data: qd50 },
      { data: crypto.getRandomValues(new Uint8Array(300)) },
      { data: good },
    ];
  };
  const srv = new FakeServer(garbage);
  const base = new EventBase();
  const errors: string[] = [];
  base.setLogCallback((_s, m) => errors.push(m));
  const dns = newDns(base, [srv]);
  const got: Got[] = [];
  lookup(dns, "example.test", got);
  assert.equal(await base.dispatch(), 1);
  assert.deepEqual(got, [{ result: DNS_ERR_NONE, ttl: 300, addresses: ["10.0.0.1"] }]);
  assert.deepEqual(errors, []);
  // Only garbage: a timeout, in bounded time.
  const only = new FakeServer((q, raw) => garbage(q, raw).slice(0, -1));
  const dns2 = newDns(base, [only], "0.05");
  dns2.setOption("attempts:", "2");
  const got2: Got[] = [];
  const t0 = performance.now();
  lookup(dns2, "example.test", got2);
  await base.dispatch();
  assert.equal(got2[0].result, DNS_ERR_TIMEOUT);
  assert.ok(performance.now() - t0 < 1000);
  dns.free(false);
  dns2.free(false);
  base.free();
  await srv.close();
  await only.close();
});

Deno.test("spoofed replies (wrong id, question, case, port) are ignored", async () => {
  const srv = new FakeServer((q) => {
    const name = q.questions[0].name;
    return [
      { data: answer(q, "6.6.6.1", { id: (q.id + 1) & 0xffff }) },
      { data: answer(q, "6.6.6.2", { name: "evil.test" }) },
      { data: answer(q, "6.6.6.3", { name: flipCase(name) }) },
      { data: answer(q, "6.6.6.4"), fromOther: true },
      { data: answer(q, "10.0.0.2") },
    ];
  });
  const base = new EventBase();
  const dns = newDns(base, [srv]);
  const got: Got[] = [];
  for (let i = 0; i < 5; i++) lookup(dns, `host${i}.example.test`, got);
  await base.dispatch();
  assert.equal(got.length, 5);
  for (const g of got) assert.deepEqual(g.addresses, ["10.0.0.2"]);
  dns.free(false);
  base.free();
  await srv.close();
});

Deno.test("failover: a silent first nameserver, a second that answers", async () => {
  const silent = new FakeServer(null);
  const good = new FakeServer((q) => [{ data: answer(q, "10.0.0.3") }]);
  const base = new EventBase();
  const dns = newDns(base, [silent, good], "0.1");
  const got: Got[] = [];
  for (let i = 0; i < 4; i++) lookup(dns, `n${i}.test`, got);
  await base.dispatch();
  assert.equal(got.length, 4);
  for (const g of got) assert.deepEqual(g.addresses, ["10.0.0.3"]);
  assert.ok(silent.queries >= 1);
  dns.free(false);
  base.free();
  await silent.close();
  await good.close();
});

Deno.test("every nameserver down: TIMEOUT within attempts × timeout", async () => {
  const a = new FakeServer(null);
  const b = new FakeServer(null);
  const base = new EventBase();
  const dns = newDns(base, [a, b], "0.05");
  dns.setOption("attempts:", "3");
  const got: Got[] = [];
  const t0 = performance.now();
  lookup(dns, "x.test", got);
  lookup(dns, "y.test", got);
  await base.dispatch();
  assert.deepEqual(got.map((g) => g.result), [DNS_ERR_TIMEOUT, DNS_ERR_TIMEOUT]);
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(a.queries + b.queries, 6);
  dns.free(false);
  base.free();
  await a.close();
  await b.close();
});

Deno.test("SERVFAIL on the last attempt reports SERVERFAILED; NOTIMPL is reissued", async () => {
  const sf = new FakeServer((q) => [{ data: answer(q, "", { rcode: 2 }) }]);
  const notimpl = new FakeServer((q) => [{ data: answer(q, "", { rcode: 4 }) }]);
  const good = new FakeServer((q) => [{ data: answer(q, "10.0.0.4") }]);
  const base = new EventBase();
  const dns = newDns(base, [sf]);
  const got: Got[] = [];
  lookup(dns, "s.test", got);
  await base.dispatch();
  assert.equal(got[0].result, DNS_ERR_SERVERFAILED);
  assert.equal(sf.queries, 3);
  const dns2 = newDns(base, [notimpl, good]);
  const got2: Got[] = [];
  lookup(dns2, "r.test", got2);
  await base.dispatch();
  assert.deepEqual(got2[0].addresses, ["10.0.0.4"]);
  dns.free(false);
  dns2.free(false);
  base.free();
  await sf.close();
  await notimpl.close();
  await good.close();
});

Deno.test("max-inflight queues; cache (positive and RFC 2308 negative) and its opt-out", async () => {
  let inflightSeen = 0;
  const srv = new FakeServer((q) => {
    inflightSeen++;
    if (q.questions[0].name.toLowerCase().startsWith("nx")) return [{ data: nxdomain(q, 120) }];
    return [{ data: answer(q, "10.0.0.5", { ttl: 100 }) }];
  });
  const base = new EventBase();
  const dns = newDns(base, [srv]);
  dns.setOption("max-inflight:", "3");
  dns.setOption("randomize-case:", "0");
  const got: Got[] = [];
  for (let i = 0; i < 20; i++) lookup(dns, `q${i}.test`, got);
  await base.dispatch();
  assert.equal(got.length, 20);
  assert.ok(got.every((g) => g.result === DNS_ERR_NONE));
  const before = srv.queries;
  const again: Got[] = [];
  lookup(dns, "q1.test", again);
  lookup(dns, "nx.test", again);
  await base.dispatch();
  assert.equal(srv.queries, before + 1);
  lookup(dns, "nx.test", again); // negative answer cached for min(SOA ttl, minimum) = 120
  lookup(dns, "q1.test", again, DNS_QUERY_NO_CACHE);
  await base.dispatch();
  assert.equal(srv.queries, before + 2);
  assert.deepEqual(again.map((g) => g.result), [0, DNS_ERR_NOTEXIST, DNS_ERR_NOTEXIST, 0]);
  assert.equal(again[1].ttl, 120);
  assert.ok(inflightSeen > 0);
  dns.free(false);
  base.free();
  await srv.close();
});

Deno.test("resolv.conf parsing, missing file, options and hosts file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const conf = `${dir}/resolv.conf`;
    await Deno.writeTextFile(
      conf,
      "# comment\nnameserver 127.0.0.1:5300\nnameserver [::1]:5301\nsearch a.test b.test\noptions ndots:2 timeout:1 attempts:2 bogus\n",
    );
    const base = new EventBase();
    const logs: string[] = [];
    base.setLogCallback((_s, m) => logs.push(m));
    const dns = new EvdnsBase(base, 0);
    assert.equal(dns.resolvConfParse(15 & ~8, conf), 0);
    assert.equal(dns.countNameservers(), 2);
    assert.equal(dns.getNameserverAddr(1), "[::1]:5301");
    assert.equal(dns.resolvConfParse(2, `${dir}/missing.conf`), 1);
    assert.equal(dns.countNameservers(), 2);
    assert.ok(logs.some((m) => m.includes("missing.conf")));
    const empty = new EvdnsBase(base, 0);
    assert.equal(empty.resolvConfParse(2 | 16, `${dir}/missing.conf`), 1);
    assert.equal(empty.countNameservers(), 0);
    assert.throws(() => dns.setOption("timeout:", "0"), RangeError);
    assert.throws(() => dns.setOption("attempts", "3.5"), RangeError);
    assert.throws(() => dns.setOption("use-vc", "1"), RangeError);
    dns.setOption("no-such-option:", "1"); // ignored, as in libevent
    assert.throws(() => dns.nameserverIpAdd("not an address"), TypeError);
    // Hosts file: consulted by getaddrinfo.
    await Deno.writeTextFile(`${dir}/hosts`, "10.1.1.1 MyHost alias\nfd00::1 myhost\n");
    dns.loadHosts(`${dir}/hosts`);
    const out: unknown[] = [];
    dns.getaddrinfo(
      "myhost",
      "http",
      { socktype: 1 },
      (e, r) => out.push([e, r?.map((a) => a.address)]),
    );
    dns.getaddrinfo("ALIAS", null, { family: AF_INET6 }, (e) => out.push(e));
    await base.dispatch();
    assert.deepEqual(out, [[0, ["10.1.1.1", "fd00::1"]], EVUTIL_EAI_ADDRFAMILY]);
    dns.free(false);
    empty.free(false);
    base.free();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Bufferevent.connectHostname resolves through EvdnsBase", async () => {
  const srv = new FakeServer((q) =>
    q.questions[0].name.toLowerCase() === "nx.test"
      ? [{ data: nxdomain(q, 10) }]
      : q.questions[0].type === 1
      ? [{ data: answer(q, "127.0.0.1") }]
      : [{ data: encodeResponse({ id: q.id, questions: q.questions }) }]
  );
  const base = new EventBase();
  const dns = newDns(base, [srv]);
  let accepted = 0;
  const lev = EvConnListener.newBind(
    base,
    (_l, conn) => {
      accepted++;
      conn.close();
    },
    null,
    LEV_OPT_CLOSE_ON_FREE,
    -1,
    { hostname: "127.0.0.1", port: 0 },
  );
  const port = (lev.addr as Deno.NetAddr).port;
  const events: number[] = [];
  const ok = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE);
  ok.setcb(null, null, (b, what) => {
    events.push(what);
    b.free();
    if (events.length === 2) lev.free(); // nothing else keeps the loop running
  });
  ok.connectHostname(dns, 0, "svc.test", port);
  const bad = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE);
  let dnsErr = 0;
  bad.setcb(null, null, (b, what) => {
    events.push(what);
    dnsErr = b.getDnsError();
    b.free();
    if (events.length === 2) lev.free();
  });
  bad.connectHostname(dns, AF_INET, "nx.test", port);
  await base.dispatch();
  assert.ok(events.includes(BEV_EVENT_CONNECTED));
  assert.ok(events.some((w) => (w & BEV_EVENT_ERROR) !== 0));
  assert.equal(dnsErr, EVUTIL_EAI_NONAME);
  assert.ok(accepted <= 1);
  dns.free(false);
  base.free();
  await srv.close();
});

Deno.test("a request with no nameserver ends in bounded time", async () => {
  const base = new EventBase();
  const dns = new EvdnsBase(base, 0);
  dns.setOption("timeout:", "0.02");
  const got: Got[] = [];
  lookup(dns, "nothing.test", got);
  await base.dispatch();
  assert.equal(got[0].result, DNS_ERR_TIMEOUT);
  dns.free(false);
  base.free();
});

Deno.test("without --unstable-net the constructor throws a clear TypeError", async () => {
  const url = new URL("../dns/evdns_base.ts", import.meta.url).href;
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--no-config",
      `import { EvdnsBase } from "${url}"; try { new EvdnsBase({}); } catch (e) { console.log(e.message); }`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.match(new TextDecoder().decode(r.stdout), /--unstable-net/);
});
