// matmul, linear, conv and scaled_dot_product_attention against the float64 reference.
// Budget for a dot product of K terms in fp32: 2(K+2)*eps32 * sum|a_k b_k| (the classic
// gamma_K bound with a factor 2 of slack); in fp16 numerics one fp16 spacing more.

import { describe, test } from "bun:test";
import { EPS32 } from "../reference/fp16.ts";
import { type Conv2dOpts, conv2d, linear, matmul, samePads, sdpa, unary } from "../reference/ops.ts";
import { Rng } from "../reference/prng.ts";
import { type Tensor, numel } from "../reference/tensor.ts";
import { NUMERICS, check, dtypeFor, randomInput, ref } from "./harness.ts";
import { call, constBool, constInt, constInts, constString, constTensor } from "./mil.ts";

const abs = (t: Tensor) => unary(t, Math.abs);
const dotBudget = (absRef: Tensor, K: number) => ({ tol32: Array.from(absRef.data, (s) => 2 * (K + 2) * EPS32 * s) });

interface MatmulCase { x: number[]; y: number[]; tx: boolean; ty: boolean }

const MATMUL_CASES: MatmulCase[] = [
  { x: [3, 5], y: [5, 7], tx: false, ty: false },
  { x: [2, 1, 4, 6], y: [3, 6, 5], tx: false, ty: false },
  { x: [6, 4], y: [6, 5], tx: true, ty: false },
  { x: [4, 6], y: [5, 6], tx: false, ty: true },
  { x: [2, 6, 4], y: [2, 5, 6], tx: true, ty: true },
  { x: [1, 1, 3, 1031], y: [1, 1, 1031, 2], tx: false, ty: false },
  { x: [1, 1], y: [1, 1], tx: false, ty: false },
  { x: [1, 1, 32, 64], y: [1, 1, 64, 48], tx: false, ty: false },
  { x: [1, 3, 17, 9], y: [1, 1, 9, 33], tx: false, ty: false },
];

function randomMatmulCase(seed: number): MatmulCase {
  const rng = new Rng(seed);
  const [b, m, k, n] = [rng.int(1, 3), rng.int(1, 20), rng.int(1, 70), rng.int(1, 20)];
  const tx = rng.next() < 0.5, ty = rng.next() < 0.5;
  return { x: tx ? [b, k, m] : [b, m, k], y: ty ? [b, n, k] : [b, k, n], tx, ty };
}

describe("matmul", () => {
  for (const numerics of NUMERICS)
    [...MATMUL_CASES, randomMatmulCase(21), randomMatmulCase(22)].forEach((c, i) => {
      test(`matmul ${numerics} [${c.x}]${c.tx ? "ᵀ" : ""} · [${c.y}]${c.ty ? "ᵀ" : ""}`, () => {
        const rng = new Rng(800 + i);
        const x = randomInput(rng, c.x, numerics), y = randomInput(rng, c.y, numerics);
        const r = matmul(ref(c.x, x), ref(c.y, y), c.tx, c.ty);
        const K = c.tx ? c.x[c.x.length - 2] : c.x[c.x.length - 1];
        const dt = dtypeFor(numerics);
        check({
          inputs: [{ name: "x", shape: c.x, data: x }, { name: "y", shape: c.y, data: y }],
          body: [
            constBool("tx", c.tx), constBool("ty", c.ty),
            call("z", dt, r.shape, "matmul", { x: "x", y: "y", transpose_x: "tx", transpose_y: "ty" }),
          ],
          outputs: [{ name: "z", ref: r, budget: dotBudget(matmul(abs(ref(c.x, x)), abs(ref(c.y, y)), c.tx, c.ty), K) }],
        }, numerics);
      });
    });
});

describe("linear", () => {
  const cases: { x: number[]; out: number; bias: boolean }[] = [
    { x: [3, 8], out: 5, bias: true },
    { x: [2, 3, 17], out: 4, bias: false },
    { x: [1, 1031], out: 3, bias: true },
    { x: [1, 1], out: 1, bias: true },
  ];
  for (const numerics of NUMERICS)
    cases.forEach((c, i) => {
      test(`linear ${numerics} x [${c.x}] -> ${c.out}${c.bias ? " with bias" : ""}`, () => {
        const rng = new Rng(900 + i);
        const din = c.x[c.x.length - 1];
        const x = randomInput(rng, c.x, numerics), w = randomInput(rng, [c.out, din], numerics), b = randomInput(rng, [c.out], numerics);
        const bias = c.bias ? ref([c.out], b) : null;
        const r = linear(ref(c.x, x), ref([c.out, din], w), bias);
        const absRef = linear(abs(ref(c.x, x)), abs(ref([c.out, din], w)), bias && abs(bias));
        const dt = dtypeFor(numerics);
        const consts = [constTensor("w", dt, [c.out, din], w)];
        const args: Record<string, string> = { x: "x", weight: "w" };
        if (c.bias) {
          consts.push(constTensor("b", dt, [c.out], b));
          args.bias = "b";
        }
        check({
          inputs: [{ name: "x", shape: c.x, data: x }],
          body: [...consts, call("y", dt, r.shape, "linear", args)],
          outputs: [{ name: "y", ref: r, budget: dotBudget(absRef, din + 1) }],
        }, numerics);
      });
    });
});

interface ConvCase {
  x: number[]; w: number[]; groups: number; strides: [number, number]; dilations: [number, number];
  padType: "valid" | "same" | "custom"; pad?: [number, number, number, number]; bias: boolean;
}

const CONV_CASES: ConvCase[] = [
  { x: [1, 8, 1, 16], w: [6, 8, 1, 1], groups: 1, strides: [1, 1], dilations: [1, 1], padType: "valid", bias: false },
  { x: [2, 3, 7, 9], w: [4, 3, 3, 3], groups: 1, strides: [1, 1], dilations: [1, 1], padType: "custom", pad: [1, 1, 1, 1], bias: true },
  { x: [1, 4, 11, 10], w: [5, 4, 3, 2], groups: 1, strides: [2, 2], dilations: [2, 2], padType: "valid", bias: true },
  { x: [1, 6, 5, 5], w: [4, 3, 3, 3], groups: 2, strides: [1, 1], dilations: [1, 1], padType: "same", bias: false },
  { x: [1, 5, 6, 7], w: [5, 1, 3, 3], groups: 5, strides: [1, 2], dilations: [1, 1], padType: "custom", pad: [0, 2, 1, 0], bias: true },
  { x: [1, 257, 1, 3], w: [2, 257, 1, 1], groups: 1, strides: [1, 1], dilations: [1, 1], padType: "valid", bias: true },
  { x: [1, 1, 1, 1], w: [1, 1, 1, 1], groups: 1, strides: [1, 1], dilations: [1, 1], padType: "valid", bias: false },
  { x: [1, 4, 9, 8], w: [6, 4, 3, 3], groups: 1, strides: [2, 3], dilations: [1, 1], padType: "same", bias: true },
];

describe("conv", () => {
  for (const numerics of NUMERICS)
    CONV_CASES.forEach((c, i) => {
      test(`conv ${numerics} x [${c.x}] w [${c.w}] groups ${c.groups} strides [${c.strides}] dilations [${c.dilations}] ${c.padType}${c.pad ? ` [${c.pad}]` : ""}${c.bias ? " bias" : ""}`, () => {
        const rng = new Rng(1100 + i);
        const x = randomInput(rng, c.x, numerics), w = randomInput(rng, c.w, numerics), b = randomInput(rng, [c.w[0]], numerics);
        const pad = c.padType === "custom" ? c.pad! : c.padType === "same" ? samePads(c.x[2], c.x[3], c.w[2], c.w[3], c) : [0, 0, 0, 0] as [number, number, number, number];
        const opts: Conv2dOpts = { strides: c.strides, dilations: c.dilations, pad, groups: c.groups };
        const bias = c.bias ? ref([c.w[0]], b) : null;
        const r = conv2d(ref(c.x, x), ref(c.w, w), bias, opts);
        const absRef = conv2d(abs(ref(c.x, x)), abs(ref(c.w, w)), bias && abs(bias), opts);
        const dt = dtypeFor(numerics);
        const consts = [
          constTensor("w", dt, c.w, w), constInts("st", c.strides), constInts("di", c.dilations),
          constInts("pd", c.pad ?? [0, 0, 0, 0]), constString("pt", c.padType), constInt("gr", c.groups),
        ];
        const args: Record<string, string> = { x: "x", weight: "w", strides: "st", pad_type: "pt", pad: "pd", dilations: "di", groups: "gr" };
        if (c.bias) {
          consts.push(constTensor("b", dt, [c.w[0]], b));
          args.bias = "b";
        }
        check({
          inputs: [{ name: "x", shape: c.x, data: x }],
          body: [...consts, call("y", dt, r.shape, "conv", args)],
          outputs: [{ name: "y", ref: r, budget: dotBudget(absRef, c.w[1] * c.w[2] * c.w[3] + 1) }],
        }, numerics);
      });
    });
});

interface SdpaCase { q: number[]; k: number[]; v: number[]; mask?: number[] }

const SDPA_CASES: SdpaCase[] = [
  { q: [1, 2, 5, 8], k: [1, 2, 7, 8], v: [1, 2, 7, 6] },
  { q: [2, 3, 4, 16], k: [2, 3, 9, 16], v: [2, 3, 9, 16] },
  { q: [3, 4, 32], k: [3, 33, 32], v: [3, 33, 5] },
  { q: [1, 1, 1, 1], k: [1, 1, 1, 1], v: [1, 1, 1, 1] },
  { q: [1, 2, 5, 8], k: [1, 2, 7, 8], v: [1, 2, 7, 6], mask: [5, 7] },
];

describe("scaled_dot_product_attention", () => {
  for (const numerics of NUMERICS)
    SDPA_CASES.forEach((c, i) => {
      test(`scaled_dot_product_attention ${numerics} q [${c.q}] k [${c.k}] v [${c.v}]${c.mask ? ` additive mask [${c.mask}]` : ""}`, () => {
        const rng = new Rng(1200 + i);
        const q = randomInput(rng, c.q, numerics, -2, 2), k = randomInput(rng, c.k, numerics, -2, 2), v = randomInput(rng, c.v, numerics);
        // A causal-style additive mask: key s is visible to query l when s <= l + 2.
        const mask = c.mask ? Float32Array.from({ length: numel(c.mask) }, (_, j) => (j % c.mask![1] <= Math.floor(j / c.mask![1]) + 2 ? 0 : -30000)) : null;
        const r = sdpa(ref(c.q, q), ref(c.k, k), ref(c.v, v), mask && ref(c.mask!, mask));
        // Scores carry a dot-product error (E terms); softmax adds ~S eps relative; the final
        // P·V adds S terms. All scaled by the largest |v|.
        const E = c.q[c.q.length - 1], S = c.k[c.k.length - 2];
        const maxAbs = (a: Float32Array) => a.reduce((m, t) => Math.max(m, Math.abs(t)), 0);
        const scoreAbs = (E * maxAbs(q) * maxAbs(k)) / Math.sqrt(E);
        const tol = maxAbs(v) * EPS32 * (4 * (E + 2) * scoreAbs + 4 * (S + 16));
        const dt = dtypeFor(numerics);
        const consts = mask ? [constTensor("mask", dt, c.mask!, mask)] : [];
        const args: Record<string, string> = { query: "q", key: "k", value: "v", ...(mask ? { attn_mask: "mask" } : {}) };
        check({
          inputs: [{ name: "q", shape: c.q, data: q }, { name: "k", shape: c.k, data: k }, { name: "v", shape: c.v, data: v }],
          body: [...consts, call("o", dt, r.shape, "scaled_dot_product_attention", args)],
          outputs: [{ name: "o", ref: r, budget: { tol32: tol } }],
        }, numerics);
      });
    });
});
