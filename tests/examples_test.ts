// The buffered-connection examples run as subprocesses: echo_client.ts against echo.ts, and
// two clients of chat.ts. (echo.ts with socat/nc and redis_ping.ts live in tests/interop/.)
import assert from "node:assert/strict";
import { readN } from "./_helpers.ts";
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
