// DNS wire codec micro-benchmarks: a typical compressed A response (question + 2 answers).
// Run: deno bench --allow-all bench/dns_wire_bench.ts
import { encodeQuery, encodeResponse, parseMessage } from "../dns/_wire.ts";
import type { DnsMessageInit } from "../dns/_wire.ts";

const response: DnsMessageInit = {
  id: 0x4242,
  rd: true,
  ra: true,
  questions: [{ name: "www.example.com", type: 1, dnsClass: 1 }],
  answers: [
    { name: "www.example.com", type: 1, dnsClass: 1, ttl: 300, data: "93.184.216.34" },
    { name: "www.example.com", type: 1, dnsClass: 1, ttl: 300, data: "93.184.216.35" },
  ],
  edns: { udpSize: 1232, version: 0, do: false },
};
const wire = encodeResponse(response);
let sink = 0;

Deno.bench("dns wire: parse A response (2 answers, compressed)", { group: "dns" }, () => {
  sink += parseMessage(wire)!.answers.length;
});

Deno.bench("dns wire: encode A response (2 answers, compressed)", { group: "dns" }, () => {
  sink += encodeResponse(response).length;
});

Deno.bench("dns wire: encode query with EDNS", { group: "dns" }, () => {
  sink += encodeQuery(0x4242, "www.example.com", 1, { ednsUdpSize: 1232 }).length;
});

globalThis.addEventListener("unload", () => {
  if (sink < 0) console.log(sink);
});
