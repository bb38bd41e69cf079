/**
 * Prefill on a libane backend's compiled forward kernels (attn_fwd, wo_fwd, ffn_fwd: the training
 * kernels of src/kernels/transformer.ts), then hand the keys and values to the host decoder's KV
 * cache, so decoding continues on the host. On a Mac this runs the prompt on the Neural Engine;
 * on the cpu backend it runs the same MIL through the ANE-faithful executor.
 *
 * Kernels are compiled per window size: the prompt is padded to a multiple of 32 positions (the
 * device's row alignment), which causal attention keeps from affecting the real positions.
 */
import type { Backend } from "../ffi/index.ts";
import type { Decoder } from "../ffi/decode-ops.ts";
import { TransformerPipeline } from "../train/pipeline.ts";
import type { ModelWeights } from "./model.ts";

const WINDOW_STEP = 32;

export interface KernelPrefillOptions {
  numerics: "fp16" | "fp32";
  chip?: string;
  /** Shorter prompts run on the host decoder instead (0: every prompt on the kernels). */
  minTokens?: number;
}

export class KernelPrefill implements Disposable {
  private readonly pipes = new Map<number, TransformerPipeline>();

  readonly minTokens: number;

  constructor(private readonly backend: Backend, private readonly w: ModelWeights, private readonly o: KernelPrefillOptions) {
    this.minTokens = o.minTokens ?? 0;
    if (w.config.family === "gpt") throw new Error("kernel prefill covers the llama and qwen3 families");
  }

  private pipeFor(n: number): TransformerPipeline {
    const c = this.w.config, S = Math.min(c.max_seq_len, Math.ceil(n / WINDOW_STEP) * WINDOW_STEP);
    let pipe = this.pipes.get(S);
    if (!pipe) {
      pipe = new TransformerPipeline(this.backend, c, this.w.layout,
        { seq: S, numerics: this.o.numerics, chip: this.o.chip, vocabIds: null, forwardOnly: true });
      pipe.stageWeights(this.w.params);
      this.pipes.set(S, pipe);
    }
    return pipe;
  }

  /** Run tokens at positions 0..n-1 on the kernels, fill the decoder's cache with their keys and
   *  values (its length becomes n), and write the last position's logits. */
  run(tokens: Int32Array, decoder: Decoder, logits: Float32Array): void {
    const pipe = this.pipeFor(tokens.length);
    pipe.prefill(this.w.params, tokens, logits);
    for (let l = 0; l < this.w.config.n_layers; l++) {
      const { k, v } = pipe.layerKv(l);
      decoder.writeKv(l, 0, tokens.length, k, v, pipe.seq);
    }
    decoder.setLength(tokens.length);
  }

  [Symbol.dispose](): void { this.close(); }

  close(): void {
    for (const p of this.pipes.values()) p.close();
    this.pipes.clear();
  }
}
