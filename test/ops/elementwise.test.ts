// Elementwise MIL ops (binary with numpy broadcasting, unary, activations, clip) against the
// float64 reference, in fp32 numerics and in the ANE's fp16 numerics.

import { describe, test } from "bun:test";
import { EPS32, fp16 } from "../reference/fp16.ts";
import { BINARY, UNARY, type GeluMode, binary, clip, gelu, log, rsqrt, unary } from "../reference/ops.ts";
import { Rng } from "../reference/prng.ts";
import { NUMERICS, check, dtypeFor, randomInput, randomShape, ref, relTol } from "./harness.ts";
import { call, constScalar, constString } from "./mil.ts";

// ---------------------------------------------------------------- binary

// Shape pairs: equal shapes, one- and two-way broadcasting, size-1 everywhere, a large inner dim.
const BINARY_SHAPES: [number[], number[]][] = [
  [[2, 3, 5], [2, 3, 5]],
  [[2, 3, 5], [5]],
  [[4, 33], [1]],
  [[1, 4, 1, 7], [3, 1, 6, 1]],
  [[3, 1, 17], [1, 9, 1]],
  [[1, 1, 1, 1], [1, 1, 1, 1]],
  [[1, 3, 1, 4099], [1, 3, 1, 4099]],
  [[1, 7, 1, 13], [1, 7, 1, 1]],
];

/** Input ranges that keep each op well defined and inside fp16's range. */
const RANGES: Record<string, { x: [number, number]; y: [number, number]; yPositive?: boolean }> = {
  add: { x: [-4, 4], y: [-4, 4] },
  sub: { x: [-4, 4], y: [-4, 4] },
  mul: { x: [-4, 4], y: [-4, 4] },
  real_div: { x: [-4, 4], y: [0.25, 2] },
  pow: { x: [0.25, 3], y: [-2, 2] },
  maximum: { x: [-1, 1], y: [-1, 1] },
  minimum: { x: [-1, 1], y: [-1, 1] },
};

/** fp32 evaluation budget: exact for correctly rounded add/sub/mul/max/min, a few ulps for
 *  division, relative 1e-5 for pow (often exp(y log x)). */
function binaryBudget(op: string, r: ReturnType<typeof binary>) {
  if (op === "real_div") return { tol32: relTol(r, 4 * EPS32) };
  if (op === "pow") return { tol32: relTol(r, 1e-5) };
  return { exact: true };
}

describe("binary elementwise", () => {
  for (const op of Object.keys(BINARY))
    for (const numerics of NUMERICS)
      BINARY_SHAPES.forEach(([sa, sb], k) => {
        test(`${op} ${numerics} [${sa}] with [${sb}]`, () => {
          const rng = new Rng(1000 + k);
          const rg = RANGES[op];
          const a = randomInput(rng, sa, numerics, ...rg.x);
          const b = randomInput(rng, sb, numerics, ...rg.y);
          if (op === "real_div") for (let i = 0; i < b.length; i++) if (rng.next() < 0.5) b[i] = -b[i];
          const r = binary(ref(sa, a), ref(sb, b), BINARY[op]);
          const dt = dtypeFor(numerics);
          check({
            inputs: [{ name: "a", shape: sa, data: a }, { name: "b", shape: sb, data: b }],
            body: [call("z", dt, r.shape, op, { x: "a", y: "b" })],
            outputs: [{ name: "z", ref: r, budget: binaryBudget(op, r) }],
          }, numerics);
        });
      });

  // A const scalar operand (rank 0) broadcasts against any shape.
  for (const numerics of NUMERICS)
    test(`mul and sub by a const scalar ${numerics}`, () => {
      const rng = new Rng(77);
      const shape = [3, 1, 11];
      const x = randomInput(rng, shape, numerics, -4, 4);
      const c = fp16(-1.375), dt = dtypeFor(numerics);
      const r1 = unary(ref(shape, x), (v) => v * c);
      const r2 = unary(ref(shape, x), (v) => c - v);
      check({
        inputs: [{ name: "x", shape, data: x }],
        body: [constScalar("c", dt, c), call("m", dt, shape, "mul", { x: "x", y: "c" }), call("s", dt, shape, "sub", { x: "c", y: "x" })],
        outputs: [{ name: "m", ref: r1, budget: { exact: true } }, { name: "s", ref: r2, budget: { exact: true } }],
      }, numerics);
    });
});

// ---------------------------------------------------------------- unary

interface UnaryCase {
  op: string;
  label?: string;
  range: [number, number];
  f: (x: number) => number;
  extra?: (dt: string) => { consts: string[]; args: Record<string, string> };
  budget: (r: ReturnType<typeof unary>) => { exact?: boolean; tol32?: number[] };
}

const EPS = 2 ** -10; // an epsilon exact in fp16 and fp32
const transcendental = (r: ReturnType<typeof unary>) => ({ tol32: relTol(r, 1e-5, 1e-6) });

const UNARY_CASES: UnaryCase[] = [
  { op: "sqrt", range: [0, 4], f: UNARY.sqrt, budget: (r) => ({ tol32: relTol(r, 4 * EPS32) }) },
  {
    op: "rsqrt", label: "rsqrt epsilon=2^-10", range: [0.01, 4], f: (x) => rsqrt(x, EPS), budget: transcendental,
    extra: (dt) => ({ consts: [constScalar("eps", dt, EPS)], args: { epsilon: "eps" } }),
  },
  // The default epsilon of rsqrt is 1e-12: far below the spacing of any x in range.
  { op: "rsqrt", label: "rsqrt default epsilon", range: [0.01, 4], f: (x) => rsqrt(x, 1e-12), budget: transcendental },
  { op: "exp", range: [-4, 4], f: UNARY.exp, budget: transcendental },
  {
    op: "log", label: "log epsilon=2^-10", range: [0.01, 4], f: (x) => log(x, EPS), budget: transcendental,
    extra: (dt) => ({ consts: [constScalar("eps", dt, EPS)], args: { epsilon: "eps" } }),
  },
  { op: "log", label: "log default epsilon", range: [0.01, 4], f: (x) => log(x, 1e-45), budget: transcendental },
  { op: "sigmoid", range: [-8, 8], f: UNARY.sigmoid, budget: transcendental },
  { op: "tanh", range: [-4, 4], f: UNARY.tanh, budget: transcendental },
  { op: "relu", range: [-2, 2], f: UNARY.relu, budget: () => ({ exact: true }) },
  { op: "silu", range: [-6, 6], f: UNARY.silu, budget: transcendental },
  { op: "identity", range: [-100, 100], f: UNARY.identity, budget: () => ({ exact: true }) },
  {
    op: "clip", range: [-2, 2], f: (x) => clip(x, -0.5, 0.75), budget: () => ({ exact: true }),
    extra: (dt) => ({ consts: [constScalar("lo", dt, -0.5), constScalar("hi", dt, 0.75)], args: { alpha: "lo", beta: "hi" } }),
  },
  ...(["EXACT", "TANH_APPROXIMATION", "SIGMOID_APPROXIMATION"] as GeluMode[]).map((mode): UnaryCase => ({
    op: "gelu", label: `gelu ${mode}`, range: [-5, 5], f: (x) => gelu(x, mode),
    budget: (r) => ({ tol32: relTol(r, 1e-5, 2e-6) }),
    extra: () => ({ consts: [constString("mode", mode)], args: { mode: "mode" } }),
  })),
];

const UNARY_SHAPES: number[][] = [[1, 1, 1, 1], [1, 7, 1, 4099], [5], [2, 3, 1, 9]];

function unaryShapes(seed: number): number[][] {
  const rng = new Rng(seed);
  return [...UNARY_SHAPES, randomShape(rng, rng.int(1, 4), 13)];
}

describe("unary elementwise", () => {
  UNARY_CASES.forEach((u, ci) => {
    const label = u.label ?? u.op;
    for (const numerics of NUMERICS)
      for (const shape of unaryShapes(2000 + ci))
        test(`${label} ${numerics} [${shape}]`, () => {
          const rng = new Rng(3000 + ci);
          const x = randomInput(rng, shape, numerics, ...u.range);
          const r = unary(ref(shape, x), u.f);
          const dt = dtypeFor(numerics);
          const extra = u.extra?.(dt) ?? { consts: [], args: {} };
          check({
            inputs: [{ name: "x", shape, data: x }],
            body: [...extra.consts, call("y", dt, shape, u.op, { x: "x", ...extra.args })],
            outputs: [{ name: "y", ref: r, budget: u.budget(r) }],
          }, numerics);
        });
  });
});
