/**
 * `EventBase`: the reactor loop. It waits on one promise that whichever completion comes first
 * resolves, runs the highest-priority active queue each pass, and keeps the process alive only
 * while `loop()` runs.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { type ActiveEntry, ActiveQueue } from "./_active.ts";
import { SignalRegistry } from "./_signals.ts";
import { TimerSet } from "./_timers.ts";
import {
  EV_CLOSED,
  EV_PERSIST,
  EV_READ,
  EV_SIGNAL,
  EV_TIMEOUT,
  EV_WRITE,
  EVENT_LOG_ERR,
  EVENT_MAX_PRIORITIES,
  EVLOOP_NO_EXIT_ON_EMPTY,
  EVLOOP_NONBLOCK,
  EVLOOP_ONCE,
} from "./constants.ts";
import { EvError } from "./errors.ts";
import { Event, type EventCallback, type EventSource } from "./event.ts";

/** Something the base re-polls at the start of the next pass (level-triggered readiness). @ignore */
export interface Pollable {
  _pollScheduled: boolean;
  _prepoll(): void;
}

/** Options for `new EventBase()`. */
export interface EventBaseOptions {
  /** Number of priority queues (default 1; libevent's `event_base_priority_init`). */
  priorities?: number;
}

/** A Deno resource whose pending operations can be ref'ed and unref'ed. @ignore */
export interface RefCountedResource {
  ref(): void;
  unref(): void;
}

/** Log callback: severity (`EVENT_LOG_*`) and message. */
export type LogCallback = (severity: number, msg: string) => void;

const noop = () => {};
const KEEPALIVE_MS = 0x7fffffff;
/** The longest delay a runtime timer takes. */
const MAX_TIMER_MS = 0x7fffffff;

function yieldMacrotask(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * The event loop (libevent's `event_base`).
 *
 * @example
 * ```ts
 * import { EventBase, evtimerNew } from "@evdeno/evdeno/reactor";
 * const base = new EventBase();
 * evtimerNew(base, () => console.log("one second later")).add(1000);
 * const r = await base.dispatch(); // 1: no more events
 * base.free();
 * ```
 */
export class EventBase {
  /** @ignore */
  _queues: ActiveQueue[] = [new ActiveQueue()];
  /** Active entries across all queues. @ignore */
  _nActive = 0;
  #nEvents = 0;
  #nRefs = 0;
  /** @ignore */
  _timers: TimerSet = new TimerSet();
  #signals: SignalRegistry;
  #sockets = new Set<{ _events(): Iterable<Event> }>();
  #polls: Pollable[] = [];
  #running = false;
  #freed = false;
  #gotExit = false;
  #gotBreak = false;
  #continue = false;
  #runningPri = EVENT_MAX_PRIORITIES;
  #waitResolve: (() => void) | null = null;
  #timerId = 0;
  #armedDeadline = Infinity;
  #inPass = false;
  /** Deferred callbacks activated during the current pass: they run in the next one. */
  #later = new ActiveQueue();
  #cachedWall = 0;
  #cachedMono = 0;
  #log: LogCallback | null = null;
  /** Resources with I/O in flight on behalf of this base (connections, listeners). */
  #resources = new Set<RefCountedResource>();
  /** Whether those resources are currently unref'ed (the loop is not running). */
  #resUnrefed = true;
  #unrefTimer = 0;
  #exitCb: EventCallback;
  #timerFired: () => void;
  /** Bound once: a wait allocates only its promise, not an executor closure. */
  #waitExecutor: (resolve: () => void) => void;

  /** Creates a base with `opts.priorities` priority queues (default 1). */
  constructor(opts?: EventBaseOptions) {
    this.#signals = new SignalRegistry(() => this._wake());
    this.#exitCb = () => {
      this.#gotExit = true;
    };
    this.#waitExecutor = (resolve) => {
      this.#waitResolve = resolve;
    };
    this.#timerFired = () => {
      this.#timerId = 0;
      this.#armedDeadline = Infinity;
      this._wake();
    };
    if (opts?.priorities !== undefined) this.priorityInit(opts.priorities);
  }

  /**
   * Runs the loop. Resolves 0 when it stopped through `loopexit`/`loopbreak`/`EVLOOP_ONCE`/
   * `EVLOOP_NONBLOCK`, 1 when no events were pending or active. Throws if the loop is already
   * running (for example when called from a callback) or the base was freed.
   */
  loop(flags = 0): Promise<number> {
    if (this.#freed) throw new EvError("loop() on a freed EventBase");
    if (this.#running) throw new EvError("loop() called while the loop is already running");
    return this.#loop(flags);
  }

  /** `loop(0)`: runs until no events remain or `loopexit`/`loopbreak`. */
  dispatch(): Promise<number> {
    return this.loop(0);
  }

  /**
   * Exits the loop after the current pass (no delay) or after `delayMs`. Before `loop()` runs,
   * the next `loop()` runs one pass and exits. Several pending exits: the earliest wins.
   */
  loopexit(delayMs?: number): void {
    this.once(null, EV_TIMEOUT, this.#exitCb, undefined, delayMs);
  }

  /** Exits right after the callback that is running; the other active events stay active. */
  loopbreak(): void {
    if (!this.#running) return;
    this.#gotBreak = true;
    this._wake();
  }

  /** Stops draining the active queue after the current callback and polls again. */
  loopcontinue(): void {
    if (this.#running) this.#continue = true;
  }

  /** True once a `loopexit` took effect, until the loop is entered again. */
  gotExit(): boolean {
    return this.#gotExit;
  }

  /** True once `loopbreak` took effect, until the loop is entered again. */
  gotBreak(): boolean {
    return this.#gotBreak;
  }

  /**
   * Sets the number of priority queues (1–255). Throws RangeError out of range or while any event
   * is active. New events get priority `Math.floor(n / 2)`.
   */
  priorityInit(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n >= EVENT_MAX_PRIORITIES) {
      throw new RangeError(`priorityInit(${n}): need 1 to ${EVENT_MAX_PRIORITIES - 1}`);
    }
    if (this._nActive > 0) throw new RangeError("priorityInit() while events are active");
    const q: ActiveQueue[] = [];
    for (let i = 0; i < n; i++) q.push(new ActiveQueue());
    this._queues = q;
  }

  /** Number of priority queues. */
  getNPriorities(): number {
    return this._queues.length;
  }

  /**
   * A one-shot event that frees itself after running (libevent's `event_base_once`). A pure
   * `EV_TIMEOUT` without a timeout runs on the next pass, in call order. Throws TypeError for
   * `EV_SIGNAL`, `EV_PERSIST`, or no `EV_TIMEOUT`/`EV_READ`/`EV_WRITE`/`EV_CLOSED` at all.
   */
  once(
    source: EventSource,
    what: number,
    cb: EventCallback,
    arg?: unknown,
    timeoutMs?: number,
  ): void {
    if ((what & (EV_SIGNAL | EV_PERSIST)) !== 0) {
      throw new TypeError("once() does not take EV_SIGNAL or EV_PERSIST");
    }
    if ((what & (EV_TIMEOUT | EV_READ | EV_WRITE | EV_CLOSED)) === 0) {
      throw new TypeError("once() needs EV_TIMEOUT, EV_READ, EV_WRITE or EV_CLOSED");
    }
    const ev: Event = new Event(this, source, what & ~EV_TIMEOUT, (s, w, a) => {
      ev.free();
      cb(s, w, a);
    }, arg);
    if ((what & (EV_READ | EV_WRITE | EV_CLOSED)) === 0 && !(timeoutMs! > 0)) {
      ev.active(EV_TIMEOUT);
    } else {
      ev.add(timeoutMs);
    }
  }

  /** Wall-clock ms since the epoch, cached at the start of each pass (real time outside one). */
  gettimeofdayCached(): number {
    if (!this.#inPass) return Date.now();
    // Read on first use in a pass: most passes never ask, and Date.now() is not free.
    if (this.#cachedWall < 0) this.#cachedWall = Date.now();
    return this.#cachedWall;
  }

  /** Refreshes the cached time (libevent's `event_base_update_cache_time`). */
  updateCacheTime(): void {
    if (this.#inPass) {
      this.#cachedWall = Date.now();
      this.#cachedMono = performance.now();
    }
  }

  /** The backend's name: always `"deno"`. */
  getMethod(): string {
    return "deno";
  }

  /** Number of pending and active user events (for diagnostics and tests). */
  getNumEvents(): number {
    return this._nEvents;
  }

  /** Inserted and active events, one per line (format not stable, as in libevent). */
  dump(): string {
    const lines = ["Inserted events:"];
    const active: Event[] = [];
    this.foreachEvent((ev) => {
      if (ev._queued) active.push(ev);
      if (!ev._inserted()) return;
      let s = `  ${describeSource(ev.source)}`;
      if ((ev.events & EV_READ) !== 0) s += " Read";
      if ((ev.events & EV_WRITE) !== 0) s += " Write";
      if ((ev.events & EV_CLOSED) !== 0) s += " EOF";
      if ((ev.events & EV_SIGNAL) !== 0) s += " Signal";
      if ((ev.events & EV_PERSIST) !== 0) s += " Persist";
      const at = ev.timeoutAt();
      if (at !== null) s += ` Timeout=${(at / 1000).toFixed(6)}`;
      lines.push(s);
    });
    lines.push("Active events:");
    for (const ev of active) {
      let s = `  [${describeSource(ev.source).slice(1, -1)}, priority=${ev._pri}]`;
      if ((ev._res & EV_READ) !== 0) s += " Read";
      if ((ev._res & EV_WRITE) !== 0) s += " Write";
      if ((ev._res & EV_CLOSED) !== 0) s += " EOF";
      if ((ev._res & EV_SIGNAL) !== 0) s += " Signal";
      if ((ev._res & EV_TIMEOUT) !== 0) s += " Timeout";
      lines.push(s + " active");
    }
    return lines.join("\n") + "\n";
  }

  /**
   * Calls `fn` once for every added or active event (I/O and signal events, then timers, then
   * active-only ones). Returning `true` stops the walk. `fn` must not add or delete events.
   */
  foreachEvent(fn: (ev: Event) => boolean | void): void {
    const seen = new Set<Event>();
    const visit = (ev: Event): boolean => {
      if (seen.has(ev)) return false;
      seen.add(ev);
      return fn(ev) === true;
    };
    for (const s of this.#sockets) {
      for (const ev of s._events()) if (visit(ev)) return;
    }
    for (const t of this.#signals.targets()) if (visit(t as Event)) return;
    for (const t of this._timers.all()) {
      if (t instanceof Event && visit(t)) return;
    }
    for (const q of this._queues) {
      for (let e = q.head; e !== null; e = e._anext) {
        if (e instanceof Event && visit(e)) return;
      }
    }
  }

  /** Replaces the log callback (`null` restores the default: warnings and errors to stderr). */
  setLogCallback(cb: LogCallback | null): void {
    this.#log = cb;
  }

  /**
   * Deletes every event, removes signal listeners and timers. The base holds nothing afterwards;
   * sockets are not closed (as in libevent).
   */
  free(): void {
    if (this.#freed) return;
    const all: Event[] = [];
    this.foreachEvent((ev) => {
      all.push(ev);
    });
    for (const ev of all) ev.del();
    for (const q of this._queues) {
      let e: ActiveEntry | null;
      while ((e = q.head) !== null) {
        q.unlink(e);
        e._queued = false;
      }
    }
    let l: ActiveEntry | null;
    while ((l = this.#later.head) !== null) {
      this.#later.unlink(l);
      l._queued = l._inLater = false;
    }
    this._nActive = 0;
    this.#signals.clear();
    this.#clearTimer();
    if (this.#unrefTimer !== 0) clearTimeout(this.#unrefTimer);
    this.#unrefTimer = 0;
    this.#unrefAll();
    this.#resources.clear();
    this.#polls.length = 0;
    this.#freed = true;
    this.#gotBreak = true;
    this._wake();
  }

  // ---- internal interface for events, sockets and the layers above ----

  /** Pending (added) user events. @ignore */
  get _nEvents(): number {
    return this.#nEvents;
  }
  set _nEvents(n: number) {
    this.#nEvents = n;
    // Dropping to nothing from outside a callback: a waiting loop must notice and return.
    if (n === 0 && this.#nRefs === 0) this._wake();
  }

  /** Internal holds that keep the loop alive (bufferevents, listeners, timers). @ignore */
  get _nRefs(): number {
    return this.#nRefs;
  }
  set _nRefs(n: number) {
    this.#nRefs = n;
    if (n === 0 && this.#nEvents === 0) this._wake();
  }

  /** @ignore */
  _defaultPriority(): number {
    return this._queues.length >> 1;
  }

  /** Monotonic ms, cached during a pass. @ignore */
  _monoNow(): number {
    return this.#inPass ? this.#cachedMono : performance.now();
  }

  /**
   * Registers a resource whose pending reads keep the process alive only while `loop()` runs.
   * Deno charges an extra op for every operation on an unref'ed resource (measured: 25 % of
   * echo throughput), so resources stay ref'ed while the loop runs and are unref'ed together
   * when it has returned.
   * @ignore
   */
  _trackResource(r: RefCountedResource): void {
    if (this.#resources.has(r)) return;
    this.#resources.add(r);
    if (this.#resUnrefed) {
      try {
        r.unref();
      } catch { /* closed */ }
    }
  }

  /** @ignore */
  _untrackResource(r: RefCountedResource): void {
    this.#resources.delete(r);
  }

  #refResources(): void {
    if (this.#unrefTimer !== 0) {
      clearTimeout(this.#unrefTimer);
      this.#unrefTimer = 0;
    }
    if (!this.#resUnrefed) return;
    this.#resUnrefed = false;
    for (const r of this.#resources) {
      try {
        r.ref();
      } catch { /* closed meanwhile */ }
    }
  }

  /** Unref's the resources once the loop has stayed stopped for a macrotask. */
  #scheduleUnref(): void {
    if (this.#resUnrefed || this.#unrefTimer !== 0) return;
    this.#unrefTimer = setTimeout(this.#unrefNow, 0) as unknown as number;
    Deno.unrefTimer(this.#unrefTimer);
  }

  #unrefNow = (): void => {
    this.#unrefTimer = 0;
    if (!this.#running) this.#unrefAll();
  };

  #unrefAll(): void {
    this.#resUnrefed = true;
    for (const r of this.#resources) {
      try {
        r.unref();
      } catch { /* closed meanwhile */ }
    }
  }

  /** Whether a pass (callbacks) is running. @ignore */
  _inPass(): boolean {
    return this.#inPass;
  }

  /** Whether `loop()` is running. @ignore */
  _isRunning(): boolean {
    return this.#running;
  }

  /** @ignore */
  _breakRequested(): boolean {
    return this.#gotBreak;
  }

  /** Activates an event with result flags `res` (OR-ed if already active). @ignore */
  _activate(ev: Event, res: number): void {
    ev._res |= res;
    if (!ev._queued) this._activateEntry(ev);
  }

  /** Links an internal entry into its priority's active queue. @ignore */
  _activateEntry(e: ActiveEntry): void {
    if (e._queued || this.#freed) return;
    e._queued = true;
    if (e._later && this.#inPass) {
      // Deferred callbacks scheduled by a pass run in the next one (after timers and I/O get a
      // turn), as libevent's do: a pair whose write callback refills what the other end's read
      // callback drains would otherwise keep one pass (and the whole runtime) busy for ever.
      e._inLater = true;
      this.#later.push(e);
      this._nActive++;
      return;
    }
    let pri = e._pri;
    const qs = this._queues;
    if (pri >= qs.length) pri = e._pri = qs.length - 1;
    qs[pri]!.push(e);
    this._nActive++;
    // Only while a queue is being run: a more urgent entry preempts it (libevent's rule). An
    // entry activated between passes (an I/O completion) must not cut the next pass short.
    const running = this.#runningPri;
    if (running !== EVENT_MAX_PRIORITIES && pri < running) this.#continue = true;
    if (this.#waitResolve !== null) this._wake();
  }

  /** @ignore */
  _deactivate(e: ActiveEntry): void {
    if (!e._queued) return;
    if (e._inLater) {
      this.#later.unlink(e);
      e._inLater = false;
    } else this._queues[e._pri]!.unlink(e);
    e._queued = false;
    this._nActive--;
  }

  /** Re-polls `p` at the start of the next pass. @ignore */
  _schedulePoll(p: { _pollScheduled: boolean; _prepoll(): void }): void {
    if (p._pollScheduled || this.#freed) return;
    p._pollScheduled = true;
    this.#polls.push(p);
    if (this.#waitResolve !== null) this._wake();
  }

  /** Wakes a waiting loop. @ignore */
  _wake(): void {
    const r = this.#waitResolve;
    if (r !== null) {
      this.#waitResolve = null;
      r();
    }
  }

  /** A timer was armed at `deadline`: make a waiting loop re-arm if it is earlier. @ignore */
  _timerAdded(deadline: number): void {
    if (this.#waitResolve !== null && deadline < this.#armedDeadline) this._wake();
  }

  /** @ignore */
  _signalAdd(ev: Event): void {
    this.#signals.add(ev.source as Deno.Signal, ev);
  }

  /** @ignore */
  _signalRemove(ev: Event): void {
    this.#signals.remove(ev.source as Deno.Signal, ev);
  }

  /** Tracks a socket with registered events (for `foreachEvent`). @ignore */
  _socketTrack(s: { _events(): Iterable<Event> }, on: boolean): void {
    if (on) this.#sockets.add(s);
    else this.#sockets.delete(s);
  }

  /** Runs a user callback, logging instead of propagating what it throws. @ignore */
  _invoke(cb: EventCallback, source: EventSource, what: number, arg: unknown): void {
    try {
      cb(source, what, arg);
    } catch (e) {
      this._reportError(e);
    }
  }

  /** Logs an exception thrown by a user callback. @ignore */
  _reportError(e: unknown): void {
    const msg = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
    this._log(EVENT_LOG_ERR, `callback threw: ${msg}`);
  }

  /** @ignore */
  _log(severity: number, msg: string): void {
    const cb = this.#log;
    if (cb !== null) {
      try {
        cb(severity, msg);
      } catch {
        // A throwing log callback must not take the loop down either.
      }
    } else if (severity >= 2) {
      console.error(`[evdeno] ${msg}`);
    }
  }

  // ---- the loop ----

  async #loop(flags: number): Promise<number> {
    this.#running = true;
    this.#gotExit = false;
    this.#gotBreak = false;
    this.#refResources();
    const keepalive = setInterval(noop, KEEPALIVE_MS);
    let ret = 0;
    let ranAny = false;
    let first = true;
    try {
      for (;;) {
        this.#continue = false;
        if (this.#gotExit || this.#gotBreak) break;
        const work = this._nActive > 0 || this.#polls.length > 0;
        if (
          !work && this._nEvents === 0 && this._nRefs === 0 &&
          (flags & EVLOOP_NO_EXIT_ON_EMPTY) === 0
        ) {
          ret = 1;
          break;
        }
        if ((flags & EVLOOP_NONBLOCK) !== 0) {
          if (!work || !first) await yieldMacrotask();
        } else if (work) {
          if (!first) await yieldMacrotask();
        } else if (this.#armWait()) {
          await yieldMacrotask();
        } else {
          // Not an async helper: one promise per wait, no extra frames or hops to resume.
          await new Promise<void>(this.#waitExecutor);
        }
        first = false;
        if (this.#gotBreak || this.#freed) break;
        if (this.#pass()) ranAny = true;
        if ((flags & EVLOOP_ONCE) !== 0 && ranAny && this._nActive === 0) break;
        if ((flags & EVLOOP_NONBLOCK) !== 0) break;
      }
    } finally {
      clearInterval(keepalive);
      this.#clearTimer();
      this.#running = false;
      this.#scheduleUnref();
      this.#inPass = false;
      this.#runningPri = EVENT_MAX_PRIORITIES;
    }
    return ret;
  }

  /** Arms the runtime timer for the earliest deadline before a wait; true if one is due. */
  #armWait(): boolean {
    const d = this._timers.earliest();
    if (d !== Infinity) {
      const now = performance.now();
      if (d <= now) return true;
      if (d < this.#armedDeadline) {
        if (this.#timerId !== 0) clearTimeout(this.#timerId);
        // Runtime timers take at most 2^31 - 1 ms (longer ones fire at once): wake at that
        // bound and re-arm, rather than spin.
        const ms = Math.min(Math.ceil(d - now), MAX_TIMER_MS);
        this.#timerId = setTimeout(this.#timerFired, ms) as unknown as number;
        Deno.unrefTimer(this.#timerId);
        this.#armedDeadline = d;
      }
    }
    return false;
  }

  #clearTimer(): void {
    if (this.#timerId !== 0) clearTimeout(this.#timerId);
    this.#timerId = 0;
    this.#armedDeadline = Infinity;
  }

  /** One pass: refresh the time, re-poll level-triggered sources, expire timers, run one queue. */
  #pass(): boolean {
    if (this.#later.head !== null) this.#admitLater();
    this.#inPass = true;
    this.#cachedWall = -1;
    const now = this.#cachedMono = performance.now();
    const polls = this.#polls;
    if (polls.length > 0) {
      this.#polls = [];
      for (let i = 0; i < polls.length; i++) {
        const p = polls[i]!;
        p._pollScheduled = false;
        p._prepoll();
      }
    }
    const timers = this._timers;
    if (timers.size > 0) {
      let t;
      while ((t = timers.popExpired(now)) !== null) t._timedOut();
    }
    let ran = false;
    const qs = this._queues;
    for (let pri = 0; pri < qs.length; pri++) {
      const q = qs[pri]!;
      if (q.head === null) continue;
      ran = true;
      this.#runningPri = pri;
      let e: ActiveEntry | null;
      while ((e = q.head) !== null) {
        q.unlink(e);
        e._queued = false;
        this._nActive--;
        e._run();
        if (this.#gotBreak || this.#continue) break;
      }
      this.#runningPri = EVENT_MAX_PRIORITIES;
      break;
    }
    this.#inPass = false;
    return ran;
  }

  /** Moves the deferred callbacks of the previous pass into their priority queues. */
  #admitLater(): void {
    const later = this.#later;
    const qs = this._queues;
    let e: ActiveEntry | null;
    while ((e = later.head) !== null) {
      later.unlink(e);
      e._inLater = false;
      let pri = e._pri;
      if (pri >= qs.length) pri = e._pri = qs.length - 1;
      qs[pri]!.push(e);
    }
  }
}

function describeSource(s: EventSource): string {
  if (s === null) return "[timer]";
  if (typeof s === "string") return `[sig ${s}]`;
  return `[${s.toString()}]`;
}
