// HTTP client load benchmark, all clients in ONE run so the ratios are comparable on a shared
// machine: 50 concurrent keep-alive request loops against nginx serving a small static file,
// with evdeno's EvhttpConnection (50 connections), Deno's fetch, and node:http with a
// keep-alive Agent (maxSockets 50). nginx (one worker) is pinned to CPU 0 and each client runs
// as its own process pinned to CPU 1. Prints req/s and ratios as a markdown table.
//
//   deno run --allow-all bench/http_client_load.ts [--secs 5] [--conns 50]
//
// Needs nginx (Debian package nginx-light or nginx); taskset is used when present.
// The same file is also the client program: `--client KIND --port N --secs S --conns C`.
import { flag } from "../examples/_args.ts";
import { freePort, ROOT, Server } from "./_proc.ts";

const SECS = Number(flag("secs", "5"));
const CONNS = Number(flag("conns", "50"));
const PATH = "/small.txt";
const BODY = "hello from nginx\n";

// ---------------------------------------------------------------- client modes

/** Runs `conns` request loops for `secs` (after a short warm-up); prints `RESULT <req/s>`. */
async function runEvdeno(port: number, secs: number, conns: number): Promise<void> {
  const { EventBase, EVHTTP_REQ_GET, EvhttpConnection, EvhttpRequest } = await import("../mod.ts");
  const base = new EventBase();
  let count = 0;
  let errors = 0;
  let stop = false;
  const all: InstanceType<typeof EvhttpConnection>[] = [];
  for (let i = 0; i < conns; i++) {
    const conn = EvhttpConnection.baseNew(base, null, "127.0.0.1", port);
    all.push(conn);
    const onDone = (req: InstanceType<typeof EvhttpRequest>) => {
      // free() fails the requests still in flight at the end: not errors.
      if (stop) return;
      if (req.getResponseCode() === 200 && req.getInputBuffer().length === BODY.length) count++;
      else errors++;
      conn.makeRequest(new EvhttpRequest(onDone), EVHTTP_REQ_GET, PATH);
    };
    conn.makeRequest(new EvhttpRequest(onDone), EVHTTP_REQ_GET, PATH);
  }
  const timing = measure(secs, () => count, () => {
    stop = true;
    for (const c of all) c.free();
  });
  await base.dispatch();
  report(await timing, errors);
  base.free();
}

async function runFetch(port: number, secs: number, conns: number): Promise<void> {
  const url = `http://127.0.0.1:${port}${PATH}`;
  let count = 0;
  let errors = 0;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      try {
        const r = await fetch(url);
        const t = await r.text();
        if (r.status === 200 && t.length === BODY.length) count++;
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  const loops = Array.from({ length: conns }, loop);
  const rate = await measure(secs, () => count, () => stop = true);
  await Promise.all(loops);
  report(rate, errors);
}

async function runNode(port: number, secs: number, conns: number): Promise<void> {
  const http = await import("node:http");
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  let count = 0;
  let errors = 0;
  let stop = false;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: PATH, agent }, (res) => {
        let n = 0;
        res.on("data", (d: Uint8Array) => n += d.length);
        res.on("end", () => {
          if (res.statusCode === 200 && n === BODY.length) count++;
          else errors++;
          resolve();
        });
      });
      req.on("error", () => {
        errors++;
        resolve();
      });
    });
  const loop = async () => {
    while (!stop) await one();
  };
  const loops = Array.from({ length: conns }, loop);
  const rate = await measure(secs, () => count, () => stop = true);
  await Promise.all(loops);
  agent.destroy();
  report(rate, errors);
}

/** Counts completions over `secs` after a 1 s warm-up; `end` stops the client. */
function measure(secs: number, get: () => number, end: () => void): Promise<number> {
  return new Promise((resolve) => {
    setTimeout(() => {
      const c0 = get();
      const t0 = performance.now();
      setTimeout(() => {
        const rate = (get() - c0) / ((performance.now() - t0) / 1000);
        end();
        resolve(rate);
      }, secs * 1000);
    }, 1000);
  });
}

function report(rate: number, errors: number): void {
  console.log(`RESULT ${rate.toFixed(0)} ${errors}`);
}

// ---------------------------------------------------------------- orchestration

function haveTaskset(): boolean {
  try {
    new Deno.Command("taskset", { args: ["-c", "0", "true"] }).outputSync();
    return true;
  } catch {
    return false;
  }
}

async function startNginx(dir: string, port: number, pin: string[]): Promise<Server> {
  await Deno.chmod(dir, 0o755);
  await Deno.mkdir(`${dir}/www`, { mode: 0o755 });
  await Deno.writeTextFile(`${dir}/www${PATH}`, BODY, { mode: 0o644 });
  await Deno.writeTextFile(
    `${dir}/nginx.conf`,
    `worker_processes 1;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 60s;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:${port}; root ${dir}/www; }
}
`,
  );
  const s = new Server([
    ...pin,
    "nginx",
    "-e",
    `${dir}/error.log`,
    "-p",
    dir,
    "-c",
    `${dir}/nginx.conf`,
    "-g",
    `daemon off; pid ${dir}/nginx.pid;`,
  ]);
  const deadline = performance.now() + 10_000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return s;
    } catch {
      if (performance.now() > deadline) throw new Error("nginx did not start");
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function runClient(kind: string, port: number, pin: string[]): Promise<[number, number]> {
  const cmd = [
    ...pin,
    Deno.execPath(),
    "run",
    "--allow-all",
    `${ROOT}bench/http_client_load.ts`,
    "--client",
    kind,
    "--port",
    String(port),
    "--secs",
    String(SECS),
    "--conns",
    String(CONNS),
  ];
  const out = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stderr: "inherit" }).output();
  const m = /RESULT (\d+) (\d+)/.exec(new TextDecoder().decode(out.stdout));
  if (m === null) throw new Error(`${kind}: no result`);
  return [Number(m[1]), Number(m[2])];
}

async function main(): Promise<void> {
  const kind = flag("client", "");
  if (kind !== "") {
    const port = Number(flag("port", "0"));
    if (kind === "evdeno") await runEvdeno(port, SECS, CONNS);
    else if (kind === "fetch") await runFetch(port, SECS, CONNS);
    else if (kind === "node") await runNode(port, SECS, CONNS);
    else throw new Error(`unknown client ${kind}`);
    return;
  }
  const pinOk = haveTaskset();
  const pin = (cpu: number) => pinOk ? ["taskset", "-c", String(cpu)] : [];
  const dir = await Deno.makeTempDir({ prefix: "evdeno-bench-nginx-" });
  const port = freePort();
  const nginx = await startNginx(dir, port, pin(0));
  const results: Record<string, [number, number]> = {};
  try {
    for (const k of ["evdeno", "fetch", "node"]) results[k] = await runClient(k, port, pin(1));
  } finally {
    await nginx.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
  const fetchRate = results.fetch![0];
  const nodeRate = results.node![0];
  console.log(
    `\n${CONNS} concurrent keep-alive GET ${PATH} (${BODY.length} B) from nginx, ${SECS} s each` +
      (pinOk ? " (nginx on CPU 0, client on CPU 1)" : ""),
  );
  console.log("\n| client | req/s | vs fetch | vs node:http | errors |");
  console.log("|---|---:|---:|---:|---:|");
  const names: Record<string, string> = {
    evdeno: "evdeno EvhttpConnection ×" + CONNS,
    fetch: "Deno fetch",
    node: `node:http Agent (keepAlive, maxSockets ${CONNS})`,
  };
  for (const k of ["evdeno", "fetch", "node"]) {
    const [r, e] = results[k]!;
    console.log(
      `| ${names[k]} | ${r} | ${(r / fetchRate).toFixed(2)}× | ${
        (r / nodeRate).toFixed(2)
      }× | ${e} |`,
    );
  }
}

await main();
