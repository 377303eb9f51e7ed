/**
 * Event flags, loop flags and log severities, with libevent's values.
 *
 * @module
 */

/** The event fired because its timeout expired (results only). @example `if (what & EV_TIMEOUT) {}` */
export const EV_TIMEOUT = 0x01;
/** Wait for the source to become readable. @example `new Event(base, sock, EV_READ, cb)` */
export const EV_READ = 0x02;
/** Wait for the source to become writable. @example `new Event(base, sock, EV_WRITE, cb)` */
export const EV_WRITE = 0x04;
/** The source is a signal. @example `new Event(base, "SIGINT", EV_SIGNAL | EV_PERSIST, cb)` */
export const EV_SIGNAL = 0x08;
/** Stay pending after the callback ran. @example `new Event(base, null, EV_PERSIST, cb).add(1000)` */
export const EV_PERSIST = 0x10;
/** Edge-triggered: fire only on new arrivals. @example `new Event(base, sock, EV_READ | EV_ET, cb)` */
export const EV_ET = 0x20;
/** Detect the peer closing the connection. @example `new Event(base, sock, EV_CLOSED, cb)` */
export const EV_CLOSED = 0x80;

/** `loop()` flag: wait for events, run one round of callbacks, return. @example `await base.loop(EVLOOP_ONCE)` */
export const EVLOOP_ONCE = 0x01;
/** `loop()` flag: run what is ready without waiting. @example `await base.loop(EVLOOP_NONBLOCK)` */
export const EVLOOP_NONBLOCK = 0x02;
/** `loop()` flag: keep running with no events pending. @example `await base.loop(EVLOOP_NO_EXIT_ON_EMPTY)` */
export const EVLOOP_NO_EXIT_ON_EMPTY = 0x04;

/** Log severity: debug. @example `base.setLogCallback((sev, msg) => sev >= EVENT_LOG_WARN && console.error(msg))` */
export const EVENT_LOG_DEBUG = 0;
/** Log severity: message. @example `if (sev === EVENT_LOG_MSG) {}` */
export const EVENT_LOG_MSG = 1;
/** Log severity: warning. @example `if (sev === EVENT_LOG_WARN) {}` */
export const EVENT_LOG_WARN = 2;
/** Log severity: error (a callback threw, an internal failure). @example `if (sev === EVENT_LOG_ERR) {}` */
export const EVENT_LOG_ERR = 3;

/** Largest number of priorities `priorityInit` accepts plus one (libevent's EVENT_MAX_PRIORITIES). @example `base.priorityInit(EVENT_MAX_PRIORITIES - 1)` */
export const EVENT_MAX_PRIORITIES = 256;
