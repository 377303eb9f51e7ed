// Micro-benchmarks of the evhttp head parser and chunked decoder.
// Run: deno bench --allow-all bench/evhttp_parser_bench.ts
import { ChunkedDecoder, findHeadEnd, parseRequestHead, RequestHead } from "../evhttp/_parser.ts";

const enc = new TextEncoder();

/** A typical browser-ish GET with 8 header fields. */
const GET = enc.encode(
  "GET /api/v1/items?id=42&sort=desc HTTP/1.1\r\n" +
    "Host: www.example.com:8080\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
    "Accept-Language: en-US,en;q=0.5\r\n" +
    "Accept-Encoding: gzip, deflate, br\r\n" +
    "Connection: keep-alive\r\n" +
    "Cookie: session=abcdef0123456789; theme=dark\r\n" +
    "Cache-Control: max-age=0\r\n" +
    "\r\n",
);

const head = new RequestHead();

Deno.bench({
  name: "parseRequestHead: GET with 8 headers (findHeadEnd + parse)",
  group: "head",
  baseline: true,
  fn() {
    const end = findHeadEnd(GET, 0);
    if (parseRequestHead(GET, 0, end, head) !== 0) throw new Error(head.errorReason);
  },
});

Deno.bench({
  name: "findHeadEnd only",
  group: "head",
  fn() {
    if (findHeadEnd(GET, 0) < 0) throw new Error("no head");
  },
});

// Headers that change every request defeat the intern cache: the worst case for allocation.
const variants: Uint8Array[] = [];
for (let i = 0; i < 1024; i++) {
  variants.push(enc.encode(
    `GET /item/${i} HTTP/1.1\r\nHost: h${i}.example.com\r\nX-Request-Id: ${i * 7919}\r\n` +
      `User-Agent: bench/${i}\r\nAccept: */*\r\nCookie: s=${i}\r\nX-A: ${i}\r\nX-B: ${i}\r\n` +
      `X-C: ${i}\r\n\r\n`,
  ));
}
let vi = 0;
Deno.bench({
  name: "parseRequestHead: GET with 8 uncached header values",
  group: "head",
  fn() {
    const b = variants[vi++ & 1023];
    if (parseRequestHead(b, 0, findHeadEnd(b, 0), head) !== 0) throw new Error(head.errorReason);
  },
});

const CHUNKED = enc.encode(
  "400\r\n" + "x".repeat(0x400) + "\r\n" + "400;ext=1\r\n" + "y".repeat(0x400) + "\r\n0\r\n\r\n",
);
const dec = new ChunkedDecoder();
Deno.bench({
  name: "ChunkedDecoder: two 1 KiB chunks",
  group: "chunked",
  fn() {
    dec.reset();
    dec.feed(CHUNKED, 0, CHUNKED.length);
    if (!dec.done) throw new Error("not done");
  },
});
