/**
 * The parameters of a model as one flat fp32 arena with a named view per tensor (Hugging Face
 * names, [out, in] row-major), so the optimizer, gradient norm and checkpoints each work on
 * whole arrays in one C call. Tensors with weight decay come first, then the ones without
 * (norm weights), so each AdamW group is one contiguous range.
 */
import { dims, type ModelConfig } from "./config.ts";
import { gptParamLayout } from "./gpt.ts";

export interface TensorSpec { name: string; shape: number[]; offset: number; size: number; decay: boolean; init: "normal" | "ones" | "zeros" }

export interface ParamLayout {
  tensors: TensorSpec[];
  byName: Map<string, TensorSpec>;
  total: number;
  /** [0, decayEnd) decays; [decayEnd, total) does not. */
  decayEnd: number;
}

export function layerPrefix(l: number): string { return `model.layers.${l}.`; }

export function paramLayout(c: ModelConfig): ParamLayout {
  if (c.family === "gpt") return gptParamLayout(c);      // src/model/gpt.ts: nanoGPT names, biases
  const { D, Q, KV, F, V, hd } = dims(c);
  const matrices: Array<[string, number[]]> = [["model.embed_tokens.weight", [V, D]]];
  const norms: Array<[string, number[]]> = [];
  for (let l = 0; l < c.n_layers; l++) {
    const p = layerPrefix(l);
    matrices.push([p + "self_attn.q_proj.weight", [Q, D]], [p + "self_attn.k_proj.weight", [KV, D]],
      [p + "self_attn.v_proj.weight", [KV, D]], [p + "self_attn.o_proj.weight", [D, Q]],
      [p + "mlp.gate_proj.weight", [F, D]], [p + "mlp.up_proj.weight", [F, D]], [p + "mlp.down_proj.weight", [D, F]]);
    norms.push([p + "input_layernorm.weight", [D]], [p + "post_attention_layernorm.weight", [D]]);
    if (c.qk_norm) norms.push([p + "self_attn.q_norm.weight", [hd]], [p + "self_attn.k_norm.weight", [hd]]);
  }
  if (!c.tied_embeddings) matrices.push(["lm_head.weight", [V, D]]);
  norms.push(["model.norm.weight", [D]]);
  const tensors: TensorSpec[] = [];
  let offset = 0;
  for (const [list, decay] of [[matrices, true], [norms, false]] as const)
    for (const [name, shape] of list) {
      const size = shape.reduce((a, b) => a * b, 1);
      tensors.push({ name, shape, offset, size, decay, init: decay ? "normal" : "ones" });
      offset += size;
    }
  const decayEnd = tensors.filter((t) => t.decay).reduce((a, t) => a + t.size, 0);
  return { tensors, byName: new Map(tensors.map((t) => [t.name, t])), total: offset, decayEnd };
}

/** A view of one tensor inside an arena laid out by `layout`. */
export function view(layout: ParamLayout, arena: Float32Array, name: string): Float32Array {
  const t = layout.byName.get(name);
  if (!t) throw new Error(`no parameter named ${name}`);
  return arena.subarray(t.offset, t.offset + t.size);
}

export function countParams(c: ModelConfig): number { return paramLayout(c).total; }
