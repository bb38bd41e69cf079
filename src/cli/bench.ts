// `rustane bench train`: the speed of training steps, with nothing else in the way. Random
// weights (the trainer's init), random tokens, batch 1 with one optimizer step per sequence
// (forward + backward, global gradient norm, AdamW, re-staging the weights), exactly the work of a
// `rustane train` step without data loading, validation or checkpoints. Reports ms/step and
// tokens/s (median over the timed steps, after untimed warmup steps), the per-kernel and per-host-op
// breakdown from TransformerPipeline.timings, and peak RSS. bench/train/run.sh runs it beside the
// same model in PyTorch.
import { Option } from "clipanion";
import { readSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { getThreads, openBackend, setThreads } from "../ffi/index.ts";
import { builtInModelNames, loadModelConfig, type ModelConfig } from "../model/config.ts";
import { paramLayout } from "../model/params.ts";
import { TransformerPipeline } from "../train/pipeline.ts";
import { optimizerStep } from "../train/optimizer.ts";
import { initParams, stepFlops } from "../train/trainer.ts";
import { formatTable } from "../util/table.ts";
import { RustaneCommand, parseChoice, parseCount, usageError } from "./base.ts";

export interface TrainBenchOptions {
  model: ModelConfig; seq: number; steps: number; warmup: number; numerics: "fp16" | "fp32";
  backend: string; chip?: string; seed: number; lossScale: number;
  /** Called before each step (warmup included) and after it with its ms: bench/train/lockstep.py
   *  drives rustane and PyTorch step by step through these (--lockstep). */
  beforeStep?: (step: number) => void;
  afterStep?: (step: number, ms: number) => void;
}

export interface TrainBenchResult {
  model: string; params: number; backend: string; numerics: string; seq: number; threads: number;
  steps: number; warmup: number; compile_ms: number;
  ms_per_step: number; ms_per_step_mean: number; ms_per_step_min: number; tokens_per_s: number; tflops: number;
  first_loss: number; last_loss: number;
  /** mean ms per timed step, by part: "kernel <name>", "host <op>", "staging", "dW wait", "optimizer", "other" */
  breakdown: Record<string, number>;
  peak_rss_mb: number;
  machine: { cpu: string; cores: number; load_before: number[]; load_after: number[] };
}

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Peak resident set of this process so far, in MiB (getrusage's maxrss; kB on Linux and in Bun on macOS). */
function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export function benchTrain(o: TrainBenchOptions): TrainBenchResult {
  const c = o.model, layout = paramLayout(c), S = o.seq;
  const loadBefore = loadavg();
  using backend = openBackend(o.backend);
  const params = initParams(c, layout, o.seed);
  const grads = new Float32Array(layout.total), m = new Float32Array(layout.total), v = new Float32Array(layout.total);
  using pipe = new TransformerPipeline(backend, c, layout, { seq: S, numerics: o.numerics, chip: o.chip, vocabIds: null });
  pipe.stageWeights(params);
  const rand = lcg(o.seed), tokens = new Int32Array(S), targets = new Int32Array(S);
  const parts: Record<string, number> = {};
  const add = (k: string, ms: number) => { parts[k] = (parts[k] ?? 0) + ms; };
  const times: number[] = [];
  let firstLoss = NaN, lastLoss = NaN;

  for (let step = 1; step <= o.warmup + o.steps; step++) {
    // A fresh random sequence per step: targets are the next tokens, as in training.
    let prev = Math.floor(rand() * c.vocab_size);
    for (let s = 0; s < S; s++) { tokens[s] = prev; prev = Math.floor(rand() * c.vocab_size); targets[s] = prev; }
    pipe.timings = { kernelMs: {}, hostMs: {}, dwWaitMs: 0, stageMs: 0 };
    o.beforeStep?.(step);
    const t0 = performance.now();
    const loss = pipe.forwardBackward(params, grads, tokens, targets, o.lossScale, 1, true);   // over the last step's
    const t1 = performance.now();
    // The optimizer step of rustane train.
    optimizerStep({ params, grads, m, v, decayEnd: layout.decayEnd }, {
      lr: 1e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clip: 1, lossScale: o.lossScale,
      accept: (finite) => (finite ? step : 0),
    });
    const t2 = performance.now();
    pipe.stageWeights(params);
    const t3 = performance.now();
    o.afterStep?.(step, t3 - t0);
    if (step === 1) firstLoss = loss;
    lastLoss = loss;
    if (step <= o.warmup) continue;
    times.push(t3 - t0);
    const t = pipe.timings;
    let known = t.stageMs + t.dwWaitMs + (t2 - t1);
    for (const [k, ms] of Object.entries(t.kernelMs)) { add(`kernel ${k}`, ms); known += ms; }
    for (const [k, ms] of Object.entries(t.hostMs)) { add(`host ${k}`, ms); known += ms; }
    add("staging (surface copies)", t.stageMs);
    add("dW wait (queued sgemms)", t.dwWaitMs);
    add("optimizer (norm + AdamW)", t2 - t1);
    add("other (JS, fills, copies)", t3 - t0 - known);
  }
  const breakdown: Record<string, number> = {};
  for (const [k, ms] of Object.entries(parts).sort((a, b) => b[1] - a[1])) breakdown[k] = ms / o.steps;
  const msStep = median(times), flops = stepFlops(c, S, c.vocab_size);
  return {
    model: c.name, params: layout.total, backend: backend.kind, numerics: o.numerics, seq: S, threads: getThreads(),
    steps: o.steps, warmup: o.warmup, compile_ms: pipe.compileMs,
    ms_per_step: msStep, ms_per_step_mean: times.reduce((a, b) => a + b, 0) / times.length, ms_per_step_min: Math.min(...times),
    tokens_per_s: S / (msStep / 1000), tflops: flops.total / (msStep / 1000) / 1e12,
    first_loss: firstLoss, last_loss: lastLoss, breakdown, peak_rss_mb: peakRssMb(),
    machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, load_before: loadBefore, load_after: loadavg() },
  };
}

/** Block until a line arrives on stdin (--lockstep); end of input is an error, so a driver that
 *  dies does not leave the bench stepping on its own. */
function waitForLine(): void {
  const byte = Buffer.alloc(1);
  for (;;) {
    if (readSync(0, byte, 0, 1, null) === 0) throw new Error("--lockstep: stdin closed before the last step");
    if (byte[0] === 10) return;
  }
}

export class BenchTrainCommand extends RustaneCommand {
  static paths = [["bench", "train"]];
  static usage = RustaneCommand.Usage({
    description: "time training steps on random weights and tokens, with a per-kernel / per-host-op breakdown",
    details: "Batch 1, one optimizer step (AdamW) per sequence, no data loading, validation or checkpoints. ms/step is the median over the timed steps. bench/train/run.sh runs the same model in PyTorch beside it.",
    examples: [
      ["Stories110M, 256 tokens, fp32 numerics", "$0 bench train"],
      ["The ANE's fp16 numerics, JSON output", "$0 bench train --numerics fp16 --json"],
      ["Qwen3-0.6B, a few steps", "$0 bench train --model qwen3-0.6b --seq 128 --steps 2"],
    ],
  });

  model = Option.String("--model", { description: `a built-in model (${builtInModelNames().join(", ")}) or a .json config (default stories110m)` });
  seq = Option.String("--seq", { description: "tokens per sequence (default 256, at most the model's max_seq_len)" });
  steps = Option.String("--steps", { description: "timed optimizer steps (default 5)" });
  warmup = Option.String("--warmup", { description: "untimed steps first (default 1)" });
  numerics = Option.String("--numerics", { description: "fp32 (default) or fp16 (the ANE's)" });
  backend = Option.String("--backend", { description: "cpu, ane or auto (default cpu)" });
  chip = Option.String("--chip", { description: "chip profile: m1..m5 or none (default: the backend's)" });
  threads = Option.String("--threads", { description: "CPU threads for libane (default: all)" });
  json = Option.Boolean("--json", false, { description: "print one JSON object instead of tables" });
  lockstep = Option.Boolean("--lockstep", false, {
    description: "wait for a line on stdin before each step and print {\"step\", \"ms\"} after it (bench/train/lockstep.py)",
  });

  async run(): Promise<number> {
    const model = loadModelConfig(this.model ?? "stories110m");
    const seq = parseCount("--seq", this.seq, Math.min(256, model.max_seq_len));
    if (seq < 1 || seq > model.max_seq_len) throw usageError(`--seq: must be between 1 and the model's max_seq_len ${model.max_seq_len} (got ${seq})`);
    const steps = parseCount("--steps", this.steps, 5);
    if (steps < 1) throw usageError("--steps: must be >= 1");
    const numerics = parseChoice("--numerics", this.numerics, ["fp32", "fp16"] as const) ?? "fp32";
    if (this.threads !== undefined) {
      const n = parseCount("--threads", this.threads, 0);
      if (n < 1) throw usageError("--threads: must be >= 1");
      setThreads(n);
    }
    const out = this.context.stdout;
    const r = benchTrain({
      model, seq, steps, warmup: parseCount("--warmup", this.warmup, 1), numerics,
      backend: this.backend ?? "cpu", chip: this.chip, seed: 1, lossScale: numerics === "fp16" ? 256 : 1,
      ...(this.lockstep ? { beforeStep: waitForLine, afterStep: (step: number, ms: number) => out.write(JSON.stringify({ step, ms }) + "\n") } : {}),
    });
    if (this.json) { out.write(JSON.stringify(r) + "\n"); return 0; }
    const f = (x: number, d = 1) => x.toFixed(d);
    out.write(`rustane bench train: ${r.model} (${(r.params / 1e6).toFixed(1)}M parameters), seq ${r.seq}, batch 1, ` +
      `${r.backend} backend, ${r.numerics} numerics, ${r.threads} threads\n`);
    out.write(`machine: ${r.machine.cpu}, ${r.machine.cores} cores, load ${r.machine.load_before.map((x) => x.toFixed(2)).join(" ")} before, ` +
      `${r.machine.load_after.map((x) => x.toFixed(2)).join(" ")} after\n`);
    out.write(`compile ${f(r.compile_ms, 0)} ms; ${r.steps} timed steps after ${r.warmup} warmup; loss ${r.first_loss.toFixed(3)} -> ${r.last_loss.toFixed(3)}\n\n`);
    out.write(formatTable(["ms/step (median)", "mean", "min", "tokens/s", "TFLOP/s", "peak RSS MiB"],
      [[f(r.ms_per_step), f(r.ms_per_step_mean), f(r.ms_per_step_min), f(r.tokens_per_s), r.tflops.toFixed(4), f(r.peak_rss_mb, 0)]]));
    out.write("\nwhere a step's time goes (mean ms per step):\n");
    out.write(formatTable(["part", "ms", "%"], Object.entries(r.breakdown).map(([k, ms]) =>
      [k, f(ms), f((100 * ms) / r.ms_per_step_mean)])));
    return 0;
  }
}
