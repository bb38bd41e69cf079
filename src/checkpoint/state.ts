/**
 * Training checkpoints: safetensors with the fp32 weights (Hugging Face names), the AdamW
 * moments ("optimizer.m.<name>", "optimizer.v.<name>") and metadata (format, model config,
 * step, RNG state, loss-scale state, best validation loss, tokenizer, vocabulary compaction).
 * Everything needed to continue bit-identically.
 */
import { readSafetensors, writeSafetensors, type TensorEntry } from "./safetensors.ts";
import { parseModelConfig, type ModelConfig } from "../model/config.ts";
import { paramLayout, type ParamLayout } from "../model/params.ts";
import type { LossScaleState } from "../train/loss-scale.ts";

export const CHECKPOINT_FORMAT = "rustane.checkpoint/1";

export interface TrainState {
  step: number;               // optimizer steps done
  rng: string;                // data sampler state
  lossScale: LossScaleState;
  bestValLoss: number | null;
  tokensSeen: number;
}

export interface Checkpoint {
  config: ModelConfig;
  layout: ParamLayout;
  params: Float32Array;
  m: Float32Array | null;
  v: Float32Array | null;
  state: TrainState | null;
  tokenizer: Record<string, unknown> | null;
  vocabIds: Int32Array | null;
  extra: Record<string, string>;
}

function entries(layout: ParamLayout, arena: Float32Array, prefix: string): TensorEntry[] {
  return layout.tensors.map((t) => ({ name: prefix + t.name, shape: t.shape, data: arena.subarray(t.offset, t.offset + t.size) }));
}

export function saveCheckpoint(path: string, c: Checkpoint): void {
  const tensors = entries(c.layout, c.params, "");
  if (c.m && c.v) tensors.push(...entries(c.layout, c.m, "optimizer.m."), ...entries(c.layout, c.v, "optimizer.v."));
  const meta: Record<string, string> = {
    ...c.extra,
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(c.config),
  };
  if (c.state) meta.train_state = JSON.stringify(c.state);
  if (c.tokenizer) meta.tokenizer = JSON.stringify(c.tokenizer);
  if (c.vocabIds) meta.vocab_ids = Buffer.from(c.vocabIds.buffer, c.vocabIds.byteOffset, c.vocabIds.byteLength).toString("base64");
  writeSafetensors(path, tensors, meta);
}

export function loadCheckpoint(path: string): Checkpoint {
  const f = readSafetensors(path);
  const md = f.metadata;
  if (md.format !== CHECKPOINT_FORMAT)
    throw new Error(`${path} is not a rustane checkpoint (metadata format is ${md.format ?? "missing"}, expected ${CHECKPOINT_FORMAT})`);
  const parse = (key: string) => {
    try { return JSON.parse(md[key]); } catch { throw new Error(`${path}: metadata '${key}' is not valid JSON`); }
  };
  const config = parseModelConfig(parse("config"), `stored in ${path}`);
  const layout = paramLayout(config);
  const fill = (prefix: string, required: boolean): Float32Array | null => {
    const arena = new Float32Array(layout.total);
    for (const t of layout.tensors) {
      const e = f.tensors.get(prefix + t.name);
      if (!e) { if (required) throw new Error(`${path}: tensor ${prefix + t.name} is missing`); return null; }
      if (e.data.length !== t.size || e.shape.join(",") !== t.shape.join(","))
        throw new Error(`${path}: tensor ${prefix + t.name} has shape [${e.shape}] but the config needs [${t.shape}]`);
      arena.set(e.data, t.offset);
    }
    return arena;
  };
  const params = fill("", true)!;
  const m = fill("optimizer.m.", false), v = fill("optimizer.v.", false);
  let vocabIds: Int32Array | null = null;
  if (md.vocab_ids) {
    const b = Buffer.from(md.vocab_ids, "base64");
    if (b.length % 4) throw new Error(`${path}: metadata vocab_ids is corrupted`);
    vocabIds = new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  }
  const extra: Record<string, string> = {};
  for (const [k, val] of Object.entries(md)) if (!["format", "config", "train_state", "tokenizer", "vocab_ids"].includes(k)) extra[k] = val;
  return { config, layout, params, m, v, state: md.train_state ? parse("train_state") : null,
           tokenizer: md.tokenizer ? parse("tokenizer") : null, vocabIds, extra };
}
