// WebSocket echo load, both servers in ONE run so the ratios are comparable on a shared machine:
// evdeno (`evwsNewSession`) and Deno.serve with `Deno.upgradeWebSocket`. Each server runs as its
// own process pinned to CPU 0; the load comes from Deno WebSocket clients in one process pinned
// to CPU 1, every connection keeping a window of messages in flight. Prints echoed messages per
// second and the server's CPU time per message (the fairer figure when the client saturates).
//
//   deno run --allow-all bench/ws_load.ts [--secs 5]
//
// Needs taskset. The same file is the server (`--serve evdeno|deno --port N`) and the load
// client (`--client --port N --conns C --window W --size B --secs S`).
import { flag } from "../examples/_args.ts";
import { cpuSeconds, freePort, Server } from "./_proc.ts";
import { hasCmd } from "./_wrk.ts";
import { serveEvhttp } from "./_evdeno_server.ts";

const SECS = Number(flag("secs", "5"));

function serveEvdeno(port: number): Promise<void> {
  const dec = new TextDecoder();
  return serveEvhttp(port, (http, { evwsNewSession, WS_TEXT_FRAME }) => {
    http.setCb("/ws", (req) => {
      evwsNewSession(req, (evws, type, data) => {
        if (type === WS_TEXT_FRAME) evws.sendText(dec.decode(data));
        else evws.sendBinary(data);
      });
    });
  });
}

function serveDeno(port: number): void {
  const s = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (m) => socket.send(m.data);
    return response;
  });
  Deno.addSignalListener("SIGTERM", () => s.shutdown());
  console.log(`listening on 127.0.0.1:${port}`);
}

/** The load: `conns` clients, each with `window` binary messages of `size` bytes in flight. */
async function client(port: number, conns: number, window: number, size: number, secs: number) {
  const msg = new Uint8Array(size).fill(0x61);
  let count = 0;
  let counting = false;
  let stop = false;
  const sockets: WebSocket[] = [];
  const opened: Promise<void>[] = [];
  for (let i = 0; i < conns; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    ws.binaryType = "arraybuffer";
    sockets.push(ws);
    opened.push(new Promise((r) => ws.onopen = () => r()));
    ws.onmessage = () => {
      if (counting) count++;
      if (!stop) ws.send(msg);
    };
  }
  await Promise.all(opened);
  for (const ws of sockets) for (let w = 0; w < window; w++) ws.send(msg);
  await new Promise((r) => setTimeout(r, 1000)); // warm-up
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, secs * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  counting = false;
  stop = true;
  const closed = sockets.map((ws) => new Promise((r) => ws.onclose = r));
  for (const ws of sockets) ws.close();
  await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 2000))]);
  console.log(JSON.stringify({ msgs: count, secs: elapsed }));
}

interface Result {
  rate: number;
  cpuUsPerMsg: number;
}

async function measure(kind: string, conns: number, window: number, size: number) {
  const port = freePort();
  const self = new URL(import.meta.url).pathname;
  const server = new Server([
    "taskset",
    "-c",
    "0",
    Deno.execPath(),
    "run",
    "-A",
    self,
    "--serve",
    kind,
    "--port",
    `${port}`,
  ]);
  try {
    await server.waitFor(/listening/);
    const before = cpuSeconds(server.pid);
    const out = await new Deno.Command("taskset", {
      args: [
        "-c",
        "1",
        Deno.execPath(),
        "run",
        "-A",
        self,
        "--client",
        "--port",
        `${port}`,
        "--conns",
        `${conns}`,
        "--window",
        `${window}`,
        "--size",
        `${size}`,
        "--secs",
        `${SECS}`,
      ],
      stderr: "inherit",
    }).output();
    const after = cpuSeconds(server.pid);
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "{}";
    const r = JSON.parse(line) as { msgs: number; secs: number };
    // CPU over the warm-up and the measured window, per message echoed in the measured window:
    // scaled by the share of time measured.
    const cpu = (after.user + after.sys - before.user - before.sys) * (r.secs / (r.secs + 1));
    return { rate: r.msgs / r.secs, cpuUsPerMsg: (cpu * 1e6) / Math.max(1, r.msgs) } as Result;
  } finally {
    await server.stop("SIGTERM");
  }
}

async function main(): Promise<void> {
  if (!(await hasCmd("taskset"))) {
    console.error("needs taskset (apt-get install util-linux)");
    Deno.exit(1);
  }
  const scenarios: [string, number, number, number][] = [
    ["c50 w8 32 B", 50, 8, 32],
    ["c10 w4 16 KiB", 10, 4, 16384],
  ];
  const rows: string[] = [];
  for (const [name, conns, window, size] of scenarios) {
    const res = new Map<string, Result>();
    for (const kind of ["evdeno", "deno"]) {
      const r = await measure(kind, conns, window, size);
      res.set(kind, r);
      console.error(
        `${kind} ${name}: ${Math.round(r.rate)} msg/s, server ${r.cpuUsPerMsg.toFixed(2)} µs/msg`,
      );
    }
    const e = res.get("evdeno")!;
    const d = res.get("deno")!;
    rows.push(
      `| ${name} | ${Math.round(e.rate)} | ${Math.round(d.rate)} | ${
        (e.rate / d.rate).toFixed(2)
      } | ${e.cpuUsPerMsg.toFixed(2)} | ${d.cpuUsPerMsg.toFixed(2)} | ${
        (d.cpuUsPerMsg / e.cpuUsPerMsg).toFixed(2)
      } |`,
    );
  }
  console.log(
    "| scenario | evdeno msg/s | Deno.serve msg/s | rate ratio | evdeno µs/msg | Deno µs/msg | CPU ratio (Deno/evdeno) |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) console.log(r);
}

const mode = flag("serve", "");
if (mode === "evdeno") await serveEvdeno(Number(flag("port", "0")));
else if (mode === "deno") serveDeno(Number(flag("port", "0")));
else if (mode !== "") throw new Error(`unknown --serve ${mode}`);
else if (Deno.args.includes("--client")) {
  await client(
    Number(flag("port", "0")),
    Number(flag("conns", "50")),
    Number(flag("window", "8")),
    Number(flag("size", "32")),
    Number(flag("secs", "5")),
  );
} else await main();
