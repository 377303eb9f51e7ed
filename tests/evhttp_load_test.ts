// Many concurrent keep-alive connections on one server, bounded in time.
import assert from "node:assert/strict";
import { RawClient, withServer } from "./_evhttp_helpers.ts";

const CONNS = 2000;

Deno.test(`${CONNS} concurrent keep-alive connections, each served twice`, async () => {
  await withServer((http) => {
    http.setGencb((req) => req.sendReply(200, null, req.getUri()));
  }, async ({ port, http }) => {
    const t0 = performance.now();
    const clients: RawClient[] = [];
    // Open in batches so the accept queue never overflows.
    for (let i = 0; i < CONNS; i += 100) {
      const batch = [];
      for (let j = i; j < Math.min(CONNS, i + 100); j++) batch.push(RawClient.connect(port));
      clients.push(...await Promise.all(batch));
    }
    const round = async (tag: string) => {
      await Promise.all(clients.map(async (c, i) => {
        await c.send(`GET /${tag}${i} HTTP/1.1\r\nHost: h\r\n\r\n`);
        const r = (await c.response())!;
        assert.equal(r.text, `/${tag}${i}`);
      }));
    };
    await round("a");
    assert.equal(http.getConnectionCount(), CONNS);
    await round("b");
    for (const c of clients) c.close();
    const dt = performance.now() - t0;
    assert.ok(dt < 20000, `took ${dt} ms`);
  });
});
