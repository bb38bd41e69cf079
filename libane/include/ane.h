/*
 * ane.h — libane, the one C ABI under rustane.
 *
 * Three backends sit behind this header:
 *   "ane"  macOS arm64: Apple's private AppleNeuralEngine framework and IOSurfaces
 *   "cpu"  portable C: parses the same MIL text and runs it with the ANE's fp16 numerics
 *          and the ANE compiler's rules (chip profiles)
 *   "cuda" planned
 *
 * Rules of the ABI
 *   - Every handle is opaque. Every call that can fail returns an ane_status; on failure a
 *     thread-local message (ane_last_error) says what failed, where (MIL line:column for
 *     program text) and what to do. libane never aborts the process on bad input.
 *   - Ownership is stated per function: "caller owns" means the caller frees it with the
 *     named function; "borrowed" means the pointer stays valid only as long as stated.
 *   - No callbacks into the caller on any hot path.
 *   - ane_abi_version() is bumped on every incompatible change; the TypeScript side checks
 *     it at start-up, so a stale embedded library is caught before any call.
 *
 * Tensor layout (both backends): an MIL function's inputs and outputs are 4-D tensors
 * [1, C, 1, S] (or [N0, N1, N2, S] in general) stored row-major with the last axis (the
 * spatial axis S) contiguous. Each row of S elements starts at a multiple of the chip
 * profile's row alignment: row_stride_bytes = round_up(S * elem_size, row_align).
 * ane_program_io() reports the exact layout of every input and output; surfaces must be at
 * least io.bytes long.
 */
#ifndef ANE_H
#define ANE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ANE_API __attribute__((visibility("default")))
#else
#define ANE_API
#endif

/* 2: ane_adamw_zero_grad removed (training overwrites the gradient instead of clearing it). */
#define ANE_ABI_VERSION 2u

/* ---------------------------------------------------------------- status and errors */

typedef enum ane_status {
    ANE_OK = 0,
    ANE_ERR_INVALID_ARG = 1,   /* a NULL handle, a bad size, an unknown name */
    ANE_ERR_PARSE = 2,         /* MIL text is not well formed (message has line:column) */
    ANE_ERR_TYPE = 3,          /* an op's operands or declared result type are wrong */
    ANE_ERR_RULE = 4,          /* the program breaks a rule of the chip profile */
    ANE_ERR_UNSUPPORTED = 5,   /* an op, dtype or feature this backend does not run */
    ANE_ERR_NO_BACKEND = 6,    /* the backend does not exist or cannot run here */
    ANE_ERR_NO_MEMORY = 7,
    ANE_ERR_BUDGET = 8,        /* the process's compile budget is spent */
    ANE_ERR_STATE = 9,         /* wrong order: eval before load, a locked surface, ... */
    ANE_ERR_BINDING = 10,      /* surfaces do not match the program's inputs/outputs */
    ANE_ERR_DEVICE = 11,       /* the device or its framework reported a failure */
    ANE_ERR_IO = 12,           /* a file could not be read or written */
    ANE_ERR_WEIGHTS = 13,      /* a weight blob is missing, malformed or out of range */
    ANE_ERR_BUFFER_TOO_SMALL = 14, /* an output buffer is too small; *needed says how big */
    ANE_ERR_INTERNAL = 15
} ane_status;

/* Library version: ABI number, and a human-readable version string (static; never free). */
ANE_API uint32_t ane_abi_version(void);
ANE_API const char *ane_version_string(void);

/* The message of the last failed call on this thread. Borrowed: valid until the next libane
 * call on the same thread. Never NULL ("" when there is none). */
ANE_API const char *ane_last_error(void);

/* A short constant name for a status code ("ANE_ERR_PARSE"). Static; never free. */
ANE_API const char *ane_status_name(ane_status status);

/* ---------------------------------------------------------------- dtypes and numerics */

typedef enum ane_dtype {
    ANE_DTYPE_FP16 = 0,
    ANE_DTYPE_FP32 = 1,
    ANE_DTYPE_INT8 = 2,
    ANE_DTYPE_UINT8 = 3,
    ANE_DTYPE_INT32 = 4
} ane_dtype;

typedef enum ane_numerics {
    ANE_NUMERICS_FP16 = 0,     /* the ANE's: every op result rounded to fp16, subnormals flushed */
    ANE_NUMERICS_FP32 = 1      /* reference: fp32 everywhere (cpu backend only) */
} ane_numerics;

#define ANE_QOS_DEFAULT 21u

/* ---------------------------------------------------------------- backends */

typedef struct ane_backend ane_backend;

/* The backends compiled into this library, available here or not: index 0..count-1.
 * Names are static strings. */
ANE_API int ane_backend_count(void);
ANE_API const char *ane_backend_name(int index);

/* ANE_OK when the named backend can be opened on this machine; otherwise the status and a
 * last-error message saying why not (e.g. "not macOS", "AppleNeuralEngine.framework missing"). */
ANE_API ane_status ane_backend_probe(const char *name);

/* Open a backend by name, or "auto" (ane when it works, else cpu). Caller owns *out and
 * closes it with ane_backend_close after every program, request and surface made from it
 * has been freed. */
ANE_API ane_status ane_backend_open(const char *name, ane_backend **out);
ANE_API void ane_backend_close(ane_backend *backend);
ANE_API const char *ane_backend_kind(const ane_backend *backend);  /* "cpu", "ane"; static */

/* Device information as one JSON object: backend, chip or CPU model, cores, threads, the
 * default chip profile, its limits, peak throughput and how it was derived. Written to buf
 * (NUL-terminated) when it fits in cap bytes; *needed (if not NULL) receives the length
 * including the NUL. ANE_ERR_BUFFER_TOO_SMALL when cap is too small. */
ANE_API ane_status ane_backend_info_json(ane_backend *backend, char *buf, size_t cap, size_t *needed);

/* ---------------------------------------------------------------- chip profiles */

/* Profiles: "m1", "m2", "m3", "m4", "m5", and "none" (no hardware rule, no compile budget:
 * for developing programs and for op tests). */
ANE_API int ane_chip_count(void);
ANE_API const char *ane_chip_name(int index);                       /* static */
/* The profile and its rule table as JSON (same buffer protocol as ane_backend_info_json). */
ANE_API ane_status ane_chip_profile_json(const char *chip, char *buf, size_t cap, size_t *needed);

/* ---------------------------------------------------------------- surfaces */

typedef struct ane_surface ane_surface;

#define ANE_LOCK_READ_WRITE 0u
#define ANE_LOCK_READ_ONLY 1u

/* A flat byte buffer the device reads and writes (an IOSurface on the ane backend). Zeroed.
 * Caller owns *out; release with ane_surface_release. */
ANE_API ane_status ane_surface_create(ane_backend *backend, size_t bytes, ane_surface **out);
ANE_API void ane_surface_release(ane_surface *surface);
ANE_API size_t ane_surface_size(const ane_surface *surface);

/* Lock for host access; *base (borrowed) is valid until the matching unlock. A surface must
 * be unlocked while an eval uses it. Locks do not nest. On the cpu backend a surface is plain
 * host memory: *base is the same address for the surface's whole life, and the host may read
 * and write it between evals without a lock (the training pipeline's zero-copy outputs). */
ANE_API ane_status ane_surface_lock(ane_surface *surface, uint32_t lock_flags, void **base);
ANE_API ane_status ane_surface_unlock(ane_surface *surface, uint32_t lock_flags);

/* ---------------------------------------------------------------- programs */

typedef struct ane_program ane_program;

/* A named weight blob, referenced from MIL as BLOBFILE(path=string(name), offset=uint64(k)),
 * e.g. name "@model_path/weights/w.bin". Borrowed for the duration of the compile call only:
 * the program captures what it needs, so rewriting the caller's bytes afterwards changes
 * nothing (as on the device). */
typedef struct ane_weight {
    const char *name;
    const void *data;
    size_t size;
} ane_weight;

#define ANE_COMPILE_SKIP_VALIDATION 1u /* ane backend: hand the text to Apple's compiler even
                                          if libane's own front end rejects it */

/* Compile MIL text (UTF-8, mil_len bytes, need not be NUL-terminated) with its weights.
 *   chip:     a profile name, or NULL for the backend's default (detected chip on "ane",
 *             "m4" on "cpu")
 *   numerics: ANE_NUMERICS_FP16 (the device's) or ANE_NUMERICS_FP32 (cpu only)
 *   qos:      0 means ANE_QOS_DEFAULT
 * A failed compile changes nothing that was compiled or loaded before. Each successful
 * compile counts against the process's compile budget (ane_compile_count/limit).
 * Caller owns *out; free with ane_program_free. */
ANE_API ane_status ane_program_compile(ane_backend *backend, const char *mil, size_t mil_len,
                                       const ane_weight *weights, size_t n_weights,
                                       const char *chip, uint32_t numerics, uint32_t qos,
                                       uint32_t flags, ane_program **out);

/* Load/unload on the device. A program must be loaded to be evaluated. Unloading keeps the
 * compiled program; loading it again is cheap. */
ANE_API ane_status ane_program_load(ane_program *program, uint32_t qos);
ANE_API ane_status ane_program_unload(ane_program *program, uint32_t qos);
/* Unloads if needed and frees. NULL is a no-op. */
ANE_API void ane_program_free(ane_program *program);

/* Overwrite the named weight file that backs a compiled program, where the backend keeps
 * one (the temp directory on "ane", a private copy on "cpu"). This is the experiment of the
 * weight-reload probe: on the device, weights are captured at compile, so an unload/rewrite/
 * load cycle is expected to leave outputs unchanged. size must equal the original's. */
ANE_API ane_status ane_program_rewrite_weight(ane_program *program, const char *name,
                                              const void *data, size_t size);

typedef struct ane_io_desc {
    const char *name;          /* borrowed from the program */
    uint32_t dtype;            /* ane_dtype */
    uint32_t rank;             /* 1..4 */
    int64_t shape[4];          /* unused trailing entries are 1 */
    uint64_t row_stride_bytes; /* bytes between consecutive rows of the last axis */
    uint64_t bytes;            /* minimum surface size */
} ane_io_desc;

ANE_API uint32_t ane_program_input_count(const ane_program *program);
ANE_API uint32_t ane_program_output_count(const ane_program *program);
/* Inputs in the order of the MIL function's parameters, outputs in the order of the
 * function's result tuple. */
ANE_API ane_status ane_program_io(const ane_program *program, int is_output, uint32_t index,
                                  ane_io_desc *out);

/* Compiles counted so far in this process, and the budget (0 = unlimited). */
ANE_API uint32_t ane_compile_count(void);
ANE_API uint32_t ane_compile_limit(const char *chip);

/* Check MIL text against a chip profile without compiling or counting against the budget.
 * Writes a JSON array of every finding to buf: [{"severity":"error"|"warning","rule":"...",
 * "line":N,"column":N,"message":"..."}]. Returns ANE_OK when there are no errors (warnings
 * allowed), otherwise the status of the first error; the JSON is written either way. */
ANE_API ane_status ane_mil_check(const char *mil, size_t mil_len, const ane_weight *weights,
                                 size_t n_weights, const char *chip, char *buf, size_t cap,
                                 size_t *needed);

/* ---------------------------------------------------------------- requests and eval */

typedef struct ane_request ane_request;

/* Bind surfaces to a program's inputs and outputs, once; evaluate many times. Surfaces are
 * borrowed: they must outlive the request. Sizes are checked against ane_program_io.
 * Caller owns *out; free with ane_request_free. */
ANE_API ane_status ane_request_create(ane_program *program, ane_surface *const *inputs,
                                      uint32_t n_inputs, ane_surface *const *outputs,
                                      uint32_t n_outputs, ane_request **out);
ANE_API void ane_request_free(ane_request *request);

typedef struct ane_eval_timing {
    uint64_t wall_ns;          /* host wall-clock time of the call */
    int64_t hw_ns;             /* device execution time, or -1 when the device gives none */
} ane_eval_timing;

/* Synchronous evaluation. timing may be NULL. */
ANE_API ane_status ane_request_eval(ane_request *request, uint32_t qos, ane_eval_timing *timing);

/* ---------------------------------------------------------------- host helpers */

/* Copy a [rows, cols] block with dtype conversion (fp32<->fp16 and same-type copies):
 * row r of src starts at src + r*src_stride_bytes, row r of dst at dst + r*dst_stride_bytes.
 * fp32->fp16 rounds to nearest even; values beyond fp16's range become +-inf; subnormal
 * results are flushed to zero (the ANE's numerics). Used to stage tensors into surfaces at
 * channel/spatial offsets. */
ANE_API ane_status ane_copy_2d(const void *src, uint32_t src_dtype, uint64_t src_stride_bytes,
                               void *dst, uint32_t dst_dtype, uint64_t dst_stride_bytes,
                               uint64_t rows, uint64_t cols);

/* Fill n elements with uniform random values in [lo, hi) from a seeded generator
 * (deterministic for a seed on every platform). */
ANE_API ane_status ane_fill_uniform(void *dst, uint32_t dtype, uint64_t n, uint64_t seed,
                                    double lo, double hi);

/* Threads used by the cpu backend and host ops (default: online CPUs). 0 resets the default. */
ANE_API ane_status ane_set_threads(uint32_t n);
ANE_API uint32_t ane_get_threads(void);

/* ---------------------------------------------------------------- host ops for training
 *
 * The per-element work of a training step that runs on the host (CPU), beside the device
 * kernels: vectorised C on libane's worker threads. Activations use the device's layout:
 * channel-major [C, S] fp32 (channel c's S positions contiguous), so they copy straight into
 * surfaces with ane_copy_2d. Matrices are row-major. Unless a function says "accumulates",
 * outputs are overwritten. All pointers are borrowed for the call only (ane_sgemm_async:
 * until ane_async_wait returns). */

#define ANE_NO_TRANS 0u
#define ANE_TRANS 1u

/* C[M,N] = alpha * op(A) op(B) + beta * C, row-major; op(A) is [M,K], op(B) is [K,N].
 * lda/ldb/ldc are row strides in elements of the stored matrices. */
ANE_API ane_status ane_sgemm(uint32_t trans_a, uint32_t trans_b, uint64_t M, uint64_t N, uint64_t K,
                             float alpha, const float *A, uint64_t lda, const float *B, uint64_t ldb,
                             float beta, float *C, uint64_t ldc);
/* The same, queued on libane's background worker (jobs run in submission order). Used for
 * the weight-gradient matmuls, overlapped with device evals. Every buffer must stay valid
 * and unmodified until ane_async_wait returns. */
ANE_API ane_status ane_sgemm_async(uint32_t trans_a, uint32_t trans_b, uint64_t M, uint64_t N,
                                   uint64_t K, float alpha, const float *A, uint64_t lda,
                                   const float *B, uint64_t ldb, float beta, float *C, uint64_t ldc);
/* Wait for every queued job; returns the first job failure, if any. wait_ns (may be NULL)
 * receives the time spent waiting. */
ANE_API ane_status ane_async_wait(uint64_t *wait_ns);

/* dst[c, r] = src[r, c] for a [rows, cols] block, with dtype conversion as in ane_copy_2d. */
ANE_API ane_status ane_transpose_2d(const void *src, uint32_t src_dtype, uint64_t src_stride_bytes,
                                    void *dst, uint32_t dst_dtype, uint64_t dst_stride_bytes,
                                    uint64_t rows, uint64_t cols);

/* RMSNorm over channels. x, y: [G, C, S] (G groups, e.g. attention heads; G = 1 for the
 * residual stream); w: [C], shared by the groups; inv_rms: [G, S] saved for the backward.
 *   y[g,c,s] = x[g,c,s] * w[c] / sqrt(mean_c x[g,c,s]^2 + eps) */
ANE_API ane_status ane_rmsnorm_fwd(const float *x, const float *w, float *y, float *inv_rms,
                                   uint32_t groups, uint32_t channels, uint32_t seq, float eps);
/* Backward of ane_rmsnorm_fwd. dx is overwritten, or accumulated into when accumulate != 0;
 * dw [C] accumulates. */
ANE_API ane_status ane_rmsnorm_bwd(const float *x, const float *w, const float *inv_rms,
                                   const float *dy, float *dx, float *dw, uint32_t groups,
                                   uint32_t channels, uint32_t seq, uint32_t accumulate);

/* Embedding rows into channel-major activations: out[d, s] = table[tokens[s], d].
 * table: [vocab, dim]. A token >= vocab is ANE_ERR_INVALID_ARG naming its position. */
ANE_API ane_status ane_embedding_fwd(const int32_t *tokens, uint32_t seq, const float *table,
                                     uint32_t vocab, uint32_t dim, float *out);
/* dtable[tokens[s], d] += dout[d, s] (accumulates). */
ANE_API ane_status ane_embedding_bwd(const int32_t *tokens, uint32_t seq, const float *dout,
                                     float *dtable, uint32_t vocab, uint32_t dim);

/* SwiGLU backward: g = silu(h1) * h3; given dg, dh1 = dg * h3 * silu'(h1), dh3 = dg * silu(h1). */
ANE_API ane_status ane_swiglu_bwd(const float *h1, const float *h3, const float *dg, float *dh1,
                                  float *dh3, uint64_t n);

/* Backward of activation clipping y = clip(x, -c, c), given the clipped output y: dy is zeroed in
 * place where |y| >= c (the input was clipped), kept elsewhere. */
ANE_API ane_status ane_clip_bwd(const float *y, float *dy, uint64_t n, float c);

/* Rotary position embedding in place on x: [heads, head_dim, S] (channel-major per head),
 * positions pos0 .. pos0+S-1. style 0 = interleaved pairs (llama2.c: (2i, 2i+1)), 1 =
 * rotate-half (Hugging Face: (i, i + head_dim/2)). inverse != 0 rotates by -angle: the
 * backward of the forward rotation. */
#define ANE_ROPE_INTERLEAVED 0u
#define ANE_ROPE_ROTATE_HALF 1u
ANE_API ane_status ane_rope(float *x, uint32_t heads, uint32_t head_dim, uint32_t seq, uint32_t pos0,
                            double theta, uint32_t style, uint32_t inverse);

/* Softmax cross-entropy over logits [V, S] (channel-major: column s holds position s's V
 * logits) with targets [S] in [0, V). *loss_sum receives the sum over positions of
 * -log softmax(target) (in float64). When dlogits is not NULL it receives
 * (softmax - onehot) * grad_scale (may alias logits). A target outside [0, V) is
 * ANE_ERR_INVALID_ARG; a target of -1 is ignored (no loss, zero gradient). */
ANE_API ane_status ane_cross_entropy(const float *logits, uint32_t vocab, uint32_t seq,
                                     const int32_t *targets, float grad_scale, float *dlogits,
                                     double *loss_sum);

/* Rows by index: dst[i, :] = src[ids[i], :] (gather), dst[ids[i], :] += src[i, :] (scatter-add).
 * Used for vocabulary compaction. */
ANE_API ane_status ane_gather_rows(const float *src, uint64_t row_len, const int32_t *ids,
                                   uint64_t n, float *dst);
ANE_API ane_status ane_scatter_add_rows(const float *src, uint64_t row_len, const int32_t *ids,
                                        uint64_t n, float *dst);

/* Count token ids of a flat token file (dtype ANE_DTYPE_UINT16 or ANE_DTYPE_UINT32 — see
 * below) into counts [vocab] (accumulates). An id >= vocab is ANE_ERR_INVALID_ARG; its element
 * offset is stored in *bad_offset (when not NULL). */
#define ANE_DTYPE_UINT16 16u
#define ANE_DTYPE_UINT32 17u
ANE_API ane_status ane_token_histogram(const void *tokens, uint32_t token_dtype, uint64_t n,
                                       uint32_t vocab, uint64_t *counts, uint64_t *bad_offset);
/* Widen tokens to int32, mapping each through map[vocab] when map is not NULL (compaction). */
ANE_API ane_status ane_tokens_to_i32(const void *tokens, uint32_t token_dtype, uint64_t n,
                                     const int32_t *map, uint32_t vocab, int32_t *out);

/* Reductions and updates over flat fp32 arrays. */
ANE_API ane_status ane_sum_squares(const float *x, uint64_t n, double *out);
/* 1 when every element is finite, else 0. */
ANE_API int ane_all_finite(const float *x, uint64_t n);
ANE_API ane_status ane_axpy(float *y, const float *x, uint64_t n, float a);      /* y += a x */
ANE_API ane_status ane_scale(float *x, uint64_t n, float s);                     /* x *= s */
ANE_API ane_status ane_fill_normal(float *dst, uint64_t n, uint64_t seed, double mean, double std);

/* AdamW with decoupled weight decay (Loshchilov & Hutter), bias-corrected at `step` (>= 1):
 *   g' = g * grad_scale;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2
 *   p -= lr * (weight_decay * p + (m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps)) */
ANE_API ane_status ane_adamw(float *p, const float *g, float *m, float *v, uint64_t n, float lr,
                             float beta1, float beta2, float eps, float weight_decay,
                             uint32_t step, float grad_scale);

/* Weight staging (after every optimizer step): each fp32 matrix W [rows, cols] (row stride
 * src_stride_bytes) is written to up to ANE_STAGE_MAX_DST blocks of locked surfaces, each
 * natural (dst[r, c] = W[r, c], a [rows, cols] block) or transposed (dst[c, r] = W[r, c], a
 * [cols, rows] block), fp32 or fp16 (rounded as ane_copy_2d does). W is read once for all its
 * destinations, and all the matrices of a call are one job for the worker threads, so one call
 * can stage a whole model. Destinations must not overlap each other or any source. Every field
 * is fixed-size for FFI callers: ane_stage_weight is 40 + 4 * 24 = 136 bytes, no padding. */
#define ANE_STAGE_MAX_DST 4u
typedef struct ane_stage_dst {
    void *base;                /* the block's first element */
    uint64_t stride_bytes;     /* bytes between the block's rows */
    uint32_t dtype;            /* ANE_DTYPE_FP32 or ANE_DTYPE_FP16 */
    uint32_t transpose;        /* 0: natural, 1: transposed */
} ane_stage_dst;
typedef struct ane_stage_weight {
    const float *src;
    uint64_t src_stride_bytes;
    uint64_t rows, cols;
    uint32_t n_dst;            /* destinations used, 0..ANE_STAGE_MAX_DST */
    uint32_t reserved;         /* 0 */
    ane_stage_dst dst[ANE_STAGE_MAX_DST];
} ane_stage_weight;
ANE_API ane_status ane_stage_weights(const ane_stage_weight *weights, uint64_t count);

/* ---------------------------------------------------------------- backend queries (probes)
 *
 * What a backend can tell about the device beyond ane_backend_info_json, for `rustane probe`.
 * `what` is "perf-stats" (which performance-statistics objects and fields exist) or
 * "advanced" (shared events, weightsBuffer, procedureIndex, chaining, real-time and direct
 * evaluation: what exists and what works). The answer is one JSON object, always with
 *   "query": what, "backend": the backend's kind, "applicable": true|false
 * and, when not applicable, "reason": why (the cpu backend has no such objects). The other keys
 * of each query are listed in docs/probes.md ("libane queries"). Buffer protocol as
 * ane_backend_info_json. An unknown `what` is ANE_ERR_INVALID_ARG. */
ANE_API ane_status ane_backend_query_json(ane_backend *backend, const char *what, char *buf,
                                          size_t cap, size_t *needed);

/* ---------------------------------------------------------------- host ops for the GPT family
 *
 * LayerNorm with bias, GELU (tanh form) and bias gradients, on channel-major [C, S] fp32
 * activations like the host ops above. Reductions over positions are deterministic (fixed
 * order, independent of the thread count). */

/* LayerNorm over channels of x [C, S]: y = (x - mean) * rstd * w + b, with mean, rstd over the
 * C values of each position and rstd = 1 / sqrt(var + eps). w, b: [C] (b may be NULL: no bias).
 * mean, rstd: [S], saved for the backward (either may be NULL). */
ANE_API ane_status ane_layernorm_fwd(const float *x, const float *w, const float *b, float *y,
                                     float *mean, float *rstd, uint32_t channels, uint32_t seq,
                                     float eps);
/* Backward of ane_layernorm_fwd. dx is overwritten, or accumulated into when accumulate != 0;
 * dw [C] and db [C] accumulate. */
ANE_API ane_status ane_layernorm_bwd(const float *x, const float *w, const float *mean,
                                     const float *rstd, const float *dy, float *dx, float *dw,
                                     float *db, uint32_t channels, uint32_t seq,
                                     uint32_t accumulate);
/* db[c] += sum_s dy[c, s] for dy [C, S] (the gradient of a bias added to every position). */
ANE_API ane_status ane_bias_grad(const float *dy, float *db, uint32_t channels, uint32_t seq);
/* g = gelu(h) = 0.5 h (1 + tanh(sqrt(2/pi) (h + 0.044715 h^3))), elementwise over n. */
ANE_API ane_status ane_gelu_tanh_fwd(const float *h, float *g, uint64_t n);
/* dh = dg * gelu'(h) for the tanh form, elementwise over n (dh may alias dg). */
ANE_API ane_status ane_gelu_tanh_bwd(const float *h, const float *dg, float *dh, uint64_t n);

/* ---------------------------------------------------------------- decoding (rustane generate)
 *
 * Autoregressive inference on the host: a fused, multithreaded forward with a KV cache owned by
 * the handle, for two architectures:
 *   ANE_DECODER_LLAMA  Llama / Qwen3: RMSNorm, RoPE, GQA, optional q/k RMSNorm, SwiGLU, no biases
 *   ANE_DECODER_GPT    GPT-2 / nanoGPT: LayerNorm with bias, learned positions, fused q/k/v,
 *                      biases on every linear, GELU (tanh form)
 * Prefill (many new tokens) and decode (one) are the same call, and every logit has one fixed
 * summation order, independent of the thread count, the instruction set and how positions were
 * batched: running a sequence in one call gives bit-identical logits to running it token by
 * token.
 *
 * Weight storage (config.weight_type): ANE_WEIGHTS_FP32 reads the caller's fp32 arrays in place;
 * ANE_WEIGHTS_FP16 copies every matrix (embeddings, projections, classifier) into fp16 at create
 * (round to nearest even) and widens it to fp32 in the kernel, halving the bytes a decode step
 * streams. Vectors (norm weights, biases) stay fp32; products and sums are fp32 either way. */
typedef struct ane_decoder ane_decoder;

#define ANE_DECODER_LLAMA 0u
#define ANE_DECODER_GPT 1u
#define ANE_WEIGHTS_FP32 0u
#define ANE_WEIGHTS_FP16 1u

typedef struct ane_decoder_config {
    uint32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab_size;
    uint32_t max_seq;       /* positions the KV cache holds */
    uint32_t rope_style;    /* ANE_ROPE_INTERLEAVED or ANE_ROPE_ROTATE_HALF (llama only) */
    uint32_t qk_norm;       /* 1: RMSNorm of each q and k head before RoPE (Qwen3; llama only) */
    float rope_theta;       /* llama only */
    float norm_eps;
    uint32_t arch;          /* ANE_DECODER_LLAMA or ANE_DECODER_GPT */
    uint32_t weight_type;   /* ANE_WEIGHTS_FP32 or ANE_WEIGHTS_FP16 */
} ane_decoder_config;

/* weights, row-major [out, in] matrices (Hugging Face's nn.Linear layout); Q = n_heads * head_dim,
 * KV = n_kv_heads * head_dim.
 * ANE_DECODER_LLAMA: 3 + 11 * n_layers pointers
 *   [0]                  embedding [vocab, dim]
 *   [1 + 11 l + 0..10]   layer l: attn_norm [dim], wq [Q, dim], wk [KV, dim], wv [KV, dim],
 *                        q_norm [hd], k_norm [hd] (both may be NULL without qk_norm),
 *                        wo [dim, Q], ffn_norm [dim], w_gate [hidden, dim], w_up [hidden, dim],
 *                        w_down [dim, hidden]
 *   [1 + 11 L]           final norm [dim]
 *   [2 + 11 L]           classifier [vocab, dim] (the embedding's pointer when tied)
 * ANE_DECODER_GPT (nanoGPT names): 5 + 12 * n_layers pointers
 *   [0] wte [vocab, dim]   [1] wpe [>= max_seq, dim]
 *   [2 + 12 l + 0..11]   layer l: ln_1 weight, bias [dim]; c_attn weight [Q + 2 KV, dim] (rows q,
 *                        then k, then v), bias [Q + 2 KV]; attn.c_proj weight [dim, Q], bias [dim];
 *                        ln_2 weight, bias [dim]; c_fc weight [hidden, dim], bias [hidden];
 *                        mlp.c_proj weight [dim, hidden], bias [dim]
 *   [2 + 12 L], [3 + 12 L]  ln_f weight, bias [dim]
 *   [4 + 12 L]           classifier [vocab, dim] (wte's pointer when tied)
 * The weights are borrowed until ane_decoder_free (fp16 storage copies the matrices, but norms
 * and biases are still read in place); the caller owns *out. With ANE_WEIGHTS_FP16 a matrix
 * value beyond fp16's range (|w| >= 65520) or a NaN is ANE_ERR_WEIGHTS naming the tensor. */
ANE_API ane_status ane_decoder_create(const ane_decoder_config *config, const float *const *weights,
                                      uint64_t n_weights, ane_decoder **out);
ANE_API void ane_decoder_free(ane_decoder *decoder);
/* Forget every cached position. */
ANE_API ane_status ane_decoder_reset(ane_decoder *decoder);
/* Positions held in the KV cache. */
ANE_API uint32_t ane_decoder_length(const ane_decoder *decoder);
/* Run tokens[0..n) at positions pos .. pos+n-1 and write the last one's logits [vocab].
 * pos may be at most the cached length (positions from pos on are replaced); afterwards the
 * cache holds pos + n positions. A token outside [0, vocab) or a position past max_seq is
 * ANE_ERR_INVALID_ARG; pos past the cached length is ANE_ERR_STATE. */
ANE_API ane_status ane_decoder_step(ane_decoder *decoder, const int32_t *tokens, uint32_t n,
                                    uint32_t pos, float *logits);
/* Fill the KV cache from outside (a prefill run as compiled kernels on a backend): layer's keys
 * and values for positions pos .. pos+n-1, each channel-major [KV, ld] (row ch holds channel ch of
 * every position; keys after q/k norm and RoPE, as the decoder's own cache holds them). Then
 * ane_decoder_set_length makes the written positions current; positions below it must have
 * been written for every layer. */
ANE_API ane_status ane_decoder_write_kv(ane_decoder *decoder, uint32_t layer, uint32_t pos, uint32_t n,
                                        const float *k, const float *v, uint64_t ld);
ANE_API ane_status ane_decoder_set_length(ane_decoder *decoder, uint32_t length);
/* Choose the next token from logits [vocab]. allowed (NULL = every id) masks ids out.
 * temperature 0: the largest allowed logit (lowest id on ties). Otherwise the allowed ids ranked
 * by (logit descending, id ascending), the first top_k kept (0 = all), probabilities
 * softmax(logit / temperature) in float64, the shortest prefix whose mass reaches top_p kept
 * (1 = all), and u in [0, 1) picks from that prefix, renormalised, in rank order. */
ANE_API ane_status ane_sample(const float *logits, uint32_t vocab, const uint8_t *allowed, double temperature,
                              uint32_t top_k, double top_p, double u, int32_t *out);
/* Bytes of weights one decode step streams (every matrix once, the classifier too even when
 * tied, one embedding row, and the norms and biases), for GB/s figures. */
ANE_API uint64_t ane_decoder_weight_bytes(const ane_decoder *decoder);

/* ---------------------------------------------------------------- fused optimizer passes
 *
 * The optimizer step in fewer passes over the gradient (110M floats for Stories110M). */
/* The finiteness flag (1 when every g[i] is finite) and the sum of squares of g, in one read;
 * *sumsq has the same bits as ane_sum_squares(g, n) (meaningless when *finite is 0). */
ANE_API ane_status ane_grad_stats(const float *g, uint64_t n, int *finite, double *sumsq);

#ifdef __cplusplus
}
#endif
#endif /* ANE_H */
