// The vocabulary of the MIL builder: dtypes, dialects, values, the shape error, and the small shape
// helpers every op's type inference uses.

/** ios18 = program(1.3) / func main<ios18> with compact scalars (M3 and later);
 *  ios16 = program(1.0) / func main<ios16> with verbose rank-0 tensor scalars (M1/M2). */
export type Dialect = "ios18" | "ios16";
export type MilDType = "fp16" | "fp32" | "int8" | "uint8" | "int32" | "bool" | "string";

/** Thrown at build time when an op's operands do not fit; the message names the op and the shapes. */
export class MilShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MilShapeError";
  }
}

/** A typed SSA value of the program being built. */
export interface Value {
  readonly name: string;
  readonly dtype: MilDType;
  readonly shape: readonly number[];
}

export const FLOAT_DTYPES: readonly MilDType[] = ["fp16", "fp32"];

/** "[1,64,1,32]" — the compact form used in error messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

export function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function isIdentifier(s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(s);
}

/** Numpy broadcasting of two shapes (right-aligned; a dim of 1 stretches). null when they clash. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = new Array(rank);
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (da !== db && da !== 1 && db !== 1) return null;
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Maps a possibly negative axis into [0, rank); throws MilShapeError naming `op` when out of range. */
export function normalizeAxis(op: string, axis: number, rank: number, what = "axis"): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw new MilShapeError(`${op}: ${what} ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** A shape must be a list of positive integers (the ANE has no dynamic or empty dims). */
export function checkShape(what: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d <= 0))
    throw new MilShapeError(`${what}: shape ${fmtShape(shape ?? [])} must hold positive integers`);
}
