// dynamic-matmul: is the dynamic-weight matmul (dynamicMatmul of src/mil, ane-maderix.md §3.5)
// right, and how fast is it? One input [1, IC, 1, S+OC] holds x [IC,S] at spatial 0 and the
// weight W [IC,OC] at spatial S; the output is y = Wᵀx [1,OC,1,S]. This is how rustane trains:
// weights change every step without a recompile. Per shape: the output vs the host sgemm of the
// same inputs (an fp16 bound), GFLOP/s of the eval alone (weights already in the surface), and
// GFLOP/s of one training-style step: stage W into the surface (ane_copy_2d, fp32 -> fp16) and
// eval. The host sgemm's own GFLOP/s is reported for comparison.
import * as v from "valibot";
import { LibaneError } from "../src/ffi/index.ts";
import { stageBlock } from "../src/ffi/train-ops.ts";
import { packDynamicMatmulInput } from "../src/mil/index.ts";
import { Binding, maxAbsDiff, timeMs, type ProbeContext, type ProbeDefinition } from "./context.ts";
import { absolute, FP16_TOLERANCE_FACTOR, matmulTHost, maxOf } from "./host-reference.ts";
import { intOption, tripleListOption } from "./options.ts";
import { dynamicMatmulProgram, patternInput, patternMatrix } from "./programs.ts";
import type { DynamicMatmulResults } from "./schema.ts";
import { evalStats, median, timingStats } from "./stats.ts";
import { fmt, formatTable } from "./table.ts";

export const DynamicMatmulParams = v.object({
  shapes: tripleListOption("--shapes", 1, 8192, 8),
  evals: intOption("--evals", 1, 100000),
  warmup: intOption("--warmup", 0, 10000),
});
export type DynamicMatmulParams = v.InferOutput<typeof DynamicMatmulParams>;
export const DYNAMIC_MATMUL_DEFAULTS = { shapes: "64x64x64,768x768x256", evals: "20", warmup: "3" };

type Shape = DynamicMatmulResults["shapes"][number];

function measure(ctx: ProbeContext, [ic, oc, seq]: [number, number, number], p: DynamicMatmulParams): Shape {
  const gflop = (2 * ic * oc * seq) / 1e9;
  const row: Shape = {
    ic, oc, seq, gflop_per_eval: gflop, compile_ms: null, eval: null, staged: null, gflops: null, gflops_staged: null,
    sgemm_ms: null, sgemm_gflops: null, max_abs_error: null, tolerance: 0, within_tolerance: false, error: null,
  };
  // x j/16 and W k/32: exact in fp16, so host and device multiply the same numbers.
  const x = patternInput(ic, seq);                    // [IC, S]
  const w = patternMatrix(ic, oc, 11, 7, 19, 32);     // [IC, OC]
  const sgemmTimes: number[] = [];
  let reference!: Float32Array;
  for (let i = 0; i < Math.max(3, Math.min(p.evals, 20)); i++) sgemmTimes.push(timeMs(() => { reference = matmulTHost(w, x, ic, oc, seq); }));
  row.sgemm_ms = median(sgemmTimes);
  row.sgemm_gflops = row.sgemm_ms > 0 ? gflop / (row.sgemm_ms / 1e3) : null;
  row.tolerance = FP16_TOLERANCE_FACTOR * maxOf(matmulTHost(absolute(w), absolute(x), ic, oc, seq));
  try {
    const built = dynamicMatmulProgram(ctx.dialect, ic, oc, seq);
    let compiled!: ReturnType<typeof ctx.backend.compile>;
    row.compile_ms = timeMs(() => {
      compiled = ctx.backend.compile(built.text, { weights: built.weights, chip: ctx.chip });
    });
    using program = compiled;
    program.load();
    using bind = new Binding(ctx.backend, program);
    bind.write(0, packDynamicMatmulInput(x, w, ic, seq, oc));
    row.eval = evalStats(bind.evalMany(p.evals, p.warmup));
    row.gflops = gflop / (row.eval.wall_ms.median / 1e3);
    row.max_abs_error = maxAbsDiff(bind.read(), reference);
    row.within_tolerance = row.max_abs_error !== null && row.max_abs_error <= row.tolerance;

    // A step as training does it: W lands in the surface (channels 0..IC, spatial S..S+OC), then eval.
    const io = program.inputs[0];
    const steps: number[] = [];
    for (let i = 0; i < p.evals; i++) {
      steps.push(timeMs(() => {
        stageBlock(bind.inputs[0], io, 0, seq, w, ic, oc);
        bind.request.eval();
      }));
    }
    row.staged = timingStats(steps);
    row.gflops_staged = gflop / (row.staged.median / 1e3);
    // The staged weights are the same W: the output must not have moved.
    const again = maxAbsDiff(bind.read(), reference);
    if (again === null || again > row.tolerance) row.within_tolerance = false;
  } catch (e) {
    if (!(e instanceof LibaneError)) throw e;
    row.error = e.message;
  }
  return row;
}

export const dynamicMatmul: ProbeDefinition<DynamicMatmulParams, DynamicMatmulResults> = {
  name: "dynamic-matmul",
  description: "the dynamic-weight matmul vs host sgemm: correctness, and GFLOP/s with and without staging the weights",

  run(ctx, p) {
    const shapes = p.shapes.map((t) => measure(ctx, t, p));
    const ran = shapes.filter((r) => r.gflops !== null);
    const allCorrect = shapes.every((r) => r.error === null && r.within_tolerance);
    const best = ran.length > 0 ? Math.max(...ran.map((r) => r.gflops!)) : null;
    const name = (r: Shape) => `${r.ic}x${r.oc}x${r.seq}`;
    const parts = [allCorrect ? "correct at every shape" : `WRONG or failed at ${shapes.filter((r) => !r.within_tolerance).map(name).join(", ")}`];
    for (const r of ran) parts.push(`${name(r)}: ${fmt(r.gflops, 1)} GFLOP/s (${fmt(r.gflops_staged, 1)} with staging)`);
    return {
      results: { shapes, all_correct: allCorrect, best_gflops: best },
      verdict: parts.join("; ").slice(0, 160),
      notes: [
        "shapes are IC x OC x S; GFLOP/s = 2*IC*OC*S / median ms; staged = W copied into the input surface (fp32 -> fp16) before each eval",
        "tolerance: 2^-7 x the largest sum of |w*x| terms; the reference is libane's host sgemm (fp32) of the same fp16-exact inputs",
      ],
    };
  },

  table(r) {
    const ok = r.shapes.filter((s) => s.error === null);
    const table = formatTable(
      ["IC x OC x S", "GFLOP", "ms/eval", "GFLOP/s", "ms staged", "GFLOP/s staged", "sgemm GFLOP/s", "max err", "tolerance", "ok"],
      ok.map((s) => [
        `${s.ic}x${s.oc}x${s.seq}`, fmt(s.gflop_per_eval, 4), fmt(s.eval?.wall_ms.median ?? null), fmt(s.gflops, 1),
        fmt(s.staged?.median ?? null), fmt(s.gflops_staged, 1), fmt(s.sgemm_gflops, 1), fmt(s.max_abs_error, 4), fmt(s.tolerance, 4),
        s.within_tolerance ? "yes" : "NO",
      ]),
    );
    const errors = r.shapes.filter((s) => s.error !== null).map((s) => `${s.ic}x${s.oc}x${s.seq}: ${s.error}\n`);
    return (ok.length > 0 ? table : "") + errors.join("");
  },
};
