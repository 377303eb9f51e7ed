// A WebSocket chat room: each text message goes to every other client. `/` serves a page that
// joins the room from a browser; `/ws` is the WebSocket endpoint.
//
//   deno run --allow-net examples/ws_chat.ts [--port 8082] [--host 127.0.0.1]
//
// Try: open http://127.0.0.1:8082/ in two browser tabs, or
//      deno eval 'const w = new WebSocket("ws://127.0.0.1:8082/ws"); w.onmessage = (m) => console.log(m.data); w.onopen = () => w.send("hi")'
// Ctrl-C closes every session with 1001 (going away) and exits.
import {
  EventBase,
  Evhttp,
  evsignalNew,
  type EvwsConnection,
  evwsNewSession,
  WS_TEXT_FRAME,
} from "../mod.ts";
import { flag, portFlag } from "./_args.ts";

const PAGE = `<!doctype html><meta charset="utf-8"><title>evdeno chat</title>
<pre id="log"></pre><input id="msg" autofocus placeholder="say something">
<script>
const ws = new WebSocket(location.href.replace(/^http/, "ws").replace(/\\/?$/, "/ws"));
ws.onmessage = (m) => log.textContent += m.data + "\\n";
msg.onkeydown = (e) => { if (e.key === "Enter") { ws.send(msg.value); msg.value = ""; } };
</script>`;
const dec = new TextDecoder();

/** Output a client may leave unread before it is dropped. */
const MAX_BEHIND = 1024 * 1024;

const base = new EventBase();
const http = new Evhttp(base);
// A request head must arrive within 10 s; at most 1 000 clients (503 beyond).
http.setHeaderTimeout(10000);
http.setMaxConnections(1000);
const room = new Set<EvwsConnection>();
let nextId = 1;

http.setCb("/", (req) => {
  req.getOutputHeaders().add("Content-Type", "text/html; charset=utf-8");
  req.sendReply(200, null, PAGE);
});

http.setCb("/ws", (req) => {
  const name = `guest${nextId++}`;
  const ws = evwsNewSession(req, (from, type, data) => {
    if (type !== WS_TEXT_FRAME) return;
    const line = `${name}: ${dec.decode(data)}`;
    for (const peer of room) {
      if (peer === from) continue;
      // A client that does not read what the room says is dropped rather than buffered for.
      if ((peer.getBufferevent()?.getOutput().length ?? 0) > MAX_BEHIND) {
        room.delete(peer);
        peer.free();
      } else peer.sendText(line);
    }
  });
  if (ws === null) return; // not a WebSocket handshake: already answered 400
  room.add(ws);
  ws.sendText(`welcome, ${name} (${room.size} here)`);
  ws.setCloseCb((gone) => room.delete(gone));
});

const bound = http.bindSocket(flag("host", "127.0.0.1"), portFlag(8082));
const addr = bound.addr as Deno.NetAddr;
console.log(`listening on ${addr.hostname}:${addr.port}`);

const sigint = evsignalNew(base, "SIGINT", () => {
  sigint.del();
  // Sessions get a close frame (1001); whatever has not finished within 2 s is cut.
  http.shutdown(2000).then(() => base.loopbreak());
});
sigint.add();

await base.dispatch();
http.free();
base.free();
