/**
 * The GPT family (nanoGPT: LayerNorm with bias, learned positions, fused c_attn, GELU-tanh,
 * biases everywhere, tied or untied classifier) behind GenerativeModel: libane's decoder with
 * its GPT architecture, a KV cache on the host's cores over fp16 (default) or fp32 matrices.
 */
import { Decoder } from "../ffi/decode-ops.ts";
import { view } from "../model/params.ts";
import { gptBlockPrefix, gptClassifierName, GPT_WPE, GPT_WTE } from "../model/gpt.ts";
import type { GenerativeModel, ModelWeights, OpenOptions } from "./model.ts";
import { decoderModel } from "./decoder-model.ts";

export function openGptModel(w: ModelWeights, o: OpenOptions): GenerativeModel {
  const c = w.config;
  if (c.family !== "gpt") throw new Error(`openGptModel: model ${c.name} is family ${c.family}, not gpt`);
  const maxSeq = o.maxSeq ?? c.max_seq_len;
  if (!(maxSeq >= 1 && maxSeq <= c.max_seq_len)) throw new RangeError(`cache length ${maxSeq} must be in [1, ${c.max_seq_len}] (the model's max_seq_len)`);
  const t = (name: string) => view(w.layout, w.params, name);
  const decoder = new Decoder(
    { arch: "gpt", weights: o.weights ?? "fp16", dim: c.dim, hiddenDim: c.hidden_dim, nLayers: c.n_layers, nHeads: c.n_heads,
      nKvHeads: c.n_kv_heads, headDim: c.head_dim, vocabSize: c.vocab_size, maxSeq, ropeStyle: "interleaved", ropeTheta: 0,
      qkNorm: false, normEps: c.norm_eps },
    {
      arch: "gpt",
      wte: t(GPT_WTE),
      wpe: t(GPT_WPE),
      layers: Array.from({ length: c.n_layers }, (_, l) => {
        const p = gptBlockPrefix(l);
        return {
          ln1W: t(p + "ln_1.weight"), ln1B: t(p + "ln_1.bias"), cAttnW: t(p + "attn.c_attn.weight"), cAttnB: t(p + "attn.c_attn.bias"),
          attnProjW: t(p + "attn.c_proj.weight"), attnProjB: t(p + "attn.c_proj.bias"), ln2W: t(p + "ln_2.weight"), ln2B: t(p + "ln_2.bias"),
          fcW: t(p + "mlp.c_fc.weight"), fcB: t(p + "mlp.c_fc.bias"), mlpProjW: t(p + "mlp.c_proj.weight"), mlpProjB: t(p + "mlp.c_proj.bias"),
        };
      }),
      lnfW: t("transformer.ln_f.weight"), lnfB: t("transformer.ln_f.bias"),
      classifier: t(gptClassifierName(c)),
    });
  return decoderModel(c, maxSeq, decoder);
}
