// Review of bufferevents against libevent (bufferevent.c, bufferevent_sock.c, bufferevent_pair.c,
// bufferevent_filter.c) and the README. Tests whose comment starts "Regression test" cover bugs
// this review found (now fixed).
import assert from "node:assert/strict";
import {
  BEV_ERROR,
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_EVENT_TIMEOUT,
  BEV_EVENT_WRITING,
  BEV_FINISHED,
  BEV_FLUSH,
  BEV_NEED_MORE,
  BEV_NORMAL,
  BEV_OK,
  BEV_OPT_CLOSE_ON_FREE,
  BEV_OPT_DEFER_CALLBACKS,
  BEV_TRIG_DEFER_CALLBACKS,
  BEV_TRIG_IGNORE_WATERMARKS,
  Bufferevent,
  type Evbuffer,
  EvbufferFrozenError,
} from "../bufferevent/mod.ts";
import { EV_READ, EV_WRITE, EventBase, EVLOOP_ONCE, evtimerNew } from "../reactor/mod.ts";
import { bounded, connectedPair, listenLoopback, readN, writeAll } from "./_helpers.ts";
import { testPki } from "./_tls.ts";

const pki = await testPki();

const dec = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// Output freezing
// ---------------------------------------------------------------------------------------------

// Regression test. Before the fix: README ("How it maps to Deno"): "Socket bufferevents keep their output front-frozen as
// libevent does: a user `drain` of the output throws". libevent's bufferevent_socket_new does
// evbuffer_freeze(output, 1) (and freeze(input, 0)). Nothing in bufferevent/_socket.ts freezes
// the output, so the drain succeeds (and a write completion then drains bytes it never sent).
Deno.test("socket output is front-frozen: a user drain() of the output throws", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.write("hello");
  let threw: unknown = null;
  try {
    bev.getOutput().drain(1);
  } catch (e) {
    threw = e;
  }
  bev.free();
  c.close();
  l.close();
  base.free();
  assert.ok(threw instanceof EvbufferFrozenError, `drain of the output did not throw (${threw})`);
});

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

// Regression test. Before the fix: libevent's filter suspends reading on the underlying bufferevent (BEV_SUSPEND_FILT_READ)
// while the filter itself is not reading: bufferevent_filter_new suspends it until the filter's
// EV_READ is enabled, and be_filter_disable suspends it again (inventory: "the filter bev's
// read-enable controls whether under is read"). evdeno's FilterBackend never suspends `under`
// (SUSPEND_FILTER in _backend.ts is unused; Bufferevent.disable() never reaches the backend), so
// `under` keeps reading into its input without bound while the filter is not reading.
Deno.test("filter with reading disabled: the underlying bufferevent stops reading", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const f = Bufferevent.filterNew(b, null, null, BEV_OPT_CLOSE_ON_FREE);
  // f has EV_READ disabled (the default for new bufferevents).
  assert.equal(f.getEnabled() & EV_READ, 0);
  a.write(new Uint8Array(256 * 1024));
  await bounded(base.dispatch(), 2000, "dispatch");
  const underIn = b.getInput().length;
  const aOut = a.getOutput().length;
  f.free();
  a.free();
  base.free();
  assert.equal(underIn, 0, `under read ${underIn} bytes for a filter that is not reading`);
  assert.equal(aOut, 256 * 1024);
});

// Regression test. Before the fix: same root cause with the filter's read high watermark: libevent's
// bufferevent_wm_suspend_read on the filter calls be_filter_disable(EV_READ), which suspends
// `under` (FILT_READ). evdeno's filter never even suspends itself (its _readDone is never
// called), and `under` buffers everything: backpressure is lost (DESIGN: "a slow consumer bounds
// memory, never grows it without limit").
Deno.test("filter at its read high watermark: the underlying bufferevent stops reading", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const f = Bufferevent.filterNew(b, null, null, BEV_OPT_CLOSE_ON_FREE);
  f.setWatermark(EV_READ, 0, 100);
  let reads = 0;
  f.setcb(() => reads++, null, null); // slow consumer: drains nothing
  f.enable(EV_READ);
  a.write(new Uint8Array(256 * 1024));
  await bounded(base.dispatch(), 2000, "dispatch");
  // The first transfer moved everything into `under` (it was reading, as in libevent). Now the
  // filter is full: `under` must not take more.
  const underBefore = b.getInput().length;
  a.write(new Uint8Array(64 * 1024));
  await bounded(base.dispatch(), 2000, "dispatch");
  const fIn = f.getInput().length;
  const underIn = b.getInput().length;
  const aOut = a.getOutput().length;
  f.free();
  a.free();
  base.free();
  assert.ok(reads >= 1);
  assert.equal(fIn, 100);
  assert.equal(underIn, underBefore, `under read on behind a full filter`);
  assert.equal(aOut, 64 * 1024);
});

// Regression test. Before the fix: libevent test bufferevent_filter_data_stuck: data left in under's input when the filter's
// input hit its high mark must flow once the user drains, whenever that happens (libevent's
// bufferevent_filtered_inbuf_cb pulls it on the drain). evdeno only pulls after one of the
// filter's own callbacks (FilterBackend.afterCallback); a drain from elsewhere (a timer here)
// leaves the bytes stuck in `under`.
Deno.test("filter: data left in under's input flows after a drain outside the callbacks", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const f = Bufferevent.filterNew(b, null, null, BEV_OPT_CLOSE_ON_FREE);
  f.setWatermark(EV_READ, 0, 10);
  let got = 0;
  let reads = 0;
  f.setcb(() => reads++, null, null); // looks only; a timer consumes
  f.enable(EV_READ);
  a.write(new Uint8Array(100));
  let ticks = 0;
  const t = evtimerNew(base, () => {
    got += f.read().length;
    if (got < 100 && ++ticks < 40) t.add(10);
  });
  t.add(10);
  await bounded(base.dispatch(), 3000, "dispatch");
  t.free();
  f.free();
  a.free();
  base.free();
  assert.equal(got, 100, `only ${got} of 100 bytes came through (read callbacks: ${reads})`);
});

// Regression test. Before the fix: libevent's filter resets its generic read timeout whenever input is processed
// (be_filter_process_input: BEV_RESET_GENERIC_READ_TIMEOUT). evdeno's FilterBackend runs the read
// callback directly (#underRead → _runReadcb) and never touches the filter's read timer, so a
// filter times out after readMs even though data keeps flowing every 40 ms.
Deno.test("filter: the read timeout restarts while data flows through", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const f = Bufferevent.filterNew(b, null, null, BEV_OPT_CLOSE_ON_FREE);
  f.setTimeouts(250, 0);
  let got = 0;
  let timeoutAt = -1;
  const t0 = performance.now();
  f.setcb((bev) => got += bev.read().length, null, (_bev, what) => {
    if (what & BEV_EVENT_TIMEOUT) timeoutAt = performance.now() - t0;
  });
  f.enable(EV_READ);
  let sent = 0;
  const t = evtimerNew(base, () => {
    a.write("x");
    if (++sent < 20) t.add(40); // 800 ms of steady traffic, 40 ms apart
  });
  t.add(40);
  await bounded(base.dispatch(), 4000, "dispatch");
  t.free();
  f.free();
  a.free();
  base.free();
  // Not while the bytes flow (the last arrives at ~800 ms); 250 ms after the last one it does.
  assert.ok(timeoutAt >= 1000, `filter timed out at ${timeoutAt.toFixed(0)} ms despite traffic`);
  assert.equal(got, 20);
});

// ---------------------------------------------------------------------------------------------
// enable / disable / timeouts on sockets
// ---------------------------------------------------------------------------------------------

// Regression test. Before the fix: libevent's bufferevent_enable(EV_READ) re-adds the read event with its timeout
// (be_socket_enable → be_socket_add(&ev_read, &timeout_read)), so enabling an already enabled
// direction restarts its timeout (inventory: "enabling (re)arms timeouts"). evdeno's
// #armReadTimer keeps an armed timer as it is (`if (!this.#readTimer.armed)`), so the timeout
// fires readMs after the first enable regardless.
Deno.test("enable(EV_READ) again restarts the read timeout", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.setTimeouts(300, 0);
  let timeoutAt = -1;
  const t0 = performance.now();
  bev.setcb(null, null, (b, what) => {
    if (what & BEV_EVENT_TIMEOUT) timeoutAt = performance.now() - t0;
    b.free();
  });
  bev.enable(EV_READ);
  const t = evtimerNew(base, () => bev.enable(EV_READ)); // re-arm 200 ms in: expires at ~500
  t.add(200);
  await bounded(base.dispatch(), 3000, "dispatch");
  t.free();
  c.close();
  l.close();
  base.free();
  assert.ok(timeoutAt >= 450, `read timeout fired at ${timeoutAt.toFixed(0)} ms, not ~500`);
});

// Regression test. Before the fix: after disable(EV_READ) libevent reads nothing and runs no read callback until EV_READ is
// enabled again (bufferevent_disable deletes ev_read). evdeno cannot cancel the read already in
// flight, and SocketBackend.#readCompleted hands its bytes to _readDone, which runs the read
// callback although reading is disabled (README: disable = "no reads are started", and a timeout
// "disables its direction"). Buffering the bytes is fine; calling the read callback is not.
Deno.test("no read callback while EV_READ is disabled (read in flight at disable)", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  const log: string[] = [];
  bev.setcb(
    (b) => {
      log.push(`read enabled=${(b.getEnabled() & EV_READ) !== 0}`);
      b.free();
    },
    null,
    null,
  );
  bev.enable(EV_READ);
  const on = evtimerNew(base, () => {
    log.push("enable");
    bev.enable(EV_READ);
  });
  const off = evtimerNew(base, () => {
    bev.disable(EV_READ);
    log.push("disable");
    void writeAll(c, new TextEncoder().encode("late")); // arrives while disabled
    on.add(300);
  });
  off.add(50);
  await bounded(base.dispatch(), 3000, "dispatch");
  on.free();
  off.free();
  bev.free();
  c.close();
  l.close();
  base.free();
  assert.deepEqual(log, ["disable", "enable", "read enabled=true"]);
});

// Regression test. Before the fix: the same through a read timeout, the common case (the timeout disables EV_READ with a read
// in flight; libevent's "re-enable to re-arm" means nothing is read or reported before that).
Deno.test("no read callback after a read timeout until EV_READ is enabled again", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.setTimeouts(100, 0);
  const log: string[] = [];
  const on = evtimerNew(base, () => {
    log.push("enable");
    bev.enable(EV_READ);
  });
  bev.setcb(
    (b) => {
      log.push(`read ${dec.decode(b.read())}`);
      b.free();
      on.del();
    },
    null,
    (_b, what) => {
      log.push(`event ${what}`);
      void writeAll(c, new TextEncoder().encode("late"));
      on.add(300);
    },
  );
  bev.enable(EV_READ);
  await bounded(base.dispatch(), 3000, "dispatch");
  on.free();
  bev.free();
  c.close();
  l.close();
  base.free();
  assert.deepEqual(log, [`event ${BEV_EVENT_TIMEOUT | BEV_EVENT_READING}`, "enable", "read late"]);
});

// Regression test. Before the fix: libevent's bufferevent_writecb, on connect completion, runs the event callback
// (CONNECTED) and then `if (!(bufev->enabled & EV_WRITE) || write_suspended) goto done` — no
// write callback while writing is disabled. evdeno's SocketBackend.run() calls _runWritecb after
// CONNECTED without looking at EV_WRITE.
Deno.test("connect with EV_WRITE disabled: CONNECTED but no write callback", async () => {
  const base = new EventBase();
  const { listener, port } = listenLoopback();
  const bev = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE);
  const log: string[] = [];
  bev.setcb(null, () => log.push("write"), (b, what) => {
    log.push(`event ${what}`);
    // Let any write callback queued behind CONNECTED run, then stop.
    const t = evtimerNew(base, () => {
      t.free();
      b.free();
    });
    t.add(50);
  });
  bev.disable(EV_WRITE);
  bev.connect({ hostname: "127.0.0.1", port });
  const accepted = listener.accept();
  await bounded(base.dispatch(), 3000, "dispatch");
  (await accepted).close();
  listener.close();
  base.free();
  assert.deepEqual(log, [`event ${BEV_EVENT_CONNECTED}`]);
});

// Regression test. Before the fix: libevent applies the bufferevent's timeouts while connecting: the write event carrying
// the connect has timeout_write (bufferevent_writecb: EV_TIMEOUT → TIMEOUT|WRITING), and an SSL
// bufferevent's handshake events carry the read/write timeouts (be_openssl_handshakeeventcb:
// EV_TIMEOUT → BEV_EVENT_TIMEOUT). evhttp relies on this as its connect timeout. evdeno suspends
// both directions for the whole connect phase (Bufferevent._setConnecting: SUSPEND_CONNECTING
// keeps #armReadTimer from arming; _armWriteTimer needs pending output) and the TLS client
// handshake has no deadline, so a TLS client talking to a server that never answers the
// handshake waits forever despite setTimeouts.
Deno.test({
  name: "TLS client: setTimeouts bounds a handshake the server never answers",
  ignore: pki === null,
}, async () => {
  const base = new EventBase();
  const { listener, port } = listenLoopback(); // plain TCP: accepts, never speaks TLS
  const accepted = listener.accept();
  const bev = Bufferevent.tlsNew(
    base,
    null,
    { hostname: "localhost", caCerts: [pki!.caCert] },
    BEV_OPT_CLOSE_ON_FREE,
  );
  let what = 0;
  bev.setcb(null, null, (b, w) => {
    what = w;
    b.free();
  });
  // The order of a client that configures its connection once connect() is under way
  // (libevent's set_timeouts re-adds the pending connect/handshake events with the timeouts).
  bev.connect({ hostname: "127.0.0.1", port });
  bev.setTimeouts(200, 200);
  bev.enable(EV_READ | EV_WRITE);
  const loop = base.dispatch();
  let hung = false;
  try {
    await bounded(loop, 2000, "handshake");
  } catch {
    hung = true;
    bev.free(); // closes the connection: the handshake fails unobserved, the loop ends
    await loop;
  }
  (await accepted).close();
  listener.close();
  base.free();
  assert.ok(!hung, "no timeout reported within 2 s (read/write timeouts were 200 ms)");
  assert.equal(what & BEV_EVENT_TIMEOUT, BEV_EVENT_TIMEOUT, `event ${what}`);
});

// ---------------------------------------------------------------------------------------------
// connect / connectHostname
// ---------------------------------------------------------------------------------------------

// A refused connect: exactly BEV_EVENT_ERROR (no READING/WRITING bit, as libevent), the Deno
// error in getError(), and the enabled set left as it was (libevent only deletes the events).
Deno.test("connect refused: exactly BEV_EVENT_ERROR, enabled set untouched, nothing leaks", async () => {
  const base = new EventBase();
  const { listener, port } = listenLoopback();
  listener.close();
  const bev = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  const log: number[] = [];
  let writes = 0;
  bev.setcb(null, () => writes++, (_b, w) => log.push(w));
  bev.enable(EV_READ | EV_WRITE);
  bev.write("queued before connect");
  bev.connect({ hostname: "127.0.0.1", port });
  await bounded(base.dispatch(), 3000, "dispatch");
  assert.deepEqual(log, [BEV_EVENT_ERROR]);
  assert.equal(writes, 0);
  assert.ok(bev.getError() instanceof Deno.errors.ConnectionRefused, String(bev.getError()));
  assert.equal(bev.getEnabled(), EV_READ | EV_WRITE);
  assert.equal(bev.getConn(), null);
  bev.free();
  base.free();
});

// Regression test. Before the fix: libevent's bufferevent_socket_connect_hostname with dnsbase NULL resolves with a blocking
// getaddrinfo and, on failure, keeps the EVUTIL_EAI_* code for
// bufferevent_socket_get_dns_error (inventory: "Lookup failure → eventcb(ERROR), error code
// kept"); README documents getDnsError() for connectHostname. evdeno's
// SocketBackend.connectHostname with dns === null hands the name to connect() (Deno.connect
// resolves it), so a name that does not resolve reports ERROR with getDnsError() === 0.
Deno.test("connectHostname(null, …) of a name that does not resolve sets getDnsError()", async () => {
  const base = new EventBase();
  const bev = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE);
  let what = 0;
  bev.setcb(null, null, (_b, w) => what = w);
  bev.connectHostname(null, 0, "no-such-host.invalid", 80);
  await bounded(base.dispatch(), 4000, "dispatch");
  const dnsErr = bev.getDnsError();
  bev.free();
  base.free();
  assert.equal(what, BEV_EVENT_ERROR);
  assert.notEqual(dnsErr, 0, "getDnsError() is 0 after a failed lookup");
});

// ---------------------------------------------------------------------------------------------
// trigger
// ---------------------------------------------------------------------------------------------

// Regression test. Before the fix: libevent's bufferevent_trigger(bev, iotype, options) takes BEV_TRIG_IGNORE_WATERMARKS
// (1<<16: run the callbacks whatever the watermarks say) and BEV_TRIG_DEFER_CALLBACKS, and
// bufferevent_trigger_event(bev, what, options) runs the event callback (libevent test
// bufferevent_trigger). evdeno's trigger(iotype) has no options parameter, the BEV_TRIG_*
// constants are not exported and there is no triggerEvent: a port passing
// BEV_TRIG_IGNORE_WATERMARKS silently gets the watermark-gated behaviour.
Deno.test("trigger(EV_READ, BEV_TRIG_IGNORE_WATERMARKS) runs the read callback below low", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const BEV_TRIG_IGNORE_WATERMARKS = 1 << 16;
  let reads = 0;
  b.setcb(() => reads++, null, null);
  b.setWatermark(EV_READ, 10, 0);
  const trig = b as unknown as {
    trigger(iotype: number, opts?: number): void;
    triggerEvent?: (what: number, opts?: number) => void;
  };
  trig.trigger(EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
  await base.loop(1); // pairs defer their callbacks: run them
  const hasTriggerEvent = typeof trig.triggerEvent === "function";
  a.free();
  b.free();
  base.free();
  assert.equal(reads, 1, "read callback not run with BEV_TRIG_IGNORE_WATERMARKS");
  assert.ok(hasTriggerEvent, "no triggerEvent (bufferevent_trigger_event)");
});

// trigger without options follows the watermarks and defers on a deferred bufferevent.
Deno.test("trigger(EV_READ|EV_WRITE): watermark-gated, deferred on a deferred bufferevent", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const log: string[] = [];
  b.setcb(() => log.push("read"), () => log.push("write"), null);
  b.setWatermark(EV_READ, 1, 0); // empty input: below low
  b.trigger(EV_READ | EV_WRITE);
  log.push("after trigger");
  await base.loop(1);
  b.setWatermark(EV_READ, 0, 0);
  b.trigger(EV_READ);
  await base.loop(1);
  a.free();
  b.free();
  base.free();
  assert.deepEqual(log, ["after trigger", "write", "read"]);
});

// ---------------------------------------------------------------------------------------------
// Pair flush
// ---------------------------------------------------------------------------------------------

// Regression test. Before the fix: libevent's be_pair_flush handles EV_READ too: it pulls the partner's output into this
// end's input (be_pair_transfer(partner, bev, 1)), and BEV_FINISHED sends the partner EOF with
// BEV_EVENT_WRITING for an EV_READ flush (READING for EV_WRITE; both for both). evdeno's
// PairBackend.flush returns 0 for any flush without EV_WRITE.
Deno.test("pair: flush(EV_READ, BEV_FLUSH) pulls the partner's output", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  a.disable(EV_WRITE); // a's output stays put on its own
  a.write("pull me");
  b.enable(EV_READ);
  await base.loop(1);
  assert.equal(b.getInput().length, 0);
  b.flush(EV_READ, BEV_FLUSH);
  const got = b.getInput().toString();
  a.free();
  b.free();
  base.free();
  assert.equal(got, "pull me");
});

// Regression test. Before the fix: same function: the EOF event is built from iotype (EV_READ adds WRITING, EV_WRITE adds
// READING); evdeno always sends EOF|READING, and nothing at all for an EV_READ-only flush.
Deno.test("pair: flush(EV_READ|EV_WRITE, BEV_FINISHED) tells the partner EOF|READING|WRITING", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  let what = 0;
  b.setcb(null, null, (_b, w) => what |= w);
  a.flush(EV_READ | EV_WRITE, BEV_FINISHED);
  await base.loop(1);
  a.free();
  b.free();
  base.free();
  assert.equal(what, BEV_EVENT_EOF | BEV_EVENT_READING | BEV_EVENT_WRITING);
});

// ---------------------------------------------------------------------------------------------
// flush(BEV_FINISHED) on sockets
// ---------------------------------------------------------------------------------------------

// Regression test. Before the fix: after flush(EV_WRITE, BEV_FINISHED) half-closed the socket, a later write() is neither
// sent nor refused: SocketBackend.#startWrite returns early on #shutdown, the bytes sit in the
// output forever, and busy() (output pending, EV_WRITE enabled) keeps dispatch() from ever
// returning. On a shut-down socket libevent's write fails with EPIPE → eventcb(WRITING|ERROR)
// (bufferevent_writecb), and nothing holds the loop.
Deno.test("write after flush(BEV_FINISHED): reported as WRITING|ERROR, the loop ends", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  let what = 0;
  bev.setcb(null, null, (_b, w) => what |= w);
  bev.write("abc");
  bev.flush(EV_WRITE, BEV_FINISHED);
  const t = evtimerNew(base, () => bev.write("after the end"));
  t.add(50);
  const peer = readN(c, 3);
  const loop = base.dispatch();
  let hung = false;
  try {
    await bounded(loop, 1500, "dispatch");
  } catch {
    hung = true;
    bev.free();
    await loop;
  }
  assert.equal(dec.decode(await peer), "abc");
  t.free();
  bev.free();
  c.close();
  l.close();
  base.free();
  assert.ok(!hung, "dispatch() never returned: the late write is stuck in the output");
  assert.equal(what & (BEV_EVENT_WRITING | BEV_EVENT_ERROR), BEV_EVENT_WRITING | BEV_EVENT_ERROR);
});

// ---------------------------------------------------------------------------------------------
// Behaviour that matches libevent (kept as regression tests)
// ---------------------------------------------------------------------------------------------

// Read low watermark: the read callback runs only with input ≥ low; bytes below it at EOF are
// left in the input for the event callback (libevent: no read callback for them).
Deno.test("read low watermark: callbacks only at ≥ low; the short tail waits for EOF", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.setWatermark(EV_READ, 10, 0);
  const log: string[] = [];
  bev.setcb(
    (b) => {
      assert.ok(b.getInput().length >= 10);
      log.push(`read ${dec.decode(b.read(10))}`);
    },
    null,
    (b, w) => {
      log.push(`event ${w} left ${b.getInput().toString()}`);
      b.free();
    },
  );
  bev.enable(EV_READ);
  const loop = base.dispatch();
  const enc = new TextEncoder();
  await writeAll(c, enc.encode("01234"));
  await writeAll(c, enc.encode("56789abc")); // 13 in all: one callback, 3 left
  c.closeWrite();
  await bounded(loop, 3000, "dispatch");
  c.close();
  l.close();
  base.free();
  assert.deepEqual(log, ["read 0123456789", `event ${BEV_EVENT_READING | BEV_EVENT_EOF} left abc`]);
});

// BEV_OPT_DEFER_CALLBACKS on a pair: a batch runs read, write, then the event callback, each once
// however many times it was queued, with the event flags OR-ed (libevent's
// bufferevent_run_deferred_callbacks_locked).
Deno.test("deferred callbacks coalesce: one read, one write, then the event", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const log: string[] = [];
  b.setcb(
    (bev) => log.push(`read ${dec.decode(bev.read())}`),
    () => log.push("write"),
    (_b, w) => log.push(`event ${w}`),
  );
  b.enable(EV_READ);
  a.write("x");
  a.flush(EV_WRITE, BEV_FINISHED); // moves "x" now (read queued) and queues EOF|READING
  b.trigger(EV_WRITE);
  b.trigger(EV_WRITE);
  b.trigger(EV_READ);
  log.push("queued");
  await base.loop(1);
  a.free();
  b.free();
  base.free();
  assert.deepEqual(log, [
    "queued",
    "read x",
    "write",
    `event ${BEV_EVENT_READING | BEV_EVENT_EOF}`,
  ]);
});

// free() from each callback kind of a deferred socket bufferevent: nothing runs after it, no
// resource leaks (the sanitizers check), the loop ends.
for (const kind of ["connected", "read", "write", "eof"] as const) {
  Deno.test(`DEFER socket: free() inside the ${kind} callback`, async () => {
    const base = new EventBase();
    const { listener, port } = listenLoopback();
    const bev = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    const log: string[] = [];
    bev.setcb((b) => {
      log.push("read");
      b.read();
      if (kind === "read") b.free();
      else if (kind === "write") b.write("x");
    }, (b) => {
      log.push("write");
      if (kind === "write" && log.includes("read")) b.free();
    }, (b, w) => {
      log.push(`event ${w}`);
      if (kind === "connected" || (w & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) b.free();
    });
    bev.enable(EV_READ | EV_WRITE);
    bev.connect({ hostname: "127.0.0.1", port });
    const server = (async () => {
      const s = await listener.accept();
      try {
        await writeAll(s, new TextEncoder().encode("hi"));
        if (kind === "eof") await s.closeWrite();
        const buf = new Uint8Array(16);
        while ((await s.read(buf)) !== null) { /* until the client closes */ }
      } catch { /* reset or closed */ }
      s.close();
    })();
    await bounded(base.dispatch(), 3000, "dispatch");
    await server;
    listener.close();
    base.free();
    const last = log[log.length - 1];
    if (kind === "connected") assert.deepEqual(log, [`event ${BEV_EVENT_CONNECTED}`]);
    else assert.equal(log[0], `event ${BEV_EVENT_CONNECTED}`);
    if (kind === "read") assert.equal(last, "read");
    if (kind === "write") assert.equal(last, "write");
    if (kind === "eof") assert.equal(last, `event ${BEV_EVENT_READING | BEV_EVENT_EOF}`);
  });
}

// A filter over a socket, freed (CLOSE_ON_FREE) from its read callback and from its event
// callback at EOF: the underlying socket bufferevent goes with it, nothing leaks.
for (const where of ["read", "eof"] as const) {
  Deno.test(`filter over a socket: free() inside its ${where} callback`, async () => {
    const base = new EventBase();
    const [c, s, l] = await connectedPair();
    const under = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
    const f = Bufferevent.filterNew(under, null, null, BEV_OPT_CLOSE_ON_FREE);
    const log: string[] = [];
    f.setcb(
      (b) => {
        log.push(`read ${dec.decode(b.read())}`);
        if (where === "read") b.free();
      },
      null,
      (b, w) => {
        log.push(`event ${w}`);
        b.free();
      },
    );
    f.enable(EV_READ);
    await writeAll(c, new TextEncoder().encode("data"));
    if (where === "eof") c.closeWrite();
    await bounded(base.dispatch(), 3000, "dispatch");
    c.close();
    l.close();
    base.free();
    assert.deepEqual(
      log,
      where === "read"
        ? ["read data"]
        : ["read data", `event ${BEV_EVENT_READING | BEV_EVENT_EOF}`],
    );
  });
}

// Filter results: NEED_MORE holds bytes back in NORMAL mode, FLUSH pushes them, an output filter's
// BEV_ERROR reports WRITING|ERROR with getError() set.
Deno.test("filter results: NEED_MORE waits, BEV_FLUSH pushes, output BEV_ERROR is WRITING|ERROR", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const modes: number[] = [];
  const by4 = (src: Evbuffer, dst: Evbuffer, _lim: number, mode: number): number => {
    modes.push(mode);
    if (src.length === 0) return BEV_NEED_MORE;
    if (mode === BEV_NORMAL && src.length < 4) return BEV_NEED_MORE;
    const n = mode === BEV_NORMAL ? src.length - (src.length % 4) : src.length;
    src.removeBuffer(dst, n);
    return BEV_OK;
  };
  const f = Bufferevent.filterNew(a, null, by4, BEV_OPT_CLOSE_ON_FREE);
  let got = "";
  b.setcb((bev) => got += dec.decode(bev.read()), null, null);
  b.enable(EV_READ);
  f.write("abcdef");
  await base.loop(1);
  await base.loop(1 | 2 /* ONCE | NONBLOCK */);
  assert.equal(got, "abcd");
  assert.equal(f.flush(EV_WRITE, BEV_FLUSH), 1);
  await base.loop(1);
  assert.equal(got, "abcdef");
  assert.ok(modes.includes(BEV_FLUSH));
  const g = Bufferevent.filterNew(b, null, () => BEV_ERROR, 0);
  let what = 0;
  g.setcb(null, null, (_x, w) => what = w);
  g.write("boom");
  await base.loop(1 | 2);
  assert.equal(what, BEV_EVENT_WRITING | BEV_EVENT_ERROR);
  assert.ok(g.getError() !== null);
  g.free();
  f.free();
  b.free();
  base.free();
});

// A read timeout disables EV_READ; enabling it from the event callback re-arms a full timeout.
Deno.test("read timeout: re-enabled from the event callback, it fires again a full period later", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.setTimeouts(150, 0);
  const at: number[] = [];
  const t0 = performance.now();
  bev.setcb(null, null, (b, w) => {
    assert.equal(w, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
    assert.equal(b.getEnabled() & EV_READ, 0);
    at.push(performance.now() - t0);
    if (at.length < 2) b.enable(EV_READ);
    else b.free();
  });
  bev.enable(EV_READ);
  await bounded(base.dispatch(), 3000, "dispatch");
  c.close();
  l.close();
  base.free();
  assert.equal(at.length, 2);
  assert.ok(at[0] >= 140 && at[1] - at[0] >= 140, `timeouts at ${at.map((x) => x.toFixed(0))}`);
});

// Regression test. Before the fix: the write-side twin of the read case: a write timeout disables EV_WRITE while a write is
// in flight (Deno cannot cancel it); when it completes, SocketBackend.#wroteCompleted →
// Bufferevent._wroteDone runs the write callback although writing is disabled. libevent deletes
// ev_write on the timeout and runs no write callback until EV_WRITE is enabled again.
Deno.test("no write callback after a write timeout until EV_WRITE is enabled again", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.setTimeouts(0, 100);
  const log: string[] = [];
  let reader: Promise<Uint8Array> | null = null;
  const size = 4 * 1024 * 1024; // one write larger than the loopback buffers
  const on = evtimerNew(base, () => {
    log.push("enable");
    bev.enable(EV_WRITE);
  });
  bev.setcb(null, (b) => {
    log.push(`write enabled=${(b.getEnabled() & EV_WRITE) !== 0}`);
    b.free();
    on.del();
  }, (_b, what) => {
    log.push(`event ${what}`);
    reader = readN(c, size); // the peer reads now: the stuck write completes
    on.add(500);
  });
  bev.write(new Uint8Array(size));
  await bounded(base.dispatch(), 4000, "dispatch");
  await reader;
  on.free();
  bev.free();
  c.close();
  l.close();
  base.free();
  assert.deepEqual(log, [
    `event ${BEV_EVENT_TIMEOUT | BEV_EVENT_WRITING}`,
    "enable",
    "write enabled=true",
  ]);
});

// BEV_TRIG_DEFER_CALLBACKS on a bufferevent without deferred callbacks runs the triggered
// callbacks from the loop, not inside trigger(); triggerEvent runs the event callback with the
// flags given, now or (deferred) from the loop.
Deno.test("trigger/triggerEvent with BEV_TRIG_DEFER_CALLBACKS run from the loop", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  const log: string[] = [];
  bev.setcb(() => log.push("read"), null, (_b, what) => log.push(`event ${what}`));
  bev.setWatermark(EV_READ, 10, 0); // empty input: only IGNORE_WATERMARKS runs the read cb
  bev.trigger(EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
  bev.triggerEvent(BEV_EVENT_EOF | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
  log.push("returned");
  bev.triggerEvent(BEV_EVENT_READING);
  await base.loop(EVLOOP_ONCE);
  bev.free();
  c.close();
  l.close();
  base.free();
  assert.deepEqual(log, [
    "returned",
    `event ${BEV_EVENT_READING}`,
    "read",
    `event ${BEV_EVENT_EOF | BEV_EVENT_READING}`,
  ]);
});
