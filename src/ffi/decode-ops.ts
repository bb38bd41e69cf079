// Typed wrapper of libane's decoder (ane.h "decoding"): a Llama/Qwen3 or GPT forward with a KV
// cache in C, over fp32 weights read in place or fp16 copies of the matrices. The Decoder keeps
// references to the weight arrays it was given, so they live as long as the handle.
import { ptr, type Pointer } from "bun:ffi";
import { lib, check } from "./library.ts";

/** How the decoder stores the matrices: fp32 (the caller's arrays, read in place) or fp16
 *  (copies rounded to nearest even: half the bytes per token; products and sums stay fp32). */
export type WeightStorage = "fp32" | "fp16";

export interface DecoderConfig {
  arch: "llama" | "gpt";
  dim: number; hiddenDim: number; nLayers: number; nHeads: number; nKvHeads: number; headDim: number;
  vocabSize: number;
  /** Positions the KV cache holds. */
  maxSeq: number;
  /** Rotary embeddings and q/k norm: the llama architecture only. */
  ropeStyle: "interleaved" | "rotate_half";
  ropeTheta: number;
  qkNorm: boolean;
  normEps: number;
  weights: WeightStorage;
}

/** Per layer, in ane.h's order (q_norm / k_norm are null without qk norm). */
export interface DecoderLayerWeights {
  attnNorm: Float32Array; wq: Float32Array; wk: Float32Array; wv: Float32Array;
  qNorm: Float32Array | null; kNorm: Float32Array | null; wo: Float32Array; ffnNorm: Float32Array;
  wGate: Float32Array; wUp: Float32Array; wDown: Float32Array;
}

export interface DecoderWeights {
  arch: "llama";
  embedding: Float32Array;
  layers: DecoderLayerWeights[];
  finalNorm: Float32Array;
  classifier: Float32Array;
}

/** A GPT block with nanoGPT's tensors: c_attn is [Q + 2 KV, dim] (rows q, k, v). */
export interface GptDecoderLayerWeights {
  ln1W: Float32Array; ln1B: Float32Array; cAttnW: Float32Array; cAttnB: Float32Array;
  attnProjW: Float32Array; attnProjB: Float32Array; ln2W: Float32Array; ln2B: Float32Array;
  fcW: Float32Array; fcB: Float32Array; mlpProjW: Float32Array; mlpProjB: Float32Array;
}

export interface GptDecoderWeights {
  arch: "gpt";
  wte: Float32Array;
  /** [>= maxSeq, dim] */
  wpe: Float32Array;
  layers: GptDecoderLayerWeights[];
  lnfW: Float32Array; lnfB: Float32Array;
  classifier: Float32Array;
}

function configBytes(c: DecoderConfig): Uint8Array {
  // struct ane_decoder_config: 10 x uint32, 2 x float, 2 x uint32.
  const b = new ArrayBuffer(56), dv = new DataView(b);
  const u = [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.headDim, c.vocabSize, c.maxSeq,
    c.ropeStyle === "interleaved" ? 0 : 1, c.qkNorm ? 1 : 0];
  u.forEach((x, i) => dv.setUint32(4 * i, x, true));
  dv.setFloat32(40, c.ropeTheta, true);
  dv.setFloat32(44, c.normEps, true);
  dv.setUint32(48, c.arch === "gpt" ? 1 : 0, true);
  dv.setUint32(52, c.weights === "fp16" ? 1 : 0, true);
  return new Uint8Array(b);
}

/** The weight pointers in ane.h's order, each checked against its size. */
function weightList(config: DecoderConfig, w: DecoderWeights | GptDecoderWeights): Array<Float32Array | null> {
  const { dim: D, hiddenDim: F, nHeads: H, nKvHeads: KVH, headDim: hd, vocabSize: V } = config;
  const Q = H * hd, KV = KVH * hd;
  const sized = (name: string, a: Float32Array | null, n: number, atLeast = false): Float32Array | null => {
    if (a && (atLeast ? a.length < n : a.length !== n)) throw new RangeError(`Decoder: ${name} has ${a.length} elements, needs ${atLeast ? "at least " : ""}${n}`);
    return a;
  };
  if (w.arch !== config.arch) throw new Error(`Decoder: ${w.arch} weights for a ${config.arch} config`);
  if (w.layers.length !== config.nLayers) throw new RangeError(`Decoder: ${w.layers.length} layers of weights for a ${config.nLayers}-layer model`);
  if (w.arch === "llama") {
    const list: Array<Float32Array | null> = [sized("embedding", w.embedding, V * D)];
    w.layers.forEach((l, i) => {
      const p = `layer ${i} `;
      list.push(sized(p + "attn_norm", l.attnNorm, D), sized(p + "wq", l.wq, Q * D), sized(p + "wk", l.wk, KV * D),
        sized(p + "wv", l.wv, KV * D), config.qkNorm ? sized(p + "q_norm", l.qNorm, hd) : null,
        config.qkNorm ? sized(p + "k_norm", l.kNorm, hd) : null, sized(p + "wo", l.wo, D * Q),
        sized(p + "ffn_norm", l.ffnNorm, D), sized(p + "w_gate", l.wGate, F * D), sized(p + "w_up", l.wUp, F * D),
        sized(p + "w_down", l.wDown, D * F));
    });
    list.push(sized("final norm", w.finalNorm, D), sized("classifier", w.classifier, V * D));
    return list;
  }
  const list: Array<Float32Array | null> = [sized("wte", w.wte, V * D), sized("wpe", w.wpe, config.maxSeq * D, true)];
  w.layers.forEach((l, i) => {
    const p = `block ${i} `;
    list.push(sized(p + "ln_1.weight", l.ln1W, D), sized(p + "ln_1.bias", l.ln1B, D),
      sized(p + "attn.c_attn.weight", l.cAttnW, (Q + 2 * KV) * D), sized(p + "attn.c_attn.bias", l.cAttnB, Q + 2 * KV),
      sized(p + "attn.c_proj.weight", l.attnProjW, D * Q), sized(p + "attn.c_proj.bias", l.attnProjB, D),
      sized(p + "ln_2.weight", l.ln2W, D), sized(p + "ln_2.bias", l.ln2B, D),
      sized(p + "mlp.c_fc.weight", l.fcW, F * D), sized(p + "mlp.c_fc.bias", l.fcB, F),
      sized(p + "mlp.c_proj.weight", l.mlpProjW, D * F), sized(p + "mlp.c_proj.bias", l.mlpProjB, D));
  });
  list.push(sized("ln_f.weight", w.lnfW, D), sized("ln_f.bias", w.lnfB, D), sized("classifier", w.classifier, V * D));
  return list;
}

export class Decoder {
  readonly config: DecoderConfig;
  private handle: Pointer | null;
  /** The weight arrays, referenced here so they outlive the handle that reads them. */
  readonly weightArrays: Float32Array[];

  constructor(config: DecoderConfig, w: DecoderWeights | GptDecoderWeights) {
    const list = weightList(config, w);
    const ptrs = new BigUint64Array(list.length);
    list.forEach((a, i) => { ptrs[i] = a ? BigInt(ptr(a)) : 0n; });
    const box = new BigUint64Array(1);
    check(lib().ane_decoder_create(configBytes(config), ptrs, list.length, box), "creating the decoder");
    this.handle = Number(box[0]) as Pointer;
    this.config = config;
    this.weightArrays = list.filter((a): a is Float32Array => a !== null);
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

  /** Fill a layer's KV cache for positions pos..pos+n-1 from channel-major k, v [KV, ld]. */
  writeKv(layer: number, pos: number, n: number, k: Float32Array, v: Float32Array, ld: number): void {
    const KV = this.config.nKvHeads * this.config.headDim;
    if (k.length < (KV - 1) * ld + n || v.length < (KV - 1) * ld + n) throw new RangeError(`Decoder.writeKv: k/v hold fewer than [${KV}, ${ld}] values`);
    check(lib().ane_decoder_write_kv(this.live(), layer, pos, n, k, v, ld), `writing the KV cache of layer ${layer}`);
  }

  /** Make the first `length` cached positions current (after writeKv for every layer). */
  setLength(length: number): void { check(lib().ane_decoder_set_length(this.live(), length), "setting the cache length"); }

  /** Positions held in the KV cache. */
  get length(): number { return lib().ane_decoder_length(this.live()); }

  /** Bytes of weights one decode step reads (every matrix once, the classifier too even when it
   *  is the embedding, one embedding row, norms and biases), in the decoder's storage. */
  weightBytesPerToken(): number { return Number(lib().ane_decoder_weight_bytes(this.live())); }

  close(): void {
    if (this.handle) lib().ane_decoder_free(this.handle);
    this.handle = null;
  }

  [Symbol.dispose](): void { this.close(); }
}

/** ane_sample: the next token from logits [vocab] (see ane.h for the exact rule); u in [0, 1). */
export function sampleToken(logits: Float32Array, allowed: Uint8Array | null, temperature: number, topK: number, topP: number,
                            u: number): number {
  if (allowed && allowed.length < logits.length) throw new RangeError(`sampleToken: allowed has ${allowed.length} entries for ${logits.length} logits`);
  const out = new Int32Array(1);
  check(lib().ane_sample(ptr(logits), logits.length, allowed ? ptr(allowed) : null, temperature, topK, topP, u, ptr(out)), "sampling a token");
  return out[0];
}
