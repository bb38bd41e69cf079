/**
 * The generation loop: prefill the prompt, then sample a token and decode it, until EOS or
 * max tokens. Without the cache (cache: false) every new token re-runs the whole sequence
 * from an empty cache: the reference path, slow on purpose.
 */
import type { GenerativeModel } from "./model.ts";
import type { Sampler } from "./sampler.ts";

export interface GenerateOptions {
  maxTokens: number;
  sampler: Sampler;
  /** false: recompute the whole sequence for every token. */
  cache: boolean;
  /** Stop (without emitting it) when this id is sampled. */
  eos: number | null;
  /** Ids the model may produce (others are masked): a checkpoint's compacted vocabulary. */
  allowed?: Int32Array | null;
  /** Called with each new token as soon as it is chosen. */
  onToken?: (id: number) => void;
}

export interface GenerateResult {
  tokens: number[];          // generated ids (prompt excluded)
  promptTokens: number;
  prefillMs: number;
  decodeMs: number;          // model time for the generated tokens after the first
  stoppedBy: "eos" | "max-tokens" | "context";
}

export function generate(model: GenerativeModel, prompt: Int32Array, o: GenerateOptions): GenerateResult {
  if (prompt.length === 0) throw new Error("the prompt has no tokens");
  if (prompt.length >= model.maxSeq) throw new Error(`the prompt has ${prompt.length} tokens, but the context holds ${model.maxSeq}: shorten it`);
  const mask = o.allowed ? allowedMask(o.allowed, model.config.vocab_size) : null;
  const seq = new Int32Array(model.maxSeq);
  seq.set(prompt);
  let len = prompt.length;
  let t0 = performance.now();
  let logits = model.prefill(prompt);
  const prefillMs = performance.now() - t0;
  const out: number[] = [];
  let decodeMs = 0, stoppedBy: GenerateResult["stoppedBy"] = "max-tokens";
  while (out.length < o.maxTokens) {
    const id = o.sampler.sample(logits, mask);
    if (id === o.eos) { stoppedBy = "eos"; break; }
    out.push(id);
    seq[len++] = id;
    o.onToken?.(id);
    if (out.length === o.maxTokens) break;
    if (len === model.maxSeq) { stoppedBy = "context"; break; }
    t0 = performance.now();
    logits = o.cache ? model.decodeStep(id, len - 1) : model.prefill(seq.subarray(0, len));
    decodeMs += performance.now() - t0;
  }
  return { tokens: out, promptTokens: prompt.length, prefillMs, decodeMs, stoppedBy };
}

function allowedMask(ids: Int32Array, vocab: number): Uint8Array {
  const m = new Uint8Array(vocab);
  for (const id of ids) if (id >= 0 && id < vocab) m[id] = 1;
  return m;
}
