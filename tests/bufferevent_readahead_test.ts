// The socket bufferevent's internal read-ahead cap: a naive echo (output ← input, no
// watermarks) must not read far ahead of a slow peer, and two such echoes talking to each
// other must never deadlock on it.
import assert from "node:assert/strict";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_FINISHED,
  BEV_OPT_CLOSE_ON_FREE,
  Bufferevent,
} from "../bufferevent/mod.ts";
import { EvConnListener, LEV_OPT_CLOSE_ON_FREE } from "../listener/mod.ts";
import { EV_READ, EV_WRITE, EventBase, evtimerNew } from "../reactor/mod.ts";
import { readAheadStall } from "../bufferevent/_socket.ts";
import { listenLoopback, patternBytes, readAll, writeAll } from "./_helpers.ts";

function naiveEcho(bev: Bufferevent, onRead?: (b: Bufferevent) => void): void {
  bev.setcb(
    (b) => {
      b.getOutput().addBuffer(b.getInput());
      onRead?.(b);
    },
    null,
    (b, what) => {
      if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) b.free();
    },
  );
  bev.enable(EV_READ | EV_WRITE);
}

Deno.test("a naive echo reads only a little ahead of a slow reader", async () => {
  const base = new EventBase();
  const { listener, port } = listenLoopback();
  let maxOutput = 0;
  const accepted = listener.accept().then((s) => {
    naiveEcho(Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE), (b) => {
      maxOutput = Math.max(maxOutput, b.getOutput().length);
    });
  });
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  await accepted;
  const loop = base.dispatch();
  let stop = false;
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  let written = 0;
  const writer = (async () => {
    try {
      while (!stop) written += await c.write(chunk);
    } catch { /* closed at the end while blocked */ }
  })();
  // Read 4 MiB/s for 1.5 s: an echo that reads whatever arrives would queue what the writer
  // sends (hundreds of MiB on loopback); the cap keeps the output near 1 MiB plus grants.
  const buf = new Uint8Array(64 * 1024);
  const t0 = performance.now();
  let read = 0;
  while (performance.now() - t0 < 1500) {
    const allowed = (performance.now() - t0) / 1000 * 4 * 1024 * 1024;
    while (read < allowed) {
      const n = await c.read(buf.subarray(0, Math.min(buf.length, Math.ceil(allowed - read))));
      if (n === null) break;
      read += n;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  stop = true;
  c.close();
  await writer;
  await loop;
  listener.close();
  base.free();
  assert.ok(read > 4 * 1024 * 1024, `echo flowed (${read} bytes read)`);
  assert.ok(
    maxOutput < 8 * 1024 * 1024,
    `output stayed bounded: max ${maxOutput} bytes while the client wrote ${written}`,
  );
});

Deno.test("a client writing 32 MiB at once to a naive echo never deadlocks on the cap", async () => {
  const base = new EventBase();
  const lev = EvConnListener.newBind(
    base,
    (_l, conn) => naiveEcho(Bufferevent.socketNew(base, conn, BEV_OPT_CLOSE_ON_FREE)),
    null,
    LEV_OPT_CLOSE_ON_FREE,
    -1,
    { hostname: "127.0.0.1", port: 0 },
  );
  // The client writes everything at once and only then reads the echo: both sides' writes
  // block on each other, so both are capped and only the stall grants let data through.
  const SIZE = 32 * 1024 * 1024;
  const data = patternBytes(SIZE, 3);
  const got = new Uint8Array(SIZE);
  let off = 0;
  let failure = "";
  const deadline = evtimerNew(base, () => {
    failure = `stalled after ${off} of ${SIZE} bytes`;
    base.loopbreak();
  });
  deadline.add(60_000);
  const client = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE);
  client.setcb(
    (b) => {
      const input = b.getInput();
      const bytes = input.remove(input.length);
      got.set(bytes, off);
      off += bytes.length;
      if (off === SIZE) {
        b.free();
        lev.free();
        deadline.del();
      }
    },
    null,
    (b, what) => {
      if (what & BEV_EVENT_CONNECTED) b.write(data);
      else {
        failure = `event ${what} after ${off} bytes`;
        b.free();
        lev.free();
        deadline.del();
      }
    },
  );
  client.enable(EV_READ | EV_WRITE);
  client.connect({ hostname: "127.0.0.1", port: (lev.addr as Deno.NetAddr).port });
  await base.dispatch();
  base.free();
  assert.equal(failure, "");
  assert.equal(off, SIZE);
  assert.ok(got.every((v, i) => v === data[i]), "echoed bytes differ");
});

Deno.test("a capped echo keeps reading a client that writes everything before it reads", async () => {
  // The client sends 24 MiB (more than loopback buffers hold) and reads only afterwards: the
  // echo's writes stall, so only the stall grants let it read on. Shortened grants keep it fast.
  const saved = readAheadStall.stallMs;
  readAheadStall.stallMs = 2;
  const base = new EventBase();
  const { listener, port } = listenLoopback();
  try {
    let echo: Bufferevent | null = null;
    const accepted = listener.accept().then((s) => {
      const bev = echo = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
      bev.setcb((b) => b.getOutput().addBuffer(b.getInput()), null, (b, what) => {
        // The client is done sending: send what is left, then half-close.
        if (what & BEV_EVENT_EOF) b.flush(EV_WRITE, BEV_FINISHED);
      });
      bev.enable(EV_READ | EV_WRITE);
    });
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    await accepted;
    const loop = base.dispatch();
    const data = patternBytes(24 * 1024 * 1024, 5);
    // A watchdog, not a delay: without grants the transfer stalls for good; fail, not hang.
    let stalled = false;
    const watchdog = setTimeout(() => {
      stalled = true;
      c.close();
    }, 30_000);
    await writeAll(c, data);
    await c.closeWrite();
    const back = await readAll(c);
    clearTimeout(watchdog);
    assert.equal(stalled, false, "the transfer stalled");
    c.close();
    await loop;
    echo!.free();
    assert.equal(back.length, data.length);
    assert.ok(back.every((v, i) => v === data[i]), "echoed bytes differ");
  } finally {
    readAheadStall.stallMs = saved;
    listener.close();
    base.free();
  }
});
