// fp16.ts — IEEE 754 binary16 rounding as the ANE does it, written from the definition.
//
// binary16: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
//   largest finite   65504      = (2 - 2^-10) * 2^15
//   smallest normal  2^-14      ≈ 6.1035e-5
//   spacing (ulp) of the normals in [2^e, 2^(e+1)) is 2^(e-10)
// The ANE rounds to nearest, ties to even, and flushes subnormal results to zero. A value
// overflows to infinity once it reaches 65504 + ulp/2 = 65520 (the tie goes to the even
// neighbour 2^16, which is not finite).
//
// This file is the independent reference for libane's fp16 conversion and its fp16 numerics:
// it does not call Math.f16round or Float16Array (the tests use those only as a cross-check).

export const FP16_MAX = 65504;
export const FP16_MIN_NORMAL = 2 ** -14;

/** The exponent e with 2^e <= a < 2^(e+1), for a finite a > 0 (exact, unlike log2 alone). */
export function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  return e;
}

/** Rounds y >= 0 to an integer, ties to even. y must be below 2^52 so y - floor(y) is exact. */
function roundHalfEven(y: number): number {
  const f = Math.floor(y);
  const d = y - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** x rounded to the nearest fp16 value (ties to even), +-inf past 65520, and results that would
 *  be subnormal flushed to zero (tininess after rounding, as IEEE 754 defines the result). */
export function fp16(x: number): number {
  if (Number.isNaN(x) || x === 0 || !Number.isFinite(x)) return x;
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a < FP16_MIN_NORMAL) {
    // Round on the subnormal grid (multiples of 2^-24); only 2^-14 itself survives the flush.
    const q = roundHalfEven(a * 2 ** 24);
    return q >= 1024 ? sign * FP16_MIN_NORMAL : sign * 0;
  }
  const ulp = 2 ** (exponentOf(a) - 10);
  const r = roundHalfEven(a / ulp) * ulp; // a/ulp and the product are exact in float64
  return r > FP16_MAX ? sign * Infinity : sign * r;
}

/** Rounds every element to fp16 (a new array). */
export function fp16Array(xs: ArrayLike<number>): Float32Array {
  const out = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = fp16(xs[i]);
  return out;
}

/** True when x is a finite fp16 value that is not subnormal (what an ANE op may produce), or 0/inf. */
export function isAneFp16(x: number): boolean {
  if (!Number.isFinite(x) || x === 0) return !Number.isNaN(x);
  return fp16(x) === x;
}

/** The gap between the fp16 values around x, with the flush in mind: below 2^-14 the only
 *  neighbours are 0 and 2^-14, so the gap there is 2^-14. One "ulp" in the tests' budgets. */
export function fp16Spacing(x: number): number {
  const a = Math.abs(x);
  if (!(a >= FP16_MIN_NORMAL)) return FP16_MIN_NORMAL;
  if (a >= FP16_MAX) return 32;
  return 2 ** (exponentOf(a) - 10);
}

/** Unit roundoff of fp32: half its spacing at 1. */
export const EPS32 = 2 ** -24;
