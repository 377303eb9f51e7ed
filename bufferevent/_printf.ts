/**
 * A small C-style `printf` formatter for `Evbuffer.addPrintf` (and anything else in the library
 * that ports a `printf` call).
 *
 * @module
 * @ignore
 */

const PCT = 37; // '%'
const TWO32 = 4294967296;

/** Integer value of `v` as C would see it after the usual conversions (truncated towards 0). */
function toInteger(v: unknown): number | bigint {
  if (typeof v === "number") return Number.isFinite(v) ? Math.trunc(v) : 0;
  if (typeof v === "bigint") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string" && v.length === 1 && !/[0-9]/.test(v)) return v.charCodeAt(0);
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

/** Two's-complement reinterpretation for unsigned conversions: 32-bit, or 64-bit with `l`/`ll`/`j`/`z`. */
function toUnsigned(v: number | bigint, wide: boolean): number | bigint {
  if (typeof v === "bigint") return v < 0n ? BigInt.asUintN(64, v) : v;
  if (v >= 0) return v;
  if (!wide && v >= -2147483648) return v + TWO32;
  return BigInt.asUintN(64, BigInt(v));
}

function pad(body: string, prefix: string, width: number, left: boolean, zero: boolean): string {
  const len = prefix.length + body.length;
  if (len >= width) return prefix + body;
  const fill = width - len;
  if (left) return prefix + body + " ".repeat(fill);
  if (zero) return prefix + "0".repeat(fill) + body;
  return " ".repeat(fill) + prefix + body;
}

/**
 * Formats `fmt` with `args` like C's `printf`: conversions `%d %i %u %x %X %o %c %s %f %F %e %E
 * %g %G %%`, flags `- 0 + space #`, width and precision (digits or `*`), and C length modifiers
 * (`h l ll z j t L q`), which only select 64-bit wrapping of negative numbers for unsigned
 * conversions. `%s` precision counts UTF-16 code units. A missing argument formats as `0` or an
 * empty string; an unknown conversion is copied literally.
 *
 * @example
 * ```ts
 * import { formatPrintf } from "./_printf.ts";
 * formatPrintf("%s/%05d %-3x|", ["v", 42, 255]); // "v/00042 ff |"
 * ```
 * @ignore
 */
export function formatPrintf(fmt: string, args: readonly unknown[]): string {
  let out = "";
  let ai = 0;
  let i = 0;
  const n = fmt.length;
  while (i < n) {
    const p = fmt.indexOf("%", i);
    if (p < 0) {
      out += i === 0 ? fmt : fmt.slice(i);
      break;
    }
    if (p > i) out += fmt.slice(i, p);
    let j = p + 1;
    if (j >= n) {
      out += "%";
      break;
    }
    if (fmt.charCodeAt(j) === PCT) {
      out += "%";
      i = j + 1;
      continue;
    }
    let left = false;
    let zero = false;
    let plus = false;
    let space = false;
    let alt = false;
    for (; j < n; j++) {
      const c = fmt[j];
      if (c === "-") left = true;
      else if (c === "0") zero = true;
      else if (c === "+") plus = true;
      else if (c === " ") space = true;
      else if (c === "#") alt = true;
      else break;
    }
    let width = 0;
    if (fmt[j] === "*") {
      width = Number(toInteger(args[ai++]));
      if (width < 0) {
        left = true;
        width = -width;
      }
      j++;
    } else {
      while (j < n && fmt.charCodeAt(j) >= 48 && fmt.charCodeAt(j) <= 57) {
        width = width * 10 + fmt.charCodeAt(j) - 48;
        j++;
      }
    }
    let prec = -1;
    if (fmt[j] === ".") {
      j++;
      if (fmt[j] === "*") {
        prec = Number(toInteger(args[ai++]));
        if (prec < 0) prec = -1;
        j++;
      } else {
        prec = 0;
        while (j < n && fmt.charCodeAt(j) >= 48 && fmt.charCodeAt(j) <= 57) {
          prec = prec * 10 + fmt.charCodeAt(j) - 48;
          j++;
        }
      }
    }
    let wide = false;
    while (j < n && "hlLqjzt".includes(fmt[j])) {
      if (fmt[j] !== "h") wide = true;
      j++;
    }
    if (j >= n) {
      out += fmt.slice(p);
      break;
    }
    const conv = fmt[j];
    i = j + 1;
    switch (conv) {
      case "d":
      case "i": {
        const v = toInteger(args[ai++]);
        const neg = v < 0;
        let digits = (neg ? -v : v).toString();
        if (prec >= 0) {
          if (prec === 0 && digits === "0") digits = "";
          else if (digits.length < prec) digits = "0".repeat(prec - digits.length) + digits;
        }
        const sign = neg ? "-" : plus ? "+" : space ? " " : "";
        out += pad(digits, sign, width, left, zero && !left && prec < 0);
        break;
      }
      case "u":
      case "x":
      case "X":
      case "o": {
        const v = toUnsigned(toInteger(args[ai++]), wide);
        const radix = conv === "u" ? 10 : conv === "o" ? 8 : 16;
        let digits = v.toString(radix);
        if (conv === "X") digits = digits.toUpperCase();
        if (prec >= 0) {
          if (prec === 0 && digits === "0") digits = "";
          else if (digits.length < prec) digits = "0".repeat(prec - digits.length) + digits;
        }
        let prefix = "";
        if (alt && digits !== "" && digits !== "0") {
          if (conv === "x") prefix = "0x";
          else if (conv === "X") prefix = "0X";
          else if (conv === "o" && digits[0] !== "0") digits = "0" + digits;
        }
        out += pad(digits, prefix, width, left, zero && !left && prec < 0);
        break;
      }
      case "c": {
        const v = args[ai++];
        const s = typeof v === "string" ? v.slice(0, 1) : String.fromCodePoint(
          Number(toInteger(v)) & 0x1fffff,
        );
        out += pad(s, "", width, left, false);
        break;
      }
      case "s": {
        const v = args[ai++];
        let s = v === undefined ? "" : typeof v === "string" ? v : String(v);
        if (prec >= 0 && s.length > prec) s = s.slice(0, prec);
        out += pad(s, "", width, left, false);
        break;
      }
      case "f":
      case "F":
      case "e":
      case "E":
      case "g":
      case "G": {
        const v = Number(args[ai++] ?? 0);
        const neg = v < 0 || Object.is(v, -0);
        const a = Math.abs(v);
        let body: string;
        if (!Number.isFinite(a)) {
          body = Number.isNaN(a) ? "nan" : "inf";
          zero = false;
        } else if (conv === "f" || conv === "F") {
          body = cFixed(a, prec < 0 ? 6 : Math.min(prec, 100));
        } else if (conv === "e" || conv === "E") {
          body = cExp(a, prec < 0 ? 6 : Math.min(prec, 100)).replace(/e([+-])(\d)$/, "e$10$2");
        } else {
          const pr = prec < 0 ? 6 : prec === 0 ? 1 : Math.min(prec, 100);
          // C takes the exponent X of the %e form after rounding to pr significant digits.
          const e = cExp(a, pr - 1);
          const x = Number(e.slice(e.indexOf("e") + 1));
          if (x < -4 || x >= pr) {
            body = e.replace(/e([+-])(\d)$/, "e$10$2");
            if (!alt) body = body.replace(/\.?0+e/, "e");
          } else {
            body = cFixed(a, pr - 1 - x);
            if (!alt && body.includes(".")) body = body.replace(/\.?0+$/, "");
          }
        }
        if (conv === "F" || conv === "E" || conv === "G") body = body.toUpperCase();
        const sign = neg ? "-" : plus ? "+" : space ? " " : "";
        out += pad(body, sign, width, left, zero && !left);
        break;
      }
      default:
        out += fmt.slice(p, i);
    }
  }
  return out;
}

/** Extra digits that show whether a double sits exactly on a rounding tie. */
const TIE_DIGITS = 25;

/**
 * Whether `digits` (the decimal digits after the `keep` kept ones, `TIE_DIGITS` of them) show an
 * exact tie: a 5 and then zeros. A double that close to a tie is on it (its spacing is far
 * larger than 10^-TIE_DIGITS of its leading digit).
 */
function isTie(tail: string): boolean {
  if (tail.length === 0 || tail.charCodeAt(0) !== 0x35) return false;
  for (let i = 1; i < tail.length; i++) if (tail.charCodeAt(i) !== 0x30) return false;
  return true;
}

/**
 * `a.toFixed(f)` (a ≥ 0, finite) with C's rounding: exact ties go to the even digit (toFixed
 * rounds them up), and 1e21 and over prints every digit (toFixed switches to exponent form).
 */
function cFixed(a: number, f: number): string {
  if (a >= 1e21) {
    const int = BigInt(a).toString();
    return f > 0 ? int + "." + "0".repeat(f) : int;
  }
  const p = Math.min(100, f + TIE_DIGITS);
  if (p === f) return a.toFixed(f);
  const t = a.toFixed(p);
  const cut = t.length - (p - f);
  if (isTie(t.slice(cut))) {
    const kept = f === 0 ? t.slice(0, cut - 1) : t.slice(0, cut);
    if ((kept.charCodeAt(kept.length - 1) & 1) === 0) return kept;
  }
  return a.toFixed(f);
}

/** `a.toExponential(f)` (a ≥ 0, finite) with exact ties rounded to the even digit, as C does. */
function cExp(a: number, f: number): string {
  const p = Math.min(100, f + TIE_DIGITS);
  if (p === f) return a.toExponential(f);
  const t = a.toExponential(p);
  const e = t.indexOf("e");
  const cut = e - (p - f);
  if (isTie(t.slice(cut, e))) {
    const kept = f === 0 ? t.slice(0, cut - 1) : t.slice(0, cut);
    if ((kept.charCodeAt(kept.length - 1) & 1) === 0) return kept + t.slice(e);
  }
  return a.toExponential(f);
}
