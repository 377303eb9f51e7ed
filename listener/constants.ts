/**
 * `LEV_OPT_*` flags with libevent's values.
 *
 * @module
 */

/** Accepted for compatibility: Deno sockets are never blocking to the loop. @example `LEV_OPT_LEAVE_SOCKETS_BLOCKING` */
export const LEV_OPT_LEAVE_SOCKETS_BLOCKING = 1;
/** Close the listening socket when the listener is freed. @example `LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE` */
export const LEV_OPT_CLOSE_ON_FREE = 2;
/** Accepted for compatibility (Deno sets close-on-exec itself). @example `LEV_OPT_CLOSE_ON_EXEC` */
export const LEV_OPT_CLOSE_ON_EXEC = 4;
/** SO_REUSEADDR (Deno always sets it on TCP listeners). @example `LEV_OPT_REUSEABLE` */
export const LEV_OPT_REUSEABLE = 8;
/** Accepted for compatibility: evdeno is single-threaded. @example `LEV_OPT_THREADSAFE` */
export const LEV_OPT_THREADSAFE = 16;
/** Create the listener disabled; `enable()` starts accepting. @example `LEV_OPT_DISABLED` */
export const LEV_OPT_DISABLED = 32;
/** Accepted for compatibility (not exposed by Deno). @example `LEV_OPT_DEFERRED_ACCEPT` */
export const LEV_OPT_DEFERRED_ACCEPT = 64;
/** SO_REUSEPORT (`reusePort`; needs `--unstable-net`). @example `LEV_OPT_REUSEABLE_PORT` */
export const LEV_OPT_REUSEABLE_PORT = 128;
