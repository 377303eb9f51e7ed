/**
 * Token-bucket rate limits for bufferevents, single and shared by a group (libevent's
 * `bufferevent_ratelim.c`). Rates and bursts are bytes per tick; the default tick is 1000 ms.
 *
 * @module
 */

import { InternalTimer } from "../reactor/_internal_timer.ts";
import type { EventBase } from "../reactor/event_base.ts";
import type { Bufferevent } from "./bufferevent.ts";

/** A rate-limit configuration (libevent's `ev_token_bucket_cfg`). */
export interface RateLimitConfig {
  /** Bytes that may be read per tick (0 or Infinity: unlimited). */
  readonly readRate: number;
  /** Most read tokens that can accumulate. */
  readonly readBurst: number;
  /** Bytes that may be written per tick (0 or Infinity: unlimited). */
  readonly writeRate: number;
  /** Most write tokens that can accumulate. */
  readonly writeBurst: number;
  /** Tick length in ms. */
  readonly tickMs: number;
}

/**
 * Makes a rate-limit configuration (libevent's `ev_token_bucket_cfg_new`, with the tick in ms).
 *
 * @example
 * ```ts
 * import { evTokenBucketCfgNew } from "@evdeno/evdeno/bufferevent";
 * // 64 KiB/s each way, in ticks of 100 ms (6.4 KiB per tick), bursts up to 16 KiB.
 * const cfg = evTokenBucketCfgNew(6554, 16384, 6554, 16384, 100);
 * ```
 */
export function evTokenBucketCfgNew(
  readRate: number,
  readBurst: number,
  writeRate: number,
  writeBurst: number,
  tickMs = 1000,
): RateLimitConfig {
  if (!(tickMs > 0)) throw new RangeError("tickMs must be positive");
  if (readBurst < readRate || writeBurst < writeRate) {
    throw new RangeError("a burst cannot be smaller than its rate");
  }
  return Object.freeze({ readRate, readBurst, writeRate, writeBurst, tickMs });
}

function unlimited(rate: number): boolean {
  return !(rate > 0) || rate === Infinity;
}

/** One bucket pair (read, write), refilled per tick. @ignore */
export class RateBucket {
  #cfg: RateLimitConfig;
  #base: EventBase;
  #start: number;
  #tick = 0;
  #read: number;
  #write: number;
  #timer: InternalTimer;

  constructor(base: EventBase, cfg: RateLimitConfig, onRefill: () => void) {
    this.#cfg = cfg;
    this.#base = base;
    this.#start = performance.now();
    this.#read = cfg.readRate;
    this.#write = cfg.writeRate;
    this.#timer = new InternalTimer(base, () => {
      this.#update();
      // Either direction still (or again) short: keep ticking. The timer runs on the loop's
      // cached clock and may fire just before the tick boundary, so check after the update.
      if (this.#starved()) this.#schedule();
      // Reads and writes refill independently (libevent): a read deficit must not hold back
      // writers, so resume whatever has tokens now.
      onRefill();
    });
  }

  #update(): void {
    const c = this.#cfg;
    const tick = Math.floor((performance.now() - this.#start) / c.tickMs);
    const n = tick - this.#tick;
    if (n <= 0) return;
    this.#tick = tick;
    this.#read = Math.min(c.readBurst, this.#read + n * c.readRate);
    this.#write = Math.min(c.writeBurst, this.#write + n * c.writeRate);
  }

  /** Bytes readable now, -1 if unlimited. */
  readAllowance(): number {
    if (unlimited(this.#cfg.readRate)) return -1;
    this.#update();
    return Math.max(0, this.#read);
  }

  /** Bytes writable now, -1 if unlimited. */
  writeAllowance(): number {
    if (unlimited(this.#cfg.writeRate)) return -1;
    this.#update();
    return Math.max(0, this.#write);
  }

  consumeRead(n: number): void {
    if (unlimited(this.#cfg.readRate)) return;
    this.#read -= n;
    if (this.#read <= 0) this.#schedule();
  }

  consumeWrite(n: number): void {
    if (unlimited(this.#cfg.writeRate)) return;
    this.#write -= n;
    if (this.#write <= 0) this.#schedule();
  }

  stop(): void {
    this.#timer.disarm();
  }

  /** Makes sure a short bucket is refilling (a group that stopped with no members). */
  resume(): void {
    this.#update();
    if (this.#starved()) this.#schedule();
  }

  #starved(): boolean {
    const c = this.#cfg;
    return (!unlimited(c.readRate) && this.#read <= 0) ||
      (!unlimited(c.writeRate) && this.#write <= 0);
  }

  #schedule(): void {
    if (this.#timer.armed) return;
    const c = this.#cfg;
    const next = this.#start + (this.#tick + 1) * c.tickMs;
    this.#timer.arm(Math.max(0, next - performance.now()) + 1);
    void this.#base;
  }
}

/** Smallest share of a group's tokens one member may take per read or write (libevent: 64). */
const MIN_SHARE = 64;

/**
 * A rate limit shared by several bufferevents (libevent's `bufferevent_rate_limit_group`): the
 * group's tokens are divided among its members.
 *
 * @example
 * ```ts
 * import { BuffereventRateLimitGroup, evTokenBucketCfgNew } from "@evdeno/evdeno/bufferevent";
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * const group = new BuffereventRateLimitGroup(base, evTokenBucketCfgNew(1e6, 1e6, 1e6, 1e6));
 * // group.addToGroup(bev) for each connection that shares the 1 MB/s.
 * ```
 */
export class BuffereventRateLimitGroup {
  #members = new Set<Bufferevent>();
  #bucket: RateBucket;

  /** Creates a group with its own token bucket. */
  constructor(base: EventBase, cfg: RateLimitConfig) {
    this.#bucket = new RateBucket(base, cfg, () => {
      for (const m of this.#members) m._rateRefilled();
    });
  }

  /** Adds `bev` to the group (it leaves any other group). */
  addToGroup(bev: Bufferevent): void {
    const old = bev._rateGroup();
    if (old === this) return;
    old?.removeFromGroup(bev);
    this.#members.add(bev);
    // The bucket stopped when the last member left; an empty one must refill for this one.
    this.#bucket.resume();
    bev._setGroup(this);
  }

  /** Removes `bev` from the group. */
  removeFromGroup(bev: Bufferevent): void {
    if (this.#members.delete(bev)) bev._setGroup(null);
    if (this.#members.size === 0) this.#bucket.stop();
  }

  /** Number of members. */
  get size(): number {
    return this.#members.size;
  }

  /** A member's share of the read tokens, -1 if unlimited. @ignore */
  readAllowance(): number {
    return this.#share(this.#bucket.readAllowance());
  }

  /** A member's share of the write tokens, -1 if unlimited. @ignore */
  writeAllowance(): number {
    return this.#share(this.#bucket.writeAllowance());
  }

  /** @ignore */
  consumeRead(n: number): void {
    this.#bucket.consumeRead(n);
  }

  /** @ignore */
  consumeWrite(n: number): void {
    this.#bucket.consumeWrite(n);
  }

  /** Stops the group's timer (call when the group is no longer used). */
  free(): void {
    for (const m of [...this.#members]) this.removeFromGroup(m);
    this.#bucket.stop();
  }

  #share(total: number): number {
    if (total <= 0) return total;
    const n = Math.max(1, this.#members.size);
    return Math.min(total, Math.max(MIN_SHARE, Math.floor(total / n)));
  }
}
