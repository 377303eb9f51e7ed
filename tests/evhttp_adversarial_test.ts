// Adversarial tests for the evhttp server and client: hostile or unusual peers on real loopback
// sockets (resets, floods, slow readers, misbehaving servers), including regressions for what
// an adversarial review found.
import assert from "node:assert/strict";
import {
  EVHTTP_REQ_GET,
  EVHTTP_REQ_POST,
  EvhttpConnection,
  evhttpFetch,
  EvhttpRequest,
  EVREQ_HTTP_EOF,
  EVREQ_HTTP_INVALID_HEADER,
  EVREQ_HTTP_REQUEST_CANCEL,
  EVREQ_HTTP_TIMEOUT,
} from "../evhttp/mod.ts";
import { EV_TIMEOUT } from "../reactor/mod.ts";
import { InternalTimer } from "../reactor/_internal_timer.ts";
import { eofGrace } from "../evhttp/_server_conn.ts";
import { BEV_OPT_CLOSE_ON_FREE, Bufferevent } from "../bufferevent/mod.ts";
import {
  exchange,
  RawClient,
  Reader,
  withClient,
  withFake,
  withServer,
} from "./_evhttp_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// ----------------------------------------------------------------------------- helpers

/** Resolves to `p`'s value, or to `fallback` after `ms` (the timer is always cleared). */
async function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<F>((r) => id = setTimeout(() => r(fallback), ms));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(id);
  }
}

/** Polls `cond` every few ms until it holds; throws after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A promise with its resolver. */
function deferred<T = void>(): { p: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const p = new Promise<T>((r) => resolve = r);
  return { p, resolve };
}

/** Writes everything, swallowing errors (the peer may be gone). */
async function writeAll(conn: Deno.Conn, data: string | Uint8Array): Promise<boolean> {
  const b = typeof data === "string" ? enc.encode(data) : data;
  let off = 0;
  try {
    while (off < b.length) off += await conn.write(b.subarray(off));
    return true;
  } catch {
    return false;
  }
}

/** Reads raw bytes until `pred(text so far)` holds or EOF; returns the text. */
async function readUntil(conn: Deno.Conn, pred: (s: string) => boolean): Promise<string> {
  const buf = new Uint8Array(65536);
  let s = "";
  while (!pred(s)) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      n = null;
    }
    if (n === null) break;
    s += dec.decode(buf.subarray(0, n));
  }
  return s;
}

/** What a client request's callbacks saw. */
interface Outcome {
  code: number;
  kind: number;
  body: string;
  error: Error | null;
}

function request(
  conn: EvhttpConnection,
  method: number,
  uri: string,
  setup?: (req: EvhttpRequest) => void,
): Promise<Outcome> {
  return new Promise((resolve) => {
    let kind = -1;
    const finish = (r: EvhttpRequest) => {
      const buf = r.getInputBuffer();
      const bytes = buf.length > 0 ? buf.remove(buf.length) : new Uint8Array(0);
      resolve({ code: r.getResponseCode(), kind, body: dec.decode(bytes), error: r.getError() });
    };
    const req = new EvhttpRequest((r) => finish(r));
    req.setErrorCb((k) => {
      kind = k;
      if (k === EVREQ_HTTP_REQUEST_CANCEL) finish(req);
    });
    setup?.(req);
    conn.makeRequest(req, method, uri);
  });
}

/** Runs `fn` with a client base whose loop runs meanwhile; frees the tracked connections. */

// ----------------------------------------------------------------------------- server

// Empty lines before the request line are ignored but count against setMaxHeadersSize: a run
// of CRLFs (here 4 MiB against a 1 KiB limit) is neither buffered nor endless; it gets a 400.
Deno.test("CRLF flood before the request line is bounded by setMaxHeadersSize", async () => {
  let inputSeen = 0;
  let bev: Bufferevent | null = null;
  let maxBuffered = 0;
  await withServer((http) => {
    http.setBevcb((base, _arg, conn) => {
      bev = Bufferevent.socketNew(base, conn!, BEV_OPT_CLOSE_ON_FREE);
      return bev;
    });
    http.setMaxHeadersSize(1024);
    http.setGencb((req) => req.sendReply(200, null, "ok"));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const answer = c.response().catch(() => null);
    const piece = enc.encode("\r\n".repeat(32768)); // 64 KiB
    for (let i = 0; i < 64; i++) {
      const ok = await within(writeAll(c.conn, piece), 1000, false);
      if (!ok) break;
      inputSeen += piece.length;
      maxBuffered = Math.max(maxBuffered, (bev as Bufferevent | null)?.getInput().length ?? 0);
    }
    const r = await within(answer, 1500, null);
    maxBuffered = Math.max(maxBuffered, (bev as Bufferevent | null)?.getInput().length ?? 0);
    c.close();
    await answer;
    assert.ok(
      r !== null,
      `no answer after ${inputSeen} bytes of CRLF with a 1024-byte limit ` +
        `(server input buffer reached ${maxBuffered} bytes)`,
    );
    assert.ok(r.status === 400 || r.status === 431, `status ${r.status}`);
  });
});

// A streamed reply whose head went out before shutdown() (chunked, keep-alive) is followed by a
// close when it ends, so shutdown() resolves promptly instead of at its deadline.
Deno.test("shutdown during a streamed reply closes the connection once the stream ends", async () => {
  let held: EvhttpRequest | null = null;
  await withServer((http) => {
    http.setCb("/stream", (req) => {
      held = req;
      req.sendReplyStart(200, null);
      req.sendReplyChunk("first;");
    });
  }, async ({ port, http }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /stream HTTP/1.1\r\n\r\n");
    const answer = c.response();
    await until(() => held !== null, 2000, "the handler");
    const done = http.shutdown(2000);
    const req = held! as EvhttpRequest;
    req.sendReplyChunk("second");
    req.sendReplyEnd();
    const r = (await answer)!;
    assert.equal(r.text, "first;second");
    const t0 = performance.now();
    const closed = await within(c.closedByPeer(), 1000, "still open");
    const finished = await within(done.then(() => "done"), 500, "pending");
    const waited = performance.now() - t0;
    c.close();
    await done;
    assert.equal(closed, true, "the connection is closed after the reply in flight");
    assert.equal(finished, "done", `shutdown() resolved only after ${waited.toFixed(0)} ms`);
  });
});

// The same for setConnectionLifetime: the cap passing during a streamed reply closes the
// connection once the stream ends.
Deno.test("connection lifetime passing during a streamed reply closes after the stream", async () => {
  let held: EvhttpRequest | null = null;
  await withServer((http) => {
    http.setConnectionLifetime(100);
    http.setCb("/stream", (req) => {
      held = req;
      req.sendReplyStart(200, null);
      req.sendReplyChunk("a");
    });
  }, async ({ port, base }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /stream HTTP/1.1\r\n\r\n");
    const answer = c.response();
    await until(() => held !== null, 2000, "the handler");
    // End the stream well after the lifetime cap passed.
    await new Promise<void>((resolve) =>
      base.once(
        null,
        EV_TIMEOUT,
        () => {
          (held! as EvhttpRequest).sendReplyEnd();
          resolve();
        },
        undefined,
        250,
      )
    );
    const r = (await answer)!;
    assert.equal(r.text, "a");
    const closed = await within(c.closedByPeer(), 1500, "still open");
    c.close();
    assert.equal(closed, true, "the connection closes once the lifetime cap passed");
  });
});

// A complete reply sent while the request body is still unread (from the header hook or a
// chunked callback) says `Connection: close`: the rest of the body is dropped and the connection
// closes, so a keep-alive client must not pipeline its next request into it.
Deno.test("early complete reply before the body is read says Connection: close", async () => {
  await withServer((http) => {
    http.setHeaderCb((req) => {
      if (req.getUri() === "/deny") req.sendReply(401, "Nope", "denied");
      if (req.getUri() === "/piece") {
        req.setChunkedCb((r) => r.sendReply(413, null, "enough"));
      }
    });
    http.setGencb((req) => req.sendReply(200, null, "ok"));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("POST /deny HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + "x".repeat(1000));
    const r = (await c.response())!;
    assert.equal(r.status, 401);
    assert.equal(r.text, "denied");
    const closed = await within(c.closedByPeer(), 3000, false);
    c.close();
    assert.ok(closed, "the server closes after the early reply");
    assert.equal(r.headers.get("connection"), "close");

    const d = await RawClient.connect(port);
    await d.send("POST /piece HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + "y".repeat(1000));
    const r2 = (await d.response())!;
    assert.equal(r2.status, 413);
    d.close();
    assert.equal(r2.headers.get("connection"), "close");
  });
});

// Connections refused with 503 by setMaxConnections linger to deliver it but no longer count
// against the limit (libevent frees them once the 503 is written): a refused client that keeps
// its socket open does not keep the next legitimate client out.
Deno.test("setMaxConnections: refused clients that keep their socket do not hold the limit", async () => {
  await withServer((http) => {
    http.setGencb((req) => req.sendReply(200, null, "ok"));
    http.setMaxConnections(1);
  }, async ({ port, http }) => {
    const a = await RawClient.connect(port);
    await a.send("GET / HTTP/1.1\r\n\r\n");
    assert.equal((await a.response())!.status, 200);
    const b = await RawClient.connect(port);
    assert.equal((await b.response())!.status, 503);
    // b reads its 503 and the server's FIN, but keeps its own end open.
    assert.ok(await b.closedByPeer());
    a.close();
    await until(() => http.getConnectionCount() <= 1, 1000, "a's close");
    const c = await RawClient.connect(port);
    await c.send("GET / HTTP/1.1\r\n\r\n");
    const r = await c.response();
    const count = http.getConnectionCount();
    c.close();
    b.close();
    assert.equal(r?.status, 200, `a new client got ${r?.status} with ${count} connections counted`);
  });
});

// ----------------------------------------------------------------------------- client

// The client skips empty lines before a status line but counts them against
// setMaxHeadersSize: an endless run of CRLFs fails with EVREQ_HTTP_INVALID_HEADER.
Deno.test("client: CRLF flood before the status line is bounded by setMaxHeadersSize", async () => {
  const stop = deferred<void>();
  await withFake(async (conn) => {
    const r = new Reader(conn);
    await r.request();
    const piece = enc.encode("\r\n".repeat(32768));
    for (let i = 0; i < 64; i++) {
      const ok = await within(writeAll(conn, piece), 1000, false);
      if (!ok) return;
    }
    await stop.p;
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      conn.setMaxHeadersSize(1024);
      conn.setTimeout(4000);
      const o = await within(request(conn, EVHTTP_REQ_GET, "/"), 2500, null);
      stop.resolve();
      assert.ok(o !== null, "the request neither failed nor completed");
      assert.equal(o.code, 0);
      assert.equal(o.kind, EVREQ_HTTP_INVALID_HEADER);
    });
  });
});

// With no header limit set (libevent's default), a head arriving read by read used to be
// searched from its first byte and linearized again on every read: 16 MiB of header lines cost
// 4.4 s of loop time, 32 MiB four times that. Each byte is now searched and copied once.
const BIG_HEAD = 32 * 1024 * 1024;
const headerLines = (n: number) => enc.encode(("X-A: " + "a".repeat(57) + "\r\n").repeat(n)); // 64-byte lines

Deno.test("server: a 32 MiB header block in 64 KiB writes is searched once (no header limit)", async () => {
  await withServer((http) => {
    http.setGencb((req) => req.sendReply(200, null, `${req.getInputHeaders().size}`));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    try {
      const t0 = performance.now();
      const piece = headerLines(1024); // 64 KiB
      await c.send("GET / HTTP/1.1\r\nHost: h\r\n");
      for (let sent = 0; sent < BIG_HEAD; sent += piece.length) await c.send(piece);
      await c.send("\r\n");
      const r = await within(c.response(), 10_000, null);
      assert.ok(r !== null, "no answer");
      assert.equal(r.status, 200);
      assert.equal(new TextDecoder().decode(r.body), `${1 + BIG_HEAD / 64}`);
      const ms = performance.now() - t0;
      assert.ok(ms < 8000, `took ${ms.toFixed(0)} ms`);
    } finally {
      c.close();
    }
  });
});

Deno.test("client: a 32 MiB response head in 64 KiB writes is searched once (no header limit)", async () => {
  await withFake(async (conn) => {
    const r = new Reader(conn);
    await r.request();
    const piece = headerLines(1024);
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");
    for (let sent = 0; sent < BIG_HEAD; sent += piece.length) {
      if (!await writeAll(conn, piece)) return;
    }
    await writeAll(conn, "\r\nok");
    await r.request();
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      const t0 = performance.now();
      const o = await within(request(conn, EVHTTP_REQ_GET, "/"), 10_000, null);
      assert.ok(o !== null, "no answer");
      assert.deepEqual([o.code, o.body], [200, "ok"]);
      const ms = performance.now() - t0;
      assert.ok(ms < 8000, `took ${ms.toFixed(0)} ms`);
    });
  });
});

// With pipelining on, the whole queue used to go out at once; a server answering one request per
// connection then made every close send all the rest again (1 000 requests: 21 MB). At most 32
// are on the wire now, so the bytes sent grow linearly.
Deno.test("client: pipelining to a server that closes after each answer sends a bounded window", async () => {
  const N = 300;
  let received = 0;
  await withFake(async (conn) => {
    const buf = new Uint8Array(65536);
    let seen = "";
    while (!seen.includes("\r\n\r\n")) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return;
      received += n;
      seen += dec.decode(buf.subarray(0, n));
    }
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      conn.setPipelining(true);
      const all = Array.from({ length: N }, (_, i) => request(conn, EVHTTP_REQ_GET, `/r${i}`));
      const out = await within(Promise.all(all), 20_000, null);
      assert.ok(out !== null, "the requests did not finish");
      assert.ok(out.every((o) => o.code === 200 && o.body === "ok"));
    });
  });
  // About 40 bytes a request: N² / 2 of them would be 1.8 MB.
  assert.ok(received < N * 33 * 60, `${received} bytes of requests for ${N} answers`);
});

// Each interim response restarts the read timeout, so a server sending 103s for ever used to keep
// a request (and evhttpFetch's promise) open for ever; at most 32 are taken.
Deno.test("client: endless interim (1xx) responses fail the request; a few are skipped", async () => {
  await withFake(async (conn, index) => {
    const r = new Reader(conn);
    await r.request();
    const n = index === 0 ? 10 : 1000;
    await writeAll(conn, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n".repeat(n));
    if (index === 0) await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    await r.request();
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const ok = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      const first = await within(request(ok, EVHTTP_REQ_GET, "/"), 5000, null);
      assert.deepEqual([first?.code, first?.body], [200, "ok"]);
      const flood = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      const o = await within(request(flood, EVHTTP_REQ_GET, "/"), 5000, null);
      assert.ok(o !== null, "the request neither failed nor completed");
      assert.deepEqual([o.code, o.kind], [0, EVREQ_HTTP_INVALID_HEADER]);
    });
  });
});

// An upload pump that keeps calling sendRequestChunk after its request failed used to buffer every
// piece (300 MB for 300 pieces of 1 MiB); once the request has ended the pieces are dropped.
Deno.test("client: body pieces sent after the request failed are dropped, not buffered", async () => {
  await withFake(async (conn) => {
    const r = new Reader(conn);
    await r.request().catch(() => null);
    // Head read: go away without answering.
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      let failed = false;
      const req = new EvhttpRequest(() => failed = true);
      req.getOutputHeaders().add("Transfer-Encoding", "chunked");
      req.sendRequestChunk("first");
      conn.makeRequest(req, EVHTTP_REQ_POST, "/upload");
      await until(() => failed, 5000, "the request to fail");
      const piece = new Uint8Array(1024 * 1024);
      for (let i = 0; i < 50; i++) req.sendRequestChunk(piece);
      req.sendRequestEnd();
      const cx = (req as unknown as { _cx: { stream: { length: number } | null } })._cx;
      assert.equal(cx.stream?.length ?? 0, 0, "nothing kept for a request that is over");
    });
  });
});

// Hardening (libevent accepts it): a response nobody asked for, arriving in the same segment as
// a real one, is not taken as the answer to the next queued request; the connection is dropped
// and request 2 gets its real answer on a new one.
Deno.test("client: a second, unsolicited response is not taken as the next request's answer", async () => {
  await withFake(async (conn, index) => {
    const r = new Reader(conn);
    if (index === 0) {
      await r.request();
      await writeAll(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst" +
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!",
      );
    }
    for (;;) {
      const q = await r.request();
      if (q === null) return;
      await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond");
    }
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      const p1 = request(conn, EVHTTP_REQ_GET, "/1");
      const p2 = request(conn, EVHTTP_REQ_GET, "/2");
      const o1 = await p1;
      const o2 = await within(p2, 2000, null);
      assert.equal(o1.body, "first");
      assert.ok(o2 !== null);
      assert.equal(o2.body, "second", "request 2 got the response injected before it was sent");
    });
  });
});

// ----------------------------------------------------------------------------- server: resets and floods

Deno.test("reset in the middle of a request body (after 100 Continue) just closes", async () => {
  let handled = 0;
  await withServer((http) => {
    http.setGencb((req) => {
      handled++;
      req.sendReply(200, null, "ok");
    });
  }, async ({ port, http }) => {
    for (let i = 0; i < 5; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeAll(
        c,
        "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n",
      );
      // Wait for the 100 Continue to be in our receive buffer, leave it unread, send part of
      // the body and close: unread data makes the close a reset.
      await until(() => http.getConnectionCount() === 1, 1000, "the connection");
      await writeAll(c, "x".repeat(5000));
      await new Promise((r) => setTimeout(r, 10));
      c.close();
      await until(() => http.getConnectionCount() === 0, 2000, "the server to drop it");
    }
    assert.equal(handled, 0);
    const c = await RawClient.connect(port);
    await c.send("POST /up HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
    assert.equal((await c.response())!.status, 200);
    c.close();
  });
});

Deno.test("reset during a streamed reply: error callback once, later chunk calls are no-ops", async () => {
  let errors = 0;
  let chunksAfter = 0;
  let held: EvhttpRequest | null = null;
  const gone = deferred<void>();
  await withServer((http, base) => {
    http.setCb("/stream", (req) => {
      held = req;
      req.setErrorCb(() => {
        errors++;
        gone.resolve();
      });
      req.sendReplyStart(200, null);
      const big = "z".repeat(65536);
      // Push without waiting for the writes (no callback): the output grows while the client
      // does not read.
      const tick = () => {
        if (req.getConnection() === null) {
          chunksAfter++;
          req.sendReplyChunk(big); // must be a no-op
          req.sendReplyChunkWithCb(big, () => chunksAfter += 100);
          return;
        }
        req.sendReplyChunk(big);
        base.once(null, EV_TIMEOUT, tick, undefined, 1);
      };
      tick();
    });
  }, async ({ port, http }) => {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(c, "GET /stream HTTP/1.1\r\n\r\n");
    // Read a little, leave the rest unread, close (reset).
    await readUntil(c, (s) => s.length > 1000);
    await new Promise((r) => setTimeout(r, 20));
    c.close();
    await within(gone.p, 2000, null);
    await until(() => http.getConnectionCount() === 0, 2000, "the close");
    await until(() => chunksAfter > 0, 1000, "the timer to notice");
    const req = held! as EvhttpRequest;
    req.sendReplyEnd();
    req.sendReplyEnd();
    assert.equal(errors, 1);
    assert.equal(chunksAfter, 1, "no chunk callback after the reset");
  });
});

Deno.test("deferred replies after a reset: written into the void, connection closed, no on-complete", async () => {
  const held: EvhttpRequest[] = [];
  let completes = 0;
  let errs = 0;
  await withServer((http) => {
    http.setGencb((req) => {
      if (req.getUri() === "/now") {
        req.sendReply(200, null, "now");
        return;
      }
      req.setOnCompleteCb(() => completes++);
      req.setErrorCb(() => errs++);
      held.push(req);
    });
  }, async ({ port, http, base }) => {
    // /now is answered at once (and left unread, so the close is a reset); /later is held;
    // /after waits behind it.
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(
      c,
      "GET /now HTTP/1.1\r\n\r\nGET /later HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n",
    );
    await until(() => held.length === 1, 1000, "the handler");
    await new Promise((r) => setTimeout(r, 10));
    c.close();
    // The reply comes later, from a timer, after the client is gone.
    await new Promise<void>((resolve) =>
      base.once(
        null,
        EV_TIMEOUT,
        () => {
          const req = held[0]!;
          req.getOutputHeaders().add("X-Late", "1");
          req.getOutputBuffer().add("late body ".repeat(10000));
          req.sendReply(200, null, "more");
          resolve();
        },
        undefined,
        30,
      )
    );
    // Whatever got dispatched behind it is answered too.
    await until(
      () => {
        for (const r of held.slice(1)) if (r.getConnection() !== null) r.sendReply(200, null, "x");
        return http.getConnectionCount() === 0;
      },
      2000,
      "the close",
    );
    held[0]!.sendReplyEnd(); // no-op, no throw
    assert.equal(completes, 0, "on-complete ran for a reply that never reached the client");
  });
});

Deno.test("pipelined flood: 2000 requests in one write, slow reader, all answered in order", async () => {
  const N = 2000;
  await withServer((http) => {
    http.setGencb((req) => req.sendReply(200, null, req.getUri() + ":" + "p".repeat(2000)));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    let reqs = "";
    for (let i = 0; i < N; i++) reqs += `GET /r${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const sending = c.send(reqs);
    for (let i = 0; i < N; i++) {
      const r = (await c.response())!;
      assert.equal(r.status, 200);
      assert.equal(r.text.slice(0, r.text.indexOf(":")), `/r${i}`);
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 20)); // slow reader
    }
    await sending;
    c.close();
  });
});

Deno.test("pipelined uploads past the 1 MiB input cap with an asynchronous handler", async () => {
  const N = 200;
  const body = "b".repeat(16384);
  await withServer((http, base) => {
    http.setGencb((req) => {
      const n = req.getInputBuffer().length;
      base.once(
        null,
        EV_TIMEOUT,
        () => req.sendReply(200, null, `${req.getUri()}=${n}`),
        undefined,
        1,
      );
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const parts: string[] = [];
    for (let i = 0; i < N; i++) {
      parts.push(`POST /u${i} HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    }
    const sending = c.send(parts.join(""));
    for (let i = 0; i < N; i++) {
      const r = (await c.response())!;
      assert.equal(r.text, `/u${i}=${body.length}`);
    }
    await sending;
    c.close();
  });
});

// req.getConnection() is null once the connection closed, also for a request answered before
// (the streaming idiom `if (req.getConnection() === null) stop` relies on it).
Deno.test("getConnection() is null for an answered request once its connection closed", async () => {
  let held: EvhttpRequest | null = null;
  await withServer((http) => {
    http.setGencb((req) => {
      held = req;
      req.sendReply(200, null, "ok");
    });
  }, async ({ port, http }) => {
    const c = await RawClient.connect(port);
    await c.send("GET / HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.status, 200);
    c.close();
    await until(() => http.getConnectionCount() === 0, 2000, "the close");
    assert.ok((held! as EvhttpRequest).getConnection() === null, "a freed connection is returned");
  });
});

Deno.test("client: a final response before the upload is finished is delivered", async () => {
  const body = new Uint8Array(4 * 1024 * 1024).fill(0x61);
  await withFake(async (conn, index) => {
    const r = new Reader(conn);
    // Only the head: the body is still on its way.
    while (dec.decode(r.buf).indexOf("\r\n\r\n") < 0) if (!(await r.fill())) return;
    if (index === 0) {
      await writeAll(
        conn,
        "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 4\r\n\r\nnope",
      );
      while (await r.fill()) r.buf = new Uint8Array(0); // drain until the client closes
      return;
    }
    // Second connection: answer early without closing; then read the rest of the body and
    // answer the next request on the same connection.
    const head = dec.decode(r.buf);
    const len = Number(/content-length: *(\d+)/i.exec(head)![1]);
    const headEnd = head.indexOf("\r\n\r\n") + 4;
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly");
    let have = r.buf.length - headEnd;
    r.buf = new Uint8Array(0);
    while (have < len) {
      if (!(await r.fill())) return;
      have += r.buf.length;
      r.buf = r.buf.slice(Math.max(0, r.buf.length - Math.max(0, have - len)));
      if (have <= len) r.buf = new Uint8Array(0);
    }
    const q = await r.request();
    if (q === null) return;
    await writeAll(
      conn,
      `HTTP/1.1 200 OK\r\nContent-Length: ${q.head.split(" ")[1]!.length}\r\n\r\n${
        q.head.split(" ")[1]
      }`,
    );
    await r.request();
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      conn.setTimeout(3000);
      const a = await request(conn, EVHTTP_REQ_POST, "/a", (r) => r.getOutputBuffer().add(body));
      assert.equal(a.code, 413);
      assert.equal(a.body, "nope");
      const conn2 = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      conn2.setTimeout(3000);
      const b = request(conn2, EVHTTP_REQ_POST, "/b", (r) => r.getOutputBuffer().add(body));
      const c = request(conn2, EVHTTP_REQ_GET, "/next");
      assert.equal((await b).body, "early");
      const co = await c;
      assert.equal(co.code, 200, `kind ${co.kind} ${co.error?.message}`);
      assert.equal(co.body, "/next");
    });
  });
});

Deno.test("client: response then reset while the upload is still going", async () => {
  const body = new Uint8Array(8 * 1024 * 1024).fill(0x62);
  await withFake(async (conn) => {
    const r = new Reader(conn);
    while (dec.decode(r.buf).indexOf("\r\n\r\n") < 0) if (!(await r.fill())) return;
    await writeAll(
      conn,
      "HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 6\r\n\r\ndenied",
    );
    await new Promise((res) => setTimeout(res, 30));
    conn.close(); // unread upload bytes: a reset
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      conn.setTimeout(3000);
      const o = await within(
        request(conn, EVHTTP_REQ_POST, "/", (r) => r.getOutputBuffer().add(body)),
        4000,
        null,
      );
      assert.ok(o !== null, "the request never finished");
      assert.equal(o.code, 401, `kind ${o.kind}: ${o.error?.message}`);
      assert.equal(o.body, "denied");
    });
  });
});

// ----------------------------------------------------------------------------- server: framing edge cases

Deno.test("Expect: 100-continue edge cases: HTTP/1.0, body already sent, empty body, body later", async () => {
  await withServer((http) => {
    http.setGencb((req) => req.sendReply(200, null, `len=${req.getInputBuffer().length}`));
  }, async ({ port }) => {
    // HTTP/1.0 ignores Expect (no 100, no 417).
    const a = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(a, "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    await new Promise((r) => setTimeout(r, 30));
    await writeAll(a, "abc");
    const ra = await readUntil(a, () => false);
    a.close();
    assert.match(ra, /^HTTP\/1\.[01] 200 /);
    assert.ok(!ra.includes("100 Continue"), ra);
    assert.ok(ra.endsWith("len=3"));
    // The body came with the head: no 100 is sent.
    const b = await RawClient.connect(port);
    await b.send("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nxyz");
    const rb = (await b.response())!;
    assert.equal(rb.status, 200);
    assert.equal(rb.text, "len=3");
    // No body at all: no 100 either, just the answer.
    await b.send("GET / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n");
    const rc = (await b.response())!;
    assert.equal(rc.status, 200);
    // The body follows later on a kept-alive connection: 100, then the answer.
    await b.send(
      "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    assert.equal((await b.response())!.status, 100);
    await b.send("hi");
    assert.equal((await b.response())!.text, "len=2");
    b.close();
  });
});

Deno.test("chunked uploads: huge size line, 100k one-byte chunks, split at every byte", async () => {
  await withServer((http) => {
    http.setGencb((req) => {
      const buf = req.getInputBuffer();
      req.sendReply(200, null, `${buf.length}:${buf.length <= 64 ? buf.toString() : ""}`);
    });
  }, async ({ port }) => {
    // A chunk-size line of 5000 zeros then "5": over the 4096-byte line limit → 400.
    const c = await RawClient.connect(port);
    await c.send(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + "0".repeat(5000) +
        "5\r\nhello\r\n0\r\n\r\n",
    );
    assert.equal((await c.response())!.status, 400);
    c.close();
    // A chunk extension running on forever → 400, not unbounded buffering.
    const e = await RawClient.connect(port);
    await e.send("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;" + "x".repeat(10000));
    assert.equal((await e.response())!.status, 400);
    e.close();
    // 100 000 one-byte chunks in one go.
    const d = await RawClient.connect(port);
    await d.send(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + "1\r\nq\r\n".repeat(100000) +
        "0\r\n\r\n",
    );
    assert.equal((await d.response())!.text, "100000:");
    // The same connection is still usable; then a request split at every byte.
    const req = "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "3;ext=1\r\nabc\r\n1\r\nd\r\n0\r\nX-Trailer: t\r\n\r\n";
    for (const ch of req) await d.send(ch);
    assert.equal((await d.response())!.text, "4:abcd");
    d.close();
  });
});

Deno.test("header count and size limits: 10 000 tiny headers get 431 and the loop carries on", async () => {
  await withServer((http) => {
    http.setMaxHeadersSize(8192);
    http.setGencb((req) => req.sendReply(200, null, `${req.getInputHeaders().size}`));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET / HTTP/1.1\r\n" + "a:b\r\n".repeat(10000) + "\r\n");
    assert.equal((await c.response())!.status, 431);
    c.close();
    // Many headers within the limit are fine.
    const d = await RawClient.connect(port);
    await d.send("GET / HTTP/1.1\r\n" + "a:b\r\n".repeat(2000) + "\r\n");
    assert.equal((await d.response())!.text, "2000");
    // A never-ending header line (no CRLF) also ends in 431, not unbounded buffering.
    await d.send("GET / HTTP/1.1\r\nX: " + "v".repeat(100000));
    assert.equal((await d.response())!.status, 431);
    d.close();
  });
});

Deno.test("shutdown with an upload in progress: the request finishes with Connection: close", async () => {
  await withServer((http) => {
    http.setGencb((req) => req.sendReply(200, null, `${req.getInputBuffer().length}`));
  }, async ({ port, http }) => {
    const c = await RawClient.connect(port);
    await c.send("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345");
    const idle = await RawClient.connect(port);
    await until(() => http.getConnectionCount() === 2, 1000, "both connections");
    await new Promise((r) => setTimeout(r, 10));
    const done = http.shutdown(2000);
    assert.equal(await idle.readToEof(), "");
    await c.send("67890");
    const r = (await c.response())!;
    assert.equal(r.text, "10");
    assert.equal(r.headers.get("connection"), "close");
    assert.equal(await within(done.then(() => "done"), 1000, "pending"), "done");
    c.close();
    idle.close();
  });
});

Deno.test("connection storm: 300 clients that vanish at every stage leave nothing behind", async () => {
  await withServer((http) => {
    http.setGencb((req) => req.sendReply(200, null, "ok"));
  }, async ({ port, http }) => {
    const stages = [
      "",
      "GET / HT",
      "GET / HTTP/1.1\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
      "GARBAGE\x00\x01\x02\r\n\r\n",
    ];
    const tasks: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      tasks.push((async () => {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        await writeAll(c, stages[i % stages.length]!);
        c.close();
      })());
    }
    await Promise.all(tasks);
    await until(() => http.getConnectionCount() === 0, 4000, "every connection to close");
    const c = await RawClient.connect(port);
    await c.send("GET / HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.text, "ok");
    c.close();
  });
});

Deno.test("client: two responses in separate writes to one request; the next request reconnects", async () => {
  await withFake(async (conn, index) => {
    const r = new Reader(conn);
    await r.request();
    if (index === 0) {
      await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
      await new Promise((res) => setTimeout(res, 30));
      await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!");
      await r.request();
      return;
    }
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond");
    await r.request();
  }, async (fake) => {
    const port = fake.port;
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      const dropped = deferred<void>();
      conn.setCloseCb(() => dropped.resolve());
      assert.equal((await request(conn, EVHTTP_REQ_GET, "/1")).body, "first");
      // The unsolicited bytes make the client drop the connection.
      assert.equal(await within(dropped.p.then(() => "dropped"), 2000, "kept"), "dropped");
      const o = await request(conn, EVHTTP_REQ_GET, "/2");
      assert.equal(o.body, "second");
      assert.equal(fake.accepted, 2);
    });
  });
});

Deno.test("client: idle and read timeouts with a server that stalls mid-body", async () => {
  await withFake(async (conn) => {
    const r = new Reader(conn);
    await r.request();
    await writeAll(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
    await r.request(); // stall until the client gives up
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      conn.setTimeout(150);
      let closes = 0;
      conn.setCloseCb(() => closes++);
      const t0 = performance.now();
      const o = await request(conn, EVHTTP_REQ_GET, "/");
      assert.equal(o.kind, EVREQ_HTTP_TIMEOUT);
      assert.equal(o.code, 0);
      assert.ok(performance.now() - t0 < 1500);
      assert.equal(closes, 1);
    });
  });
});

// Pipelined requests fully received but held back by the server's own output back-pressure
// (over 1 MiB waiting for a slow reader) are not answered 408 when the read timeout fires:
// they wait on us, not on the client; every one is answered.
Deno.test("read timeout does not fire 408 on pipelined requests held back by output back-pressure", async () => {
  const N = 1000;
  await withServer((http) => {
    http.setReadTimeout(200);
    http.setGencb((req) => req.sendReply(200, null, req.getUri() + ":" + "p".repeat(8000)));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    let reqs = "";
    for (let i = 0; i < N; i++) reqs += `GET /r${i} HTTP/1.1\r\n\r\n`;
    await c.send(reqs);
    // A slow reader: nothing read for a while (the responses pile up past 1 MiB).
    await new Promise((r) => setTimeout(r, 400));
    let got = 0;
    let last = 0;
    for (let i = 0; i < N; i++) {
      const r = await c.response().catch(() => null);
      if (r === null) break;
      last = r.status;
      if (r.status !== 200) break;
      got++;
    }
    c.close();
    assert.equal(got, N, `only ${got} of ${N} answered, then status ${last}`);
  });
});

Deno.test("write timeout: a slow but steady reader of a large reply is not cut off", async () => {
  const size = 8 * 1024 * 1024;
  await withServer((http) => {
    http.setWriteTimeout(250);
    http.setGencb((req) => req.sendReply(200, null, new Uint8Array(size).fill(0x6b)));
  }, async ({ port }) => {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(c, "GET / HTTP/1.1\r\n\r\n");
    const buf = new Uint8Array(256 * 1024);
    let total = 0;
    let headLen = -1;
    let text = "";
    while (headLen < 0 || total < headLen + size) {
      await new Promise((r) => setTimeout(r, 25));
      let n: number | null;
      try {
        n = await c.read(buf);
      } catch {
        n = null;
      }
      if (n === null) break;
      if (headLen < 0) {
        text += dec.decode(buf.subarray(0, Math.min(n, 512)));
        const i = text.indexOf("\r\n\r\n");
        if (i >= 0) headLen = i + 4;
      }
      total += n;
    }
    c.close();
    assert.equal(total, headLen + size);
  });
});

Deno.test("evhttpFetch: abort in the middle of a trickled body rejects and closes the socket", async () => {
  const serverSawClose = deferred<void>();
  await withFake(async (conn) => {
    const r = new Reader(conn);
    await r.request();
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc");
    await r.request(); // returns at EOF: the client dropped the connection
    serverSawClose.resolve();
  }, async ({ port }) => {
    await withClient(async (base) => {
      const ac = new AbortController();
      const got = evhttpFetch(base, `http://127.0.0.1:${port}/`, { signal: ac.signal });
      const settled = got.then(() => "resolved", (e: Error) => e.message);
      // Abort from the loop once the head has had time to arrive.
      base.once(null, EV_TIMEOUT, () => ac.abort(), undefined, 30);
      const msg = await within(settled, 2000, "pending");
      assert.match(msg, /cancelled/);
      assert.equal(await within(serverSawClose.p.then(() => "closed"), 2000, "open"), "closed");
    });
  });
});

// The same with a single large reply: one pipelined request, fully received, waits while a slow
// reader drains an 8 MiB reply, and is served rather than answered 408.
Deno.test("read timeout does not fire 408 on a request pipelined behind a large reply", async () => {
  const size = 8 * 1024 * 1024;
  await withServer((http) => {
    http.setReadTimeout(200);
    http.setNewreqcb(() => 0);
    http.setGencb((req) =>
      req.sendReply(200, null, req.getUri() === "/big" ? new Uint8Array(size) : "small")
    );
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /big HTTP/1.1\r\n\r\nGET /small HTTP/1.1\r\n\r\n");
    await new Promise((r) => setTimeout(r, 400)); // a slow reader
    const big = (await c.response())!;
    assert.equal(big.body.length, size);
    const small = await c.response().catch(() => null);
    c.close();
    assert.equal(small?.status, 200, `the pipelined request got ${small?.status}`);
    assert.equal(small?.text, "small");
  });
});

// With no read timeout set (the server default, as in libevent) the same peer used to pin the
// connection for ever: long polls abandoned by their clients filled every setMaxConnections slot.
// The grace is then libevent's HTTP read timeout (50 s; lowered here).
Deno.test("a closed peer whose handler never replies is let go after a grace even without a read timeout", async () => {
  const errors: number[] = [];
  let held: EvhttpRequest | null = null;
  const saved = eofGrace.ms;
  eofGrace.ms = 200;
  try {
    await withServer((http) => {
      http.setGencb((req) => {
        held = req;
        req.setErrorCb((kind) => errors.push(kind));
      });
    }, async ({ port, http }) => {
      const c = await RawClient.connect(port);
      await c.send("GET /poll HTTP/1.1\r\nHost: h\r\n\r\n");
      await until(() => held !== null, 1000, "the handler");
      c.close();
      await until(() => http.getConnectionCount() === 0, 2000, "the connection to go");
      assert.deepEqual(errors, [EVREQ_HTTP_EOF]);
    });
  } finally {
    eofGrace.ms = saved;
  }
});

// A peer that closes for good while its request is in the handler looks like a half-close: the
// connection is kept for the reply, but only for the read timeout. A handler that has not begun
// its reply by then loses the connection (error callback: EVREQ_HTTP_EOF), so a handler that never
// answers cannot pin connections (a proxy giving up with 504 would leak one each time).
Deno.test("a closed peer whose handler never replies is let go after the read timeout", async () => {
  const errors: number[] = [];
  let held: EvhttpRequest | null = null;
  await withServer((http) => {
    http.setReadTimeout(200);
    http.setGencb((req) => {
      held = req;
      req.setErrorCb((kind) => errors.push(kind));
    });
  }, async ({ port, http }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /never HTTP/1.1\r\nHost: h\r\n\r\n");
    await until(() => held !== null, 1000, "the handler");
    c.close();
    await until(() => http.getConnectionCount() === 0, 2000, "the connection to go");
    assert.deepEqual(errors, [EVREQ_HTTP_EOF]);
    assert.equal((held! as EvhttpRequest).getConnection(), null);
    // A late reply is a no-op.
    (held! as EvhttpRequest).sendReply(200, null, "late");
  });
});

// A file served with addFile that shrinks before it is sent cannot fill the Content-Length
// announced: the connection is closed after what could be sent, never followed by the next
// response (which the client would read as the missing body bytes).
Deno.test("a file that shrinks while being served ends the connection, not the framing", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/f.bin`;
  await Deno.writeFile(path, new Uint8Array(200_000).fill(0x61));
  try {
    await withServer((http) => {
      http.setGencb((req) => {
        const f = Deno.openSync(path, { read: true });
        const body = req.getOutputBuffer();
        body.addFile(f, 0, 200_000);
        req.sendReply(200, null);
        // The file shrinks before a byte of it went out.
        Deno.truncateSync(path, 1000);
      });
    }, async ({ port }) => {
      const c = await RawClient.connect(port);
      await c.send("GET /f HTTP/1.1\r\nHost: h\r\n\r\nGET /g HTTP/1.1\r\nHost: h\r\n\r\n");
      const all = await within(c.readToEof(), 3000, null);
      c.close();
      assert.ok(all !== null, "the connection was not closed");
      assert.ok(all.startsWith("HTTP/1.1 200 OK\r\n"), all.slice(0, 40));
      assert.ok(all.includes("Content-Length: 200000\r\n"));
      // Nothing after the truncated body: no second response where body bytes belong.
      assert.equal(all.indexOf("HTTP/1.1", 10), -1);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// After a half-close each pipelined request's handler gets the whole read timeout to begin its
// reply: the timer restarts per request (it used to be armed once, at the EOF, and cut the second
// request short when it fired).
Deno.test("after a half-close, each pipelined handler gets its own read timeout", async () => {
  const errors: string[] = [];
  await withServer((http, base) => {
    http.setReadTimeout(300);
    http.setGencb((req: EvhttpRequest) => {
      const uri = req.getUri();
      req.setErrorCb(() => errors.push(uri));
      const t = new InternalTimer(base, () => req.sendReply(200, null, uri));
      t.arm(200); // each handler answers within 200 ms < the 300 ms read timeout
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    await c.conn.closeWrite(); // half-close: both replies are still owed
    const a = await c.response();
    const b = await c.response().catch(() => null);
    c.close();
    assert.equal(a?.status, 200);
    assert.deepEqual(errors, [], `requests dropped with EVREQ_HTTP_EOF: ${errors}`);
    assert.equal(b?.status, 200, "the second pipelined reply was lost");
  });
});

// An async handler is a RequestCb too: its rejection used to be an unhandled rejection that ended
// the whole process (the client got nothing). A handler failing after sendReplyStart left the
// client waiting for the end of a stream that would never come.
Deno.test("server: an async handler's rejection gets a 500; a failure mid-stream closes the reply", async () => {
  const logs: string[] = [];
  await withServer((http, base) => {
    base.setLogCallback((_s, m) => logs.push(m));
    http.setCb("/async", async () => {
      await Promise.resolve();
      throw new Error("async boom");
    });
    http.setCb("/stream", (req) => {
      req.sendReplyStart(200, null);
      req.sendReplyChunk("partial");
      throw new Error("stream boom");
    });
    http.setCb("/ok", (req) => req.sendReply(200, null, "ok"));
  }, async ({ port }) => {
    const a =
      (await exchange(port, "GET /async HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))!;
    assert.equal(a.status, 500);
    const c = await RawClient.connect(port);
    try {
      await c.send("GET /stream HTTP/1.1\r\nHost: h\r\n\r\n");
      const text = await within(c.readToEof(), 5000, null);
      assert.ok(text !== null, "the cut-short stream was not closed");
      assert.match(text, /partial/);
      assert.ok(!text.endsWith("0\r\n\r\n"), "no final chunk: the client sees the reply cut short");
    } finally {
      c.close();
    }
    assert.equal(
      (await exchange(port, "GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))!.status,
      200,
    );
    assert.ok(
      logs.some((m) => m.includes("async boom")) && logs.some((m) => m.includes("stream boom")),
    );
  });
});

Deno.test("server: a reply body of the wrong type throws before anything is written (a 500, not a 200 head then a 500)", async () => {
  await withServer((http, base) => {
    base.setLogCallback(() => {});
    http.setCb("/bad", (req) => req.sendReply(200, null, 12345 as unknown as string));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    try {
      await c.send("GET /bad HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
      const text = (await within(c.readToEof(), 5000, null))!;
      assert.match(text, /^HTTP\/1\.1 500 /);
      assert.equal(text.split("HTTP/1.1 ").length - 1, 1, "one status line");
    } finally {
      c.close();
    }
  });
});
