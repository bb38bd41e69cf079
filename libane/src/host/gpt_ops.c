/* gpt_ops.c — the host ops of the GPT family: LayerNorm (with bias) forward and backward,
 * GELU (tanh form) forward and backward, and bias-gradient reductions.
 *
 * Activations are channel-major [C, S] (channel c's S positions contiguous), as everywhere in
 * the training step. LayerNorm normalises the C values of each position s:
 *   mean = sum_c x / C,  rstd = 1 / sqrt(sum_c (x - mean)^2 / C + eps)
 *   xhat = (x - mean) * rstd,  y = xhat * w + b
 * Backward, with g = dy * w:
 *   dx = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat)),  dw += sum_s dy * xhat,  db += sum_s dy
 * Positions are contiguous, so inner loops run over a block of positions (vectorisable) and the
 * work is split across threads by block. Reductions over positions (dw, db) are done per block
 * into private partial rows, then summed in block order: the result does not depend on the
 * thread count. */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/threads.h"

#define LN_BLOCK 64  /* positions per work item: one 256-byte stripe per channel */

typedef struct {
    const float *x, *w, *b, *mean, *rstd, *dy;
    float *y, *mean_out, *rstd_out, *dx, *partial;  /* partial: [blocks, 2C] = dw row, db row */
    uint32_t channels, seq, accumulate;
    float eps;
} ln_job;

static void layernorm_fwd_range(void *ctx, int64_t begin, int64_t end)
{
    const ln_job *j = ctx;
    const uint32_t C = j->channels, S = j->seq;
    float mu[LN_BLOCK], rs[LN_BLOCK];
    for (int64_t item = begin; item < end; item++) {
        uint32_t s0 = (uint32_t)item * LN_BLOCK, n = S - s0 < LN_BLOCK ? S - s0 : LN_BLOCK;
        const float *x = j->x + s0;
        float *y = j->y + s0;
        for (uint32_t i = 0; i < n; i++) { mu[i] = 0.0f; rs[i] = 0.0f; }
        for (uint32_t c = 0; c < C; c++) {
            const float *xc = x + (size_t)c * S;
            for (uint32_t i = 0; i < n; i++) mu[i] += xc[i];
        }
        for (uint32_t i = 0; i < n; i++) mu[i] /= (float)C;
        /* Two passes (mean, then squared deviations): no cancellation for large means. */
        for (uint32_t c = 0; c < C; c++) {
            const float *xc = x + (size_t)c * S;
            for (uint32_t i = 0; i < n; i++) { float d = xc[i] - mu[i]; rs[i] += d * d; }
        }
        for (uint32_t i = 0; i < n; i++) rs[i] = 1.0f / sqrtf(rs[i] / (float)C + j->eps);
        for (uint32_t c = 0; c < C; c++) {
            const float *xc = x + (size_t)c * S;
            float *yc = y + (size_t)c * S;
            const float wc = j->w[c], bc = j->b ? j->b[c] : 0.0f;
            for (uint32_t i = 0; i < n; i++) yc[i] = (xc[i] - mu[i]) * rs[i] * wc + bc;
        }
        if (j->mean_out) for (uint32_t i = 0; i < n; i++) j->mean_out[s0 + i] = mu[i];
        if (j->rstd_out) for (uint32_t i = 0; i < n; i++) j->rstd_out[s0 + i] = rs[i];
    }
}

ANE_API ane_status ane_layernorm_fwd(const float *x, const float *w, const float *b, float *y,
                                     float *mean, float *rstd, uint32_t channels, uint32_t seq,
                                     float eps)
{
    if (!x || !w || !y) return ane_fail(ANE_ERR_INVALID_ARG, "ane_layernorm_fwd: x, w and y must not be NULL (b, mean and rstd may be)");
    if (!channels || !seq) return ane_fail(ANE_ERR_INVALID_ARG, "ane_layernorm_fwd: channels and seq must be > 0 (got %u, %u)", channels, seq);
    if (!(eps >= 0.0f)) return ane_fail(ANE_ERR_INVALID_ARG, "ane_layernorm_fwd: eps must be >= 0");
    ln_job j = {.x = x, .w = w, .b = b, .y = y, .mean_out = mean, .rstd_out = rstd,
                .channels = channels, .seq = seq, .eps = eps};
    ane_parallel_for((seq + LN_BLOCK - 1) / LN_BLOCK, 1, layernorm_fwd_range, &j);
    return ANE_OK;
}

/* Each work item writes dx for its positions and its own partial dw, db rows. */
static void layernorm_bwd_range(void *ctx, int64_t begin, int64_t end)
{
    const ln_job *j = ctx;
    const uint32_t C = j->channels, S = j->seq;
    float sg[LN_BLOCK], sgx[LN_BLOCK];  /* mean_c(g), mean_c(g * xhat) per position */
    for (int64_t item = begin; item < end; item++) {
        uint32_t s0 = (uint32_t)item * LN_BLOCK, n = S - s0 < LN_BLOCK ? S - s0 : LN_BLOCK;
        const float *x = j->x + s0, *dy = j->dy + s0, *mu = j->mean + s0, *rs = j->rstd + s0;
        float *dx = j->dx + s0;
        float *dw = j->partial + (size_t)item * 2 * C, *db = dw + C;
        for (uint32_t i = 0; i < n; i++) { sg[i] = 0.0f; sgx[i] = 0.0f; }
        for (uint32_t c = 0; c < C; c++) {
            const float *xc = x + (size_t)c * S, *dyc = dy + (size_t)c * S;
            const float wc = j->w[c];
            float dwc = 0.0f, dbc = 0.0f;
            for (uint32_t i = 0; i < n; i++) {
                float xhat = (xc[i] - mu[i]) * rs[i];
                sg[i] += dyc[i] * wc;
                sgx[i] += dyc[i] * wc * xhat;
                dwc += dyc[i] * xhat;
                dbc += dyc[i];
            }
            dw[c] = dwc;
            db[c] = dbc;
        }
        for (uint32_t i = 0; i < n; i++) { sg[i] /= (float)C; sgx[i] /= (float)C; }
        for (uint32_t c = 0; c < C; c++) {
            const float *xc = x + (size_t)c * S, *dyc = dy + (size_t)c * S;
            float *dxc = dx + (size_t)c * S;
            const float wc = j->w[c];
            for (uint32_t i = 0; i < n; i++) {
                float xhat = (xc[i] - mu[i]) * rs[i];
                float d = rs[i] * (dyc[i] * wc - sg[i] - xhat * sgx[i]);
                dxc[i] = j->accumulate ? dxc[i] + d : d;
            }
        }
    }
}

ANE_API ane_status ane_layernorm_bwd(const float *x, const float *w, const float *mean,
                                     const float *rstd, const float *dy, float *dx, float *dw,
                                     float *db, uint32_t channels, uint32_t seq,
                                     uint32_t accumulate)
{
    if (!x || !w || !mean || !rstd || !dy || !dx || !dw || !db)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_layernorm_bwd: no pointer may be NULL");
    if (!channels || !seq) return ane_fail(ANE_ERR_INVALID_ARG, "ane_layernorm_bwd: channels and seq must be > 0 (got %u, %u)", channels, seq);
    int64_t blocks = (seq + LN_BLOCK - 1) / LN_BLOCK;
    ln_job j = {.x = x, .w = w, .mean = mean, .rstd = rstd, .dy = dy, .dx = dx,
                .channels = channels, .seq = seq, .accumulate = accumulate};
    j.partial = malloc((size_t)blocks * 2 * channels * sizeof(float));
    if (!j.partial)
        return ane_fail(ANE_ERR_NO_MEMORY, "ane_layernorm_bwd: out of memory for %lld x %u partial sums", (long long)blocks, 2 * channels);
    ane_parallel_for(blocks, 1, layernorm_bwd_range, &j);
    for (int64_t item = 0; item < blocks; item++) {       /* fixed order: deterministic */
        const float *p = j.partial + (size_t)item * 2 * channels;
        for (uint32_t c = 0; c < channels; c++) { dw[c] += p[c]; db[c] += p[channels + c]; }
    }
    free(j.partial);
    return ANE_OK;
}

/* ---------------------------------------------------------------- bias gradient */

typedef struct { const float *dy; float *db; uint32_t seq; } bias_job;

/* One channel per item: db[c] += sum_s dy[c, s], with 8 running lanes (vectorisable; the lane
 * order is fixed, so the sum is the same on every run and thread count). */
static void bias_grad_range(void *ctx, int64_t begin, int64_t end)
{
    const bias_job *j = ctx;
    const uint32_t S = j->seq;
    for (int64_t c = begin; c < end; c++) {
        const float *row = j->dy + (size_t)c * S;
        float lane[8] = {0};
        uint32_t s = 0;
        for (; s + 8 <= S; s += 8)
            for (int k = 0; k < 8; k++) lane[k] += row[s + k];
        float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
        for (; s < S; s++) sum += row[s];
        j->db[c] += sum;
    }
}

ANE_API ane_status ane_bias_grad(const float *dy, float *db, uint32_t channels, uint32_t seq)
{
    if (!dy || !db) return ane_fail(ANE_ERR_INVALID_ARG, "ane_bias_grad: dy and db must not be NULL");
    if (!channels || !seq) return ane_fail(ANE_ERR_INVALID_ARG, "ane_bias_grad: channels and seq must be > 0 (got %u, %u)", channels, seq);
    bias_job j = {.dy = dy, .db = db, .seq = seq};
    ane_parallel_for(channels, 16, bias_grad_range, &j);
    return ANE_OK;
}

/* ---------------------------------------------------------------- GELU, tanh form
 *
 * gelu(h) = 0.5 h (1 + tanh(u)),  u = k (h + a h^3),  k = sqrt(2/pi), a = 0.044715
 * gelu'(h) = 0.5 (1 + t) + 0.5 h (1 - t^2) k (1 + 3 a h^2),  t = tanh(u) */

#define GELU_K 0.7978845608028654f
#define GELU_A 0.044715f
#define GELU_GRAIN 4096

typedef struct { const float *h, *dg; float *out; } gelu_job;

static void gelu_fwd_range(void *ctx, int64_t begin, int64_t end)
{
    const gelu_job *j = ctx;
    for (int64_t i = begin; i < end; i++) {
        float h = j->h[i];
        j->out[i] = 0.5f * h * (1.0f + tanhf(GELU_K * (h + GELU_A * h * h * h)));
    }
}

static void gelu_bwd_range(void *ctx, int64_t begin, int64_t end)
{
    const gelu_job *j = ctx;
    for (int64_t i = begin; i < end; i++) {
        float h = j->h[i], t = tanhf(GELU_K * (h + GELU_A * h * h * h));
        float d = 0.5f * (1.0f + t) + 0.5f * h * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_A * h * h);
        j->out[i] = j->dg[i] * d;
    }
}

ANE_API ane_status ane_gelu_tanh_fwd(const float *h, float *g, uint64_t n)
{
    if (!h || !g) return ane_fail(ANE_ERR_INVALID_ARG, "ane_gelu_tanh_fwd: h and g must not be NULL");
    gelu_job j = {.h = h, .out = g};
    ane_parallel_for((int64_t)n, GELU_GRAIN, gelu_fwd_range, &j);
    return ANE_OK;
}

ANE_API ane_status ane_gelu_tanh_bwd(const float *h, const float *dg, float *dh, uint64_t n)
{
    if (!h || !dg || !dh) return ane_fail(ANE_ERR_INVALID_ARG, "ane_gelu_tanh_bwd: h, dg and dh must not be NULL");
    gelu_job j = {.h = h, .dg = dg, .out = dh};
    ane_parallel_for((int64_t)n, GELU_GRAIN, gelu_bwd_range, &j);
    return ANE_OK;
}
