/**
 * The interface between `Bufferevent` (callbacks, watermarks, timeouts, rate limits: what every
 * kind shares) and its transport: a socket, the other end of a pair, or an underlying bufferevent
 * seen through filters.
 *
 * @module
 */

/** @ignore */
export interface BevBackend {
  /** Reading or writing may have become possible (enable, unsuspend, new output). */
  kick(): void;
  /** Output was added outside the bufferevent's own callbacks. */
  outputAdded(): void;
  /** After a user callback ran: push what it wrote. */
  afterCallback(): void;
  /** `Bufferevent.flush`. Returns -1 unsupported, 0 nothing produced, 1 data produced. */
  flush(iotype: number, mode: number): number;
  /** Releases the transport. */
  free(): void;
  /** The connection, if any. */
  getConn(): Deno.Conn | null;
  /** Whether any I/O is in flight or wanted (keeps the loop alive). */
  busy(): boolean;
}

/** Suspension reasons for reading, as in libevent. @ignore */
export const SUSPEND_WM = 1;
/** @ignore */
export const SUSPEND_RATE = 2;
/** @ignore */
export const SUSPEND_CONNECTING = 4;
/** @ignore */
export const SUSPEND_LOOKUP = 8;
/** @ignore */
export const SUSPEND_FILTER = 16;

/**
 * What a socket bufferevent reads at most per read when no `setMaxSingleRead` is set: one 64 KiB
 * pool block (libevent reads 16 KiB; larger reads measured faster here for bulk transfers).
 * @ignore
 */
export const MAX_SINGLE_READ_DEFAULT = 64 * 1024;
/** What a socket bufferevent hands the runtime at most per write by default. @ignore */
export const MAX_SINGLE_WRITE_DEFAULT = 4 * 1024 * 1024;
