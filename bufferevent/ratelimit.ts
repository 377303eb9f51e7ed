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
 * The largest rate, burst or bucket level (libevent's `EV_RATE_LIMIT_MAX`, there `EV_SSIZE_MAX`);
 * `getReadLimit()` and friends return it when a direction is unlimited.
 *
 * @example
 * ```ts
 * import { Bufferevent, EV_RATE_LIMIT_MAX } from "@evdeno/evdeno/bufferevent";
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * const [a, b] = Bufferevent.pairNew(base);
 * console.log(a.getReadLimit() === EV_RATE_LIMIT_MAX); // true: no limit set
 * a.free();
 * b.free();
 * ```
 */
export const EV_RATE_LIMIT_MAX: number = Number.MAX_SAFE_INTEGER;

/** Longest tick: libevent refuses ticks whose milliseconds overflow an int. */
const MAX_TICK_MS = 2147483647;

function checkAmount(name: string, v: number): void {
  // 0 and Infinity are evdeno's spellings of "unlimited"; anything else must be a whole byte
  // count (libevent's are size_t): a fractional level would size a read or write under one byte,
  // and a zero-length read reads as the end of the stream.
  if (v !== Infinity && !(Number.isSafeInteger(v) && v >= 0)) {
    throw new RangeError(
      `${name} must be a whole byte count between 0 and EV_RATE_LIMIT_MAX, or Infinity`,
    );
  }
}

/**
 * Makes a rate-limit configuration (libevent's `ev_token_bucket_cfg_new`, with the tick in ms).
 * Like libevent it refuses (here: throws `RangeError`) a tick under 1 ms or over 2^31−1 ms, a
 * burst smaller than its rate, and amounts over `EV_RATE_LIMIT_MAX`; amounts must also be whole
 * byte counts (libevent's are `size_t`), or `Infinity`. A rate of 0 or `Infinity` leaves that
 * direction unlimited.
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
  // Sub-millisecond ticks: libevent's tick granularity is 1 ms and it refuses a 0 ms tick
  // (`test ratelimit_div_by_zero`); a shorter one here would spin the refill timer.
  if (!(tickMs >= 1 && tickMs <= MAX_TICK_MS)) {
    throw new RangeError("tickMs must be between 1 and 2147483647");
  }
  checkAmount("readRate", readRate);
  checkAmount("readBurst", readBurst);
  checkAmount("writeRate", writeRate);
  checkAmount("writeBurst", writeBurst);
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

  /** The configuration in force. */
  get cfg(): RateLimitConfig {
    return this.#cfg;
  }

  /**
   * Switches to `cfg` keeping the levels, clipped down to the new bursts (libevent's
   * reinitialisation: tokens spent this tick stay spent). A direction that was unlimited counts
   * as full. Only a new tick length restarts the tick count and the refill timer.
   */
  setCfg(cfg: RateLimitConfig): void {
    this.#update();
    const old = this.#cfg;
    this.#cfg = cfg;
    // An unlimited direction's stored level means nothing (0 for a rate of 0): what it reports,
    // EV_RATE_LIMIT_MAX, is what gets clipped, as libevent's reinit clips a full bucket.
    if (unlimited(old.readRate)) this.#read = EV_RATE_LIMIT_MAX;
    if (unlimited(old.writeRate)) this.#write = EV_RATE_LIMIT_MAX;
    if (this.#read > cfg.readBurst) this.#read = cfg.readBurst;
    if (this.#write > cfg.writeBurst) this.#write = cfg.writeBurst;
    if (cfg.tickMs !== old.tickMs) {
      this.#start = performance.now();
      this.#tick = 0;
      this.#timer.disarm();
    }
    // Same tick: the armed refill stays (libevent keeps its refill event), or adjusting the
    // configuration more often than the tick would put every refill off for ever.
    if (this.#starved()) this.#schedule();
  }

  /** The read bucket's level (may be negative), `EV_RATE_LIMIT_MAX` if unlimited. */
  readLevel(): number {
    if (unlimited(this.#cfg.readRate)) return EV_RATE_LIMIT_MAX;
    this.#update();
    return this.#read;
  }

  /** The write bucket's level (may be negative), `EV_RATE_LIMIT_MAX` if unlimited. */
  writeLevel(): number {
    if (unlimited(this.#cfg.writeRate)) return EV_RATE_LIMIT_MAX;
    this.#update();
    return this.#write;
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

  /** Takes `n` read tokens (a negative `n` gives them back, as libevent's decrement does). */
  consumeRead(n: number): void {
    if (unlimited(this.#cfg.readRate)) return;
    this.#update();
    this.#read -= n;
    if (this.#read <= 0) this.#schedule();
  }

  /** Takes `n` write tokens (a negative `n` gives them back). */
  consumeWrite(n: number): void {
    if (unlimited(this.#cfg.writeRate)) return;
    this.#update();
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
const MIN_SHARE_DEFAULT = 64;

/**
 * A group's byte counters (libevent's `bufferevent_rate_limit_group_get_totals`).
 * @example `const { read, written } = group.getTotals()`
 */
export interface RateLimitGroupTotals {
  /** Bytes the members read since the group was made or `resetTotals()`. */
  readonly read: number;
  /** Bytes the members wrote since the group was made or `resetTotals()`. */
  readonly written: number;
}

/**
 * A rate limit shared by several bufferevents (libevent's `bufferevent_rate_limit_group`): the
 * group's tokens are divided among its members, each taking at most its share (the group's
 * level divided by the member count, but at least the minimum share) per read or write.
 *
 * @example
 * ```ts
 * import { BuffereventRateLimitGroup, evTokenBucketCfgNew } from "@evdeno/evdeno/bufferevent";
 * import { EventBase } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * const group = new BuffereventRateLimitGroup(base, evTokenBucketCfgNew(1e6, 1e6, 1e6, 1e6));
 * // group.addToGroup(bev) for each connection that shares the 1 MB/s.
 * console.log(group.getTotals()); // { read: 0, written: 0 }
 * group.free();
 * ```
 */
export class BuffereventRateLimitGroup {
  #members = new Set<Bufferevent>();
  #bucket: RateBucket;
  #configuredMinShare = MIN_SHARE_DEFAULT;
  #minShare = MIN_SHARE_DEFAULT;
  #totalRead = 0;
  #totalWritten = 0;

  /** Creates a group with its own token bucket. */
  constructor(base: EventBase, cfg: RateLimitConfig) {
    this.#bucket = new RateBucket(base, cfg, () => this.#notifyMembers());
    this.setMinShare(MIN_SHARE_DEFAULT);
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

  /**
   * Changes the group's configuration (libevent's `bufferevent_rate_limit_group_set_cfg`): the
   * levels are kept, clipped down to the new bursts, and the minimum share is re-applied.
   */
  setCfg(cfg: RateLimitConfig): void {
    this.#bucket.setCfg(cfg);
    this.setMinShare(this.#configuredMinShare);
    this.#notifyMembers();
  }

  /**
   * Sets the smallest share of the group's tokens a member may take per read or write (default
   * 64 bytes; libevent's `bufferevent_rate_limit_group_set_min_share`). As in libevent it is
   * capped by the rates, so at least one member can go each tick.
   */
  setMinShare(share: number): void {
    if (!Number.isInteger(share) || share < 0 || share > EV_RATE_LIMIT_MAX) {
      throw new RangeError("share must be a byte count");
    }
    this.#configuredMinShare = share;
    const cfg = this.#bucket.cfg;
    if (!unlimited(cfg.readRate) && share > cfg.readRate) share = cfg.readRate;
    if (!unlimited(cfg.writeRate) && share > cfg.writeRate) share = cfg.writeRate;
    this.#minShare = share;
  }

  /** The group's read bucket level (may be negative), `EV_RATE_LIMIT_MAX` if unlimited. */
  getReadLimit(): number {
    return this.#bucket.readLevel();
  }

  /** The group's write bucket level (may be negative), `EV_RATE_LIMIT_MAX` if unlimited. */
  getWriteLimit(): number {
    return this.#bucket.writeLevel();
  }

  /**
   * Takes `n` read tokens from the group by hand (a negative `n` adds them); members are
   * suspended or resumed to match (libevent's `bufferevent_rate_limit_group_decrement_read`).
   */
  decrementRead(n: number): void {
    checkDecrement(n);
    this.#bucket.consumeRead(n);
    this.#notifyMembers();
  }

  /** Takes `n` write tokens from the group by hand (a negative `n` adds them). */
  decrementWrite(n: number): void {
    checkDecrement(n);
    this.#bucket.consumeWrite(n);
    this.#notifyMembers();
  }

  /** Bytes the members read and wrote (libevent's `bufferevent_rate_limit_group_get_totals`). */
  getTotals(): RateLimitGroupTotals {
    return { read: this.#totalRead, written: this.#totalWritten };
  }

  /** Zeroes the byte counters. */
  resetTotals(): void {
    this.#totalRead = 0;
    this.#totalWritten = 0;
  }

  /** A member's share of the read tokens, -1 if unlimited. @ignore */
  readAllowance(): number {
    return this.#share(this.#bucket.readAllowance());
  }

  /** A member's share of the write tokens, -1 if unlimited. @ignore */
  writeAllowance(): number {
    return this.#share(this.#bucket.writeAllowance());
  }

  /**
   * A member read `n` bytes and is charged `charge` tokens (less for a read posted before the
   * limits changed); the totals count the bytes. @ignore
   */
  consumeRead(n: number, charge: number = n): void {
    this.#totalRead += n;
    this.#bucket.consumeRead(charge);
  }

  /** The same for `n` bytes written. @ignore */
  consumeWrite(n: number, charge: number = n): void {
    this.#totalWritten += n;
    this.#bucket.consumeWrite(charge);
  }

  /** Stops the group's timer (call when the group is no longer used). */
  free(): void {
    for (const m of [...this.#members]) this.removeFromGroup(m);
    this.#bucket.stop();
  }

  #notifyMembers(): void {
    for (const m of this.#members) m._rateRefilled();
  }

  #share(total: number): number {
    if (total <= 0) return total;
    const n = Math.max(1, this.#members.size);
    // At least 1 while tokens remain: a zero share would suspend members with no refill coming.
    return Math.min(total, Math.max(this.#minShare, Math.floor(total / n), 1));
  }
}

/** A manual decrement must be a whole number of bytes. @ignore */
export function checkDecrement(n: number): void {
  if (!Number.isSafeInteger(n)) throw new RangeError("a decrement must be a whole byte count");
}
