// Review of the evhttp server hooks and streaming paths: setHeaderCb, req.setChunkedCb,
// setOnCompleteCb, setErrorcb, setNewreqcb, the streamed reply API, and free()/shutdown() from
// inside each hook. Tests whose comment starts "Regression test" cover bugs this review found.
import assert from "node:assert/strict";
import type { Evhttp, EvhttpConnection, EvhttpRequest } from "../evhttp/mod.ts";
import { bounded } from "./_helpers.ts";
import { exchange, RawClient, withServer } from "./_evhttp_helpers.ts";

const enc = new TextEncoder();

/** A promise with its resolver. */
function signal<T = void>(): { p: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const p = new Promise<T>((r) => resolve = r);
  return { p, resolve };
}

/** Polls `cond` every few ms until it holds; throws after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The server connection's input buffer length (internal, for bounding checks). */
function inputLength(conn: EvhttpConnection | null): number {
  if (conn === null) return -1;
  const bev = (conn as unknown as { _bev: { getInput(): { length: number } } | null })._bev;
  return bev === null ? -1 : bev.getInput().length;
}

// ------------------------------------------------------------------------------ setHeaderCb

/**
 * Asks for `/big`, waits for its handler, then pipelines up to 48 MiB of `GET /s` without
 * reading: either the whole flood is accepted (the server kept reading) or the writer stalls (the
 * 2.5 s cap only bounds the wait for a stall). Returns the server's input length then.
 */
async function floodAfterBig(
  port: number,
  input: () => number,
): Promise<{ buffered: number; written: number }> {
  const c = await RawClient.connect(port);
  await c.send("GET /big HTTP/1.1\r\n\r\n");
  await until(() => input() >= 0, 2000, "the /big handler");
  const flood = enc.encode("GET /s HTTP/1.1\r\n\r\n".repeat(1 << 16)); // ~1.2 MiB
  const target = 48 << 20;
  let written = 0;
  let stop = false;
  const writer = (async () => {
    try {
      while (!stop && written < target) {
        await c.send(flood);
        written += flood.length;
      }
    } catch { /* closed */ }
  })();
  const t0 = performance.now();
  while (written < target && performance.now() - t0 < 2500) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const buffered = input();
  stop = true;
  c.close();
  await writer;
  return { buffered, written };
}

Deno.test("header cb: a reply from the hook to a bodiless GET keeps the connection alive", async () => {
  let dispatched = 0;
  await withServer((http) => {
    http.setHeaderCb((req) => {
      if (req.getUri() === "/early") req.sendReply(200, null, "early");
    });
    http.setCb("/early", () => dispatched++);
    http.setCb("/late", (req) => req.sendReply(200, null, "late"));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /early HTTP/1.1\r\n\r\nGET /late HTTP/1.1\r\n\r\n");
    const a = (await c.response())!;
    const b = (await c.response())!;
    c.close();
    assert.equal(a.text, "early");
    assert.equal(a.headers.get("connection"), undefined);
    assert.equal(b.text, "late");
    assert.equal(dispatched, 0, "the route callback does not run after the hook replied");
  });
});

Deno.test("header cb: returning -1 after replying keeps the reply; -1 alone closes silently", async () => {
  await withServer((http) => {
    http.setHeaderCb((req) => {
      if (req.getUri() === "/replied") req.sendReply(403, null, "no");
      return -1;
    });
  }, async ({ port }) => {
    const a = (await exchange(port, "POST /replied HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"))!;
    assert.equal(a.status, 403);
    assert.equal(a.text, "no");
    const c = await RawClient.connect(port);
    await c.send("GET /silent HTTP/1.1\r\n\r\n");
    assert.equal(await c.closedByPeer(), true);
    c.close();
  });
});

Deno.test("header cb: refusing an upload with Expect: 100-continue sends no 100 and closes", async () => {
  let chunks = 0;
  await withServer((http) => {
    http.setHeaderCb((req) => {
      req.setChunkedCb(() => chunks++);
      req.sendError(401);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send(
      "PUT /up HTTP/1.1\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n",
    );
    const r = (await c.response())!;
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("connection"), "close");
    // The client may go on sending; the server discards it and closes.
    await c.send(new Uint8Array(100000)).catch(() => {});
    assert.equal(await c.closedByPeer(), true);
    c.close();
    assert.equal(chunks, 0);
  });
});

Deno.test("header cb: a streamed reply started from the hook, ended later, closes after it", async () => {
  let held: EvhttpRequest | null = null;
  await withServer((http) => {
    http.setHeaderCb((req) => {
      held = req;
      req.sendReplyStart(200, null);
      req.sendReplyChunk("a");
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("POST /s HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz");
    const resp = c.response();
    await until(() => held !== null, 2000, "the hook");
    held!.sendReplyChunk("b");
    held!.sendReplyEnd();
    const r = (await resp)!;
    assert.equal(r.text, "ab");
    assert.equal(r.headers.get("connection"), "close");
    assert.equal(await c.closedByPeer(), true);
    c.close();
  });
});

// ------------------------------------------------------------------------------ setChunkedCb

Deno.test("chunked cb: Content-Length pieces arrive one by one as they are sent", async () => {
  const pieces: string[] = [];
  let got = signal();
  let finalLen = -1;
  await withServer((http) => {
    http.setHeaderCb((req) => {
      req.setChunkedCb((r) => {
        pieces.push(r.getInputBuffer().toString());
        got.resolve();
      });
    });
    http.setCb("/up", (req) => {
      finalLen = req.getInputBuffer().length;
      req.sendReply(200, null, `n=${pieces.length}`);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("POST /up HTTP/1.1\r\nContent-Length: 9\r\n\r\n");
    for (const p of ["abc", "def", "ghi"]) {
      got = signal();
      await c.send(p);
      await bounded(got.p, 2000, "piece " + p);
    }
    const r = (await c.response())!;
    c.close();
    assert.deepEqual(pieces, ["abc", "def", "ghi"]);
    assert.equal(r.text, "n=3");
    assert.equal(finalLen, 0, "each piece was drained after its callback");
  });
});

Deno.test("chunked cb: chunked pieces arrive as sent; trailers reach the request callback", async () => {
  const pieces: string[] = [];
  let got = signal();
  let trailer: string | undefined;
  await withServer((http) => {
    http.setHeaderCb((req) => {
      req.setChunkedCb((r) => {
        pieces.push(r.getInputBuffer().toString());
        got.resolve();
      });
    });
    http.setCb("/up", (req) => {
      trailer = req.getInputHeaders().find("X-Sum");
      req.sendReply(200, null, "ok");
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (const p of ["3\r\nabc\r\n", "2\r\nde\r\n"]) {
      got = signal();
      await c.send(p);
      await bounded(got.p, 2000, "piece");
    }
    await c.send("0\r\nX-Sum: 5\r\n\r\n");
    const r = (await c.response())!;
    c.close();
    assert.equal(r.text, "ok");
    assert.deepEqual(pieces, ["abc", "de"]);
    assert.equal(trailer, "5");
  });
});

Deno.test("chunked cb: a reply from the chunked cb mid-body closes; later pieces not delivered", async () => {
  let calls = 0;
  let dispatched = 0;
  await withServer((http) => {
    http.setHeaderCb((req) => {
      req.setChunkedCb((r) => {
        calls++;
        r.sendError(413, "enough");
      });
    });
    http.setCb("/up", () => dispatched++);
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("POST /up HTTP/1.1\r\nContent-Length: 200000\r\n\r\nfirst");
    const r = (await c.response())!;
    assert.equal(r.status, 413);
    assert.equal(r.headers.get("connection"), "close");
    await c.send(new Uint8Array(100000)).catch(() => {});
    assert.equal(await c.closedByPeer(), true);
    c.close();
    assert.equal(calls, 1);
    assert.equal(dispatched, 0);
  });
});

// Input stays bounded: a big upload streamed into a chunked cb never piles up in the server.
Deno.test("chunked cb: a 32 MiB upload is delivered in bounded pieces", async () => {
  let maxPiece = 0;
  let maxInput = 0;
  let total = 0;
  await withServer((http) => {
    http.setHeaderCb((req) => {
      req.setChunkedCb((r) => {
        const n = r.getInputBuffer().length;
        total += n;
        if (n > maxPiece) maxPiece = n;
        const i = inputLength(r.getConnection());
        if (i > maxInput) maxInput = i;
      });
    });
    http.setCb("/up", (req) => req.sendReply(200, null, String(total)));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const n = 32 << 20;
    await c.send(`POST /up HTTP/1.1\r\nContent-Length: ${n}\r\n\r\n`);
    const block = new Uint8Array(1 << 20);
    for (let i = 0; i < 32; i++) await c.send(block);
    const r = (await c.response())!;
    c.close();
    assert.equal(r.text, String(n));
    assert.ok(maxPiece <= 4 << 20, `largest piece ${maxPiece}`);
    assert.ok(maxInput <= 4 << 20, `largest input ${maxInput}`);
  });
});

// Regression test. Before the fix: requests pipelined behind a large reply the client does not read are held back
// (#heldBack: output ≥ 1 MiB), but reading goes on: the server's input grows without bound
// with whatever the client keeps sending. The 1 MiB input cap (IN_HIGH) applies only while a
// handler runs (S_HANDLING), not to this S_HEAD hold-back.
Deno.test("held-back pipelined requests behind an unread large reply: server input stays bounded", async () => {
  let conn: EvhttpConnection | null = null;
  await withServer((http) => {
    http.setCb("/big", (req) => {
      conn = req.getConnection();
      req.sendReply(200, null, new Uint8Array(8 << 20));
    });
    http.setCb("/s", (req) => req.sendReply(200, null, "s"));
  }, async ({ port }) => {
    const { buffered, written } = await floodAfterBig(port, () => inputLength(conn));
    assert.ok(
      buffered <= 4 << 20,
      `server input holds ${(buffered / 1048576).toFixed(1)} MiB (client wrote ${
        (written / 1048576).toFixed(1)
      } MiB)`,
    );
  });
});

// ------------------------------------------------------------------------------ errorcb

Deno.test("errorcb: a positive return with content uses it; content with -1 is ignored", async () => {
  await withServer((http) => {
    http.setErrorcb((req, buf) => {
      buf.add("custom page");
      return req.getUri() === "/neg" ? -1 : 7;
    });
  }, async ({ port }) => {
    const a = (await exchange(port, "GET /pos HTTP/1.1\r\n\r\n"))!;
    assert.equal(a.status, 404);
    assert.equal(a.text, "custom page");
    const b = (await exchange(port, "GET /neg HTTP/1.1\r\n\r\n"))!;
    assert.equal(b.status, 404);
    assert.match(b.text, /<h1>404 Not Found<\/h1>/);
  });
});

// Regression test. Before the fix: shutdown() called from the errorcb while the server answers a malformed head (here
// 501) or a client over the connection limit (503) finds the connection "idle" (S_HEAD, input
// drained) and closes it at once: the page being built is never written. shutdown() promises
// that requests in progress finish; a reply being sent is in progress.
Deno.test("errorcb: shutdown() from the errorcb still sends the page (501 for a bad method)", async () => {
  let done: Promise<void> | null = null;
  await withServer((http) => {
    http.setErrorcb((_req, buf, code) => {
      done ??= http.shutdown(2000);
      buf.add(`custom ${code}`);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("FLOOP / HTTP/1.1\r\n\r\n");
    const r = await c.response();
    c.close();
    await bounded(done!, 2000, "shutdown");
    assert.notEqual(r, null, "the 501 page was dropped");
    assert.equal(r!.status, 501);
    assert.equal(r!.text, "custom 501");
  });
});

Deno.test("errorcb: shutdown() from the errorcb of a handler's sendError still sends the page", async () => {
  let done: Promise<void> | null = null;
  await withServer((http) => {
    http.setCb("/e", (req) => req.sendError(410));
    http.setErrorcb((_req, buf, code) => {
      done ??= http.shutdown(2000);
      buf.add(`custom ${code}`);
    });
  }, async ({ port }) => {
    const r = (await exchange(port, "GET /e HTTP/1.1\r\n\r\n"))!;
    await bounded(done!, 2000, "shutdown");
    assert.equal(r.status, 410);
    assert.equal(r.text, "custom 410");
  });
});

Deno.test("errorcb: free() from the errorcb closes the connection without a reply", async () => {
  let httpRef: Evhttp | null = null;
  await withServer((http) => {
    httpRef = http;
    http.setErrorcb((_req, buf) => {
      buf.add("x");
      httpRef!.free();
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /missing HTTP/1.1\r\n\r\n");
    assert.equal(await c.closedByPeer(), true);
    c.close();
  });
});

// ------------------------------------------------------------------------------ newreqcb

Deno.test("newreqcb: free() at accept and shutdown() at accept close the connection cleanly", async () => {
  for (const how of ["free", "shutdown"]) {
    let done: Promise<void> | null = null;
    await withServer((http) => {
      http.setNewreqcb(() => {
        if (how === "free") http.free();
        else done ??= http.shutdown(1000);
      });
    }, async ({ port }) => {
      const c = await RawClient.connect(port);
      await c.send("GET / HTTP/1.1\r\n\r\n").catch(() => {});
      assert.equal(await c.closedByPeer(), true, how);
      c.close();
      if (done !== null) await bounded(done, 2000, "shutdown");
    });
  }
});

Deno.test("newreqcb: shutdown() at the second attach with a pipelined request buffered answers it with close", async () => {
  let n = 0;
  let done: Promise<void> | null = null;
  await withServer((http) => {
    http.setNewreqcb(() => {
      if (++n === 2) done = http.shutdown(2000);
    });
    http.setGencb((req) => req.sendReply(200, null, req.getUri()));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
    const a = (await c.response())!;
    const b = (await c.response())!;
    assert.equal(a.text, "/a");
    assert.equal(b.text, "/b");
    assert.equal(b.headers.get("connection"), "close");
    assert.equal(await c.closedByPeer(), true);
    c.close();
    await bounded(done!, 2000, "shutdown");
  });
});

Deno.test("newreqcb: removed while a connection waits to attach; the next request is still served", async () => {
  let n = 0;
  await withServer((http) => {
    http.setNewreqcb(() => {
      n++;
    });
    http.setGencb((req) => {
      http.setNewreqcb(null);
      req.sendReply(200, null, req.getUri());
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.text, "/a");
    assert.equal((await c.response())!.text, "/b");
    c.close();
    assert.equal(n, 1);
  });
});

Deno.test("newreqcb: callbacks set on the attached request survive to the handler", async () => {
  const completed: string[] = [];
  await withServer((http) => {
    http.setNewreqcb((req) => {
      req.setOnCompleteCb((r) => completed.push(r.getUri()));
    });
    http.setGencb((req) => req.sendReply(200, null, "x"));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
    await c.response();
    await c.response();
    await until(() => completed.length === 2, 2000, "on-complete");
    c.close();
    assert.deepEqual(completed, ["/1", "/2"]);
  });
});

// ------------------------------------------------------------------------------ on-complete

Deno.test("on-complete: once for an early refusal from the header cb, after it is written", async () => {
  let n = 0;
  await withServer((http) => {
    http.setHeaderCb((req) => {
      req.setOnCompleteCb(() => n++);
      req.sendError(401);
    });
  }, async ({ port }) => {
    const r = (await exchange(port, "POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd"))!;
    assert.equal(r.status, 401);
    await until(() => n > 0, 2000, "on-complete");
    assert.equal(n, 1);
  });
});

Deno.test("on-complete: free() and shutdown() from the on-complete callback", async () => {
  for (const how of ["free", "shutdown"]) {
    let done: Promise<void> | null = null;
    let n = 0;
    await withServer((http) => {
      http.setGencb((req) => {
        req.setOnCompleteCb(() => {
          n++;
          if (how === "free") http.free();
          else done ??= http.shutdown(1000);
        });
        req.sendReply(200, null, "x");
      });
    }, async ({ port }) => {
      const c = await RawClient.connect(port);
      await c.send("GET / HTTP/1.1\r\n\r\n");
      assert.equal((await c.response())!.text, "x");
      assert.equal(await c.closedByPeer(), true, how);
      c.close();
      if (done !== null) await bounded(done, 2000, "shutdown");
      assert.equal(n, 1);
    });
  }
});

Deno.test("on-complete: not run when the client resets while a streamed reply is pending", async () => {
  let n = 0;
  let err = 0;
  let held: EvhttpRequest | null = null;
  await withServer((http) => {
    http.setGencb((req) => {
      held = req;
      req.setOnCompleteCb(() => n++);
      req.setErrorCb(() => err++);
      req.sendReplyStart(200, null);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET / HTTP/1.1\r\n\r\n");
    await until(() => held !== null, 2000, "handler");
    c.close();
    // A close looks like a half-close until a write fails: keep streaming until it does.
    const t0 = performance.now();
    while (held!.getConnection() !== null && performance.now() - t0 < 2000) {
      held!.sendReplyChunk("x".repeat(65536));
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(held!.getConnection(), null, "the server saw the reset");
    held!.sendReplyChunk("late");
    held!.sendReplyEnd();
    assert.equal(n, 0);
    assert.equal(err, 1);
  });
});

// ------------------------------------------------------------------------------ streamed replies

Deno.test("stream: ending with no chunks — 1.1 empty chunked body, 1.0 close, HEAD keeps alive", async () => {
  await withServer((http) => {
    http.setGencb((req) => {
      req.sendReplyStart(200, null);
      req.sendReplyEnd();
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /a HTTP/1.1\r\n\r\n");
    const a = (await c.response())!;
    assert.equal(a.headers.get("transfer-encoding"), "chunked");
    assert.equal(a.text, "");
    await c.send("HEAD /a HTTP/1.1\r\n\r\n");
    const h = (await c.response({ head: true }))!;
    assert.equal(h.status, 200);
    await c.send("GET /b HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.status, 200, "still alive after HEAD");
    c.close();
    const c2 = await RawClient.connect(port);
    await c2.send("GET /a HTTP/1.0\r\n\r\n");
    const b = (await c2.response())!;
    c2.close();
    assert.equal(b.text, "");
    assert.equal(b.headers.get("transfer-encoding"), undefined);
  });
});

Deno.test("stream: chunk callbacks fire in order, once each, after the chunk is written; a callback ends", async () => {
  const fired: number[] = [];
  let errs = 0;
  await withServer((http) => {
    http.setGencb((req) => {
      req.sendReplyStart(200, null);
      let i = 0;
      const next = () => {
        fired.push(i);
        if (++i === 2000) {
          req.sendReplyEnd();
          return;
        }
        req.sendReplyChunkWithCb(String(i % 10), next);
      };
      req.setErrorCb(() => errs++);
      req.sendReplyChunkWithCb("0", next);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET / HTTP/1.1\r\n\r\n");
    const r = (await c.response())!;
    c.close();
    let want = "";
    for (let i = 0; i < 2000; i++) want += String(i % 10);
    assert.equal(r.text, want);
    assert.equal(fired.length, 2000);
    for (let i = 0; i < 2000; i++) assert.equal(fired[i], i);
    assert.equal(errs, 0);
  });
});

Deno.test("stream: 100 000 chunks in one go, plus callbacks on HEAD (nothing written) still fire", async () => {
  let headCbs = 0;
  await withServer((http) => {
    http.setGencb((req) => {
      req.sendReplyStart(200, null);
      for (let i = 0; i < 100000; i++) req.sendReplyChunk("x");
      if (req.getCommandName() === "HEAD") {
        req.sendReplyChunkWithCb("y", () => {
          headCbs++;
          req.sendReplyEnd();
        });
      } else req.sendReplyEnd();
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET / HTTP/1.1\r\n\r\n");
    const r = (await c.response())!;
    assert.equal(r.body.length, 100000);
    await c.send("HEAD / HTTP/1.1\r\n\r\n");
    const h = (await c.response({ head: true }))!;
    assert.equal(h.status, 200);
    await c.send("GET / HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.body.length, 100000);
    c.close();
    assert.equal(headCbs, 1);
  });
});

Deno.test("stream: free() and shutdown() from a chunk callback", async () => {
  for (const how of ["free", "shutdown"]) {
    let done: Promise<void> | null = null;
    await withServer((http) => {
      http.setGencb((req) => {
        req.sendReplyStart(200, null);
        req.sendReplyChunkWithCb("a", () => {
          if (how === "free") http.free();
          else {
            done ??= http.shutdown(1000);
            req.sendReplyChunk("b");
            req.sendReplyEnd();
          }
        });
      });
    }, async ({ port }) => {
      const c = await RawClient.connect(port);
      await c.send("GET / HTTP/1.1\r\n\r\n");
      if (how === "shutdown") {
        const r = (await c.response())!;
        assert.equal(r.text, "ab");
        assert.equal(await c.closedByPeer(), true, how);
      } else {
        const rest = await c.readToEof();
        assert.match(rest, /^HTTP\/1\.1 200 OK\r\n/);
        assert.ok(!rest.endsWith("0\r\n\r\n"), "a freed stream is cut off, not ended");
      }
      c.close();
      if (done !== null) await bounded(done, 2000, "shutdown");
    });
  }
});

Deno.test("header/chunked cb: free() and shutdown() from inside them", async () => {
  for (const where of ["header", "chunk"]) {
    for (const how of ["free", "shutdown"]) {
      let done: Promise<void> | null = null;
      await withServer((http) => {
        const act = () => {
          if (how === "free") http.free();
          else done ??= http.shutdown(1000);
        };
        http.setHeaderCb((req) => {
          if (where === "header") act();
          else req.setChunkedCb(() => act());
        });
        http.setGencb((req) => req.sendReply(200, null, `len=${req.getInputBuffer().length}`));
      }, async ({ port }) => {
        const c = await RawClient.connect(port);
        await c.send("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
        if (how === "shutdown") {
          const r = (await c.response())!;
          assert.equal(r.status, 200, `${where}/${how}`);
          assert.equal(r.headers.get("connection"), "close", `${where}/${how}`);
        }
        assert.equal(await c.closedByPeer(), true, `${where}/${how}`);
        c.close();
        if (done !== null) await bounded(done, 2000, "shutdown");
      });
    }
  }
});

// Regression test. Before the fix: the same as the 501 case for a client refused over setMaxConnections: shutdown() from
// the errorcb of its 503 closes the connection before the page goes out.
Deno.test("errorcb: shutdown() from the errorcb of a 503 (over the connection limit) still sends it", async () => {
  let done: Promise<void> | null = null;
  await withServer((http) => {
    http.setMaxConnections(1);
    http.setErrorcb((_req, buf, code) => {
      if (code === 503) done ??= http.shutdown(2000);
      buf.add(`custom ${code}`);
    });
  }, async ({ port }) => {
    const first = await RawClient.connect(port);
    await first.send("GET /"); // a partial request keeps it busy
    const c = await RawClient.connect(port);
    const r = await c.response();
    c.close();
    first.close();
    await bounded(done!, 2000, "shutdown");
    assert.notEqual(r, null, "the 503 page was dropped");
    assert.equal(r!.status, 503);
    assert.equal(r!.text, "custom 503");
  });
});

// Regression test. Before the fix: with a newreqcb set, a pipelined request waits for the previous reply to be written
// (#needAttach, as in libevent), but reading goes on meanwhile: a client that does not read a
// 512 KiB reply (below the 1 MiB output mark) and keeps sending makes the server buffer it all.
Deno.test("newreqcb: requests held back for the attach keep the server's input bounded", async () => {
  let conn: EvhttpConnection | null = null;
  await withServer((http) => {
    http.setNewreqcb(() => {});
    http.setCb("/big", (req) => {
      conn = req.getConnection();
      req.sendReply(200, null, new Uint8Array(512 << 10));
    });
    http.setCb("/s", (req) => req.sendReply(200, null, "s"));
  }, async ({ port }) => {
    const { buffered, written } = await floodAfterBig(port, () => inputLength(conn));
    assert.ok(
      buffered <= 4 << 20,
      `server input holds ${(buffered / 1048576).toFixed(1)} MiB (client wrote ${
        (written / 1048576).toFixed(1)
      } MiB)`,
    );
  });
});
