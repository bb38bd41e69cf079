/**
 * The GPT family's device kernels: eight MIL programs, compiled once per run and shared by
 * every layer, in the dynamic-weight pattern of src/kernels/transformer.ts (docs/training.md):
 * each takes ONE packed input [1, C, 1, W] holding activations, weights and biases side by side
 * along the spatial axis, so a weight update is a surface copy, never a recompile.
 *
 * Conventions: S = sequence length, D = dim = heads·hd, F = hidden. A weight block stored with
 * the matmul's reduction axis on channels is used as matmul(x = block, transpose_x = true,
 * y = activations), so activations are never transposed.
 *
 * Biases: a bias b[N] rides in a "bias" segment of the kernel's C channels, as a [C, k] block
 * (k = ceil(N / C) columns, b[c·k + j] at channel c, column j, zero padded): slicing the block
 * and reshaping it to [1, 1, C·k, 1] gives b in order, ready to broadcast over positions. The
 * segment is padded to 32 columns so the packed width stays a multiple of 32.
 *
 * LayerNorm runs on the host (ane_layernorm_fwd/bwd), as RMSNorm does for the transformer: it
 * is O(D·S), a small share of a step, and its saved statistics feed the host backward directly.
 * GELU is written in its tanh form (the `gelu` op is rejected by some ANE compilers; the chip
 * rules flag it).
 */
import type { Value } from "../mil/index.ts";
import { dims, type ModelConfig } from "../model/config.ts";
import { PackedKernelBuilder, leftToRight, type KernelOptions, type PackedKernel, type Segment } from "./packed.ts";

export const GPT_KERNEL_NAMES = [
  "attn_fwd", "wo_fwd", "ffn_fwd", "ffn_bwd_w2t", "ffn_bwd_w1t", "wo_bwd", "attn_bwd", "qkv_bwd",
] as const;
export type GptKernelName = (typeof GPT_KERNEL_NAMES)[number];
export type GptKernel = PackedKernel<GptKernelName>;
export type GptKernelOptions = KernelOptions;
type GptKernelBuilder = PackedKernelBuilder<GptKernelName>;

const GELU_K = Math.sqrt(2 / Math.PI), GELU_A = 0.044715;

/** P = softmax(qᵀk/√hd + mask) per head for q, k [1,H,hd,S]; returns P [1,H,S,S] and qt [1,H,S,hd]. */
function attentionProbs(k: GptKernelBuilder, hd: number, q: Value, kk: Value) {
  const b = k.b;
  const qt = b.transpose(q, [0, 1, 3, 2]);
  const scores = b.mul(b.matmul(qt, kk), k.scalar(1 / Math.sqrt(hd)));              // [1,H,S,S]
  return { P: b.softmax(b.add(scores, k.mask()), -1), qt };
}

function geluTanh(k: GptKernelBuilder, h: Value): Value {
  const b = k.b;
  const inner = b.mul(b.add(h, b.mul(b.mul(b.mul(h, h), h), k.scalar(GELU_A))), k.scalar(GELU_K));
  return b.mul(b.mul(h, k.scalar(0.5)), b.add(b.tanh(inner), k.scalar(1)));
}

function gptDims(c: ModelConfig) {
  if (c.family !== "gpt") throw new Error(`gpt kernels: model ${c.name} is family ${c.family}`);
  const { D, F, H, hd } = dims(c);
  return { D, F, H, hd };
}

// ---------------------------------------------------------------- forward kernels

/** D × [xn S | Wqᵀ D | Wkᵀ D | Wvᵀ D | bias]: q, k, v (with biases), causal multi-head attention. */
export function gptAttnFwd(c: ModelConfig, o: GptKernelOptions): GptKernel {
  const { D, H, hd } = gptDims(c), S = o.seq;
  const k = new PackedKernelBuilder("attn_fwd", o, D, leftToRight(D, [["xn", S], ["wq_t", D], ["wk_t", D], ["wv_t", D]]),
    [["bq", D], ["bk", D], ["bv", D]]), b = k.b;
  const xn = k.block("xn");
  const q = b.add(k.tmm(k.block("wq_t"), xn), k.bias("bq"));                        // [1,1,D,S]
  const kk = b.add(k.tmm(k.block("wk_t"), xn), k.bias("bk"));
  const v = b.add(k.tmm(k.block("wv_t"), xn), k.bias("bv"));
  const q4 = b.reshape(q, [1, H, hd, S]), k4 = b.reshape(kk, [1, H, hd, S]), v4 = b.reshape(v, [1, H, hd, S]);
  const { P } = attentionProbs(k, hd, q4, k4);
  const ot = b.matmul(P, v4, { transposeY: true });                                  // [1,H,S,hd]
  k.out("attn", b.transpose(ot, [0, 1, 3, 2]), D);
  k.out("q", q, D);
  k.out("k", kk, D);
  k.out("v", v, D);
  return k.done();
}

/** D × [attn S | x S | Woᵀ D | bias]: x2 = x + Wo·attn + bo (the residual folded in). */
export function gptWoFwd(c: ModelConfig, o: GptKernelOptions): GptKernel {
  const { D } = gptDims(c), S = o.seq;
  const k = new PackedKernelBuilder("wo_fwd", o, D, leftToRight(D, [["attn", S], ["x", S], ["wo_t", D]]), [["bo", D]]), b = k.b;
  k.out("x2", b.add(k.block("x"), b.add(k.tmm(k.block("wo_t"), k.block("attn")), k.bias("bo"))), D);
  return k.done();
}

/** D × [xn2 S | x2 S | W1ᵀ F | W2 F | bias]: h = W1·xn2 + b1, g = gelu(h), x_next = x2 + W2·g + b2. */
export function gptFfnFwd(c: ModelConfig, o: GptKernelOptions): GptKernel {
  const { D, F } = gptDims(c), S = o.seq;
  const k = new PackedKernelBuilder("ffn_fwd", o, D, leftToRight(D, [["xn2", S], ["x2", S], ["w1_t", F], ["w2", F]]), [["b1", F], ["b2", D]]), b = k.b;
  const h = b.add(k.tmm(k.block("w1_t"), k.block("xn2")), k.bias("b1"));            // [1,1,F,S]
  const g = geluTanh(k, h);
  const f = b.add(b.matmul(k.block("w2"), g), k.bias("b2"));                          // [1,1,D,S]
  const xNext = b.add(k.block("x2"), f);
  k.out("x_next", o.actClip ? b.clip(xNext, -o.actClip, o.actClip) : xNext, D);
  k.out("h", h, F);
  k.out("g", g, F);
  return k.done();
}

// ---------------------------------------------------------------- backward kernels

/** D × [dy S | W2 F]: dg = W2ᵀ·dy. */
export function gptFfnBwdW2t(c: ModelConfig, o: GptKernelOptions): GptKernel {
  const { D, F } = gptDims(c);
  const k = new PackedKernelBuilder("ffn_bwd_w2t", o, D, leftToRight(D, [["dy", o.seq], ["w2", F]]));
  k.out("dg", k.tmm(k.block("w2"), k.block("dy")), F);
  return k.done();
}

/** F × [dh S | W1 D]: dxn2 = W1ᵀ·dh. */
export function gptFfnBwdW1t(c: ModelConfig, o: GptKernelOptions): GptKernel {
  const { D, F } = gptDims(c);
  const k = new PackedKernelBuilder("ffn_bwd_w1t", o, F, leftToRight(F, [["dh", o.seq], ["w1", D]]));
  k.out("dxn2", k.tmm(k.block("w1"), k.block("dh")), D);
  return k.done();
}

/** D × [dx2 S | Wo D]: dattn = Woᵀ·dx2. */
export function gptWoBwd(c: ModelConfig, o: GptKernelOptions): GptKernel {
  const { D } = gptDims(c);
  const k = new PackedKernelBuilder("wo_bwd", o, D, leftToRight(D, [["dx2", o.seq], ["wo", D]]));
  k.out("dattn", k.tmm(k.block("wo"), k.block("dx2")), D);
  return k.done();
}

/** 4D × S [q; k; v; dattn] stacked on channels: recompute P; dV, dP, dS; dq, dk, dv. */
export function gptAttnBwd(c: ModelConfig, o: GptKernelOptions): GptKernel {
  const { D, H, hd } = gptDims(c), S = o.seq;
  const stacked: Segment[] = ["q", "k", "v", "dattn"].map((name, i) => ({ name, channel: i * D, channels: D, offset: 0, width: S }));
  const k = new PackedKernelBuilder("attn_bwd", o, 4 * D, stacked), b = k.b;
  const view = (name: string) => b.reshape(k.block(name), [1, H, hd, S]);
  const q = view("q"), kk = view("k"), v = view("v"), dO = view("dattn");
  const { P, qt } = attentionProbs(k, hd, q, kk);                                 // P [1,H,S,S]
  const dOt = b.transpose(dO, [0, 1, 3, 2]);                                          // [1,H,S,hd]
  const dV = b.matmul(P, dOt, { transposeX: true });                                  // [1,H,S,hd]
  const dP = b.matmul(dOt, v);                                                        // [1,H,S,S]
  const rowDot = b.reduceSum(b.mul(P, dP), [3], true);                                // [1,H,S,1]
  const dS = b.mul(b.mul(P, b.sub(dP, rowDot)), k.scalar(1 / Math.sqrt(hd)));
  const dQt = b.matmul(dS, kk, { transposeY: true });                                 // [1,H,S,hd]
  const dKt = b.matmul(dS, qt, { transposeX: true });                                 // [1,H,S,hd]
  k.out("dq", b.transpose(dQt, [0, 1, 3, 2]), D);
  k.out("dk", b.transpose(dKt, [0, 1, 3, 2]), D);
  k.out("dv", b.transpose(dV, [0, 1, 3, 2]), D);
  return k.done();
}

/** 3D × [dqkv S | Wqkv D]: dxn = Wqkvᵀ·dqkv (c_attn's rows q, k, v match the stacked gradients). */
export function gptQkvBwd(c: ModelConfig, o: GptKernelOptions): GptKernel {
  const { D } = gptDims(c);
  const k = new PackedKernelBuilder("qkv_bwd", o, 3 * D, leftToRight(3 * D, [["dqkv", o.seq], ["wqkv", D]]));
  k.out("dxn", k.tmm(k.block("wqkv"), k.block("dqkv")), D);
  return k.done();
}

const BUILDERS: Record<GptKernelName, (c: ModelConfig, o: GptKernelOptions) => GptKernel> = {
  attn_fwd: gptAttnFwd, wo_fwd: gptWoFwd, ffn_fwd: gptFfnFwd, ffn_bwd_w2t: gptFfnBwdW2t,
  ffn_bwd_w1t: gptFfnBwdW1t, wo_bwd: gptWoBwd, attn_bwd: gptAttnBwd, qkv_bwd: gptQkvBwd,
};

export function buildGptKernels(c: ModelConfig, o: GptKernelOptions): Record<GptKernelName, GptKernel> {
  const out = {} as Record<GptKernelName, GptKernel>;
  for (const n of GPT_KERNEL_NAMES) out[n] = BUILDERS[n](c, o);
  return out;
}
