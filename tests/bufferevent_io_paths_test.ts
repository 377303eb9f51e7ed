// Socket bufferevents and reactor Sockets do I/O through the runtime's read/write ops when Deno
// exposes them (reactor/_fast_io.ts) and through Deno.Conn's methods otherwise: both paths, same
// behaviour.
import assert from "node:assert/strict";
import {
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_FINISHED,
  BEV_OPT_CLOSE_ON_FREE,
  Bufferevent,
} from "../bufferevent/mod.ts";
import { setFastIo } from "../reactor/_fast_io.ts";
import { EV_PERSIST, EV_READ, EV_WRITE, Event, EventBase, Socket } from "../reactor/mod.ts";
import { exchange, withServer } from "./_evhttp_helpers.ts";
import { connectedPair, patternBytes, readAll, writeAll } from "./_helpers.ts";

Deno.test("the runtime's read/write ops are found on this Deno", () => {
  assert.equal(setFastIo(true), true);
});

for (const direct of [true, false]) {
  const path = direct ? "direct ops" : "Deno.Conn methods";

  Deno.test(`${path}: 4 MiB echoed byte for byte, then EOF reaches the event callback`, async () => {
    setFastIo(direct);
    try {
      const base = new EventBase();
      const [c, s, listener] = await connectedPair();
      let events = 0;
      const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
      bev.setcb((b) => b.getOutput().addBuffer(b.getInput()), null, (b, what) => {
        events = what;
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) b.flush(EV_WRITE, BEV_FINISHED);
      });
      bev.enable(EV_READ | EV_WRITE);
      const data = patternBytes(4 * 1024 * 1024, 3);
      const loop = base.dispatch();
      const reader = readAll(c);
      await writeAll(c, data);
      await c.closeWrite();
      const back = await reader;
      assert.equal(back.length, data.length);
      assert.ok(back.every((v, i) => v === data[i]), "echoed bytes differ");
      assert.equal(events, BEV_EVENT_READING | BEV_EVENT_EOF);
      bev.free();
      await loop;
      c.close();
      listener.close();
      base.free();
    } finally {
      setFastIo(true);
    }
  });

  Deno.test(`${path}: a reactor Socket echoes 1 MiB and sees the end of the stream`, async () => {
    setFastIo(direct);
    try {
      const base = new EventBase();
      const [c, s, listener] = await connectedPair();
      const sock = Socket.from(s);
      let sawEnd = false;
      const ev: Event = new Event(base, sock, EV_READ | EV_PERSIST, () => {
        const d = sock.recv();
        if (d === null) return;
        if (d.length === 0) {
          sawEnd = true;
          ev.del();
          sock.close();
          return;
        }
        sock.send(d);
      });
      ev.add();
      const data = patternBytes(1024 * 1024, 5);
      const loop = base.dispatch();
      const reader = readAll(c);
      await writeAll(c, data);
      await c.closeWrite();
      const back = await reader;
      assert.ok(back.length === data.length && back.every((v, i) => v === data[i]));
      assert.equal(await loop, 1);
      assert.equal(sawEnd, true);
      c.close();
      listener.close();
      base.free();
    } finally {
      setFastIo(true);
    }
  });

  Deno.test(`${path}: an HTTP server answers a request`, async () => {
    setFastIo(direct);
    try {
      await withServer((http) => {
        http.setCb("/x", (req) => req.sendReply(200, "OK", "x"));
      }, async ({ port }) => {
        const r = await exchange(port, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert.equal(r!.status, 200);
        assert.equal(r!.text, "x");
      });
    } finally {
      setFastIo(true);
    }
  });
}
