// The evhttp server hooks libevent has: custom error pages (setErrorcb, libevent's
// `test error_callback`), the new-request hook (setNewreqcb, `test newreqcb`), the on-complete
// callback (`test on_complete`) and extension methods (`test custom`, `test allowed_methods`).
import assert from "node:assert/strict";
import {
  Evhttp,
  EVHTTP_METHOD_HAS_BODY,
  EVHTTP_REQ_GET,
  EVHTTP_REQ_MAX,
  EVHTTP_REQ_PATCH,
  EvhttpConnection,
  type EvhttpExtMethodCb,
  EvhttpRequest,
} from "../evhttp/mod.ts";
import { EventBase } from "../reactor/mod.ts";
import { exchange, RawClient, withServer } from "./_evhttp_helpers.ts";
import { haveBinary } from "./interop/_spawn.ts";

const EVHTTP_REQ_CUSTOM = EVHTTP_REQ_MAX << 1;

/** libevent's `ext_method_cb` from regress_http.c, both directions. */
const customCmp: EvhttpExtMethodCb = (m) => {
  if (m.method !== null) {
    if (m.method !== "CUSTOM") return -1;
    m.type = EVHTTP_REQ_CUSTOM;
    return 0;
  }
  if (m.type !== EVHTTP_REQ_CUSTOM) return -1;
  m.method = "CUSTOM";
  return 0;
};

/** Resolves when `n` calls of the returned function happened. */
function counter(n: number): { hit: () => void; done: Promise<void> } {
  let left = n;
  let resolve!: () => void;
  const done = new Promise<void>((r) => resolve = r);
  if (n === 0) resolve();
  return {
    hit: () => {
      if (--left === 0) resolve();
    },
    done,
  };
}

// ---------------------------------------------------------------------------- setErrorcb

const NOT_FOUND_MISSING =
  "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1>" +
  "<p>The requested URL /missing was not found on this server.</p></body></html>";

Deno.test("error_callback: default pages have libevent's sizes (404 152 B, 404 bare 89 B, 501 101 B)", async () => {
  await withServer((http) => {
    http.setCb("/senderror", (req) => req.sendError(404));
  }, async ({ port }) => {
    // 1: no route, no gencb, no errorcb.
    const a = (await exchange(port, "GET /missing HTTP/1.1\r\n\r\n"))!;
    assert.equal(a.status, 404);
    assert.equal(a.text, NOT_FOUND_MISSING);
    assert.equal(a.body.length, 152);
    assert.equal(a.headers.get("content-type"), "text/html");
    // 2: a handler's sendError without a reason.
    const b = (await exchange(port, "GET /senderror HTTP/1.1\r\n\r\n"))!;
    assert.equal(b.status, 404);
    assert.equal(b.body.length, 89);
    assert.equal(b.headers.get("content-type"), "text/html");
    // 3: an unknown method.
    const c = (await exchange(port, "FLOOP /missing HTTP/1.1\r\n\r\n"))!;
    assert.equal(c.status, 501);
    assert.equal(c.body.length, 101);
    assert.equal(c.headers.get("content-type"), "text/html");
  });
});

Deno.test("error_callback: the errorcb's output replaces the page, Content-Type stays text/html", async () => {
  const seen: { code: number; reason: string | null; uri: string; method: string; arg: unknown }[] =
    [];
  await withServer((http) => {
    http.setCb("/typed", (req) => {
      // Output headers are dropped for error pages, as libevent clears them.
      req.getOutputHeaders().add("Content-Type", "application/json");
      req.getOutputHeaders().add("X-Gone", "1");
      req.sendError(404, "typed reason");
    });
    http.setErrorcb((req, buf, code, reason, arg) => {
      seen.push({ code, reason, uri: req.getUri(), method: req.getCommandName(), arg });
      buf.add(String(code));
      return 0;
    }, "the-arg");
  }, async ({ port }) => {
    // 4: no route → the errorcb writes "404" (3 bytes), gets the not-found paragraph as reason.
    const a = (await exchange(port, "GET /missing HTTP/1.1\r\n\r\n"))!;
    assert.equal(a.status, 404);
    assert.equal(a.reason, "Not Found");
    assert.equal(a.text, "404");
    assert.equal(a.headers.get("content-length"), "3");
    assert.equal(a.headers.get("content-type"), "text/html");
    assert.equal(a.headers.get("connection"), "close");
    // 5: sendError from a handler that set its own headers.
    const b = (await exchange(port, "GET /typed HTTP/1.1\r\n\r\n"))!;
    assert.equal(b.text, "404");
    assert.equal(b.headers.get("content-type"), "text/html");
    assert.equal(b.headers.get("x-gone"), undefined);
    // 6: an unknown method: the errorcb sees the parsed head.
    const c = (await exchange(port, "FLOOP /floop HTTP/1.1\r\n\r\n"))!;
    assert.equal(c.status, 501);
    assert.equal(c.text, "501");
    assert.equal(c.headers.get("content-type"), "text/html");
  });
  assert.deepEqual(seen, [
    {
      code: 404,
      reason: "<p>The requested URL /missing was not found on this server.</p>",
      uri: "/missing",
      method: "GET",
      arg: "the-arg",
    },
    { code: 404, reason: "typed reason", uri: "/typed", method: "GET", arg: "the-arg" },
    { code: 501, reason: null, uri: "/floop", method: "FLOOP", arg: "the-arg" },
  ]);
});

Deno.test("error_callback: returning < 0, writing nothing, or throwing keeps the default page", async () => {
  let mode = "";
  const logged: string[] = [];
  await withServer((http, base) => {
    base.setLogCallback((_sev, msg) => logged.push(msg));
    http.setGencb((req) => req.sendError(404));
    http.setErrorcb((_req, buf) => {
      switch (mode) {
        case "empty":
          return 0;
        case "negative":
          buf.add("ignored text");
          return -1;
        case "throw":
          buf.add("half a page");
          throw new Error("errorcb broke");
        default:
          buf.add("custom");
      }
    });
  }, async ({ port }) => {
    // 7: 0 with nothing written → default.
    mode = "empty";
    const a = (await exchange(port, "GET /x HTTP/1.1\r\n\r\n"))!;
    assert.equal(a.body.length, 89);
    // 8: -1 with text → default.
    mode = "negative";
    const b = (await exchange(port, "GET /x HTTP/1.1\r\n\r\n"))!;
    assert.equal(b.body.length, 89);
    assert.match(b.text, /^<html><head><title>404 Not Found<\/title>/);
    // 9: a throwing errorcb is reported and the default page goes out.
    mode = "throw";
    const c = (await exchange(port, "GET /x HTTP/1.1\r\n\r\n"))!;
    assert.equal(c.body.length, 89);
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /errorcb broke/);
    // 10: no return value (undefined) with text → the custom page.
    mode = "";
    const d = (await exchange(port, "GET /x HTTP/1.1\r\n\r\n"))!;
    assert.equal(d.text, "custom");
    assert.equal(d.headers.get("content-type"), "text/html");
  });
});

Deno.test("error_callback: every page the server generates goes through it", async () => {
  const codes: number[] = [];
  await withServer((http) => {
    http.setCb("/ok", (req) => req.sendReply(200, null, "ok"));
    http.setCb("/throws", () => {
      throw new Error("handler broke");
    });
    http.setMaxHeadersSize(200);
    http.setMaxBodySize(10);
    http.setAllowedMethods(EVHTTP_REQ_GET);
    http.setErrorcb((_req, buf, code) => {
      codes.push(code);
      buf.add(`E${code}`);
    });
  }, async ({ port, base }) => {
    base.setLogCallback(() => {});
    const cases: [string, number][] = [
      ["illegal request\r\n\r\n", 400],
      ["GET /ok HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
      ["POST /ok HTTP/1.1\r\n\r\n", 405],
      ["GET /ok HTTP/1.1\r\nContent-Length: 100\r\n\r\n", 413],
      [`GET /${"a".repeat(300)} HTTP/1.1\r\n\r\n`, 414],
      ["GET /ok HTTP/1.1\r\nExpect: something\r\n\r\n", 417],
      [`GET /ok HTTP/1.1\r\nX: ${"b".repeat(300)}\r\n\r\n`, 431],
      ["FLOOP /ok HTTP/1.1\r\n\r\n", 501],
      ["GET /ok HTTP/2.0\r\n\r\n", 505],
      ["GET /throws HTTP/1.1\r\n\r\n", 500],
      ["GET /ok HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400],
    ];
    for (const [raw, code] of cases) {
      const r = (await exchange(port, raw))!;
      assert.equal(r.status, code, raw);
      assert.equal(r.text, `E${code}`, raw);
      assert.equal(r.headers.get("content-type"), "text/html", raw);
      assert.equal(r.headers.get("content-length"), String(`E${code}`.length), raw);
    }
    // 405 keeps its Allow header.
    const m = (await exchange(port, "PUT /ok HTTP/1.1\r\n\r\n"))!;
    assert.equal(m.headers.get("allow"), "GET");
    assert.equal(m.text, "E405");
    // HEAD: the errorcb runs, no body is sent.
    const h = (await exchange(port, "HEAD /missing HTTP/1.1\r\n\r\n", { head: true }))!;
    assert.equal(h.status, 405);
    assert.equal(h.headers.get("content-length"), "4");
  });
  assert.equal(codes.length, 13); // 11 cases, the PUT and the HEAD
});

Deno.test("error_callback: 408 and 503 pages too; the req is a server request on the connection", async () => {
  const seen: [number, boolean, number][] = [];
  await withServer((http) => {
    http.setGencb((req) => req.sendReply(200, null, "hi"));
    http.setReadTimeout(150);
    http.setMaxConnections(1);
    http.setErrorcb((req, buf, code) => {
      seen.push([code, req.isIncoming(), req.getConnection()?.getPeer().port ?? -1]);
      buf.add(`E${code}`);
    });
  }, async ({ port }) => {
    const a = await RawClient.connect(port);
    await a.send("GET / HTTP/1.1\r\n\r\n");
    assert.equal((await a.response())!.status, 200);
    const b = await RawClient.connect(port);
    const over = (await b.response())!;
    assert.equal(over.status, 503);
    assert.equal(over.text, "E503");
    assert.ok(await b.closedByPeer());
    b.close();
    await a.send("GET / HTTP/1.1\r\nHost: x\r\n");
    const slow = (await a.response())!;
    assert.equal(slow.status, 408);
    assert.equal(slow.text, "E408");
    a.close();
    assert.equal(seen.length, 2);
    assert.equal(seen[0]![0], 503);
    assert.equal(seen[1]![0], 408);
    assert.ok(seen.every(([, inc, p]) => inc && p > 0));
  });
});

Deno.test("error_callback: a virtual host's errors use the main server's errorcb", async () => {
  await withServer((http, base) => {
    const vhost = new Evhttp(base);
    vhost.setErrorcb((_r, buf) => void buf.add("vhost's"));
    http.addVirtualHost("v.example", vhost);
    http.setErrorcb((_r, buf) => void buf.add("main's"));
  }, async ({ port }) => {
    const r = (await exchange(port, "GET /nope HTTP/1.1\r\nHost: v.example\r\n\r\n"))!;
    assert.equal(r.status, 404);
    assert.equal(r.text, "main's");
  });
});

// ---------------------------------------------------------------------------- setNewreqcb

Deno.test("newreqcb: 100 connections, every 7th throttled; good + errored = started", async () => {
  const N = 100;
  let started = 0;
  let throttled = 0;
  let good = 0;
  let errored = 0;
  const all = counter(N);
  await withServer((http) => {
    http.setCb("/test", (req) => req.sendReply(200, null, "This is funny"));
    http.setNewreqcb((req, arg) => {
      assert.equal(arg, "state");
      assert.ok(req.isIncoming());
      assert.notEqual(req.getConnection(), null);
      if (++started % 7 === 0) {
        throttled++;
        return -1;
      }
    }, "state");
  }, async ({ port, base }) => {
    const conns: EvhttpConnection[] = [];
    for (let i = 0; i < N; i++) {
      const conn = EvhttpConnection.baseNew(base, null, "127.0.0.1", port);
      conns.push(conn);
      const req = new EvhttpRequest((r) => {
        if (r.getResponseCode() === 200 && r.getInputBuffer().toString() === "This is funny") {
          good++;
        } else errored++;
        all.hit();
      });
      // One request per connection: no second attach to count.
      req.getOutputHeaders().add("Connection", "close");
      conn.makeRequest(req, EVHTTP_REQ_GET, "/test");
    }
    await all.done;
    for (const c of conns) c.free();
  });
  assert.equal(started, N);
  assert.equal(good + errored, started);
  assert.equal(throttled, Math.floor(N / 7));
  assert.equal(errored, throttled);
});

Deno.test("newreqcb: runs at accept and after each reply is written, before on_complete's successor", async () => {
  const log: string[] = [];
  let n = 0;
  await withServer((http) => {
    http.setGencb((req) => {
      log.push(`handle ${req.getUri()}`);
      req.sendReply(200, null, req.getUri());
    });
    http.setNewreqcb((req) => {
      const id = ++n;
      log.push(`newreq ${id}`);
      req.setOnCompleteCb((r) => log.push(`complete ${id} ${r.getUri()}`));
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    // Pipelined: libevent reads the next request only after the previous reply went out.
    await c.send("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
    for (const p of ["/a", "/b", "/c"]) assert.equal((await c.response())!.text, p);
    await c.send("GET /d HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert.equal((await c.response())!.text, "/d");
    assert.ok(await c.closedByPeer());
    c.close();
  });
  assert.deepEqual(log, [
    "newreq 1",
    "handle /a",
    "complete 1 /a",
    "newreq 2",
    "handle /b",
    "complete 2 /b",
    "newreq 3",
    "handle /c",
    "complete 3 /c",
    "newreq 4",
    "handle /d",
    "complete 4 /d",
  ]);
});

Deno.test("newreqcb: -1 on a keep-alive connection closes it after the previous reply", async () => {
  let calls = 0;
  await withServer((http) => {
    http.setGencb((req) => req.sendReply(200, null, "one"));
    http.setNewreqcb(() => ++calls === 2 ? -1 : 0);
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET / HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.text, "one");
    await c.send("GET / HTTP/1.1\r\n\r\n");
    assert.ok(await c.closedByPeer());
    c.close();
  });
  assert.equal(calls, 2);
});

Deno.test("newreqcb: error pages answer the attached request (errorcb and on_complete see it)", async () => {
  const attached: EvhttpRequest[] = [];
  const inErrorcb: EvhttpRequest[] = [];
  const completed: [EvhttpRequest, number][] = [];
  const done = counter(1);
  await withServer((http, base) => {
    base.setLogCallback(() => {});
    http.setNewreqcb((req) => {
      attached.push(req);
      req.setOnCompleteCb((r) => {
        completed.push([r, r.getResponseCode()]);
        done.hit();
      });
    });
    http.setErrorcb((req, buf) => {
      inErrorcb.push(req);
      buf.add("bad");
    });
  }, async ({ port }) => {
    const r = (await exchange(port, "GET / HTTP/1.1\r\nBad Header\r\n\r\n"))!;
    assert.equal(r.status, 400);
    assert.equal(r.text, "bad");
    await done.done;
  });
  assert.equal(attached.length, 1);
  assert.equal(inErrorcb[0], attached[0]);
  assert.equal(completed[0]![0], attached[0]);
  assert.equal(completed[0]![1], 400);
  assert.equal(attached[0]!.getUri(), "/");
});

Deno.test("newreqcb: a throwing hook is reported and closes the connection", async () => {
  const logged: string[] = [];
  await withServer((http, base) => {
    base.setLogCallback((_s, m) => logged.push(m));
    http.setGencb((req) => req.sendReply(200, null, "x"));
    http.setNewreqcb(() => {
      throw new Error("newreqcb broke");
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    assert.ok(await c.closedByPeer());
    c.close();
  });
  assert.match(logged.join("\n"), /newreqcb broke/);
});

// ---------------------------------------------------------------------------- on_complete

Deno.test("on_complete: runs once the reply is written (output empty), for large and streamed replies", async () => {
  const big = "x".repeat(4 * 1024 * 1024);
  const events: string[] = [];
  const done = counter(3);
  await withServer((http) => {
    http.setCb("/oncomplete", (req) => {
      const conn = req.getConnection()!;
      req.setOnCompleteCb((r, arg) => {
        assert.equal(arg, "big");
        assert.equal(r, req);
        assert.equal(conn.getBufferevent()!.getOutput().length, 0);
        events.push("complete big");
        done.hit();
      }, "big");
      req.sendReply(200, null, big);
      events.push("replied big");
    });
    http.setCb("/stream", (req) => {
      const conn = req.getConnection()!;
      req.setOnCompleteCb(() => {
        assert.equal(conn.getBufferevent()!.getOutput().length, 0);
        events.push("complete stream");
        done.hit();
      });
      req.sendReplyStart(200, null);
      req.sendReplyChunkWithCb("x".repeat(100000), () => {
        events.push("chunk written");
        req.sendReplyChunk("tail");
        req.sendReplyEnd();
        events.push("ended");
      });
    });
    http.setCb("/error", (req) => {
      req.setOnCompleteCb(() => {
        events.push("complete error");
        done.hit();
      });
      req.sendError(418);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /oncomplete HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.body.length, big.length);
    await c.send("GET /stream HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.body.length, 100004);
    await c.send("GET /error HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.status, 418);
    await done.done;
    c.close();
  });
  assert.deepEqual(events, [
    "replied big",
    "complete big",
    "chunk written",
    "ended",
    "complete stream",
    "complete error",
  ]);
});

Deno.test("on_complete: not called when the client goes away before the reply is out", async () => {
  let completes = 0;
  const closed = counter(1);
  const handled = counter(1);
  await withServer((http) => {
    http.setCb("/huge", (req) => {
      req.getConnection()!.setCloseCb(() => closed.hit());
      req.setOnCompleteCb(() => completes++);
      req.sendReply(200, null, new Uint8Array(64 * 1024 * 1024));
      handled.hit();
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /huge HTTP/1.1\r\n\r\n");
    await handled.done;
    c.close();
    await closed.done;
  });
  assert.equal(completes, 0);
});

// ---------------------------------------------------------------------------- extension methods

Deno.test("custom: an extension method accepted by setExtMethodCmp is dispatched normally", async () => {
  const seen: [number, string, string][] = [];
  await withServer((http) => {
    http.setExtMethodCmp(customCmp);
    http.setAllowedMethods(EVHTTP_REQ_GET | EVHTTP_REQ_CUSTOM);
    http.setCb("/custom", (req) => {
      seen.push([req.getCommand(), req.getCommandName(), req.getInputBuffer().toString()]);
      req.sendReply(200, null, "custom ok");
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("CUSTOM /custom HTTP/1.1\r\nHost: x\r\n\r\n");
    const r = (await c.response())!;
    assert.equal(r.status, 200);
    assert.equal(r.text, "custom ok");
    // Keep-alive goes on; a body is framed by its headers whatever the method.
    await c.send("CUSTOM /custom HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody");
    assert.equal((await c.response())!.status, 200);
    await c.send("GET /custom HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.status, 200);
    c.close();
    // Unmapped tokens still get 501; case matters.
    assert.equal((await exchange(port, "FLOOP /custom HTTP/1.1\r\n\r\n"))!.status, 501);
    assert.equal((await exchange(port, "custom /custom HTTP/1.1\r\n\r\n"))!.status, 501);
  });
  assert.deepEqual(seen, [
    [EVHTTP_REQ_CUSTOM, "CUSTOM", ""],
    [EVHTTP_REQ_CUSTOM, "CUSTOM", "body"],
    [EVHTTP_REQ_GET, "GET", ""],
  ]);
});

Deno.test("allowed_methods: GET with only PATCH|CUSTOM allowed, PATCH, FLOOP, CUSTOM", async () => {
  await withServer((http) => {
    http.setExtMethodCmp(customCmp);
    http.setAllowedMethods(EVHTTP_REQ_PATCH | EVHTTP_REQ_CUSTOM);
    http.setGencb((req) => req.sendReply(200, null, req.getCommandName()));
  }, async ({ port }) => {
    // libevent answers 501 here; evdeno 405 with Allow (the RFC), naming the extension method.
    const get = (await exchange(port, "GET / HTTP/1.1\r\n\r\n"))!;
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "PATCH, CUSTOM");
    const patch = (await exchange(port, "PATCH / HTTP/1.1\r\n\r\n"))!;
    assert.equal(patch.status, 200);
    assert.equal((await exchange(port, "FLOOP / HTTP/1.1\r\n\r\n"))!.status, 501);
    const custom = (await exchange(port, "CUSTOM / HTTP/1.1\r\n\r\n"))!;
    assert.equal(custom.status, 200);
    assert.equal(custom.text, "CUSTOM");
  });
});

Deno.test("custom: not allowed → 405; a misbehaving cmp → 400/501 as in libevent", async () => {
  let mode = "";
  const logged: string[] = [];
  await withServer((http, base) => {
    base.setLogCallback((_s, m) => logged.push(m));
    http.setExtMethodCmp((m) => {
      switch (mode) {
        case "rename":
          m.method = "OTHER";
          m.type = EVHTTP_REQ_CUSTOM;
          return 0;
        case "flags":
          m.flags = EVHTTP_METHOD_HAS_BODY;
          m.type = EVHTTP_REQ_CUSTOM;
          return 0;
        case "notype":
          return 0;
        case "known-bit":
          m.type = EVHTTP_REQ_GET;
          return 0;
        case "throw":
          throw new Error("cmp broke");
        default:
          return customCmp(m);
      }
    });
    http.setGencb((req) => req.sendReply(200, null, "ok"));
  }, async ({ port }) => {
    const notAllowed = (await exchange(port, "CUSTOM / HTTP/1.1\r\n\r\n"))!;
    assert.equal(notAllowed.status, 405);
    assert.equal(notAllowed.headers.get("allow"), "GET, POST, HEAD, PUT, DELETE");
    const expect: [string, number][] = [
      ["rename", 400],
      ["flags", 400],
      ["notype", 501],
      ["known-bit", 501],
      ["throw", 501],
    ];
    for (const [m, code] of expect) {
      mode = m;
      assert.equal((await exchange(port, "CUSTOM / HTTP/1.1\r\n\r\n"))!.status, code, m);
    }
  });
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /cmp broke/);
});

Deno.test("custom: the client sends extension methods through its own ext_method_cmp", async () => {
  await withServer((http) => {
    http.setExtMethodCmp(customCmp);
    http.setAllowedMethods(EVHTTP_REQ_GET | EVHTTP_REQ_CUSTOM);
    http.setCb("/custom", (req) => {
      req.sendReply(200, null, `${req.getCommandName()} ${req.getInputBuffer().toString()}`);
    });
  }, async ({ port, base }) => {
    const conn = EvhttpConnection.baseNew(base, null, "127.0.0.1", port);
    const bare = new EvhttpRequest(() => {});
    assert.throws(() => conn.makeRequest(bare, EVHTTP_REQ_CUSTOM, "/custom"), TypeError);
    conn.setExtMethodCmp(customCmp);
    const results: string[] = [];
    const done = counter(2);
    for (const body of ["", "payload"]) {
      const req = new EvhttpRequest((r) => {
        results.push(`${r.getResponseCode()} ${r.getInputBuffer().toString()}`);
        done.hit();
      });
      if (body !== "") req.getOutputBuffer().add(body);
      conn.makeRequest(req, EVHTTP_REQ_CUSTOM, "/custom");
      assert.equal(req.getCommand(), EVHTTP_REQ_CUSTOM);
      assert.equal(req.getCommandName(), "CUSTOM");
    }
    await done.done;
    conn.free();
    assert.deepEqual(results, ["200 CUSTOM ", "200 CUSTOM payload"]);
  });
});

Deno.test("hooks unset: a plain keep-alive exchange still works and nothing extra runs", async () => {
  const base = new EventBase();
  const http = new Evhttp(base);
  http.setGencb((req) => req.sendReply(200, null, "plain"));
  http.setErrorcb(null);
  http.setNewreqcb(null);
  http.setExtMethodCmp(null);
  const bound = http.bindSocket("127.0.0.1", 0);
  const port = (bound.addr as Deno.NetAddr).port;
  const loop = base.dispatch();
  try {
    const c = await RawClient.connect(port);
    await c.send("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.text, "plain");
    assert.equal((await c.response())!.text, "plain");
    assert.equal((await exchange(port, "CUSTOM / HTTP/1.1\r\n\r\n"))!.status, 501);
    c.close();
  } finally {
    http.free();
    await loop;
    base.free();
  }
});

Deno.test({
  name: "custom: curl -X CUSTOM is served; without the cmp it gets 501",
  ignore: !haveBinary("curl"),
}, async () => {
  const curl = async (port: number, path: string) => {
    const o = await new Deno.Command("curl", {
      args: ["-sS", "-i", "--max-time", "20", "-X", "CUSTOM", `http://127.0.0.1:${port}${path}`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(o.success, new TextDecoder().decode(o.stderr));
    return new TextDecoder().decode(o.stdout);
  };
  await withServer((http) => {
    http.setExtMethodCmp(customCmp);
    http.setAllowedMethods(EVHTTP_REQ_GET | EVHTTP_REQ_CUSTOM);
    http.setCb("/custom", (req) => {
      assert.equal(req.getCommand(), EVHTTP_REQ_CUSTOM);
      req.sendReply(200, null, `method ${req.getCommandName()}`);
    });
  }, async ({ port }) => {
    const out = await curl(port, "/custom");
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(out, /\r\n\r\nmethod CUSTOM$/);
  });
  await withServer((http) => {
    http.setCb("/custom", (req) => req.sendReply(200, null, "no"));
  }, async ({ port }) => {
    assert.match(await curl(port, "/custom"), /^HTTP\/1\.1 501 Not Implemented\r\n/);
  });
});
