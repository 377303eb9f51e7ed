// An HTTP client like libevent's sample/https-client.c: fetches one URL with EvhttpConnection
// and EvhttpRequest and prints the status line, the response headers and the body.
//
//   deno run --allow-net examples/http_client.ts http://127.0.0.1:8081/hello/get
//   deno run --allow-net examples/http_client.ts -X POST -d data http://127.0.0.1:8081/hello/post
//   deno run --allow-net --allow-read examples/http_client.ts --cacert ca.pem https://localhost:8443/
//
// Options: -X METHOD (default GET, POST with -d), -d DATA (request body), -H "Name: value"
// (repeatable), --cacert FILE (extra trusted CA, PEM), --timeout MS (read/write timeout).
import {
  EventBase,
  EVHTTP_URI_HOST_STRIP_BRACKETS,
  EvhttpConnection,
  evhttpMethodFromName,
  EvhttpRequest,
  EvhttpUri,
} from "../mod.ts";

const USAGE = "usage: http_client.ts [-X METHOD] [-d DATA] [-H 'Name: value'] [--cacert FILE] " +
  "[--timeout MS] URL";

let method: string | null = null;
let data: string | null = null;
let cacert: string | null = null;
let timeout = 0;
let url: string | null = null;
const headers: [string, string][] = [];
const args = Deno.args;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const next = () => {
    const v = args[++i];
    if (v === undefined) fail(`${a} needs a value`);
    return v;
  };
  if (a === "-X") method = next();
  else if (a === "-d") data = next();
  else if (a === "--cacert") cacert = next();
  else if (a === "--timeout") timeout = Number(next());
  else if (a === "-H") {
    const h = next();
    const c = h.indexOf(":");
    if (c <= 0) fail(`bad header ${JSON.stringify(h)}`);
    headers.push([h.slice(0, c).trim(), h.slice(c + 1).trim()]);
  } else if (a.startsWith("-")) fail(`unknown option ${a}`);
  else url = a;
}
if (url === null) fail(USAGE);

function fail(msg: string): never {
  console.error(msg);
  Deno.exit(2);
}

const uri = EvhttpUri.parse(url, EVHTTP_URI_HOST_STRIP_BRACKETS);
const scheme = uri?.scheme?.toLowerCase();
if (uri === null || (scheme !== "http" && scheme !== "https") || !uri.host) {
  fail(`not an http(s) URL: ${url}`);
}
const https = scheme === "https";
const port = uri.port >= 0 ? uri.port : https ? 443 : 80;
let target = uri.path || "/";
if (uri.query !== null) target += "?" + uri.query;
const cmd = evhttpMethodFromName(method ?? (data !== null ? "POST" : "GET"));
if (cmd === 0) fail(`unknown method ${method}`);

const base = new EventBase();
const conn = EvhttpConnection.baseNew(
  base,
  null,
  uri.host,
  port,
  https ? { tls: cacert !== null ? { caCerts: [Deno.readTextFileSync(cacert)] } : {} } : undefined,
);
if (timeout > 0) conn.setTimeout(timeout);

let status = 1;
const req = new EvhttpRequest((r) => {
  if (r.getResponseCode() === 0) {
    console.error(`request failed: ${r.getError()?.message ?? "unknown error"}`);
  } else {
    status = 0;
    console.log(`HTTP/1.1 ${r.getResponseCode()} ${r.getResponseCodeLine()}`);
    for (const [k, v] of r.getInputHeaders()) console.log(`${k}: ${v}`);
    console.log();
    const body = r.getInputBuffer();
    Deno.stdout.writeSync(body.remove(body.length));
  }
  conn.free();
});
req.getOutputHeaders().add("User-Agent", "evdeno-http-client");
for (const [k, v] of headers) req.getOutputHeaders().add(k, v);
if (data !== null) req.getOutputBuffer().add(data);
conn.makeRequest(req, cmd, target);
await base.dispatch();
base.free();
Deno.exit(status);
