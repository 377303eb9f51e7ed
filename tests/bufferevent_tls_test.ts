import assert from "node:assert/strict";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_FINISHED,
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

/** A TLS listener whose accepted connections go to `onConn` as server-side TLS bufferevents. */
function tlsServer(
  base: EventBase,
  onConn: (bev: Bufferevent) => void,
  opts: { alpnProtocols?: string[]; handshakeTimeoutMs?: number } = {},
): EvConnListener {
  const tls: { cert: string; key: string; alpnProtocols?: string[] } = {
    cert: pki!.cert,
    key: pki!.key,
  };
  if (opts.alpnProtocols !== undefined) tls.alpnProtocols = opts.alpnProtocols;
  return EvConnListener.newBindTls(
    base,
    (_l, conn) => {
      onConn(
        Bufferevent.tlsNew(
          base,
          conn,
          { handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 2000 },
          BEV_OPT_CLOSE_ON_FREE,
        ),
      );
    },
    null,
    LEV_OPT_CLOSE_ON_FREE,
    -1,
    { hostname: "127.0.0.1", port: 0 },
    tls,
  );
}

function tlsClient(base: EventBase, alpnProtocols?: string[]): Bufferevent {
  const tls: { hostname: string; caCerts: string[]; alpnProtocols?: string[] } = {
    hostname: "localhost",
    caCerts: [pki!.caCert],
  };
  if (alpnProtocols !== undefined) tls.alpnProtocols = alpnProtocols;
  return Bufferevent.tlsNew(base, null, tls, BEV_OPT_CLOSE_ON_FREE);
}

Deno.test({ name: "ALPN: listener and client agree on a protocol", ignore }, async () => {
  const base = new EventBase();
  const info: {
    server?: Promise<Deno.TlsHandshakeInfo> | null;
    client?: Promise<Deno.TlsHandshakeInfo> | null;
  } = {};
  const lev = tlsServer(base, (bev) => {
    bev.setcb(null, null, (b, what) => {
      if (what & BEV_EVENT_CONNECTED) info.server = b.tlsHandshakeInfo();
      else b.free();
    });
    bev.enable(EV_READ);
  }, { alpnProtocols: ["h2", "http/1.1"] });
  const client = tlsClient(base, ["http/1.1", "evdeno/1"]);
  client.setcb(null, null, (b, what) => {
    assert.equal(what, BEV_EVENT_CONNECTED);
    info.client = b.tlsHandshakeInfo();
    // Both handshake promises are settled before anything is torn down.
    Promise.all([info.client, info.server]).finally(() => {
      b.free();
      lev.free();
    });
  });
  client.connect({ hostname: "127.0.0.1", port: (lev.addr as Deno.NetAddr).port });
  await base.dispatch();
  assert.ok(info.client && info.server);
  assert.equal((await info.client).alpnProtocol, "http/1.1");
  assert.equal((await info.server).alpnProtocol, "http/1.1");
  // A plain socket bufferevent has no TLS details.
  const plain = Bufferevent.socketNew(base, null);
  assert.equal(plain.tlsHandshakeInfo(), null);
  plain.free();
  base.free();
});

Deno.test(
  { name: "free sends close_notify: the peer sees a clean EOF, not an error", ignore },
  async () => {
    const base = new EventBase();
    const serverEvents: number[] = [];
    const lev = tlsServer(base, (bev) => {
      bev.setcb(null, null, (b, what) => {
        serverEvents.push(what);
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
          b.free();
          lev.free();
        }
      });
      bev.enable(EV_READ);
    });
    const client = tlsClient(base);
    client.setcb(null, null, (b, what) => {
      if (what & BEV_EVENT_CONNECTED) b.free();
    });
    client.connect({ hostname: "127.0.0.1", port: (lev.addr as Deno.NetAddr).port });
    await base.dispatch();
    // A TCP close without close_notify would be reported as an error (a truncation attack).
    assert.deepEqual(serverEvents, [BEV_EVENT_CONNECTED, BEV_EVENT_READING | BEV_EVENT_EOF]);
    base.free();
  },
);

Deno.test(
  { name: "half-close over TLS: BEV_FINISHED, the peer replies, then EOF", ignore },
  async () => {
    const base = new EventBase();
    const serverEvents: number[] = [];
    const lev = tlsServer(base, (bev) => {
      let n = 0;
      let replied = false;
      bev.setcb((b) => {
        n += b.getInput().length;
        b.getInput().drain(b.getInput().length);
      }, (b) => {
        // The reply is written and the write side shut: nothing more to do.
        if (replied) b.free();
      }, (b, what) => {
        serverEvents.push(what);
        if (what & BEV_EVENT_EOF) {
          // The client's write side is done; ours still works.
          replied = true;
          b.write(`got ${n} bytes`);
          b.flush(EV_WRITE, BEV_FINISHED);
        } else if (what & BEV_EVENT_ERROR) b.free();
      });
      bev.enable(EV_READ | EV_WRITE);
    });
    const client = tlsClient(base);
    let reply = "";
    const clientEvents: number[] = [];
    client.setcb(
      (b) => {
        reply += new TextDecoder().decode(b.read());
      },
      null,
      (b, what) => {
        clientEvents.push(what);
        if (what & BEV_EVENT_CONNECTED) {
          b.write("x".repeat(5000));
          b.flush(EV_WRITE, BEV_FINISHED);
        } else {
          b.free();
          lev.free();
        }
      },
    );
    client.enable(EV_READ | EV_WRITE);
    client.connect({ hostname: "127.0.0.1", port: (lev.addr as Deno.NetAddr).port });
    await base.dispatch();
    assert.equal(reply, "got 5000 bytes");
    assert.deepEqual(clientEvents, [BEV_EVENT_CONNECTED, BEV_EVENT_READING | BEV_EVENT_EOF]);
    assert.deepEqual(serverEvents, [BEV_EVENT_CONNECTED, BEV_EVENT_READING | BEV_EVENT_EOF]);
    base.free();
  },
);

Deno.test(
  { name: "a client stalled in the handshake hits the server's deadline", ignore },
  async () => {
    const base = new EventBase();
    const errors: unknown[] = [];
    let sawEvents = 0;
    const lev = tlsServer(base, (bev) => {
      bev.setcb(null, null, (b, what) => {
        sawEvents = what;
        errors.push(b.getError());
        b.free();
        lev.free();
      });
      bev.enable(EV_READ | EV_WRITE);
    }, { handshakeTimeoutMs: 100 });
    const loop = base.dispatch();
    // A TCP client that never sends its ClientHello.
    const stalled = await Deno.connect({
      hostname: "127.0.0.1",
      port: (lev.addr as Deno.NetAddr).port,
    });
    const t0 = Date.now();
    await loop;
    const took = Date.now() - t0;
    // Deno keeps the socket until the peer acts (see the README), so the client closes it.
    stalled.close();
    assert.equal(sawEvents, BEV_EVENT_ERROR);
    assert.ok(errors[0] instanceof Deno.errors.TimedOut, String(errors[0]));
    assert.ok(took < 2000, `deadline took ${took} ms`);
    base.free();
  },
);

Deno.test(
  { name: "freeing a server bufferevent mid-handshake releases the loop at once", ignore },
  async () => {
    const base = new EventBase();
    const lev = tlsServer(base, (bev) => {
      bev.enable(EV_READ);
      bev.free();
      lev.free();
    }, { handshakeTimeoutMs: 10_000 });
    const loop = base.dispatch();
    const stalled = await Deno.connect({
      hostname: "127.0.0.1",
      port: (lev.addr as Deno.NetAddr).port,
    });
    const t0 = Date.now();
    await loop;
    stalled.close();
    // The handshake deadline was disarmed by free(), not waited for.
    assert.ok(Date.now() - t0 < 5000);
    base.free();
  },
);

Deno.test({ name: "8 MiB echoed over TLS, byte for byte", ignore }, async () => {
  const base = new EventBase();
  const lev = tlsServer(base, (bev) => {
    bev.setcb((b) => b.getOutput().addBuffer(b.getInput()), null, (b, what) => {
      if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) b.free();
    });
    bev.enable(EV_READ | EV_WRITE);
  });
  const SIZE = 8 * 1024 * 1024;
  const data = new Uint8Array(SIZE);
  // A pattern that does not repeat on any power-of-two block size.
  for (let i = 0; i < SIZE; i++) data[i] = (i * 31 + (i >>> 13)) & 0xff;
  const got = new Uint8Array(SIZE);
  let off = 0;
  const client = tlsClient(base);
  client.setcb(
    (b) => {
      const input = b.getInput();
      const n = input.length;
      if (off + n > SIZE) throw new Error("too much data");
      got.set(input.copyout(n), off);
      input.drain(n);
      off += n;
      if (off === SIZE) {
        b.free();
        lev.free();
      }
    },
    null,
    (b, what) => {
      if (what & BEV_EVENT_CONNECTED) b.write(data);
      else {
        b.free();
        lev.free();
      }
    },
  );
  client.enable(EV_READ | EV_WRITE);
  client.connect({ hostname: "127.0.0.1", port: (lev.addr as Deno.NetAddr).port });
  await base.dispatch();
  assert.equal(off, SIZE);
  let firstBad = -1;
  for (let i = 0; i < SIZE; i++) {
    if (got[i] !== data[i]) {
      firstBad = i;
      break;
    }
  }
  assert.equal(firstBad, -1, `first mismatch at ${firstBad}`);
  base.free();
});
