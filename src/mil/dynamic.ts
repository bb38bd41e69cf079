// The dynamic-weight matmul block (reference/ane-maderix.md §3.5, ane-ecosystem.md §1 "Pattern").
// The ANE bakes const weights in at compile time, so weights that change every step travel in the
// input surface next to the activations, along the spatial axis:
//
//   packed [1, IC, 1, W]:  channel d holds  x[d, 0..S)  at spatial [actOffset, actOffset+S)
//                                           W[d, 0..OC) at spatial [weightOffset, weightOffset+OC)
//
// and the program slices them apart, computes y = Wᵀ·x and returns it as [1, OC, 1, S]. One compiled
// program then serves every layer; a weight update is a surface write, never a recompile.

import type { MilBuilder } from "./builder.ts";
import { fmtShape, MilShapeError, type Value } from "./types.ts";

export function dynamicMatmul(
  b: MilBuilder,
  packed: Value,
  o: { ic: number; oc: number; seq: number; actOffset: number; weightOffset: number },
): Value {
  const { ic, oc, seq, actOffset, weightOffset } = o;
  for (const [k, v] of Object.entries(o))
    if (!Number.isInteger(v) || v < (k.endsWith("Offset") ? 0 : 1))
      throw new MilShapeError(`dynamicMatmul: ${k} ${v} must be a ${k.endsWith("Offset") ? "non-negative" : "positive"} integer`);
  const s = packed.shape;
  if (s.length !== 4 || s[0] !== 1 || s[1] !== ic || s[2] !== 1)
    throw new MilShapeError(`dynamicMatmul: packed input must be [1,${ic},1,W], got ${fmtShape(s)}`);
  if (actOffset + seq > s[3] || weightOffset + oc > s[3])
    throw new MilShapeError(
      `dynamicMatmul: activations [${actOffset},${actOffset + seq}) or weights [${weightOffset},${weightOffset + oc}) ` +
        `run past the spatial width ${s[3]} of ${fmtShape(s)}`,
    );
  const acts = b.sliceBySize(packed, [0, 0, 0, actOffset], [1, ic, 1, seq]); //    [1, IC, 1, S]
  const wts = b.sliceBySize(packed, [0, 0, 0, weightOffset], [1, ic, 1, oc]); //  [1, IC, 1, OC]
  const xT = b.transpose(b.reshape(acts, [1, 1, ic, seq]), [0, 1, 3, 2]); //       [1, 1, S, IC]
  const w = b.reshape(wts, [1, 1, ic, oc]); //                                     [1, 1, IC, OC]
  const yT = b.matmul(xT, w); //                                                   [1, 1, S, OC]  = xᵀW
  const y = b.transpose(yT, [0, 1, 3, 2]); //                                      [1, 1, OC, S]  = Wᵀx
  return b.reshape(y, [1, oc, 1, seq]); //                                         [1, OC, 1, S]
}

/** Packs x [IC, S] and W [IC, OC] (row-major fp32) into the dense [IC, S+OC] layout that
 *  dynamicMatmul reads with actOffset = 0 and weightOffset = S. */
export function packDynamicMatmulInput(x: Float32Array, w: Float32Array, ic: number, seq: number, oc: number): Float32Array {
  for (const [k, v] of [["ic", ic], ["seq", seq], ["oc", oc]] as const)
    if (!Number.isInteger(v) || v < 1) throw new Error(`packDynamicMatmulInput: ${k} ${v} must be a positive integer`);
  if (x.length !== ic * seq) throw new Error(`packDynamicMatmulInput: x has ${x.length} values, expected IC*S = ${ic}*${seq}`);
  if (w.length !== ic * oc) throw new Error(`packDynamicMatmulInput: w has ${w.length} values, expected IC*OC = ${ic}*${oc}`);
  const width = seq + oc;
  const out = new Float32Array(ic * width);
  for (let d = 0; d < ic; d++) {
    out.set(x.subarray(d * seq, (d + 1) * seq), d * width);
    out.set(w.subarray(d * oc, (d + 1) * oc), d * width + seq);
  }
  return out;
}
