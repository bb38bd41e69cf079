// src/ffi: the only module that imports bun:ffi. Typed, disposable wrappers over libane's C ABI (ane.h).
export {
  LibaneError, EXPECTED_ABI_VERSION, setEmbeddedLibrary, libanePath, abiVersion, libaneVersion,
} from "./library.ts";
export type { Numerics, DType, Finding, WeightMap, IoDesc, EvalTiming, HostArray } from "./types.ts";
export { QOS_DEFAULT } from "./types.ts";
export { Backend, Surface, Program, Request, backendNames, probeBackend, openBackend } from "./backend.ts";
export type { CompileOptions } from "./backend.ts";
export { chipNames, chipProfile, chipDialect, compileCount, compileLimit, setThreads, getThreads } from "./chip.ts";
export { milCheck } from "./mil.ts";
export { runProgram } from "./run.ts";
export { fp16ToFloat32, float32ToFp16, fillUniform } from "./host.ts";
