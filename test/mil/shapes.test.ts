// Shape and dtype inference of every builder op, and the MilShapeError messages for bad operands.
// Expected shapes are worked out by hand from the CoreML MIL op definitions.
import { describe, expect, test } from "bun:test";
import { MilBuilder, MilShapeError, type Value } from "../../src/mil/index.ts";

function fresh() {
  return new MilBuilder();
}

/** Asserts fn throws a MilShapeError whose message contains every fragment. */
function shapeError(fn: () => unknown, ...fragments: string[]) {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(MilShapeError);
  for (const f of fragments) expect((err as Error).message).toContain(f);
}

function typeOf(v: Value) {
  return { dtype: v.dtype, shape: [...v.shape] };
}

describe("matmul", () => {
  test("plain, transposed and batch-broadcast shapes", () => {
    const b = fresh();
    const x = b.input("x", "fp16", [1, 1, 32, 64]);
    const y = b.input("y", "fp16", [1, 1, 64, 48]);
    expect(typeOf(b.matmul(x, y))).toEqual({ dtype: "fp16", shape: [1, 1, 32, 48] });
    const yt = b.input("yt", "fp16", [1, 1, 48, 64]);
    expect(b.matmul(x, yt, { transposeY: true }).shape).toEqual([1, 1, 32, 48]);
    const xt = b.input("xt", "fp16", [1, 1, 64, 32]);
    expect(b.matmul(xt, y, { transposeX: true }).shape).toEqual([1, 1, 32, 48]);
    expect(b.matmul(xt, yt, { transposeX: true, transposeY: true }).shape).toEqual([1, 1, 32, 48]);
    // batch dims broadcast: [4,1] with [3] -> [4,3]
    const bx = b.input("bx", "fp32", [4, 1, 5, 6]);
    const by = b.input("by", "fp32", [3, 6, 7]);
    expect(b.matmul(bx, by).shape).toEqual([4, 3, 5, 7]);
    // rank-1 operands: the promoted dim is dropped
    const v = b.input("v", "fp32", [6]);
    expect(b.matmul(bx, v).shape).toEqual([4, 1, 5]);
    const u = b.input("u", "fp32", [5]);
    expect(b.matmul(u, bx).shape).toEqual([4, 1, 6]);
  });
  test("errors name the op and the shapes", () => {
    const b = fresh();
    const x = b.input("x", "fp16", [1, 1, 32, 64]);
    const y = b.input("y", "fp16", [1, 1, 48, 64]);
    shapeError(() => b.matmul(x, y), "matmul", "inner dims differ", "[1,1,32,64]", "[1,1,48,64]");
    shapeError(() => b.matmul(b.input("p", "fp16", [2, 3, 4]), b.input("q", "fp16", [3, 4, 5])), "matmul", "batch", "[2,3,4]", "[3,4,5]");
    shapeError(() => b.matmul(x, b.input("f", "fp32", [1, 1, 64, 8])), "matmul", "fp16", "fp32");
    shapeError(() => b.matmul(b.input("i", "int32", [2, 2]), b.input("j", "int32", [2, 2])), "matmul", "int32");
  });
});

describe("conv", () => {
  test("1x1, strided, dilated, padded and grouped output shapes", () => {
    const b = fresh();
    const x = b.input("x", "fp16", [1, 64, 1, 32]);
    const w = b.weight("w", "fp16", [128, 64, 1, 1], new Float32Array(128 * 64));
    expect(typeOf(b.conv(x, w))).toEqual({ dtype: "fp16", shape: [1, 128, 1, 32] });
    const img = b.input("img", "fp32", [2, 6, 10, 11]);
    const k = b.weight("k", "fp32", [4, 6, 3, 3], new Float32Array(4 * 6 * 9));
    // valid: (10-3)/1+1 = 8, (11-3)/1+1 = 9
    expect(b.conv(img, k).shape).toEqual([2, 4, 8, 9]);
    // stride 2: floor((10-3)/2)+1 = 4, floor((11-3)/2)+1 = 5
    expect(b.conv(img, k, { strides: [2, 2] }).shape).toEqual([2, 4, 4, 5]);
    // dilation 2 -> span 5: 6, 7
    expect(b.conv(img, k, { dilations: [2, 2] }).shape).toEqual([2, 4, 6, 7]);
    // custom pad [1,1,0,2]: (10+2-3)+1 = 10, (11+2-3)+1 = 11
    expect(b.conv(img, k, { pad: [1, 1, 0, 2] }).shape).toEqual([2, 4, 10, 11]);
    // same with stride 3: ceil(10/3) = 4, ceil(11/3) = 4
    expect(b.conv(img, k, { padType: "same", strides: [3, 3] }).shape).toEqual([2, 4, 4, 4]);
    // groups 2: weight [4, 3, 3, 3]
    const kg = b.weight("kg", "fp32", [4, 3, 3, 3], new Float32Array(4 * 27));
    expect(b.conv(img, kg, { groups: 2 }).shape).toEqual([2, 4, 8, 9]);
    // bias [Cout] is accepted and keeps the shape
    const bias = b.constTensor("fp32", [4], new Float32Array(4));
    expect(b.conv(img, k, { bias }).shape).toEqual([2, 4, 8, 9]);
  });
  test("errors", () => {
    const b = fresh();
    const x = b.input("x", "fp16", [1, 64, 1, 32]);
    const w = b.weight("w", "fp16", [128, 32, 1, 1], new Float32Array(128 * 32));
    shapeError(() => b.conv(x, w), "conv", "[1,64,1,32]", "[128,32,1,1]");
    shapeError(() => b.conv(x, w, { groups: 3 }), "conv", "groups 3");
    const k = b.weight("k", "fp16", [8, 64, 3, 3], new Float32Array(8 * 64 * 9));
    shapeError(() => b.conv(x, k), "conv", "kernel span 3", "height 1");
    shapeError(() => b.conv(x, k, { padType: "valid", pad: [1, 1, 1, 1] }), "conv", "custom");
    shapeError(() => b.conv(b.input("v", "fp16", [64, 32]), w), "conv", "rank 4");
    const w1 = b.weight("w1", "fp16", [16, 64, 1, 1], new Float32Array(16 * 64));
    shapeError(() => b.conv(x, w1, { bias: b.constTensor("fp16", [8], new Float32Array(8)) }), "conv", "bias", "[8]");
  });
});

describe("elementwise", () => {
  test("binary ops broadcast numpy-style", () => {
    const b = fresh();
    const x = b.input("x", "fp16", [1, 64, 1, 32]);
    const g = b.input("g", "fp16", [1, 64, 1, 1]);
    const s = b.constFloat(0.5);
    for (const op of ["add", "sub", "mul", "realDiv", "pow", "maximum", "minimum"] as const) {
      expect(typeOf(b[op](x, g))).toEqual({ dtype: "fp16", shape: [1, 64, 1, 32] });
      expect(b[op](s, x).shape).toEqual([1, 64, 1, 32]);
    }
    const r = b.input("r", "fp32", [5, 1, 3]);
    const c = b.input("c", "fp32", [4, 1]);
    expect(b.add(r, c).shape).toEqual([5, 4, 3]);
  });
  test("binary errors", () => {
    const b = fresh();
    const x = b.input("x", "fp16", [1, 64, 1, 32]);
    shapeError(() => b.add(x, b.input("y", "fp16", [1, 48, 1, 32])), "add", "broadcast", "[1,64,1,32]", "[1,48,1,32]");
    shapeError(() => b.mul(x, b.constFloat(2, "fp32")), "mul", "dtypes differ", "fp16", "fp32");
  });
  test("unary ops keep type; need float operands", () => {
    const b = fresh();
    const x = b.input("x", "fp32", [2, 3]);
    for (const op of ["sqrt", "exp", "log", "sigmoid", "tanh", "relu", "silu", "gelu"] as const)
      expect(typeOf(b[op](x))).toEqual({ dtype: "fp32", shape: [2, 3] });
    expect(b.rsqrt(x, 1e-5).shape).toEqual([2, 3]);
    expect(b.gelu(x, "TANH_APPROXIMATION").shape).toEqual([2, 3]);
    expect(b.clip(x, -1, 1).shape).toEqual([2, 3]);
    shapeError(() => b.exp(b.input("i", "int32", [2])), "exp", "int32");
    shapeError(() => b.clip(x, 2, 1), "clip", "2", "1");
  });
});

describe("reductions and normalization", () => {
  test("reduce with and without keep_dims, negative axes", () => {
    const b = fresh();
    const x = b.input("x", "fp16", [2, 3, 4, 5]);
    expect(b.reduceSum(x, [1]).shape).toEqual([2, 4, 5]);
    expect(b.reduceSum(x, [1], true).shape).toEqual([2, 1, 4, 5]);
    expect(b.reduceMax(x, [-1, 0]).shape).toEqual([3, 4]);
    expect(b.reduceMean(x, [1, 3], true).shape).toEqual([2, 1, 4, 1]);
    shapeError(() => b.reduceSum(x, [4]), "reduce_sum", "axis 4", "rank 4");
    shapeError(() => b.reduceMax(x, [1, -3]), "reduce_max", "repeat");
    shapeError(() => b.reduceMean(x, []), "reduce_mean", "at least one");
  });
  test("softmax and layer_norm", () => {
    const b = fresh();
    const x = b.input("x", "fp16", [1, 4, 8, 8]);
    expect(b.softmax(x, -1).shape).toEqual([1, 4, 8, 8]);
    shapeError(() => b.softmax(x, 4), "softmax", "axis 4");
    const gamma = b.constTensor("fp16", [8, 8], new Float32Array(64).fill(1));
    const beta = b.constTensor("fp16", [8, 8], new Float32Array(64));
    expect(b.layerNorm(x, [2, 3], { gamma, beta, eps: 1e-5 }).shape).toEqual([1, 4, 8, 8]);
    shapeError(() => b.layerNorm(x, [1], { gamma }), "layer_norm", "gamma", "[4]", "[8,8]");
  });
});

describe("shape ops", () => {
  test("reshape with -1, and its errors", () => {
    const b = fresh();
    const x = b.input("x", "fp16", [1, 64, 1, 32]);
    expect(b.reshape(x, [1, 4, 16, 32]).shape).toEqual([1, 4, 16, 32]);
    expect(b.reshape(x, [1, -1, 32]).shape).toEqual([1, 64, 32]);
    shapeError(() => b.reshape(x, [1, 63, 32]), "reshape", "[1,64,1,32]", "[1,63,32]");
    shapeError(() => b.reshape(x, [-1, -1, 32]), "reshape", "-1");
    shapeError(() => b.reshape(x, [7, -1]), "reshape", "do not divide");
    shapeError(() => b.reshape(x, [0, 2048]), "reshape", "positive");
  });
  test("transpose", () => {
    const b = fresh();
    const x = b.input("x", "fp16", [1, 2, 3, 4]);
    expect(b.transpose(x, [0, 1, 3, 2]).shape).toEqual([1, 2, 4, 3]);
    expect(b.transpose(x, [3, 2, 1, 0]).shape).toEqual([4, 3, 2, 1]);
    shapeError(() => b.transpose(x, [0, 1, 1, 2]), "transpose", "permutation");
    shapeError(() => b.transpose(x, [0, 1, 2]), "transpose", "[0,1,2]", "[1,2,3,4]");
  });
  test("slice_by_size with size -1", () => {
    const b = fresh();
    const x = b.input("x", "fp16", [1, 64, 1, 96]);
    expect(b.sliceBySize(x, [0, 0, 0, 32], [1, 64, 1, 64]).shape).toEqual([1, 64, 1, 64]);
    expect(b.sliceBySize(x, [0, 16, 0, 40], [-1, 8, -1, -1]).shape).toEqual([1, 8, 1, 56]);
    shapeError(() => b.sliceBySize(x, [0, 0, 0, 64], [1, 64, 1, 64]), "slice_by_size", "[64, 128)", "96");
    shapeError(() => b.sliceBySize(x, [0, 0, 0], [1, 1, 1]), "slice_by_size", "4 entries");
  });
  test("slice_by_index with strides and negative indices", () => {
    const b = fresh();
    const x = b.input("x", "fp32", [10, 7]);
    expect(b.sliceByIndex(x, [1, 0], [9, 7], [3, 2]).shape).toEqual([3, 4]); // ceil(8/3), ceil(7/2)
    expect(b.sliceByIndex(x, [-4, 0], [-1, 7]).shape).toEqual([3, 7]);
    shapeError(() => b.sliceByIndex(x, [5, 0], [5, 7]), "slice_by_index", "empty");
    shapeError(() => b.sliceByIndex(x, [0, 0], [11, 7]), "slice_by_index", "outside size 10");
  });
  test("concat", () => {
    const b = fresh();
    const p = b.input("p", "fp16", [1, 8, 1, 32]);
    const q = b.input("q", "fp16", [1, 24, 1, 32]);
    expect(b.concat([p, q, p], 1).shape).toEqual([1, 40, 1, 32]);
    expect(b.concat([p, p], -1).shape).toEqual([1, 8, 1, 64]);
    shapeError(() => b.concat([p, q], 3), "concat", "[1,8,1,32]", "[1,24,1,32]");
    shapeError(() => b.concat([p, b.input("f", "fp32", [1, 8, 1, 32])], 1), "concat", "fp32");
  });
  test("cast and identity", () => {
    const b = fresh();
    const x = b.input("x", "fp32", [1, 8, 1, 32]);
    expect(typeOf(b.cast(x, "fp16"))).toEqual({ dtype: "fp16", shape: [1, 8, 1, 32] });
    expect(typeOf(b.identity(x))).toEqual({ dtype: "fp32", shape: [1, 8, 1, 32] });
  });
});

describe("quantization", () => {
  test("quantize / dequantize types and per-channel scales", () => {
    const b = fresh();
    const x = b.input("x", "fp16", [1, 4, 1, 8]);
    const s = b.constFloat(0.05);
    const q = b.quantize(x, s, "int8");
    expect(typeOf(q)).toEqual({ dtype: "int8", shape: [1, 4, 1, 8] });
    expect(typeOf(b.dequantize(q, s))).toEqual({ dtype: "fp16", shape: [1, 4, 1, 8] });
    const perChannel = b.constTensor("fp16", [4], new Float32Array([0.1, 0.2, 0.3, 0.4]));
    expect(b.quantize(x, perChannel, "uint8", b.constInt([1, 2, 3, 4]), 1).dtype).toBe("uint8");
    shapeError(() => b.quantize(x, perChannel, "int8"), "quantize", "axis");
    shapeError(() => b.quantize(x, perChannel, "int8", undefined, 3), "quantize", "4 entries", "8");
    shapeError(() => b.quantize(x, b.constFloat(0.1, "fp32"), "int8"), "quantize", "fp32", "fp16");
    shapeError(() => b.dequantize(x, s), "dequantize", "int8 or uint8");
  });
  test("constexpr_affine_dequantize", () => {
    const b = fresh();
    const w = b.constexprAffineDequantize("wq", new Int8Array(8 * 4), [8, 4, 1, 1], b.constTensor("fp16", [8], new Float32Array(8).fill(0.01)), b.constInt(0), 0);
    expect(typeOf(w)).toEqual({ dtype: "fp16", shape: [8, 4, 1, 1] });
    shapeError(
      () => b.constexprAffineDequantize("wz", new Int8Array(32), [8, 4, 1, 1], b.constTensor("fp16", [4], new Float32Array(4)), b.constInt(0), 0),
      "constexpr_affine_dequantize", "[4]", "[8]",
    );
    shapeError(() => b.constexprAffineDequantize("wy", new Int8Array(31), [8, 4, 1, 1], b.constFloat(1), b.constInt(0), 0), "31 values");
  });
});

describe("constants and inputs", () => {
  test("constant types", () => {
    const b = fresh();
    expect(typeOf(b.constInt(3))).toEqual({ dtype: "int32", shape: [] });
    expect(typeOf(b.constInt([1, 2, 3, 4]))).toEqual({ dtype: "int32", shape: [4] });
    expect(typeOf(b.constInt([1, 2, 3, 4], [2, 2]))).toEqual({ dtype: "int32", shape: [2, 2] });
    expect(typeOf(b.constFloat(1, "fp32"))).toEqual({ dtype: "fp32", shape: [] });
    expect(typeOf(b.constBool(true))).toEqual({ dtype: "bool", shape: [] });
    expect(typeOf(b.constString("valid"))).toEqual({ dtype: "string", shape: [] });
    shapeError(() => b.constInt([1, 2, 3], [2, 2]), "constInt", "[2,2]");
    shapeError(() => b.constTensor("fp16", [2, 3], new Float32Array(5)), "constTensor", "[2,3]");
  });
  test("bad inputs, names and foreign values are clear errors", () => {
    const b = fresh();
    shapeError(() => b.input("x", "fp16", [1, 0, 1, 32]), "input x", "[1,0,1,32]");
    b.input("x", "fp16", [1, 4]);
    expect(() => b.input("x", "fp16", [1, 4])).toThrow(/already used/);
    expect(() => b.input("2x", "fp16", [1, 4])).toThrow(/identifier/);
    expect(() => b.input("tensor", "fp16", [1, 4])).toThrow(/keyword/);
    const other = new MilBuilder().input("y", "fp16", [1, 4]);
    expect(() => b.relu(other)).toThrow(/not a value of this MilBuilder/);
    expect(() => b.constInt(1.5)).toThrow(/int32/);
    expect(() => b.constFloat(70000)).toThrow(/finite fp16/);
    expect(() => b.weight("w", "fp16", [2], new Int8Array(2))).toThrow(/Float32Array/);
  });
});
