/**
 * One Llama/Qwen3 training micro-step on a libane backend: the eight device kernels
 * (src/kernels/transformer.ts), compiled once, plus libane's host ops (docs/training.md).
 *
 * Buffers, all channel-major [C, S] fp32 on the host:
 *   per layer (kept for the backward): x, xn, inv1, attn, q_rope, k_rope, v, (q_raw, k_raw),
 *     x2, xn2, inv2, h1, h3, g; those a forward kernel computes are its outputs (KernelSet
 *     .outputs: on the cpu backend in fp32, the output surfaces themselves)
 *   per layer gradients read by queued dW matmuls (so they stay valid until the final wait):
 *     dy, dh1, dh3, dx2, dq, dk, dv
 * Surfaces: per layer, one packed input per weight-bearing kernel (weights staged once per
 * optimizer step, activations per micro-step); one shared input for attn_bwd; per layer
 * outputs for the forward kernels, one set shared by the layers for each backward kernel.
 */
import type { Backend } from "../ffi/index.ts";
import * as ops from "../ffi/train-ops.ts";
import { buildTransformerKernels, KERNEL_NAMES, type KernelName } from "../kernels/transformer.ts";
import { KernelSet, kernelDialect, type StepTimings, type WeightCopy } from "./kernel-set.ts";
import { dims, type ModelConfig } from "../model/config.ts";
import { layerPrefix, view, type ParamLayout } from "../model/params.ts";
import { zeroUnlessOverwritten } from "./grad-overwrite.ts";

export interface PipelineOptions {
  seq: number;
  numerics: "fp16" | "fp32";
  chip?: string;
  /** Vocabulary ids the classifier covers (compaction); null = the full vocabulary. */
  vocabIds: Int32Array | null;
  /** Activation clipping bound for the residual stream (0 or absent = off; kernels/packed.ts). */
  actClip?: number;
  /** Compile only the forward kernels (prefill for generation): no forwardBackward. */
  forwardOnly?: boolean;
}

/** The kernels a forward pass needs. */
export const FORWARD_KERNELS = ["attn_fwd", "wo_fwd", "ffn_fwd"] as const satisfies readonly KernelName[];

interface LayerBuffers {
  x: Float32Array; xn: Float32Array; inv1: Float32Array; attn: Float32Array; qRope: Float32Array; kRope: Float32Array;
  v: Float32Array; qRaw: Float32Array; kRaw: Float32Array; x2: Float32Array; xn2: Float32Array; inv2: Float32Array;
  h1: Float32Array; h3: Float32Array; g: Float32Array;
  dy: Float32Array; dh1: Float32Array; dh3: Float32Array; dx2: Float32Array; dq: Float32Array; dk: Float32Array; dv: Float32Array;
}

/** The kernels whose outputs the backward reads: bound with outputs of their own per layer. */
const FORWARD: ReadonlySet<KernelName> = new Set(FORWARD_KERNELS);

/** Weight-bearing kernels, whose input surface is per layer. */
const LAYER_KERNELS = KERNEL_NAMES.filter((k) => k !== "attn_bwd");

export type { StepTimings } from "./kernel-set.ts";

export class TransformerPipeline implements Disposable {
  /** The kernels and their surfaces; binding keys `${kernel}/${layer}` and "attn_bwd/shared". */
  private readonly k: KernelSet<KernelName>;
  private readonly layers: LayerBuffers[] = [];
  /** Positions per sequence the kernels were built for. */
  readonly seq: number;
  private readonly Vc: number;
  private readonly ids: Int32Array;
  // classifier and final norm buffers
  private readonly xFinal: Float32Array; private readonly xf: Float32Array; private readonly invF: Float32Array;
  private readonly logits: Float32Array; private readonly dEc: Float32Array;
  /** The classifier's rows [Vc, D]: gathered from the embedding (or lm_head) with compaction, the
   *  parameter view itself without. */
  private Ec: Float32Array;
  private readonly compacted: boolean;
  private readonly dx: Float32Array; private readonly dxf: Float32Array;
  private readonly qkInv: Float32Array; private readonly normOut: Float32Array; private readonly normGrad: Float32Array;
  private readonly forwardOnly: boolean;
  private readonly actClip: number;
  /** Gradients the weight-gradient matmuls write whole (forwardBackward's overwrite mode). */
  private readonly overwritten: ReadonlySet<string>;

  constructor(backend: Backend, private readonly cfg: ModelConfig, private readonly layout: ParamLayout,
              o: PipelineOptions) {
    const { D, Q, KV, F, V, H } = dims(cfg), S = o.seq;
    this.seq = S;
    this.ids = o.vocabIds ?? Int32Array.from({ length: V }, (_, i) => i);
    this.Vc = this.ids.length;
    this.forwardOnly = o.forwardOnly ?? false;
    this.actClip = o.actClip ?? 0;
    const all = buildTransformerKernels(cfg, { seq: S, dtype: o.numerics, dialect: kernelDialect(backend, o.chip), actClip: this.actClip });
    const names: readonly KernelName[] = this.forwardOnly ? FORWARD_KERNELS : KERNEL_NAMES;
    const specs = Object.fromEntries(names.map((n) => [n, all[n]])) as typeof all;
    this.k = new KernelSet(backend, specs, S, o);
    const f = (n: number) => new Float32Array(n);
    let x: Float32Array = f(D * S);                      // the embedding's output; then each layer's x_next
    for (let l = 0; l < cfg.n_layers; l++) {
      for (const name of LAYER_KERNELS) if (names.includes(name)) this.k.bind(name, `${name}/${l}`, FORWARD.has(name));
      const [attn, qRope, kRope, v, qRaw = f(0), kRaw = f(0)] = this.k.outputs(`attn_fwd/${l}`);
      const [x2] = this.k.outputs(`wo_fwd/${l}`), [xNext, h1, h3, g] = this.k.outputs(`ffn_fwd/${l}`);
      this.layers.push({
        x, xn: f(D * S), inv1: f(S), attn, qRope, kRope, v, qRaw, kRaw, x2, xn2: f(D * S), inv2: f(S), h1, h3, g,
        dy: f(D * S), dh1: f(F * S), dh3: f(F * S), dx2: f(D * S), dq: f(Q * S), dk: f(KV * S), dv: f(KV * S),
      });
      x = xNext;
    }
    if (!this.forwardOnly) this.k.bind("attn_bwd", "attn_bwd/shared");
    this.xFinal = x; this.xf = new Float32Array(D * S); this.invF = new Float32Array(S);
    this.compacted = o.vocabIds !== null;
    this.logits = new Float32Array(this.Vc * S); this.Ec = new Float32Array(this.compacted ? this.Vc * D : 0);
    this.dEc = new Float32Array(this.compacted && !this.forwardOnly ? this.Vc * D : 0);
    this.dx = new Float32Array(D * S); this.dxf = new Float32Array(D * S);
    this.qkInv = new Float32Array(H * S); this.normOut = new Float32Array(Q * S); this.normGrad = new Float32Array(Q * S);
    const matrices = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
    const overwritten = new Set<string>();
    for (let l = 0; l < cfg.n_layers; l++) for (const m of matrices) overwritten.add(`${layerPrefix(l)}${m}.weight`);
    if (!this.compacted) overwritten.add(this.classifierName());
    this.overwritten = overwritten;
  }

  /** The parameter the classifier's rows come from: the embedding (tied) or lm_head. */
  private classifierName(): string { return this.cfg.tied_embeddings ? "model.embed_tokens.weight" : "lm_head.weight"; }

  get compileMs(): number { return this.k.compileMs; }
  get timings(): StepTimings { return this.k.timings; }
  set timings(t: StepTimings) { this.k.timings = t; }

  private w(name: string, arena: Float32Array): Float32Array { return view(this.layout, arena, name); }

  /** Stage every weight into the per-layer input surfaces (after init and after each optimizer
   *  step): one libane call for the whole model, each matrix read once for all its copies. */
  stageWeights(params: Float32Array): void {
    const c = this.cfg, { D, Q, KV, F } = dims(c), copies: WeightCopy<KernelName>[] = [];
    for (let l = 0; l < c.n_layers; l++) {
      const p = layerPrefix(l), W = (n: string) => this.w(p + n, params);
      // Wᵀ for a forward kernel, W itself for a backward one (none with forwardOnly)
      const fwd = (name: KernelName, segment: string, transpose = true) => ({ name, key: `${name}/${l}`, segment, transpose });
      const bwd = (name: KernelName, segment: string) => (this.forwardOnly ? [] : [{ name, key: `${name}/${l}`, segment }]);
      copies.push(
        this.k.segments(W("self_attn.q_proj.weight"), Q, D, fwd("attn_fwd", "wq_t"), ...bwd("qkv_bwd", "wq")),
        this.k.segments(W("self_attn.k_proj.weight"), KV, D, fwd("attn_fwd", "wk_t"), ...bwd("qkv_bwd", "wk")),
        this.k.segments(W("self_attn.v_proj.weight"), KV, D, fwd("attn_fwd", "wv_t"), ...bwd("qkv_bwd", "wv")),
        this.k.segments(W("self_attn.o_proj.weight"), D, Q, fwd("wo_fwd", "wo_t"), ...bwd("wo_bwd", "wo")),
        this.k.segments(W("mlp.gate_proj.weight"), F, D, fwd("ffn_fwd", "w1_t"), ...bwd("ffn_bwd_w13t", "w1")),
        this.k.segments(W("mlp.up_proj.weight"), F, D, fwd("ffn_fwd", "w3_t"), ...bwd("ffn_bwd_w13t", "w3")),
        this.k.segments(W("mlp.down_proj.weight"), D, F, fwd("ffn_fwd", "w2", false), ...bwd("ffn_bwd_w2t", "w2")),
      );
      if (c.qk_norm) {
        copies.push(this.k.column("attn_fwd", `attn_fwd/${l}`, "qk_norm", 0, W("self_attn.q_norm.weight"), c.head_dim),
                    this.k.column("attn_fwd", `attn_fwd/${l}`, "qk_norm", 1, W("self_attn.k_norm.weight"), c.head_dim));
      }
    }
    this.k.stageWeights(copies);
    // The classifier's compact table follows the embedding (tied) or lm_head.
    const cls = this.w(this.classifierName(), params);
    if (this.compacted) this.k.host("classifier_gather", () => ops.gatherRows(cls, this.cfg.dim, this.ids, this.Ec));
    else this.Ec = cls;
  }

  /** Forward through the layers and the final norm, into this.xf [D, S]. */
  private forward(params: Float32Array, tokens: Int32Array): void {
    const c = this.cfg, { D, V } = dims(c), S = this.seq;
    this.k.host("embedding", () => ops.embeddingFwd(tokens, this.w("model.embed_tokens.weight", params), V, D, this.layers[0].x));
    for (let l = 0; l < c.n_layers; l++) {
      const L = this.layers[l], p = layerPrefix(l), key = (n: KernelName) => `${n}/${l}`;
      this.k.host("rmsnorm", () => ops.rmsnormFwd(L.x, this.w(p + "input_layernorm.weight", params), L.xn, L.inv1, 1, D, S, c.norm_eps));
      this.k.stage("attn_fwd", key("attn_fwd"), "xn", L.xn);
      this.k.eval("attn_fwd", key("attn_fwd"));
      this.k.collect(key("attn_fwd"));                                              // attn, q_rope, k_rope, v (q_raw, k_raw)
      this.k.stage("wo_fwd", key("wo_fwd"), "attn", L.attn);
      this.k.eval("wo_fwd", key("wo_fwd"));
      this.k.collect(key("wo_fwd"));                                                    // L.x2 = o
      this.k.host("residual", () => ops.axpy(L.x2, L.x, 1));                             // x2 = x + o
      this.k.host("rmsnorm", () => ops.rmsnormFwd(L.x2, this.w(p + "post_attention_layernorm.weight", params), L.xn2, L.inv2, 1, D, S, c.norm_eps));
      this.k.stage("ffn_fwd", key("ffn_fwd"), "xn2", L.xn2);
      this.k.stage("ffn_fwd", key("ffn_fwd"), "x2", L.x2);
      this.k.eval("ffn_fwd", key("ffn_fwd"));
      this.k.collect(key("ffn_fwd"));                                               // x_next, h1, h3, g
    }
    this.k.host("rmsnorm", () => ops.rmsnormFwd(this.xFinal, this.w("model.norm.weight", params), this.xf, this.invF, 1, D, S, c.norm_eps));
  }

  /** Mean cross-entropy over positions, no gradients (validation). `targets` are classifier
   *  indices: positions in vocabIds (see PipelineOptions), or -1 to ignore a position. */
  loss(params: Float32Array, tokens: Int32Array, targets: Int32Array): number {
    this.forward(params, tokens);
    this.classifierLogits();
    return this.k.host("cross_entropy", () => ops.crossEntropy(this.logits, this.Vc, this.seq, targets, 0, null)) / this.seq;
  }

  /**
   * Prefill for generation: run tokens (at most seq; the kernels' positions 0..n-1, the rest of the
   * window padding that causal attention keeps from affecting them) through the forward kernels
   * and write the logits of position n-1 into `logits` [classifier rows]. Afterwards layerKv(l)
   * holds each layer's keys (after q/k norm and RoPE) and values, channel-major [KV, seq].
   */
  prefill(params: Float32Array, tokens: Int32Array, logits: Float32Array): void {
    const n = tokens.length, S = this.seq, D = this.cfg.dim;
    if (n < 1 || n > S) throw new RangeError(`prefill: ${n} tokens for kernels built for ${S} positions`);
    const window = new Int32Array(S);
    window.set(tokens);
    this.forward(params, window);
    // logits [Vc] = Ec [Vc, D] · xf[:, n-1] (column n-1 of the channel-major [D, S])
    this.k.host("classifier", () => ops.sgemm(0, 0, this.Vc, 1, D, 1, this.Ec, D, this.xf.subarray(n - 1), S, 0, logits, 1));
  }

  layerKv(l: number): { k: Float32Array; v: Float32Array } {
    return { k: this.layers[l].kRope, v: this.layers[l].v };
  }

  private classifierLogits(): void {
    const D = this.cfg.dim, S = this.seq;
    // logits [Vc, S] = Ec [Vc, D] · xf [D, S]
    this.k.host("classifier", () => ops.sgemm(0, 0, this.Vc, S, D, 1, this.Ec, D, this.xf, S, 0, this.logits, S));
  }

  /**
   * Forward + backward of one micro-batch; adds this micro-batch's gradients, multiplied by
   * lossScale / (S * microBatches), into `grads`, or with `overwrite` (the first micro-batch of
   * an optimizer step) writes them over whatever `grads` held (train/grad-overwrite.ts). Returns
   * the mean loss over its positions. `targets` are classifier indices, as for loss().
   */
  forwardBackward(params: Float32Array, grads: Float32Array, tokens: Int32Array, targets: Int32Array,
                  lossScale: number, microBatches: number, overwrite = false): number {
    if (this.forwardOnly) throw new Error("TransformerPipeline: built with forwardOnly; it has no backward kernels");
    const c = this.cfg, { D, Q, KV, F, V, H, KVH, hd } = dims(c), S = this.seq;
    if (overwrite) zeroUnlessOverwritten(this.layout, grads, this.overwritten);
    const beta = overwrite ? 0 : 1;                                   // of the weight-gradient matmuls
    this.forward(params, tokens);
    this.classifierLogits();
    const gradScale = lossScale / (S * microBatches);
    const lossSum = this.k.host("cross_entropy", () => ops.crossEntropy(this.logits, this.Vc, S, targets, gradScale, this.logits));
    const dlogits = this.logits;
    // dxf [D, S] = Ecᵀ · dlogits
    this.k.host("classifier", () => ops.sgemm(1, 0, D, S, this.Vc, 1, this.Ec, D, dlogits, S, 0, this.dxf, S));
    // dEc [Vc, D] = dlogits · xfᵀ: straight into the classifier's gradient without compaction,
    // else into dEc and scattered to its vocabulary rows at the end.
    const clsGrad = this.w(this.classifierName(), grads);
    if (this.compacted) this.k.dW(this.Vc, D, S, 1, dlogits, S, this.xf, S, 0, this.dEc, D);
    else this.k.dW(this.Vc, D, S, 1, dlogits, S, this.xf, S, beta, clsGrad, D);
    this.dx.fill(0);
    this.k.host("rmsnorm_bwd", () => ops.rmsnormBwd(this.xFinal, this.w("model.norm.weight", params), this.invF, this.dxf, this.dx,
      this.w("model.norm.weight", grads), 1, D, S, false));

    for (let l = c.n_layers - 1; l >= 0; l--) {
      const L = this.layers[l], p = layerPrefix(l), key = (n: KernelName) => `${n}/${l}`;
      const G = (n: string) => this.w(p + n, grads);
      L.dy.set(this.dx);                                                  // gradient at x_next
      if (this.actClip) {                                                 // x_next was clipped: no gradient where it was
        const xNext = l + 1 < c.n_layers ? this.layers[l + 1].x : this.xFinal;
        this.k.host("clip_bwd", () => ops.clipBwd(xNext, L.dy, this.actClip));
      }
      // FFN: x_next = x2 + W2 g, g = silu(h1) h3, h = W xn2
      this.k.stage("ffn_bwd_w2t", key("ffn_bwd_w2t"), "dy", L.dy);
      this.k.eval("ffn_bwd_w2t", key("ffn_bwd_w2t"));
      this.k.collect(key("ffn_bwd_w2t"));
      const [dg] = this.k.outputs(key("ffn_bwd_w2t"));
      this.k.host("swiglu_bwd", () => ops.swigluBwd(L.h1, L.h3, dg, L.dh1, L.dh3));
      this.k.stage("ffn_bwd_w13t", key("ffn_bwd_w13t"), "dh1", L.dh1);
      this.k.stage("ffn_bwd_w13t", key("ffn_bwd_w13t"), "dh3", L.dh3);
      this.k.eval("ffn_bwd_w13t", key("ffn_bwd_w13t"));
      this.k.collect(key("ffn_bwd_w13t"));
      const [dxn2] = this.k.outputs(key("ffn_bwd_w13t"));
      this.k.dW(D, F, S, 1, L.dy, S, L.g, S, beta, G("mlp.down_proj.weight"), F);     // dW2 (+)= dy gᵀ
      this.k.dW(F, D, S, 1, L.dh1, S, L.xn2, S, beta, G("mlp.gate_proj.weight"), D);  // dW1 (+)= dh1 xn2ᵀ
      this.k.dW(F, D, S, 1, L.dh3, S, L.xn2, S, beta, G("mlp.up_proj.weight"), D);    // dW3 (+)= dh3 xn2ᵀ
      L.dx2.set(L.dy);
      this.k.host("rmsnorm_bwd", () => ops.rmsnormBwd(L.x2, this.w(p + "post_attention_layernorm.weight", params), L.inv2, dxn2,
        L.dx2, G("post_attention_layernorm.weight"), 1, D, S, true));
      // Attention output projection: x2 = x + Wo attn
      this.k.stage("wo_bwd", key("wo_bwd"), "dx2", L.dx2);
      this.k.eval("wo_bwd", key("wo_bwd"));
      this.k.collect(key("wo_bwd"));
      const [dattn] = this.k.outputs(key("wo_bwd"));
      this.k.dW(D, Q, S, 1, L.dx2, S, L.attn, S, beta, G("self_attn.o_proj.weight"), Q);  // dWo (+)= dx2 attnᵀ
      const shared = "attn_bwd/shared";
      this.k.stage("attn_bwd", shared, "q_rope", L.qRope);
      this.k.stage("attn_bwd", shared, "k_rope", L.kRope);
      this.k.stage("attn_bwd", shared, "v", L.v);
      this.k.stage("attn_bwd", shared, "dattn", dattn);
      this.k.eval("attn_bwd", shared);
      this.k.read(shared, 0, L.dq); this.k.read(shared, 1, L.dk); this.k.read(shared, 2, L.dv);
      if (c.qk_norm) {
        // q = rmsnorm_head(q_raw) · w: the device normalised; the host differentiates it.
        this.k.host("qk_norm_bwd", () => {
          const wq = this.w(p + "self_attn.q_norm.weight", params), wk = this.w(p + "self_attn.k_norm.weight", params);
          const gq = this.normGrad.subarray(0, Q * S), gk = this.normGrad.subarray(0, KV * S);
          ops.rmsnormFwd(L.qRaw, wq, this.normOut, this.qkInv, H, hd, S, c.norm_eps);       // recompute 1/rms
          ops.rmsnormBwd(L.qRaw, wq, this.qkInv, L.dq, gq, G("self_attn.q_norm.weight"), H, hd, S, false);
          L.dq.set(gq);
          ops.rmsnormFwd(L.kRaw, wk, this.normOut, this.qkInv, KVH, hd, S, c.norm_eps);
          ops.rmsnormBwd(L.kRaw, wk, this.qkInv, L.dk, gk, G("self_attn.k_norm.weight"), KVH, hd, S, false);
          L.dk.set(gk);
        });
      }
      this.k.dW(Q, D, S, 1, L.dq, S, L.xn, S, beta, G("self_attn.q_proj.weight"), D);   // dWq (+)= dq xnᵀ
      this.k.dW(KV, D, S, 1, L.dk, S, L.xn, S, beta, G("self_attn.k_proj.weight"), D);
      this.k.dW(KV, D, S, 1, L.dv, S, L.xn, S, beta, G("self_attn.v_proj.weight"), D);
      this.k.stage("qkv_bwd", key("qkv_bwd"), "dq", L.dq);
      this.k.stage("qkv_bwd", key("qkv_bwd"), "dk", L.dk);
      this.k.stage("qkv_bwd", key("qkv_bwd"), "dv", L.dv);
      this.k.eval("qkv_bwd", key("qkv_bwd"));
      this.k.collect(key("qkv_bwd"));
      const [dxn] = this.k.outputs(key("qkv_bwd"));
      this.dx.set(L.dx2);
      this.k.host("rmsnorm_bwd", () => ops.rmsnormBwd(L.x, this.w(p + "input_layernorm.weight", params), L.inv1, dxn,
        this.dx, G("input_layernorm.weight"), 1, D, S, true));
    }
    // Wait for the queued matmuls first: the classifier's gradient may be the embedding's (tied).
    this.k.timings.dwWaitMs += ops.asyncWait();
    this.k.host("embedding_bwd", () => ops.embeddingBwd(tokens, this.dx, this.w("model.embed_tokens.weight", grads), V, D));
    if (this.compacted) this.k.host("classifier_scatter", () => ops.scatterAddRows(this.dEc, D, this.ids, clsGrad));
    return lossSum / S;
  }

  [Symbol.dispose](): void { this.close(); }

  close(): void { this.k.close(); }
}
