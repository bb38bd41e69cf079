// qos-sweep: does the QoS level passed to compile/load/eval change anything?
// The same 1x1 conv (C x C, fp16 BLOBFILE weights, spatial S) is compiled once per QoS level;
// for each level: compile and load time, eval time (median and p90 over N evals after a
// warm-up), and whether the output is bit-identical to the first level's. On the M5 every level
// 0..63 worked with no change in speed (ane-maderix.md §6); this probe checks other chips.
import * as v from "valibot";
import { LibaneError } from "../src/ffi/index.ts";
import { Binding, maxAbsDiff, sameOutput, timeMs, type ProbeDefinition } from "./context.ts";
import { intListOption, intOption } from "./options.ts";
import { conv1x1Program, patternInput, patternMatrix } from "./programs.ts";
import type { QosSweepResults } from "./schema.ts";
import { evalStats } from "./stats.ts";
import { fmt, formatTable } from "./table.ts";

export const QosSweepParams = v.object({
  levels: intListOption("--levels", 0, 63, 64),
  evals: intOption("--evals", 1, 100000),
  warmup: intOption("--warmup", 0, 10000),
  channels: intOption("--channels", 1, 16384),
  spatial: intOption("--spatial", 1, 16384),
});
export type QosSweepParams = v.InferOutput<typeof QosSweepParams>;
export const QOS_SWEEP_DEFAULTS = { levels: "0,9,17,21,25,33,63", evals: "50", warmup: "5", channels: "256", spatial: "64" };

type Level = QosSweepResults["levels"][number];

export const qosSweep: ProbeDefinition<QosSweepParams, QosSweepResults> = {
  name: "qos-sweep",
  description: "compile/load/eval one 256x256 1x1 conv at each QoS level: times, and whether outputs agree",

  run(ctx, p) {
    const { channels: c, spatial: s } = p;
    // Weights in [-1/8, 1/8] and inputs in [-1, 1]: |y| <= C/8, inside fp16 range for any C here.
    const { text, weights } = conv1x1Program(ctx.dialect, c, s, patternMatrix(c, c, 5, 3, 17, 64));
    const x = patternInput(c, s);

    const levels: Level[] = [];
    let first: Float32Array | null = null;
    for (const qos of p.levels) {
      try {
        let program!: ReturnType<typeof ctx.backend.compile>;
        const compileMs = timeMs(() => {
          program = ctx.backend.compile(text, { weights, chip: ctx.chip, qos });
        });
        using prog = program;
        const loadMs = timeMs(() => prog.load(qos));
        using bind = new Binding(ctx.backend, prog);
        bind.write(0, x);
        const timings = bind.evalMany(p.evals, p.warmup, qos);
        const y = bind.read();
        first ??= y;
        levels.push({
          qos, compile_ms: compileMs, load_ms: loadMs, eval: evalStats(timings),
          matches_first: sameOutput(y, first), max_abs_diff_vs_first: maxAbsDiff(y, first), error: null,
        });
      } catch (e) {
        if (!(e instanceof LibaneError)) throw e;
        levels.push({ qos, compile_ms: null, load_ms: null, eval: null, matches_first: false, max_abs_diff_vs_first: null, error: e.message });
      }
    }

    const ok = levels.filter((l) => l.error === null);
    const medians = ok.map((l) => l.eval!.wall_ms.median);
    const spread = medians.length > 0 ? (Math.max(...medians) - Math.min(...medians)) / Math.min(...medians) : 0;
    const failed = levels.filter((l) => l.error !== null).map((l) => l.qos);
    const mismatched = ok.filter((l) => !l.matches_first).map((l) => l.qos);
    const allMatch = failed.length === 0 && mismatched.length === 0;

    const parts: string[] = [];
    if (failed.length > 0) parts.push(`QoS ${failed.join(",")} failed`);
    if (mismatched.length > 0) parts.push(`QoS ${mismatched.join(",")} gave different outputs`);
    if (allMatch) parts.push(`all ${levels.length} QoS levels work with identical outputs`);
    if (ok.length > 1) parts.push(`eval median spread ${(spread * 100).toFixed(0)}%`);

    const notes = [
      `eval times are wall-clock medians over ${p.evals} evals after ${p.warmup} warm-up evals; spread = (max - min) / min of the per-level medians`,
    ];
    if (levels.some((l) => l.eval?.hw_ms)) notes.push("hw columns are the device's own execution time");
    return {
      results: { flop_per_eval: 2 * c * c * s, levels, all_match: allMatch, eval_median_spread: spread },
      verdict: parts.join("; "),
      notes,
    };
  },

  table(r) {
    const hw = r.levels.some((l) => l.eval?.hw_ms);
    const headers = ["qos", "compile ms", "load ms", "eval ms (median)", "eval ms (p90)", ...(hw ? ["hw ms (median)", "hw ms (p90)"] : []), "same output"];
    const rows = r.levels.map((l) => [
      l.qos, fmt(l.compile_ms, 2), fmt(l.load_ms, 2), fmt(l.eval?.wall_ms.median ?? null), fmt(l.eval?.wall_ms.p90 ?? null),
      ...(hw ? [fmt(l.eval?.hw_ms?.median ?? null), fmt(l.eval?.hw_ms?.p90 ?? null)] : []),
      l.error !== null ? "failed (below)" : l.matches_first ? "yes" : `no (max diff ${l.max_abs_diff_vs_first ?? "not finite"})`,
    ]);
    const errors = r.levels.filter((l) => l.error !== null).map((l) => `qos ${l.qos}: ${l.error}\n`);
    return formatTable(headers, rows) + errors.join("");
  },
};
