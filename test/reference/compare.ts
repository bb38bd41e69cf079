// compare.ts — checks a backend result against a float64 reference within a stated budget.
//
// fp32 numerics: |got - ref| <= tol32[i], an op-derived bound on fp32 evaluation error
//   (relative 1e-5-ish for elementwise ops, a K*eps32-scaled bound for sums and products).
// fp16 numerics (the ANE's): the op ran on fp16 inputs with fp32 internals and rounded its
//   result once to fp16, so got must be fp16(ref) exactly (`exact`, for ops whose fp32 result
//   is exact or correctly rounded: then fp32 -> fp16 double rounding is innocuous since
//   24 >= 2*11+2), or within one fp16 spacing plus the fp32 internal error otherwise.
//   Every fp16 result must also be an ANE value: finite or inf, never subnormal.

import { type Tensor, numel, unravel } from "./tensor.ts";
import { fp16, fp16Spacing, isAneFp16 } from "./fp16.ts";

export type Numerics = "fp16" | "fp32";

export interface Budget {
  /** fp16: got must equal fp16(ref). fp32: got must equal fp32(ref). */
  exact?: boolean;
  /** fp32 evaluation error bound, one per element or one for all (absolute). */
  tol32?: ArrayLike<number> | number;
}

const at = (t: ArrayLike<number> | number | undefined, i: number) => (t === undefined ? 0 : typeof t === "number" ? t : t[i]);

/** null when got matches ref within the budget; otherwise a message naming the worst elements. */
export function mismatch(got: Float32Array, ref: Tensor, numerics: Numerics, budget: Budget = {}): string | null {
  if (got.length !== numel(ref.shape)) return `got ${got.length} values, the reference has ${numel(ref.shape)} (shape [${ref.shape}])`;
  const bad: { i: number; excess: number; line: string }[] = [];
  for (let i = 0; i < got.length; i++) {
    const r = ref.data[i], g = got[i];
    const want = numerics === "fp16" ? fp16(r) : Math.fround(r);
    let tol: number, ok: boolean;
    if (budget.exact) {
      tol = 0;
      ok = Object.is(g, want) || g === want || (Number.isNaN(g) && Number.isNaN(want));
    } else {
      tol = at(budget.tol32, i) + (numerics === "fp16" ? fp16Spacing(r) : 0);
      ok = g === want || Math.abs(g - want) <= tol;
    }
    if (ok && numerics === "fp16" && !isAneFp16(g)) ok = false; // subnormal or not an fp16 value
    if (!ok) {
      const excess = Number.isFinite(g - want) ? Math.abs(g - want) - tol : Infinity;
      bad.push({ i, excess, line: `[${unravel(i, ref.shape, new Array(ref.shape.length))}] got ${g} want ${want} (ref ${r}, tol ${tol.toExponential(2)})` });
    }
  }
  if (bad.length === 0) return null;
  bad.sort((a, b) => b.excess - a.excess);
  return `${bad.length}/${got.length} elements out of budget (${numerics}); worst: ` + bad.slice(0, 4).map((b) => b.line).join("; ");
}
