// Reductions, softmax and layer_norm against the float64 reference. Budgets: a sum of n terms
// evaluated in fp32 is off by at most about n*eps32*sum|x| (recursive summation; blocked or
// pairwise sums do better), so the checks allow 2(n+2)*eps32*sum|x|; reduce_max is exact.

import { describe, test } from "bun:test";
import { EPS32 } from "../reference/fp16.ts";
import { type ReduceKind, layerNorm, reduce, softmax, unary } from "../reference/ops.ts";
import { Rng } from "../reference/prng.ts";
import { type Tensor, normAxis, numel } from "../reference/tensor.ts";
import { NUMERICS, check, dtypeFor, randomInput, randomShape, ref } from "./harness.ts";
import { call, constBool, constInt, constInts, constScalar, constTensor } from "./mil.ts";

interface ReduceCase { shape: number[]; axes: number[]; keep: boolean }

const REDUCE_CASES: ReduceCase[] = [
  { shape: [3, 5, 7], axes: [1], keep: false },
  { shape: [3, 5, 7], axes: [-1], keep: true },
  { shape: [2, 3, 4, 5], axes: [0, 2], keep: false },
  { shape: [2, 3, 4, 5], axes: [-3, -1], keep: true },
  { shape: [2, 3, 4, 5], axes: [1, 2], keep: false },
  { shape: [1, 4099], axes: [1], keep: true },
  { shape: [1, 1, 1, 1], axes: [3], keep: false },
  { shape: [4, 33, 3], axes: [0, 1, 2], keep: true },
  { shape: [1, 9, 1, 513], axes: [1], keep: true },
];

function randomReduceCase(seed: number): ReduceCase {
  const rng = new Rng(seed);
  const shape = randomShape(rng, rng.int(2, 4), 17);
  return { shape, axes: [rng.int(-shape.length, shape.length - 1)], keep: rng.next() < 0.5 };
}

/** How many inputs each output of a reduction over `axes` combines. */
const termsPerOutput = (shape: number[], axes: number[]) =>
  axes.reduce((n, a) => n * shape[normAxis(a, shape.length)], 1);

describe("reductions", () => {
  for (const kind of ["sum", "max", "mean"] as ReduceKind[])
    for (const numerics of NUMERICS)
      [...REDUCE_CASES, randomReduceCase(11), randomReduceCase(12)].forEach((c, k) => {
        test(`reduce_${kind} ${numerics} [${c.shape}] axes [${c.axes}] keep_dims=${c.keep}`, () => {
          const x = randomInput(new Rng(500 + k), c.shape, numerics, -1, 1);
          const r = reduce(ref(c.shape, x), c.axes, c.keep, kind);
          const n = termsPerOutput(c.shape, c.axes);
          const absSum = reduce(unary(ref(c.shape, x), Math.abs), c.axes, c.keep, "sum");
          const sumTol = Array.from(absSum.data, (s) => 2 * (n + 2) * EPS32 * s);
          const budget =
            kind === "max" ? { exact: true }
            : kind === "sum" ? { tol32: sumTol }
            : { tol32: sumTol.map((t, i) => t / n + 2 * EPS32 * Math.abs(r.data[i])) };
          const dt = dtypeFor(numerics);
          check({
            inputs: [{ name: "x", shape: c.shape, data: x }],
            body: [constInts("axes", c.axes), constBool("keep", c.keep), call("y", dt, r.shape, `reduce_${kind}`, { x: "x", axes: "axes", keep_dims: "keep" })],
            outputs: [{ name: "y", ref: r, budget }],
          }, numerics);
        });
      });
});

const SOFTMAX_CASES: { shape: number[]; axis: number }[] = [
  { shape: [2, 5, 7], axis: -1 },
  { shape: [3, 17], axis: 0 },
  { shape: [2, 3, 4, 5], axis: 1 },
  { shape: [1, 4099], axis: -1 },
  { shape: [1, 1, 1, 1], axis: -1 },
  { shape: [1, 4, 33, 33], axis: 3 },
];

describe("softmax", () => {
  for (const numerics of NUMERICS)
    SOFTMAX_CASES.forEach((c, k) => {
      test(`softmax ${numerics} [${c.shape}] axis ${c.axis}`, () => {
        const x = randomInput(new Rng(600 + k), c.shape, numerics, -4, 4);
        const r = softmax(ref(c.shape, x), c.axis);
        // exp: a few ulps plus the rounding of x - max (|x - max| <= 8); the sum: n*eps relative.
        const n = c.shape[normAxis(c.axis, c.shape.length)];
        const rel = 2 * (n + 16) * EPS32;
        const dt = dtypeFor(numerics);
        check({
          inputs: [{ name: "x", shape: c.shape, data: x }],
          body: [constInt("ax", c.axis), call("y", dt, c.shape, "softmax", { x: "x", axis: "ax" })],
          outputs: [{ name: "y", ref: r, budget: { tol32: Array.from(r.data, (v) => rel * v) } }],
        }, numerics);
      });
    });
});

interface NormCase { shape: number[]; axes: number[]; affine: boolean; eps?: number }

const NORM_CASES: NormCase[] = [
  { shape: [2, 5, 16], axes: [-1], affine: true },
  { shape: [3, 7], axes: [1], affine: false },
  { shape: [1, 6, 1, 9], axes: [1], affine: true, eps: 2 ** -10 },
  { shape: [2, 3, 4, 5], axes: [2, 3], affine: true },
  { shape: [1, 4099], axes: [-1], affine: false },
  { shape: [4, 1], axes: [0], affine: true },
];

describe("layer_norm", () => {
  for (const numerics of NUMERICS)
    NORM_CASES.forEach((c, k) => {
      test(`layer_norm ${numerics} [${c.shape}] axes [${c.axes}]${c.affine ? " gamma,beta" : ""}${c.eps ? " epsilon" : ""}`, () => {
        const rng = new Rng(700 + k);
        const x = randomInput(rng, c.shape, numerics, -2, 2);
        const pShape = c.axes.map((a) => c.shape[normAxis(a, c.shape.length)]);
        const gamma = randomInput(rng, pShape, numerics, 0.5, 1.5);
        const beta = randomInput(rng, pShape, numerics, -0.5, 0.5);
        const eps = c.eps ?? 1e-5; // MIL's default epsilon
        const g: Tensor | null = c.affine ? ref(pShape, gamma) : null, b: Tensor | null = c.affine ? ref(pShape, beta) : null;
        const r = layerNorm(ref(c.shape, x), c.axes, g, b, eps);
        const z = layerNorm(ref(c.shape, x), c.axes, null, null, eps);
        const gmax = c.affine ? Math.max(...gamma.map(Math.abs)) : 1, bmax = c.affine ? Math.max(...beta.map(Math.abs)) : 0;
        const n = numel(pShape);
        const tol32 = Array.from(z.data, (v) => 4 * (n + 16) * EPS32 * ((Math.abs(v) + 2) * gmax + bmax + 1));
        const dt = dtypeFor(numerics);
        const args: Record<string, string> = { x: "x", axes: "axes" };
        const consts = [constInts("axes", c.axes)];
        if (c.affine) {
          consts.push(constTensor("gamma", dt, pShape, gamma), constTensor("beta", dt, pShape, beta));
          Object.assign(args, { gamma: "gamma", beta: "beta" });
        }
        if (c.eps !== undefined) {
          consts.push(constScalar("eps", dt, c.eps));
          args.epsilon = "eps";
        }
        check({
          inputs: [{ name: "x", shape: c.shape, data: x }],
          body: [...consts, call("y", dt, c.shape, "layer_norm", args)],
          outputs: [{ name: "y", ref: r, budget: { tol32 } }],
        }, numerics);
      });
    });
});
