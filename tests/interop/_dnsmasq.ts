// Starts a real dnsmasq on a free loopback port for the DNS tests and the DNS benchmark.
import { encodeQuery } from "../../dns/_wire.ts";

/** A running dnsmasq. */
export interface Dnsmasq {
  port: number;
  stop(): Promise<void>;
}

/** Whether the dnsmasq binary is installed (Debian package `dnsmasq-base`). */
export function haveDnsmasq(): boolean {
  for (const dir of ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin"]) {
    try {
      Deno.statSync(`${dir}/dnsmasq`);
      return true;
    } catch { /* keep looking */ }
  }
  return false;
}

function freeUdpPort(): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

/** Sends one query and waits up to `ms` for any reply; true when one came. */
async function answers(port: number, name: string, ms: number): Promise<boolean> {
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await s.send(encodeQuery(4242, name, 1), { transport: "udp", hostname: "127.0.0.1", port });
    const got = await Promise.race([
      s.receive().then(() => true, () => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), ms);
      }),
    ]);
    return got;
  } finally {
    clearTimeout(timer);
    s.close();
  }
}

/**
 * Starts dnsmasq (authoritative for `.test` via `--local=/test/`, TTL 60) with `args` added,
 * on a free port; retries on a port clash. `--keep-in-foreground` (not `--no-daemon`) so TCP
 * connections are served by children and never stall UDP.
 */
export async function startDnsmasq(args: string[]): Promise<Dnsmasq> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freeUdpPort();
    const child = new Deno.Command("dnsmasq", {
      args: [
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        `--port=${port}`,
        "--local=/test/",
        "--local-ttl=60",
        "--pid-file=",
        "--log-facility=/dev/null",
        "--cache-size=0",
        "--host-record=ready.test,127.0.0.99",
        ...args,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    for (let i = 0; i < 60 && !exited; i++) {
      if (await answers(port, "ready.test", 50)) {
        return {
          port,
          async stop() {
            try {
              child.kill("SIGTERM");
            } catch { /* already gone */ }
            await status;
          },
        };
      }
    }
    if (!exited) child.kill("SIGKILL");
    await status;
  }
  throw new Error("dnsmasq did not start");
}
