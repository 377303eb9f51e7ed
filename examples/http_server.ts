// A static file server like libevent's sample/http-server.c: serves the directory given on the
// command line, with HTML directory listings, Content-Type by extension, files streamed from
// disk with Evbuffer.addFile (never read into memory), path traversal refused, one log line per
// request, and a graceful shutdown on Ctrl-C.
//
//   deno run --allow-net --allow-read examples/http_server.ts DIR [--port 8080] [--host 127.0.0.1]
import {
  EventBase,
  Evhttp,
  EVHTTP_REQ_GET,
  EVHTTP_REQ_HEAD,
  evhttpEncodeUri,
  evhttpHtmlescape,
  type EvhttpRequest,
  evhttpUridecodeBytes,
  evsignalNew,
} from "../mod.ts";
import { flag, portFlag, positional } from "./_args.ts";

const root = positional()[0];
if (root === undefined) {
  console.error("usage: http_server.ts DIR [--port N] [--host H]");
  Deno.exit(2);
}
const rootReal = Deno.realPathSync(root);

const TYPES: Record<string, string> = {
  txt: "text/plain; charset=utf-8",
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css",
  js: "text/javascript",
  json: "application/json",
  gif: "image/gif",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  svg: "image/svg+xml",
  pdf: "application/pdf",
  wasm: "application/wasm",
  ps: "application/postscript",
};

function contentType(path: string): string {
  const dot = path.lastIndexOf(".");
  const slash = path.lastIndexOf("/");
  if (dot <= slash) return "application/octet-stream";
  return TYPES[path.slice(dot + 1).toLowerCase()] ?? "application/octet-stream";
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The decoded request path, or null when it must be refused (traversal, NUL, encoded `/`). */
function safePath(req: EvhttpRequest): string | null {
  // An absolute-form target without a path ("http://host") asks for the root (RFC 9112 §3.2.2).
  const raw = req.getEvhttpUri().path || "/";
  if (!raw.startsWith("/")) return null;
  // An encoded slash would let "%2e%2e%2f" hide a ".." segment: refuse it outright.
  if (/%2f|%5c/i.test(raw)) return null;
  let decoded: string;
  try {
    decoded = utf8.decode(evhttpUridecodeBytes(raw, false));
  } catch {
    return null;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return null;
  for (const seg of decoded.split("/")) if (seg === ".." || seg === ".") return null;
  return decoded;
}

function log(req: EvhttpRequest): void {
  const peer = req.getConnection()?.getPeer();
  console.log(
    `${peer?.address ?? "-"} "${req.getCommandName()} ${req.getUri()}" ${req.getResponseCode()}`,
  );
}

function listing(req: EvhttpRequest, urlPath: string, dir: string): void {
  const names: string[] = [];
  for (const e of Deno.readDirSync(dir)) names.push(e.isDirectory ? e.name + "/" : e.name);
  names.sort();
  const base = urlPath.endsWith("/") ? urlPath : urlPath + "/";
  let html = `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${
    evhttpHtmlescape(base)
  }</title></head><body><h1>${evhttpHtmlescape(base)}</h1><ul>\n`;
  for (const n of names) {
    const href = evhttpEncodeUri(n.endsWith("/") ? n.slice(0, -1) : n) +
      (n.endsWith("/") ? "/" : "");
    html += `<li><a href="${evhttpHtmlescape(href)}">${evhttpHtmlescape(n)}</a></li>\n`;
  }
  html += "</ul></body></html>\n";
  req.getOutputHeaders().add("Content-Type", "text/html; charset=utf-8");
  req.sendReply(200, null, html);
}

/** Requests that reached `serve` (it logs them itself). */
const handled = new WeakSet<EvhttpRequest>();

function serve(req: EvhttpRequest): void {
  handled.add(req);
  try {
    const cmd = req.getCommand();
    if (cmd !== EVHTTP_REQ_GET && cmd !== EVHTTP_REQ_HEAD) {
      req.getOutputHeaders().add("Allow", "GET, HEAD");
      req.sendError(405);
      return;
    }
    const urlPath = safePath(req);
    if (urlPath === null) {
      req.sendError(400, "<p>Bad path.</p>");
      return;
    }
    const full = rootReal + urlPath;
    let real: string;
    try {
      real = Deno.realPathSync(full);
    } catch {
      req.sendError(404);
      return;
    }
    // Symlinks must not lead outside the served directory either.
    if (real !== rootReal && !real.startsWith(rootReal + "/")) {
      req.sendError(403);
      return;
    }
    const st = Deno.statSync(real);
    // Only regular files and directories: opening a FIFO or device would block the loop.
    if (!st.isFile && !st.isDirectory) {
      req.sendError(403);
      return;
    }
    // "/file.txt/" names a directory that is not there (Deno may resolve it to the file).
    if (st.isFile && urlPath.endsWith("/")) {
      req.sendError(404);
      return;
    }
    if (st.isDirectory) {
      if (!urlPath.endsWith("/")) {
        // Built from the checked path, one encoded segment at a time: the raw path could start
        // with "//" and send the browser to another host.
        const segs = urlPath.split("/").filter((x) => x !== "").map(evhttpEncodeUri);
        req.getOutputHeaders().add("Location", "/" + segs.map((x) => x + "/").join(""));
        req.sendReply(301, null);
        return;
      }
      listing(req, urlPath, real);
      return;
    }
    const file = Deno.openSync(real, { read: true });
    req.getOutputHeaders().add("Content-Type", contentType(real));
    if (cmd === EVHTTP_REQ_HEAD) {
      file.close();
      req.getOutputHeaders().add("Content-Length", String(st.size));
      req.sendReply(200, null);
      return;
    }
    // addFile streams the file from disk as the socket drains; it closes the file when done.
    req.getOutputBuffer().addFile(file, 0, st.size);
    req.sendReply(200, null);
  } catch (e) {
    console.error("error:", (e as Error).message);
    req.sendError(500);
  } finally {
    log(req);
  }
}

const base = new EventBase();
const http = new Evhttp(base);
http.setGencb(serve);
// Requests the library answers itself (405, 400, 408, 414, 431, …) are logged too.
http.setErrorcb((req, _buf, code) => {
  if (!handled.has(req)) {
    const peer = req.getConnection()?.getPeer();
    console.log(`${peer?.address ?? "-"} "${req.getCommandName()} ${req.getUri()}" ${code}`);
  }
  return -1; // keep the default page
});
http.setAllowedMethods(EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
http.setTimeout(30000);
http.setHeaderTimeout(10000);
http.setMaxHeadersSize(16384);
// GET and HEAD need no body: anything sent with one is refused (413) instead of buffered.
http.setMaxBodySize(0);

const bound = http.bindSocket(flag("host", "127.0.0.1"), portFlag(8080));
const addr = bound.addr as Deno.NetAddr;
console.log(`serving ${rootReal}`);
console.log(`listening on ${addr.hostname}:${addr.port}`);

const sigint = evsignalNew(base, "SIGINT", () => {
  sigint.del();
  console.log("shutting down (5 s for requests in flight)");
  http.shutdown(5000).then(() => {
    http.free();
    base.loopbreak();
  });
});
sigint.add();

await base.dispatch();
base.free();
