/**
 * IMF-fixdate (RFC 9110 §5.6.7) for the `Date` header, formatted once per second.
 *
 * @module
 */

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad2(n: number): string {
  return n < 10 ? "0" + n : "" + n;
}

/**
 * Formats `ms` (epoch milliseconds) as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
 *
 * @ignore
 */
export function formatImfDate(ms: number): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const ys = y >= 1000 ? "" + y : ("000" + y).slice(-4);
  return `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${ys} ${
    pad2(d.getUTCHours())
  }:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} GMT`;
}

let cachedSecond = -1;
let cachedValue = "";

/**
 * The `Date` header value for `nowMs` (default `Date.now()`); the string is built once per
 * second and reused, so a busy server formats one date per second, not one per response.
 *
 * @ignore
 */
export function httpDate(nowMs: number = Date.now()): string {
  const sec = Math.floor(nowMs / 1000);
  if (sec !== cachedSecond) {
    cachedSecond = sec;
    cachedValue = formatImfDate(sec * 1000);
  }
  return cachedValue;
}
