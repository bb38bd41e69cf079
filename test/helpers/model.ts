// Shared by the model tests (training steps, GPT, parity, generation): a seeded generator, random
// parameters in a layout, the float64 view the references take, random token windows, and the
// error measure the gradient checks use, and the two-micro-batch check of forwardBackward's overwrite mode.
import { view, type ParamLayout } from "../../src/model/params.ts";

export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

/** Random parameters: norm weights near 1, zero-initialised tensors (biases, norm shifts) small but
 *  non-zero so each one is exercised, matrices uniform in ±scale/2. */
export function randomParams(layout: ParamLayout, seed: number, scale = 0.5): Float32Array {
  const r = lcg(seed), p = new Float32Array(layout.total);
  for (const t of layout.tensors)
    for (let i = 0; i < t.size; i++)
      p[t.offset + i] = t.init === "ones" ? 0.8 + 0.4 * r() : t.init === "zeros" ? 0.2 * (r() - 0.5) : scale * (r() - 0.5);
  return p;
}

/** Every tensor of an arena as a float64 copy, by name (what the float64 references take). */
export function toFloat64Params(layout: ParamLayout, p: Float32Array): Map<string, Float64Array> {
  const m = new Map<string, Float64Array>();
  for (const t of layout.tensors) m.set(t.name, Float64Array.from(view(layout, p, t.name)));
  return m;
}

/** S random tokens and the S targets that follow them. */
export function randomWindow(seed: number, vocab: number, S: number): { tokens: Int32Array; targets: Int32Array } {
  const r = lcg(seed), all = Array.from({ length: S + 1 }, () => Math.floor(r() * vocab));
  return { tokens: Int32Array.from(all.slice(0, S)), targets: Int32Array.from(all.slice(1)) };
}

/** max |a - b| over a tensor, relative to max |b| (b is the reference). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / Math.max(den, 1e-30);
}

type Window = { tokens: Int32Array; targets: Int32Array };

/** A pipeline's gradient-accumulation contract over two micro-batches: the first, in overwrite mode,
 *  over an arena of NaN (the last step's gradients, as far as the pipeline knows); the second added.
 *  Every tensor must be the mean of the two windows' float64 reference gradients. */
export function checkOverwriteThenAdd(layout: ParamLayout, windows: [Window, Window],
                                      forwardBackward: (grads: Float32Array, w: Window, overwrite: boolean) => void,
                                      refGrads: (w: Window) => Map<string, Float64Array>): void {
  const grads = new Float32Array(layout.total).fill(NaN);
  forwardBackward(grads, windows[0], true);
  forwardBackward(grads, windows[1], false);
  const [g1, g2] = windows.map(refGrads);
  for (const t of layout.tensors) {
    const want = g1.get(t.name)!.map((x, i) => (x + g2.get(t.name)![i]) / 2);
    const e = relErr(view(layout, grads, t.name), want);
    if (!(e <= 2e-4)) throw new Error(`gradient of ${t.name} over two micro-batches: relative error ${e}`);
  }
}

