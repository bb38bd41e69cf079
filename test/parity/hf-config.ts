// A Hugging Face config.json for a rustane model config (llama -> LlamaForCausalLM, qwen3 ->
// Qwen3ForCausalLM), so a directory holding it and a rustane safetensors file of the weights is a
// model transformers' from_pretrained loads. rope_theta is written both the transformers 4.x way
// (top-level) and the 5.x way (rope_parameters).
import type { ModelConfig } from "../../src/model/config.ts";

export function hfConfig(c: ModelConfig): Record<string, unknown> {
  if (c.family !== "llama" && c.family !== "qwen3") throw new Error(`hfConfig: no Hugging Face architecture for family ${c.family}`);
  const theta = c.rope!.theta;
  return {
    architectures: [c.family === "llama" ? "LlamaForCausalLM" : "Qwen3ForCausalLM"],
    model_type: c.family,
    hidden_size: c.dim,
    intermediate_size: c.hidden_dim,
    num_hidden_layers: c.n_layers,
    num_attention_heads: c.n_heads,
    num_key_value_heads: c.n_kv_heads,
    head_dim: c.head_dim,
    vocab_size: c.vocab_size,
    max_position_embeddings: c.max_seq_len,
    rms_norm_eps: c.norm_eps,
    hidden_act: "silu",
    rope_theta: theta,
    rope_parameters: { rope_type: "default", rope_theta: theta },
    tie_word_embeddings: c.tied_embeddings,
    attention_bias: false,
    attention_dropout: 0,
    mlp_bias: false,
    torch_dtype: "float32",
  };
}
