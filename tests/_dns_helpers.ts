// Fake DNS peers for the resolver tests: a UDP nameserver on 127.0.0.1 whose handler answers
// (or not) each parsed query, and builders for replies and records.
import { type DnsMessage, type DnsRR, encodeResponse, parseMessage } from "../dns/_wire.ts";

/** Answers (or ignores) a query the fake received. */
export type Handler = (q: DnsMessage, from: Deno.NetAddr, srv: Fake) => void;

/** A UDP nameserver on 127.0.0.1; the handler answers (or not) through `srv.send`. */
export class Fake {
  sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  log: { name: string; type: number; id: number; from: Deno.NetAddr; edns?: number }[] = [];
  #done: Promise<void>;
  constructor(handler: Handler | null) {
    this.#done = (async () => {
      try {
        for (;;) {
          const [d, from] = await this.sock.receive();
          const q = parseMessage(d);
          if (q === null) continue;
          this.log.push({
            name: q.questions[0]?.name ?? "",
            type: q.questions[0]?.type ?? 0,
            id: q.id,
            from: from as Deno.NetAddr,
            edns: q.edns?.udpSize,
          });
          handler?.(q, from as Deno.NetAddr, this);
        }
      } catch { /* closed */ }
    })();
  }
  send(data: Uint8Array, to: Deno.NetAddr): void {
    this.sock.send(data, to).catch(() => {});
  }
  get addr(): string {
    return `127.0.0.1:${(this.sock.addr as Deno.NetAddr).port}`;
  }
  names(): string[] {
    return this.log.map((l) => l.name.toLowerCase());
  }
  async close(): Promise<void> {
    this.sock.close();
    await this.#done;
  }
}

/** A reply to `q`. */
export function reply(
  q: DnsMessage,
  opts: { rcode?: number; answers?: DnsRR[]; authority?: DnsRR[]; tc?: boolean } = {},
): Uint8Array {
  return encodeResponse({
    id: q.id,
    rd: true,
    ra: true,
    tc: opts.tc,
    rcode: opts.rcode ?? 0,
    questions: q.questions,
    answers: opts.answers ?? [],
    authority: opts.authority ?? [],
  });
}

/** An A record. */
export function a(name: string, addr: string, ttl = 300): DnsRR {
  return { name, type: 1, dnsClass: 1, ttl, data: addr };
}
/** An AAAA record. */
export function aaaa(name: string, addr: string, ttl = 300): DnsRR {
  return { name, type: 28, dnsClass: 1, ttl, data: addr };
}

/** A CNAME record. */
export function cname(name: string, target: string, ttl = 300): DnsRR {
  return { name, type: 5, dnsClass: 1, ttl, data: target };
}
