/**
 * Intrusive active-queue entries. Events and the library's internal callbacks (bufferevent read
 * and write completions, listener accepts) are all entries, so activating one only links it into
 * its priority's list: no closure, no allocation.
 *
 * @module
 */

/**
 * Something the base can run from an active queue.
 *
 * @ignore
 */
export abstract class ActiveEntry {
  /** @ignore */
  _anext: ActiveEntry | null = null;
  /** @ignore */
  _aprev: ActiveEntry | null = null;
  /** @ignore */
  _queued = false;
  /** Priority queue index, 0 = most urgent. @ignore */
  _pri = 0;
  /**
   * A deferred callback (libevent's `event_callback_activate_later`): activated while a pass
   * runs, it waits for the next pass instead of joining the running queue. @ignore
   */
  _later = false;
  /** Linked in the base's run-later list rather than a priority queue. @ignore */
  _inLater = false;
  /** Runs the entry; called by the base with the entry already unlinked. @ignore */
  abstract _run(): void;
}

/**
 * A FIFO list of entries for one priority.
 *
 * @ignore
 */
export class ActiveQueue {
  head: ActiveEntry | null = null;
  tail: ActiveEntry | null = null;

  push(e: ActiveEntry): void {
    e._aprev = this.tail;
    e._anext = null;
    if (this.tail !== null) this.tail._anext = e;
    else this.head = e;
    this.tail = e;
  }

  unlink(e: ActiveEntry): void {
    const p = e._aprev;
    const n = e._anext;
    if (p !== null) p._anext = n;
    else this.head = n;
    if (n !== null) n._aprev = p;
    else this.tail = p;
    e._anext = null;
    e._aprev = null;
  }
}
