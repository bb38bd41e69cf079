/**
 * A minimal GPT sampler for training progress: at each checkpoint the trainer prints a short
 * sample so a user sees the text go from noise to keywords to indented blocks. It runs one
 * token at a time on the host (libane's sgemm, LayerNorm and GELU; attention over a key/value
 * cache in plain loops: T·D work per token), independent of the device kernels, so it needs no
 * extra compiled programs. The general generator (src/generate) is a separate, fuller tool.
 */
import * as ops from "../ffi/train-ops.ts";
import * as gops from "../ffi/gpt-ops.ts";
import { dims, type ModelConfig } from "../model/config.ts";
import { view, type ParamLayout } from "../model/params.ts";
import { gptBlockPrefix, gptClassifierName, GPT_WPE, GPT_WTE } from "../model/gpt.ts";
import { Rng } from "../data/dataset.ts";

export class GptSampler {
  private readonly keys: Float32Array[];     // per layer [T, D]
  private readonly values: Float32Array[];
  private pos = 0;
  private readonly x: Float32Array; private readonly a: Float32Array; private readonly qkv: Float32Array;
  private readonly attn: Float32Array; private readonly h: Float32Array; private readonly g: Float32Array;
  private readonly logits: Float32Array; private readonly table: Float32Array;
  readonly ids: Int32Array;

  /** vocabIds: the ids the classifier covers (compaction), or null for the whole vocabulary. */
  constructor(private readonly c: ModelConfig, private readonly layout: ParamLayout, private readonly params: Float32Array,
              vocabIds: Int32Array | null) {
    if (c.family !== "gpt") throw new Error(`GptSampler: model ${c.name} is family ${c.family}, not gpt`);
    const { D, F, V } = dims(c), T = c.max_seq_len;
    this.keys = Array.from({ length: c.n_layers }, () => new Float32Array(T * D));
    this.values = Array.from({ length: c.n_layers }, () => new Float32Array(T * D));
    this.x = new Float32Array(D); this.a = new Float32Array(D); this.qkv = new Float32Array(3 * D);
    this.attn = new Float32Array(D); this.h = new Float32Array(F); this.g = new Float32Array(F);
    this.ids = vocabIds ?? Int32Array.from({ length: V }, (_, i) => i);
    this.table = new Float32Array(this.ids.length * D);
    ops.gatherRows(this.p(gptClassifierName(c)), D, this.ids, this.table);
    this.logits = new Float32Array(this.ids.length);
  }

  private p(name: string): Float32Array { return view(this.layout, this.params, name); }

  get position(): number { return this.pos; }

  /** y[O] = W[O, I] · x[I] + b[O] */
  private linear(W: Float32Array, b: Float32Array, x: Float32Array, y: Float32Array, O: number, I: number): void {
    y.set(b);
    ops.sgemm(0, 0, O, 1, I, 1, W, I, x, 1, 1, y, 1);
  }

  /** Feed one token at the next position; returns the classifier's logits for the following one
   *  (over `ids`; the array is reused by the next call). */
  feed(token: number): Float32Array {
    const c = this.c, { D, F, V, H, hd } = dims(c), t = this.pos;
    if (t >= c.max_seq_len) throw new Error(`GptSampler: context full (${c.max_seq_len} positions)`);
    if (!(token >= 0 && token < V)) throw new Error(`GptSampler: token ${token} outside the vocabulary of ${V}`);
    const wte = this.p(GPT_WTE), wpe = this.p(GPT_WPE), x = this.x;
    for (let d = 0; d < D; d++) x[d] = wte[token * D + d] + wpe[t * D + d];
    const scale = 1 / Math.sqrt(hd), scores = new Float64Array(t + 1);
    for (let l = 0; l < c.n_layers; l++) {
      const P = (n: string) => this.p(gptBlockPrefix(l) + n);
      gops.layernormFwd(x, P("ln_1.weight"), P("ln_1.bias"), this.a, null, null, D, 1, c.norm_eps);
      this.linear(P("attn.c_attn.weight"), P("attn.c_attn.bias"), this.a, this.qkv, 3 * D, D);
      const K = this.keys[l], Vc = this.values[l];
      K.set(this.qkv.subarray(D, 2 * D), t * D);
      Vc.set(this.qkv.subarray(2 * D, 3 * D), t * D);
      for (let head = 0; head < H; head++) {
        const o = head * hd;
        let mx = -Infinity;
        for (let j = 0; j <= t; j++) {
          let dot = 0;
          for (let e = 0; e < hd; e++) dot += this.qkv[o + e] * K[j * D + o + e];
          scores[j] = dot * scale;
          if (scores[j] > mx) mx = scores[j];
        }
        let sum = 0;
        for (let j = 0; j <= t; j++) { scores[j] = Math.exp(scores[j] - mx); sum += scores[j]; }
        for (let e = 0; e < hd; e++) {
          let acc = 0;
          for (let j = 0; j <= t; j++) acc += scores[j] * Vc[j * D + o + e];
          this.attn[o + e] = acc / sum;
        }
      }
      this.linear(P("attn.c_proj.weight"), P("attn.c_proj.bias"), this.attn, this.a, D, D);
      ops.axpy(x, this.a, 1);
      gops.layernormFwd(x, P("ln_2.weight"), P("ln_2.bias"), this.a, null, null, D, 1, c.norm_eps);
      this.linear(P("mlp.c_fc.weight"), P("mlp.c_fc.bias"), this.a, this.h, F, D);
      gops.geluTanhFwd(this.h, this.g);
      this.linear(P("mlp.c_proj.weight"), P("mlp.c_proj.bias"), this.g, this.a, D, F);
      ops.axpy(x, this.a, 1);
    }
    gops.layernormFwd(x, this.p("transformer.ln_f.weight"), this.p("transformer.ln_f.bias"), this.a, null, null, D, 1, c.norm_eps);
    ops.sgemm(0, 0, this.ids.length, 1, D, 1, this.table, D, this.a, 1, 0, this.logits, 1);
    this.pos++;
    return this.logits;
  }
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
  const s = new GptSampler(c, layout, params, o.vocabIds), rng = new Rng(o.seed), out: number[] = [];
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
