// quantize, dequantize and constexpr_affine_dequantize (iOS17/iOS16 MIL semantics):
//   quantize:   q = clip(round_half_even(x / scale) + zero_point, dtype range)
//   dequantize: x = scale * (q - zero_point)
// scale/zero_point are scalars or vectors along `axis`.

import { describe, test } from "bun:test";
import { fp16 } from "../reference/fp16.ts";
import { type QDType, QRANGE, binary, dequantize, quantize } from "../reference/ops.ts";
import { Rng } from "../reference/prng.ts";
import { numel } from "../reference/tensor.ts";
import { NUMERICS, check, dtypeFor, randomInput, ref } from "./harness.ts";
import { call, constInt, constScalar, constString, constTensor, fmt, tt } from "./mil.ts";

const EXACT = { exact: true };

interface QCase { shape: number[]; dtype: QDType; scale: number[]; zp: number[] | null; axis: number | null }

const QCASES: QCase[] = [
  { shape: [2, 3, 5], dtype: "int8", scale: [0.05], zp: [3], axis: null },
  { shape: [1, 3, 1, 7], dtype: "uint8", scale: [0.02, 0.1, 0.03], zp: [128, 0, 200], axis: 1 },
  { shape: [4, 9], dtype: "int8", scale: [0.01, 0.02, 0.04, 0.08], zp: null, axis: -2 },
];

/** Inputs whose x/scale sits at least 0.2 from a rounding tie; targets reach 20 past each end
 *  of the range so the clip is exercised too. */
function quantInput(rng: Rng, c: QCase, scales: number[], numerics: "fp16" | "fp32"): Float32Array {
  const n = numel(c.shape), x = new Float32Array(n);
  const [lo, hi] = QRANGE[c.dtype];
  for (let i = 0; i < n; i++) {
    const ch = axisIndex(c, i);
    const zp = c.zp ? c.zp[ch] : 0;
    const target = rng.int(lo - 20, hi + 20); // the quantized value before the clip
    const v = (target - zp + rng.uniform(-0.3, 0.3)) * scales[ch];
    x[i] = numerics === "fp16" ? fp16(v) : v;
  }
  return x;
}

/** Which scale/zero-point entry the flat element i uses (0 for scalars). */
function axisIndex(c: QCase, i: number): number {
  if (c.axis === null) return 0;
  const ax = c.axis < 0 ? c.axis + c.shape.length : c.axis;
  const inner = c.shape.slice(ax + 1).reduce((a, b) => a * b, 1);
  return Math.floor(i / inner) % c.shape[ax];
}

const paramConst = (name: string, dtype: string, v: number[], axis: number | null) =>
  axis === null ? constScalar(name, dtype, v[0]) : constTensor(name, dtype, [v.length], v);

describe("quantize", () => {
  for (const numerics of NUMERICS)
    QCASES.forEach((c, i) =>
      test(`quantize ${numerics} [${c.shape}] -> ${c.dtype} scale ${c.axis === null ? "scalar" : `per axis ${c.axis}`}${c.zp ? " zero_point" : ""}`, () => {
        const dt = dtypeFor(numerics);
        const scales = c.scale.map((s) => (numerics === "fp16" ? fp16(s) : Math.fround(s)));
        const x = quantInput(new Rng(1800 + i), c, scales, numerics);
        const r = quantize(ref(c.shape, x), scales, c.zp, c.axis, c.dtype);
        const consts = [paramConst("sc", dt, scales, c.axis), constString("od", c.dtype)];
        const args: Record<string, string> = { input: "x", scale: "sc", output_dtype: "od" };
        if (c.zp) {
          consts.push(paramConst("zp", c.dtype, c.zp, c.axis));
          args.zero_point = "zp";
        }
        if (c.axis !== null) {
          consts.push(constInt("ax", c.axis));
          args.axis = "ax";
        }
        check({
          inputs: [{ name: "x", shape: c.shape, data: x }],
          body: [...consts, call("q", c.dtype, c.shape, "quantize", args)],
          outputs: [{ name: "q", ref: r, budget: EXACT }],
        }, numerics);
      }));
});

describe("dequantize", () => {
  for (const numerics of NUMERICS)
    QCASES.forEach((c, i) =>
      test(`dequantize ${numerics} ${c.dtype} [${c.shape}] scale ${c.axis === null ? "scalar" : `per axis ${c.axis}`}${c.zp ? " zero_point" : ""}`, () => {
        const dt = dtypeFor(numerics);
        const rng = new Rng(1900 + i);
        const [lo, hi] = QRANGE[c.dtype];
        const n = numel(c.shape);
        const q = c.dtype === "int8" ? new Int8Array(n) : new Uint8Array(n);
        for (let j = 0; j < n; j++) q[j] = rng.int(lo, hi);
        q[0] = lo; q[n - 1] = hi; // both ends of the range
        const scales = c.scale.map((s) => (numerics === "fp16" ? fp16(s) : Math.fround(s)));
        const r = dequantize(ref(c.shape, q), scales, c.zp, c.axis);
        const consts = [paramConst("sc", dt, scales, c.axis)];
        const args: Record<string, string> = { input: "q", scale: "sc" };
        if (c.zp) {
          consts.push(paramConst("zp", c.dtype, c.zp, c.axis));
          args.zero_point = "zp";
        }
        if (c.axis !== null) {
          consts.push(constInt("ax", c.axis));
          args.axis = "ax";
        }
        // (q - zp) is an exact small integer and its product with an fp16/fp32 scale is exact in
        // fp32, so one rounding to the output type: exact.
        check({
          inputs: [{ name: "q", dtype: c.dtype, shape: c.shape, data: q }],
          body: [...consts, call("y", dt, c.shape, "dequantize", args)],
          outputs: [{ name: "y", ref: r, budget: EXACT }],
        }, numerics);
      }));
});

describe("constexpr_affine_dequantize", () => {
  // w [4, 3] int8, per-row (axis 0) scale and zero point; y = x + w so the constant reaches an output.
  const shape = [4, 3];
  const qdata = [-128, -1, 0, 1, 2, 3, 127, 50, -50, 7, -7, 100];
  const zp = [0, 1, -2, 5], scale = [0.5, 0.25, 0.125, 0.0625];
  for (const numerics of NUMERICS)
    for (const inline of [false, true])
      test(`constexpr_affine_dequantize ${numerics} per-axis int8 ${inline ? "inline literals" : "const() arguments"}`, () => {
        const dt = dtypeFor(numerics);
        const x = randomInput(new Rng(2100), shape, numerics, -4, 4);
        const w = dequantize(ref(shape, qdata), scale, zp, 0);
        const r = binary(ref(shape, x), w, (a, b) => a + b);
        const qlit = `${tt("int8", shape)}([${qdata.join(", ")}])`;
        const zlit = `${tt("int8", [4])}([${zp.join(", ")}])`;
        const slit = `${tt(dt, [4])}([${scale.map(fmt).join(", ")}])`;
        const body = inline
          ? [call("w", dt, shape, "constexpr_affine_dequantize", { quantized_data: qlit, zero_point: zlit, scale: slit, axis: "int32(0)" })]
          : [
            constTensor("qd", "int8", shape, qdata), constTensor("zp", "int8", [4], zp), constTensor("sc", dt, [4], scale), constInt("ax", 0),
            call("w", dt, shape, "constexpr_affine_dequantize", { quantized_data: "qd", zero_point: "zp", scale: "sc", axis: "ax" }),
          ];
        check({
          inputs: [{ name: "x", shape, data: x }],
          body: [...body, call("y", dt, shape, "add", { x: "x", y: "w" })],
          outputs: [{ name: "y", ref: r, budget: EXACT }],
        }, numerics);
      });
});
