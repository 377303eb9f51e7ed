// The seed's first server, on the raw reactor: an accept event on a listening Socket, and a read
// event per connection replying `I have received the msg: …`.
//
//   deno run --allow-net examples/raw_echo_server.ts [--port 9995] [--host 127.0.0.1]
import { EV_PERSIST, EV_READ, Event, EventBase, evsignalNew, Socket } from "../mod.ts";
import { flag, portFlag } from "./_args.ts";

const base = new EventBase();
const listener = Deno.listen({ hostname: flag("host", "127.0.0.1"), port: portFlag(9995) });
const lsock = Socket.from(listener);
const addr = listener.addr as Deno.NetAddr;
console.log(`listening on ${addr.hostname}:${addr.port}`);
const clients = new Set<Socket>();

new Event(base, lsock, EV_READ | EV_PERSIST, () => {
  const conn = lsock.accept();
  if (conn === null) return;
  const sock = Socket.from(conn);
  clients.add(sock);
  const ev: Event = new Event(base, sock, EV_READ | EV_PERSIST, () => {
    let data: Uint8Array | null;
    try {
      data = sock.recv();
    } catch {
      data = new Uint8Array(0); // a reset: treat as closed
    }
    if (data === null) return;
    if (data.length === 0) {
      ev.del();
      sock.close();
      clients.delete(sock);
      return;
    }
    const msg = new TextDecoder().decode(data);
    console.log(`recv the client msg: ${msg.trimEnd()}`);
    sock.send(`I have received the msg: ${msg}`);
  });
  ev.add();
}).add();

const sigint = evsignalNew(base, "SIGINT", () => base.loopbreak());
sigint.add();
await base.dispatch();
base.free();
for (const c of clients) c.close();
lsock.close();
