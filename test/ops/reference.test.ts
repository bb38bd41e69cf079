// Self-checks of the float64 reference ops on tiny cases worked out by hand (erf and gelu
// values from an independent libm), so the op tests compare against something trustworthy.

import { describe, expect, test } from "bun:test";
import {
  BINARY, binary, concat, conv2d, dequantize, erf, gelu, layerNorm, linear, matmul, quantize, reduce,
  reshape, roundHalfEven, samePads, sdpa, sliceByIndex, sliceBySize, softmax, transpose,
} from "../reference/ops.ts";
import { tensor } from "../reference/tensor.ts";

const t = tensor;
const close = (got: ArrayLike<number>, want: number[], tol = 1e-14) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(w))));
};

describe("reference ops", () => {
  test("broadcasting binary ops", () => {
    const r = binary(t([2, 3], [1, 2, 3, 4, 5, 6]), t([3], [10, 20, 30]), BINARY.add);
    expect(r.shape).toEqual([2, 3]);
    expect(Array.from(r.data)).toEqual([11, 22, 33, 14, 25, 36]);
    const o = binary(t([2, 1], [1, 2]), t([1, 3], [1, 10, 100]), BINARY.mul); // outer product
    expect(Array.from(o.data)).toEqual([1, 10, 100, 2, 20, 200]);
    expect(() => binary(t([2], [1, 2]), t([3], [1, 2, 3]), BINARY.add)).toThrow(/broadcast/);
  });

  test("erf and the three gelu modes", () => {
    const cases: [number, number][] = [[0.5, 0.5204998778130465], [1, 0.8427007929497149], [2.9, 0.9999589021219005],
      [3, 0.9999779095030014], [-2, -0.9953222650189527], [4.5, 0.9999999998033839], [0.01, 0.011283415555849616]];
    for (const [x, want] of cases) expect(Math.abs(erf(x) - want)).toBeLessThanOrEqual(1e-13 * Math.abs(want));
    close([gelu(1, "EXACT")], [0.8413447460685429]);
    close([gelu(1, "TANH_APPROXIMATION")], [0.8411919906082768]);
    close([gelu(1, "SIGMOID_APPROXIMATION")], [0.8457957659328212]);
  });

  test("reductions, softmax, layer_norm", () => {
    const x = t([2, 2], [1, 2, 3, 4]);
    expect(Array.from(reduce(x, [0], false, "sum").data)).toEqual([4, 6]);
    expect(reduce(x, [-1], true, "max").shape).toEqual([2, 1]);
    expect(Array.from(reduce(x, [-1], true, "max").data)).toEqual([2, 4]);
    expect(Array.from(reduce(x, [0, 1], false, "mean").data)).toEqual([2.5]);
    close(softmax(t([1, 3], [1, 2, 3]), -1).data, [0.09003057317038046, 0.24472847105479767, 0.6652409557748219]);
    const s = Math.sqrt(1.25 + 1e-5);
    close(layerNorm(t([4], [1, 2, 3, 4]), [0], null, null, 1e-5).data, [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]);
    // gamma over a non-trailing axis: x [1, 2, 1, 2] normalized over axis 1
    const ln = layerNorm(t([1, 2, 1, 2], [0, 10, 2, 14]), [1], t([2], [1, 3]), t([2], [0, 100]), 0);
    close(ln.data, [-1, -1, 103, 103]);
  });

  test("matmul with transposes and batch broadcasting, linear", () => {
    const a = t([2, 2], [1, 2, 3, 4]), b = t([2, 2], [5, 6, 7, 8]);
    expect(Array.from(matmul(a, b).data)).toEqual([19, 22, 43, 50]);
    expect(Array.from(matmul(a, b, true, false).data)).toEqual([26, 30, 38, 44]);
    expect(Array.from(matmul(a, b, false, true).data)).toEqual([17, 23, 39, 53]);
    const batched = matmul(t([2, 1, 1, 2], [1, 0, 0, 1]), t([3, 2, 1], [1, 2, 3, 4, 5, 6]));
    expect(batched.shape).toEqual([2, 3, 1, 1]);
    expect(Array.from(batched.data)).toEqual([1, 3, 5, 2, 4, 6]);
    expect(Array.from(linear(t([1, 2], [1, 2]), t([3, 2], [1, 0, 0, 1, 1, 1]), t([3], [0, 0, 10])).data)).toEqual([1, 2, 13]);
  });

  test("conv: valid, padded, grouped; same pads", () => {
    const x = t([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]), w = t([1, 1, 2, 2], [1, 0, 0, 1]);
    const base = { strides: [1, 1] as [number, number], dilations: [1, 1] as [number, number], groups: 1 };
    expect(Array.from(conv2d(x, w, null, { ...base, pad: [0, 0, 0, 0] }).data)).toEqual([6, 8, 12, 14]);
    const padded = conv2d(x, w, null, { ...base, pad: [1, 1, 1, 1] });
    expect(padded.shape).toEqual([1, 1, 4, 4]);
    expect(padded.data[0]).toBe(1);   // only w[1][1] * x[0][0]
    expect(padded.data[15]).toBe(9);  // only w[0][0] * x[2][2]
    const strided = conv2d(x, t([1, 1, 1, 1], [2]), t([1], [1]), { ...base, strides: [2, 2], pad: [0, 0, 0, 0] });
    expect(Array.from(strided.data)).toEqual([3, 7, 15, 19]);
    const grouped = conv2d(t([1, 2, 1, 1], [2, 3]), t([2, 1, 1, 1], [10, 100]), null, { ...base, groups: 2, pad: [0, 0, 0, 0] });
    expect(Array.from(grouped.data)).toEqual([20, 300]);
    expect(samePads(5, 5, 3, 3, { strides: [1, 1], dilations: [1, 1] })).toEqual([1, 1, 1, 1]);
    expect(samePads(9, 8, 3, 3, { strides: [2, 3], dilations: [1, 1] })).toEqual([1, 1, 0, 1]);
  });

  test("scaled_dot_product_attention", () => {
    const q = t([1, 1, 2], [1, 0]), k = t([1, 2, 2], [1, 0, 0, 1]), v = t([1, 2, 2], [1, 2, 3, 4]);
    close(sdpa(q, k, v, null).data, [1.6604769013466862, 2.6604769013466862], 1e-13);
    close(sdpa(q, k, v, t([1, 2], [0, -1e9])).data, [1, 2]); // the mask hides key 1
  });

  test("data movement", () => {
    const a = t([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(Array.from(transpose(a, [1, 0]).data)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(reshape(a, [-1, 2]).shape).toEqual([3, 2]);
    const r = t([10], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(sliceByIndex(r, [1], [8], [3]).data)).toEqual([1, 4, 7]);
    expect(Array.from(sliceByIndex(r, [-3], [10], [1]).data)).toEqual([7, 8, 9]);
    expect(Array.from(sliceBySize(r, [2], [-1]).data)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(sliceBySize(a, [1, 1], [1, 2]).data)).toEqual([5, 6]);
    expect(Array.from(concat([t([1, 2], [1, 2]), t([1, 2], [3, 4])], 1).data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(concat([t([1, 2], [1, 2]), t([1, 2], [3, 4])], 1, true).data)).toEqual([1, 3, 2, 4]);
    const il = concat([t([2, 3], [1, 2, 3, 4, 5, 6]), t([2, 3], [7, 8, 9, 10, 11, 12])], 0, true);
    expect(Array.from(il.data)).toEqual([1, 2, 3, 7, 8, 9, 4, 5, 6, 10, 11, 12]);
  });

  test("quantize rounds half to even and clips; dequantize", () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, 0, -2, 2, -3]);
    const q = quantize(t([6], [0.5, 1.5, 2.6, -2.6, 1000, -1000]), [1], [0], null, "int8");
    expect(Array.from(q.data)).toEqual([0, 2, 3, -3, 127, -128]);
    const qu = quantize(t([2, 2], [0, 1, 0, 3]), [1, 0.5], [10, 250], 0, "uint8");
    expect(Array.from(qu.data)).toEqual([10, 11, 250, 255]);
    expect(Array.from(dequantize(t([2], [-128, 127]), [0.5], [-1], null).data)).toEqual([-63.5, 64]);
    expect(Array.from(dequantize(t([2, 2], [1, 2, 3, 4]), [1, 10], [0, 1], 0).data)).toEqual([1, 2, 20, 30]);
  });
});
