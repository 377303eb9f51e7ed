// EvdnsBase.getaddrinfo: the answers given without a query (numeric hosts, null node, bad
// hints and services) and cancellation. Lookups through real nameservers, the hosts file and
// the cache are covered in dns_resolver_test.ts and interop/dnsmasq_test.ts.
import assert from "node:assert/strict";
import {
  EventBase,
  EVLOOP_NO_EXIT_ON_EMPTY,
  EVLOOP_NONBLOCK,
  EVLOOP_ONCE,
} from "../reactor/mod.ts";
import {
  AF_INET,
  AF_INET6,
  DNS_TYPE_A,
  EvdnsBase,
  EvdnsServerPort,
  EVUTIL_AI_NUMERICHOST,
  EVUTIL_AI_PASSIVE,
  EVUTIL_EAI_ADDRFAMILY,
  EVUTIL_EAI_CANCEL,
  EVUTIL_EAI_FAMILY,
  EVUTIL_EAI_NONAME,
} from "../dns/mod.ts";

Deno.test("getaddrinfo answered without a query: numeric, null node, bad hints", async () => {
  const base = new EventBase();
  const dns = new EvdnsBase(base, 0);
  const out: unknown[] = [];
  const push = (e: number, r: unknown) => out.push([e, r]);
  assert.equal(dns.getaddrinfo("192.0.2.1", "80", { socktype: 1 }, push), null);
  dns.getaddrinfo("2001:db8::1", "53", { socktype: 2 }, push);
  dns.getaddrinfo(null, "8080", { flags: EVUTIL_AI_PASSIVE, family: AF_INET, socktype: 1 }, push);
  dns.getaddrinfo(null, "8080", { family: AF_INET6, socktype: 1 }, push);
  dns.getaddrinfo("name.test", "80", { flags: EVUTIL_AI_NUMERICHOST }, push);
  dns.getaddrinfo("192.0.2.1", "nosuchservice", null, push);
  dns.getaddrinfo("192.0.2.1", "80", { family: 99 }, push);
  dns.getaddrinfo("192.0.2.1", "80", { family: AF_INET6 }, push);
  assert.equal(out.length, 0); // callbacks run from the loop
  await base.dispatch();
  assert.deepEqual(out, [
    [0, [{ family: 2, socktype: 1, protocol: 6, address: "192.0.2.1", port: 80 }]],
    [0, [{ family: 10, socktype: 2, protocol: 17, address: "2001:db8::1", port: 53 }]],
    [0, [{ family: 2, socktype: 1, protocol: 6, address: "0.0.0.0", port: 8080 }]],
    [0, [{ family: 10, socktype: 1, protocol: 6, address: "::1", port: 8080 }]],
    [EVUTIL_EAI_NONAME, null],
    [EVUTIL_EAI_NONAME, null], // an unknown service: NONAME, as libevent
    [EVUTIL_EAI_FAMILY, null],
    [EVUTIL_EAI_ADDRFAMILY, null],
  ]);
  dns.free(false);
  base.free();
});

Deno.test("getaddrinfo cancel gives EAI_CANCEL", async () => {
  // A nameserver that never answers: a bound socket nobody reads.
  const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const base = new EventBase();
  const dns = new EvdnsBase(base, 0);
  dns.nameserverIpAdd(`127.0.0.1:${(silent.addr as Deno.NetAddr).port}`);
  const out: number[] = [];
  const req = dns.getaddrinfo("slow.test", "80", null, (e) => out.push(e));
  assert.ok(req !== null);
  req.cancel();
  await base.dispatch();
  assert.deepEqual(out, [EVUTIL_EAI_CANCEL]);
  dns.free(false);
  base.free();
  silent.close();
});

Deno.test("repeated getaddrinfo is served from the cache; loadHosts takes precedence again", async () => {
  const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const base = new EventBase();
  let queries = 0;
  const port = EvdnsServerPort.add(base, udp, 0, (req) => {
    queries++;
    const q = req.questions[0]!;
    if (q.type === DNS_TYPE_A) req.addAReply(q.name, ["192.0.2.7"], 300);
    req.respond(0);
  });
  const dns = new EvdnsBase(base, 0);
  dns.nameserverIpAdd(`127.0.0.1:${(udp.addr as Deno.NetAddr).port}`);
  const hints = { family: AF_INET, socktype: 1 };
  const addrs: string[] = [];
  const push = (e: number, r: { address: string }[] | null) => {
    assert.equal(e, 0);
    addrs.push(r![0]!.address);
  };
  const once = async () => {
    dns.getaddrinfo("memo.test", "80", hints, push);
    await base.loop(EVLOOP_NONBLOCK | EVLOOP_NO_EXIT_ON_EMPTY);
    while (addrs.length < want) await base.loop(EVLOOP_ONCE);
  };
  let want = 1;
  await once();
  want = 2;
  await once(); // from the cache
  want = 3;
  await once(); // the memoized cache hit
  assert.deepEqual(addrs, ["192.0.2.7", "192.0.2.7", "192.0.2.7"]);
  assert.equal(queries, 1);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/hosts`, "10.9.9.9 memo.test\n");
  dns.loadHosts(`${dir}/hosts`);
  want = 4;
  await once();
  assert.equal(addrs[3], "10.9.9.9", "the hosts file wins over the memoized cache hit");
  dns.clearHostAddresses();
  want = 5;
  await once();
  assert.equal(addrs[4], "192.0.2.7");
  assert.equal(queries, 1);
  await Deno.remove(dir, { recursive: true });
  dns.free(false);
  port.close();
  await base.loop(EVLOOP_NONBLOCK);
  base.free();
});
