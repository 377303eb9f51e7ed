/**
 * Timer storage: one binary min-heap plus FIFO queues for repeated identical durations (libevent's
 * "common timeouts", made automatic). A queue holds timers of one duration in insertion order, so
 * their deadlines are already sorted; only the queue's head sits in the heap. Adding or removing
 * such a timer is O(1) instead of O(log n).
 *
 * @module
 */

/** A timer as the heap sees it. @ignore */
export interface TimerNode {
  /** Absolute monotonic deadline, ms. */
  _deadline: number;
  /** Index in the heap array, -1 when not in the heap. */
  _heapIdx: number;
}

/** A timer that can live in a duration queue. @ignore */
export interface QueuedTimer extends TimerNode {
  /** Runs when the deadline passed (the timer is already disarmed). */
  _timedOut(): void;
  _tq: DurationQueue | null;
  _tqPrev: QueuedTimer | null;
  _tqNext: QueuedTimer | null;
}

/** Timers sharing one duration, oldest first; in the heap by its head's deadline. @ignore */
export class DurationQueue implements TimerNode {
  _deadline = Infinity;
  _heapIdx = -1;
  head: QueuedTimer | null = null;
  tail: QueuedTimer | null = null;
  constructor(readonly duration: number) {}
}

/** Most distinct durations that get a queue of their own; the rest go to the heap. */
const MAX_QUEUES = 256;

/**
 * The timer set of one base.
 *
 * @ignore
 */
export class TimerSet {
  #heap: TimerNode[] = [];
  #queues = new Map<number, DurationQueue>();
  #count = 0;

  /** Number of armed timers. */
  get size(): number {
    return this.#count;
  }

  /** Earliest deadline, or Infinity. */
  earliest(): number {
    const h = this.#heap;
    return h.length === 0 ? Infinity : h[0]!._deadline;
  }

  /** Arms `t` at `deadline`, which is `duration` ms from now. `t` must not be armed. */
  insert(t: QueuedTimer, deadline: number, duration: number): void {
    t._deadline = deadline;
    this.#count++;
    let q = this.#queues.get(duration);
    if (q === undefined && this.#queues.size < MAX_QUEUES) {
      q = new DurationQueue(duration);
      this.#queues.set(duration, q);
    }
    if (q !== undefined && (q.tail === null || q.tail._deadline <= deadline)) {
      t._tq = q;
      t._tqNext = null;
      t._tqPrev = q.tail;
      if (q.tail !== null) q.tail._tqNext = t;
      else {
        q.head = t;
        q._deadline = deadline;
        this.#heapPush(q);
      }
      q.tail = t;
      return;
    }
    t._tq = null;
    this.#heapPush(t);
  }

  /** Disarms `t` if armed. */
  remove(t: QueuedTimer): void {
    const q = t._tq;
    if (q !== null) {
      this.#count--;
      const p = t._tqPrev;
      const n = t._tqNext;
      if (p !== null) p._tqNext = n;
      else q.head = n;
      if (n !== null) n._tqPrev = p;
      else q.tail = p;
      t._tq = null;
      t._tqPrev = t._tqNext = null;
      if (p === null) this.#headChanged(q);
      return;
    }
    if (t._heapIdx >= 0) {
      this.#count--;
      this.#heapRemove(t);
    }
  }

  /** Whether `t` is armed. */
  armed(t: QueuedTimer): boolean {
    return t._tq !== null || t._heapIdx >= 0;
  }

  /** Removes and returns the earliest timer if its deadline is ≤ `now`, else null. */
  popExpired(now: number): QueuedTimer | null {
    const h = this.#heap;
    if (h.length === 0) return null;
    const top = h[0]!;
    if (top._deadline > now) return null;
    if (top instanceof DurationQueue) {
      const t = top.head!;
      this.remove(t);
      return t;
    }
    this.#count--;
    this.#heapRemove(top);
    return top as QueuedTimer;
  }

  /** Every armed timer, heap ones first, then queued ones (for `foreachEvent`). */
  *all(): Generator<QueuedTimer> {
    for (const n of this.#heap.slice()) {
      if (!(n instanceof DurationQueue)) yield n as QueuedTimer;
    }
    for (const q of this.#queues.values()) {
      for (let t = q.head; t !== null; t = t._tqNext) yield t;
    }
  }

  #headChanged(q: DurationQueue): void {
    if (q.head === null) {
      q._deadline = Infinity;
      if (q._heapIdx >= 0) this.#heapRemove(q);
      return;
    }
    const old = q._deadline;
    q._deadline = q.head._deadline;
    if (q._heapIdx < 0) this.#heapPush(q);
    else if (q._deadline > old) this.#siftDown(q._heapIdx);
    else this.#siftUp(q._heapIdx);
  }

  #heapPush(n: TimerNode): void {
    const h = this.#heap;
    n._heapIdx = h.length;
    h.push(n);
    this.#siftUp(n._heapIdx);
  }

  #heapRemove(n: TimerNode): void {
    const h = this.#heap;
    const i = n._heapIdx;
    const last = h.pop()!;
    n._heapIdx = -1;
    if (last === n) return;
    h[i] = last;
    last._heapIdx = i;
    if (i > 0 && h[(i - 1) >> 1]!._deadline > last._deadline) this.#siftUp(i);
    else this.#siftDown(i);
  }

  #siftUp(i: number): void {
    const h = this.#heap;
    const n = h[i]!;
    const d = n._deadline;
    while (i > 0) {
      const pi = (i - 1) >> 1;
      const p = h[pi]!;
      if (p._deadline <= d) break;
      h[i] = p;
      p._heapIdx = i;
      i = pi;
    }
    h[i] = n;
    n._heapIdx = i;
  }

  #siftDown(i: number): void {
    const h = this.#heap;
    const len = h.length;
    const n = h[i]!;
    const d = n._deadline;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= len) break;
      const r = c + 1;
      if (r < len && h[r]!._deadline < h[c]!._deadline) c = r;
      const cn = h[c]!;
      if (cn._deadline >= d) break;
      h[i] = cn;
      cn._heapIdx = i;
      i = c;
    }
    h[i] = n;
    n._heapIdx = i;
  }
}
