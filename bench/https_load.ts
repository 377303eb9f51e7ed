// HTTPS keep-alive load, evdeno vs Deno.serve in ONE run, with the same certificate: evdeno is
// examples/https_server.ts (`GET /hello/get`), Deno.serve answers the same route with the same
// body. A throwaway CA + localhost certificate is made with openssl (tests/_tls.ts) and written
// to a temp dir. Each server runs pinned to CPU 0 (`taskset -c 0`); wrk runs pinned to CPU 1
// with `-t1 -c50` and `-t1 -c1` (wrk speaks TLS and does not verify certificates). Prints req/s,
// p50/p99 latency and the ratio to Deno.serve as a markdown table (target: ≥ 0.8× at c50).
//
//   deno run --allow-all bench/https_load.ts [--secs 5]
//
// Needs wrk, taskset and openssl. The same file is also the Deno.serve program:
// `deno run -A bench/https_load.ts --serve deno --port N --cert F --key F`.
import { flag } from "../examples/_args.ts";
import { testPki } from "../tests/_tls.ts";
import { freePort, Server } from "./_proc.ts";
import { hasCmd, printWrkTable, runWrk, type WrkResult } from "./_wrk.ts";

const SECS = Number(flag("secs", "5"));
const BODY = "Test_Get is OK!";

function serveDeno(port: number, certFile: string, keyFile: string): void {
  const s = Deno.serve({
    hostname: "127.0.0.1",
    port,
    cert: Deno.readTextFileSync(certFile),
    key: Deno.readTextFileSync(keyFile),
    onListen: () => {},
  }, (req) => {
    if (new URL(req.url).pathname !== "/hello/get") {
      return new Response("not found", { status: 404 });
    }
    return new Response(BODY, { headers: { "content-type": "text/html; charset=ISO-8859-1" } });
  });
  Deno.addSignalListener("SIGINT", () => s.shutdown());
  console.log(`listening on 127.0.0.1:${port}`);
}

function wrk(port: number, conns: number, secs: number): Promise<WrkResult> {
  return runWrk(`https://127.0.0.1:${port}/hello/get`, conns, secs);
}

async function main(): Promise<void> {
  for (const [cmd, pkg] of [["wrk", "wrk"], ["taskset", "util-linux"], ["openssl", "openssl"]]) {
    if (!(await hasCmd(cmd!))) {
      console.error(`needs ${cmd} (apt-get install ${pkg})`);
      Deno.exit(1);
    }
  }
  const pki = await testPki();
  if (pki === null) throw new Error("openssl could not make the test certificate");
  const dir = await Deno.makeTempDir({ prefix: "evdeno-https-bench-" });
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  await Deno.writeTextFile(certFile, pki.cert);
  await Deno.writeTextFile(keyFile, pki.key);
  const self = new URL(import.meta.url).pathname;
  const pin = ["taskset", "-c", "0", Deno.execPath(), "run", "-A"];
  const rivals: [string, (port: number) => string[]][] = [
    [
      "evdeno",
      (p) => [
        ...pin,
        "examples/https_server.ts",
        "--cert",
        certFile,
        "--key",
        keyFile,
        "--port",
        String(p),
      ],
    ],
    [
      "deno-serve",
      (p) => [
        ...pin,
        self,
        "--serve",
        "deno",
        "--port",
        String(p),
        "--cert",
        certFile,
        "--key",
        keyFile,
      ],
    ],
  ];
  const scenarios: [string, number][] = [["c50", 50], ["c1", 1]];
  const results = new Map<string, Map<string, WrkResult>>();
  try {
    for (const [name, cmd] of rivals) {
      const port = freePort();
      const server = new Server(cmd(port));
      try {
        await server.waitFor(/listening on/, 30_000);
        // A short warm-up so both servers are measured JIT-warm.
        await wrk(port, 50, 2);
        const m = new Map<string, WrkResult>();
        for (const [sc, conns] of scenarios) {
          const res = await wrk(port, conns, SECS);
          m.set(sc, res);
          console.error(
            `${name} ${sc}: ${Math.round(res.rps)} req/s p50 ${res.p50.toFixed(2)} ms ` +
              `p99 ${res.p99.toFixed(2)} ms ${res.errors}`,
          );
        }
        results.set(name, m);
      } finally {
        await server.stop("SIGINT");
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  printWrkTable(results);
}

if (flag("serve", "") === "deno") {
  serveDeno(Number(flag("port", "0")), flag("cert", ""), flag("key", ""));
} else {
  await main();
}
