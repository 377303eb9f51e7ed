/**
 * `Evkeyvalq`: libevent's ordered header list (duplicates allowed, case-insensitive lookup).
 *
 * @example
 * ```ts
 * import { Evkeyvalq } from "./keyvalq.ts";
 * const h = new Evkeyvalq();
 * h.add("Content-Type", "text/plain");
 * h.find("content-type"); // "text/plain"
 * ```
 *
 * @module
 */

/**
 * Lowercases ASCII letters; returns `s` itself when it has none (the common case for keys that
 * are already lowercase), so no string is allocated then.
 *
 * @ignore
 */
export function lowerKey(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || c > 0x7f) return s.toLowerCase();
  }
  return s;
}

/**
 * Names and values `add` accepted lately, by length (a direct-mapped memo): validation and
 * lowercasing depend only on the text, so an equal string needs neither again (and lowercasing
 * "Content-Type" allocated a string per request).
 */
const MEMO_MASK = 15;
// Only text that passed may be stored: the fillers are a valid name and a valid value.
const memoKeys: string[] = new Array(MEMO_MASK + 1).fill("x");
const memoLkeys: string[] = new Array(MEMO_MASK + 1).fill("x");
const memoValues: string[] = new Array(MEMO_MASK + 1).fill("");

function badKey(k: string): boolean {
  if (k.length === 0) return true;
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if (c >= 128 || !TCHAR[c]) return true;
  }
  return false;
}

/** RFC 9110 §5.6.2 `tchar`: what a field name may be made of. */
const TCHAR = (() => {
  const t = new Uint8Array(128);
  for (let c = 0x21; c < 0x7f; c++) t[c] = 1;
  for (const ch of '"(),/:;<=>?@[\\]{}') t[ch.charCodeAt(0)] = 0;
  return t;
})();

/**
 * CR, LF and NUL are refused outright: libevent lets a CR/LF run followed by a space or tab
 * through (a folded value), but RFC 9110 §5.5 forbids senders to fold, and a decoded query value
 * of "\r\n\r\n " put in a header ended the head early (response splitting).
 */
function badValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0) return true;
  }
  return false;
}

/** The storage of every empty list (never changed: lists copy before their first change). */
const NO_ENTRIES: string[] = [];

/**
 * An ordered list of key/value pairs (HTTP headers, query parameters). Duplicates are kept in
 * order; lookups compare keys case-insensitively and return the first match.
 *
 * `add` and `set` reject a key that is not an HTTP token (RFC 9110 §5.6.2; libevent only refuses
 * empty keys and CR/LF) and a value containing CR, LF or NUL (libevent lets a folded value
 * through; senders must not fold, RFC 9110 §5.5, and folding let a value end a head early).
 *
 * @example
 * ```ts
 * import { Evkeyvalq } from "./keyvalq.ts";
 * const h = new Evkeyvalq();
 * h.add("Set-Cookie", "a=1");
 * h.add("Set-Cookie", "b=2");
 * h.findAll("set-cookie"); // ["a=1", "b=2"]
 * h.remove("SET-COOKIE"); // true: removes "a=1"
 * for (const [k, v] of h) console.log(`${k}: ${v}`);
 * ```
 */
export class Evkeyvalq {
  // One array of triples (key as given, its lowercase form for lookups, value): a list with a
  // few entries costs one backing store, not three. Starts as the shared empty array, so a list
  // nobody adds to allocates nothing more.
  #e: string[] = NO_ENTRIES;
  /** `#e` is shared with another list (or is NO_ENTRIES): copy it before a change. */
  #shared = true;

  /** Number of entries. */
  get size(): number {
    return this.#e.length / 3;
  }

  /** The first value whose key matches `key` case-insensitively, or `undefined`. */
  find(key: string): string | undefined {
    const i = this.#indexOf(lowerKey(key), 0);
    return i < 0 ? undefined : this.#e[i + 1];
  }

  /** Every value whose key matches `key` case-insensitively, in order. */
  findAll(key: string): string[] {
    const lk = lowerKey(key);
    const out: string[] = [];
    const e = this.#e;
    for (let i = 1; i < e.length; i += 3) {
      if (e[i] === lk) out.push(e[i + 1]);
    }
    return out;
  }

  /** Whether some key matches `key` case-insensitively. */
  has(key: string): boolean {
    return this.#indexOf(lowerKey(key), 0) >= 0;
  }

  /**
   * Appends a pair. Throws `TypeError` for a key that is not a token or a value with CR, LF or
   * NUL.
   */
  add(key: string, value: string): void {
    // Handlers add the same few names and values on every request: remember what passed.
    const ki = key.length & MEMO_MASK;
    let lk: string;
    if (memoKeys[ki] === key) lk = memoLkeys[ki];
    else {
      if (badKey(key)) throw new TypeError(`invalid header name: ${JSON.stringify(key)}`);
      lk = lowerKey(key);
      memoKeys[ki] = key;
      memoLkeys[ki] = lk;
    }
    const vi = value.length & MEMO_MASK;
    if (memoValues[vi] !== value) {
      if (badValue(value)) throw new TypeError(`invalid header value: ${JSON.stringify(value)}`);
      memoValues[vi] = value;
    }
    this._addUnchecked(key, lk, value);
  }

  /**
   * Appends a pair without validation; `lkey` must be `key` lowercased.
   *
   * @ignore
   */
  _addUnchecked(key: string, lkey: string, value: string): void {
    if (this.#shared) {
      if (this.#e.length === 0) {
        // A first pair gets storage of its own size (a push onto [] reserves 17 slots): most
        // lists a handler fills hold one or two headers.
        this.#e = [key, lkey, value];
        this.#shared = false;
        return;
      }
      this.#own();
    }
    this.#e.push(key, lkey, value);
  }

  /**
   * The lowercase key of entry `i`.
   *
   * @ignore
   */
  _lkeyAt(i: number): string {
    return this.#e[i * 3 + 1];
  }

  /**
   * Replaces the value of entry `i` without validation (the parser joins folded lines).
   *
   * @ignore
   */
  _setValueAt(i: number, value: string): void {
    if (this.#shared) this.#own();
    this.#e[i * 3 + 2] = value;
  }

  /**
   * Replaces every pair with this key by one pair: the first match keeps its position and takes
   * the new key spelling and value; later matches are removed; appends when there is none.
   * Validates like `add`.
   */
  set(key: string, value: string): void {
    if (badKey(key)) throw new TypeError(`invalid header name: ${JSON.stringify(key)}`);
    if (badValue(value)) throw new TypeError(`invalid header value: ${JSON.stringify(value)}`);
    const lk = lowerKey(key);
    const first = this.#indexOf(lk, 0);
    if (first < 0) {
      this._addUnchecked(key, lk, value);
      return;
    }
    if (this.#shared) this.#own();
    this.#e[first - 1] = key;
    this.#e[first + 1] = value;
    let i = this.#indexOf(lk, first + 3);
    while (i >= 0) {
      this.#removeAt(i);
      i = this.#indexOf(lk, i);
    }
  }

  /** Removes the first pair whose key matches; `false` if there was none. */
  remove(key: string): boolean {
    const i = this.#indexOf(lowerKey(key), 0);
    if (i < 0) return false;
    this.#removeAt(i);
    return true;
  }

  /** Removes every pair. */
  clear(): void {
    this.#e = NO_ENTRIES;
    this.#shared = true;
  }

  /** The key of entry `i` (insertion order), as it was added. */
  keyAt(i: number): string {
    return this.#e[i * 3];
  }

  /** The value of entry `i` (insertion order). */
  valueAt(i: number): string {
    return this.#e[i * 3 + 2];
  }

  /** Iterates `[key, value]` pairs in insertion order. */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (let i = 0; i < this.#e.length; i += 3) yield [this.#e[i], this.#e[i + 2]];
  }

  /**
   * A list with the same pairs that shares this one's storage until either changes (the one
   * changing copies it first): replaying a memoized parse costs one object, not a copy.
   *
   * @ignore
   */
  _shareClone(): Evkeyvalq {
    const c = new Evkeyvalq();
    c.#e = this.#e;
    this.#shared = true;
    return c;
  }

  #own(): void {
    this.#e = this.#e.length === 0 ? [] : this.#e.slice();
    this.#shared = false;
  }

  /** Index of the lowercase key of the first match at or after `from` (an index of `#e`). */
  #indexOf(lk: string, from: number): number {
    const e = this.#e;
    for (let i = from === 0 ? 1 : from; i < e.length; i += 3) {
      if (e[i] === lk) return i;
    }
    return -1;
  }

  /** Removes the entry whose lowercase key is at `i`. */
  #removeAt(i: number): void {
    if (this.#shared) this.#own();
    this.#e.splice(i - 1, 3);
  }
}
