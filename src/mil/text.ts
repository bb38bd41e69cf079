// How types and literals are spelled in each dialect.
//
//   ios18 (program 1.3):  fp16 s = const()[name = string("s"), val = fp16(0.125)];
//   ios16 (program 1.0):  tensor<fp16, []> s = const()[name = tensor<string, []>("s"), val = tensor<fp16, []>(0.125)];
// Tensors are spelled the same in both: tensor<int32, [4]>([0, 0, 0, 256]) (values flattened,
// row-major). Floats are printed as the exact decimal of their fp16/fp32 value, so the text
// parses back to the very same number.

import type { Dialect, MilDType } from "./types.ts";
import type { BlobChunk } from "./blob.ts";

/** A constant's payload. Numbers are already rounded to their dtype. */
export type Literal =
  | { kind: "numbers"; dtype: "fp16" | "fp32" | "int8" | "uint8" | "int32"; shape: number[]; values: number[] }
  | { kind: "bools"; shape: number[]; values: boolean[] }
  | { kind: "string"; value: string }
  | { kind: "blob"; dtype: "fp16" | "fp32" | "int8" | "uint8"; shape: number[]; file: string; chunk: BlobChunk };

export const BUILD_INFO_IOS18 =
  '[buildInfo = dict<string, string>({{"coremlc-component-MIL", "3510.2.1"}, {"coremlc-version", "3505.4.1"}, ' +
  '{"coremltools-component-milinternal", ""}, {"coremltools-version", "9.0"}})]';
// The form the M1/M2 pull request (maderix/ANE #6) compiled with: verbose dict types.
export const BUILD_INFO_IOS16 =
  '[buildInfo = dict<tensor<string, []>, tensor<string, []>>({{"coremlc-version", "3505.4.1"}})]';

export function typeText(dialect: Dialect, dtype: MilDType | "uint64", shape: readonly number[]): string {
  if (shape.length === 0 && dialect === "ios18") return dtype;
  return `tensor<${dtype}, [${shape.join(", ")}]>`;
}

function scalarText(dialect: Dialect, dtype: MilDType | "uint64", body: string): string {
  return dialect === "ios18" ? `${dtype}(${body})` : `tensor<${dtype}, []>(${body})`;
}

export function stringText(dialect: Dialect, s: string): string {
  return scalarText(dialect, "string", `"${s}"`);
}

/** Exact decimal of a float that is already representable in its dtype; always has '.' or 'e'
 *  so no parser can take it for an integer. */
export function floatText(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`internal: non-finite float ${v} reached the printer`);
  if (Object.is(v, -0)) return "-0.0";
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

function valueText(dtype: string, v: number | boolean): string {
  if (typeof v === "boolean") return v ? "true" : "false";
  return dtype === "fp16" || dtype === "fp32" ? floatText(v) : String(v);
}

/** `val` of a const, or an inline attribute of a constexpr op. blobOffset: the BLOBFILE offset. */
export function literalText(dialect: Dialect, lit: Literal, blobOffset = 64): string {
  switch (lit.kind) {
    case "string":
      return stringText(dialect, lit.value);
    case "blob": {
      const path = stringText(dialect, lit.file);
      const offset = scalarText(dialect, "uint64", String(blobOffset));
      return `${typeText(dialect, lit.dtype, lit.shape)}(BLOBFILE(path = ${path}, offset = ${offset}))`;
    }
    case "numbers":
    case "bools": {
      const dtype = lit.kind === "bools" ? "bool" : lit.dtype;
      const values = lit.values as (number | boolean)[];
      if (lit.shape.length === 0) return scalarText(dialect, dtype, valueText(dtype, values[0]));
      return `${typeText(dialect, dtype, lit.shape)}([${values.map((v) => valueText(dtype, v)).join(", ")}])`;
    }
  }
}
