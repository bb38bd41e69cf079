// Typed wrapper of libane's decoder (ane.h "decoding"): a Llama/Qwen3 forward over borrowed fp32
// weights with a KV cache in C. The Decoder keeps references to the weight arrays it was given,
// so they live as long as the handle.
import { ptr, type Pointer } from "bun:ffi";
import { lib, check } from "./library.ts";

export interface DecoderConfig {
  dim: number; hiddenDim: number; nLayers: number; nHeads: number; nKvHeads: number; headDim: number;
  vocabSize: number;
  /** Positions the KV cache holds. */
  maxSeq: number;
  ropeStyle: "interleaved" | "rotate_half";
  ropeTheta: number;
  qkNorm: boolean;
  normEps: number;
}

/** Per layer, in ane.h's order (q_norm / k_norm are null without qk norm). */
export interface DecoderLayerWeights {
  attnNorm: Float32Array; wq: Float32Array; wk: Float32Array; wv: Float32Array;
  qNorm: Float32Array | null; kNorm: Float32Array | null; wo: Float32Array; ffnNorm: Float32Array;
  wGate: Float32Array; wUp: Float32Array; wDown: Float32Array;
}

export interface DecoderWeights {
  embedding: Float32Array;
  layers: DecoderLayerWeights[];
  finalNorm: Float32Array;
  classifier: Float32Array;
}

function configBytes(c: DecoderConfig): Uint8Array {
  // struct ane_decoder_config: 10 x uint32, then 2 x float.
  const b = new ArrayBuffer(48), dv = new DataView(b);
  const u = [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.headDim, c.vocabSize, c.maxSeq,
    c.ropeStyle === "interleaved" ? 0 : 1, c.qkNorm ? 1 : 0];
  u.forEach((x, i) => dv.setUint32(4 * i, x, true));
  dv.setFloat32(40, c.ropeTheta, true);
  dv.setFloat32(44, c.normEps, true);
  return new Uint8Array(b);
}

export class Decoder {
  readonly config: DecoderConfig;
  private handle: Pointer | null;
  private readonly keep: Float32Array[];

  constructor(config: DecoderConfig, w: DecoderWeights) {
    const { dim: D, hiddenDim: F, nHeads: H, nKvHeads: KVH, headDim: hd, vocabSize: V } = config;
    const sized = (name: string, a: Float32Array | null, n: number): Float32Array | null => {
      if (a && a.length !== n) throw new RangeError(`Decoder: ${name} has ${a.length} elements, needs ${n}`);
      return a;
    };
    if (w.layers.length !== config.nLayers) throw new RangeError(`Decoder: ${w.layers.length} layers of weights for a ${config.nLayers}-layer model`);
    const list: Array<Float32Array | null> = [sized("embedding", w.embedding, V * D)];
    w.layers.forEach((l, i) => {
      const p = `layer ${i} `;
      list.push(sized(p + "attn_norm", l.attnNorm, D), sized(p + "wq", l.wq, H * hd * D), sized(p + "wk", l.wk, KVH * hd * D),
        sized(p + "wv", l.wv, KVH * hd * D), config.qkNorm ? sized(p + "q_norm", l.qNorm, hd) : null,
        config.qkNorm ? sized(p + "k_norm", l.kNorm, hd) : null, sized(p + "wo", l.wo, D * H * hd),
        sized(p + "ffn_norm", l.ffnNorm, D), sized(p + "w_gate", l.wGate, F * D), sized(p + "w_up", l.wUp, F * D),
        sized(p + "w_down", l.wDown, D * F));
    });
    list.push(sized("final norm", w.finalNorm, D), sized("classifier", w.classifier, V * D));
    const ptrs = new BigUint64Array(list.length);
    list.forEach((a, i) => { ptrs[i] = a ? BigInt(ptr(a)) : 0n; });
    const box = new BigUint64Array(1);
    check(lib().ane_decoder_create(configBytes(config), ptrs, list.length, box), "creating the decoder");
    this.handle = Number(box[0]) as Pointer;
    this.config = config;
    this.keep = list.filter((a): a is Float32Array => a !== null);
  }

  private live(): Pointer {
    if (!this.handle) throw new Error("Decoder: used after close()");
    return this.handle;
  }

  /** Run tokens at positions pos.. and write the last one's logits into `logits` [vocab]. */
  step(tokens: Int32Array, pos: number, logits: Float32Array): void {
    if (logits.length < this.config.vocabSize) throw new RangeError(`Decoder.step: logits has ${logits.length} elements, needs ${this.config.vocabSize}`);
    if (tokens.length === 0) throw new RangeError("Decoder.step: no tokens");
    check(lib().ane_decoder_step(this.live(), tokens, tokens.length, pos, logits), `decoding ${tokens.length} token(s) at position ${pos}`);
  }

  reset(): void { check(lib().ane_decoder_reset(this.live()), "resetting the decoder"); }

  /** Positions held in the KV cache. */
  get length(): number { return lib().ane_decoder_length(this.live()); }

  /** Bytes of weights one decode step reads: every matrix and norm once (the classifier too, even
   *  when it is the embedding), and one embedding row. */
  weightBytesPerToken(): number {
    const all = this.keep.reduce((a, w) => a + w.length, 0);
    return 4 * (all - this.keep[0].length + this.config.dim);
  }

  close(): void {
    if (this.handle) lib().ane_decoder_free(this.handle);
    this.handle = null;
  }

  [Symbol.dispose](): void { this.close(); }
}
