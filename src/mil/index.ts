// The typed MIL builder: values with dtype and shape, ops with CoreML MIL type inference, MIL text
// for the ios18 and ios16 dialects, and weight blobs.
export { MilShapeError, type Dialect, type MilDType, type Value } from "./types.ts";
export { MilBuilder } from "./builder.ts";
export { dynamicMatmul, packDynamicMatmulInput } from "./dynamic.ts";
export { buildBlobFile, blobOffsets, BLOB_DTYPE_CODE, type BlobChunk, type BlobDType } from "./blob.ts";
