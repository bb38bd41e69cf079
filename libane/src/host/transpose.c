/* transpose.c — dst[c, r] = src[r, c] with fp32/fp16 conversion, in cache-sized tiles.
 * Stages a row-major weight W [out, in] into a surface as Wᵀ (channel i holds column i). */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../core/fp16.h"

#define TILE 32

typedef struct {
    const uint8_t *src;
    uint8_t *dst;
    uint32_t sdt, ddt;
    uint64_t sstride, dstride, rows, cols, col_tiles;
} transpose_job;

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
    ane_parallel_for((int64_t)((rows + TILE - 1) / TILE * j.col_tiles), 4, transpose_range, &j);
    return ANE_OK;
}
