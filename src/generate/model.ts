/**
 * What the generator needs from a model family: run a prompt (prefill) and then one token at a
 * time (decode) against a KV cache the model keeps. A family plugs in with one entry in
 * FAMILIES: a function from loaded weights to a GenerativeModel.
 */
import type { ModelConfig } from "../model/config.ts";
import type { ParamLayout } from "../model/params.ts";
import type { WeightStorage } from "../ffi/decode-ops.ts";
import type { Backend } from "../ffi/index.ts";
import { openLlamaModel } from "./llama.ts";
import { openGptModel } from "./gpt.ts";

export interface GenerativeModel extends Disposable {
  readonly config: ModelConfig;
  /** Positions the cache holds: prompt + generated tokens must fit. */
  readonly maxSeq: number;
  /** Forget the cache, run tokens at positions 0..n-1 and return the last position's logits [vocab].
   *  The returned array is reused by the next call. */
  prefill(tokens: Int32Array): Float32Array;
  /** Run one token at position pos (the cache holds positions 0..pos-1) and return its logits [vocab]. */
  decodeStep(token: number, pos: number): Float32Array;
  /** How the decoder stores the matrices. */
  readonly weights: WeightStorage;
  /** Bytes of weights one decode step reads (for GB/s). */
  weightBytesPerToken(): number;
  close(): void;
}

/** A model's weights as the checkpoint loaders return them (Hugging Face names in a flat arena). */
export interface ModelWeights {
  config: ModelConfig;
  layout: ParamLayout;
  params: Float32Array;
}

export interface OpenOptions {
  /** Cache length; default (and at most) the model's max_seq_len. */
  maxSeq?: number;
  /** Matrix storage: fp16 (default: half the bytes per token, fp32 products and sums) or fp32
   *  (the checkpoint's values exactly). */
  weights?: WeightStorage;
  /** Run prompts on this backend's compiled forward kernels (llama/qwen3), decoding on the host;
   *  absent: the prompt runs on the host decoder too. */
  prefill?: { backend: Backend; numerics: "fp16" | "fp32"; chip?: string; minTokens?: number };
}

type Opener = (w: ModelWeights, o: OpenOptions) => GenerativeModel;

const FAMILIES: Partial<Record<ModelConfig["family"], Opener>> = {
  llama: openLlamaModel,
  qwen3: openLlamaModel,
  gpt: openGptModel,
};

export function openGenerativeModel(w: ModelWeights, o: OpenOptions = {}): GenerativeModel {
  const open = FAMILIES[w.config.family];
  if (!open) throw new Error(`generation does not support the ${w.config.family} family yet (supported: ${Object.keys(FAMILIES).join(", ")})`);
  return open(w, o);
}
