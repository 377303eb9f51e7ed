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
 * is missing (another runtime or version) `DirectIo.for` returns null and callers use
 * `Deno.Conn`.
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
 * One connection's I/O through the runtime's ops: its resource id, its pending read (which it
 * refs and unrefs itself: the `Deno.Conn` does not know about it), and its writes. The base
 * tracks it like a connection (`ref`/`unref` while the loop starts and stops).
 */
export class DirectIo {
  readonly #io: FastIo;
  readonly #rid: number;
  #readOp: Promise<number> | null = null;
  #unrefed = false;

  private constructor(io: FastIo, rid: number) {
    this.#io = io;
    this.#rid = rid;
  }

  /** Direct I/O for `conn`, or null when the ops are unavailable (or switched off). */
  static for(conn: unknown): DirectIo | null {
    const f = active;
    if (f === null) return null;
    const rid = (conn as Record<symbol, unknown>)[f.internalRidSymbol];
    return typeof rid === "number" ? new DirectIo(f, rid) : null;
  }

  /** Starts a read into `buf`: resolves with the byte count, 0 at the end of the stream. */
  read(buf: Uint8Array): Promise<number> {
    const io = this.#io;
    const op = io.read(this.#rid, buf);
    if (this.#unrefed) io.unrefOpPromise(op);
    this.#readOp = op;
    return op;
  }

  /** The read started last has completed (or failed). */
  readDone(): void {
    this.#readOp = null;
  }

  /** Writes (part of) `buf`; resolves with the byte count written. */
  write(buf: Uint8Array): Promise<number> {
    return this.#io.write(this.#rid, buf);
  }

  /** Lets a pending read keep the process alive (the loop runs). */
  ref(): void {
    this.#unrefed = false;
    if (this.#readOp !== null) this.#io.refOpPromise(this.#readOp);
  }

  /** Stops a pending read from keeping the process alive (the loop stopped). */
  unref(): void {
    this.#unrefed = true;
    if (this.#readOp !== null) this.#io.unrefOpPromise(this.#readOp);
  }
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
