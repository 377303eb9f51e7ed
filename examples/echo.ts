// The quick-start echo server: an EvConnListener and one Bufferevent per client, echoing with
// addBuffer (zero copy), and no longer reading a client that does not read its echo.
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

/** Output past which we stop reading a client that does not read its echo (as libevent's le-proxy). */
const OUT_HIGH = 1024 * 1024;

function readCb(bev: Bufferevent): void {
  bev.getOutput().addBuffer(bev.getInput());
  if (bev.getOutput().length >= OUT_HIGH) {
    // Read no more until the client has taken most of it: the write callback then runs.
    bev.disable(EV_READ);
    bev.setWatermark(EV_WRITE, OUT_HIGH / 4, 0);
  }
}

function writeCb(bev: Bufferevent): void {
  if ((bev.getEnabled() & EV_READ) !== 0) return;
  bev.setWatermark(EV_WRITE, 0, 0);
  bev.enable(EV_READ);
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
    bev.setcb(readCb, writeCb, eventCb);
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
