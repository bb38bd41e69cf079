/* transpose.c — dst[c, r] = src[r, c] with fp32/fp16 conversion, in cache-sized tiles.
 * Stages a row-major weight W [out, in] into a surface as Wᵀ (channel i holds column i).
 *
 * fp32 to fp32 goes straight from src to dst, a tile at a time (ane_transpose_f32_tile; on x86
 * with AVX register to register: 8x8 blocks loaded as 8 rows, transposed with
 * unpack/shuffle/permute and stored as 8 rows, with no trip through a stack buffer). Everything
 * else takes the portable path: a tile through two small buffers, converting as it goes. */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../core/fp16.h"
#include "transpose.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define TILE 32

typedef struct {
    const uint8_t *src;
    uint8_t *dst;
    uint32_t sdt, ddt;
    uint64_t sstride, dstride, rows, cols, col_tiles;
} transpose_job;

#if defined(__x86_64__)
/* The 8x8 block at s (row stride ss floats), transposed into out[0..7] (out[c] = column c). */
__attribute__((target("avx"), always_inline))
static inline void block8_regs(const float *s, uint64_t ss, __m256 out[8])
{
    __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + ss), r2 = _mm256_loadu_ps(s + 2 * ss);
    __m256 r3 = _mm256_loadu_ps(s + 3 * ss), r4 = _mm256_loadu_ps(s + 4 * ss), r5 = _mm256_loadu_ps(s + 5 * ss);
    __m256 r6 = _mm256_loadu_ps(s + 6 * ss), r7 = _mm256_loadu_ps(s + 7 * ss);
    /* pairs of rows interleaved, then pairs of pairs: each 128-bit lane holds a 4x4 transpose */
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    /* low lanes: columns 0-3, high lanes: columns 4-7 */
    out[0] = _mm256_permute2f128_ps(u0, u4, 0x20); out[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    out[2] = _mm256_permute2f128_ps(u2, u6, 0x20); out[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    out[4] = _mm256_permute2f128_ps(u0, u4, 0x31); out[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    out[6] = _mm256_permute2f128_ps(u2, u6, 0x31); out[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* d[c * ds + r] = s[r * ss + c] for an 8x8 block (strides in floats). */
__attribute__((target("avx")))
static void block8_avx(const float *s, uint64_t ss, float *d, uint64_t ds)
{
    __m256 c[8];
    block8_regs(s, ss, c);
    for (int i = 0; i < 8; i++) _mm256_storeu_ps(d + i * ds, c[i]);
}

static int have_avx(void)
{
    static int level = -1;        /* benign race: every thread computes the same answer */
    if (level < 0) {
        __builtin_cpu_init();
        level = __builtin_cpu_supports("avx") ? 1 : 0;
    }
    return level;
}

#endif

void ane_transpose_f32_tile(const float *s, uint64_t ss, float *d, uint64_t ds, uint64_t rows, uint64_t cols)
{
    uint64_t r8 = 0, c8 = 0;
#if defined(__x86_64__)
    if (have_avx()) {
        r8 = rows & ~(uint64_t)7;
        c8 = cols & ~(uint64_t)7;
        for (uint64_t r = 0; r < r8; r += 8)
            for (uint64_t c = 0; c < c8; c += 8) block8_avx(s + r * ss + c, ss, d + c * ds + r, ds);
    }
#endif
    /* the ragged edge (everything, without AVX): columns past c8 of the first r8 rows, then
     * whole rows past r8 */
    for (uint64_t r = 0; r < rows; r++)
        for (uint64_t c = r < r8 ? c8 : 0; c < cols; c++) d[c * ds + r] = s[r * ss + c];
}

/* fp32 to fp32, tile by tile straight into dst. Strides must be whole floats (checked by the
 * caller). Consecutive tiles continue the same destination rows. */
static void transpose_range_f32(void *ctx, int64_t begin, int64_t end)
{
    const transpose_job *j = ctx;
    uint64_t ss = j->sstride / 4, ds = j->dstride / 4;
    uint64_t row_tiles = (j->rows + TILE - 1) / TILE;
    for (int64_t t = begin; t < end; t++) {
        uint64_t c0 = (uint64_t)t / row_tiles * TILE, r0 = (uint64_t)t % row_tiles * TILE;
        uint64_t nr = j->rows - r0 < TILE ? j->rows - r0 : TILE;
        uint64_t nc = j->cols - c0 < TILE ? j->cols - c0 : TILE;
        ane_transpose_f32_tile((const float *)j->src + r0 * ss + c0, ss, (float *)j->dst + c0 * ds + r0, ds, nr, nc);
    }
}

static void transpose_range(void *ctx, int64_t begin, int64_t end)
{
    const transpose_job *j = ctx;
    float in[TILE][TILE], out[TILE][TILE];
    for (int64_t t = begin; t < end; t++) {
        uint64_t r0 = (uint64_t)t / j->col_tiles * TILE, c0 = (uint64_t)t % j->col_tiles * TILE;
        uint64_t nr = j->rows - r0 < TILE ? j->rows - r0 : TILE;
        uint64_t nc = j->cols - c0 < TILE ? j->cols - c0 : TILE;
        for (uint64_t r = 0; r < nr; r++) {
            const uint8_t *row = j->src + (r0 + r) * j->sstride;
            if (j->sdt == ANE_DTYPE_FP32) memcpy(in[r], (const float *)row + c0, nc * sizeof(float));
            else ane_fp16_to_fp32_n((const uint16_t *)row + c0, in[r], nc);
        }
        for (uint64_t r = 0; r < nr; r++)
            for (uint64_t c = 0; c < nc; c++) out[c][r] = in[r][c];
        for (uint64_t c = 0; c < nc; c++) {
            uint8_t *row = j->dst + (c0 + c) * j->dstride;
            if (j->ddt == ANE_DTYPE_FP32) memcpy((float *)row + r0, out[c], nr * sizeof(float));
            else ane_fp32_to_fp16_n(out[c], (uint16_t *)row + r0, nr);
        }
    }
}

ANE_API ane_status ane_transpose_2d(const void *src, uint32_t src_dtype, uint64_t src_stride_bytes,
                                    void *dst, uint32_t dst_dtype, uint64_t dst_stride_bytes,
                                    uint64_t rows, uint64_t cols)
{
    if (!src || !dst) return ane_fail(ANE_ERR_INVALID_ARG, "ane_transpose_2d: NULL pointer");
    if ((src_dtype != ANE_DTYPE_FP32 && src_dtype != ANE_DTYPE_FP16) ||
        (dst_dtype != ANE_DTYPE_FP32 && dst_dtype != ANE_DTYPE_FP16))
        return ane_fail(ANE_ERR_UNSUPPORTED, "ane_transpose_2d: only fp32 and fp16 are supported");
    uint64_t ses = src_dtype == ANE_DTYPE_FP32 ? 4 : 2, des = dst_dtype == ANE_DTYPE_FP32 ? 4 : 2;
    if (src_stride_bytes < cols * ses || dst_stride_bytes < rows * des)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_transpose_2d: a stride is smaller than its row (src %llu < %llu or dst %llu < %llu)",
                        (unsigned long long)src_stride_bytes, (unsigned long long)(cols * ses),
                        (unsigned long long)dst_stride_bytes, (unsigned long long)(rows * des));
    if (!rows || !cols) return ANE_OK;
    transpose_job j = {src, dst, src_dtype, dst_dtype, src_stride_bytes, dst_stride_bytes, rows, cols,
                       (cols + TILE - 1) / TILE};
    ane_range_fn fn = transpose_range;
    if (src_dtype == ANE_DTYPE_FP32 && dst_dtype == ANE_DTYPE_FP32 && src_stride_bytes % 4 == 0 &&
        dst_stride_bytes % 4 == 0 && (uintptr_t)src % 4 == 0 && (uintptr_t)dst % 4 == 0)
        fn = transpose_range_f32;
    ane_parallel_for((int64_t)((rows + TILE - 1) / TILE * j.col_tiles), 4, fn, &j);
    return ANE_OK;
}
