// Creates a FIFO and prints what writers send, with an EV_READ | EV_PERSIST event (the seed's
// FIFO example). Pair it with examples/fifo_write.ts.
//
//   deno run --allow-read --allow-write --allow-run examples/fifo_listen.ts [/tmp/evdeno.fifo]
import { EV_PERSIST, EV_READ, Event, EventBase, evsignalNew, Socket } from "../mod.ts";
import { positional } from "./_args.ts";

const path = positional()[0] ?? "/tmp/evdeno.fifo";
// Like libevent's sample: replace a stale FIFO, but never delete anything else at that path.
let existing: Deno.FileInfo | null = null;
try {
  existing = await Deno.lstat(path);
} catch { /* not there */ }
if (existing !== null) {
  if (!existing.isFifo) {
    console.error(`${path} exists and is not a FIFO: refusing to replace it`);
    Deno.exit(1);
  }
  await Deno.remove(path);
}
const mk = await new Deno.Command("mkfifo", { args: [path] }).output();
if (mk.code !== 0) {
  console.error(`mkfifo ${path} failed`);
  Deno.exit(1);
}
console.log(`listening on fifo ${path}`);

const base = new EventBase();
// Opening for reading blocks until a writer opens the FIFO; read+write keeps it open between
// writers, like the seed's O_RDWR open.
const file = await Deno.open(path, { read: true, write: true });
const sock = Socket.from(file);
const ev = new Event(base, sock, EV_READ | EV_PERSIST, () => {
  const data = sock.recv();
  if (data === null) return;
  if (data.length === 0) {
    ev.del();
    return;
  }
  console.log(`read: ${new TextDecoder().decode(data).trimEnd()}`);
});
ev.add();

const sigint = evsignalNew(base, "SIGINT", () => base.loopbreak());
sigint.add();
await base.dispatch();
ev.del();
base.free();
sock.close();
await Deno.remove(path);
