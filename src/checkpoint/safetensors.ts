/**
 * safetensors read/write (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__": {string: string}}, then the tensor bytes. rustane writes F32 only; it reads
 * F32, F16 and BF16 (converted to fp32 by libane) so Hugging Face exports load too.
 *
 * Writes are atomic: a temp file in the same directory, fsync, rename over the target, fsync
 * of the directory. A crash leaves the previous file intact.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, existsSync, statSync } from "node:fs";
import { dirname, basename, join } from "node:path";

export interface TensorEntry { name: string; shape: number[]; data: Float32Array }
export interface SafetensorsFile { tensors: Map<string, { shape: number[]; data: Float32Array }>; metadata: Record<string, string> }

const HEADER_ALIGN = 8;
const MAX_HEADER = 100 * 1024 * 1024;

export function writeSafetensors(path: string, tensors: TensorEntry[], metadata: Record<string, string>): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: tensor ${t.name} has ${t.data.length} values but shape [${t.shape}] needs ${n}`);
    if (t.name in header) throw new Error(`safetensors: duplicate tensor name ${t.name}`);
    header[t.name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((HEADER_ALIGN - (json.length % HEADER_ALIGN)) % HEADER_ALIGN);   // keep data 8-byte aligned
  const jsonBytes = Buffer.from(json, "utf8");
  const lenBytes = Buffer.alloc(8);
  lenBytes.writeBigUInt64LE(BigInt(jsonBytes.length));

  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  const fd = openSync(tmp, "w", 0o644);
  try {
    writeAll(fd, lenBytes);
    writeAll(fd, jsonBytes);
    for (const t of tensors) writeAll(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw new Error(`could not write checkpoint ${path}: ${(e as Error).message}`);
  }
  closeSync(fd);
  renameSync(tmp, path);
  try { const dfd = openSync(dirname(path), "r"); fsyncSync(dfd); closeSync(dfd); } catch { /* directory fsync is best effort */ }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** Read a safetensors file; every structural problem is a clear error naming the file. */
export function readSafetensors(path: string, convert?: (bytes: Uint8Array, dtype: string, n: number) => Float32Array): SafetensorsFile {
  if (!existsSync(path)) throw new Error(`checkpoint ${path} does not exist`);
  const size = statSync(path).size;
  const fail = (why: string) => new Error(`checkpoint ${path} is corrupted or truncated: ${why}`);
  if (size < 8) throw fail(`${size} bytes is shorter than the 8-byte header length`);
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  if (n <= 0 || n > MAX_HEADER || 8 + n > size) throw fail(`header length ${n} does not fit in the file's ${size} bytes`);
  let header: Record<string, any>;
  try { header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")); }
  catch (e) { throw fail(`header is not valid JSON (${(e as Error).message})`); }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw fail("header is not a JSON object");
  const metadata: Record<string, string> = header.__metadata__ ?? {};
  const dataStart = 8 + n, dataLen = size - dataStart;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (!e || typeof e.dtype !== "string" || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2)
      throw fail(`tensor ${name} has no valid dtype/shape/data_offsets`);
    const [b, end] = e.data_offsets as number[];
    const count = (e.shape as number[]).reduce((a: number, x: number) => a * x, 1);
    const elem = e.dtype === "F32" ? 4 : e.dtype === "F16" || e.dtype === "BF16" ? 2 : 0;
    if (!elem) throw new Error(`checkpoint ${path}: tensor ${name} has dtype ${e.dtype}; rustane reads F32, F16 and BF16`);
    if (!Number.isInteger(b) || !Number.isInteger(end) || b < 0 || end > dataLen || end - b !== count * elem)
      throw fail(`tensor ${name} [${e.shape}] ${e.dtype}: byte range [${b}, ${end}) does not match its size or the file's ${dataLen} data bytes`);
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset + dataStart + b, end - b);
    let data: Float32Array;
    if (e.dtype === "F32") data = new Float32Array(bytes.slice().buffer);
    else if (convert) data = convert(bytes, e.dtype, count);
    else throw new Error(`checkpoint ${path}: tensor ${name} is ${e.dtype}; no converter given`);
    tensors.set(name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}
