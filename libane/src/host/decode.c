/* decode.c — autoregressive inference on the host (ane_decoder): a fused, multithreaded forward
 * with a KV cache, for Llama-style models (llama, qwen3) and GPT-2-style models (gpt), over fp32
 * weights read in place or fp16 copies of the matrices (see ane.h "decoding").
 *
 * One routine runs any number of new positions: prefill (n > 1) and decode (n = 1) are the
 * same code, so an uncached generation (reset, then run the whole sequence) computes every
 * logit with exactly the same float operations, in the same order, as a cached one:
 *   - matrix products go through ane_dec_matvec_rows (decode_matvec.c), whose summation order
 *     per output is fixed whatever the batch of positions or the instruction set;
 *   - each output element is computed by one thread, so the thread count never changes a bit;
 *   - norms, attention and activations work per position, in a fixed order.
 *
 * The two architectures differ only in a few places, so both fill one per-layer description:
 * a norm with or without bias (LayerNorm / RMSNorm), projections with or without bias, a
 * SwiGLU MLP (gate set) or a GELU one (gate unset), and RoPE or learned position embeddings.
 * GPT's fused c_attn [Q + 2 KV, dim] is three row ranges of one matrix: wq, wk and wv.
 *
 * Shapes (row-major, one row per position):
 *   x, xn [n, D]   q [n, Q]   k, v [n, KV]   att [n, Q]   h1, h3 [n, F]   scores [n, H, max_seq]
 *   KV cache: k_cache, v_cache [L, max_seq, KV] */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/fastmath.h"
#include "../core/threads.h"
#include "decode_matvec.h"

typedef ane_dec_matrix matrix;

typedef struct {
    const float *norm1_w, *norm1_b, *norm2_w, *norm2_b;   /* *_b NULL: RMSNorm, else LayerNorm */
    const float *q_norm, *k_norm;                          /* Qwen3's per-head RMSNorm, or NULL */
    matrix wq, wk, wv, wo, gate, up, down;                 /* gate unset: GELU MLP */
    const float *bq, *bk, *bv, *bo, *b_up, *b_down;        /* NULL without biases */
} layer_weights;

struct ane_decoder {
    ane_decoder_config c;
    matrix embed, pos_embed, cls;             /* pos_embed unset without learned positions */
    const float *final_w, *final_b;
    layer_weights *layer;                     /* [L] */
    uint16_t *half;                           /* the fp16 copies (ANE_WEIGHTS_FP16), owned */
    uint64_t weight_bytes;                    /* streamed per decode step */
    float *k_cache, *v_cache;                 /* [L, max_seq, KV] */
    uint32_t length;                          /* positions held in the cache */
    uint32_t cap;                             /* positions the scratch below holds */
    float *x, *xn, *q, *k, *v, *att, *h1, *h3, *scores;
};

/* ------------------------------------------------------------------ per-position pieces */

/* Row r of an fp32 or fp16 matrix with `cols` columns, as fp32. */
static void matrix_row(const matrix *m, size_t r, uint32_t cols, float *out)
{
    if (m->f32) { memcpy(out, m->f32 + r * cols, cols * sizeof(float)); return; }
    for (uint32_t i = 0; i < cols; i++) out[i] = ane_half_to_float(m->f16[r * cols + i]);
}

/* y = x / sqrt(mean(x^2) + eps) * w over n elements; the sum of squares in float64. */
static void rmsnorm(const float *x, const float *w, float *y, uint32_t n, float eps)
{
    double ss = 0.0;
    for (uint32_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    const float r = (float)(1.0 / sqrt(ss / n + (double)eps));
    for (uint32_t i = 0; i < n; i++) y[i] = x[i] * r * w[i];
}

/* y = (x - mean(x)) / sqrt(var(x) + eps) * w + b over n elements; mean and variance in float64. */
static void layernorm(const float *x, const float *w, const float *b, float *y, uint32_t n, float eps)
{
    double s = 0.0;
    for (uint32_t i = 0; i < n; i++) s += x[i];
    const double mean = s / n;
    double v = 0.0;
    for (uint32_t i = 0; i < n; i++) v += ((double)x[i] - mean) * ((double)x[i] - mean);
    const float r = (float)(1.0 / sqrt(v / n + (double)eps)), m = (float)mean;
    for (uint32_t i = 0; i < n; i++) y[i] = (x[i] - m) * r * w[i] + b[i];
}

static void norm(const float *x, const float *w, const float *b, float *y, uint32_t n, float eps)
{
    if (b) layernorm(x, w, b, y, n, eps);
    else rmsnorm(x, w, y, n, eps);
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

/* ------------------------------------------------------------------ parallel stages */

/* Up to three products sharing an input, run as one parallel pass over their rows (q, k, v;
 * gate and up): one hand-off to the pool instead of three. Part p covers rows [first, first +
 * rows) of the pass; out[b, o] (row stride = rows) = W[o, :in] · X[b, :] (+ bias[o]). */
typedef struct {
    const matrix *W;
    const float *bias;
    float *out;
    uint32_t rows;
} matvec_part;

typedef struct {
    matvec_part part[3];
    int n_parts;
    const float *X;
    uint32_t in, nb;
} matvec_job;

static void matvec_range(void *ctx, int64_t begin, int64_t end)
{
    const matvec_job *j = ctx;
    int64_t first = 0;
    for (int p = 0; p < j->n_parts; p++) {
        const matvec_part *m = j->part + p;
        const int64_t lo = begin > first ? begin : first, hi = end < first + m->rows ? end : first + m->rows;
        if (lo < hi) ane_dec_matvec_rows(m->W, j->in, j->X, j->nb, m->bias, m->out, m->rows, lo - first, hi - first);
        first += m->rows;
    }
}

static void run_matvec(matvec_job *j)
{
    int64_t rows = 0;
    for (int p = 0; p < j->n_parts; p++) rows += j->part[p].rows;
    /* ~32 KB of fp32 weights per chunk: enough work to amortise the hand-off. */
    int64_t grain = 1 + 8192 / (int64_t)j->in;
    ane_parallel_for(rows, grain, matvec_range, j);
}

/* out[b, o] = W[o, :in] · X[b, :] (+ bias[o]) for b < nb, o < rows, on the pool. */
static void matvec(const matrix *W, uint32_t rows, uint32_t in, const float *X, uint32_t nb, const float *bias, float *out)
{
    matvec_job j = {{{W, bias, out, rows}}, 1, X, in, nb};
    run_matvec(&j);
}

/* Per new position: q/k norm (Qwen3), RoPE (llama), then k and v into the cache at its position. */
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
    const layer_weights *w = d->layer + j->layer;
    float cs[512], sn[512];      /* head_dim <= 1024 is checked at create */
    for (int64_t b = begin; b < end; b++) {
        const uint32_t pos = j->pos0 + (uint32_t)b;
        float *q = d->q + (size_t)b * Q, *k = d->k + (size_t)b * KV, *v = d->v + (size_t)b * KV;
        if (w->q_norm) {
            for (uint32_t h = 0; h < c->n_heads; h++) rmsnorm(q + (size_t)h * hd, w->q_norm, q + (size_t)h * hd, hd, c->norm_eps);
            for (uint32_t h = 0; h < c->n_kv_heads; h++) rmsnorm(k + (size_t)h * hd, w->k_norm, k + (size_t)h * hd, hd, c->norm_eps);
        }
        if (c->arch == ANE_DECODER_LLAMA) {
            for (uint32_t i = 0; i < half; i++) {
                double angle = (double)pos * pow((double)c->rope_theta, -2.0 * i / hd);
                cs[i] = (float)cos(angle);
                sn[i] = (float)sin(angle);
            }
            rope_heads(q, c->n_heads, hd, c->rope_style, cs, sn);
            rope_heads(k, c->n_kv_heads, hd, c->rope_style, cs, sn);
        }
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
        const float inv = 1.0f / ane_exp_row_sum(s, (int64_t)pos + 1, mx);
        float *out = d->att + (size_t)b * Q + (size_t)h * hd;
        for (uint32_t i = 0; i < hd; i++) out[i] = 0.0f;
        for (uint32_t t = 0; t <= pos; t++) {
            const float p = s[t] * inv;
            const float *v = vc + (size_t)t * KV + (size_t)kvh * hd;
            for (uint32_t i = 0; i < hd; i++) out[i] += p * v[i];
        }
    }
}

/* The MLP's activation, elementwise over [n, F]: SwiGLU h1 = silu(h1) * h3 (gate set), or
 * GELU's tanh form h1 = 0.5 h1 (1 + tanh(sqrt(2/pi) (h1 + 0.044715 h1^3))). */
typedef struct {
    float *h1;
    const float *h3;
    bool swiglu;
} act_job;

static void act_range(void *ctx, int64_t begin, int64_t end)
{
    const act_job *j = ctx;
    float *h1 = j->h1;
    const float *h3 = j->h3;
    if (j->swiglu)
        for (int64_t i = begin; i < end; i++) h1[i] = h1[i] / (1.0f + ane_expf(-h1[i])) * h3[i];
    else
        for (int64_t i = begin; i < end; i++) {
            const float g = h1[i];
            h1[i] = 0.5f * g * (1.0f + tanhf(0.7978845608f * (g + 0.044715f * g * g * g)));
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

/* Every matrix of the model, for sizing and converting: where its pointer lives in the
 * decoder, the fp32 source and its element count. */
typedef struct {
    matrix *m;
    const float *src;
    size_t count;
    uint64_t index;        /* in the weights array, for messages */
} matrix_slot;

/* The matrices in ane.h's order; returns how many (at most 2 + 7 L + 1). */
static size_t list_matrices(ane_decoder *d, const float *const *weights, matrix_slot *out)
{
    const ane_decoder_config *c = &d->c;
    const size_t D = c->dim, F = c->hidden_dim, Q = (size_t)c->n_heads * c->head_dim, KV = (size_t)c->n_kv_heads * c->head_dim;
    const bool gpt = c->arch == ANE_DECODER_GPT;
    const uint64_t per = gpt ? 12 : 11, first = gpt ? 2 : 1, last = first + per * c->n_layers;
    size_t n = 0;
#define SLOT(M, I, OFF, COUNT) (out[n++] = (matrix_slot){&(M), weights[I] + (OFF), (COUNT), (I)})
    SLOT(d->embed, 0, 0, (size_t)c->vocab_size * D);
    if (gpt) SLOT(d->pos_embed, 1, 0, (size_t)c->max_seq * D);
    for (uint32_t l = 0; l < c->n_layers; l++) {
        layer_weights *w = d->layer + l;
        const uint64_t at = first + per * l;
        if (gpt) {
            SLOT(w->wq, at + 2, 0, Q * D);
            SLOT(w->wk, at + 2, Q * D, KV * D);
            SLOT(w->wv, at + 2, (Q + KV) * D, KV * D);
            SLOT(w->wo, at + 4, 0, D * Q);
            SLOT(w->up, at + 8, 0, F * D);
            SLOT(w->down, at + 10, 0, D * F);
        } else {
            SLOT(w->wq, at + 1, 0, Q * D);
            SLOT(w->wk, at + 2, 0, KV * D);
            SLOT(w->wv, at + 3, 0, KV * D);
            SLOT(w->wo, at + 6, 0, D * Q);
            SLOT(w->gate, at + 8, 0, F * D);
            SLOT(w->up, at + 9, 0, F * D);
            SLOT(w->down, at + 10, 0, D * F);
        }
    }
    SLOT(d->cls, last + (gpt ? 2 : 1), 0, (size_t)c->vocab_size * D);
#undef SLOT
    return n;
}

/* Point the decoder at the vectors (norms, biases) in ane.h's order. */
static void take_vectors(ane_decoder *d, const float *const *weights)
{
    const ane_decoder_config *c = &d->c;
    const size_t Q = (size_t)c->n_heads * c->head_dim, KV = (size_t)c->n_kv_heads * c->head_dim;
    const bool gpt = c->arch == ANE_DECODER_GPT;
    const uint64_t per = gpt ? 12 : 11, first = gpt ? 2 : 1, last = first + per * c->n_layers;
    for (uint32_t l = 0; l < c->n_layers; l++) {
        layer_weights *w = d->layer + l;
        const float *const *p = weights + first + per * l;
        if (gpt) {
            w->norm1_w = p[0]; w->norm1_b = p[1];
            w->bq = p[3]; w->bk = p[3] + Q; w->bv = p[3] + Q + KV;
            w->bo = p[5];
            w->norm2_w = p[6]; w->norm2_b = p[7];
            w->b_up = p[9]; w->b_down = p[11];
        } else {
            w->norm1_w = p[0];
            w->q_norm = c->qk_norm ? p[4] : NULL;
            w->k_norm = c->qk_norm ? p[5] : NULL;
            w->norm2_w = p[7];
        }
    }
    d->final_w = weights[last];
    d->final_b = gpt ? weights[last + 1] : NULL;
}

static ane_status check_config(const ane_decoder_config *c, uint64_t n_weights)
{
    if (c->arch != ANE_DECODER_LLAMA && c->arch != ANE_DECODER_GPT)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: arch %u is not ANE_DECODER_LLAMA (0) or ANE_DECODER_GPT (1)", c->arch);
    if (c->weight_type != ANE_WEIGHTS_FP32 && c->weight_type != ANE_WEIGHTS_FP16)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: weight_type %u is not ANE_WEIGHTS_FP32 (0) or ANE_WEIGHTS_FP16 (1)", c->weight_type);
    if (!c->dim || !c->hidden_dim || !c->n_layers || !c->n_heads || !c->n_kv_heads || !c->head_dim || !c->vocab_size || !c->max_seq)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: every size in the config must be > 0");
    if (c->n_heads % c->n_kv_heads)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: n_kv_heads (%u) must divide n_heads (%u)", c->n_kv_heads, c->n_heads);
    if (c->head_dim % 2 || c->head_dim > 1024)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: head_dim must be even and <= 1024 (got %u)", c->head_dim);
    if (!(c->norm_eps >= 0.0f))
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: norm_eps must be >= 0");
    if (c->arch == ANE_DECODER_LLAMA) {
        if (c->rope_style != ANE_ROPE_INTERLEAVED && c->rope_style != ANE_ROPE_ROTATE_HALF)
            return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: rope_style %u is not ANE_ROPE_INTERLEAVED (0) or ANE_ROPE_ROTATE_HALF (1)", c->rope_style);
        if (!(c->rope_theta > 1.0f))
            return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: rope_theta must be > 1");
    } else if (c->qk_norm) {
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: qk_norm is a Llama-family option; a GPT config must leave it 0");
    }
    const bool gpt = c->arch == ANE_DECODER_GPT;
    const uint64_t want = gpt ? 5 + 12ull * c->n_layers : 3 + 11ull * c->n_layers;
    if (n_weights != want)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: %llu weight pointers given, a %u-layer %s model needs %llu (see ane.h)",
                        (unsigned long long)n_weights, c->n_layers, gpt ? "GPT" : "Llama", (unsigned long long)want);
    return ANE_OK;
}

/* Convert every matrix to fp16 into one owned arena (a matrix given twice, the tied
 * classifier, is converted once). */
static ane_status convert_to_half(ane_decoder *d, matrix_slot *slots, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += slots[i].count;
    d->half = malloc(total * sizeof(uint16_t));
    if (!d->half)
        return ane_fail(ANE_ERR_NO_MEMORY, "ane_decoder_create: out of memory for %.1f MB of fp16 weights", (double)total * 2 / 1e6);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        matrix_slot *s = slots + i;
        size_t same = i;
        for (size_t k = 0; k < i; k++)
            if (slots[k].src == s->src && slots[k].count == s->count) { same = k; break; }
        if (same != i) { s->m->f16 = slots[same].m->f16; continue; }
        uint16_t *h = d->half + at;
        for (size_t e = 0; e < s->count; e++) {
            h[e] = ane_float_to_half(s->src[e]);
            if ((h[e] & 0x7c00u) == 0x7c00u)
                return ane_fail(ANE_ERR_WEIGHTS, "ane_decoder_create: weight %llu (a matrix) holds %g at element %zu, which fp16 cannot store "
                                "(|w| must be < 65520 and not NaN): use fp32 weights", (unsigned long long)s->index, (double)s->src[e], e);
        }
        s->m->f16 = h;
        at += s->count;
    }
    return ANE_OK;
}

ANE_API ane_status ane_decoder_create(const ane_decoder_config *cfg, const float *const *weights,
                                      uint64_t n_weights, ane_decoder **out)
{
    if (!out) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: out is NULL");
    *out = NULL;
    if (!cfg || !weights) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: config or weights is NULL");
    const ane_decoder_config c = *cfg;
    ane_status st = check_config(&c, n_weights);
    if (st) return st;
    for (uint64_t i = 0; i < n_weights; i++) {
        const uint64_t slot = c.arch == ANE_DECODER_LLAMA && i >= 1 && i < n_weights - 2 ? (i - 1) % 11 : 99;
        const bool optional = !c.qk_norm && (slot == 4 || slot == 5);   /* q_norm, k_norm */
        if (!weights[i] && !optional)
            return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_create: weight pointer %llu is NULL", (unsigned long long)i);
    }
    ane_decoder *d = calloc(1, sizeof *d);
    if (!d) return ane_fail(ANE_ERR_NO_MEMORY, "ane_decoder_create: out of memory");
    d->c = c;
    const size_t cache = (size_t)c.n_layers * c.max_seq * c.n_kv_heads * c.head_dim;
    const size_t max_slots = 3 + 7 * (size_t)c.n_layers;
    d->layer = calloc(c.n_layers, sizeof *d->layer);
    matrix_slot *slots = malloc(max_slots * sizeof *slots);
    d->k_cache = malloc(cache * sizeof(float));
    d->v_cache = malloc(cache * sizeof(float));
    if (!d->layer || !slots || !d->k_cache || !d->v_cache) {
        free(slots);
        ane_decoder_free(d);
        return ane_fail(ANE_ERR_NO_MEMORY, "ane_decoder_create: out of memory for a KV cache of %u positions (%.1f MB)",
                        c.max_seq, 2.0 * (double)cache * 4 / 1e6);
    }
    take_vectors(d, weights);
    const size_t n = list_matrices(d, weights, slots);
    if (c.weight_type == ANE_WEIGHTS_FP16) {
        st = convert_to_half(d, slots, n);
        if (st) { free(slots); ane_decoder_free(d); return st; }
    } else {
        for (size_t i = 0; i < n; i++) slots[i].m->f32 = slots[i].src;
    }
    /* Bytes per decode step: the matrices (each embedding only one row), norms and biases. */
    const uint64_t elem = c.weight_type == ANE_WEIGHTS_FP16 ? 2 : 4;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += elem * (slots[i].m == &d->embed || slots[i].m == &d->pos_embed ? c.dim : slots[i].count);
    const uint64_t F = c.hidden_dim, D = c.dim, QKV = (uint64_t)(c.n_heads + 2 * c.n_kv_heads) * c.head_dim;
    const uint64_t vectors = c.arch == ANE_DECODER_GPT ? c.n_layers * (4 * D + QKV + 2 * D + F) + 2 * D
                                                       : c.n_layers * (2 * D + (c.qk_norm ? 2ull * c.head_dim : 0)) + D;
    d->weight_bytes = bytes + 4 * vectors;
    free(slots);
    *out = d;
    return ANE_OK;
}

ANE_API void ane_decoder_free(ane_decoder *d)
{
    if (!d) return;
    free_scratch(d);
    free(d->layer); free(d->half); free(d->k_cache); free(d->v_cache);
    free(d);
}

ANE_API ane_status ane_decoder_reset(ane_decoder *d)
{
    if (!d) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_reset: decoder is NULL");
    d->length = 0;
    return ANE_OK;
}

ANE_API uint32_t ane_decoder_length(const ane_decoder *d) { return d ? d->length : 0; }

/* The cache is [L, max_seq, KV]; the caller's block is channel-major [KV, ld] (one row per
 * channel, as a kernel's output surface holds it), so this is a transposing copy. */
ANE_API ane_status ane_decoder_write_kv(ane_decoder *d, uint32_t layer, uint32_t pos, uint32_t n,
                                        const float *k, const float *v, uint64_t ld)
{
    if (!d || !k || !v) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_write_kv: decoder, k and v must not be NULL");
    const ane_decoder_config *c = &d->c;
    if (layer >= c->n_layers) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_write_kv: layer %u of %u", layer, c->n_layers);
    if ((uint64_t)pos + n > c->max_seq)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_write_kv: positions %u..%u run past the cache's %u", pos, pos + n, c->max_seq);
    if (ld < n) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_write_kv: row stride %llu < %u positions", (unsigned long long)ld, n);
    const uint32_t KV = c->n_kv_heads * c->head_dim;
    float *kc = d->k_cache + ((size_t)layer * c->max_seq + pos) * KV;
    float *vc = d->v_cache + ((size_t)layer * c->max_seq + pos) * KV;
    for (uint32_t ch = 0; ch < KV; ch++)
        for (uint32_t s = 0; s < n; s++) {
            kc[(size_t)s * KV + ch] = k[(size_t)ch * ld + s];
            vc[(size_t)s * KV + ch] = v[(size_t)ch * ld + s];
        }
    return ANE_OK;
}

ANE_API ane_status ane_decoder_set_length(ane_decoder *d, uint32_t length)
{
    if (!d) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_set_length: decoder is NULL");
    if (length > d->c.max_seq) return ane_fail(ANE_ERR_INVALID_ARG, "ane_decoder_set_length: %u > the cache's %u positions", length, d->c.max_seq);
    d->length = length;
    return ANE_OK;
}

ANE_API uint64_t ane_decoder_weight_bytes(const ane_decoder *d) { return d ? d->weight_bytes : 0; }

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
    const float eps = c->norm_eps;

    /* x[b] = embedding[token] (+ position embedding[pos + b]); xn holds the position row. */
    for (uint32_t b = 0; b < n; b++) {
        float *x = d->x + (size_t)b * D;
        matrix_row(&d->embed, (size_t)tokens[b], D, x);
        if (c->arch == ANE_DECODER_GPT) {
            matrix_row(&d->pos_embed, (size_t)pos + b, D, d->xn);
            for (uint32_t i = 0; i < D; i++) x[i] += d->xn[i];
        }
    }
    for (uint32_t l = 0; l < c->n_layers; l++) {
        const layer_weights *w = d->layer + l;
        for (uint32_t b = 0; b < n; b++) norm(d->x + (size_t)b * D, w->norm1_w, w->norm1_b, d->xn + (size_t)b * D, D, eps);
        matvec_job qkv = {{{&w->wq, w->bq, d->q, Q}, {&w->wk, w->bk, d->k, KV}, {&w->wv, w->bv, d->v, KV}}, 3, d->xn, D, n};
        run_matvec(&qkv);
        qkv_job qj = {d, l, pos};
        ane_parallel_for(n, 1, qkv_range, &qj);
        attn_job aj = {d, l, pos};
        ane_parallel_for((int64_t)n * c->n_heads, 1, attn_range, &aj);
        /* The o projection lands in xn (free now), then the residual adds it. */
        matvec(&w->wo, D, Q, d->att, n, w->bo, d->xn);
        for (size_t i = 0; i < (size_t)n * D; i++) d->x[i] += d->xn[i];
        for (uint32_t b = 0; b < n; b++) norm(d->x + (size_t)b * D, w->norm2_w, w->norm2_b, d->xn + (size_t)b * D, D, eps);
        const bool swiglu = w->gate.f32 || w->gate.f16;
        matvec_job mlp = {{{&w->up, w->b_up, swiglu ? d->h3 : d->h1, F}, {&w->gate, NULL, d->h1, F}}, swiglu ? 2 : 1, d->xn, D, n};
        run_matvec(&mlp);
        act_job jj = {d->h1, d->h3, swiglu};
        ane_parallel_for((int64_t)n * F, 4096, act_range, &jj);
        matvec(&w->down, D, F, d->h1, n, w->b_down, d->xn);
        for (size_t i = 0; i < (size_t)n * D; i++) d->x[i] += d->xn[i];
    }
    /* Only the last position's logits are wanted. */
    const float *last = d->x + (size_t)(n - 1) * D;
    norm(last, d->final_w, d->final_b, d->xn, D, eps);
    matvec(&d->cls, c->vocab_size, D, d->xn, 1, NULL, logits);
    d->length = pos + n;
    return ANE_OK;
}
