// A chat server: every line one client sends goes to all the other clients.
//
//   deno run --allow-net examples/chat.ts [--port 9998] [--host 127.0.0.1]
//
// Open two terminals with `nc 127.0.0.1 9998` and type. Ctrl-C exits cleanly.
import {
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_OPT_CLOSE_ON_FREE,
  Bufferevent,
  EV_READ,
  EV_WRITE,
  EVBUFFER_EOL_LF,
  EvConnListener,
  EventBase,
  evsignalNew,
  LEV_OPT_CLOSE_ON_FREE,
  LEV_OPT_REUSEABLE,
} from "../mod.ts";
import { flag, portFlag } from "./_args.ts";

/** A client sending more than this without a newline is cut off. */
const MAX_LINE = 64 * 1024;
/** A client this far behind in reading what others say is cut off (memory stays bounded). */
const MAX_BACKLOG = 1024 * 1024;

const base = new EventBase();
const port = portFlag(9998);
const host = flag("host", "127.0.0.1");
const clients = new Set<Bufferevent>();

function readCb(bev: Bufferevent): void {
  const input = bev.getInput();
  for (;;) {
    const { pos, eolLen } = input.searchEol(0, EVBUFFER_EOL_LF);
    if (pos < 0) break;
    // One contiguous view of the line (newline included) serves every recipient; write copies.
    const n = pos + eolLen;
    const line = input.pullup(n)!.subarray(0, n);
    for (const other of clients) {
      if (other === bev) continue;
      if (other.getOutput().length > MAX_BACKLOG) {
        console.log("client not reading, dropping it");
        drop(other);
        continue;
      }
      other.write(line);
    }
    input.drain(n);
  }
  if (input.length > MAX_LINE) {
    console.log("line too long, dropping client");
    drop(bev);
  }
}

function eventCb(bev: Bufferevent, what: number): void {
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) drop(bev);
}

function drop(bev: Bufferevent): void {
  clients.delete(bev);
  bev.free();
  console.log(`client left (${clients.size} connected)`);
}

const listener = EvConnListener.newBind(
  base,
  (_lev, conn) => {
    const bev = Bufferevent.socketNew(base, conn, BEV_OPT_CLOSE_ON_FREE);
    bev.setcb(readCb, null, eventCb);
    bev.enable(EV_READ | EV_WRITE);
    clients.add(bev);
    console.log(`client joined (${clients.size} connected)`);
  },
  null,
  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
  -1,
  { hostname: host, port },
);
const addr = listener.addr as Deno.NetAddr;
console.log(`listening on ${addr.hostname}:${addr.port}`);

const sigint = evsignalNew(base, "SIGINT", () => {
  for (const bev of clients) bev.free();
  clients.clear();
  listener.free();
  sigint.del();
  base.loopbreak();
});
sigint.add();

await base.dispatch();
base.free();
