import assert from "node:assert/strict";
import {
  BEV_OPT_CLOSE_ON_FREE,
  Bufferevent,
  BuffereventRateLimitGroup,
  evTokenBucketCfgNew,
} from "../bufferevent/mod.ts";
import { EV_READ, EventBase } from "../reactor/mod.ts";
import { listenLoopback, readAll, writeAll } from "./_helpers.ts";

const TICK = 50;
const RATE = 32 * 1024;
const TOTAL = RATE * 20;
// Tokens start at one tick's worth, so the transfer needs (TOTAL - RATE) / RATE more ticks.
const EXPECTED_MS = ((TOTAL - RATE) / RATE) * TICK;

async function pair(): Promise<[Deno.Conn, Deno.Conn, Deno.Listener]> {
  const { listener, port } = listenLoopback();
  const [c, s] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port }),
    listener.accept(),
  ]);
  return [c, s, listener];
}

function within(ms: number, expected: number, tolerance = 0.15): boolean {
  return Math.abs(ms - expected) <= expected * tolerance;
}

Deno.test("read rate limit: transfer time matches the configured rate within 15 %", async () => {
  const base = new EventBase();
  const [c, s, l] = await pair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.setRateLimit(evTokenBucketCfgNew(RATE, RATE, 0, 0, TICK));
  let got = 0;
  let t0 = 0;
  let dt = 0;
  bev.setcb(
    (b) => {
      if (t0 === 0) t0 = performance.now();
      got += b.getInput().length;
      b.getInput().drain(b.getInput().length);
      if (got >= TOTAL) {
        dt = performance.now() - t0;
        b.free();
      }
    },
    null,
    null,
  );
  bev.enable(EV_READ);
  const writer = writeAll(c, new Uint8Array(TOTAL));
  await base.dispatch();
  await writer;
  assert.equal(got, TOTAL);
  assert.ok(within(dt, EXPECTED_MS), `took ${dt.toFixed(0)} ms, expected ${EXPECTED_MS}`);
  c.close();
  l.close();
  base.free();
});

Deno.test("write rate limit: transfer time matches the configured rate within 15 %", async () => {
  const base = new EventBase();
  const [c, s, l] = await pair();
  const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
  bev.setRateLimit(evTokenBucketCfgNew(0, 0, RATE, RATE, TICK));
  let dt = 0;
  const t0 = performance.now();
  bev.setcb(null, (b) => {
    dt = performance.now() - t0;
    b.free();
  }, null);
  bev.write(new Uint8Array(TOTAL));
  const reader = readAll(c);
  await base.dispatch();
  assert.equal((await reader).length, TOTAL);
  c.close();
  assert.ok(within(dt, EXPECTED_MS), `took ${dt.toFixed(0)} ms, expected ${EXPECTED_MS}`);
  l.close();
  base.free();
});

Deno.test("rate-limit group: two members share the group's rate", async () => {
  const base = new EventBase();
  const group = new BuffereventRateLimitGroup(
    base,
    evTokenBucketCfgNew(RATE, RATE, 0, 0, TICK),
  );
  const conns: Deno.Conn[] = [];
  const listeners: Deno.Listener[] = [];
  let done = 0;
  let got = 0;
  const t0 = performance.now();
  let dt = 0;
  const writers: Promise<void>[] = [];
  for (let i = 0; i < 2; i++) {
    const [c, s, l] = await pair();
    conns.push(c);
    listeners.push(l);
    const bev = Bufferevent.socketNew(base, s, BEV_OPT_CLOSE_ON_FREE);
    group.addToGroup(bev);
    let mine = 0;
    bev.setcb(
      (b) => {
        const n = b.getInput().length;
        b.getInput().drain(n);
        mine += n;
        got += n;
        if (mine >= TOTAL / 2) {
          b.free();
          if (++done === 2) dt = performance.now() - t0;
        }
      },
      null,
      null,
    );
    bev.enable(EV_READ);
    writers.push(writeAll(c, new Uint8Array(TOTAL / 2)));
  }
  assert.equal(group.size, 2);
  await base.dispatch();
  await Promise.all(writers);
  assert.equal(got, TOTAL);
  assert.ok(within(dt, EXPECTED_MS, 0.25), `took ${dt.toFixed(0)} ms, expected ${EXPECTED_MS}`);
  group.free();
  for (const c of conns) c.close();
  for (const l of listeners) l.close();
  base.free();
});
