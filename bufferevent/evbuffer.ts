/**
 * `Evbuffer`: libevent's chain buffer. Bytes live in a chain of chunks (owned arrays, zero-copy
 * references, pooled socket-read blocks, lazy file segments); moving data between buffers relinks
 * chunks instead of copying bytes.
 *
 * @module
 */

import { EvError } from "../reactor/errors.ts";
import type { PooledBlock } from "./_pool.ts";
import { formatPrintf } from "./_printf.ts";
import {
  EVBUFFER_CB_ENABLED,
  EVBUFFER_EOL_ANY,
  EVBUFFER_EOL_CRLF,
  EVBUFFER_EOL_CRLF_STRICT,
  EVBUFFER_EOL_LF,
  EVBUFFER_EOL_NUL,
} from "./constants.ts";

// Chunk flags. A chunk with flags === 0 is a plain array this buffer owns: only such a chunk may
// receive appended bytes in its tail space.
const F_READONLY = 1;
const F_REFERENCE = 2;
const F_POOLED = 4;
const F_FILE = 8;

/** First automatic chunk size (libevent's MIN_BUFFER_SIZE). */
const MIN_CHUNK = 1024;
/**
 * Largest automatic chunk size. libevent stops doubling at 4 KiB. Here a 16 KiB typed array costs
 * about 2.8 µs to allocate against 1.4 µs for 1 KiB, so bigger chunks halve the allocation cost
 * per byte, and an output built from small adds is handed to the writer as 16 KiB views with no
 * coalescing copy. On "1 MiB of 64 B adds, then written out" 4 KiB and 16 KiB measured the same
 * within noise (1.3–2.5 ms on a shared machine); memory stays bounded because a drained chunk
 * above MAX_KEEP is dropped and the doubling restarts at 1 KiB.
 */
const MAX_AUTO = 16384;
/**
 * A fully drained plain tail chunk up to this size is kept for the next add (an add/drain cycle
 * then allocates nothing). Bigger ones are dropped so idle connections do not pin memory.
 */
const MAX_KEEP = 4096;
/** File segments are read in pieces of this size. */
const FILE_PIECE = 65536;
/** `addBuffer` copies instead of relinking when the source holds at most this many bytes. */
const SMALL_MOVE = 256;
/** `removeBuffer` copies a partial chunk of at most this many bytes instead of splitting it. */
const SPLIT_MIN = 4096;
/** Byte scans check this many bytes with a plain loop before calling the native `indexOf`. */
const LINEAR_SCAN = 96;
/** `_peekWrite` returns the first chunk as is when it holds at least this many bytes. */
const WRITE_MIN_DIRECT = 4096;

const LF = 10;
const CR = 13;

const EMPTY = new Uint8Array(0);

/**
 * A byte count or position: a non-negative integer (or Infinity, "all"). Fractions would leave
 * lengths and offsets fractional (libevent's counts are `size_t`).
 */
function isCount(n: number): boolean {
  return n >= 0 && Math.floor(n) === n;
}
const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the text: lines are returned byte for byte.
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const NO_ERR: unique symbol = Symbol("no error");

/** A file range not read yet: chunk byte `i` (in `[off, end)`) is at file position `base + i`. */
class FileSeg {
  constructor(readonly file: Deno.FsFile, readonly base: number) {}
}

/** One link of the chain: the live bytes are `buf[off, end)`. */
class Chunk {
  buf: Uint8Array;
  off: number;
  end: number;
  flags: number;
  cleanup: (() => void) | undefined = undefined;
  block: PooledBlock | undefined = undefined;
  file: FileSeg | undefined = undefined;
  constructor(buf: Uint8Array, off: number, end: number, flags: number) {
    this.buf = buf;
    this.off = off;
    this.end = end;
    this.flags = flags;
  }
}

/** Whether `b` continues `a`: views of one pooled block, `b` starting where `a` ends. */
function adjacentViews(a: Chunk, b: Chunk): boolean {
  return a.block !== undefined && a.block === b.block && a.buf === b.buf && a.end === b.off &&
    a.cleanup === undefined && b.cleanup === undefined;
}

/**
 * Empties a chain array in place. Short chains (the common case: a connection's buffer holds a
 * chunk or two) are popped: `length = 0` costs V8 ~10× more, trimming the array's storage.
 */
function clearChain(c: Chunk[]): void {
  if (c.length > 8) c.length = 0;
  else while (c.length > 0) c.pop();
}

/** Placeholder for drained slots of the chain array, so dropped chunks can be collected. */
const DEAD = new Chunk(EMPTY, 0, 0, F_READONLY);

/** First index of byte `b` in `buf[from, to)`, or -1. */
function indexOfByte(buf: Uint8Array, b: number, from: number, to: number): number {
  // Most lines and tokens are short: a plain loop over the first bytes avoids the call into the
  // native indexOf, which only pays off over longer stretches.
  const lin = to - from <= LINEAR_SCAN ? to : from + LINEAR_SCAN;
  let k = from;
  for (; k < lin; k++) if (buf[k] === b) return k;
  if (k === to) return -1;
  if (to === buf.length) return buf.indexOf(b, k);
  // A bound is needed: bytes past `to` are stale (tail space, other reads of a pooled block).
  const r = buf.subarray(k, to).indexOf(b);
  return r < 0 ? -1 : r + k;
}

/** What changed since the previous callback invocation. */
export interface EvbufferCbInfo {
  /** Length of the buffer before the changes. */
  readonly origSize: number;
  /** Bytes added since the previous invocation. */
  readonly nAdded: number;
  /** Bytes removed since the previous invocation. */
  readonly nDeleted: number;
}

/** A change callback: `(buffer, info, arg)`, as libevent's `evbuffer_cb_func`. */
export type EvbufferCb = (buf: Evbuffer, info: EvbufferCbInfo, arg?: unknown) => void;

/**
 * Handle of a registered change callback, returned by {@linkcode Evbuffer.addCb}.
 *
 * @example
 * ```ts
 * import { Evbuffer } from "@evdeno/evdeno/bufferevent";
 * const buf = new Evbuffer();
 * const entry = buf.addCb((b, info) => console.log(info.origSize, "->", b.length));
 * buf.add("hi");        // logs 0 -> 2
 * buf.removeCb(entry);
 * ```
 */
export class EvbufferCbEntry {
  /** The callback. */
  readonly cb: EvbufferCb;
  /** The user argument passed as the callback's last parameter. */
  readonly arg: unknown;
  /** `EVBUFFER_CB_ENABLED` when the callback runs; a disabled callback misses changes. */
  flags: number = EVBUFFER_CB_ENABLED;
  /** The buffer it is registered with, null once removed. @ignore */
  _owner: Evbuffer | null;

  /** Created by {@linkcode Evbuffer.addCb}. @ignore */
  constructor(owner: Evbuffer, cb: EvbufferCb, arg: unknown) {
    this._owner = owner;
    this.cb = cb;
    this.arg = arg;
  }
}

/**
 * Thrown when an operation touches the frozen front or end of an {@linkcode Evbuffer} (where
 * libevent returns -1).
 *
 * @example
 * ```ts
 * import { Evbuffer, EvbufferFrozenError } from "@evdeno/evdeno/bufferevent";
 * const buf = new Evbuffer();
 * buf.freeze(false);
 * try {
 *   buf.add("x");
 * } catch (e) {
 *   console.log(e instanceof EvbufferFrozenError); // true
 * }
 * ```
 */
export class EvbufferFrozenError extends EvError {
  /** True when the front was frozen, false for the end. */
  readonly atFront: boolean;
  /** Creates the error for operation `op`. */
  constructor(op: string, atFront: boolean) {
    super(`Evbuffer.${op}: the ${atFront ? "front" : "end"} of the buffer is frozen`);
    this.atFront = atFront;
  }
}

/**
 * libevent's `evbuffer`: a byte queue made of a chain of chunks. Adding appends to the tail
 * chunk's free space or links a new chunk; draining drops or advances chunks at the front;
 * moving between buffers (`addBuffer`, `prependBuffer`, `removeBuffer`) relinks chunks.
 *
 * Rules worth knowing:
 * - Views returned by {@linkcode pullup}, {@linkcode peek} and {@linkcode reserveSpace} point into
 *   the buffer and are valid until the buffer is next modified, as in C. Bytes still in the
 *   buffer are never moved or overwritten in place, so a view stays correct as long as its bytes
 *   are not drained.
 * - Front-frozen: `drain`, `remove`, `removeBuffer` (as source), `readln`, `prepend`,
 *   `prependBuffer`, `copyout`, `copyoutFrom` and `addBuffer` (as source) throw
 *   {@linkcode EvbufferFrozenError}. End-frozen: `add`, `addPrintf`, `addReference`, `addBuffer`
 *   (as destination), `removeBuffer` (as destination), `addFile`, `reserveSpace`, `expand` and
 *   `commitSpace` throw.
 * - Change callbacks run synchronously after each change, most recently added first.
 * - Lines and `toString()` decode UTF-8 non-fatally (invalid bytes become U+FFFD).
 *
 * @example
 * ```ts
 * import { Evbuffer, EVBUFFER_EOL_CRLF } from "@evdeno/evdeno/bufferevent";
 * const buf = new Evbuffer();
 * buf.add("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
 * buf.addPrintf("%s=%d\n", "answer", 42);
 * console.log(buf.readln(EVBUFFER_EOL_CRLF)); // "GET / HTTP/1.1"
 * console.log(buf.search("answer"));          // position of "answer"
 * const out = new Evbuffer();
 * out.addBuffer(buf);                           // moves every chunk, no copy
 * console.log(buf.length, out.length);
 * ```
 */
export class Evbuffer {
  private _c: Chunk[] = [];
  private _h = 0;
  private _len = 0;
  private _nextSize = MIN_CHUNK;
  private _nFiles = 0;
  private _frozenFront = false;
  private _frozenEnd = false;
  private _cbs: EvbufferCbEntry[] = [];
  private _ncb = 0;
  /** The owning bufferevent's "bytes were added" hook (not a user callback). */
  private _hook: (() => void) | null = null;
  private _nAdd = 0;
  private _nDel = 0;
  private _resChunk: Chunk | null = null;
  private _resEnd = 0;
  private _resView: Uint8Array = EMPTY;
  private _err: unknown = NO_ERR;
  // Scan cursor (chunk index, index into its buf, absolute position); reused to avoid allocation.
  private _ci = 0;
  private _co = 0;
  private _cpos = 0;
  private _eolLen = 0;
  /**
   * How many bytes from the front a failed `readln` scanned without finding an end of line of
   * style `_eolSeenStyle`: the next one resumes there, so a long line arriving read by read is
   * scanned once (libevent rescans it from the start on every call: quadratic). Reset whenever
   * the front changes.
   */
  private _eolSeen = 0;
  private _eolSeenStyle = -1;
  /** Live range of the array `_front` returned. @ignore */
  _frontOff = 0;
  /**
   * Set once a file segment came up short (the file shrank or a read failed): a writer that
   * promised those bytes (a Content-Length) can no longer keep its framing. @ignore
   */
  _fileShort = false;
  /** @ignore */
  _frontEnd = 0;
  /** Where `_tailReserve`'s caller starts writing. @ignore */
  _tailAt = 0;
  /** A drained pooled-read chunk object, reused by `_addShared`. */
  private _spare: Chunk | null = null;
  /** The last view `_peekWrite` returned and the range it covers. */
  private _wv: Uint8Array = EMPTY;
  private _wvBuf: Uint8Array = EMPTY;
  private _wvOff = 0;

  /** Total number of bytes in the buffer (`evbuffer_get_length`). */
  get length(): number {
    return this._len;
  }

  // ---------------------------------------------------------------- adding

  /**
   * Appends a copy of `data` (strings are UTF-8 encoded straight into the tail chunk).
   * Throws {@linkcode EvbufferFrozenError} if the end is frozen, even for empty data (libevent).
   */
  add(data: Uint8Array | string): void {
    if (this._frozenEnd) throw new EvbufferFrozenError("add", false);
    const before = this._len;
    if (typeof data === "string") this._appendString(data);
    else this._appendBytes(data);
    if (this._ncb !== 0) this._fireAdd(this._len - before);
  }

  /**
   * Appends `data` without copying: the array becomes an immutable chunk (never written to by the
   * buffer). `cleanup` runs once, when the last of these bytes has been drained (here or in a
   * buffer they were moved to) or the buffer holding them is freed; for empty `data`, at once.
   */
  addReference(data: Uint8Array, cleanup?: () => void): void {
    if (this._frozenEnd) throw new EvbufferFrozenError("addReference", false);
    const n = data.length;
    if (n === 0) {
      cleanup?.();
      return;
    }
    this._trimEmptyTail();
    const ch = new Chunk(data, 0, n, F_READONLY | F_REFERENCE);
    ch.cleanup = cleanup;
    this._c.push(ch);
    this._len += n;
    if (this._ncb !== 0) this._fireAdd(n);
  }

  /**
   * Moves all of `src` to the end of this buffer; `src` is empty afterwards. Chunks are relinked,
   * not copied (a source of at most 256 bytes without references is copied instead, which is
   * cheaper than linking a small chunk). No-op if `src` is this buffer or empty. Both buffers'
   * callbacks run (this one first).
   */
  addBuffer(src: Evbuffer): void {
    if (this._frozenEnd) throw new EvbufferFrozenError("addBuffer", false);
    if (src._frozenFront) throw new EvbufferFrozenError("addBuffer", true);
    this._moveAllFrom(src);
  }

  /**
   * Appends text formatted like C's `printf` and returns the number of bytes added. Supports
   * `%s %d %i %u %x %X %o %c %f %e %g %%`, flags `- 0 + space #`, width and precision (numbers
   * or `*`); C length modifiers (`%lu`, `%zu`, …) are accepted.
   */
  addPrintf(fmt: string, ...args: unknown[]): number {
    if (this._frozenEnd) throw new EvbufferFrozenError("addPrintf", false);
    const before = this._len;
    this._appendString(formatPrintf(fmt, args));
    const n = this._len - before;
    if (this._ncb !== 0) this._fireAdd(n);
    return n;
  }

  /**
   * Appends `length` bytes of `file` starting at `offset` (`length` < 0: to the end of the
   * file). The buffer takes ownership of `file` and closes it once the segment is drained, when
   * the buffer is freed, or at once if this call fails. The bytes count in `length` immediately
   * but are read (synchronously, in pieces of up to 64 KiB) only when something needs them: a
   * copy, pullup, search or the bufferevent writer; draining unread bytes skips them without
   * reading. If the file turns out shorter than promised (or a read fails), the missing bytes
   * are treated as gone: the length shrinks and change callbacks report them as deleted. In a
   * socket bufferevent's output that breaks the stream (a promised Content-Length, say): the
   * write fails with `BEV_EVENT_WRITING | BEV_EVENT_ERROR` and nothing after the file is sent.
   */
  addFile(file: Deno.FsFile, offset: number, length: number): void {
    if (this._frozenEnd) {
      closeQuietly(file);
      throw new EvbufferFrozenError("addFile", false);
    }
    if (!(offset >= 0) || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) {
      closeQuietly(file);
      throw new RangeError(`Evbuffer.addFile: invalid range ${offset}+${length}`);
    }
    if (length < 0) {
      try {
        length = Math.max(0, file.statSync().size - offset);
      } catch (e) {
        closeQuietly(file);
        throw new EvError("Evbuffer.addFile: cannot stat the file", { cause: e });
      }
    }
    if (length === 0) {
      closeQuietly(file);
      return;
    }
    this._trimEmptyTail();
    const ch = new Chunk(EMPTY, 0, length, F_READONLY | F_FILE);
    ch.file = new FileSeg(file, offset);
    this._c.push(ch);
    this._nFiles++;
    this._len += length;
    if (this._ncb !== 0) this._fireAdd(length);
  }

  /**
   * Inserts a copy of `data` at the front, into the first chunk's free space before its data
   * when that chunk is plain and has room, else into a new chunk. Never writes into reference,
   * pooled or file chunks.
   */
  prepend(data: Uint8Array | string): void {
    if (this._frozenFront) throw new EvbufferFrozenError("prepend", true);
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const n = bytes.length;
    if (n === 0) return;
    this._eolSeen = 0; // the front changes (readln's resume point with it)
    const c = this._c;
    if (this._h === c.length) {
      this._appendBytes(bytes);
    } else {
      const first = c[this._h];
      if (first.flags === 0 && first.off >= n) {
        first.buf.set(bytes, first.off - n);
        first.off -= n;
      } else if (first.flags === 0 && first.off === first.end && first.buf.length >= n) {
        // An empty chunk: as the only one it keeps room for appends, else for prepends.
        const at = this._h === c.length - 1 ? 0 : first.buf.length - n;
        first.buf.set(bytes, at);
        first.off = at;
        first.end = at + n;
      } else {
        // Data goes at the end of the new chunk, leaving room for further prepends.
        const size = Math.max(n, 256);
        const ch = new Chunk(new Uint8Array(size), size - n, size, 0);
        ch.buf.set(bytes, size - n);
        this._unshift(ch);
      }
      this._len += n;
    }
    if (this._ncb !== 0) this._fireAdd(n);
  }

  /**
   * Moves all of `src` to the front of this buffer (chunks relinked); `src` is empty afterwards.
   * Throws if either buffer's front is frozen.
   */
  prependBuffer(src: Evbuffer): void {
    if (this._frozenFront || src._frozenFront) {
      throw new EvbufferFrozenError("prependBuffer", true);
    }
    const n = src._len;
    if (src === this || n === 0) return;
    // Linked in front one by one (last first), into the room _unshift keeps: O(source chunks),
    // not a rebuild of this whole chain per call.
    const sc = src._c;
    for (let i = sc.length - 1; i >= src._h; i--) {
      const ch = sc[i];
      if (ch.end === ch.off) {
        if (ch.flags !== 0) src._release(ch);
      } else this._unshift(ch);
    }
    this._nFiles += src._nFiles;
    this._len += n;
    src._reset();
    if (this._ncb !== 0) this._fireAdd(n);
    if (src._ncb !== 0) src._fireDel(n);
    src._rethrow();
  }

  // ---------------------------------------------------------------- removing

  /** Discards the first `n` bytes (`n` ≥ length empties the buffer). */
  drain(n: number): void {
    if (this._frozenFront) throw new EvbufferFrozenError("drain", true);
    this._drainInternal(n);
  }

  /** Copies out the first `n` bytes (fewer if the buffer is shorter) and drains them. */
  remove(n: number): Uint8Array {
    if (this._frozenFront) throw new EvbufferFrozenError("remove", true);
    n = this._avail(0, n);
    if (n === 0) return new Uint8Array(0);
    const out = new Uint8Array(n);
    this._copyTo(out, 0, 0, n);
    this._cut(n);
    if (this._ncb !== 0) this._fireDel(n);
    this._rethrow();
    return out;
  }

  /**
   * Moves up to `n` bytes from the front of this buffer to the end of `dst` and returns how many
   * moved. Whole chunks are relinked; a chunk cut in the middle is copied when the part is small
   * (≤ 4 KiB) or carries a cleanup callback, otherwise split into two views of the same backing
   * store, both immutable from then on. `dst`'s callbacks run first, then this buffer's.
   */
  removeBuffer(dst: Evbuffer, n: number): number {
    if (this._frozenFront) throw new EvbufferFrozenError("removeBuffer", true);
    if (dst._frozenEnd) throw new EvbufferFrozenError("removeBuffer", false);
    return this._removeBufferInternal(dst, n);
  }

  /** Copies the first `n` bytes (fewer if the buffer is shorter) without draining them. */
  copyout(n: number): Uint8Array {
    return this.copyoutFrom(0, n);
  }

  /**
   * Copies `n` bytes starting at position `pos` (fewer if the buffer ends first) without
   * draining. `pos` may equal the length (empty result); beyond it is a RangeError.
   */
  copyoutFrom(pos: number, n: number): Uint8Array {
    if (this._frozenFront) throw new EvbufferFrozenError("copyout", true);
    if (!(isCount(pos) && pos <= this._len)) {
      throw new RangeError(`Evbuffer.copyoutFrom: position ${pos} outside 0..${this._len}`);
    }
    n = this._avail(pos, n);
    const out = new Uint8Array(n);
    if (n !== 0) this._copyTo(out, 0, pos, n);
    return out;
  }

  /**
   * Makes the first `n` bytes (`n` omitted or negative: all) contiguous and returns a view of
   * them: no copy when the first chunk already holds them, else they are linearized into one new
   * chunk. Returns null when `n` is 0, exceeds the length, or the buffer is empty (libevent).
   * The view is valid until the buffer is next modified.
   */
  pullup(n = -1): Uint8Array | null {
    if (n < 0) n = this._len;
    if (!(n > 0) || n > this._len) return null;
    if (this._nFiles !== 0) {
      this._need(n);
      if (n > this._len) return null;
    }
    const c = this._c;
    this._dropEmptyFront();
    let first = c[this._h];
    const have = first.end - first.off;
    if (have >= n) return first.buf.subarray(first.off, first.off + n);
    // A pulled-up chunk keeps room to grow (libevent's chains are powers of two): pulling up a
    // growing prefix again (a long head arriving read by read) copies only the new bytes, not
    // the whole prefix each time.
    if (first.flags !== 0 || first.buf.length - first.off < n || first === this._resChunk) {
      let cap = MIN_CHUNK;
      while (cap < n) cap *= 2;
      const buf = new Uint8Array(cap);
      this._copyTo(buf, 0, 0, have);
      first = new Chunk(buf, 0, have, 0);
    }
    this._copyTo(first.buf, first.end, have, n - have);
    this._cut(n);
    first.end += n - have;
    this._unshift(first);
    this._len += n;
    this._rethrow();
    return first.buf.subarray(first.off, first.off + n);
  }

  /**
   * Reads one line and drains it with its end-of-line marker; returns the line without the EOL,
   * decoded as UTF-8 (non-fatal: invalid bytes become U+FFFD), or null when no complete line is
   * buffered. `style` is an `EVBUFFER_EOL_*` constant; see {@linkcode searchEol} for the rules.
   */
  readln(style: number): string | null {
    if (this._frozenFront) throw new EvbufferFrozenError("readln", true);
    const pos = this._eolFront(style);
    if (pos < 0) return null;
    const line = pos === 0 ? "" : this._decodeFront(pos);
    const n = pos + this._eolLen;
    this._cut(n);
    if (this._ncb !== 0) this._fireDel(n);
    this._rethrow();
    return line;
  }

  /** Like {@linkcode readln} but returns the line's raw bytes (a copy), for binary protocols. */
  readlnBytes(style: number): Uint8Array | null {
    if (this._frozenFront) throw new EvbufferFrozenError("readln", true);
    const pos = this._eolFront(style);
    if (pos < 0) return null;
    const line = new Uint8Array(pos);
    if (pos !== 0) this._copyTo(line, 0, 0, pos);
    const n = pos + this._eolLen;
    this._cut(n);
    if (this._ncb !== 0) this._fireDel(n);
    this._rethrow();
    return line;
  }

  // ---------------------------------------------------------------- searching

  /**
   * Position of the first occurrence of `what` that starts at or after `start` and ends at or
   * before `end` (default: the whole buffer); -1 if there is none. Matches may straddle chunks.
   * An empty needle matches at `start`.
   */
  search(what: Uint8Array | string, start = 0, end: number = this._len): number {
    const needle = typeof what === "string" ? encoder.encode(what) : what;
    if (!isCount(start)) throw new RangeError(`Evbuffer.search: invalid start ${start}`);
    if (end > this._len) end = this._len;
    const nlen = needle.length;
    if (nlen === 0) return start <= end ? start : -1;
    if (start + nlen > end) return -1;
    if (this._nFiles !== 0) {
      this._need(end);
      if (end > this._len) end = this._len;
      if (start + nlen > end) return -1;
    }
    const limit = end - nlen + 1; // first start position that is too late
    const first = needle[0];
    this._seek(start);
    while (this._scanByte(first, limit)) {
      if (nlen === 1 || this._matchAtCursor(needle)) return this._cpos;
      this._step();
    }
    return -1;
  }

  /**
   * Finds the next end-of-line at or after `start`: `pos` is where it begins and `eolLen` its
   * length in bytes; `{ pos: -1, eolLen: 0 }` if there is none. Styles (libevent's):
   * `EVBUFFER_EOL_ANY` — the first CR or LF, plus the whole run of CR/LF bytes after it;
   * `EVBUFFER_EOL_CRLF` — an LF, together with a CR just before it; `EVBUFFER_EOL_CRLF_STRICT` —
   * only CR LF; `EVBUFFER_EOL_LF` — only LF; `EVBUFFER_EOL_NUL` — a NUL byte.
   */
  searchEol(start: number, style: number): { pos: number; eolLen: number } {
    const pos = this._eol(start, style);
    return { pos, eolLen: pos < 0 ? 0 : this._eolLen };
  }

  /**
   * Views of the chunks holding `n` bytes from position `start` (`n` omitted or negative: up to
   * the end), without copying. Views cover whole chunks, so together they may hold more than
   * `n` bytes; the first begins at `start`. Valid until the buffer is next modified.
   */
  peek(n = -1, start = 0): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (!isCount(start)) throw new RangeError(`Evbuffer.peek: invalid start ${start}`);
    if (start >= this._len || n === 0) return out;
    let want = n < 0 || start + n > this._len ? this._len - start : n;
    if (this._nFiles !== 0) {
      this._need(start + want);
      if (start >= this._len) return out;
      if (start + want > this._len) want = this._len - start;
    }
    this._seek(start);
    const c = this._c;
    let i = this._ci;
    let o = this._co;
    while (want > 0 && i < c.length) {
      const ch = c[i];
      if (o < ch.end) {
        out.push(ch.buf.subarray(o, ch.end));
        want -= ch.end - o;
      }
      if (++i < c.length) o = c[i].off;
    }
    return out;
  }

  // ---------------------------------------------------------------- space

  /**
   * Returns a writable view of at least `n` bytes of free space at the tail (linking a new chunk
   * if the tail chunk lacks room). Fill it, then {@linkcode commitSpace} the bytes written.
   * Calling again without committing returns the same space while it is big enough.
   */
  reserveSpace(n: number): Uint8Array {
    if (this._frozenEnd) throw new EvbufferFrozenError("reserveSpace", false);
    if (!isCount(n)) throw new RangeError(`Evbuffer.reserveSpace: invalid size ${n}`);
    const c = this._c;
    let last = this._h < c.length ? c[c.length - 1] : null;
    if (
      last !== null && last === this._resChunk && last.end === this._resEnd &&
      this._resView.length >= n
    ) {
      return this._resView;
    }
    if (last === null || last.flags !== 0 || last.buf.length - last.end < Math.max(n, 1)) {
      if (last !== null && last.flags === 0 && last.off === last.end) c.pop();
      last = this._alloc(n);
      c.push(last);
    }
    this._resChunk = last;
    this._resEnd = last.end;
    this._resView = last.buf.subarray(last.end);
    return this._resView;
  }

  /**
   * Commits the first `n` bytes of the space returned by the latest {@linkcode reserveSpace}.
   * A RangeError if `n` exceeds the reservation or the reservation was invalidated by another
   * append; `n` = 0 is always accepted.
   */
  commitSpace(n: number): void {
    if (this._frozenEnd) throw new EvbufferFrozenError("commitSpace", false);
    if (n === 0) return;
    const ch = this._resChunk;
    const c = this._c;
    if (
      ch === null || c[c.length - 1] !== ch || ch.end !== this._resEnd ||
      !(n > 0 && n <= this._resView.length && isCount(n))
    ) {
      throw new RangeError(`Evbuffer.commitSpace: ${n} bytes exceed the reserved space`);
    }
    ch.end += n;
    this._len += n;
    this._resChunk = null;
    this._resView = EMPTY;
    if (this._ncb !== 0) this._fireAdd(n);
  }

  /** Ensures at least `n` bytes can be appended without allocating (`evbuffer_expand`). */
  expand(n: number): void {
    if (this._frozenEnd) throw new EvbufferFrozenError("expand", false);
    if (!isCount(n)) throw new RangeError(`Evbuffer.expand: invalid size ${n}`);
    const c = this._c;
    const last = this._h < c.length ? c[c.length - 1] : null;
    if (last !== null && last.flags === 0 && last.buf.length - last.end >= n) return;
    if (last !== null && last.flags === 0 && last.off === last.end) c.pop();
    c.push(this._alloc(n));
  }

  /** Number of bytes in the first chunk, i.e. readable without copying (`evbuffer_get_contiguous_space`). */
  getContiguousSpace(): number {
    const c = this._c;
    for (let i = this._h; i < c.length; i++) {
      const ch = c[i];
      if (ch.end !== ch.off) return (ch.flags & F_FILE) !== 0 ? 0 : ch.end - ch.off;
    }
    return 0;
  }

  // ---------------------------------------------------------------- freezing

  /** Freezes the front (`atFront` true) or the end of the buffer; see the class notes. */
  freeze(atFront: boolean): void {
    if (atFront) this._frozenFront = true;
    else this._frozenEnd = true;
  }

  /** Undoes {@linkcode freeze} for the front or the end. */
  unfreeze(atFront: boolean): void {
    if (atFront) this._frozenFront = false;
    else this._frozenEnd = false;
  }

  // ---------------------------------------------------------------- callbacks

  /**
   * Registers `cb(buffer, info, arg)` to run synchronously after every change, with the sizes
   * changed since its previous run. The most recently added callback runs first. A callback may
   * modify the buffer (callbacks then run again, nested) or remove any entry.
   */
  addCb(cb: EvbufferCb, arg?: unknown): EvbufferCbEntry {
    const entry = new EvbufferCbEntry(this, cb, arg);
    this._cbs = [entry, ...this._cbs];
    this._ncb++;
    return entry;
  }

  /** Unregisters a callback; no-op if it is not registered with this buffer. */
  removeCb(entry: EvbufferCbEntry): void {
    if (entry._owner !== this) return;
    entry._owner = null;
    this._cbs = this._cbs.filter((e) => e !== entry);
    this._ncb--;
    if (this._cbs.length === 0) this._nAdd = this._nDel = 0;
  }

  /** Sets flags (`EVBUFFER_CB_ENABLED`) on a callback entry. */
  cbSetFlags(entry: EvbufferCbEntry, flags: number): void {
    entry.flags |= flags;
  }

  /** Clears flags on a callback entry; a disabled callback misses the changes made meanwhile. */
  cbClearFlags(entry: EvbufferCbEntry, flags: number): void {
    entry.flags &= ~flags;
  }

  // ---------------------------------------------------------------- misc

  /** The whole content decoded as UTF-8 (non-fatal), without draining. */
  toString(): string {
    const n = this._len;
    if (n === 0) return "";
    if (this._nFiles !== 0) {
      this._need(n);
      // A file that came up short may have left nothing.
      if (this._len === 0) return "";
    }
    return this._decodeFront(this._len);
  }

  /**
   * Empties the buffer and releases what it holds: pooled blocks return to their pool, reference
   * cleanups run, file segments are closed. Callbacks are unregistered and not invoked. The
   * buffer stays usable.
   */
  free(): void {
    const c = this._c;
    for (let i = this._h; i < c.length; i++) {
      const ch = c[i];
      if (ch.flags !== 0) this._release(ch);
    }
    this._reset();
    this._spare = null;
    this._wv = this._wvBuf = EMPTY;
    for (const e of this._cbs) e._owner = null;
    this._cbs = [];
    this._ncb = this._hook !== null ? 1 : 0;
    this._nAdd = this._nDel = 0;
    this._rethrow();
  }

  // ---------------------------------------------------------------- library-internal API

  /**
   * Appends `block.buf[start, end)` as an immutable zero-copy chunk that holds one reference on
   * `block` until drained; extends the last chunk instead when it views the same block and ends
   * at `start` (adjacent reads merge). Ignores the end-freeze flag; runs change callbacks.
   * @ignore
   */
  _addShared(block: PooledBlock, start: number, end: number): void {
    const n = end - start;
    if (!(n > 0)) return;
    const c = this._c;
    const last = this._h < c.length ? c[c.length - 1] : null;
    if (last !== null && last.block === block && last.end === start && last.buf === block.buf) {
      last.end = end;
    } else {
      this._trimEmptyTail();
      let ch = this._spare;
      if (ch !== null) {
        this._spare = null;
        ch.buf = block.buf;
        ch.off = start;
        ch.end = end;
        ch.flags = F_READONLY | F_POOLED;
      } else {
        ch = new Chunk(block.buf, start, end, F_READONLY | F_POOLED);
      }
      ch.block = block;
      block.retain();
      c.push(ch);
    }
    this._len += n;
    if (this._ncb !== 0) this._fireAdd(n);
  }

  /**
   * The bytes for one `conn.write()`: a view of the first chunk (at most `max` bytes, no copy)
   * when it holds at least min(`max`, 4096) bytes, is all there is, or is followed by a file
   * segment; otherwise successive chunks copied into `scratch` (up to min(`max`,
   * `scratch.length`) bytes) and `scratch.subarray(0, n)`. Reads the next piece of a file
   * segment at the front. Empty when the buffer is. The bytes stay in place until drained.
   * @ignore
   */
  _peekWrite(max: number, scratch: Uint8Array): Uint8Array {
    if (this._len === 0 || !(max > 0)) return EMPTY;
    this._dropEmptyFront();
    let c = this._c;
    let first = c[this._h];
    if ((first.flags & F_FILE) !== 0) {
      this._need(1);
      if (this._len === 0) return EMPTY;
      c = this._c;
      this._dropEmptyFront();
      first = c[this._h];
    }
    const flen = first.end - first.off;
    const cap = Math.min(max, scratch.length);
    const h = this._h;
    if (
      flen >= Math.min(max, WRITE_MIN_DIRECT) || flen === this._len || cap <= flen ||
      (h + 1 < c.length && (c[h + 1].flags & F_FILE) !== 0)
    ) {
      return this._writeView(first.buf, first.off, Math.min(flen, max));
    }
    let n = 0;
    for (let i = h; i < c.length && n < cap; i++) {
      const ch = c[i];
      if ((ch.flags & F_FILE) !== 0) break;
      let k = ch.end - ch.off;
      if (k === 0) continue;
      if (k > cap - n) k = cap - n;
      scratch.set(ch.buf.subarray(ch.off, ch.off + k), n);
      n += k;
    }
    return this._writeView(scratch, 0, n);
  }

  /**
   * `buf.subarray(off, off + n)`, reusing the previous write's view when it is the same range:
   * a connection answering alike requests writes the same range of its reused tail chunk (or
   * scratch) every time. Only arrays small enough to be kept anyway (the emptied tail chunk, a
   * small scratch or read block) are remembered, so no big buffer outlives its bytes.
   */
  private _writeView(buf: Uint8Array, off: number, n: number): Uint8Array {
    const v = this._wv;
    if (this._wvBuf === buf && this._wvOff === off && v.length === n) return v;
    const view = buf.subarray(off, off + n);
    if (buf.length <= MAX_KEEP) {
      this._wvBuf = buf;
      this._wvOff = off;
      this._wv = view;
    }
    return view;
  }

  /**
   * The first chunk's whole backing array, with its live range in `_frontOff`/`_frontEnd`, for
   * parsers that work in place: unlike `peek`, nothing is allocated. Bytes of the array outside
   * that range are not this buffer's. Empty (and both 0) when the buffer is; file segments are
   * not read in (`_frontEnd - _frontOff` is 0 then).
   * @ignore
   */
  _front(): Uint8Array {
    if (this._len === 0) {
      this._frontOff = this._frontEnd = 0;
      return EMPTY;
    }
    this._dropEmptyFront();
    const ch = this._c[this._h];
    this._frontOff = ch.off;
    this._frontEnd = (ch.flags & F_FILE) !== 0 ? ch.off : ch.end;
    return ch.buf;
  }

  /**
   * The tail chunk's whole backing array with at least `n` free bytes from index `_tailAt` on
   * (a chunk is linked when the tail lacks room), for writers that fill it in place without
   * allocating a view. Finish with {@linkcode _tailCommit} before anything else touches the
   * buffer. Throws like `add` when the end is frozen.
   * @ignore
   */
  _tailReserve(n: number): Uint8Array {
    if (this._frozenEnd) throw new EvbufferFrozenError("add", false);
    const c = this._c;
    let last = this._h < c.length ? c[c.length - 1] : null;
    if (last === null || last.flags !== 0 || last.buf.length - last.end < n) {
      if (last !== null && last.flags === 0 && last.off === last.end) c.pop();
      last = this._alloc(n);
      c.push(last);
    }
    this._tailAt = last.end;
    return last.buf;
  }

  /**
   * Appends the bytes written after {@linkcode _tailReserve}, up to index `end` of its array;
   * runs the change callbacks once.
   * @ignore
   */
  _tailCommit(end: number): void {
    const last = this._c[this._c.length - 1];
    const n = end - last.end;
    if (n <= 0) return;
    last.end = end;
    this._len += n;
    if (this._ncb !== 0) this._fireAdd(n);
  }

  /** Drains `n` bytes ignoring the front-freeze flag; runs change callbacks. @ignore */
  _drainInternal(n: number): void {
    if (!isCount(n)) throw new RangeError(`Evbuffer.drain: invalid count ${n}`);
    if (n > this._len) n = this._len;
    if (n === 0) return;
    this._cut(n);
    if (this._ncb !== 0) this._fireDel(n);
    this._rethrow();
  }

  /** Appends a copy of `data` ignoring the end-freeze flag; runs change callbacks. @ignore */
  _addInternal(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    this._appendBytes(data);
    if (this._ncb !== 0) this._fireAdd(n);
  }

  /** {@linkcode addBuffer} ignoring both buffers' freeze flags. @ignore */
  _addBufferInternal(src: Evbuffer): void {
    this._moveAllFrom(src);
  }

  /** {@linkcode removeBuffer} ignoring both buffers' freeze flags. @ignore */
  _removeBufferInternal(dst: Evbuffer, n: number): number {
    if (!isCount(n)) throw new RangeError(`Evbuffer.removeBuffer: invalid count ${n}`);
    if (dst === this || n === 0 || this._len === 0) return 0;
    if (n >= this._len) {
      const all = this._len;
      dst._moveAllFrom(this);
      return all;
    }
    if (this._nFiles !== 0) {
      this._need(n);
      if (n >= this._len) {
        const all = this._len;
        dst._moveAllFrom(this);
        return all;
      }
    }
    dst._trimEmptyTail();
    const c = this._c;
    const dc = dst._c;
    let h = this._h;
    let left = n;
    let moved = 0;
    while (left > 0) {
      const ch = c[h];
      const clen = ch.end - ch.off;
      if (clen <= left) {
        c[h++] = DEAD;
        if (clen === 0) {
          if (ch.flags !== 0) this._release(ch);
          continue;
        }
        if ((ch.flags & F_FILE) !== 0) {
          this._nFiles--;
          dst._nFiles++;
        }
        dst._pushMoved(ch);
        moved += clen;
        left -= clen;
        continue;
      }
      const last = dc.length > dst._h ? dc[dc.length - 1] : null;
      if (ch.block !== undefined && last !== null && adjacentViews(last, ch)) {
        // The front of a read block the destination already views up to here: extend that view.
        last.end += left;
        moved += left;
      } else if (left <= SPLIT_MIN || ch.cleanup !== undefined) {
        dst._appendBytes(ch.buf.subarray(ch.off, ch.off + left));
      } else {
        // Two views of one backing store: neither may append into the other's bytes.
        const part = new Chunk(ch.buf, ch.off, ch.off + left, ch.flags | F_READONLY);
        if (ch.block !== undefined) {
          part.block = ch.block;
          ch.block.retain();
        }
        ch.flags |= F_READONLY;
        dc.push(part);
        moved += left;
      }
      ch.off += left;
      left = 0;
    }
    this._h = h;
    this._len -= n;
    this._eolSeen = 0;
    dst._len += moved;
    this._maybeCompact();
    if (dst._ncb !== 0) dst._fireAdd(n);
    if (this._ncb !== 0) this._fireDel(n);
    this._rethrow();
    return n;
  }

  // ---------------------------------------------------------------- internals

  /** Clamps a count to the bytes available from `pos`; RangeError on negative or NaN. */
  private _avail(pos: number, n: number): number {
    if (!isCount(n)) throw new RangeError(`Evbuffer: invalid byte count ${n}`);
    if (pos + n > this._len) n = this._len - pos;
    if (this._nFiles !== 0 && n > 0) {
      this._need(pos + n);
      if (pos + n > this._len) n = Math.max(0, this._len - pos);
    }
    return n;
  }

  /**
   * Records `n` added bytes and runs the callbacks, then the bufferevent's hook: the hook may
   * take the bytes away at once (a pair hands them to its partner), and user callbacks must see
   * the addition before that removal (libevent's pair callback is the oldest, so it runs last).
   */
  private _fireAdd(n: number): void {
    if (this._cbs.length === 0) {
      this._hook?.();
      return;
    }
    this._nAdd += n;
    try {
      this._runCbs();
    } finally {
      // A throwing callback must not leave the added output unsent.
      this._hook?.();
    }
  }

  /** Records `n` removed bytes and runs the callbacks. */
  private _fireDel(n: number): void {
    if (this._cbs.length === 0) return;
    this._nDel += n;
    this._runCbs();
  }

  /**
   * Sets the hook a bufferevent uses to learn about output added outside its own callbacks
   * (`null` removes it). It costs one call per add and nothing per drain.
   * @ignore
   */
  _setAddHook(fn: (() => void) | null): void {
    if (fn !== null && this._hook === null) this._ncb++;
    else if (fn === null && this._hook !== null) this._ncb--;
    this._hook = fn;
  }

  /**
   * Number of user change callbacks registered.
   * @ignore
   */
  _userCbCount(): number {
    return this._cbs.length;
  }

  /** Runs the enabled callbacks with the changes accumulated since the last run. */
  private _runCbs(): void {
    const nA = this._nAdd;
    const nD = this._nDel;
    if (nA === 0 && nD === 0) return;
    this._nAdd = 0;
    this._nDel = 0;
    const info: EvbufferCbInfo = { origSize: this._len - nA + nD, nAdded: nA, nDeleted: nD };
    // `_cbs` is replaced, never mutated, on add/remove: iterating this snapshot is safe.
    const list = this._cbs;
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (e._owner === this && (e.flags & EVBUFFER_CB_ENABLED) !== 0) e.cb(this, info, e.arg);
    }
  }

  /** Throws the first cleanup error kept by `_release`, if any. */
  private _rethrow(): void {
    if (this._err !== NO_ERR) {
      const e = this._err;
      this._err = NO_ERR;
      throw e;
    }
  }

  /** Releases what a non-plain chunk holds. Cleanup errors are rethrown once state is consistent. */
  private _release(ch: Chunk): void {
    const b = ch.block;
    if (b !== undefined) {
      ch.block = undefined;
      b.release();
    }
    const f = ch.cleanup;
    if (f !== undefined) {
      ch.cleanup = undefined;
      try {
        f();
      } catch (e) {
        if (this._err === NO_ERR) this._err = e;
      }
    }
    const seg = ch.file;
    if (seg !== undefined) {
      ch.file = undefined;
      this._nFiles--;
      closeQuietly(seg.file);
    }
  }

  /**
   * `_release` for a chunk drained by `_cut`: nothing references the object any more, so a
   * pooled-read chunk is kept for the next `_addShared` (a socket input drains every read).
   */
  private _releaseCut(ch: Chunk): void {
    this._release(ch);
    if ((ch.flags & F_POOLED) !== 0 && ch.cleanup === undefined && ch.file === undefined) {
      this._spare = ch;
    }
  }

  /** Forgets every chunk (after they were moved away or released). */
  private _reset(): void {
    this._eolSeen = 0;
    clearChain(this._c);
    this._h = 0;
    this._len = 0;
    this._nFiles = 0;
    this._nextSize = MIN_CHUNK;
    this._resChunk = null;
    this._resView = EMPTY;
  }

  /** A new plain chunk of at least `min` bytes, growing the automatic size. */
  private _alloc(min: number): Chunk {
    let size = this._nextSize;
    if (size < min) size = min;
    else if (size < MAX_AUTO) this._nextSize = size * 2;
    return new Chunk(new Uint8Array(size), 0, 0, 0);
  }

  /** Links `ch` at the front, reusing a drained slot when there is one. */
  private _unshift(ch: Chunk): void {
    this._eolSeen = 0;
    if (this._h === 0) {
      // Room in front as large as the chain (at least 8 slots): repeated prepends cost O(1)
      // each instead of moving the whole chain every time (160 000 prepends: 6 s).
      const c = this._c;
      const room = Math.max(8, c.length);
      const grown = new Array<Chunk>(room + c.length);
      grown.fill(DEAD, 0, room);
      for (let i = 0; i < c.length; i++) grown[room + i] = c[i];
      this._c = grown;
      this._h = room;
    }
    this._c[--this._h] = ch;
  }

  /** Removes an empty plain chunk at the tail so that linked chunks do not follow a hole. */
  private _trimEmptyTail(): void {
    const c = this._c;
    if (this._h < c.length) {
      const last = c[c.length - 1];
      if (last.off === last.end && (last.flags & F_FILE) === 0) {
        c.pop();
        if (last.flags !== 0) this._release(last);
      }
    }
  }

  /** Unlinks empty chunks at the front (keeping at least one chunk). */
  private _dropEmptyFront(): void {
    const c = this._c;
    let h = this._h;
    while (h < c.length - 1 && c[h].off === c[h].end) {
      const ch = c[h];
      c[h++] = DEAD;
      if (ch.flags !== 0) this._release(ch);
    }
    this._h = h;
  }

  /** Shifts live chunks to the start of the array once most slots are drained. */
  private _maybeCompact(): void {
    const h = this._h;
    const c = this._c;
    if (h === c.length) {
      clearChain(c);
      this._h = 0;
    } else if (h > 32 && h * 2 > c.length) {
      c.copyWithin(0, h);
      c.length -= h;
      this._h = 0;
    }
  }

  /** Copies `data` into the tail space, linking a new chunk for the rest; no callbacks. */
  private _appendBytes(data: Uint8Array): void {
    let n = data.length;
    if (n === 0) return;
    const c = this._c;
    this._len += n;
    let src = 0;
    if (this._h < c.length) {
      const last = c[c.length - 1];
      if (last.flags === 0) {
        const space = last.buf.length - last.end;
        if (space >= n) {
          last.buf.set(data, last.end);
          last.end += n;
          return;
        }
        if (last.off === last.end) {
          c.pop(); // empty and too small: replace it
        } else if (space > 0) {
          last.buf.set(data.subarray(0, space), last.end);
          last.end += space;
          src = space;
          n -= space;
        }
      }
    }
    const ch = this._alloc(n);
    ch.buf.set(src === 0 ? data : data.subarray(src), 0);
    ch.end = n;
    c.push(ch);
  }

  /** UTF-8 encodes `s` straight into tail space; no callbacks. */
  private _appendString(s: string): void {
    let rest = s;
    if (rest.length === 0) return;
    const c = this._c;
    if (rest.length > 65536) {
      // Big strings: encode once and adopt the result as a chunk (no second copy).
      const bytes = encoder.encode(rest);
      this._trimEmptyTail();
      c.push(new Chunk(bytes, 0, bytes.length, 0));
      this._len += bytes.length;
      return;
    }
    for (;;) {
      let last = this._h < c.length ? c[c.length - 1] : null;
      if (last === null || last.flags !== 0 || last.end === last.buf.length) {
        if (last !== null && last.flags === 0 && last.off === last.end) c.pop();
        last = this._alloc(rest.length + 3);
        c.push(last);
      }
      const r = encoder.encodeInto(rest, last.buf.subarray(last.end));
      last.end += r.written;
      this._len += r.written;
      if (r.read === rest.length) return;
      rest = rest.slice(r.read);
      if (r.written === 0) {
        // Not even one character fitted in the tail space: force a fresh chunk.
        last = this._alloc(rest.length + 3);
        c.push(last);
      }
    }
  }

  /** Removes the first `n` (≤ length) bytes from the chain; no callbacks. */
  private _cut(n: number): void {
    this._eolSeen = 0;
    const c = this._c;
    if (n >= this._len) {
      if (c.length === 1 && this._h === 0) {
        // One plain chunk (a reply just written): empty it in place for the next add.
        const only = c[0];
        if (only.flags === 0 && only.buf.length <= MAX_KEEP && only !== this._resChunk) {
          only.off = only.end = 0;
          this._len = 0;
          return;
        }
      }
      const last = this._h < c.length ? c[c.length - 1] : null;
      for (let i = this._h; i < c.length; i++) {
        const ch = c[i];
        if (ch.flags !== 0) this._releaseCut(ch);
      }
      clearChain(c);
      this._h = 0;
      this._len = 0;
      if (last !== null && last.flags === 0 && last.buf.length <= MAX_KEEP) {
        // Keep the emptied tail for the next add; a live reservation keeps its position.
        if (last === this._resChunk) last.off = last.end;
        else last.off = last.end = 0;
        c.push(last);
      } else {
        this._nextSize = MIN_CHUNK;
      }
      return;
    }
    this._len -= n;
    let h = this._h;
    while (n > 0) {
      const ch = c[h];
      const clen = ch.end - ch.off;
      if (clen > n) {
        ch.off += n;
        break;
      }
      n -= clen;
      c[h++] = DEAD;
      if (ch.flags !== 0) this._releaseCut(ch);
    }
    this._h = h;
    if (h > 32) this._maybeCompact();
  }

  /** Moves all of `src` to the end; runs both buffers' callbacks. */
  private _moveAllFrom(src: Evbuffer): void {
    const n = src._len;
    if (src === this || n === 0) return;
    const sc = src._c;
    if (n <= SMALL_MOVE && src._nFiles === 0 && this._h < this._c.length) {
      const last = this._c[this._c.length - 1];
      if (last.flags === 0 && last.buf.length - last.end >= n) {
        let plain = true;
        for (let i = src._h; i < sc.length; i++) {
          if (sc[i].cleanup !== undefined) {
            plain = false;
            break;
          }
        }
        if (plain) {
          src._copyTo(last.buf, last.end, 0, n);
          last.end += n;
          this._len += n;
          src._cut(n);
          if (this._ncb !== 0) this._fireAdd(n);
          if (src._ncb !== 0) src._fireDel(n);
          src._rethrow();
          return;
        }
      }
    }
    this._trimEmptyTail();
    for (let i = src._h; i < sc.length; i++) {
      const ch = sc[i];
      if (ch.end === ch.off) {
        if (ch.flags !== 0) src._release(ch);
      } else this._pushMoved(ch);
    }
    this._nFiles += src._nFiles;
    this._len += n;
    src._reset();
    if (this._ncb !== 0) this._fireAdd(n);
    if (src._ncb !== 0) src._fireDel(n);
    src._rethrow();
  }

  /**
   * Appends a chunk moved from another buffer, or extends the last chunk when both view adjacent
   * bytes of one pooled block: a body read a few bytes at a time and moved read by read into a
   * request's buffer would otherwise keep one chunk object per read (about 90 bytes of heap per
   * body byte for 1-byte reads).
   */
  private _pushMoved(ch: Chunk): void {
    const c = this._c;
    if (ch.block !== undefined && this._h < c.length) {
      const last = c[c.length - 1];
      if (adjacentViews(last, ch)) {
        last.end = ch.end;
        ch.block.release();
        return;
      }
    }
    c.push(ch);
  }

  /** Copies `n` bytes from absolute position `from` into `out` at `outOff` (all in memory). */
  private _copyTo(out: Uint8Array, outOff: number, from: number, n: number): void {
    const c = this._c;
    let i = this._h;
    let pos = from;
    while (pos > 0) {
      const l = c[i].end - c[i].off;
      if (pos < l) break;
      pos -= l;
      i++;
    }
    while (n > 0) {
      const ch = c[i++];
      const s = ch.off + pos;
      let k = ch.end - s;
      if (k > n) k = n;
      if (k > 0) {
        if (k <= 16) {
          const buf = ch.buf;
          for (let j = 0; j < k; j++) out[outOff + j] = buf[s + j];
        } else {
          out.set(ch.buf.subarray(s, s + k), outOff);
        }
        outOff += k;
        n -= k;
      }
      pos = 0;
    }
  }

  /** Decodes the first `n` bytes (all in memory). */
  private _decodeFront(n: number): string {
    const c = this._c;
    let i = this._h;
    while (c[i].end === c[i].off) i++;
    const ch = c[i];
    if (ch.end - ch.off >= n) return decoder.decode(ch.buf.subarray(ch.off, ch.off + n));
    const tmp = new Uint8Array(n);
    this._copyTo(tmp, 0, 0, n);
    return decoder.decode(tmp);
  }

  /**
   * Reads file pieces until the first `to` bytes are all in memory chunks. Bytes a short file
   * cannot provide are dropped and reported to callbacks as deleted.
   */
  private _need(to: number): void {
    const c = this._c;
    let pos = 0;
    let lost = 0;
    let i = this._h;
    while (i < c.length && pos < to) {
      const ch = c[i];
      if ((ch.flags & F_FILE) === 0) {
        pos += ch.end - ch.off;
        i++;
        continue;
      }
      const want = Math.min(FILE_PIECE, ch.end - ch.off);
      const got = readPiece(ch.file!, ch.off, want);
      if (got.length > 0) {
        c.splice(i++, 0, new Chunk(got, 0, got.length, 0));
        pos += got.length;
        ch.off += got.length;
      }
      if (got.length < want) {
        const gone = ch.end - ch.off;
        lost += gone;
        this._len -= gone;
        this._eolSeen = 0;
        ch.off = ch.end;
      }
      if (ch.off === ch.end) {
        c.splice(i, 1);
        this._release(ch);
      }
    }
    if (lost > 0) {
      this._fileShort = true;
      if (this._ncb !== 0) this._fireDel(lost);
    }
  }

  /** Places the scan cursor at absolute position `pos` (≤ length). */
  private _seek(pos: number): void {
    const c = this._c;
    let i = this._h;
    let p = pos;
    while (i < c.length) {
      const l = c[i].end - c[i].off;
      if (p < l) break;
      p -= l;
      i++;
    }
    this._ci = i;
    this._co = i < c.length ? c[i].off + p : 0;
    this._cpos = pos;
  }

  /** Advances the cursor one byte. */
  private _step(): void {
    this._co++;
    this._cpos++;
  }

  /**
   * Moves the cursor to the next occurrence of `b` that starts before absolute position
   * `limit`; false if there is none.
   */
  private _scanByte(b: number, limit: number): boolean {
    const c = this._c;
    let i = this._ci;
    let pos = this._cpos;
    if (i >= c.length) return false;
    let o = this._co;
    while (pos < limit) {
      const ch = c[i];
      let to = ch.end;
      if (o < to) {
        if (pos + (to - o) > limit) to = o + (limit - pos);
        const k = indexOfByte(ch.buf, b, o, to);
        if (k >= 0) {
          this._ci = i;
          this._co = k;
          this._cpos = pos + (k - o);
          return true;
        }
        pos += to - o;
      }
      if (++i >= c.length) break;
      o = c[i].off;
    }
    return false;
  }

  /** Moves the cursor to the next CR or LF; false if there is none. */
  private _scanCrLf(): boolean {
    const c = this._c;
    let i = this._ci;
    let pos = this._cpos;
    if (i >= c.length) return false;
    let o = this._co;
    for (;;) {
      const ch = c[i];
      const end = ch.end;
      if (o < end) {
        const buf = ch.buf;
        let k = indexOfByte(buf, LF, o, end);
        const k2 = indexOfByte(buf, CR, o, k < 0 ? end : k);
        if (k2 >= 0) k = k2;
        if (k >= 0) {
          this._ci = i;
          this._co = k;
          this._cpos = pos + (k - o);
          return true;
        }
        pos += end - o;
      }
      if (++i >= c.length) return false;
      o = c[i].off;
    }
  }

  /** Byte at the cursor, or -1 at the end. Normalizes the cursor past chunk ends. */
  private _curByte(): number {
    const c = this._c;
    while (this._ci < c.length) {
      const ch = c[this._ci];
      if (this._co < ch.end) return ch.buf[this._co];
      if (++this._ci < c.length) this._co = c[this._ci].off;
    }
    return -1;
  }

  /** Byte just before the cursor, or -1 at the start of the buffer. */
  private _prevByte(): number {
    const c = this._c;
    let i = this._ci;
    if (i < c.length && this._co > c[i].off) return c[i].buf[this._co - 1];
    while (--i >= this._h) {
      const ch = c[i];
      if (ch.end > ch.off) return ch.buf[ch.end - 1];
    }
    return -1;
  }

  /** Whether `needle` occurs at the cursor (possibly across chunks). */
  private _matchAtCursor(needle: Uint8Array): boolean {
    const c = this._c;
    const nlen = needle.length;
    let i = this._ci;
    let o = this._co;
    let j = 0;
    for (;;) {
      const ch = c[i];
      const buf = ch.buf;
      const end = ch.end;
      while (o < end) {
        if (buf[o] !== needle[j]) return false;
        o++;
        if (++j === nlen) return true;
      }
      if (++i >= c.length) return false;
      o = c[i].off;
    }
  }

  /** Position of the next EOL at or after `start` (length in `_eolLen`), or -1. */
  /** The first end of line from the front, resuming after what a failed call scanned. */
  private _eolFront(style: number): number {
    const from = style === this._eolSeenStyle && this._eolSeen <= this._len ? this._eolSeen : 0;
    const pos = this._eol(0, style, from);
    if (pos < 0) {
      this._eolSeen = this._len;
      this._eolSeenStyle = style;
    }
    return pos;
  }

  /** Finds an end of line at or after `start`, scanning from `scanFrom` (known to hold none before). */
  private _eol(start: number, style: number, scanFrom: number = start): number {
    if (
      style !== EVBUFFER_EOL_ANY && style !== EVBUFFER_EOL_CRLF &&
      style !== EVBUFFER_EOL_CRLF_STRICT && style !== EVBUFFER_EOL_LF &&
      style !== EVBUFFER_EOL_NUL
    ) {
      throw new RangeError(`Evbuffer: unknown EOL style ${style}`);
    }
    if (!isCount(start)) throw new RangeError(`Evbuffer: invalid start ${start}`);
    if (start >= this._len) return -1;
    if (this._nFiles !== 0) {
      this._need(this._len);
      if (start >= this._len) return -1;
    }
    const len = this._len;
    this._seek(scanFrom);
    switch (style) {
      case EVBUFFER_EOL_LF:
      case EVBUFFER_EOL_NUL:
        if (!this._scanByte(style === EVBUFFER_EOL_LF ? LF : 0, len)) return -1;
        this._eolLen = 1;
        return this._cpos;
      case EVBUFFER_EOL_CRLF: {
        if (!this._scanByte(LF, len)) return -1;
        const p = this._cpos;
        if (p > start && this._prevByte() === CR) {
          this._eolLen = 2;
          return p - 1;
        }
        this._eolLen = 1;
        return p;
      }
      case EVBUFFER_EOL_CRLF_STRICT: {
        for (;;) {
          if (!this._scanByte(LF, len)) return -1;
          if (this._cpos > start && this._prevByte() === CR) {
            this._eolLen = 2;
            return this._cpos - 1;
          }
          this._step();
        }
      }
      default: {
        if (!this._scanCrLf()) return -1;
        const p = this._cpos;
        let n = 0;
        for (;;) {
          const b = this._curByte();
          if (b !== LF && b !== CR) break;
          n++;
          this._step();
        }
        this._eolLen = n;
        return p;
      }
    }
  }
}

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // Already closed: ownership passed to us, nothing else to do.
  }
}

/** Reads up to `want` bytes of a file segment at chunk index `off`; short on EOF or error. */
function readPiece(seg: FileSeg, off: number, want: number): Uint8Array {
  const buf = new Uint8Array(want);
  let got = 0;
  try {
    seg.file.seekSync(seg.base + off, Deno.SeekMode.Start);
    while (got < want) {
      const r = seg.file.readSync(buf.subarray(got));
      if (r === null || r === 0) break;
      got += r;
    }
  } catch {
    // A failing read counts as the end of the file: the caller drops the missing bytes.
  }
  return got === want ? buf : buf.subarray(0, got);
}
