// Interop with curl: GET, POST, HEAD, HTTP/1.0, chunked upload, Expect: 100-continue with a
// large body, and connection reuse. Skipped (with a message) when curl is not installed.
import assert from "node:assert/strict";
import type { EvhttpRequest } from "../../evhttp/mod.ts";
import { withServer } from "../_evhttp_helpers.ts";
import { haveBinary } from "./_spawn.ts";

const CURL = haveBinary("curl");
if (!CURL) console.log("curl not found: skipping curl interop tests (apt-get install curl)");

async function curl(args: string[], stdin?: Uint8Array): Promise<{ out: string; err: string }> {
  const cmd = new Deno.Command("curl", {
    args: ["-sS", "--max-time", "20", ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const o = await child.output();
  const dec = new TextDecoder();
  assert.ok(o.success, `curl ${args.join(" ")} failed: ${dec.decode(o.stderr)}`);
  return { out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

function setup(http: import("../../evhttp/mod.ts").Evhttp): void {
  http.setCb(
    "/hello",
    (req: EvhttpRequest) => req.sendReply(200, "Client is OK", "Test_Get is OK!"),
  );
  http.setCb("/post", (req: EvhttpRequest) => {
    const body = req.getInputBuffer();
    let sum = 0;
    for (const v of body.peek()) for (let i = 0; i < v.length; i++) sum = (sum + v[i]!) % 65521;
    req.sendReply(
      200,
      null,
      `len=${body.length} sum=${sum} te=${req.getInputHeaders().find("transfer-encoding") ?? "-"}`,
    );
  });
}

function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i++) sum = (sum + b[i]!) % 65521;
  return sum;
}

const big = new Uint8Array(3 * 1024 * 1024);
for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;

Deno.test({ name: "curl: GET, HEAD and HTTP/1.0", ignore: !CURL }, async () => {
  await withServer(setup, async ({ port }) => {
    const url = `http://127.0.0.1:${port}/hello`;
    const get = await curl(["-i", url]);
    assert.match(get.out, /^HTTP\/1\.1 200 Client is OK\r\n/);
    assert.match(get.out, /\r\n\r\nTest_Get is OK!$/);
    const head = await curl(["-I", url]);
    assert.match(head.out, /^HTTP\/1\.1 200/);
    assert.match(head.out, /Content-Length: 15\r\n/);
    const old = await curl(["-i", "--http1.0", url]);
    assert.match(old.out, /^HTTP\/1\.0 200 Client is OK\r\n/);
    assert.match(old.out, /Test_Get is OK!$/);
    const missing = await curl(["-i", `http://127.0.0.1:${port}/nope?x=<y>`]);
    assert.match(missing.out, /^HTTP\/1\.1 404 Not Found\r\n/);
  });
});

Deno.test({
  name: "curl: POST, chunked upload, Expect: 100-continue with a large body",
  ignore: !CURL,
}, async () => {
  await withServer(setup, async ({ port }) => {
    const url = `http://127.0.0.1:${port}/post`;
    const small = await curl(["-d", "abcdef", url]);
    assert.equal(small.out, `len=6 sum=${checksum(new TextEncoder().encode("abcdef"))} te=-`);
    const chunked = await curl(
      ["-H", "Transfer-Encoding: chunked", "--data-binary", "@-", url],
      big,
    );
    assert.equal(chunked.out, `len=${big.length} sum=${checksum(big)} te=chunked`);
    const expect = await curl(
      ["-v", "-H", "Expect: 100-continue", "--data-binary", "@-", url],
      big,
    );
    assert.equal(expect.out, `len=${big.length} sum=${checksum(big)} te=-`);
    assert.match(expect.err, /HTTP\/1\.1 100 Continue/);
  });
});

Deno.test(
  { name: "curl: 413 before 100 Continue when the body is too large", ignore: !CURL },
  async () => {
    await withServer((http) => {
      setup(http);
      http.setMaxBodySize(1024);
    }, async ({ port }) => {
      const r = await curl([
        "-v",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        "@-",
        `http://127.0.0.1:${port}/post`,
      ], big);
      assert.equal(r.out, "413");
      assert.doesNotMatch(r.err, /100 Continue/);
    });
  },
);

Deno.test({ name: "curl: connection reuse across requests", ignore: !CURL }, async () => {
  await withServer(setup, async ({ port, http }) => {
    const url = `http://127.0.0.1:${port}/hello`;
    const r = await curl(["-v", url, url, url]);
    assert.equal(r.out, "Test_Get is OK!".repeat(3));
    assert.match(r.err, /Re-?using existing connection/i);
    assert.equal((r.err.match(/Connected to/g) ?? []).length, 1);
    void http;
  });
});
