// inmem-bench: what does ONE 1x1 conv cost, from small to large? For each channel count C: a
// program x fp32 [1,C,1,S] -> cast fp16 -> conv (C x C fp16 BLOBFILE weight) -> cast fp32 -> y,
// the in-memory benchmark maderix/ANE's inmem_bench ran (fp32 I/O, the casts on the device).
// Per C: compile and load ms, ms per eval (median of N), TFLOPS, and the output's error vs the
// host sgemm of the same weights. The smallest median is the dispatch cost: at C=256, S=64 the
// conv is 8 MFLOP, so its time is almost all fixed per-eval overhead.
// M1/M2 cannot cast (chip rules fp16-io, no-cast): there the program takes and returns fp16.
import * as v from "valibot";
import { LibaneError } from "../src/ffi/index.ts";
import { Binding, maxAbsDiff, timeMs, type ProbeContext, type ProbeDefinition } from "./context.ts";
import { absolute, convHost, FP16_TOLERANCE_FACTOR, maxOf } from "./host-reference.ts";
import { intListOption, intOption } from "./options.ts";
import { conv1x1CastProgram, conv1x1Program, patternInput, patternMatrix } from "./programs.ts";
import type { InmemBenchResults } from "./schema.ts";
import { evalStats } from "./stats.ts";
import { fmt, formatTable } from "./table.ts";

export const InmemBenchParams = v.object({
  channels: intListOption("--channels", 1, 8192, 32),
  spatial: intOption("--spatial", 1, 16384),
  evals: intOption("--evals", 1, 100000),
  warmup: intOption("--warmup", 0, 10000),
});
export type InmemBenchParams = v.InferOutput<typeof InmemBenchParams>;
export const INMEM_BENCH_DEFAULTS = { channels: "256,512,1024,2048,3072,4096", spatial: "64", evals: "20", warmup: "3" };

type Row = InmemBenchResults["rows"][number];

function measure(ctx: ProbeContext, io: InmemBenchResults["io"], c: number, p: InmemBenchParams): Row {
  const s = p.spatial;
  const mflop = (2 * c * c * s) / 1e6;
  const row: Row = {
    channels: c, spatial: s, weights_mb: (c * c * 2) / 1e6, mflop_per_eval: mflop, compile_ms: null, load_ms: null,
    eval: null, tflops: null, tflops_hw: null, max_abs_error: null, tolerance: 0, error: null,
  };
  // Weights k/64 with |k| <= 8 and inputs j/16: exact in fp16, |y| <= C/8 stays in range.
  const w = patternMatrix(c, c, 5, 3, 17, 64);
  const x = patternInput(c, s);
  try {
    const built = io === "fp32-cast" ? conv1x1CastProgram(ctx.dialect, c, s, w) : conv1x1Program(ctx.dialect, c, s, w);
    let compiled!: ReturnType<typeof ctx.backend.compile>;
    row.compile_ms = timeMs(() => {
      compiled = ctx.backend.compile(built.text, { weights: built.weights, chip: ctx.chip });
    });
    using program = compiled;
    row.load_ms = timeMs(() => program.load());
    using bind = new Binding(ctx.backend, program);
    bind.write(0, x);
    const stats = evalStats(bind.evalMany(p.evals, p.warmup));
    row.eval = stats;
    row.tflops = mflop / 1e6 / (stats.wall_ms.median / 1e3);
    row.tflops_hw = stats.hw_ms && stats.hw_ms.median > 0 ? mflop / 1e6 / (stats.hw_ms.median / 1e3) : null;
    row.max_abs_error = maxAbsDiff(bind.read(), convHost(w, x, c, c, s));
    row.tolerance = FP16_TOLERANCE_FACTOR * maxOf(convHost(absolute(w), absolute(x), c, c, s));
  } catch (e) {
    if (!(e instanceof LibaneError)) throw e;
    row.error = e.message;
  }
  return row;
}

export const inmemBench: ProbeDefinition<InmemBenchParams, InmemBenchResults> = {
  name: "inmem-bench",
  description: "one 1x1 conv with fp32 I/O (cast in/out on the device), channels 256..4096: ms/eval, TFLOPS, dispatch cost",

  run(ctx, p) {
    const io = ctx.dialect === "ios16" ? "fp16" : "fp32-cast";
    const rows = p.channels.map((c) => measure(ctx, io, c, p));
    const ran = rows.filter((r) => r.eval !== null);
    const dispatch = ran.length > 0 ? Math.min(...ran.map((r) => r.eval!.wall_ms.median)) : null;
    const best = ran.length > 0 ? Math.max(...ran.map((r) => r.tflops!)) : null;
    const wrong = ran.filter((r) => r.max_abs_error === null || r.max_abs_error > r.tolerance);
    const failed = rows.filter((r) => r.error !== null);
    let verdict = best === null ? "no configuration ran" : `best ${fmt(best, 3)} TFLOPS; dispatch ${fmt(dispatch, 3)} ms/eval`;
    if (wrong.length > 0) verdict += `; WRONG outputs at C=${wrong.map((r) => r.channels).join(",")}`;
    if (failed.length > 0) verdict += `; ${failed.length} configuration(s) failed`;
    const notes = [
      "TFLOPS = 2*C*C*S / median wall time per eval; dispatch = the smallest median ms/eval of any row",
      "error: max |y - host sgemm| of the same fp16-exact weights and inputs; tolerance 2^-7 x the largest sum of |w*x| terms",
    ];
    if (io === "fp16") notes.push(`chip ${ctx.chip} cannot cast (chip rules fp16-io, no-cast): the conv takes and returns fp16 here`);
    return { results: { io, rows, dispatch_ms: dispatch, best_tflops: best }, verdict, notes };
  },

  table(r) {
    const hw = r.rows.some((row) => row.tflops_hw !== null);
    const ok = r.rows.filter((row) => row.error === null);
    const table = formatTable(
      ["C", "S", "W (MB)", "MFLOP", "compile ms", "ms/eval", "p90 ms", "TFLOPS", ...(hw ? ["TFLOPS (hw)"] : []), "max err", "tolerance"],
      ok.map((row) => [
        row.channels, row.spatial, fmt(row.weights_mb, 2), fmt(row.mflop_per_eval, 1), fmt(row.compile_ms, 1),
        fmt(row.eval?.wall_ms.median ?? null), fmt(row.eval?.wall_ms.p90 ?? null), fmt(row.tflops, 4),
        ...(hw ? [fmt(row.tflops_hw, 4)] : []), fmt(row.max_abs_error, 4), fmt(row.tolerance, 4),
      ]),
    );
    const errors = r.rows.filter((row) => row.error !== null).map((row) => `C=${row.channels}: ${row.error}\n`);
    return (ok.length > 0 ? table : "") + errors.join("") + `I/O: ${r.io === "fp32-cast" ? "fp32, cast on the device" : "fp16"}\n`;
  },
};
