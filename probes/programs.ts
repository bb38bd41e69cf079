// The MIL programs the probes compile, built with the typed MIL builder, and the deterministic
// test tensors they run on. Every tensor value below is exactly representable in fp16, so the
// float64 references are references of exactly what the device receives.
import { MilBuilder, dynamicMatmul, type Dialect } from "../src/mil/index.ts";

/** The name under which MilBuilder stores weight `name`'s blob (one file per weight). */
export function weightFile(name: string): string {
  return `@model_path/weights/${name}.bin`;
}

/** x[c, s] = ((7c + 13s) mod 31 - 15) / 16, in [-0.9375, 0.9375]; shape [C, S] row-major. */
export function patternInput(channels: number, spatial: number): Float32Array {
  const x = new Float32Array(channels * spatial);
  for (let c = 0; c < channels; c++)
    for (let s = 0; s < spatial; s++) x[c * spatial + s] = (((7 * c + 13 * s) % 31) - 15) / 16;
  return x;
}

/** m[r, k] = ((a·r + b·k) mod p - (p-1)/2) / scale, a small, fp16-exact, non-symmetric pattern. */
export function patternMatrix(rows: number, cols: number, a: number, b: number, p: number, scale: number): Float32Array {
  const m = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < cols; k++) m[r * cols + k] = (((a * r + b * k) % p) - (p - 1) / 2) / scale;
  return m;
}

/** y[o, s] = sum_i w[o, i] x[i, s] in float64: the reference of a 1x1 conv with weight [OC, IC, 1, 1]. */
export function convReference(w: Float32Array, x: Float32Array, oc: number, ic: number, spatial: number): Float64Array {
  const y = new Float64Array(oc * spatial);
  for (let o = 0; o < oc; o++)
    for (let i = 0; i < ic; i++) {
      const wi = w[o * ic + i];
      if (wi === 0) continue;
      for (let s = 0; s < spatial; s++) y[o * spatial + s] += wi * x[i * spatial + s];
    }
  return y;
}

/** One 1x1 conv, fp16 input x [1,C,1,S] -> y [1,C,1,S], weight "w" [C,C,1,1] as a BLOBFILE. */
export function conv1x1Program(dialect: Dialect, channels: number, spatial: number, w: Float32Array) {
  const b = new MilBuilder({ dialect });
  const x = b.input("x", "fp16", [1, channels, 1, spatial]);
  const weight = b.weight("w", "fp16", [channels, channels, 1, 1], w);
  b.output(b.conv(x, weight), "y");
  return b.build();
}

/** A chain of `depth` 1x1 convs (C -> C), layer l with its own BLOBFILE weight "w<l>"; all in one
 *  program, as the ANE needs deep graphs to reach its peak (ane-maderix.md §8). */
export function convChainProgram(dialect: Dialect, channels: number, spatial: number, weights: Float32Array[]) {
  const b = new MilBuilder({ dialect });
  let h = b.input("x", "fp16", [1, channels, 1, spatial]);
  weights.forEach((w, l) => {
    h = b.conv(h, b.weight(`w${l}`, "fp16", [channels, channels, 1, 1], w));
  });
  b.output(h, "y");
  return b.build();
}

/** The dynamic-weight matmul (ane-maderix.md §3.5): one input [1, IC, 1, S+OC] holding x [IC,S]
 *  at spatial 0 and W [IC,OC] at spatial S; output y = Wᵀx [1, OC, 1, S]. */
export function dynamicMatmulProgram(dialect: Dialect, ic: number, oc: number, seq: number) {
  const b = new MilBuilder({ dialect });
  const packed = b.input("packed", "fp16", [1, ic, 1, seq + oc]);
  b.output(dynamicMatmul(b, packed, { ic, oc, seq, actOffset: 0, weightOffset: seq }), "y");
  return b.build();
}

/** y[o, s] = sum_i w[i, o] x[i, s] in float64 (y = Wᵀx with W [IC, OC], x [IC, S]). */
export function matmulTReference(w: Float32Array, x: Float32Array, ic: number, oc: number, seq: number): Float64Array {
  const y = new Float64Array(oc * seq);
  for (let i = 0; i < ic; i++)
    for (let o = 0; o < oc; o++) {
      const wi = w[i * oc + o];
      for (let s = 0; s < seq; s++) y[o * seq + s] += wi * x[i * seq + s];
    }
  return y;
}

/** One 1x1 conv with fp32 I/O: x fp32 [1,C,1,S] -> cast fp16 -> conv (weight "w" [C,C,1,1]) ->
 *  cast fp32 -> y. The in-memory benchmark's program (maderix/ANE inmem_bench): the casts run on
 *  the device, so the host reads and writes plain fp32. */
export function conv1x1CastProgram(dialect: Dialect, channels: number, spatial: number, w: Float32Array) {
  const b = new MilBuilder({ dialect });
  const x = b.input("x", "fp32", [1, channels, 1, spatial]);
  const weight = b.weight("w", "fp16", [channels, channels, 1, 1], w);
  b.output(b.cast(b.conv(b.cast(x, "fp16"), weight), "fp32"), "y");
  return b.build();
}

/** The W8A8 chain: `depth` layers of quantize(h) -> dequantize -> 1x1 conv whose weight is
 *  int8 in its blob, dequantized at compile (constexpr_affine_dequantize, zero point 0).
 *  Activations use one scale `actScale` (round(h / actScale) saturated to int8); the weights
 *  one scale `weightScale`. */
export function int8ConvChainProgram(dialect: Dialect, channels: number, spatial: number, weights: Int8Array[],
  weightScale: number, actScale: number) {
  const b = new MilBuilder({ dialect });
  let h = b.input("x", "fp16", [1, channels, 1, spatial]);
  weights.forEach((q, l) => {
    const a = b.dequantize(b.quantize(h, b.constFloat(actScale), "int8"), b.constFloat(actScale));
    const w = b.constexprAffineDequantize(`w${l}`, q, [channels, channels, 1, 1], b.constFloat(weightScale), b.constInt(0), 0);
    h = b.conv(a, w);
  });
  b.output(h, "y");
  return b.build();
}

/** Deterministic dense weights, uniform in [-a, a] with a = sqrt(3/C) (variance 1/C), so
 *  activations keep their scale through any depth instead of overflowing fp16. */
export function layerWeights(c: number, layer: number): Float32Array {
  const w = new Float32Array(c * c);
  const a = Math.sqrt(3 / c);
  let state = (0x9e3779b9 ^ (layer * 0x85ebca6b) ^ c) >>> 0 || 1;
  for (let i = 0; i < w.length; i++) {
    // xorshift32
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    w[i] = (state / 2 ** 32) * 2 * a - a;
  }
  return w;
}
