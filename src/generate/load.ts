/**
 * Checkpoints for generation: rustane's own (safetensors, written by `rustane train`) or a
 * llama2.c `.bin` (legacy version-0 export). Both become a config and a parameter arena with
 * Hugging Face names.
 */
import { existsSync } from "node:fs";
import { loadCheckpoint } from "../checkpoint/state.ts";
import { readLlama2c, isLlama2cPath } from "../model/llama2c.ts";
import type { ModelWeights } from "./model.ts";

export interface LoadedModel extends ModelWeights {
  /** The tokenizer description stored with the checkpoint (rustane checkpoints), if any. */
  tokenizer: Record<string, unknown> | null;
  /** The compacted vocabulary the model was trained on, if any. */
  vocabIds: Int32Array | null;
  format: "rustane" | "llama2c";
}

export function loadModelForGeneration(path: string): LoadedModel {
  if (!existsSync(path)) throw new Error(`checkpoint ${path} does not exist`);
  if (isLlama2cPath(path)) {
    const m = readLlama2c(path);
    return { ...m, tokenizer: null, vocabIds: null, format: "llama2c" };
  }
  const c = loadCheckpoint(path);
  return { config: c.config, layout: c.layout, params: c.params, tokenizer: c.tokenizer, vocabIds: c.vocabIds, format: "rustane" };
}
