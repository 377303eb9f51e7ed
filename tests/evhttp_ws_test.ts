// WebSocket (evhttp/ws.ts): libevent's `ws` regress scenario over a raw socket, interop with
// Deno's own WebSocket client and server, handshake refusals, protocol errors and the server's
// life cycle (connection limit, shutdown, free).
import assert from "node:assert/strict";
import {
  Evhttp,
  evwsConnect,
  type EvwsConnection,
  evwsNewSession,
  WS_BINARY_FRAME,
  WS_CR_ABNORMAL,
  WS_TEXT_FRAME,
} from "../evhttp/mod.ts";
import { EventBase } from "../reactor/mod.ts";
import { readAheadStall } from "../bufferevent/_socket.ts";
import { wsFlow } from "../evhttp/ws.ts";
import { bounded } from "./_helpers.ts";
import { testPki } from "./_tls.ts";
import { RawClient, withServer } from "./_evhttp_helpers.ts";
import { answerShutdownClose, closeCode, frame, FrameReader, HANDSHAKE } from "./_ws_helpers.ts";

const dec = new TextDecoder();

Deno.test("ws (libevent's regress scenario): handshake, fragments, echo, binary, close", async () => {
  let closed = 0;
  let gotClose: (() => void) | null = null;
  const closedP = new Promise<void>((r) => gotClose = r);
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      const ws = evwsNewSession(req, (evws, type, data) => {
        const text = dec.decode(data);
        if (type === WS_TEXT_FRAME && text === "Close") {
          evws.close();
          return;
        }
        evws.sendText(text);
        evws.sendBinary(new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x55]));
      });
      assert.ok(ws !== null);
      ws.sendText("Server: hello");
      ws.setCloseCb(() => {
        closed++;
        gotClose!();
      });
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const r = new FrameReader(c.conn);
    try {
      // The first frames ride right behind the request: they must not be lost.
      await c.send(HANDSHAKE);
      const head = await r.head();
      assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      assert.match(head, /\r\nUpgrade: websocket\r\n/i);
      assert.match(head, /\r\nConnection: Upgrade\r\n/i);
      assert.match(head, /\r\nSec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n/);
      assert.doesNotMatch(head, /Content-Length|Transfer-Encoding/i);
      const hello = await r.frame();
      assert.deepEqual([hello?.opcode, dec.decode(hello?.payload)], [1, "Server: hello"]);
      // "Client:" + " " + "hello" in three fragments (text, continuation, final continuation).
      await c.send(frame(1, "Client:", false));
      await c.send(frame(0, " ", false));
      await c.send(frame(0, "hello", true));
      const echo = await r.frame();
      assert.deepEqual([echo?.opcode, dec.decode(echo?.payload)], [1, "Client: hello"]);
      const bin = await r.frame();
      assert.deepEqual([bin?.opcode, [...bin!.payload]], [2, [0xde, 0xad, 0xbe, 0xef, 0x55]]);
      // A ping between messages is answered with a pong carrying its payload.
      await c.send(frame(9, "pp"));
      const pong = await r.frame();
      assert.deepEqual([pong?.opcode, dec.decode(pong?.payload)], [10, "pp"]);
      await c.send(frame(1, "Close"));
      const cl = await r.frame();
      assert.equal(cl?.opcode, 8);
      assert.equal(closeCode(cl!.payload), 1000);
      // The client answers the close; the server ends the connection.
      await c.send(frame(8, new Uint8Array([0x03, 0xe8])));
      assert.ok(await r.eof());
      await bounded(closedP, 3000, "close cb");
      assert.equal(closed, 1);
    } finally {
      c.close();
    }
  });
});

Deno.test("ws: Deno's WebSocket client echoes text, binary and a 200 KB message; its close code arrives", async () => {
  let serverCode = 0;
  let serverClosed: (() => void) | null = null;
  const serverClosedP = new Promise<void>((r) => serverClosed = r);
  await withServer((http) => {
    http.setCb("/echo", (req) => {
      const ws = evwsNewSession(req, (evws, type, data) => {
        if (type === WS_TEXT_FRAME) evws.sendText("echo:" + dec.decode(data));
        else evws.sendBinary(data);
      });
      ws?.setCloseCb((e) => {
        serverCode = e.getCloseCode();
        serverClosed!();
      });
    });
  }, async ({ port }) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
    ws.binaryType = "arraybuffer";
    const got: (string | number[])[] = [];
    const big = "é".repeat(100_000);
    const closed = new Promise<CloseEvent>((resolve) => {
      ws.onopen = () => {
        ws.send("hi");
        ws.send(new Uint8Array([1, 2, 3]));
        ws.send(big);
      };
      ws.onmessage = (m) => {
        got.push(typeof m.data === "string" ? m.data : [...new Uint8Array(m.data)]);
        if (got.length === 3) ws.close(4000, "bye");
      };
      ws.onclose = resolve;
    });
    const ev = await bounded(closed, 5000, "client close");
    assert.equal(ev.code, 4000);
    assert.deepEqual(got.slice(0, 2), ["echo:hi", [1, 2, 3]]);
    assert.equal(got[2], "echo:" + big);
    await bounded(serverClosedP, 3000, "server close cb");
    assert.equal(serverCode, 4000);
  });
});

Deno.test("ws client: evwsConnect against Deno.serve's WebSocket server", async () => {
  const srv = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "chat" });
    socket.onmessage = (m) => {
      if (m.data === "bye") socket.close(4001, "server says bye");
      else socket.send(typeof m.data === "string" ? "srv:" + m.data : m.data);
    };
    return response;
  });
  const base = new EventBase();
  try {
    const got: string[] = [];
    let opened = "";
    let code = 0;
    let reason = "";
    const ws = evwsConnect(
      base,
      null,
      `ws://127.0.0.1:${srv.addr.port}/path?q=1`,
      (evws, type, data) => {
        got.push(type === WS_TEXT_FRAME ? dec.decode(data) : `bin:${data.length}`);
        if (got.length === 3) evws.sendText("bye");
      },
      undefined,
      { protocols: ["chat", "other"], onOpen: (e) => opened = e.getProtocol() },
    );
    // Queued until the handshake is done.
    ws.sendText("first");
    ws.sendBinary(new Uint8Array(100_000));
    ws.sendText("third");
    ws.setCloseCb((e) => {
      code = e.getCloseCode();
      reason = e.getCloseReason();
    });
    await bounded(base.dispatch(), 5000, "dispatch");
    assert.equal(opened, "chat");
    assert.deepEqual(got, ["srv:first", "bin:100000", "srv:third"]);
    assert.deepEqual([code, reason], [4001, "server says bye"]);
  } finally {
    base.free();
    await srv.shutdown();
  }
});

Deno.test("ws client: a refused handshake closes with WS_CR_ABNORMAL and says why", async () => {
  await withServer((http) => {
    http.setCb("/plain", (req) => req.sendReply(200, null, "not a websocket"));
  }, async ({ port }) => {
    const base = new EventBase();
    let code = 0;
    let reason = "";
    let msgs = 0;
    const ws = evwsConnect(base, null, `ws://127.0.0.1:${port}/plain`, () => msgs++);
    ws.setCloseCb((e) => {
      code = e.getCloseCode();
      reason = e.getCloseReason();
    });
    await bounded(base.dispatch(), 3000, "dispatch");
    base.free();
    assert.equal(code, WS_CR_ABNORMAL);
    assert.match(reason, /handshake refused: 200/);
    assert.equal(msgs, 0);
    assert.equal(ws.getBufferevent(), null);
  });
});

Deno.test("ws: evwsConnect to evwsNewSession, binary round trip and close from the client", async () => {
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      evwsNewSession(req, (evws, type, data) => {
        assert.equal(type, WS_BINARY_FRAME);
        evws.sendBinary(data.map((b) => b ^ 0xff));
      });
    });
  }, async ({ port }) => {
    const base = new EventBase();
    const payload = new Uint8Array(70_000).map((_, i) => i & 0xff);
    let back: Uint8Array | null = null;
    let code = 0;
    const ws = evwsConnect(base, null, `ws://127.0.0.1:${port}/ws`, (evws, _t, data) => {
      back = data;
      evws.close(1000, "ok");
    });
    ws.sendBinary(payload);
    ws.setCloseCb((e) => code = e.getCloseCode());
    await bounded(base.dispatch(), 3000, "dispatch");
    base.free();
    assert.ok(back !== null);
    assert.deepEqual(back, payload.map((b) => b ^ 0xff));
    assert.equal(code, 1000);
  });
});

Deno.test("ws: large frames from two clients and their echoes interleave in shared send blocks, byte for byte", async () => {
  // Sizes around the 4 KiB large-frame threshold, the 64 KiB block and the 16/64-bit lengths.
  const SIZES = [4096, 4097, 5000, 16383, 30000, 65000, 65520, 65521, 65535, 65536, 70000, 4099];
  const pattern = (client: number, i: number, n: number) =>
    new Uint8Array(n).map((_, j) => (j * 31 + i * 7 + client * 101) & 0xff);
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      evwsNewSession(req, (evws, _type, data) => evws.sendBinary(data));
    });
  }, async ({ port }) => {
    const base = new EventBase();
    const got: Uint8Array[][] = [[], []];
    for (let c = 0; c < 2; c++) {
      const ws = evwsConnect(base, null, `ws://127.0.0.1:${port}/ws`, (evws, _t, data) => {
        got[c]!.push(data);
        if (got[c]!.length === SIZES.length) evws.close(1000);
      });
      // Queued before the handshake ends, then moved to the output: both paths carry them.
      SIZES.forEach((n, i) => ws.sendBinary(pattern(c, i, n)));
    }
    await bounded(base.dispatch(), 5000, "dispatch");
    base.free();
    for (let c = 0; c < 2; c++) {
      assert.equal(got[c]!.length, SIZES.length);
      SIZES.forEach((n, i) => assert.deepEqual(got[c]![i], pattern(c, i, n), `client ${c} #${i}`));
    }
  });
});

Deno.test("ws: bad handshakes are refused (400, 426 for another version) and HTTP goes on", async () => {
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      assert.equal(evwsNewSession(req, () => {}), null);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    try {
      const cases: [string, number][] = [
        [HANDSHAKE.replace("Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n", ""), 400],
        [HANDSHAKE.replace("x3JJHMbDL1EzLkh9GBhXDw==", "c2hvcnQ="), 400],
        [HANDSHAKE.replace("Upgrade: websocket", "Upgrade: h2c"), 400],
        [HANDSHAKE.replace("Connection: Upgrade", "Connection: keep-alive"), 400],
        [
          HANDSHAKE.replace("GET", "POST").replace("\r\n\r\n", "\r\nContent-Length: 0\r\n\r\n"),
          400,
        ],
      ];
      for (const [req, status] of cases) {
        await c.send(req);
        const r = await c.response();
        assert.equal(r?.status, status, req.split("\r\n").slice(0, 4).join(" | "));
      }
      await c.send(HANDSHAKE.replace("Version: 13", "Version: 8"));
      const r = await c.response();
      assert.equal(r?.status, 426);
      assert.equal(r?.headers.get("sec-websocket-version"), "13");
    } finally {
      c.close();
    }
  });
});

/** Opens a raw session on `/ws`; `onSession` sees the server side. */
async function rawSession(
  setup: (ws: EvwsConnection) => void,
  fn: (c: RawClient, r: FrameReader) => Promise<void>,
): Promise<void> {
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      const ws = evwsNewSession(req, () => {});
      if (ws !== null) setup(ws);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const r = new FrameReader(c.conn);
    try {
      await c.send(HANDSHAKE);
      assert.match(await r.head(), /^HTTP\/1\.1 101/);
      await fn(c, r);
    } finally {
      c.close();
    }
  });
}

Deno.test("ws: protocol errors close with the RFC's code and end the connection", async () => {
  const cases: [string, Uint8Array, number][] = [
    ["unmasked client frame", frame(1, "x", true, false), 1002],
    ["reserved opcode", frame(3, "x"), 1002],
    [
      "reserved bit",
      (() => {
        const f = frame(1, "x");
        f[0] |= 0x40;
        return f;
      })(),
      1002,
    ],
    ["fragmented ping", frame(9, "x", false), 1002],
    ["continuation without a message", frame(0, "x"), 1002],
    ["invalid UTF-8 text", frame(1, new Uint8Array([0xc3, 0x28])), 1007],
    ["close code 1005 on the wire", frame(8, new Uint8Array([0x03, 0xed])), 1002],
    ["a message over the limit", frame(2, new Uint8Array(2000)), 1009],
  ];
  for (const [what, bytes, code] of cases) {
    let closed = false;
    await rawSession((ws) => {
      ws.setMaxMessageSize(1000);
      ws.setCloseCb(() => closed = true);
    }, async (c, r) => {
      await c.send(bytes);
      const f = await r.frame();
      assert.equal(f?.opcode, 8, what);
      assert.equal(closeCode(f!.payload), code, what);
      assert.ok(await r.eof(), `${what}: connection closed`);
    });
    assert.ok(closed, `${what}: close cb`);
  }
});

Deno.test("ws: sessions count against setMaxConnections; shutdown sends 1001; free runs the close cb", async () => {
  const base = new EventBase();
  const http = new Evhttp(base);
  http.setMaxConnections(1);
  let closes = 0;
  http.setCb("/ws", (req) => {
    evwsNewSession(req, () => {})?.setCloseCb(() => closes++);
  });
  const port = (http.bindSocket("127.0.0.1", 0).addr as Deno.NetAddr).port;
  const loop = base.dispatch();
  const c = await RawClient.connect(port);
  const r = new FrameReader(c.conn);
  try {
    await c.send(HANDSHAKE);
    assert.match(await r.head(), /^HTTP\/1\.1 101/);
    // A second connection is over the limit while the session lives.
    const c2 = await RawClient.connect(port);
    try {
      await c2.send("GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal((await c2.response())?.status, 503);
    } finally {
      c2.close();
    }
    const done = http.shutdown(2000);
    await answerShutdownClose(c, r, done);
    assert.equal(closes, 1);
  } finally {
    c.close();
    http.free();
    await loop;
    base.free();
  }
});

Deno.test("ws: Evhttp.free() closes a live session and runs its close cb once", async () => {
  let closes = 0;
  let opened: (() => void) | null = null;
  const openedP = new Promise<void>((res) => opened = res);
  const base = new EventBase();
  const http = new Evhttp(base);
  http.setCb("/ws", (req) => {
    const ws = evwsNewSession(req, () => {});
    ws?.setCloseCb(() => closes++);
    opened!();
  });
  const port = (http.bindSocket("127.0.0.1", 0).addr as Deno.NetAddr).port;
  const loop = base.dispatch();
  const c = await RawClient.connect(port);
  const r = new FrameReader(c.conn);
  try {
    await c.send(HANDSHAKE);
    await r.head();
    await bounded(openedP, 2000, "session");
    http.free();
    assert.equal(closes, 1);
    assert.ok(await r.eof());
  } finally {
    c.close();
    await loop;
    base.free();
  }
  assert.equal(closes, 1);
});

Deno.test("ws: a peer that pings without reading cannot grow the server's output without bound", async () => {
  // Lower marks and a fast read-ahead grant (the socket layer alone lets a stalled connection
  // read 64 KiB per grant), so an unbounded output would show within the test's time.
  const saved = { ...wsFlow, stallMs: readAheadStall.stallMs };
  wsFlow.high = 256 * 1024;
  wsFlow.low = 64 * 1024;
  readAheadStall.stallMs = 5;
  try {
    await pingFlood();
  } finally {
    wsFlow.high = saved.high;
    wsFlow.low = saved.low;
    readAheadStall.stallMs = saved.stallMs;
  }
});

async function pingFlood(): Promise<void> {
  let maxOut = 0;
  let readsWhilePaused = 0;
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      const ws = evwsNewSession(req, () => {});
      const bev = ws?.getBufferevent();
      if (!bev) return;
      bev.getOutput().addCb((buf) => {
        if (buf.length > maxOut) maxOut = buf.length;
      });
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const r = new FrameReader(c.conn);
    try {
      await c.send(HANDSHAKE);
      await r.head();
      // Up to 16 MB of pings in 64 KB writes; the pongs are never read. The server must stop
      // reading (the kernel's buffers fill, then these writes stall) rather than buffer megabytes
      // of pongs.
      const ping = frame(9, new Uint8Array(125));
      const batch = new Uint8Array(ping.length * 500);
      for (let i = 0; i < 500; i++) batch.set(ping, i * ping.length);
      let sent = 0;
      const writer = (async () => {
        try {
          while (sent < 16 * 1024 * 1024) {
            await c.send(batch);
            sent += batch.length;
          }
        } catch {
          // The connection closed under a stalled write at the end of the test.
        }
      })();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([writer, new Promise((res) => timer = setTimeout(res, 1500))]);
      clearTimeout(timer);
      readsWhilePaused = sent;
      c.close();
      await writer;
    } finally {
      c.close();
    }
  });
  // Output stops near the high mark (plus what one read's pings answer).
  assert.ok(maxOut > 64 * 1024, `output peaked at ${maxOut}: the flood did not back up`);
  assert.ok(maxOut < 256 * 1024 + 128 * 1024, `output peaked at ${maxOut} bytes`);
  assert.ok(readsWhilePaused > 0);
}

Deno.test("wss: evwsNewSession on an HTTPS server, with evwsConnect trusting the test CA", async () => {
  const pki = await testPki();
  if (pki === null) {
    console.log("skipped: needs openssl (apt-get install openssl)");
    return;
  }
  const base = new EventBase();
  const http = new Evhttp(base);
  http.setCb("/ws", (req) => {
    evwsNewSession(req, (evws, _type, data) => evws.sendText("tls:" + dec.decode(data)));
  });
  const port = (http.bindSocketTls("127.0.0.1", 0, { cert: pki.cert, key: pki.key })
    .addr as Deno.NetAddr).port;
  const got: string[] = [];
  let code = 0;
  const ws = evwsConnect(
    base,
    null,
    `wss://localhost:${port}/ws`,
    (evws, _t, data) => {
      got.push(dec.decode(data));
      if (got.length === 2) evws.close(1000);
    },
    undefined,
    { caCerts: [pki.caCert] },
  );
  ws.sendText("one");
  ws.sendText("x".repeat(100_000));
  ws.setCloseCb((e) => {
    code = e.getCloseCode();
    http.free();
  });
  try {
    await bounded(base.dispatch(), 5000, "dispatch");
  } finally {
    http.free();
    base.free();
  }
  assert.deepEqual([got[0], got[1]?.length], ["tls:one", 100_004]);
  assert.equal(code, 1000);
});

Deno.test("ws: an upgrade pipelined behind a plain request: both answered in order, nothing lost", async () => {
  let completed = 0;
  await withServer((http) => {
    http.setCb("/a", (req) => {
      req.setOnCompleteCb(() => completed++);
      req.sendReply(200, null, "plain");
    });
    http.setCb("/ws", (req) => {
      evwsNewSession(req, (evws, _t, data) => evws.sendText("ws:" + dec.decode(data)));
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const r = new FrameReader(c.conn);
    try {
      await c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n" + HANDSHAKE);
      const first = await r.head();
      assert.match(first, /^HTTP\/1\.1 200 /);
      assert.match(first, /Content-Length: 5\r\n/);
      // The body "plain" precedes the 101 head.
      const rest = await r.head();
      assert.match(rest, /^plainHTTP\/1\.1 101 /);
      await c.send(frame(1, "after"));
      const f = await r.frame();
      assert.equal(dec.decode(f?.payload), "ws:after");
      assert.equal(completed, 1);
    } finally {
      c.close();
    }
  });
});

Deno.test("ws: sendPing reaches the peer (125 bytes at most); setMessageCb takes the next message", async () => {
  const seen: string[] = [];
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      const ws = evwsNewSession(req, (evws, _t, data) => {
        seen.push("first:" + dec.decode(data));
        evws.setMessageCb((_e, _t2, d2, arg) => seen.push(`${arg}:${dec.decode(d2)}`), "second");
      });
      assert.ok(ws !== null);
      assert.throws(() => ws.sendPing(new Uint8Array(126)), RangeError);
      ws.sendPing(new TextEncoder().encode("are you there"));
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const r = new FrameReader(c.conn);
    try {
      await c.send(HANDSHAKE);
      await r.head();
      const ping = await r.frame();
      assert.deepEqual([ping?.opcode, dec.decode(ping?.payload)], [9, "are you there"]);
      await c.send(frame(1, "a"));
      await c.send(frame(1, "b"));
      await c.send(frame(9, "sync"));
      assert.equal((await r.frame())?.opcode, 10);
      assert.deepEqual(seen, ["first:a", "second:b"]);
    } finally {
      c.close();
    }
  });
});
