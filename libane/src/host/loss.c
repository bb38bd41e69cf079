/* loss.c — softmax cross-entropy over channel-major logits.
 *
 * logits: [V, S]; column s (stride S) holds position s's V logits. For a target t:
 *   loss_s = log(sum_v exp(l_v - max)) + max - l_t
 *   dlogits[v, s] = (softmax_v - [v == t]) * grad_scale
 * Work items are blocks of positions, so the inner loops run along contiguous positions. Each
 * pass over a block reads one run of the block's width from every row of [V, S]: wide runs
 * stream from memory, narrow ones (32 positions = 128 bytes of every 1 KB row at S = 256)
 * defeat the prefetchers (about 3x slower at [32000, 256] on a 2-core x86). So a block is an
 * even share of the positions per thread, up to CE_BLOCK_MAX. */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/fastmath.h"
#include "../core/threads.h"

#define CE_BLOCK_MAX 256

typedef struct {
    const float *logits;
    float *dlogits;
    const int32_t *targets;
    double *loss;              /* [S]: each position's loss (0 where ignored) */
    uint32_t vocab, seq, block;
    float grad_scale;
} ce_job;

ANE_VEC_CLONES static void ce_range(void *ctx, int64_t begin, int64_t end)
{
    const ce_job *j = ctx;
    const uint32_t V = j->vocab, S = j->seq, B = j->block;
    float mx[CE_BLOCK_MAX], sum[CE_BLOCK_MAX];
    for (int64_t blk = begin; blk < end; blk++) {
        uint32_t s0 = (uint32_t)blk * B, n = S - s0 < B ? S - s0 : B;
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
        for (uint32_t i = 0; i < n; i++) {
            int32_t t = j->targets[s0 + i];
            j->loss[s0 + i] = t < 0 ? 0.0 : log((double)sum[i]) + (double)mx[i] - (double)l[(size_t)t * S + i];
        }
        if (!j->dlogits) continue;
        float *d = j->dlogits + s0;
        float inv[CE_BLOCK_MAX];
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
    /* positions per thread, rounded up to whole 64-byte lines (16 floats) */
    uint32_t threads = ane_threads_count();
    int64_t share = ((int64_t)seq + threads - 1) / threads;
    uint32_t block = share >= CE_BLOCK_MAX ? CE_BLOCK_MAX : (uint32_t)(share + 15) / 16 * 16;
    int64_t blocks = ((int64_t)seq + block - 1) / block;
    double *loss = malloc((size_t)seq * sizeof(double));
    if (!loss) return ane_fail(ANE_ERR_NO_MEMORY, "ane_cross_entropy: out of memory");
    ce_job j = {logits, dlogits, targets, loss, vocab, seq, block, grad_scale};
    ane_parallel_for(blocks, 1, ce_range, &j);
    /* summed in position order: the same total whatever the blocks (and thread count) */
    double total = 0.0;
    for (uint32_t s = 0; s < seq; s++) total += loss[s];
    free(loss);
    *loss_sum = total;
    return ANE_OK;
}
