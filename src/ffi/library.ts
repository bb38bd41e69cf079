// Finds, loads and checks libane, and holds the bun:ffi symbol table every wrapper calls through.
// Loading is lazy (first use), so `rustane --version` and `--help` work without the library, and a
// compiled executable's entry can call setEmbeddedLibrary() before anything touches libane.
import { dlopen, suffix, CString, type Pointer } from "bun:ffi";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** The ABI this TypeScript was written against (ANE_ABI_VERSION of libane/include/ane.h). */
export const EXPECTED_ABI_VERSION = 2;

// ane_status codes that the wrappers test for by value.
export const ANE_OK = 0;
export const ANE_ERR_BUFFER_TOO_SMALL = 14;

/** A failed libane call: status is the ane_status code, statusName its constant name
 *  ("ANE_ERR_PARSE"), message "<what was being done>: <ane_last_error()>". */
export class LibaneError extends Error {
  readonly status: number;
  readonly statusName: string;
  constructor(status: number, statusName: string, message: string) {
    super(message);
    this.name = "LibaneError";
    this.status = status;
    this.statusName = statusName;
  }
}

// size_t arguments are passed as u64: rustane only targets 64-bit hosts (x86_64/arm64 Linux, arm64 macOS).
const SYMBOLS = {
  ane_abi_version: { args: [], returns: "u32" },
  ane_version_string: { args: [], returns: "ptr" },
  ane_last_error: { args: [], returns: "ptr" },
  ane_status_name: { args: ["i32"], returns: "ptr" },

  ane_backend_count: { args: [], returns: "i32" },
  ane_backend_name: { args: ["i32"], returns: "ptr" },
  ane_backend_probe: { args: ["ptr"], returns: "i32" },
  ane_backend_open: { args: ["ptr", "ptr"], returns: "i32" },
  ane_backend_close: { args: ["ptr"], returns: "void" },
  ane_backend_kind: { args: ["ptr"], returns: "ptr" },
  ane_backend_info_json: { args: ["ptr", "ptr", "u64", "ptr"], returns: "i32" },

  ane_chip_count: { args: [], returns: "i32" },
  ane_chip_name: { args: ["i32"], returns: "ptr" },
  ane_chip_profile_json: { args: ["ptr", "ptr", "u64", "ptr"], returns: "i32" },

  ane_surface_create: { args: ["ptr", "u64", "ptr"], returns: "i32" },
  ane_surface_release: { args: ["ptr"], returns: "void" },
  ane_surface_size: { args: ["ptr"], returns: "u64" },
  ane_surface_lock: { args: ["ptr", "u32", "ptr"], returns: "i32" },
  ane_surface_unlock: { args: ["ptr", "u32"], returns: "i32" },

  ane_program_compile: {
    args: ["ptr", "ptr", "u64", "ptr", "u64", "ptr", "u32", "u32", "u32", "ptr"],
    returns: "i32",
  },
  ane_program_load: { args: ["ptr", "u32"], returns: "i32" },
  ane_program_unload: { args: ["ptr", "u32"], returns: "i32" },
  ane_program_free: { args: ["ptr"], returns: "void" },
  ane_program_rewrite_weight: { args: ["ptr", "ptr", "ptr", "u64"], returns: "i32" },
  ane_program_input_count: { args: ["ptr"], returns: "u32" },
  ane_program_output_count: { args: ["ptr"], returns: "u32" },
  ane_program_io: { args: ["ptr", "i32", "u32", "ptr"], returns: "i32" },

  ane_compile_count: { args: [], returns: "u32" },
  ane_compile_limit: { args: ["ptr"], returns: "u32" },
  ane_mil_check: { args: ["ptr", "u64", "ptr", "u64", "ptr", "ptr", "u64", "ptr"], returns: "i32" },

  ane_request_create: { args: ["ptr", "ptr", "u32", "ptr", "u32", "ptr"], returns: "i32" },
  ane_request_free: { args: ["ptr"], returns: "void" },
  ane_request_eval: { args: ["ptr", "u32", "ptr"], returns: "i32" },

  ane_copy_2d: { args: ["ptr", "u32", "u64", "ptr", "u32", "u64", "u64", "u64"], returns: "i32" },
  ane_fill_uniform: { args: ["ptr", "u32", "u64", "u64", "f64", "f64"], returns: "i32" },
  ane_set_threads: { args: ["u32"], returns: "i32" },
  ane_get_threads: { args: [], returns: "u32" },

  // Host ops for training (ane.h "host ops for training"; wrapped in train-ops.ts).
  ane_sgemm: { args: ["u32", "u32", "u64", "u64", "u64", "f32", "ptr", "u64", "ptr", "u64", "f32", "ptr", "u64"], returns: "i32" },
  ane_sgemm_async: { args: ["u32", "u32", "u64", "u64", "u64", "f32", "ptr", "u64", "ptr", "u64", "f32", "ptr", "u64"], returns: "i32" },
  ane_async_wait: { args: ["ptr"], returns: "i32" },
  ane_transpose_2d: { args: ["ptr", "u32", "u64", "ptr", "u32", "u64", "u64", "u64"], returns: "i32" },
  ane_rmsnorm_fwd: { args: ["ptr", "ptr", "ptr", "ptr", "u32", "u32", "u32", "f32"], returns: "i32" },
  ane_rmsnorm_bwd: { args: ["ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "u32", "u32", "u32", "u32"], returns: "i32" },
  ane_embedding_fwd: { args: ["ptr", "u32", "ptr", "u32", "u32", "ptr"], returns: "i32" },
  ane_embedding_bwd: { args: ["ptr", "u32", "ptr", "ptr", "u32", "u32"], returns: "i32" },
  ane_swiglu_bwd: { args: ["ptr", "ptr", "ptr", "ptr", "ptr", "u64"], returns: "i32" },
  ane_clip_bwd: { args: ["ptr", "ptr", "u64", "f32"], returns: "i32" },
  ane_rope: { args: ["ptr", "u32", "u32", "u32", "u32", "f64", "u32", "u32"], returns: "i32" },
  ane_cross_entropy: { args: ["ptr", "u32", "u32", "ptr", "f32", "ptr", "ptr"], returns: "i32" },
  ane_gather_rows: { args: ["ptr", "u64", "ptr", "u64", "ptr"], returns: "i32" },
  ane_scatter_add_rows: { args: ["ptr", "u64", "ptr", "u64", "ptr"], returns: "i32" },
  ane_token_histogram: { args: ["ptr", "u32", "u64", "u32", "ptr", "ptr"], returns: "i32" },
  ane_tokens_to_i32: { args: ["ptr", "u32", "u64", "ptr", "u32", "ptr"], returns: "i32" },
  ane_sum_squares: { args: ["ptr", "u64", "ptr"], returns: "i32" },
  ane_all_finite: { args: ["ptr", "u64"], returns: "i32" },
  ane_axpy: { args: ["ptr", "ptr", "u64", "f32"], returns: "i32" },
  ane_scale: { args: ["ptr", "u64", "f32"], returns: "i32" },
  ane_fill_normal: { args: ["ptr", "u64", "u64", "f64", "f64"], returns: "i32" },
  ane_adamw: { args: ["ptr", "ptr", "ptr", "ptr", "u64", "f32", "f32", "f32", "f32", "f32", "u32", "f32"], returns: "i32" },

  // Backend queries for the probes (ane.h "backend queries"; wrapped in query.ts).
  ane_backend_query_json: { args: ["ptr", "ptr", "ptr", "u64", "ptr"], returns: "i32" },
  // host ops for the GPT family
  ane_layernorm_fwd: { args: ["ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "u32", "u32", "f32"], returns: "i32" },
  ane_layernorm_bwd: { args: ["ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "u32", "u32", "u32"], returns: "i32" },
  ane_bias_grad: { args: ["ptr", "ptr", "u32", "u32"], returns: "i32" },
  ane_gelu_tanh_fwd: { args: ["ptr", "ptr", "u64"], returns: "i32" },
  ane_gelu_tanh_bwd: { args: ["ptr", "ptr", "ptr", "u64"], returns: "i32" },
  // decoding (ane.h "decoding"; wrapped in decode-ops.ts)
  ane_decoder_create: { args: ["ptr", "ptr", "u64", "ptr"], returns: "i32" },
  ane_decoder_free: { args: ["ptr"], returns: "void" },
  ane_decoder_reset: { args: ["ptr"], returns: "i32" },
  ane_decoder_length: { args: ["ptr"], returns: "u32" },
  ane_decoder_step: { args: ["ptr", "ptr", "u32", "u32", "ptr"], returns: "i32" },
  ane_decoder_weight_bytes: { args: ["ptr"], returns: "u64" },
  ane_decoder_write_kv: { args: ["ptr", "u32", "u32", "u32", "ptr", "ptr", "u64"], returns: "i32" },
  ane_decoder_set_length: { args: ["ptr", "u32"], returns: "i32" },
  ane_sample: { args: ["ptr", "u32", "ptr", "f64", "u32", "f64", "f64", "ptr"], returns: "i32" },
  // fused optimizer passes (ane.h "fused optimizer passes"; wrapped in train-ops.ts)
  ane_grad_stats: { args: ["ptr", "u64", "ptr", "ptr"], returns: "i32" },
  // weight staging (ane.h "host ops for training"; wrapped in train-ops.ts)
  ane_stage_weights: { args: ["ptr", "u64"], returns: "i32" },
} as const;

function openSymbols(path: string) {
  return dlopen(path, SYMBOLS).symbols;
}
type Symbols = ReturnType<typeof openSymbols>;

let embeddedPath: string | null = null;
let loaded: { path: string; symbols: Symbols; abi: number } | null = null;

/** Called by the compiled executable's generated entry (scripts/build.ts) with the path of the
 *  libane embedded in it; it wins over $RUSTANE_LIBANE and the repo's build/host library. */
export function setEmbeddedLibrary(path: string): void {
  if (loaded) throw new Error("setEmbeddedLibrary: libane is already loaded from " + loaded.path);
  embeddedPath = path;
}

/** Where libane comes from: embedded file, then $RUSTANE_LIBANE, then <repo>/build/host/libane.<so|dylib>. */
function findLibrary(): string {
  if (embeddedPath) return embeddedPath;
  const env = process.env.RUSTANE_LIBANE;
  if (env) {
    if (!existsSync(env)) throw new Error(`libane not found: RUSTANE_LIBANE=${env} does not exist`);
    return env;
  }
  const repoLib = join(import.meta.dir, "..", "..", "build", "host", `libane.${suffix}`);
  if (existsSync(repoLib)) return repoLib;
  throw new Error(
    `libane not found: no embedded library, RUSTANE_LIBANE is not set and ${repoLib} does not exist; ` +
      "build it with `make lib` or point RUSTANE_LIBANE at a libane.so/.dylib",
  );
}

/** The loaded symbol table; loads and checks libane on first use. */
export function lib(): Symbols {
  if (loaded) return loaded.symbols;
  const path = findLibrary();
  // The ABI is checked with that one symbol first: a stale library may lack newer symbols, and
  // "rebuild" is the useful message then, not "symbol not found".
  let abi: number;
  try {
    const probe = dlopen(path, { ane_abi_version: { args: [], returns: "u32" } });
    abi = probe.symbols.ane_abi_version();
  } catch (e) {
    throw new Error(`cannot load libane from ${path}: ${(e as Error).message}`);
  }
  if (abi !== EXPECTED_ABI_VERSION) {
    throw new Error(`libane ABI ${abi} but this rustane expects ${EXPECTED_ABI_VERSION}: rebuild with make (library: ${path})`);
  }
  let symbols: Symbols;
  try {
    symbols = openSymbols(path);
  } catch (e) {
    throw new Error(`cannot load libane from ${path}: ${(e as Error).message} (a library of ABI ${abi} should have it: rebuild with make)`);
  }
  loaded = { path, symbols, abi };
  return symbols;
}

export function libanePath(): string {
  lib();
  return loaded!.path;
}

export function abiVersion(): number {
  lib();
  return loaded!.abi;
}

/** A static or borrowed C string returned by libane ("" for NULL). */
export function cstr(p: Pointer | number | bigint | null): string {
  if (!p) return "";
  return new CString(Number(p) as Pointer).toString();
}

/** A NUL-terminated UTF-8 copy of s for a `const char*` argument. */
export function cbuf(s: string): Buffer {
  return Buffer.from(s + "\0", "utf8");
}

export function libaneVersion(): string {
  return cstr(lib().ane_version_string());
}

export function statusName(status: number): string {
  return cstr(lib().ane_status_name(status));
}

/** Throws LibaneError unless status is ANE_OK. Reads ane_last_error before any other libane call,
 *  because the message is only valid until the next call on this thread. */
export function check(status: number, what: string): void {
  if (status === ANE_OK) return;
  throw failure(status, what);
}

export function failure(status: number, what: string): LibaneError {
  const message = cstr(lib().ane_last_error());
  return new LibaneError(status, statusName(status), message ? `${what}: ${message}` : what);
}

/** Calls a libane function that writes JSON with the buffer protocol (buf, cap, *needed): starts with a
 *  guess and retries once with the size libane asks for. Returns the status and the text written. */
export function callJson(
  what: string,
  call: (buf: Uint8Array, cap: number, needed: BigUint64Array) => number,
  okStatuses: (status: number) => boolean = (s) => s === ANE_OK,
): { status: number; text: string } {
  let cap = 16384;
  for (let attempt = 0; attempt < 3; attempt++) {
    const buf = new Uint8Array(cap);
    const needed = new BigUint64Array(1);
    const status = call(buf, cap, needed);
    const want = Number(needed[0]);
    if (status === ANE_ERR_BUFFER_TOO_SMALL || want > cap) {
      if (!(want > cap)) throw failure(status, what);
      cap = want;
      continue;
    }
    if (!okStatuses(status)) throw failure(status, what);
    let end = buf.indexOf(0);
    if (end < 0) end = cap;
    return { status, text: new TextDecoder().decode(buf.subarray(0, end)) };
  }
  throw new Error(`${what}: libane kept asking for a larger buffer`);
}

export function parseJson(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: libane returned invalid JSON (${(e as Error).message}): ${text.slice(0, 200)}`);
  }
}
