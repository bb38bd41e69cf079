/**
 * The GPT family's parameters (nanoGPT naming, every matrix [out, in] row-major as nn.Linear
 * stores it): token and learned position embeddings, per block ln_1, fused q/k/v projection
 * c_attn [3D, D] (rows q, then k, then v), attention output c_proj, ln_2, MLP c_fc and c_proj,
 * all with biases; final ln_f; the classifier is tied to the token embedding (as nanoGPT) unless
 * tied_embeddings is false (then lm_head.weight).
 *
 * As in params.ts, tensors with weight decay (matrices and embeddings) come first, then the
 * ones without (LayerNorm weights and every bias), so each AdamW group is one contiguous range.
 */
import { dims, type ModelConfig } from "./config.ts";
import type { ParamLayout, TensorSpec } from "./params.ts";

export function gptBlockPrefix(l: number): string { return `transformer.h.${l}.`; }

export const GPT_WTE = "transformer.wte.weight";
export const GPT_WPE = "transformer.wpe.weight";

export function gptParamLayout(c: ModelConfig): ParamLayout {
  if (c.family !== "gpt") throw new Error(`gptParamLayout: model ${c.name} is family ${c.family}, not gpt`);
  const { D, F, V } = dims(c);
  type Entry = [string, number[], TensorSpec["init"]];
  const decayed: Entry[] = [[GPT_WTE, [V, D], "normal"], [GPT_WPE, [c.max_seq_len, D], "normal"]];
  const rest: Entry[] = [];
  for (let l = 0; l < c.n_layers; l++) {
    const p = gptBlockPrefix(l);
    decayed.push([p + "attn.c_attn.weight", [3 * D, D], "normal"], [p + "attn.c_proj.weight", [D, D], "normal"],
      [p + "mlp.c_fc.weight", [F, D], "normal"], [p + "mlp.c_proj.weight", [D, F], "normal"]);
    rest.push([p + "ln_1.weight", [D], "ones"], [p + "ln_1.bias", [D], "zeros"],
      [p + "attn.c_attn.bias", [3 * D], "zeros"], [p + "attn.c_proj.bias", [D], "zeros"],
      [p + "ln_2.weight", [D], "ones"], [p + "ln_2.bias", [D], "zeros"],
      [p + "mlp.c_fc.bias", [F], "zeros"], [p + "mlp.c_proj.bias", [D], "zeros"]);
  }
  if (!c.tied_embeddings) decayed.push(["lm_head.weight", [V, D], "normal"]);
  rest.push(["transformer.ln_f.weight", [D], "ones"], ["transformer.ln_f.bias", [D], "zeros"]);
  const tensors: TensorSpec[] = [];
  let offset = 0;
  for (const [list, decay] of [[decayed, true], [rest, false]] as const)
    for (const [name, shape, init] of list) {
      const size = shape.reduce((a, b) => a * b, 1);
      tensors.push({ name, shape, offset, size, decay, init });
      offset += size;
    }
  const decayEnd = tensors.filter((t) => t.decay).reduce((a, t) => a + t.size, 0);
  return { tensors, byName: new Map(tensors.map((t) => [t.name, t])), total: offset, decayEnd };
}

/** The classifier's table: the token embedding when tied, else lm_head. */
export function gptClassifierName(c: ModelConfig): string { return c.tied_embeddings ? GPT_WTE : "lm_head.weight"; }
