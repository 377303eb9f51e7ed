// Reactor micro-benchmarks: `deno bench bench/reactor_bench.ts`.
import { EV_TIMEOUT, Event, EventBase, evtimerNew } from "../reactor/mod.ts";

const base = new EventBase();
const evs: Event[] = [];
for (let i = 0; i < 1000; i++) evs.push(evtimerNew(base, () => {}));

Deno.bench({
  name: "timer add+del, 1000 events, same duration (duration queue)",
  group: "add+del",
  baseline: true,
  fn() {
    for (let i = 0; i < 1000; i++) evs[i]!.add(5000);
    for (let i = 0; i < 1000; i++) evs[i]!.del();
  },
});

Deno.bench({
  name: "timer add+del, 1000 events, distinct durations (heap)",
  group: "add+del",
  fn() {
    for (let i = 0; i < 1000; i++) evs[i]!.add(5000 + i * 0.37 + 300);
    for (let i = 0; i < 1000; i++) evs[i]!.del();
  },
});

Deno.bench({
  name: "100 000 timers scheduled and fired (random 0-9 ms)",
  group: "fire",
  async fn(b) {
    const base = new EventBase();
    let fired = 0;
    const cb = () => fired++;
    let seed = 7;
    b.start();
    base.once(null, EV_TIMEOUT, () => {
      for (let i = 0; i < 100_000; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        evtimerNew(base, cb).add(seed % 10);
      }
    });
    await base.dispatch();
    b.end();
    if (fired !== 100_000) throw new Error(`fired ${fired}`);
    base.free();
  },
});

Deno.bench({
  name: "10 000 events activated and dispatched",
  group: "fire",
  async fn(b) {
    const base = new EventBase();
    let n = 0;
    const list: Event[] = [];
    for (let i = 0; i < 10_000; i++) list.push(new Event(base, null, 0, () => n++));
    b.start();
    for (const ev of list) ev.active(EV_TIMEOUT);
    await base.dispatch();
    b.end();
    if (n !== 10_000) throw new Error("lost events");
    base.free();
  },
});
