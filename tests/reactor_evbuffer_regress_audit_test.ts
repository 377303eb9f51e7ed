// Audit of the reactor and Evbuffer against libevent's regress tests (inventory §4.1, §4.2) and
// the reactor/evbuffer quirks of §6. "Regression test." marks a behaviour that differs from
// libevent (expected to fail until fixed); "Control:" marks covered-and-matching behaviour.
import assert from "node:assert/strict";
import {
  EV_CLOSED,
  EV_ET,
  EV_PERSIST,
  EV_READ,
  EV_SIGNAL,
  EV_TIMEOUT,
  EV_WRITE,
  Event,
  EventBase,
  EVLOOP_NONBLOCK,
  EVLOOP_ONCE,
  evtimerNew,
  Socket,
} from "../reactor/mod.ts";
import { Evbuffer, EVBUFFER_EOL_ANY, EVBUFFER_EOL_CRLF } from "../bufferevent/mod.ts";
import { connectedPair } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string) => enc.encode(s);

/** Loops (ONCE) until every socket in `socks` has bytes staged (level-triggered probes). */
async function waitStaged(base: EventBase, socks: Socket[]): Promise<void> {
  const seen = new Set<Socket>();
  const probes = socks.map((s) =>
    new Event(base, s, EV_READ | EV_PERSIST, () => {
      seen.add(s);
    })
  );
  for (const p of probes) p.add();
  while (seen.size < socks.length) await base.loop(EVLOOP_ONCE);
  for (const p of probes) p.del();
}

// ---------------------------------------------------------------- reactor: EV_ET / EV_CLOSED

Deno.test("EV_ET is reported in the result flags of an edge-triggered read (et/et)", async () => {
  // Regression test. libevent et/et: read_cb checks `event & EV_ET` (was_et), and
  // simpleclose_*_et expects got_event == EV_CLOSED|EV_ET: epoll activates I/O events with
  // `ev->ev_events & (what | EV_ET)`, so an EV_ET event sees EV_ET in `what`. evdeno's
  // Socket #fire (reactor/socket.ts) activates with `ev.events & mask & IO`, dropping EV_ET.
  // Likely fix: `base._activate(ev, r | (ev.events & EV_ET))` in #fire.
  const base = new EventBase();
  const [client, server, l] = await connectedPair();
  const s = Socket.from(server);
  let what = 0;
  const ev = new Event(base, s, EV_READ | EV_ET | EV_PERSIST, (_src, w) => {
    what = w;
    s.recv();
    ev.del();
  });
  ev.add();
  try {
    await client.write(b("x"));
    await base.dispatch();
    assert.equal(what & EV_READ, EV_READ);
    assert.equal(what & EV_ET, EV_ET, "EV_ET missing from the result flags");
  } finally {
    ev.del();
    client.close();
    s.close();
    l.close();
    base.free();
  }
});

for (const mode of ["close", "shutdown"] as const) {
  Deno.test(`EV_CLOSED|EV_ET reports EV_CLOSED|EV_ET on peer ${mode} (simpleclose_${mode}_et)`, async () => {
    // Regression test. libevent simpleclose_{close,shutdown}_et: got_event == EV_CLOSED|EV_ET
    // (events & ~EV_PERSIST). evdeno drops EV_ET in Socket #fire (reactor/socket.ts,
    // `r = ev.events & mask & IO`); fix: OR in `ev.events & EV_ET`.
    const base = new EventBase();
    const [client, server, l] = await connectedPair();
    const s = Socket.from(server);
    let got = 0;
    const ev = new Event(base, s, EV_CLOSED | EV_ET, (_src, w) => got = w);
    ev.add();
    try {
      if (mode === "close") client.close();
      else client.closeWrite();
      await base.loop(EVLOOP_ONCE);
      assert.equal(got & EV_CLOSED, EV_CLOSED);
      assert.equal(await base.loop(EVLOOP_NONBLOCK), 1);
      assert.equal(got, EV_CLOSED | EV_ET);
    } finally {
      ev.del();
      if (mode === "shutdown") client.close();
      s.close();
      l.close();
      base.free();
    }
  });
}

for (const mode of ["close", "shutdown"] as const) {
  for (const persist of [false, true]) {
    Deno.test(`Control: EV_CLOSED${persist ? "|EV_PERSIST" : ""} on peer ${mode}; NONBLOCK loop returns !persist (simpleclose)`, async () => {
      const base = new EventBase();
      const [client, server, l] = await connectedPair();
      const s = Socket.from(server);
      const events = EV_CLOSED | (persist ? EV_PERSIST : 0);
      let got = 0;
      let calls = 0;
      const ev = new Event(base, s, events, (_src, w) => {
        got = w;
        calls++;
      });
      ev.add();
      if (mode === "close") client.close();
      else client.closeWrite();
      await base.loop(EVLOOP_ONCE);
      assert.equal(got, EV_CLOSED);
      assert.equal(await base.loop(EVLOOP_NONBLOCK), persist ? 0 : 1);
      // Level-triggered and persistent: the close is reported again on the next pass.
      assert.equal(calls, persist ? 2 : 1);
      ev.del();
      if (mode === "shutdown") client.close();
      s.close();
      l.close();
      base.free();
    });
  }
}

Deno.test("Control: a peer close is seen as readable (EOF) and writable (simpleclose_rw)", async () => {
  const base = new EventBase();
  const [client, server, l] = await connectedPair();
  const s = Socket.from(server);
  let rWhat = 0;
  let wWhat = 0;
  let eof: Uint8Array | null = null;
  new Event(base, s, EV_READ, (_src, w) => {
    rWhat = w;
    eof = s.recv();
  }).add();
  new Event(base, s, EV_WRITE, (_src, w) => wWhat = w).add();
  client.close();
  await base.dispatch();
  assert.equal(rWhat, EV_READ);
  assert.equal(wWhat, EV_WRITE);
  assert.ok(eof !== null && (eof as Uint8Array).length === 0, "recv() at EOF is empty");
  s.close();
  l.close();
  base.free();
});

// ---------------------------------------------------------------- reactor: simple I/O

Deno.test("Control: two non-persistent readers on one socket both fire (simpleread_multiple)", async () => {
  const base = new EventBase();
  const [client, server, l] = await connectedPair();
  const s = Socket.from(server);
  const fired: number[] = [];
  new Event(base, s, EV_READ, (_src, w) => fired.push(w)).add();
  new Event(base, s, EV_READ, (_src, w) => fired.push(w)).add();
  await client.write(b("hi"));
  assert.equal(await base.loop(EVLOOP_ONCE), 0);
  assert.deepEqual(fired, [EV_READ, EV_READ]);
  assert.equal(dec.decode(s.recv()!), "hi");
  client.close();
  s.close();
  l.close();
  base.free();
});

Deno.test("Control: two non-persistent readers re-adding each other leave exactly one pending (nonpersist_readd)", async () => {
  const base = new EventBase();
  const [client, server, l] = await connectedPair();
  const s1 = Socket.from(server);
  const s2 = Socket.from(client);
  await server.write(b("Hello"));
  await client.write(b("Hello"));
  await waitStaged(base, [s1, s2]);
  let ok = 0;
  let lastAdded: Event | null = null;
  const readd = (sock: Socket, other: () => Event) => () => {
    sock.recv();
    lastAdded = other();
    other().add();
    ok++;
  };
  const ev1: Event = new Event(base, s1, EV_READ, readd(s1, () => ev2));
  const ev2: Event = new Event(base, s2, EV_READ, readd(s2, () => ev1));
  ev1.add();
  ev2.add();
  await base.loop(EVLOOP_ONCE);
  assert.equal(ok, 2);
  assert.ok(lastAdded !== null);
  if (lastAdded === ev1) {
    assert.ok(ev1.pending(EV_READ) !== 0 && ev2.pending(EV_READ) === 0);
  } else {
    assert.ok(ev1.pending(EV_READ) === 0 && ev2.pending(EV_READ) !== 0);
  }
  ev1.del();
  ev2.del();
  s1.close();
  s2.close();
  l.close();
  base.free();
});

Deno.test("Control: a non-persistent read fires once even when more data arrives (want_only_once)", async () => {
  const base = new EventBase();
  const [client, server, l] = await connectedPair();
  const s = Socket.from(server);
  let calls = 0;
  new Event(base, s, EV_READ, () => {
    calls++;
    s.recv(1); // leave bytes staged
    void client.write(b("more"));
  }).add();
  await client.write(b("first"));
  base.loopexit(60);
  assert.equal(await base.dispatch(), 0);
  assert.equal(calls, 1);
  client.close();
  s.close();
  l.close();
  base.free();
});

Deno.test("Control: separate READ and WRITE events on one socket; deleting one keeps the other (multiple_events_for_same_fd)", async () => {
  const base = new EventBase();
  const [client, server, l] = await connectedPair();
  const s = Socket.from(server);
  let wcalls = 0;
  let got = "";
  const wev: Event = new Event(base, s, EV_WRITE | EV_PERSIST, () => {
    wcalls++;
    s.send("ping");
    wev.del();
  });
  const rev: Event = new Event(base, s, EV_READ | EV_PERSIST, () => {
    const d = s.recv();
    if (d === null) return;
    got += dec.decode(d);
    if (got === "pong") rev.del();
  });
  wev.add();
  rev.add();
  const peer = (async () => {
    const buf = new Uint8Array(4);
    let n = 0;
    while (n < 4) n += (await client.read(buf.subarray(n)))!;
    assert.equal(dec.decode(buf), "ping");
    await client.write(b("pong"));
  })();
  assert.equal(await base.dispatch(), 1);
  await peer;
  assert.equal(wcalls, 1);
  assert.equal(got, "pong");
  client.close();
  s.close();
  l.close();
  base.free();
});

Deno.test("Control: data moves intact through re-added non-persistent read/write events (multiple)", async () => {
  const base = new EventBase();
  const [client, server, l] = await connectedPair();
  const a = Socket.from(server);
  const z = Socket.from(client);
  const data = new Uint8Array(40000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
  let off = 0;
  const got: number[] = [];
  const wev: Event = new Event(base, a, EV_WRITE, () => {
    const n = a.send(data.subarray(off, Math.min(off + 1024, data.length)));
    off += n;
    if (off < data.length) wev.add();
    else a.close();
  });
  const rev: Event = new Event(base, z, EV_READ, () => {
    const d = z.recv();
    if (d === null) return rev.add();
    if (d.length === 0) return;
    for (const x of d) got.push(x);
    rev.add();
  });
  wev.add();
  rev.add();
  assert.equal(await base.dispatch(), 1);
  assert.equal(got.length, data.length);
  assert.deepEqual(new Uint8Array(got), data);
  z.close();
  l.close();
  base.free();
});

for (const slow of [false, true]) {
  Deno.test(`Control: 70 ready write events on UDP sockets (many_events${slow ? "_slow_add" : ""})`, async () => {
    const MANY = 70;
    const base = new EventBase();
    const socks: Socket[] = [];
    const evs: Event[] = [];
    const called = new Array<number>(MANY).fill(0);
    for (let i = 0; i < MANY; i++) {
      const s = Socket.from(
        Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
      );
      socks.push(s);
      const ev = new Event(base, s, EV_WRITE | (slow ? EV_PERSIST : 0), () => called[i]++);
      evs.push(ev);
      ev.add();
      if (slow) await base.loop(EVLOOP_NONBLOCK | EVLOOP_ONCE);
    }
    await base.loop(slow ? EVLOOP_NONBLOCK | EVLOOP_ONCE : EVLOOP_NONBLOCK);
    for (let i = 0; i < MANY; i++) {
      assert.equal(called[i], slow ? MANY - i + 1 : 1, `event ${i}`);
    }
    for (const ev of evs) ev.del();
    for (const s of socks) s.close();
    base.free();
  });
}

// ---------------------------------------------------------------- reactor: timeouts

Deno.test("Control: a timer activated by hand whose timeout also expired runs once with READ|TIMEOUT (event_timeout_lost)", async () => {
  const base = new EventBase();
  const seen: number[] = [];
  const ev = evtimerNew(base, (_s, w) => seen.push(w));
  ev.add(1);
  ev.active(EV_READ);
  const t0 = performance.now();
  // Let the 1 ms timeout pass while no loop runs.
  while (performance.now() - t0 < 5) { /* spin */ }
  await base.loop(EVLOOP_ONCE);
  assert.deepEqual(seen, [EV_READ | EV_TIMEOUT]);
  assert.equal(ev.pending(EV_TIMEOUT | EV_READ), 0);
  base.free();
});

Deno.test("Control: removeTimer on a persistent read keeps READ pending and the timer never fires (event_remove_timeout)", async () => {
  const base = new EventBase();
  const [client, server, l] = await connectedPair();
  const s = Socket.from(server);
  let calls = 0;
  const ev = new Event(base, s, EV_READ | EV_PERSIST, () => calls++);
  ev.add(10);
  ev.removeTimer();
  assert.equal(ev.pending(EV_READ | EV_TIMEOUT), EV_READ);
  let timerCalls = 0;
  const t = evtimerNew(base, () => timerCalls++);
  t.add(5);
  t.removeTimer();
  base.loopexit(60);
  assert.equal(await base.loop(), 0);
  assert.equal(calls, 0);
  assert.equal(timerCalls, 0);
  assert.equal(ev.pending(EV_READ | EV_TIMEOUT), EV_READ);
  ev.del();
  client.close();
  s.close();
  l.close();
  base.free();
});

Deno.test("Control: deleting the only (far) timer from outside wakes the loop, which returns 1 (del_timeout_notify)", async () => {
  const base = new EventBase();
  const ev = evtimerNew(base, () => {});
  ev.add(10_000);
  const t0 = performance.now();
  const id = setTimeout(() => ev.del(), 20);
  const r = await base.dispatch();
  clearTimeout(id);
  assert.equal(r, 1);
  assert.ok(performance.now() - t0 < 1000);
  base.free();
});

Deno.test("Control: priorities with 1 and 2 queues and zero-timeout re-adding timers (priorities)", async () => {
  for (const n of [1, 2]) {
    const base = new EventBase({ priorities: n });
    const count = { one: 0, two: 0 };
    const mk = (k: "one" | "two") => {
      const ev: Event = evtimerNew(base, () => {
        if (count[k] === 3) {
          base.loopexit();
          return;
        }
        count[k]++;
        ev.add(0);
      });
      return ev;
    };
    const one = mk("one");
    const two = mk("two");
    if (n > 1) {
      one.prioritySet(0);
      two.prioritySet(n - 1);
    }
    one.add(0);
    two.add(0);
    await base.dispatch();
    // libevent: with 1 queue both run 3 times; with 2, loopexit's event (priority 1) runs
    // right after `two`'s first call.
    assert.deepEqual(count, n === 1 ? { one: 3, two: 3 } : { one: 3, two: 1 }, `n=${n}`);
    base.free();
  }
});

Deno.test("Control: once() pure timeout with no delay runs before a zero timer added earlier (quirk 4, event_once)", async () => {
  const base = new EventBase();
  const order: string[] = [];
  evtimerNew(base, () => order.push("timer0")).add(0);
  base.once(null, EV_TIMEOUT, () => order.push("onceA"));
  base.once(null, EV_TIMEOUT, () => order.push("onceB"), undefined, 0);
  base.once(null, EV_TIMEOUT, (_s, w) => order.push(`once50:${w}`), undefined, 50);
  assert.throws(() => base.once(null, 0, () => {}), TypeError);
  assert.equal(await base.dispatch(), 1);
  assert.deepEqual(order, ["onceA", "onceB", "timer0", `once50:${EV_TIMEOUT}`]);
  base.free();
});

Deno.test("Control: once() with EV_READ fires on data (event_once)", async () => {
  const base = new EventBase();
  const [client, server, l] = await connectedPair();
  const s = Socket.from(server);
  let what = 0;
  base.once(s, EV_READ, (_src, w) => what = w, undefined, 2000);
  await client.write(b("x"));
  assert.equal(await base.dispatch(), 1);
  assert.equal(what, EV_READ);
  client.close();
  s.close();
  l.close();
  base.free();
});

Deno.test("Control: a far once() never fires before loopexit(75) and is released by free (event_once_never)", async () => {
  const base = new EventBase();
  let fired = 0;
  base.once(null, EV_TIMEOUT, () => fired++, undefined, 10_000);
  base.loopexit(75);
  assert.equal(await base.loop(), 0);
  assert.equal(fired, 0);
  let n = 0;
  base.foreachEvent(() => {
    n++;
  });
  assert.equal(n, 1, "the once event is still pending");
  base.free();
  n = 0;
  base.foreachEvent(() => {
    n++;
  });
  assert.equal(n, 0);
});

Deno.test("Control: pending() flags and expiry for READ/WRITE/TIMEOUT (event_pending)", async () => {
  const base = new EventBase();
  const [client, server, l] = await connectedPair();
  const s = Socket.from(server);
  const r = new Event(base, s, EV_READ, () => {});
  const w = new Event(base, s, EV_WRITE, () => {});
  const t = evtimerNew(base, () => {});
  r.add(500);
  w.add();
  t.add(500);
  const now = Date.now();
  assert.equal(r.pending(EV_READ), EV_READ);
  assert.equal(r.pending(EV_WRITE), 0);
  assert.equal(r.pending(EV_READ | EV_WRITE | EV_TIMEOUT), EV_READ | EV_TIMEOUT);
  assert.equal(w.pending(EV_READ | EV_WRITE | EV_TIMEOUT), EV_WRITE);
  assert.equal(t.pending(EV_TIMEOUT), EV_TIMEOUT);
  const at = r.timeoutAt()!;
  assert.ok(Math.abs(at - (now + 500)) < 50, `expiry ${at - now} ms away`);
  assert.equal(w.timeoutAt(), null);
  r.del();
  w.del();
  t.del();
  client.close();
  s.close();
  l.close();
  base.free();
});

Deno.test("Control: foreachEvent visits added and active events once, skips unadded, stops early (event_foreach)", () => {
  const base = new EventBase();
  const a = evtimerNew(base, () => {});
  const c = evtimerNew(base, () => {});
  const d = evtimerNew(base, () => {});
  const e = new Event(base, null, EV_PERSIST, () => {});
  const unadded = evtimerNew(base, () => {});
  a.add(100);
  c.add(200);
  d.active(EV_TIMEOUT);
  e.add(300);
  e.active(EV_TIMEOUT);
  const seen: Event[] = [];
  base.foreachEvent((ev) => {
    seen.push(ev);
  });
  assert.equal(seen.length, 4);
  assert.equal(new Set(seen).size, 4);
  assert.ok(!seen.includes(unadded));
  let n = 0;
  base.foreachEvent(() => ++n === 2);
  assert.equal(n, 2);
  base.free();
});

Deno.test("Control: gettimeofdayCached is shared by a pass until updateCacheTime (gettimeofday_cached)", async () => {
  const base = new EventBase();
  const vals: number[] = [];
  evtimerNew(base, () => {
    vals.push(base.gettimeofdayCached());
    const t0 = Date.now();
    while (Date.now() - t0 < 5) { /* spin */ }
    vals.push(base.gettimeofdayCached());
    base.updateCacheTime();
    vals.push(base.gettimeofdayCached());
  }).add(0);
  evtimerNew(base, () => vals.push(base.gettimeofdayCached())).add(0);
  await base.dispatch();
  assert.equal(vals[0], vals[1]);
  assert.ok(vals[2] >= vals[1] + 5);
  assert.equal(vals[3], vals[2]);
  base.free();
});

Deno.test("Control: re-arming a 1 ms timer never reports more remaining time than asked (event_timer)", async () => {
  const base = new EventBase();
  let n = 0;
  let worst = -Infinity;
  const ev: Event = evtimerNew(base, () => {
    if (++n === 100) return;
    ev.add(1);
    const left = ev.timeoutAt()! - (performance.timeOrigin + performance.now());
    if (left > worst) worst = left;
  });
  ev.add(1);
  await base.dispatch();
  assert.equal(n, 100);
  assert.ok(worst <= 1, `remaining ${worst} ms > 1 ms`);
  base.free();
});

Deno.test("Control: loopexit() inside a callback finishes the queue of this pass, not the next one (quirk 5)", async () => {
  const base = new EventBase();
  const order: string[] = [];
  const next = evtimerNew(base, () => order.push("next pass"));
  evtimerNew(base, () => {
    order.push("a");
    base.loopexit();
    next.add(0);
  }).add(0);
  evtimerNew(base, () => order.push("b")).add(0);
  assert.equal(await base.dispatch(), 0);
  assert.deepEqual(order, ["a", "b"]);
  assert.ok(base.gotExit());
  assert.ok(!base.gotBreak());
  next.del();
  base.free();
});

Deno.test("Control: EVLOOP_ONCE returns after running callbacks even with persistent events pending", async () => {
  const base = new EventBase();
  let n = 0;
  const ev = new Event(base, null, EV_PERSIST, () => n++);
  ev.add(1);
  assert.equal(await base.loop(EVLOOP_ONCE), 0);
  assert.equal(n, 1);
  assert.ok(ev.pending(EV_TIMEOUT) !== 0);
  ev.del();
  base.free();
});

Deno.test("Control: freeing a base with an added and an active event (free_active_base)", () => {
  const base = new EventBase();
  const a = evtimerNew(base, () => {});
  a.add(1000);
  const c = evtimerNew(base, () => {});
  c.active(EV_TIMEOUT);
  base.free();
  assert.equal(a.pending(EV_TIMEOUT | EV_READ), 0);
  assert.equal(c.pending(EV_TIMEOUT | EV_READ), 0);
});

// ---------------------------------------------------------------- reactor: signals

Deno.test("a signal event with a timeout runs its callback when the timeout fires (signal_timeout)", async () => {
  // Regression test. libevent signal/signal_timeout: a signal event added with a timeout fires
  // via the timeout in an EVLOOP_ONCE loop (timeout_process → event_active_nolock_(ev,
  // EV_TIMEOUT, 1) sets ncalls = 1, so event_signal_closure calls the callback once with
  // EV_TIMEOUT). evdeno: Event._timedOut (reactor/event.ts) activates without counting a call
  // and the EV_SIGNAL branch of Event._run loops `_ncalls` (0) times, so the callback never
  // runs; the timer is silently re-armed. Likely fix: in _run, run once when `_ncalls` is 0
  // and `res & EV_TIMEOUT` (or bump `_ncalls` in _timedOut for signal events).
  const base = new EventBase();
  let what = 0;
  let calls = 0;
  const ev = new Event(base, "SIGUSR2", EV_SIGNAL | EV_PERSIST, (_s, w) => {
    what = w;
    calls++;
  });
  ev.add(10);
  try {
    assert.equal(await base.loop(EVLOOP_ONCE), 0);
    assert.equal(calls, 1, "callback not run on timeout");
    assert.equal(what, EV_TIMEOUT);
  } finally {
    ev.del();
    base.free();
  }
});

Deno.test("a non-persistent signal event with a timeout runs its callback on timeout", async () => {
  // Regression test. Same root cause as signal_timeout (reactor/event.ts Event._run, EV_SIGNAL
  // branch runs `_ncalls` = 0 times): libevent calls the callback once with EV_TIMEOUT; evdeno
  // deletes the event and never calls it, so the timeout is lost without trace.
  const base = new EventBase();
  const seen: number[] = [];
  const ev = new Event(base, "SIGUSR2", EV_SIGNAL, (_s, w) => seen.push(w));
  ev.add(5);
  try {
    assert.equal(await base.dispatch(), 1);
    assert.deepEqual(seen, [EV_TIMEOUT]);
  } finally {
    ev.del();
    base.free();
  }
});

Deno.test("Control: a signal raised while its callback runs is delivered again (signal_while_processing)", async () => {
  const base = new EventBase();
  let calls = 0;
  const ev = new Event(base, "SIGUSR2", EV_SIGNAL | EV_PERSIST, () => {
    if (++calls === 1) Deno.kill(Deno.pid, "SIGUSR2");
    else ev.del();
  });
  ev.add();
  Deno.kill(Deno.pid, "SIGUSR2");
  assert.equal(await base.dispatch(), 1);
  assert.equal(calls, 2);
  base.free();
});

// ---------------------------------------------------------------- evbuffer

Deno.test("Control: removeBuffer/addBuffer with empty chunks in either buffer (remove_buffer_with_empty, add_buffer_with_empty)", () => {
  const src = new Evbuffer();
  const dst = new Evbuffer();
  src.addReference(b("ab"));
  src.addReference(b("cd"));
  dst.add("XY");
  dst.expand(8192); // an empty tail chunk after the data
  assert.equal(src.removeBuffer(dst, 3), 3);
  assert.equal(dst.toString(), "XYabc");
  assert.equal(src.toString(), "d");
  dst.add("!");
  assert.equal(dst.toString(), "XYabc!");

  const s2 = new Evbuffer();
  s2.add("hello ");
  s2.reserveSpace(9000); // empty reserved tail chunk in the source
  const d2 = new Evbuffer();
  d2.reserveSpace(9000); // and in the (empty) destination
  d2.addBuffer(s2);
  assert.equal(s2.length, 0);
  d2.add("world");
  assert.equal(d2.toString(), "hello world");
  assert.equal(d2.readln(EVBUFFER_EOL_ANY), null);
  assert.equal(d2.search("o w"), 4);
});

Deno.test("Control: reference drained into reserved space; prepend never writes into it (reference)", () => {
  const data = b("this is what we add as read-only memory.");
  const copy = data.slice();
  let cleanups = 0;
  const src = new Evbuffer();
  const dst = new Evbuffer();
  src.addReference(data, () => cleanups++);
  const v = dst.reserveSpace(data.length);
  v.set(src.remove(10), 0);
  src.prepend("aaaaa");
  assert.deepEqual(data, copy, "referenced memory untouched");
  src.drain(5);
  v.set(src.remove(data.length - 10), 10);
  dst.commitSpace(data.length);
  assert.equal(cleanups, 1);
  assert.deepEqual(dst.pullup(data.length), copy);
});

Deno.test("Control: prepend/prependBuffer after an empty reference; add, expand, add, printf keep order (empty_reference_prepend, add1)", () => {
  const buf = new Evbuffer();
  buf.addReference(new Uint8Array(0));
  buf.prepend("foo");
  assert.equal(buf.toString(), "foo");
  const a = new Evbuffer();
  a.addReference(new Uint8Array(0));
  const c = new Evbuffer();
  c.add("bar");
  a.prependBuffer(c);
  a.add("baz");
  assert.equal(a.toString(), "barbaz");

  const e = new Evbuffer();
  e.add("1");
  e.expand(2048);
  e.add("2");
  e.addPrintf("3");
  assert.equal(dec.decode(e.pullup()!), "123");
});

Deno.test("Control: reserve/commit across an expand and a reference tail keeps byte order (reserve_with_empty, reserve2)", () => {
  const buf = new Evbuffer();
  const v1 = buf.reserveSpace(1024);
  v1.fill(0x58, 0, 512);
  buf.commitSpace(512);
  const v2 = buf.reserveSpace(32);
  v2.fill(0x59, 0, 8);
  buf.commitSpace(8);
  buf.addReference(b("R"));
  const v3 = buf.reserveSpace(100);
  v3.set(b("after"));
  buf.commitSpace(5);
  const s = buf.toString();
  assert.equal(s.length, 526);
  assert.equal(s, "X".repeat(512) + "Y".repeat(8) + "Rafter");
  assert.equal(buf.readln(EVBUFFER_EOL_CRLF), null);
});

Deno.test("Control: deleting one of two EV_ET readers keeps the other edge-triggered (et_multiple_events)", async () => {
  const base = new EventBase();
  const [client, server, l] = await connectedPair();
  const s = Socket.from(server);
  let aCalls = 0;
  let bCalls = 0;
  const a = new Event(base, s, EV_READ | EV_ET | EV_PERSIST, () => aCalls++);
  const bEv = new Event(base, s, EV_READ | EV_ET | EV_PERSIST, () => bCalls++);
  a.add();
  bEv.add();
  a.del();
  await client.write(b("x")); // staged, never consumed: level-triggered would fire every pass
  while (bCalls === 0) await base.loop(EVLOOP_ONCE);
  base.loopexit(40);
  await base.loop();
  assert.equal(aCalls, 0);
  assert.equal(bCalls, 1);
  bEv.del();
  client.close();
  s.close();
  l.close();
  base.free();
});

Deno.test("Control: a signal raised before the loop runs is delivered by an ONCE loop (immediatesignal)", async () => {
  const base = new EventBase();
  let calls = 0;
  const ev = new Event(base, "SIGUSR1", EV_SIGNAL | EV_PERSIST, () => calls++);
  ev.add();
  Deno.kill(Deno.pid, "SIGUSR1");
  try {
    assert.equal(await base.loop(EVLOOP_ONCE), 0);
    assert.equal(calls, 1);
  } finally {
    ev.del();
    base.free();
  }
});
