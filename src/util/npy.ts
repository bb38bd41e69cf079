// NumPy .npy files (format versions 1.0, 2.0 and 3.0): read little-endian C-order arrays of the dtypes
// rustane stages (float32, float16, float64, int8, uint8, int32); write version 1.0 float32.
// Format: "\x93NUMPY", major, minor, header length (u16 for 1.x, u32 for 2.x/3.x), then a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces to a multiple
// of 64 bytes and ended by "\n", then the raw data.

export type NpyDType = "float32" | "float16" | "float64" | "int8" | "uint8" | "int32";

export interface NpyArray {
  dtype: NpyDType;
  shape: number[];
  /** float16 data comes back as raw bit patterns (Uint16Array); convert with fp16ToFloat32. */
  data: Float32Array | Uint16Array | Float64Array | Int8Array | Uint8Array | Int32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

// descr without its byte-order character -> dtype and element size.
const DESCRS: Record<string, [NpyDType, number]> = {
  f4: ["float32", 4], f2: ["float16", 2], f8: ["float64", 8], i1: ["int8", 1], u1: ["uint8", 1], i4: ["int32", 4],
};

export class NpyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NpyError";
  }
}

function parseHeader(header: string, where: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new NpyError(`${where}: malformed .npy header ${JSON.stringify(header.trim())}`);
  const dims = shape[1].split(",").map((s) => s.trim()).filter((s) => s !== "");
  const parsed = dims.map((d) => (/^\d+$/.test(d) ? Number(d) : NaN));
  if (parsed.some((d) => !Number.isSafeInteger(d))) throw new NpyError(`${where}: bad shape (${shape[1]}) in .npy header`);
  return { descr: descr[1], fortran: fortran[1] === "True", shape: parsed };
}

/** Parses .npy bytes; `where` (a file name) prefixes every error message. */
export function parseNpy(bytes: Uint8Array, where = "npy"): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new NpyError(`${where}: not a .npy file (no \\x93NUMPY magic)`);
  const major = bytes[6];
  const minor = bytes[7];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError(`${where}: truncated .npy header`);
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new NpyError(`${where}: .npy format version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are)`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) throw new NpyError(`${where}: truncated .npy header (${headerLen} bytes announced, file is ${bytes.length})`);
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(headerStart, dataStart));
  const { descr, fortran, shape } = parseHeader(header, where);

  const order = descr[0];
  const known = DESCRS[descr.slice(1)];
  if (!known || !"<|=".includes(order)) {
    const hint = order === ">" ? "big-endian data: convert with arr.astype(arr.dtype.newbyteorder('<'))" : "use float32, float16, float64, int8, uint8 or int32";
    throw new NpyError(`${where}: dtype '${descr}' is not supported: ${hint}`);
  }
  // Single-byte types ignore byte order; wider ones must be little-endian ('=' is native, little on every rustane host).
  const [dtype, size] = known;
  if (fortran) {
    throw new NpyError(`${where}: Fortran-order arrays are not supported: save with np.ascontiguousarray(arr)`);
  }
  let count = 1;
  for (const d of shape) count *= d;
  const need = count * size;
  if (bytes.length - dataStart < need) {
    throw new NpyError(`${where}: truncated data: shape (${shape.join(", ")}) ${descr} needs ${need} bytes, file has ${bytes.length - dataStart}`);
  }
  // Copy into a fresh, aligned buffer (the data offset need not be a multiple of the element size).
  const raw = bytes.slice(dataStart, dataStart + need).buffer;
  const data = dtype === "float32" ? new Float32Array(raw) : dtype === "float16" ? new Uint16Array(raw)
    : dtype === "float64" ? new Float64Array(raw) : dtype === "int8" ? new Int8Array(raw)
    : dtype === "uint8" ? new Uint8Array(raw) : new Int32Array(raw);
  return { dtype, shape, data };
}

export async function readNpy(path: string): Promise<NpyArray> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new NpyError(`${path}: no such file`);
  return parseNpy(new Uint8Array(await file.arrayBuffer()), path);
}

/** Encodes a float32 array as a version 1.0 .npy file. */
export function encodeNpyFloat32(data: Float32Array, shape: number[]): Uint8Array {
  let count = 1;
  for (const d of shape) count *= d;
  if (count !== data.length) throw new NpyError(`encodeNpy: shape (${shape.join(", ")}) holds ${count} elements but data has ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad so that magic(6) + version(2) + length(2) + header + "\n" is a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

export async function writeNpyFloat32(path: string, data: Float32Array, shape: number[]): Promise<void> {
  await Bun.write(path, encodeNpyFloat32(data, shape));
}
