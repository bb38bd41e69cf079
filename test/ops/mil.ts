// mil.ts — tiny helpers for writing MIL text by hand in the tests, in the program(1.3)/ios18
// form of reference/ane-maderix.md §3.1. Deliberately independent of src/mil (the builder
// under test elsewhere): these are string templates, nothing more.

export type FloatDType = "fp16" | "fp32";

/** "tensor<fp16, [1, 64, 1, 32]>" */
export const tt = (dtype: string, shape: readonly number[]) => `tensor<${dtype}, [${shape.join(", ")}]>`;

/** A float literal the parser reads back exactly: shortest round-trip decimal, always with a
 *  '.' or an exponent so it is never mistaken for an integer. */
export function fmt(v: number): string {
  const s = String(v);
  return /[.eE]|Infinity|NaN/.test(s) ? s : `${s}.0`;
}

const HEADER =
  'program(1.3)\n[buildInfo = dict<string, string>({{"coremlc-component-MIL", "3510.2.1"}, ' +
  '{"coremlc-version", "3505.4.1"}, {"coremltools-component-milinternal", ""}, {"coremltools-version", "9.0"}})]\n{\n';

export interface MilInput { name: string; dtype: string; shape: readonly number[] }

/** A whole program: one function `main` with the given parameters, statements and result tuple.
 *  Statement i of `body` is on line 5 + i (the header takes lines 1-4). */
export function program(inputs: readonly MilInput[], body: readonly string[], outputs: readonly string[]): string {
  const params = inputs.map((x) => `${tt(x.dtype, x.shape)} ${x.name}`).join(", ");
  return `${HEADER}    func main<ios18>(${params}) {\n${body.map((s) => `        ${s}\n`).join("")}    } -> (${outputs.join(", ")});\n}\n`;
}
/** The line number program() gives body statement i (0-based). */
export const bodyLine = (i: number) => 5 + i;

const named = (name: string) => `[name=string("${name}")]`;

export const constInts = (name: string, v: readonly number[]) =>
  `tensor<int32, [${v.length}]> ${name} = const()[name=string("${name}"), val=tensor<int32, [${v.length}]>([${v.join(", ")}])];`;
export const constInt = (name: string, v: number) => `int32 ${name} = const()[name=string("${name}"), val=int32(${v})];`;
export const constBool = (name: string, v: boolean) => `bool ${name} = const()[name=string("${name}"), val=bool(${v})];`;
export const constString = (name: string, v: string) => `string ${name} = const()[name=string("${name}"), val=string("${v}")];`;
export const constScalar = (name: string, dtype: string, v: number) =>
  `${dtype} ${name} = const()[name=string("${name}"), val=${dtype}(${dtype.startsWith("fp") ? fmt(v) : v})];`;
export const constTensor = (name: string, dtype: string, shape: readonly number[], data: ArrayLike<number>) =>
  `${tt(dtype, shape)} ${name} = const()[name=string("${name}"), val=${tt(dtype, shape)}([${Array.from(data, (v) => (dtype.startsWith("fp") ? fmt(v) : String(v))).join(", ")}])];`;

/** `tensor<T, shape> out = op(args)[name=string("out")];` with args given as [name, value] pairs. */
export const call = (out: string, dtype: string, shape: readonly number[], op: string, args: Record<string, string>) =>
  `${tt(dtype, shape)} ${out} = ${op}(${Object.entries(args).map(([k, v]) => `${k}=${v}`).join(", ")})${named(out)};`;
