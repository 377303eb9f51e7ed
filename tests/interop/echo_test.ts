// examples/echo.ts as a separate process, driven by socat and nc (OpenBSD netcat).
import assert from "node:assert/strict";
import { patternBytes } from "../_helpers.ts";
import { Child, haveBinary } from "./_spawn.ts";

const HAVE_SOCAT = haveBinary("socat");
const HAVE_NC = haveBinary("nc");
if (!HAVE_SOCAT) console.log("skipping socat interop: install the Debian package `socat`");
if (!HAVE_NC) console.log("skipping nc interop: install the Debian package `netcat-openbsd`");

/** Pipes `data` through `cmd` (a client of the echo server) and returns what it printed. */
async function through(cmd: string, args: string[], data: Uint8Array): Promise<{
  out: Uint8Array;
  code: number;
}> {
  const proc = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "null" })
    .spawn();
  const writer = proc.stdin.getWriter();
  const out = new Uint8Array(data.length);
  let got = 0;
  let extra = 0;
  const reader = (async () => {
    for await (const chunk of proc.stdout) {
      const n = Math.min(chunk.length, out.length - got);
      out.set(chunk.subarray(0, n), got);
      got += n;
      extra += chunk.length - n;
      // Only once everything came back is the input closed: the server then sees EOF with
      // nothing left to echo, and closes, which ends the client.
      if (got === out.length && n > 0) await writer.close();
    }
  })();
  // A watchdog, not a delay: a stuck client fails the test instead of hanging it.
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  try {
    await writer.write(data);
    await reader;
    const st = await proc.status;
    assert.equal(extra, 0, "the server echoed more than it was sent");
    return { out: out.subarray(0, got), code: st.code };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "echo.ts: 1 MiB through socat comes back byte for byte; SIGINT exits 0",
  ignore: !HAVE_SOCAT,
  async fn() {
    const server = Child.deno("examples/echo.ts", ["--port", "0"]);
    try {
      const port = await server.listeningPort();
      const data = patternBytes(1 << 20, 7);
      const r = await through("socat", ["-", `TCP:127.0.0.1:${port}`], data);
      assert.equal(r.code, 0);
      assert.equal(r.out.length, data.length);
      assert.deepEqual(r.out, data);
      await server.waitFor(/^connection closed$/);
    } finally {
      const st = await server.stop("SIGINT");
      assert.equal(st.code, 0, `echo.ts exit status (stderr: ${server.stderr})`);
    }
    assert.ok(server.lines.includes("accept a client"));
  },
});

Deno.test({
  name: "echo.ts: lines through nc, several clients in turn",
  ignore: !HAVE_NC,
  async fn() {
    const server = Child.deno("examples/echo.ts", ["--port", "0"]);
    try {
      const port = await server.listeningPort();
      const enc = new TextEncoder();
      for (let i = 0; i < 3; i++) {
        const msg = enc.encode(`hello evdeno ${i}\nsecond line\n`);
        // -N: shut the socket down at end of input, so the server sees EOF and closes.
        const r = await through("nc", ["-N", "127.0.0.1", String(port)], msg);
        assert.equal(r.code, 0);
        assert.equal(new TextDecoder().decode(r.out), `hello evdeno ${i}\nsecond line\n`);
      }
    } finally {
      const st = await server.stop("SIGINT");
      assert.equal(st.code, 0, `echo.ts exit status (stderr: ${server.stderr})`);
    }
    assert.equal(server.lines.filter((l) => l === "accept a client").length, 3);
    assert.equal(server.lines.filter((l) => l === "connection closed").length, 3);
  },
});
