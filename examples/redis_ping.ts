// The seed's ev_connectfd.c: connect to Redis, send PING in RESP on BEV_EVENT_CONNECTED, read
// the one-line reply with EVBUFFER_EOL_CRLF_STRICT and print it.
//
//   deno run --allow-net examples/redis_ping.ts [--port 6379] [--host 127.0.0.1]
//
// Prints `recv redis message +PONG`. Exits 1 when the connection fails.
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_OPT_CLOSE_ON_FREE,
  Bufferevent,
  EV_READ,
  EV_WRITE,
  EVBUFFER_EOL_CRLF_STRICT,
  EventBase,
} from "../mod.ts";
import { flag, portFlag } from "./_args.ts";

const base = new EventBase();
const host = flag("host", "127.0.0.1");
const port = portFlag(6379);
let exitCode = 1;

function readCb(bev: Bufferevent): void {
  const line = bev.getInput().readln(EVBUFFER_EOL_CRLF_STRICT);
  if (line === null) return; // the reply is not complete yet
  console.log(`recv redis message ${line}`);
  exitCode = line.startsWith("+") ? 0 : 1;
  bev.free();
}

function eventCb(bev: Bufferevent, what: number): void {
  if (what & BEV_EVENT_CONNECTED) {
    bev.write("*1\r\n$4\r\nPING\r\n");
    return;
  }
  if (what & BEV_EVENT_ERROR) {
    console.error(`cannot talk to redis at ${host}:${port}: ${bev.getError()?.message}`);
  } else if (what & BEV_EVENT_EOF) {
    console.error("redis closed the connection before answering");
  }
  bev.free();
}

const bev = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE);
bev.setcb(readCb, null, eventCb);
bev.enable(EV_READ | EV_WRITE);
bev.connect({ hostname: host, port });
// The loop returns by itself once the bufferevent is freed: nothing else is pending.
await base.dispatch();
base.free();
Deno.exit(exitCode);
