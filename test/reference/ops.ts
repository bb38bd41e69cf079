// ops.ts — float64 reference implementations of the MIL ops libane runs (CoreML MIL semantics),
// written plainly for clarity, not speed. Every function returns a new Tensor.

import {
  type Tensor, broadcastOffset, broadcastShapes, normAxis, numel, stridesOf, tensor, unravel, zeros,
} from "./tensor.ts";

// ---------------------------------------------------------------- elementwise

/** Binary op with numpy broadcasting (add, sub, mul, real_div, pow, maximum, minimum). */
export function binary(a: Tensor, b: Tensor, f: (x: number, y: number) => number): Tensor {
  const shape = broadcastShapes(a.shape, b.shape);
  const out = zeros(shape);
  const sa = stridesOf(a.shape), sb = stridesOf(b.shape);
  const idx = new Array<number>(shape.length);
  for (let i = 0; i < out.data.length; i++) {
    unravel(i, shape, idx);
    out.data[i] = f(a.data[broadcastOffset(idx, a.shape, sa)], b.data[broadcastOffset(idx, b.shape, sb)]);
  }
  return out;
}

export function unary(a: Tensor, f: (x: number) => number): Tensor {
  return { shape: [...a.shape], data: a.data.map(f) };
}

export const BINARY: Record<string, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  real_div: (x, y) => x / y,
  pow: (x, y) => Math.pow(x, y),
  maximum: (x, y) => Math.max(x, y),
  minimum: (x, y) => Math.min(x, y),
};

/** erf in float64: Maclaurin series below 3 (terms alternate; cancellation costs < 4 digits),
 *  continued fraction for erfc above (Lentz). Relative error below 1e-13 everywhere. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = a, sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + ...)))))
  let f = a, c = a, d = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    d = a + an * d; d = 1 / d;
    c = a + an / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export type GeluMode = "EXACT" | "TANH_APPROXIMATION" | "SIGMOID_APPROXIMATION";
export function gelu(x: number, mode: GeluMode): number {
  switch (mode) {
    case "EXACT": return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case "TANH_APPROXIMATION":
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    case "SIGMOID_APPROXIMATION": return x * sigmoid(1.702 * x);
  }
}

export const UNARY: Record<string, (x: number) => number> = {
  sqrt: Math.sqrt,
  exp: Math.exp,
  sigmoid,
  tanh: Math.tanh,
  relu: (x) => Math.max(x, 0),
  silu: (x) => x * sigmoid(x),
  identity: (x) => x,
};
/** rsqrt(x, epsilon) = 1/sqrt(x + epsilon); log(x, epsilon) = log(x + epsilon). */
export const rsqrt = (x: number, eps: number) => 1 / Math.sqrt(x + eps);
export const log = (x: number, eps: number) => Math.log(x + eps);
/** clip(x, alpha, beta) = min(max(x, alpha), beta). */
export const clip = (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi);

// ---------------------------------------------------------------- reductions

export type ReduceKind = "sum" | "max" | "mean";

/** reduce_sum / reduce_max / reduce_mean over `axes` (negative allowed). */
export function reduce(a: Tensor, axes: number[], keepDims: boolean, kind: ReduceKind): Tensor {
  const rank = a.shape.length;
  const ax = new Set(axes.map((x) => normAxis(x, rank)));
  const keptShape = a.shape.map((d, i) => (ax.has(i) ? 1 : d));
  const out = zeros(keptShape);
  out.data.fill(kind === "max" ? -Infinity : 0);
  const so = stridesOf(keptShape);
  const idx = new Array<number>(rank);
  for (let i = 0; i < a.data.length; i++) {
    unravel(i, a.shape, idx);
    const o = broadcastOffset(idx, keptShape, so);
    out.data[o] = kind === "max" ? Math.max(out.data[o], a.data[i]) : out.data[o] + a.data[i];
  }
  if (kind === "mean") {
    const n = a.data.length / out.data.length;
    for (let i = 0; i < out.data.length; i++) out.data[i] /= n;
  }
  out.shape = keepDims ? keptShape : a.shape.filter((_, i) => !ax.has(i));
  return out;
}

/** softmax along `axis`, computed stably (max subtracted). */
export function softmax(a: Tensor, axis: number): Tensor {
  const m = reduce(a, [axis], true, "max");
  const e = binary(a, m, (x, mx) => Math.exp(x - mx));
  const s = reduce(e, [axis], true, "sum");
  return binary(e, s, (x, y) => x / y);
}

/** layer_norm: (x - mean) / sqrt(var + eps) * gamma + beta over `axes`; var is the biased
 *  (population) variance. gamma/beta have shape x.shape[axes], in axis order. */
export function layerNorm(x: Tensor, axes: number[], gamma: Tensor | null, beta: Tensor | null, eps: number): Tensor {
  const mean = reduce(x, axes, true, "mean");
  const centered = binary(x, mean, (a, m) => a - m);
  const variance = reduce(unary(centered, (v) => v * v), axes, true, "mean");
  let y = binary(centered, variance, (c, v) => c / Math.sqrt(v + eps));
  // gamma/beta laid out over the normalized axes only: give them 1s at the other axes.
  const ax = axes.map((a) => normAxis(a, x.shape.length));
  const spread = (p: Tensor) => tensor(x.shape.map((d, i) => (ax.includes(i) ? d : 1)), p.data);
  if (gamma) y = binary(y, spread(gamma), (a, g) => a * g);
  if (beta) y = binary(y, spread(beta), (a, b) => a + b);
  return y;
}

// ---------------------------------------------------------------- linear algebra

/** Swaps the last two dims. */
export function transposeLast2(a: Tensor): Tensor {
  const r = a.shape.length;
  const perm = a.shape.map((_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return transpose(a, perm);
}

/** matmul (rank >= 2 each): batch dims broadcast; x [..., M, K] · y [..., K, N] -> [..., M, N]. */
export function matmul(x: Tensor, y: Tensor, transposeX = false, transposeY = false): Tensor {
  if (transposeX) x = transposeLast2(x);
  if (transposeY) y = transposeLast2(y);
  const rx = x.shape.length, ry = y.shape.length;
  const [M, K] = x.shape.slice(rx - 2), [K2, N] = y.shape.slice(ry - 2);
  if (K !== K2) throw new Error(`matmul: inner dims ${K} vs ${K2}`);
  const batch = broadcastShapes(x.shape.slice(0, rx - 2), y.shape.slice(0, ry - 2));
  const out = zeros([...batch, M, N]);
  const bx = x.shape.slice(0, rx - 2), by = y.shape.slice(0, ry - 2);
  const sbx = stridesOf(bx), sby = stridesOf(by);
  const idx = new Array<number>(batch.length);
  for (let b = 0; b < numel(batch); b++) {
    unravel(b, batch, idx);
    const ox = broadcastOffset(idx, bx, sbx) * M * K, oy = broadcastOffset(idx, by, sby) * K * N;
    const oo = b * M * N;
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += x.data[ox + m * K + k] * y.data[oy + k * N + n];
        out.data[oo + m * N + n] = s;
      }
  }
  return out;
}

/** linear: x [..., Din] · weight [Dout, Din]ᵀ + bias [Dout]. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const y = matmul(x, weight, false, true);
  return bias ? binary(y, bias, (a, b) => a + b) : y;
}

export interface Conv2dOpts {
  strides: [number, number];
  dilations: [number, number];
  pad: [number, number, number, number]; // top, bottom, left, right
  groups: number;
}

/** Pads of pad_type "same" (coremltools): out = ceil(in/stride), extra padding goes to the end. */
export function samePads(inH: number, inW: number, kH: number, kW: number, o: Pick<Conv2dOpts, "strides" | "dilations">): [number, number, number, number] {
  const one = (n: number, k: number, s: number, d: number) => {
    const total = Math.max((Math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [t, b] = one(inH, kH, o.strides[0], o.dilations[0]);
  const [l, r] = one(inW, kW, o.strides[1], o.dilations[1]);
  return [t, b, l, r];
}

/** conv: x [N, Cin, H, W], weight [Cout, Cin/groups, KH, KW], bias [Cout] -> [N, Cout, OH, OW]. */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null, o: Conv2dOpts): Tensor {
  const [N, C, H, W] = x.shape;
  const [OC, CG, KH, KW] = w.shape;
  const g = o.groups, OCG = OC / g;
  if (CG * g !== C || OCG * g !== OC) throw new Error("conv2d: channels do not divide by groups");
  const [sh, sw] = o.strides, [dh, dw] = o.dilations, [pt, pb, pl, pr] = o.pad;
  const OH = Math.floor((H + pt + pb - (dh * (KH - 1) + 1)) / sh) + 1;
  const OW = Math.floor((W + pl + pr - (dw * (KW - 1) + 1)) / sw) + 1;
  const out = zeros([N, OC, OH, OW]);
  for (let n = 0; n < N; n++)
    for (let oc = 0; oc < OC; oc++) {
      const grp = Math.floor(oc / OCG);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = bias ? bias.data[oc] : 0;
          for (let c = 0; c < CG; c++)
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - pt + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - pl + kw * dw;
                if (iw < 0 || iw >= W) continue;
                s += x.data[((n * C + grp * CG + c) * H + ih) * W + iw] * w.data[((oc * CG + c) * KH + kh) * KW + kw];
              }
            }
          out.data[((n * OC + oc) * OH + oh) * OW + ow] = s;
        }
    }
  return out;
}

/** scaled_dot_product_attention: softmax(Q Kᵀ / sqrt(E) + mask) V; q [..., L, E], k [..., S, E],
 *  v [..., S, EV], mask (float, additive) broadcastable to [..., L, S]. */
export function sdpa(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null): Tensor {
  const E = q.shape[q.shape.length - 1];
  let scores = unary(matmul(q, k, false, true), (s) => s / Math.sqrt(E));
  if (mask) scores = binary(scores, mask, (s, m) => s + m);
  return matmul(softmax(scores, -1), v);
}

// ---------------------------------------------------------------- data movement

export function reshape(a: Tensor, shape: number[]): Tensor {
  const known = shape.filter((d) => d !== -1).reduce((x, y) => x * y, 1);
  const full = shape.map((d) => (d === -1 ? a.data.length / known : d));
  return tensor(full, a.data);
}

export function transpose(a: Tensor, perm: number[]): Tensor {
  const rank = a.shape.length;
  const p = perm.map((x) => normAxis(x, rank));
  const shape = p.map((i) => a.shape[i]);
  const out = zeros(shape);
  const sa = stridesOf(a.shape);
  const idx = new Array<number>(rank);
  for (let i = 0; i < out.data.length; i++) {
    unravel(i, shape, idx);
    let off = 0;
    for (let j = 0; j < rank; j++) off += idx[j] * sa[p[j]];
    out.data[i] = a.data[off];
  }
  return out;
}

/** Elements at begin[i] + j*stride[i] for j in [0, count[i]). */
function gather(a: Tensor, begin: number[], count: number[], stride: number[]): Tensor {
  const out = zeros(count);
  const sa = stridesOf(a.shape);
  const idx = new Array<number>(count.length);
  for (let i = 0; i < out.data.length; i++) {
    unravel(i, count, idx);
    let off = 0;
    for (let j = 0; j < count.length; j++) off += (begin[j] + idx[j] * stride[j]) * sa[j];
    out.data[i] = a.data[off];
  }
  return out;
}

/** slice_by_size: begin (negative counts from the end), size (-1 = to the end). */
export function sliceBySize(a: Tensor, begin: number[], size: number[]): Tensor {
  const b = begin.map((x, i) => (x < 0 ? x + a.shape[i] : x));
  const n = size.map((s, i) => (s === -1 ? a.shape[i] - b[i] : s));
  return gather(a, b, n, a.shape.map(() => 1));
}

/** slice_by_index with positive strides: x[begin:end:stride] per axis (negative begin/end count
 *  from the end, as in numpy). */
export function sliceByIndex(a: Tensor, begin: number[], end: number[], stride: number[]): Tensor {
  const b = begin.map((x, i) => (x < 0 ? x + a.shape[i] : x));
  const e = end.map((x, i) => (x < 0 ? x + a.shape[i] : x));
  const n = b.map((x, i) => Math.max(0, Math.ceil((e[i] - x) / stride[i])));
  return gather(a, b, n, stride);
}

/** concat along axis; with interleave, inputs of equal shape alternate slice by slice:
 *  out[..., j*n + i, ...] = values[i][..., j, ...]. */
export function concat(values: Tensor[], axis: number, interleave = false): Tensor {
  const rank = values[0].shape.length;
  const ax = normAxis(axis, rank);
  const shape = [...values[0].shape];
  shape[ax] = values.reduce((s, v) => s + v.shape[ax], 0);
  const out = zeros(shape);
  const so = stridesOf(shape);
  const idx = new Array<number>(rank);
  let base = 0;
  values.forEach((v, vi) => {
    for (let i = 0; i < v.data.length; i++) {
      unravel(i, v.shape, idx);
      idx[ax] = interleave ? idx[ax] * values.length + vi : idx[ax] + base;
      let off = 0;
      for (let j = 0; j < rank; j++) off += idx[j] * so[j];
      out.data[off] = v.data[i];
    }
    base += v.shape[ax];
  });
  return out;
}

// ---------------------------------------------------------------- quantization

/** Rounds to the nearest integer, ties to even (numpy's around). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x), d = x - f;
  if (d !== 0.5) return Math.round(x);
  return f % 2 === 0 ? f : f + 1;
}

/** A per-axis parameter (scalar when p has one element) at the flat index i of shape. */
function perAxis(p: ArrayLike<number>, shape: number[], axis: number | null, i: number): number {
  if (p.length === 1 || axis === null) return p[0];
  const ax = normAxis(axis, shape.length);
  return p[Math.floor(i / stridesOf(shape)[ax]) % shape[ax]];
}

export type QDType = "int8" | "uint8";
export const QRANGE: Record<QDType, [number, number]> = { int8: [-128, 127], uint8: [0, 255] };

/** quantize: clip(round(x / scale) + zero_point) to the output type's range. */
export function quantize(x: Tensor, scale: ArrayLike<number>, zeroPoint: ArrayLike<number> | null, axis: number | null, dtype: QDType): Tensor {
  const [lo, hi] = QRANGE[dtype];
  return {
    shape: [...x.shape],
    data: x.data.map((v, i) => {
      const zp = zeroPoint ? perAxis(zeroPoint, x.shape, axis, i) : 0;
      return Math.min(hi, Math.max(lo, roundHalfEven(v / perAxis(scale, x.shape, axis, i)) + zp));
    }),
  };
}

/** dequantize / constexpr_affine_dequantize: scale * (q - zero_point). */
export function dequantize(q: Tensor, scale: ArrayLike<number>, zeroPoint: ArrayLike<number> | null, axis: number | null): Tensor {
  return {
    shape: [...q.shape],
    data: q.data.map((v, i) => perAxis(scale, q.shape, axis, i) * (v - (zeroPoint ? perAxis(zeroPoint, q.shape, axis, i) : 0))),
  };
}
