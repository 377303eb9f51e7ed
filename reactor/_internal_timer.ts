/**
 * A timer for the library's own use (bufferevent and HTTP timeouts, listener back-off, DNS
 * retransmits). It lives in the base's timer set like an event's timeout but has no `Event`
 * around it, and `touch()` restarts it without touching the heap: the deadline is checked when
 * the timer fires and re-armed for the remainder then, so a read timeout costs nothing per read.
 *
 * @module
 */

import type { QueuedTimer } from "./_timers.ts";
import type { DurationQueue } from "./_timers.ts";
import type { EventBase } from "./event_base.ts";

/** @ignore */
export class InternalTimer implements QueuedTimer {
  _deadline = 0;
  _heapIdx = -1;
  _tq: DurationQueue | null = null;
  _tqPrev: QueuedTimer | null = null;
  _tqNext: QueuedTimer | null = null;
  #base: EventBase;
  #fn: () => void;
  #duration = 0;
  #start = 0;
  #on = false;

  /** `fn` runs inside the loop's timer processing when the timer expires. */
  constructor(base: EventBase, fn: () => void) {
    this.#base = base;
    this.#fn = fn;
  }

  /** Whether the timer is armed. */
  get armed(): boolean {
    return this.#on;
  }

  /** Arms (or re-arms) the timer to expire `ms` from now. */
  arm(ms: number): void {
    const base = this.#base;
    const timers = base._timers;
    if (timers.armed(this)) timers.remove(this);
    else base._nRefs++;
    this.#duration = ms;
    const now = base._monoNow();
    this.#start = now;
    this.#on = true;
    timers.insert(this, now + ms, ms);
    base._timerAdded(this._deadline);
  }

  /** Restarts the countdown from now without a heap operation (armed timers only). */
  touch(): void {
    if (this.#on) this.#start = this.#base._monoNow();
  }

  /** Disarms the timer. */
  disarm(): void {
    if (!this.#on) return;
    this.#on = false;
    const base = this.#base;
    base._timers.remove(this);
    base._nRefs--;
  }

  /** @ignore */
  _timedOut(): void {
    const base = this.#base;
    const due = this.#start + this.#duration;
    const now = base._monoNow();
    if (due > now + 0.5) {
      // Touched since it was armed: sleep for the remainder.
      base._timers.insert(this, due, this.#duration);
      return;
    }
    this.#on = false;
    base._nRefs--;
    this.#fn();
  }
}
