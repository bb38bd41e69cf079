/**
 * The transformer's device kernels (docs/training.md): eight MIL programs, compiled once per
 * run and shared by every layer. Each takes ONE packed input [1, C, 1, W]: activations and
 * weights side by side along the spatial axis (the dynamic-weight pattern of
 * reference/ane-maderix.md §3.5), so a weight update is a surface copy, never a recompile.
 *
 * Conventions: S = sequence length, D = dim, Q = heads·hd, KV = kv_heads·hd, F = hidden.
 * A weight block stored with the matmul's reduction axis on channels is used as
 * matmul(x = block, transpose_x = true, y = activations), so activations are never transposed.
 */
import type { Value } from "../mil/index.ts";
import { dims, type ModelConfig } from "../model/config.ts";
import { ALIGN, PackedKernelBuilder, leftToRight, type KernelOptions, type PackedKernel, type Segment } from "./packed.ts";

export type { KernelDType, KernelOptions, KernelOutput, Segment } from "./packed.ts";

export const KERNEL_NAMES = [
  "attn_fwd", "wo_fwd", "ffn_fwd", "ffn_bwd_w2t", "ffn_bwd_w13t", "wo_bwd", "attn_bwd", "qkv_bwd",
] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];
export type Kernel = PackedKernel<KernelName>;
type KernelBuilder = PackedKernelBuilder<KernelName>;

// ---------------------------------------------------------------- constants: RoPE and mask

/** Within-head channel i belongs to rotary pair k(i); its partner is p(i); R·x puts -x[partner]
 *  at the pair's first channel and +x[partner] at its second. */
function ropeTables(c: ModelConfig, S: number) {
  const hd = c.head_dim, half = hd / 2, rope = c.rope!;
  const pair = (i: number) => (rope.style === "interleaved" ? Math.floor(i / 2) : i % half);
  const isFirst = (i: number) => (rope.style === "interleaved" ? i % 2 === 0 : i < half);
  const partner = (i: number) => (rope.style === "interleaved" ? i ^ 1 : (i + half) % hd);
  const cos = new Float32Array(hd * S), sin = new Float32Array(hd * S), R = new Float32Array(hd * hd);
  for (let i = 0; i < hd; i++) {
    const freq = Math.pow(rope.theta, (-2 * pair(i)) / hd);
    for (let s = 0; s < S; s++) { cos[i * S + s] = Math.cos(s * freq); sin[i * S + s] = Math.sin(s * freq); }
    R[i * hd + partner(i)] = isFirst(i) ? -1 : 1;
  }
  const RT = new Float32Array(hd * hd);
  for (let i = 0; i < hd; i++) for (let j = 0; j < hd; j++) RT[j * hd + i] = R[i * hd + j];
  return { cos, sin, R, RT };
}

/** x·cos + (R·x)·sin on heads [1, heads, hd, S]; with RT and inverse, the backward dy·cos + Rᵀ(dy·sin). */
function applyRope(k: KernelBuilder, x: Value, t: { cos: Value; sin: Value; R: Value; RT: Value }, inverse: boolean): Value {
  const b = k.b;
  if (!inverse) return b.add(b.mul(x, t.cos), b.mul(b.matmul(t.R, x), t.sin));
  return b.add(b.mul(x, t.cos), b.matmul(t.RT, b.mul(x, t.sin)));
}

function ropeConsts(k: KernelBuilder, c: ModelConfig) {
  const S = k.o.seq, hd = c.head_dim, dt = k.o.dtype, tb = ropeTables(c, S);
  return {
    cos: k.b.weight("rope_cos", dt, [1, 1, hd, S], tb.cos),
    sin: k.b.weight("rope_sin", dt, [1, 1, hd, S], tb.sin),
    R: k.b.weight("rope_r", dt, [1, 1, hd, hd], tb.R),
    RT: k.b.weight("rope_rt", dt, [1, 1, hd, hd], tb.RT),
  };
}

/** softmax(q·kᵀ/√hd + mask) for q [1,H,hd,S] and k [1,KVH,hd,S], grouped: returns P [1,KVH,G·S,S]
 *  and q viewed as [1,KVH,G·S,hd] (query head h = kv·G + g uses kv head h / G). */
function attentionProbs(k: KernelBuilder, c: ModelConfig, q: Value, kk: Value) {
  const b = k.b, S = k.o.seq, { H, KVH, G, hd } = dims(c);
  const qt = b.reshape(b.transpose(q, [0, 1, 3, 2]), [1, KVH, G * S, hd]);
  const scores = b.mul(b.matmul(qt, kk), k.scalar(1 / Math.sqrt(hd)));      // [1,KVH,G·S,S]
  const p = b.softmax(b.add(b.reshape(scores, [1, H, S, S]), k.mask()), -1);  // [1,H,S,S]
  return { P: b.reshape(p, [1, KVH, G * S, S]), qt };
}

/** Per-head RMSNorm of x [1, heads, hd, S] with weight w [1, 1, hd, 1]. */
function headNorm(k: KernelBuilder, x: Value, w: Value, hd: number, eps: number): Value {
  const b = k.b;
  const ms = b.mul(b.reduceSum(b.mul(x, x), [2], true), k.scalar(1 / hd));
  return b.mul(b.mul(x, b.pow(b.add(ms, k.scalar(eps)), k.scalar(-0.5))), w);
}

// ---------------------------------------------------------------- forward kernels

export function attnFwd(c: ModelConfig, o: KernelOptions): Kernel {
  const { D, Q, KV, H, KVH, G, hd } = dims(c), S = o.seq;
  const parts: Array<[string, number]> = [["xn", S], ["wq_t", Q], ["wk_t", KV], ["wv_t", KV]];
  if (c.qk_norm) {
    if (hd > D) throw new Error(`attn_fwd: head_dim ${hd} > dim ${D}: q/k norm weights do not fit the packed input`);
    parts.push(["qk_norm", ALIGN]);   // two columns used (q_norm, k_norm), padded to keep rows aligned
  }
  const k = new PackedKernelBuilder("attn_fwd", o, D, leftToRight(D, parts)), b = k.b;
  const xn = k.block("xn");
  const q = k.tmm(k.block("wq_t"), xn), kk = k.tmm(k.block("wk_t"), xn), v = k.tmm(k.block("wv_t"), xn);
  let q4 = b.reshape(q, [1, H, hd, S]), k4 = b.reshape(kk, [1, KVH, hd, S]);
  if (c.qk_norm) {
    q4 = headNorm(k, q4, k.column("qk_norm", 0, hd), hd, c.norm_eps);
    k4 = headNorm(k, k4, k.column("qk_norm", 1, hd), hd, c.norm_eps);
  }
  const t = ropeConsts(k, c);
  const qr = applyRope(k, q4, t, false), kr = applyRope(k, k4, t, false);
  const { P } = attentionProbs(k, c, qr, kr);
  const v4 = b.reshape(v, [1, KVH, hd, S]);
  // attn [1,H,hd,S]: with one query head per kv head, v·Pᵀ lands in that layout directly;
  // grouped, P·vᵀ [1,KVH,G·S,hd] is regrouped per query head and transposed
  const attn = G === 1 ? b.matmul(v4, P, { transposeY: true })
    : b.transpose(b.reshape(b.matmul(P, v4, { transposeY: true }), [1, H, S, hd]), [0, 1, 3, 2]);
  k.out("attn", attn, Q);
  k.out("q_rope", qr, Q);
  k.out("k_rope", kr, KV);
  k.out("v", v, KV);
  if (c.qk_norm) { k.out("q_raw", q, Q); k.out("k_raw", kk, KV); }
  return k.done();
}

export function woFwd(c: ModelConfig, o: KernelOptions): Kernel {
  const { D, Q } = dims(c);
  const k = new PackedKernelBuilder("wo_fwd", o, Q, leftToRight(Q, [["attn", o.seq], ["wo_t", D]]));
  k.out("o", k.tmm(k.block("wo_t"), k.block("attn")), D);
  return k.done();
}

export function ffnFwd(c: ModelConfig, o: KernelOptions): Kernel {
  const { D, F } = dims(c), S = o.seq;
  const k = new PackedKernelBuilder("ffn_fwd", o, D, leftToRight(D, [["xn2", S], ["x2", S], ["w1_t", F], ["w3_t", F], ["w2", F]])), b = k.b;
  const xn2 = k.block("xn2");
  const h1 = k.tmm(k.block("w1_t"), xn2), h3 = k.tmm(k.block("w3_t"), xn2);    // [1,1,F,S]
  const g = b.mul(b.mul(h1, b.sigmoid(h1)), h3);
  const f = b.matmul(k.block("w2"), g);                                           // [1,1,D,S]
  const xNext = b.add(k.block("x2"), f);
  k.out("x_next", o.actClip ? b.clip(xNext, -o.actClip, o.actClip) : xNext, D);
  k.out("h1", h1, F);
  k.out("h3", h3, F);
  k.out("g", g, F);
  return k.done();
}

// ---------------------------------------------------------------- backward kernels

export function ffnBwdW2t(c: ModelConfig, o: KernelOptions): Kernel {
  const { D, F } = dims(c);
  const k = new PackedKernelBuilder("ffn_bwd_w2t", o, D, leftToRight(D, [["dy", o.seq], ["w2", F]]));
  k.out("dg", k.tmm(k.block("w2"), k.block("dy")), F);
  return k.done();
}

export function ffnBwdW13t(c: ModelConfig, o: KernelOptions): Kernel {
  const { D, F } = dims(c), S = o.seq;
  // dh1 over dh3 and W1 over W3 on the channels: dxn2 = W1ᵀ dh1 + W3ᵀ dh3 is one matmul over 2F
  const segments: Segment[] = [...leftToRight(F, [["dh1", S], ["w1", D]]), ...leftToRight(F, [["dh3", S], ["w3", D]]).map((s) => ({ ...s, channel: F }))];
  const k = new PackedKernelBuilder("ffn_bwd_w13t", o, 2 * F, segments);
  k.out("dxn2", k.tmm(k.blocks("w1", "w3"), k.blocks("dh1", "dh3")), D);
  return k.done();
}

export function woBwd(c: ModelConfig, o: KernelOptions): Kernel {
  const { D, Q } = dims(c);
  const k = new PackedKernelBuilder("wo_bwd", o, D, leftToRight(D, [["dx2", o.seq], ["wo", Q]]));
  k.out("dattn", k.tmm(k.block("wo"), k.block("dx2")), Q);
  return k.done();
}

export function attnBwd(c: ModelConfig, o: KernelOptions): Kernel {
  const { Q, KV, H, KVH, G, hd } = dims(c), S = o.seq;
  const segments: Segment[] = [
    { name: "q_rope", channel: 0, channels: Q, offset: 0, width: S },
    { name: "k_rope", channel: Q, channels: KV, offset: 0, width: S },
    { name: "v", channel: Q + KV, channels: KV, offset: 0, width: S },
    { name: "dattn", channel: Q + 2 * KV, channels: Q, offset: 0, width: S },
  ];
  const k = new PackedKernelBuilder("attn_bwd", o, 2 * Q + 2 * KV, segments), b = k.b;
  const view = (name: string, heads: number) => b.reshape(k.block(name), [1, heads, hd, S]);
  const qr = view("q_rope", H), kr = view("k_rope", KVH), v4 = view("v", KVH), dO = view("dattn", H);
  const { P, qt } = attentionProbs(k, c, qr, kr);                                 // P [1,KVH,G·S,S]
  const dOt = b.reshape(b.transpose(dO, [0, 1, 3, 2]), [1, KVH, G * S, hd]);
  // Gradients come out channel-major ([1,heads,hd,S], as the outputs and RoPE want them) by
  // computing their transposes: dvᵀ = dOᵀ·P, dkᵀ = qᵀ·dS, dqᵀ = k·dSᵀ (each element the same
  // sum, in the same order, as the row-major product)
  const dv = b.matmul(dOt, P, { transposeX: true });                             // [1,KVH,hd,S]
  const dP = b.matmul(dOt, v4);                                                  // [1,KVH,G·S,S]
  const rowDot = b.reduceSum(b.mul(P, dP), [3], true);                           // [1,KVH,G·S,1]
  const dS = b.mul(b.mul(P, b.sub(dP, rowDot)), k.scalar(1 / Math.sqrt(hd)));
  const dkRot = b.matmul(qt, dS, { transposeX: true });                          // [1,KVH,hd,S]
  const dqRot = G === 1 ? b.matmul(kr, dS, { transposeY: true })                 // [1,H,hd,S]
    : b.transpose(b.reshape(b.matmul(dS, kr, { transposeY: true }), [1, H, S, hd]), [0, 1, 3, 2]);
  const t = ropeConsts(k, c);
  k.out("dq", applyRope(k, dqRot, t, true), Q);
  k.out("dk", applyRope(k, dkRot, t, true), KV);
  k.out("dv", dv, KV);
  return k.done();
}

export function qkvBwd(c: ModelConfig, o: KernelOptions): Kernel {
  const { D, Q, KV } = dims(c), S = o.seq;
  const rows: Array<[string, number, number]> = [["q", 0, Q], ["k", Q, KV], ["v", Q + KV, KV]];
  const segments: Segment[] = [];
  for (const [n, ch, nc] of rows) {
    segments.push({ name: `d${n}`, channel: ch, channels: nc, offset: 0, width: S });
    segments.push({ name: `w${n}`, channel: ch, channels: nc, offset: S, width: D });
  }
  const k = new PackedKernelBuilder("qkv_bwd", o, Q + 2 * KV, segments);
  // dxn = Wqᵀ dq + Wkᵀ dk + Wvᵀ dv as one matmul over the stacked Q + 2 KV channels
  k.out("dxn", k.tmm(k.blocks("wq", "wk", "wv"), k.blocks("dq", "dk", "dv")), D);
  return k.done();
}

const BUILDERS: Record<KernelName, (c: ModelConfig, o: KernelOptions) => Kernel> = {
  attn_fwd: attnFwd, wo_fwd: woFwd, ffn_fwd: ffnFwd, ffn_bwd_w2t: ffnBwdW2t,
  ffn_bwd_w13t: ffnBwdW13t, wo_bwd: woBwd, attn_bwd: attnBwd, qkv_bwd: qkvBwd,
};

export function buildKernel(name: KernelName, c: ModelConfig, o: KernelOptions): Kernel {
  if (c.family === "gpt") throw new Error(`kernel ${name}: the gpt family has its own kernels`);
  return BUILDERS[name](c, o);
}

export function buildTransformerKernels(c: ModelConfig, o: KernelOptions): Record<KernelName, Kernel> {
  const out = {} as Record<KernelName, Kernel>;
  for (const n of KERNEL_NAMES) out[n] = buildKernel(n, c, o);
  return out;
}
