// harness.ts — runs a hand-written MIL program on libane's cpu backend (chip "none": no
// hardware rules) and checks each output against a float64 reference.

import { expect } from "bun:test";
import { type Backend, openBackend, runProgram } from "../../src/ffi/index.ts";
import { type Budget, type Numerics, mismatch } from "../reference/compare.ts";
import { fp16Array } from "../reference/fp16.ts";
import { Rng } from "../reference/prng.ts";
import { type Tensor, numel, tensor } from "../reference/tensor.ts";
import { type MilInput, program } from "./mil.ts";

export const NUMERICS: readonly Numerics[] = ["fp32", "fp16"];

let cpu: Backend | null = null;
/** The cpu backend, opened once per test process. */
export function backend(): Backend {
  cpu ??= openBackend("cpu");
  return cpu;
}

export type HostArray = Float32Array | Int32Array | Int8Array | Uint8Array;

/** Compiles and runs `mil` once; returns every output (dense fp32) and its shape. */
export function run(mil: string, inputs: Record<string, HostArray>, numerics: Numerics) {
  return runProgram(backend(), mil, inputs, { chip: "none", numerics });
}

/** Random inputs the numerics can represent: fp16 mode rounds them with our own fp16(). */
export function randomInput(rng: Rng, shape: readonly number[], numerics: Numerics, lo = -1, hi = 1): Float32Array {
  const x = rng.array(numel(shape), lo, hi);
  return numerics === "fp16" ? fp16Array(x) : x;
}

/** The float dtype the program's tensors get under these numerics (fp16 I/O for the ANE's). */
export const dtypeFor = (n: Numerics) => (n === "fp16" ? "fp16" : "fp32");

export interface OpCase {
  inputs: { name: string; dtype?: string; shape: number[]; data: HostArray }[];
  body: string[];
  outputs: { name: string; ref: Tensor; budget: Budget }[];
}

/** Runs one case and expects every output to match its reference (shape and values). */
export function check(c: OpCase, numerics: Numerics): void {
  const dt = dtypeFor(numerics);
  const mil = program(
    c.inputs.map((x): MilInput => ({ name: x.name, dtype: x.dtype ?? dt, shape: x.shape })),
    c.body,
    c.outputs.map((o) => o.name),
  );
  const res = run(mil, Object.fromEntries(c.inputs.map((x) => [x.name, x.data])), numerics);
  for (const o of c.outputs) {
    expect(res.shapes[o.name]).toEqual(o.ref.shape);
    const msg = mismatch(res.outputs[o.name], o.ref, numerics, o.budget);
    if (msg !== null) throw new Error(`${o.name}: ${msg}\n--- program ---\n${mil.length > 4000 ? mil.slice(0, 4000) + "..." : mil}`);
  }
}

/** A float input as a reference tensor. */
export const ref = (shape: number[], data: ArrayLike<number>) => tensor(shape, data);

/** A random shape of the given rank, dims in [1, maxDim], odd sizes likely. */
export function randomShape(rng: Rng, rank: number, maxDim: number): number[] {
  return Array.from({ length: rank }, () => rng.int(1, maxDim));
}

/** Relative + absolute fp32 budget per element of a reference. */
export const relTol = (r: Tensor, rel: number, abs = 0) => Array.from(r.data, (v) => rel * Math.abs(v) + abs);
