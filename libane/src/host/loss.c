/* loss.c — softmax cross-entropy over channel-major logits.
 *
 * logits: [V, S]; column s (stride S) holds position s's V logits. For a target t:
 *   loss_s = log(sum_v exp(l_v - max)) + max - l_t
 *   dlogits[v, s] = (softmax_v - [v == t]) * grad_scale
 * Work items are blocks of positions, so the inner loops run along contiguous positions. */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/fastmath.h"
#include "../core/threads.h"

#define CE_BLOCK 32

typedef struct {
    const float *logits;
    float *dlogits;
    const int32_t *targets;
    double *loss_partial;      /* one per block */
    uint32_t vocab, seq;
    float grad_scale;
} ce_job;

static void ce_range(void *ctx, int64_t begin, int64_t end)
{
    const ce_job *j = ctx;
    const uint32_t V = j->vocab, S = j->seq;
    float mx[CE_BLOCK], sum[CE_BLOCK];
    for (int64_t blk = begin; blk < end; blk++) {
        uint32_t s0 = (uint32_t)blk * CE_BLOCK, n = S - s0 < CE_BLOCK ? S - s0 : CE_BLOCK;
        const float *l = j->logits + s0;
        for (uint32_t i = 0; i < n; i++) { mx[i] = -INFINITY; sum[i] = 0.0f; }
        for (uint32_t v = 0; v < V; v++) {
            const float *lv = l + (size_t)v * S;
            for (uint32_t i = 0; i < n; i++) mx[i] = lv[i] > mx[i] ? lv[i] : mx[i];
        }
        for (uint32_t v = 0; v < V; v++) {
            const float *lv = l + (size_t)v * S;
            for (uint32_t i = 0; i < n; i++) sum[i] += ane_expf(lv[i] - mx[i]);
        }
        double loss = 0.0;
        for (uint32_t i = 0; i < n; i++) {
            int32_t t = j->targets[s0 + i];
            if (t < 0) continue;
            loss += log((double)sum[i]) + (double)mx[i] - (double)l[(size_t)t * S + i];
        }
        j->loss_partial[blk] = loss;
        if (!j->dlogits) continue;
        float *d = j->dlogits + s0;
        float inv[CE_BLOCK];
        for (uint32_t i = 0; i < n; i++) inv[i] = j->targets[s0 + i] < 0 ? 0.0f : j->grad_scale / sum[i];
        for (uint32_t v = 0; v < V; v++) {
            const float *lv = l + (size_t)v * S;
            float *dv = d + (size_t)v * S;
            for (uint32_t i = 0; i < n; i++) dv[i] = ane_expf(lv[i] - mx[i]) * inv[i];
        }
        for (uint32_t i = 0; i < n; i++) {
            int32_t t = j->targets[s0 + i];
            if (t >= 0) d[(size_t)t * S + i] -= j->grad_scale;
        }
    }
}

ANE_API ane_status ane_cross_entropy(const float *logits, uint32_t vocab, uint32_t seq,
                                     const int32_t *targets, float grad_scale, float *dlogits,
                                     double *loss_sum)
{
    if (!logits || !targets || !loss_sum) return ane_fail(ANE_ERR_INVALID_ARG, "ane_cross_entropy: logits, targets and loss_sum must not be NULL");
    if (!vocab || !seq) return ane_fail(ANE_ERR_INVALID_ARG, "ane_cross_entropy: vocab and seq must be > 0");
    for (uint32_t s = 0; s < seq; s++)
        if (targets[s] < -1 || targets[s] >= (int64_t)vocab)
            return ane_fail(ANE_ERR_INVALID_ARG, "ane_cross_entropy: target %d at position %u is outside [0, %u) (and is not -1, 'ignore')",
                            targets[s], s, vocab);
    int64_t blocks = (seq + CE_BLOCK - 1) / CE_BLOCK;
    double *partial = malloc((size_t)blocks * sizeof(double));
    if (!partial) return ane_fail(ANE_ERR_NO_MEMORY, "ane_cross_entropy: out of memory");
    ce_job j = {logits, dlogits, targets, partial, vocab, seq, grad_scale};
    ane_parallel_for(blocks, 1, ce_range, &j);
    double total = 0.0;
    for (int64_t b = 0; b < blocks; b++) total += partial[b];
    free(partial);
    *loss_sum = total;
    return ANE_OK;
}
