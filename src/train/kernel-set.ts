/**
 * A model's training kernels on a backend: compiled and loaded once, one packed input surface
 * per binding key (a layer's weights stay staged in its own surface between optimizer steps),
 * one set of output surfaces per kernel shared by every binding, and one request per key (as
 * on the device: one _ANERequest per binding set, built once, reused). Also the step's timing
 * breakdown. The Llama/Qwen3 pipeline (pipeline.ts) and the GPT one (gpt-pipeline.ts) both run
 * their kernels through it.
 *
 * Outputs reach the host through outputs(key) and collect(key): dense [C, S] fp32 arrays. Where
 * the surfaces are host memory in that very layout (the cpu backend in fp32 numerics, rows of
 * S floats) the arrays are the output surfaces themselves and collect() does nothing: a step
 * then copies no activation out of a kernel. Elsewhere (the device, fp16 surfaces) collect()
 * converts into host arrays. A binding that keeps its outputs (the forward kernels: the
 * backward reads them) gets its own output surfaces in the first case and its own host arrays
 * in the second; the others share the kernel's.
 */
import { chipDialect, type Backend, type IoDesc, type Program, type Request, type Surface } from "../ffi/index.ts";
import * as ops from "../ffi/train-ops.ts";
import type { Dialect } from "../mil/index.ts";
import type { PackedKernel, Segment } from "../kernels/packed.ts";

export interface StepTimings { kernelMs: Record<string, number>; hostMs: Record<string, number>; dwWaitMs: number; stageMs: number }

/** A matrix src [rows, cols] (row stride srcStride, default cols) and the blocks of kernel input
 *  surfaces it goes to: at channel `channel`, spatial offset `offset` of the kernel's input under
 *  `key`, natural ([rows, cols]) or transposed ([cols, rows]). Built by KernelSet.segments,
 *  column and bias; written by KernelSet.stageWeights. */
export interface WeightCopy<Name extends string> {
  src: Float32Array; rows: number; cols: number; srcStride?: number;
  to: { name: Name; key: string; channel: number; offset: number; transpose: boolean }[];
}

export function emptyTimings(): StepTimings { return { kernelMs: {}, hostMs: {}, dwWaitMs: 0, stageMs: 0 }; }

/** The MIL dialect to build kernels in: the one the chip's compiler takes (program(1.0)/ios16 on M1/M2). */
export function kernelDialect(backend: Backend, chip: string | undefined): Dialect {
  return chipDialect(chip ?? backend.defaultChip());
}

interface CompiledKernel<Name extends string> {
  spec: PackedKernel<Name>; program: Program; input: IoDesc; outputs: IoDesc[];
  /** The output surfaces and host arrays of bindings that do not keep their own. */
  shared: OutputSet;
  /** Outputs are read in place (see the class comment). */
  inPlace: boolean;
}

interface OutputSet { surfaces: Surface[]; arrays: Float32Array[] }

interface Binding<Name extends string> { name: Name; input: Surface; request: Request; out: OutputSet }

export class KernelSet<Name extends string> implements Disposable {
  readonly kernels = {} as Record<Name, CompiledKernel<Name>>;
  readonly compileMs: number;
  timings: StepTimings = emptyTimings();
  private readonly bindings = new Map<string, Binding<Name>>();
  private readonly dwAsync: boolean;

  constructor(private readonly backend: Backend, specs: Record<Name, PackedKernel<Name>>, readonly seq: number,
              o: { chip?: string; numerics: "fp16" | "fp32" }) {
    this.dwAsync = backend.kind !== "cpu";
    const t0 = performance.now();
    try {
      for (const name of Object.keys(specs) as Name[]) {
        const spec = specs[name];
        const program = backend.compile(spec.text, { weights: spec.weights, chip: o.chip, numerics: o.numerics });
        const inPlace = backend.kind === "cpu" && program.outputs.every((io) => io.dtype === "fp32" && io.rowStrideBytes === seq * 4);
        this.kernels[name] = { spec, program, input: program.inputs[0], outputs: program.outputs, shared: { surfaces: [], arrays: [] }, inPlace };
        program.load();
        this.kernels[name].shared = this.outputSet(name);
      }
    } catch (e) {
      this.close();
      throw e;
    }
    this.compileMs = performance.now() - t0;
  }

  /** Output surfaces for one more binding of `name`, and the arrays the host reads them from. */
  private outputSet(name: Name): OutputSet {
    const k = this.kernels[name];
    // Every output surface of a program gets the size of its largest output: on the device,
    // multi-output programs need uniform surface sizes (reference/ane-ecosystem.md §4, 0x1d).
    const bytes = Math.max(...k.outputs.map((io) => io.bytes));
    const surfaces = k.outputs.map(() => this.backend.createSurface(bytes));
    const floats = (io: IoDesc) => io.shape[1] * this.seq;
    const arrays = k.outputs.map((io, i) => (k.inPlace ? surfaces[i].view(floats(io)) : new Float32Array(floats(io))));
    return { surfaces, arrays };
  }

  /** A packed input surface for `name` under `key` (e.g. "ffn_fwd/3"), bound with the kernel's
   *  outputs; with `keepOutputs`, with outputs of its own that stay as they are until the next
   *  eval under this key (else until the next eval of the kernel under any key). */
  bind(name: Name, key: string, keepOutputs = false): void {
    const k = this.kernels[name];
    const input = this.backend.createSurface(k.input.bytes);
    let out = k.shared;
    if (keepOutputs && k.inPlace) out = this.outputSet(name);
    else if (keepOutputs) out = { surfaces: k.shared.surfaces, arrays: k.outputs.map((io) => new Float32Array(io.shape[1] * this.seq)) };
    this.bindings.set(key, { name, input, request: k.program.request([input], out.surfaces), out });
  }

  /** Where the outputs of the eval under `key` are, after collect(key): one dense [C, S] array each. */
  outputs(key: string): Float32Array[] {
    return this.binding(key).out.arrays;
  }

  /** Bring the outputs of the eval under `key` to outputs(key) (nothing to do where they are read in place). */
  collect(key: string): void {
    const b = this.binding(key), k = this.kernels[b.name];
    if (k.inPlace) return;
    const t0 = performance.now();
    k.outputs.forEach((io, i) => ops.readBlock(b.out.surfaces[i], io, 0, 0, b.out.arrays[i], io.shape[1], this.seq));
    this.timings.stageMs += performance.now() - t0;
  }

  private binding(key: string): Binding<Name> {
    const b = this.bindings.get(key);
    if (!b) throw new Error(`no kernel is bound under "${key}"`);
    return b;
  }

  segment(name: Name, segment: string): Segment {
    const s = this.kernels[name].spec.segments.find((x) => x.name === segment);
    if (!s) throw new Error(`kernel ${name} has no segment ${segment}`);
    return s;
  }

  /** Copy src [channels, width] into a whole segment (activations; weights go through stageWeights). */
  stage(name: Name, key: string, segment: string, src: Float32Array): void {
    const s = this.segment(name, segment);
    const t0 = performance.now();
    ops.stageBlock(this.binding(key).input, this.kernels[name].input, s.channel, s.offset, src, s.channels, s.width);
    this.timings.stageMs += performance.now() - t0;
  }

  /** A matrix src [rows, cols] into each of the segments `to` (for stageWeights): natural (the
   *  segment's channels [channel, channel + rows) hold src's rows) or transposed (its channels
   *  [channel, channel + cols) hold src's columns). `channel` defaults to 0, and then the matrix
   *  must fill the segment; either way its other side must equal the segment's width. */
  segments(src: Float32Array, rows: number, cols: number,
           ...to: { name: Name; key: string; segment: string; transpose?: boolean; channel?: number }[]): WeightCopy<Name> {
    return {
      src, rows, cols,
      to: to.map(({ name, key, segment, transpose = false, channel }) => {
        const s = this.segment(name, segment), n = transpose ? cols : rows, width = transpose ? rows : cols;
        const fits = channel === undefined ? n === s.channels : channel >= 0 && channel + n <= s.channels;
        if (!fits || width !== s.width)
          throw new Error(`${name}.${segment} [${s.channels}, ${s.width}] cannot hold a [${rows}, ${cols}] matrix ${transpose ? "transposed" : "natural"}` +
            (channel === undefined ? "" : ` from channel ${channel}`));
        return { name, key, channel: s.channel + (channel ?? 0), offset: s.offset, transpose };
      }),
    };
  }

  /** A vector of `rows` values into column `column` of a segment (one value per channel). For stageWeights. */
  column(name: Name, key: string, segment: string, column: number, src: Float32Array, rows: number): WeightCopy<Name> {
    const s = this.segment(name, segment);
    return { src, rows, cols: 1, srcStride: 1, to: [{ name, key, channel: s.channel, offset: s.offset + column, transpose: false }] };
  }

  /** A bias into its columns of the kernel's "bias" segment, as a [C, k] block (zero padded). For stageWeights. */
  bias(name: Name, key: string, bias: string, src: Float32Array): WeightCopy<Name> {
    const k = this.kernels[name], s = this.segment(name, "bias"), bi = k.spec.biases.get(bias);
    if (!bi) throw new Error(`kernel ${name} has no bias ${bias}`);
    const C = k.spec.channels, cols = Math.ceil(bi.length / C);
    let block = src;
    if (C * cols !== bi.length) { block = new Float32Array(C * cols); block.set(src.subarray(0, bi.length)); }
    return { src: block, rows: C, cols, to: [{ name, key, channel: 0, offset: s.offset + bi.column, transpose: false }] };
  }

  /**
   * Write weights into the per-key input surfaces in one libane call (ane_stage_weights): each
   * source is read once for all its destinations, and all of them, every layer's, are one job
   * for libane's threads. Each surface involved is locked once around the call.
   */
  stageWeights(copies: WeightCopy<Name>[]): void {
    const t0 = performance.now();
    const bases = new Map<string, number>();
    try {
      for (const c of copies) for (const d of c.to) if (!bases.has(d.key)) bases.set(d.key, this.binding(d.key).input.lock(false));
      ops.stageWeights(copies.map((c) => ({
        src: c.src, rows: c.rows, cols: c.cols, srcStride: c.srcStride,
        dsts: c.to.map((d) => ({ base: bases.get(d.key)!, io: this.kernels[d.name].input, channel: d.channel, offset: d.offset, transpose: d.transpose })),
      })));
    } finally {
      for (const key of bases.keys()) this.binding(key).input.unlock();
    }
    this.timings.stageMs += performance.now() - t0;
  }

  eval(name: Name, key: string): void {
    const t = this.binding(key).request.eval();
    this.timings.kernelMs[name] = (this.timings.kernelMs[name] ?? 0) + t.wallMs;
  }

  /** Copy output i of the last eval under `key` ([C, S]) into dst: for outputs that must outlive
   *  the next eval of their kernel (the backward's dq, dk, dv, read by queued dW matmuls). */
  read(key: string, i: number, dst: Float32Array): void {
    const b = this.binding(key), io = this.kernels[b.name].outputs[i];
    const t0 = performance.now();
    ops.readBlock(b.out.surfaces[i], io, 0, 0, dst, io.shape[1], this.seq);
    this.timings.stageMs += performance.now() - t0;
  }

  /**
   * A weight-gradient matmul C[M,N] = alpha A[M,K] · B[N,K]ᵀ + beta C: queued on libane's
   * background thread while the device evaluates the next kernel, or, on the cpu backend, run in
   * place, where the kernels already use every core and a third thread only takes them back
   * (Stories110M, seq 256, 2 cores: 3.1 s/step queued, 2.8 s in place). The caller waits with
   * ops.asyncWait before reading C or reusing A and B.
   */
  dW(M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
     beta: number, C: Float32Array, ldc: number): void {
    if (this.dwAsync) ops.sgemm(0, 1, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, true);
    else this.host("dW", () => ops.sgemm(0, 1, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
  }

  /** Run a host op, adding its time to the breakdown under `what`. */
  host<T>(what: string, f: () => T): T {
    const t0 = performance.now();
    const r = f();
    this.timings.hostMs[what] = (this.timings.hostMs[what] ?? 0) + performance.now() - t0;
    return r;
  }

  [Symbol.dispose](): void { this.close(); }

  /** Frees every surface and program. Arrays from outputs() may be views of those surfaces:
   *  the owner must not touch them afterwards. */
  close(): void {
    for (const b of this.bindings.values()) { b.request.free(); b.input.release(); }
    for (const k of Object.values(this.kernels) as CompiledKernel<Name>[]) {
      for (const s of k.shared.surfaces) s.release();
      k.program.free();
    }
    for (const b of this.bindings.values()) for (const s of b.out.surfaces) s.release();
    this.bindings.clear();
  }
}
