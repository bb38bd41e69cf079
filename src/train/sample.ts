/**
 * The text sample the trainer prints at each checkpoint of a GPT run, so a user sees the text go
 * from noise to keywords to indented blocks. It runs on the generator's model (src/generate:
 * libane's decoder with a KV cache on the host), the one way rustane generates, with fp32
 * weights (the parameters exactly as trained), independent of the device kernels.
 */
import { openGenerativeModel, type GenerativeModel } from "../generate/model.ts";
import type { ModelConfig } from "../model/config.ts";
import type { ParamLayout } from "../model/params.ts";
import { Rng } from "../data/dataset.ts";

export class GptSampler implements Disposable {
  private readonly model: GenerativeModel;
  private pos = 0;
  private readonly logits: Float32Array;
  /** The ids the logits cover, in order. */
  readonly ids: Int32Array;

  /** vocabIds: the ids the classifier covers (compaction), or null for the whole vocabulary. */
  constructor(c: ModelConfig, layout: ParamLayout, params: Float32Array, vocabIds: Int32Array | null) {
    if (c.family !== "gpt") throw new Error(`GptSampler: model ${c.name} is family ${c.family}, not gpt`);
    this.model = openGenerativeModel({ config: c, layout, params }, { weights: "fp32" });
    this.ids = vocabIds ?? Int32Array.from({ length: c.vocab_size }, (_, i) => i);
    this.logits = new Float32Array(this.ids.length);
  }

  get position(): number { return this.pos; }

  /** Feed one token at the next position; returns the classifier's logits for the following one
   *  (over `ids`; the array is reused by the next call). */
  feed(token: number): Float32Array {
    const c = this.model.config;
    if (this.pos >= this.model.maxSeq) throw new Error(`GptSampler: context full (${this.model.maxSeq} positions)`);
    if (!(Number.isInteger(token) && token >= 0 && token < c.vocab_size)) throw new Error(`GptSampler: token ${token} outside the vocabulary of ${c.vocab_size}`);
    const all = this.pos === 0 ? this.model.prefill(Int32Array.of(token)) : this.model.decodeStep(token, this.pos);
    for (let i = 0; i < this.ids.length; i++) this.logits[i] = all[this.ids[i]];
    this.pos++;
    return this.logits;
  }

  close(): void { this.model.close(); }
  [Symbol.dispose](): void { this.close(); }
}

/** Draw an index from softmax(logits / temperature) (argmax when temperature is 0). */
export function sampleIndex(logits: Float32Array, temperature: number, rng: Rng): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  if (temperature <= 0) return best;
  let sum = 0;
  const w = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) { w[i] = Math.exp((logits[i] - logits[best]) / temperature); sum += w[i]; }
  let u = rng.next() * sum;
  for (let i = 0; i < w.length; i++) { u -= w[i]; if (u < 0) return i; }
  return best;
}

/** Continue `prompt` (vocabulary ids) by up to `n` tokens, stopping at the context length;
 *  returns the new ids. Deterministic for a seed. */
export function sampleGpt(c: ModelConfig, layout: ParamLayout, params: Float32Array, prompt: ArrayLike<number>, n: number,
  o: { temperature: number; seed: number; vocabIds: Int32Array | null }): number[] {
  if (prompt.length === 0) throw new Error("sampleGpt: the prompt needs at least one token");
  using s = new GptSampler(c, layout, params, o.vocabIds);
  const rng = new Rng(o.seed), out: number[] = [];
  let logits = s.feed(prompt[0]);
  for (let i = 1; i < prompt.length && s.position < c.max_seq_len; i++) logits = s.feed(prompt[i]);
  while (out.length < n) {
    const id = s.ids[sampleIndex(logits, o.temperature, rng)];
    out.push(id);
    if (s.position >= c.max_seq_len || out.length === n) break;
    logits = s.feed(id);
  }
  return out;
}
