// evhttp client against a real nginx: static files of several sizes over one keep-alive
// connection (checked in nginx's access log), HEAD, 404, gzip'd chunked responses, pipelining,
// and HTTPS with a throwaway CA. nginx runs from a generated config in a temp dir on free
// loopback ports and is stopped by PID.
import assert from "node:assert/strict";
import {
  EVHTTP_REQ_GET,
  EVHTTP_REQ_HEAD,
  EvhttpConnection,
  evhttpFetch,
  EvhttpRequest,
} from "../../evhttp/mod.ts";
import { EV_TIMEOUT, EventBase } from "../../reactor/mod.ts";
import { patternBytes } from "../_helpers.ts";
import { testPki } from "../_tls.ts";
import { Child, freePort, haveBinary } from "./_spawn.ts";

const HAVE = haveBinary("nginx");
if (!HAVE) {
  console.log("nginx not found (Debian package nginx-light or nginx): nginx tests skipped");
}

const SIZES: Record<string, number> = { "tiny.txt": 13, "64k.bin": 65_536, "1m.bin": 1_048_576 };

interface Nginx {
  dir: string;
  port: number;
  tlsPort: number;
  caCert: string | null;
  child: Child;
}

async function startNginx(): Promise<Nginx> {
  const dir = await Deno.makeTempDir({ prefix: "evdeno-nginx-" });
  // Workers may run as another user (nginx started as root drops to nobody): let them read.
  await Deno.chmod(dir, 0o755);
  await Deno.mkdir(`${dir}/www`, { mode: 0o755 });
  for (const [name, size] of Object.entries(SIZES)) {
    await Deno.writeFile(`${dir}/www/${name}`, patternBytes(size, size), { mode: 0o644 });
  }
  await Deno.writeTextFile(`${dir}/www/text.txt`, "evdeno ".repeat(5000), { mode: 0o644 });
  const pki = await testPki();
  const port = freePort();
  const tlsPort = freePort();
  let tlsBlock = "";
  if (pki !== null) {
    await Deno.writeTextFile(`${dir}/leaf.crt`, pki.cert);
    await Deno.writeTextFile(`${dir}/leaf.key`, pki.key);
    tlsBlock = `
    server {
      listen 127.0.0.1:${tlsPort} ssl;
      ssl_certificate ${dir}/leaf.crt;
      ssl_certificate_key ${dir}/leaf.key;
      root ${dir}/www;
    }`;
  }
  const conf = `
worker_processes 1;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  log_format conn '$connection $connection_requests "$request" $status';
  access_log ${dir}/access.log conn;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 30s;
  keepalive_requests 100000;
  types { text/plain txt; text/html html; }
  default_type application/octet-stream;
  gzip on;
  gzip_types text/plain;
  gzip_min_length 0;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
  }${tlsBlock}
}
`;
  await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
  const child = new Child("nginx", [
    "-e",
    `${dir}/error.log`,
    "-p",
    dir,
    "-c",
    `${dir}/nginx.conf`,
    "-g",
    `daemon off; pid ${dir}/nginx.pid;`,
  ]);
  // Ready when both ports accept (bounded polling, no fixed sleep).
  const deadline = performance.now() + 10_000;
  for (const p of pki !== null ? [port, tlsPort] : [port]) {
    for (;;) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: p })).close();
        break;
      } catch {
        if (performance.now() > deadline) {
          await child.stop("SIGKILL");
          throw new Error(`nginx did not start: ${child.stderr}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
  return { dir, port, tlsPort, caCert: pki?.caCert ?? null, child };
}

async function stopNginx(n: Nginx): Promise<void> {
  await n.child.stop("SIGTERM");
  await Deno.remove(n.dir, { recursive: true });
}

interface Got {
  code: number;
  body: Uint8Array;
  headers: Map<string, string>;
  error: Error | null;
}

function get(conn: EvhttpConnection, uri: string, method = EVHTTP_REQ_GET): Promise<Got> {
  return new Promise((resolve) => {
    const req = new EvhttpRequest((r) => {
      const headers = new Map<string, string>();
      for (const [k, v] of r.getInputHeaders()) headers.set(k.toLowerCase(), v);
      const b = r.getInputBuffer();
      resolve({
        code: r.getResponseCode(),
        body: b.length > 0 ? b.remove(b.length) : new Uint8Array(0),
        headers,
        error: r.getError(),
      });
    });
    if (uri === "/text.txt" || uri === "/missing") {
      req.getOutputHeaders().add("Accept-Encoding", "gzip");
    }
    conn.makeRequest(req, method, uri);
  });
}

async function gunzip(b: Uint8Array): Promise<string> {
  const s = new Blob([b as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(s).text();
}

async function withBase(fn: (base: EventBase) => Promise<void>): Promise<void> {
  const base = new EventBase();
  base.once(null, EV_TIMEOUT, () => {}, undefined, 600_000);
  const loop = base.dispatch();
  try {
    await fn(base);
  } finally {
    base.loopbreak();
    await loop;
    base.free();
  }
}

Deno.test({
  name: "nginx: static files over one keep-alive connection, HEAD, 404, gzip chunked",
  ignore: !HAVE,
  async fn() {
    const n = await startNginx();
    try {
      await withBase(async (base) => {
        const conn = EvhttpConnection.baseNew(base, null, "127.0.0.1", n.port);
        let closes = 0;
        conn.setCloseCb(() => closes++);
        try {
          for (let round = 0; round < 2; round++) {
            for (const [name, size] of Object.entries(SIZES)) {
              const g = await get(conn, `/${name}`);
              assert.equal(g.code, 200, name);
              assert.equal(g.body.length, size);
              assert.deepEqual(g.body, patternBytes(size, size));
            }
          }
          const h = await get(conn, "/1m.bin", EVHTTP_REQ_HEAD);
          assert.equal(h.code, 200);
          assert.equal(h.headers.get("content-length"), "1048576");
          assert.equal(h.body.length, 0);
          const nf = await get(conn, "/missing");
          assert.equal(nf.code, 404);
          const page = nf.headers.get("content-encoding") === "gzip"
            ? await gunzip(nf.body)
            : new TextDecoder().decode(nf.body);
          assert.match(page, /404 Not Found/);
          const z = await get(conn, "/text.txt");
          assert.equal(z.code, 200);
          assert.equal(z.headers.get("transfer-encoding"), "chunked");
          assert.equal(z.headers.get("content-encoding"), "gzip");
          assert.equal(await gunzip(z.body), "evdeno ".repeat(5000));
          // nginx logs a request before it reads the next one on the connection: once this
          // answer is in, the nine lines above are in the access log.
          assert.equal((await get(conn, "/tiny.txt")).code, 200);
          assert.equal(closes, 0, "the connection stayed open");
        } finally {
          conn.free();
        }
        const log = (await Deno.readTextFile(`${n.dir}/access.log`)).trim().split("\n")
          .slice(0, 9);
        assert.equal(log.length, 9);
        const connIds = new Set(log.map((l) => l.split(" ")[0]));
        assert.equal(connIds.size, 1, "every request on one connection");
        assert.equal(log.at(-1)!.split(" ")[1], "9");
      });
    } finally {
      await stopNginx(n);
    }
  },
});

Deno.test({
  name: "nginx: pipelining and 50 concurrent keep-alive connections",
  ignore: !HAVE,
  async fn() {
    const n = await startNginx();
    try {
      await withBase(async (base) => {
        const pipe = EvhttpConnection.baseNew(base, null, "127.0.0.1", n.port);
        pipe.setPipelining(true);
        const conns = Array.from(
          { length: 50 },
          () => EvhttpConnection.baseNew(base, null, "127.0.0.1", n.port),
        );
        try {
          const piped = await Promise.all(
            Array.from({ length: 20 }, (_, i) => get(pipe, i % 2 === 0 ? "/tiny.txt" : "/64k.bin")),
          );
          piped.forEach((g, i) => assert.equal(g.body.length, i % 2 === 0 ? 13 : 65_536));
          const all = await Promise.all(
            conns.flatMap((c) => [get(c, "/tiny.txt"), get(c, "/tiny.txt"), get(c, "/64k.bin")]),
          );
          assert.equal(all.length, 150);
          for (const g of all) assert.equal(g.code, 200);
        } finally {
          pipe.free();
          for (const c of conns) c.free();
        }
      });
    } finally {
      await stopNginx(n);
    }
  },
});

Deno.test({
  name: "nginx: HTTPS with the test CA (EvhttpConnection and evhttpFetch)",
  ignore: !HAVE,
  async fn() {
    const n = await startNginx();
    try {
      if (n.caCert === null) {
        console.log("openssl missing (Debian package openssl): nginx TLS test skipped");
        return;
      }
      await withBase(async (base) => {
        const conn = EvhttpConnection.baseNew(base, null, "localhost", n.tlsPort, {
          tls: { caCerts: [n.caCert!] },
        });
        try {
          for (const [name, size] of Object.entries(SIZES)) {
            const g = await get(conn, `/${name}`);
            assert.equal(g.code, 200);
            assert.deepEqual(g.body, patternBytes(size, size));
          }
        } finally {
          conn.free();
        }
        const r = await evhttpFetch(base, `https://localhost:${n.tlsPort}/tiny.txt`, {
          tls: { caCerts: [n.caCert!] },
        });
        assert.equal(r.status, 200);
        assert.equal(r.body.length, 13);
        await assert.rejects(
          evhttpFetch(base, `https://localhost:${n.tlsPort}/tiny.txt`),
          /TLS connection to localhost:\d+ failed/,
        );
      });
    } finally {
      await stopNginx(n);
    }
  },
});
