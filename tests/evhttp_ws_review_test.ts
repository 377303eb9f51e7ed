// Adversarial review of the WebSocket layer (evhttp/ws.ts, evhttp/_ws_frame.ts and the 101
// hand-over in evhttp/_server_conn.ts): split and coalesced frames, hostile lengths, control
// frames in odd places, callbacks that close or free, vanishing peers, hostile handshake answers
// to evwsConnect, wss://, size limits and the server's shutdown with sessions.
import assert from "node:assert/strict";
import {
  Evhttp,
  type EvhttpRequest,
  evwsConnect,
  type EvwsConnection,
  evwsNewSession,
  WS_BINARY_FRAME,
  WS_CR_ABNORMAL,
  WS_TEXT_FRAME,
} from "../evhttp/mod.ts";
import { wsAcceptKey } from "../evhttp/ws.ts";
import { EventBase } from "../reactor/mod.ts";
import { bounded } from "./_helpers.ts";
import { RawClient, Reader, withFake, withServer, writeAllQuiet } from "./_evhttp_helpers.ts";
import { testPki } from "./_tls.ts";
import {
  answerShutdownClose,
  closeCode,
  closePayload,
  concat,
  type Frame,
  frame,
  FrameReader,
  HANDSHAKE,
} from "./_ws_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function deferred<T = void>(): { p: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const p = new Promise<T>((r) => resolve = r);
  return { p, resolve };
}

/** Server-side session record. */
interface Srv {
  ws: EvwsConnection | null;
  msgs: [number, string][];
  closes: number;
  code: number;
  reason: string;
  closed: Promise<void>;
}

/**
 * A server whose `/ws` upgrades; `onMsg` handles messages (default: echo), `setup` sees the
 * session. `fn` gets a raw client that already sent the handshake (plus `extra` in the same
 * write) and read the 101.
 */
async function rawSession(
  opts: {
    onMsg?: (ws: EvwsConnection, type: number, data: Uint8Array, s: Srv) => void;
    setup?: (ws: EvwsConnection, s: Srv) => void;
    extra?: Uint8Array;
  },
  fn: (c: RawClient, r: FrameReader, s: Srv, http: Evhttp) => Promise<void>,
): Promise<Srv> {
  const done = deferred();
  const s: Srv = { ws: null, msgs: [], closes: 0, code: 0, reason: "", closed: done.p };
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      const ws = evwsNewSession(req, (evws, type, data) => {
        s.msgs.push([type, type === WS_TEXT_FRAME ? dec.decode(data) : `bin:${data.length}`]);
        if (opts.onMsg) opts.onMsg(evws, type, data, s);
        else if (type === WS_TEXT_FRAME) evws.sendText(dec.decode(data));
        else evws.sendBinary(data);
      });
      assert.ok(ws !== null);
      s.ws = ws;
      ws.setCloseCb((e) => {
        s.closes++;
        s.code = e.getCloseCode();
        s.reason = e.getCloseReason();
        done.resolve();
      });
      opts.setup?.(ws, s);
    });
  }, async ({ port, http }) => {
    const c = await RawClient.connect(port);
    const r = new FrameReader(c.conn);
    try {
      await c.send(opts.extra ? concat(enc.encode(HANDSHAKE), opts.extra) : HANDSHAKE);
      assert.match(await r.head(), /^HTTP\/1\.1 101/);
      await fn(c, r, s, http);
    } finally {
      c.close();
    }
  });
  return s;
}

/** Parses one masked (client) frame from the front of `buf`; null if incomplete. */
function parseMasked(buf: Uint8Array): { f: Frame; used: number } | null {
  if (buf.length < 2) return null;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = (buf[2] << 8) | buf[3];
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = ((buf[6] << 24) | (buf[7] << 16) | (buf[8] << 8) | buf[9]) >>> 0;
    off = 10;
  }
  const masked = (buf[1] & 0x80) !== 0;
  const key = masked ? buf.slice(off, off + 4) : null;
  if (masked) off += 4;
  if (buf.length < off + len) return null;
  const payload = buf.slice(off, off + len);
  if (key) { for (let i = 0; i < len; i++) payload[i] ^= key[i & 3]; }
  return {
    f: { fin: (buf[0] & 0x80) !== 0, opcode: buf[0] & 0x0f, payload },
    used: off + len,
  };
}

/** Reads the next client frame from a fake server's Reader; null at EOF. */
async function clientFrame(rd: Reader): Promise<(Frame & { masked: boolean }) | null> {
  for (;;) {
    const m = parseMasked(rd.buf);
    if (m !== null) {
      const masked = (rd.buf[1] & 0x80) !== 0;
      rd.buf = rd.buf.slice(m.used);
      return { ...m.f, masked };
    }
    if (!(await bounded(rd.fill(), 3000, "fake server read"))) return null;
  }
}

/** A server frame (unmasked unless `mask`). */
function sframe(opcode: number, payload: Uint8Array | string, fin = true): Uint8Array {
  return frame(opcode, payload, fin, false);
}

function accept101(key: string, extra = ""): string {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${wsAcceptKey(key)}\r\n${extra}\r\n`;
}

function keyOf(head: string): string {
  return /sec-websocket-key: *(\S+)/i.exec(head)![1];
}

/** Client record for evwsConnect against a fake server. */
interface Cli {
  opened: number;
  msgs: string[];
  closes: number;
  code: number;
  reason: string;
}

/**
 * Runs evwsConnect against a fake server whose `handler` gets the request head and the Reader;
 * the loop runs until the client is gone. Returns what the client saw.
 */
async function fakeClient(
  handler: (conn: Deno.TcpConn, head: string, rd: Reader) => Promise<void>,
  opts: {
    protocols?: string[];
    timeout?: number;
    onMsg?: (ws: EvwsConnection, data: Uint8Array, type: number) => void;
    onOpen?: (ws: EvwsConnection) => void;
  } = {},
): Promise<Cli> {
  const cli: Cli = { opened: 0, msgs: [], closes: 0, code: 0, reason: "" };
  // One connection; unlike withFake the handler runs to its end before the socket closes, so
  // it can read what the client sent just before closing.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const serve = (async () => {
    const conn = await listener.accept();
    try {
      const rd = new Reader(conn);
      const req = await rd.request();
      if (req !== null) await handler(conn, req.head, rd);
    } finally {
      conn.close();
    }
  })();
  const base = new EventBase();
  try {
    const ws = evwsConnect(
      base,
      null,
      `ws://127.0.0.1:${port}/x`,
      (e, type, data) => {
        cli.msgs.push(type === WS_TEXT_FRAME ? dec.decode(data) : `bin:${data.length}`);
        opts.onMsg?.(e, data, type);
      },
      undefined,
      {
        protocols: opts.protocols,
        handshakeTimeoutMs: opts.timeout ?? 2000,
        onOpen: (e) => {
          cli.opened++;
          opts.onOpen?.(e);
        },
      },
    );
    ws.setCloseCb((e) => {
      cli.closes++;
      cli.code = e.getCloseCode();
      cli.reason = e.getCloseReason();
    });
    await bounded(base.dispatch(), 2800, "client dispatch");
    assert.equal(ws.getBufferevent(), null, "client bufferevent freed");
    await bounded(serve, 2000, "fake server");
  } finally {
    base.free();
    listener.close();
    await serve.catch(() => {});
  }
  return cli;
}

// ------------------------------------------------------------------ server: framing

Deno.test("Control: ws server reassembles frames split at every byte offset (7/16/64-bit lengths)", async () => {
  const small = frame(1, "héllo wörld");
  const mid = frame(2, new Uint8Array(300).map((_, i) => i * 7));
  const bigPayload = new Uint8Array(70_000).map((_, i) => (i * 13) & 255);
  const big = frame(2, bigPayload);
  await rawSession({}, async (c, r) => {
    const check = async (f: Uint8Array, cut: number, what: string) => {
      await c.send(f.subarray(0, cut));
      await c.send(f.subarray(cut));
      const e = await r.frame();
      assert.ok(e !== null, `${what} cut at ${cut}: echo`);
      const expected = parseMasked(f)!.f.payload;
      assert.equal(e.payload.length, expected.length, `${what} cut at ${cut}`);
      assert.ok(e.payload.every((b, i) => b === expected[i]), `${what} cut at ${cut}`);
    };
    for (let cut = 1; cut < small.length; cut++) await check(small, cut, "small");
    for (let cut = 1; cut < 20; cut++) await check(mid, cut, "16-bit");
    for (const cut of [mid.length - 1, mid.length - 2, 150]) await check(mid, cut, "16-bit");
    for (let cut = 1; cut <= 16; cut++) await check(big, cut, "64-bit");
    for (const cut of [1000, 65536, big.length - 1]) await check(big, cut, "64-bit");
    // Byte by byte.
    for (let i = 0; i < small.length; i++) await c.send(small.subarray(i, i + 1));
    assert.equal(dec.decode((await r.frame())!.payload), "héllo wörld");
  });
});

Deno.test("Control: ws server handles 300 frames, a ping and the close in one TCP write, in order", async () => {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) {
    parts.push(frame(1, `m${i}`));
    if (i === 150) parts.push(frame(9, "mid"));
  }
  parts.push(frame(8, closePayload(1000, "done")));
  const s = await rawSession({}, async (c, r) => {
    await c.send(concat(...parts));
    for (let i = 0; i < 300; i++) {
      const f = await r.frame();
      assert.deepEqual([f?.opcode, dec.decode(f?.payload)], [1, `m${i}`]);
      if (i === 150) {
        const p = await r.frame();
        assert.deepEqual([p?.opcode, dec.decode(p?.payload)], [10, "mid"]);
      }
    }
    const cl = await r.frame();
    assert.equal(cl?.opcode, 8);
    assert.equal(closeCode(cl!.payload), 1000);
    assert.ok(await r.eof());
  });
  await bounded(s.closed, 2000, "close cb");
  assert.equal(s.msgs.length, 300);
  assert.deepEqual([s.closes, s.code, s.reason], [1, 1000, "done"]);
});

Deno.test("Control: ws frames sent right behind the handshake in one write are not lost", async () => {
  const extra = concat(frame(1, "a", false), frame(9, "p"), frame(0, "b"), frame(2, "cd"));
  const s = await rawSession({ extra }, async (_c, r) => {
    const p = await r.frame();
    assert.deepEqual([p?.opcode, dec.decode(p?.payload)], [10, "p"]);
    const a = await r.frame();
    assert.deepEqual([a?.opcode, dec.decode(a?.payload)], [1, "ab"]);
    const b = await r.frame();
    assert.deepEqual([b?.opcode, dec.decode(b?.payload)], [2, "cd"]);
  });
  assert.deepEqual(s.msgs, [[1, "ab"], [2, "bin:2"]]);
});

Deno.test("Control: ws 64-bit length claiming petabytes closes 1009 without buffering; top bit set closes 1002", async () => {
  for (
    const [hdr, code] of [
      [[0x82, 0xff, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], 1009],
      [[0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4], 1002],
      [[0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4], 1009],
    ] as [number[], number][]
  ) {
    const s = await rawSession({}, async (c, r) => {
      await c.send(new Uint8Array(hdr));
      const f = await r.frame();
      assert.equal(f?.opcode, 8);
      assert.equal(closeCode(f!.payload), code);
      assert.ok(await r.eof());
    });
    await bounded(s.closed, 2000, "close cb");
    assert.equal(s.msgs.length, 0);
  }
});

Deno.test("Control: ws text split mid-UTF-8 character across fragments, with ping and pong interleaved", async () => {
  const text = enc.encode("é€😀ok");
  // Cut inside é (2 bytes), inside € (3 bytes) and inside 😀 (4 bytes).
  const pieces = [text.subarray(0, 1), text.subarray(1, 3), text.subarray(3, 7), text.subarray(7)];
  const s = await rawSession({}, async (c, r) => {
    await c.send(frame(1, pieces[0], false));
    await c.send(frame(9, "p1"));
    await c.send(frame(0, pieces[1], false));
    await c.send(frame(10, "unsolicited"));
    await c.send(frame(0, pieces[2], false));
    await c.send(frame(9, "p2"));
    await c.send(frame(0, pieces[3], true));
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const f = await r.frame();
      got.push(`${f?.opcode}:${dec.decode(f?.payload)}`);
    }
    assert.deepEqual(got, ["10:p1", "10:p2", "1:é€😀ok"]);
  });
  assert.deepEqual(s.msgs, [[1, "é€😀ok"]]);
});

// ------------------------------------------------------------------ server: close frames

Deno.test("Control: ws close frames: reasons, empty, one byte, invalid UTF-8 reason, bad codes", async () => {
  const cases: [string, Uint8Array, number, number, string][] = [
    // [what, close payload, code echoed, getCloseCode, reason]
    ["code + reason", closePayload(4000, "bye now"), 4000, 4000, "bye now"],
    ["empty", new Uint8Array(0), 1005, 1005, ""],
    ["1012 is valid", closePayload(1012), 1012, 1012, ""],
    ["one byte", new Uint8Array([3]), 1002, WS_CR_ABNORMAL, ""],
    ["invalid UTF-8 reason", closePayload(1000, new Uint8Array([0xff, 0xfe])), 1007, 1006, ""],
    ["code 999", closePayload(999), 1002, 1006, ""],
    ["code 1004", closePayload(1004), 1002, 1006, ""],
    ["code 1006", closePayload(1006), 1002, 1006, ""],
    ["code 1015", closePayload(1015), 1002, 1006, ""],
    ["code 2999", closePayload(2999), 1002, 1006, ""],
    ["code 5000", closePayload(5000), 1002, 1006, ""],
  ];
  for (const [what, payload, echoed, code, reason] of cases) {
    const s = await rawSession({}, async (c, r) => {
      await c.send(frame(8, payload));
      const f = await r.frame();
      assert.equal(f?.opcode, 8, what);
      assert.equal(closeCode(f!.payload), echoed, what);
      assert.ok(await r.eof(), what);
    });
    await bounded(s.closed, 2000, what);
    assert.equal(s.closes, 1, what);
    assert.equal(s.code, code, what);
    if (reason !== "") assert.equal(s.reason, reason, what);
  }
});

Deno.test("Control: ws ping during the closing handshake and data after close() are dropped; close completes", async () => {
  const s = await rawSession({
    onMsg: (ws, _t, data) => {
      if (dec.decode(data) === "close") {
        ws.close(1000, "srv");
        ws.close(1001); // a second close is a no-op
        ws.sendText("after close"); // ignored
        ws.sendPing(); // ignored
      }
    },
  }, async (c, r) => {
    // "close" then "late" in one write: "late" arrives after close() and is not delivered.
    await c.send(concat(frame(1, "close"), frame(1, "late")));
    const f = await r.frame();
    assert.equal(f?.opcode, 8);
    assert.deepEqual([closeCode(f!.payload), dec.decode(f!.payload.subarray(2))], [1000, "srv"]);
    await c.send(frame(9, "ping in closing"));
    await c.send(frame(1, "more data"));
    await c.send(frame(8, closePayload(1000)));
    // Nothing else but the end: no second close, no text.
    const next = await r.frame();
    assert.ok(next === null || next.opcode === 10, `unexpected frame ${next?.opcode}`);
    assert.ok(await r.eof());
  });
  await bounded(s.closed, 2000, "close cb");
  assert.deepEqual(s.msgs, [[1, "close"]]);
  assert.deepEqual([s.closes, s.code], [1, 1000]);
});

Deno.test("Control: ws free() inside the message cb stops delivery; close cb runs once and may call close/free/send", async () => {
  let inCloseCb = 0;
  const s = await rawSession({
    onMsg: (ws, _t, data) => {
      if (dec.decode(data) === "free") ws.free();
      else ws.sendText(dec.decode(data));
    },
    setup: (ws, s) => {
      ws.setCloseCb((e) => {
        inCloseCb++;
        s.closes++;
        e.close(1000);
        e.free();
        e.sendText("x");
        assert.equal(e.isOpen(), false);
        assert.equal(e.getBufferevent(), null);
      });
    },
  }, async (c, r) => {
    await c.send(frame(1, "one"));
    const f = await r.frame();
    assert.equal(dec.decode(f?.payload), "one");
    await c.send(concat(frame(1, "free"), frame(1, "three"), frame(9, "p")));
    // No echo of "three", no pong: the connection ends.
    assert.equal(await r.frame(), null);
    assert.ok(await r.eof());
  });
  assert.deepEqual(s.msgs, [[1, "one"], [1, "free"]]);
  assert.equal(inCloseCb, 1);
});

Deno.test("Control: ws peer vanishing mid-frame runs the close cb with 1006 and delivers nothing", async () => {
  const f = frame(2, new Uint8Array(5000));
  const s = await rawSession({}, async (c) => {
    await c.send(frame(1, "a", false));
    await c.send(f.subarray(0, 2000));
    c.close();
  });
  await bounded(s.closed, 2000, "close cb");
  assert.deepEqual([s.closes, s.code, s.msgs.length], [1, WS_CR_ABNORMAL, 0]);
});

// ------------------------------------------------------------------ server: size limit

Deno.test("Control: ws setMaxMessageSize exactly at the boundary (single frame and fragments)", async () => {
  const s = await rawSession({ setup: (ws) => ws.setMaxMessageSize(100) }, async (c, r) => {
    await c.send(frame(2, new Uint8Array(100)));
    assert.equal((await r.frame())?.payload.length, 100);
    await c.send(concat(frame(2, new Uint8Array(60), false), frame(0, new Uint8Array(40))));
    assert.equal((await r.frame())?.payload.length, 100);
    await c.send(concat(frame(2, new Uint8Array(60), false), frame(0, new Uint8Array(41))));
    const f = await r.frame();
    assert.deepEqual([f?.opcode, closeCode(f!.payload)], [8, 1009]);
    assert.ok(await r.eof());
  });
  assert.deepEqual(s.msgs, [[2, "bin:100"], [2, "bin:100"]]);
});

Deno.test("ws setMaxMessageSize below 125 must not apply to control frames (ping, close)", async () => {
  // Regression test. setMaxMessageSize bounds *messages*; control frames are not messages and
  // are already bounded to 125 bytes by RFC 6455 §5.5. readFrame (evhttp/_ws_frame.ts) checks
  // `len > max` for every frame before looking at the opcode (ws.ts _onRead passes
  // #maxMessage), so with a small limit a legal 20-byte ping is answered with close 1009
  // instead of a pong, and a peer's close frame with a reason fails the connection with 1009
  // instead of completing the closing handshake. Fix: in readFrame apply `max` only to data
  // frames (opcode < OP_CLOSE).
  const s = await rawSession({ setup: (ws) => ws.setMaxMessageSize(10) }, async (c, r) => {
    await c.send(frame(9, "twenty bytes of ping"));
    const f = await r.frame();
    assert.deepEqual([f?.opcode, dec.decode(f?.payload)], [10, "twenty bytes of ping"]);
    await c.send(frame(8, closePayload(1000, "a long goodbye")));
    const cl = await r.frame();
    assert.deepEqual([cl?.opcode, closeCode(cl!.payload)], [8, 1000]);
  });
  assert.deepEqual([s.code, s.reason], [1000, "a long goodbye"]);
});

// ------------------------------------------------------------------ server: handshake

Deno.test("ws server accepts `Connection: Upgrade` sent as a second Connection header line", async () => {
  // Regression test. A list-valued header may be split over several field lines (RFC 9110
  // §5.3: equivalent to one comma-joined line), and RFC 6455 §4.2.1 only requires that the
  // Connection field *include* the "Upgrade" token. evwsNewSession (evhttp/ws.ts) reads
  // `h.find("Connection")`, the first line only, so `Connection: keep-alive` +
  // `Connection: Upgrade` is refused with 400. Fix: hasToken over `h.findAll(...).join(",")`
  // (same for Upgrade).
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      evwsNewSession(req, () => {});
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    try {
      await c.send(
        HANDSHAKE.replace("Connection: Upgrade", "Connection: keep-alive\r\nConnection: Upgrade"),
      );
      const r = await c.response();
      assert.equal(r?.status, 101);
    } finally {
      c.close();
    }
  });
});

Deno.test("Control: ws free() in the handler right after evwsNewSession releases the connection slot", async () => {
  let closes = 0;
  await withServer((http) => {
    http.setMaxConnections(1);
    http.setCb("/ws", (req) => {
      const ws = evwsNewSession(req, () => {});
      ws?.setCloseCb(() => closes++);
      ws?.free();
    });
    http.setCb("/plain", (req) => req.sendReply(200, null, "ok"));
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const r = new FrameReader(c.conn);
    try {
      await c.send(concat(enc.encode(HANDSHAKE), frame(1, "behind")));
      // free() is immediate: even the queued 101 head may be dropped.
      assert.ok(await r.eof());
    } finally {
      c.close();
    }
    const c2 = await RawClient.connect(port);
    try {
      await c2.send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal((await c2.response())?.status, 200);
    } finally {
      c2.close();
    }
  });
  assert.equal(closes, 1);
});

Deno.test("ws evwsNewSession called twice on one request must not create a second session", async () => {
  // Regression test. After the first evwsNewSession the request is answered (101) and the
  // ServerConn is S_UPGRADED, but req.getConnection() still returns it, so a second call
  // (evhttp/ws.ts evwsNewSession) passes the checks, its sendReply(101) is silently ignored
  // (_sendReply: `this.req !== req`), `sc._upgraded()` is true and a second EvwsConnection is
  // built on the same Bufferevent: it steals the bufferevent callbacks and the ServerConn's
  // close cb. The first session (the one the application keeps) then never gets a message nor
  // its close callback. libevent refuses to upgrade twice (the evhttp_connection is gone after
  // the first). Fix: return null when `sc._upgraded()` is already true before replying (or when
  // req's reply state is not REPLY_NOT_STARTED).
  let second: EvwsConnection | null | undefined;
  const firstMsgs: string[] = [];
  let firstCloses = 0;
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      const ws = evwsNewSession(req, (e, _t, data) => {
        firstMsgs.push(dec.decode(data));
        e.sendText("echo");
      });
      ws?.setCloseCb(() => firstCloses++);
      second = evwsNewSession(req, () => {});
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const r = new FrameReader(c.conn);
    try {
      await c.send(HANDSHAKE);
      assert.match(await r.head(), /^HTTP\/1\.1 101/);
      assert.equal(second, null, "second evwsNewSession returns null");
      await c.send(frame(1, "hi"));
      assert.equal(dec.decode((await r.frame())?.payload), "echo");
    } finally {
      c.close();
    }
  });
  assert.deepEqual([firstMsgs, firstCloses], [["hi"], 1]);
});

// ------------------------------------------------------------------ server: shutdown / free

Deno.test("ws upgraded while a shutdown is in progress gets its 1001 close frame", async () => {
  // Regression test. Evhttp.shutdown (evhttp/evhttp.ts) calls closeIfIdle() once per
  // connection; a connection whose handler is still running (S_HANDLING) is skipped, and when
  // that handler then upgrades, ServerConn.closeIfIdle -> _shutdownHook is never invoked again.
  // The session stays open, accepting messages, until the shutdown deadline drops the TCP
  // connection without any close frame (a 1006 for the peer), although evwsNewSession's doc
  // promises that "a graceful shutdown closes it with 1001" and a normal reply in the same
  // situation gets `Connection: close`. Fix: in #switchProtocols / _attachServer, run the
  // shutdown hook at once when `closeSoon` is set (or refuse the upgrade with 503).
  let pending: EvhttpRequest | null = null;
  const gotReq = deferred();
  let closes = 0;
  const base = new EventBase();
  const http = new Evhttp(base);
  http.setCb("/ws", (req) => {
    pending = req; // answered later (an asynchronous handler)
    gotReq.resolve();
  });
  const port = (http.bindSocket("127.0.0.1", 0).addr as Deno.NetAddr).port;
  const loop = base.dispatch();
  const c = await RawClient.connect(port);
  const r = new FrameReader(c.conn);
  try {
    await c.send(HANDSHAKE);
    await bounded(gotReq.p, 2000, "request");
    const done = http.shutdown(2500);
    const ws = evwsNewSession(pending!, () => {});
    ws?.setCloseCb(() => closes++);
    assert.match(await r.head(), /^HTTP\/1\.1 101/);
    await answerShutdownClose(c, r, done);
    assert.equal(closes, 1);
  } finally {
    c.close();
    http.free();
    await loop;
    base.free();
  }
});

Deno.test("Control: ws shutdown with a session already closing: no second close frame, resolves on the answer", async () => {
  // Shutdown while the server's own close is unanswered: the hook's close(1001) is a no-op;
  // the client's answer ends the connection and the shutdown resolves early.
  let closes = 0;
  const opened = deferred<EvwsConnection>();
  const base = new EventBase();
  const http = new Evhttp(base);
  http.setCb("/ws", (req) => {
    const ws = evwsNewSession(req, () => {})!;
    ws.setCloseCb(() => closes++);
    opened.resolve(ws);
  });
  const port = (http.bindSocket("127.0.0.1", 0).addr as Deno.NetAddr).port;
  const loop = base.dispatch();
  const c = await RawClient.connect(port);
  const r = new FrameReader(c.conn);
  try {
    await c.send(HANDSHAKE);
    await r.head();
    const ws = await bounded(opened.p, 2000, "session");
    ws.close(4001, "first");
    const done = http.shutdown(2500);
    const f = await r.frame();
    assert.deepEqual([f?.opcode, closeCode(f!.payload)], [8, 4001]);
    await c.send(frame(8, closePayload(4001)));
    assert.equal(await r.frame(), null, "no second close frame");
    await bounded(done, 1500, "shutdown");
    assert.equal(closes, 1);
    assert.equal(ws.getCloseCode(), 4001);
  } finally {
    c.close();
    http.free();
    await loop;
    base.free();
  }
  assert.equal(closes, 1);
});

// ------------------------------------------------------------------ client: hostile servers

Deno.test("Control: ws client: 101 and frames (text, ping, fragmented binary) in the same write", async () => {
  let pong: Frame | null = null;
  const cli = await fakeClient(async (conn, head, rd) => {
    await writeAllQuiet(
      conn,
      concat(
        enc.encode(accept101(keyOf(head))),
        sframe(1, "first"),
        sframe(9, "ping!"),
        sframe(2, "ab", false),
        sframe(0, "cd"),
        sframe(8, closePayload(1000, "bye")),
      ),
    );
    pong = await clientFrame(rd);
    const cl = await clientFrame(rd);
    assert.equal(cl?.opcode, 8);
    assert.ok(cl?.masked, "client frames are masked");
  });
  assert.deepEqual([cli.opened, cli.msgs], [1, ["first", "bin:4"]]);
  assert.deepEqual([cli.closes, cli.code, cli.reason], [1, 1000, "bye"]);
  const p = pong as Frame | null;
  assert.deepEqual([p?.opcode, dec.decode(p?.payload)], [10, "ping!"]);
});

Deno.test("Control: ws client: wrong Sec-WebSocket-Accept, non-101, HTTP/2 status line fail the handshake", async () => {
  const answers: [string, RegExp][] = [
    [
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      /Accept/,
    ],
    ["HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n", /Upgrade/],
    ["HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", /403/],
    ["HTTP/2 101\r\n\r\n", /not an HTTP response/],
  ];
  for (const [answer, why] of answers) {
    const cli = await fakeClient(async (conn, _head, rd) => {
      await writeAllQuiet(conn, concat(enc.encode(answer), sframe(1, "should not arrive")));
      await rd.drainToEof();
    });
    assert.deepEqual([cli.opened, cli.msgs.length, cli.closes], [0, 0, 1], answer);
    assert.equal(cli.code, WS_CR_ABNORMAL);
    assert.match(cli.reason, why);
  }
});

Deno.test("Control: ws client fails the connection with 1002 on a masked server frame", async () => {
  let got: Frame | null = null;
  const cli = await fakeClient(async (conn, head, rd) => {
    await writeAllQuiet(conn, concat(enc.encode(accept101(keyOf(head))), frame(1, "masked")));
    got = await clientFrame(rd);
    await rd.drainToEof();
  });
  const g = got as Frame | null;
  assert.deepEqual([g?.opcode, closeCode(g!.payload)], [8, 1002]);
  assert.deepEqual([cli.opened, cli.msgs.length, cli.closes], [1, 0, 1]);
});

Deno.test("Control: ws client: a huge response head without an end fails fast; a silent server times out", async () => {
  const t0 = performance.now();
  const cli = await fakeClient(async (conn, _head, rd) => {
    await writeAllQuiet(
      conn,
      "HTTP/1.1 101 Switching Protocols\r\n" + "X-Pad: aaaa\r\n".repeat(20_000),
    );
    await rd.drainToEof();
  });
  assert.deepEqual([cli.opened, cli.closes], [0, 1]);
  assert.match(cli.reason, /too large/);
  assert.ok(performance.now() - t0 < 1500);
  const cli2 = await fakeClient(async (_conn, _head, rd) => {
    await rd.drainToEof();
  }, { timeout: 150 });
  assert.deepEqual([cli2.opened, cli2.closes, cli2.code], [0, 1, WS_CR_ABNORMAL]);
  assert.match(cli2.reason, /handshake timed out/);
});

Deno.test("ws client fails the handshake when the server picks a subprotocol it did not offer", async () => {
  // Regression test. RFC 6455 §4.1 (client requirements, item 6): if the response carries a
  // Sec-WebSocket-Protocol value that was not in the client's handshake, the client MUST Fail
  // the WebSocket Connection. EvwsConnection.#readHandshake (evhttp/ws.ts) copies whatever the
  // server sent into getProtocol() and opens the connection. Fix: keep the offered list and fail
  // with "unexpected subprotocol" when the answer is not one of them (or none was offered).
  const cli = await fakeClient(async (conn, head, rd) => {
    await writeAllQuiet(conn, accept101(keyOf(head), "Sec-WebSocket-Protocol: evil\r\n"));
    await rd.drainToEof();
  }, { protocols: ["chat"], onOpen: (e) => e.free() });
  assert.equal(cli.opened, 0, "the connection must not open");
  assert.equal(cli.closes, 1);
  assert.match(cli.reason, /protocol/i);
});

Deno.test("ws client fails the handshake when the server answers with an extension it did not ask for", async () => {
  // Regression test. RFC 6455 §4.1 item 5: a Sec-WebSocket-Extensions response header naming an
  // extension the client did not request MUST fail the connection. evwsConnect requests none,
  // but #readHandshake (evhttp/ws.ts) ignores the header and opens; the server may then send
  // RSV1 (permessage-deflate) frames that are failed later with a misleading 1002. Fix: fail
  // the handshake when the response has a non-empty Sec-WebSocket-Extensions.
  const cli = await fakeClient(async (conn, head, rd) => {
    await writeAllQuiet(
      conn,
      accept101(keyOf(head), "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
    );
    await rd.drainToEof();
  }, { onOpen: (e) => e.free() });
  assert.equal(cli.opened, 0, "the connection must not open");
  assert.equal(cli.closes, 1);
  assert.match(cli.reason, /extension/i);
});

Deno.test("ws client: CR/LF in a subprotocol is rejected like in headers (no header injection)", async () => {
  // Regression test. evwsConnect (evhttp/ws.ts) refuses CR/LF in options.headers but pastes
  // options.protocols into `Sec-WebSocket-Protocol: ...` unchecked, so a protocol string
  // "chat\r\nX-Injected: 1" adds a request header (and could smuggle a whole request). RFC 6455
  // §4.1 requires each subprotocol to be an RFC 2616 token. Fix: validate every protocol against
  // the token grammar and throw TypeError like for headers.
  const base = new EventBase();
  let injected = false;
  try {
    await withFake(async (conn) => {
      const rd = new Reader(conn);
      const req = await rd.request();
      injected = req !== null && /\r\nX-Injected: 1/i.test(req.head);
    }, async ({ port }) => {
      let threw = false;
      try {
        const ws = evwsConnect(base, null, `ws://127.0.0.1:${port}/`, () => {}, undefined, {
          protocols: ["chat\r\nX-Injected: 1"],
          handshakeTimeoutMs: 500,
        });
        await bounded(base.dispatch(), 2000, "dispatch");
        assert.equal(ws.getBufferevent(), null);
      } catch (e) {
        threw = e instanceof TypeError;
      }
      assert.ok(threw, `no TypeError (header injected: ${injected})`);
    });
  } finally {
    base.free();
  }
});

Deno.test("Control: ws client: a rejected header option leaves nothing behind; close() while connecting", async () => {
  const base = new EventBase();
  try {
    assert.throws(
      () =>
        evwsConnect(base, null, "ws://127.0.0.1:1/", () => {}, undefined, {
          headers: [["X", "a\r\nb"]],
        }),
      TypeError,
    );
    // Nothing is pending on the base (no socket, no timer).
    await bounded(base.dispatch(), 1000, "dispatch after a rejected evwsConnect");
  } finally {
    base.free();
  }
  await withFake(async (_conn, _i) => {}, async ({ port }) => {
    const b = new EventBase();
    try {
      let closes = 0;
      let code = 0;
      const ws = evwsConnect(b, null, `ws://127.0.0.1:${port}/`, () => {});
      ws.sendText("queued");
      ws.setCloseCb((e) => {
        closes++;
        code = e.getCloseCode();
      });
      ws.close(1000);
      ws.close(1000);
      ws.free();
      await bounded(b.dispatch(), 1000, "dispatch");
      // getCloseCode() is the code the peer sent: none here (1006), not our own 1000.
      assert.deepEqual([closes, code, ws.isOpen()], [1, WS_CR_ABNORMAL, false]);
    } finally {
      b.free();
    }
  });
});

Deno.test("Control: ws client: a 101 from an HTTP/1.0 server fails the handshake", async () => {
  const cli = await fakeClient(async (conn, head, rd) => {
    await writeAllQuiet(
      conn,
      concat(
        enc.encode(accept101(keyOf(head)).replace("HTTP/1.1", "HTTP/1.0")),
        sframe(8, closePayload(1000)),
      ),
    );
    await rd.drainToEof();
  });
  assert.deepEqual([cli.opened, cli.msgs.length, cli.closes], [0, 0, 1]);
  assert.equal(cli.code, WS_CR_ABNORMAL);
  assert.match(cli.reason, /HTTP\/1\.0/);
});

// ------------------------------------------------------------------ client <-> server

Deno.test("Control: ws slow consumer: 4 MB from the server in 64 KB messages while the client reads slowly", async () => {
  const total = 64;
  const chunk = new Uint8Array(65536).map((_, i) => i & 255);
  let srvCloses = 0;
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      const ws = evwsNewSession(req, (evws, _t, data) => {
        if (dec.decode(data) === "go") {
          for (let i = 0; i < total; i++) {
            chunk[0] = i;
            evws.sendBinary(chunk);
          }
          evws.close(1000);
        }
      });
      ws?.setCloseCb(() => srvCloses++);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const r = new FrameReader(c.conn);
    try {
      await c.send(concat(enc.encode(HANDSHAKE), frame(1, "go")));
      await r.head();
      for (let i = 0; i < total; i++) {
        const f = await r.frame();
        assert.equal(f?.opcode, 2);
        assert.equal(f?.payload.length, 65536);
        assert.equal(f?.payload[0], i, "sendBinary copies its argument");
        assert.equal(f?.payload[65535], 255);
        if (i % 16 === 0) await new Promise((res) => setTimeout(res, 10)); // slow reader
      }
      const cl = await r.frame();
      assert.deepEqual([cl?.opcode, closeCode(cl!.payload)], [8, 1000]);
      await c.send(frame(8, closePayload(1000)));
      assert.ok(await r.eof());
    } finally {
      c.close();
    }
  });
  assert.equal(srvCloses, 1);
});

Deno.test("Control: wss:// evwsConnect against a Deno.serve TLS WebSocket server", async () => {
  const pki = await testPki();
  if (pki === null) return;
  const srv = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.cert,
    key: pki.key,
    onListen() {},
  }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (m) => {
      if (m.data === "bye") socket.close(4002, "tls bye");
      else socket.send("tls:" + m.data);
    };
    return response;
  });
  const base = new EventBase();
  try {
    const got: string[] = [];
    let code = 0;
    let reason = "";
    const ws = evwsConnect(
      base,
      null,
      `wss://localhost:${srv.addr.port}/`,
      (e, type, data) => {
        got.push(type === WS_BINARY_FRAME ? "bin" : dec.decode(data));
        if (got.length === 2) e.sendText("bye");
      },
      undefined,
      { caCerts: [pki.caCert] },
    );
    ws.sendText("a");
    ws.sendText("é".repeat(40_000));
    ws.setCloseCb((e) => {
      code = e.getCloseCode();
      reason = e.getCloseReason();
    });
    await bounded(base.dispatch(), 2800, "dispatch");
    assert.deepEqual([got[0], got[1]?.length], ["tls:a", 4 + 40_000]);
    assert.deepEqual([code, reason], [4002, "tls bye"]);
  } finally {
    base.free();
    await srv.shutdown();
  }
});

Deno.test("Control: ws server length encodings at 125/126/65535/65536 bytes and Evhttp.free() inside a message cb", async () => {
  const sizes = [0, 125, 126, 65535, 65536];
  let closes = 0;
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      const ws = evwsNewSession(req, (e, _t, data) => {
        if (dec.decode(data) === "free") {
          http.free();
          return;
        }
        for (const n of sizes) e.sendBinary(new Uint8Array(n).fill(n & 255));
      });
      ws?.setCloseCb(() => closes++);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const r = new FrameReader(c.conn);
    try {
      await c.send(concat(enc.encode(HANDSHAKE), frame(1, "go")));
      await r.head();
      for (const n of sizes) {
        const f = await r.frame();
        assert.equal(f?.payload.length, n);
        assert.ok(f!.payload.every((b) => b === (n & 255)));
      }
      await c.send(concat(frame(1, "free"), frame(1, "after")));
      assert.equal(await r.frame(), null);
      assert.ok(await r.eof());
    } finally {
      c.close();
    }
  });
  assert.equal(closes, 1);
});

Deno.test("Control: ws server: a message sent a byte per frame costs memory in proportion to its bytes", async () => {
  let got: Uint8Array | null = null;
  await withServer((http) => {
    http.setCb("/ws", (req) => {
      evwsNewSession(req, (_ws, _t, data) => got = data);
    });
  }, async ({ port }) => {
    const c = await RawClient.connect(port);
    const r = new FrameReader(c.conn);
    try {
      await c.send(HANDSHAKE);
      await r.head();
      const N = 1_000_000;
      const batch = concat(...Array.from({ length: 10_000 }, () => frame(0, "x", false)));
      await c.send(frame(2, "a", false));
      const before = Deno.memoryUsage().heapUsed;
      for (let i = 0; i < N / 10_000; i++) await c.send(batch);
      // The pong says the server has taken every fragment before it.
      await c.send(frame(9, "p"));
      assert.equal((await r.frame())?.opcode, 10);
      const grew = Deno.memoryUsage().heapUsed - before;
      // 7 MB on the wire and 1 MB of message: one typed array per fragment held 240 MB.
      assert.ok(grew < 40e6, `heap grew ${(grew / 1e6).toFixed(0)} MB`);
      await c.send(frame(0, "b"));
      await c.send(frame(8, closePayload(1000)));
      while ((await r.frame()) !== null) { /* to the server's close */ }
    } finally {
      c.close();
    }
  });
  const m = got as Uint8Array | null;
  assert.equal(m?.length, 1_000_002);
  assert.deepEqual([m![0], m![1], m![1_000_000], m![1_000_001]], [0x61, 0x78, 0x78, 0x62]);
});
