// Load comparison: dnsperf against examples/dns_server.ts and against dnsmasq serving the same
// records (local data only: --no-resolv --no-hosts), same query mix and dnsperf settings, each run
// bounded by `-l`. Runs alternate between the two servers (`--rounds`, default 2) and the best run
// of each counts, so a burst of load from elsewhere on the machine skews the ratio less. Also
// prints each server's CPU time per query (from /proc), which load elsewhere barely changes.
// Target: evdeno ≥ 0.5× dnsmasq. With `--bare`, a bare Deno UDP loop (receive → send the query
// back as its own "reply", no DNS work) runs too, as the floor a Deno server can reach.
//
//   deno run --allow-all bench/dns_server_load.ts [--seconds 5] [--clients 4] [--outstanding 100] [--rounds 2] [--bare]
//
// Needs dnsperf (Debian package dnsperf) and dnsmasq (package dnsmasq-base or dnsmasq).
import { flag } from "../examples/_args.ts";

const SECONDS = Number(flag("seconds", "5"));
const CLIENTS = Number(flag("clients", "4"));
const OUTSTANDING = Number(flag("outstanding", "100"));
const ROUNDS = Number(flag("rounds", "2"));
const BARE = Deno.args.includes("--bare");

// One receive in flight, the reply is the query with QR set: what Deno's UDP ops cost alone.
const BARE_LOOP = `
const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: Number(Deno.args[0]) });
const buf = new Uint8Array(4096);
for (;;) {
  const [d, a] = await s.receive(buf);
  if (d.length < 12) continue;
  const out = d.slice();
  out[2] |= 0x80;
  s.send(out, a).catch(() => {});
}
`;

const QUERIES = [
  "www.example.test A",
  "www.example.test AAAA",
  "example.test MX",
  "example.test TXT",
  "_sip._tcp.example.test SRV",
  "ftp.example.test CNAME",
  "10.2.0.192.in-addr.arpa PTR",
];

// The records of examples/dns_zone.json that the query mix touches, in dnsmasq's syntax.
const DNSMASQ_RECORDS = [
  "--host-record=www.example.test,192.0.2.10,2001:db8::10",
  "--host-record=mail.example.test,192.0.2.25",
  "--host-record=sip.example.test,192.0.2.60",
  "--mx-host=example.test,mail.example.test,10",
  "--txt-record=example.test,v=spf1 mx -all",
  "--srv-host=_sip._tcp.example.test,sip.example.test,5060,10,60",
  "--cname=ftp.example.test,www.example.test",
  "--ptr-record=10.2.0.192.in-addr.arpa,www.example.test",
];

function onPath(bin: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    try {
      if (Deno.statSync(`${dir}/${bin}`).isFile) return `${dir}/${bin}`;
    } catch { /* not here */ }
  }
  return null;
}

function freeUdpPort(): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

/** Waits until `port` answers a DNS query over UDP (or gives up after ~5 s). */
async function waitReady(port: number): Promise<void> {
  const q = new Uint8Array([
    0x12,
    0x34,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    3,
    119,
    119,
    119,
    7,
    101,
    120,
    97,
    109,
    112,
    108,
    101,
    4,
    116,
    101,
    115,
    116,
    0,
    0,
    1,
    0,
    1,
  ]);
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    for (let i = 0; i < 50; i++) {
      await s.send(q, { transport: "udp", hostname: "127.0.0.1", port });
      const got = await Promise.race([
        s.receive().then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 100)),
      ]);
      if (got) return;
    }
    throw new Error(`nothing answers on port ${port}`);
  } finally {
    s.close();
  }
}

interface Result {
  qps: number;
  cpuUs: number;
  completed: string;
  lost: string;
  latency: string;
}

/** utime + stime of a process in seconds (Linux /proc; NaN elsewhere). */
function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15; USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

async function dnsperf(port: number, pid: number, dataFile: string): Promise<Result> {
  const cpu0 = cpuSeconds(pid);
  const out = await new Deno.Command("dnsperf", {
    args: [
      "-s",
      "127.0.0.1",
      "-p",
      String(port),
      "-d",
      dataFile,
      "-c",
      String(CLIENTS),
      "-q",
      String(OUTSTANDING),
      "-l",
      String(SECONDS),
      "-t",
      "2",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const cpu = cpuSeconds(pid) - cpu0;
  const text = new TextDecoder().decode(out.stdout);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(text)?.[1] ?? "0");
  const completed = /Queries completed:\s+(\d+)/.exec(text)?.[1] ?? "?";
  return {
    qps,
    cpuUs: cpu * 1e6 / Number(completed),
    completed,
    lost: /Queries lost:\s+(\d+)/.exec(text)?.[1] ?? "?",
    latency: /Average Latency \(s\):\s+([\d.]+)/.exec(text)?.[1] ?? "?",
  };
}

async function stop(child: Deno.ChildProcess, signal: Deno.Signal): Promise<void> {
  try {
    child.kill(signal);
  } catch { /* already gone */ }
  await child.status;
}

if (onPath("dnsperf") === null) {
  console.log("dnsperf not found: install the Debian package dnsperf");
  Deno.exit(0);
}
const dnsmasqBin = onPath("dnsmasq");
if (dnsmasqBin === null) {
  console.log("dnsmasq not found: install the Debian package dnsmasq-base");
  Deno.exit(0);
}

const dataFile = await Deno.makeTempFile({ suffix: ".dnsperf" });
await Deno.writeTextFile(dataFile, QUERIES.join("\n") + "\n");

// evdeno's example server and dnsmasq with the same records, both running for every round.
const evPort = freeUdpPort();
const example = new URL("../examples/dns_server.ts", import.meta.url).pathname;
const ev = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-net", "--allow-read", example, "--port", String(evPort)],
  stdout: "null",
  stderr: "inherit",
}).spawn();
const dmPort = freeUdpPort();
const dm = new Deno.Command(dnsmasqBin, {
  args: [
    "--keep-in-foreground",
    "--no-resolv",
    "--no-hosts",
    "--no-negcache",
    "--pid-file=",
    "--user=",
    "--listen-address=127.0.0.1",
    "--bind-interfaces",
    `--port=${dmPort}`,
    ...DNSMASQ_RECORDS,
  ],
  stdout: "null",
  stderr: "inherit",
}).spawn();
const barePort = BARE ? freeUdpPort() : 0;
const bare = BARE
  ? new Deno.Command(Deno.execPath(), {
    args: ["eval", "--unstable-net", BARE_LOOP, String(barePort)],
    stdout: "null",
    stderr: "inherit",
  }).spawn()
  : null;
const best = (a: Result | null, b: Result) => (a === null || b.qps > a.qps ? b : a);
let evResult: Result | null = null;
let dmResult: Result | null = null;
let bareResult: Result | null = null;
try {
  await waitReady(evPort);
  await waitReady(dmPort);
  if (bare !== null) await waitReady(barePort);
  for (let round = 0; round < ROUNDS; round++) {
    evResult = best(evResult, await dnsperf(evPort, ev.pid, dataFile));
    dmResult = best(dmResult, await dnsperf(dmPort, dm.pid, dataFile));
    if (bare !== null) bareResult = best(bareResult, await dnsperf(barePort, bare.pid, dataFile));
  }
} finally {
  await stop(ev, "SIGINT");
  await stop(dm, "SIGTERM");
  if (bare !== null) await stop(bare, "SIGTERM");
  await Deno.remove(dataFile);
}
if (evResult === null || dmResult === null) throw new Error("no measurement");

const ratio = dmResult.qps > 0 ? evResult.qps / dmResult.qps : 0;
console.log(
  `dnsperf -c ${CLIENTS} -q ${OUTSTANDING} -l ${SECONDS}, ${QUERIES.length} query types, UDP, ` +
    `best of ${ROUNDS} alternating runs\n`,
);
console.log("| server | queries/s | completed | lost | avg latency (s) | server CPU µs/query |");
console.log("|---|---:|---:|---:|---:|---:|");
console.log(
  `| evdeno examples/dns_server.ts | ${
    evResult.qps.toFixed(0)
  } | ${evResult.completed} | ${evResult.lost} | ${evResult.latency} | ${
    evResult.cpuUs.toFixed(1)
  } |`,
);
console.log(
  `| dnsmasq | ${
    dmResult.qps.toFixed(0)
  } | ${dmResult.completed} | ${dmResult.lost} | ${dmResult.latency} | ${
    dmResult.cpuUs.toFixed(1)
  } |`,
);
if (bareResult !== null) {
  console.log(
    `| bare Deno UDP loop (no DNS work) | ${
      bareResult.qps.toFixed(0)
    } | ${bareResult.completed} | ${bareResult.lost} | ${bareResult.latency} | ${
      bareResult.cpuUs.toFixed(1)
    } |`,
  );
}
console.log(`\nratio evdeno / dnsmasq: ${ratio.toFixed(2)}× (target ≥ 0.5×)`);
if (bareResult !== null && bareResult.qps > 0) {
  console.log(
    `ratio evdeno / bare Deno loop: ${(evResult.qps / bareResult.qps).toFixed(2)}×; ` +
      `bare / dnsmasq: ${(bareResult.qps / dmResult.qps).toFixed(2)}×`,
  );
}
