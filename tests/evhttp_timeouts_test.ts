// Server timeouts: read/write timeouts, the header deadline (slowloris), the lifetime cap, and
// graceful shutdown.
import assert from "node:assert/strict";
import type { EvhttpRequest } from "../evhttp/mod.ts";
import { exchange, RawClient, withServer } from "./_evhttp_helpers.ts";
import { bounded } from "./_helpers.ts";

function hello(req: EvhttpRequest): void {
  req.sendReply(200, null, "hello");
}

Deno.test("read timeout: silent close when idle, 408 with a request partly received", async () => {
  await withServer((http) => {
    http.setGencb(hello);
    http.setReadTimeout(100);
  }, async ({ port }) => {
    const idle = await RawClient.connect(port);
    await idle.send("GET / HTTP/1.1\r\n\r\n");
    assert.equal((await idle.response())!.status, 200);
    const t0 = performance.now();
    assert.equal(await idle.readToEof(), "");
    assert.ok(performance.now() - t0 >= 80);
    idle.close();

    const partial = await RawClient.connect(port);
    await partial.send("GET / HTTP/1.1\r\nHost: x\r\n");
    const r = (await partial.response())!;
    assert.equal(r.status, 408);
    assert.equal(r.reason, "Request Timeout");
    assert.ok(await partial.closedByPeer());
    partial.close();
  });
});

Deno.test("a Content-Length larger than the body ends in 408, never a hang", async () => {
  await withServer((http) => {
    http.setGencb(hello);
    http.setTimeout(100);
  }, async ({ port }) => {
    const r = (await exchange(port, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"))!;
    assert.equal(r.status, 408);
  });
});

Deno.test("header deadline: a head trickling in byte by byte gets 408 on time", async () => {
  await withServer((http) => {
    http.setGencb(hello);
    http.setReadTimeout(2000);
    http.setHeaderTimeout(150);
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const t0 = performance.now();
    const head = "GET / HTTP/1.1\r\nX-Slow: " + "a".repeat(200);
    let closed = false;
    const reader = c.response().then((r) => {
      closed = true;
      return r;
    });
    for (let i = 0; i < head.length && !closed; i++) {
      try {
        await c.send(head[i]!);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const r = (await reader)!;
    assert.equal(r.status, 408);
    const dt = performance.now() - t0;
    assert.ok(dt >= 140 && dt < 1000, `took ${dt} ms`);
    c.close();
  });
});

Deno.test("slowloris: 200 connections sending a header byte per second get 408 while normal requests are answered promptly", async () => {
  const SLOW = 200;
  await withServer((http) => {
    http.setGencb(hello);
    http.setHeaderTimeout(2500);
  }, async ({ port }) => {
    const slow: RawClient[] = [];
    for (let i = 0; i < SLOW; i++) slow.push(await RawClient.connect(port));
    const t0 = performance.now();
    const statuses: number[] = [];
    let sent = 0;
    const drip = slow.map(async (c) => {
      const reader = c.response();
      let done = false;
      reader.then(() => done = true, () => done = true);
      const head = "GET / HTTP/1.1\r\nX-A: " + "b".repeat(100);
      // At most 8 bytes: the header deadline should end it after 2 or 3.
      for (let i = 0; i < 8 && !done; i++) {
        try {
          await c.send(head[i]!);
          sent++;
        } catch {
          break;
        }
        // One byte a second, or sooner once the server has answered.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([new Promise((r) => timer = setTimeout(r, 1000)), reader]);
        clearTimeout(timer);
      }
      const r = await reader;
      statuses.push(r?.status ?? 0);
      c.close();
    });
    // Meanwhile, normal clients are served promptly, over and over.
    let worst = 0;
    let served = 0;
    while (performance.now() - t0 < 2000) {
      const t1 = performance.now();
      const r = (await exchange(port, "GET / HTTP/1.1\r\n\r\n"))!;
      worst = Math.max(worst, performance.now() - t1);
      assert.equal(r.status, 200);
      served++;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(worst < 250, `a normal request took ${worst} ms`);
    assert.ok(served >= 10, `only ${served} normal requests in 2 s`);
    await bounded(Promise.all(drip), 10_000, "the slow connections' answers");
    const dt = performance.now() - t0;
    // Each slow connection dripped about one byte a second until the header deadline cut it off.
    assert.ok(sent >= SLOW * 2 && sent <= SLOW * 4, `${sent} bytes dripped`);
    assert.ok(dt >= 2400 && dt < 6000, `took ${dt} ms`);
    assert.equal(statuses.length, SLOW);
    assert.ok(statuses.every((s) => s === 408), JSON.stringify(statuses));
  });
});

Deno.test("connection lifetime cap: idle connections close, busy ones get Connection: close", async () => {
  await withServer((http, base) => {
    http.setCb("/", hello);
    http.setCb("/slow", (req) => base.once(null, 1, () => hello(req), undefined, 150));
    http.setConnectionLifetime(100);
  }, async ({ port }) => {
    const a = await RawClient.connect(port);
    await a.send("GET / HTTP/1.1\r\n\r\n");
    assert.equal((await a.response())!.headers.get("connection"), undefined);
    assert.equal(await a.readToEof(), "");
    a.close();
    const b = await RawClient.connect(port);
    await b.send("GET /slow HTTP/1.1\r\n\r\n");
    const r = (await b.response())!;
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("connection"), "close");
    assert.ok(await b.closedByPeer());
    b.close();
  });
});

Deno.test("write timeout closes a connection whose client stops reading", async () => {
  await withServer((http) => {
    http.setCb("/big", (req) => req.sendReply(200, null, new Uint8Array(64 * 1024 * 1024)));
    http.setWriteTimeout(150);
  }, async ({ port, http }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /big HTTP/1.1\r\n\r\n");
    const t0 = performance.now();
    while (http.getConnectionCount() > 0 && performance.now() - t0 < 3000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(http.getConnectionCount(), 0);
    c.close();
  });
});

Deno.test("graceful shutdown: stop accepting, finish requests in flight, close idle ones", async () => {
  await withServer((http, base) => {
    http.setCb("/", hello);
    http.setCb("/slow", (req) => base.once(null, 1, () => hello(req), undefined, 80));
  }, async ({ port, http }) => {
    const idle = await RawClient.connect(port);
    await idle.send("GET / HTTP/1.1\r\n\r\n");
    assert.equal((await idle.response())!.status, 200);
    const busy = await RawClient.connect(port);
    await busy.send("GET /slow HTTP/1.1\r\n\r\n");
    const answer = busy.response();
    // Let the server see the slow request before shutting down.
    while (http.getConnectionCount() < 2) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    const done = http.shutdown(2000);
    const r = (await answer)!;
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("connection"), "close");
    assert.equal(await idle.readToEof(), "");
    await done;
    assert.equal(http.getConnectionCount(), 0);
    await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port }));
    idle.close();
    busy.close();
  });
});

Deno.test("graceful shutdown: the deadline closes requests that do not finish", async () => {
  let held: EvhttpRequest | null = null;
  await withServer((http) => {
    http.setCb("/never", (req) => held = req);
  }, async ({ port, http }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /never HTTP/1.1\r\n\r\n");
    while (held === null) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await http.shutdown(100);
    assert.ok(performance.now() - t0 >= 90);
    assert.equal(await c.readToEof(), "");
    assert.equal((held as EvhttpRequest | null)!.getConnection(), null);
    c.close();
  });
});
