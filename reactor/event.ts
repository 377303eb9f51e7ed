/**
 * `Event`: one I/O, timer or signal interest, with libevent's life cycle
 * (non-pending → `add` → pending → active → callback).
 *
 * @module
 */

import { ActiveEntry } from "./_active.ts";
import type { QueuedTimer } from "./_timers.ts";
import type { DurationQueue } from "./_timers.ts";
import {
  EV_CLOSED,
  EV_ET,
  EV_PERSIST,
  EV_READ,
  EV_SIGNAL,
  EV_TIMEOUT,
  EV_WRITE,
} from "./constants.ts";
import type { EventBase } from "./event_base.ts";
import type { Socket } from "./socket.ts";

/** What an event watches: `null` for a pure timer, a signal name, or a `Socket`. */
export type EventSource = null | Deno.Signal | Socket;

/**
 * An event callback: the source, the flags that fired (`EV_READ`, `EV_TIMEOUT`, …) and the user
 * argument given at creation.
 */
export type EventCallback = (source: EventSource, what: number, arg?: unknown) => void;

const IO_MASK = EV_READ | EV_WRITE | EV_CLOSED;

/** Internal flag bits kept in `_state`. */
const ST_INSERTED = 1; // registered with its socket or signal
const ST_COUNTED = 2; // counted by the base as pending
const ST_FREED = 4;
const ST_INTERNAL = 8; // not counted for "loop has events"

/**
 * An event: a callback to run when a socket is ready, a signal arrives or a timeout expires.
 *
 * @example
 * ```ts
 * import { Event, EventBase, EV_PERSIST } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * let n = 0;
 * const ev = new Event(base, null, EV_PERSIST, () => {
 *   if (++n === 3) ev.del();
 * });
 * ev.add(10); // every 10 ms, three times
 * await base.dispatch();
 * ```
 */
export class Event extends ActiveEntry {
  /** The base this event belongs to. */
  readonly base: EventBase;
  /** What it watches: null (timer), a signal name, or a Socket. */
  readonly source: EventSource;
  /** The flags it was created with (`EV_READ | EV_PERSIST`, …). */
  readonly events: number;
  #cb: EventCallback;
  /** Bumped by every del(): a signal callback series stops when one of its calls deletes. */
  #dels = 0;
  #arg: unknown;

  /** @ignore */
  _state = 0;
  /** Result flags accumulated while active. @ignore */
  _res = 0;
  /** Signal deliveries not yet run. @ignore */
  _ncalls = 0;
  /** Timeout duration in ms, -1 when none is set. @ignore */
  _duration: number = -1;
  /** @ignore */
  _deadline = 0;
  /** @ignore */
  _heapIdx: number = -1;
  /** @ignore */
  _tq: DurationQueue | null = null;
  /** @ignore */
  _tqPrev: QueuedTimer | null = null;
  /** @ignore */
  _tqNext: QueuedTimer | null = null;

  /**
   * Creates a non-pending event. `EV_SIGNAL` needs a signal name as source and cannot be combined
   * with `EV_READ`, `EV_WRITE` or `EV_CLOSED` (TypeError).
   */
  constructor(
    base: EventBase,
    source: EventSource,
    what: number,
    cb: EventCallback,
    arg?: unknown,
  ) {
    super();
    if ((what & EV_SIGNAL) !== 0) {
      if ((what & IO_MASK) !== 0) {
        throw new TypeError("EV_SIGNAL cannot be combined with EV_READ, EV_WRITE or EV_CLOSED");
      }
      if (typeof source !== "string") throw new TypeError("EV_SIGNAL needs a signal name");
    } else if ((what & IO_MASK) !== 0) {
      if (source === null || typeof source !== "object") {
        throw new TypeError("I/O events need a Socket source");
      }
    }
    if (typeof cb !== "function") throw new TypeError("callback must be a function");
    this.base = base;
    this.source = source;
    this.events = what;
    this.#cb = cb;
    this.#arg = arg;
    this._pri = base._defaultPriority();
  }

  /**
   * Makes the event pending. With `timeoutMs` the event also fires with `EV_TIMEOUT` after that
   * many milliseconds; adding again replaces the timeout. Without it, an armed timeout stays.
   */
  add(timeoutMs?: number): void {
    if ((this._state & ST_FREED) !== 0) throw new TypeError("event has been freed");
    // Validate before changing anything: a failed add leaves the event as it was (libevent).
    if (timeoutMs !== undefined && (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs))) {
      throw new RangeError(`invalid timeout ${timeoutMs}`);
    }
    const base = this.base;
    if ((this.events & (IO_MASK | EV_SIGNAL)) !== 0 && (this._state & ST_INSERTED) === 0) {
      const counted = (this._state & ST_COUNTED) !== 0;
      this._state |= ST_INSERTED;
      this.#count();
      try {
        if ((this.events & EV_SIGNAL) !== 0) base._signalAdd(this);
        else (this.source as Socket)._register(this);
      } catch (e) {
        // A signal the runtime refuses (SIGKILL, …): not pending, not counted.
        this._state &= ~ST_INSERTED;
        if (!counted) this.#uncount();
        throw e;
      }
    }
    if (timeoutMs !== undefined) {
      const timers = base._timers;
      if (timers.armed(this)) timers.remove(this);
      else this.#count();
      // An event active only because of its timeout is taken off the active queue (libevent).
      if (this._queued && (this._res & EV_TIMEOUT) !== 0) {
        this._res &= ~EV_TIMEOUT;
        if (this._res === 0) base._deactivate(this);
      }
      this._duration = timeoutMs;
      timers.insert(this, base._monoNow() + timeoutMs, timeoutMs);
      base._timerAdded(this._deadline);
    }
  }

  /** Makes the event non-pending and non-active. Safe on an event that is not added. */
  del(): void {
    const base = this.base;
    if ((this._state & ST_INSERTED) !== 0) {
      this._state &= ~ST_INSERTED;
      if ((this.events & EV_SIGNAL) !== 0) base._signalRemove(this);
      else (this.source as Socket)._unregister(this);
    }
    base._timers.remove(this);
    this._duration = -1;
    if (this._queued) base._deactivate(this);
    this._res = 0;
    this._ncalls = 0;
    this.#dels++;
    this.#uncount();
  }

  /** Drops only the timeout; I/O or signal interest stays. */
  removeTimer(): void {
    this.base._timers.remove(this);
    this._duration = -1;
    if ((this._state & ST_INSERTED) === 0 && !this._queued) this.#uncount();
  }

  /**
   * Makes the event active with result flags `res`, as if it had fired. Flags of an already
   * active event are OR-ed. `ncalls` counts signal deliveries.
   */
  active(res: number, ncalls = 1): void {
    if ((this._state & ST_FREED) !== 0) return;
    if ((this.events & EV_SIGNAL) !== 0) this._ncalls += ncalls > 0 ? ncalls : 1;
    this.base._activate(this, res);
  }

  /**
   * Which of `what` are pending or active: registered I/O/signal flags while added, result flags
   * while active, and `EV_TIMEOUT` while a timeout is armed.
   */
  pending(what: number): number {
    let r = 0;
    if ((this._state & ST_INSERTED) !== 0) r |= this.events & (IO_MASK | EV_SIGNAL);
    if (this._queued) r |= this._res;
    if (this.base._timers.armed(this)) r |= EV_TIMEOUT;
    return r & what;
  }

  /** Absolute wall-clock time (ms since the epoch) the timeout expires at, or null if none. */
  timeoutAt(): number | null {
    if (!this.base._timers.armed(this)) return null;
    // Deadlines are on the performance.now() clock: convert with its own origin, not with a
    // cached "now" taken earlier in the pass.
    return performance.timeOrigin + this._deadline;
  }

  /** Added (I/O or signal interest registered, or a timeout armed). @ignore */
  _inserted(): boolean {
    return (this._state & ST_INSERTED) !== 0 || this.base._timers.armed(this);
  }

  /** Sets the priority (0 = most urgent); RangeError out of range or while the event is active. */
  prioritySet(pri: number): void {
    if (!Number.isInteger(pri) || pri < 0 || pri >= this.base.getNPriorities()) {
      throw new RangeError(`priority ${pri} out of range`);
    }
    if (this._queued) throw new RangeError("cannot change the priority of an active event");
    this._pri = pri;
  }

  /** The priority of this event. */
  getPriority(): number {
    return this._pri;
  }

  /** True until `free()`. */
  initialized(): boolean {
    return (this._state & ST_FREED) === 0;
  }

  /** The callback. */
  getCallback(): EventCallback {
    return this.#cb;
  }

  /** The user argument. */
  getCallbackArg(): unknown {
    return this.#arg;
  }

  /** Deletes the event and releases it. Safe inside its own callback. */
  free(): void {
    if ((this._state & ST_FREED) !== 0) return;
    this.del();
    this._state |= ST_FREED;
  }

  /** Marks the event as internal: it does not keep `loop()` from returning 1. @ignore */
  _setInternal(): void {
    if ((this._state & ST_COUNTED) !== 0) this.base._nEvents--;
    this._state |= ST_INTERNAL;
  }

  /** Called by the signal registry for each delivery. @ignore */
  _signalled(): void {
    this._ncalls++;
    this.base._activate(this, EV_SIGNAL);
  }

  /** Called by the timer pass when the timeout expired. @ignore */
  _timedOut(): void {
    this.base._activate(this, EV_TIMEOUT);
  }

  /** @ignore */
  _run(): void {
    const res = this._res;
    this._res = 0;
    const base = this.base;
    const persist = (this.events & EV_PERSIST) !== 0;
    if (!persist) {
      // Non-persistent events are non-pending before their callback runs, so it may re-add.
      const ncalls = this._ncalls;
      this.del();
      this._ncalls = ncalls;
    } else if (this._duration >= 0) {
      const timers = base._timers;
      const now = base._monoNow();
      let next: number;
      if ((res & EV_TIMEOUT) !== 0 && !timers.armed(this)) {
        // Drift-free period; after a stall, fire once and realign rather than catch up.
        next = this._deadline + this._duration;
        if (next <= now) next = now + this._duration;
      } else {
        next = now + this._duration;
      }
      if (timers.armed(this)) timers.remove(this);
      timers.insert(this, next, this._duration);
      base._timerAdded(this._deadline);
    }
    if ((this.events & EV_SIGNAL) !== 0) {
      let n = this._ncalls;
      this._ncalls = 0;
      // A timeout is one call (libevent activates it with ncalls 1: `signal_timeout`).
      if (n === 0 && (res & EV_TIMEOUT) !== 0) n = 1;
      // libevent runs the callback ncalls times; a loopbreak, or a del()/free() from one of
      // the calls, ends the series (a series on an event that was never added runs whole).
      const dels = this.#dels;
      while (n-- > 0) {
        base._invoke(this.#cb, this.source, res, this.#arg);
        if (base._breakRequested() || this.#dels !== dels) break;
      }
      if (!persist) this._ncalls = 0;
      this.#uncountIfIdle();
      return;
    }
    base._invoke(this.#cb, this.source, res, this.#arg);
    if ((this.events & IO_MASK) !== 0) {
      (this.source as Socket)._recheck(
        this,
        persist && (this._state & ST_INSERTED) !== 0 && (this.events & EV_ET) === 0,
      );
    }
    this.#uncountIfIdle();
  }

  /**
   * After a run: an event neither added, armed nor active again (its timeout removed before it
   * ran, say) no longer keeps the loop from returning.
   */
  #uncountIfIdle(): void {
    if (
      (this._state & (ST_COUNTED | ST_INSERTED)) === ST_COUNTED && !this._queued &&
      !this.base._timers.armed(this)
    ) this.#uncount();
  }

  #count(): void {
    if ((this._state & ST_COUNTED) === 0) {
      this._state |= ST_COUNTED;
      if ((this._state & ST_INTERNAL) === 0) this.base._nEvents++;
    }
  }

  #uncount(): void {
    if ((this._state & ST_COUNTED) !== 0) {
      this._state &= ~ST_COUNTED;
      if ((this._state & ST_INTERNAL) === 0) this.base._nEvents--;
    }
  }
}

/**
 * A pure timer event (libevent's `evtimer_new`): one-shot; `add(ms)` arms it.
 *
 * @example
 * ```ts
 * import { EventBase, evtimerNew } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * evtimerNew(base, () => console.log("fired")).add(100);
 * await base.dispatch();
 * ```
 */
export function evtimerNew(base: EventBase, cb: EventCallback, arg?: unknown): Event {
  return new Event(base, null, 0, cb, arg);
}

/**
 * A signal event (libevent's `evsignal_new`): `EV_SIGNAL | EV_PERSIST`.
 *
 * @example
 * ```ts
 * import { EventBase, evsignalNew } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * const ev = evsignalNew(base, "SIGINT", () => base.loopbreak());
 * ev.add();
 * ```
 */
export function evsignalNew(
  base: EventBase,
  signal: Deno.Signal,
  cb: EventCallback,
  arg?: unknown,
): Event {
  return new Event(base, signal, EV_SIGNAL | EV_PERSIST, cb, arg);
}
