// Review tests for rate limiting (bufferevent/ratelimit.ts and the rate-limit paths of
// bufferevent.ts / _socket.ts). Tests whose comment starts "Regression test" cover bugs it found.
import assert from "node:assert/strict";
import {
  BEV_OPT_CLOSE_ON_FREE,
  Bufferevent,
  BuffereventRateLimitGroup,
  evTokenBucketCfgNew,
} from "../bufferevent/mod.ts";
import { EV_READ, EV_WRITE, EventBase, evtimerNew } from "../reactor/mod.ts";
import { bounded, connectedPair, readN, writeAll } from "./_helpers.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Reads from `c` until `n` bytes or EOF, recording when they arrived. */
async function drainTimed(
  c: Deno.Conn,
  n: number,
  t0: () => number,
): Promise<{ got: number; doneAt: number }> {
  const buf = new Uint8Array(65536);
  let got = 0;
  while (got < n) {
    let r: number | null;
    try {
      r = await c.read(buf);
    } catch {
      break;
    }
    if (r === null) break;
    got += r;
  }
  return { got, doneAt: performance.now() - t0() };
}

// ---------------------------------------------------------------------------------------------
// Group members that start writing while the group bucket is empty
// ---------------------------------------------------------------------------------------------

// Regression test. Before the fix: a group member whose write starts while the group's write bucket is empty returns from
// #startWrite (max === 0) without being suspended for rate, so the group's refill
// (_rateRefilled → _unsuspendWrite, a no-op when not suspended) never kicks it: its output stays
// queued for ever. libevent suspends every member when the group bucket is empty
// (bev_group_suspend_writing_) and unsuspends all of them on refill
// (bev_group_unsuspend_writing_), so B's bytes go out on the next tick.
Deno.test("group: member that starts writing while the group is empty is resumed on refill", async () => {
  const base = new EventBase();
  const [ca, sa, la] = await connectedPair();
  const [cb, sb, lb] = await connectedPair();
  const group = new BuffereventRateLimitGroup(base, evTokenBucketCfgNew(0, 0, 1000, 1000, 50));
  const a = Bufferevent.socketNew(base, sa, BEV_OPT_CLOSE_ON_FREE);
  const b = Bufferevent.socketNew(base, sb, BEV_OPT_CLOSE_ON_FREE);
  group.addToGroup(a);
  group.addToGroup(b);
  // A empties the group bucket at once (its first write takes the whole 1000).
  a.write(new Uint8Array(3000));
  let t0 = 0;
  const readerA = readN(ca, 3000);
  const readerB = drainTimed(cb, 100, () => t0);
  // 10 ms in (inside the first 50 ms tick, group bucket at 0), B queues 100 bytes.
  const ev = evtimerNew(base, () => {
    t0 = performance.now();
    b.write(new Uint8Array(100));
  });
  ev.add(10);
  let bDrained = -1;
  b.setcb(null, () => {
    if (bDrained < 0) bDrained = performance.now() - t0;
  }, null);
  base.loopexit(1500);
  await bounded(base.dispatch(), 4000, "dispatch");
  assert.equal((await readerA).length, 3000);
  const bOut = b.getOutput().length;
  a.free();
  b.free();
  group.free();
  ca.close();
  cb.close();
  const rb = await readerB;
  la.close();
  lb.close();
  base.free();
  assert.equal(bOut, 0, `B still has ${bOut} bytes queued after 1.5 s (group refilled ~30 times)`);
  assert.equal(rb.got, 100);
  assert.ok(bDrained >= 0 && bDrained < 400, `B drained after ${bDrained.toFixed(0)} ms`);
});

// ---------------------------------------------------------------------------------------------
// Last member leaves an empty group: its refill timer is stopped
// ---------------------------------------------------------------------------------------------

// Regression test. Before the fix: removeFromGroup stops the group bucket's refill timer when the last member leaves
// (ratelimit.ts removeFromGroup → #bucket.stop()). If the bucket was empty at that moment, a
// bufferevent that joins afterwards is suspended by _setGroup → _rateRefilled and nothing ever
// re-arms the timer (only consumeRead/consumeWrite schedule it, and a suspended member consumes
// nothing): the new member never reads. libevent's group refill event is persistent for the
// group's whole life (bufferevent_rate_limit_group_new adds it with EV_PERSIST).
Deno.test("group: a member joining after the last one left an empty bucket still gets tokens", async () => {
  const base = new EventBase();
  const [ca, sa, la] = await connectedPair();
  const [cb, sb, lb] = await connectedPair();
  const group = new BuffereventRateLimitGroup(base, evTokenBucketCfgNew(1000, 1000, 0, 0, 50));
  const a = Bufferevent.socketNew(base, sa, BEV_OPT_CLOSE_ON_FREE);
  const b = Bufferevent.socketNew(base, sb, BEV_OPT_CLOSE_ON_FREE);
  group.addToGroup(a);
  await writeAll(ca, new Uint8Array(5000));
  await writeAll(cb, new Uint8Array(500));
  await sleep(30);
  let aGot = 0;
  let bGot = 0;
  let t0 = 0;
  let bAt = -1;
  b.setcb(
    (bev) => {
      bGot += bev.getInput().length;
      bev.getInput().drain(bev.getInput().length);
      if (bGot >= 500 && bAt < 0) {
        bAt = performance.now() - t0;
        base.loopbreak();
      }
    },
    null,
    null,
  );
  a.setcb(
    (bev) => {
      aGot += bev.getInput().length;
      bev.getInput().drain(bev.getInput().length);
      // The group bucket is now empty (A took its whole 1000): A leaves, B joins.
      t0 = performance.now();
      bev.free();
      group.addToGroup(b);
      b.enable(EV_READ);
    },
    null,
    null,
  );
  a.enable(EV_READ);
  base.loopexit(1500);
  await bounded(base.dispatch(), 4000, "dispatch");
  const size = group.size;
  b.free();
  group.free();
  ca.close();
  cb.close();
  la.close();
  lb.close();
  base.free();
  assert.equal(aGot, 1000, "A read exactly the group's first tick");
  assert.equal(size, 1);
  assert.equal(bGot, 500, `B read ${bGot} of 500 bytes in 1.5 s`);
  assert.ok(bAt < 400, `B got its bytes after ${bAt.toFixed(0)} ms`);
});

// ---------------------------------------------------------------------------------------------
// Read and write buckets are refilled independently
// ---------------------------------------------------------------------------------------------

// Regression test. Before the fix: RateBucket's timer calls onRefill only when NEITHER direction is starved
// (ratelimit.ts constructor: `if (this.#starved()) this.#schedule(); else onRefill();`). While
// the group's read bucket is in deficit for several ticks (members' min-share reads overdraw it),
// the write bucket refills but writers are not resumed until the read bucket recovers.
// libevent refills and unsuspends read and write separately (bev_group_refill_callback_ /
// bev_refill_callback_): write throughput follows the write rate.
Deno.test("group: a read-bucket deficit does not hold back the group's writers", async () => {
  const base = new EventBase();
  const READERS = 8;
  // Read: 64 bytes per 50 ms tick; every reader's share is min_share (64), so 8 readers overdraw
  // the read bucket by 448 (7 ticks). Write: 2000 per tick.
  const group = new BuffereventRateLimitGroup(base, evTokenBucketCfgNew(64, 64, 2000, 2000, 50));
  const peers: Deno.Conn[] = [];
  const listeners: Deno.Listener[] = [];
  const bevs: Bufferevent[] = [];
  const feeders: Promise<void>[] = [];
  for (let i = 0; i < READERS; i++) {
    const [c, s, l] = await connectedPair();
    peers.push(c);
    listeners.push(l);
    const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
    bev.setcb((x) => void x.getInput().drain(x.getInput().length), null, null);
    group.addToGroup(bev);
    bevs.push(bev);
    feeders.push(writeAll(c, new Uint8Array(8192)).catch(() => {}));
  }
  await sleep(20);
  const [cw, sw, lw] = await connectedPair();
  const w = Bufferevent.socketNew(base, sw, BEV_OPT_CLOSE_ON_FREE);
  group.addToGroup(w);
  const TOTAL = 10000;
  const t0 = performance.now();
  let drainedAt = -1;
  w.setcb(null, () => {
    drainedAt = performance.now() - t0;
    base.loopbreak();
  }, null);
  for (const b of bevs) b.enable(EV_READ);
  w.write(new Uint8Array(TOTAL));
  const reader = readN(cw, TOTAL);
  base.loopexit(3000);
  await bounded(base.dispatch(), 5000, "dispatch");
  for (const b of bevs) b.free();
  w.free();
  group.free();
  for (const c of peers) c.close();
  cw.close();
  await Promise.all(feeders);
  await reader.catch(() => {});
  for (const l of listeners) l.close();
  lw.close();
  base.free();
  // 2000 at once, then 4 more ticks: ~200 ms.
  assert.ok(drainedAt >= 0, "writer never drained in 3 s");
  assert.ok(drainedAt < 600, `10000 bytes at 2000/50 ms took ${drainedAt.toFixed(0)} ms`);
});

// The same coupling on a single bufferevent's own bucket: a limit set while a read is in flight
// charges that read against the new bucket, leaving the read side in deficit for many ticks;
// the write side must still refill every tick.
// Regression test. Before the fix: same root cause (RateBucket timer: onRefill only when both directions are positive).
Deno.test("per-bev: write side refills every tick while the read side is in deficit", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  let readGot = 0;
  const TOTAL = 10000;
  let t0 = 0;
  let drainedAt = -1;
  bev.setcb((b) => {
    readGot += b.getInput().length;
    b.getInput().drain(b.getInput().length);
  }, () => {
    drainedAt = performance.now() - t0;
    base.loopbreak();
  }, null);
  bev.enable(EV_READ); // a read is posted, unlimited
  const ev = evtimerNew(base, () => {
    // Read 100 per tick, write 2000 per tick.
    bev.setRateLimit(evTokenBucketCfgNew(100, 100, 2000, 2000, 50));
    void writeAll(c, new Uint8Array(4000));
    const ev2 = evtimerNew(base, () => {
      t0 = performance.now();
      bev.write(new Uint8Array(TOTAL));
    });
    ev2.add(20);
  });
  ev.add(10);
  const reader = readN(c, TOTAL);
  base.loopexit(3500);
  await bounded(base.dispatch(), 5000, "dispatch");
  bev.free();
  c.close();
  await reader.catch(() => {});
  l.close();
  base.free();
  assert.ok(readGot > 0);
  assert.ok(drainedAt >= 0, "never drained in 3.5 s");
  assert.ok(drainedAt < 600, `10000 bytes at 2000/50 ms took ${drainedAt.toFixed(0)} ms`);
});

// ---------------------------------------------------------------------------------------------
// Behaviours expected to hold (token-bucket math, burst after idle, combined limits, fairness)
// ---------------------------------------------------------------------------------------------

Deno.test("cfg: validation (zero tick, burst < rate)", () => {
  assert.throws(() => evTokenBucketCfgNew(10, 10, 10, 10, 0), RangeError);
  assert.throws(() => evTokenBucketCfgNew(10, 10, 10, 10, -5), RangeError);
  assert.throws(() => evTokenBucketCfgNew(10, 5, 10, 10, 100), RangeError);
  assert.throws(() => evTokenBucketCfgNew(10, 10, 10, 5, 100), RangeError);
  const cfg = evTokenBucketCfgNew(10, 20, 30, 40);
  assert.equal(cfg.tickMs, 1000);
  assert.ok(Object.isFrozen(cfg));
});

Deno.test("per-bev read: bucket starts at rate, refills to burst after idle, then rate per tick", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  const RATE = 1000;
  const BURST = 3000;
  const TICK = 50;
  bev.setRateLimit(evTokenBucketCfgNew(RATE, BURST, 0, 0, TICK));
  // Idle for 8 ticks: the bucket fills to burst (not beyond).
  await sleep(TICK * 8);
  await writeAll(c, new Uint8Array(9000));
  await sleep(20);
  const samples: [number, number][] = [];
  let got = 0;
  const t0 = performance.now();
  bev.setcb(
    (b) => {
      got += b.getInput().length;
      b.getInput().drain(b.getInput().length);
      samples.push([performance.now() - t0, got]);
      if (got >= 9000) b.free();
    },
    null,
    null,
  );
  bev.enable(EV_READ);
  await bounded(base.dispatch(), 4000, "dispatch");
  c.close();
  l.close();
  base.free();
  // Never more than burst + rate * elapsed ticks (+1 tick for phase).
  for (const [t, n] of samples) {
    const allowed = BURST + RATE * (Math.floor(t / TICK) + 1);
    assert.ok(n <= allowed, `at ${t.toFixed(0)} ms had ${n} > ${allowed}`);
  }
  // The first burst arrives at once.
  const early = samples.filter(([t]) => t < 15).reduce((m, [, n]) => Math.max(m, n), 0);
  assert.ok(early >= BURST - 200 && early <= BURST, `first ${early} bytes at once`);
  const dt = samples[samples.length - 1][0];
  const expected = ((9000 - BURST) / RATE) * TICK;
  assert.ok(
    Math.abs(dt - expected) < expected * 0.3 + TICK,
    `took ${dt.toFixed(0)} vs ${expected}`,
  );
});

Deno.test("per-bev + group limits together: the smaller one governs", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  const TICK = 50;
  // own: 4000/tick; group: 1000/tick → group governs.
  bev.setRateLimit(evTokenBucketCfgNew(4000, 4000, 0, 0, TICK));
  const group = new BuffereventRateLimitGroup(base, evTokenBucketCfgNew(1000, 1000, 0, 0, TICK));
  group.addToGroup(bev);
  const TOTAL = 11000;
  const writer = writeAll(c, new Uint8Array(TOTAL));
  let got = 0;
  const t0 = performance.now();
  let dt = 0;
  bev.setcb(
    (b) => {
      got += b.getInput().length;
      b.getInput().drain(b.getInput().length);
      if (got >= TOTAL) {
        dt = performance.now() - t0;
        b.free();
      }
    },
    null,
    null,
  );
  bev.enable(EV_READ);
  await bounded(base.dispatch(), 4000, "dispatch");
  await writer;
  group.free();
  c.close();
  l.close();
  base.free();
  const expected = ((TOTAL - 1000) / 1000) * TICK; // 500 ms
  assert.equal(got, TOTAL);
  assert.ok(Math.abs(dt - expected) < expected * 0.25, `took ${dt.toFixed(0)} vs ${expected}`);
});

Deno.test("group fairness: three readers get similar shares and the total stays at the rate", async () => {
  const base = new EventBase();
  const TICK = 50;
  const RATE = 3000;
  const group = new BuffereventRateLimitGroup(base, evTokenBucketCfgNew(RATE, RATE, 0, 0, TICK));
  const peers: Deno.Conn[] = [];
  const listeners: Deno.Listener[] = [];
  const bevs: Bufferevent[] = [];
  const counts = [0, 0, 0];
  const feeders: Promise<void>[] = [];
  for (let i = 0; i < 3; i++) {
    const [c, s, l] = await connectedPair();
    peers.push(c);
    listeners.push(l);
    const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
    bev.setcb(
      (b) => {
        counts[i] += b.getInput().length;
        b.getInput().drain(b.getInput().length);
      },
      null,
      null,
    );
    group.addToGroup(bev);
    bevs.push(bev);
    feeders.push(writeAll(c, new Uint8Array(200000)).catch(() => {}));
  }
  await sleep(20);
  for (const b of bevs) b.enable(EV_READ);
  const DUR = 1000;
  base.loopexit(DUR);
  await bounded(base.dispatch(), 4000, "dispatch");
  for (const b of bevs) b.free();
  group.free();
  for (const c of peers) c.close();
  await Promise.all(feeders);
  for (const l of listeners) l.close();
  base.free();
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = RATE * (DUR / TICK + 1);
  assert.ok(Math.abs(total - expected) < expected * 0.2, `total ${total} vs ${expected}`);
  const mean = total / 3;
  for (const n of counts) assert.ok(Math.abs(n - mean) < mean * 0.25, `shares ${counts}`);
});

Deno.test("removing the write limit mid-transfer resumes at full speed", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  const TICK = 50;
  bev.setRateLimit(evTokenBucketCfgNew(0, 0, 1000, 1000, TICK));
  const TOTAL = 200000;
  bev.write(new Uint8Array(TOTAL));
  let t0 = 0;
  const reader = drainTimed(c, TOTAL, () => t0);
  const ev = evtimerNew(base, () => {
    // ~3 ticks at 1000: ~4000 sent. Remove the limit: the rest goes out at once.
    t0 = performance.now();
    bev.setRateLimit(null);
  });
  ev.add(160);
  let drainedAt = -1;
  bev.setcb(null, () => {
    drainedAt = performance.now() - t0;
    bev.free();
  }, null);
  await bounded(base.dispatch(), 4000, "dispatch");
  const r = await reader;
  c.close();
  l.close();
  base.free();
  assert.equal(r.got, TOTAL);
  assert.ok(drainedAt >= 0 && drainedAt < 300, `drained ${drainedAt.toFixed(0)} ms after removal`);
});

Deno.test("write limit: bytes sent over time never exceed rate per tick", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  const TICK = 50;
  const RATE = 5000;
  const BURST = 10000;
  bev.setRateLimit(evTokenBucketCfgNew(0, 0, RATE, BURST, TICK));
  const TOTAL = 50000;
  const t0 = performance.now();
  const samples: [number, number][] = [];
  const reader = (async () => {
    const buf = new Uint8Array(65536);
    let got = 0;
    while (got < TOTAL) {
      const r = await c.read(buf);
      if (r === null) break;
      got += r;
      samples.push([performance.now() - t0, got]);
    }
    return got;
  })();
  bev.setcb(null, (b) => b.free(), null);
  bev.write(new Uint8Array(TOTAL));
  bev.enable(EV_WRITE);
  await bounded(base.dispatch(), 4000, "dispatch");
  assert.equal(await reader, TOTAL);
  c.close();
  l.close();
  base.free();
  // Starts at RATE (not burst), then RATE per tick.
  for (const [t, n] of samples) {
    const allowed = RATE * (Math.floor(t / TICK) + 2);
    assert.ok(n <= allowed, `at ${t.toFixed(0)} ms had ${n} > ${allowed}`);
  }
  const dt = samples[samples.length - 1][0];
  const expected = ((TOTAL - RATE) / RATE) * TICK;
  assert.ok(Math.abs(dt - expected) < expected * 0.25, `took ${dt.toFixed(0)} vs ${expected}`);
});
