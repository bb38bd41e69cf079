/* activation.c — SwiGLU backward, and the backward of activation clipping.
 *   g = silu(h1) * h3,  silu(x) = x * sigmoid(x),  silu'(x) = sigmoid(x) * (1 + x * (1 - sigmoid(x)))
 *   dh1 = dg * h3 * silu'(h1),  dh3 = dg * silu(h1) */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/fastmath.h"
#include "../core/threads.h"

typedef struct { const float *h1, *h3, *dg; float *dh1, *dh3; } swiglu_job;

ANE_VEC_CLONES static void swiglu_bwd_range(void *ctx, int64_t begin, int64_t end)
{
    const swiglu_job *j = ctx;
    for (int64_t i = begin; i < end; i++) {
        float x = j->h1[i], sig = 1.0f / (1.0f + ane_expf(-x)), dg = j->dg[i];
        float h3 = j->h3[i];
        j->dh3[i] = dg * x * sig;
        j->dh1[i] = dg * h3 * sig * (1.0f + x * (1.0f - sig));
    }
}

ANE_API ane_status ane_swiglu_bwd(const float *h1, const float *h3, const float *dg, float *dh1,
                                  float *dh3, uint64_t n)
{
    if (!h1 || !h3 || !dg || !dh1 || !dh3) return ane_fail(ANE_ERR_INVALID_ARG, "ane_swiglu_bwd: NULL pointer");
    swiglu_job j = {h1, h3, dg, dh1, dh3};
    ane_parallel_for((int64_t)n, 4096, swiglu_bwd_range, &j);
    return ANE_OK;
}

/* Activation clipping y = clip(x, -c, c): its gradient passes where the input was inside (-c, c)
 * and is zero where it was clipped. From the clipped output y: |y| < c means inside. */
typedef struct { const float *y; float *dy; float c; } clip_job;

static void clip_bwd_range(void *ctx, int64_t begin, int64_t end)
{
    const clip_job *j = ctx;
    for (int64_t i = begin; i < end; i++)
        if (!(fabsf(j->y[i]) < j->c)) j->dy[i] = 0.0f;
}

ANE_API ane_status ane_clip_bwd(const float *y, float *dy, uint64_t n, float c)
{
    if (!y || !dy) return ane_fail(ANE_ERR_INVALID_ARG, "ane_clip_bwd: NULL pointer");
    if (!(c > 0.0f)) return ane_fail(ANE_ERR_INVALID_ARG, "ane_clip_bwd: the clip bound must be > 0 (got %g)", (double)c);
    clip_job j = {y, dy, c};
    ane_parallel_for((int64_t)n, 4096, clip_bwd_range, &j);
    return ANE_OK;
}
