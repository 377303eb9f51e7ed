// Review probes for Evbuffer: edge cases the main evbuffer suite does not cover.
// Tests whose comment starts "Regression test" cover bugs a review found (now fixed).
import assert from "node:assert/strict";
import {
  Evbuffer,
  EVBUFFER_EOL_CRLF,
  EVBUFFER_EOL_CRLF_STRICT,
  EVBUFFER_EOL_LF,
  type EvbufferCbInfo,
} from "../bufferevent/mod.ts";
import { latin1 } from "./_helpers.ts";

const dec = new TextDecoder();
const text = (b: Evbuffer) => b.toString();

/** A buffer stays self-consistent: `length` is an integer equal to the bytes it really holds. */
function assertConsistent(b: Evbuffer, what: string): void {
  assert.ok(Number.isInteger(b.length), `${what}: length ${b.length} is not an integer`);
  assert.equal(b.copyout(b.length).length, b.length, `${what}: copyout disagrees with length`);
  assert.equal(new TextEncoder().encode(text(b)).length, b.length, `${what}: content disagrees`);
}

// ---------------------------------------------------------------- non-integer counts
//
// Regression test (all tests in this section). Before the fix: byte counts and positions are validated only against NaN and
// negatives (`!(n >= 0)` in _avail, _drainInternal, _removeBufferInternal, commitSpace; `pos >= 0`
// in copyoutFrom/search). A fractional count is used as is: offsets and `length` become
// fractional and the buffer no longer agrees with itself. libevent's counts are size_t; DESIGN.md
// says misuse throws RangeError. Either rejecting (RangeError) or truncating is acceptable here;
// corrupting the buffer is not.

function eitherRangeErrorOrConsistent(b: Evbuffer, what: string, op: () => void): void {
  try {
    op();
  } catch (e) {
    assert.ok(e instanceof RangeError, `${what}: threw ${e}`);
  }
  assertConsistent(b, what);
}

// Regression test. Before the fix: see the section comment (bufferevent/evbuffer.ts _drainInternal / _cut).
Deno.test("review: drain(1.5) does not leave a fractional length", () => {
  const b = new Evbuffer();
  b.add("abcdef");
  eitherRangeErrorOrConsistent(b, "drain(1.5)", () => b.drain(1.5));
});

// Regression test. Before the fix: see the section comment (bufferevent/evbuffer.ts remove / _avail).
Deno.test("review: remove(2.5) removes as many bytes as it returns", () => {
  const b = new Evbuffer();
  b.add("abcdef");
  let got: Uint8Array | null = null;
  eitherRangeErrorOrConsistent(b, "remove(2.5)", () => {
    got = b.remove(2.5);
  });
  if (got !== null) assert.equal((got as Uint8Array).length + b.length, 6);
});

// Regression test. Before the fix: see the section comment (bufferevent/evbuffer.ts commitSpace).
Deno.test("review: commitSpace(2.5) does not commit half a byte", () => {
  const b = new Evbuffer();
  const v = b.reserveSpace(10);
  v.set(latin1("ABC"));
  eitherRangeErrorOrConsistent(b, "commitSpace(2.5)", () => b.commitSpace(2.5));
});

// Regression test. Before the fix: see the section comment (bufferevent/evbuffer.ts _removeBufferInternal).
Deno.test("review: removeBuffer(dst, 2.5) moves whole bytes and returns what moved", () => {
  const src = new Evbuffer();
  src.add("abcdef");
  const dst = new Evbuffer();
  let moved = -1;
  eitherRangeErrorOrConsistent(src, "removeBuffer src", () => {
    moved = src.removeBuffer(dst, 2.5);
  });
  assertConsistent(dst, "removeBuffer dst");
  if (moved >= 0) assert.equal(moved, dst.length);
});

// Regression test. Before the fix: copyoutFrom(1.5, 2) returns two zero bytes (bytes that are not in the buffer at all).
Deno.test("review: copyoutFrom(1.5, 2) never returns bytes that are not in the buffer", () => {
  const b = new Evbuffer();
  b.add("abcdef");
  let out: Uint8Array | null = null;
  try {
    out = b.copyoutFrom(1.5, 2);
  } catch (e) {
    assert.ok(e instanceof RangeError, String(e));
  }
  if (out !== null) {
    assert.ok(["bc", "cd"].includes(dec.decode(out)), JSON.stringify(Array.from(out)));
  }
});

// Regression test. Before the fix: search("c", 1.5) reports "absent" although "c" is at position 2.
Deno.test("review: search with a fractional start finds the needle or throws", () => {
  const b = new Evbuffer();
  b.add("abcdef");
  let pos: number | null = null;
  try {
    pos = b.search("c", 1.5);
  } catch (e) {
    assert.ok(e instanceof RangeError, String(e));
  }
  if (pos !== null) assert.equal(pos, 2);
});

Deno.test("review: NaN/negative counts throw RangeError and leave the buffer intact (ok)", () => {
  const b = new Evbuffer();
  b.add("abcdef");
  assert.throws(() => b.drain(NaN), RangeError);
  assert.throws(() => b.drain(-1), RangeError);
  assert.throws(() => b.remove(NaN), RangeError);
  assert.throws(() => b.copyout(-1), RangeError);
  assert.throws(() => b.copyoutFrom(7, 1), RangeError);
  assert.throws(() => b.removeBuffer(new Evbuffer(), -1), RangeError);
  assert.throws(() => b.reserveSpace(NaN), RangeError);
  assert.throws(() => b.search("a", -1), RangeError);
  assert.throws(() => b.peek(1, -1), RangeError);
  assert.throws(() => b.readln(99), RangeError);
  assert.equal(text(b), "abcdef");
  b.drain(Infinity); // huge counts clamp, as size_t does in libevent
  assert.equal(b.length, 0);
  assert.equal(b.pullup(), null);
  assert.equal(b.pullup(0), null);
  assert.equal(b.remove(100).length, 0);
});

// ---------------------------------------------------------------- addPrintf vs C printf

// Regression test. Before the fix: addPrintf's %f/%e use Number.prototype.toFixed/toExponential, which round exact binary
// ties half away from zero; C's printf (glibc, what libevent's evbuffer_add_printf calls through
// evutil_vsnprintf) rounds them to even: printf("%.0f", 2.5) is "2", printf("%.2f", 0.125) is
// "0.12". Values ≥ 1e21 come out in exponent notation under %f ("1e+21"). The docs promise
// "formatted like C's printf" (bufferevent/evbuffer.ts addPrintf; bufferevent/_printf.ts).
Deno.test("review: addPrintf rounds %f/%e ties like C and prints big %f values in full", () => {
  const cases: [string, unknown[], string][] = [
    ["%.0f", [2.5], "2"],
    ["%.0f", [0.5], "0"],
    ["%.2f", [0.125], "0.12"],
    ["%.1f", [0.25], "0.2"],
    ["%.0e", [2.5], "2e+00"],
    ["%f", [1e21], "1000000000000000000000.000000"],
  ];
  const bad: string[] = [];
  for (const [fmt, args, want] of cases) {
    const b = new Evbuffer();
    b.addPrintf(fmt, ...args);
    if (text(b) !== want) {
      bad.push(`${fmt} ${args}: got ${JSON.stringify(text(b))}, C gives ${JSON.stringify(want)}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("review: addPrintf agrees with C on common conversions (ok)", () => {
  const cases: [string, unknown[], string][] = [
    ["%5.2f|", [3.14159], " 3.14|"],
    ["%05d", [-42], "-0042"],
    ["%08.3f", [-3.5], "-003.500"],
    ["%g %g %g", [100000, 1000000, 1e10], "100000 1e+06 1e+10"],
    ["%#g", [1.0], "1.00000"],
    ["%G %E", [1e-10, 1.5], "1E-10 1.500000E+00"],
    ["%x", [-1], "ffffffff"],
    ["%.2e", [0], "0.00e+00"],
    ["%5.1f|", [-0.04], " -0.0|"],
    ["%.10g", [0.1], "0.1"],
    ["%g", [123456789], "1.23457e+08"],
  ];
  for (const [fmt, args, want] of cases) {
    const b = new Evbuffer();
    const n = b.addPrintf(fmt, ...args);
    assert.equal(text(b), want, fmt);
    assert.equal(n, b.length);
  }
});

// ---------------------------------------------------------------- callbacks

// Not asserted as a bug (the code documents "this one first"), but it differs from libevent:
// buffer.c evbuffer_add_buffer() and evbuffer_prepend_buffer() invoke the SOURCE's callbacks
// first (`evbuffer_invoke_callbacks_(inbuf); evbuffer_invoke_callbacks_(outbuf);`), while
// evbuffer_remove_buffer() runs dst then src. evdeno runs the destination first for all three.
Deno.test("review: callback order of moves (documents the current order)", () => {
  const src = new Evbuffer();
  const dst = new Evbuffer();
  const order: string[] = [];
  src.addCb(() => order.push("src"));
  dst.addCb(() => order.push("dst"));
  const run = (op: () => void) => {
    order.length = 0;
    op();
    return order.join(",");
  };
  src.add("x".repeat(1000));
  // libevent: "src,dst" for addBuffer and prependBuffer; "dst,src" for removeBuffer.
  assert.equal(run(() => dst.addBuffer(src)), "dst,src");
  src.add("y".repeat(1000));
  assert.equal(run(() => dst.prependBuffer(src)), "dst,src");
  // dst is the source here: destination (src) first, then the source, as libevent.
  assert.equal(run(() => dst.removeBuffer(src, 10)), "src,dst");
});

Deno.test("review: a callback that drains during addBuffer sees consistent sizes (ok)", () => {
  const src = new Evbuffer();
  const dst = new Evbuffer();
  src.add("hello world, a bit more than the small-move limit ".repeat(10));
  const n = src.length;
  const infos: EvbufferCbInfo[] = [];
  dst.addCb((b, info) => {
    infos.push(info);
    if (info.nAdded > 0) b.drain(5);
  });
  dst.addBuffer(src);
  assert.equal(dst.length, n - 5);
  assert.equal(src.length, 0);
  assert.deepEqual(infos, [
    { origSize: 0, nAdded: n, nDeleted: 0 },
    { origSize: n, nAdded: 0, nDeleted: 5 },
  ]);
  assertConsistent(dst, "dst");
});

Deno.test("review: removing every callback mid-round stops the round; free() inside a callback (ok)", () => {
  const b = new Evbuffer();
  let later = 0;
  b.addCb(() => later++);
  b.addCb((bb) => bb.free());
  b.add("abc");
  assert.equal(later, 0);
  assert.equal(b.length, 0);
  b.add("z");
  assert.equal(later, 0);
  assert.equal(text(b), "z");
});

// ---------------------------------------------------------------- EOL edges

Deno.test("review: EOL edges: CRLF split across reference chunks, strict lone CR, LF at start (ok)", () => {
  const b = new Evbuffer();
  b.add("a\r");
  b.addReference(latin1("\nb"));
  assert.equal(b.readln(EVBUFFER_EOL_CRLF), "a");
  assert.equal(text(b), "b");
  const s = new Evbuffer();
  s.add("x\r");
  assert.equal(s.readln(EVBUFFER_EOL_CRLF_STRICT), null);
  s.add("\r\n");
  assert.equal(s.readln(EVBUFFER_EOL_CRLF_STRICT), "x\r");
  const c = new Evbuffer();
  c.add("ab\r\ncd");
  // Starting the search at the LF must not back up over the CR before it (libevent).
  assert.deepEqual(c.searchEol(3, EVBUFFER_EOL_CRLF), { pos: 3, eolLen: 1 });
  assert.deepEqual(c.searchEol(6, EVBUFFER_EOL_LF), { pos: -1, eolLen: 0 });
});

// ---------------------------------------------------------------- reservations, prepend, pullup

Deno.test("review: pullup of everything keeps a live reservation committable (ok)", () => {
  const b = new Evbuffer();
  b.add("abc");
  b.addReference(latin1("def"));
  b.add("ghi");
  const v = b.reserveSpace(4);
  assert.equal(dec.decode(b.pullup()!), "abcdefghi");
  v.set(latin1("JK"));
  b.commitSpace(2);
  assert.equal(text(b), "abcdefghiJK");
  b.prepend("__");
  assert.equal(text(b), "__abcdefghiJK");
  assertConsistent(b, "after prepend");
});

Deno.test("review: addFile edges: short file, offset, moved then drained closes (ok)", () => {
  const path = Deno.makeTempFileSync();
  try {
    Deno.writeTextFileSync(path, "0123456789abcdefghij");
    const f1 = Deno.openSync(path);
    const b = new Evbuffer();
    const infos: EvbufferCbInfo[] = [];
    b.addFile(f1, 15, 100); // promises 100, the file has 5 from there
    b.addCb((_b, i) => infos.push(i));
    assert.equal(text(b), "fghij");
    assert.deepEqual(infos, [{ origSize: 100, nAdded: 0, nDeleted: 95 }]);
    b.free();
    const f2 = Deno.openSync(path);
    const src = new Evbuffer();
    src.addFile(f2, 0, -1);
    src.drain(3);
    const dst = new Evbuffer();
    assert.equal(src.removeBuffer(dst, 4), 4);
    assert.equal(text(dst), "3456");
    dst.addBuffer(src);
    assert.equal(text(dst), "3456789abcdefghij");
    dst.drain(dst.length);
    assert.throws(() => f2.readSync(new Uint8Array(1))); // closed by the buffer
  } finally {
    Deno.removeSync(path);
  }
});
