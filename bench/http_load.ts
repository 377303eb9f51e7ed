// HTTP load benchmark, all servers in ONE run so the ratios are comparable on a shared machine:
// evdeno's Evhttp (a `/hello` route), Deno.serve, a raw Deno.listen fixed-response loop (through
// `Deno.Conn`, and through the runtime's read/write ops that evdeno uses: the runtime's ceiling),
// node:http, libevent's C evhttp (/work/shared/tools/evhttp_hello.c, when it builds), and a C
// fixed-response epoll loop (bench/rivals/fixed_http.c) that shows wrk's own ceiling.
// Each server runs as its own process pinned to CPU 0; wrk runs pinned to CPU 1 with
// `-t1 -c50`, `-t1 -c1`, and `-t1 -c50` with 16-deep pipelining (pipeline16.lua). Prints req/s,
// p50/p99 latency, the server core's CPU per request, wrk's core load and ratios against
// Deno.serve and libevent as a markdown table.
//
//   deno run --allow-all bench/http_load.ts [--secs 5] [--only evdeno,deno-serve]
//
// Needs wrk and taskset; node and gcc + libevent-dev for those rivals (skipped otherwise).
// The same file is also the server program: `deno run -A bench/http_load.ts --serve KIND --port N`.
import { flag } from "../examples/_args.ts";
import { freePort, ROOT, Server } from "./_proc.ts";
import { hasCmd, printWrkTable, runWrk, type WrkResult } from "./_wrk.ts";
import { serveEvhttp } from "./_evdeno_server.ts";

const TOOLS = Deno.env.get("TOOLS") ?? "/work/shared/tools";
const BUILD = `${ROOT}bench/.build`;
const SECS = Number(flag("secs", "5"));
const ONLY = flag("only", "").split(",").filter((s) => s !== "");
const HELLO = "hello\n";

// ---------------------------------------------------------------- server modes

function serveEvdeno(port: number): Promise<void> {
  return serveEvhttp(port, (http) => {
    http.setCb("/hello", (req) => {
      req.getOutputHeaders().add("Content-Type", "text/plain");
      req.sendReply(200, null, HELLO);
    });
  });
}

function serveDeno(port: number): void {
  const s = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname !== "/hello") return new Response("not found", { status: 404 });
    return new Response(HELLO, { headers: { "content-type": "text/plain" } });
  });
  Deno.addSignalListener("SIGTERM", () => s.shutdown());
  console.log(`listening on 127.0.0.1:${port}`);
}

/** A connection's reads and writes: `read` resolves with a byte count, 0 or null at the end. */
interface RawIo {
  read(buf: Uint8Array): Promise<number | null>;
  write(buf: Uint8Array): Promise<number>;
}

/** Through `Deno.Conn`: what a plain Deno program does. */
function connIo(c: Deno.TcpConn): RawIo {
  return {
    read: (buf) => c.read(buf),
    write: (buf) => c.write(buf),
  };
}

/**
 * Through the runtime's read/write ops on the resource id, which evdeno's sockets use too
 * (reactor/_fast_io.ts): the ceiling for any server on this runtime, since it does nothing
 * but one read and one write per request.
 */
function opsIo(c: Deno.TcpConn): RawIo {
  const core = (Deno as unknown as Record<symbol, { core: Record<string | symbol, unknown> }>)[
    (Deno as unknown as { internal: symbol }).internal
  ]!.core;
  const rid = (c as unknown as Record<symbol, number>)[core.internalRidSymbol as symbol]!;
  const read = core.read as (rid: number, buf: Uint8Array) => Promise<number>;
  const write = core.write as (rid: number, buf: Uint8Array) => Promise<number>;
  return { read: (buf) => read(rid, buf), write: (buf) => write(rid, buf) };
}

async function serveRaw(port: number, ioFor: (c: Deno.TcpConn) => RawIo): Promise<void> {
  const resp = new TextEncoder().encode(
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n" + HELLO,
  );
  const l = Deno.listen({ hostname: "127.0.0.1", port });
  Deno.addSignalListener("SIGTERM", () => l.close());
  console.log(`listening on 127.0.0.1:${port}`);
  const handle = async (c: Deno.TcpConn) => {
    c.setNoDelay(true);
    const io = ioFor(c);
    const buf = new Uint8Array(65536);
    let out = new Uint8Array(resp.length * 16);
    let carry = 0; // bytes of "\r\n\r\n" matched at the end of the previous read
    try {
      for (;;) {
        const n = await io.read(buf);
        if (n === null || n === 0) break;
        let count = 0;
        for (let i = 0; i < n; i++) {
          const b = buf[i];
          if ((carry === 0 || carry === 2) && b === 13) carry++;
          else if ((carry === 1 || carry === 3) && b === 10) {
            if (++carry === 4) {
              count++;
              carry = 0;
            }
          } else carry = b === 13 ? 1 : 0;
        }
        if (count === 0) continue;
        if (out.length < resp.length * count) out = new Uint8Array(resp.length * count);
        for (let k = 0; k < count; k++) out.set(resp, k * resp.length);
        let off = 0;
        const total = resp.length * count;
        while (off < total) off += await io.write(out.subarray(off, total));
      }
    } catch { /* client gone */ }
    try {
      c.close();
    } catch { /* closed */ }
  };
  try {
    for await (const c of l) handle(c);
  } catch { /* closed */ }
}

const NODE_SERVER = `
const http = require("node:http");
const port = Number(process.argv[1]);
const s = http.createServer((req, res) => {
  if (req.url !== "/hello") { res.writeHead(404); res.end("not found"); return; }
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": 6 });
  res.end("hello\\n");
});
s.keepAliveTimeout = 60000;
s.listen(port, "127.0.0.1", () => console.log("listening on 127.0.0.1:" + port));
process.on("SIGTERM", () => { s.closeAllConnections(); s.close(); });
`;

// ---------------------------------------------------------------- driver

interface Rival {
  name: string;
  cmd(port: number): Promise<string[] | null>;
}

/** Builds a C rival into bench/.build (once per source change); null when it cannot be built. */
async function buildC(src: string, name: string, libevent: boolean): Promise<string | null> {
  const bin = `${BUILD}/${name}`;
  try {
    if ((await Deno.stat(bin)).mtime! >= (await Deno.stat(src)).mtime!) return bin;
  } catch { /* build it */ }
  await Deno.mkdir(BUILD, { recursive: true });
  let flags: string[] = [];
  if (libevent) {
    const pc = await new Deno.Command("pkg-config", { args: ["--cflags", "--libs", "libevent"] })
      .output().catch(() => null);
    if (pc === null || !pc.success) return null;
    flags = new TextDecoder().decode(pc.stdout).trim().split(/\s+/).filter((s) => s !== "");
  }
  const o = await new Deno.Command("gcc", { args: ["-O2", "-o", bin, src, ...flags] }).output()
    .catch(() => null);
  if (o === null || !o.success) {
    if (o !== null) console.error(new TextDecoder().decode(o.stderr));
    return null;
  }
  return bin;
}

const self = new URL(import.meta.url).pathname;
const pin = ["taskset", "-c", "0"];
/** This file as the server program (`--serve KIND`), pinned to CPU 0. */
function selfServer(name: string, kind: string): Rival {
  return {
    name,
    cmd: (p) =>
      Promise.resolve([
        ...pin,
        Deno.execPath(),
        "run",
        "-A",
        self,
        "--serve",
        kind,
        "--port",
        `${p}`,
      ]),
  };
}

const RIVALS: Rival[] = [
  selfServer("evdeno", "evdeno"),
  selfServer("deno-serve", "deno"),
  selfServer("raw-deno", "raw"),
  selfServer("raw-ops", "raw-ops"),
  {
    name: "node-http",
    cmd: async (p) =>
      (await hasCmd("node")) ? [...pin, "node", "-e", NODE_SERVER, String(p)] : null,
  },
  {
    name: "libevent-c",
    cmd: async (p) => {
      const bin = await buildC(`${TOOLS}/evhttp_hello.c`, "evhttp_hello", true);
      return bin === null ? null : [...pin, bin, String(p), "nodelay"];
    },
  },
  {
    // Not a rival: a C loop doing nothing but one read and one write per request, to show how
    // many requests wrk itself can drive from its core in this run (see its "wrk CPU").
    name: "c-fixed",
    cmd: async (p) => {
      const bin = await buildC(`${ROOT}bench/rivals/fixed_http.c`, "fixed_http", false);
      return bin === null ? null : [...pin, bin, String(p)];
    },
  },
];

function wrk(port: number, conns: number, pipeline: boolean): Promise<WrkResult> {
  const script = pipeline ? `${TOOLS}/pipeline16.lua` : undefined;
  return runWrk(`http://127.0.0.1:${port}/hello`, conns, SECS, script);
}

async function waitListening(port: number, server: Server): Promise<void> {
  await server.waitFor(/listening/i, 30_000);
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`server on ${port} does not accept connections`);
}

async function main(): Promise<void> {
  if (!(await hasCmd("wrk")) || !(await hasCmd("taskset"))) {
    console.error("needs wrk and taskset (apt-get install wrk util-linux)");
    Deno.exit(1);
  }
  const scenarios: [string, number, boolean][] = [
    ["c50", 50, false],
    ["c1", 1, false],
    ["pipe16", 50, true],
  ];
  const results = new Map<string, Map<string, WrkResult>>();
  for (const r of RIVALS) {
    if (ONLY.length > 0 && !ONLY.includes(r.name)) continue;
    const port = freePort();
    const cmd = await r.cmd(port);
    if (cmd === null) {
      console.error(`skipping ${r.name} (not available)`);
      continue;
    }
    const server = new Server(cmd);
    try {
      await waitListening(port, server);
      const m = new Map<string, WrkResult>();
      // A short warm-up so JIT-compiled servers are measured warm.
      await wrk(port, 50, false).catch(() => null);
      for (const [name, conns, pipe] of scenarios) {
        const res = await wrk(port, conns, pipe);
        m.set(name, res);
        console.error(
          `${r.name} ${name}: ${Math.round(res.rps)} req/s p50 ${res.p50.toFixed(2)} ms ` +
            `p99 ${res.p99.toFixed(2)} ms ${res.errors}`,
        );
      }
      results.set(r.name, m);
    } finally {
      await server.stop("SIGTERM");
    }
  }
  printWrkTable(results);
}

const mode = flag("serve", "");
if (mode !== "") {
  const port = Number(flag("port", "0"));
  if (mode === "evdeno") await serveEvdeno(port);
  else if (mode === "deno") serveDeno(port);
  else if (mode === "raw") await serveRaw(port, connIo);
  else if (mode === "raw-ops") await serveRaw(port, opsIo);
  else throw new Error(`unknown --serve ${mode}`);
} else {
  await main();
}
