// A byte-level decimal number scanner. It validates the syntax
//   [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?
// by hand and converts with Clinger's fast path (a mantissa below 2^53 and a
// power of ten up to 1e22: one correctly rounded operation).
// Longer mantissas fall back to the engine's own conversion of the already
// validated text, so results are always correctly rounded. Returns NaN when
// the bytes are not a number; -0 becomes 0.

const TWO53 = 9007199254740992;
const POW10: number[] = [];
for (let i = 0, p = 1; i <= 22; i++, p *= 10) POW10.push(p);

/** End index of the last scanNumber call. */
export let scanEnd = 0;

/** Parses the number spanning exactly [s, e), or NaN. */
export function parseNumber(b: Uint8Array, s: number, e: number): number {
  const v = scanNumber(b, s, e);
  return scanEnd === e ? v : NaN;
}

/**
 * Scans the longest number-like prefix of b[s, limit): sets `scanEnd` to where
 * it stops and returns its value, or NaN when there is no valid number there.
 *
 * Fast path for what text files mostly hold — [sign] digits [. digits], at most
 * 15 digits in all (so the mantissa is exact without checks), not followed by an
 * exponent; anything else is scanned again by `scanNumberFull`.
 */
export function scanNumber(b: Uint8Array, s: number, e: number): number {
  let i = s;
  const c = b[i];
  const neg = c === 45;
  if (neg || c === 43) i++;
  let mant = 0;
  const intStart = i;
  while (i < e) {
    const d = (b[i]! - 48) >>> 0;
    if (d > 9) break;
    mant = mant * 10 + d;
    i++;
  }
  let digits = i - intStart;
  let exp = 0;
  if (i < e && b[i] === 46) {
    const fracStart = ++i;
    while (i < e) {
      const d = (b[i]! - 48) >>> 0;
      if (d > 9) break;
      mant = mant * 10 + d;
      i++;
    }
    exp = fracStart - i;
    digits -= exp;
  }
  if (digits === 0 || digits > 15 || (i < e && (b[i]! | 32) === 101)) return scanNumberFull(b, s, e);
  scanEnd = i;
  if (mant === 0) return 0;
  const v = exp === 0 ? mant : mant / POW10[-exp]!; // -exp <= 15
  return neg ? -v : v;
}

/** The careful scanner (long mantissas, exponents, errors). */
function scanNumberFull(b: Uint8Array, s: number, e: number): number {
  let i = s;
  let neg = false;
  let c = b[i];
  if (c === 45) {
    neg = true;
    i++;
  } else if (c === 43) i++;
  let mant = 0;
  let any = false;
  let slow = false;
  let exp = 0;
  while (i < e) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) break;
    any = true;
    if (mant !== 0 || d !== 0) {
      const m2 = mant * 10 + d;
      if (m2 < TWO53) mant = m2;
      else slow = true;
    }
    i++;
  }
  if (i < e && b[i] === 46) {
    i++;
    while (i < e) {
      const d = b[i]! - 48;
      if (d < 0 || d > 9) break;
      any = true;
      if (mant !== 0 || d !== 0) {
        const m2 = mant * 10 + d;
        if (!slow && m2 < TWO53) {
          mant = m2;
          exp--;
        } else if (d !== 0) {
          slow = true;
        }
      } else {
        exp--;
      }
      i++;
    }
  }
  if (!any) {
    scanEnd = i;
    return NaN;
  }
  if (i < e && (b[i]! | 32) === 101) {
    i++;
    let eneg = false;
    if (i < e && (b[i] === 45 || b[i] === 43)) {
      eneg = b[i] === 45;
      i++;
    }
    let ev = 0;
    let edigits = 0;
    while (i < e) {
      const d = b[i]! - 48;
      if (d < 0 || d > 9) break;
      if (ev < 100000) ev = ev * 10 + d;
      edigits++;
      i++;
    }
    if (edigits === 0) {
      scanEnd = i;
      return NaN;
    }
    exp += eneg ? -ev : ev;
  }
  scanEnd = i;
  e = i;
  if (mant === 0 && !slow) return 0;
  if (!slow) {
    let v: number;
    if (exp === 0) v = mant;
    else if (exp > 0 && exp <= 22) v = mant * POW10[exp]!;
    else if (exp < 0 && exp >= -22) v = mant / POW10[-exp]!;
    else return slowParse(b, s, e);
    return neg ? -v : v;
  }
  return slowParse(b, s, e);
}

function slowParse(b: Uint8Array, s: number, e: number): number {
  let str: string;
  if (b instanceof Buffer) str = b.toString("latin1", s, e);
  else {
    str = "";
    for (let i = s; i < e; i++) str += String.fromCharCode(b[i]!);
  }
  const v = Number(str);
  return v === 0 ? 0 : v;
}

/** True when the token spells NaN or infinity (as numpy, C and JS write them). */
export function isNonFiniteWord(b: Uint8Array, s: number, e: number): boolean {
  let w = "";
  for (let i = s; i < e && i < s + 12; i++) w += String.fromCharCode(b[i]! | 32);
  if (e - s > 12) return false;
  return /^[+-]?(nan|inf|infinity|1\.#inf|1\.#qnan)$/.test(w) || /^[+-]?nan\(\w*\)$/.test(w);
}
