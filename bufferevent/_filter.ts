/**
 * The filter transport: a bufferevent that sees another one (`under`) through an input and an
 * output filter, with libevent's filter contract (BEV_OK / BEV_NEED_MORE / BEV_ERROR and the
 * NORMAL / FLUSH / FINISHED modes).
 *
 * @module
 */

import { EV_READ, EV_WRITE } from "../reactor/constants.ts";
import type { BevBackend } from "./_backend.ts";
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

/** @ignore */
export class FilterBackend implements BevBackend {
  readonly bev: Bufferevent;
  readonly under: Bufferevent;
  #inFilter: BuffereventFilter;
  #outFilter: BuffereventFilter;
  #ctx: unknown;
  #gotEof = false;

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
    bev._output._setAddHook(() => this.outputAdded());
    under.setcb(
      () => this.#underRead(),
      () => this.#underWrite(),
      (_b, what) => this.#underEvent(what),
    );
    under.enable(EV_READ | EV_WRITE);
  }

  getConn(): Deno.Conn | null {
    return this.under.getConn();
  }

  busy(): boolean {
    return false;
  }

  kick(): void {
    if (this.bev._readActive()) {
      this.under.enable(EV_READ);
      if (this.under._input.length > 0) this.#underRead();
    } else if ((this.bev._enabled & EV_READ) === 0) {
      this.under.disable(EV_READ);
    }
    this.#processOutput(BEV_NORMAL);
  }

  outputAdded(): void {
    if (this.bev._inCb === 0) this.#processOutput(BEV_NORMAL);
  }

  afterCallback(): void {
    this.#processOutput(BEV_NORMAL);
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
    this.bev._output._setAddHook(null);
    if (this.bev._closeOnFree()) this.under.free();
    else this.under.setcb(null, null, null);
    this.bev._input.free();
    this.bev._output.free();
  }

  #underRead(): void {
    if (this.bev._freed) return;
    if (this.#processInput(this.#gotEof ? BEV_FINISHED : BEV_NORMAL)) {
      const n = this.bev._input.length;
      if (n >= this.bev._wmReadLow && n > 0) this.bev._runReadcb();
    }
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
    const before = dst.length;
    if (src.length === 0 && mode === BEV_NORMAL) return false;
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
      if (r !== BEV_OK || src.length === 0) break;
      if (src.length === srcBefore && dst.length === dstBefore) break;
    }
    return dst.length > before;
  }
}
