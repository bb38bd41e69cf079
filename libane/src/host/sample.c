/* sample.c — choosing the next token from logits, on the decode hot path.
 *
 * Greedy: the largest logit among the allowed ids (the lowest id on ties). Otherwise the
 * candidates are ranked by (logit descending, id ascending); top-k keeps the first k, the
 * probabilities softmax(logit / T) are computed in float64 over those, top-p keeps the shortest
 * prefix whose mass reaches p, and u in [0, 1) picks from the renormalised prefix in rank order.
 * A pure function of its arguments, so a seeded run repeats exactly. */
#include "../core/platform.h"
#include "../core/error.h"

typedef struct { float v; int32_t id; } cand;

/* a ranks before b */
static inline int before(cand a, cand b) { return a.v > b.v || (a.v == b.v && a.id < b.id); }

/* Heap of the k best so far with the worst at the root. */
static void sift_down(cand *h, uint32_t n, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && before(h[w], h[l])) w = l;
        if (r < n && before(h[w], h[r])) w = r;
        if (w == i) return;
        cand t = h[i]; h[i] = h[w]; h[w] = t;
        i = w;
    }
}

static int rank_cmp(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    return before(*a, *b) ? -1 : before(*b, *a) ? 1 : 0;
}

ANE_API ane_status ane_sample(const float *logits, uint32_t vocab, const uint8_t *allowed, double temperature,
                              uint32_t top_k, double top_p, double u, int32_t *out)
{
    if (!logits || !out || !vocab) return ane_fail(ANE_ERR_INVALID_ARG, "ane_sample: logits and out must not be NULL, vocab > 0");
    if (!(temperature >= 0.0)) return ane_fail(ANE_ERR_INVALID_ARG, "ane_sample: temperature must be >= 0");
    if (!(top_p > 0.0 && top_p <= 1.0)) return ane_fail(ANE_ERR_INVALID_ARG, "ane_sample: top_p must be in (0, 1]");
    if (!(u >= 0.0 && u < 1.0)) return ane_fail(ANE_ERR_INVALID_ARG, "ane_sample: u must be in [0, 1)");
    if (temperature == 0.0) {
        int32_t best = -1;
        for (uint32_t i = 0; i < vocab; i++)
            if ((!allowed || allowed[i]) && (best < 0 || logits[i] > logits[best])) best = (int32_t)i;
        if (best < 0) return ane_fail(ANE_ERR_INVALID_ARG, "ane_sample: no id is allowed");
        *out = best;
        return ANE_OK;
    }
    cand *c = malloc((size_t)vocab * sizeof *c);
    double *p = malloc((size_t)vocab * sizeof *p);
    if (!c || !p) { free(c); free(p); return ane_fail(ANE_ERR_NO_MEMORY, "ane_sample: out of memory"); }
    uint32_t n = 0;
    if (top_k > 0 && top_k < vocab) {
        for (uint32_t i = 0; i < vocab; i++) {
            if (allowed && !allowed[i]) continue;
            cand x = {logits[i], (int32_t)i};
            if (n < top_k) {
                c[n++] = x;
                if (n == top_k) for (uint32_t j = n / 2; j-- > 0;) sift_down(c, n, j);
            } else if (before(x, c[0])) {
                c[0] = x;
                sift_down(c, n, 0);
            }
        }
    } else {
        for (uint32_t i = 0; i < vocab; i++)
            if (!allowed || allowed[i]) { c[n].v = logits[i]; c[n].id = (int32_t)i; n++; }
    }
    if (n == 0) { free(c); free(p); return ane_fail(ANE_ERR_INVALID_ARG, "ane_sample: no id is allowed"); }
    qsort(c, n, sizeof *c, rank_cmp);
    const double top = c[0].v;
    double sum = 0.0;
    for (uint32_t i = 0; i < n; i++) { p[i] = exp(((double)c[i].v - top) / temperature); sum += p[i]; }
    uint32_t keep = n;
    if (top_p < 1.0) {
        double mass = 0.0;
        for (uint32_t i = 0; i < n; i++) { mass += p[i] / sum; if (mass >= top_p) { keep = i + 1; break; } }
    }
    double kept = 0.0;
    for (uint32_t i = 0; i < keep; i++) kept += p[i];
    double acc = 0.0;
    int32_t pick = c[keep - 1].id;          /* u within rounding of 1 */
    for (uint32_t i = 0; i < keep; i++) {
        acc += p[i] / kept;
        if (u < acc) { pick = c[i].id; break; }
    }
    free(c); free(p);
    *out = pick;
    return ANE_OK;
}
