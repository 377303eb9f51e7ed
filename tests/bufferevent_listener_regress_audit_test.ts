// Audit of bufferevent/ and listener/ against libevent's regress suites (test/regress_bufferevent.c,
// test/regress_listener.c; inventory §4.3, §4.4) and the bufferevent/listener quirks of inventory §6.
// Tests starting "Regression test." fail on the code as audited; "Control:" tests pass and cover
// behaviour no other test file pins down.
import assert from "node:assert/strict";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_EVENT_TIMEOUT,
  BEV_EVENT_WRITING,
  BEV_FINISHED,
  BEV_FLUSH,
  BEV_NORMAL,
  BEV_OK,
  BEV_OPT_CLOSE_ON_FREE,
  BEV_OPT_DEFER_CALLBACKS,
  BEV_OPT_THREADSAFE,
  BEV_OPT_UNLOCK_CALLBACKS,
  Bufferevent,
  Evbuffer,
  EvbufferFrozenError,
} from "../bufferevent/mod.ts";
import {
  EvConnListener,
  LEV_OPT_CLOSE_ON_FREE,
  LEV_OPT_REUSEABLE,
  LEV_OPT_REUSEABLE_PORT,
} from "../listener/mod.ts";
import { EV_READ, EV_WRITE, EventBase, evtimerNew } from "../reactor/mod.ts";
import { bounded, connectedPair, readN, writeAll } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const LOOP = { hostname: "127.0.0.1", port: 0 };

/** 0, 1, 2, … 255, 0, … as libevent's tests fill their buffers. */
function counting(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i & 0xff;
  return b;
}

/** A loopback port nothing listens on (bound, then closed). */
function deadPort(): number {
  const l = Deno.listen(LOOP);
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Two connected bufferevents: a pair, or socket bufferevents on a loopback connection. */
async function twoBevs(
  base: EventBase,
  pair: boolean,
): Promise<{ b1: Bufferevent; b2: Bufferevent; cleanup: () => void }> {
  if (pair) {
    const [b1, b2] = Bufferevent.pairNew(base, 0);
    return { b1, b2, cleanup: () => {} };
  }
  const [c, s, l] = await connectedPair();
  return {
    b1: Bufferevent.socketNew(base, c, BEV_OPT_CLOSE_ON_FREE),
    b2: Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE),
    cleanup: () => l.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// bufferevent / bufferevent_pair / bufferevent_{pair_}flush_* (test_bufferevent_impl)
// ---------------------------------------------------------------------------------------------

// Control: libevent test_bufferevent_impl over a socket pair: getcb, enabled sets, 8333 bytes seen
// in full by a read callback that moves them out with readBuffer and disables reading; the
// writer's write callback sees an empty output; flush(EV_WRITE, NORMAL|FLUSH) on a socket is
// accepted (>= 0) and changes nothing.
for (const mode of [-1, BEV_NORMAL, BEV_FLUSH]) {
  Deno.test(`Control: regress bufferevent (socket, flush ${mode}): 8333 bytes, callbacks, getters`, async () => {
    const base = new EventBase();
    const [c, s, l] = await connectedPair();
    const bev1 = Bufferevent.socketNew(base, c, BEV_OPT_CLOSE_ON_FREE);
    const bev2 = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
    let ok = 0;
    let errors = 0;
    const readcb = (b: Bufferevent) => {
      if (b.getInput().length === 8333) {
        const ev = new Evbuffer();
        b.readBuffer(ev);
        b.disable(EV_READ);
        if (ev.length === 8333 && ev.copyout(8333).every((v, i) => v === (i & 0xff))) ok++;
      }
    };
    const writecb = (b: Bufferevent) => {
      if (b.getOutput().length === 0) ok++;
    };
    const errorcb = () => errors++;
    bev1.setcb(readcb, writecb, errorcb);
    bev2.setcb(readcb, writecb, errorcb);
    assert.equal(bev1.getConn(), c);
    assert.equal(bev1.getUnderlying(), null);
    assert.equal(bev1.pairGetPartner(), null);
    const cbs = bev1.getcb();
    assert.equal(cbs.readcb, readcb);
    assert.equal(cbs.writecb, writecb);
    assert.equal(cbs.eventcb, errorcb);
    assert.equal(cbs.arg, undefined);
    bev1.disable(EV_READ);
    bev2.enable(EV_READ);
    assert.equal(bev1.getEnabled(), EV_WRITE);
    assert.equal(bev2.getEnabled(), EV_WRITE | EV_READ);
    bev1.write(counting(8333));
    if (mode >= 0) assert.ok(bev1.flush(EV_WRITE, mode) >= 0);
    await bounded(base.dispatch(), 2500, "dispatch");
    bev2.free();
    bev1.free();
    l.close();
    base.free();
    assert.equal(errors, 0);
    assert.equal(ok, 2);
  });
}

// Control: the same over bufferevent_pair_new, with the partner checks of test_bufferevent_impl:
// getConn/getUnderlying are null, partners point at each other, freeing bev2 clears bev1's
// partner. For BEV_FINISHED the partner's event callback runs (libevent's expected -1:
// read ok, then the errorcb, then the write ok), NORMAL and FLUSH do not.
for (const mode of [-1, BEV_NORMAL, BEV_FLUSH, BEV_FINISHED]) {
  Deno.test(`Control: regress bufferevent_pair (flush ${mode}): 8333 bytes, partners`, async () => {
    const base = new EventBase();
    const [bev1, bev2] = Bufferevent.pairNew(base, 0);
    let ok = 0;
    const log: string[] = [];
    const readcb = (b: Bufferevent) => {
      if (b.getInput().length === 8333) {
        const ev = new Evbuffer();
        b.readBuffer(ev);
        b.disable(EV_READ);
        if (ev.length === 8333) ok++;
        log.push("read");
      }
    };
    const writecb = (b: Bufferevent) => {
      if (b.getOutput().length === 0) ok++;
      log.push("write");
    };
    const errorcb = (_b: Bufferevent, what: number) => {
      ok = -2;
      log.push(`event ${what}`);
    };
    bev1.setcb(readcb, writecb, errorcb, bev1);
    bev2.setcb(readcb, writecb, errorcb);
    assert.equal(bev1.getConn(), null);
    assert.equal(bev1.getUnderlying(), null);
    assert.equal(bev1.pairGetPartner(), bev2);
    assert.equal(bev2.pairGetPartner(), bev1);
    assert.equal(bev1.getcb().arg, bev1);
    bev1.disable(EV_READ);
    bev2.enable(EV_READ);
    assert.equal(bev1.getEnabled(), EV_WRITE);
    assert.equal(bev2.getEnabled(), EV_WRITE | EV_READ);
    bev1.write(counting(8333));
    if (mode >= 0) assert.ok(bev1.flush(EV_WRITE, mode) >= 0);
    await bounded(base.dispatch(), 2500, "dispatch");
    bev2.free();
    assert.equal(bev1.pairGetPartner(), null);
    bev1.free();
    base.free();
    if (mode === BEV_FINISHED) {
      assert.equal(ok, -1, log.join(", "));
      assert.ok(log.includes(`event ${BEV_EVENT_READING | BEV_EVENT_EOF}`), log.join(", "));
    } else {
      assert.equal(ok, 2, log.join(", "));
    }
  });
}

// ---------------------------------------------------------------------------------------------
// bufferevent_pair_watermarks
// ---------------------------------------------------------------------------------------------

// Control: libevent test_bufferevent_watermarks_impl(use_pair=1): default low marks are 0;
// getWatermark returns what was set and refuses EV_READ|EV_WRITE; with read (10, 20) every read
// callback sees 10..20 bytes of the 65000; with write (100, 2000) every write callback sees
// <= 100 bytes pending; both finish.
Deno.test("Control: regress bufferevent_pair_watermarks: reads 10..20, write cb at <= 100", async () => {
  const base = new EventBase();
  const [bev1, bev2] = Bufferevent.pairNew(base, 0);
  let ok = 0;
  let nread = 0;
  const bad: string[] = [];
  bev1.setcb(null, (b) => {
    const n = b.getOutput().length;
    if (n > 100) bad.push(`write cb with ${n} pending`);
    if (n === 0) ok++;
  }, () => ok = -100);
  bev2.setcb(
    (b) => {
      const len = b.getInput().length;
      if (len < 10 || len > 20) bad.push(`read cb with ${len}`);
      const ev = new Evbuffer();
      b.readBuffer(ev);
      nread += len;
      if (nread === 65000) {
        b.disable(EV_READ);
        ok++;
      }
    },
    null,
    () => ok = -100,
  );
  bev1.disable(EV_READ);
  bev2.enable(EV_READ);
  assert.equal(bev1.getWatermark(EV_READ)[0], 0);
  assert.equal(bev2.getWatermark(EV_WRITE)[0], 0);
  bev2.setWatermark(EV_READ, 10, 20);
  assert.deepEqual(bev2.getWatermark(EV_READ), [10, 20]);
  bev1.setWatermark(EV_WRITE, 100, 2000);
  assert.deepEqual(bev1.getWatermark(EV_WRITE), [100, 2000]);
  assert.throws(() => bev1.getWatermark(EV_READ | EV_WRITE));
  bev1.write(counting(65000));
  await bounded(base.dispatch(), 2500, "dispatch");
  bev1.free();
  bev2.free();
  base.free();
  assert.deepEqual(bad.slice(0, 5), []);
  assert.equal(nread, 65000);
  assert.equal(ok, 2);
});

// ---------------------------------------------------------------------------------------------
// bufferevent_filters / bufferevent_pair_filters (+ _disable)
// ---------------------------------------------------------------------------------------------

/** libevent's input filter: strips the 'x' before each byte ('-' markers are skipped). */
function stripX(src: Evbuffer, dst: Evbuffer): number {
  const buf = src.pullup() ?? new Uint8Array(0);
  let i = 0;
  for (; i + 1 < buf.length; i += 2) {
    if (buf[i] === 0x2d) continue; // "-"
    if (buf[i] !== 0x78) throw new Error(`expected 'x' at ${i}, got ${buf[i]}`);
    dst.add(buf.subarray(i + 1, i + 2));
  }
  src.drain(i);
  return BEV_OK;
}

/** libevent's output filter: an 'x' before each byte. */
function addX(src: Evbuffer, dst: Evbuffer): void {
  const buf = src.pullup() ?? new Uint8Array(0);
  const out = new Uint8Array(buf.length * 2);
  for (let i = 0; i < buf.length; i++) {
    out[2 * i] = 0x78;
    out[2 * i + 1] = buf[i]!;
  }
  dst.add(out);
  src.drain(buf.length);
}

// Control: test_bufferevent_filters_impl(disable=0) over sockets and over a pair: 8333 bytes
// through an 'x'-inserting output filter and an 'x'-stripping input filter; the reader sees all
// 8333 in order, the writer's write callback sees an empty output, getUnderlying is the wrapped
// bufferevent.
for (const kind of ["socket", "pair"]) {
  Deno.test(`Control: regress bufferevent_filters (${kind}): 8333 bytes round-trip`, async () => {
    const base = new EventBase();
    const { b1, b2, cleanup } = await twoBevs(base, kind === "pair");
    let filterCalls = 0;
    const f1 = Bufferevent.filterNew(b1, null, (src, dst) => {
      filterCalls++;
      addX(src, dst);
      return BEV_OK;
    }, BEV_OPT_CLOSE_ON_FREE);
    const f2 = Bufferevent.filterNew(b2, stripX, null, BEV_OPT_CLOSE_ON_FREE);
    let ok = 0;
    let errors = 0;
    const got = new Evbuffer();
    // Stops the loop once both sides are done: a filter over a socket keeps dispatch() from
    // returning by itself (see "filter over a socket with reading disabled" below).
    f1.setcb(null, (b) => {
      if (b.getOutput().length === 0 && ++ok === 2) base.loopexit();
    }, () => errors++);
    f2.setcb(
      (b) => {
        got.addBuffer(b.getInput());
        if (got.length === 8333) {
          b.disable(EV_READ);
          if (++ok === 2) base.loopexit();
        }
      },
      null,
      () => errors++,
    );
    assert.equal(f1.getUnderlying(), b1);
    assert.equal(f2.getUnderlying(), b2);
    f1.disable(EV_READ);
    f2.enable(EV_READ);
    f1.write(counting(8333));
    await bounded(base.dispatch(), 2500, "dispatch");
    f1.free();
    f2.free();
    cleanup();
    base.free();
    assert.equal(errors, 0);
    assert.ok(filterCalls >= 1);
    assert.deepEqual(got.copyout(got.length), counting(8333));
    assert.equal(ok, 2);
  });
}

// Regression test. libevent test_bufferevent_filters_impl(disable=1) (bufferevent_filters_disable,
// bufferevent_pair_filters_disable): the output filter writes to its own filter bufferevent
// ("-") and asserts that this bufferevent_write() does not call the output filter again
// (be_filter_process_output disables the outbuf callback while the filter runs; the "-" is
// processed by the same loop afterwards). evdeno: FilterBackend.outputAdded
// (bufferevent/_filter.ts) runs #processOutput whenever `bev._inCb === 0`, which is the case
// inside a filter run from a write made outside any callback, so the filter re-enters itself
// (depth 2). Likely fix: a "processing output" flag in FilterBackend that makes outputAdded a
// no-op while #processOutput runs (its loop already picks up what was added).
for (const kind of ["socket", "pair"]) {
  Deno.test(`regress bufferevent_filters_disable (${kind}): the output filter is not re-entered`, async () => {
    const base = new EventBase();
    const { b1, b2, cleanup } = await twoBevs(base, kind === "pair");
    let depth = 0;
    let maxDepth = 0;
    let calls = 0;
    const holder: { f1: Bufferevent | null } = { f1: null };
    const f1 = Bufferevent.filterNew(b1, null, (src, dst) => {
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      calls++;
      try {
        addX(src, dst);
        if (calls === 1) holder.f1!.write("-"); // must not call this filter again now
      } finally {
        depth--;
      }
      return BEV_OK;
    }, BEV_OPT_CLOSE_ON_FREE);
    holder.f1 = f1;
    const f2 = Bufferevent.filterNew(b2, stripX, null, BEV_OPT_CLOSE_ON_FREE);
    const got = new Evbuffer();
    f2.setcb(
      (b) => {
        got.addBuffer(b.getInput());
        if (got.length === 8334) {
          b.disable(EV_READ);
          base.loopexit();
        }
      },
      null,
      null,
    );
    f1.disable(EV_READ);
    f2.enable(EV_READ);
    f1.write(counting(8333));
    await bounded(base.dispatch(), 2500, "dispatch");
    f1.free();
    f2.free();
    cleanup();
    base.free();
    assert.equal(maxDepth, 1, "the output filter ran inside itself");
    assert.equal(got.length, 8334);
    assert.equal(got.copyout(8334)[8333], 0x2d);
  });
}

// ---------------------------------------------------------------------------------------------
// bufferevent_connect (+ _defer, _lock_defer, _unlocked_cbs), bufferevent_connect_fail_eventcb
// ---------------------------------------------------------------------------------------------

const TEST_STR = "Now is the time for all good events to signal for the good of their protocol";

// Control: libevent test_bufferevent_connect with each option set: a listener whose callback
// writes TEST_STR and frees the connection once its output drained; two bufferevents with no
// connection connect, enable reading on CONNECTED and read the string at EOF. CONNECTED comes
// before any read callback, each one's read callback runs, no ERROR.
for (
  const [name, flags] of [
    ["", 0],
    ["defer", BEV_OPT_DEFER_CALLBACKS],
    ["lock defer", BEV_OPT_DEFER_CALLBACKS | BEV_OPT_THREADSAFE],
    [
      "lock defer unlocked",
      BEV_OPT_DEFER_CALLBACKS | BEV_OPT_THREADSAFE | BEV_OPT_UNLOCK_CALLBACKS,
    ],
  ] as const
) {
  Deno.test(`Control: regress bufferevent_connect (${name || "plain"}): two clients read TEST_STR`, async () => {
    const base = new EventBase();
    const lev = EvConnListener.newBind(
      base,
      (_l, conn) => {
        const bev = Bufferevent.socketNew(base, conn, BEV_OPT_CLOSE_ON_FREE | flags);
        bev.setcb(null, (b) => {
          if (b.getOutput().length === 0) {
            b.disable(EV_READ | EV_WRITE);
            b.free();
          }
        }, () => assert.fail("sender error"));
        bev.write(TEST_STR);
      },
      null,
      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
      16,
      LOOP,
    );
    const port = (lev.addr as Deno.NetAddr).port;
    let strings = 0;
    let reads = 0;
    const log: string[] = [];
    const bevs = [0, 1].map(() => Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE | flags));
    for (const [i, bev] of bevs.entries()) {
      bev.setcb(
        () => {
          reads++;
          log.push(`${i} read`);
        },
        null,
        (b, what) => {
          log.push(`${i} event ${what}`);
          if (what & BEV_EVENT_ERROR) return;
          if (what & BEV_EVENT_CONNECTED) b.enable(EV_READ);
          if (what & BEV_EVENT_EOF) {
            assert.equal(dec.decode(b.read(511)), TEST_STR);
            if (++strings === 2) base.loopexit();
          }
        },
      );
      bev.enable(EV_READ);
      bev.connect({ hostname: "127.0.0.1", port });
    }
    await bounded(base.dispatch(), 2500, "dispatch");
    for (const b of bevs) b.free();
    lev.free();
    base.free();
    assert.equal(strings, 2, log.join(", "));
    assert.ok(reads >= 2, log.join(", "));
    for (const i of [0, 1]) {
      const mine = log.filter((e) => e.startsWith(`${i} `));
      assert.equal(mine[0], `${i} event ${BEV_EVENT_CONNECTED}`, log.join(", "));
    }
  });
}

// Control: libevent test_bufferevent_connect_fail_eventcb (+ _defer): read and write callbacks
// set, both directions enabled, connecting to a port nobody listens on: nothing runs inside
// connect(), then exactly one event callback (ERROR) and never a read or write callback.
for (const flags of [0, BEV_OPT_DEFER_CALLBACKS]) {
  Deno.test(`Control: regress bufferevent_connect_fail_eventcb (flags ${flags}): one event, no data cb`, async () => {
    const base = new EventBase();
    const bev = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE | flags);
    let events = 0;
    let lastWhat = 0;
    let reads = 0;
    bev.setcb(() => reads++, () => reads++, (_b, what) => {
      events++;
      lastWhat = what;
    });
    bev.enable(EV_READ | EV_WRITE);
    assert.equal(events, 0);
    bev.connect({ hostname: "127.0.0.1", port: deadPort() });
    assert.equal(events, 0);
    assert.equal(reads, 0);
    await bounded(base.dispatch(), 2500, "dispatch");
    bev.free();
    base.free();
    assert.equal(events, 1);
    assert.equal(lastWhat, BEV_EVENT_ERROR);
    assert.equal(reads, 0);
  });
}

// ---------------------------------------------------------------------------------------------
// bufferevent_timeout (+ _pair, _filter, _filter_pair)
// ---------------------------------------------------------------------------------------------

interface TimeoutResult {
  readAt: number[];
  writeAt: number[];
  total: number;
}

/**
 * libevent test_bufferevent_timeouts: bev1 (read 150 ms, write 100 ms) has output that cannot
 * leave (a pair whose partner does not read; a socket whose peer does not read 16 MiB) and gets
 * exactly one read timeout at ~150 ms and one write timeout at ~100 ms; bev2 (read disabled,
 * write only, 200 ms) stays quiet on the read side. The loop exits at 350 ms.
 */
async function timeoutScenario(
  usePair: boolean,
  useFilter: boolean,
): Promise<{ r1: TimeoutResult; r2: TimeoutResult }> {
  const base = new EventBase();
  const two = await twoBevs(base, usePair);
  let bev1 = two.b1;
  let bev2 = two.b2;
  const cleanup = two.cleanup;
  if (useFilter) {
    bev1 = Bufferevent.filterNew(bev1, null, null, BEV_OPT_CLOSE_ON_FREE);
    bev2 = Bufferevent.filterNew(bev2, null, null, BEV_OPT_CLOSE_ON_FREE);
  }
  bev2.disable(EV_READ);
  const t0 = performance.now();
  const mk = (): TimeoutResult => ({ readAt: [], writeAt: [], total: 0 });
  const r1 = mk();
  const r2 = mk();
  const eventcb = (r: TimeoutResult) => (_b: Bufferevent, what: number) => {
    r.total++;
    const at = performance.now() - t0;
    if (
      (what & (BEV_EVENT_READING | BEV_EVENT_TIMEOUT)) === (BEV_EVENT_READING | BEV_EVENT_TIMEOUT)
    ) {
      r.readAt.push(at);
    }
    if (
      (what & (BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT)) === (BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT)
    ) {
      r.writeAt.push(at);
    }
  };
  bev1.setcb(null, () => {}, eventcb(r1));
  bev1.setWatermark(EV_WRITE, 1024 * 1024 + 10, 0);
  bev1.setTimeouts(150, 100);
  if (usePair) bev1.write("ABCDEFG");
  else bev1.getOutput().add(new Uint8Array(16 * 1024 * 1024).fill(0xbb));
  bev1.enable(EV_READ | EV_WRITE);
  bev2.setcb(null, () => {}, eventcb(r2));
  bev2.setTimeouts(100, 200);
  bev2.enable(EV_WRITE);
  base.loopexit(350);
  await bounded(base.dispatch(), 2500, "dispatch");
  bev1.free();
  bev2.free();
  cleanup();
  base.free();
  return { r1, r2 };
}

function assertOneEach(r: TimeoutResult): void {
  const msg = JSON.stringify(r);
  assert.equal(r.readAt.length, 1, `read timeouts: ${msg}`);
  assert.equal(r.writeAt.length, 1, `write timeouts: ${msg}`);
  assert.ok(r.readAt[0]! >= 140 && r.readAt[0]! < 260, `read timeout at ${msg}`);
  assert.ok(r.writeAt[0]! >= 90 && r.writeAt[0]! < 210, `write timeout at ${msg}`);
}

// Control: bufferevent_timeout (sockets) and bufferevent_timeout_pair.
Deno.test("Control: regress bufferevent_timeout (socket): one read and one write timeout", async () => {
  const { r1, r2 } = await timeoutScenario(false, false);
  assertOneEach(r1);
  assert.equal(r2.readAt.length, 0);
});

Deno.test("Control: regress bufferevent_timeout_pair: one read and one write timeout", async () => {
  const { r1, r2 } = await timeoutScenario(true, false);
  assertOneEach(r1);
  assert.equal(r2.readAt.length, 0);
  assert.equal(r2.writeAt.length, 0); // a pair arms its write timeout only with output pending
});

// Regression test. libevent bufferevent_timeout_filter / bufferevent_timeout_filter_pair: a
// filter's write timeout runs while writing is enabled (be_filter_enable →
// BEV_RESET_GENERIC_WRITE_TIMEOUT), so a filter whose bytes are stuck below it (the underlying
// socket's peer does not read, or the pair partner does not read) reports exactly one
// WRITING|TIMEOUT at ~100 ms. evdeno: the filter hands its output to the underlying bufferevent
// at once (FilterBackend.#processOutput), so the filter's own output is always empty and
// Bufferevent._armWriteTimer (bufferevent/bufferevent.ts) never arms its timer; no write timeout
// ever fires on a filter, however long the transport is stuck. Likely fix: for filters, treat
// "output pending" as own output OR the underlying output (FilterBackend could arm/touch the
// filter's write timer when it moves bytes down and disarm it in #underWrite when under's output
// empties), or arm at enable(EV_WRITE) as libevent does.
for (const pair of [false, true]) {
  Deno.test(`regress bufferevent_timeout_filter${pair ? "_pair" : ""}: one write timeout on a stuck filter`, async () => {
    const { r1, r2 } = await timeoutScenario(pair, true);
    assert.equal(r2.readAt.length, 0);
    assertOneEach(r1);
  });
}

// ---------------------------------------------------------------------------------------------
// bufferevent_socket_filter_inactive, bufferevent_filter_data_stuck, bufferevent_read_failed
// ---------------------------------------------------------------------------------------------

// Control: test_bufferevent_socket_filter_inactive: a pass-through filter over a socket
// bufferevent that has no connection can be created and freed (filter first, then the socket
// one, no CLOSE_ON_FREE), and holds nothing: dispatch returns at once.
Deno.test("Control: regress bufferevent_socket_filter_inactive", async () => {
  const base = new EventBase();
  const bev = Bufferevent.socketNew(base, null, 0);
  const bevf = Bufferevent.filterNew(bev, null, null, 0);
  assert.equal(bevf.getUnderlying(), bev);
  assert.equal(bevf.getConn(), null);
  await bounded(base.dispatch(), 1000, "dispatch with an inactive filter");
  bevf.free();
  bev.free();
  await bounded(base.dispatch(), 1000, "dispatch after free");
  base.free();
});

// Control: test_bufferevent_filter_data_stuck: DEFER|CLOSE_ON_FREE pair, read high 4096 on both
// ends and on a filter whose input filter prepends a 20-byte header once (and moves at most
// limit − header); 4096 payload bytes: all 4096 + 20 reach the reader.
Deno.test("Control: regress bufferevent_filter_data_stuck: 4096 + 20 bytes reach the reader", async () => {
  const base = new EventBase();
  const options = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
  const [p0, p1] = Bufferevent.pairNew(base, options);
  p0.setWatermark(EV_READ, 0, 4096);
  p1.setWatermark(EV_READ, 0, 4096);
  let headerInserted = false;
  let total = 0;
  const filter = Bufferevent.filterNew(
    p1,
    (src, dst, limit) => {
      let header = 0;
      if (!headerInserted) {
        dst.add(new Uint8Array(20));
        header = 20;
        headerInserted = true;
      }
      let n = src.length;
      if (limit >= 0 && n > limit - header) n = limit - header;
      assert.equal(src.removeBuffer(dst, n), n);
      return BEV_OK;
    },
    null,
    options,
  );
  filter.setcb(
    (b) => {
      const input = b.getInput();
      total += input.length;
      input.drain(input.length);
    },
    null,
    null,
  );
  filter.enable(EV_READ | EV_WRITE);
  filter.setWatermark(EV_READ, 0, 4096);
  p0.write(new Uint8Array(4096));
  await bounded(base.dispatch(), 2500, "dispatch");
  p0.free();
  filter.free();
  base.free();
  assert.equal(total, 4096 + 20);
});

// Control: test_bufferevent_read_failed (bufferevent_read returns 0 on a front-frozen input):
// evdeno's contract is that removing from a front-frozen buffer throws (DESIGN "Evbuffer
// edges"); bev.read() follows it and leaves the input intact.
Deno.test("Control: regress bufferevent_read_failed: read() of a front-frozen input throws, keeps data", () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  b.getInput().add("hello");
  b.getInput().freeze(true);
  assert.throws(() => b.read(5), EvbufferFrozenError);
  assert.equal(b.getInput().length, 5);
  b.getInput().unfreeze(true);
  assert.equal(dec.decode(b.read(5)), "hello");
  a.free();
  b.free();
  base.free();
});

// ---------------------------------------------------------------------------------------------
// §6 quirks 11, 12, 14
// ---------------------------------------------------------------------------------------------

// Control: quirk 11 — the read callback runs on every read while input >= low mark, not only
// when the mark is crossed (input left undrained: 6 bytes, then 6 + 3).
Deno.test("Control: quirk 11: read callback on every read at/above the low mark", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.setWatermark(EV_READ, 5, 0);
  const seen: number[] = [];
  bev.setcb(
    (b) => {
      seen.push(b.getInput().length);
      if (seen.length === 1) void writeAll(c, enc.encode("789"));
      else b.free();
    },
    null,
    null,
  );
  bev.enable(EV_READ);
  await writeAll(c, enc.encode("123456"));
  await bounded(base.dispatch(), 2500, "dispatch");
  bev.free();
  c.close();
  l.close();
  base.free();
  assert.deepEqual(seen, [6, 9]);
});

// Control: quirk 12 — socket bufferevents ignore the write high watermark: 256 KiB written with
// (0, 10) all reach the peer.
Deno.test("Control: quirk 12: a socket bufferevent ignores its write high watermark", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.setWatermark(EV_WRITE, 0, 10);
  const data = counting(256 * 1024);
  bev.write(data);
  const reader = readN(c, data.length);
  await bounded(base.dispatch(), 2500, "dispatch");
  const got = await bounded(reader, 2500, "peer read");
  bev.free();
  c.close();
  l.close();
  base.free();
  assert.equal(got.length, data.length);
  assert.deepEqual(got, data);
});

// Control: quirk 14 (libevent never sets got_eof, so input filters never see BEV_FINISHED):
// evdeno calls the input filter with BEV_FINISHED when the underlying bufferevent reports
// READING|EOF, then passes the EOF on; this pins that choice.
Deno.test("Control: quirk 14: an input filter sees BEV_FINISHED when the underlying hits EOF", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const modes: number[] = [];
  const f = Bufferevent.filterNew(
    b,
    (src, dst, _limit, mode) => {
      modes.push(mode);
      src.removeBuffer(dst, src.length);
      return BEV_OK;
    },
    null,
    BEV_OPT_CLOSE_ON_FREE,
  );
  let what = 0;
  f.setcb(null, null, (_b, w) => what = w);
  f.enable(EV_READ);
  a.write("tail");
  a.flush(EV_WRITE, BEV_FINISHED);
  await bounded(base.dispatch(), 2500, "dispatch");
  const got = dec.decode(f.read());
  a.free();
  f.free();
  base.free();
  assert.equal(got, "tail");
  assert.equal(what, BEV_EVENT_READING | BEV_EVENT_EOF);
  assert.ok(modes.includes(BEV_FINISHED), `modes ${modes}`);
});

// ---------------------------------------------------------------------------------------------
// dispatch() returns once nothing is enabled (no pending read left holding the loop)
// ---------------------------------------------------------------------------------------------

/**
 * Runs dispatch(); if it has not returned by itself after `ms`, calls `stop` (which must end
 * the loop, e.g. by freeing the bufferevents) and waits for it. Returns whether it returned by
 * itself, and when.
 */
async function dispatchAlone(
  base: EventBase,
  ms: number,
  stop: () => void,
): Promise<{ alone: boolean; ms: number }> {
  let alone = true;
  const id = setTimeout(() => {
    alone = false;
    stop();
  }, ms);
  const t0 = performance.now();
  try {
    await bounded(base.dispatch(), ms + 2000, "dispatch");
  } finally {
    clearTimeout(id);
  }
  return { alone, ms: performance.now() - t0 };
}

// Regression test. libevent: bufferevent_disable(EV_READ) deletes the read event
// (be_socket_disable → event_del), so a socket bufferevent with reading disabled and no output
// pending has no event left and event_base_dispatch() returns (every regress test above that
// disables reading in its read callback relies on it). evdeno: a read posted before the
// disable cannot be cancelled, and SocketBackend.busy() (bufferevent/_socket.ts) counts it
// (`this.#reading` → true), so Bufferevent._updateHold keeps a loop reference and dispatch()
// runs until the peer happens to send or close. Expected: dispatch() returns right after the
// 20 ms timer that disabled reading; actual: it runs until the test frees the bufferevent at
// 700 ms. Likely fix: busy() should count an in-flight read only while _readActive() (unref
// it as free() already does for a read left in flight; its bytes are held unannounced).
Deno.test("regress: disable(EV_READ) with a read in flight lets dispatch() return", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.enable(EV_READ); // posts a read; nothing is sent
  const t = evtimerNew(base, () => bev.disable(EV_READ));
  t.add(20);
  const r = await dispatchAlone(base, 700, () => bev.free());
  t.free();
  bev.free();
  c.close();
  l.close();
  base.free();
  assert.ok(
    r.alone,
    `dispatch() only returned when the bufferevent was freed (${r.ms.toFixed(0)} ms)`,
  );
});

// Regression test. libevent test_bufferevent_filters (socket variant) and
// bufferevent_socket_filter_inactive rely on event_dispatch() returning once the transfer is
// done: bufferevent_filter_new enables the underlying READ|WRITE but suspends its reading
// (BEV_SUSPEND_FILT_READ) while the filter's own EV_READ is off, so no read event is pending.
// evdeno: FilterBackend's constructor (bufferevent/_filter.ts) calls under.enable(EV_READ |
// EV_WRITE) *before* #syncUnderRead() suspends it, so the socket backend posts a read at once;
// that read can never be cancelled and SocketBackend.busy() keeps the loop alive. A filter over
// a connected socket with reading disabled makes dispatch() run until the peer sends or closes.
// Likely fix: suspend (SUSPEND_FILTER) before enabling the underlying bufferevent, and see the
// busy() fix above for reads already in flight.
Deno.test("regress: a filter over a socket with reading disabled lets dispatch() return", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  const f = Bufferevent.filterNew(bev, null, null, BEV_OPT_CLOSE_ON_FREE);
  assert.equal(f.getEnabled(), EV_WRITE);
  const r = await dispatchAlone(base, 700, () => f.free());
  f.free();
  c.close();
  l.close();
  base.free();
  assert.ok(r.alone, `dispatch() only returned when the filter was freed (${r.ms.toFixed(0)} ms)`);
});

// ---------------------------------------------------------------------------------------------
// EOF while reading is disabled
// ---------------------------------------------------------------------------------------------

// Regression test. libevent (bufferevent_sock.c): a read timeout disables EV_READ (deletes the
// read event); nothing is read or reported until the user enables EV_READ again ("re-enable to
// re-arm"), so a peer that closes meanwhile is reported as READING|EOF only after enable().
// evdeno holds back *bytes* from a read in flight at disable (#unannounced) but not the end of
// the stream: SocketBackend.#readCompleted (bufferevent/_socket.ts) reports READING|EOF at once
// while EV_READ is off. Expected: [timeout, enable, EOF]; actual: [timeout, EOF, enable].
// Likely fix: when the read in flight returns EOF (or an error) while !_readActive(), remember
// it and report it from enable(EV_READ), as #announce does for bytes.
Deno.test("regress: EOF from a read in flight after a read timeout waits for enable(EV_READ)", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.setTimeouts(100, 0);
  const log: string[] = [];
  const on = evtimerNew(base, () => {
    log.push("enable");
    bev.enable(EV_READ);
  });
  let peerClosed = false;
  bev.setcb(null, null, (b, what) => {
    if (what & BEV_EVENT_TIMEOUT) {
      log.push("timeout");
      c.close(); // the peer goes away while reading is off
      peerClosed = true;
      on.add(250);
    } else {
      log.push(what & BEV_EVENT_EOF ? "eof" : `event ${what}`);
      b.free();
    }
  });
  bev.enable(EV_READ);
  await bounded(base.dispatch(), 2500, "dispatch");
  on.free();
  bev.free();
  if (!peerClosed) c.close();
  l.close();
  base.free();
  assert.deepEqual(log, ["timeout", "enable", "eof"]);
});

// ---------------------------------------------------------------------------------------------
// listener/: randport, immediate_close, reuseport_on_unix_socket
// ---------------------------------------------------------------------------------------------

// Control: regress_listener.c regress_pick_a_port: two listeners on 127.0.0.1:0 get distinct
// ports; 2 + 1 connections are delivered to the right callbacks, each callback disabling its
// listener once its quota is reached.
Deno.test("Control: regress listener randport: two listeners, 2 + 1 connections, quota disables", async () => {
  const base = new EventBase();
  const counts = [0, 0];
  const quotas = [2, 1];
  const accepted: Deno.Conn[] = [];
  const mk = (i: number) =>
    EvConnListener.newBind(
      base,
      (lev, conn) => {
        accepted.push(conn);
        if (++counts[i]! === quotas[i]) lev.disable();
      },
      null,
      LEV_OPT_CLOSE_ON_FREE,
      -1,
      LOOP,
    );
  const l1 = mk(0);
  const l2 = mk(1);
  const p1 = (l1.addr as Deno.NetAddr).port;
  const p2 = (l2.addr as Deno.NetAddr).port;
  assert.notEqual(p1, p2);
  const clients = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: p1 }),
    Deno.connect({ hostname: "127.0.0.1", port: p1 }),
    Deno.connect({ hostname: "127.0.0.1", port: p2 }),
  ]);
  await bounded(base.dispatch(), 2500, "dispatch");
  l1.free();
  l2.free();
  for (const c of [...clients, ...accepted]) c.close();
  base.free();
  assert.deepEqual(counts, [2, 1]);
});

// Control: regress_listener.c test_evconnlistener_immediate_close: two clients connect and close
// at once; both accepts are still reported.
Deno.test("Control: regress listener immediate_close: both accepts reported", async () => {
  const base = new EventBase();
  let accepted = 0;
  const lev = EvConnListener.newBind(
    base,
    (l, conn) => {
      conn.close();
      if (++accepted === 2) l.disable();
    },
    null,
    LEV_OPT_CLOSE_ON_FREE,
    -1,
    LOOP,
  );
  const port = (lev.addr as Deno.NetAddr).port;
  for (let i = 0; i < 2; i++) (await Deno.connect({ hostname: "127.0.0.1", port })).close();
  await bounded(base.dispatch(), 2500, "dispatch");
  lev.free();
  base.free();
  assert.equal(accepted, 2);
});

// Regression test. regress_listener.c test_evconnlistener_reuseport_on_unix_socket (inventory
// §1.4: LEV_OPT_REUSEABLE_PORT "refused for AF_UNIX"): evconnlistener_new_bind with
// LEV_OPT_REUSEABLE_PORT on an AF_UNIX address fails (returns NULL). evdeno's
// EvConnListener.newBind (listener/listener.ts) only looks at LEV_OPT_REUSEABLE_PORT for TCP and
// silently binds the Unix socket. Likely fix: throw (EvError/TypeError) in newBind's Unix branch
// when LEV_OPT_REUSEABLE_PORT is set (libevent refuses LEV_OPT_REUSEABLE there too).
Deno.test("regress listener reuseport_on_unix_socket: newBind refuses REUSEABLE_PORT on Unix", () => {
  const base = new EventBase();
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/lev.sock`;
  let lev: EvConnListener | null = null;
  try {
    assert.throws(() => {
      lev = EvConnListener.newBind(
        base,
        (_l, conn) => conn.close(),
        null,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE_PORT,
        -1,
        { path },
      );
    });
  } finally {
    (lev as EvConnListener | null)?.free();
    Deno.removeSync(dir, { recursive: true });
    base.free();
  }
});
