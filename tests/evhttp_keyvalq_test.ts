// Evkeyvalq: libevent's evkeyvalq rules (bad_headers test) and the extras.
import assert from "node:assert/strict";
import { Evkeyvalq, lowerKey } from "../evhttp/keyvalq.ts";

Deno.test("Evkeyvalq.add validates like evhttp_add_header (libevent bad_headers), and refuses folding", () => {
  const h = new Evkeyvalq();
  h.add("One", "Two");
  // libevent accepts a folded value; RFC 9110 §5.5 forbids senders to fold, and "\r\n\r\n "
  // in a value (a decoded query parameter, say) ended the response head early.
  assert.throws(() => h.add("One", "Two\r\n Three"), TypeError);
  assert.throws(() => h.add("One", "Two\n\tThree"), TypeError);
  assert.throws(() => h.add("One", "/ok\r\n\r\n <html>injected"), TypeError);
  assert.throws(() => h.add("One", "nul\0"), TypeError);
  // A field name is a token.
  for (const bad of ["Bad Name", "X-A: b", "X\0", "Ç"]) {
    assert.throws(() => h.add(bad, "v"), TypeError, bad);
  }
  h.add("!#$%&'*+-.^_`|~09Az", "ok");
  h.add("One", "Two");
  h.add("One", "Two");
  assert.throws(() => h.add("One\r", "Two"), TypeError);
  assert.throws(() => h.add("One\n", "Two"), TypeError);
  assert.throws(() => h.add("One", "Two\r"), TypeError);
  assert.throws(() => h.add("One", "Two\n"), TypeError);
  assert.throws(() => h.add("One", "Two\r\nThree"), TypeError);
  assert.throws(() => h.add("", "Two"), TypeError);
  assert.equal(h.size, 4);
});

Deno.test("Evkeyvalq.find is case-insensitive and returns the first match", () => {
  const h = new Evkeyvalq();
  h.add("Content-Type", "text/html");
  h.add("X-Dup", "1");
  h.add("x-dup", "2");
  assert.equal(h.find("content-type"), "text/html");
  assert.equal(h.find("CONTENT-TYPE"), "text/html");
  assert.equal(h.find("X-DUP"), "1");
  assert.equal(h.find("missing"), undefined);
  assert.equal(h.has("x-Dup"), true);
  assert.deepEqual(h.findAll("X-Dup"), ["1", "2"]);
});

Deno.test("Evkeyvalq.remove removes only the first match", () => {
  const h = new Evkeyvalq();
  h.add("A", "1");
  h.add("B", "2");
  h.add("a", "3");
  assert.equal(h.remove("A"), true);
  assert.deepEqual([...h], [["B", "2"], ["a", "3"]]);
  assert.equal(h.remove("a"), true);
  assert.equal(h.remove("a"), false);
  assert.deepEqual([...h], [["B", "2"]]);
});

Deno.test("Evkeyvalq.set replaces every match in place of the first", () => {
  const h = new Evkeyvalq();
  h.add("A", "1");
  h.add("B", "2");
  h.add("a", "3");
  h.add("C", "4");
  h.set("A", "new");
  assert.deepEqual([...h], [["A", "new"], ["B", "2"], ["C", "4"]]);
  h.set("D", "5");
  assert.deepEqual([...h], [["A", "new"], ["B", "2"], ["C", "4"], ["D", "5"]]);
  assert.throws(() => h.set("E", "x\ny"), TypeError);
});

Deno.test("Evkeyvalq iterates in insertion order, keeps key spelling, and clears", () => {
  const h = new Evkeyvalq();
  h.add("Set-Cookie", "a=1");
  h.add("Host", "x");
  h.add("set-cookie", "b=2");
  assert.deepEqual([...h], [["Set-Cookie", "a=1"], ["Host", "x"], ["set-cookie", "b=2"]]);
  assert.equal(h.keyAt(1), "Host");
  assert.equal(h.valueAt(2), "b=2");
  h.clear();
  assert.equal(h.size, 0);
  assert.deepEqual([...h], []);
  assert.equal(h.find("host"), undefined);
});

Deno.test("Evkeyvalq._addUnchecked skips validation (parser path)", () => {
  const h = new Evkeyvalq();
  h._addUnchecked("Q", "q", "line\nbreak");
  assert.equal(h.find("q"), "line\nbreak");
});

Deno.test("lowerKey returns the same string when already lowercase", () => {
  const s = "content-length";
  assert.equal(lowerKey(s), s);
  assert.equal(lowerKey("Content-Length"), "content-length");
  assert.equal(lowerKey("ÄB"), "äb");
});

Deno.test("Evkeyvalq.add: remembering accepted text never lets a bad name or value through", () => {
  const h = new Evkeyvalq();
  for (let i = 0; i < 3; i++) {
    h.add("Ab", "v1");
    assert.throws(() => h.add("A\n", "v1"), TypeError);
    assert.throws(() => h.add("", "v1"), TypeError);
    assert.throws(() => h.add("Ab", "\r\n"), TypeError);
    assert.throws(() => h.add("Ab", "a\rb"), TypeError);
    assert.throws(() => h.add("Ab", "a\r\n b"), TypeError);
    h.add("Ab", "a b");
  }
  assert.equal(h.size, 6);
  assert.equal(h.find("ab"), "v1");
  assert.deepEqual(h.findAll("AB"), ["v1", "a b", "v1", "a b", "v1", "a b"]);
});

Deno.test("Evkeyvalq._shareClone: either list may change without the other seeing it", () => {
  const a = new Evkeyvalq();
  a.add("A", "1");
  a.add("B", "2");
  const b = a._shareClone();
  const c = a._shareClone();
  b.add("C", "3");
  assert.deepEqual([...a], [["A", "1"], ["B", "2"]]);
  assert.deepEqual([...b], [["A", "1"], ["B", "2"], ["C", "3"]]);
  a.set("a", "x");
  assert.deepEqual([...a], [["a", "x"], ["B", "2"]]);
  assert.deepEqual([...c], [["A", "1"], ["B", "2"]]);
  c.remove("b");
  c._setValueAt(0, "y");
  assert.deepEqual([...c], [["A", "y"]]);
  assert.deepEqual([...b], [["A", "1"], ["B", "2"], ["C", "3"]]);
  b.clear();
  assert.equal(b.size, 0);
  b.add("D", "4");
  assert.deepEqual([...b], [["D", "4"]]);
  // Empty lists share nothing mutable either.
  const e1 = new Evkeyvalq();
  const e2 = new Evkeyvalq();
  e1.add("E", "5");
  assert.equal(e2.size, 0);
  assert.equal(e2.find("e"), undefined);
});
