/* embedding.c — token embedding lookup and its gradient, into channel-major activations.
 *   forward:  out[d, s] = table[tokens[s], d]          table: [vocab, dim], out: [dim, S]
 *   backward: dtable[tokens[s], d] += dout[d, s]
 * The backward splits work by embedding column d, so repeated tokens never race and the
 * sum order is fixed (deterministic for any thread count). */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/threads.h"

typedef struct {
    const int32_t *tokens;
    const float *src;
    float *dst;
    uint32_t seq, vocab, dim;
} embed_job;

static ane_status check_tokens(const char *fn, const int32_t *tokens, uint32_t seq, uint32_t vocab)
{
    for (uint32_t s = 0; s < seq; s++)
        if (tokens[s] < 0 || (uint32_t)tokens[s] >= vocab)
            return ane_fail(ANE_ERR_INVALID_ARG, "%s: token %d at position %u is outside the vocabulary [0, %u)",
                            fn, tokens[s], s, vocab);
    return ANE_OK;
}

static void embed_fwd_range(void *ctx, int64_t begin, int64_t end)
{
    const embed_job *j = ctx;
    for (int64_t s = begin; s < end; s++) {
        const float *row = j->src + (size_t)j->tokens[s] * j->dim;
        for (uint32_t d = 0; d < j->dim; d++) j->dst[(size_t)d * j->seq + s] = row[d];
    }
}

ANE_API ane_status ane_embedding_fwd(const int32_t *tokens, uint32_t seq, const float *table,
                                     uint32_t vocab, uint32_t dim, float *out)
{
    if (!tokens || !table || !out) return ane_fail(ANE_ERR_INVALID_ARG, "ane_embedding_fwd: NULL pointer");
    if (!seq || !vocab || !dim) return ane_fail(ANE_ERR_INVALID_ARG, "ane_embedding_fwd: seq, vocab and dim must be > 0");
    ane_status st = check_tokens("ane_embedding_fwd", tokens, seq, vocab);
    if (st) return st;
    embed_job j = {.tokens = tokens, .src = table, .dst = out, .seq = seq, .vocab = vocab, .dim = dim};
    ane_parallel_for(seq, 16, embed_fwd_range, &j);
    return ANE_OK;
}

static void embed_bwd_range(void *ctx, int64_t begin, int64_t end)
{
    const embed_job *j = ctx;
    for (int64_t d = begin; d < end; d++) {
        const float *g = j->src + (size_t)d * j->seq;
        for (uint32_t s = 0; s < j->seq; s++) j->dst[(size_t)j->tokens[s] * j->dim + d] += g[s];
    }
}

ANE_API ane_status ane_embedding_bwd(const int32_t *tokens, uint32_t seq, const float *dout,
                                     float *dtable, uint32_t vocab, uint32_t dim)
{
    if (!tokens || !dout || !dtable) return ane_fail(ANE_ERR_INVALID_ARG, "ane_embedding_bwd: NULL pointer");
    if (!seq || !vocab || !dim) return ane_fail(ANE_ERR_INVALID_ARG, "ane_embedding_bwd: seq, vocab and dim must be > 0");
    ane_status st = check_tokens("ane_embedding_bwd", tokens, seq, vocab);
    if (st) return st;
    embed_job j = {.tokens = tokens, .src = dout, .dst = dtable, .seq = seq, .vocab = vocab, .dim = dim};
    ane_parallel_for(dim, 16, embed_bwd_range, &j);
    return ANE_OK;
}
