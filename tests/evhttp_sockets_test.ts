// Ways of giving an Evhttp sockets: bindSocket, acceptSocket, bindListener, bindSocketTls, and
// delAcceptSocket.
import assert from "node:assert/strict";
import { Evhttp } from "../evhttp/mod.ts";
import { EvConnListener } from "../listener/mod.ts";
import { EventBase } from "../reactor/mod.ts";
import { exchange } from "./_evhttp_helpers.ts";
import { testPki } from "./_tls.ts";

Deno.test("acceptSocket and bindListener serve; delAcceptSocket stops accepting", async () => {
  const base = new EventBase();
  const http = new Evhttp(base);
  http.setGencb((req) => req.sendReply(200, null, "ok"));
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const a = http.acceptSocket(l);
  const lev = EvConnListener.newBind(base, null, null, 0, -1, { hostname: "127.0.0.1", port: 0 });
  const b = http.bindListener(lev);
  const loop = base.dispatch();
  try {
    const pa = (a.addr as Deno.NetAddr).port;
    const pb = (b.addr as Deno.NetAddr).port;
    assert.equal((await exchange(pa, "GET / HTTP/1.1\r\n\r\n"))!.text, "ok");
    assert.equal((await exchange(pb, "GET / HTTP/1.1\r\n\r\n"))!.text, "ok");
    http.delAcceptSocket(a);
    assert.throws(() => http.delAcceptSocket(a));
    await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port: pa }));
    assert.throws(() => http.bindSocket("127.0.0.1", pb));
  } finally {
    http.free();
    await loop;
    base.free();
  }
});

Deno.test("bindSocketTls serves HTTPS", async () => {
  const pki = await testPki();
  if (pki === null) {
    console.log("openssl not found: skipping the HTTPS test (apt-get install openssl)");
    return;
  }
  const base = new EventBase();
  const http = new Evhttp(base);
  http.setGencb((req) => req.sendReply(200, null, "secure"));
  const bound = http.bindSocketTls("127.0.0.1", 0, { cert: pki.cert, key: pki.key });
  const port = (bound.addr as Deno.NetAddr).port;
  const loop = base.dispatch();
  try {
    const c = await Deno.connectTls({ hostname: "localhost", port, caCerts: [pki.caCert] });
    await c.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    );
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await c.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    c.close();
    const text = chunks.map((x) => new TextDecoder().decode(x)).join("");
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\n\r\nsecure$/);
  } finally {
    http.free();
    await loop;
    base.free();
  }
});
