/**
 * One GPT training micro-step on a libane backend: the eight device kernels of
 * src/kernels/gpt.ts, compiled once, plus libane's host ops (LayerNorm, GELU backward, bias
 * gradients, embeddings, classifier, weight-gradient matmuls). Same interface as
 * TransformerPipeline, so the trainer drives either.
 *
 * One step. Forward, per layer: host LayerNorm ln_1 → attn_fwd (q, k, v with biases; causal
 * attention) → wo_fwd (x2 = x + Wo·attn + bo) → host LayerNorm ln_2 → ffn_fwd (h, gelu,
 * x_next = x2 + W2·g + b2). Then host ln_f, classifier over the compacted vocabulary and
 * cross-entropy. Backward, per layer in reverse: ffn_bwd_w2t → host GELU backward →
 * ffn_bwd_w1t → async dW2, dW1 and bias sums → host ln_2 backward + residual → wo_bwd → async
 * dWo → attn_bwd → async dWqkv → qkv_bwd → host ln_1 backward + residual. Token and position
 * embedding backward, then the wait for the queued matmuls.
 *
 * Buffers, all channel-major [C, S] fp32 on the host:
 *   per layer (kept for the backward): x, xn, mean1, rstd1, q, k, v, attn, x2, xn2, mean2, rstd2,
 *     h, g; those a forward kernel computes are its outputs (KernelSet.outputs: on the cpu
 *     backend in fp32, the output surfaces themselves)
 *   per layer gradients read by queued dW matmuls (valid until the final wait): dy, dh, dx2, dqkv
 */
import type { Backend } from "../ffi/index.ts";
import * as ops from "../ffi/train-ops.ts";
import * as gops from "../ffi/gpt-ops.ts";
import { buildGptKernels, GPT_KERNEL_NAMES, type GptKernelName } from "../kernels/gpt.ts";
import { KernelSet, kernelDialect, type StepTimings, type WeightCopy } from "./kernel-set.ts";
import { dims, type ModelConfig } from "../model/config.ts";
import { view, type ParamLayout } from "../model/params.ts";
import { gptBlockPrefix, gptClassifierName, GPT_WPE, GPT_WTE } from "../model/gpt.ts";
import type { PipelineOptions } from "./pipeline.ts";
import { zeroUnlessOverwritten } from "./grad-overwrite.ts";

interface LayerBuffers {
  x: Float32Array; xn: Float32Array; mean1: Float32Array; rstd1: Float32Array; qkv: Float32Array[]; attn: Float32Array;
  x2: Float32Array; xn2: Float32Array; mean2: Float32Array; rstd2: Float32Array; h: Float32Array; g: Float32Array;
  dy: Float32Array; dh: Float32Array; dx2: Float32Array; dqkv: Float32Array;
}

const LAYER_KERNELS = GPT_KERNEL_NAMES.filter((k) => k !== "attn_bwd");
const SHARED = "attn_bwd/shared";
/** The kernels whose outputs the backward reads: bound with outputs of their own per layer. */
const FORWARD: ReadonlySet<GptKernelName> = new Set(["attn_fwd", "wo_fwd", "ffn_fwd"]);

export class GptPipeline implements Disposable {
  /** The kernels and their surfaces; binding keys `${kernel}/${layer}` and SHARED. */
  private readonly k: KernelSet<GptKernelName>;
  private readonly layers: LayerBuffers[] = [];
  private readonly S: number;
  private readonly Vc: number;
  private readonly ids: Int32Array;
  private readonly positions: Int32Array;
  private readonly actClip: number;
  /** Gradients the weight-gradient matmuls write whole (forwardBackward's overwrite mode). */
  private readonly overwritten: ReadonlySet<string>;
  private readonly xFinal: Float32Array; private readonly xf: Float32Array;
  private readonly meanF: Float32Array; private readonly rstdF: Float32Array;
  private readonly logits: Float32Array; private readonly Ec: Float32Array; private readonly dEc: Float32Array;
  private readonly dx: Float32Array; private readonly dxf: Float32Array; private readonly scratchD: Float32Array;

  constructor(backend: Backend, private readonly cfg: ModelConfig, private readonly layout: ParamLayout,
              o: PipelineOptions) {
    if (cfg.family !== "gpt") throw new Error(`GptPipeline: model ${cfg.name} is family ${cfg.family}; use TransformerPipeline`);
    const { D, F, V } = dims(cfg), S = o.seq;
    if (S > cfg.max_seq_len) throw new Error(`GptPipeline: seq ${S} exceeds the model's ${cfg.max_seq_len} learned positions`);
    this.S = S;
    this.ids = o.vocabIds ?? Int32Array.from({ length: V }, (_, i) => i);
    this.Vc = this.ids.length;
    this.positions = Int32Array.from({ length: S }, (_, i) => i);
    this.actClip = o.actClip ?? 0;
    if (o.forwardOnly) throw new Error("GptPipeline: forwardOnly is not supported (generation uses the host decoder)");
    const specs = buildGptKernels(cfg, { seq: S, dtype: o.numerics, dialect: kernelDialect(backend, o.chip), actClip: this.actClip });
    this.k = new KernelSet(backend, specs, S, o);
    const f = (n: number) => new Float32Array(n);
    let x: Float32Array = f(D * S);                      // the embeddings' sum; then each block's x_next
    for (let l = 0; l < cfg.n_layers; l++) {
      for (const name of LAYER_KERNELS) this.k.bind(name, `${name}/${l}`, FORWARD.has(name));
      const [attn, ...qkv] = this.k.outputs(`attn_fwd/${l}`), [x2] = this.k.outputs(`wo_fwd/${l}`);
      const [xNext, h, g] = this.k.outputs(`ffn_fwd/${l}`);
      this.layers.push({
        x, xn: f(D * S), mean1: f(S), rstd1: f(S), qkv, attn, x2, xn2: f(D * S), mean2: f(S), rstd2: f(S), h, g,
        dy: f(D * S), dh: f(F * S), dx2: f(D * S), dqkv: f(3 * D * S),
      });
      x = xNext;
    }
    this.k.bind("attn_bwd", SHARED);
    this.xFinal = x; this.xf = f(D * S); this.meanF = f(S); this.rstdF = f(S);
    this.logits = f(this.Vc * S); this.Ec = f(this.Vc * D); this.dEc = f(this.Vc * D);
    this.dx = f(D * S); this.dxf = f(D * S); this.scratchD = f(D * S);
    const matrices = ["mlp.c_proj", "mlp.c_fc", "attn.c_proj", "attn.c_attn"];
    this.overwritten = new Set(Array.from({ length: cfg.n_layers }, (_, l) => matrices.map((m) => `${gptBlockPrefix(l)}${m}.weight`)).flat());
  }

  get compileMs(): number { return this.k.compileMs; }
  get timings(): StepTimings { return this.k.timings; }
  set timings(t: StepTimings) { this.k.timings = t; }

  private w(name: string, arena: Float32Array): Float32Array { return view(this.layout, arena, name); }

  /** Stage every weight and bias into the per-layer input surfaces (after init and each optimizer
   *  step): one libane call for the whole model, each matrix read once for all its copies. */
  stageWeights(params: Float32Array): void {
    const { D, F } = dims(this.cfg), copies: WeightCopy<GptKernelName>[] = [];
    for (let l = 0; l < this.cfg.n_layers; l++) {
      const p = gptBlockPrefix(l), W = (n: string) => this.w(p + n, params);
      const at = (name: GptKernelName, segment: string, o: { transpose?: boolean; channel?: number } = {}) => ({ name, key: `${name}/${l}`, segment, ...o });
      const wqkv = W("attn.c_attn.weight"), bqkv = W("attn.c_attn.bias");
      // c_attn [3D, D]: each third transposed for the forward, all of it natural for qkv_bwd
      ["wq_t", "wk_t", "wv_t"].forEach((seg, i) => copies.push(this.k.segments(wqkv.subarray(i * D * D, (i + 1) * D * D), D, D,
        at("attn_fwd", seg, { transpose: true }), at("qkv_bwd", "wqkv", { channel: i * D }))));
      ["bq", "bk", "bv"].forEach((b, i) => copies.push(this.k.bias("attn_fwd", `attn_fwd/${l}`, b, bqkv.subarray(i * D, (i + 1) * D))));
      copies.push(
        this.k.segments(W("attn.c_proj.weight"), D, D, at("wo_fwd", "wo_t", { transpose: true }), at("wo_bwd", "wo")),
        this.k.bias("wo_fwd", `wo_fwd/${l}`, "bo", W("attn.c_proj.bias")),
        this.k.segments(W("mlp.c_fc.weight"), F, D, at("ffn_fwd", "w1_t", { transpose: true }), at("ffn_bwd_w1t", "w1")),
        this.k.segments(W("mlp.c_proj.weight"), D, F, at("ffn_fwd", "w2"), at("ffn_bwd_w2t", "w2")),
        this.k.bias("ffn_fwd", `ffn_fwd/${l}`, "b1", W("mlp.c_fc.bias")),
        this.k.bias("ffn_fwd", `ffn_fwd/${l}`, "b2", W("mlp.c_proj.bias")),
      );
    }
    this.k.stageWeights(copies);
    const cls = this.w(gptClassifierName(this.cfg), params);
    this.k.host("classifier_gather", () => ops.gatherRows(cls, D, this.ids, this.Ec));
  }

  /** Forward through the blocks and ln_f, into this.xf [D, S]. */
  private forward(params: Float32Array, tokens: Int32Array): void {
    const c = this.cfg, { D, V } = dims(c), S = this.S;
    if (tokens.length !== S) throw new Error(`GptPipeline: ${tokens.length} tokens for a pipeline of seq ${S}`);
    this.k.host("embedding", () => {
      ops.embeddingFwd(tokens, this.w(GPT_WTE, params), V, D, this.layers[0].x);
      ops.embeddingFwd(this.positions, this.w(GPT_WPE, params), c.max_seq_len, D, this.scratchD);   // wpe[s, :] as [D, S]
      ops.axpy(this.layers[0].x, this.scratchD, 1);
    });
    for (let l = 0; l < c.n_layers; l++) {
      const L = this.layers[l], p = gptBlockPrefix(l), key = (n: GptKernelName) => `${n}/${l}`;
      const W = (n: string) => this.w(p + n, params);
      this.k.host("layernorm", () => gops.layernormFwd(L.x, W("ln_1.weight"), W("ln_1.bias"), L.xn, L.mean1, L.rstd1, D, S, c.norm_eps));
      this.k.stage("attn_fwd", key("attn_fwd"), "xn", L.xn);
      this.k.eval("attn_fwd", key("attn_fwd"));
      this.k.collect(key("attn_fwd"));                                               // attn, q, k, v
      this.k.stage("wo_fwd", key("wo_fwd"), "attn", L.attn);
      this.k.stage("wo_fwd", key("wo_fwd"), "x", L.x);
      this.k.eval("wo_fwd", key("wo_fwd"));
      this.k.collect(key("wo_fwd"));                                                 // x2
      this.k.host("layernorm", () => gops.layernormFwd(L.x2, W("ln_2.weight"), W("ln_2.bias"), L.xn2, L.mean2, L.rstd2, D, S, c.norm_eps));
      this.k.stage("ffn_fwd", key("ffn_fwd"), "xn2", L.xn2);
      this.k.stage("ffn_fwd", key("ffn_fwd"), "x2", L.x2);
      this.k.eval("ffn_fwd", key("ffn_fwd"));
      this.k.collect(key("ffn_fwd"));                                                // x_next, h, g
    }
    this.k.host("layernorm", () => gops.layernormFwd(this.xFinal, this.w("transformer.ln_f.weight", params),
      this.w("transformer.ln_f.bias", params), this.xf, this.meanF, this.rstdF, D, S, c.norm_eps));
  }

  private classifierLogits(): void {
    const D = this.cfg.dim, S = this.S;
    // logits [Vc, S] = Ec [Vc, D] · xf [D, S]
    this.k.host("classifier", () => ops.sgemm(0, 0, this.Vc, S, D, 1, this.Ec, D, this.xf, S, 0, this.logits, S));
  }

  /** Mean cross-entropy over positions, no gradients. `targets` are classifier indices (or -1). */
  loss(params: Float32Array, tokens: Int32Array, targets: Int32Array): number {
    this.forward(params, tokens);
    this.classifierLogits();
    return this.k.host("cross_entropy", () => ops.crossEntropy(this.logits, this.Vc, this.S, targets, 0, null)) / this.S;
  }

  /** Logits [Vc, S] of the last forward (loss or forwardBackward before its backward overwrote them). */
  lastLogits(): Float32Array { return this.logits; }

  /**
   * Forward + backward of one micro-batch; adds its gradients, multiplied by
   * lossScale / (S * microBatches), into `grads`, or with `overwrite` (the first micro-batch of an
   * optimizer step) writes them over whatever `grads` held (train/grad-overwrite.ts). Returns the
   * mean loss over its positions.
   */
  forwardBackward(params: Float32Array, grads: Float32Array, tokens: Int32Array, targets: Int32Array,
                  lossScale: number, microBatches: number, overwrite = false): number {
    const c = this.cfg, { D, F, V } = dims(c), S = this.S;
    if (overwrite) zeroUnlessOverwritten(this.layout, grads, this.overwritten);
    const beta = overwrite ? 0 : 1;                                   // of the weight-gradient matmuls
    this.forward(params, tokens);
    this.classifierLogits();
    const lossSum = this.k.host("cross_entropy", () => ops.crossEntropy(this.logits, this.Vc, S, targets, lossScale / (S * microBatches), this.logits));
    const dlogits = this.logits;
    // dxf [D, S] = Ecᵀ · dlogits ; dEc [Vc, D] = dlogits · xfᵀ (queued)
    this.k.host("classifier", () => ops.sgemm(1, 0, D, S, this.Vc, 1, this.Ec, D, dlogits, S, 0, this.dxf, S));
    this.k.dW(this.Vc, D, S, 1, dlogits, S, this.xf, S, 0, this.dEc, D);
    this.k.host("layernorm_bwd", () => gops.layernormBwd(this.xFinal, this.w("transformer.ln_f.weight", params), this.meanF, this.rstdF,
      this.dxf, this.dx, this.w("transformer.ln_f.weight", grads), this.w("transformer.ln_f.bias", grads), D, S, false));

    for (let l = c.n_layers - 1; l >= 0; l--) {
      const L = this.layers[l], p = gptBlockPrefix(l), key = (n: GptKernelName) => `${n}/${l}`;
      const W = (n: string) => this.w(p + n, params), G = (n: string) => this.w(p + n, grads);
      L.dy.set(this.dx);                                                   // gradient at x_next
      if (this.actClip) {                                                  // x_next was clipped: no gradient where it was
        const xNext = l + 1 < this.cfg.n_layers ? this.layers[l + 1].x : this.xFinal;
        this.k.host("clip_bwd", () => ops.clipBwd(xNext, L.dy, this.actClip));
      }
      // MLP: x_next = x2 + W2 g + b2, g = gelu(h), h = W1 xn2 + b1
      this.k.stage("ffn_bwd_w2t", key("ffn_bwd_w2t"), "dy", L.dy);
      this.k.eval("ffn_bwd_w2t", key("ffn_bwd_w2t"));
      this.k.collect(key("ffn_bwd_w2t"));
      const [dg] = this.k.outputs(key("ffn_bwd_w2t"));
      this.k.host("gelu_bwd", () => gops.geluTanhBwd(L.h, dg, L.dh));
      this.k.stage("ffn_bwd_w1t", key("ffn_bwd_w1t"), "dh", L.dh);
      this.k.eval("ffn_bwd_w1t", key("ffn_bwd_w1t"));
      this.k.collect(key("ffn_bwd_w1t"));
      const [dxn2] = this.k.outputs(key("ffn_bwd_w1t"));
      this.k.dW(D, F, S, 1, L.dy, S, L.g, S, beta, G("mlp.c_proj.weight"), F);     // dW2 (+)= dy gᵀ
      this.k.dW(F, D, S, 1, L.dh, S, L.xn2, S, beta, G("mlp.c_fc.weight"), D);     // dW1 (+)= dh xn2ᵀ
      this.k.host("bias_grad", () => { gops.biasGrad(L.dy, G("mlp.c_proj.bias"), D, S); gops.biasGrad(L.dh, G("mlp.c_fc.bias"), F, S); });
      L.dx2.set(L.dy);
      this.k.host("layernorm_bwd", () => gops.layernormBwd(L.x2, W("ln_2.weight"), L.mean2, L.rstd2, dxn2, L.dx2,
        G("ln_2.weight"), G("ln_2.bias"), D, S, true));
      // Attention output: x2 = x + Wo attn + bo
      this.k.stage("wo_bwd", key("wo_bwd"), "dx2", L.dx2);
      this.k.eval("wo_bwd", key("wo_bwd"));
      this.k.collect(key("wo_bwd"));
      const [dattn] = this.k.outputs(key("wo_bwd"));
      this.k.dW(D, D, S, 1, L.dx2, S, L.attn, S, beta, G("attn.c_proj.weight"), D);  // dWo (+)= dx2 attnᵀ
      this.k.host("bias_grad", () => gops.biasGrad(L.dx2, G("attn.c_proj.bias"), D, S));
      ["q", "k", "v"].forEach((n, i) => this.k.stage("attn_bwd", SHARED, n, L.qkv[i]));
      this.k.stage("attn_bwd", SHARED, "dattn", dattn);
      this.k.eval("attn_bwd", SHARED);
      for (let i = 0; i < 3; i++) this.k.read(SHARED, i, L.dqkv.subarray(i * D * S, (i + 1) * D * S));
      this.k.dW(3 * D, D, S, 1, L.dqkv, S, L.xn, S, beta, G("attn.c_attn.weight"), D); // dWqkv (+)= dqkv xnᵀ
      this.k.host("bias_grad", () => gops.biasGrad(L.dqkv, G("attn.c_attn.bias"), 3 * D, S));
      this.k.stage("qkv_bwd", key("qkv_bwd"), "dqkv", L.dqkv);
      this.k.eval("qkv_bwd", key("qkv_bwd"));
      this.k.collect(key("qkv_bwd"));
      const [dxn] = this.k.outputs(key("qkv_bwd"));
      this.dx.set(L.dx2);
      this.k.host("layernorm_bwd", () => gops.layernormBwd(L.x, W("ln_1.weight"), L.mean1, L.rstd1, dxn, this.dx,
        G("ln_1.weight"), G("ln_1.bias"), D, S, true));
    }
    this.k.host("embedding_bwd", () => {
      ops.embeddingBwd(tokens, this.dx, this.w(GPT_WTE, grads), V, D);
      ops.embeddingBwd(this.positions, this.dx, this.w(GPT_WPE, grads), c.max_seq_len, D);
    });
    this.k.timings.dwWaitMs += ops.asyncWait();
    this.k.host("classifier_scatter", () => ops.scatterAddRows(this.dEc, D, this.ids, this.w(gptClassifierName(c), grads)));
    return lossSum / S;
  }

  [Symbol.dispose](): void { this.close(); }

  close(): void { this.k.close(); }
}
