// HTTPS on the evhttp server: bindSocketTls with a raw Deno.connectTls client trusting the test CA,
// keep-alive over TLS, plain-text and stalled clients on the TLS port, and setBevcb returning
// TLS bufferevents (libevent's way).
import assert from "node:assert/strict";
import { BEV_OPT_CLOSE_ON_FREE, Bufferevent } from "../bufferevent/mod.ts";
import { Evhttp, type EvhttpRequest } from "../evhttp/mod.ts";
import { EventBase } from "../reactor/mod.ts";
import { RawClient } from "./_evhttp_helpers.ts";
import { testPki } from "./_tls.ts";

const pki = await testPki();
if (pki === null) console.log("HTTPS tests skipped: openssl not found (apt-get install openssl)");
const ignore = pki === null;

function routes(http: Evhttp): void {
  http.setCb("/hello/get", (req: EvhttpRequest) => {
    req.sendReply(200, "Client is OK", "Test_Get is OK!");
  });
  http.setCb("/hello/post", (req: EvhttpRequest) => {
    const n = req.getInputBuffer().length;
    req.sendReply(200, "Client is OK", `Test_post is OK! (${n} bytes)`);
  });
}

/** A TLS client speaking raw HTTP/1.1 (RawClient only needs read/write/close). */
async function tlsClient(port: number): Promise<RawClient> {
  const c = await Deno.connectTls({ hostname: "localhost", port, caCerts: [pki!.caCert] });
  return new RawClient(c as unknown as Deno.TcpConn);
}

/** Runs `body` against an HTTPS server on an ephemeral port, then frees everything. */
async function withHttps(
  setup: (http: Evhttp) => void,
  body: (port: number, http: Evhttp) => Promise<void>,
): Promise<void> {
  const base = new EventBase();
  const http = new Evhttp(base);
  setup(http);
  const bound = http.bindSocketTls("127.0.0.1", 0, { cert: pki!.cert, key: pki!.key });
  const loop = base.dispatch();
  try {
    await body((bound.addr as Deno.NetAddr).port, http);
  } finally {
    http.free();
    await loop;
    base.free();
  }
}

/** Waits (bounded) until `cond()` holds, polling once per event-loop turn. */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test({ name: "HTTPS GET and POST on one keep-alive TLS connection", ignore }, async () => {
  await withHttps(routes, async (port) => {
    const c = await tlsClient(port);
    await c.send("GET /hello/get HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const get = await c.response();
    assert.ok(get !== null);
    assert.equal(get.status, 200);
    assert.equal(get.reason, "Client is OK");
    assert.equal(get.text, "Test_Get is OK!");
    const body = "x".repeat(100_000);
    await c.send(
      `POST /hello/post HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n` +
        body,
    );
    const post = await c.response();
    assert.ok(post !== null);
    assert.equal(post.status, 200);
    assert.equal(post.text, "Test_post is OK! (100000 bytes)");
    // Pipelined requests over TLS come back in order.
    await c.send(
      "GET /hello/get HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        "GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert.equal((await c.response())?.status, 200);
    assert.equal((await c.response())?.status, 404);
    assert.equal(await c.response(), null, "closed after Connection: close");
    c.conn.close();
  });
});

Deno.test(
  { name: "HTTPS: a plain-text client on the TLS port is dropped; others are served", ignore },
  async () => {
    await withHttps(routes, async (port, http) => {
      const plain = await Deno.connect({ hostname: "127.0.0.1", port });
      await plain.write(new TextEncoder().encode("GET /hello/get HTTP/1.1\r\nHost: x\r\n\r\n"));
      // No HTTP answer: at most a TLS alert record (content type 21), then the connection closes.
      const got: number[] = [];
      const buf = new Uint8Array(512);
      try {
        for (let n; (n = await plain.read(buf)) !== null;) got.push(...buf.subarray(0, n));
      } catch { /* a reset is fine too */ }
      plain.close();
      assert.ok(got.length === 0 || got[0] === 21, `not a TLS alert: ${got.slice(0, 8)}`);
      await until(() => http.getConnectionCount() === 0, "the plain connection to go");
      const c = await tlsClient(port);
      await c.send("GET /hello/get HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      const ok = await c.response();
      assert.equal(ok?.text, "Test_Get is OK!");
      c.conn.close();
    });
  },
);

Deno.test(
  { name: "HTTPS: an untrusted client cannot talk to the server; the server is unharmed", ignore },
  async () => {
    await withHttps(routes, async (port) => {
      // The client does not trust the test CA: its handshake fails on the client side.
      await assert.rejects(async () => {
        const c = await Deno.connectTls({ hostname: "localhost", port });
        try {
          await c.handshake();
        } finally {
          c.close();
        }
      }, /certificate|UnknownIssuer|invalid peer/i);
      const c = await tlsClient(port);
      await c.send("GET /hello/get HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      assert.equal((await c.response())?.status, 200);
      c.conn.close();
    });
  },
);

Deno.test(
  { name: "HTTPS: a client stalled in the handshake is closed by the header timeout", ignore },
  async () => {
    await withHttps((http) => {
      routes(http);
      http.setHeaderTimeout(150);
    }, async (port, http) => {
      // A TCP client that never sends a ClientHello.
      const stalled = await Deno.connect({ hostname: "127.0.0.1", port });
      await until(() => http.getConnectionCount() === 1, "the stalled connection");
      await until(() => http.getConnectionCount() === 0, "the stalled connection to be closed");
      // Deno only lets go of the socket once the peer acts (see the README): close ours.
      stalled.close();
      const c = await tlsClient(port);
      await c.send("GET /hello/get HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      assert.equal((await c.response())?.text, "Test_Get is OK!");
      c.conn.close();
    });
  },
);

Deno.test(
  { name: "HTTPS via setBevcb returning Bufferevent.tlsNew over acceptSocket", ignore },
  async () => {
    const base = new EventBase();
    const http = new Evhttp(base);
    routes(http);
    let made = 0;
    http.setBevcb((b, _arg, conn) => {
      made++;
      return Bufferevent.tlsNew(b, conn!, { handshakeTimeoutMs: 2000 }, BEV_OPT_CLOSE_ON_FREE);
    });
    const l = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: pki!.cert, key: pki!.key });
    http.acceptSocket(l);
    const port = (l.addr as Deno.NetAddr).port;
    const loop = base.dispatch();
    try {
      const c = await tlsClient(port);
      await c.send("GET /hello/get HTTP/1.1\r\nHost: localhost\r\n\r\n");
      assert.equal((await c.response())?.text, "Test_Get is OK!");
      await c.send(
        "POST /hello/post HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n" +
          "Connection: close\r\n\r\nabc",
      );
      assert.equal((await c.response())?.text, "Test_post is OK! (3 bytes)");
      c.conn.close();
      assert.equal(made, 1);
    } finally {
      http.free();
      await loop;
      base.free();
    }
  },
);
