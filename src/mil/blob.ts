// The MIL weight blob file format (coremltools MILBlob storage v2; reference/ane-maderix.md §3.4).
//
//   bytes 0..63   storage header: u32 count of blobs at 0, u32 version = 2 at 4, rest zero
//   then per blob, each 64-byte aligned:
//     +0   u32 sentinel 0xDEADBEEF (bytes EF BE AD DE)
//     +4   u32 data type (1 fp16, 2 fp32, 3 uint8, 4 int8)
//     +8   u64 payload size in bytes
//     +16  u64 absolute file offset of the payload (= this header's offset + 64)
//     +64  payload
// BLOBFILE(offset=...) points at the blob's 64-byte header, not at the payload.
// A file holding one weight therefore has its header at 64 and its payload at 128.

export type BlobDType = "fp16" | "fp32" | "uint8" | "int8";

export const BLOB_DTYPE_CODE: Record<BlobDType, number> = { fp16: 1, fp32: 2, uint8: 3, int8: 4 };

const ALIGN = 64;
const SENTINEL = 0xdeadbeef;

export interface BlobChunk {
  dtype: BlobDType;
  payload: Uint8Array;
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/** Header offsets (what BLOBFILE's offset names) of `sizes`-byte payloads laid out in one file. */
export function blobOffsets(sizes: readonly number[]): number[] {
  const offsets: number[] = [];
  let at = ALIGN;
  for (const size of sizes) {
    offsets.push(at);
    at = align(at + ALIGN + size);
  }
  return offsets;
}

/** One blob file holding `chunks` in order; their BLOBFILE offsets are blobOffsets(sizes). */
export function buildBlobFile(chunks: readonly BlobChunk[]): Uint8Array {
  const offsets = blobOffsets(chunks.map((c) => c.payload.byteLength));
  const last = chunks.length - 1;
  const total = chunks.length === 0 ? ALIGN : offsets[last] + ALIGN + chunks[last].payload.byteLength;
  const file = new Uint8Array(total);
  const view = new DataView(file.buffer);
  view.setUint32(0, chunks.length, true);
  view.setUint32(4, 2, true);
  chunks.forEach((chunk, i) => {
    const at = offsets[i];
    view.setUint32(at, SENTINEL, true);
    view.setUint32(at + 4, BLOB_DTYPE_CODE[chunk.dtype], true);
    view.setBigUint64(at + 8, BigInt(chunk.payload.byteLength), true);
    view.setBigUint64(at + 16, BigInt(at + ALIGN), true);
    file.set(chunk.payload, at + ALIGN);
  });
  return file;
}
