// Typed wrappers of libane's host ops for the GPT family (ane.h, "host ops for the GPT family"):
// LayerNorm with bias, GELU (tanh form), bias gradients. Activations are channel-major [C, S].
import { ptr } from "bun:ffi";
import { lib, check } from "./library.ts";

function need(what: string, a: { length: number }, n: number): void {
  if (a.length < n) throw new RangeError(`${what}: buffer has ${a.length} elements, needs ${n}`);
}

/** y = (x - mean) * rstd * w + b over the C channels of each position; mean, rstd [S] are saved. */
export function layernormFwd(x: Float32Array, w: Float32Array, b: Float32Array | null, y: Float32Array,
  mean: Float32Array | null, rstd: Float32Array | null, channels: number, seq: number, eps: number): void {
  need("layernorm x", x, channels * seq); need("layernorm y", y, channels * seq); need("layernorm w", w, channels);
  if (b) need("layernorm b", b, channels);
  if (mean) need("layernorm mean", mean, seq);
  if (rstd) need("layernorm rstd", rstd, seq);
  check(lib().ane_layernorm_fwd(ptr(x), ptr(w), b ? ptr(b) : null, ptr(y), mean ? ptr(mean) : null, rstd ? ptr(rstd) : null,
    channels, seq, eps), "layernorm forward");
}

/** Backward of layernormFwd: dx overwritten (or accumulated), dw and db accumulate. */
export function layernormBwd(x: Float32Array, w: Float32Array, mean: Float32Array, rstd: Float32Array, dy: Float32Array,
  dx: Float32Array, dw: Float32Array, db: Float32Array, channels: number, seq: number, accumulate: boolean): void {
  const n = channels * seq;
  need("layernorm_bwd x", x, n); need("layernorm_bwd dy", dy, n); need("layernorm_bwd dx", dx, n);
  need("layernorm_bwd w", w, channels); need("layernorm_bwd dw", dw, channels); need("layernorm_bwd db", db, channels);
  need("layernorm_bwd mean", mean, seq); need("layernorm_bwd rstd", rstd, seq);
  check(lib().ane_layernorm_bwd(ptr(x), ptr(w), ptr(mean), ptr(rstd), ptr(dy), ptr(dx), ptr(dw), ptr(db), channels, seq,
    accumulate ? 1 : 0), "layernorm backward");
}

/** db[c] += sum over positions of dy[c, s]. */
export function biasGrad(dy: Float32Array, db: Float32Array, channels: number, seq: number): void {
  need("bias_grad dy", dy, channels * seq); need("bias_grad db", db, channels);
  check(lib().ane_bias_grad(ptr(dy), ptr(db), channels, seq), "bias gradient");
}

export function geluTanhFwd(h: Float32Array, g: Float32Array): void {
  need("gelu g", g, h.length);
  if (h.length) check(lib().ane_gelu_tanh_fwd(ptr(h), ptr(g), h.length), "gelu forward");
}

/** dh = dg * gelu'(h) (tanh form); dh may be dg itself. */
export function geluTanhBwd(h: Float32Array, dg: Float32Array, dh: Float32Array): void {
  need("gelu_bwd dg", dg, h.length); need("gelu_bwd dh", dh, h.length);
  if (h.length) check(lib().ane_gelu_tanh_bwd(ptr(h), ptr(dg), ptr(dh), h.length), "gelu backward");
}
