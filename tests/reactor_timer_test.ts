import assert from "node:assert/strict";
import { EV_TIMEOUT, type Event, EventBase, evtimerNew } from "../reactor/mod.ts";

Deno.test("10 000 timers fire in deadline order", async () => {
  const base = new EventBase();
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const fired: number[] = [];
  // Added from one callback, so every timer is relative to the same cached pass time.
  evtimerNew(base, () => {
    for (let i = 0; i < 10_000; i++) {
      const d = Math.floor(rnd() * 200);
      evtimerNew(base, (_s, _w, arg) => fired.push(arg as number), d).add(d);
    }
  }).add(0);
  assert.equal(await base.dispatch(), 1);
  assert.equal(fired.length, 10_000);
  for (let i = 1; i < fired.length; i++) assert.ok(fired[i - 1]! <= fired[i]!);
  base.free();
});

Deno.test("timers with identical durations fire in the order they were added", async () => {
  const base = new EventBase();
  const fired: number[] = [];
  const evs: Event[] = [];
  for (let i = 0; i < 1000; i++) {
    const ev = evtimerNew(base, () => fired.push(i));
    ev.add(15);
    evs.push(ev);
  }
  // Deleting from the middle of a duration queue keeps the rest in order.
  for (let i = 0; i < 1000; i += 3) evs[i]!.del();
  await base.dispatch();
  const expected = [...Array(1000).keys()].filter((i) => i % 3 !== 0);
  assert.deepEqual(fired, expected);
  base.free();
});

Deno.test("mixed durations and re-adds keep order and fire every timer once", async () => {
  const base = new EventBase();
  const t0 = performance.now();
  const late: number[] = [];
  let count = 0;
  for (let i = 0; i < 300; i++) {
    const d = (i % 7) * 5;
    const ev = evtimerNew(base, () => {
      count++;
      late.push(performance.now() - t0 - d);
    });
    ev.add(1000);
    ev.add(d); // re-add moves it from one queue to another
  }
  await base.dispatch();
  assert.equal(count, 300);
  assert.ok(late.every((x) => x >= -1), "no timer fires early");
  base.free();
});

Deno.test("a timeout added while the loop waits for a later one wakes it", async () => {
  const base = new EventBase();
  const far = evtimerNew(base, () => {});
  far.add(10_000);
  let at = 0;
  const t0 = performance.now();
  const p = base.loop();
  await new Promise((r) => setTimeout(r, 5));
  evtimerNew(base, () => {
    at = performance.now() - t0;
    far.del();
  }).add(10);
  assert.equal(await p, 1);
  assert.ok(at < 1000, `fired at ${at}`);
  base.free();
});

Deno.test("timeout 0 fires on the next pass with EV_TIMEOUT", async () => {
  const base = new EventBase();
  let what = 0;
  evtimerNew(base, (_s, w) => what = w).add(0);
  await base.dispatch();
  assert.equal(what, EV_TIMEOUT);
  base.free();
});
