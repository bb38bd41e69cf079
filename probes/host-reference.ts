// Host references for the larger probes, through libane's host sgemm (ane_sgemm, fp32 with
// fp32 accumulation): independent of the MIL programs and of the backend under test, and fast
// enough for 4096 x 4096 weights where a float64 loop in TypeScript would take seconds. The
// probes' fp16 tolerances are ~2^-7 of the sums; fp32 rounding (2^-24) is far inside them.
import { sgemm } from "../src/ffi/train-ops.ts";

/** y [OC, S] = w [OC, IC] · x [IC, S]: a 1x1 conv with weight [OC, IC, 1, 1]. */
export function convHost(w: Float32Array, x: Float32Array, oc: number, ic: number, s: number): Float32Array {
  const y = new Float32Array(oc * s);
  sgemm(0, 0, oc, s, ic, 1, w, ic, x, s, 0, y, s);
  return y;
}

/** y [OC, S] = wᵀ x with w [IC, OC], x [IC, S]: the dynamic-weight matmul. */
export function matmulTHost(w: Float32Array, x: Float32Array, ic: number, oc: number, s: number): Float32Array {
  const y = new Float32Array(oc * s);
  sgemm(1, 0, oc, s, ic, 1, w, oc, x, s, 0, y, s);
  return y;
}

export function absolute(a: Float32Array): Float32Array {
  return a.map(Math.abs);
}

/** The largest element of a (a sum of |w·x| terms: the scale of an fp16 bound). */
export function maxOf(a: Float32Array): number {
  let m = 0;
  for (const value of a) if (value > m) m = value;
  return m;
}

// fp16's unit roundoff is 2^-11. Outputs must be within 16 units of the largest sum of |w·x|
// terms: room for fp16 rounding of partial sums and of the result, while a wrong weight or
// layout gives errors of the order of the sum itself.
export const FP16_TOLERANCE_FACTOR = 2 ** -7;
