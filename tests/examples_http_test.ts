// examples/http_server.ts (libevent's sample/http-server.c) run as a subprocess over a temp
// directory: files with their Content-Type, escaped listings, every traversal refused, non-regular
// files refused, one log line per request (also for what the library answers itself), SIGINT.
import assert from "node:assert/strict";
import { exchange } from "./_evhttp_helpers.ts";
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
    assert.equal((await get(port, "/sub%20dir"))!.status, 301);
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
