// Echo load benchmark, all servers in ONE run so the ratios are comparable on a shared machine:
// evdeno's examples/echo.ts, a raw Deno.listen read/write loop, node:net, and libevent C.
// Each server is pinned to CPU 0 and the C load generator (/work/shared/tools/echo_load.c) to
// CPU 1: (a) 100 connections ping-ponging 64-byte messages for 5 s, (b) one connection
// streaming 1 GiB. Prints a markdown table with ratios against the raw Deno loop.
//
//   deno run --allow-all bench/echo_load.ts [--only evdeno,raw] [--secs 5] [--bytes 1073741824]
//
// Needs gcc, taskset and libevent-dev (the libevent rival is skipped without it); binaries go to
// bench/.build/ (git-ignored). Set TOOLS=/path to find echo_load.c elsewhere.
import { flag } from "../examples/_args.ts";
import { cpuSeconds, freePort, memKiB, parseResult, ROOT, Server } from "./_proc.ts";

const TOOLS = Deno.env.get("TOOLS") ?? "/work/shared/tools";
const BUILD = `${ROOT}bench/.build`;
const SECS = Number(flag("secs", "5"));
const BYTES = Number(flag("bytes", String(1 << 30)));
const CONNS = Number(flag("conns", "100"));
const ONLY = flag("only", "").split(",").filter((s) => s !== "");

async function run(cmd: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), cwd: ROOT }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

function newer(target: string, source: string): boolean {
  try {
    return Deno.statSync(target).mtime! >= Deno.statSync(source).mtime!;
  } catch {
    return false;
  }
}

/** Builds a tool unless it is up to date; returns false when it cannot be built. */
async function build(name: string, extra: string[] = []): Promise<boolean> {
  const src = `${TOOLS}/${name}.c`;
  const bin = `${BUILD}/${name}`;
  if (newer(bin, src)) return true;
  const r = await run(["gcc", "-O2", "-o", bin, src, ...extra]);
  if (r.code !== 0) console.error(`cannot build ${name}:\n${r.err}`);
  return r.code === 0;
}

interface Rival {
  name: string;
  /** Starts the server pinned to CPU 0; resolves with it and its port once it listens. */
  start(): Promise<{ server: Server; port: number }>;
  stopSignal: Deno.Signal;
}

const deno = Deno.execPath();

function denoRival(name: string, script: string): Rival {
  return {
    name,
    stopSignal: "SIGINT",
    async start() {
      const server = new Server([
        "taskset",
        "-c",
        "0",
        deno,
        "run",
        "--allow-net",
        script,
        "--port",
        "0",
      ]);
      const m = await server.waitFor(/^listening on (\S+):(\d+)$/);
      return { server, port: Number(m[2]) };
    },
  };
}

interface Row {
  name: string;
  pp: Record<string, number> | null;
  bulk: Record<string, number> | null;
  /** Server CPU seconds (user + sys, all threads) during each phase. */
  ppCpu: number;
  bulkCpu: number;
  peakRssMiB: number;
  note: string;
}

async function measure(r: Rival, loadBin: string): Promise<Row> {
  const row: Row = {
    name: r.name,
    pp: null,
    bulk: null,
    ppCpu: NaN,
    bulkCpu: NaN,
    peakRssMiB: NaN,
    note: "",
  };
  const { server, port } = await r.start();
  try {
    const c0 = cpuSeconds(server.pid);
    console.error(`${r.name}: ping-pong on port ${port}…`);
    const pp = await run([
      "taskset",
      "-c",
      "1",
      loadBin,
      "pingpong",
      "127.0.0.1",
      String(port),
      String(CONNS),
      "64",
      String(SECS),
    ]);
    row.pp = parseResult(pp.out);
    if (pp.code !== 0) row.note += `pingpong exit ${pp.code} ${pp.err.trim()} `;
    const c1 = cpuSeconds(server.pid);
    row.ppCpu = c1.user + c1.sys - c0.user - c0.sys;
    console.error(`${r.name}: bulk…`);
    const bulk = await run([
      "taskset",
      "-c",
      "1",
      loadBin,
      "bulk",
      "127.0.0.1",
      String(port),
      String(BYTES),
      "30",
    ]);
    row.bulk = parseResult(bulk.out);
    if (bulk.code !== 0) row.note += `bulk exit ${bulk.code} ${bulk.err.trim()} `;
    const c2 = cpuSeconds(server.pid);
    row.bulkCpu = c2.user + c2.sys - c1.user - c1.sys;
    row.peakRssMiB = memKiB(server.pid).hwm / 1024;
  } finally {
    const st = await server.stop(r.stopSignal);
    if (st.code !== 0 && st.signal === null) row.note += `server exit ${st.code} `;
  }
  return row;
}

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return "–";
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0)) return "–";
  return `${(a / b).toFixed(2)}×`;
}

if (import.meta.main) {
  Deno.mkdirSync(BUILD, { recursive: true });
  if (!(await build("echo_load"))) Deno.exit(1);
  const libevent = await run(["pkg-config", "--cflags", "--libs", "libevent"]);
  const haveEvEcho = libevent.code === 0 &&
    await build("ev_echo", libevent.out.trim().split(/\s+/));
  const rivals: Rival[] = [
    denoRival("evdeno examples/echo.ts", "examples/echo.ts"),
    denoRival("raw Deno.listen loop", "bench/rivals/raw_deno_echo.ts"),
    {
      name: "node:net",
      stopSignal: "SIGINT",
      async start() {
        const server = new Server([
          "taskset",
          "-c",
          "0",
          "node",
          "bench/rivals/node_echo.mjs",
          "--port",
          "0",
        ]);
        const m = await server.waitFor(/^listening on (\S+):(\d+)$/);
        return { server, port: Number(m[2]) };
      },
    },
  ];
  if (haveEvEcho) {
    rivals.push({
      name: "libevent C ev_echo",
      stopSignal: "SIGTERM",
      async start() {
        const port = freePort();
        const server = new Server(["taskset", "-c", "0", `${BUILD}/ev_echo`, String(port)]);
        await server.waitFor(/ev_echo: listening/);
        return { server, port };
      },
    });
  } else console.error("libevent rival skipped: apt-get install -y libevent-dev");
  const keys = ["evdeno", "raw", "node", "libevent"];
  const chosen = ONLY.length === 0
    ? rivals
    : rivals.filter((_r, i) => ONLY.some((o) => keys[i] === o));
  const rows: Row[] = [];
  for (const r of chosen) rows.push(await measure(r, `${BUILD}/echo_load`));
  const raw = rows.find((r) => r.name.startsWith("raw"));
  const cpus = await run(["nproc"]);
  console.log(
    `\nEcho load, ${
      new Date().toISOString().slice(0, 16)
    }, ${cpus.out.trim()} CPUs, Deno ${Deno.version.deno}; ` +
      `server on CPU 0, echo_load on CPU 1. Ping-pong: ${CONNS} conns × 64 B, ${SECS} s. ` +
      `Bulk: ${fmt(BYTES / 1048576)} MiB over one connection.\n`,
  );
  // CPU use is the server's user + sys time over wall time (all threads, pinned to one CPU):
  // below 100 % means it waited (or the machine was busy). CPU per unit of work is the steadier
  // number on a shared machine.
  console.log(
    "| server | ping-pong msgs/s | vs raw | p50 µs | p99 µs | CPU | CPU µs/msg | " +
      "bulk MiB/s | vs raw | CPU | CPU ms/GiB | peak RSS MiB |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    const pp = r.pp;
    const bk = r.bulk;
    const cells = [
      r.name,
      fmt(pp?.msgs_per_sec),
      ratio(pp?.msgs_per_sec, raw?.pp?.msgs_per_sec),
      fmt(pp?.p50_us),
      fmt(pp?.p99_us),
      `${fmt(r.ppCpu / (pp?.secs ?? NaN) * 100)} %`,
      fmt(r.ppCpu / (pp?.msgs ?? NaN) * 1e6, 1),
      fmt(bk?.mib_per_sec),
      ratio(bk?.mib_per_sec, raw?.bulk?.mib_per_sec),
      `${fmt(r.bulkCpu / (bk?.secs ?? NaN) * 100)} %`,
      fmt(r.bulkCpu / ((bk?.bytes ?? NaN) / 2 ** 30) * 1000),
      fmt(r.peakRssMiB, 1),
    ];
    console.log(`| ${cells.join(" | ")} |`);
  }
  const problems = rows.filter((r) =>
    r.note !== "" || (r.pp?.errors ?? 0) > 0 || (r.bulk?.errors ?? 0) > 0 ||
    (r.bulk?.timeout ?? 0) > 0
  );
  for (const r of problems) {
    console.log(
      `\n${r.name}: ${r.note}errors=${r.pp?.errors ?? "?"}/${r.bulk?.errors ?? "?"} timeout=${
        r.bulk?.timeout ?? "?"
      }`,
    );
  }
  const ev = rows.find((r) => r.name.startsWith("evdeno"));
  if (ev !== undefined && raw !== undefined) {
    console.log(
      `\nTargets: ping-pong ≥ 0.90× raw → ${ratio(ev.pp?.msgs_per_sec, raw.pp?.msgs_per_sec)}; ` +
        `bulk ≥ 0.90× raw → ${ratio(ev.bulk?.mib_per_sec, raw.bulk?.mib_per_sec)}`,
    );
  }
}
