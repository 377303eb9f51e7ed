import assert from "node:assert/strict";
import {
  EV_CLOSED,
  EV_ET,
  EV_PERSIST,
  EV_READ,
  EV_TIMEOUT,
  EV_WRITE,
  Event,
  EventBase,
  Socket,
} from "../reactor/mod.ts";

function listen(): [Deno.Listener, number] {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return [l, (l.addr as Deno.NetAddr).port];
}

Deno.test("accept, recv and send over loopback (echo)", async () => {
  const base = new EventBase();
  const [l, port] = listen();
  const ls = Socket.from(l);
  const conns: Socket[] = [];
  const acc = new Event(base, ls, EV_READ | EV_PERSIST, () => {
    const c = ls.accept();
    if (c === null) return;
    const s = Socket.from(c);
    conns.push(s);
    const ev: Event = new Event(base, s, EV_READ | EV_PERSIST, () => {
      const d = s.recv();
      if (d === null) return;
      if (d.length === 0) {
        ev.del();
        s.close();
        acc.del();
        return;
      }
      s.send(d);
    });
    ev.add();
  });
  acc.add();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const loop = base.dispatch();
  const msg = new TextEncoder().encode("hello reactor");
  await client.write(msg);
  const buf = new Uint8Array(64);
  let got = 0;
  while (got < msg.length) got += (await client.read(buf.subarray(got)))!;
  assert.equal(new TextDecoder().decode(buf.subarray(0, got)), "hello reactor");
  client.closeWrite();
  assert.equal(await client.read(buf), null, "server closed after EOF");
  assert.equal(await loop, 1);
  client.close();
  ls.close();
  base.free();
});

Deno.test("EV_CLOSED fires when the peer closes", async () => {
  const base = new EventBase();
  const [l, port] = listen();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const server = Socket.from(await l.accept());
  let what = 0;
  new Event(base, server, EV_CLOSED, (_s, w) => what = w).add();
  client.close();
  await base.dispatch();
  assert.equal(what & EV_CLOSED, EV_CLOSED);
  server.close();
  l.close();
  base.free();
});

Deno.test("level-triggered read fires every pass until drained; EV_ET only on arrival", async () => {
  const base = new EventBase();
  const [l, port] = listen();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const sconn = await l.accept();
  await client.write(new TextEncoder().encode("abcdef"));
  const lt = Socket.from(sconn);
  let ltCalls = 0;
  let collected = "";
  const ev: Event = new Event(base, lt, EV_READ | EV_PERSIST, () => {
    ltCalls++;
    const d = lt.recv(2); // take two bytes a time: still readable afterwards
    if (d !== null) collected += new TextDecoder().decode(d);
    if (collected.length === 6) ev.del();
  });
  ev.add();
  await base.dispatch();
  assert.equal(collected, "abcdef");
  assert.equal(ltCalls, 3);

  // Edge-triggered: one arrival, one call, even though bytes stay staged.
  await client.write(new TextEncoder().encode("xyz"));
  let etCalls = 0;
  const et = new Event(base, lt, EV_READ | EV_ET | EV_PERSIST, () => {
    etCalls++;
    lt.recv(1);
  });
  et.add();
  base.loopexit(50);
  await base.loop();
  assert.equal(etCalls, 1);
  et.del();
  client.close();
  lt.close();
  l.close();
  base.free();
});

Deno.test("EV_WRITE is ready while the outgoing queue is below its limit", async () => {
  const base = new EventBase();
  const [l, port] = listen();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const s = Socket.from(await l.accept());
  s.setSendLimit(64 * 1024);
  let writes = 0;
  let accepted = 0;
  const chunk = new Uint8Array(16 * 1024);
  const ev: Event = new Event(base, s, EV_WRITE | EV_PERSIST, () => {
    writes++;
    accepted += s.send(chunk);
    if (accepted >= 1024 * 1024) ev.del();
  });
  ev.add();
  const reader = (async () => {
    const buf = new Uint8Array(65536);
    let total = 0;
    while (total < 1024 * 1024) {
      const n = await client.read(buf);
      if (n === null) break;
      total += n;
    }
    return total;
  })();
  await base.dispatch();
  assert.equal(await reader, 1024 * 1024);
  assert.equal(accepted, 1024 * 1024);
  assert.ok(writes >= 16);
  s.close();
  client.close();
  l.close();
  base.free();
});

Deno.test("sending to a reset peer is an error result, never an uncaught exception", async () => {
  const base = new EventBase();
  const [l, port] = listen();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const s = Socket.from(await l.accept());
  client.close();
  let err: Error | null = null;
  let rounds = 0;
  const ev: Event = new Event(base, s, EV_WRITE | EV_READ | EV_PERSIST, () => {
    rounds++;
    try {
      s.send(new Uint8Array(64 * 1024));
      s.recv();
    } catch (e) {
      err = e as Error;
    }
    if (err !== null || s.error() !== null || rounds > 10_000) ev.del();
  }, null);
  ev.add();
  await base.dispatch();
  assert.ok(err !== null || s.error() !== null, "error reported");
  assert.throws(() => s.send("more"));
  s.close();
  l.close();
  base.free();
});

Deno.test("I/O event with a timeout fires EV_TIMEOUT when nothing arrives", async () => {
  const base = new EventBase();
  const [l, port] = listen();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const s = Socket.from(await l.accept());
  let what = 0;
  new Event(base, s, EV_READ, (_s, w) => what = w).add(20);
  await base.dispatch();
  assert.equal(what, EV_TIMEOUT);
  client.close();
  s.close(); // closing with a read in flight is fine
  l.close();
  base.free();
});

Deno.test("FIFO read through an EV_READ | EV_PERSIST event", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/fifo`;
  const mk = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(mk.code, 0);
  const base = new EventBase();
  const writer = (async () => {
    const w = await Deno.open(path, { write: true });
    await w.write(new TextEncoder().encode("line one\nline two\n"));
    w.close();
  })();
  const r = await Deno.open(path, { read: true });
  const s = Socket.from(r);
  let text = "";
  const ev: Event = new Event(base, s, EV_READ | EV_PERSIST, () => {
    const d = s.recv();
    if (d === null) return;
    if (d.length === 0) {
      ev.del();
      return;
    }
    text += new TextDecoder().decode(d);
  });
  ev.add();
  await base.dispatch();
  await writer;
  assert.equal(text, "line one\nline two\n");
  s.close();
  base.free();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("datagram recvfrom/sendto", async () => {
  const base = new EventBase();
  const a = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const b = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const sa = Socket.from(a);
  const sb = Socket.from(b);
  let got = "";
  new Event(base, sb, EV_READ, () => {
    const d = sb.recvfrom();
    if (d !== null) {
      got = new TextDecoder().decode(d[0]);
      assert.equal((d[1] as Deno.NetAddr).port, (a.addr as Deno.NetAddr).port);
    }
  }).add();
  assert.equal(sa.sendto("ping", b.addr), 4);
  await base.dispatch();
  assert.equal(got, "ping");
  sa.close();
  sb.close();
  base.free();
});

Deno.test("small recv and send copies stay intact after the shared slab is replaced", async () => {
  const base = new EventBase();
  const [l, port] = listen();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const server = await l.accept();
  const s = Socket.from(server);
  // 100 messages of 1 500 bytes: about 150 KiB of small copies, more than two 64 KiB slabs.
  const N = 100;
  const SIZE = 1500;
  const kept: Uint8Array[] = [];
  let want = 0;
  const ev = new Event(base, s, EV_READ | EV_PERSIST, () => {
    const d = s.recv(SIZE - (want % SIZE));
    if (d === null || d.length === 0) return;
    kept.push(d);
    s.send(d); // echoed through the send slab while later recvs are carved
    want += d.length;
    if (want === N * SIZE) {
      ev.del();
      s.close();
    }
  });
  ev.add();
  const loop = base.dispatch();
  const sent = new Uint8Array(N * SIZE);
  for (let i = 0; i < N; i++) sent.fill(i, i * SIZE, (i + 1) * SIZE);
  let off = 0;
  while (off < sent.length) off += await client.write(sent.subarray(off));
  const back = new Uint8Array(sent.length);
  let got = 0;
  while (got < back.length) {
    const n = await client.read(back.subarray(got));
    if (n === null) break;
    got += n;
  }
  await loop;
  assert.equal(got, sent.length);
  assert.ok(back.every((v, i) => v === sent[i]), "echoed bytes differ");
  const joined = new Uint8Array(sent.length);
  let p = 0;
  for (const d of kept) {
    joined.set(d, p);
    p += d.length;
  }
  assert.equal(p, sent.length);
  assert.ok(joined.every((v, i) => v === sent[i]), "a kept recv result was overwritten");
  client.close();
  l.close();
  base.free();
});
