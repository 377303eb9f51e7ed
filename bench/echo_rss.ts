// Memory of the evdeno echo server (examples/echo.ts), measured from outside through
// /proc/PID/status, next to the raw Deno.listen loop (bench/rivals/raw_deno_echo.ts):
//
// 1. Slow reader: a client writes as fast as it can and reads the echo at 1 MiB/s for ~10 s.
//    Backpressure must stop the server from reading what it cannot send, so its RSS stays flat
//    (target: max RSS < 64 MiB). Sending 1 GiB this way would take 1000 s; 10 s shows whether
//    the mechanism holds, since an unbounded server would grow by the write rate, not 1 MiB/s.
// 2. Idle connections: 2000 (fewer if the fd limit is lower) connections that each echoed one
//    byte and then stay idle; RSS growth per connection.
//
//   deno run --allow-all bench/echo_rss.ts [--secs 10] [--conns 2000] [--only evdeno]
import { flag } from "../examples/_args.ts";
import { memKiB, Server } from "./_proc.ts";

const SECS = Number(flag("secs", "10"));
const RATE = 1024 * 1024; // bytes per second the slow client reads
const ONLY = flag("only", "");

const SERVERS: [string, string][] = [
  ["evdeno examples/echo.ts", "examples/echo.ts"],
  ["raw Deno.listen loop", "bench/rivals/raw_deno_echo.ts"],
];

async function startServer(script: string): Promise<{ server: Server; port: number }> {
  const server = new Server([Deno.execPath(), "run", "--allow-net", script, "--port", "0"]);
  const m = await server.waitFor(/^listening on (\S+):(\d+)$/);
  return { server, port: Number(m[2]) };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Lets the freshly started server settle (JIT, first GC) before taking its baseline. */
async function settledRss(pid: number): Promise<number> {
  await delay(500);
  return memKiB(pid).rss;
}

interface SlowResult {
  baseMiB: number;
  maxMiB: number;
  endMiB: number;
  writtenMiB: number;
  readMiB: number;
}

async function slowReader(script: string): Promise<SlowResult> {
  const { server, port } = await startServer(script);
  try {
    const base = await settledRss(server.pid);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    let written = 0;
    let read = 0;
    let stop = false;
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    const writer = (async () => {
      try {
        while (!stop) written += await conn.write(chunk);
      } catch { /* closed at the end while blocked on backpressure */ }
    })();
    const rbuf = new Uint8Array(256 * 1024);
    const reader = (async () => {
      const t0 = performance.now();
      try {
        while (!stop) {
          const allowed = (performance.now() - t0) / 1000 * RATE;
          while (read < allowed) {
            const n = await conn.read(
              rbuf.subarray(0, Math.min(rbuf.length, Math.ceil(allowed - read))),
            );
            if (n === null) return;
            read += n;
          }
          await delay(20);
        }
      } catch { /* closed at the end */ }
    })();
    let max = base;
    const t0 = performance.now();
    while (performance.now() - t0 < SECS * 1000) {
      await delay(250);
      max = Math.max(max, memKiB(server.pid).rss);
    }
    const end = memKiB(server.pid).rss;
    stop = true;
    conn.close();
    await Promise.all([writer, reader]);
    return {
      baseMiB: base / 1024,
      maxMiB: max / 1024,
      endMiB: end / 1024,
      writtenMiB: written / 1048576,
      readMiB: read / 1048576,
    };
  } finally {
    await server.stop("SIGINT");
  }
}

function fdLimit(): number {
  const text = Deno.readTextFileSync("/proc/self/limits");
  const m = /Max open files\s+(\d+)/.exec(text);
  return m === null ? 1024 : Number(m[1]);
}

interface IdleResult {
  conns: number;
  baseMiB: number;
  afterMiB: number;
  perConnKiB: number;
}

async function idle(script: string, wanted: number): Promise<IdleResult> {
  const { server, port } = await startServer(script);
  const conns: Deno.Conn[] = [];
  try {
    const base = await settledRss(server.pid);
    const one = new Uint8Array([0x21]);
    const back = new Uint8Array(1);
    for (let i = 0; i < wanted; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(c);
      // One echoed byte proves the server set the connection up; then it idles.
      await c.write(one);
      if ((await c.read(back)) !== 1) throw new Error("echo failed");
    }
    const after = await settledRss(server.pid);
    return {
      conns: conns.length,
      baseMiB: base / 1024,
      afterMiB: after / 1024,
      perConnKiB: (after - base) / conns.length,
    };
  } finally {
    for (const c of conns) c.close();
    await server.stop("SIGINT");
  }
}

function f(n: number, d = 1): string {
  return n.toFixed(d);
}

if (import.meta.main) {
  // Each connection costs one descriptor here and one in the server (same limit, inherited).
  const nConns = Math.min(Number(flag("conns", "2000")), fdLimit() - 64);
  const chosen = SERVERS.filter(([name]) => ONLY === "" || name.includes(ONLY));
  const slow: [string, SlowResult][] = [];
  const idles: [string, IdleResult][] = [];
  for (const [name, script] of chosen) {
    console.error(`${name}: slow reader for ${SECS} s…`);
    slow.push([name, await slowReader(script)]);
    console.error(`${name}: ${nConns} idle connections…`);
    idles.push([name, await idle(script, nConns)]);
  }
  console.log(
    `\nSlow reader: the client writes as fast as it can and reads the echo at 1 MiB/s for ` +
      `${SECS} s; server VmRSS sampled every 250 ms (target: max < 64 MiB).\n`,
  );
  console.log(
    "| server | RSS before MiB | max RSS MiB | RSS at end MiB | client wrote MiB | read MiB |",
  );
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const [name, r] of slow) {
    console.log(
      `| ${name} | ${f(r.baseMiB)} | ${f(r.maxMiB)} | ${f(r.endMiB)} | ${f(r.writtenMiB)} | ` +
        `${f(r.readMiB)} |`,
    );
  }
  console.log(`\nIdle connections (each echoed one byte, then idle):\n`);
  console.log("| server | conns | RSS before MiB | RSS after MiB | KiB per connection |");
  console.log("|---|---:|---:|---:|---:|");
  for (const [name, r] of idles) {
    console.log(
      `| ${name} | ${r.conns} | ${f(r.baseMiB)} | ${f(r.afterMiB)} | ${f(r.perConnKiB)} |`,
    );
  }
}
