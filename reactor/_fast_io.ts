/**
 * Deno's read and write ops called on a connection's resource id, when the runtime has them.
 *
 * `Deno.Conn.read` is an async function around the runtime's `read` op that also adds its
 * pending promise to a Set (so `unref()` can find it) and removes it again; `write` is an async
 * function around the `write` op. Per HTTP request and response that bookkeeping cost about
 * 0.5 µs of CPU here (a raw fixed-response loop at `wrk -c50`: 4.8–5.1 µs per request through
 * `Deno.Conn`, 4.3–4.6 µs through the same ops called directly), a tenth of the whole.
 *
 * The ops are not public API, so every piece is checked once when this module loads; where one
 * is missing (another runtime or version) `fastIo` is null and callers use `Deno.Conn`. A caller
 * of the direct read keeps its own pending promise and refs or unrefs it the way `Conn.unref()`
 * would have (the Conn does not know about it).
 *
 * @module
 */

/** The runtime's ops used here. */
export interface FastIo {
  /** Reads into `buf`; resolves with the byte count, 0 at end of stream. */
  read(rid: number, buf: Uint8Array): Promise<number>;
  /** Writes (part of) `buf`; resolves with the byte count written. */
  write(rid: number, buf: Uint8Array): Promise<number>;
  /** Lets a pending op keep the process alive again. */
  refOpPromise(p: Promise<unknown>): void;
  /** Stops a pending op from keeping the process alive. */
  unrefOpPromise(p: Promise<unknown>): void;
  /** The key under which a `Deno.Conn` keeps its resource id. */
  internalRidSymbol: symbol;
}

function detect(): FastIo | null {
  try {
    const d = Deno as unknown as { internal?: unknown } & Record<symbol, unknown>;
    const key = d.internal;
    if (typeof key !== "symbol") return null;
    const core = (d[key] as { core?: Partial<FastIo> } | undefined)?.core;
    if (
      core === undefined || typeof core.read !== "function" ||
      typeof core.write !== "function" || typeof core.refOpPromise !== "function" ||
      typeof core.unrefOpPromise !== "function" || typeof core.internalRidSymbol !== "symbol"
    ) return null;
    return core as FastIo;
  } catch {
    return null;
  }
}

const detected = detect();
let active: FastIo | null = detected;

/**
 * The ops for `conn` and its resource id, or null when they are unavailable (or switched off):
 * use `conn.read`/`conn.write` then.
 */
export function fastIoFor(conn: unknown): FastIo | null {
  const f = active;
  if (f === null) return null;
  const rid = (conn as Record<symbol, unknown>)[f.internalRidSymbol];
  return typeof rid === "number" ? f : null;
}

/** The resource id of a connection `fastIoFor` accepted. */
export function ridOf(conn: unknown, f: FastIo): number {
  return (conn as Record<symbol, unknown>)[f.internalRidSymbol] as number;
}

/**
 * Switches the direct ops off (or back on, where available) for connections set up afterwards,
 * so tests can run the `Deno.Conn` path too. Returns whether they are now in use.
 *
 * @ignore
 */
export function setFastIo(on: boolean): boolean {
  active = on ? detected : null;
  return active !== null;
}
