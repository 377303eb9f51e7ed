// evhttp server behind a real nginx reverse proxy (proxy_pass to an upstream with `keepalive 8`,
// `proxy_http_version 1.1`, `proxy_set_header Connection ""`), curl as the client: upstream
// connection reuse, bodies with Content-Length and chunked uploads (buffered and unbuffered by
// nginx), streamed replies up to several MB, HEAD/204/304 on a kept-alive upstream connection,
// handler-initiated `Connection: close`, and nginx's upstream read timeout (504) with the evdeno
// side cleaning up. nginx runs from a generated config in a temp dir on a free loopback port and
// is stopped by PID; the evdeno server runs in-process on 127.0.0.1:0.
import assert from "node:assert/strict";
import {
  type Evhttp,
  EVHTTP_REQ_HEAD,
  type EvhttpConnection,
  type EvhttpRequest,
  EVREQ_HTTP_EOF,
} from "../../evhttp/mod.ts";
import { patternBytes } from "../_helpers.ts";
import { withServer } from "../_evhttp_helpers.ts";
import { Child, freePort, haveBinary } from "./_spawn.ts";

const HAVE_NGINX = haveBinary("nginx");
const HAVE_CURL = haveBinary("curl");
if (!HAVE_NGINX) {
  console.log("nginx not found (Debian package nginx-light or nginx): nginx proxy tests skipped");
}
if (!HAVE_CURL) console.log("curl not found (Debian package curl): nginx proxy tests skipped");
const SKIP = !HAVE_NGINX || !HAVE_CURL;

const enc = new TextEncoder();
const dec = new TextDecoder();

// ------------------------------------------------------------------ helpers

/** Polls `cond` every 10 ms; throws after `ms` (a bounded wait, never a fixed sleep). */
async function waitUntil(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** What the evdeno side saw: upstream connections accepted and closed, and per-request facts. */
class Tracker {
  /** Accepted connections, in order (their index is the connection id). */
  readonly conns: EvhttpConnection[] = [];
  closed = 0;

  hook(http: Evhttp): void {
    // Runs once per accepted connection and again before each later request on it.
    http.setNewreqcb((req) => {
      const c = req.getConnection();
      if (c !== null && !this.conns.includes(c)) {
        this.conns.push(c);
        c.setCloseCb(() => this.closed++);
      }
    });
  }

  /** The id of the connection carrying `req` (-1 if it is gone). */
  id(req: EvhttpRequest): number {
    const c = req.getConnection();
    return c === null ? -1 : this.conns.indexOf(c);
  }
}

interface Nginx {
  dir: string;
  port: number;
  child: Child;
}

async function startNginx(upstreamPort: number): Promise<Nginx> {
  const dir = await Deno.makeTempDir({ prefix: "evdeno-nginx-proxy-" });
  // Workers may run as another user (nginx started as root drops to nobody): let them in.
  await Deno.chmod(dir, 0o755);
  const port = freePort();
  const conf = `
worker_processes 1;
error_log ${dir}/error.log info;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  log_format up '$request $status up=$upstream_addr upstatus=$upstream_status';
  access_log ${dir}/access.log up;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 64m;
  upstream evdeno {
    server 127.0.0.1:${upstreamPort};
    keepalive 8;
  }
  server {
    listen 127.0.0.1:${port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_read_timeout 15s;
    location / {
      proxy_pass http://evdeno;
    }
    # Bodies relayed as they come: a chunked upload reaches evdeno chunked.
    location /unbuffered/ {
      proxy_pass http://evdeno/;
      proxy_buffering off;
      proxy_request_buffering off;
    }
    location = /slow {
      proxy_pass http://evdeno;
      proxy_read_timeout 400ms;
    }
  }
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
    "daemon off;",
  ]);
  // Ready when the port accepts (bounded polling, no fixed sleep).
  const deadline = performance.now() + 10_000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (performance.now() > deadline) {
        await child.stop("SIGKILL");
        await Deno.remove(dir, { recursive: true });
        throw new Error(`nginx did not start: ${child.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return { dir, port, child };
}

async function stopNginx(n: Nginx): Promise<void> {
  await n.child.stop("SIGTERM");
  await Deno.remove(n.dir, { recursive: true });
}

/** nginx's error log lines at level error or worse. */
async function nginxErrors(n: Nginx): Promise<string[]> {
  const log = await Deno.readTextFile(`${n.dir}/error.log`);
  return log.split("\n").filter((l) => /\[(error|crit|alert|emerg)\]/.test(l));
}

interface Reply {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
}

/** One request through curl (`-i`); interim 1xx heads are skipped. */
async function curl(args: string[], url: string): Promise<Reply> {
  const o = await new Deno.Command("curl", {
    args: ["-sS", "-i", "--max-time", "15", ...args, url],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(o.success, `curl ${args.join(" ")} ${url} failed: ${dec.decode(o.stderr)}`);
  let out = o.stdout;
  for (;;) {
    const end = indexOf(out, enc.encode("\r\n\r\n"));
    assert.ok(end >= 0, `no response head from curl: ${dec.decode(out.subarray(0, 200))}`);
    const lines = dec.decode(out.subarray(0, end)).split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    assert.ok(m !== null, `bad status line ${lines[0]}`);
    const status = Number(m[1]);
    out = out.subarray(end + 4);
    if (status >= 100 && status < 200) continue;
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(":");
      headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
    }
    return { status, headers, body: out };
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Byte comparison that reports the first difference instead of dumping megabytes. */
function assertBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) assert.fail(`${what}: bytes differ at offset ${i}`);
  }
}

interface Ctx {
  nginx: Nginx;
  http: Evhttp;
  t: Tracker;
  url: (path: string) => string;
}

/**
 * Starts the evdeno server (routes from `setup`), nginx in front of it, runs `fn`, stops nginx
 * by PID; then every upstream connection must have been closed on the evdeno side.
 */
async function withProxy(
  setup: (http: Evhttp, t: Tracker) => void,
  fn: (c: Ctx) => Promise<void>,
): Promise<void> {
  const t = new Tracker();
  await withServer((http) => {
    t.hook(http);
    setup(http, t);
  }, async ({ http, port }) => {
    const nginx = await startNginx(port);
    try {
      await fn({ nginx, http, t, url: (p) => `http://127.0.0.1:${nginx.port}${p}` });
    } finally {
      await stopNginx(nginx);
    }
    // nginx has exited: its kept-alive upstream connections must be gone on our side too.
    await waitUntil(() => http.getConnectionCount() === 0, "evdeno to drop nginx's connections");
    assert.equal(t.closed, t.conns.length, "every accepted connection closed");
  });
}

/** Routes shared by the tests; each reply names the upstream connection in X-Conn. */
function routes(http: Evhttp, t: Tracker): void {
  const tag = (req: EvhttpRequest) => req.getOutputHeaders().add("X-Conn", String(t.id(req)));
  http.setCb("/hello", (req) => {
    tag(req);
    req.sendReply(200, null, `hello ${req.getUri()}`);
  });
  // Echoes the body and says how it arrived.
  http.setCb("/echo", (req) => {
    tag(req);
    const h = req.getOutputHeaders();
    const inh = req.getInputHeaders();
    h.add("X-Got-TE", inh.find("Transfer-Encoding") ?? "-");
    h.add("X-Got-CL", inh.find("Content-Length") ?? "-");
    h.add("Content-Type", "application/octet-stream");
    req.sendReply(200, null, req.getInputBuffer());
  });
  // /stream?n=SIZE&c=CHUNK: SIZE pattern bytes in CHUNK-sized pieces, with backpressure.
  http.setCb("/stream", (req) => {
    tag(req);
    const q = new URLSearchParams(req.getUri().split("?")[1] ?? "");
    const size = Number(q.get("n") ?? "1000");
    const chunk = Number(q.get("c") ?? "100");
    const data = patternBytes(size, size);
    req.getOutputHeaders().add("Content-Type", "application/octet-stream");
    req.sendReplyStart(200, null);
    let off = 0;
    const next = () => {
      if (off >= size) {
        req.sendReplyEnd();
        return;
      }
      const piece = data.subarray(off, Math.min(size, off + chunk));
      off += piece.length;
      req.sendReplyChunkWithCb(piece, next);
    };
    next();
  });
  // A few small pieces through the plain sendReplyChunk, all queued at once.
  http.setCb("/pieces", (req) => {
    tag(req);
    req.sendReplyStart(200, null);
    for (let i = 0; i < 5; i++) req.sendReplyChunk(`piece${i};`);
    req.sendReplyEnd();
  });
  // Bodyless statuses, replied with a body anyway (evdeno must not send it).
  for (const code of [204, 304]) {
    http.setCb(`/${code}`, (req) => {
      tag(req);
      req.getOutputHeaders().add("ETag", '"v1"');
      req.sendReply(code, null, "this body must never be sent");
    });
    http.setCb(`/${code}-streamed`, (req) => {
      tag(req);
      req.sendReplyStart(code, null);
      req.sendReplyChunk("this body must never be sent");
      req.sendReplyEnd();
    });
  }
  // The handler ends the connection after its reply.
  http.setCb("/close", (req) => {
    tag(req);
    req.getOutputHeaders().add("Connection", "close");
    req.sendReply(200, null, "closing");
  });
  http.setCb("/close-streamed", (req) => {
    tag(req);
    req.getOutputHeaders().add("Connection", "close");
    req.sendReplyStart(200, null);
    req.sendReplyChunk("closing ");
    req.sendReplyChunk("streamed");
    req.sendReplyEnd();
  });
}

// ------------------------------------------------------------------ tests

Deno.test({
  name: "nginx proxy: GET over one reused upstream keep-alive connection",
  ignore: SKIP,
  async fn() {
    await withProxy(routes, async ({ nginx, t, url }) => {
      for (let i = 0; i < 8; i++) {
        const r = await curl([], url(`/hello?i=${i}`));
        assert.equal(r.status, 200);
        assert.equal(dec.decode(r.body), `hello /hello?i=${i}`);
        assert.equal(r.headers.get("x-conn"), "0", `request ${i} on the first upstream connection`);
      }
      // Several curl clients at once may need more upstream connections, but never more than
      // there are clients, and afterwards they are all reused.
      const burst = await Promise.all(
        Array.from({ length: 4 }, (_, i) => curl([], url(`/hello?b=${i}`))),
      );
      for (const r of burst) assert.equal(r.status, 200);
      const opened = t.conns.length;
      assert.ok(opened >= 1 && opened <= 4, `${opened} upstream connections`);
      for (let i = 0; i < 4; i++) assert.equal((await curl([], url("/hello"))).status, 200);
      assert.equal(t.conns.length, opened, "no new upstream connection for sequential requests");
      assert.equal(t.closed, 0, "nothing closed while nginx keeps connections alive");
      assert.deepEqual(await nginxErrors(nginx), []);
    });
  },
});

Deno.test({
  name: "nginx proxy: POST with Content-Length and chunked uploads reach the handler intact",
  ignore: SKIP,
  async fn() {
    await withProxy(routes, async ({ nginx, t, url }) => {
      const body = patternBytes(1_500_000, 7);
      const file = `${nginx.dir}/upload.bin`;
      await Deno.writeFile(file, body);
      const small = await curl(["--data-binary", "abc=def&x=1"], url("/echo"));
      assert.equal(small.status, 200);
      assert.equal(dec.decode(small.body), "abc=def&x=1");
      assert.equal(small.headers.get("x-got-cl"), "11");
      assert.equal(small.headers.get("x-got-te"), "-");
      for (const prefix of ["", "/unbuffered"]) {
        const cl = await curl(["--data-binary", `@${file}`], url(`${prefix}/echo`));
        assert.equal(cl.status, 200, `${prefix} CL upload`);
        assert.equal(cl.headers.get("x-got-cl"), String(body.length));
        assertBytes(cl.body, body, `${prefix} CL upload`);
        const ch = await curl(
          ["-H", "Transfer-Encoding: chunked", "--data-binary", `@${file}`],
          url(`${prefix}/echo`),
        );
        assert.equal(ch.status, 200, `${prefix} chunked upload`);
        assertBytes(ch.body, body, `${prefix} chunked upload`);
        if (prefix === "") {
          // nginx buffered the upload and sent it on with a length.
          assert.equal(ch.headers.get("x-got-cl"), String(body.length));
        } else {
          // Unbuffered: nginx relays the chunked framing to evdeno.
          assert.equal(ch.headers.get("x-got-te"), "chunked");
          assert.equal(ch.headers.get("x-got-cl"), "-");
        }
      }
      // An empty chunked upload.
      const empty = await curl(
        ["-H", "Transfer-Encoding: chunked", "--data-binary", ""],
        url("/unbuffered/echo"),
      );
      assert.equal(empty.status, 200);
      assert.equal(empty.body.length, 0);
      // Every upload went over the one upstream connection.
      assert.equal(t.conns.length, 1, "one upstream connection for all uploads");
      assert.deepEqual(await nginxErrors(nginx), []);
    });
  },
});

Deno.test({
  name: "nginx proxy: streamed (chunked) replies relayed intact, up to 6 MB",
  ignore: SKIP,
  async fn() {
    await withProxy(routes, async ({ nginx, t, url }) => {
      const pieces = await curl([], url("/pieces"));
      assert.equal(pieces.status, 200);
      assert.equal(dec.decode(pieces.body), "piece0;piece1;piece2;piece3;piece4;");
      for (const prefix of ["", "/unbuffered"]) {
        for (const [n, c] of [[1, 1], [70_000, 1000], [6 * 1024 * 1024, 65_536]] as const) {
          const r = await curl([], url(`${prefix}/stream?n=${n}&c=${c}`));
          assert.equal(r.status, 200);
          assertBytes(r.body, patternBytes(n, n), `${prefix}/stream n=${n}`);
        }
      }
      // The chunked framing ended each reply cleanly: the connection was reused throughout.
      const after = await curl([], url("/hello"));
      assert.equal(after.status, 200);
      assert.equal(after.headers.get("x-conn"), "0");
      assert.equal(t.conns.length, 1);
      assert.deepEqual(await nginxErrors(nginx), []);
    });
  },
});

Deno.test({
  name: "nginx proxy: HEAD, 204 and 304 keep the upstream connection usable",
  ignore: SKIP,
  async fn() {
    let headCmd = -1;
    await withProxy((http, t) => {
      routes(http, t);
      http.setCb("/head-streamed", (req) => {
        headCmd = req.getCommand();
        req.getOutputHeaders().add("X-Conn", String(t.id(req)));
        req.sendReplyStart(200, null);
        req.sendReplyChunk("never sent on HEAD");
        req.sendReplyEnd();
      });
    }, async ({ nginx, t, url }) => {
      const steps: [string[], string, number][] = [
        [["-I"], "/hello", 200],
        [["-I"], "/head-streamed", 200],
        [[], "/204", 204],
        [["-H", 'If-None-Match: "v1"'], "/304", 304],
        [[], "/204-streamed", 204],
        [[], "/304-streamed", 304],
        [["-I"], "/stream?n=5000", 200],
      ];
      for (const [args, path, code] of steps) {
        const r = await curl(args, url(path));
        assert.equal(r.status, code, path);
        assert.equal(r.body.length, 0, `${path}: no body`);
        assert.equal(r.headers.get("x-conn"), "0", `${path} on the first upstream connection`);
        // The very next GET on the same upstream connection must get its own answer.
        const g = await curl([], url(`/hello?after=${path}`));
        assert.equal(g.status, 200);
        assert.equal(dec.decode(g.body), `hello /hello?after=${path}`, `GET after ${path}`);
        assert.equal(g.headers.get("x-conn"), "0", `GET after ${path} reused the connection`);
      }
      assert.equal(headCmd, EVHTTP_REQ_HEAD, "nginx passed HEAD through");
      assert.equal(t.conns.length, 1);
      assert.equal(t.closed, 0);
      assert.deepEqual(await nginxErrors(nginx), []);
    });
  },
});

Deno.test({
  name: "nginx proxy: a handler's Connection: close makes nginx open a new upstream connection",
  ignore: SKIP,
  async fn() {
    await withProxy(routes, async ({ nginx, t, url }) => {
      const seq = ["/hello", "/close", "/hello", "/close-streamed", "/hello", "/close", "/hello"];
      const want: Record<string, string> = {
        "/hello": "hello /hello",
        "/close": "closing",
        "/close-streamed": "closing streamed",
      };
      const ids: string[] = [];
      for (const path of seq) {
        const r = await curl([], url(path));
        assert.equal(r.status, 200, path);
        assert.equal(dec.decode(r.body), want[path], path);
        ids.push(r.headers.get("x-conn")!);
      }
      // Each close ends a connection; the next request comes on a fresh one.
      assert.deepEqual(ids, ["0", "0", "1", "1", "2", "2", "3"]);
      await waitUntil(() => t.closed === 3, "three closed upstream connections");
      assert.equal(t.conns.length, 4);
      // An upload that gets a closing answer also leaves nginx with no error.
      const r = await curl(["--data-binary", "x".repeat(10_000)], url("/close"));
      assert.equal(r.status, 200);
      assert.equal((await curl([], url("/hello"))).status, 200);
      assert.equal(t.conns.length, 5);
      assert.deepEqual(await nginxErrors(nginx), []);
    });
  },
});

Deno.test({
  name: "nginx proxy: upstream read timeout gives 504; the late reply closes the dead connection",
  ignore: SKIP,
  async fn() {
    const pending: EvhttpRequest[] = [];
    const errors: number[] = [];
    await withProxy((http, t) => {
      routes(http, t);
      // Replies only when the test says so (a long poll that outlives nginx's patience).
      http.setCb("/slow", (req) => {
        req.setErrorCb((kind) => errors.push(kind));
        pending.push(req);
      });
    }, async ({ nginx, http, t, url }) => {
      assert.equal((await curl([], url("/hello"))).status, 200);
      const started = performance.now();
      const r = await curl([], url("/slow"));
      assert.equal(r.status, 504);
      assert.ok(performance.now() - started < 5000, "504 came from proxy_read_timeout");
      assert.equal(pending.length, 1, "the request reached the handler once (no retry)");
      // The proxy carries on, on a new upstream connection.
      const g = await curl([], url("/hello"));
      assert.equal(g.status, 200);
      assert.equal(g.headers.get("x-conn"), "1");
      // The handler answers at last, into a connection nginx has closed: evdeno must not
      // throw, must not keep the connection, and the request's reply goes nowhere.
      pending[0]!.sendReply(200, null, "too late");
      await waitUntil(() => t.closed === 1, "the abandoned upstream connection to close");
      assert.equal(pending[0]!.getConnection(), null);
      pending[0]!.sendReply(200, null, "even later"); // a no-op
      assert.equal(http.getConnectionCount(), 1, "only nginx's live keep-alive connection");
      assert.equal((await curl([], url("/hello"))).headers.get("x-conn"), "1");
      assert.ok(errors.every((k) => k === EVREQ_HTTP_EOF), `error kinds ${errors}`);
      const errs = await nginxErrors(nginx);
      assert.equal(errs.length, 1, errs.join("\n"));
      assert.match(errs[0]!, /upstream timed out/);
    });
  },
});

// When nginx gives up (504) it closes the upstream connection while the request is still in the
// handler. evdeno keeps a half-closed connection for the reply (a client may shut down its write
// side and still read), but only for the read timeout: a handler that has not begun replying by
// then loses the connection (EVREQ_HTTP_EOF; libevent frees it at once), so a handler that never
// answers cannot pin one upstream connection per 504.
Deno.test({
  name: "nginx proxy: upstream read timeout with a handler that never replies frees the connection",
  ignore: SKIP,
  async fn() {
    const pending: EvhttpRequest[] = [];
    const errors: number[] = [];
    await withProxy((http, t) => {
      routes(http, t);
      http.setReadTimeout(500);
      // Never replies.
      http.setCb("/slow", (req) => {
        req.setErrorCb((kind) => errors.push(kind));
        pending.push(req);
      });
    }, async ({ http, t, url }) => {
      const r = await curl([], url("/slow"));
      assert.equal(r.status, 504);
      assert.equal(pending.length, 1);
      // nginx closed the upstream connection after its timeout: evdeno lets go within its own
      // read timeout.
      await waitUntil(() => t.closed === 1, "the timed-out upstream connection to close", 3000);
      assert.deepEqual(errors, [EVREQ_HTTP_EOF]);
      assert.equal(pending[0]!.getConnection(), null);
      assert.equal(http.getConnectionCount(), 0);
    });
  },
});
