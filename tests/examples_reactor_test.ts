// The reactor examples run as their header comments say.
import assert from "node:assert/strict";
import { Child } from "./interop/_spawn.ts";

const enc = new TextEncoder();

Deno.test("timer.ts prints timer_cb every second and exits on SIGINT", async () => {
  const child = Child.deno("examples/timer.ts");
  await child.waitFor(/^timer_cb$/, 5000);
  const st = await child.stop("SIGINT");
  assert.equal(st.code, 0);
});

Deno.test("signals.ts: stdin read times out, SIGINT exits after 1 s", async () => {
  const child = Child.deno("examples/signals.ts", [], "piped");
  const w = child.proc.stdin.getWriter();
  await w.write(enc.encode("hello\n"));
  await child.waitFor(/^read from stdin: hello$/, 5000);
  await child.waitFor(/^io read time out$/, 5000);
  child.proc.kill("SIGINT");
  await child.waitFor(/^exit in 1 s$/, 5000);
  await child.waitFor(/^loop exited$/, 5000);
  await w.close();
  const st = await child.finished();
  assert.equal(st.code, 0);
});

Deno.test("signals.ts: SIGHUP breaks the loop at once", async () => {
  const child = Child.deno("examples/signals.ts", [], "piped");
  const w = child.proc.stdin.getWriter();
  await w.write(enc.encode("x\n"));
  await child.waitFor(/^read from stdin: x$/, 5000);
  child.proc.kill("SIGHUP");
  await child.waitFor(/^SIGHUP: break$/, 5000);
  await child.waitFor(/^loop exited$/, 5000);
  await w.close();
  assert.equal((await child.finished()).code, 0);
});

Deno.test("raw_echo_server.ts answers raw_echo_client.ts", async () => {
  const server = Child.deno("examples/raw_echo_server.ts", ["--port", "0"]);
  const port = await server.listeningPort();
  const client = Child.deno("examples/raw_echo_client.ts", ["--port", String(port)], "piped");
  const w = client.proc.stdin.getWriter();
  await w.write(enc.encode("ping one\n"));
  await client.waitFor(/^recv: I have received the msg: ping one$/, 5000);
  await server.waitFor(/^recv the client msg: ping one$/, 5000);
  await w.close(); // EOF on stdin: the client half-closes and exits when the server closes
  assert.equal((await client.finished()).code, 0);
  assert.ok(client.lines.includes("server closed the connection"));
  assert.equal((await server.stop("SIGINT")).code, 0);
});

Deno.test("fifo_listen.ts prints what fifo_write.ts sends", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/evdeno.fifo`;
  const listener = Child.deno("examples/fifo_listen.ts", [path]);
  await listener.waitFor(/^listening on fifo /, 10_000);
  const writer = Child.deno("examples/fifo_write.ts", [path, "hello", "fifo"]);
  assert.equal((await writer.finished()).code, 0);
  await listener.waitFor(/^read: hello fifo$/, 5000);
  assert.equal((await listener.stop("SIGINT")).code, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fifo_listen.ts refuses to replace a file that is not a FIFO", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/precious.txt`;
  await Deno.writeTextFile(path, "data\n");
  const listener = Child.deno("examples/fifo_listen.ts", [path]);
  assert.equal((await listener.finished()).code, 1);
  assert.match(listener.stderr, /not a FIFO/);
  assert.equal(await Deno.readTextFile(path), "data\n");
  await Deno.remove(dir, { recursive: true });
});
