// Data movement (reshape, transpose, slices, concat) and cast. These only move or convert
// values, so the results must be exact in both numerics.

import { describe, test } from "bun:test";
import { fp16 } from "../reference/fp16.ts";
import { concat, reshape, sliceByIndex, sliceBySize, transpose } from "../reference/ops.ts";
import { Rng } from "../reference/prng.ts";
import { NUMERICS, check, dtypeFor, randomInput, ref } from "./harness.ts";
import { call, constBool, constInt, constInts, constString } from "./mil.ts";

const EXACT = { exact: true };
const constBools = (name: string, v: boolean[]) =>
  `tensor<bool, [${v.length}]> ${name} = const()[name=string("${name}"), val=tensor<bool, [${v.length}]>([${v.join(", ")}])];`;

describe("reshape", () => {
  const cases: [number[], number[]][] = [
    [[2, 3, 4], [4, 6]],
    [[2, 3, 4], [-1, 2]],
    [[1, 12, 1, 5], [1, 1, 12, 5]],
    [[1, 1, 1, 1], [1]],
    [[7, 11], [1, 77, 1, 1]],
  ];
  for (const numerics of NUMERICS)
    cases.forEach(([from, to], i) =>
      test(`reshape ${numerics} [${from}] -> [${to}]`, () => {
        const x = randomInput(new Rng(1300 + i), from, numerics);
        const r = reshape(ref(from, x), to);
        check({
          inputs: [{ name: "x", shape: from, data: x }],
          body: [constInts("s", to), call("y", dtypeFor(numerics), r.shape, "reshape", { x: "x", shape: "s" })],
          outputs: [{ name: "y", ref: r, budget: EXACT }],
        }, numerics);
      }));
});

describe("transpose", () => {
  const rng = new Rng(5);
  const cases: [number[], number[]][] = [
    [[2, 3, 4], [2, 0, 1]],
    [[1, 4, 1, 5], [0, 1, 3, 2]],
    [[3, 5, 2], [-1, 0, 1]],
    [[1, 1, 1, 1], [3, 2, 1, 0]],
    [[2, 3, 4, 5], rng.permutation(4)],
    [[33, 17], [1, 0]],
  ];
  for (const numerics of NUMERICS)
    cases.forEach(([shape, perm], i) =>
      test(`transpose ${numerics} [${shape}] perm [${perm}]`, () => {
        const x = randomInput(new Rng(1400 + i), shape, numerics);
        const r = transpose(ref(shape, x), perm);
        check({
          inputs: [{ name: "x", shape, data: x }],
          body: [constInts("p", perm), call("y", dtypeFor(numerics), r.shape, "transpose", { x: "x", perm: "p" })],
          outputs: [{ name: "y", ref: r, budget: EXACT }],
        }, numerics);
      }));
});

describe("slice_by_size", () => {
  const cases: { shape: number[]; begin: number[]; size: number[] }[] = [
    { shape: [3, 7, 9], begin: [1, 2, 0], size: [2, 5, -1] },
    { shape: [1, 64, 1, 96], begin: [0, 0, 0, 32], size: [1, 64, 1, 64] }, // the dynamic-weight split
    { shape: [3, 7, 9], begin: [2, 6, 8], size: [1, 1, 1] },               // one element
    { shape: [1, 5, 1, 13], begin: [0, 1, 0, 0], size: [1, 3, 1, 13] },
  ];
  for (const numerics of NUMERICS)
    cases.forEach((c, i) =>
      test(`slice_by_size ${numerics} [${c.shape}] begin [${c.begin}] size [${c.size}]`, () => {
        const x = randomInput(new Rng(1500 + i), c.shape, numerics);
        const r = sliceBySize(ref(c.shape, x), c.begin, c.size);
        check({
          inputs: [{ name: "x", shape: c.shape, data: x }],
          body: [constInts("b", c.begin), constInts("s", c.size), call("y", dtypeFor(numerics), r.shape, "slice_by_size", { x: "x", begin: "b", size: "s" })],
          outputs: [{ name: "y", ref: r, budget: EXACT }],
        }, numerics);
      }));
});

describe("slice_by_index", () => {
  const cases: { shape: number[]; begin: number[]; end: number[]; stride: number[]; beginMask?: boolean[]; endMask?: boolean[] }[] = [
    { shape: [5, 8, 9], begin: [1, 0, 2], end: [4, 8, 9], stride: [1, 2, 3] },
    { shape: [4, 10], begin: [0, -3], end: [4, 10], stride: [1, 1] },
    { shape: [1, 1, 1, 7], begin: [0, 0, 0, 6], end: [1, 1, 1, 7], stride: [1, 1, 1, 1] },
    { shape: [6, 5], begin: [3, 1], end: [0, 4], stride: [1, 1], beginMask: [true, false], endMask: [true, false] },
    { shape: [2, 33], begin: [0, 1], end: [2, 33], stride: [1, 4] },
  ];
  for (const numerics of NUMERICS)
    cases.forEach((c, i) =>
      test(`slice_by_index ${numerics} [${c.shape}] [${c.begin}:${c.end}:${c.stride}]${c.beginMask ? ` masks [${c.beginMask}] [${c.endMask}]` : ""}`, () => {
        const x = randomInput(new Rng(1600 + i), c.shape, numerics);
        // A set begin_mask/end_mask bit means "from the start" / "to the end" of that axis.
        const begin = c.begin.map((b, j) => (c.beginMask?.[j] ? 0 : b));
        const end = c.end.map((e, j) => (c.endMask?.[j] ? c.shape[j] : e));
        const r = sliceByIndex(ref(c.shape, x), begin, end, c.stride);
        const consts = [constInts("b", c.begin), constInts("e", c.end), constInts("st", c.stride)];
        const args: Record<string, string> = { x: "x", begin: "b", end: "e", stride: "st" };
        if (c.beginMask) {
          consts.push(constBools("bm", c.beginMask), constBools("em", c.endMask!));
          Object.assign(args, { begin_mask: "bm", end_mask: "em" });
        }
        check({
          inputs: [{ name: "x", shape: c.shape, data: x }],
          body: [...consts, call("y", dtypeFor(numerics), r.shape, "slice_by_index", args)],
          outputs: [{ name: "y", ref: r, budget: EXACT }],
        }, numerics);
      }));
});

describe("concat", () => {
  const cases: { shapes: number[][]; axis: number; interleave: boolean }[] = [
    { shapes: [[2, 3, 4], [2, 5, 4]], axis: 1, interleave: false },
    { shapes: [[3, 1], [3, 1], [3, 2]], axis: -1, interleave: false },
    { shapes: [[2, 3], [2, 3]], axis: 0, interleave: true },
    { shapes: [[1, 4, 1, 2], [1, 4, 1, 2], [1, 4, 1, 2]], axis: 1, interleave: true },
    { shapes: [[1, 100, 1, 33], [1, 100, 1, 33]], axis: 3, interleave: false },
    { shapes: [[1, 1, 1, 1], [1, 1, 1, 1]], axis: -4, interleave: false },
  ];
  for (const numerics of NUMERICS)
    cases.forEach((c, i) =>
      test(`concat ${numerics} ${c.shapes.map((s) => `[${s}]`).join(" ")} axis ${c.axis}${c.interleave ? " interleave" : ""}`, () => {
        const rng = new Rng(1700 + i);
        const xs = c.shapes.map((s) => randomInput(rng, s, numerics));
        const r = concat(xs.map((x, j) => ref(c.shapes[j], x)), c.axis, c.interleave);
        const names = xs.map((_, j) => `x${j}`);
        check({
          inputs: xs.map((x, j) => ({ name: names[j], shape: c.shapes[j], data: x })),
          body: [constInt("ax", c.axis), constBool("il", c.interleave),
            call("y", dtypeFor(numerics), r.shape, "concat", { values: `(${names.join(", ")})`, axis: "ax", interleave: "il" })],
          outputs: [{ name: "y", ref: r, budget: EXACT }],
        }, numerics);
      }));
});

describe("cast", () => {
  // fp32 -> fp16 rounds to nearest even, overflows to inf at 65520; fp16 -> fp32 is exact.
  const specials = [65519, 65520, -70000, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2049, 1e-3, -0.1, 0];
  for (const numerics of NUMERICS) {
    test(`cast fp32 -> fp16 ${numerics}`, () => {
      const x = Float32Array.from([...specials, ...new Rng(31).array(23, -3, 3)]);
      check({
        inputs: [{ name: "x", dtype: "fp32", shape: [1, x.length], data: x }],
        body: [constString("d", "fp16"), call("y", "fp16", [1, x.length], "cast", { x: "x", dtype: "d" })],
        outputs: [{ name: "y", ref: ref([1, x.length], Array.from(x, fp16)), budget: EXACT }],
      }, numerics);
    });
    test(`cast fp16 -> fp32 ${numerics}`, () => {
      const x = randomInput(new Rng(32), [3, 17], "fp16", -1000, 1000);
      check({
        inputs: [{ name: "x", dtype: "fp16", shape: [3, 17], data: x }],
        body: [constString("d", "fp32"), call("y", "fp32", [3, 17], "cast", { x: "x", dtype: "d" })],
        outputs: [{ name: "y", ref: ref([3, 17], x), budget: EXACT }],
      }, numerics);
    });
  }
});
