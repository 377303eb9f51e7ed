// Review probes for the reactor: edge cases the other reactor suites do not cover.
// Tests whose comment starts "Regression test" cover bugs a review found (now fixed).
import assert from "node:assert/strict";
import {
  EV_PERSIST,
  EV_READ,
  EV_SIGNAL,
  EV_TIMEOUT,
  Event,
  EventBase,
  EVLOOP_NONBLOCK,
  EVLOOP_ONCE,
  evsignalNew,
  evtimerNew,
} from "../reactor/mod.ts";

/** Runs `base.dispatch()` but breaks it after `ms` so a hang fails the test instead of the run. */
async function dispatchBounded(
  base: EventBase,
  ms: number,
): Promise<{ ret: number; hung: boolean }> {
  let hung = false;
  const guard = setTimeout(() => {
    hung = true;
    base.loopbreak();
  }, ms);
  try {
    const ret = await base.dispatch();
    return { ret, hung };
  } finally {
    clearTimeout(guard);
  }
}

// ---------------------------------------------------------------- signals and ncalls

// Regression test. Before the fix: libevent's event_active(ev, EV_SIGNAL, n) on a signal event runs its callback n times
// (event.c:event_signal_closure loops ev_ncalls times; only loopbreak or event_del stop it). An
// evsignal that was activated by hand but never added runs only once here: Event._run breaks out
// of the ncalls loop whenever a persistent signal event is not "inserted".
Deno.test("review: active(EV_SIGNAL, 3) on a persistent signal event that was never added runs 3 times", async () => {
  const base = new EventBase();
  let calls = 0;
  const ev = evsignalNew(base, "SIGUSR2", () => {
    calls++;
  });
  ev.active(EV_SIGNAL, 3);
  await base.loop(EVLOOP_NONBLOCK);
  ev.free();
  base.free();
  assert.equal(calls, 3);
});

// Regression test. Before the fix: event_del()/event_free() from inside a signal callback stops the remaining ncalls in
// libevent (event_del_nolock_ zeroes *ev_pncalls; test signal/signal_free_in_callback: "the cb
// frees its event on the first call → only one call"). For a NON-persistent signal event evdeno
// keeps calling the callback of the deleted (even freed) event.
Deno.test("review: a non-persistent signal event freed in its callback gets no further ncalls", async () => {
  const base = new EventBase();
  let calls = 0;
  const ev = new Event(base, "SIGUSR2", EV_SIGNAL, () => {
    calls++;
    ev.free();
  });
  ev.add();
  ev.active(EV_SIGNAL, 3);
  await base.loop(EVLOOP_NONBLOCK);
  base.free();
  assert.equal(calls, 1);
});

Deno.test("review: a persistent signal event freed in its callback gets no further ncalls (ok)", async () => {
  const base = new EventBase();
  let calls = 0;
  const ev = evsignalNew(base, "SIGUSR2", () => {
    calls++;
    ev.free();
  });
  ev.add();
  ev.active(EV_SIGNAL, 3);
  await base.loop(EVLOOP_NONBLOCK);
  assert.equal(calls, 1);
  base.free();
});

Deno.test("review: loopbreak inside a signal callback stops the remaining ncalls (ok)", async () => {
  const base = new EventBase();
  let calls = 0;
  const ev = evsignalNew(base, "SIGUSR2", () => {
    calls++;
    base.loopbreak();
  });
  ev.add();
  ev.active(EV_SIGNAL, 3);
  await base.dispatch();
  assert.equal(calls, 1);
  ev.free();
  base.free();
});

// ---------------------------------------------------------------- pending-event accounting

// Regression test. Before the fix: a persistent timer whose timeout already fired (active, timer disarmed) and that gets
// removeTimer() before its callback runs stays counted as pending forever: after its callback
// nothing is pending, yet dispatch() never returns 1 (libevent returns 1 as soon as no event is
// added or active). Event.removeTimer() only uncounts when the event is not queued, and
// Event._run() never uncounts a persistent event whose timeout was dropped.
Deno.test("review: removeTimer() on a fired persistent timer before its callback does not leak a pending count", async () => {
  const base = new EventBase();
  let calls = 0;
  const victim = new Event(base, null, EV_PERSIST, () => {
    calls++;
  });
  // Same deadline, added first: runs first in the pass and drops the victim's timeout.
  const first = evtimerNew(base, () => victim.removeTimer());
  first.add(5);
  victim.add(5);
  const { ret, hung } = await dispatchBounded(base, 500);
  const nEvents = base.getNumEvents();
  victim.free();
  first.free();
  base.free();
  assert.equal(calls, 1);
  assert.equal(hung, false, "dispatch() kept waiting with no event pending");
  assert.equal(ret, 1);
  assert.equal(nEvents, 0);
});

// Regression test. Before the fix: same accounting leak as above, reached through active() + removeTimer().
Deno.test("review: same leak through active() + removeTimer() on a persistent timer", async () => {
  const base = new EventBase();
  let calls = 0;
  const ev = new Event(base, null, EV_PERSIST, () => {
    calls++;
  });
  ev.add(10_000);
  ev.active(EV_READ);
  ev.removeTimer();
  const { ret, hung } = await dispatchBounded(base, 500);
  ev.free();
  base.free();
  assert.equal(calls, 1);
  assert.equal(hung, false, "dispatch() kept waiting with no event pending");
  assert.equal(ret, 1);
});

// ---------------------------------------------------------------- huge timeouts

// Regression test. Before the fix: a timeout longer than 2^31-1 ms (~24.8 days) is handed to setTimeout as is; the runtime
// clamps it to 1 ms (TimeoutOverflowWarning), so the waiting loop wakes every millisecond to find
// nothing due and re-arms the same overflowing timer: a busy wake-up loop for as long as the
// timer is pending. libevent waits with the real timeout (or a capped one) and does not spin.
// EventBase.#armWait (reactor/event_base.ts) needs to cap the delay.
Deno.test("review: a 30-day timer does not make the loop wake every millisecond", async () => {
  const base = new EventBase();
  const ev = evtimerNew(base, () => {});
  ev.add(30 * 24 * 3600 * 1000);
  const realSetTimeout = globalThis.setTimeout;
  let armed = 0;
  // Count runtime timers armed with an overflowing delay while the loop waits.
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    if ((ms ?? 0) > 0x7fffffff) armed++;
    return realSetTimeout(fn, ms);
  }) as typeof setTimeout;
  try {
    const { hung } = await dispatchBounded(base, 60);
    assert.equal(hung, true); // the timer is still pending: broken by the guard, as intended
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
  ev.free();
  base.free();
  assert.ok(armed <= 2, `armed an overflowing runtime timer ${armed} times in 60 ms`);
});

// ---------------------------------------------------------------- dump / foreach

// Regression test. Before the fix: dump() leaves an added event out of "Inserted events:" while it is also active with the
// same flags (libevent's event_base_dump_events lists every inserted event, then the active ones).
Deno.test("review: dump() lists an inserted signal event that is also active", () => {
  const base = new EventBase();
  const ev = evsignalNew(base, "SIGUSR2", () => {});
  ev.add();
  ev.active(EV_SIGNAL);
  const d = base.dump();
  ev.free();
  base.free();
  const inserted = d.split("Active events:")[0]!;
  assert.match(inserted, /sig SIGUSR2.*Signal/, d);
});

Deno.test("review: foreachEvent visits an event that is both timed and active once (ok)", () => {
  const base = new EventBase();
  const ev = new Event(base, null, EV_PERSIST, () => {});
  ev.add(1000);
  ev.active(EV_READ);
  let n = 0;
  base.foreachEvent(() => {
    n++;
  });
  assert.equal(n, 1);
  ev.free();
  base.free();
});

// ---------------------------------------------------------------- once, loop control

Deno.test("review: once() with EV_TIMEOUT and zero delay runs even inside NONBLOCK (ok)", async () => {
  const base = new EventBase();
  const order: number[] = [];
  base.once(null, EV_TIMEOUT, () => order.push(1));
  base.once(null, EV_TIMEOUT, () => order.push(2), undefined, 0);
  assert.equal(await base.loop(EVLOOP_NONBLOCK), 0);
  assert.deepEqual(order, [1, 2]);
  assert.equal(await base.dispatch(), 1);
  base.free();
});

Deno.test("review: EVLOOP_ONCE with only a future timer waits for it (ok)", async () => {
  const base = new EventBase();
  let fired = 0;
  evtimerNew(base, () => fired++).add(20);
  const t0 = performance.now();
  assert.equal(await base.loop(EVLOOP_ONCE), 0);
  assert.equal(fired, 1);
  assert.ok(performance.now() - t0 >= 15);
  base.free();
});

Deno.test("review: priority preemption: activating a more urgent event from a callback runs it next (ok)", async () => {
  const base = new EventBase({ priorities: 8 });
  const order: string[] = [];
  const second = new Event(base, null, 0, () => order.push("second"));
  second.prioritySet(4);
  const urgent = new Event(base, null, 0, () => order.push("urgent"));
  urgent.prioritySet(0);
  const first = new Event(base, null, 0, () => {
    order.push("first");
    second.active(EV_TIMEOUT);
    urgent.active(EV_TIMEOUT);
  });
  first.prioritySet(4);
  first.active(EV_TIMEOUT);
  await base.dispatch();
  assert.deepEqual(order, ["first", "urgent", "second"]);
  base.free();
});

Deno.test("review: base.free() from inside a callback stops the loop (ok)", async () => {
  const base = new EventBase();
  let later = 0;
  evtimerNew(base, () => base.free()).add(0);
  evtimerNew(base, () => later++).add(0);
  const { hung } = await dispatchBounded(base, 500);
  assert.equal(hung, false);
  assert.equal(later, 0);
});

Deno.test("review: timer re-added with a shorter timeout from another callback moves earlier (ok)", async () => {
  const base = new EventBase();
  const t0 = performance.now();
  let at = -1;
  const ev = evtimerNew(base, () => at = performance.now() - t0);
  ev.add(2000);
  evtimerNew(base, () => ev.add(10)).add(5);
  await base.dispatch();
  assert.ok(at >= 10 && at < 1000, `fired at ${at}`);
  base.free();
});

Deno.test("review: loopexit(delay) before loop() with only that exit pending returns 0 after the delay (ok)", async () => {
  const base = new EventBase();
  const t0 = performance.now();
  base.loopexit(30);
  assert.equal(await base.dispatch(), 0);
  assert.ok(performance.now() - t0 >= 25);
  assert.equal(base.gotExit(), true);
  base.free();
});

// Regression test. Before the fix: when the runtime refuses the signal (Deno.addSignalListener throws for SIGKILL/SIGSTOP),
// Event.add() throws but has already marked the event inserted and counted it: pending() reports
// EV_SIGNAL and dispatch() never returns 1. libevent's event_add fails cleanly for a bad signal
// (test main/evmap_invalid_slots) and leaves the event non-pending. reactor/event.ts add():
// ST_INSERTED and #count() are set before base._signalAdd() can throw.
Deno.test("review: a refused signal add() leaves the event non-pending and the loop empty", async () => {
  const base = new EventBase();
  const ev = evsignalNew(base, "SIGKILL" as Deno.Signal, () => {});
  assert.throws(() => ev.add());
  const pending = ev.pending(EV_SIGNAL);
  const nEvents = base.getNumEvents();
  const { ret, hung } = await dispatchBounded(base, 300);
  ev.free();
  base.free();
  assert.equal(pending, 0);
  assert.equal(nEvents, 0);
  assert.equal(hung, false, "dispatch() waited on an event that was never added");
  assert.equal(ret, 1);
});

// Regression test. Before the fix: timeoutAt() mixes the pass's cached monotonic time (which the deadline is based on) with
// an uncached Date.now(). After a callback has run for a while, an add(ms) made later in that
// pass reports an expiry later than the timer actually fires by the time already spent in the
// pass. libevent's event_pending() converts the deadline with the same cached clock difference
// (tv_clock_diff), so the reported time is when the timer fires. reactor/event.ts timeoutAt().
Deno.test("review: timeoutAt() reported inside a long callback matches when the timer fires", async () => {
  const base = new EventBase();
  let firedAt = 0;
  const ev = evtimerNew(base, () => firedAt = Date.now());
  let reported = 0;
  evtimerNew(base, () => {
    const until = performance.now() + 120;
    while (performance.now() < until) { /* a slow callback */ }
    ev.add(200);
    reported = ev.timeoutAt()!;
  }).add(0);
  await base.dispatch();
  base.free();
  assert.ok(firedAt > 0);
  assert.ok(
    Math.abs(firedAt - reported) < 60,
    `reported expiry ${reported - firedAt} ms away from the real one`,
  );
});

Deno.test("review: prioritySet out of range and non-integer throw; default priority is n/2 (ok)", () => {
  const base = new EventBase({ priorities: 5 });
  const ev = evtimerNew(base, () => {});
  assert.equal(ev.getPriority(), 2);
  assert.throws(() => ev.prioritySet(5), RangeError);
  assert.throws(() => ev.prioritySet(-1), RangeError);
  assert.throws(() => ev.prioritySet(1.5), RangeError);
  assert.throws(() => ev.prioritySet(NaN), RangeError);
  assert.throws(() => base.priorityInit(0), RangeError);
  assert.throws(() => base.priorityInit(256), RangeError);
  base.priorityInit(255);
  assert.equal(base.getNPriorities(), 255);
  base.free();
});

Deno.test("review: add() with NaN/Infinity timeout throws and leaves nothing pending (ok)", async () => {
  const base = new EventBase();
  const ev = evtimerNew(base, () => {});
  assert.throws(() => ev.add(NaN), RangeError);
  assert.throws(() => ev.add(Infinity), RangeError);
  assert.equal(ev.pending(EV_TIMEOUT), 0);
  assert.equal(await base.dispatch(), 1);
  base.free();
});

Deno.test("review: a non-persistent event with a timeout activated by hand loses its timer (ok)", async () => {
  const base = new EventBase();
  const got: number[] = [];
  const ev = new Event(base, null, 0, (_s, what) => got.push(what));
  ev.add(10_000);
  ev.active(EV_READ);
  assert.equal(await base.dispatch(), 1); // returns at once: no timer left
  assert.deepEqual(got, [EV_READ]);
  base.free();
});

Deno.test("review: del() of a persistent timer inside its own callback stops it (ok)", async () => {
  const base = new EventBase();
  let n = 0;
  const ev: Event = new Event(base, null, EV_PERSIST, () => {
    if (++n === 2) ev.del();
  });
  ev.add(2);
  assert.equal(await base.dispatch(), 1);
  assert.equal(n, 2);
  base.free();
});

// Regression test. Before the fix: Event.add(badTimeout) throws RangeError only after it has already registered the event's
// signal (or socket) interest and counted it: the "failed" add leaves the event pending and a
// runtime signal listener installed. Misuse should throw without side effects (DESIGN.md:
// "Misuse throws"). reactor/event.ts add(): the timeout is validated after the registration.
Deno.test("review: add() with an invalid timeout throws without making the event pending", async () => {
  const base = new EventBase();
  const ev = evsignalNew(base, "SIGUSR2", () => {});
  assert.throws(() => ev.add(-1), RangeError);
  const pending = ev.pending(EV_SIGNAL);
  const nEvents = base.getNumEvents();
  const { ret, hung } = await dispatchBounded(base, 300);
  ev.free();
  base.free();
  assert.equal(pending, 0);
  assert.equal(nEvents, 0);
  assert.equal(hung, false);
  assert.equal(ret, 1);
});
