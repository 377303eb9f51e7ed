import assert from "node:assert/strict";
import { EV_PERSIST, EV_SIGNAL, Event, EventBase, evsignalNew } from "../reactor/mod.ts";

Deno.test("a signal sent to the process runs its event", async () => {
  const base = new EventBase();
  let calls = 0;
  const ev = evsignalNew(base, "SIGUSR1", (src, what) => {
    assert.equal(src, "SIGUSR1");
    assert.equal(what, EV_SIGNAL);
    calls++;
    ev.del();
  });
  ev.add();
  const p = base.dispatch();
  Deno.kill(Deno.pid, "SIGUSR1");
  assert.equal(await p, 1);
  assert.equal(calls, 1);
  base.free();
});

Deno.test("ncalls: a signal delivered n times before the pass runs the callback n times", async () => {
  const base = new EventBase();
  let calls = 0;
  const ev = new Event(base, "SIGUSR2", EV_SIGNAL | EV_PERSIST, () => {
    calls++;
  });
  ev.add();
  ev.active(EV_SIGNAL, 3);
  base.loopexit(20);
  await base.loop();
  assert.equal(calls, 3);
  ev.del();
  base.free();
});

Deno.test("two events on one signal both run; the listener goes with the last one", async () => {
  const base = new EventBase();
  const seen: string[] = [];
  const a = evsignalNew(base, "SIGUSR1", () => {
    seen.push("a");
    a.del();
  });
  const b = evsignalNew(base, "SIGUSR1", () => {
    seen.push("b");
    b.del();
  });
  a.add();
  b.add();
  const p = base.dispatch();
  Deno.kill(Deno.pid, "SIGUSR1");
  assert.equal(await p, 1);
  assert.deepEqual(seen.sort(), ["a", "b"]);
  base.free();
});
