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
 *   per layer (kept for the backward): x, xn, mean1, rstd1, qkv [3D, S] (q, k, v stacked),
 *     attn, x2, xn2, mean2, rstd2, h, g
 *   per layer gradients read by queued dW matmuls (valid until the final wait): dy, dh, dx2, dqkv
 */
import type { Backend, Program, Request, Surface, IoDesc } from "../ffi/index.ts";
import * as ops from "../ffi/train-ops.ts";
import * as gops from "../ffi/gpt-ops.ts";
import { buildGptKernels, GPT_KERNEL_NAMES, type GptKernel, type GptKernelName } from "../kernels/gpt.ts";
import { dims, type ModelConfig } from "../model/config.ts";
import { view, type ParamLayout } from "../model/params.ts";
import { gptBlockPrefix, gptClassifierName, GPT_WPE, GPT_WTE } from "../model/gpt.ts";
import type { PipelineOptions, StepTimings } from "./pipeline.ts";

interface CompiledKernel { spec: GptKernel; program: Program; input: IoDesc; outputs: IoDesc[]; outSurfaces: Surface[] }

interface LayerBuffers {
  x: Float32Array; xn: Float32Array; mean1: Float32Array; rstd1: Float32Array; qkv: Float32Array; attn: Float32Array;
  x2: Float32Array; xn2: Float32Array; mean2: Float32Array; rstd2: Float32Array; h: Float32Array; g: Float32Array;
  dy: Float32Array; dh: Float32Array; dx2: Float32Array; dqkv: Float32Array;
}

const LAYER_KERNELS = GPT_KERNEL_NAMES.filter((k) => k !== "attn_bwd");
const SHARED = "attn_bwd/shared";

export class GptPipeline implements Disposable {
  readonly kernels = {} as Record<GptKernelName, CompiledKernel>;
  readonly compileMs: number;
  private readonly inputs = new Map<string, Surface>();
  private readonly requests = new Map<string, Request>();
  private readonly layers: LayerBuffers[] = [];
  private readonly S: number;
  private readonly Vc: number;
  private readonly ids: Int32Array;
  private readonly positions: Int32Array;
  private readonly xFinal: Float32Array; private readonly xf: Float32Array;
  private readonly meanF: Float32Array; private readonly rstdF: Float32Array;
  private readonly logits: Float32Array; private readonly Ec: Float32Array; private readonly dEc: Float32Array;
  private readonly dx: Float32Array; private readonly dxf: Float32Array; private readonly scratchD: Float32Array;
  private readonly dg: Float32Array; private readonly dattn: Float32Array;
  timings: StepTimings = { kernelMs: {}, hostMs: {}, dwWaitMs: 0, stageMs: 0 };

  constructor(private readonly backend: Backend, private readonly cfg: ModelConfig, private readonly layout: ParamLayout,
              private readonly o: PipelineOptions) {
    if (cfg.family !== "gpt") throw new Error(`GptPipeline: model ${cfg.name} is family ${cfg.family}; use TransformerPipeline`);
    const { D, F, V } = dims(cfg), S = o.seq;
    if (S > cfg.max_seq_len) throw new Error(`GptPipeline: seq ${S} exceeds the model's ${cfg.max_seq_len} learned positions`);
    this.S = S;
    this.ids = o.vocabIds ?? Int32Array.from({ length: V }, (_, i) => i);
    this.Vc = this.ids.length;
    this.positions = Int32Array.from({ length: S }, (_, i) => i);
    const t0 = performance.now();
    const specs = buildGptKernels(cfg, { seq: S, dtype: o.numerics });
    for (const name of GPT_KERNEL_NAMES) {
      const spec = specs[name];
      const program = backend.compile(spec.text, { weights: spec.weights, chip: o.chip, numerics: o.numerics });
      program.load();
      const outSurfaces = program.outputs.map((io) => backend.createSurface(io.bytes));
      this.kernels[name] = { spec, program, input: program.inputs[0], outputs: program.outputs, outSurfaces };
    }
    this.compileMs = performance.now() - t0;
    const f = (n: number) => new Float32Array(n);
    for (let l = 0; l < cfg.n_layers; l++) {
      for (const name of LAYER_KERNELS) this.bind(name, `${name}/${l}`);
      this.layers.push({
        x: f(D * S), xn: f(D * S), mean1: f(S), rstd1: f(S), qkv: f(3 * D * S), attn: f(D * S),
        x2: f(D * S), xn2: f(D * S), mean2: f(S), rstd2: f(S), h: f(F * S), g: f(F * S),
        dy: f(D * S), dh: f(F * S), dx2: f(D * S), dqkv: f(3 * D * S),
      });
    }
    this.bind("attn_bwd", SHARED);
    this.xFinal = f(D * S); this.xf = f(D * S); this.meanF = f(S); this.rstdF = f(S);
    this.logits = f(this.Vc * S); this.Ec = f(this.Vc * D); this.dEc = f(this.Vc * D);
    this.dx = f(D * S); this.dxf = f(D * S); this.scratchD = f(D * S); this.dg = f(F * S); this.dattn = f(D * S);
  }

  private bind(name: GptKernelName, key: string): void {
    const k = this.kernels[name];
    const input = this.backend.createSurface(k.input.bytes);
    this.inputs.set(key, input);
    this.requests.set(key, k.program.request([input], k.outSurfaces));
  }

  private w(name: string, arena: Float32Array): Float32Array { return view(this.layout, arena, name); }

  /** Copy src into a whole segment: dense [channels, width], or [width, channels] transposed. */
  private stage(name: GptKernelName, key: string, segment: string, src: Float32Array, transpose = false): void {
    const k = this.kernels[name], s = k.spec.segments.find((x) => x.name === segment);
    if (!s) throw new Error(`kernel ${name} has no segment ${segment}`);
    const t0 = performance.now();
    ops.stageBlock(this.inputs.get(key)!, k.input, s.channel, s.offset, src, s.channels, s.width, { transpose });
    this.timings.stageMs += performance.now() - t0;
  }

  /** Copy a bias into its columns of the kernel's "bias" segment as a [C, k] block (zero padded). */
  private stageBias(name: GptKernelName, key: string, bias: string, src: Float32Array): void {
    const k = this.kernels[name], s = k.spec.segments.find((x) => x.name === "bias")!, bi = k.spec.biases.get(bias)!;
    const C = k.spec.channels, cols = Math.ceil(bi.length / C);
    let block = src;
    if (C * cols !== bi.length) { block = new Float32Array(C * cols); block.set(src.subarray(0, bi.length)); }
    const t0 = performance.now();
    ops.stageBlock(this.inputs.get(key)!, k.input, 0, s.offset + bi.column, block, C, cols);
    this.timings.stageMs += performance.now() - t0;
  }

  private eval(name: GptKernelName, key: string): void {
    const t = this.requests.get(key)!.eval();
    this.timings.kernelMs[name] = (this.timings.kernelMs[name] ?? 0) + t.wallMs;
  }

  private read(name: GptKernelName, i: number, dst: Float32Array): void {
    const k = this.kernels[name], io = k.outputs[i];
    const t0 = performance.now();
    ops.readBlock(k.outSurfaces[i], io, 0, 0, dst, io.shape[1], this.S);
    this.timings.stageMs += performance.now() - t0;
  }

  private host<T>(what: string, f: () => T): T {
    const t0 = performance.now();
    const r = f();
    this.timings.hostMs[what] = (this.timings.hostMs[what] ?? 0) + performance.now() - t0;
    return r;
  }

  /** Stage every weight and bias into the per-layer input surfaces (after init and each optimizer step). */
  stageWeights(params: Float32Array): void {
    const D = this.cfg.dim;
    for (let l = 0; l < this.cfg.n_layers; l++) {
      const p = gptBlockPrefix(l), key = (n: GptKernelName) => `${n}/${l}`;
      const W = (n: string) => this.w(p + n, params);
      const wqkv = W("attn.c_attn.weight"), bqkv = W("attn.c_attn.bias");
      ["wq_t", "wk_t", "wv_t"].forEach((seg, i) => this.stage("attn_fwd", key("attn_fwd"), seg, wqkv.subarray(i * D * D, (i + 1) * D * D), true));
      ["bq", "bk", "bv"].forEach((b, i) => this.stageBias("attn_fwd", key("attn_fwd"), b, bqkv.subarray(i * D, (i + 1) * D)));
      this.stage("wo_fwd", key("wo_fwd"), "wo_t", W("attn.c_proj.weight"), true);
      this.stageBias("wo_fwd", key("wo_fwd"), "bo", W("attn.c_proj.bias"));
      this.stage("ffn_fwd", key("ffn_fwd"), "w1_t", W("mlp.c_fc.weight"), true);
      this.stage("ffn_fwd", key("ffn_fwd"), "w2", W("mlp.c_proj.weight"));
      this.stageBias("ffn_fwd", key("ffn_fwd"), "b1", W("mlp.c_fc.bias"));
      this.stageBias("ffn_fwd", key("ffn_fwd"), "b2", W("mlp.c_proj.bias"));
      this.stage("ffn_bwd_w2t", key("ffn_bwd_w2t"), "w2", W("mlp.c_proj.weight"));
      this.stage("ffn_bwd_w1t", key("ffn_bwd_w1t"), "w1", W("mlp.c_fc.weight"));
      this.stage("wo_bwd", key("wo_bwd"), "wo", W("attn.c_proj.weight"));
      this.stage("qkv_bwd", key("qkv_bwd"), "wqkv", wqkv);
    }
    const cls = this.w(gptClassifierName(this.cfg), params);
    this.host("classifier_gather", () => ops.gatherRows(cls, D, this.ids, this.Ec));
  }

  /** Forward through the blocks and ln_f, into this.xf [D, S]. */
  private forward(params: Float32Array, tokens: Int32Array): void {
    const c = this.cfg, { D, V } = dims(c), S = this.S;
    if (tokens.length !== S) throw new Error(`GptPipeline: ${tokens.length} tokens for a pipeline of seq ${S}`);
    this.host("embedding", () => {
      ops.embeddingFwd(tokens, this.w(GPT_WTE, params), V, D, this.layers[0].x);
      ops.embeddingFwd(this.positions, this.w(GPT_WPE, params), c.max_seq_len, D, this.scratchD);   // wpe[s, :] as [D, S]
      ops.axpy(this.layers[0].x, this.scratchD, 1);
    });
    for (let l = 0; l < c.n_layers; l++) {
      const L = this.layers[l], p = gptBlockPrefix(l), key = (n: GptKernelName) => `${n}/${l}`;
      const W = (n: string) => this.w(p + n, params);
      this.host("layernorm", () => gops.layernormFwd(L.x, W("ln_1.weight"), W("ln_1.bias"), L.xn, L.mean1, L.rstd1, D, S, c.norm_eps));
      this.stage("attn_fwd", key("attn_fwd"), "xn", L.xn);
      this.eval("attn_fwd", key("attn_fwd"));
      this.read("attn_fwd", 0, L.attn);
      for (let i = 0; i < 3; i++) this.read("attn_fwd", 1 + i, L.qkv.subarray(i * D * S, (i + 1) * D * S));
      this.stage("wo_fwd", key("wo_fwd"), "attn", L.attn);
      this.stage("wo_fwd", key("wo_fwd"), "x", L.x);
      this.eval("wo_fwd", key("wo_fwd"));
      this.read("wo_fwd", 0, L.x2);
      this.host("layernorm", () => gops.layernormFwd(L.x2, W("ln_2.weight"), W("ln_2.bias"), L.xn2, L.mean2, L.rstd2, D, S, c.norm_eps));
      this.stage("ffn_fwd", key("ffn_fwd"), "xn2", L.xn2);
      this.stage("ffn_fwd", key("ffn_fwd"), "x2", L.x2);
      this.eval("ffn_fwd", key("ffn_fwd"));
      const next = l + 1 < c.n_layers ? this.layers[l + 1].x : this.xFinal;
      this.read("ffn_fwd", 0, next); this.read("ffn_fwd", 1, L.h); this.read("ffn_fwd", 2, L.g);
    }
    this.host("layernorm", () => gops.layernormFwd(this.xFinal, this.w("transformer.ln_f.weight", params),
      this.w("transformer.ln_f.bias", params), this.xf, this.meanF, this.rstdF, D, S, c.norm_eps));
  }

  private classifierLogits(): void {
    const D = this.cfg.dim, S = this.S;
    // logits [Vc, S] = Ec [Vc, D] · xf [D, S]
    this.host("classifier", () => ops.sgemm(0, 0, this.Vc, S, D, 1, this.Ec, D, this.xf, S, 0, this.logits, S));
  }

  /** Mean cross-entropy over positions, no gradients. `targets` are classifier indices (or -1). */
  loss(params: Float32Array, tokens: Int32Array, targets: Int32Array): number {
    this.forward(params, tokens);
    this.classifierLogits();
    return this.host("cross_entropy", () => ops.crossEntropy(this.logits, this.Vc, this.S, targets, 0, null)) / this.S;
  }

  /** Logits [Vc, S] of the last forward (loss or forwardBackward before its backward overwrote them). */
  lastLogits(): Float32Array { return this.logits; }

  /**
   * Forward + backward of one micro-batch; adds its gradients, multiplied by
   * lossScale / (S * microBatches), into `grads`. Returns the mean loss over its positions.
   */
  forwardBackward(params: Float32Array, grads: Float32Array, tokens: Int32Array, targets: Int32Array,
                  lossScale: number, microBatches: number): number {
    const c = this.cfg, { D, F, V } = dims(c), S = this.S;
    this.forward(params, tokens);
    this.classifierLogits();
    const lossSum = this.host("cross_entropy", () => ops.crossEntropy(this.logits, this.Vc, S, targets, lossScale / (S * microBatches), this.logits));
    const dlogits = this.logits;
    // dxf [D, S] = Ecᵀ · dlogits ; dEc [Vc, D] = dlogits · xfᵀ (queued)
    this.host("classifier", () => ops.sgemm(1, 0, D, S, this.Vc, 1, this.Ec, D, dlogits, S, 0, this.dxf, S));
    ops.sgemm(0, 1, this.Vc, D, S, 1, dlogits, S, this.xf, S, 0, this.dEc, D, true);
    this.host("layernorm_bwd", () => gops.layernormBwd(this.xFinal, this.w("transformer.ln_f.weight", params), this.meanF, this.rstdF,
      this.dxf, this.dx, this.w("transformer.ln_f.weight", grads), this.w("transformer.ln_f.bias", grads), D, S, false));

    for (let l = c.n_layers - 1; l >= 0; l--) {
      const L = this.layers[l], p = gptBlockPrefix(l), key = (n: GptKernelName) => `${n}/${l}`;
      const W = (n: string) => this.w(p + n, params), G = (n: string) => this.w(p + n, grads);
      L.dy.set(this.dx);                                                   // gradient at x_next
      // MLP: x_next = x2 + W2 g + b2, g = gelu(h), h = W1 xn2 + b1
      this.stage("ffn_bwd_w2t", key("ffn_bwd_w2t"), "dy", L.dy);
      this.eval("ffn_bwd_w2t", key("ffn_bwd_w2t"));
      this.read("ffn_bwd_w2t", 0, this.dg);
      this.host("gelu_bwd", () => gops.geluTanhBwd(L.h, this.dg, L.dh));
      this.stage("ffn_bwd_w1t", key("ffn_bwd_w1t"), "dh", L.dh);
      this.eval("ffn_bwd_w1t", key("ffn_bwd_w1t"));
      this.read("ffn_bwd_w1t", 0, this.scratchD);                           // dxn2
      ops.sgemm(0, 1, D, F, S, 1, L.dy, S, L.g, S, 1, G("mlp.c_proj.weight"), F, true);     // dW2 += dy gᵀ
      ops.sgemm(0, 1, F, D, S, 1, L.dh, S, L.xn2, S, 1, G("mlp.c_fc.weight"), D, true);     // dW1 += dh xn2ᵀ
      this.host("bias_grad", () => { gops.biasGrad(L.dy, G("mlp.c_proj.bias"), D, S); gops.biasGrad(L.dh, G("mlp.c_fc.bias"), F, S); });
      L.dx2.set(L.dy);
      this.host("layernorm_bwd", () => gops.layernormBwd(L.x2, W("ln_2.weight"), L.mean2, L.rstd2, this.scratchD, L.dx2,
        G("ln_2.weight"), G("ln_2.bias"), D, S, true));
      // Attention output: x2 = x + Wo attn + bo
      this.stage("wo_bwd", key("wo_bwd"), "dx2", L.dx2);
      this.eval("wo_bwd", key("wo_bwd"));
      this.read("wo_bwd", 0, this.dattn);
      ops.sgemm(0, 1, D, D, S, 1, L.dx2, S, L.attn, S, 1, G("attn.c_proj.weight"), D, true);  // dWo += dx2 attnᵀ
      this.host("bias_grad", () => gops.biasGrad(L.dx2, G("attn.c_proj.bias"), D, S));
      ["q", "k", "v"].forEach((n, i) => this.stage("attn_bwd", SHARED, n, L.qkv.subarray(i * D * S, (i + 1) * D * S)));
      this.stage("attn_bwd", SHARED, "dattn", this.dattn);
      this.eval("attn_bwd", SHARED);
      for (let i = 0; i < 3; i++) this.read("attn_bwd", i, L.dqkv.subarray(i * D * S, (i + 1) * D * S));
      ops.sgemm(0, 1, 3 * D, D, S, 1, L.dqkv, S, L.xn, S, 1, G("attn.c_attn.weight"), D, true); // dWqkv += dqkv xnᵀ
      this.host("bias_grad", () => gops.biasGrad(L.dqkv, G("attn.c_attn.bias"), 3 * D, S));
      this.stage("qkv_bwd", key("qkv_bwd"), "dqkv", L.dqkv);
      this.eval("qkv_bwd", key("qkv_bwd"));
      this.read("qkv_bwd", 0, this.scratchD);                               // dxn
      this.dx.set(L.dx2);
      this.host("layernorm_bwd", () => gops.layernormBwd(L.x, W("ln_1.weight"), L.mean1, L.rstd1, this.scratchD, this.dx,
        G("ln_1.weight"), G("ln_1.bias"), D, S, true));
    }
    this.host("embedding_bwd", () => {
      ops.embeddingBwd(tokens, this.dx, this.w(GPT_WTE, grads), V, D);
      ops.embeddingBwd(this.positions, this.dx, this.w(GPT_WPE, grads), c.max_seq_len, D);
    });
    this.timings.dwWaitMs += ops.asyncWait();
    this.host("classifier_scatter", () => ops.scatterAddRows(this.dEc, D, this.ids, this.w(gptClassifierName(c), grads)));
    return lossSum / S;
  }

  [Symbol.dispose](): void { this.close(); }

  close(): void {
    for (const r of this.requests.values()) r.free();
    for (const s of this.inputs.values()) s.release();
    for (const k of Object.values(this.kernels)) {
      for (const s of k.outSurfaces) s.release();
      k.program.free();
    }
    this.requests.clear();
    this.inputs.clear();
  }
}
