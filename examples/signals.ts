// The seed's signal example: a 5 s timer, a stdin read event with a 2 s timeout
// (`io read time out`), SIGINT → `exit in 1 s` via loopexit(1000), SIGHUP → loopbreak() at once.
//
//   deno run examples/signals.ts
import {
  EV_PERSIST,
  EV_READ,
  EV_TIMEOUT,
  Event,
  EventBase,
  evsignalNew,
  evtimerNew,
  Socket,
} from "../mod.ts";

const base = new EventBase();

const timer = evtimerNew(base, () => {
  console.log("timer fired after 5 s");
});
timer.add(5000);

const stdin = Socket.from(Deno.stdin);
const io = new Event(base, stdin, EV_READ | EV_PERSIST, (_src, what) => {
  if (what & EV_TIMEOUT) {
    console.log("io read time out");
    return;
  }
  const data = stdin.recv();
  if (data === null) return;
  if (data.length === 0) {
    console.log("stdin closed");
    io.del();
    return;
  }
  console.log(`read from stdin: ${new TextDecoder().decode(data).trimEnd()}`);
});
io.add(2000);

const sigint = evsignalNew(base, "SIGINT", () => {
  console.log("exit in 1 s");
  base.loopexit(1000);
});
sigint.add();

const sighup = evsignalNew(base, "SIGHUP", () => {
  console.log("SIGHUP: break");
  base.loopbreak();
});
sighup.add();

await base.dispatch();
console.log("loop exited");
io.del();
base.free();
Deno.exit(0); // the pending stdin read would otherwise keep the process alive
