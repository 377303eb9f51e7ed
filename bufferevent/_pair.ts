/**
 * The pair transport: two bufferevents joined in memory. Output moves into the partner's input
 * (chunks are relinked, not copied) up to the partner's read high watermark, at once, as in
 * libevent; the callbacks it causes are deferred to the loop.
 *
 * @module
 */

import { ActiveEntry } from "../reactor/_active.ts";
import { EV_READ, EV_WRITE } from "../reactor/constants.ts";
import { type BevBackend, SUSPEND_RATE } from "./_backend.ts";
import type { Bufferevent } from "./bufferevent.ts";
import {
  BEV_EVENT_EOF,
  BEV_EVENT_READING,
  BEV_EVENT_WRITING,
  BEV_FINISHED,
  BEV_NORMAL,
} from "./constants.ts";

class PairEntry extends ActiveEntry {
  constructor(readonly pb: PairBackend) {
    super();
    this._later = true;
  }
  _run(): void {
    this.pb.transfer(false);
  }
}

/** @ignore */
export class PairBackend implements BevBackend {
  readonly bev: Bufferevent;
  partner: PairBackend | null = null;
  #entry: PairEntry;
  #moving = false;

  constructor(bev: Bufferevent) {
    this.bev = bev;
    bev._backend = this;
    this.#entry = new PairEntry(this);
    this.#entry._pri = bev._base._defaultPriority();
    bev._output._setAddHook(() => this.outputAdded());
  }

  getConn(): Deno.Conn | null {
    return null;
  }

  busy(): boolean {
    return false;
  }

  kick(): void {
    this.#schedule();
    if (this.partner !== null) this.partner.#schedule();
  }

  outputAdded(): void {
    this.#schedule();
  }

  afterCallback(): void {
    if (this.bev._output.length > 0) this.#schedule();
    // Our reader drained input: the partner may move more in.
    if (this.partner !== null && this.partner.bev._output.length > 0) this.partner.#schedule();
  }

  flush(iotype: number, mode: number): number {
    const p = this.partner;
    if (p === null) return -1;
    if (mode === BEV_NORMAL) return 0;
    // libevent's be_pair_flush: EV_READ pulls the partner's output, EV_WRITE pushes ours.
    let moved = false;
    if ((iotype & EV_READ) !== 0 && p.transfer(true)) moved = true;
    if ((iotype & EV_WRITE) !== 0 && this.transfer(true)) moved = true;
    if (mode === BEV_FINISHED && this.partner !== null) {
      // No more from us (EV_WRITE): the partner stops reading; none taken (EV_READ): writing.
      let what = BEV_EVENT_EOF;
      if ((iotype & EV_READ) !== 0) what |= BEV_EVENT_WRITING;
      if ((iotype & EV_WRITE) !== 0) what |= BEV_EVENT_READING;
      this.partner.bev._runEventcb(what);
    }
    return moved ? 1 : 0;
  }

  free(): void {
    this.bev._base._deactivate(this.#entry);
    this.bev._output._setAddHook(null);
    const p = this.partner;
    this.partner = null;
    if (p !== null) {
      // A hand-over deferred to the pair's entry (asked for during another) is cancelled by
      // freeing: hand over now what would have gone.
      const bev = this.bev;
      if ((bev._enabled & EV_WRITE) !== 0 && bev._writeSuspended === 0) this.#move(p, false);
      p.partner = null;
      // libevent just unlinks; users expect the other end to see the close.
      p.bev._runEventcb(BEV_EVENT_EOF | BEV_EVENT_READING);
    }
    this.bev._input.free();
    this.bev._output.free();
  }

  /**
   * Hands our output to the partner now, as libevent's pair does inside the call that added it
   * or enabled a side (callbacks stay deferred: pairs always defer them). A hand-over asked for
   * while one is running (a watermark suspension inside it) goes through the loop instead.
   */
  #schedule(): void {
    const bev = this.bev;
    if (bev._freed || bev._output.length === 0) return;
    if (this.#moving) {
      bev._base._activateEntry(this.#entry);
      return;
    }
    this.#moving = true;
    try {
      this.transfer(false);
    } finally {
      this.#moving = false;
    }
  }

  /** Moves our output into the partner's input. Returns whether anything moved. */
  transfer(ignoreWatermarks: boolean): boolean {
    const p = this.partner;
    const bev = this.bev;
    if (p === null || bev._freed) return false;
    const out = bev._output;
    if (out.length === 0) return false;
    if (!ignoreWatermarks && !bev._writeActive()) return false;
    const n = this.#move(p, ignoreWatermarks);
    if (n === 0) return false;
    // Freed by a callback inside the move: nothing left to account (no refill timer re-armed).
    if (!bev._freed) bev._wroteDone(n);
    return true;
  }

  /** Moves output into `p`'s input (within its read high watermark); returns the count. */
  #move(p: PairBackend, ignoreWatermarks: boolean): number {
    const out = this.bev._output;
    if (out.length === 0 || (!ignoreWatermarks && !p.bev._readActive())) return 0;
    const dst = p.bev._input;
    let n = out.length;
    const high = p.bev._wmReadHigh;
    if (!ignoreWatermarks && high > 0) n = Math.min(n, Math.max(0, high - dst.length));
    if (!ignoreWatermarks) {
      // Rate limits cap a hand-over as they cap a socket's read or write (a large write would
      // otherwise overdraw the bucket and stall for many ticks); an empty bucket suspends that
      // side, and its refill resumes the transfer.
      const w = this.bev._rateAllowance(true);
      if (w >= 0 && w < n) {
        n = w;
        if (w === 0) this.bev._suspendWrite(SUSPEND_RATE);
      }
      const r = p.bev._rateAllowance(false);
      if (r >= 0 && r < n) {
        n = r;
        if (r === 0) p.bev._suspendRead(SUSPEND_RATE);
      }
    }
    if (n === 0) return 0;
    out._removeBufferInternal(dst, n);
    p.bev._readDone(n);
    return n;
  }
}
