// Benchmark rival: a node:net echo server (socket.pipe(socket), which honours backpressure).
//
//   node bench/rivals/node_echo.mjs [--port 9996] [--host 127.0.0.1]
import net from "node:net";
import process from "node:process";

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const server = net.createServer({ noDelay: true }, (sock) => {
  sock.on("error", () => sock.destroy());
  sock.pipe(sock);
});
server.listen(Number(flag("port", "9996")), flag("host", "127.0.0.1"), () => {
  const a = server.address();
  console.log(`listening on ${a.address}:${a.port}`);
});
process.on("SIGINT", () => {
  server.close();
  process.exit(0);
});
