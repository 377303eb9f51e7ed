// examples/http_server.ts (libevent's sample/http-server.c) run as a subprocess over a temp
// directory: files with their Content-Type, escaped listings, every traversal refused, non-regular
// files refused, one log line per request (also for what the library answers itself), SIGINT.
import assert from "node:assert/strict";
import { exchange } from "./_evhttp_helpers.ts";
import { bounded } from "./_helpers.ts";
import { Child } from "./interop/_spawn.ts";

async function withFileServer(
  fn: (port: number, dir: string, server: Child) => Promise<void>,
): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  const outside = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.txt`, "hello\n");
    await Deno.writeTextFile(`${dir}/page.HTML`, "<p>x</p>");
    await Deno.mkdir(`${dir}/sub dir`);
    await Deno.writeTextFile(`${dir}/sub dir/<b>&.txt`, "escaped");
    await Deno.writeTextFile(`${outside}/secret.txt`, "secret");
    await Deno.symlink(`${outside}/secret.txt`, `${dir}/leak.txt`);
    const fifo = await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
    assert.ok(fifo.success, "mkfifo");
    const server = Child.deno("examples/http_server.ts", [dir, "--port", "0"]);
    try {
      const port = await server.listeningPort();
      await fn(port, dir, server);
    } finally {
      const st = await server.stop("SIGINT");
      assert.equal(st.code, 0, `exit status (stderr: ${server.stderr})`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
}

const get = (port: number, target: string, method = "GET") =>
  exchange(port, `${method} ${target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`, {
    head: method === "HEAD",
  });

Deno.test("http_server.ts: files, types, listings, traversal, non-regular files, logs", async () => {
  await withFileServer(async (port, _dir, server) => {
    const a = (await get(port, "/a.txt"))!;
    assert.equal(a.status, 200);
    assert.equal(a.text, "hello\n");
    assert.match(a.headers.get("content-type")!, /^text\/plain/);
    assert.match((await get(port, "/page.HTML"))!.headers.get("content-type")!, /^text\/html/);
    const head = (await get(port, "/a.txt", "HEAD"))!;
    assert.equal(head.headers.get("content-length"), "6");

    // Listings: names escaped in the text and encoded in the links.
    const moved = (await get(port, "/sub%20dir"))!;
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.get("location"), "/sub%20dir/");
    // An absolute-form target with "//" must not redirect to another host ("//sub dir/").
    const abs = (await get(port, "http://h//sub%20dir"))!;
    if (abs.status === 301) assert.equal(abs.headers.get("location"), "/sub%20dir/");
    const list = (await get(port, "/sub%20dir/"))!;
    assert.equal(list.status, 200);
    assert.ok(list.text.includes("&lt;b&gt;&amp;.txt"), list.text);
    assert.ok(list.text.includes('href="%3Cb%3E%26.txt"'), list.text);

    // Nothing outside the root, however spelled; nothing that is not a file or directory.
    for (const t of ["/../etc/passwd", "/%2e%2e/etc/passwd", "/sub%20dir%2f..%2f..%2fx", "/%00"]) {
      const r = (await get(port, t))!;
      assert.ok(r.status === 400 || r.status === 403 || r.status === 404, `${t}: ${r.status}`);
    }
    assert.equal((await get(port, "/leak.txt"))!.status, 403);
    assert.equal((await get(port, "/fifo"))!.status, 403);
    assert.equal((await get(port, "/a.txt/"))!.status, 404);
    assert.equal((await get(port, "/missing"))!.status, 404);

    // Answered by the library (405 from setAllowedMethods), logged all the same.
    assert.equal((await get(port, "/a.txt", "POST"))!.status, 405);
    await server.waitFor(/"POST \/a\.txt" 405$/);
    await server.waitFor(/"GET \/fifo" 403$/);
  });
});

/** A Deno WebSocket client that records messages and its close event. */
function wsClient(port: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const msgs: string[] = [];
  let waiter: { re: RegExp; resolve: () => void } | null = null;
  ws.onmessage = (m) => {
    msgs.push(String(m.data));
    if (waiter !== null && waiter.re.test(String(m.data))) waiter.resolve();
  };
  const closed = new Promise<CloseEvent>((r) => ws.onclose = r);
  const opened = new Promise<void>((r) => ws.onopen = () => r());
  return {
    ws,
    msgs,
    closed,
    opened,
    /** Resolves once a message matching `re` arrived. */
    next(re: RegExp): Promise<void> {
      if (msgs.some((m) => re.test(m))) return Promise.resolve();
      return new Promise((resolve) => waiter = { re, resolve });
    },
  };
}

Deno.test("ws_chat.ts: messages reach the other clients; the page is served; SIGINT closes with 1001", async () => {
  const server = Child.deno("examples/ws_chat.ts", ["--port", "0"]);
  let stopped = false;
  try {
    const port = await server.listeningPort();
    const page = await get(port, "/");
    assert.equal(page?.status, 200);
    assert.match(new TextDecoder().decode(page?.body), /new WebSocket/);
    const a = wsClient(port);
    await a.next(/^welcome, guest1/);
    const b = wsClient(port);
    await b.next(/^welcome, guest2 \(2 here\)/);
    a.ws.send("hello room");
    await b.next(/^guest1: hello room$/);
    assert.ok(!a.msgs.some((m) => m.includes("hello room")), "not echoed to the sender");
    const st = await server.stop("SIGINT");
    stopped = true;
    assert.equal(st.code, 0, `exit status (stderr: ${server.stderr})`);
    assert.equal((await a.closed).code, 1001);
    assert.equal((await b.closed).code, 1001);
  } finally {
    if (!stopped) await server.stop("SIGINT");
  }
});

Deno.test("http_server.ts refuses request bodies (413) instead of buffering them", async () => {
  await withFileServer(async (port) => {
    const r = (await exchange(
      port,
      "GET /a.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 8000000000\r\nConnection: close\r\n\r\n",
    ))!;
    assert.equal(r.status, 413);
    assert.equal((await get(port, "/a.txt"))!.status, 200, "and keeps serving");
  });
});

Deno.test("ws_chat.ts drops a client that does not read what the room says", async () => {
  const server = Child.deno("examples/ws_chat.ts", ["--port", "0"]);
  const enc = new TextEncoder();
  try {
    const port = await server.listeningPort();
    // A raw client that completes the handshake and then never reads.
    const idle = await Deno.connect({ hostname: "127.0.0.1", port });
    await idle.write(enc.encode(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ));
    const b = wsClient(port);
    await b.next(/^welcome, guest2 \(2 here\)/);
    const c = wsClient(port); // reads everything: it tells when the room has had it all
    await c.next(/^welcome, guest3 \(3 here\)/);
    // 32 MB for the idle client: far past what the kernel buffers plus 1 MiB of output hold.
    const big = "x".repeat(256 * 1024);
    for (let i = 0; i < 128; i++) b.ws.send(big);
    b.ws.send("done");
    await c.next(/^guest2: done$/);
    // The idle client, read at last: whatever was queued, then the end of the connection.
    const buf = new Uint8Array(1 << 20);
    let total = 0;
    const drained = (async () => {
      for (;;) {
        const n = await idle.read(buf).catch(() => null);
        if (n === null) break;
        total += n;
      }
    })();
    try {
      await bounded(drained, 10_000, "the dropped client's end of stream");
    } finally {
      idle.close();
    }
    assert.ok(total < 32 * 1024 * 1024, `the idle client got ${total} bytes before being dropped`);
    for (const x of [b, c]) {
      x.ws.close();
      await x.closed;
    }
  } finally {
    await server.stop("SIGINT");
  }
});
