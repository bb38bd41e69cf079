/* stage.c — ane_stage_weights: a training step's weight staging in one call.
 *
 * After every optimizer step each weight matrix W [rows, cols] is written into the packed input
 * surfaces of several kernels: transposed for the forward kernels, natural for the backward
 * ones (some natural twice). Staging them one copy at a time reads W once per copy and makes
 * a pool job (and an FFI call, and a surface lock) per copy. Here every matrix of the step is
 * cut into tiles that fit in L1; a tile is read from memory once and written to all of its
 * destinations while it is still in cache, and the tiles of all matrices (all layers) form one
 * pool job, so the threads stay busy across matrix and layer boundaries.
 *
 * Tiles go along W's rows (c0 fastest), so consecutive tiles continue the same rows of W and of
 * its natural copies. On x86, fp32 destinations are written with non-temporal stores where
 * aligned: a step stages hundreds of MB, far more than the caches hold, and streaming stores
 * skip reading every destination line before overwriting it. */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../core/fp16.h"
#include "transpose.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* A tile is TR x TC elements of W: 16 KiB of fp32, in L1 while it is written to each destination
 * (with 16 KiB of scratch for transposed fp16 ones). 32 rows make a transposed destination's
 * pieces 128 bytes, two whole cache lines, which is what non-temporal stores need. Measured on
 * Stories110M (2-core Xeon, fp32): 32 x 128 beat 64 x 64 and strips of 8 or 16 whole rows. */
#define TR 32
#define TC 128

/* FFI callers (src/ffi/train-ops.ts) write these structs byte by byte. */
_Static_assert(sizeof(ane_stage_dst) == 24 && sizeof(ane_stage_weight) == 136, "ane_stage_weight layout changed");

typedef struct {
    const ane_stage_weight *weights;
    const uint64_t *first_tile;    /* [count + 1]: tile index of each matrix's first tile, then the total */
    uint64_t count;
} stage_job;

static uint64_t tiles_of(uint64_t n, uint64_t t) { return (n + t - 1) / t; }

/* d[0, n) = s[0, n). A row piece is at most TC floats: gcc expands memcpy of a size it can bound
 * into `rep movsq`, several times slower than vector moves at this length, so x86 gets an
 * explicit AVX loop. */
#if defined(__x86_64__)
__attribute__((target("avx")))
static void copy_row_avx(const float *s, float *d, uint64_t n)
{
    uint64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 a = _mm256_loadu_ps(s + i), b = _mm256_loadu_ps(s + i + 8);
        __m256 c = _mm256_loadu_ps(s + i + 16), e = _mm256_loadu_ps(s + i + 24);
        _mm256_storeu_ps(d + i, a); _mm256_storeu_ps(d + i + 8, b);
        _mm256_storeu_ps(d + i + 16, c); _mm256_storeu_ps(d + i + 24, e);
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_loadu_ps(s + i));
    for (; i < n; i++) d[i] = s[i];
}

/* The same with non-temporal stores: n a multiple of 8, d 32-byte aligned. */
__attribute__((target("avx")))
static void copy_row_avx_stream(const float *s, float *d, uint64_t n)
{
    for (uint64_t i = 0; i < n; i += 8) _mm256_stream_ps(d + i, _mm256_loadu_ps(s + i));
}

static int have_avx(void) { return __builtin_cpu_supports("avx"); }
#endif

static void copy_row(const float *s, float *d, uint64_t n)
{
#if defined(__x86_64__)
    if (have_avx()) { copy_row_avx(s, d, n); return; }
#endif
    memcpy(d, s, n * sizeof(float));
}

/* copy_row, with non-temporal stores where the CPU and d's alignment allow (x86). */
static void copy_row_stream(const float *s, float *d, uint64_t n)
{
#if defined(__x86_64__)
    if (have_avx() && n % 8 == 0 && (uintptr_t)d % 32 == 0) { copy_row_avx_stream(s, d, n); return; }
#endif
    copy_row(s, d, n);
}

/* Write tile (r0, c0) [nr, nc] of W to every destination of w.
 *
 * Natural copies go first: they read the tile's rows front to back, which the prefetchers
 * follow, and leave the tile in L1 for the transposed ones (read first, the tile's 32 rows are
 * 32 short strided streams that miss one by one). A transposed copy goes through the L1
 * scratch [nc, TR], so each destination row (TR = 32 floats, two whole cache lines) is then
 * written in one go: written straight from 8x8 blocks, a row's lines complete only after
 * three more blocks, and the write-combining buffers give up on half-written lines. */
static void stage_tile(const ane_stage_weight *w, uint64_t r0, uint64_t c0, uint64_t nr, uint64_t nc, float *scratch)
{
    uint64_t ss = w->src_stride_bytes / 4;
    const float *s = w->src + r0 * ss + c0;
    int transposed = 0;
    for (uint32_t i = 0; i < w->n_dst; i++) {
        const ane_stage_dst *d = &w->dst[i];
        if (d->transpose) { transposed = 1; continue; }
        /* dst[r, c] = W[r, c]: row pieces of nc elements */
        for (uint64_t r = 0; r < nr; r++) {
            uint8_t *row = d->base + (r0 + r) * d->stride_bytes;
            if (d->dtype == ANE_DTYPE_FP32) copy_row_stream(s + r * ss, (float *)row + c0, nc);
            else ane_fp32_to_fp16_n(s + r * ss, (uint16_t *)row + c0, nc);
        }
    }
    if (!transposed) return;
    ane_transpose_f32_tile(s, ss, scratch, TR, nr, nc);          /* scratch[c, r] = W[r0 + r, c0 + c] */
    for (uint32_t i = 0; i < w->n_dst; i++) {
        const ane_stage_dst *d = &w->dst[i];
        if (!d->transpose) continue;
        /* dst[c, r] = W[r, c] */
        for (uint64_t c = 0; c < nc; c++) {
            uint8_t *row = d->base + (c0 + c) * d->stride_bytes;
            if (d->dtype == ANE_DTYPE_FP32) copy_row_stream(scratch + c * TR, (float *)row + r0, nr);
            else ane_fp32_to_fp16_n(scratch + c * TR, (uint16_t *)row + r0, nr);
        }
    }
}

static void stage_range(void *ctx, int64_t begin, int64_t end)
{
    const stage_job *j = ctx;
    float scratch[TR * TC];
    /* the matrix holding tile `begin`: the last one whose first tile is <= begin */
    uint64_t m = 0;
    while (m + 1 < j->count && j->first_tile[m + 1] <= (uint64_t)begin) m++;
    for (uint64_t t = (uint64_t)begin; t < (uint64_t)end; t++) {
        while (t >= j->first_tile[m + 1]) m++;
        const ane_stage_weight *w = &j->weights[m];
        uint64_t k = t - j->first_tile[m], col_tiles = tiles_of(w->cols, TC);
        uint64_t r0 = k / col_tiles * TR, c0 = k % col_tiles * TC;
        uint64_t nr = w->rows - r0 < TR ? w->rows - r0 : TR;
        uint64_t nc = w->cols - c0 < TC ? w->cols - c0 : TC;
        stage_tile(w, r0, c0, nr, nc, scratch);
    }
#if defined(__x86_64__)
    _mm_sfence();   /* the streaming stores above, visible before the job reports done */
#endif
}

/* What is wrong with matrix i, or ANE_OK. */
static ane_status check_weight(const ane_stage_weight *w, uint64_t i)
{
    if (!w->src)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_stage_weights: weights[%llu].src is NULL", (unsigned long long)i);
    if (w->n_dst > ANE_STAGE_MAX_DST)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_stage_weights: weights[%llu] has %u destinations; at most %u",
                        (unsigned long long)i, w->n_dst, ANE_STAGE_MAX_DST);
    if (w->rows > UINT32_MAX || w->cols > UINT32_MAX)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_stage_weights: weights[%llu] is [%llu, %llu]; each side must be < 2^32",
                        (unsigned long long)i, (unsigned long long)w->rows, (unsigned long long)w->cols);
    if ((uintptr_t)w->src % 4 || w->src_stride_bytes % 4 || (w->rows > 1 && w->src_stride_bytes < w->cols * 4))
        return ane_fail(ANE_ERR_INVALID_ARG,
                        "ane_stage_weights: weights[%llu]: src must be 4-byte aligned with a whole-float row stride of at "
                        "least cols * 4 = %llu bytes (got stride %llu)", (unsigned long long)i,
                        (unsigned long long)(w->cols * 4), (unsigned long long)w->src_stride_bytes);
    for (uint32_t k = 0; k < w->n_dst; k++) {
        const ane_stage_dst *d = &w->dst[k];
        if (!d->base)
            return ane_fail(ANE_ERR_INVALID_ARG, "ane_stage_weights: weights[%llu].dst[%u].base is NULL",
                            (unsigned long long)i, k);
        if (d->dtype != ANE_DTYPE_FP32 && d->dtype != ANE_DTYPE_FP16)
            return ane_fail(ANE_ERR_UNSUPPORTED, "ane_stage_weights: weights[%llu].dst[%u].dtype is %u; use ANE_DTYPE_FP32 or "
                            "ANE_DTYPE_FP16", (unsigned long long)i, k, d->dtype);
        if (d->transpose > 1)
            return ane_fail(ANE_ERR_INVALID_ARG, "ane_stage_weights: weights[%llu].dst[%u].transpose is %u; use 0 or 1",
                            (unsigned long long)i, k, d->transpose);
        uint64_t es = d->dtype == ANE_DTYPE_FP32 ? 4 : 2;
        uint64_t drows = d->transpose ? w->cols : w->rows, dcols = d->transpose ? w->rows : w->cols;
        if ((uintptr_t)d->base % es || d->stride_bytes % es || (drows > 1 && d->stride_bytes < dcols * es))
            return ane_fail(ANE_ERR_INVALID_ARG,
                            "ane_stage_weights: weights[%llu].dst[%u]: base and row stride must be %llu-byte aligned and "
                            "the row stride (%llu bytes) at least a row of the %s block [%llu, %llu] (%llu bytes)",
                            (unsigned long long)i, k, (unsigned long long)es, (unsigned long long)d->stride_bytes,
                            d->transpose ? "transposed" : "natural", (unsigned long long)drows,
                            (unsigned long long)dcols, (unsigned long long)(dcols * es));
    }
    return ANE_OK;
}

ANE_API ane_status ane_stage_weights(const ane_stage_weight *weights, uint64_t count)
{
    if (!count) return ANE_OK;
    if (!weights) return ane_fail(ANE_ERR_INVALID_ARG, "ane_stage_weights: weights is NULL with count %llu",
                                  (unsigned long long)count);
    if (count > UINT32_MAX)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_stage_weights: %llu matrices; stage fewer per call",
                        (unsigned long long)count);
    for (uint64_t i = 0; i < count; i++) {
        ane_status st = check_weight(&weights[i], i);
        if (st != ANE_OK) return st;
    }
    uint64_t *first_tile = malloc((count + 1) * sizeof *first_tile);
    if (!first_tile) return ane_fail(ANE_ERR_NO_MEMORY, "ane_stage_weights: out of memory for %llu matrices",
                                     (unsigned long long)count);
    first_tile[0] = 0;
    for (uint64_t i = 0; i < count; i++) {
        const ane_stage_weight *w = &weights[i];
        uint64_t tiles = w->n_dst ? tiles_of(w->rows, TR) * tiles_of(w->cols, TC) : 0;   /* nowhere to write: no work */
        first_tile[i + 1] = first_tile[i] + tiles;
    }
    stage_job j = {weights, first_tile, count};
    /* a tile is 8-32 KiB of writes: a few per chunk keeps the pool's bookkeeping negligible */
    ane_parallel_for((int64_t)first_tile[count], 4, stage_range, &j);
    free(first_tile);
    return ANE_OK;
}
