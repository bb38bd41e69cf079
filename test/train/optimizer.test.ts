// The optimizer step (gradient statistics, global-norm clipping, AdamW in two decay groups)
// against a float64 AdamW written here from the formula (Loshchilov & Hutter, bias-corrected),
// over several steps; a non-finite gradient skips the step and leaves everything as it was.
import { describe, expect, test } from "bun:test";
import * as ops from "../../src/ffi/train-ops.ts";
import { optimizerStep } from "../../src/train/optimizer.ts";
import { lcg } from "../helpers/model.ts";

const N = 70_001, DECAY_END = 50_000;   // more than one 16384-float block, an odd tail
const hyper = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

function refStep(p: Float64Array, m: Float64Array, v: Float64Array, g: Float32Array, t: number, clip: number, scale: number): number {
  let ss = 0;
  for (const x of g) ss += (x / scale) * (x / scale);
  const norm = Math.sqrt(ss), coef = clip > 0 && norm > clip ? clip / (norm + 1e-6) : 1;
  const { lr, beta1: b1, beta2: b2, eps, weightDecay } = hyper;
  for (let i = 0; i < p.length; i++) {
    const gi = (g[i] * coef) / scale, wd = i < DECAY_END ? weightDecay : 0;
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    p[i] -= lr * (wd * p[i] + m[i] / (1 - b1 ** t) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps));
  }
  return norm;
}

function maxRel(a: Float32Array, b: Float64Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / den;
}

describe("optimizerStep", () => {
  test("three steps (clipped, then not) match a float64 AdamW; decay only before decayEnd", () => {
    const r = lcg(7), scale = 256;
    const params = Float32Array.from({ length: N }, () => r() - 0.5), m = new Float32Array(N), v = new Float32Array(N);
    const rp = Float64Array.from(params), rm = new Float64Array(N), rv = new Float64Array(N);
    for (const [t, clip, size] of [[1, 1, 0.05], [2, 100, 0.002], [3, 0, 0.01]] as const) {
      const grads = Float32Array.from({ length: N }, () => (r() - 0.5) * size * scale);
      const kept = grads.slice();
      const res = optimizerStep({ params, grads, m, v, decayEnd: DECAY_END },
        { ...hyper, clip, lossScale: scale, accept: (finite) => (finite ? t : 0) });
      const norm = refStep(rp, rm, rv, kept, t, clip, scale);
      expect(res.applied).toBe(true);
      expect(Math.abs(res.gradNorm! - norm) / norm).toBeLessThan(1e-6);
      if (t === 1) expect(norm).toBeGreaterThan(clip);                 // the first step is clipped
      expect(grads).toEqual(kept);                                       // left for the next step to overwrite
      expect(maxRel(params, rp)).toBeLessThan(1e-6);
      expect(maxRel(m, rm)).toBeLessThan(1e-5);
      expect(maxRel(v, rv)).toBeLessThan(1e-5);
    }
  });

  test("an inf or NaN gradient skips the step: parameters and moments stay as they were", () => {
    for (const bad of [Infinity, NaN]) {
      const r = lcg(3), params = Float32Array.from({ length: N }, () => r()), m = params.map((x) => x / 10), v = params.map((x) => x / 100);
      const before = [params.slice(), m.slice(), v.slice()];
      const grads = Float32Array.from({ length: N }, () => r() - 0.5);
      grads[N - 1] = bad;
      let sawFinite: boolean | null = null;
      const res = optimizerStep({ params, grads, m, v, decayEnd: DECAY_END },
        { ...hyper, clip: 1, lossScale: 1, accept: (finite) => { sawFinite = finite; return finite ? 1 : 0; } });
      expect(sawFinite === false && !res.applied && res.gradNorm === null).toBe(true);
      expect([params, m, v]).toEqual(before);
    }
  });

  test("the gradient statistics: sum of squares as in float64, the same bits as ane_sum_squares", () => {
    const r = lcg(11), g = Float32Array.from({ length: N }, () => (r() - 0.5) * 1e-3);
    let want = 0;
    for (const x of g) want += x * x;
    const s = ops.gradStats(g);
    expect(s.finite).toBe(true);
    expect(Math.abs(s.sumSquares - want) / want).toBeLessThan(1e-6);
    expect(s.sumSquares).toBe(ops.sumSquares(g));
  });
});
