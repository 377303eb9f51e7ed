// HTTP/1.x head parser and chunked decoder: one case per rule (DESIGN.md's "RFC wins" table),
// split-at-every-offset streams, limits.
import assert from "node:assert/strict";
import {
  ChunkedDecoder,
  drainEmptyLines,
  findHeadEnd,
  headLimitStatus,
  memoRequestHead,
  parseRequestHead,
  parseResponseHead,
  replayRequestHead,
  RequestHead,
  ResponseHead,
  skipEmptyLines,
} from "../evhttp/_parser.ts";
import {
  EVHTTP_REQ_CONNECT,
  EVHTTP_REQ_GET,
  EVHTTP_REQ_MOVE,
  EVHTTP_REQ_OPTIONS,
  EVHTTP_REQ_PATCH,
  EVHTTP_REQ_POST,
  evhttpMethodFromName,
  evhttpMethodName,
} from "../evhttp/constants.ts";
import { reasonPhrase, STATUS_TEXT, statusAllowsBody } from "../evhttp/status.ts";
import { formatImfDate, httpDate } from "../evhttp/_date.ts";
import { latin1 } from "./_helpers.ts";
import { Evbuffer } from "../bufferevent/evbuffer.ts";

const bytes = latin1;

function req(s: string): { code: number; head: RequestHead } {
  const b = bytes(s);
  const head = new RequestHead();
  const end = findHeadEnd(b, 0);
  assert.notEqual(end, -1, `head not complete: ${JSON.stringify(s)}`);
  return { code: parseRequestHead(b, 0, end, head), head };
}

function code(s: string): number {
  return req(s).code;
}

const GET = "GET / HTTP/1.1\r\nHost: x\r\n";

Deno.test("parseRequestHead parses a request line, fields and framing facts", () => {
  const { code: c, head } = req(
    "POST /a/b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 12\r\n" +
      "X-Spaces: \t padded value \t\r\nAccept: */*\r\n\r\n",
  );
  assert.equal(c, 0, head.errorReason);
  assert.equal(head.method, EVHTTP_REQ_POST);
  assert.equal(head.methodName, "POST");
  assert.equal(head.uri, "/a/b?x=1");
  assert.equal(head.major, 1);
  assert.equal(head.minor, 1);
  assert.equal(head.host, "example.com:8080");
  assert.equal(head.contentLength, 12);
  assert.equal(head.chunked, false);
  assert.equal(head.requestLineLength, 22);
  assert.deepEqual([...head.headers], [
    ["Host", "example.com:8080"],
    ["Content-Length", "12"],
    ["X-Spaces", "padded value"],
    ["Accept", "*/*"],
  ]);
  assert.equal(head.headers.find("x-spaces"), "padded value");
});

Deno.test("parseRequestHead accepts bare LF line endings and leading empty lines", () => {
  const { code: c, head } = req("\r\n\nGET /lf HTTP/1.0\nHost: h\nX: y\n\n");
  assert.equal(c, 0);
  assert.equal(head.uri, "/lf");
  assert.equal(head.minor, 0);
  assert.equal(head.headers.find("x"), "y");
});

Deno.test("parseRequestHead keeps libevent's tolerances", () => {
  // Trailing space after the version (libevent basic_trailing_space).
  assert.equal(code("GET /test HTTP/1.1 \r\nHost: x\r\n\r\n"), 0);
  // A target containing a space (libevent simple_nonconformant).
  const r = req("GET /test nonconformant HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(r.code, 0);
  assert.equal(r.head.uri, "/test nonconformant");
  // Absolute-form target.
  assert.equal(
    req("GET http://somehost.net/test HTTP/1.1\r\nHost: x\r\n\r\n").head.uri,
    "http://somehost.net/test",
  );
  // Unknown header names and empty values.
  assert.equal(
    req("GET / HTTP/1.1\r\nX-Empty:\r\nHost: x\r\n\r\n").head.headers.find("x-empty"),
    "",
  );
});

Deno.test("parseRequestHead: request-line errors", () => {
  const cases: [string, number][] = [
    ["illegal request\r\n\r\n", 400], // libevent's `failure` test
    ["GET /\r\n\r\n", 400], // no version
    ["GET / http/1.1\r\n\r\n", 400],
    ["GET / HTTP/1.10\r\n\r\n", 400],
    ["GET / HTTP/1\r\n\r\n", 400],
    ["GET / HTTP/x.1\r\n\r\n", 400],
    [" GET / HTTP/1.1\r\n\r\n", 400],
    ["GET  / HTTP/1.1\r\n\r\n", 400], // double space before the target
    ["GET /  HTTP/1.1\r\n\r\n", 400], // double space after the target
    ["G(T / HTTP/1.1\r\n\r\n", 400], // not a token
    ["GET /a\x00b HTTP/1.1\r\n\r\n", 400], // NUL in the target
    ["GET /a\tb HTTP/1.1\r\n\r\n", 400],
    ["GET /a\x7fb HTTP/1.1\r\n\r\n", 400],
    ["GET * HTTP/1.1\r\n\r\n", 400], // asterisk-form is for OPTIONS only
    ["CONNECT /path HTTP/1.1\r\n\r\n", 400], // CONNECT needs authority-form
    ["CONNECT example.com HTTP/1.1\r\n\r\n", 400], // … with a port
    ["GET h%3ttp://x/ HTTP/1.1\r\n\r\n", 400], // neither origin- nor absolute-form
    ["GET /x HTTP/1.1\rX: y\r\n\r\n", 400], // bare CR in the request line
  ];
  for (const [s, want] of cases) assert.equal(code(s), want, JSON.stringify(s));
});

Deno.test("parseRequestHead: HTTP/0.9 and versions other than 1.0/1.1 get 505", () => {
  for (const v of ["HTTP/0.9", "HTTP/2.0", "HTTP/1.2", "HTTP/3.0", "HTTP/2"]) {
    const r = req(`GET / ${v}\r\nHost: x\r\n\r\n`);
    assert.equal(r.code, 505, v);
  }
  assert.equal(code("PRI * HTTP/2.0\r\n\r\n"), 505);
});

Deno.test("parseRequestHead: asterisk-form and authority-form targets", () => {
  const o = req("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(o.code, 0);
  assert.equal(o.head.method, EVHTTP_REQ_OPTIONS);
  const c = req("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  assert.equal(c.code, 0);
  assert.equal(c.head.method, EVHTTP_REQ_CONNECT);
  assert.equal(c.head.uri, "example.com:443");
  assert.equal(code("CONNECT [::1]:8080 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
});

Deno.test("parseRequestHead: unknown method token → 501 with the head parsed", () => {
  const r = req("FLOOP /x HTTP/1.1\r\nHost: h\r\nX: 1\r\n\r\n");
  assert.equal(r.code, 501);
  assert.equal(r.head.method, 0);
  assert.equal(r.head.methodName, "FLOOP");
  assert.equal(r.head.headers.find("x"), "1");
  // Methods are case-sensitive.
  assert.equal(code("get / HTTP/1.1\r\nHost: h\r\n\r\n"), 501);
  // A malformed head still gets 400 even with an unknown method.
  assert.equal(code("FLOOP /x HTTP/1.1\r\nBad Name: 1\r\n\r\n"), 400);
});

Deno.test("parseRequestHead: field syntax errors → 400", () => {
  const cases: [string, string][] = [
    ["Host : x\r\n", "whitespace between name and colon"],
    ["Host\t: x\r\n", "tab between name and colon"],
    ["X: a\x00b\r\n", "NUL in value"],
    ["X: a\rb\r\n", "bare CR in value"],
    ["X: a\x01b\r\n", "control character in value"],
    ["X: a\x7fb\r\n", "DEL in value"],
    ["X: a\r\n b\r\n", "obs-fold"],
    ["X: a\r\n\tb\r\n", "obs-fold with tab"],
    [" X: a\r\n", "leading whitespace (fold with nothing to continue)"],
    ["X@Y: a\r\n", "bad token char in name"],
    ["X Y: a\r\n", "space in name"],
    ["NoColon\r\n", "missing colon"],
    [": empty\r\n", "empty name"],
    ["Ü: x\r\n", "non-ASCII name"],
  ];
  for (const [line, why] of cases) {
    assert.equal(code(`GET / HTTP/1.1\r\nHost: x\r\n${line}\r\n`), 400, why);
  }
});

Deno.test("parseRequestHead: field values keep obs-text, decoded as UTF-8 or Latin-1", () => {
  const utf8 = String.fromCharCode(...new TextEncoder().encode("café"));
  assert.equal(req(`${GET}X: ${utf8}\r\n\r\n`).head.headers.find("x"), "café");
  assert.equal(req(`${GET}X: caf\xe9\r\n\r\n`).head.headers.find("x"), "caf\xe9");
  const long = "v".repeat(300);
  assert.equal(req(`${GET}X: ${long}\r\n\r\n`).head.headers.find("x"), long);
});

Deno.test("parseRequestHead: Content-Length rules", () => {
  const r = req(`${GET}Content-Length: 0042\r\n\r\n`);
  assert.equal(r.code, 0);
  assert.equal(r.head.contentLength, 42);
  assert.equal(req(`${GET}\r\n`).head.contentLength, -1);
  assert.equal(req(`${GET}Content-Length: 5\r\nContent-Length: 5\r\n\r\n`).head.contentLength, 5);
  for (const v of ["abc", "-1", "+1", "1 2", "5, 5", "0x10", "1.0", "9999999999999999"]) {
    assert.equal(code(`${GET}Content-Length: ${v}\r\n\r\n`), 400, v);
  }
  assert.equal(code(`${GET}Content-Length:\r\n\r\n`), 400);
  assert.equal(code(`${GET}Content-Length: 5\r\nContent-Length: 6\r\n\r\n`), 400);
});

Deno.test("parseRequestHead: Transfer-Encoding rules", () => {
  const ok = (te: string) => {
    const r = req(`${GET}Transfer-Encoding: ${te}\r\n\r\n`);
    assert.equal(r.code, 0, te);
    assert.equal(r.head.chunked, true);
    assert.equal(r.head.contentLength, -1);
  };
  ok("chunked");
  ok("Chunked");
  ok(" CHUNKED ");
  const cases: [string, number][] = [
    ["Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400], // TE + CL
    ["Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400],
    ["Transfer-Encoding: gzip\r\n", 400], // not ending in chunked
    ["Transfer-Encoding: chunked, gzip\r\n", 400],
    ["Transfer-Encoding: identity\r\n", 400],
    ["Transfer-Encoding: chunked, chunked\r\n", 400], // chunked twice
    ["Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400],
    ["Transfer-Encoding: gzip, chunked\r\n", 501], // coding we do not implement
    ["Transfer-Encoding: foo, chunked\r\n", 501], // unknown coding
    ["Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", 501],
    ["Transfer-Encoding:\r\n", 400],
  ];
  for (const [lines, want] of cases) {
    assert.equal(code(`${GET}${lines}\r\n`), want, JSON.stringify(lines));
  }
  assert.equal(code("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
});

Deno.test("parseRequestHead: Connection, Expect and Host facts", () => {
  const h = (lines: string, v = "1.1") => req(`GET / HTTP/${v}\r\nHost: x\r\n${lines}\r\n`).head;
  assert.equal(h("Connection: close\r\n").connectionClose, true);
  assert.equal(h("Connection: Close\r\n").connectionClose, true);
  assert.equal(h("Connection: upgrade, close\r\n").connectionClose, true);
  assert.equal(h("Connection: keep-alive\r\n").connectionKeepAlive, true);
  assert.equal(h("Connection: Keep-Alive, foo\r\n", "1.0").connectionKeepAlive, true);
  assert.equal(h("Connection: closed\r\n").connectionClose, false);
  assert.equal(h("").connectionClose, false);

  assert.equal(h("Expect: 100-continue\r\n").expectContinue, true);
  assert.equal(h("Expect: 100-Continue\r\n").expectContinue, true);
  const other = h("Expect: 101-continue\r\n");
  assert.equal(other.expectContinue, false);
  assert.equal(other.expectOther, true);
  // HTTP/1.0 expectations are ignored (RFC 9110 §10.1.1).
  const old = h("Expect: 100-continue\r\n", "1.0");
  assert.equal(old.expectContinue, false);
  assert.equal(old.expectOther, false);

  assert.equal(req("GET / HTTP/1.1\r\n\r\n").head.host, null);
  assert.equal(h("").host, "x");
  assert.equal(code(`${GET}Host: y\r\n\r\n`), 400); // two Host fields
  assert.equal(code("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400);
  assert.equal(code("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
  assert.equal(code("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"), 0);
  assert.equal(code("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 0);
});

Deno.test("findHeadEnd finds the blank line (CRLF, LF, mixed) or -1", () => {
  const f = (s: string, from = 0) => findHeadEnd(bytes(s), from);
  assert.equal(f("GET / HTTP/1.1\r\nA: b\r\n\r\nBODY"), 24);
  assert.equal(f("GET / HTTP/1.1\nA: b\n\nBODY"), 21);
  assert.equal(f("GET / HTTP/1.1\r\nA: b\n\r\n"), 23);
  assert.equal(f("GET / HTTP/1.1\r\nA: b\r\n\r"), -1);
  assert.equal(f("GET / HTTP/1.1\r\nA: b\r\n"), -1);
  assert.equal(f("GET / HTTP/1.1"), -1);
  assert.equal(f(""), -1);
  assert.equal(f("\r\n\r\n"), -1); // only empty lines: no head yet
  assert.equal(f("\r\nGET / HTTP/1.1\r\n\r\n"), 20);
  assert.equal(f("xxGET / HTTP/1.1\r\n\r\n", 2), 20);
  assert.equal(skipEmptyLines(bytes("\r\n\nX"), 0), 3);
  assert.equal(skipEmptyLines(bytes("\r\n\r"), 0), 2);
});

Deno.test("findHeadEnd resumes where a shorter view found nothing, at every split", () => {
  const heads = [
    "GET / HTTP/1.1\r\nA: b\r\n\r\nBODY",
    "GET / HTTP/1.1\nA: b\n\nBODY",
    "GET / HTTP/1.1\r\nA: b\n\r\nX",
    "GET / HTTP/1.1\r\nA: b\r\nC: \r\r\n\r\n",
    "\r\nGET /x HTTP/1.0\n\n",
    "GET / HTTP/1.1\r\nA: b\r\n",
  ];
  for (const h of heads) {
    const v = bytes(h);
    const whole = findHeadEnd(v, 0);
    for (let k = 0; k <= v.length; k++) {
      // What a read of k bytes saw; if it found nothing, the search resumes at k.
      const early = findHeadEnd(v, 0, k);
      const got = early >= 0 ? early : findHeadEnd(v, 0, v.length, k);
      assert.equal(got, whole, `${JSON.stringify(h)} split at ${k}`);
    }
  }
});

Deno.test("headLimitStatus: 414 for a long request line, 431 for a big head", () => {
  const long = bytes(`GET /${"a".repeat(100)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.equal(headLimitStatus(long, 0, findHeadEnd(long, 0), 50), 414);
  assert.equal(headLimitStatus(long, 0, -1, 50), 414);
  assert.equal(headLimitStatus(long, 0, findHeadEnd(long, 0), 1000), 0);
  assert.equal(headLimitStatus(long, 0, findHeadEnd(long, 0), -1), 0);
  const partialLine = bytes(`GET /${"a".repeat(100)}`);
  assert.equal(headLimitStatus(partialLine, 0, -1, 50), 414);
  assert.equal(headLimitStatus(partialLine, 0, -1, 500), 0);
  const big = bytes(`GET / HTTP/1.1\r\nX: ${"b".repeat(100)}\r\n\r\n`);
  assert.equal(headLimitStatus(big, 0, findHeadEnd(big, 0), 50), 431);
  assert.equal(headLimitStatus(big, 0, -1, 50), 431);
  // Line endings do not count (libevent): 14 + 7 bytes of lines with a 21-byte limit.
  const exact = bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(headLimitStatus(exact, 0, findHeadEnd(exact, 0), 21), 0);
  assert.equal(headLimitStatus(exact, 0, findHeadEnd(exact, 0), 20), 431);
});

// ---------------------------------------------------------------------------
// Streams split at every offset

interface Parsed {
  code: number;
  method: number;
  uri: string;
  headers: [string, string][];
  body: string;
  trailers: [string, string][];
}

/**
 * A minimal server-side reader: feeds chunks in order, finds heads, reads CL and chunked bodies,
 * and records every message. Mirrors how the server uses the parser on its input buffer.
 */
function readStream(chunks: Uint8Array[]): Parsed[] {
  let buf = new Uint8Array(0);
  const out: Parsed[] = [];
  const head = new RequestHead();
  let state: "head" | "cl" | "chunked" = "head";
  let remaining = 0;
  let body: number[] = [];
  const dec = new ChunkedDecoder();
  let cur: Parsed | null = null;
  for (const chunk of chunks) {
    const joined = new Uint8Array(buf.length + chunk.length);
    joined.set(buf);
    joined.set(chunk, buf.length);
    buf = joined;
    let pos = 0;
    for (;;) {
      if (state === "head") {
        const end = findHeadEnd(buf, pos);
        if (end < 0) break;
        const c = parseRequestHead(buf, pos, end, head);
        cur = {
          code: c,
          method: head.method,
          uri: head.uri,
          headers: [...head.headers],
          body: "",
          trailers: [],
        };
        pos = end;
        body = [];
        if (c !== 0) {
          out.push(cur);
          return out;
        }
        if (head.chunked) {
          state = "chunked";
          dec.reset();
        } else if (head.contentLength > 0) {
          state = "cl";
          remaining = head.contentLength;
        } else {
          out.push(cur);
        }
      } else if (state === "cl") {
        const n = Math.min(remaining, buf.length - pos);
        for (let i = 0; i < n; i++) body.push(buf[pos + i]);
        pos += n;
        remaining -= n;
        if (remaining > 0) break;
        cur!.body = String.fromCharCode(...body);
        out.push(cur!);
        state = "head";
      } else {
        const used = dec.feed(buf, pos, buf.length);
        for (let i = 0; i < dec.count; i++) body.push(...dec.data(buf, i));
        pos += used;
        if (dec.error !== 0) throw new Error(dec.errorReason);
        if (!dec.done) break;
        cur!.body = String.fromCharCode(...body);
        cur!.trailers = [...dec.trailers];
        out.push(cur!);
        state = "head";
      }
    }
    buf = buf.slice(pos);
  }
  return out;
}

const PIPELINE = bytes(
  "GET /first?a=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n" +
    "POST /second HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world" +
    "\r\nPUT /third HTTP/1.1\nHost: example.com\nTransfer-Encoding: chunked\n\n" +
    "5;ext=1\r\nabcde\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n",
);

Deno.test("a pipelined stream of 3 requests parses identically at every split offset", () => {
  const whole = readStream([PIPELINE]);
  assert.equal(whole.length, 3);
  assert.deepEqual(whole.map((p) => [p.code, p.method, p.uri, p.body]), [
    [0, EVHTTP_REQ_GET, "/first?a=1", ""],
    [0, EVHTTP_REQ_POST, "/second", "hello world"],
    [0, 8, "/third", "abcde0123456789"],
  ]);
  assert.deepEqual(whole[2].trailers, [["X-Trailer", "yes"]]);
  for (let k = 0; k <= PIPELINE.length; k++) {
    const split = readStream([PIPELINE.subarray(0, k), PIPELINE.subarray(k)]);
    assert.deepEqual(split, whole, `split at ${k}`);
  }
  for (let k = 1; k < PIPELINE.length; k += 7) {
    const three = readStream([
      PIPELINE.subarray(0, k),
      PIPELINE.subarray(k, k + 5),
      PIPELINE.subarray(k + 5),
    ]);
    assert.deepEqual(three, whole, `splits at ${k}, ${k + 5}`);
  }
  const bytewise: Uint8Array[] = [];
  for (let i = 0; i < PIPELINE.length; i++) bytewise.push(PIPELINE.subarray(i, i + 1));
  assert.deepEqual(readStream(bytewise), whole);
});

// ---------------------------------------------------------------------------
// ChunkedDecoder

function decodeAll(
  s: string | Uint8Array,
  opts = {},
): { data: string; used: number; dec: ChunkedDecoder } {
  const b = typeof s === "string" ? bytes(s) : s;
  const dec = new ChunkedDecoder(opts);
  const used = dec.feed(b, 0, b.length);
  let data = "";
  for (let i = 0; i < dec.count; i++) data += String.fromCharCode(...dec.data(b, i));
  return { data, used, dec };
}

Deno.test("ChunkedDecoder decodes chunks, extensions and trailers", () => {
  const body = "5\r\nhello\r\n6;name=value;x\r\n world\r\n1 ;ext\r\n!\r\n0\r\n\r\n";
  const r = decodeAll(body + "NEXT");
  assert.equal(r.data, "hello world!");
  assert.equal(r.used, body.length); // stops at the end of the body
  assert.equal(r.dec.done, true);
  assert.equal(r.dec.error, 0);
  assert.equal(r.dec.bodyLength, 12);
  assert.equal(r.dec.trailers.size, 0);

  const t = decodeAll("3\nabc\n0\nX-A: 1\nX-B:  two \n\n");
  assert.equal(t.data, "abc");
  assert.equal(t.dec.done, true);
  assert.deepEqual([...t.dec.trailers], [["X-A", "1"], ["X-B", "two"]]);
  assert.equal(decodeAll("a\r\n0123456789\r\n0\r\n\r\n").data, "0123456789");
  assert.equal(decodeAll("A\r\n0123456789\r\n0\r\n\r\n").data, "0123456789");
  assert.equal(decodeAll("0005\r\nhello\r\n0\r\n\r\n").data, "hello");
});

Deno.test("ChunkedDecoder rejects malformed sizes and framing", () => {
  const cases: [string, number][] = [
    ["0x5\r\nhello\r\n0\r\n\r\n", 400],
    ["+5\r\nhello\r\n0\r\n\r\n", 400],
    ["-5\r\nhello\r\n0\r\n\r\n", 400],
    [" 5\r\nhello\r\n0\r\n\r\n", 400],
    ["\r\nhello\r\n0\r\n\r\n", 400], // empty size
    [";ext\r\n", 400],
    ["5x\r\nhello\r\n0\r\n\r\n", 400],
    ["5\rhello", 400], // bare CR
    ["5\r\nhelloXX0\r\n\r\n", 400], // no CRLF after data
    ["5\r\nhello\rX", 400],
    ["20000000000000\r\n", 400], // beyond 2^53
    ["FFFFFFFFFFFFFFFFFFFF\r\n", 400],
    ["5;a\x00b\r\n", 400], // NUL in an extension
    ["0\r\nBad Name: x\r\n\r\n", 400], // malformed trailer
    ["0\r\nX: a\rb\r\n\r\n", 400],
    ["0\r\nX: a\r\n folded\r\n\r\n", 400],
  ];
  for (const [s, want] of cases) {
    const r = decodeAll(s);
    assert.equal(r.dec.error, want, JSON.stringify(s));
    assert.equal(r.dec.done, false);
    assert.notEqual(r.dec.errorReason, "");
  }
});

Deno.test("ChunkedDecoder enforces chunk, body and trailer limits", () => {
  assert.equal(decodeAll("11\r\n", { maxChunkSize: 16 }).dec.error, 413);
  assert.equal(decodeAll("10\r\n", { maxChunkSize: 16 }).dec.error, 0);
  const over = decodeAll("8\r\n12345678\r\n8\r\n12345678\r\n", { maxBodySize: 12 });
  assert.equal(over.dec.error, 413);
  assert.equal(over.data, "12345678");
  const trailer = "0\r\nX: " + "t".repeat(100) + "\r\n\r\n";
  assert.equal(decodeAll(trailer, { maxTrailerSize: 50 }).dec.error, 431);
  assert.equal(decodeAll(trailer).dec.done, true);
  assert.equal(decodeAll("1" + ";e".repeat(100) + "\r\n", { maxSizeLine: 64 }).dec.error, 400);
  assert.equal(
    decodeAll("0\r\nX: a\r\n folded\r\n\r\n", { allowFold: true }).dec.trailers.find("x"),
    "a folded",
  );
});

Deno.test("ChunkedDecoder handles input split at every offset and one byte at a time", () => {
  const body = bytes(
    "4;x=y\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n",
  );
  const whole = decodeAll(body);
  assert.equal(whole.data, "Wikipedia in\r\n\r\nchunks.");
  const run = (parts: Uint8Array[]) => {
    const dec = new ChunkedDecoder();
    let data = "";
    for (const part of parts) {
      const used = dec.feed(part, 0, part.length);
      assert.equal(used, part.length);
      for (let i = 0; i < dec.count; i++) data += String.fromCharCode(...dec.data(part, i));
    }
    assert.equal(dec.done, true);
    return { data, trailers: [...dec.trailers] };
  };
  const expected = { data: whole.data, trailers: [["Expires", "never"]] };
  for (let k = 0; k <= body.length; k++) {
    assert.deepEqual(run([body.subarray(0, k), body.subarray(k)]), expected, `split at ${k}`);
  }
  const single: Uint8Array[] = [];
  for (let i = 0; i < body.length; i++) single.push(body.subarray(i, i + 1));
  assert.deepEqual(run(single), expected);
});

Deno.test("ChunkedDecoder.reset starts a new body", () => {
  const dec = new ChunkedDecoder();
  const a = bytes("0\r\nT: 1\r\n\r\n");
  dec.feed(a, 0, a.length);
  assert.equal(dec.done, true);
  dec.reset();
  assert.equal(dec.done, false);
  assert.equal(dec.trailers.size, 0);
  const b = bytes("2\r\nhi\r\n0\r\n\r\n");
  assert.equal(dec.feed(b, 0, b.length), b.length);
  assert.equal(dec.done, true);
  assert.equal(dec.bodyLength, 2);
});

// ---------------------------------------------------------------------------
// Responses

function resp(s: string): { code: number; head: ResponseHead } {
  const b = bytes(s);
  const head = new ResponseHead();
  const end = findHeadEnd(b, 0);
  assert.notEqual(end, -1);
  return { code: parseResponseHead(b, 0, end, head), head };
}

Deno.test("parseResponseHead parses status lines, fields and framing", () => {
  const r = resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n");
  assert.equal(r.code, 0);
  assert.equal(r.head.code, 200);
  assert.equal(r.head.reason, "OK");
  assert.equal(r.head.contentLength, 5);
  assert.equal(r.head.connectionClose, true);
  const nf = resp("HTTP/1.0 404 Not Found Here\r\n\r\n");
  assert.equal(nf.head.minor, 0);
  assert.equal(nf.head.code, 404);
  assert.equal(nf.head.reason, "Not Found Here");
  assert.equal(nf.head.contentLength, -1);
  const noReason = resp("HTTP/1.1 204\r\n\r\n");
  assert.equal(noReason.code, 0);
  assert.equal(noReason.head.reason, "");
  assert.equal(resp("HTTP/1.1 200 \r\n\r\n").head.reason, "");
  // Clients join obs-fold lines (RFC 9112 §5.2).
  assert.equal(resp("HTTP/1.1 200 OK\r\nX: a\r\n  b\r\n\r\n").head.headers.find("x"), "a b");
  const ch = resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n");
  assert.equal(ch.head.chunked, true);
  assert.equal(ch.head.contentLength, -1);
  const gz = resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
  assert.equal(gz.head.chunked, false);
  assert.equal(gz.head.untilClose, true);
  assert.equal(
    resp("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n").head.connectionKeepAlive,
    true,
  );
});

Deno.test("parseResponseHead rejects malformed status lines and framing", () => {
  for (
    const s of [
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 abc OK\r\n\r\n",
      "HTTP/1.1 099 OK\r\n\r\n",
      "HTTP/2.0 200 OK\r\n\r\n",
      "FOO/1.1 200 OK\r\n\r\n",
      "HTTP/1.1  200 OK\r\n\r\n",
      "HTTP/1.1 200 O\x00K\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -100\r\n\r\n", // libevent negative_content_length
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\n folded-first: x\r\n\r\n",
    ]
  ) {
    const r = resp(s);
    assert.equal(r.code, 400, JSON.stringify(s));
    assert.notEqual(r.head.errorReason, "");
  }
});

// ---------------------------------------------------------------------------
// Caches must never change results

Deno.test("parseRequestHead: repeated, changed and invalid values past the value cache", () => {
  const v = (line: string) => req(`${GET}${line}\r\n\r\n`);
  assert.equal(v("X-Cache: abc").head.headers.find("x-cache"), "abc");
  assert.equal(v("X-Cache: abc").head.headers.find("x-cache"), "abc");
  assert.equal(v("X-Cache: abd").head.headers.find("x-cache"), "abd");
  assert.equal(v("X-Cache: abdabdabd").head.headers.find("x-cache"), "abdabdabd");
  assert.equal(v("X-Cache: abdabdab").head.headers.find("x-cache"), "abdabdab");
  assert.equal(v("X-Cache: abdabdab  ").head.headers.find("x-cache"), "abdabdab");
  assert.equal(v("X-Cache: abdabdab\x00").code, 400);
  assert.equal(v("X-Cache: abdabdab\rx").code, 400);
  assert.equal(v("X-Cache:").head.headers.find("x-cache"), "");
  assert.equal(v("X-Cache:").head.headers.find("x-cache"), "");
  assert.equal(v("X-Cache: a").head.headers.find("x-cache"), "a");
  assert.equal(v("x-cache: a").head.headers.keyAt(1), "x-cache");
  // Same bytes in another buffer at another offset.
  const b = bytes(`junk${GET}X-Cache: abdabdabd\r\n\r\n`);
  const head = new RequestHead();
  assert.equal(parseRequestHead(b, 4, findHeadEnd(b, 4), head), 0);
  assert.equal(head.headers.find("x-cache"), "abdabdabd");
});

// ---------------------------------------------------------------------------
// Method and status helpers, Date header

Deno.test("method names and bits round trip", () => {
  const names = [
    "GET",
    "POST",
    "HEAD",
    "PUT",
    "DELETE",
    "OPTIONS",
    "TRACE",
    "CONNECT",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "LOCK",
    "UNLOCK",
    "COPY",
    "MOVE",
  ];
  names.forEach((n, i) => {
    assert.equal(evhttpMethodName(1 << i), n);
    assert.equal(evhttpMethodFromName(n), 1 << i);
    assert.equal(evhttpMethodFromName(bytes(n)), 1 << i);
    assert.equal(evhttpMethodFromName(bytes(`x${n}y`), 1, n.length + 1), 1 << i);
  });
  assert.equal(EVHTTP_REQ_PATCH, 256);
  assert.equal(EVHTTP_REQ_MOVE, 1 << 15);
  assert.equal(evhttpMethodName(3), null);
  assert.equal(evhttpMethodName(0), null);
  assert.equal(evhttpMethodName(1 << 16), null);
  assert.equal(evhttpMethodFromName("get"), 0);
  assert.equal(evhttpMethodFromName("FLOOP"), 0);
  assert.equal(evhttpMethodFromName(bytes("GETX")), 0);
});

Deno.test("reason phrases: RFC 9110 text, class names otherwise", () => {
  assert.equal(reasonPhrase(200), "OK");
  assert.equal(reasonPhrase(413), "Content Too Large");
  assert.equal(reasonPhrase(414), "URI Too Long");
  assert.equal(reasonPhrase(431), "Request Header Fields Too Large");
  assert.equal(reasonPhrase(505), "HTTP Version Not Supported");
  assert.equal(reasonPhrase(307), "Temporary Redirect");
  assert.equal(reasonPhrase(199), "Informational");
  assert.equal(reasonPhrase(299), "Success");
  assert.equal(reasonPhrase(306), "Redirection");
  assert.equal(reasonPhrase(499), "Client Error");
  assert.equal(reasonPhrase(599), "Server Error");
  assert.equal(reasonPhrase(600), "Unknown Status Class");
  assert.equal(reasonPhrase(99), "Unknown Status Class");
  assert.equal(Object.isFrozen(STATUS_TEXT), true);
  assert.equal(statusAllowsBody(204), false);
  assert.equal(statusAllowsBody(304), false);
  assert.equal(statusAllowsBody(101), false);
  assert.equal(statusAllowsBody(200), true);
});

Deno.test("Date header: IMF-fixdate, one string per second", () => {
  assert.equal(formatImfDate(784111777000), "Sun, 06 Nov 1994 08:49:37 GMT");
  assert.equal(formatImfDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  const a = httpDate(784111777000);
  assert.equal(a, "Sun, 06 Nov 1994 08:49:37 GMT");
  assert.equal(httpDate(784111777999), a);
  assert.equal(httpDate(784111778000), "Sun, 06 Nov 1994 08:49:38 GMT");
  assert.match(httpDate(), /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
});

Deno.test("head memo: equal bytes replay the parse; any other byte, a shorter buffer or a long head do not", () => {
  const text = "GET /a?b=1 HTTP/1.1\r\nHost: x:8\r\nConnection: close\r\nX-N: 1\r\n\r\n";
  const b = bytes("junk" + text + "GET /next HTTP/1.1\r\n\r\n");
  const parsed = new RequestHead();
  const end = 4 + text.length;
  assert.equal(parseRequestHead(b, 4, end, parsed), 0);
  memoRequestHead(b, 4, end, parsed);

  const out = new RequestHead();
  assert.equal(replayRequestHead(b, 4, b.length, out), end);
  for (const k of ["method", "methodName", "uri", "major", "minor", "host", "connectionClose"]) {
    assert.equal(
      (out as unknown as Record<string, unknown>)[k],
      (parsed as unknown as Record<string, unknown>)[k],
      k,
    );
  }
  assert.deepEqual([...out.headers], [...parsed.headers]);
  // The same bytes elsewhere in another array replay too.
  assert.equal(replayRequestHead(bytes(text), 0, text.length, new RequestHead()), text.length);

  // A changed byte anywhere (first, middle, last), or bytes still missing: no replay.
  for (const i of [0, 5, text.indexOf("X-N"), text.length - 3, text.length - 1]) {
    const c = bytes(text);
    c[i] ^= 0x01;
    assert.equal(replayRequestHead(c, 0, c.length, new RequestHead()), -1, `byte ${i}`);
  }
  assert.equal(replayRequestHead(b, 4, end - 1, new RequestHead()), -1);

  // Changing a replayed request's headers changes neither the memo nor the first request.
  out.headers.add("X-Mine", "1");
  out.headers.remove("host");
  const again = new RequestHead();
  replayRequestHead(b, 4, b.length, again);
  assert.deepEqual([...again.headers], [...parsed.headers]);
  assert.equal(parsed.headers.size, 3);

  // A head longer than the memo keeps forgets the previous one.
  const long = "GET / HTTP/1.1\r\nX-Long: " + "v".repeat(2000) + "\r\n\r\n";
  const lb = bytes(long);
  const lh = new RequestHead();
  assert.equal(parseRequestHead(lb, 0, lb.length, lh), 0);
  memoRequestHead(lb, 0, lb.length, lh);
  assert.equal(replayRequestHead(lb, 0, lb.length, new RequestHead()), -1);
  assert.equal(replayRequestHead(b, 4, b.length, new RequestHead()), -1);
});

Deno.test("drainEmptyLines drains CRLF/LF runs across chunks, keeps a CR awaiting its LF", () => {
  const b = new Evbuffer();
  b.add("\r\n\n\r");
  // A reference is a chunk of its own: the CRLF is split across two chunks.
  b.addReference(latin1("\n\r\nGET"));
  assert.equal(drainEmptyLines(b), 7);
  assert.equal(b.toString(), "GET");
  const t = new Evbuffer();
  t.add("\n\r"); // the CR may be the first half of a CRLF: it stays until the LF comes
  assert.equal(drainEmptyLines(t), 1);
  assert.equal(t.toString(), "\r");
  t.add("\nX");
  assert.equal(drainEmptyLines(t), 2);
  assert.equal(t.toString(), "X");
  const bare = new Evbuffer();
  bare.add("\rX"); // a lone CR before text is not an empty line
  assert.equal(drainEmptyLines(bare), 0);
});
