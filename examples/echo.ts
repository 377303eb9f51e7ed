// The quick-start echo server: an EvConnListener and one Bufferevent per client, echoing with
// addBuffer (zero copy).
//
//   deno run --allow-net examples/echo.ts [--port 9999] [--host 127.0.0.1]
//
// Try it with `nc 127.0.0.1 9999`. Ctrl-C exits cleanly.
import {
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_OPT_CLOSE_ON_FREE,
  Bufferevent,
  EV_READ,
  EV_WRITE,
  EvConnListener,
  EventBase,
  evsignalNew,
  LEV_OPT_CLOSE_ON_FREE,
  LEV_OPT_REUSEABLE,
} from "../mod.ts";
import { flag, portFlag } from "./_args.ts";

const base = new EventBase();
const port = portFlag(9999);
const host = flag("host", "127.0.0.1");

function readCb(bev: Bufferevent): void {
  bev.getOutput().addBuffer(bev.getInput());
}

function eventCb(bev: Bufferevent, what: number): void {
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    console.log("connection closed");
    bev.free();
  }
}

const listener = EvConnListener.newBind(
  base,
  (_lev, conn) => {
    console.log("accept a client");
    const bev = Bufferevent.socketNew(base, conn, BEV_OPT_CLOSE_ON_FREE);
    bev.setcb(readCb, null, eventCb);
    bev.enable(EV_READ | EV_WRITE);
  },
  null,
  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
  -1,
  { hostname: host, port },
);
const addr = listener.addr as Deno.NetAddr;
console.log(`listening on ${addr.hostname}:${addr.port}`);

const sigint = evsignalNew(base, "SIGINT", () => {
  listener.free();
  sigint.del();
  base.loopbreak();
});
sigint.add();

await base.dispatch();
base.free();
