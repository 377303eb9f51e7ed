// EvdnsServerPort and EvdnsServerRequest over real loopback sockets, with raw UDP/TCP clients
// built from the wire codec.
import assert from "node:assert/strict";
import { EventBase } from "../reactor/event_base.ts";
import { EvError } from "../reactor/errors.ts";
import { EvConnListener } from "../listener/listener.ts";
import { LEV_OPT_CLOSE_ON_FREE, LEV_OPT_REUSEABLE } from "../listener/constants.ts";
import {
  EVDNS_SOPT_TCP_IDLE_TIMEOUT,
  EVDNS_SOPT_TCP_MAX_CLIENTS,
  EvdnsServerPort,
  type EvdnsServerRequest,
} from "../dns/server.ts";
import { type DnsMessage, DnsWriter, encodeQuery, parseMessage } from "../dns/_wire.ts";
import {
  DNS_CLASS_INET,
  DNS_ERR_FORMAT,
  DNS_ERR_NODATA,
  DNS_ERR_NONE,
  DNS_ERR_NOTEXIST,
  DNS_ERR_NOTIMPL,
  DNS_ERR_REFUSED,
  DNS_ERR_TIMEOUT,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_MX,
  DNS_TYPE_NS,
  DNS_TYPE_PTR,
  DNS_TYPE_SOA,
  DNS_TYPE_SRV,
  DNS_TYPE_TXT,
  EVDNS_ADDITIONAL_SECTION,
  EVDNS_ANSWER_SECTION,
  EVDNS_AUTHORITY_SECTION,
  EVDNS_FLAGS_AA,
} from "../dns/constants.ts";

type Handler = (req: EvdnsServerRequest) => void;

/** Rejects after `ms` (the timer is always cleared, so a passing test leaks nothing). */
async function within<T>(p: Promise<T>, ms = 5000, what = "an answer"): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, rej) => {
    id = setTimeout(() => rej(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(id);
  }
}

class UdpHarness {
  base = new EventBase();
  server = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  addr = this.server.addr as Deno.NetAddr;
  client = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  port: EvdnsServerPort;
  loop: Promise<number>;
  logs: string[] = [];

  constructor(handler: Handler) {
    this.base.setLogCallback((_sev, msg) => this.logs.push(msg));
    this.port = EvdnsServerPort.add(this.base, this.server, 0, handler);
    this.loop = this.base.loop();
  }

  /** Sends raw bytes without waiting for anything. */
  async send(bytes: Uint8Array): Promise<void> {
    await this.client.send(bytes, this.addr);
  }

  /** The next datagram the client receives. */
  async next(): Promise<Uint8Array> {
    const [d] = await within(this.client.receive());
    return d;
  }

  async ask(bytes: Uint8Array): Promise<Uint8Array> {
    const p = within(this.client.receive());
    await this.send(bytes);
    return (await p)[0];
  }

  async query(name: string, type: number, opts: { edns?: number; id?: number } = {}) {
    const q = encodeQuery(opts.id ?? 0x1234, name, type, { ednsUdpSize: opts.edns });
    const raw = await this.ask(q);
    const msg = parseMessage(raw);
    assert.ok(msg !== null, "reply parses");
    return { raw, msg: msg! };
  }

  async close(): Promise<void> {
    this.port.close();
    assert.equal(await within(this.loop, 5000, "loop end"), 1);
    this.client.close();
    this.base.free();
  }
}

/** A raw header + arbitrary body. */
function packet(id: number, flags: number, counts: number[], body: number[]): Uint8Array {
  const [qd, an, ns, ar] = counts;
  return new Uint8Array([
    id >> 8,
    id & 0xff,
    flags >> 8,
    flags & 0xff,
    0,
    qd,
    0,
    an,
    0,
    ns,
    0,
    ar,
    ...body,
  ]);
}

function header(raw: Uint8Array) {
  return {
    id: (raw[0] << 8) | raw[1],
    flags: (raw[2] << 8) | raw[3],
    qd: (raw[4] << 8) | raw[5],
    an: (raw[6] << 8) | raw[7],
    ns: (raw[8] << 8) | raw[9],
    ar: (raw[10] << 8) | raw[11],
  };
}

const ZONE_HANDLER: Handler = (req) => {
  const q = req.questions[0];
  const name = q.name;
  switch (name.toLowerCase()) {
    case "a.test":
      req.addAReply(name, ["192.0.2.1", "192.0.2.2"], 300);
      break;
    case "aaaa.test":
      req.addAaaaReply(name, ["2001:db8::1"], 301);
      break;
    case "1.2.0.192.in-addr.arpa":
      req.addPtrReply(name, "host.test", 302);
      break;
    case "alias.test":
      req.addCnameReply(name, "a.test", 303);
      req.addAReply("a.test", ["192.0.2.1"], 300);
      break;
    case "all.test":
      req.addReply(EVDNS_ANSWER_SECTION, name, DNS_TYPE_NS, DNS_CLASS_INET, 60, "ns1.all.test");
      req.addReply(EVDNS_ANSWER_SECTION, name, DNS_TYPE_MX, DNS_CLASS_INET, 60, {
        preference: 10,
        exchange: "mail.all.test",
      });
      req.addReply(EVDNS_ANSWER_SECTION, name, DNS_TYPE_TXT, DNS_CLASS_INET, 60, "hello world");
      req.addReply(EVDNS_ANSWER_SECTION, name, DNS_TYPE_TXT, DNS_CLASS_INET, 60, ["a", "b c"]);
      req.addReply(EVDNS_ANSWER_SECTION, name, DNS_TYPE_SRV, DNS_CLASS_INET, 60, {
        priority: 1,
        weight: 2,
        port: 5060,
        target: "sip.all.test",
      });
      req.addReply(EVDNS_ANSWER_SECTION, name, 13, DNS_CLASS_INET, 60, new Uint8Array([1, 65]));
      req.addReply(EVDNS_ANSWER_SECTION, name, 39, DNS_CLASS_INET, 60, "target.all.test");
      req.addReply(EVDNS_AUTHORITY_SECTION, "all.test", DNS_TYPE_SOA, DNS_CLASS_INET, 60, {
        mname: "ns1.all.test",
        rname: "hostmaster.all.test",
        serial: 2024010101,
        refresh: 7200,
        retry: 3600,
        expire: 1209600,
        minimum: 300,
      });
      req.addReply(
        EVDNS_ADDITIONAL_SECTION,
        "ns1.all.test",
        DNS_TYPE_A,
        DNS_CLASS_INET,
        60,
        "192.0.2.53",
      );
      break;
    case "many.test": {
      const addrs: string[] = [];
      for (let i = 0; i < 100; i++) addrs.push(`10.0.${i >> 8}.${i & 0xff}`);
      req.addAReply(name, addrs, 60);
      break;
    }
    default:
      req.respond(DNS_ERR_NOTEXIST);
      return;
  }
  req.setFlags(EVDNS_FLAGS_AA);
  req.respond(DNS_ERR_NONE);
};

Deno.test("server: A, AAAA, PTR and CNAME replies over UDP", async () => {
  const h = new UdpHarness(ZONE_HANDLER);
  try {
    let { msg } = await h.query("a.test", DNS_TYPE_A);
    assert.equal(msg.id, 0x1234);
    assert.ok(msg.qr && msg.aa && msg.rd && !msg.ra && !msg.tc);
    assert.equal(msg.rcode, 0);
    assert.deepEqual(msg.questions, [{ name: "a.test", type: DNS_TYPE_A, dnsClass: 1 }]);
    assert.deepEqual(msg.answers.map((r) => [r.name, r.type, r.ttl, r.data]), [
      ["a.test", DNS_TYPE_A, 300, "192.0.2.1"],
      ["a.test", DNS_TYPE_A, 300, "192.0.2.2"],
    ]);
    ({ msg } = await h.query("aaaa.test", DNS_TYPE_AAAA));
    assert.deepEqual(msg.answers.map((r) => [r.type, r.ttl, r.data]), [
      [DNS_TYPE_AAAA, 301, "2001:db8::1"],
    ]);
    ({ msg } = await h.query("1.2.0.192.in-addr.arpa", DNS_TYPE_PTR));
    assert.deepEqual(msg.answers.map((r) => [r.type, r.ttl, r.data]), [
      [DNS_TYPE_PTR, 302, "host.test"],
    ]);
    ({ msg } = await h.query("alias.test", DNS_TYPE_A));
    assert.deepEqual(msg.answers.map((r) => [r.name, r.type, r.data]), [
      ["alias.test", DNS_TYPE_CNAME, "a.test"],
      ["a.test", DNS_TYPE_A, "192.0.2.1"],
    ]);
    ({ msg } = await h.query("nope.test", DNS_TYPE_A));
    assert.equal(msg.rcode, 3);
    assert.equal(msg.answers.length, 0);
    assert.ok(!msg.aa);
  } finally {
    await h.close();
  }
});

Deno.test("server: addReply for NS, MX, TXT, SRV, SOA, raw and unknown-type name data", async () => {
  const h = new UdpHarness(ZONE_HANDLER);
  try {
    const { msg } = await h.query("all.test", 255, { edns: 4096 });
    assert.deepEqual(msg.answers.map((r) => [r.type, r.data]), [
      [DNS_TYPE_NS, "ns1.all.test"],
      [DNS_TYPE_MX, { preference: 10, exchange: "mail.all.test" }],
      [DNS_TYPE_TXT, ["hello world"]],
      [DNS_TYPE_TXT, ["a", "b c"]],
      [DNS_TYPE_SRV, { priority: 1, weight: 2, port: 5060, target: "sip.all.test" }],
      [13, new Uint8Array([1, 65])],
      // A name for a type the server does not know goes out uncompressed (RFC 3597).
      [
        39,
        new Uint8Array([
          6,
          ...new TextEncoder().encode("target"),
          3,
          97,
          108,
          108,
          4,
          116,
          101,
          115,
          116,
          0,
        ]),
      ],
    ]);
    assert.deepEqual(msg.authority.map((r) => [r.name, r.type, r.data]), [[
      "all.test",
      DNS_TYPE_SOA,
      {
        mname: "ns1.all.test",
        rname: "hostmaster.all.test",
        serial: 2024010101,
        refresh: 7200,
        retry: 3600,
        expire: 1209600,
        minimum: 300,
      },
    ]]);
    assert.deepEqual(msg.additional.map((r) => [r.name, r.data]), [["ns1.all.test", "192.0.2.53"]]);
    assert.equal(msg.edns?.udpSize !== undefined, true, "an EDNS query gets an OPT back");
  } finally {
    await h.close();
  }
});

Deno.test("server: names are compressed and escaped names round-trip byte for byte", async () => {
  const seen: string[] = [];
  const h = new UdpHarness((req) => {
    const name = req.questions[0].name;
    seen.push(name);
    req.addAReply(name, ["192.0.2.7"], 5);
    req.addCnameReply(name, `x.${name}`, 5);
    req.respond(DNS_ERR_NONE);
  });
  try {
    // Labels "A.b" (a dot inside), "\0 x" (NUL and space) and "Test" in mixed case.
    const body = [3, 65, 46, 98, 3, 0, 32, 120, 4, 84, 101, 115, 116, 0, 0, 1, 0, 1];
    const raw = await h.ask(packet(7, 0x0100, [1, 0, 0, 0], body));
    assert.equal(seen[0], "A\\.b.\\000\\032x.Test");
    const msg = parseMessage(raw)!;
    assert.equal(msg.answers[0].name, seen[0]);
    // The question name sits at offset 12 exactly as sent; both owners point back to it.
    assert.deepEqual([...raw.subarray(12, 12 + 14)], body.slice(0, 14));
    const ans = 12 + body.length;
    assert.deepEqual([...raw.subarray(ans, ans + 2)], [0xc0, 12]);
    assert.equal(msg.answers[1].data, `x.${seen[0]}`);
    // Each record: pointer owner (2) + 10 + rdata; the CNAME target is "x" + a pointer.
    assert.equal(raw.length, 12 + body.length + (2 + 10 + 4) + (2 + 10 + 2 + 2));
  } finally {
    await h.close();
  }
});

Deno.test("server: UDP replies over 512 bytes are cut with TC; EDNS raises the limit", async () => {
  const h = new UdpHarness(ZONE_HANDLER);
  try {
    let { raw, msg } = await h.query("many.test", DNS_TYPE_A);
    assert.ok(raw.length <= 512 && raw.length > 400, `size ${raw.length}`);
    assert.ok(msg.tc);
    assert.ok(msg.answers.length > 0 && msg.answers.length < 100);
    assert.equal(msg.edns, undefined);
    ({ raw, msg } = await h.query("many.test", DNS_TYPE_A, { edns: 1232 }));
    assert.ok(raw.length <= 1232 && raw.length > 1100, `size ${raw.length}`);
    assert.ok(msg.tc);
    assert.ok(msg.edns !== undefined, "OPT kept in a truncated reply");
    ({ raw, msg } = await h.query("many.test", DNS_TYPE_A, { edns: 4096 }));
    assert.ok(!msg.tc);
    assert.equal(msg.answers.length, 100);
    assert.ok(msg.edns !== undefined);
    // An advertised size below 512 still gets 512 (RFC 6891 §6.2.5).
    ({ raw, msg } = await h.query("many.test", DNS_TYPE_A, { edns: 100 }));
    assert.ok(msg.tc && raw.length > 400 && raw.length <= 512);
  } finally {
    await h.close();
  }
});

Deno.test("server: a burst of UDP queries with many names gets every answer right", async () => {
  // Several receives are in flight and replies are copied into send slabs that fill up and are
  // replaced: each answer must still carry its own query's id, name and data.
  const h = new UdpHarness((req) => {
    const name = req.questions[0].name;
    const m = /^h(\d+)\.burst\.test$/i.exec(name);
    if (m === null) return req.respond(DNS_ERR_NOTEXIST);
    const i = Number(m[1]);
    req.addAReply(name, [`10.${i >> 16}.${(i >> 8) & 0xff}.${i & 0xff}`], 60);
    req.respond(DNS_ERR_NONE);
  });
  try {
    const total = 1600;
    const batch = 100;
    for (let start = 0; start < total; start += batch) {
      const expected = new Map<number, string>();
      for (let i = start; i < start + batch; i++) {
        // Mixed case: the reply must repeat the asker's spelling, not a cached neighbour's.
        const name = i % 2 === 0 ? `h${i}.burst.test` : `H${i}.Burst.TEST`;
        expected.set(i, name);
        await h.send(encodeQuery(i, name, DNS_TYPE_A));
      }
      while (expected.size > 0) {
        const msg = parseMessage(await h.next())!;
        const name = expected.get(msg.id);
        assert.ok(name !== undefined, `unexpected or repeated id ${msg.id}`);
        expected.delete(msg.id);
        assert.equal(msg.questions[0].name, name);
        assert.equal(msg.answers[0].name, name);
        const i = msg.id;
        assert.equal(msg.answers[0].data, `10.${i >> 16}.${(i >> 8) & 0xff}.${i & 0xff}`);
      }
    }
  } finally {
    await h.close();
  }
});

Deno.test("server: a UDP reply larger than a send slab's share is sent whole", async () => {
  const h = new UdpHarness((req) => {
    const addrs: string[] = [];
    for (let i = 0; i < 500; i++) addrs.push(`10.1.${i >> 8}.${i & 0xff}`);
    req.addAReply(req.questions[0].name, addrs, 60);
    req.respond(DNS_ERR_NONE);
  });
  try {
    for (let round = 0; round < 2; round++) {
      const { raw, msg } = await h.query("big.test", DNS_TYPE_A, { edns: 65000, id: round });
      assert.ok(raw.length > 4096, `size ${raw.length}`);
      assert.ok(!msg.tc);
      assert.equal(msg.id, round);
      assert.equal(msg.answers.length, 500);
      assert.equal(msg.answers[499].data, "10.1.1.243");
    }
    // Small replies keep flowing from the slab afterwards.
    const { msg } = await h.query("big.test", DNS_TYPE_A, { edns: 512, id: 7 });
    assert.ok(msg.tc);
    assert.equal(msg.id, 7);
  } finally {
    await h.close();
  }
});

Deno.test("server: FORMERR for zero and fifty questions and for a compression loop", async () => {
  let calls = 0;
  const h = new UdpHarness((req) => {
    calls++;
    ZONE_HANDLER(req);
  });
  try {
    const check = (raw: Uint8Array, id: number) => {
      const hd = header(raw);
      assert.equal(hd.id, id);
      assert.equal(hd.flags & 0x8000, 0x8000, "QR");
      assert.equal(hd.flags & 0xf, DNS_ERR_FORMAT);
      assert.equal(hd.flags & 0x0100, 0x0100, "RD echoed");
      assert.equal(hd.qd, 0, "no question echoed");
      assert.equal(hd.an + hd.ns + hd.ar, 0);
    };
    check(await h.ask(packet(1, 0x0100, [0, 0, 0, 0], [])), 1);
    const fifty: number[] = [];
    for (let i = 0; i < 50; i++) fifty.push(1, 97 + (i % 26), 0, 0, 1, 0, 1);
    check(await h.ask(packet(2, 0x0100, [50, 0, 0, 0], fifty)), 2);
    // The question's name is a pointer to itself.
    check(await h.ask(packet(3, 0x0100, [1, 0, 0, 0], [0xc0, 12, 0, 1, 0, 1])), 3);
    // A label running past the end.
    check(await h.ask(packet(4, 0x0100, [1, 0, 0, 0], [9, 97, 98])), 4);
    // A question that parsed but a broken record after it: FORMERR with the question.
    const raw = await h.ask(packet(5, 0, [1, 0, 0, 1], [1, 97, 0, 0, 1, 0, 1, 0, 0, 41]));
    const msg = parseMessage(raw)!;
    assert.equal(msg.rcode, DNS_ERR_FORMAT);
    assert.deepEqual(msg.questions, [{ name: "a", type: 1, dnsClass: 1 }]);
    // Opcode STATUS (2): NOTIMPL.
    const ni = parseMessage(await h.ask(packet(6, 0x1000, [1, 0, 0, 0], [1, 97, 0, 0, 1, 0, 1])))!;
    assert.equal(ni.rcode, DNS_ERR_NOTIMPL);
    assert.equal(ni.opcode, 2);
    assert.equal(calls, 0, "none of these reached the callback");
    const ok = await h.query("a.test", DNS_TYPE_A);
    assert.equal(ok.msg.answers.length, 2);
    assert.equal(calls, 1);
  } finally {
    await h.close();
  }
});

Deno.test("server: garbage and responses are dropped and the port keeps serving", async () => {
  let calls = 0;
  const h = new UdpHarness((req) => {
    calls++;
    ZONE_HANDLER(req);
  });
  try {
    await h.send(new Uint8Array([1, 2, 3, 4, 5]));
    await h.send(new Uint8Array(0));
    // A response (QR set) is never answered: that is how reflection loops start.
    await h.send(packet(9, 0x8180, [1, 0, 0, 0], [1, 97, 0, 0, 1, 0, 1]));
    const rnd = new Uint8Array(300);
    crypto.getRandomValues(rnd);
    rnd[2] |= 0x80;
    await h.send(rnd);
    // Oversized (cut by the receive buffer) garbage.
    await h.send(new Uint8Array(5000).fill(0xc0));
    const { msg } = await h.query("a.test", DNS_TYPE_A, { id: 0x4242 });
    assert.equal(msg.id, 0x4242, "the first datagram back answers the valid query");
    assert.equal(calls, 1);
  } finally {
    await h.close();
  }
});

Deno.test("server: drop() sends nothing; later and async answers work", async () => {
  const later: EvdnsServerRequest[] = [];
  const h = new UdpHarness((req) => {
    const name = req.questions[0].name;
    if (name === "drop.test") return req.drop();
    if (name === "later.test") {
      later.push(req);
      return;
    }
    ZONE_HANDLER(req);
  });
  try {
    await h.send(encodeQuery(1, "drop.test", DNS_TYPE_A));
    let r = await h.query("a.test", DNS_TYPE_A, { id: 2 });
    assert.equal(r.msg.id, 2);
    const pending = h.next();
    await h.send(encodeQuery(3, "later.test", DNS_TYPE_A));
    while (later.length === 0) await new Promise((res) => setTimeout(res, 1));
    const req = later[0];
    assert.equal(req.getRequestingAddr().port, (h.client.addr as Deno.NetAddr).port);
    assert.equal(req.getRequestingAddr().hostname, "127.0.0.1");
    assert.equal(req.protocol, "udp");
    assert.equal(req.flags & 0x0100, 0x0100);
    req.addAReply("later.test", ["192.0.2.9"], 1);
    req.respond(DNS_ERR_REFUSED);
    const raw = await pending;
    r = { raw, msg: parseMessage(raw)! };
    assert.equal(r.msg.id, 3);
    assert.equal(r.msg.rcode, DNS_ERR_REFUSED);
    assert.equal(r.msg.answers.length, 1);
    // A second respond and a drop after respond are no-ops; adding throws.
    req.respond(DNS_ERR_NONE);
    req.drop();
    assert.throws(() => req.addAReply("x.test", ["192.0.2.1"], 1), EvError);
  } finally {
    await h.close();
  }
});

Deno.test("server: respond() code mapping and misuse", async () => {
  const codes: number[] = [];
  let misuse: unknown[] = [];
  const h = new UdpHarness((req) => {
    const code = codes.shift()!;
    misuse = [];
    for (
      const f of [
        () => req.addReply(0, "bad..name", DNS_TYPE_A, 1, 1, "192.0.2.1"),
        () => req.addReply(0, "x.test", DNS_TYPE_A, 1, 1, "not-an-ip"),
        () => req.addReply(0, "x.test", DNS_TYPE_AAAA, 1, 1, "192.0.2.1"),
        () => req.addReply(3, "x.test", DNS_TYPE_A, 1, 1, "192.0.2.1"),
        () => req.addReply(0, "x.test", DNS_TYPE_MX, 1, 1, "mail.test"),
        () => req.addReply(0, "x.test", DNS_TYPE_A, 1, -1, "192.0.2.1"),
        () => req.addAReply("x.test", ["192.0.2.1", "nope"], 1),
        () => req.respond(1000),
      ]
    ) {
      try {
        f();
        misuse.push("no throw");
      } catch (e) {
        misuse.push((e as Error).constructor.name);
      }
    }
    req.respond(code);
  });
  try {
    for (
      const [code, rcode] of [
        [DNS_ERR_NOTEXIST, 3],
        [DNS_ERR_NODATA, 0],
        [DNS_ERR_TIMEOUT, 2],
        [15, 15],
      ]
    ) {
      codes.push(code);
      const { msg } = await h.query("x.test", DNS_TYPE_A);
      assert.equal(msg.rcode, rcode);
      assert.equal(msg.answers.length, 0, "a bad A address left the request unchanged");
    }
    assert.deepEqual(misuse, [
      "RangeError",
      "TypeError",
      "TypeError",
      "RangeError",
      "TypeError",
      "RangeError",
      "TypeError",
      "RangeError",
    ]);
    assert.throws(() => h.port.setOption(EVDNS_SOPT_TCP_MAX_CLIENTS, 5), TypeError);
    const extra = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    assert.throws(() => EvdnsServerPort.add(h.base, extra, 1, () => {}), RangeError);
    extra.close();
  } finally {
    await h.close();
  }
});

Deno.test("server: a throwing callback is logged and its query gets SERVFAIL; respond after close() is a no-op", async () => {
  const kept: EvdnsServerRequest[] = [];
  let first = true;
  const h = new UdpHarness((req) => {
    if (first) {
      first = false;
      throw new Error("boom");
    }
    kept.push(req);
    if (kept.length === 1) ZONE_HANDLER(req);
  });
  const failed = (await h.query("a.test", DNS_TYPE_A, { id: 1 })).msg;
  assert.deepEqual([failed.id, failed.flags & 0xf], [1, 2]);
  const { msg } = await h.query("a.test", DNS_TYPE_A, { id: 2 });
  assert.equal(msg.id, 2);
  assert.ok(h.logs.some((l) => l.includes("boom")));
  // A third request stays unanswered across close().
  await h.send(encodeQuery(3, "a.test", DNS_TYPE_A));
  while (kept.length < 2) await new Promise((res) => setTimeout(res, 1));
  await h.close();
  kept[1].addAReply("a.test", ["192.0.2.1"], 1);
  kept[1].respond(DNS_ERR_NONE);
  kept[1].drop();
  h.port.close();
});

// ---------------------------------------------------------------------------------------------
// TCP

class TcpHarness {
  base = new EventBase();
  lev = EvConnListener.newBind(
    this.base,
    null,
    null,
    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
    -1,
    { hostname: "127.0.0.1", port: 0 },
  );
  addr = this.lev.addr as Deno.NetAddr;
  port: EvdnsServerPort;
  loop: Promise<number>;

  constructor(handler: Handler, setup?: (p: EvdnsServerPort) => void) {
    this.port = EvdnsServerPort.addWithListener(this.base, this.lev, 0, handler);
    setup?.(this.port);
    this.loop = this.base.loop();
  }

  connect(): Promise<Deno.TcpConn> {
    return Deno.connect({ hostname: "127.0.0.1", port: this.addr.port });
  }

  async close(): Promise<void> {
    this.port.close();
    assert.equal(await within(this.loop, 5000, "loop end"), 1);
    this.base.free();
  }
}

function frame(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(msg.length + 2);
  out[0] = msg.length >> 8;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  return out;
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array | null> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await within(conn.read(out.subarray(got)));
    if (r === null) return null;
    got += r;
  }
  return out;
}

async function readFrame(conn: Deno.Conn): Promise<DnsMessage> {
  const head = await readExactly(conn, 2);
  assert.ok(head !== null, "connection still open");
  const body = await readExactly(conn, (head![0] << 8) | head![1]);
  const msg = parseMessage(body!);
  assert.ok(msg !== null);
  return msg!;
}

Deno.test("server TCP: two queries on one connection, large answers complete, FORMERR", async () => {
  const h = new TcpHarness(ZONE_HANDLER);
  const conn = await h.connect();
  try {
    const both = new Uint8Array([
      ...frame(encodeQuery(1, "a.test", DNS_TYPE_A)),
      ...frame(encodeQuery(2, "many.test", DNS_TYPE_A)),
    ]);
    // Written in two uneven pieces so a frame spans reads.
    await conn.write(both.subarray(0, 5));
    await conn.write(both.subarray(5));
    const m1 = await readFrame(conn);
    const m2 = await readFrame(conn);
    assert.equal(m1.id, 1);
    assert.equal(m1.answers.length, 2);
    assert.equal(m2.id, 2);
    assert.ok(!m2.tc, "no truncation over TCP");
    assert.equal(m2.answers.length, 100);
    await conn.write(frame(packet(3, 0, [0, 0, 0, 0], [])));
    const m3 = await readFrame(conn);
    assert.equal(m3.id, 3);
    assert.equal(m3.rcode, DNS_ERR_FORMAT);
    // Garbage frames are skipped; the connection keeps working.
    await conn.write(frame(new Uint8Array([1, 2, 3])));
    await conn.write(frame(encodeQuery(4, "aaaa.test", DNS_TYPE_AAAA)));
    const m4 = await readFrame(conn);
    assert.equal(m4.id, 4);
    assert.equal(m4.answers[0].data, "2001:db8::1");
  } finally {
    conn.close();
    await h.close();
  }
});

Deno.test("server TCP: a half-closed client still gets its answers", async () => {
  const later: EvdnsServerRequest[] = [];
  const h = new TcpHarness((req) => later.push(req));
  const conn = await h.connect();
  try {
    await conn.write(frame(encodeQuery(9, "a.test", DNS_TYPE_A)));
    await conn.closeWrite();
    while (later.length === 0) await new Promise((res) => setTimeout(res, 1));
    assert.equal(later[0].protocol, "tcp");
    assert.equal(later[0].getRequestingAddr().port, (conn.localAddr as Deno.NetAddr).port);
    // Whether the server has seen the EOF yet or not, the answer must arrive, then the close.
    ZONE_HANDLER(later[0]);
    const m = await readFrame(conn);
    assert.equal(m.id, 9);
    assert.equal(await readExactly(conn, 1), null, "closed after the answer");
  } finally {
    conn.close();
    await h.close();
  }
});

Deno.test("server TCP: a callback that throws gets its query SERVFAIL; the half-closed client is released", async () => {
  const h = new TcpHarness(() => {
    throw new Error("handler bug");
  });
  h.base.setLogCallback(() => {});
  const conn = await h.connect();
  try {
    await conn.write(frame(encodeQuery(5, "a.test", DNS_TYPE_A)));
    await conn.closeWrite();
    const m = await readFrame(conn);
    assert.deepEqual([m.id, m.flags & 0xf], [5, 2], "SERVFAIL");
    // Unanswered, the request kept the slot with reading off and no timer: for ever.
    assert.equal(await readExactly(conn, 1), null, "closed after the answer");
    while (h.port.clientCount !== 0) await new Promise((res) => setTimeout(res, 1));
  } finally {
    conn.close();
    await h.close();
  }
});

Deno.test("server TCP: a client stalling mid-frame is closed by the idle timeout", async () => {
  const h = new TcpHarness(ZONE_HANDLER, (p) => p.setOption(EVDNS_SOPT_TCP_IDLE_TIMEOUT, 150));
  const conn = await h.connect();
  try {
    const f = frame(encodeQuery(1, "a.test", DNS_TYPE_A));
    await conn.write(f.subarray(0, 7));
    const t0 = performance.now();
    assert.equal(await readExactly(conn, 1), null, "server closed the stalled client");
    const dt = performance.now() - t0;
    assert.ok(dt >= 100 && dt < 3000, `closed after ${dt} ms`);
    assert.equal(h.port.clientCount, 0);
  } finally {
    conn.close();
    await h.close();
  }
});

Deno.test("server TCP: a client dripping a frame byte by byte is closed once the frame is overdue", async () => {
  const h = new TcpHarness(ZONE_HANDLER, (p) => p.setOption(EVDNS_SOPT_TCP_IDLE_TIMEOUT, 150));
  const conn = await h.connect();
  try {
    const f = frame(encodeQuery(1, "a.test", DNS_TYPE_A));
    const t0 = performance.now();
    // Each byte comes well within the idle timeout, so only a deadline per frame ends this.
    let i = 0;
    for (; i < f.length - 1; i++) {
      if (await conn.write(f.subarray(i, i + 1)).then(() => false, () => true)) break;
      await new Promise((res) => setTimeout(res, 40));
      if (h.port.clientCount === 0) break;
    }
    assert.ok(i < f.length - 1, "the whole frame was dripped without a cut");
    assert.equal(await readExactly(conn, 1), null, "closed");
    assert.ok(performance.now() - t0 < 3000);
    assert.equal(h.port.clientCount, 0);
  } finally {
    conn.close();
    await h.close();
  }
});

Deno.test("server TCP: connections beyond the client limit are closed", async () => {
  const h = new TcpHarness(ZONE_HANDLER, (p) => p.setOption(EVDNS_SOPT_TCP_MAX_CLIENTS, 1));
  const c1 = await h.connect();
  let c2: Deno.TcpConn | null = null;
  try {
    await c1.write(frame(encodeQuery(1, "a.test", DNS_TYPE_A)));
    assert.equal((await readFrame(c1)).id, 1);
    c2 = await h.connect();
    await c2.write(frame(encodeQuery(2, "a.test", DNS_TYPE_A))).catch(() => 0);
    assert.equal(await readExactly(c2, 1).catch(() => null), null, "second client refused");
    await c1.write(frame(encodeQuery(3, "a.test", DNS_TYPE_A)));
    assert.equal((await readFrame(c1)).id, 3, "the first client is unaffected");
    assert.throws(() => h.port.setOption(99, 1), RangeError);
  } finally {
    c1.close();
    c2?.close();
    await h.close();
  }
});

Deno.test("server TCP: close() disconnects clients and pending requests become no-ops", async () => {
  const later: EvdnsServerRequest[] = [];
  const h = new TcpHarness((req) => later.push(req));
  const conn = await h.connect();
  await conn.write(frame(encodeQuery(1, "a.test", DNS_TYPE_A)));
  while (later.length === 0) await new Promise((res) => setTimeout(res, 1));
  await h.close();
  later[0].addAReply("a.test", ["192.0.2.1"], 1);
  later[0].respond(DNS_ERR_NONE);
  assert.equal(await readExactly(conn, 1), null);
  conn.close();
});

Deno.test("server: the same writer encodes what a DnsWriter-built query asks", () => {
  // Sanity check of the raw packet helper against the codec used everywhere else.
  const w = new DnsWriter();
  w.header(7, 0x0100, 1);
  w.question({ name: "a", type: 1, dnsClass: 1 });
  assert.deepEqual(w.finish(), packet(7, 0x0100, [1, 0, 0, 0], [1, 97, 0, 0, 1, 0, 1]));
});

Deno.test("server: evdeno's resolver against evdeno's server over UDP and TCP", async () => {
  const { EvdnsBase } = await import("../dns/evdns_base.ts");
  const { DNS_QUERY_NO_CACHE, DNS_QUERY_USEVC } = await import("../dns/constants.ts");
  const base = new EventBase();
  // UDP and TCP on one port: the TCP side of a free UDP port may be taken, so try a few.
  let udp: Deno.DatagramConn | null = null;
  let lev: EvConnListener | null = null;
  for (let i = 0; lev === null; i++) {
    udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (udp.addr as Deno.NetAddr).port;
    try {
      lev = EvConnListener.newBind(base, null, null, LEV_OPT_REUSEABLE, -1, {
        hostname: "127.0.0.1",
        port,
      });
    } catch (e) {
      udp.close();
      if (i >= 10) throw e;
    }
  }
  const portNo = (udp!.addr as Deno.NetAddr).port;
  const udpPort = EvdnsServerPort.add(base, udp!, 0, ZONE_HANDLER);
  const tcpPort = EvdnsServerPort.addWithListener(base, lev, 0, ZONE_HANDLER);
  const dns = new EvdnsBase(base, 0);
  dns.nameserverIpAdd(`127.0.0.1:${portNo}`);
  const loop = base.loop();
  try {
    const lookup = (name: string, flags: number) =>
      within(
        new Promise<unknown[]>((res) =>
          dns.resolveIpv4(name, flags, (result, _t, _c, ttl, addrs) => res([result, ttl, addrs]))
        ),
      );
    assert.deepEqual(await lookup("a.test", 0), [0, 300, ["192.0.2.1", "192.0.2.2"]]);
    assert.deepEqual(await lookup("a.test", DNS_QUERY_USEVC | DNS_QUERY_NO_CACHE), [0, 300, [
      "192.0.2.1",
      "192.0.2.2",
    ]]);
    assert.equal((await lookup("nope.test", 0))[0], DNS_ERR_NOTEXIST);
    // 100 addresses: truncated over UDP, so the resolver retries over TCP.
    const many = await lookup("many.test", 0);
    assert.equal(many[0], 0);
    assert.equal((many[2] as string[]).length, 100);
    const mx = await within(dns.resolve("all.test", "MX"));
    assert.deepEqual(mx.records.map((r) => r.data), [{
      preference: 10,
      exchange: "mail.all.test",
    }]);
  } finally {
    dns.free(false);
    udpPort.close();
    tcpPort.close();
    assert.equal(await within(loop, 5000, "loop end"), 1);
    base.free();
  }
});

Deno.test("server: an EDNS version other than 0 gets BADVERS, with a version 0 OPT and no answers", async () => {
  const h = new UdpHarness(ZONE_HANDLER);
  try {
    const q = encodeQuery(7, "a.test", DNS_TYPE_A, { ednsUdpSize: 1232 });
    q[q.length - 5] = 1; // the OPT's VERSION byte
    const msg = parseMessage(await h.ask(q))!;
    assert.equal(msg.id, 7);
    assert.equal(msg.rcode, 16, "BADVERS: rcode 0 in the header, 1 in the OPT");
    assert.equal(msg.answers.length, 0);
    assert.equal(msg.edns?.version, 0);
  } finally {
    await h.close();
  }
});

Deno.test("server: additional records that do not fit are left out without TC; cut answers set it", async () => {
  const h = new UdpHarness((req) => {
    const name = req.questions[0]!.name;
    req.addAReply(name, Array.from({ length: 6 }, (_, i) => `192.0.2.${i + 1}`), 60);
    const count = name.startsWith("many") ? 40 : 6;
    for (let i = 0; i < 40; i++) {
      const sec = name.startsWith("many") ? EVDNS_ANSWER_SECTION : EVDNS_ADDITIONAL_SECTION;
      if (i < count) {
        req.addReply(sec, `extra${i}.${name}`, DNS_TYPE_TXT, DNS_CLASS_INET, 60, "x".repeat(60));
      }
    }
    req.respond(DNS_ERR_NONE);
  });
  try {
    const some = (await h.query("add.test", DNS_TYPE_A)).msg;
    assert.equal(some.answers.length, 6);
    assert.ok(some.additional.length < 6, "some additional records were left out");
    assert.equal(some.tc, false, "no TC for additional data alone (RFC 2181 §9)");
    const many = (await h.query("many.test", DNS_TYPE_A)).msg;
    assert.ok(many.answers.length < 46);
    assert.equal(many.tc, true);
  } finally {
    await h.close();
  }
});
