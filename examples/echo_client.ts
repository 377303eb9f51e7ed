// The seed's "advanced" echo client: a Bufferevent connects to the server, a stdin event sends
// each line typed, and every reply is printed. At end of input the client half-closes
// (flush with BEV_FINISHED) and exits once the server has answered and closed.
//
//   deno run --allow-net examples/echo_client.ts [--port 9999] [--host 127.0.0.1]
//
// Try it against examples/echo.ts: `printf 'hello\nworld\n' | deno run --allow-net
// examples/echo_client.ts` prints `hello` and `world`.
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_FINISHED,
  BEV_OPT_CLOSE_ON_FREE,
  Bufferevent,
  EV_PERSIST,
  EV_READ,
  EV_WRITE,
  EVBUFFER_EOL_LF,
  Event,
  EventBase,
  Socket,
} from "../mod.ts";
import { flag, portFlag } from "./_args.ts";

const base = new EventBase();
const host = flag("host", "127.0.0.1");
const port = portFlag(9999);
const stdin = Socket.from(Deno.stdin);
let exitCode = 0;

function readCb(bev: Bufferevent): void {
  const input = bev.getInput();
  let line: string | null;
  while ((line = input.readln(EVBUFFER_EOL_LF)) !== null) console.log(line);
}

function eventCb(bev: Bufferevent, what: number): void {
  if (what & BEV_EVENT_CONNECTED) {
    // Only start reading stdin once there is somewhere to send it.
    stdinEv.add();
    return;
  }
  if (what & BEV_EVENT_EOF) {
    // A last reply without its newline is still a reply.
    const rest = bev.getInput();
    if (rest.length > 0) console.log(rest.toString());
  } else if (what & BEV_EVENT_ERROR) {
    console.error(`connection error: ${bev.getError()?.message}`);
    exitCode = 1;
  }
  stdinEv.del();
  bev.free();
}

const bev = Bufferevent.socketNew(base, null, BEV_OPT_CLOSE_ON_FREE);
bev.setcb(readCb, null, eventCb);
bev.enable(EV_READ | EV_WRITE);

const stdinEv = new Event(base, stdin, EV_READ | EV_PERSIST, () => {
  const data = stdin.recv();
  if (data === null) return; // would block
  if (data.length === 0) {
    // End of input: half-close once everything typed went out; replies still arrive.
    stdinEv.del();
    bev.flush(EV_WRITE, BEV_FINISHED);
    return;
  }
  bev.write(data);
});

bev.connect({ hostname: host, port });
await base.dispatch();
base.free();
// A stdin read may still be pending in the runtime (the server closed first); it would keep the
// process waiting for input that nobody needs.
Deno.exit(exitCode);
