// The WebSocket frame writer (evhttp/_ws_frame.ts): large frames laid out in a connection's
// arena of pooled blocks round-trip byte for byte, masked and unmasked, at every length class;
// consecutive frames share one chunk; a block goes back to the pool once its frames are drained
// and the arena lets go, and never while a frame in it is still waiting.
import assert from "node:assert/strict";
import { Evbuffer } from "../bufferevent/mod.ts";
import { defaultPool } from "../bufferevent/_pool.ts";
import { FrameArena, OP_BINARY, readFrame, writeFrame } from "../evhttp/_ws_frame.ts";

const pattern = (n: number, seed: number) =>
  new Uint8Array(n).map((_, i) => (i * 13 + seed * 7) & 0xff);

Deno.test("ws frames: arena frames round-trip, masked and unmasked, small to over a block", () => {
  const sizes = [0, 125, 126, 4095, 4096, 4097, 16384, 65521, 65535, 65536, 70_000];
  for (const masked of [false, true]) {
    const arena = new FrameArena();
    const out = new Evbuffer();
    sizes.forEach((n, i) => writeFrame(out, OP_BINARY, pattern(n, i), masked, true, arena));
    // Read back as the peer would: a server reads masked (client) frames and the other way round.
    sizes.forEach((n, i) => {
      const f = readFrame(out, masked, 1 << 20);
      assert.ok(f !== null, `frame ${i}`);
      assert.equal(f.opcode, OP_BINARY);
      assert.deepEqual(f.payload, pattern(n, i), `${masked ? "masked" : "unmasked"} ${n} bytes`);
    });
    assert.equal(out.length, 0);
    arena.release();
  }
});

Deno.test("ws frames: consecutive arena frames merge into one chunk; the block recycles only when drained and released", () => {
  const arena = new FrameArena();
  const out = new Evbuffer();
  writeFrame(out, OP_BINARY, pattern(8000, 1), false, true, arena);
  const block = arena.block!;
  writeFrame(out, OP_BINARY, pattern(8000, 2), false, true, arena);
  assert.equal(arena.block, block, "both frames in one block");
  assert.equal(out.peek().length, 1, "adjacent frames form one chunk");
  assert.equal(block.refs, 2, "the arena's hold and the chunk's");
  // Draining the frames drops the chunk's reference; the arena still fills the block.
  out.drain(out.length);
  assert.equal(block.refs, 1);
  const before = defaultPool.freeCount;
  arena.release();
  assert.equal(block.refs, 0);
  assert.equal(defaultPool.freeCount, before + 1, "the block is back in the pool");
  // A frame still waiting keeps its block out of the pool after the arena lets go.
  writeFrame(out, OP_BINARY, pattern(5000, 3), false, true, arena);
  const held = arena.block!;
  arena.release();
  assert.equal(held.refs, 1);
  const f = readFrame(out, false, 1 << 20)!;
  assert.deepEqual(f.payload, pattern(5000, 3));
  assert.equal(held.refs, 0);
});

Deno.test("ws frames: a full block moves the arena on; frames too large for a block get their own array", () => {
  const arena = new FrameArena();
  const out = new Evbuffer();
  writeFrame(out, OP_BINARY, pattern(40_000, 1), false, true, arena);
  const first = arena.block!;
  writeFrame(out, OP_BINARY, pattern(40_000, 2), false, true, arena);
  assert.notEqual(arena.block, first, "the second frame did not fit");
  assert.equal(first.refs, 1, "only the waiting frame holds the first block now");
  const second = arena.block!;
  writeFrame(out, OP_BINARY, pattern(100_000, 3), false, true, arena);
  assert.equal(arena.block, second, "an oversized frame leaves the arena alone");
  for (const [n, seed] of [[40_000, 1], [40_000, 2], [100_000, 3]]) {
    assert.deepEqual(readFrame(out, false, 1 << 20)!.payload, pattern(n!, seed!));
  }
  assert.equal(first.refs, 0);
  arena.release();
  assert.equal(second.refs, 0);
});
