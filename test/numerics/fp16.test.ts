// The reference fp16 rounding (test/reference/fp16.ts) against hand-worked IEEE 754 cases and,
// in the normal range, against the engine's own Math.f16round as an independent cross-check.

import { describe, expect, test } from "bun:test";
import { FP16_MIN_NORMAL, exponentOf, fp16, fp16Spacing, isAneFp16 } from "../reference/fp16.ts";
import { Rng } from "../reference/prng.ts";

describe("fp16()", () => {
  test("round to nearest, ties to even", () => {
    expect(fp16(1)).toBe(1);
    expect(fp16(1 + 2 ** -11)).toBe(1);                        // tie between 1 (even) and 1+2^-10
    expect(fp16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);           // tie between 1+2^-10 (odd) and 1+2^-9
    expect(fp16(1 + 2 ** -11 + 2 ** -30)).toBe(1 + 2 ** -10);   // just past the tie
    expect(fp16(2049)).toBe(2048);                              // spacing 2 at 2048: tie to even
    expect(fp16(2051)).toBe(2052);
    expect(fp16(0.1)).toBe(0.0999755859375);
    expect(fp16(-0.1)).toBe(-0.0999755859375);
    expect(fp16(1 / 3)).toBe(0.333251953125);
  });

  test("overflow to infinity from 65520 (65504 + half a spacing)", () => {
    expect(fp16(65504)).toBe(65504);
    expect(fp16(65519.99)).toBe(65504);
    expect(fp16(65520)).toBe(Infinity);
    expect(fp16(-65520)).toBe(-Infinity);
    expect(fp16(1e9)).toBe(Infinity);
    expect(fp16(Infinity)).toBe(Infinity);
  });

  test("subnormal results flush to zero; 2^-14 survives", () => {
    expect(fp16(FP16_MIN_NORMAL)).toBe(2 ** -14);
    expect(fp16(2 ** -15)).toBe(0);
    expect(fp16(1e-6)).toBe(0);
    expect(fp16(-1e-6)).toBe(-0);
    expect(fp16(2 ** -14 - 2 ** -26)).toBe(2 ** -14); // rounds up to the smallest normal
    expect(fp16(2 ** -14 - 2 ** -25)).toBe(2 ** -14); // tie: 1024 * 2^-24 is even
    expect(fp16(2 ** -14 - 2 ** -24)).toBe(0);        // 1023 * 2^-24 is subnormal
    expect(Number.isNaN(fp16(NaN))).toBe(true);
  });

  test("agrees with Math.f16round (plus the flush) on 50k values across the whole range", () => {
    const rng = new Rng(1);
    let checked = 0;
    for (let i = 0; i < 50000; i++) {
      // log-uniform magnitudes from 2^-30 to 2^17, both signs
      const x = (rng.next() < 0.5 ? -1 : 1) * 2 ** rng.uniform(-30, 17);
      const engine = Math.f16round(x);
      const want = Math.abs(engine) < FP16_MIN_NORMAL ? engine * 0 : engine;
      expect(fp16(x)).toBe(want);
      checked++;
    }
    expect(checked).toBe(50000);
  });

  test("spacing and ANE-representability helpers", () => {
    expect(fp16Spacing(1)).toBe(2 ** -10);
    expect(fp16Spacing(1000)).toBe(0.5);
    expect(fp16Spacing(1e-6)).toBe(2 ** -14);
    expect(fp16Spacing(65504)).toBe(32);
    expect(exponentOf(2 ** -14)).toBe(-14);
    expect(exponentOf(0.75)).toBe(-1);
    expect(isAneFp16(0.0999755859375)).toBe(true);
    expect(isAneFp16(0.1)).toBe(false);
    expect(isAneFp16(2 ** -20)).toBe(false); // a subnormal fp16: the ANE never produces one
    expect(isAneFp16(Infinity)).toBe(true);
  });
});
