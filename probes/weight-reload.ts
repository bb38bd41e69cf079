// weight-reload: can weights change without a recompile?
// (a) baked: a C x C 1x1 conv with BLOBFILE weights W_A (identity) is compiled and run; then
//     unload, Program.rewriteWeight(W_B blob), load, run again. On the device the output stays
//     W_A's: weights are captured at compile (ane-maderix.md §8), and libane's cpu backend
//     reproduces that. The probe reports which happened, and the times of each step.
// (b) dynamic: weights packed beside the activations in the input surface (dynamicMatmul,
//     ane-maderix.md §3.5). Rewriting the surface must change the output, and the new output
//     must equal the float64 W_Bᵀx within an fp16 bound.
import * as v from "valibot";
import { packDynamicMatmulInput } from "../src/mil/index.ts";
import { Binding, maxAbsDiff, sameOutput, timeMs, type ProbeDefinition } from "./context.ts";
import { intOption } from "./options.ts";
import {
  conv1x1Program, convReference, dynamicMatmulProgram, matmulTReference, patternInput, patternMatrix, weightFile,
} from "./programs.ts";
import type { WeightReloadResults } from "./schema.ts";
import { evalStats } from "./stats.ts";
import { fmt, formatTable } from "./table.ts";

export const WeightReloadParams = v.object({
  dim: intOption("--dim", 2, 4096),
  spatial: intOption("--spatial", 1, 4096),
  evals: intOption("--evals", 1, 100000),
  warmup: intOption("--warmup", 0, 10000),
});
export type WeightReloadParams = v.InferOutput<typeof WeightReloadParams>;
export const WEIGHT_RELOAD_DEFAULTS = { dim: "64", spatial: "64", evals: "10", warmup: "2" };

// fp16's unit roundoff is 2^-11. The dynamic output must be within 16 units of the sum of
// |w·x| terms: room for fp16 rounding of partial sums and of the result, while a wrong or stale
// weight gives errors of the order of the sum itself.
const DYNAMIC_TOLERANCE_FACTOR = 2 ** -7;

/** The dynamic path's test tensors; docs/probes.md states the same formulas for testers. */
export function dynamicTensors(ic: number, oc: number, seq: number) {
  return {
    x: patternInput(ic, seq),                         // [IC, S]
    wA: patternMatrix(ic, oc, 5, 3, 17, 32),          // [IC, OC], in [-1/4, 1/4]
    wB: patternMatrix(ic, oc, 11, 7, 19, 32),         // [IC, OC], in [-9/32, 9/32]
  };
}

/** The fixed (o, s) positions whose y_B values the document carries for cross-checks. */
export function samplePositions(oc: number, seq: number): Array<{ o: number; s: number }> {
  return Array.from({ length: 8 }, (_, k) => ({
    o: Math.floor((k * (oc - 1)) / 7),
    s: Math.floor((((3 * k) % 8) * (seq - 1)) / 7),
  }));
}

/** Errors span many magnitudes: 3 significant digits, "-" for null (not finite). */
function sci(x: number | null): string {
  return x === null ? "-" : x.toExponential(2);
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function identity(c: number): Float32Array {
  const w = new Float32Array(c * c);
  for (let i = 0; i < c; i++) w[i * c + i] = 1;
  return w;
}

function reversal(c: number): Float32Array {
  const w = new Float32Array(c * c);
  for (let o = 0; o < c; o++) w[o * c + (c - 1 - o)] = 1;
  return w;
}

function baked(ctx: Parameters<typeof weightReload.run>[0], p: WeightReloadParams): WeightReloadResults["baked"] {
  const c = p.dim, s = p.spatial;
  const wA = identity(c), wB = reversal(c);
  const x = patternInput(c, s);
  const programA = conv1x1Program(ctx.dialect, c, s, wA);
  const name = weightFile("w");
  const blobB = conv1x1Program(ctx.dialect, c, s, wB).weights.get(name);
  if (!blobB) throw new Error(`internal error: the MIL builder produced no weight blob named ${name}`);

  let compiled!: ReturnType<typeof ctx.backend.compile>;
  const compileMs = timeMs(() => {
    compiled = ctx.backend.compile(programA.text, { weights: programA.weights, chip: ctx.chip });
  });
  using program = compiled;
  const loadMs = timeMs(() => program.load());
  using bind = new Binding(ctx.backend, program);
  bind.write(0, x);
  const before = bind.evalMany(p.evals, p.warmup);
  const yBefore = bind.read();

  const unloadMs = timeMs(() => program.unload());
  const rewriteMs = timeMs(() => program.rewriteWeight(name, blobB));
  const reloadMs = timeMs(() => program.load());
  const after = bind.evalMany(p.evals, 0);
  const yAfter = bind.read();

  return {
    dim: c, spatial: s, weight_name: name,
    compile_ms: compileMs, load_ms: loadMs, unload_ms: unloadMs, rewrite_ms: rewriteMs, reload_ms: reloadMs,
    eval_before: evalStats(before), eval_after: evalStats(after),
    before_max_abs_error_vs_a: maxAbsDiff(yBefore, convReference(wA, x, c, c, s)),
    after_max_abs_diff_vs_a: maxAbsDiff(yAfter, convReference(wA, x, c, c, s)),
    after_max_abs_diff_vs_b: maxAbsDiff(yAfter, convReference(wB, x, c, c, s)),
    output: sameOutput(yBefore, yAfter) ? "unchanged" : "changed",
  };
}

function dynamic(ctx: Parameters<typeof weightReload.run>[0], p: WeightReloadParams): WeightReloadResults["dynamic"] {
  const ic = p.dim, oc = p.dim, seq = p.spatial;
  const { x, wA, wB } = dynamicTensors(ic, oc, seq);
  const prog = dynamicMatmulProgram(ctx.dialect, ic, oc, seq);

  let compiled!: ReturnType<typeof ctx.backend.compile>;
  const compileMs = timeMs(() => {
    compiled = ctx.backend.compile(prog.text, { weights: prog.weights, chip: ctx.chip });
  });
  using program = compiled;
  const loadMs = timeMs(() => program.load());
  using bind = new Binding(ctx.backend, program);

  bind.write(0, packDynamicMatmulInput(x, wA, ic, seq, oc));
  const evalA = bind.evalMany(p.evals, p.warmup);
  const yA = bind.read();
  const packedB = packDynamicMatmulInput(x, wB, ic, seq, oc);
  const writeMs = timeMs(() => bind.write(0, packedB));
  const evalB = bind.evalMany(p.evals, 0);
  const yB = bind.read();

  const refB = matmulTReference(wB, x, ic, oc, seq);
  // The bound: 2^-7 times the largest sum of |w·x| terms of any output element.
  let maxTermSum = 0;
  for (let o = 0; o < oc; o++)
    for (let s = 0; s < seq; s++) {
      let t = 0;
      for (let i = 0; i < ic; i++) t += Math.abs(wB[i * oc + o] * x[i * seq + s]);
      maxTermSum = Math.max(maxTermSum, t);
    }
  const tolerance = DYNAMIC_TOLERANCE_FACTOR * maxTermSum;
  const errA = maxAbsDiff(yA, matmulTReference(wA, x, ic, oc, seq));
  const errB = maxAbsDiff(yB, refB);
  let sumB = 0;
  for (const value of yB) sumB += value;

  return {
    ic, oc, seq, compile_ms: compileMs, load_ms: loadMs, surface_write_ms: writeMs,
    eval_a: evalStats(evalA), eval_b: evalStats(evalB),
    max_abs_error_a: errA, max_abs_error_b: errB, tolerance,
    output: sameOutput(yA, yB) ? "unchanged" : "changed",
    within_tolerance: errA !== null && errB !== null && errA <= tolerance && errB <= tolerance,
    samples_b: samplePositions(oc, seq).map(({ o, s }) => ({ o, s, value: finiteOrNull(yB[o * seq + s]) })),
    sum_b: finiteOrNull(sumB),
  };
}

export const weightReload: ProbeDefinition<WeightReloadParams, WeightReloadResults> = {
  name: "weight-reload",
  description: "do weights change without a recompile? baked BLOBFILE reload vs weights packed in the input surface",

  run(ctx, p) {
    const a = baked(ctx, p);
    const b = dynamic(ctx, p);
    const bakedWords =
      a.output === "unchanged" ? "reload ignored (as on device)"
      : a.after_max_abs_diff_vs_b === 0 ? "reload took effect (unlike the device)"
      : "reload changed the output, to neither W_A's nor W_B's result";
    const dynamicWords =
      b.output === "unchanged" ? "surface rewrite ignored (FAIL)"
      : b.within_tolerance ? "work"
      : `wrong results (max error ${sci(b.max_abs_error_b)} > ${sci(b.tolerance)})`;
    return {
      results: { baked: a, dynamic: b },
      verdict: `baked weights: ${bakedWords}; dynamic weights: ${dynamicWords}`,
      notes: [
        "baked: W_A = identity, W_B = channel reversal; output compared bit for bit before and after unload/rewrite/load",
        `dynamic: tolerance = 2^-7 x the largest sum of |w*x| terms of an output element (fp16 unit roundoff is 2^-11)`,
      ],
    };
  },

  table(r) {
    const a = r.baked, b = r.dynamic;
    const steps = formatTable(
      ["baked weights", "ms"],
      [["compile", fmt(a.compile_ms, 2)], ["load", fmt(a.load_ms, 2)], ["eval (median, before)", fmt(a.eval_before.wall_ms.median)],
       ["unload", fmt(a.unload_ms, 2)], ["rewrite weight", fmt(a.rewrite_ms, 2)], ["reload", fmt(a.reload_ms, 2)],
       ["eval (median, after)", fmt(a.eval_after.wall_ms.median)]],
    );
    const dyn = formatTable(
      ["dynamic weights", "value"],
      [["compile ms", fmt(b.compile_ms, 2)], ["eval ms (median, W_A)", fmt(b.eval_a.wall_ms.median)],
       ["surface rewrite ms", fmt(b.surface_write_ms, 3)], ["eval ms (median, W_B)", fmt(b.eval_b.wall_ms.median)],
       ["max abs error W_A", sci(b.max_abs_error_a)], ["max abs error W_B", sci(b.max_abs_error_b)],
       ["tolerance", sci(b.tolerance)]],
    );
    return `${steps}baked output after reload: ${a.output}\n\n${dyn}dynamic output after rewrite: ${b.output}\n`;
  },
};
