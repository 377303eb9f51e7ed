// The evhttp client: EvhttpConnection + EvhttpRequest against evdeno's own server (HTTP and
// HTTPS), and against raw-socket fake servers for every edge case (malformed heads, bad
// lengths, early closes, 100 Continue, idle closes, limits, timeouts, retries, pipelining).
import assert from "node:assert/strict";
import { EvdnsBase } from "../dns/mod.ts";
import {
  EVHTTP_REQ_DELETE,
  EVHTTP_REQ_GET,
  EVHTTP_REQ_HEAD,
  EVHTTP_REQ_POST,
  EVHTTP_REQ_PUT,
  EvhttpConnection,
  evhttpFetch,
  EvhttpRequest,
  EVREQ_HTTP_DATA_TOO_LONG,
  EVREQ_HTTP_EOF,
  EVREQ_HTTP_INVALID_HEADER,
  EVREQ_HTTP_REQUEST_CANCEL,
  EVREQ_HTTP_TIMEOUT,
} from "../evhttp/mod.ts";
import { Evhttp } from "../evhttp/mod.ts";
import { RequestQueue } from "../evhttp/_client_conn.ts";
import { EV_TIMEOUT, EventBase } from "../reactor/mod.ts";
import {
  Reader,
  withClient,
  withFake,
  withServer,
  writeAllQuiet as writeAll,
} from "./_evhttp_helpers.ts";
import { patternBytes } from "./_helpers.ts";
import { testPki } from "./_tls.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** What a request's callbacks saw. */
interface Outcome {
  code: number;
  reason: string;
  /** `EVREQ_HTTP_*` from the error callback, -1 if it did not run. */
  kind: number;
  headers: Map<string, string>;
  body: string;
  bytes: Uint8Array;
  error: Error | null;
  req: EvhttpRequest;
}

/** Makes a request and resolves when its callback (or, when cancelled, its error cb) ran. */
function request(
  conn: EvhttpConnection,
  method: number,
  uri: string,
  setup?: (req: EvhttpRequest) => void,
): Promise<Outcome> {
  return new Promise((resolve) => {
    let kind = -1;
    const finish = (r: EvhttpRequest) => {
      const headers = new Map<string, string>();
      const ih = r.getInputHeaders();
      for (let i = 0; i < ih.size; i++) headers.set(ih.keyAt(i).toLowerCase(), ih.valueAt(i));
      const buf = r.getInputBuffer();
      const bytes = buf.length > 0 ? buf.remove(buf.length) : new Uint8Array(0);
      resolve({
        code: r.getResponseCode(),
        reason: r.getResponseCodeLine(),
        kind,
        headers,
        body: dec.decode(bytes),
        bytes,
        error: r.getError(),
        req: r,
      });
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

// ----------------------------------------------------------------------------- fake servers

/** A fake server that answers each request on a connection with `reply(head, body, n)`. */
function replying(
  reply: (req: { head: string; body: string }, n: number, conn: number) => string | null,
): (conn: Deno.TcpConn, index: number) => Promise<void> {
  return async (conn, index) => {
    const r = new Reader(conn);
    for (let n = 0;; n++) {
      const req = await r.request();
      if (req === null) return;
      const out = reply(req, n, index);
      if (out === null) return; // close
      await writeAll(conn, out);
      if (/\r\nconnection: close\r\n/i.test(out)) return;
    }
  };
}

const OK_HELLO = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

// ----------------------------------------------------------------------------- own server

Deno.test("client: GET and POST against evdeno's server, Host sent with the port", async () => {
  await withServer((http) => {
    http.setCb("/hello", (req) => {
      req.getOutputHeaders().add("X-Host", req.getInputHeaders().find("Host") ?? "none");
      req.sendReply(200, "Client is OK", "Test_Get is OK!");
    });
    http.setCb("/post", (req) => {
      const n = req.getInputBuffer().length;
      req.sendReply(200, null, `got ${n} bytes: ${req.getInputBuffer().toString()}`);
    });
  }, async ({ port }) => {
    await withClient(async (_base, track) => {
      const conn = track(EvhttpConnection.baseNew(_base, null, "127.0.0.1", port));
      const a = await request(conn, EVHTTP_REQ_GET, "/hello");
      assert.equal(a.code, 200);
      assert.equal(a.reason, "Client is OK");
      assert.equal(a.body, "Test_Get is OK!");
      assert.equal(a.kind, -1);
      assert.equal(a.headers.get("x-host"), `127.0.0.1:${port}`);
      assert.equal(a.headers.get("content-length"), "15");
      const b = await request(conn, EVHTTP_REQ_POST, "/post", (req) => {
        req.getOutputBuffer().add("Okay.  Not really printf");
      });
      assert.equal(b.code, 200);
      assert.equal(b.body, "got 24 bytes: Okay.  Not really printf");
      // POST without a body still says Content-Length: 0 (libevent).
      const c = await request(conn, EVHTTP_REQ_POST, "/post");
      assert.equal(c.body, "got 0 bytes: ");
      assert.deepEqual(conn.getPeer(), { address: "127.0.0.1", port });
    });
  });
});

Deno.test("client: keep-alive reuse, in-order queue, one request at a time", async () => {
  const ports = new Set<number>();
  let inFlight = 0;
  let maxInFlight = 0;
  await withServer((http, base) => {
    http.setGencb((req) => {
      ports.add(req.getConnection()!.getPeer().port);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Answer from a later loop pass so overlapping requests would be visible.
      base.once(
        null,
        EV_TIMEOUT,
        () => {
          inFlight--;
          req.sendReply(200, null, req.getUri());
        },
        undefined,
        5,
      );
    });
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      const order: string[] = [];
      const all = [];
      for (let i = 0; i < 6; i++) {
        all.push(
          request(conn, EVHTTP_REQ_GET, `/r${i}`).then((o) => {
            order.push(o.body);
            return o;
          }),
        );
      }
      assert.equal(conn.getPendingCount(), 6);
      const outs = await Promise.all(all);
      assert.deepEqual(order, ["/r0", "/r1", "/r2", "/r3", "/r4", "/r5"]);
      for (const o of outs) assert.equal(o.code, 200);
      assert.equal(ports.size, 1, "one connection for every request");
      assert.equal(maxInFlight, 1, "never more than one request on the wire");
      assert.equal(conn.getPendingCount(), 0);
    });
  });
});

Deno.test("client: chunked response streamed through setChunkedCb", async () => {
  await withServer((http) => {
    http.setCb("/chunked", (req) => {
      req.sendReplyStart(200, null);
      req.sendReplyChunk("This is funny");
      req.sendReplyChunk("but not hilarious.");
      req.sendReplyChunk("bwv 1052");
      req.sendReplyEnd();
    });
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      const pieces: string[] = [];
      const o = await request(conn, EVHTTP_REQ_GET, "/chunked", (req) => {
        req.setChunkedCb((r) => pieces.push(r.getInputBuffer().toString()));
      });
      assert.equal(o.code, 200);
      assert.equal(o.headers.get("transfer-encoding"), "chunked");
      assert.equal(pieces.join(""), "This is funnybut not hilarious.bwv 1052");
      assert.equal(o.body, "", "the input buffer is drained after each piece");
      // Without the chunked callback the body is collected; same connection.
      const p = await request(conn, EVHTTP_REQ_GET, "/chunked");
      assert.equal(p.body, "This is funnybut not hilarious.bwv 1052");
    });
  });
});

Deno.test("client: streamed chunked request body and Expect: 100-continue", async () => {
  await withServer((http) => {
    http.setCb("/echo", (req) => {
      const te = req.getInputHeaders().find("Transfer-Encoding") ?? "-";
      req.sendReply(200, null, `${te}|${req.getInputBuffer().toString()}`);
    });
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      // Pieces before makeRequest, the output buffer as the first chunk, pieces after.
      const req = new EvhttpRequest(null);
      const got = new Promise<string>((resolve) => {
        req._cb = (r) => resolve(`${r.getResponseCode()} ${r.getInputBuffer().toString()}`);
      });
      req.getOutputBuffer().add("first;");
      req.sendRequestChunk("second;");
      conn.makeRequest(req, EVHTTP_REQ_POST, "/echo");
      req.sendRequestChunk(enc.encode("third"));
      req.sendRequestEnd();
      assert.equal(await got, "200 chunked|first;second;third");
      const cont = await request(conn, EVHTTP_REQ_PUT, "/echo", (r) => {
        r.getOutputHeaders().add("Expect", "100-continue");
        r.getOutputBuffer().add("held until 100");
      });
      assert.equal(cont.code, 200);
      assert.equal(cont.body, "-|held until 100");
      const te = await request(conn, EVHTTP_REQ_POST, "/echo", (r) => {
        r.getOutputHeaders().add("Transfer-Encoding", "chunked");
        r.sendRequestChunk("a");
        r.sendRequestEnd();
      });
      assert.equal(te.body, "chunked|a");
      assert.throws(() => req.sendRequestChunk("late"));
    });
  });
});

Deno.test("client: cancel a queued and an in-flight request; free fails the rest", async () => {
  let held: EvhttpRequest[] = [];
  await withServer((http) => {
    http.setCb("/slow", (req) => held.push(req));
    http.setCb("/fast", (req) => req.sendReply(200, null, "fast"));
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      let closes = 0;
      conn.setCloseCb(() => closes++);
      const mainCalls: string[] = [];
      const slow = new EvhttpRequest(() => mainCalls.push("slow"));
      const queued = new EvhttpRequest(() => mainCalls.push("queued"));
      const kinds: number[] = [];
      slow.setErrorCb((k) => kinds.push(k));
      queued.setErrorCb((k) => kinds.push(k));
      conn.makeRequest(slow, EVHTTP_REQ_GET, "/slow");
      conn.makeRequest(queued, EVHTTP_REQ_GET, "/fast");
      queued.cancel();
      const after = request(conn, EVHTTP_REQ_GET, "/fast");
      // Wait until the server holds the slow request, then cancel it on the wire.
      while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
      slow.cancel();
      const o = await after;
      assert.equal(o.code, 200, "the next request goes out on a new connection");
      assert.deepEqual(kinds, [EVREQ_HTTP_REQUEST_CANCEL, EVREQ_HTTP_REQUEST_CANCEL]);
      assert.deepEqual(mainCalls, [], "cancelled requests get no main callback");
      assert.equal(closes, 1);
      assert.equal(slow.getError()?.message, "request cancelled");

      // free(): pending requests fail through both callbacks.
      held = [];
      const p1 = request(conn, EVHTTP_REQ_GET, "/slow");
      const p2 = request(conn, EVHTTP_REQ_GET, "/fast");
      while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
      conn.free();
      for (const o of await Promise.all([p1, p2])) {
        assert.equal(o.kind, EVREQ_HTTP_REQUEST_CANCEL);
        assert.equal(o.code, 0);
      }
      assert.throws(() => conn.makeRequest(new EvhttpRequest(null), EVHTTP_REQ_GET, "/"));
    });
  });
});

Deno.test("client: host name through EvdnsBase, HEAD and DELETE", async () => {
  const hosts = await Deno.makeTempFile();
  await Deno.writeTextFile(hosts, "127.0.0.1 evdeno-client.test\n");
  try {
    await withServer((http) => {
      http.setGencb((req) => {
        req.sendReply(200, null, `${req.getCommandName()} ${req.getInputHeaders().find("Host")}`);
      });
    }, async ({ port }) => {
      await withClient(async (base, track) => {
        const dns = new EvdnsBase(base, 0);
        dns.loadHosts(hosts);
        try {
          const conn = track(EvhttpConnection.baseNew(base, dns, "evdeno-client.test", port));
          const o = await request(conn, EVHTTP_REQ_DELETE, "/x");
          assert.equal(o.body, `DELETE evdeno-client.test:${port}`);
          const h = await request(conn, EVHTTP_REQ_HEAD, "/x");
          assert.equal(h.code, 200);
          assert.equal(h.headers.get("content-length"), String(o.body.length - 2));
          assert.equal(h.body, "");
        } finally {
          dns.free(false);
        }
      });
    });
  } finally {
    await Deno.remove(hosts);
  }
});

// ----------------------------------------------------------------------------- HTTPS

Deno.test({
  name: "client: HTTPS against evdeno's TLS server; wrong name and untrusted cert fail clearly",
  async fn() {
    const pki = await testPki();
    if (pki === null) {
      console.log("openssl missing (Debian package openssl): skipped");
      return;
    }
    const base = new EventBase();
    const http = new Evhttp(base);
    http.setCb("/hello", (req) => req.sendReply(200, null, `tls ${req.getInputBuffer().length}`));
    const bound = http.bindSocketTls("127.0.0.1", 0, { cert: pki.cert, key: pki.key });
    const port = (bound.addr as Deno.NetAddr).port;
    const rogue = new Evhttp(base);
    const rb = rogue.bindSocketTls("127.0.0.1", 0, { cert: pki.rogueCert, key: pki.rogueKey });
    const roguePort = (rb.addr as Deno.NetAddr).port;
    const loop = base.dispatch();
    const conns: EvhttpConnection[] = [];
    try {
      const conn = EvhttpConnection.baseNew(base, null, "localhost", port, {
        tls: { caCerts: [pki.caCert] },
      });
      conns.push(conn);
      const a = await request(conn, EVHTTP_REQ_GET, "/hello");
      assert.equal(a.code, 200);
      assert.equal(a.body, "tls 0");
      const b = await request(conn, EVHTTP_REQ_POST, "/hello", (r) => {
        r.getOutputBuffer().add(patternBytes(100_000));
      });
      assert.equal(b.body, "tls 100000");

      // The certificate is for localhost/127.0.0.1, not for this name.
      const wrong = EvhttpConnection.baseNew(base, null, "127.0.0.1", port, {
        tls: { hostname: "wrong.example", caCerts: [pki.caCert] },
      });
      conns.push(wrong);
      const w = await request(wrong, EVHTTP_REQ_GET, "/hello");
      assert.equal(w.code, 0);
      assert.equal(w.kind, EVREQ_HTTP_EOF);
      assert.match(w.error!.message, /TLS connection to 127\.0\.0\.1:\d+ failed: .*(name|Name)/);

      // A self-signed certificate nobody trusts.
      const untrusted = EvhttpConnection.baseNew(base, null, "localhost", roguePort, {
        tls: { caCerts: [pki.caCert] },
      });
      conns.push(untrusted);
      const u = await request(untrusted, EVHTTP_REQ_GET, "/hello");
      assert.equal(u.code, 0);
      assert.match(
        u.error!.message,
        /TLS connection to localhost:\d+ failed: .*(certificate|Unknown)/i,
      );

      // evhttpFetch over https, with and without the CA.
      const res = await evhttpFetch(base, `https://localhost:${port}/hello`, {
        tls: { caCerts: [pki.caCert] },
      });
      assert.equal(res.status, 200);
      assert.equal(res.text(), "tls 0");
      await assert.rejects(
        evhttpFetch(base, `https://localhost:${roguePort}/hello`),
        /evhttpFetch https:\/\/localhost:\d+\/hello: connection closed: TLS connection/,
      );
    } finally {
      for (const c of conns) c.free();
      http.free();
      rogue.free();
      await loop;
      base.free();
    }
  },
});

// ----------------------------------------------------------------------------- evhttpFetch

Deno.test("evhttpFetch: GET, POST with headers, reuse of a connection, errors", async () => {
  await withServer((http) => {
    http.setCb("/echo", (req) => {
      req.getOutputHeaders().add("X-Method", req.getCommandName());
      req.getOutputHeaders().add("X-Token", req.getInputHeaders().find("X-Token") ?? "-");
      req.sendReply(201, "Made", req.getInputBuffer());
    });
  }, async ({ port, base }) => {
    const r = await evhttpFetch(base, `http://127.0.0.1:${port}/echo?x=1`);
    assert.equal(r.status, 201);
    assert.equal(r.reason, "Made");
    assert.equal(r.headers.find("X-Method"), "GET");
    const p = await evhttpFetch(base, `http://127.0.0.1:${port}/echo`, {
      method: "POST",
      headers: { "X-Token": "abc" },
      body: JSON.stringify({ a: 1 }),
    });
    assert.deepEqual(p.json(), { a: 1 });
    assert.equal(p.headers.find("X-Token"), "abc");
    const conn = EvhttpConnection.baseNew(base, null, "127.0.0.1", port);
    try {
      for (let i = 0; i < 3; i++) {
        const q = await evhttpFetch(base, `http://127.0.0.1:${port}/echo`, {
          connection: conn,
          method: "PUT",
          body: `n${i}`,
        });
        assert.equal(q.text(), `n${i}`);
      }
    } finally {
      conn.free();
    }
    await assert.rejects(evhttpFetch(base, "ftp://x/"), TypeError);
    const ac = new AbortController();
    const aborted = evhttpFetch(base, `http://127.0.0.1:${port}/echo`, { signal: ac.signal });
    ac.abort();
    await assert.rejects(aborted, /cancelled/);
  });
});

// ----------------------------------------------------------------------------- fake servers

Deno.test("client vs fake server: malformed status line and bad Content-Length", async () => {
  const replies = [
    "HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
    "HTTX/1.1 200 OK\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: -100\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\nhello",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
  ];
  await withFake(replying((_r, _n, conn) => replies[conn] ?? OK_HELLO), async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      for (let i = 0; i < replies.length; i++) {
        const o = await request(conn, EVHTTP_REQ_GET, `/bad${i}`);
        assert.equal(o.kind, EVREQ_HTTP_INVALID_HEADER, `reply ${i}`);
        assert.equal(o.code, 0);
        assert.match(o.error!.message, /invalid response head/);
      }
      // The connection recovers for a good response.
      const ok = await request(conn, EVHTTP_REQ_GET, "/good");
      assert.equal(ok.code, 200);
      assert.equal(ok.body, "hello");
    });
  });
});

Deno.test("client vs fake server: close in the middle of a body fails with EOF", async () => {
  await withFake(async (conn) => {
    const r = new Reader(conn);
    await r.request();
    await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    conn.close();
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      const o = await request(conn, EVHTTP_REQ_GET, "/");
      assert.equal(o.kind, EVREQ_HTTP_EOF);
      assert.equal(o.code, 0);
      assert.match(o.error!.message, /closed the connection before the response was complete/);
    });
  });
});

Deno.test("client vs fake server: 1xx skipped, 100 Continue, HEAD/204/304, until-close", async () => {
  await withFake(
    replying((req, n) => {
      const line = req.head.split("\r\n")[0]!;
      if (line.startsWith("HEAD")) {
        return "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
      }
      if (line.includes("/204")) return "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
      if (line.includes("/304")) return "HTTP/1.1 304 Not Modified\r\n\r\n";
      if (line.includes("/close")) {
        return "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nread until close";
      }
      return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
        `HTTP/1.1 200 OK\r\nContent-Length: ${String(n).length}\r\n\r\n${n}`;
    }),
    async ({ port }) => {
      await withClient(async (base, track) => {
        const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
        const a = await request(conn, EVHTTP_REQ_GET, "/");
        assert.equal(a.code, 200);
        assert.equal(a.body, "0");
        assert.equal(a.headers.has("link"), false, "interim headers are not kept");
        const h = await request(conn, EVHTTP_REQ_HEAD, "/");
        assert.equal(h.code, 200);
        assert.equal(h.body, "");
        const n = await request(conn, EVHTTP_REQ_GET, "/204");
        assert.equal(n.code, 204);
        const m = await request(conn, EVHTTP_REQ_GET, "/304");
        assert.equal(m.code, 304);
        const b = await request(conn, EVHTTP_REQ_GET, "/");
        assert.equal(b.body, "4", "everything above went over one connection");
        const c = await request(conn, EVHTTP_REQ_GET, "/close");
        assert.equal(c.code, 200);
        assert.equal(c.body, "read until close");
        const d = await request(conn, EVHTTP_REQ_GET, "/");
        assert.equal(d.body, "0", "a new connection after the close");
      });
    },
  );
});

Deno.test("client vs fake server: idle keep-alive connection closed by the server", async () => {
  let served = 0;
  await withFake(async (conn) => {
    // One response per connection, then close while the client is idle.
    const r = new Reader(conn);
    await r.request();
    served++;
    await writeAll(conn, `HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${served}`);
    conn.close();
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      let closed!: () => void;
      let closedP = new Promise<void>((r) => closed = r);
      conn.setCloseCb(() => closed());
      const a = await request(conn, EVHTTP_REQ_GET, "/");
      assert.equal(a.body, "1");
      await closedP; // the server's close was noticed while idle
      closedP = new Promise<void>((r) => closed = r);
      const b = await request(conn, EVHTTP_REQ_GET, "/");
      assert.equal(b.body, "2");
      assert.equal(b.kind, -1);
      await closedP;
    });
  });
});

Deno.test("client vs fake server: server drops a reused connection before answering", async () => {
  await withFake(async (conn, index) => {
    const r = new Reader(conn);
    await r.request();
    await writeAll(conn, OK_HELLO);
    // The second request on the first connection is read and dropped unanswered.
    if (index === 0) await r.request();
    else await r.request();
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      assert.equal((await request(conn, EVHTTP_REQ_GET, "/")).code, 200);
      const b = await request(conn, EVHTTP_REQ_GET, "/again");
      assert.equal(b.code, 200, "a bodiless GET is resent once on a new connection");
      // A POST is never resent.
      const c = await request(conn, EVHTTP_REQ_POST, "/p", (r) => r.getOutputBuffer().add("x"));
      assert.equal(c.kind, EVREQ_HTTP_EOF);
    });
  });
});

Deno.test("client vs fake server: header and body limits", async () => {
  const big = "x".repeat(5000);
  await withFake(
    replying((req) => {
      if (req.head.includes("/bighead")) {
        return `HTTP/1.1 200 OK\r\nX-Big: ${big}\r\nContent-Length: 0\r\n\r\n`;
      }
      if (req.head.includes("/chunked")) {
        return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "400\r\n" + "y".repeat(1024) + "\r\n400\r\n" + "y".repeat(1024) + "\r\n0\r\n\r\n";
      }
      if (req.head.includes("/eof")) return "HTTP/1.1 200 OK\r\n\r\n" + "z".repeat(3000);
      return `HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n${"b".repeat(2000)}`;
    }),
    async ({ port }) => {
      await withClient(async (base, track) => {
        const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
        conn.setMaxHeadersSize(1000);
        conn.setMaxBodySize(1500);
        const h = await request(conn, EVHTTP_REQ_GET, "/bighead");
        assert.equal(h.kind, EVREQ_HTTP_INVALID_HEADER);
        const b = await request(conn, EVHTTP_REQ_GET, "/body");
        assert.equal(b.kind, EVREQ_HTTP_DATA_TOO_LONG);
        const c = await request(conn, EVHTTP_REQ_GET, "/chunked");
        assert.equal(c.kind, EVREQ_HTTP_DATA_TOO_LONG);
        const e = await request(conn, EVHTTP_REQ_GET, "/eof");
        assert.equal(e.kind, EVREQ_HTTP_DATA_TOO_LONG);
        conn.setMaxBodySize(-1);
        conn.setMaxHeadersSize(-1);
        const ok = await request(conn, EVHTTP_REQ_GET, "/chunked");
        assert.equal(ok.bytes.length, 2048);
      });
    },
  );
});

Deno.test("client vs fake server: a server that never answers times out", async () => {
  await withFake(async (conn) => {
    const r = new Reader(conn);
    await r.request();
    await r.request(); // never answers; returns when the client closes
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      conn.setTimeout(200);
      const t0 = performance.now();
      const o = await request(conn, EVHTTP_REQ_GET, "/");
      assert.equal(o.kind, EVREQ_HTTP_TIMEOUT);
      assert.equal(o.code, 0);
      assert.ok(performance.now() - t0 >= 150);
    });
  });
});

Deno.test("client: refused connection retried with back-off until the server appears", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  await withClient(async (base, track) => {
    // Out of retries: the request fails with code 0 after 20 + 40 ms of back-off.
    const gone = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
    gone.setRetries(2);
    gone.setInitialRetryDelay(20);
    const t0 = performance.now();
    const f = await request(gone, EVHTTP_REQ_GET, "/");
    assert.equal(f.code, 0);
    assert.equal(f.kind, EVREQ_HTTP_EOF);
    assert.ok(performance.now() - t0 >= 55);
    assert.match(f.error!.message, /cannot connect to 127\.0\.0\.1/);
    assert.ok(f.error!.cause instanceof Deno.errors.ConnectionRefused);

    // The server comes up while the client is backing off.
    const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
    conn.setRetries(8);
    conn.setInitialRetryDelay(25);
    let release!: () => void;
    const started = new Promise<void>((r) => release = r);
    const pending = request(conn, EVHTTP_REQ_GET, "/late");
    base.once(null, EV_TIMEOUT, () => release(), undefined, 120);
    await started;
    await withFake(replying(() => OK_HELLO), async () => {
      const o = await pending;
      assert.equal(o.code, 200);
      assert.equal(o.body, "hello");
      conn.free();
    }, port);
  });
});

Deno.test("client vs fake server: opt-in pipelining sends queued requests at once", async () => {
  let sawAllBeforeAnswering = false;
  await withFake(async (conn) => {
    const r = new Reader(conn);
    const heads: string[] = [];
    // Read until four request heads are buffered before answering any.
    while ((dec.decode(r.buf).match(/\r\n\r\n/g) ?? []).length < 4) {
      if (!(await r.fill())) return;
    }
    sawAllBeforeAnswering = true;
    for (let i = 0; i < 4; i++) heads.push((await r.request())!.head);
    let out = "";
    for (const h of heads) {
      const path = h.split(" ")[1]!;
      out += `HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`;
    }
    await writeAll(conn, out);
    await r.request();
  }, async ({ port }) => {
    await withClient(async (base, track) => {
      const conn = track(EvhttpConnection.baseNew(base, null, "127.0.0.1", port));
      conn.setPipelining(true);
      const outs = await Promise.all(
        ["/a", "/b", "/c", "/d"].map((p) => request(conn, EVHTTP_REQ_GET, p)),
      );
      assert.deepEqual(outs.map((o) => o.body), ["/a", "/b", "/c", "/d"]);
      assert.ok(sawAllBeforeAnswering);
    });
  });
});

Deno.test("client request queue: front taken in O(1), order kept across compactions", () => {
  const q = new RequestQueue();
  const reqs = Array.from({ length: 5000 }, () => new EvhttpRequest(() => {}));
  reqs.forEach((r) => q.push(r));
  for (let i = 0; i < 3000; i++) assert.equal(q.shift(), reqs[i]);
  assert.equal(q.length, 2000);
  assert.equal(q.at(0), reqs[3000]);
  assert.equal(q.indexOf(reqs[3500]!), 500);
  assert.equal(q.indexOf(reqs[10]!), -1, "taken ones are gone");
  q.removeAt(1);
  assert.equal(q.at(1), reqs[3002]);
  const rest = q.takeAll();
  assert.equal(rest.length, 1999);
  assert.deepEqual(rest.slice(0, 2), [reqs[3000], reqs[3002]]);
  assert.equal(q.length, 0);
  // A queue of 100 000 drained from the front stays fast (an array's shift() copied it all).
  const t0 = performance.now();
  for (let i = 0; i < 100_000; i++) q.push(reqs[i % 5000]!);
  while (q.length > 0) q.shift();
  assert.ok(performance.now() - t0 < 500);
});
