import assert from "node:assert/strict";
import {
  EV_PERSIST,
  EV_READ,
  EV_SIGNAL,
  EV_TIMEOUT,
  EV_WRITE,
  Event,
  EventBase,
  evsignalNew,
  evtimerNew,
} from "../reactor/mod.ts";

Deno.test("misuse throws: EV_SIGNAL with EV_READ, bad timeout", () => {
  const base = new EventBase();
  assert.throws(() => new Event(base, "SIGINT", EV_SIGNAL | EV_READ, () => {}), TypeError);
  const ev = evtimerNew(base, () => {});
  assert.throws(() => ev.add(-1), RangeError);
  assert.throws(() => base.once(null, EV_SIGNAL, () => {}), TypeError);
  assert.throws(() => base.once(null, EV_PERSIST | EV_TIMEOUT, () => {}), TypeError);
  assert.throws(() => base.once(null, 0, () => {}), TypeError);
  base.free();
});

Deno.test("non-persistent events are non-pending before the callback, which may re-add", async () => {
  const base = new EventBase();
  let n = 0;
  const ev: Event = evtimerNew(base, () => {
    assert.equal(ev.pending(EV_TIMEOUT), 0);
    if (++n < 3) ev.add(1);
  });
  ev.add(1);
  assert.equal(ev.pending(EV_TIMEOUT), EV_TIMEOUT);
  assert.equal(await base.dispatch(), 1);
  assert.equal(n, 3);
  base.free();
});

Deno.test("re-adding reschedules the timeout", async () => {
  const base = new EventBase();
  let at = 0;
  const t0 = performance.now();
  const ev = evtimerNew(base, () => at = performance.now() - t0);
  ev.add(5);
  ev.add(40);
  await base.dispatch();
  assert.ok(at >= 38, `fired at ${at}`);
  base.free();
});

Deno.test("active() ORs result flags; pending() reports them", async () => {
  const base = new EventBase();
  let got = 0;
  const ev = new Event(base, null, 0, (_s, what) => got = what);
  ev.active(EV_READ);
  ev.active(EV_WRITE);
  assert.equal(ev.pending(EV_READ | EV_WRITE), EV_READ | EV_WRITE);
  await base.dispatch();
  assert.equal(got, EV_READ | EV_WRITE);
  base.free();
});

Deno.test("del() of an active event from another callback cancels its call", async () => {
  const base = new EventBase();
  const ran: string[] = [];
  const b = new Event(base, null, 0, () => ran.push("b"));
  const a = new Event(base, null, 0, () => {
    ran.push("a");
    b.del();
  });
  a.active(EV_TIMEOUT);
  b.active(EV_TIMEOUT);
  await base.dispatch();
  assert.deepEqual(ran, ["a"]);
  base.free();
});

Deno.test("free() inside its own callback is safe", async () => {
  const base = new EventBase();
  let n = 0;
  const ev: Event = new Event(base, null, EV_PERSIST, () => {
    n++;
    ev.free();
  });
  ev.add(1);
  assert.equal(await base.dispatch(), 1);
  assert.equal(n, 1);
  assert.equal(ev.initialized(), false);
  assert.throws(() => ev.add(1));
  base.free();
});

Deno.test("once(): timeout 0 runs in call order; freed after running", async () => {
  const base = new EventBase();
  const ran: number[] = [];
  for (let i = 0; i < 5; i++) base.once(null, EV_TIMEOUT, () => ran.push(i));
  base.once(
    null,
    EV_TIMEOUT,
    (_s, what, arg) => {
      assert.equal(what, EV_TIMEOUT);
      ran.push(arg as number);
    },
    99,
    5,
  );
  assert.equal(await base.dispatch(), 1);
  assert.deepEqual(ran, [0, 1, 2, 3, 4, 99]);
  let count = 0;
  base.foreachEvent(() => {
    count++;
  });
  assert.equal(count, 0);
  base.free();
});

Deno.test("persistent timer: drift-free, and fires once after a stall", async () => {
  const base = new EventBase();
  const times: number[] = [];
  const t0 = performance.now();
  const ev = new Event(base, null, EV_PERSIST, () => {
    times.push(performance.now() - t0);
    if (times.length === 1) {
      const s = performance.now();
      while (performance.now() - s < 65) { /* stall over three periods */ }
    }
    if (times.length === 3) ev.del();
  });
  ev.add(20);
  await base.dispatch();
  assert.equal(times.length, 3);
  // After the 65 ms stall the timer fires once, not three times in a row.
  assert.ok(times[2]! - times[1]! >= 15, JSON.stringify(times));
  base.free();
});

Deno.test("persistent event with timeout activated by hand re-arms from now", async () => {
  const base = new EventBase();
  const calls: [number, number][] = [];
  const t0 = performance.now();
  const ev = new Event(base, null, EV_PERSIST, (_s, what) => {
    calls.push([Math.round(performance.now() - t0), what]);
    if (calls.length === 3) ev.del();
  });
  ev.add(40);
  setTimeout(() => ev.active(EV_READ), 20);
  await base.dispatch();
  assert.equal(calls[0]![1], EV_READ);
  assert.equal(calls[1]![1], EV_TIMEOUT);
  assert.ok(calls[1]![0] >= 55, JSON.stringify(calls)); // 20 + 40, not 40
  base.free();
});

Deno.test("removeTimer drops only the timeout", () => {
  const base = new EventBase();
  const ev = evsignalNew(base, "SIGUSR2", () => {});
  ev.add(1000);
  assert.equal(ev.pending(EV_TIMEOUT | EV_SIGNAL), EV_TIMEOUT | EV_SIGNAL);
  ev.removeTimer();
  assert.equal(ev.pending(EV_TIMEOUT | EV_SIGNAL), EV_SIGNAL);
  ev.del();
  base.free();
});

Deno.test("dump() and foreachEvent() list inserted and active events", () => {
  const base = new EventBase();
  const a = new Event(base, null, EV_PERSIST, () => {});
  a.add(1000);
  const b = new Event(base, null, 0, () => {});
  b.active(EV_TIMEOUT);
  const c = evsignalNew(base, "SIGUSR2", () => {});
  c.add();
  const seen: Event[] = [];
  base.foreachEvent((ev) => {
    seen.push(ev);
  });
  assert.equal(seen.length, 3);
  let first = 0;
  base.foreachEvent(() => {
    first++;
    return true;
  });
  assert.equal(first, 1);
  const d = base.dump();
  assert.match(d, /Inserted events:/);
  assert.match(d, /Persist Timeout=/);
  assert.match(d, /sig SIGUSR2.*Signal/);
  assert.match(d, /Active events:\n.*Timeout active/);
  base.free();
});
