// The seed's raw client: one event reads stdin and sends each line, another prints what the
// server answers.
//
//   deno run --allow-net examples/raw_echo_client.ts [--port 9995] [--host 127.0.0.1]
import { EV_PERSIST, EV_READ, Event, EventBase, Socket } from "../mod.ts";
import { flag, portFlag } from "./_args.ts";

const base = new EventBase();
const conn = await Deno.connect({ hostname: flag("host", "127.0.0.1"), port: portFlag(9995) });
const sock = Socket.from(conn);
const stdin = Socket.from(Deno.stdin);

const fromServer: Event = new Event(base, sock, EV_READ | EV_PERSIST, () => {
  const data = sock.recv();
  if (data === null) return;
  if (data.length === 0) {
    console.log("server closed the connection");
    fromServer.del();
    fromStdin.del();
    return;
  }
  console.log(`recv: ${new TextDecoder().decode(data).trimEnd()}`);
});
const fromStdin: Event = new Event(base, stdin, EV_READ | EV_PERSIST, () => {
  const line = stdin.recv();
  if (line === null) return;
  if (line.length === 0) {
    // Half-close: the server sees EOF after our last line and closes when it has answered.
    fromStdin.del();
    conn.closeWrite().catch(() => {});
    return;
  }
  sock.send(line);
});
fromServer.add();
fromStdin.add();
await base.dispatch();
base.free();
sock.close();
Deno.exit(0); // a pending stdin read would otherwise keep the process alive
