// Plain types shared by the bun:ffi wrappers and their callers (no bun:ffi import here).

export type Numerics = "fp16" | "fp32";
export type DType = "fp16" | "fp32" | "int8" | "uint8" | "int32";

/** One finding of the MIL front end: where (1-based line:column), which rule of the chip profile, what. */
export interface Finding {
  severity: "error" | "warning";
  rule: string | null;
  line: number;
  column: number;
  message: string;
}

/** Weight blobs by name, e.g. key "@model_path/weights/w.bin". */
export type WeightMap = Map<string, Uint8Array> | Record<string, Uint8Array>;

/** Layout of one program input or output. shape has the MIL rank (e.g. [1,C,1,S]); rows of the last
 *  axis start every rowStrideBytes; a surface must be at least `bytes` long. */
export interface IoDesc {
  name: string;
  dtype: DType;
  shape: number[];
  rowStrideBytes: number;
  bytes: number;
}

/** Host wall-clock time of one eval, and the device's own time when it reports one. */
export interface EvalTiming {
  wallMs: number;
  hwMs: number | null;
}

/** Host arrays a tensor can be staged from. */
export type HostArray = Float32Array | Int32Array | Int8Array | Uint8Array;

// ane_dtype and ane_numerics values of ane.h.
export const DTYPE_CODES: Record<DType, number> = { fp16: 0, fp32: 1, int8: 2, uint8: 3, int32: 4 };
export const DTYPE_NAMES: DType[] = ["fp16", "fp32", "int8", "uint8", "int32"];
export const DTYPE_BYTES: Record<DType, number> = { fp16: 2, fp32: 4, int8: 1, uint8: 1, int32: 4 };
export const NUMERICS_CODES: Record<Numerics, number> = { fp16: 0, fp32: 1 };

/** ANE_QOS_DEFAULT of ane.h. */
export const QOS_DEFAULT = 21;

export function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
