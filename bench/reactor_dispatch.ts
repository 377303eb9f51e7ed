// Dispatch cost shaped like libevent's test/bench.c: N connected socket pairs, each with a
// persistent read event; every callback reads one byte and writes one to the next pair, so a
// chain of writes propagates through active events. Compared, in the same run, with the same
// shape written as plain Deno `conn.read`/`conn.write` loops. Time is process CPU time (user +
// system) per event, which a shared, noisy machine distorts far less than wall-clock time.
//
//   deno run -A bench/reactor_dispatch.ts [--pairs 100,1000] [--writes 100000] [--active 100]
import process from "node:process";
import { EV_PERSIST, EV_READ, Event, EventBase, Socket } from "../reactor/mod.ts";

function arg(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1]! : dflt;
}
const pairCounts = arg("pairs", "100,1000").split(",").map(Number);
const totalWrites = Number(arg("writes", "100000"));
const nActive = Number(arg("active", "100"));

async function makePairs(n: number): Promise<[Deno.Conn, Deno.Conn][]> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const pairs: [Deno.Conn, Deno.Conn][] = [];
  for (let i = 0; i < n; i++) {
    const [c, s] = await Promise.all([Deno.connect({ hostname: "127.0.0.1", port }), l.accept()]);
    c.setNoDelay(true);
    s.setNoDelay(true);
    pairs.push([c, s]);
  }
  l.close();
  return pairs;
}

const one = new Uint8Array([0x65]);

async function runEvdeno(pairs: [Deno.Conn, Deno.Conn][]): Promise<number> {
  const base = new EventBase();
  const n = pairs.length;
  const writers = pairs.map(([c]) => Socket.from(c));
  const readers = pairs.map(([, s]) => Socket.from(s));
  let fired = 0;
  let writes = 0;
  const events: Event[] = [];
  for (let i = 0; i < n; i++) {
    const r = readers[i]!;
    const next = (i + 1) % n;
    const ev = new Event(base, r, EV_READ | EV_PERSIST, () => {
      const d = r.recv();
      if (d === null) return;
      for (let k = 0; k < d.length; k++) {
        fired++;
        if (writes < totalWrites) {
          writes++;
          writers[next]!.send(one);
        }
      }
      if (fired >= totalWrites) base.loopbreak();
    });
    ev.add();
    events.push(ev);
  }
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < nActive; i++) {
    writes++;
    writers[(i * Math.ceil(n / nActive)) % n]!.send(one);
  }
  await base.dispatch();
  const c = process.cpuUsage(cpu0);
  const dt = (c.user + c.system) / 1000;
  for (const ev of events) ev.del();
  base.free();
  return dt / fired;
}

async function runPlain(pairs: [Deno.Conn, Deno.Conn][]): Promise<number> {
  const n = pairs.length;
  let fired = 0;
  let writes = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  let stop = false;
  const loops = pairs.map(async ([, s], i) => {
    const buf = new Uint8Array(64);
    const next = pairs[(i + 1) % n]![0];
    while (!stop) {
      const got = await s.read(buf);
      if (got === null) return;
      for (let k = 0; k < got; k++) {
        fired++;
        if (writes < totalWrites) {
          writes++;
          next.write(one);
        }
      }
      if (fired >= totalWrites) {
        stop = true;
        done();
        return;
      }
    }
  });
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < nActive; i++) {
    writes++;
    pairs[(i * Math.ceil(n / nActive)) % n]![0].write(one);
  }
  await finished;
  const c = process.cpuUsage(cpu0);
  const dt = (c.user + c.system) / 1000;
  // Wake the remaining readers so their loops end: one byte each.
  for (const [c] of pairs) c.write(one);
  await Promise.all(loops);
  return dt / fired;
}

console.log(`| pairs | writes | evdeno CPU µs/event | plain Deno CPU µs/event | ratio |`);
console.log(`|---|---|---|---|---|`);
for (const n of pairCounts) {
  // Fresh pairs for every run, so no run sees bytes another one left behind.
  const runs: [string, (p: [Deno.Conn, Deno.Conn][]) => Promise<number>][] = [];
  for (let r = 0; r < 4; r++) runs.push(["plain", runPlain], ["evdeno", runEvdeno]);
  const best: Record<string, number> = { plain: Infinity, evdeno: Infinity };
  for (const [name, fn] of runs) {
    const pairs = await makePairs(n);
    best[name] = Math.min(best[name]!, await fn(pairs));
    for (const [c, s] of pairs) {
      c.close();
      s.close();
    }
  }
  const e = best.evdeno! * 1000;
  const p = best.plain! * 1000;
  console.log(
    `| ${n} | ${totalWrites} | ${e.toFixed(2)} | ${p.toFixed(2)} | ${(e / p).toFixed(2)}x |`,
  );
}
