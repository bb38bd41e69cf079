// sram: where do weights stop fitting in the Neural Engine's on-chip memory? One 1x1 conv per
// channel count C (fp16 I/O, C x C fp16 weight, spatial S), C growing, so the weight grows as
// C·C·2 bytes. Throughput rises with C while fixed per-eval costs are amortized; when the
// weight no longer fits in SRAM it has to stream from DRAM and throughput falls. The probe flags
// the first size whose GFLOP/s falls more than 30% below the best of the smaller sizes (the
// "cliff"; maderix/ANE's sram_probe measured its sizes the same way). GFLOP/s per weight MB is
// reported too. On the cpu backend the same shape shows the CPU's cache sizes, not an SRAM.
import * as v from "valibot";
import { LibaneError } from "../src/ffi/index.ts";
import { Binding, type ProbeContext, type ProbeDefinition } from "./context.ts";
import { intListOption, intOption } from "./options.ts";
import { conv1x1Program, layerWeights, patternInput } from "./programs.ts";
import type { SramResults } from "./schema.ts";
import { evalStats } from "./stats.ts";
import { fmt, formatTable } from "./table.ts";

export const SramParams = v.object({
  channels: intListOption("--channels", 1, 8192, 32),
  spatial: intOption("--spatial", 1, 16384),
  evals: intOption("--evals", 1, 100000),
  warmup: intOption("--warmup", 0, 10000),
});
export type SramParams = v.InferOutput<typeof SramParams>;
export const SRAM_DEFAULTS = { channels: "256,512,1024,1536,2048,2560,3072,3584,4096", spatial: "64", evals: "20", warmup: "3" };

/** A drop of more than this fraction vs the best GFLOP/s of the smaller sizes is the cliff. */
export const CLIFF_DROP = 0.3;

type Row = SramResults["rows"][number];

function measure(ctx: ProbeContext, c: number, p: SramParams): Row {
  const s = p.spatial;
  const gflop = (2 * c * c * s) / 1e9;
  const weightsMb = (c * c * 2) / 1e6;
  const row: Row = { channels: c, weights_mb: weightsMb, gflop_per_eval: gflop, eval: null, gflops: null, gflops_per_mb: null, vs_best_so_far: null, cliff: false, error: null };
  try {
    const built = conv1x1Program(ctx.dialect, c, s, layerWeights(c, 0));
    using program = ctx.backend.compile(built.text, { weights: built.weights, chip: ctx.chip });
    program.load();
    using bind = new Binding(ctx.backend, program);
    bind.write(0, patternInput(c, s));
    row.eval = evalStats(bind.evalMany(p.evals, p.warmup));
    row.gflops = gflop / (row.eval.wall_ms.median / 1e3);
    row.gflops_per_mb = row.gflops / weightsMb;
  } catch (e) {
    if (!(e instanceof LibaneError)) throw e;
    row.error = e.message;
  }
  return row;
}

export const sram: ProbeDefinition<SramParams, SramResults> = {
  name: "sram",
  description: "weight-size sweep (one C x C conv, C growing): GFLOP/s, GFLOP/s per MB, and the SRAM cliff",

  run(ctx, p) {
    // Smallest weights first, so "best so far" means "best of the smaller sizes".
    const sizes = [...p.channels].sort((a, b) => a - b);
    const rows: Row[] = [];
    let best = 0;
    for (const c of sizes) {
      const row = measure(ctx, c, p);
      if (row.gflops !== null) {
        if (best > 0) {
          row.vs_best_so_far = row.gflops / best;
          row.cliff = row.vs_best_so_far < 1 - CLIFF_DROP;
        }
        best = Math.max(best, row.gflops);
      }
      rows.push(row);
    }
    const cliff = rows.find((r) => r.cliff) ?? null;
    const ran = rows.filter((r) => r.gflops !== null);
    const failed = rows.filter((r) => r.error !== null);
    let verdict = ran.length === 0 ? "no size ran"
      : cliff ? `cliff at C=${cliff.channels} (${fmt(cliff.weights_mb, 1)} MB of weights): ${fmt(cliff.gflops, 1)} GFLOP/s, ${((1 - cliff.vs_best_so_far!) * 100).toFixed(0)}% below the best of the smaller sizes`
      : `no cliff up to ${fmt(ran[ran.length - 1].weights_mb, 1)} MB of weights; best ${fmt(best, 1)} GFLOP/s`;
    if (failed.length > 0) verdict += `; ${failed.length} size(s) failed`;
    const notes = [
      "GFLOP/s = 2*C*C*S / median wall time per eval; weights MB = C*C*2 / 1e6",
      `cliff: the first size whose GFLOP/s is more than ${CLIFF_DROP * 100}% below the best of the smaller sizes`,
    ];
    if (ctx.backend.kind === "cpu") notes.push("on the cpu backend a cliff reflects the CPU's caches, not the Neural Engine's SRAM");
    return {
      results: { cliff_drop: CLIFF_DROP, rows, cliff_at_mb: cliff?.weights_mb ?? null, cliff_channels: cliff?.channels ?? null, best_gflops: ran.length > 0 ? best : null },
      verdict: verdict.slice(0, 160),
      notes,
    };
  },

  table(r) {
    const ok = r.rows.filter((row) => row.error === null);
    const table = formatTable(
      ["C", "W (MB)", "GFLOP", "ms/eval", "GFLOP/s", "GFLOP/s per MB", "vs best", "cliff"],
      ok.map((row) => [
        row.channels, fmt(row.weights_mb, 2), fmt(row.gflop_per_eval, 4), fmt(row.eval?.wall_ms.median ?? null),
        fmt(row.gflops, 1), fmt(row.gflops_per_mb, 1), fmt(row.vs_best_so_far, 2), row.cliff ? "CLIFF" : "",
      ]),
    );
    const errors = r.rows.filter((row) => row.error !== null).map((row) => `C=${row.channels}: ${row.error}\n`);
    return (ok.length > 0 ? table : "") + errors.join("");
  },
};
