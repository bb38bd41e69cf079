// Host helpers of libane that tools need on plain arrays: dtype conversion and seeded random fill.
import { ptr } from "bun:ffi";
import { lib, check } from "./library.ts";
import { DTYPE_CODES, type HostArray } from "./types.ts";

/** fp16 bit patterns -> fp32, converted in C (ane_copy_2d). */
export function fp16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  if (bits.length > 0) {
    check(lib().ane_copy_2d(ptr(bits), DTYPE_CODES.fp16, bits.byteLength, ptr(out), DTYPE_CODES.fp32, out.byteLength, 1, bits.length),
      `converting ${bits.length} fp16 values to fp32`);
  }
  return out;
}

/** fp32 -> fp16 bit patterns with the ANE's rounding (nearest even, overflow to inf, subnormals flushed). */
export function float32ToFp16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  if (values.length > 0) {
    check(lib().ane_copy_2d(ptr(values), DTYPE_CODES.fp32, values.byteLength, ptr(out), DTYPE_CODES.fp16, out.byteLength, 1, values.length),
      `converting ${values.length} fp32 values to fp16`);
  }
  return out;
}

/** Fills `dst` with uniform values in [lo, hi) from libane's seeded generator (same on every platform). */
export function fillUniform(dst: HostArray, seed: number, lo = -1, hi = 1): void {
  if (dst.length === 0) return;
  const dtype = dst instanceof Float32Array ? DTYPE_CODES.fp32 : dst instanceof Int32Array ? DTYPE_CODES.int32
    : dst instanceof Int8Array ? DTYPE_CODES.int8 : DTYPE_CODES.uint8;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`fillUniform: seed must be a non-negative integer, got ${seed}`);
  check(lib().ane_fill_uniform(ptr(dst), dtype, dst.length, seed, lo, hi), `filling ${dst.length} random values`);
}
