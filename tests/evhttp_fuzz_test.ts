// Hostile input for the HTTP code: seeded mutations of valid requests, chunked bodies and
// responses fed to the parsers (never a throw; every accepted head obeys the framing rules; every
// refusal is an HTTP status), then sent to a real server over sockets (each answered with
// well-formed responses or a close; nothing logged as thrown; the server keeps serving).
import assert from "node:assert/strict";
import {
  ChunkedDecoder,
  findHeadEnd,
  memoRequestHead,
  parseRequestHead,
  parseResponseHead,
  replayRequestHead,
  RequestHead,
  ResponseHead,
} from "../evhttp/_parser.ts";
import { EV_TIMEOUT, EVENT_LOG_ERR, EventBase, EvError } from "../reactor/mod.ts";
import { EVHTTP_REQ_POST, evhttpFetch } from "../evhttp/mod.ts";
import { latin1, prng } from "./_helpers.ts";
import { exchange, RawClient, withServer } from "./_evhttp_helpers.ts";

const REQUESTS = [
  "GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
  "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
  "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nT: v\r\n\r\n",
  "PUT /a%20b HTTP/1.1\r\nHost: h:8080\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
  "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
];

/** Bytes that sit on the parsers' decision points. */
const SPECIAL = [0, 9, 10, 13, 32, 0x22, 0x25, 0x2c, 0x2f, 0x3a, 0x3b, 0x3f, 0x7f, 0x80, 0xff];

/** One to four random edits: replace, insert, delete, duplicate a span, or truncate. */
function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
  let b = Array.from(src);
  const edits = 1 + Math.floor(rnd() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rnd() * (b.length + 1));
    const byte = rnd() < 0.6
      ? SPECIAL[Math.floor(rnd() * SPECIAL.length)]!
      : Math.floor(rnd() * 256);
    const op = rnd();
    if (op < 0.35 && at < b.length) b[at] = byte;
    else if (op < 0.6) b.splice(at, 0, byte);
    else if (op < 0.8 && at < b.length) b.splice(at, 1 + Math.floor(rnd() * 3));
    else if (op < 0.95) {
      const len = 1 + Math.floor(rnd() * 24);
      b.splice(at, 0, ...b.slice(at, at + len));
    } else b = b.slice(0, at);
  }
  return Uint8Array.from(b);
}

function hasByte(s: string, ...codes: number[]): boolean {
  for (let i = 0; i < s.length; i++) if (codes.includes(s.charCodeAt(i))) return true;
  return false;
}

Deno.test("fuzz: mutated request heads parse or are refused with a status, never throw", () => {
  const rnd = prng(0x5eed1);
  const head = new RequestHead();
  const replayed = new RequestHead();
  const seen = new Map<number, number>();
  for (let i = 0; i < 20_000; i++) {
    const input = mutate(latin1(REQUESTS[i % REQUESTS.length]!), rnd);
    const end = findHeadEnd(input, 0);
    if (end < 0) continue;
    assert.ok(end <= input.length);
    const code = parseRequestHead(input, 0, end, head);
    seen.set(code, (seen.get(code) ?? 0) + 1);
    if (code !== 0) {
      assert.ok([400, 501, 505].includes(code), `status ${code} for ${JSON.stringify(input)}`);
      assert.notEqual(head.errorReason, "");
      continue;
    }
    // Accepted: the smuggling rules hold for whatever the mutation produced.
    // (Spaces inside the target are tolerated, as libevent does: first and last SP split.)
    assert.ok(head.uri.length > 0 && !hasByte(head.uri, 0, 10, 13), JSON.stringify(head.uri));
    assert.ok(!(head.chunked && head.contentLength >= 0), "TE and CL together");
    assert.ok(Number.isSafeInteger(head.contentLength) && head.contentLength >= -1);
    assert.ok(head.major === 1 && (head.minor === 0 || head.minor === 1));
    for (const [k, v] of head.headers) {
      assert.ok(k.length > 0 && !hasByte(k, 0, 9, 10, 13, 32, 0x3a), `name ${JSON.stringify(k)}`);
      assert.ok(!hasByte(v, 0, 10, 13), `value ${JSON.stringify(v)}`);
    }
    // Replaying the same bytes gives the same request.
    memoRequestHead(input, 0, end, head);
    assert.equal(replayRequestHead(input, 0, input.length, replayed), end);
    assert.equal(replayed.method, head.method);
    assert.equal(replayed.uri, head.uri);
    assert.equal(replayed.contentLength, head.contentLength);
    assert.equal(replayed.chunked, head.chunked);
    assert.deepEqual([...replayed.headers], [...head.headers]);
  }
  // The mutations reach both outcomes in quantity (the test exercises the refusals).
  assert.ok((seen.get(0) ?? 0) > 1000, `accepted: ${seen.get(0)}`);
  assert.ok((seen.get(400) ?? 0) > 1000, `400s: ${seen.get(400)}`);
});

Deno.test("fuzz: mutated chunked bodies, split anywhere, decode or fail with a status", () => {
  const rnd = prng(0x5eed2);
  const body = latin1("5;a=b\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\n");
  let done = 0;
  let failed = 0;
  for (let i = 0; i < 10_000; i++) {
    const input = mutate(body, rnd);
    const dec = new ChunkedDecoder({ maxBodySize: 64, maxTrailerSize: 256 });
    let p = 0;
    let data = 0;
    while (p < input.length && !dec.done && dec.error === 0) {
      const to = Math.min(input.length, p + 1 + Math.floor(rnd() * 16));
      const used = dec.feed(input, p, to);
      assert.ok(used >= 0 && used <= to - p);
      for (let k = 0; k < dec.count; k++) {
        assert.ok(p <= dec.starts[k]! && dec.starts[k]! <= dec.ends[k]! && dec.ends[k]! <= to);
        data += dec.ends[k]! - dec.starts[k]!;
      }
      if (used === 0 && !dec.done && dec.error === 0) assert.fail("no progress");
      p += used;
    }
    if (dec.error !== 0) {
      assert.ok([400, 413, 431].includes(dec.error), `error ${dec.error}`);
      failed++;
    } else if (dec.done) {
      assert.equal(dec.bodyLength, data);
      assert.ok(data <= 64);
      done++;
    }
  }
  assert.ok(done > 500 && failed > 500, `done ${done}, failed ${failed}`);
});

Deno.test("fuzz: mutated response heads parse or are refused, never throw", () => {
  const rnd = prng(0x5eed3);
  const src = latin1(
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n" +
      "Transfer-Encoding: chunked\r\nX-Fold: a\r\n b\r\n\r\n",
  );
  const head = new ResponseHead();
  let ok = 0;
  for (let i = 0; i < 10_000; i++) {
    const input = mutate(src, rnd);
    const end = findHeadEnd(input, 0);
    if (end < 0) continue;
    const code = parseResponseHead(input, 0, end, head);
    assert.ok(code === 0 || code === 400, `code ${code}`);
    if (code === 0) ok++;
  }
  assert.ok(ok > 500, `accepted: ${ok}`);
});

const ANSWERS = [100, 200, 400, 404, 405, 413, 414, 417, 431, 501, 505];

Deno.test("fuzz: a server answers mutated requests with statuses or a close, and keeps serving", async () => {
  const rnd = prng(0x5eed4);
  const thrown: string[] = [];
  await withServer((http, base) => {
    base.setLogCallback((sev, msg) => {
      if (sev >= EVENT_LOG_ERR) thrown.push(msg);
    });
    http.setMaxBodySize(64);
    http.setMaxHeadersSize(512);
    http.setTimeout(2000);
    http.setCb("/a", (req) => {
      const n = req.getInputBuffer().length;
      req.sendReply(200, "OK", req.getCommand() === EVHTTP_REQ_POST ? `got ${n}\n` : "a\n");
    });
  }, async ({ port }) => {
    const statuses = new Map<number, number>();
    /** Sends `input` in random pieces; returns the statuses answered, in order. */
    const one = async (input: Uint8Array): Promise<number[]> => {
      const c = await RawClient.connect(port);
      const got: number[] = [];
      try {
        for (let off = 0; off < input.length;) {
          const n = 1 + Math.floor(rnd() * input.length);
          await c.send(input.subarray(off, off + n));
          off += n;
        }
        // The peer is done: the server answers what it has, then closes (no read timeout).
        await c.conn.closeWrite().catch(() => {});
        const timer = setTimeout(() => c.close(), 5000);
        try {
          // Each response must parse whole (status line, fields, framed body) until the close.
          for (let r = await c.response(); r !== null; r = await c.response()) {
            assert.ok(ANSWERS.includes(r.status), `status ${r.status}`);
            statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
            got.push(r.status);
          }
        } finally {
          clearTimeout(timer);
        }
      } finally {
        c.close();
      }
      return got;
    };
    const valid = latin1(REQUESTS[0]!);
    for (let batch = 0; batch < 30; batch++) {
      const jobs: Promise<void>[] = [];
      for (let k = 0; k < 10; k++) {
        const bad = mutate(latin1(REQUESTS[(batch * 10 + k) % 4]!.replace("/a%20b", "/a")), rnd);
        if (k % 2 === 0) {
          jobs.push(one(bad).then(() => {}));
          continue;
        }
        // A valid request pipelined before the garbage is still answered, first.
        const both = new Uint8Array(valid.length + bad.length);
        both.set(valid);
        both.set(bad, valid.length);
        jobs.push(one(both).then((got) => assert.equal(got[0], 200, `got ${got}`)));
      }
      await Promise.all(jobs);
    }
    assert.ok((statuses.get(200) ?? 0) > 10, `200s: ${statuses.get(200)}`);
    assert.ok((statuses.get(400) ?? 0) > 10, `400s: ${statuses.get(400)}`);
    // Still serving, and nothing escaped as an exception.
    const r = await exchange(port, "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert.equal(r?.status, 200);
    assert.deepEqual(thrown, []);
  });
});

const RESPONSES = [
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX: y\r\n\r\n",
  "HTTP/1.0 200 OK\r\nX-Fold: a\r\n b\r\n\r\nclose-delimited body",
  'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: "e"\r\n\r\n',
];

Deno.test("fuzz: the client turns mutated responses into a response or an EvError", async () => {
  const rnd = prng(0x5eed5);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const replies: Uint8Array[] = [];
  const served: Promise<void>[] = [];
  // Each connection: read the request head, send the next mutated reply, close.
  const accepting = (async () => {
    for await (const c of listener) {
      const reply = replies.shift()!;
      served.push((async () => {
        const buf = new Uint8Array(4096);
        let got = "";
        try {
          while (!got.includes("\r\n\r\n")) {
            const n = await c.read(buf);
            if (n === null) break;
            got += new TextDecoder().decode(buf.subarray(0, n));
          }
          let off = 0;
          while (off < reply.length) off += await c.write(reply.subarray(off));
        } catch { /* the client gave up */ }
        try {
          c.close();
        } catch { /* closed */ }
      })());
    }
  })();
  const base = new EventBase();
  const thrown: string[] = [];
  base.setLogCallback((sev, msg) => {
    if (sev >= EVENT_LOG_ERR) thrown.push(msg);
  });
  // Keeps the loop running between requests (it ends when nothing is pending otherwise).
  base.once(null, EV_TIMEOUT, () => {}, undefined, 600_000);
  const loop = base.dispatch();
  const outcomes = { ok: 0, failed: 0 };
  try {
    for (let i = 0; i < 300; i++) {
      replies.push(mutate(latin1(RESPONSES[i % RESPONSES.length]!), rnd));
      try {
        const res = await evhttpFetch(base, `http://127.0.0.1:${port}/x`, {
          timeoutMs: 2000,
          maxBodySize: 1024,
        });
        assert.ok(res.status >= 100 && res.status <= 999, `status ${res.status}`);
        outcomes.ok++;
      } catch (e) {
        assert.ok(e instanceof EvError, `not an EvError: ${e}`);
        outcomes.failed++;
      }
    }
  } finally {
    listener.close();
    await accepting;
    await Promise.all(served);
    base.loopbreak();
    await loop;
    base.free();
  }
  assert.ok(outcomes.ok > 30 && outcomes.failed > 30, JSON.stringify(outcomes));
  assert.deepEqual(thrown, []);
});
