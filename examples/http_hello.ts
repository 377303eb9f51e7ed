// The seed's HTTP server: `GET /hello/get` and `POST /hello/post` (which reports how many body
// bytes it received), with a 5 s timeout.
//
//   deno run --allow-net examples/http_hello.ts [--port 8081] [--host 127.0.0.1]
//
// Try: curl -i http://127.0.0.1:8081/hello/get ; curl -i -d 'abc' http://127.0.0.1:8081/hello/post
// Ctrl-C exits cleanly.
import { EventBase, Evhttp, evsignalNew } from "../mod.ts";
import { flag, portFlag } from "./_args.ts";
import { addHelloRoutes } from "./_hello_routes.ts";

const base = new EventBase();
const http = new Evhttp(base);

addHelloRoutes(http);

const bound = http.bindSocket(flag("host", "127.0.0.1"), portFlag(8081));
const addr = bound.addr as Deno.NetAddr;
console.log(`listening on ${addr.hostname}:${addr.port}`);

const sigint = evsignalNew(base, "SIGINT", () => {
  sigint.del();
  http.free();
  base.loopbreak();
});
sigint.add();

await base.dispatch();
base.free();
