// DNS wire codec, address helpers, constants and error texts (pure code, no sockets).
import assert from "node:assert/strict";
import {
  DnsWriter,
  encodeQuery,
  encodeResponse,
  encodeResponseView,
  isValidName,
  namesEqual,
  nameToWire,
  normalizeName,
  parseHeader,
  parseMessage,
  parseQuestionOnly,
} from "../dns/_wire.ts";
import type { DnsMessageInit, DnsRR } from "../dns/_wire.ts";
import {
  formatIpv4,
  formatIpv6,
  isIpv4,
  isIpv6,
  parseIpv4,
  parseIpv6,
  reverseName4,
  reverseName6,
} from "../dns/_addr.ts";
import {
  DNS_CLASS_INET,
  DNS_ERR_CANCEL,
  DNS_ERR_NODATA,
  DNS_ERR_NONE,
  DNS_ERR_TIMEOUT,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_MX,
  DNS_TYPE_NS,
  DNS_TYPE_PTR,
  DNS_TYPE_SOA,
  DNS_TYPE_SRV,
  DNS_TYPE_TXT,
  dnsTypeFromString,
  dnsTypeToString,
  EVUTIL_EAI_CANCEL,
  EVUTIL_EAI_NONAME,
} from "../dns/constants.ts";
import { evdnsErrToString, evutilGaiStrerror } from "../dns/errors.ts";
import { prng } from "./_helpers.ts";

const IN = DNS_CLASS_INET;

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Every decoded record type, with names that share suffixes so compression kicks in. */
function sampleRecords(): DnsRR[] {
  return [
    {
      name: "www.example.com",
      type: DNS_TYPE_CNAME,
      dnsClass: IN,
      ttl: 300,
      data: "web.example.com",
    },
    { name: "web.example.com", type: DNS_TYPE_A, dnsClass: IN, ttl: 60, data: "192.0.2.1" },
    { name: "web.example.com", type: DNS_TYPE_AAAA, dnsClass: IN, ttl: 60, data: "2001:db8::1" },
    { name: "example.com", type: DNS_TYPE_NS, dnsClass: IN, ttl: 3600, data: "ns1.example.com" },
    {
      name: "example.com",
      type: DNS_TYPE_MX,
      dnsClass: IN,
      ttl: 60,
      data: { preference: 10, exchange: "mail.example.com" },
    },
    {
      name: "example.com",
      type: DNS_TYPE_TXT,
      dnsClass: IN,
      ttl: 60,
      data: ["v=spf1 -all", "", "wörld"],
    },
    {
      name: "_sip._tcp.example.com",
      type: DNS_TYPE_SRV,
      dnsClass: IN,
      ttl: 60,
      data: { priority: 1, weight: 2, port: 5060, target: "sip.example.com" },
    },
    {
      name: "example.com",
      type: DNS_TYPE_SOA,
      dnsClass: IN,
      ttl: 60,
      data: {
        mname: "ns1.example.com",
        rname: "hostmaster.example.com",
        serial: 2024010101,
        refresh: 7200,
        retry: 3600,
        expire: 1209600,
        minimum: 300,
      },
    },
    {
      name: "1.2.0.192.in-addr.arpa",
      type: DNS_TYPE_PTR,
      dnsClass: IN,
      ttl: 60,
      data: "web.example.com",
    },
    { name: "example.com", type: 99, dnsClass: IN, ttl: 60, data: new Uint8Array([1, 2, 3]) },
  ];
}

Deno.test("dns wire: query bytes match RFC 1035 layout", () => {
  const q = encodeQuery(0x1234, "example.com", DNS_TYPE_A);
  assert.deepEqual(
    q,
    hex("1234 0100 0001 0000 0000 0000 07 6578616d706c65 03 636f6d 00 0001 0001"),
  );
  const e = encodeQuery(0xabcd, "a.b", DNS_TYPE_AAAA, { rd: false, ednsUdpSize: 4096 });
  assert.deepEqual(
    e,
    hex("abcd 0000 0001 0000 0000 0001 01 61 01 62 00 001c 0001  00 0029 1000 00000000 0000"),
  );
  const m = parseMessage(e)!;
  assert.deepEqual(m.edns, { udpSize: 4096, version: 0, do: false });
  assert.equal(m.additional.length, 0);
  assert.equal(m.rd, false);
  assert.deepEqual(m.questions, [{ name: "a.b", type: DNS_TYPE_AAAA, dnsClass: IN }]);
  const dok = parseMessage(encodeQuery(2, "a", 1, { ednsUdpSize: 1232, dnssecOk: true }))!;
  assert.deepEqual(dok.edns, { udpSize: 1232, version: 0, do: true });
  assert.equal(parseMessage(encodeQuery(3, "a", 1, { dnsClass: 3 }))!.questions[0].dnsClass, 3);
});

Deno.test("dns wire: every record type round-trips with compression", () => {
  const answers = sampleRecords();
  const msg: DnsMessageInit = {
    id: 7,
    rd: true,
    ra: true,
    aa: true,
    questions: [{ name: "www.example.com", type: DNS_TYPE_A, dnsClass: IN }],
    answers,
    authority: [answers[7]],
    additional: [answers[1]],
  };
  const wire = encodeResponse(msg);
  const m = parseMessage(wire)!;
  assert.ok(m);
  assert.equal(m.id, 7);
  assert.equal(m.qr, true);
  assert.equal(m.aa, true);
  assert.equal(m.rd, true);
  assert.equal(m.ra, true);
  assert.equal(m.tc, false);
  assert.equal(m.rcode, 0);
  assert.equal(m.opcode, 0);
  assert.equal(m.flags, 0x8580);
  assert.deepEqual(m.questions, msg.questions);
  assert.deepEqual(m.answers, answers);
  assert.deepEqual(m.authority, [answers[7]]);
  assert.deepEqual(m.additional, [answers[1]]);
  assert.equal(m.edns, undefined);
  // Compression: the answer's owner name is a pointer to the question name at offset 12.
  const afterQuestion = 12 + 17 + 4;
  assert.deepEqual([...wire.subarray(afterQuestion, afterQuestion + 2)], [0xc0, 12]);
  // Uncompressed, the names alone would be far larger than the whole message.
  assert.ok(wire.length < 420, `message is ${wire.length} bytes`);
  // Re-encoding the parsed message gives the same bytes.
  assert.deepEqual(encodeResponse(m), wire);
});

Deno.test("dns wire: keepRaw gives rdata copies; writer API sets counts and flags", () => {
  const w = new DnsWriter(16);
  w.header(1, 0, 0, 0, 0, 0);
  w.question({ name: "x.example", type: DNS_TYPE_A, dnsClass: IN });
  w.rr({ name: "x.example", type: DNS_TYPE_A, dnsClass: IN, ttl: 5, data: "10.0.0.1" });
  w.rr({
    name: "x.example",
    type: DNS_TYPE_A,
    dnsClass: IN,
    ttl: 5,
    data: new Uint8Array([10, 0, 0, 2]),
  });
  w.opt(1232, 0, 0, true);
  w.setCounts(1, 2, 0, 1);
  w.setFlags(0x8000);
  const wire = w.finish();
  const m = parseMessage(wire, true)!;
  assert.deepEqual(m.answers.map((a) => a.data), ["10.0.0.1", "10.0.0.2"]);
  assert.deepEqual(m.answers[1].raw, new Uint8Array([10, 0, 0, 2]));
  assert.deepEqual(m.edns, { udpSize: 1232, version: 0, do: true });
  assert.equal(m.qr, true);
  // The writer is reusable after finish().
  w.header(2, 0, 1);
  w.question({ name: "y", type: 1, dnsClass: 1 });
  assert.deepEqual(parseMessage(w.finish())!.questions[0].name, "y");
});

Deno.test("dns wire: TXT string input is split into 255-byte pieces", () => {
  const long = "x".repeat(600);
  const wire = encodeResponse({
    id: 1,
    answers: [{ name: "t", type: DNS_TYPE_TXT, dnsClass: IN, ttl: 1, data: long }],
  });
  const m = parseMessage(wire)!;
  assert.deepEqual(m.answers[0].data, ["x".repeat(255), "x".repeat(255), "x".repeat(90)]);
});

Deno.test("dns wire: TXT pieces at the 255-byte edges, empty and non-ASCII text", () => {
  const txt = (data: string | string[]) =>
    parseMessage(encodeResponse({
      id: 1,
      answers: [{ name: "t", type: DNS_TYPE_TXT, dnsClass: IN, ttl: 1, data }],
    }))!.answers[0].data;
  assert.deepEqual(txt("y".repeat(255)), ["y".repeat(255)]);
  assert.deepEqual(txt("y".repeat(256)), ["y".repeat(255), "y"]);
  assert.deepEqual(txt(""), [""]);
  assert.deepEqual(txt(["", "a b", "\u00e9t\u00e9"]), ["", "a b", "\u00e9t\u00e9"]);
  // 200 two-byte characters are 400 bytes of UTF-8: split by bytes, not characters.
  const wire = encodeResponse({
    id: 1,
    answers: [{ name: "t", type: DNS_TYPE_TXT, dnsClass: IN, ttl: 1, data: "\u00e9".repeat(200) }],
  });
  const m = parseMessage(wire, true)!;
  assert.equal(m.answers[0].raw![0], 255);
  assert.equal(m.answers[0].raw!.length, 402);
});

Deno.test("dns wire: compression with hundreds of names, and after truncate", () => {
  const answers: DnsRR[] = [];
  for (let i = 0; i < 300; i++) {
    const name = `n${i}.z${i % 7}.example`;
    answers.push({ name, type: DNS_TYPE_CNAME, dnsClass: IN, ttl: 1, data: `t.z${i % 7}.example` });
  }
  const wire = encodeResponse({ id: 1, answers });
  const m = parseMessage(wire)!;
  assert.deepEqual(m.answers.map((a) => [a.name, a.data]), answers.map((a) => [a.name, a.data]));
  // Every owner after the first seven zones shares its zone's suffix, and every target is a
  // pointer: far smaller than the names written out.
  assert.ok(wire.length < 300 * 30, `size ${wire.length}`);

  const w = new DnsWriter(64);
  w.header(1, 0x8000, 0, 2);
  w.rr({ name: "keep.example", type: DNS_TYPE_A, dnsClass: IN, ttl: 1, data: "10.0.0.1" });
  const cut = w.length;
  for (let i = 0; i < 100; i++) w.name(`gone${i}.other.test`);
  w.truncate(cut);
  // Names that only lived past the cut must be written again, not pointed at.
  w.rr({ name: "gone5.other.test", type: DNS_TYPE_A, dnsClass: IN, ttl: 1, data: "10.0.0.2" });
  const after = parseMessage(w.finish())!;
  assert.deepEqual(after.answers.map((a) => a.name), ["keep.example", "gone5.other.test"]);
  // A name written before the cut still compresses.
  w.header(1, 0x8000, 0, 2);
  w.rr({ name: "a.example", type: DNS_TYPE_A, dnsClass: IN, ttl: 1, data: "10.0.0.1" });
  const cut2 = w.length;
  w.name("x.y.z");
  w.truncate(cut2);
  const before = w.length;
  w.name("a.example");
  assert.equal(w.length - before, 2, "a pointer");
});

Deno.test("dns wire: name caches stay exact past their capacity and across case", () => {
  // More distinct names than the encoder and decoder caches hold, asked twice over.
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < 1500; i++) {
      const name = i % 3 === 0 ? `Host${i}.Example` : `host${i}.example`;
      const wire = encodeResponse({
        id: i,
        questions: [{ name, type: DNS_TYPE_A, dnsClass: IN }],
        answers: [{ name, type: DNS_TYPE_CNAME, dnsClass: IN, ttl: 1, data: `t${i}.example` }],
      });
      const m = parseMessage(wire)!;
      assert.equal(m.questions[0].name, name);
      assert.equal(m.answers[0].data, `t${i}.example`);
    }
  }
  // Same letters, other case: decoded as asked, never from the other spelling's cache entry.
  for (
    const name of ["www.example.test", "WWW.example.test", "www.EXAMPLE.test", "www.example.test"]
  ) {
    assert.equal(parseQuestionOnly(encodeQuery(1, name, DNS_TYPE_A))!.questions[0].name, name);
  }
  // Long names (not cached) round-trip too.
  const long = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
  assert.ok(isValidName(long));
  assert.ok(!isValidName(long + "d"));
  for (let k = 0; k < 2; k++) {
    assert.equal(parseQuestionOnly(encodeQuery(1, long, DNS_TYPE_A))!.questions[0].name, long);
  }
  // A cached valid name does not make a similar invalid one pass.
  assert.ok(isValidName("a.b"));
  assert.ok(!isValidName("a..b"));
  assert.throws(() => new DnsWriter().name("a..b"), RangeError);
});

Deno.test("dns wire: encodeResponseView gives encodeResponse's bytes without a copy", () => {
  const msg: DnsMessageInit = {
    id: 5,
    questions: [{ name: "v.example", type: DNS_TYPE_A, dnsClass: IN }],
    answers: [{ name: "v.example", type: DNS_TYPE_A, dnsClass: IN, ttl: 9, data: "192.0.2.9" }],
  };
  const copy = encodeResponse(msg);
  const view = encodeResponseView(msg);
  assert.deepEqual(view.slice(), copy);
  // The next encoding reuses the same buffer: the view is only good until then.
  encodeResponseView({ id: 6 });
  assert.notDeepEqual(view.slice(), copy);
});

Deno.test("dns wire: names with escapes round-trip exactly", () => {
  const names = [
    "a\\.b.example",
    "\\000x.example",
    "caf\\195\\169.example",
    "back\\\\slash.example",
    "sp\\032ace.example",
    "\\255\\127\\031.x",
    "MiXeD.CaSe.ExAmPlE",
    "",
  ];
  for (const name of names) {
    const wire = encodeResponse({
      id: 3,
      questions: [{ name, type: DNS_TYPE_A, dnsClass: IN }],
      answers: [{ name, type: DNS_TYPE_CNAME, dnsClass: IN, ttl: 1, data: name }],
    });
    const m = parseMessage(wire)!;
    assert.equal(m.questions[0].name, name);
    assert.equal(m.answers[0].name, name);
    assert.equal(m.answers[0].data, name);
    const pq = parseQuestionOnly(encodeQuery(1, name, DNS_TYPE_A))!;
    assert.equal(pq.questions[0].name, name);
  }
  assert.deepEqual(nameToWire("a\\.b.example"), hex("03 612e62 07 6578616d706c65 00"));
  assert.deepEqual(nameToWire("\\000x"), hex("02 0078 00"));
  // Raw non-ASCII input is written as UTF-8 and reads back escaped.
  assert.deepEqual(nameToWire("é"), hex("02 c3a9 00"));
  assert.equal(normalizeName("café.example"), "caf\\195\\169.example");
  // Other accepted input spellings normalise to the canonical form.
  assert.equal(normalizeName("."), "");
  assert.equal(normalizeName("example.com."), "example.com");
  assert.equal(normalizeName("\\065b\\c"), "Abc");
  assert.equal(normalizeName("a..b"), null);
});

Deno.test("dns wire: case is preserved; compression is exact unless foldCase", () => {
  const msg: DnsMessageInit = {
    id: 9,
    questions: [{ name: "wWw.ExAmple.cOm", type: DNS_TYPE_A, dnsClass: IN }],
    answers: [{ name: "www.example.com", type: DNS_TYPE_A, dnsClass: IN, ttl: 1, data: "1.2.3.4" }],
  };
  const exact = parseMessage(encodeResponse(msg))!;
  assert.equal(exact.questions[0].name, "wWw.ExAmple.cOm");
  assert.equal(exact.answers[0].name, "www.example.com");
  const folded = encodeResponse(msg, { foldCase: true });
  assert.ok(folded.length < encodeResponse(msg).length);
  assert.equal(parseMessage(folded)!.answers[0].name, "wWw.ExAmple.cOm");
  assert.ok(namesEqual("WWW.example.COM.", "www.example.com"));
  assert.ok(!namesEqual("WWW.example.com", "www.example.com", true));
  assert.ok(namesEqual("\\119ww.example.com", "www.example.com", true));
  assert.ok(!namesEqual("a..b", "a..b"));
});

Deno.test("dns wire: name limits", () => {
  const label63 = "a".repeat(63);
  assert.ok(isValidName(label63));
  assert.ok(!isValidName("a".repeat(64)));
  // 4 labels of 63 = 4*64 + 1 = 257 bytes: too long; 3*64 + 62 + 1 = 255: fits.
  assert.ok(!isValidName([label63, label63, label63, label63].join(".")));
  const max = [label63, label63, label63, "a".repeat(61)].join(".");
  assert.equal(nameToWire(max)!.length, 255);
  assert.equal(nameToWire(max + ".")!.length, 255);
  assert.ok(!isValidName(max + "a"));
  assert.ok(!isValidName(max + "a."));
  assert.ok(!isValidName("a\\"));
  assert.ok(!isValidName("a\\25"));
  assert.ok(!isValidName("a\\256"));
  assert.ok(!isValidName(".a"));
  assert.throws(() => encodeQuery(1, "a..b", 1), RangeError);
  assert.throws(
    () =>
      encodeResponse({
        id: 1,
        answers: [{ name: "x", type: DNS_TYPE_A, dnsClass: IN, ttl: 1, data: "1.2.3" }],
      }),
    TypeError,
  );
  assert.throws(
    () =>
      encodeResponse({
        id: 1,
        answers: [{ name: "x", type: DNS_TYPE_MX, dnsClass: IN, ttl: 1, data: "mx" }],
      }),
    TypeError,
  );
  assert.throws(
    () =>
      encodeResponse({ id: 1, answers: [{ name: "x", type: 99, dnsClass: IN, ttl: 1, data: 5 }] }),
    TypeError,
  );
});

/** A header followed by `body`. */
function packet(qd: number, an: number, ns: number, ar: number, body: string): Uint8Array {
  const h = [0x12, 0x34, 0x81, 0x80, 0, qd, 0, an, 0, ns, 0, ar];
  return new Uint8Array([...h, ...hex(body)]);
}

/** `count` questions, each (after the first, the root) a pointer to the previous one's name. */
function pointerChain(count: number): Uint8Array {
  let body = "00 0001 0001";
  for (let i = 1; i < count; i++) {
    const prev = i === 1 ? 12 : 17 + 6 * (i - 2);
    body += (0xc000 | prev).toString(16) + "0001 0001";
  }
  return packet(count, 0, 0, 0, body);
}

Deno.test("dns wire: malformed packets give null", () => {
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["truncated header", new Uint8Array(11)],
    ["self pointer", packet(1, 0, 0, 0, "c00c 0001 0001")],
    ["2-cycle", packet(1, 0, 0, 0, "c00e 0001 0001 c00c")],
    ["label then pointer back to itself", packet(1, 0, 0, 0, "0161 c00c 0001 0001")],
    ["forward pointer", packet(1, 0, 0, 0, "c012 0001 0001 0000 0161 00")],
    ["label type 01", packet(1, 0, 0, 0, "41 61 00 0001 0001")],
    ["label type 10", packet(1, 0, 0, 0, "81 61 00 0001 0001")],
    ["label past end", packet(1, 0, 0, 0, "05 6162")],
    ["no root byte", packet(1, 0, 0, 0, "03 616263")],
    ["question type cut", packet(1, 0, 0, 0, "00 0001")],
    ["pointer cut", packet(1, 0, 0, 0, "c0")],
    ["qdcount 50, short", packet(50, 0, 0, 0, "00 0001 0001")],
    ["ancount 1, nothing", packet(0, 1, 0, 0, "")],
    ["arcount huge", packet(0, 0, 0, 255, "00 0001 0001 00000000 0000")],
    ["rdlength past end", packet(0, 1, 0, 0, "00 0001 0001 00000001 0005 01020304")],
    ["rr header cut", packet(0, 1, 0, 0, "00 0001 0001 000000")],
    ["CNAME name not filling rdata", packet(0, 1, 0, 0, "00 0005 0001 00000001 0004 0161 00 00")],
    ["CNAME name overrunning rdata", packet(0, 1, 0, 0, "00 0005 0001 00000001 0001 0161 00")],
    ["MX too short", packet(0, 1, 0, 0, "00 000f 0001 00000001 0002 000a")],
    ["SRV too short", packet(0, 1, 0, 0, "00 0021 0001 00000001 0006 000100020003")],
    ["SOA short", packet(0, 1, 0, 0, "00 0006 0001 00000001 0004 00 00 0000")],
    ["TXT overrun", packet(0, 1, 0, 0, "00 0010 0001 00000001 0003 05 6162")],
    ["two OPT", packet(0, 0, 0, 2, "00 0029 1000 00000000 0000 00 0029 1000 00000000 0000")],
    ["OPT not root", packet(0, 0, 0, 1, "0161 00 0029 1000 00000000 0000")],
  ];
  // Names longer than 255 bytes: five 62-byte labels.
  const longName = Array.from({ length: 5 }, () => "3e" + "61".repeat(62)).join("") + "00";
  cases.push(["name > 255", packet(1, 0, 0, 0, longName + "0001 0001")]);
  // Question i is a pointer to question i-1's name, so the last name takes 99 backward hops:
  // legal offsets, but more hops than the cap allows.
  cases.push(["pointer chain over the hop cap", pointerChain(100)]);
  for (const [what, buf] of cases) {
    assert.equal(parseMessage(buf), null, what);
  }
  assert.equal(parseHeader(new Uint8Array(11)), null);
  assert.equal(parseQuestionOnly(packet(50, 0, 0, 0, "00 0001 0001")), null);
  assert.equal(parseQuestionOnly(packet(1, 0, 0, 0, "c00c 0001 0001")), null);
});

Deno.test("dns wire: lenient edges parse", () => {
  // qdcount 0, nothing else: a valid empty message.
  const empty = parseMessage(packet(0, 0, 0, 0, ""))!;
  assert.deepEqual(empty.questions, []);
  assert.equal(empty.rcode, 0);
  // Trailing garbage is ignored.
  const q = encodeQuery(5, "example.com", 1);
  const withGarbage = new Uint8Array([...q, 1, 2, 3, 4, 5]);
  assert.deepEqual(parseMessage(withGarbage)!.questions, parseMessage(q)!.questions);
  // A with a bad length, TTL with the top bit set.
  const m = parseMessage(packet(0, 1, 0, 0, "00 0001 0001 80000000 0008 0102030405060708"))!;
  assert.deepEqual(m.answers[0].data, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  assert.equal(m.answers[0].ttl, 0);
  // Header helpers.
  assert.deepEqual(parseHeader(packet(1, 2, 3, 4, "")), {
    id: 0x1234,
    flags: 0x8180,
    qdcount: 1,
    ancount: 2,
    nscount: 3,
    arcount: 4,
  });
  const pq = parseQuestionOnly(packet(1, 1, 0, 0, "00 0001 0001 ff"))!;
  assert.deepEqual(pq.questions, [{ name: "", type: 1, dnsClass: 1 }]);
  assert.equal(pq.end, 17);
  // 59 hops stay under the cap.
  assert.equal(parseMessage(pointerChain(60))!.questions.length, 60);
  // A multi-hop backward chain written by hand: "b" → "a" → root.
  const hop = packet(3, 0, 0, 0, "0161 00 0001 0001 0162 c00c 0001 0001 0163 c013 0001 0001");
  assert.deepEqual(parseMessage(hop)!.questions.map((x) => x.name), ["a", "b.a", "c.b.a"]);
});

Deno.test("dns wire: truncation keeps whole records and sets TC", () => {
  const answers: DnsRR[] = [];
  for (let i = 0; i < 100; i++) {
    answers.push({
      name: "many.example",
      type: DNS_TYPE_A,
      dnsClass: IN,
      ttl: 30,
      data: `10.0.${i >> 8}.${i & 255}`,
    });
  }
  const base: DnsMessageInit = {
    id: 77,
    rd: true,
    questions: [{ name: "many.example", type: DNS_TYPE_A, dnsClass: IN }],
    answers,
    additional: [{
      name: "extra.example",
      type: DNS_TYPE_A,
      dnsClass: IN,
      ttl: 1,
      data: "1.1.1.1",
    }],
  };
  const full = encodeResponse(base);
  assert.ok(full.length > 512);
  assert.equal(parseMessage(full)!.tc, false);

  const cut = encodeResponse(base, { maxSize: 512 });
  assert.ok(cut.length <= 512);
  const m = parseMessage(cut)!;
  assert.equal(m.tc, true);
  assert.equal(m.rd, true);
  assert.ok(m.answers.length > 10 && m.answers.length < 100);
  assert.deepEqual(m.answers, answers.slice(0, m.answers.length));
  assert.equal(m.additional.length, 0);
  // 12 header + 18 question + 16 per pointer-named A record.
  assert.equal(m.answers.length, Math.floor((512 - 12 - 18) / 16));
  assert.deepEqual(parseHeader(cut)!.ancount, m.answers.length);

  // With EDNS the OPT record survives the cut.
  const withEdns = encodeResponse({ ...base, edns: { udpSize: 1232, version: 0, do: false } }, {
    maxSize: 512,
  });
  const me = parseMessage(withEdns)!;
  assert.ok(withEdns.length <= 512);
  assert.equal(me.tc, true);
  assert.deepEqual(me.edns, { udpSize: 1232, version: 0, do: false });
  assert.equal(me.answers.length, Math.floor((512 - 12 - 18 - 11) / 16));

  // Even the question does not fit: header only.
  const tiny = encodeResponse(base, { maxSize: 20 });
  assert.equal(tiny.length, 12);
  const mt = parseMessage(tiny)!;
  assert.equal(mt.tc, true);
  assert.equal(mt.questions.length, 0);
});

Deno.test("dns wire: EDNS extended rcode and flags", () => {
  const wire = encodeResponse({
    id: 1,
    rcode: 16, // BADVERS: upper bits travel in OPT
    edns: { udpSize: 512, version: 0, do: true },
  });
  const m = parseMessage(wire)!;
  assert.equal(m.rcode, 16);
  assert.equal(m.flags & 0xf, 0);
  assert.deepEqual(m.edns, { udpSize: 512, version: 0, do: true });
  const nx = parseMessage(encodeResponse({ id: 2, flags: 0x0100, rcode: 3, opcode: 2, aa: true }))!;
  assert.equal(nx.rcode, 3);
  assert.equal(nx.opcode, 2);
  assert.equal(nx.rd, true);
  assert.equal(nx.aa, true);
  assert.equal(nx.qr, true);
  const q = parseMessage(encodeResponse({ id: 3, qr: false }))!;
  assert.equal(q.qr, false);
});

Deno.test("dns wire: names past offset 0x3fff are not compression targets", () => {
  const answers: DnsRR[] = [];
  for (let i = 0; i < 120; i++) {
    answers.push({
      name: `n${i}.big.example`,
      type: DNS_TYPE_TXT,
      dnsClass: IN,
      ttl: 1,
      data: "y".repeat(200),
    });
  }
  answers.push({ name: "late.example", type: DNS_TYPE_A, dnsClass: IN, ttl: 1, data: "1.2.3.4" });
  answers.push({ name: "late.example", type: DNS_TYPE_A, dnsClass: IN, ttl: 1, data: "1.2.3.5" });
  const wire = encodeResponse({ id: 1, answers });
  assert.ok(wire.length > 0x4000);
  const m = parseMessage(wire)!;
  assert.deepEqual(
    m.answers,
    answers.map((a) => ({ ...a, data: a.type === DNS_TYPE_TXT ? [a.data] : a.data })),
  );
  // "late.example" first appears past 0x3fff, so it is not remembered: both late records
  // spell "late" and point only at the early "example" suffix.
  for (const recordStart of [wire.length - 21, wire.length - 42]) {
    const owner = wire.subarray(recordStart, recordStart + 7);
    assert.deepEqual([...owner.subarray(0, 5)], [4, 0x6c, 0x61, 0x74, 0x65]);
    assert.equal(owner[5] & 0xc0, 0xc0);
    assert.ok((((owner[5] & 0x3f) << 8) | owner[6]) < 0x4000);
  }
});

Deno.test("dns wire: fuzzed and mutated packets never throw", () => {
  const rand = prng(0x5eed);
  const seeds = [
    encodeResponse({
      id: 1,
      questions: [{ name: "www.example.com", type: 1, dnsClass: 1 }],
      answers: sampleRecords(),
      edns: { udpSize: 1232, version: 0, do: false },
    }),
    encodeQuery(2, "x.y.z", 28, { ednsUdpSize: 4096 }),
  ];
  const deadline = performance.now() + 20_000;
  let parsed = 0;
  let iterations = 0;
  for (; iterations < 20_000 && performance.now() < deadline; iterations++) {
    let buf: Uint8Array;
    const mode = iterations % 3;
    if (mode === 0) {
      buf = new Uint8Array(Math.floor(rand() * 300));
      for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(rand() * 256);
      // Small counts make random packets reach the name and record parsers.
      if (buf.length >= 12) {
        for (let i = 4; i < 12; i += 2) {
          buf[i] = 0;
          buf[i + 1] = Math.floor(rand() * 4);
        }
      }
    } else {
      const seed = seeds[Math.floor(rand() * seeds.length)];
      buf = seed.slice(0, mode === 1 ? seed.length : Math.floor(rand() * seed.length));
      const flips = 1 + Math.floor(rand() * 6);
      for (let f = 0; f < flips && buf.length > 0; f++) {
        const at = Math.floor(rand() * buf.length);
        const r = rand();
        buf[at] = r < 0.3 ? 0xc0 : r < 0.5 ? Math.floor(rand() * 64) : Math.floor(rand() * 256);
      }
    }
    const m = parseMessage(buf);
    parseHeader(buf);
    parseQuestionOnly(buf);
    if (m !== null) {
      parsed++;
      // Whatever parsed can be encoded again and parses to the same names.
      const again = parseMessage(encodeResponse(m))!;
      assert.deepEqual(again.questions, m.questions);
      assert.deepEqual(again.answers.map((a) => a.name), m.answers.map((a) => a.name));
    }
  }
  assert.ok(iterations >= 1000, `only ${iterations} iterations ran`);
  assert.ok(parsed > 100, `only ${parsed} packets parsed`);
});

Deno.test("dns addr: IPv4 parse and format", () => {
  assert.deepEqual(parseIpv4("192.0.2.255"), new Uint8Array([192, 0, 2, 255]));
  assert.deepEqual(parseIpv4("0.0.0.0"), new Uint8Array(4));
  for (
    const bad of [
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1..2.3",
      "1.2.3.4 ",
      "a.b.c.d",
      "",
      "1.2.3.-4",
    ]
  ) {
    assert.equal(parseIpv4(bad), null, bad);
    assert.equal(isIpv4(bad), false, bad);
  }
  assert.ok(isIpv4("10.0.0.1"));
  assert.equal(formatIpv4(new Uint8Array([9, 9, 1, 2, 3, 4]), 2), "1.2.3.4");
});

Deno.test("dns addr: IPv6 parse", () => {
  const ok: [string, string][] = [
    ["::", "00000000000000000000000000000000"],
    ["::1", "00000000000000000000000000000001"],
    ["1::", "00010000000000000000000000000000"],
    ["2001:DB8::2:1", "20010db8000000000000000000020001"],
    ["2001:db8:0:0:0:0:2:1", "20010db8000000000000000000020001"],
    ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
    ["1::8", "00010000000000000000000000000008"],
    ["::ffff:192.0.2.1", "00000000000000000000ffffc0000201"],
    ["1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304"],
    ["::1.2.3.4", "00000000000000000000000001020304"],
    ["1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
    ["::2:3:4:5:6:7:8", "00000002000300040005000600070008"],
  ];
  for (const [s, h] of ok) assert.deepEqual(parseIpv6(s), hex(h), s);
  const bad = [
    "",
    ":",
    ":::",
    "1:::2",
    "1::2::3",
    ":1::",
    "1::2:",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "::1:2:3:4:5:6:7:8",
    "12345::",
    "g::",
    "fe80::1%eth0",
    "[::1]",
    "1.2.3.4",
    "::1.2.3",
    "1:2:3:4:5:6:7:1.2.3.4",
    "::1.2.3.4:5",
    "1:2:3:4:5:6:7:8::",
    "::01.2.3.4",
  ];
  for (const s of bad) {
    assert.equal(parseIpv6(s), null, s);
    assert.equal(isIpv6(s), false, s);
  }
  assert.ok(isIpv6("fe80::1"));
});

Deno.test("dns addr: RFC 5952 canonical IPv6 text", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group is not shortened
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // longest run wins
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first run wins a tie
    ["2001:DB8::ABCD", "2001:db8::abcd"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["::ffff:c000:0201", "::ffff:192.0.2.1"],
    ["1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"],
    ["fe80::0:0:1", "fe80::1"],
  ];
  for (const [input, want] of cases) {
    assert.equal(formatIpv6(parseIpv6(input)!), want, input);
  }
  const padded = new Uint8Array(20);
  padded.set(parseIpv6("::1")!, 4);
  assert.equal(formatIpv6(padded, 4), "::1");
});

Deno.test("dns addr: reverse names", () => {
  assert.equal(reverseName4("1.2.3.4"), "4.3.2.1.in-addr.arpa");
  assert.equal(reverseName4(new Uint8Array([192, 0, 2, 1])), "1.2.0.192.in-addr.arpa");
  assert.equal(reverseName4("1.2.3"), null);
  assert.equal(
    reverseName6("2001:db8::567:89ab"),
    "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
  );
  assert.equal(reverseName6("::1"), "1" + ".0".repeat(31) + ".ip6.arpa");
  assert.equal(reverseName6("nope"), null);
});

Deno.test("dns constants: type names and error texts", () => {
  assert.equal(dnsTypeFromString("AAAA"), 28);
  assert.equal(dnsTypeFromString("mx"), 15);
  assert.equal(dnsTypeFromString("TYPE123"), 123);
  assert.equal(dnsTypeFromString(33), 33);
  assert.equal(dnsTypeFromString("BOGUS"), -1);
  assert.equal(dnsTypeFromString("TYPE70000"), -1);
  assert.equal(dnsTypeFromString(1.5), -1);
  assert.equal(dnsTypeToString(28), "AAAA");
  assert.equal(dnsTypeToString(6), "SOA");
  assert.equal(dnsTypeToString(123), "TYPE123");
  assert.equal(dnsTypeToString("SRV"), "SRV");
  assert.equal(evdnsErrToString(DNS_ERR_NONE), "no error");
  assert.equal(evdnsErrToString(DNS_ERR_TIMEOUT), "request timed out");
  assert.equal(evdnsErrToString(DNS_ERR_CANCEL), "dns request canceled");
  assert.equal(evdnsErrToString(DNS_ERR_NODATA), "no records in the reply");
  assert.equal(evdnsErrToString(6), "[Unknown error code]");
  assert.equal(evutilGaiStrerror(0), "No error");
  assert.equal(evutilGaiStrerror(EVUTIL_EAI_CANCEL), "Request canceled");
  assert.equal(
    evutilGaiStrerror(EVUTIL_EAI_NONAME),
    "nodename nor servname provided, or not known",
  );
  assert.equal(evutilGaiStrerror(12345), "Unknown error code");
});
