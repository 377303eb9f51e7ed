/**
 * The filter transport: a bufferevent that sees another one (`under`) through an input and an
 * output filter, with libevent's filter contract (BEV_OK / BEV_NEED_MORE / BEV_ERROR and the
 * NORMAL / FLUSH / FINISHED modes).
 *
 * @module
 */

import { ActiveEntry } from "../reactor/_active.ts";
import { EV_READ, EV_WRITE } from "../reactor/constants.ts";
import { type BevBackend, SUSPEND_FILTER } from "./_backend.ts";
import type { Bufferevent, BuffereventFilter } from "./bufferevent.ts";
import {
  BEV_ERROR,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_EVENT_WRITING,
  BEV_FINISHED,
  BEV_NORMAL,
  BEV_OK,
} from "./constants.ts";
import type { Evbuffer } from "./evbuffer.ts";

function passThrough(src: Evbuffer, dst: Evbuffer, limit: number): number {
  const n = limit < 0 ? src.length : Math.min(limit, src.length);
  src.removeBuffer(dst, n);
  return BEV_OK;
}

/** Pulls what waits in the underlying input through the filter, from the loop. */
class PullEntry extends ActiveEntry {
  constructor(readonly fb: FilterBackend) {
    super();
    this._later = true;
  }
  _run(): void {
    this.fb._pull();
  }
}

/** @ignore */
export class FilterBackend implements BevBackend {
  readonly bev: Bufferevent;
  readonly under: Bufferevent;
  #inFilter: BuffereventFilter;
  #outFilter: BuffereventFilter;
  #ctx: unknown;
  #gotEof = false;
  /**
   * #processOutput is running: output the filter itself adds (writing to its own bufferevent)
   * is left to that run's loop rather than nesting a second run inside the filter (libevent
   * turns the outbuf callback off while filtering).
   */
  #processingOutput = false;
  #pullEntry: PullEntry;

  constructor(
    bev: Bufferevent,
    under: Bufferevent,
    inFilter: BuffereventFilter | null,
    outFilter: BuffereventFilter | null,
    ctx: unknown,
  ) {
    this.bev = bev;
    bev._backend = this;
    this.under = under;
    this.#inFilter = inFilter ?? passThrough;
    this.#outFilter = outFilter ?? passThrough;
    this.#ctx = ctx;
    this.#pullEntry = new PullEntry(this);
    this.#pullEntry._pri = bev._base._defaultPriority();
    bev._output._setAddHook(() => this.outputAdded());
    // Draining our input makes room: pull what waits below (libevent's filtered inbuf cb).
    bev._input.addCb((_buf, info) => {
      if (info.nDeleted > 0) this.#schedulePull();
    });
    under.setcb(
      () => this.#underRead(),
      () => this.#underWrite(),
      (_b, what) => this.#underEvent(what),
    );
    under._above = bev;
    // Suspended before enabling: a socket would otherwise post a read at once, which cannot be
    // taken back and would hold the loop while our own reading is off.
    this.#syncUnderRead();
    under.enable(EV_READ | EV_WRITE);
  }

  getConn(): Deno.Conn | null {
    return this.under.getConn();
  }

  busy(): boolean {
    return false;
  }

  kick(): void {
    this.#syncUnderRead();
    this.#schedulePull();
    this.#processOutput(BEV_NORMAL);
  }

  /**
   * The underlying bufferevent reads only while we do (libevent's BEV_SUSPEND_FILT_READ): not
   * while our reading is disabled or our input sits at its high watermark.
   */
  #syncUnderRead(): void {
    const bev = this.bev;
    if (bev._freed) return;
    if (bev._readActive()) this.under._unsuspendRead(SUSPEND_FILTER);
    else this.under._suspendRead(SUSPEND_FILTER);
  }

  #schedulePull(): void {
    const bev = this.bev;
    if (!bev._freed && this.under._input.length > 0 && bev._readActive()) {
      bev._base._activateEntry(this.#pullEntry);
    }
  }

  /** @ignore */
  _pull(): void {
    if (!this.bev._freed && this.bev._readActive() && this.under._input.length > 0) {
      this.#underRead();
    }
  }

  outputAdded(): void {
    if (this.bev._inCb === 0 && !this.#processingOutput) this.#processOutput(BEV_NORMAL);
  }

  afterCallback(): void {
    this.#processOutput(BEV_NORMAL);
    this.#syncUnderRead();
    // The reader may have drained below the high watermark: pull more through the filter.
    if (this.under._input.length > 0 && this.bev._readActive()) this.#underRead();
  }

  flush(iotype: number, mode: number): number {
    let produced = false;
    if ((iotype & EV_READ) !== 0) produced = this.#processInput(mode) || produced;
    if ((iotype & EV_WRITE) !== 0) {
      produced = this.#processOutput(mode) || produced;
      this.under.flush(EV_WRITE, mode);
    }
    return produced ? 1 : 0;
  }

  free(): void {
    this.bev._base._deactivate(this.#pullEntry);
    this.under._unsuspendRead(SUSPEND_FILTER);
    this.under._above = null;
    this.bev._output._setAddHook(null);
    if (this.bev._closeOnFree()) this.under.free();
    else this.under.setcb(null, null, null);
    this.bev._input.free();
    this.bev._output.free();
  }

  #underRead(): void {
    const bev = this.bev;
    if (bev._freed) return;
    const before = bev._input.length;
    if (this.#processInput(this.#gotEof ? BEV_FINISHED : BEV_NORMAL)) {
      // As a transport read: restarts the read timeout, applies the high watermark, runs the
      // read callback (libevent's be_filter_process_input).
      bev._readDone(bev._input.length - before);
    }
    this.#syncUnderRead();
  }

  #underWrite(): void {
    if (this.bev._freed) return;
    this.#processOutput(BEV_NORMAL);
    const out = this.bev._output;
    if (out.length <= this.bev._wmWriteLow && this.under._output.length === 0) {
      this.bev._runWritecb();
    }
  }

  #underEvent(what: number): void {
    if ((what & BEV_EVENT_READING) !== 0 && (what & 0x10) !== 0) {
      this.#gotEof = true;
      this.#processInput(BEV_FINISHED);
    }
    if (this.bev._freed) return;
    this.bev._error = this.under._error;
    this.bev._runEventcb(what);
  }

  /** Runs the input filter; returns whether it produced bytes. */
  #processInput(mode: number): boolean {
    const bev = this.bev;
    if (mode === BEV_NORMAL && !bev._readActive()) return false;
    const src = this.under._input;
    const dst = bev._input;
    const before = dst.length;
    for (;;) {
      let limit = -1;
      if (bev._wmReadHigh > 0 && mode === BEV_NORMAL) {
        limit = bev._wmReadHigh - dst.length;
        if (limit <= 0) break;
      }
      const srcBefore = src.length;
      const dstBefore = dst.length;
      let r: number;
      try {
        r = this.#inFilter(src, dst, limit, mode, this.#ctx);
      } catch (e) {
        bev._base._reportError(e);
        r = BEV_ERROR;
      }
      if (r === BEV_ERROR) {
        bev._fail(BEV_EVENT_READING | BEV_EVENT_ERROR, new Error("input filter failed"));
        return false;
      }
      if (r !== BEV_OK || src.length === 0) break;
      if (src.length === srcBefore && dst.length === dstBefore) break;
    }
    return dst.length > before;
  }

  /** Runs the output filter into the underlying output; returns whether it produced bytes. */
  #processOutput(mode: number): boolean {
    const bev = this.bev;
    if (bev._freed) return false;
    if (mode === BEV_NORMAL && !bev._writeActive()) return false;
    const src = bev._output;
    const dst = this.under._output;
    if (src.length === 0 && mode === BEV_NORMAL) return false;
    if (this.#processingOutput) return false;
    this.#processingOutput = true;
    let processed: boolean;
    try {
      processed = this.#runOutputFilter(mode, src, dst);
    } finally {
      this.#processingOutput = false;
    }
    // Our output is empty once moved down, yet the bytes are not sent: the write timeout runs
    // while they wait below (libevent's filter keeps its own write timeout running).
    if (processed && !bev._freed && (dst.length > 0 || this.under._isPendingBelow())) {
      bev._setPendingBelow(true);
    }
    return processed;
  }

  #runOutputFilter(mode: number, src: Evbuffer, dst: Evbuffer): boolean {
    const bev = this.bev;
    // Progress is judged by the filter's answer, as libevent's processed_out: what it adds to
    // `dst` may already have left it (a pair under the filter hands it on at once).
    let processed = false;
    for (;;) {
      let limit = -1;
      if (this.under._wmWriteHigh > 0 && mode === BEV_NORMAL) {
        limit = this.under._wmWriteHigh - dst.length;
        if (limit <= 0) break;
      }
      const srcBefore = src.length;
      const dstBefore = dst.length;
      let r: number;
      try {
        r = this.#outFilter(src, dst, limit, mode, this.#ctx);
      } catch (e) {
        bev._base._reportError(e);
        r = BEV_ERROR;
      }
      if (r === BEV_ERROR) {
        bev._fail(BEV_EVENT_WRITING | BEV_EVENT_ERROR, new Error("output filter failed"));
        return false;
      }
      if (r !== BEV_OK) break;
      processed = true;
      if (src.length === 0) break;
      if (src.length === srcBefore && dst.length === dstBefore) break;
    }
    return processed;
  }
}
