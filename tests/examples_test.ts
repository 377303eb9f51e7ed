// The buffered-connection examples run as subprocesses: echo_client.ts against echo.ts, and
// two clients of chat.ts. (echo.ts with socat/nc and redis_ping.ts live in tests/interop/.)
import assert from "node:assert/strict";
import { bounded, readN } from "./_helpers.ts";
import { Child } from "./interop/_spawn.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("echo_client.ts: stdin lines go to echo.ts and the replies are printed", async () => {
  const server = Child.deno("examples/echo.ts", ["--port", "0"]);
  try {
    const port = await server.listeningPort();
    const client = Child.deno("examples/echo_client.ts", ["--port", String(port)], "piped");
    const w = client.proc.stdin.getWriter();
    await w.write(enc.encode("hello\nworld\n"));
    // Both replies arrive while stdin is still open: the stdin event and the socket interleave.
    await client.waitFor(/^world$/);
    await w.write(enc.encode("no newline at the end"));
    await w.close(); // EOF → flush(EV_WRITE, BEV_FINISHED) → the server closes → the client exits
    const st = await client.finished();
    assert.equal(st.code, 0, `echo_client.ts exit status (stderr: ${client.stderr})`);
    assert.deepEqual(client.lines, ["hello", "world", "no newline at the end"]);
  } finally {
    const st = await server.stop("SIGINT");
    assert.equal(st.code, 0);
  }
});

Deno.test("echo_client.ts: connection refused → message on stderr, exit code 1", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const client = Child.deno("examples/echo_client.ts", ["--port", String(port)], "piped");
  await client.proc.stdin.close();
  const st = await client.finished();
  assert.equal(st.code, 1);
  assert.match(client.stderr, /connection error/);
});

/** Reads from `conn` until `text` has arrived (or EOF), returning everything read. */
async function readUntil(conn: Deno.Conn, text: string): Promise<string> {
  let got = "";
  const buf = new Uint8Array(4096);
  while (!got.includes(text)) {
    const n = await conn.read(buf);
    if (n === null) break;
    got += dec.decode(buf.subarray(0, n));
  }
  return got;
}

Deno.test("chat.ts: a line from one client reaches the others, not the sender", async () => {
  const server = Child.deno("examples/chat.ts", ["--port", "0"]);
  const conns: Deno.Conn[] = [];
  try {
    const port = await server.listeningPort();
    for (let i = 0; i < 3; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      // Wait until the server counts this client, so it is among the recipients.
      await server.waitFor(new RegExp(`^client joined \\(${i + 1} connected\\)$`));
    }
    const [a, b, c] = conns as [Deno.Conn, Deno.Conn, Deno.Conn];
    // A line split across two writes is forwarded whole; two lines in one write both go.
    await a.write(enc.encode("hel"));
    await a.write(enc.encode("lo from a\nsecond\n"));
    assert.equal(await readUntil(b, "second\n"), "hello from a\nsecond\n");
    assert.equal(await readUntil(c, "second\n"), "hello from a\nsecond\n");
    await b.write(enc.encode("reply from b\n"));
    // a receives only b's line: had its own been echoed, it would come first.
    assert.equal(dec.decode(await readN(a, 13)), "reply from b\n");
    assert.equal(await readUntil(c, "\n"), "reply from b\n");
    c.close();
    conns.pop();
    await server.waitFor(/^client left \(2 connected\)$/);
  } finally {
    for (const c of conns) c.close();
    const st = await server.stop("SIGINT");
    assert.equal(st.code, 0, `chat.ts exit status (stderr: ${server.stderr})`);
  }
});

Deno.test("echo.ts stops reading a client that does not read its echo, and resumes", async () => {
  const server = Child.deno("examples/echo.ts", ["--port", "0"]);
  try {
    const port = await server.listeningPort();
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const chunk = new Uint8Array(64 * 1024).fill(0x61);
      let written = 0;
      let stalled: Promise<number> | null = null;
      // Write without reading until a write stalls (the server no longer reads) or 64 MB went
      // through (it reads on, buffering everything for us: the bug).
      while (written < 64 * 1024 * 1024) {
        const w = c.write(chunk);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const r = await Promise.race([
          w,
          new Promise<null>((res) => timer = setTimeout(() => res(null), 1000)),
        ]);
        clearTimeout(timer);
        if (r === null) {
          stalled = w;
          break;
        }
        written += r;
      }
      assert.ok(stalled !== null, `wrote ${written} bytes without the server pushing back`);
      // Reading the echo lets the server read again: everything comes back.
      let got = 0;
      let bad = 0;
      let target = -1;
      let done!: () => void;
      const all = new Promise<void>((r) => done = r);
      const buf = new Uint8Array(1 << 20);
      const reading = (async () => {
        for (;;) {
          const n = await c.read(buf).catch(() => null);
          if (n === null) return;
          for (let i = 0; i < n; i++) if (buf[i] !== 0x61) bad++;
          got += n;
          if (target >= 0 && got >= target) done();
        }
      })();
      written += await stalled;
      target = written;
      if (got >= target) done();
      await bounded(all, 10_000, "the echo of everything written");
      assert.equal(got, written);
      assert.equal(bad, 0);
      c.close(); // ends the reader
      await reading;
    } catch (e) {
      c.close();
      throw e;
    }
  } finally {
    await server.stop("SIGINT");
  }
});
