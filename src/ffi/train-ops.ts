// Typed wrappers of libane's host ops for training (ane.h, "host ops for training"): every
// per-element loop of a step runs in C; these functions only check sizes and pass pointers.
// Float32Array subarrays are fine everywhere (ptr() honours byteOffset).
import { ptr, type Pointer } from "bun:ffi";
import { lib, check } from "./library.ts";
import type { Surface } from "./backend.ts";
import { DTYPE_CODES, DTYPE_BYTES, type IoDesc } from "./types.ts";

const F32 = DTYPE_CODES.fp32;
const UINT16 = 16, UINT32 = 17;   // ANE_DTYPE_UINT16 / ANE_DTYPE_UINT32 (token files)

function need(what: string, a: { length: number }, n: number): void {
  if (a.length < n) throw new RangeError(`${what}: buffer has ${a.length} elements, needs ${n}`);
}

// ---------------------------------------------------------------- staging into surfaces

/** Copy a dense fp32 block src [rows, cols] (row stride srcStride elements, default cols) into a
 *  surface laid out as `io`, at channel `channel` and spatial offset `offset`, converting to
 *  io.dtype. With transpose, src is [cols, rows] and lands transposed (dst[r, c] = src[c, r]). */
export function stageBlock(surface: Surface, io: IoDesc, channel: number, offset: number, src: Float32Array,
  rows: number, cols: number, o?: { transpose?: boolean; srcStride?: number }): void {
  const es = DTYPE_BYTES[io.dtype], C = io.shape[1], W = io.shape[io.shape.length - 1];
  if (channel + rows > C || offset + cols > W)
    throw new RangeError(`stageBlock: block [${channel}+${rows}, ${offset}+${cols}] outside ${io.name} [${C}, ${W}]`);
  const base = surface.lock(false);
  try {
    const dst = (base + channel * io.rowStrideBytes + offset * es) as Pointer;
    if (o?.transpose) {
      const stride = o.srcStride ?? rows;
      need("stageBlock", src, (cols - 1) * stride + rows);
      // src is [cols, rows]: ane_transpose_2d(src rows = cols, src cols = rows)
      check(lib().ane_transpose_2d(ptr(src), F32, stride * 4, dst, DTYPE_CODES[io.dtype], io.rowStrideBytes, cols, rows),
        `staging ${io.name} (transposed)`);
    } else {
      const stride = o?.srcStride ?? cols;
      need("stageBlock", src, (rows - 1) * stride + cols);
      check(lib().ane_copy_2d(ptr(src), F32, stride * 4, dst, DTYPE_CODES[io.dtype], io.rowStrideBytes, rows, cols),
        `staging ${io.name}`);
    }
  } finally {
    surface.unlock();
  }
}

/** A block of a locked surface (base from Surface.lock) laid out as `io`, starting at channel
 *  `channel` and spatial offset `offset`: a matrix lands there natural ([rows, cols]) or
 *  transposed ([cols, rows]). */
export interface StageDest { base: number; io: IoDesc; channel: number; offset: number; transpose: boolean }
/** A dense fp32 matrix src [rows, cols] (row stride srcStride elements, default cols) and the
 *  blocks it is written to. */
export interface StageMatrix { src: Float32Array; rows: number; cols: number; srcStride?: number; dsts: StageDest[] }

// ane_stage_weight: src, src_stride_bytes, rows, cols (u64), n_dst, reserved (u32), then
// ANE_STAGE_MAX_DST ane_stage_dst: base, stride_bytes (u64), dtype, transpose (u32).
const STAGE_MAX_DST = 4, STAGE_DST_BYTES = 24, STAGE_WEIGHT_BYTES = 40 + STAGE_MAX_DST * STAGE_DST_BYTES;

/** Write every matrix to all of its blocks in one libane call (ane_stage_weights): each matrix is
 *  read once, and the whole list is one job for libane's threads. Converts to each io's dtype. */
export function stageWeights(mats: StageMatrix[]): void {
  if (mats.length === 0) return;
  const table = new DataView(new ArrayBuffer(mats.length * STAGE_WEIGHT_BYTES));
  mats.forEach((m, i) => {
    const stride = m.srcStride ?? m.cols;
    if (m.dsts.length > STAGE_MAX_DST) throw new RangeError(`stageWeights: ${m.dsts.length} destinations for one matrix; at most ${STAGE_MAX_DST}`);
    need("stageWeights", m.src, (m.rows - 1) * stride + m.cols);
    const at = i * STAGE_WEIGHT_BYTES;
    table.setBigUint64(at, BigInt(ptr(m.src)), true);
    table.setBigUint64(at + 8, BigInt(stride * 4), true);
    table.setBigUint64(at + 16, BigInt(m.rows), true);
    table.setBigUint64(at + 24, BigInt(m.cols), true);
    table.setUint32(at + 32, m.dsts.length, true);
    m.dsts.forEach((d, k) => {
      const { io } = d, C = io.shape[1], W = io.shape[io.shape.length - 1];
      const rows = d.transpose ? m.cols : m.rows, cols = d.transpose ? m.rows : m.cols;
      if (d.channel + rows > C || d.offset + cols > W)
        throw new RangeError(`stageWeights: block [${d.channel}+${rows}, ${d.offset}+${cols}] outside ${io.name} [${C}, ${W}]`);
      const dt = at + 40 + k * STAGE_DST_BYTES;
      table.setBigUint64(dt, BigInt(d.base + d.channel * io.rowStrideBytes + d.offset * DTYPE_BYTES[io.dtype]), true);
      table.setBigUint64(dt + 8, BigInt(io.rowStrideBytes), true);
      table.setUint32(dt + 16, DTYPE_CODES[io.dtype], true);
      table.setUint32(dt + 20, d.transpose ? 1 : 0, true);
    });
  });
  check(lib().ane_stage_weights(ptr(table), mats.length), `staging ${mats.length} weight matrices`);
}

/** Read channels [channel, channel+rows) x spatial [offset, offset+cols) of a surface laid out as io
 *  into a dense fp32 dst [rows, cols]. */
export function readBlock(surface: Surface, io: IoDesc, channel: number, offset: number, dst: Float32Array,
  rows: number, cols: number): void {
  const es = DTYPE_BYTES[io.dtype];
  need("readBlock", dst, rows * cols);
  const base = surface.lock(true);
  try {
    check(lib().ane_copy_2d((base + channel * io.rowStrideBytes + offset * es) as Pointer, DTYPE_CODES[io.dtype], io.rowStrideBytes,
      ptr(dst), F32, cols * 4, rows, cols), `reading ${io.name}`);
  } finally {
    surface.unlock();
  }
}

// ---------------------------------------------------------------- matmul

export const NO_TRANS = 0, TRANS = 1;

/** C[M,N] = alpha op(A) op(B) + beta C (row-major). async queues it on libane's worker: the buffers
 *  must stay untouched until asyncWait(). */
export function sgemm(ta: 0 | 1, tb: 0 | 1, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number, async = false): void {
  need("sgemm A", A, ta ? (K - 1) * lda + M : (M - 1) * lda + K);
  need("sgemm B", B, tb ? (N - 1) * ldb + K : (K - 1) * ldb + N);
  need("sgemm C", C, (M - 1) * ldc + N);
  const f = async ? lib().ane_sgemm_async : lib().ane_sgemm;
  check(f(ta, tb, M, N, K, alpha, ptr(A), lda, ptr(B), ldb, beta, ptr(C), ldc), `sgemm ${M}x${N}x${K}`);
}

/** Wait for queued matmuls; returns the milliseconds spent waiting. */
export function asyncWait(): number {
  const ns = new BigUint64Array(1);
  check(lib().ane_async_wait(ns), "waiting for queued matmuls");
  return Number(ns[0]) / 1e6;
}

// ---------------------------------------------------------------- layers

export function rmsnormFwd(x: Float32Array, w: Float32Array, y: Float32Array, invRms: Float32Array,
  groups: number, channels: number, seq: number, eps: number): void {
  need("rmsnorm x", x, groups * channels * seq); need("rmsnorm y", y, groups * channels * seq);
  need("rmsnorm w", w, channels); need("rmsnorm inv_rms", invRms, groups * seq);
  check(lib().ane_rmsnorm_fwd(ptr(x), ptr(w), ptr(y), ptr(invRms), groups, channels, seq, eps), "rmsnorm forward");
}

export function rmsnormBwd(x: Float32Array, w: Float32Array, invRms: Float32Array, dy: Float32Array, dx: Float32Array,
  dw: Float32Array, groups: number, channels: number, seq: number, accumulate: boolean): void {
  const n = groups * channels * seq;
  need("rmsnorm_bwd x", x, n); need("rmsnorm_bwd dy", dy, n); need("rmsnorm_bwd dx", dx, n); need("rmsnorm_bwd dw", dw, channels);
  check(lib().ane_rmsnorm_bwd(ptr(x), ptr(w), ptr(invRms), ptr(dy), ptr(dx), ptr(dw), groups, channels, seq, accumulate ? 1 : 0),
    "rmsnorm backward");
}

export function embeddingFwd(tokens: Int32Array, table: Float32Array, vocab: number, dim: number, out: Float32Array): void {
  need("embedding table", table, vocab * dim); need("embedding out", out, dim * tokens.length);
  check(lib().ane_embedding_fwd(ptr(tokens), tokens.length, ptr(table), vocab, dim, ptr(out)), "embedding forward");
}

export function embeddingBwd(tokens: Int32Array, dout: Float32Array, dtable: Float32Array, vocab: number, dim: number): void {
  need("embedding dtable", dtable, vocab * dim); need("embedding dout", dout, dim * tokens.length);
  check(lib().ane_embedding_bwd(ptr(tokens), tokens.length, ptr(dout), ptr(dtable), vocab, dim), "embedding backward");
}

export function swigluBwd(h1: Float32Array, h3: Float32Array, dg: Float32Array, dh1: Float32Array, dh3: Float32Array): void {
  const n = dg.length;
  need("swiglu h1", h1, n); need("swiglu h3", h3, n); need("swiglu dh1", dh1, n); need("swiglu dh3", dh3, n);
  check(lib().ane_swiglu_bwd(ptr(h1), ptr(h3), ptr(dg), ptr(dh1), ptr(dh3), n), "swiglu backward");
}

/** Backward of y = clip(x, -c, c) from the clipped y: dy zeroed where |y| >= c. */
export function clipBwd(y: Float32Array, dy: Float32Array, c: number): void {
  need("clip_bwd y", y, dy.length);
  check(lib().ane_clip_bwd(ptr(y), ptr(dy), dy.length, c), "clip backward");
}

export const ROPE_INTERLEAVED = 0, ROPE_ROTATE_HALF = 1;
export function rope(x: Float32Array, heads: number, headDim: number, seq: number, pos0: number, theta: number,
  style: 0 | 1, inverse: boolean): void {
  need("rope x", x, heads * headDim * seq);
  check(lib().ane_rope(ptr(x), heads, headDim, seq, pos0, theta, style, inverse ? 1 : 0), "rope");
}

/** Sum over positions of -log softmax(target); dlogits (may be logits itself) gets
 *  (softmax - onehot) * gradScale. Targets of -1 are ignored. */
export function crossEntropy(logits: Float32Array, vocab: number, seq: number, targets: Int32Array, gradScale: number,
  dlogits: Float32Array | null): number {
  need("cross_entropy logits", logits, vocab * seq); need("cross_entropy targets", targets, seq);
  if (dlogits) need("cross_entropy dlogits", dlogits, vocab * seq);
  const loss = new Float64Array(1);
  check(lib().ane_cross_entropy(ptr(logits), vocab, seq, ptr(targets), gradScale, dlogits ? ptr(dlogits) : null, ptr(loss)),
    "cross entropy");
  return loss[0];
}

// ---------------------------------------------------------------- rows and tokens

export function gatherRows(src: Float32Array, rowLen: number, ids: Int32Array, dst: Float32Array): void {
  need("gather dst", dst, ids.length * rowLen);
  if (ids.length) check(lib().ane_gather_rows(ptr(src), rowLen, ptr(ids), ids.length, ptr(dst)), "gathering rows");
}

export function scatterAddRows(src: Float32Array, rowLen: number, ids: Int32Array, dst: Float32Array): void {
  need("scatter src", src, ids.length * rowLen);
  if (ids.length) check(lib().ane_scatter_add_rows(ptr(src), rowLen, ptr(ids), ids.length, ptr(dst)), "scatter-adding rows");
}

export type TokenArray = Uint16Array | Uint32Array;
const tokenDtype = (t: TokenArray) => (t instanceof Uint16Array ? UINT16 : UINT32);

/** Count ids into counts [vocab] (accumulates). An id >= vocab throws, naming its element offset. */
export function tokenHistogram(tokens: TokenArray, vocab: number, counts: BigUint64Array, what: string): void {
  need("token histogram counts", counts, vocab);
  if (tokens.length) check(lib().ane_token_histogram(ptr(tokens), tokenDtype(tokens), tokens.length, vocab, ptr(counts), null), what);
}

/** Widen token ids to int32, through `map` (vocabulary compaction) when given. */
export function tokensToI32(tokens: TokenArray, vocab: number, map: Int32Array | null, out: Int32Array, what: string): void {
  need("tokens out", out, tokens.length);
  if (tokens.length)
    check(lib().ane_tokens_to_i32(ptr(tokens), tokenDtype(tokens), tokens.length, map ? ptr(map) : null, vocab, ptr(out)), what);
}

// ---------------------------------------------------------------- flat vectors

export function sumSquares(x: Float32Array): number {
  const out = new Float64Array(1);
  check(lib().ane_sum_squares(ptr(x), x.length, ptr(out)), "sum of squares");
  return out[0];
}

export function allFinite(x: Float32Array): boolean {
  return lib().ane_all_finite(ptr(x), x.length) === 1;
}

export function axpy(y: Float32Array, x: Float32Array, a: number): void {
  need("axpy x", x, y.length);
  check(lib().ane_axpy(ptr(y), ptr(x), y.length, a), "axpy");
}

export function scale(x: Float32Array, s: number): void {
  check(lib().ane_scale(ptr(x), x.length, s), "scale");
}

export function fillNormal(dst: Float32Array, seed: number, mean: number, std: number): void {
  if (dst.length) check(lib().ane_fill_normal(ptr(dst), dst.length, seed, mean, std), "normal init");
}

export function adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, o: {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number; gradScale: number;
}): void {
  need("adamw g", g, p.length); need("adamw m", m, p.length); need("adamw v", v, p.length);
  if (p.length)
    check(lib().ane_adamw(ptr(p), ptr(g), ptr(m), ptr(v), p.length, o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.step, o.gradScale),
      "adamw");
}

/** Finiteness and sum of squares of a gradient in one pass (sumSquares' exact value). */
export function gradStats(g: Float32Array): { finite: boolean; sumSquares: number } {
  if (!g.length) return { finite: true, sumSquares: 0 };
  const finite = new Int32Array(1), sumsq = new Float64Array(1);
  check(lib().ane_grad_stats(ptr(g), g.length, ptr(finite), ptr(sumsq)), "gradient stats");
  return { finite: finite[0] === 1, sumSquares: sumsq[0] };
}

