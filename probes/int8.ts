// int8: does W8A8 run faster than fp16 on this chip? Two programs of the same shape, a chain
// of D 1x1 convs (C x C, spatial S):
//   fp16: conv with fp16 BLOBFILE weights (as the peak probe);
//   W8A8: per layer, quantize(h) to int8 -> dequantize -> conv whose weight is int8 in its blob,
//         dequantized at compile (constexpr_affine_dequantize).
// Both use the SAME weights (the fp16 chain's are the int8 values times the scale, exact in
// fp16), so the only numeric difference is the activation quantization. Reported: TOPS of each
// (2·C·C·S·D ops / median wall time), int8/fp16 ratio, and ||y_int8 - y_fp16|| / ||y_fp16||.
// quantize/dequantize are iOS 17 opset ops: the ios16 dialect (M1/M2) may not hold them, so
// there the probe says "not applicable".
import * as v from "valibot";
import { LibaneError } from "../src/ffi/index.ts";
import { Binding, timeMs, type ProbeContext, type ProbeDefinition } from "./context.ts";
import { intOption } from "./options.ts";
import { convChainProgram, int8ConvChainProgram, layerWeights, patternInput } from "./programs.ts";
import type { Int8Results } from "./schema.ts";
import { evalStats } from "./stats.ts";
import { fmt, formatTable } from "./table.ts";

export const Int8Params = v.object({
  channels: intOption("--channels", 1, 8192),
  depth: intOption("--depth", 1, 1024),
  spatial: intOption("--spatial", 1, 16384),
  evals: intOption("--evals", 1, 100000),
  warmup: intOption("--warmup", 0, 10000),
});
export type Int8Params = v.InferOutput<typeof Int8Params>;
export const INT8_DEFAULTS = { channels: "512", depth: "32", spatial: "64", evals: "30", warmup: "5" };

// Activations keep a standard deviation near 0.55 through the chain (weights of variance 1/C):
// 2^-5 steps cover ±3.97, about 7 standard deviations. A power of two is exact in fp16.
const ACT_SCALE = 2 ** -5;

type Variant = NonNullable<Int8Results["int8"]>;

/** Layer weights as int8 q with one power-of-two scale: w ≈ q · scale, |q| <= 127. */
function quantizedWeights(c: number, depth: number) {
  const bound = Math.sqrt(3 / c);                               // layerWeights' range
  const scale = 2 ** -Math.ceil(Math.log2(127 / bound));        // scale * 127 >= bound
  const q = Array.from({ length: depth }, (_, l) => Int8Array.from(layerWeights(c, l), (w) => Math.round(w / scale)));
  return { q, scale, dequantized: q.map((layer) => Float32Array.from(layer, (k) => k * scale)) };
}

function run(ctx: ProbeContext, build: () => { text: string; weights: Map<string, Uint8Array> }, x: Float32Array, p: Int8Params, ops: number) {
  const variant: Variant = { compile_ms: null, eval: null, tops: null, error: null };
  let y: Float32Array | null = null;
  try {
    const built = build();
    let compiled!: ReturnType<typeof ctx.backend.compile>;
    variant.compile_ms = timeMs(() => {
      compiled = ctx.backend.compile(built.text, { weights: built.weights, chip: ctx.chip });
    });
    using program = compiled;
    program.load();
    using bind = new Binding(ctx.backend, program);
    bind.write(0, x);
    variant.eval = evalStats(bind.evalMany(p.evals, p.warmup));
    variant.tops = ops / 1e12 / (variant.eval.wall_ms.median / 1e3);
    y = bind.read();
  } catch (e) {
    if (!(e instanceof LibaneError)) throw e;
    variant.error = e.message;
  }
  return { variant, y };
}

function relativeDiff(a: Float32Array, b: Float32Array): number | null {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  const r = Math.sqrt(num / den);
  return Number.isFinite(r) ? r : null;
}

export const int8: ProbeDefinition<Int8Params, Int8Results> = {
  name: "int8",
  description: "W8A8 (int8 weights and activations) vs fp16 conv chains: TOPS of each and the ratio",

  run(ctx, p) {
    const { channels: c, depth: d, spatial: s } = p;
    const base = { channels: c, depth: d, spatial: s };
    if (ctx.dialect === "ios16") {
      const reason = `chip ${ctx.chip} compiles the ios16 dialect, which has no quantize/dequantize (iOS 17 opset ops)`;
      return {
        results: { applicable: false, reason, ...base, fp16: null, int8: null, ratio: null, rel_diff_vs_fp16: null },
        verdict: "not applicable: the ios16 dialect has no quantize/dequantize",
        notes: [reason],
      };
    }
    const ops = 2 * c * c * s * d;
    const x = patternInput(c, s);
    const w = quantizedWeights(c, d);
    const f16 = run(ctx, () => convChainProgram(ctx.dialect, c, s, w.dequantized), x, p, ops);
    const i8 = run(ctx, () => int8ConvChainProgram(ctx.dialect, c, s, w.q, w.scale, ACT_SCALE), x, p, ops);
    const ratio = f16.variant.tops && i8.variant.tops !== null ? i8.variant.tops / f16.variant.tops : null;
    const rel = f16.y && i8.y ? relativeDiff(i8.y, f16.y) : null;

    let verdict: string;
    if (ratio === null) {
      verdict = `${i8.variant.error ? "W8A8 failed" : ""}${i8.variant.error && f16.variant.error ? "; " : ""}${f16.variant.error ? "fp16 failed" : ""}`;
    } else {
      verdict = `W8A8 ${fmt(i8.variant.tops, 3)} TOPS vs fp16 ${fmt(f16.variant.tops, 3)} TFLOPS: ${fmt(ratio, 2)}x` +
        (rel === null ? "; W8A8 output not finite" : `; relative difference ${rel.toExponential(1)}`);
    }
    return {
      results: { applicable: true, reason: null, ...base, fp16: f16.variant, int8: i8.variant, ratio, rel_diff_vs_fp16: rel },
      verdict: verdict.slice(0, 160),
      notes: [
        "TOPS = 2*C*C*S*D / median wall time per eval (one multiply-add = 2 ops, as for TFLOPS)",
        `activation scale 2^-5 (int8 range ±3.97); weight scale ${w.scale} (a power of two): both chains use the same weights`,
      ],
    };
  },

  table(r) {
    if (!r.applicable) return `not applicable (${r.reason ?? "no reason given"})\n`;
    const rows = ([["fp16", r.fp16], ["W8A8", r.int8]] as const).map(([name, variant]) => [
      name, fmt(variant?.compile_ms ?? null, 1), fmt(variant?.eval?.wall_ms.median ?? null), fmt(variant?.tops ?? null, 4), variant?.error ?? "",
    ]);
    return formatTable(["program", "compile ms", "ms/eval", "TOPS", "error"], rows) +
      `C=${r.channels} D=${r.depth} S=${r.spatial}; int8/fp16 = ${fmt(r.ratio, 2)}; ||y_int8 - y_fp16|| / ||y_fp16|| = ${r.rel_diff_vs_fp16 === null ? "-" : r.rel_diff_vs_fp16.toExponential(2)}\n`;
  },
};
