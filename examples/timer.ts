// Prints `timer_cb` every second; the event re-adds itself from its callback (the seed's timer
// example). Ctrl-C exits.
//
//   deno run examples/timer.ts
import { EventBase, evsignalNew, evtimerNew } from "../mod.ts";

const base = new EventBase();
const timer = evtimerNew(base, () => {
  console.log("timer_cb");
  timer.add(1000);
});
timer.add(1000);

const sigint = evsignalNew(base, "SIGINT", () => base.loopbreak());
sigint.add();

await base.dispatch();
base.free();
