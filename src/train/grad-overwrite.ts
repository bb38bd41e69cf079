/**
 * How a micro-batch's gradients reach the gradient arena. The first micro-batch of an optimizer
 * step overwrites whatever the arena holds (the last step's gradients) instead of adding to a
 * zeroed arena: its weight-gradient matmuls run with beta = 0, so there is no zeroing pass over
 * the whole arena (440 MB for Stories110M) and the matmuls do not read the old values. What those
 * matmuls do not write whole (norms, biases, an embedding that rows are only added to) is zeroed
 * first, by zeroUnlessOverwritten. Later micro-batches add (beta = 1).
 */
import type { ParamLayout } from "../model/params.ts";

/** Zero every tensor of `grads` whose name is not in `overwritten` (the ones a pipeline's beta = 0
 *  matmuls write whole). */
export function zeroUnlessOverwritten(layout: ParamLayout, grads: Float32Array, overwritten: ReadonlySet<string>): void {
  for (const t of layout.tensors) if (!overwritten.has(t.name)) grads.fill(0, t.offset, t.offset + t.size);
}
