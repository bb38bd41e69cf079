/**
 * One optimizer step over the flat parameter arena, shared by `rustane train` and `rustane bench
 * train`: the finite check and global gradient norm (one pass, ane_grad_stats), global-norm
 * clipping, then AdamW in two decay groups (matrices decay, norms and biases do not). The
 * gradient is left as it is, applied or skipped (inf/NaN): the next step's first micro-batch
 * writes over it (forwardBackward's overwrite mode, train/grad-overwrite.ts).
 */
import * as ops from "../ffi/train-ops.ts";

export interface OptimizerState {
  params: Float32Array; grads: Float32Array; m: Float32Array; v: Float32Array;
  /** params[0, decayEnd) take weight decay, the rest (norms, biases) do not */
  decayEnd: number;
}

export interface OptimizerStepOptions {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number;
  /** global-norm clipping threshold; 0 = none */
  clip: number;
  /** the loss scale the gradients carry (divided out) */
  lossScale: number;
  /** Given whether the gradient is finite: the AdamW step number (>= 1) to apply, or 0 to skip. */
  accept: (finite: boolean) => number;
}

export interface OptimizerStepResult { applied: boolean; gradNorm: number | null }

export function optimizerStep(s: OptimizerState, o: OptimizerStepOptions): OptimizerStepResult {
  const { params, grads, m, v, decayEnd: d } = s;
  const stats = ops.gradStats(grads);
  const step = o.accept(stats.finite);
  if (!stats.finite || step < 1) return { applied: false, gradNorm: null };
  const gradNorm = Math.sqrt(stats.sumSquares) / o.lossScale;
  const clipCoef = o.clip > 0 && gradNorm > o.clip ? o.clip / (gradNorm + 1e-6) : 1;
  const common = { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, step, gradScale: clipCoef / o.lossScale };
  ops.adamw(params.subarray(0, d), grads.subarray(0, d), m.subarray(0, d), v.subarray(0, d), { ...common, weightDecay: o.weightDecay });
  ops.adamw(params.subarray(d), grads.subarray(d), m.subarray(d), v.subarray(d), { ...common, weightDecay: 0 });
  return { applied: true, gradNorm };
}
