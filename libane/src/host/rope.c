/* rope.c — rotary position embedding on channel-major heads, in place.
 *
 * x: [heads, head_dim, S]. Pair k (0 <= k < head_dim/2) of a head rotates by the angle
 * (pos0 + s) * theta^(-2k/head_dim). The pair's two channels are (2k, 2k+1) for the
 * interleaved style (llama2.c) and (k, k + head_dim/2) for rotate-half (Hugging Face):
 *   a' = a cos - b sin,   b' = a sin + b cos
 * The inverse rotation (sin negated) is the backward, since a rotation's transpose is its
 * inverse. Angles are computed in float64. */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/threads.h"

typedef struct {
    float *x;
    const float *cos_t, *sin_t;   /* [head_dim/2, S] */
    uint32_t heads, head_dim, seq, style;
} rope_job;

static void rope_range(void *ctx, int64_t begin, int64_t end)
{
    const rope_job *j = ctx;
    const uint32_t half = j->head_dim / 2, S = j->seq;
    for (int64_t item = begin; item < end; item++) {
        uint32_t h = (uint32_t)(item / half), k = (uint32_t)(item % half);
        uint32_t ca = j->style == ANE_ROPE_INTERLEAVED ? 2 * k : k;
        uint32_t cb = j->style == ANE_ROPE_INTERLEAVED ? 2 * k + 1 : k + half;
        float *a = j->x + ((size_t)h * j->head_dim + ca) * S;
        float *b = j->x + ((size_t)h * j->head_dim + cb) * S;
        const float *c = j->cos_t + (size_t)k * S, *sn = j->sin_t + (size_t)k * S;
        for (uint32_t s = 0; s < S; s++) {
            float av = a[s], bv = b[s];
            a[s] = av * c[s] - bv * sn[s];
            b[s] = av * sn[s] + bv * c[s];
        }
    }
}

ANE_API ane_status ane_rope(float *x, uint32_t heads, uint32_t head_dim, uint32_t seq, uint32_t pos0,
                            double theta, uint32_t style, uint32_t inverse)
{
    if (!x) return ane_fail(ANE_ERR_INVALID_ARG, "ane_rope: x is NULL");
    if (!heads || !seq || !head_dim || head_dim % 2)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_rope: heads and seq must be > 0 and head_dim even and > 0 (got %u)", head_dim);
    if (style != ANE_ROPE_INTERLEAVED && style != ANE_ROPE_ROTATE_HALF)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_rope: style %u is not ANE_ROPE_INTERLEAVED (0) or ANE_ROPE_ROTATE_HALF (1)", style);
    if (!(theta > 1.0)) return ane_fail(ANE_ERR_INVALID_ARG, "ane_rope: theta must be > 1");
    const uint32_t half = head_dim / 2;
    float *tables = malloc((size_t)2 * half * seq * sizeof(float));
    if (!tables) return ane_fail(ANE_ERR_NO_MEMORY, "ane_rope: out of memory");
    float *cos_t = tables, *sin_t = tables + (size_t)half * seq;
    for (uint32_t k = 0; k < half; k++) {
        double freq = pow(theta, -2.0 * k / head_dim);
        for (uint32_t s = 0; s < seq; s++) {
            double angle = (double)(pos0 + s) * freq;
            cos_t[(size_t)k * seq + s] = (float)cos(angle);
            sin_t[(size_t)k * seq + s] = (float)(inverse ? -sin(angle) : sin(angle));
        }
    }
    rope_job j = {x, cos_t, sin_t, heads, head_dim, seq, style};
    ane_parallel_for((int64_t)heads * half, 1, rope_range, &j);
    free(tables);
    return ANE_OK;
}
