/**
 * What every training kernel is built from: ONE packed input [1, C, 1, W] in which activations,
 * weights and biases sit side by side along the spatial axis (the dynamic-weight pattern of
 * reference/ane-maderix.md §3.5, docs/training.md), cut into named segments inside the program.
 * The transformer (transformer.ts) and GPT (gpt.ts) kernels both use this builder.
 */
import { MilBuilder, type Dialect, type Value } from "../mil/index.ts";

export type KernelDType = "fp16" | "fp32";

/** A rectangle of the packed input: channels [channel, channel+channels) x spatial [offset, offset+width). */
export interface Segment { name: string; channel: number; channels: number; offset: number; width: number }
export interface KernelOutput { name: string; channels: number }

export interface PackedKernel<Name extends string> {
  name: Name;
  text: string;
  weights: Map<string, Uint8Array>;
  /** The packed input's channels and spatial width. */
  channels: number;
  width: number;
  segments: Segment[];
  /** Outputs in result-tuple order, each [1, channels, 1, S]. */
  outputs: KernelOutput[];
  /** Biases in the "bias" segment: name -> first column and length (see PackedKernelBuilder.bias). */
  biases: Map<string, { column: number; length: number }>;
}

export interface KernelOptions {
  seq: number;
  dtype: KernelDType;
  dialect?: Dialect;
  /** Activation clipping: clamp the residual stream each layer writes to [-actClip, actClip]
   *  (keeps fp16 activations below overflow); 0 or absent = off. */
  actClip?: number;
}

/** Additive mask value for future positions: fp16's lowest finite number, as on the device. */
export const MASK = -65504;
/** Segment widths are padded to this many columns so packed rows stay 64-byte aligned (fp16). */
export const ALIGN = 32;

export const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** Segments over all `channels`, laid out left to right from spatial offset `start`. */
export function leftToRight(channels: number, parts: Array<[string, number]>, start = 0): Segment[] {
  let offset = start;
  return parts.map(([name, width]) => { const s = { name, channel: 0, channels, offset, width }; offset += width; return s; });
}

/** [1, 1, S, S]: 0 where position j <= i may be attended to, MASK where it lies in the future. */
export function causalMask(S: number): Float32Array {
  const m = new Float32Array(S * S);
  for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) m[i * S + j] = MASK;
  return m;
}

/** One kernel under construction: a builder, its packed input, and helpers to cut blocks out. */
export class PackedKernelBuilder<Name extends string> {
  readonly b: MilBuilder;
  readonly x: Value;
  readonly segments: Segment[];
  readonly biases = new Map<string, { column: number; length: number }>();
  readonly width: number;
  private readonly outs: KernelOutput[] = [];

  /**
   * segments: where each named block sits. biasLengths: biases (name, length N) packed after the
   * segments in a "bias" segment across all channels, bias b[N] as a [C, ceil(N/C)] block
   * (b[c·k + j] at channel c, column j, zero padded), padded to ALIGN columns.
   */
  constructor(readonly name: Name, readonly o: KernelOptions, readonly channels: number, segments: Segment[],
              biasLengths: Array<[string, number]> = []) {
    this.segments = [...segments];
    let end = Math.max(0, ...segments.map((s) => s.offset + s.width));
    if (biasLengths.length) {
      let col = 0;
      for (const [n, len] of biasLengths) { this.biases.set(n, { column: col, length: len }); col += Math.ceil(len / channels); }
      const w = roundUp(col, ALIGN);
      this.segments.push({ name: "bias", channel: 0, channels, offset: end, width: w });
      end += w;
    }
    this.width = end;
    this.b = new MilBuilder({ dialect: o.dialect ?? "ios18" });
    this.x = this.b.input("x", o.dtype, [1, channels, 1, this.width]);
  }

  seg(name: string): Segment {
    const s = this.segments.find((q) => q.name === name);
    if (!s) throw new Error(`kernel ${this.name}: no segment ${name}`);
    return s;
  }

  /** A segment viewed as [1, 1, channels, width]. */
  block(name: string): Value { return this.blocks(name); }

  /** Segments that tile a rectangle of the input (stacked on channels or side by side), viewed
   *  as one [1, 1, channels, width] block: one matmul over their concatenation. */
  blocks(...names: string[]): Value {
    const ss = names.map((n) => this.seg(n));
    const c0 = Math.min(...ss.map((s) => s.channel)), c1 = Math.max(...ss.map((s) => s.channel + s.channels));
    const o0 = Math.min(...ss.map((s) => s.offset)), o1 = Math.max(...ss.map((s) => s.offset + s.width));
    if (ss.reduce((a, s) => a + s.channels * s.width, 0) !== (c1 - c0) * (o1 - o0))
      throw new Error(`kernel ${this.name}: segments ${names.join(", ")} do not tile a rectangle`);
    const v = this.b.sliceBySize(this.x, [0, c0, 0, o0], [1, c1 - c0, 1, o1 - o0]);
    return this.b.reshape(v, [1, 1, c1 - c0, o1 - o0]);
  }

  /** A bias as [1, 1, N, 1] (broadcasts over positions). */
  bias(name: string): Value {
    const seg = this.seg("bias"), bi = this.biases.get(name), C = this.channels;
    if (!bi) throw new Error(`kernel ${this.name}: no bias ${name}`);
    const k = Math.ceil(bi.length / C);
    const v = this.b.sliceBySize(this.x, [0, 0, 0, seg.offset + bi.column], [1, C, 1, k]);
    const flat = this.b.reshape(v, [1, 1, C * k, 1]);
    return C * k === bi.length ? flat : this.b.sliceBySize(flat, [0, 0, 0, 0], [1, 1, bi.length, 1]);
  }

  /** A column `column` of channels [0, n) of a segment, as [1, 1, n, 1] (per-channel weights such as q/k norms). */
  column(name: string, column: number, n: number): Value {
    const s = this.seg(name);
    return this.b.reshape(this.b.sliceBySize(this.x, [0, 0, 0, s.offset + column], [1, n, 1, 1]), [1, 1, n, 1]);
  }

  /** y[cols(m), S] = mᵀ · a for m [1,1,R,cols] and a [1,1,R,S]. */
  tmm(m: Value, a: Value): Value { return this.b.matmul(m, a, { transposeX: true }); }

  scalar(v: number): Value { return this.b.constFloat(v, this.o.dtype); }

  /** The causal mask constant [1, 1, S, S]. */
  mask(): Value { return this.b.weight("causal_mask", this.o.dtype, [1, 1, this.o.seq, this.o.seq], causalMask(this.o.seq)); }

  /** Name outputs o<i>_<name> so their alphabetical order (how the device binds them) is tuple order. */
  out(name: string, v: Value, channels: number): void {
    this.b.output(this.b.reshape(v, [1, channels, 1, this.o.seq]), `o${this.outs.length}_${name}`);
    this.outs.push({ name, channels });
  }

  done(): PackedKernel<Name> {
    const { text, weights } = this.b.build();
    return { name: this.name, text, weights, channels: this.channels, width: this.width, segments: this.segments,
             outputs: this.outs, biases: this.biases };
  }
}
