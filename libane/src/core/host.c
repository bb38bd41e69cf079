/* host.c — the public host helpers of ane.h: strided 2-D copies with dtype conversion,
 * deterministic uniform fills, and the thread count. Large jobs run on the pool. */
#include "platform.h"
#include "error.h"
#include "fp16.h"
#include "threads.h"

static size_t dtype_size(uint32_t t)
{
    switch (t) {
    case ANE_DTYPE_FP16: return 2;
    case ANE_DTYPE_FP32: case ANE_DTYPE_INT32: return 4;
    case ANE_DTYPE_INT8: case ANE_DTYPE_UINT8: return 1;
    default: return 0;
    }
}

typedef struct copy2d {
    const unsigned char *src;
    unsigned char *dst;
    uint64_t ss, ds, cols;
    uint32_t st, dt;
} copy2d;

static void copy_rows(void *vctx, int64_t begin, int64_t end)
{
    copy2d *c = vctx;
    for (int64_t r = begin; r < end; r++) {
        const unsigned char *s = c->src + (uint64_t)r * c->ss;
        unsigned char *d = c->dst + (uint64_t)r * c->ds;
        if (c->st == c->dt) memmove(d, s, c->cols * dtype_size(c->st));
        else if (c->st == ANE_DTYPE_FP32) ane_fp32_to_fp16_n((const float *)s, (uint16_t *)d, c->cols);
        else ane_fp16_to_fp32_n((const uint16_t *)s, (float *)d, c->cols);
    }
}

ANE_API ane_status ane_copy_2d(const void *src, uint32_t src_dtype, uint64_t src_stride_bytes,
                               void *dst, uint32_t dst_dtype, uint64_t dst_stride_bytes,
                               uint64_t rows, uint64_t cols)
{
    size_t ssz = dtype_size(src_dtype), dsz = dtype_size(dst_dtype);
    if (!ssz || !dsz)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_copy_2d: unknown dtype (src %u, dst %u); use ANE_DTYPE_*",
                        src_dtype, dst_dtype);
    int convert = src_dtype != dst_dtype;
    if (convert && !((src_dtype == ANE_DTYPE_FP32 && dst_dtype == ANE_DTYPE_FP16) ||
                     (src_dtype == ANE_DTYPE_FP16 && dst_dtype == ANE_DTYPE_FP32)))
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_copy_2d: converts only fp32<->fp16 (or copies one dtype); got %u -> %u",
                        src_dtype, dst_dtype);
    if (rows == 0 || cols == 0) return ANE_OK;
    if (!src || !dst) return ane_fail(ANE_ERR_INVALID_ARG, "ane_copy_2d: src or dst is NULL");
    if (cols > UINT64_MAX / 8 || (rows > 1 && (src_stride_bytes < cols * ssz || dst_stride_bytes < cols * dsz)))
        return ane_fail(ANE_ERR_INVALID_ARG,
                        "ane_copy_2d: a row stride (src %llu, dst %llu bytes) is shorter than a row (%llu elements)",
                        (unsigned long long)src_stride_bytes, (unsigned long long)dst_stride_bytes,
                        (unsigned long long)cols);
    if (rows > (uint64_t)INT64_MAX) return ane_fail(ANE_ERR_INVALID_ARG, "ane_copy_2d: too many rows");
    copy2d c = { src, dst, src_stride_bytes, dst_stride_bytes, cols, src_dtype, dst_dtype };
    int64_t grain = (int64_t)(1 + 65536 / cols);
    ane_parallel_for((int64_t)rows, grain, copy_rows, &c);
    return ANE_OK;
}

/* ------------------------------------------------------------------ uniform fill */

/* splitmix64 of (seed, index): every element is a pure function of both, so the fill is
 * the same on every platform and for every thread count. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct fill {
    void *dst;
    uint32_t dtype;
    uint64_t seed;
    double lo, hi;
} fill;

static void fill_range(void *vctx, int64_t begin, int64_t end)
{
    fill *f = vctx;
    uint64_t key = mix(f->seed);
    for (int64_t i = begin; i < end; i++) {
        double u = (double)(mix(key ^ (uint64_t)i) >> 11) * (1.0 / 9007199254740992.0);   /* [0,1), 53 bits */
        double v = f->lo + (f->hi - f->lo) * u;
        switch (f->dtype) {
        case ANE_DTYPE_FP32: {
            float x = (float)v;
            ((float *)f->dst)[i] = x < f->hi ? x : (float)f->lo;   /* rounding reached hi: rare */
            break;
        }
        case ANE_DTYPE_FP16: {
            uint16_t h = ane_fp32_to_fp16((float)v);
            ((uint16_t *)f->dst)[i] = ane_fp16_to_fp32(h) < f->hi ? h : ane_fp32_to_fp16((float)f->lo);
            break;
        }
        case ANE_DTYPE_INT8: ((int8_t *)f->dst)[i] = (int8_t)floor(v); break;
        case ANE_DTYPE_UINT8: ((uint8_t *)f->dst)[i] = (uint8_t)floor(v); break;
        default: ((int32_t *)f->dst)[i] = (int32_t)floor(v); break;
        }
    }
}

ANE_API ane_status ane_fill_uniform(void *dst, uint32_t dtype, uint64_t n, uint64_t seed, double lo, double hi)
{
    if (!dtype_size(dtype)) return ane_fail(ANE_ERR_INVALID_ARG, "ane_fill_uniform: unknown dtype %u", dtype);
    if (!(lo < hi) || !isfinite(lo) || !isfinite(hi))
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_fill_uniform: need finite lo < hi (got %g, %g)", lo, hi);
    double tlo = -INFINITY, thi = INFINITY;
    if (dtype == ANE_DTYPE_INT8) { tlo = -128; thi = 128; }
    if (dtype == ANE_DTYPE_UINT8) { tlo = 0; thi = 256; }
    if (dtype == ANE_DTYPE_INT32) { tlo = -2147483648.0; thi = 2147483648.0; }
    if (dtype == ANE_DTYPE_FP16) { tlo = -65504; thi = 65504; }
    if (lo < tlo || hi > thi)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_fill_uniform: [%g, %g) does not fit the dtype's range [%g, %g)",
                        lo, hi, tlo, thi);
    if (n == 0) return ANE_OK;
    if (!dst) return ane_fail(ANE_ERR_INVALID_ARG, "ane_fill_uniform: dst is NULL");
    if (n > (uint64_t)INT64_MAX) return ane_fail(ANE_ERR_INVALID_ARG, "ane_fill_uniform: n too large");
    fill f = { dst, dtype, seed, lo, hi };
    ane_parallel_for((int64_t)n, 65536, fill_range, &f);
    return ANE_OK;
}

/* ------------------------------------------------------------------ threads */

ANE_API ane_status ane_set_threads(uint32_t n)
{
    if (n > 256) return ane_fail(ANE_ERR_INVALID_ARG, "ane_set_threads: %u threads; at most 256 (0 = default)", n);
    ane_threads_set(n);
    return ANE_OK;
}

ANE_API uint32_t ane_get_threads(void) { return ane_threads_count(); }
