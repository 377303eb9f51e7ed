// dig (bind9-dnsutils) and kdig (knot-dnsutils) as real clients of examples/dns_server.ts, over
// UDP and TCP: every record type of examples/dns_zone.json, NXDOMAIN, case preservation, and a
// large TXT answer that is truncated over UDP and complete over TCP.
import assert from "node:assert/strict";

function onPath(bin: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${bin}`).isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}

const HAVE_DIG = onPath("dig");
const HAVE_KDIG = onPath("kdig");
if (!HAVE_DIG) console.log("dig not found: install the Debian package bind9-dnsutils to run this");
if (!HAVE_KDIG) console.log("kdig not found: install the Debian package knot-dnsutils to run this");

const EXAMPLE = new URL("../../examples/dns_server.ts", import.meta.url).pathname;

interface Reply {
  status: string;
  flags: string[];
  answers: string[][];
  authority: string[][];
  tcp: boolean;
  text: string;
}

/** Reads the parts of dig/kdig output the tests look at (both print the same section layout). */
function parse(text: string): Reply {
  const status = /status: ([A-Z]+)/.exec(text)?.[1] ?? "";
  const flags = (/flags: ([a-z ]*);/i.exec(text)?.[1] ?? "").trim().split(/\s+/);
  const section = (title: string): string[][] => {
    const out: string[][] = [];
    const lines = text.split("\n");
    let i = lines.findIndex((l) => l.startsWith(`;; ${title} SECTION:`));
    if (i < 0) return out;
    for (i++; i < lines.length && lines[i].trim() !== "" && !lines[i].startsWith(";;"); i++) {
      out.push(lines[i].trim().split(/\s+/));
    }
    return out;
  };
  return {
    status,
    flags,
    answers: section("ANSWER"),
    authority: section("AUTHORITY"),
    tcp: /\(TCP\)|over TCP/.test(text),
    text,
  };
}

async function run(bin: string, args: string[]): Promise<Reply> {
  const out = await new Deno.Command(bin, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return parse(text);
}

/** Starts the example on a free port and returns it with a stop function. */
async function startServer(): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", EXAMPLE, "--port", "0"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let port = 0;
  while (port === 0) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    const m = /listening on [^\s]+:(\d+)/.exec(buf);
    if (m !== null) port = Number(m[1]);
  }
  const stop = async () => {
    child.kill("SIGINT");
    // Drain stdout so the pipe closes, then reap the process.
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    reader.releaseLock();
    const status = await child.status;
    assert.equal(status.code, 0, "the example exits cleanly on SIGINT");
  };
  if (port === 0) {
    await stop().catch(() => {});
    throw new Error("the example did not print `listening on HOST:PORT`");
  }
  return { port, stop };
}

interface Case {
  name: string;
  args: string[];
  check: (r: Reply) => void;
}

const answersOf = (r: Reply) => r.answers.map((a) => [a[0], a[3], a.slice(4).join(" ")]);

const CASES: Case[] = [
  {
    name: "A",
    args: ["www.example.test", "A"],
    check: (r) => assert.deepEqual(answersOf(r), [["www.example.test.", "A", "192.0.2.10"]]),
  },
  {
    name: "AAAA",
    args: ["www.example.test", "AAAA"],
    check: (r) => assert.deepEqual(answersOf(r), [["www.example.test.", "AAAA", "2001:db8::10"]]),
  },
  {
    name: "CNAME followed",
    args: ["ftp.example.test", "A"],
    check: (r) =>
      assert.deepEqual(answersOf(r), [
        ["ftp.example.test.", "CNAME", "www.example.test."],
        ["www.example.test.", "A", "192.0.2.10"],
      ]),
  },
  {
    name: "MX",
    args: ["example.test", "MX"],
    check: (r) =>
      assert.deepEqual(answersOf(r), [["example.test.", "MX", "10 mail.example.test."]]),
  },
  {
    name: "TXT",
    args: ["example.test", "TXT"],
    check: (r) => assert.deepEqual(answersOf(r), [["example.test.", "TXT", '"v=spf1 mx -all"']]),
  },
  {
    name: "SRV",
    args: ["_sip._tcp.example.test", "SRV"],
    check: (r) =>
      assert.deepEqual(answersOf(r), [[
        "_sip._tcp.example.test.",
        "SRV",
        "10 60 5060 sip.example.test.",
      ]]),
  },
  {
    name: "PTR",
    args: ["-x", "192.0.2.10"],
    check: (r) =>
      assert.deepEqual(answersOf(r), [["10.2.0.192.in-addr.arpa.", "PTR", "www.example.test."]]),
  },
  {
    name: "NS",
    args: ["example.test", "NS"],
    check: (r) => assert.deepEqual(answersOf(r), [["example.test.", "NS", "ns1.example.test."]]),
  },
  {
    name: "SOA",
    args: ["example.test", "SOA"],
    check: (r) =>
      assert.deepEqual(answersOf(r), [[
        "example.test.",
        "SOA",
        "ns1.example.test. hostmaster.example.test. 2024060101 7200 3600 1209600 60",
      ]]),
  },
  {
    name: "case kept",
    args: ["WwW.ExAmPlE.tEsT", "A"],
    // dig prints names as received; kdig prints them lower-cased.
    check: (r) => {
      const want = r.text.includes("DiG") ? "WwW.ExAmPlE.tEsT." : "www.example.test.";
      assert.deepEqual(answersOf(r), [[want, "A", "192.0.2.10"]]);
    },
  },
  {
    name: "NXDOMAIN with SOA",
    args: ["nope.example.test", "A"],
    check: (r) => {
      assert.equal(r.status, "NXDOMAIN");
      assert.equal(r.answers.length, 0);
      assert.deepEqual(r.authority.map((a) => [a[0], a[3]]), [["example.test.", "SOA"]]);
    },
  },
];

const BIG_STRINGS = 8;

function checkBigComplete(r: Reply): void {
  assert.equal(r.status, "NOERROR");
  assert.ok(!r.flags.includes("tc"), `flags ${r.flags}`);
  assert.equal(r.answers.length, 1);
  const strings = r.answers[0].slice(4);
  assert.equal(strings.length, BIG_STRINGS);
  for (let i = 0; i < BIG_STRINGS; i++) {
    assert.ok(strings[i].startsWith(`"evdeno-large-txt-0${i}-xxx`), strings[i]);
    assert.equal(strings[i].length, 2 + 20 + 180);
  }
}

for (
  const tool of [
    {
      bin: "dig",
      have: HAVE_DIG,
      pkg: "bind9-dnsutils",
      opts: ["+time=3", "+tries=1"],
      noRetry: "+ignore",
    },
    {
      bin: "kdig",
      have: HAVE_KDIG,
      pkg: "knot-dnsutils",
      opts: ["+time=3", "+retry=0"],
      noRetry: "+ignore",
    },
  ]
) {
  Deno.test({
    name: `interop ${tool.bin} (${tool.pkg}) against examples/dns_server.ts`,
    ignore: !tool.have,
    async fn(t) {
      const server = await startServer();
      const at = ["@127.0.0.1", "-p", String(server.port), ...tool.opts];
      try {
        for (const transport of ["udp", "tcp"]) {
          const extra = transport === "tcp" ? ["+tcp"] : [];
          for (const c of CASES) {
            await t.step(`${transport} ${c.name}`, async () => {
              const r = await run(tool.bin, [...at, ...extra, ...c.args]);
              try {
                if (c.name !== "NXDOMAIN with SOA") assert.equal(r.status, "NOERROR");
                assert.ok(r.flags.includes("qr") && r.flags.includes("aa"), `flags ${r.flags}`);
                c.check(r);
              } catch (e) {
                console.error(r.text);
                throw e;
              }
            });
          }
        }
        await t.step("udp: large TXT is truncated (tc) without a TCP retry", async () => {
          // Both clients advertise EDNS 1232 by default; the record set is about 1.6 kB.
          const r = await run(tool.bin, [...at, tool.noRetry, "big.example.test", "TXT"]);
          assert.ok(r.flags.includes("tc"), `flags ${r.flags}\n${r.text}`);
          assert.equal(r.answers.length, 0, "the one oversized record was cut");
          const plain = await run(tool.bin, [
            ...at,
            tool.noRetry,
            "+noedns",
            "big.example.test",
            "TXT",
          ]);
          assert.ok(plain.flags.includes("tc"), `flags ${plain.flags}`);
        });
        await t.step("a name outside the zone only by an escaped dot is refused", async () => {
          // "www\.example" is one label under "test": not in example.test.
          const r = await run(tool.bin, [...at, "www\\.example.test", "A"]);
          assert.equal(r.status, "REFUSED", r.text);
        });
        await t.step("udp: large TXT retried over TCP by default is complete", async () => {
          const r = await run(tool.bin, [...at, "big.example.test", "TXT"]);
          checkBigComplete(r);
          assert.ok(r.tcp, "the client fell back to TCP");
        });
        await t.step("tcp: large TXT is complete", async () => {
          checkBigComplete(await run(tool.bin, [...at, "+tcp", "big.example.test", "TXT"]));
        });
      } finally {
        await server.stop();
      }
    },
  });
}
