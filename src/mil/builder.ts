// MilBuilder: builds one MIL function op by op, inferring each result's dtype and shape with the
// CoreML MIL rules (and throwing MilShapeError at the op that does not fit), then prints the
// program text the ANE compiler receives plus the weight blob files it references.
//
// Every operand that MIL wants as a constant (axes, perm, transpose flags, pad type...) becomes
// its own named const() statement: the device compiler rejects inline operands. Only what the
// outputs depend on is printed (the device rejects dead code); inputs are always kept.

import { buildBlobFile, blobOffsets, type BlobChunk } from "./blob.ts";
import { roundTo, toFp16Bytes, toFp32Bytes } from "./fp16.ts";
import { BUILD_INFO_IOS16, BUILD_INFO_IOS18, literalText, stringText, typeText, type Literal } from "./text.ts";
import {
  broadcastShapes,
  checkShape,
  fmtShape,
  isIdentifier,
  MilShapeError,
  normalizeAxis,
  product,
  type Dialect,
  type MilDType,
  type Value,
} from "./types.ts";

type Arg = Node | Node[];

/** How a value is defined. */
type Def =
  | { kind: "input" }
  | { kind: "const"; lit: Literal }
  | { kind: "op"; op: string; args: [string, Arg][] }
  // constexpr_* ops take every operand as an inline literal attribute: `w = op()[axis = ..., ...]`.
  | { kind: "constexpr"; op: string; attrs: [string, Literal][] };

class Node implements Value {
  readonly shape: readonly number[];
  constructor(
    readonly owner: MilBuilder,
    public name: string,
    readonly dtype: MilDType,
    shape: readonly number[],
    readonly def: Def,
  ) {
    this.shape = Object.freeze([...shape]);
  }
}

// Words a parser may take for a type or keyword; refused as user-chosen names.
const RESERVED = new Set([
  "fp16", "fp32", "fp64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
  "bool", "string", "tensor", "dict", "list", "tuple", "program", "func", "const", "true", "false", "BLOBFILE",
]);

const INT_RANGE: Record<string, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int32: [-2147483648, 2147483647],
};

function isFloat(d: MilDType): d is "fp16" | "fp32" {
  return d === "fp16" || d === "fp32";
}

/** int32/int8/uint8 literal; throws when a value is not an integer of that range. */
function intLiteral(dtype: "int32" | "int8" | "uint8", values: number[], shape: number[], what: string): Literal {
  const [lo, hi] = INT_RANGE[dtype];
  for (const v of values)
    if (!Number.isInteger(v) || v < lo || v > hi)
      throw new Error(`${what}: ${v} is not an ${dtype} value (integers in [${lo}, ${hi}])`);
  return { kind: "numbers", dtype, shape, values };
}

function floatLiteral(dtype: "fp16" | "fp32", values: ArrayLike<number>, shape: number[], what: string): Literal {
  const out: number[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    out[i] = roundTo(dtype, values[i]);
    if (!Number.isFinite(out[i]))
      throw new Error(`${what}: ${values[i]} is not a finite ${dtype} value (fp16 holds magnitudes below 65520)`);
  }
  return { kind: "numbers", dtype, shape, values: out };
}

function checkPathText(what: string, s: string): void {
  if (/["\\\x00-\x1f]/.test(s)) throw new Error(`${what}: "${s}" may not contain quotes, backslashes or control characters`);
}

export class MilBuilder {
  readonly dialect: Dialect;
  readonly func: string;
  private readonly nodes: Node[] = [];
  private readonly inputs: Node[] = [];
  private readonly outputs: Node[] = [];
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();

  constructor(opts?: { dialect?: Dialect; func?: string }) {
    this.dialect = opts?.dialect ?? "ios18";
    if (this.dialect !== "ios18" && this.dialect !== "ios16")
      throw new Error(`MilBuilder: unknown dialect "${this.dialect}" (use "ios18" or "ios16")`);
    this.func = opts?.func ?? "main";
    if (!isIdentifier(this.func)) throw new Error(`MilBuilder: function name "${this.func}" is not an identifier`);
  }

  // ---- names ---------------------------------------------------------------------------------

  private claim(name: string, what: string): string {
    if (!isIdentifier(name) || RESERVED.has(name))
      throw new Error(`${what}: name "${name}" must be an identifier ([A-Za-z_][A-Za-z0-9_]*) and not a MIL keyword`);
    if (this.used.has(name)) throw new Error(`${what}: name "${name}" is already used in this program`);
    this.used.add(name);
    return name;
  }

  /** `base` itself when free, else a fresh `base_N`. */
  private freshExact(base: string): string {
    if (this.used.has(base)) return this.fresh(base);
    this.used.add(base);
    return base;
  }

  /** A fresh generated name `base_N`. */
  private fresh(base: string): string {
    let n = this.counters.get(base) ?? 0;
    while (this.used.has(`${base}_${n}`)) n++;
    this.counters.set(base, n + 1);
    const name = `${base}_${n}`;
    this.used.add(name);
    return name;
  }

  private node(name: string, dtype: MilDType, shape: readonly number[], def: Def): Node {
    const n = new Node(this, name, dtype, shape, def);
    this.nodes.push(n);
    return n;
  }

  /** The builder's own node behind a Value, or a clear error. */
  private own(op: string, v: Value): Node {
    if (!(v instanceof Node) || v.owner !== this)
      throw new Error(`${op}: operand ${(v as Value | undefined)?.name ?? String(v)} is not a value of this MilBuilder`);
    return v;
  }

  // ---- inputs and constants ------------------------------------------------------------------

  input(name: string, dtype: MilDType, shape: number[]): Value {
    checkShape(`input ${name}`, shape);
    if (dtype === "string" || dtype === "bool") throw new Error(`input ${name}: dtype ${dtype} cannot be a tensor input`);
    const n = this.node(this.claim(name, "input"), dtype, shape, { kind: "input" });
    this.inputs.push(n);
    return n;
  }

  private constNode(base: string, dtype: MilDType, shape: readonly number[], lit: Literal, exact = false): Node {
    return this.node(exact ? this.freshExact(base) : this.fresh(base), dtype, shape, { kind: "const", lit });
  }

  constInt(values: number[] | number, shape?: number[]): Value {
    const list = typeof values === "number" ? [values] : [...values];
    const dims = shape ?? (typeof values === "number" ? [] : [list.length]);
    if (shape !== undefined && shape.length > 0) checkShape("constInt", shape);
    if (product(dims) !== list.length)
      throw new MilShapeError(`constInt: ${list.length} values do not fill shape ${fmtShape(dims)}`);
    return this.constNode("c", "int32", dims, intLiteral("int32", list, dims, "constInt"));
  }

  constFloat(v: number, dtype: "fp16" | "fp32" = "fp16"): Value {
    return this.constNode("c", dtype, [], floatLiteral(dtype, [v], [], "constFloat"));
  }

  constBool(v: boolean): Value {
    return this.constNode("c", "bool", [], { kind: "bools", shape: [], values: [v] });
  }

  constString(s: string): Value {
    checkPathText("constString", s);
    return this.constNode("c", "string", [], { kind: "string", value: s });
  }

  /** An inline tensor literal (small constants: masks, scales). Values are rounded to dtype. */
  constTensor(dtype: "fp16" | "fp32", shape: number[], data: Float32Array): Value {
    if (shape.length > 0) checkShape("constTensor", shape);
    if (data.length !== product(shape))
      throw new MilShapeError(`constTensor: ${data.length} values do not fill shape ${fmtShape(shape)}`);
    return this.constNode("c", dtype, shape, floatLiteral(dtype, data, [...shape], "constTensor"));
  }

  /** A constant stored in a weight blob and referenced as BLOBFILE. `opts.file` puts several
   *  weights into one file ("w.bin" or a full "@model_path/..." key); default: one file per weight. */
  weight(
    name: string,
    dtype: "fp16" | "fp32" | "int8" | "uint8",
    shape: number[],
    data: Float32Array | Int8Array | Uint8Array,
    opts?: { file?: string },
  ): Value {
    checkShape(`weight ${name}`, shape);
    this.claim(name, "weight");
    const what = `weight ${name}`;
    if (data.length !== product(shape))
      throw new MilShapeError(`${what}: ${data.length} values do not fill shape ${fmtShape(shape)}`);
    const chunk = this.blobChunk(what, dtype, data);
    const file = this.blobPath(what, opts?.file ?? `${name}.bin`);
    return this.node(name, dtype, shape, { kind: "const", lit: { kind: "blob", dtype, shape: [...shape], file, chunk } });
  }

  private blobPath(what: string, file: string): string {
    checkPathText(what, file);
    if (file.length === 0) throw new Error(`${what}: empty weight file name`);
    return file.startsWith("@model_path/") ? file : `@model_path/weights/${file}`;
  }

  private blobChunk(what: string, dtype: "fp16" | "fp32" | "int8" | "uint8", data: Float32Array | Int8Array | Uint8Array): BlobChunk {
    const expected = dtype === "int8" ? Int8Array : dtype === "uint8" ? Uint8Array : Float32Array;
    if (!(data instanceof expected))
      throw new Error(`${what}: ${dtype} data must be given as ${expected.name}, got ${data.constructor.name}`);
    if (dtype === "fp16") return { dtype, payload: toFp16Bytes(data as Float32Array, what) };
    if (dtype === "fp32") return { dtype, payload: toFp32Bytes(data as Float32Array, what) };
    return { dtype, payload: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
  }

  // ---- op plumbing ---------------------------------------------------------------------------

  /** Appends `result = op(args)`. Literal args become named consts `<result>_<arg>`. */
  private op(op: string, dtype: MilDType, shape: readonly number[], args: Record<string, Arg | Literal>): Node {
    const name = this.fresh(op);
    const list: [string, Arg][] = [];
    for (const key of Object.keys(args).sort()) {
      const a = args[key];
      if (a instanceof Node || Array.isArray(a)) list.push([key, a]);
      else list.push([key, this.constNode(`${name}_${key}`, litDType(a), litShape(a), a, true)]);
    }
    return this.node(name, dtype, shape, { kind: "op", op, args: list });
  }

  private floatOperand(op: string, x: Value, what = "x"): Node {
    const n = this.own(op, x);
    if (!isFloat(n.dtype)) throw new MilShapeError(`${op}: ${what} ${n.name} must be fp16 or fp32, got ${n.dtype} ${fmtShape(n.shape)}`);
    return n;
  }

  private ints(values: number[], what: string): Literal {
    return intLiteral("int32", values, [values.length], what);
  }

  private scalarInt(v: number, what: string): Literal {
    return intLiteral("int32", [v], [], what);
  }

  private bool(v: boolean): Literal {
    return { kind: "bools", shape: [], values: [v] };
  }

  private str(s: string): Literal {
    return { kind: "string", value: s };
  }

  private scalarFloat(dtype: MilDType, v: number, what: string): Literal {
    return floatLiteral(dtype as "fp16" | "fp32", [v], [], what);
  }

  // ---- conv and matmul -----------------------------------------------------------------------

  /** 2-D convolution, x [N, Cin, H, W] * weight [Cout, Cin/groups, kH, kW] -> [N, Cout, H', W'].
   *  pad is [top, bottom, left, right]. A bias ([Cout] or [1, Cout, 1, 1]) is emitted as a
   *  following `add`, because the ANE compiler rejects conv's bias operand. */
  conv(
    x: Value,
    weight: Value,
    opts?: {
      groups?: number;
      strides?: [number, number];
      dilations?: [number, number];
      pad?: [number, number, number, number];
      padType?: "valid" | "same" | "custom";
      bias?: Value;
    },
  ): Value {
    const xi = this.floatOperand("conv", x);
    const w = this.floatOperand("conv", weight, "weight");
    const shapes = `x ${fmtShape(xi.shape)} * weight ${fmtShape(w.shape)}`;
    if (xi.shape.length !== 4 || w.shape.length !== 4)
      throw new MilShapeError(`conv: x and weight must be rank 4 (NCHW, [Cout,Cin/groups,kH,kW]): ${shapes}`);
    if (xi.dtype !== w.dtype) throw new MilShapeError(`conv: x is ${xi.dtype} but weight is ${w.dtype}: ${shapes}`);
    const groups = opts?.groups ?? 1;
    const strides = opts?.strides ?? [1, 1];
    const dilations = opts?.dilations ?? [1, 1];
    const padType = opts?.padType ?? (opts?.pad ? "custom" : "valid");
    const pad = opts?.pad ?? [0, 0, 0, 0];
    if (!Number.isInteger(groups) || groups < 1) throw new MilShapeError(`conv: groups ${groups} must be a positive integer`);
    for (const [what, v, n] of [["strides", strides, 2], ["dilations", dilations, 2]] as const)
      if (v.length !== n || v.some((s) => !Number.isInteger(s) || s < 1))
        throw new MilShapeError(`conv: ${what} ${fmtShape(v)} must be ${n} positive integers`);
    if (pad.length !== 4 || pad.some((p) => !Number.isInteger(p) || p < 0))
      throw new MilShapeError(`conv: pad ${fmtShape(pad)} must be 4 non-negative integers [top,bottom,left,right]`);
    if (!["valid", "same", "custom"].includes(padType)) throw new MilShapeError(`conv: unknown padType "${padType}"`);
    if (padType !== "custom" && pad.some((p) => p !== 0))
      throw new MilShapeError(`conv: pad ${fmtShape(pad)} is only used with padType "custom", not "${padType}"`);
    const [n, cin, h, wd] = xi.shape;
    const [cout, cinPerGroup, kh, kw] = w.shape;
    if (cin % groups !== 0 || cout % groups !== 0)
      throw new MilShapeError(`conv: groups ${groups} must divide input channels ${cin} and output channels ${cout}: ${shapes}`);
    if (cinPerGroup * groups !== cin)
      throw new MilShapeError(`conv: weight has ${cinPerGroup} input channels per group, x has ${cin} over ${groups} groups: ${shapes}`);
    const out = (size: number, k: number, s: number, d: number, p0: number, p1: number, axis: string): number => {
      const span = d * (k - 1) + 1;
      const o = padType === "same" ? Math.ceil(size / s) : Math.floor((size + p0 + p1 - span) / s) + 1;
      if (o < 1) throw new MilShapeError(`conv: kernel span ${span} exceeds padded ${axis} ${size + p0 + p1}: ${shapes}`);
      return o;
    };
    const ho = out(h, kh, strides[0], dilations[0], pad[0], pad[1], "height");
    const wo = out(wd, kw, strides[1], dilations[1], pad[2], pad[3], "width");
    let y: Value = this.op("conv", xi.dtype, [n, cout, ho, wo], {
      x: xi,
      weight: w,
      strides: this.ints([...strides], "conv strides"),
      pad_type: this.str(padType),
      pad: this.ints([...pad], "conv pad"),
      dilations: this.ints([...dilations], "conv dilations"),
      groups: this.scalarInt(groups, "conv groups"),
    });
    if (opts?.bias) {
      const b = this.own("conv", opts.bias);
      const ok = (b.shape.length === 1 && b.shape[0] === cout) || fmtShape(b.shape) === fmtShape([1, cout, 1, 1]);
      if (!ok || b.dtype !== xi.dtype)
        throw new MilShapeError(`conv: bias must be ${xi.dtype} [${cout}] or [1,${cout},1,1], got ${b.dtype} ${fmtShape(b.shape)}`);
      y = this.add(y, b.shape.length === 1 ? this.reshape(b, [1, cout, 1, 1]) : b);
    }
    return y;
  }

  /** Batched matmul with numpy batch broadcasting; rank-1 operands are promoted and the
   *  promoted dim dropped. transpose flags are always emitted as named bool consts. */
  matmul(x: Value, y: Value, opts?: { transposeX?: boolean; transposeY?: boolean }): Value {
    const a = this.floatOperand("matmul", x);
    const b = this.floatOperand("matmul", y, "y");
    const tx = opts?.transposeX ?? false;
    const ty = opts?.transposeY ?? false;
    const shapes = `x ${fmtShape(a.shape)}${tx ? "ᵀ" : ""} · y ${fmtShape(b.shape)}${ty ? "ᵀ" : ""}`;
    if (a.dtype !== b.dtype) throw new MilShapeError(`matmul: x is ${a.dtype} but y is ${b.dtype}: ${shapes}`);
    if (a.shape.length === 0 || b.shape.length === 0) throw new MilShapeError(`matmul: operands must have rank >= 1: ${shapes}`);
    const xs = a.shape.length === 1 ? [1, a.shape[0]] : [...a.shape];
    const ys = b.shape.length === 1 ? [b.shape[0], 1] : [...b.shape];
    const swapLast = (s: number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];
    const xe = tx && a.shape.length > 1 ? swapLast(xs) : xs;
    const ye = ty && b.shape.length > 1 ? swapLast(ys) : ys;
    const m = xe[xe.length - 2], k = xe[xe.length - 1], k2 = ye[ye.length - 2], nn = ye[ye.length - 1];
    if (k !== k2) throw new MilShapeError(`matmul: inner dims differ (${k} vs ${k2}): ${shapes}`);
    const batch = broadcastShapes(xe.slice(0, -2), ye.slice(0, -2));
    if (!batch) throw new MilShapeError(`matmul: batch dims do not broadcast: ${shapes}`);
    const shape = [...batch];
    if (a.shape.length > 1) shape.push(m);
    if (b.shape.length > 1) shape.push(nn);
    return this.op("matmul", a.dtype, shape, {
      x: a,
      y: b,
      transpose_x: this.bool(tx),
      transpose_y: this.bool(ty),
    });
  }

  // ---- elementwise ---------------------------------------------------------------------------

  private binary(op: string, x: Value, y: Value): Value {
    const a = this.own(op, x);
    const b = this.own(op, y);
    const shapes = `x ${a.dtype} ${fmtShape(a.shape)}, y ${b.dtype} ${fmtShape(b.shape)}`;
    if (a.dtype !== b.dtype) throw new MilShapeError(`${op}: operand dtypes differ: ${shapes}`);
    if (!isFloat(a.dtype) && a.dtype !== "int32") throw new MilShapeError(`${op}: needs fp16, fp32 or int32 operands: ${shapes}`);
    const shape = broadcastShapes(a.shape, b.shape);
    if (!shape) throw new MilShapeError(`${op}: shapes do not broadcast: ${shapes}`);
    return this.op(op, a.dtype, shape, { x: a, y: b });
  }

  add(a: Value, b: Value): Value { return this.binary("add", a, b); }
  sub(a: Value, b: Value): Value { return this.binary("sub", a, b); }
  mul(a: Value, b: Value): Value { return this.binary("mul", a, b); }
  realDiv(a: Value, b: Value): Value { return this.binary("real_div", a, b); }
  pow(a: Value, b: Value): Value { return this.binary("pow", a, b); }
  maximum(a: Value, b: Value): Value { return this.binary("maximum", a, b); }
  minimum(a: Value, b: Value): Value { return this.binary("minimum", a, b); }

  private unary(op: string, x: Value, extra: Record<string, Literal> = {}): Value {
    const n = this.floatOperand(op, x);
    return this.op(op, n.dtype, n.shape, { x: n, ...extra });
  }

  sqrt(x: Value): Value { return this.unary("sqrt", x); }
  /** 1/sqrt(x + eps); eps is emitted as `epsilon` only when given (MIL's default is 1e-12). */
  rsqrt(x: Value, eps?: number): Value {
    const n = this.floatOperand("rsqrt", x);
    return this.unary("rsqrt", n, eps === undefined ? {} : { epsilon: this.scalarFloat(n.dtype, eps, "rsqrt epsilon") });
  }
  exp(x: Value): Value { return this.unary("exp", x); }
  log(x: Value): Value { return this.unary("log", x); }
  sigmoid(x: Value): Value { return this.unary("sigmoid", x); }
  tanh(x: Value): Value { return this.unary("tanh", x); }
  relu(x: Value): Value { return this.unary("relu", x); }
  silu(x: Value): Value { return this.unary("silu", x); }
  gelu(x: Value, mode?: "EXACT" | "TANH_APPROXIMATION"): Value {
    if (mode !== undefined && mode !== "EXACT" && mode !== "TANH_APPROXIMATION")
      throw new Error(`gelu: unknown mode "${mode}" (EXACT or TANH_APPROXIMATION)`);
    return this.unary("gelu", x, mode === undefined ? {} : { mode: this.str(mode) });
  }
  /** min(max(x, lo), hi). */
  clip(x: Value, lo: number, hi: number): Value {
    const n = this.floatOperand("clip", x);
    if (!(lo <= hi)) throw new MilShapeError(`clip: lower bound ${lo} is above upper bound ${hi}`);
    return this.unary("clip", n, { alpha: this.scalarFloat(n.dtype, lo, "clip lo"), beta: this.scalarFloat(n.dtype, hi, "clip hi") });
  }

  // ---- reductions and normalization ----------------------------------------------------------

  private axesOf(op: string, axes: number[], rank: number): number[] {
    if (!Array.isArray(axes) || axes.length === 0) throw new MilShapeError(`${op}: axes must list at least one axis`);
    const norm = axes.map((a) => normalizeAxis(op, a, rank));
    if (new Set(norm).size !== norm.length) throw new MilShapeError(`${op}: axes ${fmtShape(axes)} repeat an axis`);
    return norm;
  }

  private reduce(op: string, x: Value, axes: number[], keepDims: boolean): Value {
    const n = this.own(op, x);
    if (!isFloat(n.dtype) && n.dtype !== "int32") throw new MilShapeError(`${op}: needs fp16, fp32 or int32, got ${n.dtype}`);
    const norm = this.axesOf(op, axes, n.shape.length);
    const shape = keepDims ? n.shape.map((d, i) => (norm.includes(i) ? 1 : d)) : n.shape.filter((_, i) => !norm.includes(i));
    return this.op(op, n.dtype, shape, { x: n, axes: this.ints(norm, `${op} axes`), keep_dims: this.bool(keepDims) });
  }

  reduceSum(x: Value, axes: number[], keepDims = false): Value { return this.reduce("reduce_sum", x, axes, keepDims); }
  reduceMax(x: Value, axes: number[], keepDims = false): Value { return this.reduce("reduce_max", x, axes, keepDims); }
  reduceMean(x: Value, axes: number[], keepDims = false): Value { return this.reduce("reduce_mean", x, axes, keepDims); }

  softmax(x: Value, axis: number): Value {
    const n = this.floatOperand("softmax", x);
    const a = normalizeAxis("softmax", axis, n.shape.length);
    return this.op("softmax", n.dtype, n.shape, { x: n, axis: this.scalarInt(a, "softmax axis") });
  }

  /** (x - mean) / sqrt(var + eps) over `axes`, then * gamma + beta (each shaped like those axes). */
  layerNorm(x: Value, axes: number[], opts?: { gamma?: Value; beta?: Value; eps?: number }): Value {
    const n = this.floatOperand("layer_norm", x);
    const norm = this.axesOf("layer_norm", axes, n.shape.length);
    const normShape = norm.map((a) => n.shape[a]);
    const args: Record<string, Arg | Literal> = {
      x: n,
      axes: this.ints(norm, "layer_norm axes"),
      epsilon: this.scalarFloat(n.dtype, opts?.eps ?? 1e-5, "layer_norm eps"),
    };
    for (const key of ["gamma", "beta"] as const) {
      const v = opts?.[key];
      if (!v) continue;
      const g = this.own("layer_norm", v);
      if (g.dtype !== n.dtype || fmtShape(g.shape) !== fmtShape(normShape))
        throw new MilShapeError(
          `layer_norm: ${key} must be ${n.dtype} ${fmtShape(normShape)} (x ${fmtShape(n.shape)} over axes ${fmtShape(norm)}), got ${g.dtype} ${fmtShape(g.shape)}`,
        );
      args[key] = g;
    }
    return this.op("layer_norm", n.dtype, n.shape, args);
  }

  // ---- shape ops -----------------------------------------------------------------------------

  /** One dim may be -1 (inferred). The emitted shape const holds the resolved dims. */
  reshape(x: Value, shape: number[]): Value {
    const n = this.own("reshape", x);
    const shapes = `x ${fmtShape(n.shape)} -> ${fmtShape(shape)}`;
    if (!Array.isArray(shape) || shape.length === 0) throw new MilShapeError(`reshape: target shape must be non-empty: ${shapes}`);
    if (shape.some((d) => !Number.isInteger(d) || (d < 1 && d !== -1)))
      throw new MilShapeError(`reshape: dims must be positive integers or one -1: ${shapes}`);
    const holes = shape.filter((d) => d === -1).length;
    if (holes > 1) throw new MilShapeError(`reshape: at most one dim may be -1: ${shapes}`);
    const total = product(n.shape);
    const known = product(shape.filter((d) => d !== -1));
    const resolved = shape.map((d) => (d === -1 ? total / known : d));
    if (holes === 1 && !Number.isInteger(total / known))
      throw new MilShapeError(`reshape: ${total} elements do not divide into ${shapes}`);
    if (product(resolved) !== total)
      throw new MilShapeError(`reshape: element counts differ (${total} vs ${product(resolved)}): ${shapes}`);
    return this.op("reshape", n.dtype, resolved, { x: n, shape: this.ints(resolved, "reshape shape") });
  }

  transpose(x: Value, perm: number[]): Value {
    const n = this.own("transpose", x);
    const rank = n.shape.length;
    if (!Array.isArray(perm) || perm.length !== rank)
      throw new MilShapeError(`transpose: perm ${fmtShape(perm ?? [])} must have one entry per dim of x ${fmtShape(n.shape)}`);
    const norm = perm.map((p) => normalizeAxis("transpose", p, rank, "perm entry"));
    if (new Set(norm).size !== rank)
      throw new MilShapeError(`transpose: perm ${fmtShape(perm)} is not a permutation of the dims of x ${fmtShape(n.shape)}`);
    return this.op("transpose", n.dtype, norm.map((p) => n.shape[p]), { x: n, perm: this.ints(norm, "transpose perm") });
  }

  /** x[begin : begin+size] per dim; size -1 runs to the end of that dim. */
  sliceBySize(x: Value, begin: number[], size: number[]): Value {
    const n = this.own("slice_by_size", x);
    const rank = n.shape.length;
    const shapes = `x ${fmtShape(n.shape)}, begin ${fmtShape(begin)}, size ${fmtShape(size)}`;
    if (begin.length !== rank || size.length !== rank)
      throw new MilShapeError(`slice_by_size: begin and size need ${rank} entries: ${shapes}`);
    const resolved = size.map((s, i) => {
      const b = begin[i], d = n.shape[i];
      if (!Number.isInteger(b) || b < 0 || b >= d) throw new MilShapeError(`slice_by_size: begin ${b} is outside dim ${i} (size ${d}): ${shapes}`);
      const r = s === -1 ? d - b : s;
      if (!Number.isInteger(r) || r < 1 || b + r > d)
        throw new MilShapeError(`slice_by_size: dim ${i} slice [${b}, ${b + r}) does not fit size ${d}: ${shapes}`);
      return r;
    });
    return this.op("slice_by_size", n.dtype, resolved, {
      x: n,
      begin: this.ints([...begin], "slice_by_size begin"),
      size: this.ints(resolved, "slice_by_size size"),
    });
  }

  /** x[begin:end:stride] per dim (Python semantics for negative begin/end; stride > 0). */
  sliceByIndex(x: Value, begin: number[], end: number[], stride?: number[]): Value {
    const n = this.own("slice_by_index", x);
    const rank = n.shape.length;
    const st = stride ?? n.shape.map(() => 1);
    const shapes = `x ${fmtShape(n.shape)}, begin ${fmtShape(begin)}, end ${fmtShape(end)}, stride ${fmtShape(st)}`;
    if (begin.length !== rank || end.length !== rank || st.length !== rank)
      throw new MilShapeError(`slice_by_index: begin, end and stride need ${rank} entries: ${shapes}`);
    const b = begin.map((v, i) => (v < 0 ? v + n.shape[i] : v));
    const e = end.map((v, i) => (v < 0 ? v + n.shape[i] : v));
    const shape = n.shape.map((d, i) => {
      if (!Number.isInteger(st[i]) || st[i] < 1) throw new MilShapeError(`slice_by_index: stride ${st[i]} must be a positive integer: ${shapes}`);
      if (!Number.isInteger(b[i]) || !Number.isInteger(e[i]) || b[i] < 0 || e[i] > d || b[i] >= e[i])
        throw new MilShapeError(`slice_by_index: dim ${i} range [${begin[i]}, ${end[i]}) is empty or outside size ${d}: ${shapes}`);
      return Math.ceil((e[i] - b[i]) / st[i]);
    });
    return this.op("slice_by_index", n.dtype, shape, {
      x: n,
      begin: this.ints(b, "slice_by_index begin"),
      end: this.ints(e, "slice_by_index end"),
      stride: this.ints([...st], "slice_by_index stride"),
    });
  }

  concat(values: Value[], axis: number): Value {
    if (!Array.isArray(values) || values.length === 0) throw new MilShapeError(`concat: needs at least one value`);
    const nodes = values.map((v) => this.own("concat", v));
    const first = nodes[0];
    const rank = first.shape.length;
    const all = nodes.map((v) => `${v.dtype} ${fmtShape(v.shape)}`).join(", ");
    const a = normalizeAxis("concat", axis, rank);
    for (const v of nodes) {
      if (v.dtype !== first.dtype || v.shape.length !== rank || v.shape.some((d, i) => i !== a && d !== first.shape[i]))
        throw new MilShapeError(`concat: values must share dtype, rank and every dim but axis ${a}: ${all}`);
    }
    const shape = [...first.shape];
    shape[a] = nodes.reduce((s, v) => s + v.shape[a], 0);
    return this.op("concat", first.dtype, shape, {
      values: nodes,
      axis: this.scalarInt(a, "concat axis"),
      interleave: this.bool(false),
    });
  }

  cast(x: Value, dtype: "fp16" | "fp32"): Value {
    const n = this.own("cast", x);
    if (dtype !== "fp16" && dtype !== "fp32") throw new Error(`cast: target dtype must be "fp16" or "fp32", got "${dtype}"`);
    if (!isFloat(n.dtype) && n.dtype !== "int32") throw new MilShapeError(`cast: cannot cast ${n.dtype} ${fmtShape(n.shape)}`);
    return this.op("cast", dtype, n.shape, { x: n, dtype: this.str(dtype) });
  }

  identity(x: Value): Value {
    const n = this.own("identity", x);
    return this.op("identity", n.dtype, n.shape, { x: n });
  }

  // ---- quantization --------------------------------------------------------------------------

  /** A const's literal (scale/zero point operands must be constants). */
  private constLiteral(op: string, what: string, v: Value): { node: Node; lit: Literal & { kind: "numbers" } } {
    const n = this.own(op, v);
    if (n.def.kind !== "const" || n.def.lit.kind !== "numbers")
      throw new Error(`${op}: ${what} ${n.name} must be an inline constant (constFloat, constInt or constTensor)`);
    return { node: n, lit: n.def.lit };
  }

  /** Checks a per-tensor (rank 0) or per-axis (rank 1, length shape[axis]) parameter. */
  private quantParamShape(op: string, what: string, p: Node, shape: readonly number[], axis: number | undefined): number | undefined {
    if (p.shape.length === 0) return axis === undefined ? undefined : normalizeAxis(op, axis, shape.length);
    if (p.shape.length !== 1 || axis === undefined)
      throw new MilShapeError(`${op}: ${what} ${fmtShape(p.shape)} must be a scalar, or rank 1 with an axis, for x ${fmtShape(shape)}`);
    const a = normalizeAxis(op, axis, shape.length);
    if (p.shape[0] !== shape[a])
      throw new MilShapeError(`${op}: ${what} has ${p.shape[0]} entries but x ${fmtShape(shape)} has ${shape[a]} along axis ${a}`);
    return a;
  }

  /** A zero point given as an integer const, re-typed to the quantized dtype. */
  private zeroPointLiteral(op: string, zp: Value, dtype: "int8" | "uint8"): { node: Node; lit: Literal } {
    const { node, lit } = this.constLiteral(op, "zero point", zp);
    return { node, lit: intLiteral(dtype, lit.values, [...node.shape], `${op} zero point`) };
  }

  /** round(x / scale) + zeroPoint, saturated to outputDtype. `axis` selects the channel dim of a
   *  rank-1 scale (per-channel); omit it for a scalar scale. */
  quantize(x: Value, scale: Value, outputDtype: "int8" | "uint8", zeroPoint?: Value, axis?: number): Value {
    const n = this.floatOperand("quantize", x, "input");
    if (outputDtype !== "int8" && outputDtype !== "uint8") throw new Error(`quantize: output dtype must be int8 or uint8`);
    const s = this.constLiteral("quantize", "scale", scale).node;
    if (s.dtype !== n.dtype) throw new MilShapeError(`quantize: scale is ${s.dtype} but input is ${n.dtype}`);
    let a = this.quantParamShape("quantize", "scale", s, n.shape, axis);
    const args: Record<string, Arg | Literal> = { input: n, scale: s, output_dtype: this.str(outputDtype) };
    if (zeroPoint) {
      const zp = this.zeroPointLiteral("quantize", zeroPoint, outputDtype);
      a = this.quantParamShape("quantize", "zero point", zp.node, n.shape, axis) ?? a;
      args.zero_point = zp.lit;
    }
    if (a !== undefined) args.axis = this.scalarInt(a, "quantize axis");
    return this.op("quantize", outputDtype, n.shape, args);
  }

  /** (x - zeroPoint) * scale; the result has the scale's dtype. */
  dequantize(x: Value, scale: Value, zeroPoint?: Value, axis?: number): Value {
    const n = this.own("dequantize", x);
    if (n.dtype !== "int8" && n.dtype !== "uint8") throw new MilShapeError(`dequantize: input must be int8 or uint8, got ${n.dtype} ${fmtShape(n.shape)}`);
    const s = this.constLiteral("dequantize", "scale", scale).node;
    if (!isFloat(s.dtype)) throw new MilShapeError(`dequantize: scale must be fp16 or fp32, got ${s.dtype}`);
    let a = this.quantParamShape("dequantize", "scale", s, n.shape, axis);
    const args: Record<string, Arg | Literal> = { input: n, scale: s };
    if (zeroPoint) {
      const zp = this.zeroPointLiteral("dequantize", zeroPoint, n.dtype);
      a = this.quantParamShape("dequantize", "zero point", zp.node, n.shape, axis) ?? a;
      args.zero_point = zp.lit;
    }
    if (a !== undefined) args.axis = this.scalarInt(a, "dequantize axis");
    return this.op("dequantize", s.dtype, n.shape, args);
  }

  /** A weight stored quantized in a blob ("@model_path/weights/<name>.bin") and dequantized at
   *  compile time: (q - zeroPoint) * scale along `axis`; result dtype = scale dtype. */
  constexprAffineDequantize(name: string, q: Int8Array | Uint8Array, shape: number[], scale: Value, zeroPoint: Value, axis: number): Value {
    const op = "constexpr_affine_dequantize";
    checkShape(op, shape);
    const qdtype = q instanceof Int8Array ? "int8" : q instanceof Uint8Array ? "uint8" : null;
    if (!qdtype) throw new Error(`${op} ${name}: quantized data must be an Int8Array or Uint8Array`);
    if (q.length !== product(shape)) throw new MilShapeError(`${op} ${name}: ${q.length} values do not fill shape ${fmtShape(shape)}`);
    const s = this.constLiteral(op, "scale", scale);
    if (!isFloat(s.node.dtype)) throw new MilShapeError(`${op} ${name}: scale must be fp16 or fp32, got ${s.node.dtype}`);
    const zp = this.zeroPointLiteral(op, zeroPoint, qdtype);
    const a = normalizeAxis(op, axis, shape.length);
    for (const [what, p] of [["scale", s.node], ["zero point", zp.node]] as const) {
      if (p.shape.length > 1 || (p.shape.length === 1 && p.shape[0] !== shape[a]))
        throw new MilShapeError(`${op} ${name}: ${what} ${fmtShape(p.shape)} must be a scalar or [${shape[a]}] (quantized ${fmtShape(shape)}, axis ${a})`);
    }
    this.claim(name, op);
    const chunk = this.blobChunk(`${op} ${name}`, qdtype, q);
    const data: Literal = { kind: "blob", dtype: qdtype, shape: [...shape], file: this.blobPath(op, `${name}.bin`), chunk };
    return this.node(name, s.node.dtype, shape, {
      kind: "constexpr",
      op,
      attrs: [["axis", this.scalarInt(a, `${op} axis`)], ["quantized_data", data], ["scale", s.lit], ["zero_point", zp.lit]],
    });
  }

  // ---- outputs and printing ------------------------------------------------------------------

  /** Adds v to the function's result tuple. With `name`, the output is called that: the value is
   *  renamed when it is an op result not yet returned, otherwise an identity op carries the name. */
  output(v: Value, name?: string): void {
    const n = this.own("output", v);
    if (this.outputs.some((o) => o === n) && (name === undefined || name === n.name))
      throw new Error(`output: ${n.name} is already an output`);
    if (name === undefined || name === n.name) {
      this.outputs.push(n);
      return;
    }
    this.claim(name, "output");
    if (n.def.kind === "op" && !this.outputs.includes(n)) {
      this.used.delete(n.name);
      n.name = name;
      this.outputs.push(n);
    } else {
      const id = this.op("identity", n.dtype, n.shape, { x: n });
      this.used.delete(id.name);
      id.name = name;
      this.outputs.push(id);
    }
  }

  build(): { text: string; weights: Map<string, Uint8Array> } {
    if (this.outputs.length === 0) throw new Error(`MilBuilder.build: no outputs; call output(value) first`);
    const live = this.liveNodes();

    // Lay out every live blob constant in its file, in definition order.
    const files = new Map<string, { lit: Literal & { kind: "blob" } }[]>();
    for (const n of this.nodes) {
      if (!live.has(n)) continue;
      for (const lit of blobLiterals(n.def)) {
        const list = files.get(lit.file) ?? [];
        list.push({ lit });
        files.set(lit.file, list);
      }
    }
    const offsets = new Map<Literal, number>();
    const weights = new Map<string, Uint8Array>();
    for (const [file, list] of files) {
      const at = blobOffsets(list.map((e) => e.lit.chunk.payload.byteLength));
      list.forEach((e, i) => offsets.set(e.lit, at[i]));
      weights.set(file, buildBlobFile(list.map((e) => e.lit.chunk)));
    }

    const d = this.dialect;
    const lines: string[] = [];
    lines.push(d === "ios18" ? "program(1.3)" : "program(1.0)");
    lines.push(d === "ios18" ? BUILD_INFO_IOS18 : BUILD_INFO_IOS16);
    lines.push("{");
    const params = this.inputs.map((n) => `${typeText(d, n.dtype, n.shape)} ${n.name}`).join(", ");
    lines.push(`    func ${this.func}<${d}>(${params}) {`);
    for (const n of this.nodes) {
      if (!live.has(n) || n.def.kind === "input") continue;
      const decl = `${typeText(d, n.dtype, n.shape)} ${n.name}`;
      const nameAttr = `name = ${stringText(d, n.name)}`;
      const def = n.def;
      let stmt: string;
      if (def.kind === "const") {
        stmt = `${decl} = const()[${nameAttr}, val = ${literalText(d, def.lit, offsets.get(def.lit))}];`;
      } else if (def.kind === "constexpr") {
        const attrs = def.attrs.map(([k, lit]) => `${k} = ${literalText(d, lit, offsets.get(lit))}`);
        attrs.splice(1, 0, nameAttr); // alphabetical: axis, name, quantized_data, scale, zero_point
        stmt = `${decl} = ${def.op}()[${attrs.join(", ")}];`;
      } else {
        const args = def.args.map(([k, a]) => `${k} = ${Array.isArray(a) ? `(${a.map((v) => v.name).join(", ")})` : a.name}`);
        stmt = `${decl} = ${def.op}(${args.join(", ")})[${nameAttr}];`;
      }
      lines.push(`        ${stmt}`);
    }
    lines.push(`    } -> (${this.outputs.map((o) => o.name).join(", ")});`);
    lines.push("}");
    return { text: lines.join("\n") + "\n", weights };
  }

  /** Every node the outputs depend on. */
  private liveNodes(): Set<Node> {
    const live = new Set<Node>();
    const stack = [...this.outputs];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (live.has(n)) continue;
      live.add(n);
      if (n.def.kind === "op") for (const [, a] of n.def.args) stack.push(...(Array.isArray(a) ? a : [a]));
    }
    return live;
  }
}

function blobLiterals(def: Def): (Literal & { kind: "blob" })[] {
  const lits = def.kind === "const" ? [def.lit] : def.kind === "constexpr" ? def.attrs.map(([, l]) => l) : [];
  return lits.filter((l): l is Literal & { kind: "blob" } => l.kind === "blob");
}

function litDType(l: Literal): MilDType {
  return l.kind === "string" ? "string" : l.kind === "bools" ? "bool" : l.dtype;
}

function litShape(l: Literal): number[] {
  return l.kind === "string" ? [] : l.shape;
}
