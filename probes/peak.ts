// peak: how close does a deep chain of 1x1 convs get to the device's peak throughput?
// For each channel count C and depth D: one program of D chained C x C 1x1 convs over spatial S,
// each layer its own fp16 BLOBFILE weight, all in one program (the ANE needs deep graphs to
// fill its pipeline). Reports GFLOP per eval (2·C·C·S·D), ms per eval (median of N), TFLOPS,
// and % of the backend's stated peak.
//
// % of peak = measured TFLOPS / peak TFLOPS * 100, both in TFLOPS. maderix/ANE's inmem_peak
// printed tf/0.019*100, i.e. divided by a peak of 0.019 TFLOPS instead of 19, so its %peak was
// 1000x too high (ane-maderix.md §6). Here both numbers carry their unit in the name.
import * as v from "valibot";
import { LibaneError, chipProfile } from "../src/ffi/index.ts";
import { Binding, timeMs, type ProbeContext, type ProbeDefinition } from "./context.ts";
import { intListOption, intOption } from "./options.ts";
import { convChainProgram, layerWeights, patternInput } from "./programs.ts";
import type { PeakResults } from "./schema.ts";
import { evalStats } from "./stats.ts";
import { fmt, formatTable } from "./table.ts";

export const PeakParams = v.object({
  channels: intListOption("--channels", 1, 8192, 16),
  depths: intListOption("--depths", 1, 1024, 16),
  spatial: intOption("--spatial", 1, 16384),
  evals: intOption("--evals", 1, 100000),
  warmup: intOption("--warmup", 0, 10000),
});
export type PeakParams = v.InferOutput<typeof PeakParams>;
// The same defaults on every backend: inmem_peak's sizes at depth 32, and its 10 warm-up + 50
// timed evals (ane-maderix.md §6). On the cpu backend a default run takes about 2 s on 2 cores
// (measured: 36 ms per eval), so there was no reason to shrink them there.
export const PEAK_DEFAULTS = { channels: "512", depths: "32", spatial: "64", evals: "50", warmup: "10" };

type Row = PeakResults["rows"][number];
type Peak = PeakResults["peak"];

/** The peak the measurement is compared with, and where it comes from.
 *  ane: the chip profile's published fp16 peak (peak_fp16_tflops, with its peak_source).
 *  cpu: the fp32 GFLOP/s the backend's info JSON reports, with the basis it states. */
export function backendPeak(ctx: Pick<ProbeContext, "backend" | "chip" | "info">): Peak {
  if (ctx.backend.kind === "cpu") {
    const gflops = ctx.info["peak_fp32_gflops"];
    const basis = ctx.info["peak_derivation"];
    if (typeof gflops === "number" && gflops > 0) {
      return { tflops: gflops / 1000, precision: "fp32", source: `cpu backend info: peak_fp32_gflops = ${gflops} GFLOP/s (${String(basis ?? "derivation not stated")})` };
    }
    return { tflops: null, precision: "fp32", source: "the cpu backend's info reports no peak_fp32_gflops" };
  }
  const profile = chipProfile(ctx.chip);
  const tflops = profile["peak_fp16_tflops"];
  const source = `chip profile ${ctx.chip}: peak_fp16_tflops = ${String(tflops)} (${String(profile["peak_source"] ?? "source not stated")})`;
  return { tflops: typeof tflops === "number" && tflops > 0 ? tflops : null, precision: "fp16", source };
}

function fmtPeak(tflops: number | null): string {
  return tflops === null ? "unknown" : String(Number(tflops.toPrecision(4)));
}

function measure(ctx: ProbeContext, c: number, d: number, p: PeakParams, peak: Peak): Row {
  const s = p.spatial;
  const gflop = (2 * c * c * s * d) / 1e9;
  const row: Row = {
    channels: c, depth: d, spatial: s, weights_mb: (d * c * c * 2) / 1e6, gflop_per_eval: gflop,
    compile_ms: null, load_ms: null, eval: null, tflops: null, tflops_hw: null, pct_of_peak: null,
    output_finite: null, error: null,
  };
  try {
    const weights = Array.from({ length: d }, (_, l) => layerWeights(c, l));
    const built = convChainProgram(ctx.dialect, c, s, weights);
    let compiled!: ReturnType<typeof ctx.backend.compile>;
    row.compile_ms = timeMs(() => {
      compiled = ctx.backend.compile(built.text, { weights: built.weights, chip: ctx.chip });
    });
    using program = compiled;
    row.load_ms = timeMs(() => program.load());
    using bind = new Binding(ctx.backend, program);
    bind.write(0, patternInput(c, s));
    const stats = evalStats(bind.evalMany(p.evals, p.warmup));
    row.eval = stats;
    // GFLOP per millisecond is TFLOP per second.
    row.tflops = gflop / stats.wall_ms.median;
    row.tflops_hw = stats.hw_ms && stats.hw_ms.median > 0 ? gflop / stats.hw_ms.median : null;
    row.pct_of_peak = peak.tflops === null ? null : (row.tflops / peak.tflops) * 100;
    row.output_finite = bind.read().every(Number.isFinite);
  } catch (e) {
    if (!(e instanceof LibaneError)) throw e;
    row.error = e.message;
  }
  return row;
}

export const peak: ProbeDefinition<PeakParams, PeakResults> = {
  name: "peak",
  description: "throughput of deep 1x1 conv chains (C x C, depth D, spatial S): TFLOPS and % of the stated peak",

  run(ctx, p) {
    const peakInfo = backendPeak(ctx);
    const rows: Row[] = [];
    for (const c of p.channels) for (const d of p.depths) rows.push(measure(ctx, c, d, p, peakInfo));

    const ran = rows.filter((r) => r.tflops !== null);
    const best = ran.length > 0 ? ran.reduce((a, b) => (b.tflops! > a.tflops! ? b : a)) : null;
    const failed = rows.filter((r) => r.error !== null);
    const overflowed = ran.filter((r) => r.output_finite === false);
    let verdict = best === null
      ? "no configuration ran"
      : `best ${fmt(best.tflops, 3)} TFLOPS at C=${best.channels} D=${best.depth}` +
        (best.pct_of_peak === null ? " (no stated peak)" : ` = ${best.pct_of_peak.toFixed(1)}% of the ${peakInfo.precision} peak ${fmtPeak(peakInfo.tflops)} TFLOPS`);
    if (failed.length > 0) verdict += `; ${failed.length} configuration(s) failed`;

    const notes = [
      `peak: ${peakInfo.source}`,
      "TFLOPS = GFLOP per eval / median wall ms per eval; % of peak = TFLOPS / peak TFLOPS * 100",
    ];
    if (overflowed.length > 0) notes.push(`outputs were not finite for ${overflowed.map((r) => `C=${r.channels} D=${r.depth}`).join(", ")}`);
    return { results: { peak: peakInfo, rows, best_tflops: best?.tflops ?? null }, verdict, notes };
  },

  table(r) {
    const hw = r.rows.some((row) => row.tflops_hw !== null);
    const headers = ["C", "D", "S", "W (MB)", "GFLOP", "compile ms", "ms/eval", "p90 ms", "TFLOPS", ...(hw ? ["TFLOPS (hw)"] : []), "% peak"];
    const ok = r.rows.filter((row) => row.error === null);
    const rows = ok.map((row) => [
      row.channels, row.depth, row.spatial, fmt(row.weights_mb, 1), fmt(row.gflop_per_eval, 3), fmt(row.compile_ms, 1),
      fmt(row.eval?.wall_ms.median ?? null), fmt(row.eval?.wall_ms.p90 ?? null), fmt(row.tflops, 4),
      ...(hw ? [fmt(row.tflops_hw, 4)] : []), fmt(row.pct_of_peak, 2),
    ]);
    const errors = r.rows.filter((row) => row.error !== null).map((row) => `C=${row.channels} D=${row.depth}: ${row.error}\n`);
    return (rows.length > 0 ? formatTable(headers, rows) : "") + errors.join("") +
      `peak: ${fmtPeak(r.peak.tflops)} TFLOPS ${r.peak.precision} (its source is in the notes)\n`;
  },
};
