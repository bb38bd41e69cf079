/**
 * The Llama / Qwen3 families behind GenerativeModel: libane's decoder (ane.h "decoding"), a
 * forward with a KV cache on the host's cores over fp16 (default) or fp32 matrices. Prefill and
 * decode are the same C routine, so a prompt run at once and run token by token give
 * bit-identical logits.
 */
import { Decoder } from "../ffi/decode-ops.ts";
import { layerPrefix, view } from "../model/params.ts";
import type { GenerativeModel, ModelWeights, OpenOptions } from "./model.ts";
import { decoderModel } from "./decoder-model.ts";
import { KernelPrefill } from "./kernel-prefill.ts";

export function openLlamaModel(w: ModelWeights, o: OpenOptions): GenerativeModel {
  const c = w.config;
  if (c.family !== "llama" && c.family !== "qwen3") throw new Error(`openLlamaModel: family ${c.family} is not llama or qwen3`);
  if (!c.rope) throw new Error(`model ${c.name}: llama and qwen3 models need rotary embeddings`);
  const maxSeq = o.maxSeq ?? c.max_seq_len;
  if (!(maxSeq >= 1 && maxSeq <= c.max_seq_len)) throw new RangeError(`cache length ${maxSeq} must be in [1, ${c.max_seq_len}] (the model's max_seq_len)`);
  const t = (name: string) => view(w.layout, w.params, name);
  const embedding = t("model.embed_tokens.weight");
  const decoder = new Decoder(
    { arch: "llama", weights: o.weights ?? "fp16", dim: c.dim, hiddenDim: c.hidden_dim, nLayers: c.n_layers, nHeads: c.n_heads, nKvHeads: c.n_kv_heads, headDim: c.head_dim,
      vocabSize: c.vocab_size, maxSeq, ropeStyle: c.rope.style, ropeTheta: c.rope.theta, qkNorm: c.qk_norm, normEps: c.norm_eps },
    {
      arch: "llama",
      embedding,
      layers: Array.from({ length: c.n_layers }, (_, l) => {
        const p = layerPrefix(l);
        return {
          attnNorm: t(p + "input_layernorm.weight"), wq: t(p + "self_attn.q_proj.weight"), wk: t(p + "self_attn.k_proj.weight"),
          wv: t(p + "self_attn.v_proj.weight"), qNorm: c.qk_norm ? t(p + "self_attn.q_norm.weight") : null,
          kNorm: c.qk_norm ? t(p + "self_attn.k_norm.weight") : null, wo: t(p + "self_attn.o_proj.weight"),
          ffnNorm: t(p + "post_attention_layernorm.weight"), wGate: t(p + "mlp.gate_proj.weight"), wUp: t(p + "mlp.up_proj.weight"),
          wDown: t(p + "mlp.down_proj.weight"),
        };
      }),
      finalNorm: t("model.norm.weight"),
      classifier: c.tied_embeddings ? embedding : t("lm_head.weight"),
    });
  const prefiller = o.prefill ? new KernelPrefill(o.prefill.backend, w, o.prefill) : undefined;
  return decoderModel(c, maxSeq, decoder, prefiller);
}
