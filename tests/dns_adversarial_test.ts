// Adversarial tests for the DNS server (UDP and TCP framing) and the resolver (TC handling,
// hostile TCP nameservers, many outstanding queries), over real loopback sockets.
import assert from "node:assert/strict";
import { EventBase } from "../reactor/event_base.ts";
import { EvConnListener } from "../listener/listener.ts";
import { LEV_OPT_CLOSE_ON_FREE } from "../listener/constants.ts";
import {
  EVDNS_SOPT_TCP_IDLE_TIMEOUT,
  EvdnsServerPort,
  type EvdnsServerRequest,
} from "../dns/server.ts";
import { EvdnsBase } from "../dns/evdns_base.ts";
import { type DnsMessage, encodeQuery, encodeResponse, parseMessage } from "../dns/_wire.ts";
import {
  DNS_ERR_FORMAT,
  DNS_ERR_NONE,
  DNS_ERR_TIMEOUT,
  DNS_ERR_TRUNCATED,
  DNS_QUERY_IGNTC,
  DNS_TYPE_A,
} from "../dns/constants.ts";
import { bounded } from "./_helpers.ts";

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
    const r = await bounded(conn.read(out.subarray(got)), 3000, "read");
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

const A_HANDLER = (req: EvdnsServerRequest): void => {
  const name = req.questions[0].name;
  req.addAReply(name, ["192.0.2.1"], 60);
  req.respond(DNS_ERR_NONE);
};

class TcpHarness {
  base = new EventBase();
  lev = EvConnListener.newBind(this.base, null, null, LEV_OPT_CLOSE_ON_FREE, -1, {
    hostname: "127.0.0.1",
    port: 0,
  });
  addr = this.lev.addr as Deno.NetAddr;
  port: EvdnsServerPort;
  loop: Promise<number>;
  logs: string[] = [];
  constructor(handler: (r: EvdnsServerRequest) => void, idleMs = 2000) {
    this.base.setLogCallback((_s, m) => this.logs.push(m));
    this.port = EvdnsServerPort.addWithListener(this.base, this.lev, 0, handler);
    this.port.setOption(EVDNS_SOPT_TCP_IDLE_TIMEOUT, idleMs);
    this.loop = this.base.loop();
  }
  connect(): Promise<Deno.TcpConn> {
    return Deno.connect({ hostname: "127.0.0.1", port: this.addr.port });
  }
  /** Waits (bounded) until the port has `n` TCP clients. */
  async clients(n: number): Promise<void> {
    const t0 = performance.now();
    while (this.port.clientCount !== n) {
      if (performance.now() - t0 > 3000) {
        throw new Error(`clientCount ${this.port.clientCount}, wanted ${n}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  async close(): Promise<void> {
    this.port.close();
    assert.equal(await bounded(this.loop, 3000, "loop end"), 1);
    this.base.free();
  }
}

// ---------------------------------------------------------------------------------------------
// Server, TCP framing
// ---------------------------------------------------------------------------------------------

Deno.test("server TCP: hostile framing (half a length prefix, empty frame, short frame) is survived", async () => {
  const h = new TcpHarness(A_HANDLER);
  try {
    // 1. One byte of a length prefix, then EOF.
    const c1 = await h.connect();
    await c1.write(new Uint8Array([0x00]));
    await c1.closeWrite();
    assert.equal(await readExactly(c1, 1), null, "closed after a partial prefix");
    c1.close();
    // 2. A zero-length frame, then a real query on the same connection.
    const c2 = await h.connect();
    await c2.write(new Uint8Array([0, 0, ...frame(encodeQuery(7, "z.test", DNS_TYPE_A))]));
    const m = await readFrame(c2);
    assert.equal(m.id, 7);
    assert.equal(m.answers[0].data, "192.0.2.1");
    c2.close();
    // 3. A frame announcing 1000 bytes, 20 sent, then EOF.
    const c3 = await h.connect();
    await c3.write(new Uint8Array([0x03, 0xe8, ...new Uint8Array(20)]));
    await c3.closeWrite();
    assert.equal(await readExactly(c3, 1), null, "closed after a short frame");
    c3.close();
    // 4. A 65535-byte frame of garbage, then a query: skipped, then answered.
    const c4 = await h.connect();
    const big = new Uint8Array(65537);
    big[0] = 0xff;
    big[1] = 0xff;
    crypto.getRandomValues(big.subarray(2, 40000));
    big[4] |= 0x80; // QR set: a "response", dropped
    const w = (async () => {
      let off = 0;
      while (off < big.length) off += await c4.write(big.subarray(off));
      await c4.write(frame(encodeQuery(8, "y.test", DNS_TYPE_A)));
    })();
    const m4 = await readFrame(c4);
    await w;
    assert.equal(m4.id, 8);
    c4.close();
    await h.clients(0);
  } finally {
    await h.close();
  }
});

Deno.test("server TCP: a client resetting with answers pending; late answers are no-ops", async () => {
  const kept: EvdnsServerRequest[] = [];
  const h = new TcpHarness((req) => kept.push(req));
  try {
    const c = await h.connect();
    const many = [];
    for (let i = 0; i < 50; i++) many.push(...frame(encodeQuery(i, `q${i}.test`, DNS_TYPE_A)));
    await c.write(new Uint8Array(many));
    const t0 = performance.now();
    while (kept.length < 50 && performance.now() - t0 < 3000) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(kept.length, 50);
    c.close();
    // The server cannot tell this close from a half-close: it keeps the connection for the
    // answers; writing them fails against the closed peer and the connection goes.
    for (const r of kept) A_HANDLER(r);
    await h.clients(0);
    assert.deepEqual(h.logs, []);
  } finally {
    await h.close();
  }
});

Deno.test("server TCP: a client that writes 3000 queries before reading gets every answer", async () => {
  // Each answer carries 60 addresses (~1 KiB): ~3 MiB of replies, far past the server's
  // 256 KiB output bound, so reading the client pauses and resumes many times.
  const h = new TcpHarness((req) => {
    const addrs: string[] = [];
    for (let i = 0; i < 60; i++) addrs.push(`10.1.0.${i}`);
    req.addAReply(req.questions[0].name, addrs, 60);
    req.respond(DNS_ERR_NONE);
  }, 4000);
  try {
    const c = await h.connect();
    const N = 3000;
    const parts: number[] = [];
    for (let i = 0; i < N; i++) parts.push(...frame(encodeQuery(i, `n${i}.test`, DNS_TYPE_A)));
    const all = new Uint8Array(parts);
    const writer = (async () => {
      let off = 0;
      while (off < all.length) off += await c.write(all.subarray(off));
    })();
    const seen = new Set<number>();
    // The client starts reading only after 100 ms: the server must pause, not drop.
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < N; i++) {
      const m = await readFrame(c);
      assert.equal(m.answers.length, 60);
      seen.add(m.id);
    }
    await writer;
    assert.equal(seen.size, N);
    c.close();
    await h.clients(0);
  } finally {
    await h.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Server, UDP
// ---------------------------------------------------------------------------------------------

Deno.test("server UDP: oversized, pointer-looped and OPT-malformed datagrams never stop the port", async () => {
  const base = new EventBase();
  const logs: string[] = [];
  base.setLogCallback((_s, m) => logs.push(m));
  const server = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const addr = server.addr as Deno.NetAddr;
  const client = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let calls = 0;
  const port = EvdnsServerPort.add(base, server, 0, (req) => {
    calls++;
    A_HANDLER(req);
  });
  const loop = base.loop();
  try {
    const q = encodeQuery(0x4242, "ok.test", DNS_TYPE_A);
    // A query whose additional record claims rdata past the end.
    const badOpt = new Uint8Array([
      ...q.subarray(0, 11),
      1,
      ...q.subarray(12),
      0,
      0,
      41,
      0x10,
      0,
      0,
      0,
      0,
      0,
      0xff,
      0xff,
    ]);
    // An answer-section record whose owner is a pointer to itself.
    const selfPtr = new Uint8Array([...q.subarray(0, 7), 1, ...q.subarray(8)]);
    const at = selfPtr.length;
    const selfPtr2 = new Uint8Array([
      ...selfPtr,
      0xc0 | (at >> 8),
      at & 0xff,
      0,
      1,
      0,
      1,
      0,
      0,
      0,
      1,
      0,
      4,
      1,
      2,
      3,
      4,
    ]);
    // 9000 bytes: a valid question followed by padding records.
    const huge = new Uint8Array(9000);
    huge.set(q);
    const hostile = [new Uint8Array(0), new Uint8Array(11), badOpt, selfPtr2, huge];
    for (const d of hostile) await client.send(d, addr);
    await client.send(encodeQuery(0x1111, "after.test", DNS_TYPE_A), addr);
    // Collect until the genuine answer arrives.
    const got: DnsMessage[] = [];
    for (;;) {
      const [d] = await bounded(client.receive(), 3000, "answers");
      const m = parseMessage(d);
      assert.ok(m !== null, "every reply parses");
      got.push(m!);
      if (m!.id === 0x1111) break;
    }
    const byId = (id: number) => got.filter((m) => m.id === id);
    assert.equal(byId(0x1111)[0].answers[0].data, "192.0.2.1");
    // badOpt → FORMERR; selfPtr2 → the records are only walked, not followed: answered or FORMERR.
    assert.ok(got.some((m) => m.id === 0x4242 && m.rcode === DNS_ERR_FORMAT));
    assert.deepEqual(logs, []);
  } finally {
    port.close();
    assert.equal(await bounded(loop, 3000, "loop end"), 1);
    client.close();
    base.free();
  }
});

// ---------------------------------------------------------------------------------------------
// Resolver
// ---------------------------------------------------------------------------------------------

type TcpBehaviour = (conn: Deno.TcpConn, q: DnsMessage) => Promise<void>;

/** A nameserver on one port: UDP answers with TC set; TCP connection i runs tcp[i] (or the last). */
class TcNameserver {
  udp: Deno.DatagramConn;
  tcp: Deno.Listener | null;
  udpQueries = 0;
  tcpConns = 0;
  #tasks: Promise<void>[] = [];
  #conns = new Set<Deno.Conn>();
  constructor(behaviours: TcpBehaviour[] | null) {
    let udp: Deno.DatagramConn | null = null;
    let tcp: Deno.Listener | null = null;
    for (let i = 0; i < 20 && tcp === null; i++) {
      udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      if (behaviours === null) break;
      try {
        tcp = Deno.listen({ hostname: "127.0.0.1", port: (udp.addr as Deno.NetAddr).port });
      } catch {
        udp.close();
      }
    }
    const u = this.udp = udp!;
    this.tcp = tcp;
    this.#tasks.push((async () => {
      try {
        for (;;) {
          const [d, from] = await u.receive();
          this.udpQueries++;
          const q = parseMessage(d);
          if (q === null) continue;
          const tc = encodeResponse({ id: q.id, questions: q.questions, tc: true, rd: true });
          await u.send(tc, from);
        }
      } catch { /* closed */ }
    })());
    if (tcp !== null) {
      this.#tasks.push((async () => {
        try {
          for (;;) {
            const conn = await tcp.accept() as Deno.TcpConn;
            this.#conns.add(conn);
            const b = behaviours![Math.min(this.tcpConns++, behaviours!.length - 1)];
            this.#tasks.push((async () => {
              try {
                const head = await readExactly(conn, 2);
                if (head === null) return;
                const body = await readExactly(conn, (head[0] << 8) | head[1]);
                const q = parseMessage(body!);
                if (q !== null) await b(conn, q);
              } catch {
                /* the resolver went away */
              } finally {
                this.#conns.delete(conn);
                try {
                  conn.close();
                } catch { /* closed */ }
              }
            })());
          }
        } catch { /* closed */ }
      })());
    }
  }
  get addr(): string {
    return `127.0.0.1:${(this.udp.addr as Deno.NetAddr).port}`;
  }
  async close(): Promise<void> {
    this.udp.close();
    this.tcp?.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await Promise.all(this.#tasks);
  }
}

function aAnswer(q: DnsMessage, addr: string, extra: { id?: number; tc?: boolean } = {}) {
  return encodeResponse({
    id: extra.id ?? q.id,
    rd: true,
    ra: true,
    tc: extra.tc,
    questions: q.questions,
    answers: [{ name: q.questions[0].name, type: 1, dnsClass: 1, ttl: 60, data: addr }],
  });
}

async function resolve(
  base: EventBase,
  dns: EvdnsBase,
  name: string,
  flags = 0,
): Promise<{ result: number; addresses: string[] }> {
  let out: { result: number; addresses: string[] } | null = null;
  dns.resolveIpv4(name, flags, (result, _t, _c, _ttl, addresses) => {
    out = { result, addresses: addresses ?? [] };
  });
  await bounded(base.dispatch(), 4000, `resolving ${name}`);
  assert.ok(out !== null, "callback ran");
  return out!;
}

function newDns(base: EventBase, ns: string, timeout = "0.2", attempts = "3"): EvdnsBase {
  base.setLogCallback(() => {});
  const dns = new EvdnsBase(base, 0);
  dns.nameserverIpAdd(ns);
  dns.setOption("timeout:", timeout);
  dns.setOption("attempts:", attempts);
  return dns;
}

Deno.test("resolver: TC moves to TCP; a TCP server that dies mid-prefix is retried", async () => {
  const ns = new TcNameserver([
    async (conn) => {
      await conn.write(new Uint8Array([0x00])); // half a length prefix, then close
    },
    async (conn, q) => {
      await conn.write(frame(aAnswer(q, "192.0.2.9")));
    },
  ]);
  const base = new EventBase();
  const dns = newDns(base, ns.addr);
  try {
    const r = await resolve(base, dns, "tc.test");
    assert.deepEqual(r, { result: DNS_ERR_NONE, addresses: ["192.0.2.9"] });
    assert.equal(ns.tcpConns, 2);
  } finally {
    dns.free(false);
    base.free();
    await ns.close();
  }
});

Deno.test("resolver: over TCP, empty, foreign-id, truncated-length and TC frames are skipped", async () => {
  const ns = new TcNameserver([
    async (conn, q) => {
      await conn.write(new Uint8Array([0, 0])); // empty frame
      await conn.write(frame(new Uint8Array(5))); // shorter than a header
      await conn.write(frame(aAnswer(q, "192.0.2.66", { id: q.id ^ 1 }))); // someone else's id
      await conn.write(frame(aAnswer(q, "192.0.2.10", { tc: true }))); // TC over TCP: usable
      await conn.write(frame(aAnswer(q, "192.0.2.11")));
    },
  ]);
  const base = new EventBase();
  const dns = newDns(base, ns.addr);
  try {
    const r = await resolve(base, dns, "frames.test");
    assert.equal(r.result, DNS_ERR_NONE);
    assert.deepEqual(r.addresses, ["192.0.2.10"]);
  } finally {
    dns.free(false);
    base.free();
    await ns.close();
  }
});

Deno.test("resolver: TC with IGNTC reports TRUNCATED; TC with no TCP server times out, bounded", async () => {
  const ns = new TcNameserver(null);
  const base = new EventBase();
  const dns = newDns(base, ns.addr, "0.1", "2");
  try {
    const r1 = await resolve(base, dns, "ign.test", DNS_QUERY_IGNTC);
    assert.equal(r1.result, DNS_ERR_TRUNCATED);
    const t0 = performance.now();
    const r2 = await resolve(base, dns, "notcp.test");
    assert.equal(r2.result, DNS_ERR_TIMEOUT);
    assert.ok(performance.now() - t0 < 2000);
  } finally {
    dns.free(false);
    base.free();
    await ns.close();
  }
});

Deno.test("resolver: 300 outstanding queries to a silent server all time out, in waves", async () => {
  const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const base = new EventBase();
  const dns = newDns(base, `127.0.0.1:${(silent.addr as Deno.NetAddr).port}`, "0.1", "1");
  const results: number[] = [];
  try {
    for (let i = 0; i < 300; i++) {
      dns.resolveIpv4(`s${i}.test`, 0, (result) => results.push(result));
    }
    const t0 = performance.now();
    await bounded(base.dispatch(), 4000, "all timeouts");
    const dt = performance.now() - t0;
    assert.equal(results.length, 300);
    assert.ok(results.every((r) => r === DNS_ERR_TIMEOUT));
    assert.ok(dt < 2500, `took ${dt.toFixed(0)} ms`);
  } finally {
    dns.free(false);
    base.free();
    silent.close();
  }
});
