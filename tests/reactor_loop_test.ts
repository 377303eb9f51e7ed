import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import {
  EV_PERSIST,
  EV_TIMEOUT,
  Event,
  EventBase,
  EVLOOP_NO_EXIT_ON_EMPTY,
  EVLOOP_NONBLOCK,
  EVLOOP_ONCE,
  evtimerNew,
} from "../reactor/mod.ts";

Deno.test("loop returns 1 when nothing is registered", async () => {
  const base = new EventBase();
  assert.equal(await base.loop(), 1);
  assert.equal(await base.dispatch(), 1);
  base.free();
});

Deno.test("loop returns 0 after loopexit; gotExit until the next loop", async () => {
  const base = new EventBase();
  const ev = new Event(base, null, EV_PERSIST, () => {});
  ev.add(5);
  base.loopexit(30);
  const t0 = performance.now();
  assert.equal(await base.loop(), 0);
  assert.ok(performance.now() - t0 >= 25);
  assert.equal(base.gotExit(), true);
  assert.equal(base.gotBreak(), false);
  base.loopexit(); // before loop(): the next loop runs one pass and exits
  let ran = 0;
  evtimerNew(base, () => ran++).add(0);
  assert.equal(await base.loop(), 0);
  ev.del();
  base.free();
});

Deno.test("several loopexits: the earliest wins", async () => {
  const base = new EventBase();
  base.loopexit(3000);
  base.loopexit(20);
  const t0 = performance.now();
  assert.equal(await base.loop(), 0);
  assert.ok(performance.now() - t0 < 1500);
  base.free();
});

Deno.test("loopbreak stops right after the running callback; others stay active", async () => {
  const base = new EventBase();
  const ran: string[] = [];
  const a = new Event(base, null, 0, () => {
    ran.push("a");
    base.loopbreak();
  });
  const b = new Event(base, null, 0, () => ran.push("b"));
  a.active(EV_TIMEOUT);
  b.active(EV_TIMEOUT);
  assert.equal(await base.loop(), 0);
  assert.deepEqual(ran, ["a"]);
  assert.equal(base.gotBreak(), true);
  assert.equal(b.pending(EV_TIMEOUT), EV_TIMEOUT, "b is still active");
  assert.equal(await base.loop(EVLOOP_NONBLOCK), 0);
  assert.deepEqual(ran, ["a", "b"]);
  assert.equal(base.gotBreak(), false);
  base.free();
});

Deno.test("loopbreak from async code wakes a waiting loop", async () => {
  const base = new EventBase();
  const keep = new Event(base, null, EV_PERSIST, () => {});
  keep.add(60_000);
  const p = base.loop();
  await new Promise((r) => setTimeout(r, 1));
  base.loopbreak();
  assert.equal(await p, 0);
  keep.del();
  base.free();
});

Deno.test("Event.active from async code wakes a waiting loop", async () => {
  const base = new EventBase();
  let fired = 0;
  const ev = new Event(base, null, 0, (_s, what) => {
    fired = what;
    base.loopexit();
  });
  const p = base.loop(EVLOOP_NO_EXIT_ON_EMPTY);
  queueMicrotask(() => ev.active(EV_TIMEOUT));
  assert.equal(await p, 0);
  assert.equal(fired, EV_TIMEOUT);
  base.free();
});

Deno.test("loopcontinue stops draining the queue for this pass", async () => {
  const base = new EventBase();
  const ran: string[] = [];
  const a = new Event(base, null, 0, () => {
    ran.push("a");
    base.loopcontinue();
  });
  const b = new Event(base, null, 0, () => ran.push("b"));
  a.active(EV_TIMEOUT);
  b.active(EV_TIMEOUT);
  await base.loop(EVLOOP_NONBLOCK);
  assert.deepEqual(ran, ["a"]);
  await base.loop(EVLOOP_NONBLOCK);
  assert.deepEqual(ran, ["a", "b"]);
  base.free();
});

Deno.test("EVLOOP_ONCE waits for an event, runs it and returns", async () => {
  const base = new EventBase();
  let n = 0;
  const ev = new Event(base, null, EV_PERSIST, () => n++);
  ev.add(10);
  assert.equal(await base.loop(EVLOOP_ONCE), 0);
  assert.equal(n, 1);
  assert.equal(await base.loop(EVLOOP_ONCE), 0);
  assert.equal(n, 2);
  ev.del();
  base.free();
});

Deno.test("EVLOOP_NONBLOCK runs what is ready and never waits", async () => {
  const base = new EventBase();
  let n = 0;
  const ev = evtimerNew(base, () => n++);
  ev.add(10_000);
  const t0 = performance.now();
  assert.equal(await base.loop(EVLOOP_NONBLOCK), 0);
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(n, 0);
  ev.active(EV_TIMEOUT);
  await base.loop(EVLOOP_NONBLOCK);
  assert.equal(n, 1);
  base.free();
});

Deno.test("EVLOOP_NO_EXIT_ON_EMPTY keeps running until loopexit", async () => {
  const base = new EventBase();
  const p = base.loop(EVLOOP_NO_EXIT_ON_EMPTY);
  setTimeout(() => base.loopexit(), 10);
  assert.equal(await p, 0);
  base.free();
});

Deno.test("loop() from inside a callback throws; the loop goes on", async () => {
  const base = new EventBase();
  let threw = false;
  evtimerNew(base, () => {
    try {
      void base.loop();
    } catch {
      threw = true;
    }
  }).add(0);
  assert.equal(await base.dispatch(), 1);
  assert.equal(threw, true);
  base.free();
});

Deno.test("a throwing callback is logged and the loop carries on", async () => {
  const base = new EventBase();
  const logs: [number, string][] = [];
  base.setLogCallback((sev, msg) => logs.push([sev, msg]));
  let after = false;
  evtimerNew(base, () => {
    throw new Error("boom");
  }).add(0);
  evtimerNew(base, () => after = true).add(5);
  assert.equal(await base.dispatch(), 1);
  assert.equal(after, true);
  assert.equal(logs.length, 1);
  assert.equal(logs[0]![0], 3);
  assert.match(logs[0]![1], /boom/);
  base.free();
});

Deno.test("priorities: lower numbers run first, one queue per pass", async () => {
  const base = new EventBase({ priorities: 3 });
  assert.equal(base.getNPriorities(), 3);
  const ran: number[] = [];
  const evs = [2, 0, 1].map((p) => {
    const ev = new Event(base, null, 0, () => ran.push(p));
    assert.equal(ev.getPriority(), 1, "default priority is n/2");
    ev.prioritySet(p);
    return ev;
  });
  for (const ev of evs) ev.active(EV_TIMEOUT);
  await base.dispatch();
  assert.deepEqual(ran, [0, 1, 2]);
  assert.throws(() => evs[0]!.prioritySet(3), RangeError);
  assert.throws(() => base.priorityInit(0), RangeError);
  assert.throws(() => base.priorityInit(256), RangeError);
  base.free();
});

Deno.test("priorities: a low priority event starves while a high one keeps re-arming", async () => {
  const base = new EventBase({ priorities: 3 });
  let high = 0;
  let low = 0;
  const hi = new Event(base, null, 0, () => {
    if (++high < 50) hi.active(EV_TIMEOUT);
  });
  hi.prioritySet(0);
  const lo = new Event(base, null, 0, () => {
    low = high;
  });
  lo.prioritySet(2);
  hi.active(EV_TIMEOUT);
  lo.active(EV_TIMEOUT);
  await base.dispatch();
  assert.equal(low, 50, "low ran only after the high one stopped");
  base.free();
});

Deno.test("priorityInit while events are active throws", () => {
  const base = new EventBase();
  const ev = new Event(base, null, 0, () => {});
  ev.active(EV_TIMEOUT);
  assert.throws(() => base.priorityInit(4), RangeError);
  base.free();
});

Deno.test("gettimeofdayCached is constant within a pass", async () => {
  const base = new EventBase();
  const seen: number[] = [];
  for (let i = 0; i < 3; i++) {
    new Event(base, null, 0, () => {
      seen.push(base.gettimeofdayCached());
      const t = performance.now();
      while (performance.now() - t < 2) { /* spin 2 ms */ }
    }).active(EV_TIMEOUT);
  }
  await base.dispatch();
  assert.equal(new Set(seen).size, 1);
  assert.ok(Math.abs(seen[0]! - Date.now()) < 1000);
  assert.equal(base.getMethod(), "deno");
  base.free();
});

Deno.test("free() leaves nothing pending", () => {
  const base = new EventBase();
  const ev = new Event(base, null, EV_PERSIST, () => {});
  ev.add(1000);
  const sig = new Event(base, "SIGUSR2", 0x08 | EV_PERSIST, () => {});
  sig.add();
  base.free();
  assert.equal(ev.pending(EV_TIMEOUT), 0);
  assert.equal(sig.pending(0x08), 0);
  assert.throws(() => base.loop());
});

Deno.test("events activated while the loop waits all run in one pass", async () => {
  const base = new EventBase();
  const log: string[] = [];
  const evs = [0, 1, 2].map((i) =>
    evtimerNew(base, () => {
      log.push(`cb${i}`);
      // A macrotask scheduled by the first callback runs after the pass, not between callbacks.
      if (i === 0) setImmediate(() => log.push("macrotask"));
      if (i === 2) base.loopexit(20);
    })
  );
  const keep = evtimerNew(base, () => {});
  keep.add(10_000);
  const loop = base.dispatch();
  // Activated from outside the loop, as I/O completions are.
  setTimeout(() => {
    for (const ev of evs) ev.active(EV_TIMEOUT);
  }, 0);
  await loop;
  keep.del();
  assert.deepEqual(log.slice(0, 4), ["cb0", "cb1", "cb2", "macrotask"]);
  base.free();
});
