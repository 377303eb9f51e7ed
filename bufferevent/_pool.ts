/**
 * Refcounted, pooled backing stores for socket reads. A bufferevent reads into a block it holds,
 * hands the filled range to its input {@linkcode Evbuffer} as a zero-copy chunk (which takes its
 * own reference), and the block goes back to its pool once every chunk viewing it is drained.
 * Reusing blocks keeps socket reads free of per-read allocation and zeroing.
 *
 * @module
 * @ignore
 */

/**
 * One refcounted block of a {@linkcode BlockPool}.
 *
 * @example
 * ```ts
 * import { BlockPool } from "./_pool.ts";
 * const pool = new BlockPool(4096);
 * const block = pool.acquire(); // refs = 1
 * block.retain();               // a chunk now views it
 * block.release();              // the chunk was drained
 * block.release();              // the caller's hold: back to the pool
 * ```
 * @ignore
 */
export class PooledBlock {
  /** The block's bytes (`blockSize` long). @ignore */
  readonly buf: Uint8Array;
  #refs = 0;
  #pool: BlockPool;

  /** Wraps `buf` for `pool`; use {@linkcode BlockPool.acquire} instead. @ignore */
  constructor(pool: BlockPool, buf: Uint8Array) {
    this.#pool = pool;
    this.buf = buf;
  }

  /** Current reference count (for tests and assertions). @ignore */
  get refs(): number {
    return this.#refs;
  }

  /** Adds one reference. @ignore */
  retain(): void {
    this.#refs++;
  }

  /**
   * Drops one reference; at zero the block returns to its pool's free list. Releasing a block
   * that holds no reference throws, because a double release would hand one buffer to two
   * owners and corrupt data silently.
   * @ignore
   */
  release(): void {
    if (this.#refs <= 0) throw new RangeError("PooledBlock released more often than retained");
    if (--this.#refs === 0) this.#pool._recycle(this);
  }

  /** Sets the count to one for a fresh acquisition. @ignore */
  _reset(): void {
    this.#refs = 1;
  }
}

/**
 * A free list of equally sized {@linkcode PooledBlock}s.
 *
 * @example
 * ```ts
 * import { BlockPool } from "./_pool.ts";
 * const pool = new BlockPool(65536, 16);
 * const b = pool.acquire();
 * b.release();
 * console.log(pool.freeCount); // 1
 * ```
 * @ignore
 */
export class BlockPool {
  /** Size of every block in bytes. @ignore */
  readonly blockSize: number;
  /** Most blocks kept on the free list; extra released blocks are left to the GC. @ignore */
  readonly maxFree: number;
  #free: PooledBlock[] = [];

  /** Creates a pool of `blockSize`-byte blocks keeping at most `maxFree` idle ones. @ignore */
  constructor(blockSize = 65536, maxFree = 256) {
    if (!Number.isInteger(blockSize) || blockSize <= 0) {
      throw new RangeError(`invalid block size ${blockSize}`);
    }
    this.blockSize = blockSize;
    this.maxFree = Math.max(0, maxFree | 0);
  }

  /** Number of idle blocks ready for reuse. @ignore */
  get freeCount(): number {
    return this.#free.length;
  }

  /** Returns a block holding one reference (the caller's): a recycled one if available. @ignore */
  acquire(): PooledBlock {
    const b = this.#free.pop() ?? new PooledBlock(this, new Uint8Array(this.blockSize));
    b._reset();
    return b;
  }

  /** Called by {@linkcode PooledBlock.release} at zero references. @ignore */
  _recycle(b: PooledBlock): void {
    if (this.#free.length < this.maxFree) this.#free.push(b);
  }
}

/** The shared pool of 64 KiB read blocks. @example `const b = defaultPool.acquire()` @ignore */
export const defaultPool: BlockPool = new BlockPool();
