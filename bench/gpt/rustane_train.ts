// rustane side of bench/gpt: one optimizer step of a GPT (default gpt-char-25m) = `batch`
// micro-batches of `seq` tokens through GptPipeline (device kernels on the chosen backend + host
// ops), global-norm clip, AdamW in two groups, and re-staging the weights, exactly what the
// trainer does per step. Prints one JSON line with ms/step and the step's time split.
import { getThreads, openBackend, setThreads } from "../../src/ffi/index.ts";
import * as ops from "../../src/ffi/train-ops.ts";
import { loadModelConfig } from "../../src/model/config.ts";
import { paramLayout } from "../../src/model/params.ts";
import { GptPipeline } from "../../src/train/gpt-pipeline.ts";
import { initParams } from "../../src/train/trainer.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const model = arg("model", "gpt-char-25m"), batch = Number(arg("batch", "4")), seq = Number(arg("seq", "64"));
const steps = Number(arg("steps", "10")), warmup = Number(arg("warmup", "2")), threads = Number(arg("threads", "0"));
const numerics = arg("numerics", "fp32") as "fp32" | "fp16", backendName = arg("backend", "cpu");
if (threads) setThreads(threads);

const c = loadModelConfig(model), layout = paramLayout(c);
using backend = openBackend(backendName);
const params = initParams(c, layout, 1), grads = new Float32Array(layout.total);
const m = new Float32Array(layout.total), v = new Float32Array(layout.total);
using pipe = new GptPipeline(backend, c, layout, { seq, numerics, chip: arg("chip", "none"), vocabIds: null });
pipe.stageWeights(params);
let s = 12345;
const rand = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s % c.vocab_size; };
const batches = Array.from({ length: batch }, () => Int32Array.from({ length: seq + 1 }, rand));
const times: number[] = [];
let loss = 0;
const split = { kernels: 0, host: 0, stage: 0, dwWait: 0, optimizer: 0 };
for (let step = 1; step <= warmup + steps; step++) {
  const t0 = performance.now();
  pipe.timings = { kernelMs: {}, hostMs: {}, dwWaitMs: 0, stageMs: 0 };
  grads.fill(0);
  loss = 0;
  for (const b of batches) loss += pipe.forwardBackward(params, grads, b.subarray(0, seq), b.subarray(1), 1, batch) / batch;
  const t1 = performance.now();
  const norm = Math.sqrt(ops.sumSquares(grads)), gs = norm > 1 ? 1 / (norm + 1e-6) : 1;
  const common = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, step, gradScale: gs };
  ops.adamw(params.subarray(0, layout.decayEnd), grads.subarray(0, layout.decayEnd), m.subarray(0, layout.decayEnd),
    v.subarray(0, layout.decayEnd), { ...common, weightDecay: 0.1 });
  ops.adamw(params.subarray(layout.decayEnd), grads.subarray(layout.decayEnd), m.subarray(layout.decayEnd),
    v.subarray(layout.decayEnd), { ...common, weightDecay: 0 });
  pipe.stageWeights(params);
  const t2 = performance.now();
  if (step > warmup) {
    times.push(t2 - t0);
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, x) => a + x, 0);
    split.kernels += sum(pipe.timings.kernelMs) / steps; split.host += sum(pipe.timings.hostMs) / steps;
    split.stage += pipe.timings.stageMs / steps; split.dwWait += pipe.timings.dwWaitMs / steps; split.optimizer += (t2 - t1) / steps;
  }
}
times.sort((a, b) => a - b);
const r1 = (x: number) => Math.round(x * 10) / 10;
console.log(JSON.stringify({ impl: "rustane", backend: backend.kind, numerics, threads: getThreads(),
  params: layout.total, batch, seq, ms_per_step_median: r1(times[times.length >> 1]), ms_per_step_min: r1(times[0]), loss,
  compile_ms: r1(pipe.compileMs), split_ms: Object.fromEntries(Object.entries(split).map(([k, x]) => [k, r1(x)])),
  host_ms: Object.fromEntries(Object.entries(pipe.timings.hostMs).map(([k, x]) => [k, r1(x)])) }));
