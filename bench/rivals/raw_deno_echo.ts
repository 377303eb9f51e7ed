// Benchmark rival: the obvious idiomatic Deno echo server, a read/write loop per connection
// with a 64 KiB buffer. Not part of evdeno; bench/echo_load.ts compares examples/echo.ts with it.
//
//   deno run --allow-net bench/rivals/raw_deno_echo.ts [--port 9997] [--host 127.0.0.1]
import { flag, portFlag } from "../../examples/_args.ts";

const listener = Deno.listen({ hostname: flag("host", "127.0.0.1"), port: portFlag(9997) });
const addr = listener.addr as Deno.NetAddr;
console.log(`listening on ${addr.hostname}:${addr.port}`);

async function serve(conn: Deno.TcpConn): Promise<void> {
  // Same socket option as evdeno's bufferevents, so ping-pong compares the loops, not Nagle.
  conn.setNoDelay(true);
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await conn.write(buf.subarray(off, n));
    }
  } catch {
    // reset by the peer: just close
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

Deno.addSignalListener("SIGINT", () => {
  listener.close();
  Deno.exit(0);
});

for await (const conn of listener) serve(conn);
