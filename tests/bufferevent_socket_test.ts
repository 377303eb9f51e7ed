import assert from "node:assert/strict";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_EVENT_TIMEOUT,
  BEV_EVENT_WRITING,
  BEV_FINISHED,
  BEV_OPT_CLOSE_ON_FREE,
  BEV_OPT_DEFER_CALLBACKS,
  Bufferevent,
} from "../bufferevent/mod.ts";
import { EV_READ, EV_WRITE, EventBase, EVLOOP_NONBLOCK } from "../reactor/mod.ts";
import {
  connectedPair,
  listenLoopback,
  patternBytes,
  readAll,
  readN,
  writeAll,
} from "./_helpers.ts";

Deno.test("new bufferevents have writing enabled and reading disabled", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  assert.equal(bev.getEnabled(), EV_WRITE);
  assert.equal(bev.getConn(), s);
  bev.free();
  c.close();
  l.close();
  base.free();
});

Deno.test("64 MiB through an echo bufferevent, verified byte for byte", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.setcb((b) => b.getOutput().addBuffer(b.getInput()), null, (b, what) => {
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
      b.flush(EV_WRITE, BEV_FINISHED);
    }
  });
  bev.enable(EV_READ | EV_WRITE);
  const size = 64 * 1024 * 1024;
  const data = patternBytes(size, 7);
  const loop = base.dispatch();
  const reader = readAll(c);
  await writeAll(c, data);
  await c.closeWrite();
  const back = await reader;
  assert.equal(back.length, size);
  assert.ok(back.every((v, i) => v === data[i]), "echoed bytes differ");
  bev.free();
  await loop;
  c.close();
  l.close();
  base.free();
});

Deno.test("connect: CONNECTED, then data both ways", async () => {
  const base = new EventBase();
  const { listener, port } = listenLoopback();
  const bev = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE);
  const events: number[] = [];
  let reply = "";
  bev.setcb(
    (b) => {
      reply += b.getInput().toString();
      b.getInput().drain(b.getInput().length);
      if (reply === "pong") b.free();
    },
    null,
    (b, what) => {
      events.push(what);
      if (what & BEV_EVENT_CONNECTED) b.write("ping");
    },
  );
  bev.enable(EV_READ | EV_WRITE);
  bev.connect({ hostname: "127.0.0.1", port });
  const server = (async () => {
    const s = await listener.accept();
    const got = new TextDecoder().decode(await readN(s, 4));
    await writeAll(s, new TextEncoder().encode("pong"));
    await readAll(s);
    s.close();
    return got;
  })();
  await base.dispatch();
  assert.equal(await server, "ping");
  assert.deepEqual(events, [BEV_EVENT_CONNECTED]);
  assert.equal(reply, "pong");
  listener.close();
  base.free();
});

Deno.test("connect refused: BEV_EVENT_ERROR with the Deno error", async () => {
  const base = new EventBase();
  const { listener, port } = listenLoopback();
  listener.close(); // nothing listens there now
  const bev = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE);
  let what = 0;
  bev.setcb(null, null, (_b, w) => what = w);
  bev.connect({ hostname: "127.0.0.1", port });
  await base.dispatch();
  assert.equal(what & BEV_EVENT_ERROR, BEV_EVENT_ERROR);
  assert.ok(bev.getError() instanceof Deno.errors.ConnectionRefused, String(bev.getError()));
  bev.free();
  base.free();
});

Deno.test("EOF is reported with READING|EOF", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  let what = 0;
  let got = "";
  bev.setcb((b) => got += b.getInput().toString() && new TextDecoder().decode(b.read()), null, (
    b,
    w,
  ) => {
    what = w;
    b.free();
  });
  bev.enable(EV_READ);
  await writeAll(c, new TextEncoder().encode("bye"));
  c.close();
  await base.dispatch();
  assert.equal(what, BEV_EVENT_READING | BEV_EVENT_EOF);
  assert.equal(got, "bye");
  l.close();
  base.free();
});

Deno.test("a reset peer gives BEV_EVENT_ERROR, never a crash", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  let what = 0;
  bev.setcb(null, null, (b, w) => {
    what |= w;
    if (w & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) b.free();
  });
  bev.enable(EV_READ | EV_WRITE);
  // Unread data at close makes the kernel send RST instead of FIN.
  await writeAll(s, new Uint8Array(0)); // no-op to keep the types honest
  await c.write(new Uint8Array(10));
  await new Promise((r) => setTimeout(r, 0));
  c.close();
  const big = new Uint8Array(256 * 1024);
  for (let i = 0; i < 64 && !bev.getError(); i++) bev.write(big);
  await base.dispatch();
  assert.ok(what & (BEV_EVENT_ERROR | BEV_EVENT_EOF), `events ${what.toString(16)}`);
  l.close();
  base.free();
});

Deno.test("read timeout: TIMEOUT|READING and reading disabled", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  let what = 0;
  const t0 = performance.now();
  let at = 0;
  bev.setcb(null, null, (b, w) => {
    what = w;
    at = performance.now() - t0;
    assert.equal(b.getEnabled() & EV_READ, 0);
    b.free();
  });
  bev.setTimeouts(50, 0);
  bev.enable(EV_READ);
  await base.dispatch();
  assert.equal(what, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
  assert.ok(at >= 45, `fired at ${at}`);
  c.close();
  l.close();
  base.free();
});

Deno.test("read timeout restarts after every read", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  let reads = 0;
  let what = 0;
  bev.setcb(
    (b) => {
      reads++;
      b.getInput().drain(b.getInput().length);
    },
    null,
    (b, w) => {
      what = w;
      b.free();
    },
  );
  bev.setTimeouts(80, 0);
  bev.enable(EV_READ);
  const writer = (async () => {
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 40));
      await c.write(new Uint8Array([1]));
    }
  })();
  await base.dispatch();
  await writer;
  assert.equal(reads, 4, "four reads arrived 40 ms apart without a timeout");
  assert.equal(what, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
  c.close();
  l.close();
  base.free();
});

Deno.test("write timeout when the peer does not read", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  let what = 0;
  bev.setcb(null, null, (b, w) => {
    what = w;
    b.free();
  });
  bev.setTimeouts(0, 100);
  bev.write(new Uint8Array(32 * 1024 * 1024)); // far more than the socket buffers hold
  await base.dispatch();
  assert.equal(what, BEV_EVENT_TIMEOUT | BEV_EVENT_WRITING);
  c.close();
  l.close();
  base.free();
});

Deno.test("watermarks: reader sees low..high bytes; reading stops at high", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  const sizes: number[] = [];
  let total = 0;
  bev.setWatermark(EV_READ, 10, 20);
  bev.setcb(
    (b) => {
      const n = b.getInput().length;
      sizes.push(n);
      b.getInput().drain(n);
      total += n;
      if (total >= 65000) b.free();
    },
    null,
    null,
  );
  bev.enable(EV_READ);
  const writer = writeAll(c, new Uint8Array(65000));
  await base.dispatch();
  await writer;
  assert.equal(total, 65000);
  assert.ok(sizes.every((n) => n >= 10 && n <= 20), `sizes out of range: ${sizes.slice(0, 10)}`);
  c.close();
  l.close();
  base.free();
});

Deno.test("backpressure: a slow consumer bounds the input at read-high", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  const high = 64 * 1024;
  bev.setWatermark(EV_READ, 0, high);
  let maxLen = 0;
  let total = 0;
  const totalSize = 8 * 1024 * 1024;
  bev.setcb(
    (b) => {
      const inp = b.getInput();
      maxLen = Math.max(maxLen, inp.length);
      // Consume only a little each time: the rest stays buffered, reading must stop.
      const n = Math.min(inp.length, 16 * 1024);
      inp.drain(n);
      total += n;
      if (total >= totalSize) b.free();
    },
    null,
    null,
  );
  bev.enable(EV_READ);
  const writer = writeAll(c, new Uint8Array(totalSize));
  // The read callback only runs on new reads; a timer drains the remainder in slow steps.
  const drainer = setInterval(() => {
    if (!bev.getError() && total < totalSize) bev.trigger(EV_READ);
  }, 1);
  await base.dispatch();
  clearInterval(drainer);
  await writer;
  assert.equal(total, totalSize);
  assert.ok(maxLen <= high + 64 * 1024, `input grew to ${maxLen}`);
  c.close();
  l.close();
  base.free();
});

Deno.test("a peer that stops reading: output grows but the server stops reading input", async () => {
  // An echo server whose client writes but never reads: the server's output would grow without
  // limit if it kept reading. With a write watermark the echo pauses reading (libevent idiom).
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  let maxOut = 0;
  bev.setWatermark(EV_WRITE, 256 * 1024, 0);
  bev.setcb(
    (b) => {
      b.getOutput().addBuffer(b.getInput());
      maxOut = Math.max(maxOut, b.getOutput().length);
      if (b.getOutput().length > 1024 * 1024) b.disable(EV_READ);
    },
    (b) => b.enable(EV_READ),
    null,
  );
  bev.enable(EV_READ | EV_WRITE);
  let written = 0;
  const chunk = new Uint8Array(64 * 1024);
  const writer = (async () => {
    try {
      while (written < 16 * 1024 * 1024) written += await c.write(chunk);
    } catch { /* closed below */ }
  })();
  const check = new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (written >= 4 * 1024 * 1024 || maxOut > 1024 * 1024) {
        clearInterval(t);
        resolve();
      }
    }, 5);
  });
  const loop = base.dispatch();
  await check;
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(maxOut < 2 * 1024 * 1024 + 128 * 1024, `output grew to ${maxOut}`);
  bev.free();
  c.close();
  await writer;
  await loop;
  l.close();
  base.free();
});

Deno.test("flush(EV_WRITE, BEV_FINISHED) half-closes; the other direction keeps working", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  let got = "";
  bev.setcb(
    (b) => {
      got += new TextDecoder().decode(b.read());
      if (got === "after") b.free();
    },
    null,
    null,
  );
  bev.enable(EV_READ | EV_WRITE);
  bev.write("last words");
  bev.flush(EV_WRITE, BEV_FINISHED);
  const loop = base.dispatch();
  const fromServer = await readAll(c); // ends at the server's FIN
  assert.equal(new TextDecoder().decode(fromServer), "last words");
  await writeAll(c, new TextEncoder().encode("after"));
  await loop;
  assert.equal(got, "after");
  c.close();
  l.close();
  base.free();
});

Deno.test("write callback runs when the output drains to the low watermark", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  let writes = 0;
  const seen: number[] = [];
  bev.setWatermark(EV_WRITE, 100, 0);
  bev.setcb(null, (b) => {
    seen.push(b.getOutput().length);
    if (++writes < 20) b.write(new Uint8Array(50_000));
    else b.free();
  }, null);
  bev.write(new Uint8Array(50_000));
  const reader = readAll(c);
  await base.dispatch();
  assert.equal((await reader).length, 20 * 50_000);
  assert.ok(seen.every((n) => n <= 100));
  c.close();
  l.close();
  base.free();
});

Deno.test("BEV_OPT_DEFER_CALLBACKS runs callbacks from the loop", async () => {
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  let got = "";
  bev.setcb(
    (b) => {
      got += new TextDecoder().decode(b.read());
      if (got.length >= 5) b.free();
    },
    null,
    null,
  );
  bev.enable(EV_READ);
  await writeAll(c, new TextEncoder().encode("defer"));
  await base.dispatch();
  assert.equal(got, "defer");
  c.close();
  l.close();
  base.free();
});

Deno.test("a throwing callback is logged and the bufferevent keeps working", async () => {
  const base = new EventBase();
  const logs: string[] = [];
  base.setLogCallback((_s, m) => logs.push(m));
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  let n = 0;
  bev.setcb(
    (b) => {
      b.getInput().drain(b.getInput().length);
      if (++n === 1) throw new Error("handler bug");
      b.free();
    },
    null,
    null,
  );
  bev.enable(EV_READ);
  await c.write(new Uint8Array([1]));
  const second = (async () => {
    await new Promise((r) => setTimeout(r, 20));
    await c.write(new Uint8Array([2]));
  })();
  await base.dispatch();
  await second;
  assert.equal(n, 2);
  assert.ok(logs.some((m) => m.includes("handler bug")));
  c.close();
  l.close();
  base.free();
});

Deno.test("observed writes: a write completion queued behind a read never resends bytes", async () => {
  // With a write timeout the write completion goes through the loop; a read callback that
  // writes in the same pass used to re-send the not-yet-drained bytes.
  const base = new EventBase();
  const [c, s, l] = await connectedPair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.setTimeouts(10_000, 10_000);
  bev.setcb((b) => b.getOutput().addBuffer(b.getInput()), null, (b, what) => {
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) b.flush(EV_WRITE, BEV_FINISHED);
  });
  bev.enable(EV_READ | EV_WRITE);
  const loop = base.dispatch();
  const msgs: string[] = [];
  for (let i = 0; i < 3000; i++) msgs.push(`m${i};`);
  const expected = msgs.join("");
  const reader = readAll(c);
  for (let i = 0; i < msgs.length; i += 3) {
    await writeAll(c, new TextEncoder().encode(msgs.slice(i, i + 3).join("")));
  }
  await c.closeWrite();
  const back = new TextDecoder().decode(await reader);
  assert.equal(back.length, expected.length);
  assert.equal(back, expected);
  bev.free();
  await loop;
  c.close();
  l.close();
  base.free();
});

Deno.test("free() with a write in flight releases the output once that write is done (cleanups run, files close)", async () => {
  const base = new EventBase();
  const [peer, server, listener] = await connectedPair();
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, new Uint8Array(4 * 1024 * 1024));
    const bev = Bufferevent.socketNew(base, server, BEV_OPT_CLOSE_ON_FREE);
    let cleaned = 0;
    // More than the socket buffers take while the peer does not read: a write stays in flight.
    bev.getOutput().addReference(new Uint8Array(8 * 1024 * 1024), () => cleaned++);
    const file = await Deno.open(path, { read: true });
    bev.getOutput().addFile(file, 0, 4 * 1024 * 1024);
    bev.enable(EV_WRITE);
    await base.loop(EVLOOP_NONBLOCK);
    bev.free();
    // The write in flight ends when the peer goes (Deno finishes a write even on a closed
    // resource); then the output is released. It was never released before.
    peer.close();
    for (let i = 0; cleaned === 0 && i < 1000; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(cleaned, 1);
    assert.throws(() => file.statSync(), "the file segment was closed");
  } finally {
    try {
      peer.close();
    } catch { /* closed above */ }
    listener.close();
    base.free();
    await Deno.remove(path);
  }
});
