// Shared test helpers: loopback listeners, byte utilities and socket bufferevents.
import { BEV_OPT_CLOSE_ON_FREE, Bufferevent } from "../bufferevent/mod.ts";
import { EV_READ, EventBase } from "../reactor/mod.ts";

/** A loopback TCP listener on an ephemeral port. */
export function listenLoopback(): { listener: Deno.Listener; port: number } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return { listener, port: (listener.addr as Deno.NetAddr).port };
}

/** A connected loopback pair: [client, server side, listener] (close all three). */
export async function connectedPair(): Promise<[Deno.Conn, Deno.Conn, Deno.Listener]> {
  const { listener, port } = listenLoopback();
  const [c, s] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port }),
    listener.accept(),
  ]);
  return [c, s, listener];
}

/** Deterministic pseudo-random bytes. */
export function patternBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Reads exactly `n` bytes (or until EOF) from a connection. */
export async function readN(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) break;
    got += r;
  }
  return out.subarray(0, got);
}

/** Reads until EOF. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(65536);
  for (;;) {
    const r = await conn.read(buf);
    if (r === null) break;
    parts.push(buf.slice(0, r));
    total += r;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Writes all of `data`. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Seeded PRNG (mulberry32) so fuzz failures reproduce. */
export function prng(seed: number): () => number {
  // FUZZ_SEED=n explores other streams than the committed ones (the failing seed is then n).
  const extra = Number(Deno.env.get("FUZZ_SEED") ?? "0");
  if (Number.isInteger(extra)) seed ^= extra;
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Latin-1 encoding (one byte per char code), so tests can write arbitrary bytes as \xNN. */
export function latin1(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** Resolves with `p`, or rejects after `ms` (the timer is always cleared). */
export async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, rej) => {
    id = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(id);
  }
}

/** A socket bufferevent on one end of a loopback connection; `peer` is the other end. */
export interface SocketBev {
  bev: Bufferevent;
  peer: Deno.Conn;
  close(): void;
}

/** Opens a loopback connection with a socket bufferevent (CLOSE_ON_FREE) on one end. */
export async function socketBev(base: EventBase): Promise<SocketBev> {
  const [peer, server, listener] = await connectedPair();
  const bev = Bufferevent.socketNew(base, server, BEV_OPT_CLOSE_ON_FREE);
  return {
    bev,
    peer,
    close() {
      bev.free();
      peer.close();
      listener.close();
    },
  };
}

/** Runs `fn` with a new base and a socket bufferevent, closing both afterwards. */
export async function withSocketBev(
  fn: (base: EventBase, s: SocketBev) => Promise<void> | void,
): Promise<void> {
  const base = new EventBase();
  const s = await socketBev(base);
  try {
    await fn(base, s);
  } finally {
    s.close();
    base.free();
  }
}

/** The parts, joined into one array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Posts a read on `s` (reading on, one pass), runs `change` while that read is in flight, then
 * has the peer send 3000 bytes and runs the loop until the read callback saw some; returns how
 * many it saw.
 */
export async function readAcrossChange(
  base: EventBase,
  s: SocketBev,
  change: () => void,
  ms: number,
): Promise<number> {
  let got = 0;
  s.bev.setcb(
    (bev) => {
      got += bev.getInput().length;
      bev.getInput().drain(bev.getInput().length);
      base.loopbreak();
    },
    null,
    null,
  );
  s.bev.enable(EV_READ);
  await base.loop(1 | 2 /* ONCE | NONBLOCK */);
  change();
  await writeAll(s.peer, new Uint8Array(3000));
  await bounded(base.dispatch(), ms, "dispatch");
  return got;
}
