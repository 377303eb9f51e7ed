import assert from "node:assert/strict";
import {
  BEV_ERROR,
  BEV_EVENT_EOF,
  BEV_EVENT_READING,
  BEV_FINISHED,
  BEV_FLUSH,
  BEV_NEED_MORE,
  BEV_OK,
  BEV_OPT_CLOSE_ON_FREE,
  Bufferevent,
  type Evbuffer,
  EVBUFFER_EOL_LF,
} from "../bufferevent/mod.ts";
import { EV_READ, EV_WRITE, EventBase, evtimerNew } from "../reactor/mod.ts";
import { listenLoopback, readAll } from "./_helpers.ts";

Deno.test("pair: data written to one end arrives at the other", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  assert.equal(a.pairGetPartner(), b);
  let got = "";
  b.setcb(
    (bev) => {
      got += new TextDecoder().decode(bev.read());
      if (got === "hello pair") {
        a.free();
        b.free();
      }
    },
    null,
    null,
  );
  b.enable(EV_READ);
  a.write("hello ");
  a.write("pair");
  await base.dispatch();
  assert.equal(got, "hello pair");
  base.free();
});

// libevent's pair hands output over inside the call that added it (or that enabled a side);
// only the callbacks wait for the loop (pairs always defer them).
Deno.test("pair: output reaches a reading partner at once, its callback from the loop", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const calls: number[] = [];
  b.setcb((bev) => calls.push(bev.getInput().length), null, null);
  // Not reading yet: the bytes wait in a's output.
  a.write("abc");
  assert.equal(b.getInput().length, 0);
  assert.equal(a.getOutput().length, 3);
  b.enable(EV_READ);
  assert.equal(b.getInput().length, 3);
  assert.equal(a.getOutput().length, 0);
  a.write("de");
  assert.equal(b.getInput().toString(), "abcde");
  assert.deepEqual(calls, [], "callbacks are deferred");
  // Within the partner's high watermark; draining it pulls the rest without a write.
  b.setWatermark(EV_READ, 0, 6);
  a.write("fghij");
  assert.equal(b.getInput().length, 6);
  assert.equal(a.getOutput().length, 4);
  await base.loop(1 | 2 /* ONCE | NONBLOCK */);
  assert.ok(calls.length >= 1);
  b.getInput().drain(6);
  await base.loop(1 | 2);
  assert.equal(b.getInput().toString(), "ghij");
  assert.equal(a.getOutput().length, 0);
  a.free();
  b.free();
  base.free();
});

Deno.test("pair: the partner's read high watermark is honoured", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const sizes: number[] = [];
  let total = 0;
  b.setWatermark(EV_READ, 0, 1000);
  b.setcb(
    (bev) => {
      const n = bev.getInput().length;
      sizes.push(n);
      bev.getInput().drain(n);
      total += n;
      if (total === 10_000) {
        a.free();
        b.free();
      }
    },
    null,
    null,
  );
  b.enable(EV_READ);
  a.write(new Uint8Array(10_000));
  await base.dispatch();
  assert.equal(total, 10_000);
  assert.ok(sizes.every((n) => n <= 1000), String(sizes));
  base.free();
});

Deno.test("pair: freeing one end gives the other BEV_EVENT_EOF", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  let what = 0;
  b.setcb(null, null, (_bev, w) => what = w);
  a.free();
  await base.dispatch();
  assert.equal(what, BEV_EVENT_EOF | BEV_EVENT_READING);
  assert.equal(b.pairGetPartner(), null);
  b.free();
  base.free();
});

Deno.test("pair: flush(BEV_FINISHED) delivers data then EOF", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const log: string[] = [];
  b.setcb((bev) => log.push(`read ${bev.getInput().length}`), null, (_bev, w) => {
    log.push(`event ${w}`);
  });
  a.write("xyz");
  a.flush(EV_WRITE, BEV_FINISHED); // b has reading disabled: flushing ignores that
  b.enable(EV_READ);
  await base.dispatch();
  assert.deepEqual(log, ["read 3", `event ${BEV_EVENT_EOF | BEV_EVENT_READING}`]);
  a.free();
  b.free();
  base.free();
});

/** Upper-cases whole lines; holds back an incomplete one. */
function upperLines(src: Evbuffer, dst: Evbuffer, _limit: number, mode: number): number {
  let line: string | null;
  let moved = false;
  while ((line = src.readln(EVBUFFER_EOL_LF)) !== null) {
    dst.add(line.toUpperCase() + "\n");
    moved = true;
  }
  if (mode !== 0 && src.length > 0) {
    dst.add(src.toString().toUpperCase());
    src.drain(src.length);
    moved = true;
  }
  return moved ? BEV_OK : BEV_NEED_MORE;
}

Deno.test("filter: a line upper-casing input filter over a pair", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const f = Bufferevent.filterNew(b, upperLines, null, BEV_OPT_CLOSE_ON_FREE);
  assert.equal(f.getUnderlying(), b);
  let got = "";
  f.setcb(
    (bev) => {
      got += new TextDecoder().decode(bev.read());
      if (got === "HELLO\nWORLD\n") {
        f.free(); // frees b too (CLOSE_ON_FREE)
        a.free();
      }
    },
    null,
    null,
  );
  f.enable(EV_READ);
  a.write("hel");
  a.write("lo\nwor");
  a.write("ld\n");
  await base.dispatch();
  assert.equal(got, "HELLO\nWORLD\n");
  base.free();
});

Deno.test("filter: output filter upper-cases what is written", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const f = Bufferevent.filterNew(a, null, upperLines, BEV_OPT_CLOSE_ON_FREE);
  let got = "";
  b.setcb(
    (bev) => {
      got += new TextDecoder().decode(bev.read());
      if (got === "ONE\nTWO") {
        f.free();
        b.free();
      }
    },
    null,
    null,
  );
  b.enable(EV_READ);
  f.write("one\ntwo");
  f.flush(EV_WRITE, BEV_FLUSH); // pushes the incomplete last line
  await base.dispatch();
  assert.equal(got, "ONE\nTWO");
  base.free();
});

Deno.test("filter: BEV_ERROR reports BEV_EVENT_ERROR", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const f = Bufferevent.filterNew(b, () => BEV_ERROR, null, BEV_OPT_CLOSE_ON_FREE);
  let what = 0;
  f.setcb(null, null, (bev, w) => {
    what = w;
    bev.free();
    a.free();
  });
  f.enable(EV_READ);
  a.write("x");
  await base.dispatch();
  assert.equal(what & 0x20, 0x20);
  base.free();
});

Deno.test("filter: deflate output filter over a socket (CompressionStream)", async () => {
  const base = new EventBase();
  const { listener, port } = listenLoopback();
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port }),
    listener.accept(),
  ]);
  const under = Bufferevent.socketNew(base, server, BEV_OPT_CLOSE_ON_FREE);
  // CompressionStream is asynchronous while filters are synchronous: the filter feeds the
  // compressor and a pump writes compressed chunks to the underlying bufferevent as they come
  // (writes from async code wake the loop). Closing the compressor ends the stream; the pump then
  // half-closes the connection once the last compressed bytes are queued.
  const deflate = new CompressionStream("deflate-raw");
  const writer = deflate.writable.getWriter();
  const pump = (async () => {
    const r = deflate.readable.getReader();
    for (;;) {
      const { value, done } = await r.read();
      if (done) break;
      under.write(value);
    }
    under.flush(EV_WRITE, BEV_FINISHED);
  })();
  const f = Bufferevent.filterNew(under, null, (src) => {
    if (src.length > 0) void writer.write(src.remove(src.length) as Uint8Array<ArrayBuffer>);
    return BEV_OK;
  }, BEV_OPT_CLOSE_ON_FREE);
  // Nothing else holds the loop while the compressor's output arrives from async code: reading
  // the connection does (as in libevent, a disabled bufferevent keeps no loop alive).
  f.enable(EV_READ);
  const text = "evdeno deflate filter ".repeat(2000);
  f.write(text.slice(0, 20_000));
  f.write(text.slice(20_000));
  void writer.close();
  const loop = base.dispatch();
  const wire = await readAll(client);
  await pump;
  f.free();
  await loop;
  assert.ok(wire.length < text.length / 10, `compressed to ${wire.length}`);
  const ds = new Blob([wire as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("deflate-raw"),
  );
  assert.equal(await new Response(ds).text(), text);
  client.close();
  listener.close();
  base.free();
});

Deno.test("pair + filter: data through a chain keeps order under many small writes", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  const f = Bufferevent.filterNew(b, null, null, BEV_OPT_CLOSE_ON_FREE);
  let got = "";
  const expected = Array.from({ length: 500 }, (_, i) => `${i};`).join("");
  f.setcb(
    (bev) => {
      got += new TextDecoder().decode(bev.read());
      if (got.length === expected.length) {
        f.free();
        a.free();
      }
    },
    null,
    null,
  );
  f.enable(EV_READ);
  for (let i = 0; i < 500; i++) a.write(`${i};`);
  await base.dispatch();
  assert.equal(got, expected);
  base.free();
});

Deno.test("pair: a throwing output callback still lets the write reach the partner", () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base, 0);
  b.enable(EV_READ);
  a.getOutput().addCb((_buf, info) => {
    if (info.nAdded > 0) throw new Error("callback failed");
  });
  assert.throws(() => a.write("data"), /callback failed/);
  assert.equal(b.getInput().toString(), "data");
  a.free();
  b.free();
  base.free();
});

// Pairs (always deferred) used to queue their callbacks into the running pass: a producer whose
// write callback refills what the other end's read callback drains never left that pass, so no
// timer, I/O or other JavaScript ran again. Deferred callbacks now run in the next pass, as in
// libevent.
Deno.test("pair: a producer/consumer stream lets timers and the runtime run", async () => {
  const base = new EventBase();
  const [a, b] = Bufferevent.pairNew(base);
  try {
    a.enable(EV_READ | EV_WRITE);
    b.enable(EV_READ | EV_WRITE);
    let consumed = 0;
    let runtimeTimer = false;
    a.setcb(null, (x) => x.write(new Uint8Array(1024)), null);
    b.setcb(
      (x) => {
        consumed += x.getInput().length;
        x.getInput().drain(x.getInput().length);
        // A guard so that a regression fails instead of hanging the test runner.
        if (consumed > 2e9) base.loopbreak();
      },
      null,
      null,
    );
    const id = setTimeout(() => runtimeTimer = true, 20);
    evtimerNew(base, () => base.loopbreak()).add(50);
    a.write(new Uint8Array(1024));
    const t0 = performance.now();
    await base.dispatch();
    clearTimeout(id);
    assert.ok(consumed > 0 && consumed < 2e9, `${consumed} bytes`);
    assert.ok(performance.now() - t0 < 2000);
    assert.ok(runtimeTimer, "the runtime's own timer ran meanwhile");
  } finally {
    a.free();
    b.free();
    base.free();
  }
});
