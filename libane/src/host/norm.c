/* norm.c — RMSNorm forward and backward on channel-major activations.
 *
 * x: [G, C, S]. For each group g and position s, the C values x[g, :, s] are normalised:
 *   r = 1 / sqrt(mean_c x^2 + eps),  y = x * r * w
 * Backward, with u = dy * w:
 *   dx = r * u - x * r^3 * (sum_c u x) / C,   dw += sum_{g,s} dy * x * r
 * Positions are contiguous in memory, so the inner loops run over s (vectorisable); the
 * work is split across threads by (group, block of positions). */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../core/fastmath.h"

typedef struct {
    const float *x, *w, *inv_rms, *dy;
    float *y, *rms_out, *dx, *dw_partial;
    uint32_t groups, channels, seq, accumulate, blocks_per_group;
    float eps;
} norm_job;

#define NORM_BLOCK 64  /* positions per work item: 64 floats = one 256-byte stripe per channel */

ANE_VEC_CLONES static void rmsnorm_fwd_range(void *ctx, int64_t begin, int64_t end)
{
    const norm_job *j = ctx;
    const uint32_t C = j->channels, S = j->seq;
    float acc[NORM_BLOCK];
    for (int64_t item = begin; item < end; item++) {
        uint32_t g = (uint32_t)(item / j->blocks_per_group);
        uint32_t s0 = (uint32_t)(item % j->blocks_per_group) * NORM_BLOCK;
        uint32_t n = S - s0 < NORM_BLOCK ? S - s0 : NORM_BLOCK;
        const float *x = j->x + (size_t)g * C * S + s0;
        float *y = j->y + (size_t)g * C * S + s0;
        for (uint32_t i = 0; i < n; i++) acc[i] = 0.0f;
        for (uint32_t c = 0; c < C; c++) {
            const float *xc = x + (size_t)c * S;
            for (uint32_t i = 0; i < n; i++) acc[i] += xc[i] * xc[i];
        }
        for (uint32_t i = 0; i < n; i++) acc[i] = 1.0f / sqrtf(acc[i] / (float)C + j->eps);
        for (uint32_t c = 0; c < C; c++) {
            const float *xc = x + (size_t)c * S;
            float *yc = y + (size_t)c * S;
            const float wc = j->w[c];
            for (uint32_t i = 0; i < n; i++) yc[i] = xc[i] * acc[i] * wc;
        }
        if (j->rms_out) {
            float *r = j->rms_out + (size_t)g * S + s0;
            for (uint32_t i = 0; i < n; i++) r[i] = acc[i];
        }
    }
}

ANE_API ane_status ane_rmsnorm_fwd(const float *x, const float *w, float *y, float *inv_rms,
                                   uint32_t groups, uint32_t channels, uint32_t seq, float eps)
{
    if (!x || !w || !y) return ane_fail(ANE_ERR_INVALID_ARG, "ane_rmsnorm_fwd: x, w and y must not be NULL");
    if (!groups || !channels || !seq) return ane_fail(ANE_ERR_INVALID_ARG, "ane_rmsnorm_fwd: groups, channels and seq must be > 0");
    if (!(eps >= 0.0f)) return ane_fail(ANE_ERR_INVALID_ARG, "ane_rmsnorm_fwd: eps must be >= 0");
    norm_job j = {.x = x, .w = w, .y = y, .rms_out = inv_rms, .groups = groups, .channels = channels,
                  .seq = seq, .eps = eps, .blocks_per_group = (seq + NORM_BLOCK - 1) / NORM_BLOCK};
    ane_parallel_for((int64_t)groups * j.blocks_per_group, 1, rmsnorm_fwd_range, &j);
    return ANE_OK;
}

/* Each work item writes dx for its positions and its own partial dw row (no sharing). */
ANE_VEC_CLONES static void rmsnorm_bwd_range(void *ctx, int64_t begin, int64_t end)
{
    const norm_job *j = ctx;
    const uint32_t C = j->channels, S = j->seq;
    float dot[NORM_BLOCK];
    for (int64_t item = begin; item < end; item++) {
        uint32_t g = (uint32_t)(item / j->blocks_per_group);
        uint32_t s0 = (uint32_t)(item % j->blocks_per_group) * NORM_BLOCK;
        uint32_t n = S - s0 < NORM_BLOCK ? S - s0 : NORM_BLOCK;
        size_t base = (size_t)g * C * S + s0;
        const float *x = j->x + base, *dy = j->dy + base;
        const float *r = j->inv_rms + (size_t)g * S + s0;
        float *dx = j->dx + base;
        float *dw = j->dw_partial + (size_t)item * C;
        for (uint32_t i = 0; i < n; i++) dot[i] = 0.0f;
        for (uint32_t c = 0; c < C; c++) {
            const float *xc = x + (size_t)c * S, *dyc = dy + (size_t)c * S;
            const float wc = j->w[c];
            float dwc = 0.0f;
            for (uint32_t i = 0; i < n; i++) {
                dot[i] += dyc[i] * wc * xc[i];
                dwc += dyc[i] * xc[i] * r[i];
            }
            dw[c] = dwc;
        }
        for (uint32_t i = 0; i < n; i++) dot[i] = dot[i] * r[i] * r[i] * r[i] / (float)C;
        for (uint32_t c = 0; c < C; c++) {
            const float *xc = x + (size_t)c * S, *dyc = dy + (size_t)c * S;
            float *dxc = dx + (size_t)c * S;
            const float wc = j->w[c];
            if (j->accumulate)
                for (uint32_t i = 0; i < n; i++) dxc[i] += r[i] * wc * dyc[i] - xc[i] * dot[i];
            else
                for (uint32_t i = 0; i < n; i++) dxc[i] = r[i] * wc * dyc[i] - xc[i] * dot[i];
        }
    }
}

ANE_API ane_status ane_rmsnorm_bwd(const float *x, const float *w, const float *inv_rms,
                                   const float *dy, float *dx, float *dw, uint32_t groups,
                                   uint32_t channels, uint32_t seq, uint32_t accumulate)
{
    if (!x || !w || !inv_rms || !dy || !dx || !dw)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_rmsnorm_bwd: no pointer may be NULL");
    if (!groups || !channels || !seq) return ane_fail(ANE_ERR_INVALID_ARG, "ane_rmsnorm_bwd: groups, channels and seq must be > 0");
    norm_job j = {.x = x, .w = w, .inv_rms = inv_rms, .dy = dy, .dx = dx, .groups = groups,
                  .channels = channels, .seq = seq, .accumulate = accumulate,
                  .blocks_per_group = (seq + NORM_BLOCK - 1) / NORM_BLOCK};
    int64_t items = (int64_t)groups * j.blocks_per_group;
    /* dw partials per item, summed in a fixed order afterwards: deterministic for any thread count. */
    j.dw_partial = malloc((size_t)items * channels * sizeof(float));
    if (!j.dw_partial) return ane_fail(ANE_ERR_NO_MEMORY, "ane_rmsnorm_bwd: out of memory for %lld x %u partial sums", (long long)items, channels);
    ane_parallel_for(items, 1, rmsnorm_bwd_range, &j);
    for (int64_t item = 0; item < items; item++) {
        const float *p = j.dw_partial + (size_t)item * channels;
        for (uint32_t c = 0; c < channels; c++) dw[c] += p[c];
    }
    free(j.dw_partial);
    return ANE_OK;
}
