// Writes each line of stdin (or the arguments) into the FIFO that examples/fifo_listen.ts reads.
//
//   deno run --allow-read --allow-write examples/fifo_write.ts [/tmp/evdeno.fifo] [message…]
import { positional } from "./_args.ts";

const args = positional();
const path = args[0] ?? "/tmp/evdeno.fifo";
const f = await Deno.open(path, { write: true });
const enc = new TextEncoder();
if (args.length > 1) {
  await f.write(enc.encode(args.slice(1).join(" ") + "\n"));
} else {
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await Deno.stdin.read(buf);
    if (n === null) break;
    await f.write(buf.subarray(0, n));
  }
}
f.close();
