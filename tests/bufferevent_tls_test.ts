import assert from "node:assert/strict";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_OPT_CLOSE_ON_FREE,
  Bufferevent,
} from "../bufferevent/mod.ts";
import { EvConnListener, LEV_OPT_CLOSE_ON_FREE } from "../listener/mod.ts";
import { EV_READ, EV_WRITE, EventBase } from "../reactor/mod.ts";
import { testPki } from "./_tls.ts";

const pki = await testPki();
if (pki === null) console.log("TLS tests skipped: openssl not found (apt-get install openssl)");
const ignore = pki === null;

/** A TLS echo server; returns its port. Server-side bevs report CONNECTED after the handshake. */
function tlsEchoServer(base: EventBase, events: number[]): EvConnListener {
  return EvConnListener.newBindTls(
    base,
    (_l, conn) => {
      const bev = Bufferevent.tlsNew(
        base,
        conn,
        { handshakeTimeoutMs: 2000 },
        BEV_OPT_CLOSE_ON_FREE,
      );
      bev.setcb((b) => b.getOutput().addBuffer(b.getInput()), null, (b, what) => {
        events.push(what);
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) b.free();
      });
      bev.enable(EV_READ | EV_WRITE);
    },
    null,
    LEV_OPT_CLOSE_ON_FREE,
    -1,
    { hostname: "127.0.0.1", port: 0 },
    {
      cert: pki!.cert,
      key: pki!.key,
    },
  );
}

Deno.test({ name: "echo over TLS: client tlsNew + connect, server tlsNew", ignore }, async () => {
  const base = new EventBase();
  const serverEvents: number[] = [];
  const lev = tlsEchoServer(base, serverEvents);
  const port = (lev.addr as Deno.NetAddr).port;
  const client = Bufferevent.tlsNew(base, null, {
    hostname: "localhost",
    caCerts: [pki!.caCert],
  }, BEV_OPT_CLOSE_ON_FREE);
  let got = "";
  const clientEvents: number[] = [];
  client.setcb(
    (b) => {
      got += new TextDecoder().decode(b.read());
      if (got === "secret message") {
        b.free();
        setTimeout(() => lev.free(), 10);
      }
    },
    null,
    (b, what) => {
      clientEvents.push(what);
      if (what & BEV_EVENT_CONNECTED) b.write("secret message");
    },
  );
  client.enable(EV_READ | EV_WRITE);
  client.connect({ hostname: "127.0.0.1", port });
  await base.dispatch();
  assert.equal(got, "secret message");
  assert.deepEqual(clientEvents, [BEV_EVENT_CONNECTED]);
  assert.equal(serverEvents[0], BEV_EVENT_CONNECTED);
  base.free();
});

Deno.test({ name: "STARTTLS: tlsNew over an existing plain connection", ignore }, async () => {
  // The existing connection is a plain TCP connection (to a TLS listener: Deno has no
  // server-side STARTTLS), upgraded in place by tlsNew.
  const base = new EventBase();
  const serverEvents: number[] = [];
  const lev = tlsEchoServer(base, serverEvents);
  const tport = (lev.addr as Deno.NetAddr).port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tport });
  const bev = Bufferevent.tlsNew(
    base,
    conn,
    { hostname: "localhost", caCerts: [pki!.caCert] },
    BEV_OPT_CLOSE_ON_FREE,
  );
  let got = "";
  bev.setcb(
    (b) => {
      got += new TextDecoder().decode(b.read());
      if (got === "upgraded") {
        b.free();
        setTimeout(() => lev.free(), 10);
      }
    },
    null,
    (b, what) => {
      if (what & BEV_EVENT_CONNECTED) b.write("upgraded");
      else b.free();
    },
  );
  bev.enable(EV_READ | EV_WRITE);
  await base.dispatch();
  assert.equal(got, "upgraded");
  base.free();
});

Deno.test(
  { name: "untrusted certificate and wrong hostname fail with a clear error", ignore },
  async () => {
    const base = new EventBase();
    const lev = tlsEchoServer(base, []);
    const port = (lev.addr as Deno.NetAddr).port;
    const errors: string[] = [];
    let pending = 2;
    const done = () => {
      if (--pending === 0) setTimeout(() => lev.free(), 10);
    };
    // No caCerts: the test CA is not trusted.
    const untrusted = Bufferevent.tlsNew(
      base,
      null,
      { hostname: "localhost" },
      BEV_OPT_CLOSE_ON_FREE,
    );
    // Trusted CA, but the certificate is for localhost, not example.org.
    const wrongName = Bufferevent.tlsNew(base, null, {
      hostname: "example.org",
      caCerts: [pki!.caCert],
    }, BEV_OPT_CLOSE_ON_FREE);
    for (const bev of [untrusted, wrongName]) {
      bev.setcb(null, null, (b, what) => {
        assert.equal(what & BEV_EVENT_ERROR, BEV_EVENT_ERROR);
        errors.push(String(b.getError()));
        b.free();
        done();
      });
      bev.connect({ hostname: "127.0.0.1", port });
    }
    await base.dispatch();
    assert.equal(errors.length, 2);
    assert.match(errors.join("\n"), /certificate|UnknownIssuer|NotValidForName|invalid peer/i);
    base.free();
  },
);

Deno.test(
  { name: "a plain-text client on the TLS port is dropped without harm", ignore },
  async () => {
    const base = new EventBase();
    const serverEvents: number[] = [];
    const lev = tlsEchoServer(base, serverEvents);
    const port = (lev.addr as Deno.NetAddr).port;
    const loop = base.dispatch();
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    await plain.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buf = new Uint8Array(1024);
    try {
      while (
        (await plain.read(buf)) !== null
      ) { /* the server answers with a TLS alert, then closes */ }
    } catch { /* a reset is fine too */ }
    plain.close();
    // The server is still fine: a real TLS client gets served.
    const client = Bufferevent.tlsNew(
      base,
      null,
      { hostname: "localhost", caCerts: [pki!.caCert] },
      BEV_OPT_CLOSE_ON_FREE,
    );
    let got = "";
    client.setcb(
      (b) => {
        got += new TextDecoder().decode(b.read());
        if (got === "still ok") {
          b.free();
          lev.free();
        }
      },
      null,
      (b, what) => {
        if (what & BEV_EVENT_CONNECTED) b.write("still ok");
      },
    );
    client.enable(EV_READ | EV_WRITE);
    client.connect({ hostname: "127.0.0.1", port });
    await loop;
    assert.equal(got, "still ok");
    assert.ok(serverEvents.some((w) => (w & BEV_EVENT_ERROR) !== 0), "plain client got an error");
    base.free();
  },
);
