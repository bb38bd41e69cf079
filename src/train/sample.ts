/**
 * The text sample the trainer prints at each checkpoint of a GPT run, so a user sees the text go
 * from noise to keywords to indented blocks. It is the generator (src/generate: libane's decoder
 * with a KV cache, sampling in C), the one way rustane generates, with fp32 weights (the
 * parameters exactly as trained), independent of the device kernels.
 */
import { openGenerativeModel } from "../generate/model.ts";
import { generate } from "../generate/generate.ts";
import { Sampler } from "../generate/sampler.ts";
import type { ModelConfig } from "../model/config.ts";
import type { ParamLayout } from "../model/params.ts";

/** Continue `prompt` (vocabulary ids) by up to `n` tokens (fewer at the context length), drawing
 *  from softmax(logits / temperature) over `vocabIds` (the classifier's compacted vocabulary; null
 *  = all ids). Deterministic for a seed. */
export function sampleContinuation(c: ModelConfig, layout: ParamLayout, params: Float32Array, prompt: ArrayLike<number>,
  n: number, o: { temperature: number; seed: number; vocabIds: Int32Array | null }): number[] {
  using model = openGenerativeModel({ config: c, layout, params }, { weights: "fp32" });
  return generate(model, Int32Array.from(prompt), {
    maxTokens: n, sampler: new Sampler({ temperature: o.temperature, topK: 0, topP: 1, seed: o.seed }),
    cache: true, eos: null, allowed: o.vocabIds,
  }).tokens;
}
