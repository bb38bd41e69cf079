/* decode.c — autoregressive inference for Llama-style models (llama, qwen3) on the host: a
 * fused, multithreaded forward over a model's fp32 weights with a KV cache (ane_decoder).
 *
 * One routine runs any number of new positions: prefill (n > 1) and decode (n = 1) are the
 * same code, so an uncached generation (reset, then run the whole sequence) computes every
 * logit with exactly the same float operations, in the same order, as a cached one. That is
 * why every output element has one fixed summation order:
 *   - matvec: out[b, o] = dot(W[o, :], x[b, :]) with DOT_LANES independent accumulators
 *     (lane l sums elements l, l + DOT_LANES, ...), reduced by a fixed pairwise tree. The
 *     batched kernel runs up to POS_BLOCK positions per pass over a weight row (prefill reads
 *     the weights once per block, not once per position) with the same per-lane arithmetic.
 *   - each output row is computed by one thread, so the thread count never changes a bit.
 *
 * Shapes (row-major, one row per position):
 *   x, xn [n, D]   q [n, H*hd]   k, v [n, KV*hd]   att [n, H*hd]   h1, h3 [n, F]
 *   KV cache: k_cache, v_cache [L, max_seq, KV*hd]; scores [n, H, max_seq]
 * Weights are borrowed ([out, in] row-major, Hugging Face's nn.Linear layout) and read in
 * fp32: a decode step streams every matrix once (plus the embedding row and the classifier). */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/threads.h"

#define DOT_LANES 16
#define POS_BLOCK 4

/* Per layer, in the order ane.h documents for the weights array. */
enum { W_ATTN_NORM, W_Q, W_K, W_V, W_Q_NORM, W_K_NORM, W_O, W_FFN_NORM, W_GATE, W_UP, W_DOWN, W_PER_LAYER };

struct ane_decoder {
    ane_decoder_config c;
    const float *embed, *final_norm, *cls;
    const float **layer;              /* [L][W_PER_LAYER] */
    float *k_cache, *v_cache;         /* [L, max_seq, KV] */
    uint32_t length;                  /* positions held in the cache */
    uint32_t cap;                     /* positions the scratch below holds */
    float *x, *xn, *q, *k, *v, *att, *h1, *h3, *scores;
};

/* ------------------------------------------------------------------ kernels */

static float reduce_lanes(const float *a)
{
    float t[DOT_LANES];
    for (int l = 0; l < DOT_LANES; l++) t[l] = a[l];
    for (int w = DOT_LANES / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) t[l] = t[l] + t[l + w];
    return t[0];
}

/* dot(w, x) over n elements in the fixed order above. */
static float dot1(const float *w, const float *x, uint32_t n)
{
    const uint32_t body = n - n % DOT_LANES;
    float acc[DOT_LANES] = {0};
    for (uint32_t i = 0; i < body; i += DOT_LANES)
        for (int l = 0; l < DOT_LANES; l++) acc[l] += w[i + l] * x[i + l];
    for (uint32_t i = body; i < n; i++) acc[i - body] += w[i] * x[i];
    return reduce_lanes(acc);
}

/* The same for POS_BLOCK (4) vectors x0..x3 at once, reading w once: each result has exactly
 * dot1's arithmetic, lane by lane. */
static void dot4(const float *w, const float *x0, const float *x1, const float *x2, const float *x3, uint32_t n,
                 float *out, size_t out_step)
{
    const uint32_t body = n - n % DOT_LANES;
    float a0[DOT_LANES] = {0}, a1[DOT_LANES] = {0}, a2[DOT_LANES] = {0}, a3[DOT_LANES] = {0};
    for (uint32_t i = 0; i < body; i += DOT_LANES)
        for (int l = 0; l < DOT_LANES; l++) {
            const float wv = w[i + l];
            a0[l] += wv * x0[i + l];
            a1[l] += wv * x1[i + l];
            a2[l] += wv * x2[i + l];
            a3[l] += wv * x3[i + l];
        }
    for (uint32_t i = body; i < n; i++) {
        a0[i - body] += w[i] * x0[i];
        a1[i - body] += w[i] * x1[i];
        a2[i - body] += w[i] * x2[i];
        a3[i - body] += w[i] * x3[i];
    }
    out[0] = reduce_lanes(a0);
    out[out_step] = reduce_lanes(a1);
    out[2 * out_step] = reduce_lanes(a2);
    out[3 * out_step] = reduce_lanes(a3);
}

/* out[b * out_stride + o] = dot(W[o, :in], X[b, :in]) for o in [o0, o1), b in [0, nb). */
static void matvec_rows(const float *W, uint32_t in, const float *X, uint32_t nb, float *out,
                        uint32_t out_stride, int64_t o0, int64_t o1)
{
    for (int64_t o = o0; o < o1; o++) {
        const float *w = W + (size_t)o * in;
        uint32_t b = 0;
        for (; b + POS_BLOCK <= nb; b += POS_BLOCK) {
            const float *x = X + (size_t)b * in;
            dot4(w, x, x + in, x + 2 * (size_t)in, x + 3 * (size_t)in, in, out + (size_t)b * out_stride + (size_t)o, out_stride);
        }
        for (; b < nb; b++) out[(size_t)b * out_stride + (size_t)o] = dot1(w, X + (size_t)b * in, in);
    }
}

typedef struct {
    const float *W, *X;
    float *out;
    uint32_t in, nb, out_stride;
} matvec_job;

static void matvec_range(void *ctx, int64_t begin, int64_t end)
{
    const matvec_job *j = ctx;
    matvec_rows(j->W, j->in, j->X, j->nb, j->out, j->out_stride, begin, end);
}

/* out[b, o] (row stride out_stride) = W[rows, in] · X[b, :] for b < nb, on the pool. */
static void matvec(const float *W, uint32_t rows, uint32_t in, const float *X, uint32_t nb, float *out,
                   uint32_t out_stride)
{
    matvec_job j = {W, X, out, in, nb, out_stride};
    /* ~32 KB of weights per chunk: enough work to amortise the hand-off. */
    int64_t grain = 1 + 8192 / (int64_t)in;
    ane_parallel_for(rows, grain, matvec_range, &j);
}

/* y = x / sqrt(mean(x^2) + eps) * w over n elements; the sum of squares in float64. */
static void rmsnorm(const float *x, const float *w, float *y, uint32_t n, float eps)
{
    double ss = 0.0;
    for (uint32_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    const float r = (float)(1.0 / sqrt(ss / n + (double)eps));
    for (uint32_t i = 0; i < n; i++) y[i] = x[i] * r * w[i];
}

/* Rotate each of `heads` heads of x [heads * hd] by its position's angles (cs, sn: [hd/2]). */
static void rope_heads(float *x, uint32_t heads, uint32_t hd, uint32_t style, const float *cs, const float *sn)
{
    const uint32_t half = hd / 2;
    for (uint32_t h = 0; h < heads; h++) {
        float *xh = x + (size_t)h * hd;
        for (uint32_t k = 0; k < half; k++) {
            uint32_t a = style == ANE_ROPE_INTERLEAVED ? 2 * k : k;
            uint32_t b = style == ANE_ROPE_INTERLEAVED ? 2 * k + 1 : k + half;
            float av = xh[a], bv = xh[b];
            xh[a] = av * cs[k] - bv * sn[k];
            xh[b] = av * sn[k] + bv * cs[k];
        }
    }
}

/* Per new position: q/k norm (Qwen3), RoPE, then k and v into the cache at its position. */
typedef struct {
    ane_decoder *d;
    uint32_t layer, pos0;
} qkv_job;

static void qkv_range(void *ctx, int64_t begin, int64_t end)
{
    const qkv_job *j = ctx;
    const ane_decoder *d = j->d;
    const ane_decoder_config *c = &d->c;
    const uint32_t hd = c->head_dim, Q = c->n_heads * hd, KV = c->n_kv_heads * hd, half = hd / 2;
    const float **w = d->layer + (size_t)j->layer * W_PER_LAYER;
    float cs[512], sn[512];      /* head_dim <= 1024 is checked at create */
    for (int64_t b = begin; b < end; b++) {
        const uint32_t pos = j->pos0 + (uint32_t)b;
        float *q = d->q + (size_t)b * Q, *k = d->k + (size_t)b * KV, *v = d->v + (size_t)b * KV;
        if (c->qk_norm) {
            for (uint32_t h = 0; h < c->n_heads; h++) rmsnorm(q + (size_t)h * hd, w[W_Q_NORM], q + (size_t)h * hd, hd, c->norm_eps);
            for (uint32_t h = 0; h < c->n_kv_heads; h++) rmsnorm(k + (size_t)h * hd, w[W_K_NORM], k + (size_t)h * hd, hd, c->norm_eps);
        }
        for (uint32_t i = 0; i < half; i++) {
            double angle = (double)pos * pow((double)c->rope_theta, -2.0 * i / hd);
            cs[i] = (float)cos(angle);
            sn[i] = (float)sin(angle);
        }
        rope_heads(q, c->n_heads, hd, c->rope_style, cs, sn);
        rope_heads(k, c->n_kv_heads, hd, c->rope_style, cs, sn);
        size_t at = ((size_t)j->layer * c->max_seq + pos) * KV;
        memcpy(d->k_cache + at, k, KV * sizeof(float));
        memcpy(d->v_cache + at, v, KV * sizeof(float));
    }
}

/* Causal attention of each new position over the cache, one (position, head) per item:
 * att[b, h] = sum_{t <= pos} softmax_t(q[b, h] · k[t, h/G] / sqrt(hd)) v[t, h/G]. */
typedef struct {
    ane_decoder *d;
    uint32_t layer, pos0;
} attn_job;

static void attn_range(void *ctx, int64_t begin, int64_t end)
{
    const attn_job *j = ctx;
    const ane_decoder *d = j->d;
    const ane_decoder_config *c = &d->c;
    const uint32_t H = c->n_heads, hd = c->head_dim, Q = H * hd, KV = c->n_kv_heads * hd;
    const uint32_t group = H / c->n_kv_heads;
    const float scale = (float)(1.0 / sqrt((double)hd));
    const float *kc = d->k_cache + (size_t)j->layer * c->max_seq * KV;
    const float *vc = d->v_cache + (size_t)j->layer * c->max_seq * KV;
    for (int64_t item = begin; item < end; item++) {
        const uint32_t b = (uint32_t)(item / H), h = (uint32_t)(item % H), kvh = h / group;
        const uint32_t pos = j->pos0 + b;
        const float *q = d->q + (size_t)b * Q + (size_t)h * hd;
        float *s = d->scores + ((size_t)b * H + h) * c->max_seq;
        float mx = -INFINITY;
        for (uint32_t t = 0; t <= pos; t++) {
            const float *k = kc + (size_t)t * KV + (size_t)kvh * hd;
            float dot = 0.0f;
            for (uint32_t i = 0; i < hd; i++) dot += q[i] * k[i];
            s[t] = dot * scale;
            if (s[t] > mx) mx = s[t];
        }
        float sum = 0.0f;
        for (uint32_t t = 0; t <= pos; t++) { s[t] = expf(s[t] - mx); sum += s[t]; }
        const float inv = 1.0f / sum;
        float *out = d->att + (size_t)b * Q + (size_t)h * hd;
        for (uint32_t i = 0; i < hd; i++) out[i] = 0.0f;
        for (uint32_t t = 0; t <= pos; t++) {
            const float p = s[t] * inv;
            const float *v = vc + (size_t)t * KV + (size_t)kvh * hd;
            for (uint32_t i = 0; i < hd; i++) out[i] += p * v[i];
        }
    }
}

/* ------------------------------------------------------------------ the handle */

static void free_scratch(ane_decoder *d)
{
    free(d->x); free(d->xn); free(d->q); free(d->k); free(d->v);
    free(d->att); free(d->h1); free(d->h3); free(d->scores);
    d->x = d->xn = d->q = d->k = d->v = d->att = d->h1 = d->h3 = d->scores = NULL;
    d->cap = 0;
}

/* Scratch for n positions at once (grown on demand: decode needs 1, a prefill its length). */
static ane_status ensure_scratch(ane_decoder *d, uint32_t n)
{
    if (n <= d->cap) return ANE_OK;
    const ane_decoder_config *c = &d->c;
    const size_t Q = (size_t)c->n_heads * c->head_dim, KV = (size_t)c->n_kv_heads * c->head_dim;
    free_scratch(d);
    d->x = malloc((size_t)n * c->dim * sizeof(float));
    d->xn = malloc((size_t)n * c->dim * sizeof(float));
    d->q = malloc((size_t)n * Q * sizeof(float));
    d->k = malloc((size_t)n * KV * sizeof(float));
    d->v = malloc((size_t)n * KV * sizeof(float));
    d->att = malloc((size_t)n * Q * sizeof(float));
    d->h1 = malloc((size_t)n * c->hidden_dim * sizeof(float));
    d->h3 = malloc((size_t)n * c->hidden_dim * sizeof(float));
    d->scores = malloc((size_t)n * c->n_heads * c->max_seq * sizeof(float));
    if (!d->x || !d->xn || !d->q || !d->k || !d->v || !d->att || !d->h1 || !d->h3 || !d->scores) {
        free_scratch(d);
        return ane_fail(ANE_ERR_NO_MEMORY, "ane_decoder_step: out of memory for the scratch of %u positions", n);
    }
    d->cap = n;
    return ANE_OK;
}

ANE_API ane_status ane_decoder_create(const ane_decoder_config *cfg, const float *const *weights,
                                      uint64_t n_weights, ane_decoder **out)
{
    if (!out) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: out is NULL");
    *out = NULL;
    if (!cfg || !weights) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: config or weights is NULL");
    const ane_decoder_config c = *cfg;
    if (!c.dim || !c.hidden_dim || !c.n_layers || !c.n_heads || !c.n_kv_heads || !c.head_dim || !c.vocab_size || !c.max_seq)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: every size in the config must be > 0");
    if (c.n_heads % c.n_kv_heads)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: n_kv_heads (%u) must divide n_heads (%u)", c.n_kv_heads, c.n_heads);
    if (c.head_dim % 2 || c.head_dim > 1024)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: head_dim must be even and <= 1024 (got %u)", c.head_dim);
    if (c.rope_style != ANE_ROPE_INTERLEAVED && c.rope_style != ANE_ROPE_ROTATE_HALF)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: rope_style %u is not ANE_ROPE_INTERLEAVED (0) or ANE_ROPE_ROTATE_HALF (1)", c.rope_style);
    if (!(c.rope_theta > 1.0f) || !(c.norm_eps >= 0.0f))
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: rope_theta must be > 1 and norm_eps >= 0");
    const uint64_t want = 3 + (uint64_t)W_PER_LAYER * c.n_layers;
    if (n_weights != want)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: %llu weight pointers given, a %u-layer model needs %llu (see ane.h)",
                        (unsigned long long)n_weights, c.n_layers, (unsigned long long)want);
    for (uint64_t i = 0; i < want; i++) {
        uint64_t slot = i == 0 || i >= want - 2 ? W_PER_LAYER : (i - 1) % W_PER_LAYER;
        if (!weights[i] && !(!c.qk_norm && (slot == W_Q_NORM || slot == W_K_NORM)))
            return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: weight pointer %llu is NULL", (unsigned long long)i);
    }
    ane_decoder *d = calloc(1, sizeof *d);
    if (!d) return ane_fail(ANE_ERR_NO_MEMORY, "ane_decoder_create: out of memory");
    d->c = c;
    d->embed = weights[0];
    d->final_norm = weights[want - 2];
    d->cls = weights[want - 1];
    const size_t cache = (size_t)c.n_layers * c.max_seq * c.n_kv_heads * c.head_dim;
    d->layer = malloc((size_t)c.n_layers * W_PER_LAYER * sizeof *d->layer);
    d->k_cache = malloc(cache * sizeof(float));
    d->v_cache = malloc(cache * sizeof(float));
    if (!d->layer || !d->k_cache || !d->v_cache) {
        ane_decoder_free(d);
        return ane_fail(ANE_ERR_NO_MEMORY, "ane_decoder_create: out of memory for a KV cache of %u positions (%.1f MB)",
                        c.max_seq, 2.0 * (double)cache * 4 / 1e6);
    }
    for (uint64_t i = 0; i < (uint64_t)c.n_layers * W_PER_LAYER; i++) d->layer[i] = weights[1 + i];
    *out = d;
    return ANE_OK;
}

ANE_API void ane_decoder_free(ane_decoder *d)
{
    if (!d) return;
    free_scratch(d);
    free(d->layer); free(d->k_cache); free(d->v_cache);
    free(d);
}

ANE_API ane_status ane_decoder_reset(ane_decoder *d)
{
    if (!d) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_reset: decoder is NULL");
    d->length = 0;
    return ANE_OK;
}

ANE_API uint32_t ane_decoder_length(const ane_decoder *d) { return d ? d->length : 0; }

typedef struct {
    float *h1;
    const float *h3;
    uint64_t n;
} swiglu_job;

static void swiglu_range(void *ctx, int64_t begin, int64_t end)
{
    const swiglu_job *j = ctx;
    for (int64_t i = begin; i < end; i++) {
        const float g = j->h1[i];
        j->h1[i] = g / (1.0f + expf(-g)) * j->h3[i];
    }
}

ANE_API ane_status ane_decoder_step(ane_decoder *d, const int32_t *tokens, uint32_t n, uint32_t pos, float *logits)
{
    if (!d || !tokens || !logits) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_step: decoder, tokens or logits is NULL");
    const ane_decoder_config *c = &d->c;
    if (n == 0) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_step: no tokens (n = 0)");
    if (pos > d->length)
        return ane_fail(ANE_ERR_STATE, "ane_decoder_step: position %u is past the %u cached positions (run the tokens before it first)", pos, d->length);
    if ((uint64_t)pos + n > c->max_seq)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_step: positions %u..%u exceed the context of %u positions",
                        pos, pos + n - 1, c->max_seq);
    for (uint32_t b = 0; b < n; b++)
        if (tokens[b] < 0 || (uint32_t)tokens[b] >= c->vocab_size)
            return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_step: token %d at index %u is outside the vocabulary [0, %u)",
                            tokens[b], b, c->vocab_size);
    ane_status st = ensure_scratch(d, n);
    if (st) return st;
    const uint32_t D = c->dim, F = c->hidden_dim, hd = c->head_dim;
    const uint32_t Q = c->n_heads * hd, KV = c->n_kv_heads * hd;

    for (uint32_t b = 0; b < n; b++) memcpy(d->x + (size_t)b * D, d->embed + (size_t)tokens[b] * D, D * sizeof(float));
    for (uint32_t l = 0; l < c->n_layers; l++) {
        const float **w = d->layer + (size_t)l * W_PER_LAYER;
        for (uint32_t b = 0; b < n; b++) rmsnorm(d->x + (size_t)b * D, w[W_ATTN_NORM], d->xn + (size_t)b * D, D, c->norm_eps);
        matvec(w[W_Q], Q, D, d->xn, n, d->q, Q);
        matvec(w[W_K], KV, D, d->xn, n, d->k, KV);
        matvec(w[W_V], KV, D, d->xn, n, d->v, KV);
        qkv_job qj = {d, l, pos};
        ane_parallel_for(n, 1, qkv_range, &qj);
        attn_job aj = {d, l, pos};
        ane_parallel_for((int64_t)n * c->n_heads, 1, attn_range, &aj);
        /* The o projection lands in xn (free now), then the residual adds it. */
        matvec(w[W_O], D, Q, d->att, n, d->xn, D);
        for (size_t i = 0; i < (size_t)n * D; i++) d->x[i] += d->xn[i];
        for (uint32_t b = 0; b < n; b++) rmsnorm(d->x + (size_t)b * D, w[W_FFN_NORM], d->xn + (size_t)b * D, D, c->norm_eps);
        matvec(w[W_GATE], F, D, d->xn, n, d->h1, F);
        matvec(w[W_UP], F, D, d->xn, n, d->h3, F);
        swiglu_job sj = {d->h1, d->h3, (uint64_t)n * F};
        ane_parallel_for((int64_t)n * F, 4096, swiglu_range, &sj);
        matvec(w[W_DOWN], D, F, d->h1, n, d->xn, D);
        for (size_t i = 0; i < (size_t)n * D; i++) d->x[i] += d->xn[i];
    }
    /* Only the last position's logits are wanted. */
    const float *last = d->x + (size_t)(n - 1) * D;
    rmsnorm(last, d->final_norm, d->xn, D, c->norm_eps);
    matvec(d->cls, c->vocab_size, D, d->xn, 1, logits, c->vocab_size);
    d->length = pos + n;
    return ANE_OK;
}
