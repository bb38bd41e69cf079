/**
 * The training loop: micro-batches with gradient accumulation, loss scaling, global-norm
 * clipping, AdamW (no decay on norms), warmup + cosine learning rate, periodic validation
 * (loss and bits per byte), atomic checkpoints (`latest` every N steps, `best` on improvement),
 * telemetry, and a live progress line. Deterministic for a seed; resumes bit-identically.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Backend } from "../ffi/index.ts";
import * as ops from "../ffi/train-ops.ts";
import { dims, type ModelConfig } from "../model/config.ts";
import { paramLayout, type ParamLayout } from "../model/params.ts";
import { saveCheckpoint, type Checkpoint, type TrainState } from "../checkpoint/state.ts";
import { Dataset, type Window } from "../data/dataset.ts";
import { Rng } from "../util/rng.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import { TransformerPipeline } from "./pipeline.ts";
import { GptPipeline } from "./gpt-pipeline.ts";
import { sampleContinuation } from "./sample.ts";
import { LossScaler } from "./loss-scale.ts";
import { optimizerStep } from "./optimizer.ts";
import { learningRate } from "./schedule.ts";
import { Telemetry } from "./telemetry.ts";

export interface TrainOptions {
  backend: Backend;
  model: ModelConfig;
  numerics: "fp16" | "fp32";
  chip?: string;
  seq: number;
  microBatches: number;
  steps: number;
  lr: number; minLr: number; warmup: number;
  weightDecay: number; beta1: number; beta2: number; eps: number;
  clip: number;                       // 0 = no clipping
  actClip: number;                    // activation clipping bound of the residual stream; 0 = off
  lossScale: number; lossScaleMode: "static" | "dynamic";
  valEvery: number; valWindows: number;
  ckptEvery: number;
  logEvery: number;
  seed: number;
  runDir: string;
  telemetryStderr: boolean;
  progress: boolean;                  // live progress line (only when stderr is a terminal)
  quiet: boolean;
  data: Dataset;
  dataBytesPerToken: number | null;   // for val_bpb
  tokenizer: Tokenizer | null;
  version: string;
  stopAt?: number;                    // stop this invocation after this step (the schedule still spans `steps`)
  resume?: Checkpoint;                // continue from this state
  init?: Checkpoint;                  // start from these weights (fresh optimizer)
}

export interface TrainResult { firstLoss: number; finalLoss: number; bestValLoss: number | null; steps: number; latest: string | null; msPerStep: number }

/** Parameters initialised from a seed: N(0, 0.02) for matrices (output projections scaled by
 *  1/sqrt(2 layers), as GPT-2 does), ones for norm weights. */
export function initParams(c: ModelConfig, layout: ParamLayout, seed: number): Float32Array {
  const params = new Float32Array(layout.total);
  layout.tensors.forEach((t, i) => {
    const dst = params.subarray(t.offset, t.offset + t.size);
    if (t.init === "ones") { dst.fill(1); return; }
    if (t.init === "zeros") return;                 // biases (gpt family)
    const residualOut = t.name.endsWith("o_proj.weight") || t.name.endsWith("down_proj.weight") || t.name.endsWith("c_proj.weight");
    ops.fillNormal(dst, seed * 1000 + i, 0, residualOut ? 0.02 / Math.sqrt(2 * c.n_layers) : 0.02);
  });
  return params;
}

/** FLOPs of one micro-step: on the device (kernels) and in total (plus host dW and classifier). */
export function stepFlops(c: ModelConfig, S: number, Vc: number) {
  const { D, Q, KV, F, L } = dims(c);
  const mm = 2 * S * (D * Q + 2 * D * KV + Q * D + 3 * D * F);
  const device = L * (2 * mm + 4 * S * S * Q + 10 * S * S * Q);
  const total = device + L * mm + 6 * S * D * Vc;
  return { device, total };
}

function fmtDuration(s: number): string {
  if (!isFinite(s)) return "?";
  const m = Math.floor(s / 60), h = Math.floor(m / 60);
  return h ? `${h}h${String(m % 60).padStart(2, "0")}m` : m ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${s.toFixed(0)}s`;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const c = o.model, layout = paramLayout(c), S = o.seq, d = o.data;
  if (S > c.max_seq_len) throw new Error(`--seq ${S} is longer than the model's max_seq_len ${c.max_seq_len}`);
  mkdirSync(o.runDir, { recursive: true });
  const telemetry = new Telemetry(join(o.runDir, "telemetry.jsonl"), o.telemetryStderr);
  const log = (s: string) => { if (!o.quiet) process.stdout.write(s + "\n"); };

  const src = o.resume ?? o.init;
  const params = src ? src.params.slice() : initParams(c, layout, o.seed);
  const grads = new Float32Array(layout.total);
  const m = o.resume?.m ? o.resume.m.slice() : new Float32Array(layout.total);
  const v = o.resume?.v ? o.resume.v.slice() : new Float32Array(layout.total);
  const state: TrainState = o.resume?.state
    ? { ...o.resume.state }
    : { step: 0, rng: new Rng(o.seed).state, lossScale: { scale: o.lossScale, cleanSteps: 0, skipped: 0 }, bestValLoss: null, tokensSeen: 0 };
  const rng = new Rng(0); rng.state = state.rng;
  const scaler = new LossScaler(o.lossScaleMode, state.lossScale.scale);
  scaler.state = { ...state.lossScale };

  const pipeOptions = { seq: S, numerics: o.numerics, chip: o.chip, vocabIds: d.vocabIds, actClip: o.actClip };
  using pipe = c.family === "gpt" ? new GptPipeline(o.backend, c, layout, pipeOptions) : new TransformerPipeline(o.backend, c, layout, pipeOptions);
  pipe.stageWeights(params);
  const flops = stepFlops(c, S, d.vocabIds.length);
  telemetry.emit({ type: "start", time: new Date().toISOString(), rustane: o.version, model: c.name, params: layout.total,
    backend: o.backend.kind, chip: o.chip ?? null, numerics: o.numerics, seq: S, micro_batches: o.microBatches,
    data: d.source.description, vocab_compacted: d.vocabIds.length, compile_ms: pipe.compileMs, run_dir: o.runDir });
  log(`model ${c.name}: ${(layout.total / 1e6).toFixed(2)}M parameters, ${c.n_layers} layers, dim ${c.dim}; seq ${S} x ${o.microBatches} micro-batches`);
  log(`data ${d.source.description}; ${d.train.length.toLocaleString("en-US")} train / ${d.val.length.toLocaleString("en-US")} val tokens; classifier over ${d.vocabIds.length} of ${c.vocab_size} ids`);
  log(`backend ${o.backend.kind}, ${o.numerics} numerics${o.chip ? `, chip ${o.chip}` : ""}; 8 kernels compiled in ${pipe.compileMs.toFixed(0)} ms; checkpoints in ${o.runDir}`);

  const win: Window = { tokens: new Int32Array(S), targets: new Int32Array(S) };
  const valPositions = d.valWindows(o.valWindows);
  const evalVal = (): number | null => {
    if (valPositions.length === 0) return null;
    let sum = 0;
    for (const p of valPositions) { d.window(d.val, p, win); sum += pipe.loss(params, win.tokens, win.targets); }
    return sum / valPositions.length;
  };
  const checkpoint = (kind: "latest" | "best") => {
    const path = join(o.runDir, `${kind}.safetensors`);
    saveCheckpoint(path, { config: c, layout, params, m, v, state: { ...state, rng: rng.state, lossScale: { ...scaler.state } },
      tokenizer: o.tokenizer?.describe() ?? null, vocabIds: d.vocabIds, extra: { rustane: o.version } });
    telemetry.emit({ type: "checkpoint", step: state.step, path, kind });
    if (kind === "latest" && c.family === "gpt" && o.tokenizer) {    // a text sample: noise -> keywords -> blocks
      const ids = sampleContinuation(c, layout, params, o.tokenizer.encode("\n"), 200, { temperature: 0.8, seed: state.step, vocabIds: d.vocabIds });
      const text = o.tokenizer.decode(ids);
      log(`sample at step ${state.step}:\n${text}\n---`);
    }
    return path;
  };

  const isTTY = o.progress && !!process.stderr.isTTY;
  let lastPrint = 0, firstLoss = NaN, lastLoss = NaN, latest: string | null = null;
  const t0 = performance.now();
  let windowStart = t0, windowSteps = 0;
  const startStep = state.step, lastStep = Math.min(o.steps, o.stopAt ?? o.steps);
  // Ctrl-C finishes the step in flight, writes `latest` and returns (the loop yields to the
  // event loop once per step so the signal handler can run).
  let interrupted = false;
  const onSigint = () => { if (interrupted) process.exit(130); interrupted = true; };
  process.on("SIGINT", onSigint);
  try {
    while (state.step < lastStep && !interrupted) {
      await new Promise<void>((r) => setImmediate(r));
      const stepStart = performance.now();
      pipe.timings = { kernelMs: {}, hostMs: {}, dwWaitMs: 0, stageMs: 0 };
      let loss = 0;
      for (let mb = 0; mb < o.microBatches; mb++) {               // the first overwrites the last step's gradients
        d.sampleTrain(rng, win);
        loss += pipe.forwardBackward(params, grads, win.tokens, win.targets, scaler.scale, o.microBatches, mb === 0) / o.microBatches;
      }
      state.step++;
      state.tokensSeen += S * o.microBatches;
      const lr = learningRate(state.step, { lr: o.lr, minLr: o.minLr, warmup: o.warmup, total: o.steps });
      // The scale these gradients carry is read before scaler.update may change it for the next step.
      const { applied, gradNorm } = optimizerStep({ params, grads, m, v, decayEnd: layout.decayEnd }, {
        lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay, clip: o.clip, lossScale: scaler.scale,
        accept: (finite) => (scaler.update(finite) ? state.step - scaler.state.skipped : 0),
      });
      if (applied) pipe.stageWeights(params);
      const ms = performance.now() - stepStart;
      if (isNaN(firstLoss)) firstLoss = loss;
      lastLoss = loss;
      windowSteps++;
      if (state.step % o.logEvery === 0 || state.step === lastStep || state.step === startStep + 1) {
        const now = performance.now(), elapsed = (now - windowStart) / 1000;
        const sec = elapsed / windowSteps;
        telemetry.emit({ type: "step", step: state.step, loss, lr, loss_scale: scaler.state.scale, grad_norm: gradNorm, skipped: !applied,
          tokens_per_s: (S * o.microBatches) / sec, ms_per_step: ms, kernel_ms: pipe.timings.kernelMs, host_ms: pipe.timings.hostMs,
          stage_ms: pipe.timings.stageMs, dw_wait_ms: pipe.timings.dwWaitMs,
          device_tflops: (flops.device * o.microBatches) / (ms / 1000) / 1e12, total_tflops: (flops.total * o.microBatches) / (ms / 1000) / 1e12,
          rss_mb: process.memoryUsage().rss / 2 ** 20 });
        if (!isTTY) log(`step ${state.step}/${o.steps}  loss ${loss.toFixed(4)}  lr ${lr.toExponential(2)}  ${((S * o.microBatches) / sec).toFixed(0)} tok/s  ${ms.toFixed(0)} ms/step${applied ? "" : "  (skipped: inf/nan gradient)"}`);
        windowStart = now; windowSteps = 0;
      }
      if (isTTY && performance.now() - lastPrint > 100) {
        lastPrint = performance.now();
        const done = state.step - startStep, rate = done / ((lastPrint - t0) / 1000);
        process.stderr.write(`\r\x1b[2Kstep ${state.step}/${o.steps}  loss ${loss.toFixed(4)}  ${(rate * S * o.microBatches).toFixed(0)} tok/s  ETA ${fmtDuration((o.steps - state.step) / rate)}`);
      }
      if (o.valEvery > 0 && (state.step % o.valEvery === 0 || state.step === lastStep)) {
        const val = evalVal();
        if (val !== null) {
          const improved = state.bestValLoss === null || val < state.bestValLoss;
          if (improved) state.bestValLoss = val;
          const bpb = o.dataBytesPerToken ? val / Math.LN2 / o.dataBytesPerToken : null;
          telemetry.emit({ type: "val", step: state.step, val_loss: val, val_bpb: bpb, best_val_loss: state.bestValLoss! });
          if (isTTY) process.stderr.write("\n");
          log(`  val loss ${val.toFixed(4)}${bpb !== null ? `  (${bpb.toFixed(3)} bits/byte)` : ""}${improved ? "  best" : ""}`);
          if (improved) checkpoint("best");
        }
      }
      if (o.ckptEvery > 0 && (state.step % o.ckptEvery === 0 || state.step === lastStep)) latest = checkpoint("latest");
      if (interrupted) {
        if (isTTY) process.stderr.write("\n");
        latest = checkpoint("latest");
        log(`interrupted at step ${state.step}: continue with --resume ${latest}`);
      }
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
  if (isTTY) process.stderr.write("\n");
  const wall = (performance.now() - t0) / 1000;
  telemetry.emit({ type: "end", step: state.step, wall_s: wall, final_loss: lastLoss });
  if (latest && !existsSync(latest)) latest = null;
  return { firstLoss, finalLoss: lastLoss, bestValLoss: state.bestValLoss, steps: state.step, latest,
           msPerStep: (wall * 1000) / Math.max(1, state.step - startStep) };
}

