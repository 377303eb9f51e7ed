// examples/redis_ping.ts against a real redis-server started on a free loopback port.
import assert from "node:assert/strict";
import { Child, freePort, haveBinary } from "./_spawn.ts";

const HAVE_REDIS = haveBinary("redis-server");
if (!HAVE_REDIS) console.log("skipping redis interop: install the Debian package `redis-server`");

Deno.test({
  name: "redis_ping.ts: PING over RESP prints +PONG",
  ignore: !HAVE_REDIS,
  async fn() {
    // redis cannot bind port 0 and report it: take a port that was free a moment ago.
    const port = freePort();
    const redis = new Child("redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
    ]);
    try {
      await redis.waitFor(/Ready to accept connections/);
      const ping = Child.deno("examples/redis_ping.ts", ["--port", String(port)]);
      const st = await ping.finished();
      assert.equal(st.code, 0, `redis_ping.ts exit status (stderr: ${ping.stderr})`);
      assert.deepEqual(ping.lines, ["recv redis message +PONG"]);
    } finally {
      // SIGTERM: redis shuts down cleanly (no save configured) and exits 0.
      await redis.stop("SIGTERM");
    }
  },
});

Deno.test("redis_ping.ts: nothing listening → error message, exit code 1", async () => {
  const ping = Child.deno("examples/redis_ping.ts", ["--port", String(freePort())]);
  const st = await ping.finished();
  assert.equal(st.code, 1);
  assert.match(ping.stderr, /cannot talk to redis/);
});
