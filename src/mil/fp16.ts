// fp32 -> fp16 conversion for constants and weight blobs. Float16Array does the rounding
// (IEEE round-to-nearest-even, overflow to infinity, gradual underflow), so no per-element
// bit twiddling is needed here.

/** Rounds every element to fp16 and returns the little-endian fp16 bytes.
 *  Throws when a value is not finite after rounding (|v| >= 65520, NaN, inf): such weights
 *  would silently poison every result. `what` names the tensor for the message. */
export function toFp16Bytes(data: Float32Array, what: string): Uint8Array {
  const half = new Float16Array(data);
  checkFinite(half, what, "fp16");
  return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
}

/** The exact fp32 bytes, after checking every value is finite. */
export function toFp32Bytes(data: Float32Array, what: string): Uint8Array {
  checkFinite(data, what, "fp32");
  const copy = new Float32Array(data);
  return new Uint8Array(copy.buffer);
}

/** The value v rounds to in `dtype` (exact in float64). */
export function roundTo(dtype: "fp16" | "fp32", v: number): number {
  return dtype === "fp16" ? Math.f16round(v) : Math.fround(v);
}

function checkFinite(a: Float16Array | Float32Array, what: string, dtype: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]))
      throw new Error(
        `${what}: element ${i} (${a[i]}) is not a finite ${dtype} value; ` +
          `fp16 holds magnitudes below 65520 — scale the tensor or keep it in fp32`,
      );
  }
}
