// The dynamic-weight matmul block: the packed layout, and the emitted program evaluated by a small
// float64 interpreter of the MIL text written here (independent of the builder) against y = Wᵀx.
import { describe, expect, test } from "bun:test";
import { MilBuilder, MilShapeError, dynamicMatmul, packDynamicMatmulInput } from "../../src/mil/index.ts";

type T = { shape: number[]; data: Float64Array };
type Lit = number[] | boolean;

function strides(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

function index(flat: number, shape: number[]): number[] {
  const st = strides(shape);
  return shape.map((_, i) => Math.floor(flat / st[i]) % shape[i]);
}

/** Runs the ops used by dynamicMatmul (slice_by_size, reshape, transpose, matmul) over the text of
 *  an ios18 program, checking each statement's declared shape. */
function interpret(text: string, inputs: Record<string, T>): Record<string, T> {
  const env = new Map<string, T | Lit>(Object.entries(inputs));
  const get = (n: string) => env.get(n)!;
  for (const line of text.split("\n")) {
    const m = /^ {8}(?:tensor<\w+, \[([\d, ]*)\]>|(\w+)) (\w+) = (\w+)\(([^)]*)\)\[(.*)\];$/.exec(line);
    if (!m) continue;
    const [, dims, , name, op, argText, attrs] = m;
    if (op === "const") {
      const v = /val = (?:tensor<int32, \[\d+\]>\(\[([\d, -]*)\]\)|bool\((true|false)\))/.exec(attrs)!;
      env.set(name, v[1] !== undefined ? v[1].split(", ").map(Number) : v[2] === "true");
      continue;
    }
    const args = Object.fromEntries(argText.split(", ").map((kv) => kv.split(" = ")));
    const x = get(args.x) as T;
    let out: T;
    if (op === "slice_by_size") {
      const begin = get(args.begin) as number[];
      const size = get(args.size) as number[];
      const data = new Float64Array(size.reduce((a, b) => a * b, 1));
      const xs = strides(x.shape);
      for (let i = 0; i < data.length; i++) data[i] = x.data[index(i, size).reduce((a, c, d) => a + (c + begin[d]) * xs[d], 0)];
      out = { shape: size, data };
    } else if (op === "reshape") {
      out = { shape: get(args.shape) as number[], data: x.data };
    } else if (op === "transpose") {
      const perm = get(args.perm) as number[];
      const shape = perm.map((p) => x.shape[p]);
      const xs = strides(x.shape);
      const data = new Float64Array(x.data.length);
      for (let i = 0; i < data.length; i++) {
        const idx = index(i, shape);
        data[i] = x.data[idx.reduce((a, c, d) => a + c * xs[perm[d]], 0)];
      }
      out = { shape, data };
    } else if (op === "matmul") {
      const y = get(args.y) as T;
      expect(get(args.transpose_x)).toBe(false);
      expect(get(args.transpose_y)).toBe(false);
      // rank 4 with batch dims [1, 1]
      const [m2, k] = x.shape.slice(2), n = y.shape[3];
      const data = new Float64Array(m2 * n);
      for (let i = 0; i < m2; i++) for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += x.data[i * k + t] * y.data[t * n + j];
        data[i * n + j] = s;
      }
      out = { shape: [1, 1, m2, n], data };
    } else {
      throw new Error(`interpreter: unexpected op ${op}`);
    }
    expect(out.shape).toEqual(dims.split(", ").map(Number)); // the declared type matches
    env.set(name, out);
  }
  const outs = /\} -> \(([^)]*)\);/.exec(text)![1].split(", ");
  return Object.fromEntries(outs.map((n) => [n, get(n) as T]));
}

function randoms(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    a[i] = seed / 2 ** 32 - 0.5;
  }
  return a;
}

/** y[o, s] = Σ_d W[d, o] · x[d, s] in float64. */
function reference(x: Float32Array, w: Float32Array, ic: number, seq: number, oc: number): Float64Array {
  const y = new Float64Array(oc * seq);
  for (let o = 0; o < oc; o++) for (let s = 0; s < seq; s++) {
    let acc = 0;
    for (let d = 0; d < ic; d++) acc += w[d * oc + o] * x[d * seq + s];
    y[o * seq + s] = acc;
  }
  return y;
}

describe("packDynamicMatmulInput", () => {
  test("channel d holds x[d, :] then W[d, :]", () => {
    const ic = 3, seq = 2, oc = 4;
    const x = Float32Array.from({ length: ic * seq }, (_, i) => 100 + i);
    const w = Float32Array.from({ length: ic * oc }, (_, i) => -1 - i);
    const p = packDynamicMatmulInput(x, w, ic, seq, oc);
    expect([...p]).toEqual([100, 101, -1, -2, -3, -4, 102, 103, -5, -6, -7, -8, 104, 105, -9, -10, -11, -12]);
  });
  test("wrong lengths are refused", () => {
    expect(() => packDynamicMatmulInput(new Float32Array(5), new Float32Array(12), 3, 2, 4)).toThrow(/x has 5 values/);
    expect(() => packDynamicMatmulInput(new Float32Array(6), new Float32Array(11), 3, 2, 4)).toThrow(/w has 11 values/);
  });
});

describe("dynamicMatmul", () => {
  test("result type, and the op chain of reference §3.5", () => {
    const b = new MilBuilder();
    const packed = b.input("x", "fp16", [1, 64, 1, 96]);
    const y = dynamicMatmul(b, packed, { ic: 64, oc: 64, seq: 32, actOffset: 0, weightOffset: 32 });
    expect({ dtype: y.dtype, shape: [...y.shape] }).toEqual({ dtype: "fp16", shape: [1, 64, 1, 32] });
    b.output(y, "y");
    const ops = [...b.build().text.matchAll(/^ {8}\S+(?:, \[[\d, ]*\]>)? \w+ = (\w+)\(/gm)].map((m) => m[1]).filter((o) => o !== "const");
    expect(ops).toEqual(["slice_by_size", "slice_by_size", "reshape", "transpose", "reshape", "matmul", "transpose", "reshape"]);
  });

  test("the emitted text computes Wᵀx (float64 interpretation)", () => {
    const ic = 16, seq = 8, oc = 12;
    const x = randoms(ic * seq, 1), w = randoms(ic * oc, 2);
    const b = new MilBuilder();
    const packed = b.input("x", "fp32", [1, ic, 1, seq + oc]);
    b.output(dynamicMatmul(b, packed, { ic, oc, seq, actOffset: 0, weightOffset: seq }), "y");
    const input = Float64Array.from(packDynamicMatmulInput(x, w, ic, seq, oc));
    const { y } = interpret(b.build().text, { x: { shape: [1, ic, 1, seq + oc], data: input } });
    expect(y.shape).toEqual([1, oc, 1, seq]);
    const ref = reference(x, w, ic, seq, oc);
    for (let i = 0; i < ref.length; i++) expect(Math.abs(y.data[i] - ref[i])).toBeLessThan(1e-12);
  });

  test("weights before activations (other offsets) also work", () => {
    const ic = 4, seq = 3, oc = 5;
    const x = randoms(ic * seq, 3), w = randoms(ic * oc, 4);
    const b = new MilBuilder();
    const packed = b.input("x", "fp32", [1, ic, 1, oc + seq + 2]);
    b.output(dynamicMatmul(b, packed, { ic, oc, seq, actOffset: oc + 2, weightOffset: 0 }), "y");
    const data = new Float64Array(ic * (oc + seq + 2));
    for (let d = 0; d < ic; d++) {
      for (let o = 0; o < oc; o++) data[d * (oc + seq + 2) + o] = w[d * oc + o];
      for (let s = 0; s < seq; s++) data[d * (oc + seq + 2) + oc + 2 + s] = x[d * seq + s];
    }
    const { y } = interpret(b.build().text, { x: { shape: [1, ic, 1, oc + seq + 2], data } });
    const ref = reference(x, w, ic, seq, oc);
    for (let i = 0; i < ref.length; i++) expect(Math.abs(y.data[i] - ref[i])).toBeLessThan(1e-12);
  });

  test("a packed input too narrow or of the wrong channel count is a shape error", () => {
    const b = new MilBuilder();
    const packed = b.input("x", "fp16", [1, 64, 1, 90]);
    expect(() => dynamicMatmul(b, packed, { ic: 64, oc: 64, seq: 32, actOffset: 0, weightOffset: 32 })).toThrow(MilShapeError);
    expect(() => dynamicMatmul(b, packed, { ic: 32, oc: 8, seq: 8, actOffset: 0, weightOffset: 8 })).toThrow(/\[1,32,1,W\]/);
  });
});
