// tensor.ts — a dense row-major float64 tensor for the reference ops, and shape helpers.

export interface Tensor {
  shape: number[];
  data: Float64Array; // row-major, product(shape) elements
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Row-major strides in elements: strides[i] = product(shape[i+1..]). */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function tensor(shape: number[], data: ArrayLike<number>): Tensor {
  if (data.length !== numel(shape)) {
    throw new Error(`tensor: ${data.length} values for shape [${shape}] (${numel(shape)} expected)`);
  }
  return { shape: [...shape], data: Float64Array.from(data) };
}

export function zeros(shape: number[]): Tensor {
  return { shape: [...shape], data: new Float64Array(numel(shape)) };
}

/** The multi-index of flat position `flat` in `shape` (written into `out`). */
export function unravel(flat: number, shape: readonly number[], out: number[]): number[] {
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return out;
}

/** An axis in [-rank, rank) made non-negative. */
export function normAxis(axis: number, rank: number): number {
  if (axis < -rank || axis >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** numpy broadcasting of two shapes (aligned on the right; 1 stretches). */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`cannot broadcast [${a}] with [${b}]`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Flat offset into a tensor of `shape` for an index of the (broadcast) output of rank >= shape.length. */
export function broadcastOffset(idx: readonly number[], shape: readonly number[], strides: readonly number[]): number {
  const lead = idx.length - shape.length;
  let off = 0;
  for (let i = 0; i < shape.length; i++) off += (shape[i] === 1 ? 0 : idx[lead + i]) * strides[i];
  return off;
}
