/**
 * llama2.c checkpoints (`stories15M.bin` ...), the legacy version-0 format of export.py:
 *   header: 7 little-endian int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 *           seq_len (a negative vocab_size means a separate classifier follows the weights)
 *   fp32:   token_embedding [V, D], rms_att [L, D], wq [L, D, D], wk [L, KV, D], wv [L, KV, D],
 *           wo [L, D, D], rms_ffn [L, D], w1 [L, H, D], w2 [L, D, H], w3 [L, H, D], rms_final [D],
 *           freq_cis_real [seq, hd/2], freq_cis_imag [seq, hd/2] (skipped: we compute RoPE),
 *           wcls [V, D] (only when not shared)
 * with KV = n_kv_heads * head_dim, head_dim = dim / n_heads, H = hidden_dim. Every matrix is
 * [out, in] row-major like ours, and wq/wk rows are already in interleaved-RoPE order (llama2.c
 * rotates pairs (2i, 2i+1)), so the import is plain copies into the parameter arena.
 */
import { readFileSync, statSync, existsSync } from "node:fs";
import { basename } from "node:path";
import { parseModelConfig, type ModelConfig } from "./config.ts";
import { paramLayout, layerPrefix, view, type ParamLayout } from "./params.ts";
import type { Checkpoint } from "../checkpoint/state.ts";

export interface Llama2cModel {
  config: ModelConfig;
  layout: ParamLayout;
  params: Float32Array;
}

const HEADER_BYTES = 28;
const MAGIC_V1 = 0x616b3432;   // "ak42": export.py's version 1/2 formats

/** The model config a llama2.c header describes (validated). */
export function llama2cConfig(header: Int32Array, name: string): ModelConfig {
  const [dim, hidden, layers, heads, kvHeads, vocab, seq] = header;
  const where = `llama2.c header of ${name}`;
  const fields = { dim, hidden_dim: hidden, n_layers: layers, n_heads: heads, n_kv_heads: kvHeads, vocab_size: Math.abs(vocab), seq_len: seq };
  for (const [k, val] of Object.entries(fields))
    if (!(val > 0)) throw new Error(`${where}: ${k} is ${val}, must be > 0 (is this a llama2.c .bin checkpoint?)`);
  if (dim % heads) throw new Error(`${where}: dim ${dim} is not a multiple of n_heads ${heads}`);
  const slug = basename(name).toLowerCase().replace(/\.bin$/, "").replace(/[^a-z0-9._-]/g, "-").replace(/^[^a-z0-9]+/, "");
  return parseModelConfig({
    name: slug || "llama2c", description: `llama2.c checkpoint ${basename(name)}`, family: "llama",
    dim, n_layers: layers, n_heads: heads, n_kv_heads: kvHeads, head_dim: dim / heads, hidden_dim: hidden,
    vocab_size: Math.abs(vocab), max_seq_len: seq, norm_eps: 1e-5, rope: { theta: 10000, style: "interleaved" },
    qk_norm: false, tied_embeddings: vocab > 0, tokenizer: "llama2c",
  }, where);
}

/** Floats of weight data a header implies, in file order, with where each block goes. */
function blocks(c: ModelConfig): Array<{ name: string | null; per: number; layered: boolean }> {
  const D = c.dim, hd = c.head_dim, KV = c.n_kv_heads * hd, F = c.hidden_dim, V = c.vocab_size;
  const b: Array<{ name: string | null; per: number; layered: boolean }> = [
    { name: "model.embed_tokens.weight", per: V * D, layered: false },
    { name: "input_layernorm.weight", per: D, layered: true },
    { name: "self_attn.q_proj.weight", per: D * D, layered: true },
    { name: "self_attn.k_proj.weight", per: KV * D, layered: true },
    { name: "self_attn.v_proj.weight", per: KV * D, layered: true },
    { name: "self_attn.o_proj.weight", per: D * D, layered: true },
    { name: "post_attention_layernorm.weight", per: D, layered: true },
    { name: "mlp.gate_proj.weight", per: F * D, layered: true },
    { name: "mlp.down_proj.weight", per: D * F, layered: true },
    { name: "mlp.up_proj.weight", per: F * D, layered: true },
    { name: "model.norm.weight", per: D, layered: false },
    { name: null, per: c.max_seq_len * hd, layered: false },   // freq_cis_real + freq_cis_imag
  ];
  if (!c.tied_embeddings) b.push({ name: "lm_head.weight", per: V * D, layered: false });
  return b;
}

export function readLlama2c(path: string): Llama2cModel {
  if (!existsSync(path)) throw new Error(`llama2.c checkpoint ${path} does not exist`);
  const size = statSync(path).size;
  if (size < HEADER_BYTES) throw new Error(`${path}: ${size} bytes is too short for a llama2.c checkpoint (the header alone is ${HEADER_BYTES} bytes)`);
  const raw = readFileSync(path);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (dv.getUint32(0, true) === MAGIC_V1)
    throw new Error(`${path}: this is a llama2.c version-1/2 export (magic "ak42"); only the legacy version-0 format is read: export with \`python export.py --version 0\``);
  const header = new Int32Array(7);
  for (let i = 0; i < 7; i++) header[i] = dv.getInt32(4 * i, true);
  const config = llama2cConfig(header, path);
  const layout = paramLayout(config);
  const plan = blocks(config);
  const floats = plan.reduce((a, b) => a + b.per * (b.layered ? config.n_layers : 1), 0);
  const want = HEADER_BYTES + 4 * floats;
  if (size !== want)
    throw new Error(`${path}: ${size} bytes, but a llama2.c checkpoint with this header (dim ${config.dim}, hidden ${config.hidden_dim}, ` +
      `${config.n_layers} layers, ${config.n_heads}/${config.n_kv_heads} heads, vocab ${config.vocab_size}, seq ${config.max_seq_len}, ` +
      `${config.tied_embeddings ? "shared" : "separate"} classifier) is ${want} bytes: the file is ${size < want ? "truncated" : "longer than expected"}`);
  // The weights start at byte 28, 4-aligned in the file; copy once if the buffer itself is not.
  const start = raw.byteOffset + HEADER_BYTES;
  const data = start % 4 === 0 ? new Float32Array(raw.buffer, start, floats)
    : new Float32Array(raw.buffer.slice(start, start + 4 * floats));
  const params = new Float32Array(layout.total);
  let at = 0;
  for (const b of plan) {
    const copies = b.layered ? config.n_layers : 1;
    for (let l = 0; l < copies; l++) {
      if (b.name) view(layout, params, b.layered ? layerPrefix(l) + b.name : b.name).set(data.subarray(at, at + b.per));
      at += b.per;
    }
  }
  return { config, layout, params };
}

export function isLlama2cPath(path: string): boolean {
  return path.endsWith(".bin");
}

/** A llama2.c file as a weights-only rustane Checkpoint (for `rustane train --init stories110M.bin`). */
export function loadLlama2cCheckpoint(path: string): Checkpoint {
  const m = readLlama2c(path);
  return { config: m.config, layout: m.layout, params: m.params, m: null, v: null, state: null, tokenizer: null, vocabIds: null,
    extra: { source: `llama2.c ${basename(path)}` } };
}
