/* rows.c — row gather/scatter (vocabulary compaction) and token-file helpers. */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/threads.h"

ANE_API ane_status ane_gather_rows(const float *src, uint64_t row_len, const int32_t *ids,
                                   uint64_t n, float *dst)
{
    if (!src || !ids || !dst) return ane_fail(ANE_ERR_INVALID_ARG, "ane_gather_rows: NULL pointer");
    for (uint64_t i = 0; i < n; i++) {
        if (ids[i] < 0) return ane_fail(ANE_ERR_INVALID_ARG, "ane_gather_rows: negative id %d at %llu", ids[i], (unsigned long long)i);
        memcpy(dst + i * row_len, src + (uint64_t)ids[i] * row_len, row_len * sizeof(float));
    }
    return ANE_OK;
}

/* Serial on purpose: ids may repeat, and a fixed order keeps the sums deterministic. */
ANE_API ane_status ane_scatter_add_rows(const float *src, uint64_t row_len, const int32_t *ids,
                                        uint64_t n, float *dst)
{
    if (!src || !ids || !dst) return ane_fail(ANE_ERR_INVALID_ARG, "ane_scatter_add_rows: NULL pointer");
    for (uint64_t i = 0; i < n; i++) {
        if (ids[i] < 0) return ane_fail(ANE_ERR_INVALID_ARG, "ane_scatter_add_rows: negative id %d at %llu", ids[i], (unsigned long long)i);
        float *d = dst + (uint64_t)ids[i] * row_len;
        const float *s = src + i * row_len;
        for (uint64_t k = 0; k < row_len; k++) d[k] += s[k];
    }
    return ANE_OK;
}

static inline uint32_t token_at(const void *tokens, uint32_t dtype, uint64_t i)
{
    return dtype == ANE_DTYPE_UINT16 ? ((const uint16_t *)tokens)[i] : ((const uint32_t *)tokens)[i];
}

ANE_API ane_status ane_token_histogram(const void *tokens, uint32_t token_dtype, uint64_t n,
                                       uint32_t vocab, uint64_t *counts, uint64_t *bad_offset)
{
    if (!tokens || !counts) return ane_fail(ANE_ERR_INVALID_ARG, "ane_token_histogram: NULL pointer");
    if (token_dtype != ANE_DTYPE_UINT16 && token_dtype != ANE_DTYPE_UINT32)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_token_histogram: token dtype must be ANE_DTYPE_UINT16 or ANE_DTYPE_UINT32");
    for (uint64_t i = 0; i < n; i++) {
        uint32_t t = token_at(tokens, token_dtype, i);
        if (t >= vocab) {
            if (bad_offset) *bad_offset = i;
            return ane_fail(ANE_ERR_INVALID_ARG, "token id %u at element %llu is >= the vocabulary size %u",
                            t, (unsigned long long)i, vocab);
        }
        counts[t]++;
    }
    return ANE_OK;
}

ANE_API ane_status ane_tokens_to_i32(const void *tokens, uint32_t token_dtype, uint64_t n,
                                     const int32_t *map, uint32_t vocab, int32_t *out)
{
    if (!tokens || !out) return ane_fail(ANE_ERR_INVALID_ARG, "ane_tokens_to_i32: NULL pointer");
    if (token_dtype != ANE_DTYPE_UINT16 && token_dtype != ANE_DTYPE_UINT32)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_tokens_to_i32: token dtype must be ANE_DTYPE_UINT16 or ANE_DTYPE_UINT32");
    for (uint64_t i = 0; i < n; i++) {
        uint32_t t = token_at(tokens, token_dtype, i);
        if (t >= vocab)
            return ane_fail(ANE_ERR_INVALID_ARG, "token id %u at element %llu is >= the vocabulary size %u",
                            t, (unsigned long long)i, vocab);
        out[i] = map ? map[t] : (int32_t)t;
    }
    return ANE_OK;
}
