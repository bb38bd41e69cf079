// Disposable wrappers for libane's handles: Backend -> Surface, Program -> Request.
//
// Lifetimes follow ane.h, made safe from JavaScript:
//   - every handle frees with `using` (Symbol.dispose) or an explicit call; a second free is a no-op;
//   - any use after free throws instead of handing a dangling pointer to C;
//   - libane requires children to be freed before their parent, and surfaces to outlive the requests
//     bound to them, so freeing a parent first frees what depends on it (Backend.close frees its
//     programs and surfaces; Program.free and Surface.release free the requests that use them).
import { ptr, toArrayBuffer, type Pointer } from "bun:ffi";
import {
  lib, cstr, cbuf, check, callJson, parseJson,
} from "./library.ts";
import { marshalWeights, dataPtr } from "./weights.ts";
import {
  type DType, type EvalTiming, type HostArray, type IoDesc, type Numerics, type WeightMap,
  DTYPE_CODES, DTYPE_NAMES, NUMERICS_CODES, QOS_DEFAULT, product,
} from "./types.ts";

const LOCK_READ_WRITE = 0;
const LOCK_READ_ONLY = 1;
const COMPILE_SKIP_VALIDATION = 1;

// Reads the handle out of an out-parameter box (`T **out`).
function outHandle(box: BigUint64Array): Pointer {
  return Number(box[0]) as Pointer;
}

function freed(what: string): Error {
  return new Error(`${what} was already freed: create a new one (do not use a handle after free/close or after its 'using' scope)`);
}

// Accessors for private handles, set in static blocks so that sibling classes can pass handles to C.
let surfaceHandle: (s: Surface) => Pointer;
let surfaceAddRequest: (s: Surface, r: Request) => void;
let surfaceDropRequest: (s: Surface, r: Request) => void;

/** The source dtype of a host array, as ane_copy_2d sees it. */
function hostDType(data: HostArray): DType {
  if (data instanceof Float32Array) return "fp32";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof Int8Array) return "int8";
  return "uint8";
}

/** ane_copy_2d converts fp32<->fp16 and copies same-type data; anything else is a caller mistake. */
function checkConversion(io: IoDesc, host: DType, verb: string): void {
  const ok = host === io.dtype || (host === "fp32" && io.dtype === "fp16");
  if (!ok) {
    const want = io.dtype === "fp16" || io.dtype === "fp32" ? "Float32Array" : { int32: "Int32Array", int8: "Int8Array", uint8: "Uint8Array" }[io.dtype];
    throw new TypeError(`Surface.${verb}: "${io.name}" is ${io.dtype} but the host array is ${host}: use a ${want}`);
  }
}

/** [rows, cols] of a tensor as staged: cols = the last axis, rows = everything before it. */
function rowsCols(shape: number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  const cols = shape[shape.length - 1];
  return [cols === 0 ? 0 : product(shape) / cols, cols];
}

export class Surface implements Disposable {
  #h: Pointer | null;
  #locked: number | null = null;
  #requests = new Set<Request>();
  #onRelease: (s: Surface) => void;
  readonly size: number;
  /** The surface is plain host memory at a fixed address (the cpu backend), so view() works. */
  readonly hostMemory: boolean;

  static {
    surfaceHandle = (s) => s.#live("Surface");
    surfaceAddRequest = (s, r) => s.#requests.add(r);
    surfaceDropRequest = (s, r) => s.#requests.delete(r);
  }

  /** @internal Made by Backend.createSurface. */
  constructor(h: Pointer, onRelease: (s: Surface) => void, hostMemory: boolean) {
    this.#h = h;
    this.#onRelease = onRelease;
    this.size = Number(lib().ane_surface_size(h));
    this.hostMemory = hostMemory;
  }

  #live(what: string): Pointer {
    if (this.#h === null) throw freed(what);
    return this.#h;
  }

  /** Locks for host access; returns the base address (a bun:ffi pointer), valid until unlock(). */
  lock(readOnly = false): number {
    const h = this.#live("Surface");
    const flags = readOnly ? LOCK_READ_ONLY : LOCK_READ_WRITE;
    const base = new BigUint64Array(1);
    check(lib().ane_surface_lock(h, flags, base), `locking a ${this.size}-byte surface`);
    this.#locked = flags;
    return Number(base[0]);
  }

  unlock(): void {
    const h = this.#live("Surface");
    const flags = this.#locked ?? LOCK_READ_WRITE;
    check(lib().ane_surface_unlock(h, flags), `unlocking a ${this.size}-byte surface`);
    this.#locked = null;
  }

  /**
   * The first `floats` fp32 values of a host-memory surface (hostMemory), as an array over the
   * surface itself: no copy, and evals write straight into it (ane.h: on the cpu backend the
   * base address holds for the surface's life). Valid until release(); using the array after
   * that reads freed memory, so its owner must drop it first.
   */
  view(floats: number): Float32Array {
    if (!this.hostMemory) throw new Error("Surface.view: this backend's surfaces are not host memory; lock and copy instead");
    if (floats * 4 > this.size) throw new RangeError(`Surface.view: ${floats} floats do not fit a ${this.size}-byte surface`);
    const base = this.lock(false);
    this.unlock();
    return new Float32Array(toArrayBuffer(base as Pointer, 0, floats * 4));
  }

  #checkFits(io: IoDesc, verb: string): void {
    if (io.bytes > this.size) {
      throw new RangeError(`Surface.${verb}: "${io.name}" needs ${io.bytes} bytes but the surface has ${this.size}: create it with program io.bytes`);
    }
  }

  /** Stages a dense row-major tensor of io's logical shape into this surface with io's row stride,
   *  converting fp32 -> fp16 in C where io.dtype is fp16. */
  write(io: IoDesc, data: HostArray): void {
    const n = product(io.shape);
    if (data.length !== n) {
      throw new RangeError(`Surface.write: "${io.name}" [${io.shape.join(",")}] needs ${n} elements but got ${data.length}`);
    }
    this.#checkFits(io, "write");
    const host = hostDType(data);
    checkConversion(io, host, "write");
    const [rows, cols] = rowsCols(io.shape);
    const base = this.lock(false);
    try {
      if (n > 0) {
        check(
          lib().ane_copy_2d(ptr(data), DTYPE_CODES[host], cols * data.BYTES_PER_ELEMENT,
            base as Pointer, DTYPE_CODES[io.dtype], io.rowStrideBytes, rows, cols),
          `staging "${io.name}" into a surface`,
        );
      }
    } finally {
      this.unlock();
    }
  }

  /** Reads a tensor back as dense fp32 (fp16 converted in C; integer dtypes copied, then widened). */
  read(io: IoDesc): Float32Array {
    this.#checkFits(io, "read");
    const n = product(io.shape);
    const [rows, cols] = rowsCols(io.shape);
    const float = io.dtype === "fp16" || io.dtype === "fp32";
    const out: HostArray = float ? new Float32Array(n)
      : io.dtype === "int32" ? new Int32Array(n) : io.dtype === "int8" ? new Int8Array(n) : new Uint8Array(n);
    const outType: DType = float ? "fp32" : io.dtype;
    const base = this.lock(true);
    try {
      if (n > 0) {
        check(
          lib().ane_copy_2d(base as Pointer, DTYPE_CODES[io.dtype], io.rowStrideBytes,
            ptr(out), DTYPE_CODES[outType], cols * out.BYTES_PER_ELEMENT, rows, cols),
          `reading "${io.name}" from a surface`,
        );
      }
    } finally {
      this.unlock();
    }
    return out instanceof Float32Array ? out : new Float32Array(out);
  }

  /** Frees the surface, and first any request still bound to it. */
  release(): void {
    if (this.#h === null) return;
    for (const r of [...this.#requests]) r.free();
    const h = this.#h;
    this.#h = null;
    lib().ane_surface_release(h);
    this.#onRelease(this);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

export class Request implements Disposable {
  #h: Pointer | null;
  #surfaces: Surface[];
  #onFree: (r: Request) => void;

  /** @internal Made by Program.request. */
  constructor(h: Pointer, surfaces: Surface[], onFree: (r: Request) => void) {
    this.#h = h;
    this.#surfaces = surfaces;
    this.#onFree = onFree;
    for (const s of surfaces) surfaceAddRequest(s, this);
  }

  /** Evaluates synchronously on the bound surfaces. */
  eval(qos: number = QOS_DEFAULT): EvalTiming {
    if (this.#h === null) throw freed("Request");
    const timing = new ArrayBuffer(16); // ane_eval_timing { u64 wall_ns; i64 hw_ns }
    check(lib().ane_request_eval(this.#h, qos, ptr(new Uint8Array(timing))), "evaluating a request");
    const wallNs = new BigUint64Array(timing, 0, 1)[0];
    const hwNs = new BigInt64Array(timing, 8, 1)[0];
    return { wallMs: Number(wallNs) / 1e6, hwMs: hwNs < 0n ? null : Number(hwNs) / 1e6 };
  }

  free(): void {
    if (this.#h === null) return;
    const h = this.#h;
    this.#h = null;
    lib().ane_request_free(h);
    for (const s of this.#surfaces) surfaceDropRequest(s, this);
    this.#surfaces = [];
    this.#onFree(this);
  }

  [Symbol.dispose](): void {
    this.free();
  }
}

// struct ane_io_desc { const char *name; u32 dtype; u32 rank; i64 shape[4]; u64 row_stride_bytes; u64 bytes; }
const IO_DESC_BYTES = 64;

function readIo(h: Pointer, isOutput: boolean, index: number): IoDesc {
  const raw = new Uint8Array(IO_DESC_BYTES);
  const kind = isOutput ? "output" : "input";
  check(lib().ane_program_io(h, isOutput ? 1 : 0, index, ptr(raw)), `reading the layout of program ${kind} ${index}`);
  const v = new DataView(raw.buffer);
  const dtypeCode = v.getUint32(8, true);
  const rank = v.getUint32(12, true);
  const dtype = DTYPE_NAMES[dtypeCode];
  if (dtype === undefined || rank < 1 || rank > 4) {
    throw new Error(`program ${kind} ${index}: libane reported dtype ${dtypeCode}, rank ${rank} (ABI mismatch?)`);
  }
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(Number(v.getBigInt64(16 + 8 * i, true)));
  return {
    name: cstr(Number(v.getBigUint64(0, true))),
    dtype,
    shape,
    rowStrideBytes: Number(v.getBigUint64(48, true)),
    bytes: Number(v.getBigUint64(56, true)),
  };
}

export class Program implements Disposable {
  #h: Pointer | null;
  #requests = new Set<Request>();
  #onFree: (p: Program) => void;
  readonly inputs: IoDesc[];
  readonly outputs: IoDesc[];

  /** @internal Made by Backend.compile. */
  constructor(h: Pointer, onFree: (p: Program) => void) {
    this.#h = h;
    this.#onFree = onFree;
    const L = lib();
    const nIn = L.ane_program_input_count(h);
    const nOut = L.ane_program_output_count(h);
    this.inputs = Array.from({ length: nIn }, (_, i) => readIo(h, false, i));
    this.outputs = Array.from({ length: nOut }, (_, i) => readIo(h, true, i));
  }

  #live(): Pointer {
    if (this.#h === null) throw freed("Program");
    return this.#h;
  }

  load(qos: number = QOS_DEFAULT): void {
    check(lib().ane_program_load(this.#live(), qos), "loading a program");
  }

  unload(qos: number = QOS_DEFAULT): void {
    check(lib().ane_program_unload(this.#live(), qos), "unloading a program");
  }

  /** Overwrites the weight file backing the compiled program (same size as the original). */
  rewriteWeight(name: string, data: Uint8Array): void {
    const h = this.#live();
    const nameBuf = cbuf(name);
    check(lib().ane_program_rewrite_weight(h, nameBuf, dataPtr(data), data.byteLength), `rewriting weight "${name}"`);
  }

  /** Binds surfaces to the inputs and outputs (in program order) for repeated evals. */
  request(inputs: Surface[], outputs: Surface[]): Request {
    const h = this.#live();
    const ins = new BigUint64Array(Math.max(1, inputs.length));
    const outs = new BigUint64Array(Math.max(1, outputs.length));
    inputs.forEach((s, i) => (ins[i] = BigInt(surfaceHandle(s))));
    outputs.forEach((s, i) => (outs[i] = BigInt(surfaceHandle(s))));
    const box = new BigUint64Array(1);
    check(
      lib().ane_request_create(h, inputs.length ? ins : null, inputs.length, outputs.length ? outs : null, outputs.length, box),
      `binding ${inputs.length} input and ${outputs.length} output surfaces`,
    );
    const r = new Request(outHandle(box), [...inputs, ...outputs], (r) => this.#requests.delete(r));
    this.#requests.add(r);
    return r;
  }

  /** Frees the program (unloading it), and first every request made from it. */
  free(): void {
    if (this.#h === null) return;
    for (const r of [...this.#requests]) r.free();
    const h = this.#h;
    this.#h = null;
    lib().ane_program_free(h);
    this.#onFree(this);
  }

  [Symbol.dispose](): void {
    this.free();
  }
}

export interface CompileOptions {
  weights?: WeightMap;
  chip?: string;
  numerics?: Numerics;
  qos?: number;
  skipValidation?: boolean;
}

/** @internal The live handle of a backend, for sibling wrappers in src/ffi (query.ts). */
export let backendHandle: (b: Backend) => Pointer;

export class Backend implements Disposable {
  #h: Pointer | null;
  #programs = new Set<Program>();
  #surfaces = new Set<Surface>();
  readonly kind: string;

  static {
    backendHandle = (b) => b.#live();
  }

  /** @internal Made by openBackend. */
  constructor(h: Pointer) {
    this.#h = h;
    this.kind = cstr(lib().ane_backend_kind(h));
  }

  #live(): Pointer {
    if (this.#h === null) throw freed("Backend");
    return this.#h;
  }

  /** Device information (ane_backend_info_json), parsed. */
  info(): Record<string, unknown> {
    const h = this.#live();
    const what = `reading ${this.kind} backend info`;
    const { text } = callJson(what, (buf, cap, needed) => lib().ane_backend_info_json(h, buf, cap, needed));
    return parseJson(what, text) as Record<string, unknown>;
  }

  /** The chip profile this backend compiles for when none is named: the detected chip on ane,
   *  "m4" on cpu (ane_backend_ops.default_chip, reported as the info's "default_chip"). */
  defaultChip(): string {
    const chip = this.info()["default_chip"];
    if (typeof chip !== "string") throw new Error(`the ${this.kind} backend reports no default chip; name one with --chip`);
    return chip;
  }

  createSurface(bytes: number): Surface {
    const h = this.#live();
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`createSurface: bytes must be a non-negative integer, got ${bytes}`);
    const box = new BigUint64Array(1);
    check(lib().ane_surface_create(h, bytes, box), `creating a ${bytes}-byte surface`);
    const s = new Surface(outHandle(box), (s) => this.#surfaces.delete(s), this.kind === "cpu");
    this.#surfaces.add(s);
    return s;
  }

  compile(mil: string, opts: CompileOptions = {}): Program {
    const h = this.#live();
    const text = Buffer.from(mil + "\0", "utf8");
    const w = marshalWeights(opts.weights);
    const chip = opts.chip ? cbuf(opts.chip) : null;
    const numerics = NUMERICS_CODES[opts.numerics ?? "fp16"];
    if (numerics === undefined) throw new TypeError(`compile: numerics must be "fp16" or "fp32", got ${String(opts.numerics)}`);
    const flags = opts.skipValidation ? COMPILE_SKIP_VALIDATION : 0;
    const box = new BigUint64Array(1);
    const status = lib().ane_program_compile(h, text, text.length - 1, w.table, w.count, chip, numerics, opts.qos ?? 0, flags, box);
    void w.keepAlive; // the weight buffers stayed referenced across the call
    check(status, `compiling MIL on the ${this.kind} backend${opts.chip ? ` for chip ${opts.chip}` : ""}`);
    const p = new Program(outHandle(box), (p) => this.#programs.delete(p));
    this.#programs.add(p);
    return p;
  }

  /** Closes the backend, first freeing every program (with its requests) and surface still open. */
  close(): void {
    if (this.#h === null) return;
    for (const p of [...this.#programs]) p.free();
    for (const s of [...this.#surfaces]) s.release();
    const h = this.#h;
    this.#h = null;
    lib().ane_backend_close(h);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Names of the backends compiled into libane, available here or not. */
export function backendNames(): string[] {
  const L = lib();
  const n = L.ane_backend_count();
  return Array.from({ length: n }, (_, i) => cstr(L.ane_backend_name(i)));
}

/** Whether the named backend can be opened here, and if not, libane's reason. */
export function probeBackend(name: string): { ok: boolean; reason: string } {
  const L = lib();
  const status = L.ane_backend_probe(cbuf(name));
  if (status === 0) return { ok: true, reason: "" };
  const reason = cstr(L.ane_last_error());
  return { ok: false, reason: reason || cstr(L.ane_status_name(status)) };
}

/** Opens a backend by name: "cpu", "ane", or "auto" (ane when it works, else cpu). */
export function openBackend(name = "auto"): Backend {
  const box = new BigUint64Array(1);
  check(lib().ane_backend_open(cbuf(name), box), `opening backend "${name}"`);
  return new Backend(outHandle(box));
}
