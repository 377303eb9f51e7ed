// The hello routes of http_hello.ts over HTTPS: `GET /hello/get` and `POST /hello/post` (which
// reports how many body bytes it received), with a 5 s timeout. The certificate and key are PEM
// files named on the command line.
//
// A self-signed pair for localhost (valid 30 days):
//
//   openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout key.pem -out cert.pem \
//     -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
//     -addext basicConstraints=critical,CA:FALSE
//
// (Without CA:FALSE, OpenSSL 3 marks it a CA, which rustls — Deno's TLS, so evdeno's client
// and fetch — refuses as a server certificate; curl accepts it either way.)
//
//   deno run --allow-net --allow-read examples/https_server.ts --cert cert.pem --key key.pem \
//     [--port 8443] [--host 127.0.0.1]
//
// Try: curl --cacert cert.pem https://localhost:8443/hello/get
//      curl --cacert cert.pem -d 'abc' https://localhost:8443/hello/post
// Ctrl-C stops accepting, lets requests in progress finish (up to 2 s), then exits.
import { EventBase, Evhttp, evsignalNew } from "../mod.ts";
import { flag, portFlag } from "./_args.ts";
import { addHelloRoutes } from "./_hello_routes.ts";

const certFile = flag("cert", "");
const keyFile = flag("key", "");
if (certFile === "" || keyFile === "") {
  console.error("usage: https_server.ts --cert CERT.pem --key KEY.pem [--port N] [--host H]");
  Deno.exit(2);
}

let cert: string;
let key: string;
try {
  cert = Deno.readTextFileSync(certFile);
  key = Deno.readTextFileSync(keyFile);
} catch (e) {
  console.error(`cannot read the certificate or key: ${(e as Error).message}`);
  Deno.exit(1);
}

const base = new EventBase();
const http = new Evhttp(base);

addHelloRoutes(http);

let addr: Deno.NetAddr;
try {
  const bound = http.bindSocketTls(flag("host", "127.0.0.1"), portFlag(8443), { cert, key });
  addr = bound.addr as Deno.NetAddr;
} catch (e) {
  // A bad PEM pair or a port in use.
  console.error((e as Error).message);
  Deno.exit(1);
}
console.log(`listening on ${addr.hostname}:${addr.port}`);

const sigint = evsignalNew(base, "SIGINT", () => {
  sigint.del();
  http.shutdown(2000).then(() => {
    http.free();
    base.loopbreak();
  });
});
sigint.add();

await base.dispatch();
base.free();
