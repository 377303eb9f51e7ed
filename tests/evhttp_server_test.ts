import assert from "node:assert/strict";
import { Evbuffer } from "../bufferevent/mod.ts";
import {
  Evhttp,
  EVHTTP_REQ_GET,
  EVHTTP_REQ_HEAD,
  EVHTTP_REQ_PATCH,
  EVHTTP_REQ_POST,
  type EvhttpRequest,
} from "../evhttp/mod.ts";
import { exchange, RawClient, withServer } from "./_evhttp_helpers.ts";

function hello(req: EvhttpRequest): void {
  req.sendReply(200, "Client is OK", "Test_Get is OK!");
}

function echoBody(req: EvhttpRequest): void {
  const n = req.getInputBuffer().length;
  req.sendReply(200, null, `got ${n}: ${req.getInputBuffer().toString()}`);
}

Deno.test("GET gets 200 with the caller's reason, Date, Content-Length, default type", async () => {
  await withServer((http) => http.setCb("/hello", hello), async ({ port }) => {
    const r = (await exchange(port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"))!;
    assert.equal(r.version, "HTTP/1.1");
    assert.equal(r.status, 200);
    assert.equal(r.reason, "Client is OK");
    assert.equal(r.text, "Test_Get is OK!");
    assert.equal(r.headers.get("content-length"), "15");
    assert.equal(r.headers.get("content-type"), "text/html; charset=ISO-8859-1");
    assert.match(r.headers.get("date")!, /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
    assert.equal(r.headers.get("connection"), undefined);
  });
});

Deno.test("routing: exact decoded path without query; gencb; default 404 page", async () => {
  let gen = "";
  await withServer((http) => {
    http.setCb("/a b", (req) => req.sendReply(200, null, "space:" + req.getUri()));
    http.setCb("/x/y", (req) => req.sendReply(200, null, "slash"));
    http.setCb("/", (req) => req.sendReply(200, null, "root"));
    assert.throws(() => http.setCb("/", hello));
  }, async ({ port, http }) => {
    assert.equal(
      (await exchange(port, "GET /a%20b?q=1 HTTP/1.1\r\n\r\n"))!.text,
      "space:/a%20b?q=1",
    );
    assert.equal((await exchange(port, "GET /x%2Fy HTTP/1.1\r\n\r\n"))!.text, "slash");
    assert.equal((await exchange(port, "GET /?arg=val HTTP/1.1\r\n\r\n"))!.text, "root");
    assert.equal(
      (await exchange(port, "GET http://h.example/x/y HTTP/1.1\r\n\r\n"))!.text,
      "slash",
    );
    const nf = (await exchange(port, "GET /x/y/?<b> HTTP/1.1\r\n\r\n"))!;
    assert.equal(nf.status, 404);
    assert.equal(nf.reason, "Not Found");
    assert.equal(nf.headers.get("content-type"), "text/html");
    assert.equal(nf.headers.get("connection"), "close");
    assert.equal(
      nf.text,
      "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1>" +
        "<p>The requested URL /x/y/?&lt;b&gt; was not found on this server.</p></body></html>",
    );
    http.setGencb((req) => {
      gen = req.getUri();
      req.sendReply(200, null, "gen");
    });
    assert.equal((await exchange(port, "GET /nope HTTP/1.1\r\n\r\n"))!.text, "gen");
    assert.equal(gen, "/nope");
    http.delCb("/x/y");
    assert.equal((await exchange(port, "GET /x/y HTTP/1.1\r\n\r\n"))!.text, "gen");
    assert.throws(() => http.delCb("/x/y"));
  });
});

Deno.test("keep-alive: 1.1 by default, 1.0 only with keep-alive, Connection: close honoured", async () => {
  await withServer((http) => http.setCb("/hello", hello), async ({ port }) => {
    const c = await RawClient.connect(port);
    for (let i = 0; i < 3; i++) {
      await c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal((await c.response())!.status, 200);
    }
    await c.send("GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
    const last = (await c.response())!;
    assert.equal(last.headers.get("connection"), "close");
    assert.ok(await c.closedByPeer());
    c.close();

    const d = await RawClient.connect(port);
    await d.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const r1 = (await d.response())!;
    assert.equal(r1.version, "HTTP/1.0");
    assert.equal(r1.headers.get("connection"), "keep-alive");
    await d.send("GET /hello HTTP/1.0\r\n\r\n");
    const r2 = (await d.response())!;
    assert.equal(r2.text, "Test_Get is OK!");
    assert.ok(await d.closedByPeer());
    d.close();
  });
});

Deno.test("pipelining: responses in order, buffered requests parsed without another read", async () => {
  let seq = 0;
  await withServer((http) => {
    http.setGencb((req) => req.sendReply(200, null, `${seq++} ${req.getUri()}`));
    http.setCb("/post", echoBody);
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    let batch = "";
    for (let i = 0; i < 20; i++) batch += `GET /r${i} HTTP/1.1\r\nHost: h\r\n\r\n`;
    batch += "POST /post HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    batch += "GET /last HTTP/1.1\r\n\r\n";
    await c.send(batch);
    for (let i = 0; i < 20; i++) assert.equal((await c.response())!.text, `${i} /r${i}`);
    assert.equal((await c.response())!.text, "got 5: hello");
    assert.equal((await c.response())!.text, "20 /last");
    c.close();
  });
});

Deno.test("pipelining with an asynchronous handler keeps responses in order", async () => {
  await withServer((http, base) => {
    http.setGencb((req) => {
      const uri = req.getUri();
      const delay = uri === "/slow" ? 30 : 0;
      base.once(null, 1, () => req.sendReply(200, null, uri), undefined, delay);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /slow HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\nGET /f2 HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.text, "/slow");
    assert.equal((await c.response())!.text, "/fast");
    assert.equal((await c.response())!.text, "/f2");
    c.close();
  });
});

Deno.test("pipelined stream split at every byte offset gives the same responses", async () => {
  await withServer((http) => {
    http.setGencb((req) =>
      req.sendReply(200, null, `${req.getUri()}:${req.getInputBuffer().length}`)
    );
  }, async ({ port }) => {
    const stream = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n" +
      "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n" +
      "POST /c HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy";
    for (let cut = 1; cut < stream.length; cut += 3) {
      const c = await RawClient.connect(port);
      await c.send(stream.slice(0, cut));
      await new Promise((r) => setTimeout(r, 1));
      await c.send(stream.slice(cut));
      assert.equal((await c.response())!.text, "/a:0");
      assert.equal((await c.response())!.text, "/b:3");
      assert.equal((await c.response())!.text, "/c:2");
      c.close();
    }
  });
});

Deno.test("request bodies: Content-Length and chunked with extensions and trailers", async () => {
  let trailer: string | undefined;
  await withServer((http) => {
    http.setCb("/post", (req) => {
      trailer = req.getInputHeaders().find("X-Trailer");
      echoBody(req);
    });
  }, async ({ port }) => {
    const r =
      (await exchange(port, "POST /post HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world"))!;
    assert.equal(r.text, "got 11: hello world");
    const ch = (await exchange(
      port,
      "POST /post HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n",
    ))!;
    assert.equal(ch.text, "got 11: hello world");
    assert.equal(trailer, "yes");
  });
});

Deno.test("Expect: 100-continue, 413 before 100 when too large, 417 for others", async () => {
  await withServer((http) => {
    http.setCb("/post", echoBody);
    http.setMaxBodySize(10);
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("POST /post HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    const cont = (await c.response())!;
    assert.equal(cont.status, 100);
    assert.equal(cont.raw, "HTTP/1.1 100 Continue\r\n\r\n");
    await c.send("abcd");
    assert.equal((await c.response())!.text, "got 4: abcd");
    c.close();

    const big = (await exchange(
      port,
      "POST /post HTTP/1.1\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    ))!;
    assert.equal(big.status, 413);
    assert.equal(big.reason, "Content Too Large");
    const other =
      (await exchange(port, "POST /post HTTP/1.1\r\nContent-Length: 1\r\nExpect: magic\r\n\r\nx"))!;
    assert.equal(other.status, 417);
  });
});

Deno.test("body limits: Content-Length and chunk sum over setMaxBodySize get 413", async () => {
  await withServer((http) => {
    http.setCb("/post", echoBody);
    http.setMaxBodySize(8);
  }, async ({ port }) => {
    assert.equal(
      (await exchange(port, "POST /post HTTP/1.1\r\nContent-Length: 9\r\n\r\n123456789"))!.status,
      413,
    );
    assert.equal(
      (await exchange(
        port,
        "POST /post HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n5\r\n12345\r\n0\r\n\r\n",
      ))!.status,
      413,
    );
    assert.equal(
      (await exchange(port, "POST /post HTTP/1.1\r\nContent-Length: 8\r\n\r\n12345678"))!.text,
      "got 8: 12345678",
    );
  });
});

Deno.test("header limits: long request line 414, large head 431", async () => {
  await withServer((http) => {
    http.setGencb(hello);
    http.setMaxHeadersSize(100);
  }, async ({ port }) => {
    assert.equal((await exchange(port, `GET /${"a".repeat(120)} HTTP/1.1\r\n\r\n`))!.status, 414);
    assert.equal(
      (await exchange(port, `GET / HTTP/1.1\r\nX: ${"b".repeat(120)}\r\n\r\n`))!.status,
      431,
    );
    // Still incomplete but already over the limit: answered without waiting for the end.
    assert.equal((await exchange(port, `GET / HTTP/1.1\r\nX: ${"b".repeat(120)}`))!.status, 431);
    assert.equal(
      (await exchange(port, `GET / HTTP/1.1\r\nX: ${"b".repeat(60)}\r\n\r\n`))!.status,
      200,
    );
  });
});

Deno.test("methods: 405 with Allow outside setAllowedMethods, 501 unknown", async () => {
  await withServer((http) => {
    http.setGencb(hello);
    http.setAllowedMethods(EVHTTP_REQ_GET | EVHTTP_REQ_PATCH);
  }, async ({ port }) => {
    const r = (await exchange(port, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"))!;
    assert.equal(r.status, 405);
    assert.equal(r.reason, "Method Not Allowed");
    assert.equal(r.headers.get("allow"), "GET, PATCH");
    assert.equal((await exchange(port, "PATCH / HTTP/1.1\r\n\r\n"))!.status, 200);
    assert.equal((await exchange(port, "FLOOP / HTTP/1.1\r\n\r\n"))!.status, 501);
  });
});

Deno.test("HEAD, 204 and 304 never carry a body", async () => {
  await withServer((http) => {
    http.setCb("/get", (req) => req.sendReply(200, null, "0123456789"));
    http.setCb("/204", (req) => req.sendReply(204, null, "should not be sent"));
    http.setCb("/304", (req) => req.sendReply(304, null, "should not be sent"));
    http.setCb("/stream", (req) => {
      req.sendReplyStart(200, null);
      req.sendReplyChunk("nope");
      req.sendReplyEnd();
    });
    http.setAllowedMethods(EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("HEAD /get HTTP/1.1\r\n\r\n");
    const h = (await c.response({ head: true }))!;
    assert.equal(h.status, 200);
    assert.equal(h.headers.get("content-length"), "10");
    await c.send("GET /204 HTTP/1.1\r\n\r\n");
    const r204 = (await c.response())!;
    assert.equal(r204.status, 204);
    assert.equal(r204.headers.get("content-length"), undefined);
    await c.send("GET /304 HTTP/1.1\r\n\r\n");
    assert.equal((await c.response())!.status, 304);
    await c.send("HEAD /stream HTTP/1.1\r\n\r\n");
    const hs = (await c.response({ head: true }))!;
    assert.equal(hs.headers.get("transfer-encoding"), undefined);
    // Nothing stray on the wire: the next response starts right away.
    await c.send("GET /get HTTP/1.1\r\n\r\n");
    const g = (await c.response())!;
    assert.equal(g.text, "0123456789");
    assert.equal(c.pending, 0);
    c.close();
  });
});

Deno.test("smuggling defences: ambiguous framing and bad fields get 400 and close", async () => {
  await withServer((http) => http.setGencb(echoBody), async ({ port }) => {
    const bad: [string, number][] = [
      ["POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400],
      ["POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400],
      ["POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400],
      ["POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501],
      ["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400],
      ["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", 400],
      ["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 400],
      ["GET /a%00b HTTP/1.1\r\n\r\n", 400],
      ["GET /a\0b HTTP/1.1\r\n\r\n", 400],
      ["POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400],
      ["POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400],
      ["illegal request\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400],
      ["GET / HTTP/2.0\r\n\r\n", 505],
      ["GET / HTTP/0.9\r\n\r\n", 505],
      ["GET / http/1.1\r\n\r\n", 400],
    ];
    for (const [req, code] of bad) {
      const c = await RawClient.connect(port);
      await c.send(req);
      const r = (await c.response())!;
      assert.equal(r.status, code, JSON.stringify(req));
      assert.equal(r.version, "HTTP/1.1", JSON.stringify(req));
      assert.equal(r.headers.get("connection"), "close");
      assert.ok(await c.closedByPeer(), JSON.stringify(req));
      c.close();
    }
  });
});

Deno.test("error pages: standard phrase in the status line, caller's text in the body", async () => {
  await withServer((http) => {
    http.setCb("/err", (req) => {
      req.getOutputHeaders().add("X-Dropped", "1");
      req.sendError(403, "<p>go away</p>");
    });
  }, async ({ port }) => {
    const r = (await exchange(port, "GET /err HTTP/1.0\r\n\r\n"))!;
    assert.equal(r.version, "HTTP/1.1");
    assert.equal(r.status, 403);
    assert.equal(r.reason, "Forbidden");
    assert.equal(r.headers.get("x-dropped"), undefined);
    assert.equal(
      r.text,
      "<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1><p>go away</p></body></html>",
    );
  });
});

Deno.test("a handler that throws gets the client a 500; the loop survives", async () => {
  const logged: string[] = [];
  await withServer((http, base) => {
    base.setLogCallback((_s, m) => logged.push(m));
    http.setCb("/boom", () => {
      throw new Error("boom");
    });
    http.setCb("/hello", hello);
  }, async ({ port }) => {
    assert.equal((await exchange(port, "GET /boom HTTP/1.1\r\n\r\n"))!.status, 500);
    assert.equal((await exchange(port, "GET /hello HTTP/1.1\r\n\r\n"))!.status, 200);
    assert.ok(logged.some((m) => m.includes("boom")));
  });
});

Deno.test("virtual hosts: glob patterns, aliases, absolute URI host, no fallback", async () => {
  await withServer((http, base) => {
    http.setCb("/", (req) => req.sendReply(200, null, "main"));
    const foo = new Evhttp(base);
    foo.setCb("/funnybunny", (req) => req.sendReply(200, null, "foo"));
    const bar = new Evhttp(base);
    bar.setCb("/", (req) => req.sendReply(200, null, "bar"));
    const alias = new Evhttp(base);
    alias.setCb("/", (req) => req.sendReply(200, null, "alias"));
    alias.addServerAlias("Manolito.INFO");
    http.addVirtualHost("foo.com", foo);
    http.addVirtualHost("*.bar.com", bar);
    foo.addVirtualHost("deep.*", alias);
    assert.throws(() => http.addVirtualHost("x", foo));
    assert.throws(() => foo.bindSocket("127.0.0.1", 0));
  }, async ({ port }) => {
    const get = async (path: string, host: string) =>
      (await exchange(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`))!;
    assert.equal((await get("/funnybunny", "somehost")).status, 404);
    assert.equal((await get("/funnybunny", "FOO.com:8000")).text, "foo");
    assert.equal((await get("/", "foo.com")).status, 404);
    assert.equal((await get("/", "a.b.bar.com")).text, "bar");
    assert.equal((await get("/", "manolito.info")).text, "alias");
    assert.equal((await get("/", "other")).text, "main");
    assert.equal((await get("http://foo.com/funnybunny", "other")).text, "foo");
  });
});

Deno.test("setMaxConnections: the client over the limit gets 503 and a close", async () => {
  await withServer((http) => {
    http.setGencb(hello);
    http.setMaxConnections(1);
  }, async ({ port, http }) => {
    const a = await RawClient.connect(port);
    await a.send("GET / HTTP/1.1\r\n\r\n");
    assert.equal((await a.response())!.status, 200);
    const b = await RawClient.connect(port);
    const r = (await b.response())!;
    assert.equal(r.status, 503);
    assert.equal(r.reason, "Service Unavailable");
    assert.ok(await b.closedByPeer());
    b.close();
    await a.send("GET / HTTP/1.1\r\n\r\n");
    assert.equal((await a.response())!.status, 200);
    assert.equal(http.getConnectionCount(), 1);
    a.close();
  });
});

Deno.test("streaming replies: chunked on 1.1, close-delimited on 1.0, chunk callbacks", async () => {
  const order: string[] = [];
  await withServer((http) => {
    http.setCb("/stream", (req) => {
      req.getOutputHeaders().add("Content-Type", "text/plain");
      req.sendReplyStart(200, null);
      let n = 0;
      const next = () => {
        if (n === 3) {
          req.sendReplyEnd();
          return;
        }
        order.push(`chunk${n}`);
        req.sendReplyChunkWithCb(`part${n++};`, () => {
          order.push("written");
          next();
        });
      };
      next();
    });
    http.setCb("/len", (req) => {
      req.getOutputHeaders().add("Content-Length", "6");
      req.sendReplyStart(200, null);
      req.sendReplyChunk("abc");
      req.sendReplyChunk(new TextEncoder().encode("def"));
      req.sendReplyEnd();
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /stream HTTP/1.1\r\n\r\n");
    const r = (await c.response())!;
    assert.equal(r.headers.get("transfer-encoding"), "chunked");
    assert.equal(r.text, "part0;part1;part2;");
    assert.match(r.raw, /\r\n\r\n6\r\npart0;\r\n6\r\npart1;\r\n/);
    assert.deepEqual(order, ["chunk0", "written", "chunk1", "written", "chunk2", "written"]);
    await c.send("GET /len HTTP/1.1\r\n\r\n");
    const l = (await c.response())!;
    assert.equal(l.headers.get("transfer-encoding"), undefined);
    assert.equal(l.text, "abcdef");
    c.close();

    const d = await RawClient.connect(port);
    await d.send("GET /stream HTTP/1.0\r\n\r\n");
    const r10 = (await d.response())!;
    assert.equal(r10.headers.get("content-length"), undefined);
    assert.equal(r10.headers.get("transfer-encoding"), undefined);
    assert.equal(r10.text, "part0;part1;part2;");
    d.close();
  });
});

Deno.test("server-side streaming of request bodies through setHeaderCb + setChunkedCb", async () => {
  const pieces: number[] = [];
  let total = -1;
  let early = "";
  await withServer((http) => {
    http.setHeaderCb((req) => {
      if (req.getUri() === "/deny") {
        req.sendError(401);
        return;
      }
      if (req.getUri() === "/drop") return -1;
      req.setChunkedCb((r) => pieces.push(r.getInputBuffer().length));
    });
    http.setCb("/upload", (req) => {
      total = pieces.reduce((a, b) => a + b, 0);
      early = String(req.getInputBuffer().length);
      req.sendReply(200, null, `${total}`);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    await c.send("4\r\nabcd\r\n");
    await new Promise((r) => setTimeout(r, 5));
    await c.send("3\r\nefg\r\n0\r\n\r\n");
    assert.equal((await c.response())!.text, "7");
    assert.equal(early, "0");
    assert.ok(pieces.length >= 2);
    await c.send(`POST /upload HTTP/1.1\r\nContent-Length: 100000\r\n\r\n${"z".repeat(100000)}`);
    assert.equal((await c.response())!.text, "100007");
    c.close();

    const d = await RawClient.connect(port);
    await d.send("POST /deny HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n");
    assert.equal((await d.response())!.status, 401);
    assert.ok(await d.closedByPeer());
    d.close();
    const e = await RawClient.connect(port);
    await e.send("POST /drop HTTP/1.1\r\nContent-Length: 10\r\n\r\n");
    assert.equal(await e.readToEof(), "");
    e.close();
  });
});

Deno.test("client gone mid-stream: the error callback fires, later replies are no-ops", async () => {
  let held: EvhttpRequest | null = null;
  let err = -1;
  let resolveErr!: () => void;
  const gotErr = new Promise<void>((r) => resolveErr = r);
  let resolveFirst!: () => void;
  const first = new Promise<void>((r) => resolveFirst = r);
  await withServer((http, base) => {
    http.setCb("/stream", (req) => {
      held = req;
      req.setErrorCb((e) => {
        err = e;
        resolveErr();
      });
      req.sendReplyStart(200, null);
      const tick = () => {
        if (req.getConnection() === null) return;
        req.sendReplyChunkWithCb("x".repeat(1024), () => {
          resolveFirst();
          base.once(null, 1, tick, undefined, 2);
        });
      };
      tick();
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /stream HTTP/1.1\r\n\r\n");
    await first;
    c.close();
    await gotErr;
    assert.equal(err, 1); // EVREQ_HTTP_EOF
    const req = held! as EvhttpRequest;
    assert.equal(req.getConnection(), null);
    req.sendReplyChunk("x");
    req.sendReplyEnd();
  });
});

Deno.test("a reply after the client closed throws nothing and goes nowhere", async () => {
  let replied = false;
  let resolveHeld!: (r: EvhttpRequest) => void;
  const held = new Promise<EvhttpRequest>((r) => resolveHeld = r);
  await withServer((http) => {
    http.setCb("/later", (req) => resolveHeld(req));
  }, async ({ port, base }) => {
    const c = await RawClient.connect(port);
    await c.send("GET /later HTTP/1.1\r\n\r\n");
    const req = await held;
    c.close();
    await new Promise<void>((resolve) => {
      base.once(
        null,
        1,
        () => {
          req.sendReply(200, null, "too late");
          replied = true;
          resolve();
        },
        undefined,
        10,
      );
    });
    assert.ok(replied);
    assert.equal(req.getResponseCode(), 200);
  });
});

Deno.test("output buffer, Evbuffer bodies and user headers go out in one response", async () => {
  await withServer((http) => {
    http.setCb("/buf", (req) => {
      req.getOutputHeaders().add("X-One", "1");
      req.getOutputHeaders().add("Content-Type", "text/plain");
      req.getOutputBuffer().add("from-output;");
      const b = new Evbuffer();
      b.add("from-body");
      req.sendReply(201, null, b);
      assert.equal(b.length, 0);
    });
    http.setCb("/utf8", (req) => req.sendReply(200, null, "héllo ✓"));
  }, async ({ port }) => {
    const r = (await exchange(port, "GET /buf HTTP/1.1\r\n\r\n"))!;
    assert.equal(r.status, 201);
    assert.equal(r.reason, "Created");
    assert.equal(r.text, "from-output;from-body");
    assert.equal(r.headers.get("x-one"), "1");
    assert.equal(r.headers.get("content-type"), "text/plain");
    const u = (await exchange(port, "GET /utf8 HTTP/1.1\r\n\r\n"))!;
    assert.equal(u.text, "héllo ✓");
    assert.equal(
      u.headers.get("content-length"),
      String(new TextEncoder().encode("héllo ✓").length),
    );
  });
});

Deno.test("request accessors: command, host, headers, uri, peer", async () => {
  const seen: Record<string, unknown> = {};
  await withServer((http) => {
    http.setGencb((req) => {
      seen.cmd = req.getCommand();
      seen.host = req.getHost();
      seen.path = req.getEvhttpUri().path;
      seen.query = req.getEvhttpUri().query;
      seen.agent = req.getInputHeaders().find("user-agent");
      seen.peer = req.getConnection()!.getPeer().address;
      seen.ver = req.getVersion();
      req.sendReply(200, null);
    });
  }, async ({ port }) => {
    const r = (await exchange(
      port,
      "POST /p/q?x=1 HTTP/1.1\r\nHost: Example.org:81\r\nUser-Agent: t\r\nContent-Length: 0\r\n\r\n",
    ))!;
    assert.equal(r.headers.get("content-length"), "0");
    assert.equal(seen.cmd, EVHTTP_REQ_POST);
    assert.equal(seen.host, "Example.org");
    assert.equal(seen.path, "/p/q");
    assert.equal(seen.query, "x=1");
    assert.equal(seen.agent, "t");
    assert.equal(seen.peer, "127.0.0.1");
    assert.deepEqual(seen.ver, [1, 1]);
  });
});

Deno.test("EOF: silent close before a request; half-closed client still gets its answers", async () => {
  await withServer((http) => http.setGencb(hello), async ({ port }) => {
    const a = await RawClient.connect(port);
    await a.conn.closeWrite();
    assert.equal(await a.readToEof(), "");
    a.close();
    const b = await RawClient.connect(port);
    await b.send("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
    await b.conn.closeWrite();
    assert.equal((await b.response())!.status, 200);
    assert.equal((await b.response())!.status, 200);
    assert.ok(await b.closedByPeer());
    b.close();
    const c = await RawClient.connect(port);
    await c.send("GET / HTTP/1.1\r\nHost: partial");
    await c.conn.closeWrite();
    assert.equal(await c.readToEof(), "");
    c.close();
  });
});

Deno.test("setBevcb makes each connection's bufferevent", async () => {
  let made = 0;
  const { Bufferevent, BEV_OPT_CLOSE_ON_FREE } = await import("../bufferevent/mod.ts");
  await withServer((http) => {
    http.setBevcb((base, _arg, conn) => {
      made++;
      return Bufferevent.socketNew(base, conn!, BEV_OPT_CLOSE_ON_FREE);
    });
    http.setGencb(hello);
  }, async ({ port }) => {
    assert.equal((await exchange(port, "GET / HTTP/1.1\r\n\r\n"))!.status, 200);
    assert.equal(made, 1);
  });
});

Deno.test("setDefaultContentType changes or removes the default", async () => {
  await withServer((http) => {
    http.setGencb(hello);
    http.setDefaultContentType(null);
  }, async ({ port }) => {
    assert.equal(
      (await exchange(port, "GET / HTTP/1.1\r\n\r\n"))!.headers.get("content-type"),
      undefined,
    );
  });
});

Deno.test("reply heads: alike replies reuse the head, any difference is written afresh", async () => {
  // Each route answers like /a but for one thing: a header value, the body, the status, or a
  // header the server would otherwise add (Date, Content-Type) or act on (Connection).
  const routes: [string, number, string, [string, string][]][] = [
    ["/a", 200, "body", []],
    ["/b", 200, "body", [["X-Kind", "b"]]],
    ["/longer", 200, "body!", []],
    ["/teapot", 418, "body", []],
    ["/dated", 200, "body", [["Date", "Thu, 01 Jan 1970 00:00:00 GMT"]]],
    ["/typed", 200, "body", [["Content-Type", "text/plain"]]],
    ["/close", 200, "body", [["Connection", "close"]]],
  ];
  await withServer((http) => {
    for (const [path, code, body, extra] of routes) {
      http.setCb(path, (req) => {
        const h = req.getOutputHeaders();
        if (extra.length === 0 || extra[0]![0] !== "X-Kind") h.add("X-Kind", "a");
        for (const [k, v] of extra) h.add(k, v);
        req.sendReply(code, null, body);
      });
    }
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const paths = ["/a", "/a", "/b", "/a", "/longer", "/a", "/teapot", "/a", "/dated", "/a"];
    paths.push("/typed", "/a", "/a", "/close");
    let batch = "";
    for (const p of paths) batch += `GET ${p} HTTP/1.1\r\nHost: h\r\n\r\n`;
    await c.send(batch);
    for (const p of paths) {
      const r = (await c.response())!;
      assert.equal(r.status, p === "/teapot" ? 418 : 200, p);
      assert.equal(r.headers.get("x-kind"), p === "/b" ? "b" : "a", p);
      assert.equal(r.text, p === "/longer" ? "body!" : "body", p);
      assert.equal(r.headers.get("content-length"), p === "/longer" ? "5" : "4", p);
      assert.equal(
        r.headers.get("content-type"),
        p === "/typed" ? "text/plain" : "text/html; charset=ISO-8859-1",
        p,
      );
      if (p === "/dated") assert.equal(r.headers.get("date"), "Thu, 01 Jan 1970 00:00:00 GMT");
      else assert.match(r.headers.get("date")!, /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/, p);
      assert.equal(r.headers.get("connection"), p === "/close" ? "close" : undefined, p);
      assert.equal(r.fields.filter(([k]) => k.toLowerCase() === "date").length, 1, p);
    }
    assert.equal(await c.response(), null, "closed after Connection: close");
    c.close();
  });
});

Deno.test("reply heads: an empty GET reply and a HEAD reply to the same route differ in framing", async () => {
  await withServer((http) => {
    http.setCb("/empty", (req) => req.sendReply(200, null, ""));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    await c.send(
      "GET /empty HTTP/1.1\r\nHost: h\r\n\r\n" + "HEAD /empty HTTP/1.1\r\nHost: h\r\n\r\n" +
        "GET /empty HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    for (const method of ["GET", "HEAD", "GET"]) {
      const r = (await c.response({ head: method === "HEAD" }))!;
      assert.equal(r.status, 200, method);
      // GET says its body is empty; HEAD's head carries no framing for a body it may not have.
      assert.equal(r.headers.get("content-length"), method === "GET" ? "0" : undefined, method);
    }
    c.close();
  });
});

Deno.test("repeated identical heads: each request gets its own headers, limits and checks still apply", async () => {
  const seen: string[][] = [];
  await withServer((http) => {
    http.setGencb((req) => {
      const h = req.getInputHeaders();
      seen.push([...h].map(([k, v]) => `${k}=${v}`));
      // A handler that edits its request's headers must not leak into the next request.
      h.add("X-Added", "1");
      h.remove("X-A");
      req.sendReply(200, "OK", "ok");
    });
  }, async ({ port }) => {
    const head = "GET /same HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n";
    const c = await RawClient.connect(port);
    try {
      await c.send(head + head + head);
      for (let i = 0; i < 3; i++) assert.equal((await c.response())!.status, 200);
    } finally {
      c.close();
    }
  });
  assert.deepEqual(seen, [["Host=h", "X-A=1"], ["Host=h", "X-A=1"], ["Host=h", "X-A=1"]]);
  // A refused target stays refused when it comes again (its path check is remembered too).
  await withServer((http) => http.setGencb(hello), async ({ port }) => {
    for (let i = 0; i < 2; i++) {
      assert.equal((await exchange(port, "GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n"))!.status, 400);
    }
    assert.equal((await exchange(port, "GET /ab HTTP/1.1\r\nHost: h\r\n\r\n"))!.status, 200);
  });
  // Another server with a header limit the same bytes exceed: still 431, not a replayed parse.
  const head = `GET / HTTP/1.1\r\nX: ${"b".repeat(120)}\r\n\r\n`;
  await withServer((http) => http.setGencb(hello), async ({ port }) => {
    assert.equal((await exchange(port, head))!.status, 200);
  });
  await withServer((http) => {
    http.setGencb(hello);
    http.setMaxHeadersSize(100);
  }, async ({ port }) => {
    assert.equal((await exchange(port, head))!.status, 431);
  });
});
