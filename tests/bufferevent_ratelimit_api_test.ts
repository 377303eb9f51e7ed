// libevent's rate-limit inspection and control API: bucket levels, manual decrements, the
// per-operation caps, a group's configuration, minimum share and byte totals.
import assert from "node:assert/strict";
import {
  Bufferevent,
  BuffereventRateLimitGroup,
  EV_RATE_LIMIT_MAX,
  evTokenBucketCfgNew,
} from "../bufferevent/mod.ts";
import { EV_READ, EventBase, EvError, evtimerNew } from "../reactor/mod.ts";
import {
  bounded,
  readAcrossChange,
  readN,
  socketBev,
  withSocketBev,
  writeAll,
} from "./_helpers.ts";

Deno.test("evTokenBucketCfgNew refuses what libevent refuses", () => {
  for (const tick of [0, 0.5, -1, NaN, 2 ** 31, Infinity]) {
    assert.throws(() => evTokenBucketCfgNew(10, 10, 10, 10, tick), RangeError, `tick ${tick}`);
  }
  for (const bad of [NaN, -1, EV_RATE_LIMIT_MAX + 2]) {
    assert.throws(() => evTokenBucketCfgNew(bad, 100, 10, 10), RangeError, `rate ${bad}`);
    assert.throws(() => evTokenBucketCfgNew(10, 10, 10, bad), RangeError, `burst ${bad}`);
  }
  assert.throws(() => evTokenBucketCfgNew(100, 99, 10, 10), RangeError);
  // Unlimited spellings and the 1 ms granularity are accepted.
  assert.equal(evTokenBucketCfgNew(0, 0, Infinity, Infinity, 1).tickMs, 1);
  assert.equal(evTokenBucketCfgNew(5, 5, 5, 5, 2 ** 31 - 1).readRate, 5);
});

Deno.test("getReadLimit/getWriteLimit: EV_RATE_LIMIT_MAX without a limit, the level with one", async () => {
  await withSocketBev((_base, s) => {
    assert.equal(s.bev.getReadLimit(), EV_RATE_LIMIT_MAX);
    assert.equal(s.bev.getWriteLimit(), EV_RATE_LIMIT_MAX);
    assert.equal(s.bev.getTokenBucketCfg(), null);
    // A long tick: nothing refills while the test looks.
    const cfg = evTokenBucketCfgNew(1000, 4000, 0, 0, 60_000);
    s.bev.setRateLimit(cfg);
    assert.equal(s.bev.getTokenBucketCfg(), cfg);
    // Buckets start at the rate, not the burst (libevent).
    assert.equal(s.bev.getReadLimit(), 1000);
    // Writing is unlimited in this configuration.
    assert.equal(s.bev.getWriteLimit(), EV_RATE_LIMIT_MAX);
    s.bev.decrementReadLimit(1500);
    assert.equal(s.bev.getReadLimit(), -500);
    assert.equal(s.bev.getMaxToRead(), 0);
    s.bev.decrementReadLimit(-700);
    assert.equal(s.bev.getReadLimit(), 200);
    assert.equal(s.bev.getMaxToRead(), 200);
    assert.throws(() => s.bev.decrementReadLimit(1.5), RangeError);
    assert.throws(() => s.bev.decrementReadLimit(NaN), RangeError);
    s.bev.setRateLimit(null);
    assert.equal(s.bev.getReadLimit(), EV_RATE_LIMIT_MAX);
    assert.throws(() => s.bev.decrementReadLimit(1), EvError);
    assert.throws(() => s.bev.decrementWriteLimit(1), EvError);
  });
});

Deno.test("setRateLimit with a new config keeps the level, clipped to the new burst", async () => {
  await withSocketBev((_base, s) => {
    s.bev.setRateLimit(evTokenBucketCfgNew(1000, 1000, 800, 800, 60_000));
    s.bev.decrementReadLimit(100);
    s.bev.decrementWriteLimit(50);
    // Smaller bursts clip the levels down.
    s.bev.setRateLimit(evTokenBucketCfgNew(300, 300, 500, 500, 60_000));
    assert.equal(s.bev.getReadLimit(), 300);
    assert.equal(s.bev.getWriteLimit(), 500);
    // Larger ones do not refill: tokens spent stay spent until the next tick.
    const big = evTokenBucketCfgNew(5000, 5000, 5000, 5000, 60_000);
    s.bev.setRateLimit(big);
    assert.equal(s.bev.getReadLimit(), 300);
    assert.equal(s.bev.getWriteLimit(), 500);
    assert.equal(s.bev.getTokenBucketCfg(), big);
  });
});

Deno.test("decrementReadLimit suspends reading and a negative decrement resumes it", async () => {
  await withSocketBev(async (base, s) => {
    // A 60 s tick: only the manual decrement can bring reading back within the test.
    s.bev.setRateLimit(evTokenBucketCfgNew(100, 100, 0, 0, 60_000));
    s.bev.decrementReadLimit(100);
    let got = 0;
    let resumed = false;
    s.bev.setcb(
      (bev) => {
        got += bev.getInput().length;
        bev.getInput().drain(bev.getInput().length);
        if (got >= 50) base.loopbreak();
      },
      null,
      null,
    );
    s.bev.enable(EV_READ);
    await writeAll(s.peer, new Uint8Array(50));
    // Give the loop a real chance to read (it must not: the bucket is empty), then refund.
    const refund = evtimerNew(base, () => {
      assert.equal(got, 0, "read while the bucket was empty");
      resumed = true;
      s.bev.decrementReadLimit(-100);
    });
    refund.add(80);
    await bounded(base.dispatch(), 5000, "dispatch");
    refund.del();
    assert.ok(resumed);
    assert.equal(got, 50);
    assert.equal(s.bev.getReadLimit(), 50);
  });
});

Deno.test("an overdrawn bucket resumes reading on the refill tick", async () => {
  await withSocketBev(async (base, s) => {
    s.bev.setRateLimit(evTokenBucketCfgNew(1000, 1000, 0, 0, 100));
    const t0 = performance.now();
    s.bev.decrementReadLimit(1500); // -500: one tick (+1000) makes it positive again
    let at = -1;
    s.bev.setcb(
      (bev) => {
        if (at < 0) at = performance.now() - t0;
        bev.getInput().drain(bev.getInput().length);
        base.loopbreak();
      },
      null,
      null,
    );
    s.bev.enable(EV_READ);
    await writeAll(s.peer, new Uint8Array(10));
    await bounded(base.dispatch(), 5000, "dispatch");
    assert.ok(at >= 90, `read after ${at.toFixed(1)} ms, before the refill`);
  });
});

Deno.test("getMaxToRead/getMaxToWrite: the single-operation cap, the bucket and the group share", async () => {
  await withSocketBev(async (base, s) => {
    assert.equal(s.bev.getMaxSingleRead(), 65536);
    assert.equal(s.bev.getMaxSingleWrite(), 4 * 1024 * 1024);
    assert.equal(s.bev.getMaxToRead(), 65536);
    s.bev.setMaxSingleRead(1000);
    s.bev.setMaxSingleWrite(2000);
    assert.equal(s.bev.getMaxToRead(), 1000);
    assert.equal(s.bev.getMaxToWrite(), 2000);
    s.bev.setRateLimit(evTokenBucketCfgNew(300, 300, 5000, 5000, 60_000));
    assert.equal(s.bev.getMaxToRead(), 300);
    assert.equal(s.bev.getMaxToWrite(), 2000);
    s.bev.setMaxSingleRead(0);
    s.bev.setMaxSingleWrite(0);
    assert.equal(s.bev.getMaxSingleRead(), 65536);
    assert.equal(s.bev.getMaxToWrite(), 5000);
    assert.throws(() => s.bev.setMaxSingleRead(-1), RangeError);
    assert.throws(() => s.bev.setMaxSingleWrite(0.5), RangeError);
    s.bev.setRateLimit(null);
    // A group's share: its level over its members, but at least the minimum share.
    const g = new BuffereventRateLimitGroup(base, evTokenBucketCfgNew(1000, 1000, 0, 0, 60_000));
    const others = [await socketBev(base), await socketBev(base), await socketBev(base)];
    try {
      g.addToGroup(s.bev);
      for (const o of others) g.addToGroup(o.bev);
      assert.equal(s.bev.getMaxToRead(), 250);
      g.setMinShare(400);
      assert.equal(s.bev.getMaxToRead(), 400);
      // Capped by the rate so one member can always go per tick (libevent).
      g.setMinShare(5000);
      assert.equal(s.bev.getMaxToRead(), 1000);
      assert.throws(() => g.setMinShare(-1), RangeError);
    } finally {
      g.free();
      for (const o of others) o.close();
    }
  });
});

Deno.test("setMaxSingleRead caps every read; setMaxSingleWrite caps every write", async () => {
  await withSocketBev(async (base, s) => {
    s.bev.setMaxSingleRead(100);
    s.bev.setMaxSingleWrite(300);
    const reads: number[] = [];
    let got = 0;
    s.bev.setcb(
      (bev) => {
        const n = bev.getInput().length;
        reads.push(n);
        got += n;
        bev.getInput().drain(n);
        if (got >= 1000) base.loopbreak();
      },
      null,
      null,
    );
    s.bev.enable(EV_READ);
    await writeAll(s.peer, new Uint8Array(1000));
    await bounded(base.dispatch(), 5000, "read dispatch");
    assert.equal(got, 1000);
    assert.ok(reads.every((n) => n <= 100), `reads ${reads.join(",")}`);
    assert.ok(reads.length >= 10);

    const drained: number[] = [];
    s.bev.getOutput().addCb((_b, info) => {
      if (info.nDeleted > 0) drained.push(info.nDeleted);
    });
    s.bev.setcb(null, () => base.loopbreak(), null);
    const echo = readN(s.peer, 1000);
    s.bev.write(new Uint8Array(1000));
    await bounded(base.dispatch(), 5000, "write dispatch");
    assert.equal((await echo).length, 1000);
    assert.equal(drained.reduce((a, b) => a + b, 0), 1000);
    assert.ok(drained.every((n) => n <= 300), `writes ${drained.join(",")}`);
  });
});

Deno.test("group: levels, manual decrements, setCfg and byte totals", async () => {
  const base = new EventBase();
  const a = await socketBev(base);
  const b = await socketBev(base);
  const g = new BuffereventRateLimitGroup(
    base,
    evTokenBucketCfgNew(10_000, 10_000, 10_000, 10_000, 60_000),
  );
  try {
    assert.deepEqual(g.getTotals(), { read: 0, written: 0 });
    assert.equal(g.getReadLimit(), 10_000);
    g.addToGroup(a.bev);
    g.addToGroup(b.bev);
    // Traffic both ways through both members is counted.
    let inA = 0;
    let inB = 0;
    const done = () => {
      if (inA >= 300 && inB >= 200 && a.bev.getOutput().length + b.bev.getOutput().length === 0) {
        base.loopbreak();
      }
    };
    const onRead = (who: "a" | "b") => (bev: Bufferevent) => {
      const n = bev.getInput().length;
      bev.getInput().drain(n);
      if (who === "a") inA += n;
      else inB += n;
      done();
    };
    a.bev.setcb(onRead("a"), done, null);
    b.bev.setcb(onRead("b"), done, null);
    a.bev.enable(EV_READ);
    b.bev.enable(EV_READ);
    const peerA = readN(a.peer, 400);
    const peerB = readN(b.peer, 100);
    a.bev.write(new Uint8Array(400));
    b.bev.write(new Uint8Array(100));
    await writeAll(a.peer, new Uint8Array(300));
    await writeAll(b.peer, new Uint8Array(200));
    await bounded(base.dispatch(), 5000, "dispatch");
    await Promise.all([peerA, peerB]);
    assert.deepEqual(g.getTotals(), { read: 500, written: 500 });
    assert.equal(g.getReadLimit(), 9_500);
    assert.equal(g.getWriteLimit(), 9_500);
    g.resetTotals();
    assert.deepEqual(g.getTotals(), { read: 0, written: 0 });

    // An emptied group suspends its members; a refund resumes them.
    g.decrementWrite(9_500);
    assert.equal(g.getWriteLimit(), 0);
    assert.equal(a.bev.getMaxToWrite(), 0);
    let wrote = false;
    a.bev.setcb(null, () => {
      wrote = true;
      base.loopbreak();
    }, null);
    const late = readN(a.peer, 10);
    a.bev.write(new Uint8Array(10));
    const refund = evtimerNew(base, () => {
      assert.equal(wrote, false, "wrote from an empty group");
      g.decrementWrite(-1000);
    });
    refund.add(80);
    await bounded(base.dispatch(), 5000, "dispatch after refund");
    refund.del();
    assert.ok(wrote);
    assert.equal((await late).length, 10);
    assert.deepEqual(g.getTotals(), { read: 0, written: 10 });
    assert.throws(() => g.decrementRead(0.5), RangeError);

    // A new config clips the levels down and does not refill them.
    g.setCfg(evTokenBucketCfgNew(500, 500, 800, 800, 60_000));
    assert.equal(g.getReadLimit(), 500);
    assert.equal(g.getWriteLimit(), 800);
    g.setCfg(evTokenBucketCfgNew(0, 0, 5000, 5000, 60_000));
    assert.equal(g.getReadLimit(), EV_RATE_LIMIT_MAX);
    assert.equal(g.getWriteLimit(), 800);
  } finally {
    g.free();
    a.close();
    b.close();
    base.free();
  }
});

// A socket bufferevent posts its read ahead. A limit applied while that read is in flight must not
// leave the connection owing what the read brought beyond the limit (it was sized before the limit
// existed; libevent reads only under the limit of the moment).
Deno.test("a read posted before setRateLimit is charged at most what the limit allows", async () => {
  await withSocketBev(async (base, s) => {
    // The read is posted (unlimited, a whole block), then the limit arrives.
    const limit = evTokenBucketCfgNew(100, 100, 0, 0, 60_000);
    const got = await readAcrossChange(base, s, () => s.bev.setRateLimit(limit), 5000);
    assert.ok(got > 100, `the posted read brought ${got} bytes`);
    assert.equal(s.bev.getReadLimit(), 0);
  });
});

// A pair's hand-over is capped by the rate limits like a socket's write: the bucket empties but
// never goes deep into debt, and the refill carries the rest.
Deno.test("pair: a rate-limited writer hands over at most its tokens; refills carry the rest", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  try {
    a.setRateLimit(evTokenBucketCfgNew(0, 0, 1000, 1000, 100));
    let got = 0;
    const levels: number[] = [];
    const t0 = performance.now();
    let doneAt = 0;
    b.setcb(
      (bev) => {
        got += bev.getInput().length;
        bev.getInput().drain(bev.getInput().length);
        levels.push(a.getWriteLimit());
        if (got >= 3000) {
          doneAt = performance.now() - t0;
          base.loopbreak();
        }
      },
      null,
      null,
    );
    b.enable(EV_READ);
    a.write(new Uint8Array(3000));
    // The first 1000 bytes moved inside write(); the bucket is empty, not overdrawn.
    assert.equal(b.getInput().length, 1000);
    assert.equal(a.getWriteLimit(), 0);
    await bounded(base.dispatch(), 5000, "dispatch");
    assert.equal(got, 3000);
    assert.ok(levels.every((l) => l >= 0), `levels ${levels.join(",")}`);
    assert.ok(doneAt >= 150, `3000 bytes at 1000 per 100 ms took ${doneAt.toFixed(0)} ms`);
  } finally {
    a.free();
    b.free();
    base.free();
  }
});
