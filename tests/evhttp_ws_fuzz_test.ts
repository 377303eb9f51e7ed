// Seeded (reproducible) mutation fuzz of the WebSocket layer: frame streams with bytes flipped,
// dropped, inserted and cut, read by the frame codec split at random points, and sent to a live
// server session. The codec must yield frames, wait for more, or refuse with a close code; the
// server must answer with frames and a close (or keep the session), never throw, and keep serving.
import assert from "node:assert/strict";
import { Evbuffer } from "../bufferevent/mod.ts";
import { evwsNewSession, WS_TEXT_FRAME } from "../evhttp/mod.ts";
import { readFrame, WsFrameError } from "../evhttp/_ws_frame.ts";
import { EVENT_LOG_ERR } from "../reactor/mod.ts";
import { RawClient, withServer } from "./_evhttp_helpers.ts";
import { concat, prng } from "./_helpers.ts";
import { closeCode, frame, FrameReader, HANDSHAKE } from "./_ws_helpers.ts";

const enc = new TextEncoder();

/** A valid client stream: text, binary, fragments, control frames, a close at the end. */
function validStream(rnd: () => number): Uint8Array {
  const parts: Uint8Array[] = [];
  const n = 1 + Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) {
    const kind = Math.floor(rnd() * 5);
    const size = [0, 5, 125, 126, 300, 70_000][Math.floor(rnd() * 6)]!;
    const payload = new Uint8Array(size).map((_, j) => 0x61 + (j % 26));
    if (kind === 0) parts.push(frame(1, payload));
    else if (kind === 1) parts.push(frame(2, payload));
    else if (kind === 2) parts.push(frame(9, payload.subarray(0, Math.min(size, 125))));
    else if (kind === 3) {
      parts.push(frame(1, "frag", false), frame(9, "p"), frame(0, "ment", false), frame(0, "ed"));
    } else parts.push(frame(10, "unsolicited pong"));
  }
  parts.push(frame(8, new Uint8Array([0x03, 0xe8, ...enc.encode("bye")])));
  return concat(...parts);
}

function mutate(b: Uint8Array, rnd: () => number): Uint8Array {
  const out = [...b];
  const edits = 1 + Math.floor(rnd() * 4);
  for (let e = 0; e < edits && out.length > 0; e++) {
    const at = Math.floor(rnd() * out.length);
    const op = Math.floor(rnd() * 4);
    if (op === 0) out[at] = Math.floor(rnd() * 256);
    else if (op === 1) out[at]! ^= 1 << Math.floor(rnd() * 8);
    else if (op === 2) out.splice(at, 1 + Math.floor(rnd() * 8));
    else out.splice(at, 0, Math.floor(rnd() * 256));
  }
  if (rnd() < 0.2) out.length = Math.floor(rnd() * out.length);
  return new Uint8Array(out);
}

Deno.test("fuzz: the frame codec yields frames, waits, or refuses with a close code", () => {
  const rnd = prng(0x3b5);
  let frames = 0;
  let refused = 0;
  for (let c = 0; c < 2000; c++) {
    const input = c % 5 === 0 ? validStream(rnd) : mutate(validStream(rnd), rnd);
    const buf = new Evbuffer();
    let off = 0;
    try {
      while (off < input.length) {
        const n = 1 + Math.floor(rnd() * 200);
        buf.add(input.subarray(off, off + n));
        off += n;
        for (let f = readFrame(buf, true, 100_000); f !== null; f = readFrame(buf, true, 100_000)) {
          assert.ok(f.payload.length <= 100_000);
          if (f.opcode >= 8) assert.ok(f.fin && f.payload.length <= 125, "control frame rules");
          frames++;
        }
      }
    } catch (e) {
      if (!(e instanceof WsFrameError)) throw e;
      assert.ok([1002, 1009].includes(e.code), `code ${e.code}`);
      refused++;
    }
    buf.free();
  }
  assert.ok(frames > 2000, `frames ${frames}`);
  assert.ok(refused > 200, `refused ${refused}`);
});

Deno.test("fuzz: a live session answers mutated streams with frames and a close, and keeps serving", async () => {
  const rnd = prng(0x77e5);
  const errors: string[] = [];
  await withServer((http, base) => {
    base.setLogCallback((sev, msg) => {
      if (sev >= EVENT_LOG_ERR) errors.push(msg);
    });
    http.setCb("/ws", (req) => {
      const ws = evwsNewSession(req, (evws, type, data) => {
        if (type === WS_TEXT_FRAME) evws.sendText(new TextDecoder().decode(data));
        else evws.sendBinary(data);
      });
      ws?.setMaxMessageSize(100_000);
    });
  }, async ({ port }) => {
    const closes = new Map<number, number>();
    const one = async (input: Uint8Array): Promise<void> => {
      const c = await RawClient.connect(port);
      const r = new FrameReader(c.conn);
      try {
        await c.send(HANDSHAKE);
        await r.head();
        for (let off = 0; off < input.length;) {
          const n = 1 + Math.floor(rnd() * 4096);
          await c.send(input.subarray(off, off + n)).catch(() => {});
          off += n;
        }
        // Frames until the server's close (then its EOF), or until the stream simply stops.
        await c.conn.closeWrite().catch(() => {});
        for (let f = await r.frame(); f !== null; f = await r.frame()) {
          assert.ok([1, 2, 8, 10].includes(f.opcode), `opcode ${f.opcode}`);
          if (f.opcode === 8) {
            const code = closeCode(f.payload);
            // Ours (1002, 1007, 1009), an empty close (1005), or the peer's own valid code
            // echoed (RFC 6455 §5.5.1): never a code that may not be sent.
            const sendable = (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) ||
              (code >= 3000 && code <= 4999);
            assert.ok(code === 1005 || sendable, `close ${code}`);
            closes.set(code, (closes.get(code) ?? 0) + 1);
          }
        }
      } finally {
        c.close();
      }
    };
    for (let batch = 0; batch < 12; batch++) {
      const jobs: Promise<void>[] = [];
      for (let k = 0; k < 8; k++) jobs.push(one(mutate(validStream(rnd), rnd)));
      await Promise.all(jobs);
    }
    assert.ok((closes.get(1002) ?? 0) > 5, `1002s: ${closes.get(1002)}`);
    // Still serving: a clean session echoes.
    const c = await RawClient.connect(port);
    const r = new FrameReader(c.conn);
    try {
      await c.send(HANDSHAKE);
      await r.head();
      await c.send(frame(1, "still here"));
      const f = await r.frame();
      assert.equal(new TextDecoder().decode(f?.payload), "still here");
    } finally {
      c.close();
    }
    assert.deepEqual(errors, []);
  });
});
