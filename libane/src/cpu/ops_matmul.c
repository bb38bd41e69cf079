/* ops_matmul.c — the ops built on cpu_gemm: matmul, linear, conv, and
 * scaled_dot_product_attention.
 *
 * matmul reads its operands as strided views (a slice, reshape or transpose feeds packing
 * directly) and rounds to fp16 inside gemm. Products with a bias (linear, conv) accumulate
 * in fp32, add the bias and round once. Batches of small products run in parallel, one
 * product per thread, as do batches of at least two products per thread; large products
 * parallelise inside gemm. */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/fastmath.h"
#include "../core/threads.h"
#include "gemm.h"
#include "ops.h"

static ane_status gemm_or_fail(const cpu_gemm_args *g, const cpu_step *s)
{
    if (cpu_gemm(g) == 0) return ANE_OK;
    return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory for gemm scratch in %s at line %d",
                    s->op->op_name, s->op->line);
}

/* ------------------------------------------------------------------ matmul */

typedef struct mm_ctx {
    const cpu_plan *plan;
    const cpu_step *s;
    cpu_gemm_args g;                 /* batch 0; per batch the pointers move */
    int brank;
    int64_t bshape[CPU_MAX_RANK], xs[CPU_MAX_RANK], ys[CPU_MAX_RANK];
    int64_t out_batch_stride;
    int failed;
} mm_ctx;

static void mm_batches(void *vctx, int64_t begin, int64_t end)
{
    mm_ctx *c = vctx;
    for (int64_t b = begin; b < end; b++) {
        cpu_gemm_args g = c->g;
        int64_t rem = b;
        for (int i = c->brank - 1; i >= 0; i--) {
            int64_t idx = rem % c->bshape[i];
            rem /= c->bshape[i];
            g.a += idx * c->xs[i];
            g.b += idx * c->ys[i];
        }
        g.c += b * c->out_batch_stride;
        if (cpu_gemm(&g) != 0) c->failed = 1;
    }
}

ane_status cpu_run_matmul(const cpu_plan *plan, const cpu_step *s)
{
    const cpu_tensor *x = &plan->tensors[s->in[0]], *y = &plan->tensors[s->in[1]];
    const cpu_tensor *out = &plan->tensors[s->out];
    mm_ctx c = { .plan = plan, .s = s };
    cpu_gemm_args *g = &c.g;
    int rx = x->rank, ry = y->rank;
    if (rx == 1) { g->m = 1; g->k = x->shape[0]; g->a_rs = 0; g->a_cs = x->stride[0]; }
    else {
        int dm = rx - 2, dk = rx - 1;
        if (s->p.transpose_x) { dm = rx - 1; dk = rx - 2; }
        g->m = x->shape[dm]; g->k = x->shape[dk]; g->a_rs = x->stride[dm]; g->a_cs = x->stride[dk];
    }
    if (ry == 1) { g->n = 1; g->b_rs = y->stride[0]; g->b_cs = 0; }
    else {
        int dk = ry - 2, dn = ry - 1;
        if (s->p.transpose_y) { dk = ry - 1; dn = ry - 2; }
        g->n = y->shape[dn]; g->b_rs = y->stride[dk]; g->b_cs = y->stride[dn];
    }
    g->a = cpu_data(plan, s->in[0]);
    g->b = cpu_data(plan, s->in[1]);
    g->c = cpu_data(plan, s->out);
    g->c_rs = g->n;
    g->round_fp16 = plan->fp16 && cpu_dtype_is_float(out->dtype);

    /* Batch axes: the output's leading axes; each operand broadcasts into them. */
    c.brank = out->rank - (rx > 1) - (ry > 1);
    if (c.brank < 0) c.brank = 0;
    int64_t batches = 1;
    for (int i = 0; i < c.brank; i++) { c.bshape[i] = out->shape[i]; batches *= out->shape[i]; }
    cpu_tensor xb = *x, yb = *y;
    xb.rank = rx > 2 ? rx - 2 : 0;
    yb.rank = ry > 2 ? ry - 2 : 0;
    cpu_broadcast_strides(&xb, c.brank, c.bshape, c.xs);
    cpu_broadcast_strides(&yb, c.brank, c.bshape, c.ys);
    c.out_batch_stride = g->m * g->n;

    /* One product per thread when there are enough of them (attention's per-head products):
     * a product split across threads pays two hand-offs per block of k for little work. */
    double flops = 2.0 * (double)g->m * (double)g->n * (double)g->k;
    if (batches > 1 && (flops < 4e6 || batches >= 2 * (int64_t)ane_threads_count()))
        ane_parallel_for(batches, 1, mm_batches, &c);
    else mm_batches(&c, 0, batches);
    if (c.failed)
        return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory for gemm scratch in %s at line %d",
                        s->op->op_name, s->op->line);
    return ANE_OK;
}

/* ------------------------------------------------------------------ bias + rounding */

typedef struct bias_ctx {
    const cpu_plan *plan;
    const cpu_step *s;
    float *y;
    const float *bias;
    int64_t channels, inner;         /* y[outer][channels][inner]: bias[c] added */
} bias_ctx;

static void bias_rows(void *vctx, int64_t begin, int64_t end)
{
    bias_ctx *c = vctx;
    for (int64_t r = begin; r < end; r++) {
        float *y = c->y + r * c->inner, b = c->bias[r % c->channels];
        for (int64_t j = 0; j < c->inner; j++) y[j] += b;
        cpu_finish(c->plan, c->s->out, y, c->inner);
    }
}

static void add_bias(const cpu_plan *plan, const cpu_step *s, float *y, const float *bias,
                     int64_t rows, int64_t channels, int64_t inner)
{
    bias_ctx c = { plan, s, y, bias, channels, inner };
    int64_t grain = 16384 / (inner > 0 ? inner : 1);
    ane_parallel_for(rows, grain > 0 ? grain : 1, bias_rows, &c);
}

/* ------------------------------------------------------------------ linear */

ane_status cpu_run_linear(const cpu_plan *plan, const cpu_step *s)
{
    const cpu_tensor *x = &plan->tensors[s->in[0]], *w = &plan->tensors[s->in[1]];
    int64_t din = x->shape[x->rank - 1], dout = w->shape[0];
    int64_t rows = din ? cpu_elems(x) / din : 0;
    int round = plan->fp16 && cpu_dtype_is_float(plan->tensors[s->out].dtype);
    /* y[rows, dout] = x[rows, din] W^T: B[p, j] = W[j, p] */
    cpu_gemm_args g = { rows, dout, din, cpu_data(plan, s->in[0]), din, 1,
                        cpu_data(plan, s->in[1]), 1, din, cpu_data(plan, s->out), dout,
                        round && !s->p.has_bias, NULL };
    ane_status st = gemm_or_fail(&g, s);
    if (st == ANE_OK && s->p.has_bias) add_bias(plan, s, g.c, cpu_data(plan, s->in[2]), rows * dout, dout, 1);
    return st;
}

/* ------------------------------------------------------------------ conv */

typedef struct im2col_ctx {
    const float *x;                  /* this image's channels of the group: [icg, ih, iw] */
    float *col;                      /* [icg*kh*kw, oh*ow] */
    int64_t ih, iw, oh, ow, kh, kw;
    const cpu_params *p;
} im2col_ctx;

static void im2col_rows(void *vctx, int64_t begin, int64_t end)
{
    im2col_ctx *c = vctx;
    const cpu_params *p = c->p;
    for (int64_t r = begin; r < end; r++) {           /* r = (ch*kh + ky)*kw + kx */
        int64_t kx = r % c->kw, ky = (r / c->kw) % c->kh, ch = r / (c->kw * c->kh);
        const float *xc = c->x + ch * c->ih * c->iw;
        float *d = c->col + r * c->oh * c->ow;
        for (int64_t oy = 0; oy < c->oh; oy++) {
            int64_t iy = oy * p->strides[0] - p->pads[0] + ky * p->dilations[0];
            float *drow = d + oy * c->ow;
            if (iy < 0 || iy >= c->ih) { memset(drow, 0, (size_t)c->ow * sizeof(float)); continue; }
            for (int64_t ox = 0; ox < c->ow; ox++) {
                int64_t ix = ox * p->strides[1] - p->pads[2] + kx * p->dilations[1];
                drow[ox] = (ix < 0 || ix >= c->iw) ? 0.0f : xc[iy * c->iw + ix];
            }
        }
    }
}

ane_status cpu_run_conv(const cpu_plan *plan, const cpu_step *s)
{
    const cpu_tensor *x = &plan->tensors[s->in[0]], *w = &plan->tensors[s->in[1]];
    const cpu_tensor *out = &plan->tensors[s->out];
    const cpu_params *p = &s->p;
    int sp = x->rank - 2;
    int64_t n = x->shape[0], cin = x->shape[1], cout = out->shape[1];
    int64_t ih = sp == 2 ? x->shape[2] : 1, iw = x->shape[x->rank - 1];
    int64_t oh = sp == 2 ? out->shape[2] : 1, ow = out->shape[out->rank - 1];
    int64_t kh = sp == 2 ? w->shape[2] : 1, kw = w->shape[w->rank - 1];
    int64_t icg = cin / p->groups, ocg = cout / p->groups, kdim = icg * kh * kw;
    int round = plan->fp16 && cpu_dtype_is_float(out->dtype);
    const float *xd = cpu_data(plan, s->in[0]), *wd = cpu_data(plan, s->in[1]);
    float *yd = cpu_data(plan, s->out);
    float *col = NULL;
    if (p->scratch_elems > 0 && !(col = malloc((size_t)p->scratch_elems * sizeof(float))))
        return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory for conv at line %d", s->op->line);
    ane_status st = ANE_OK;
    for (int64_t img = 0; img < n && st == ANE_OK; img++) {
        for (int64_t grp = 0; grp < p->groups && st == ANE_OK; grp++) {
            const float *xg = xd + (img * cin + grp * icg) * ih * iw;
            const float *b = xg;
            if (col) {
                im2col_ctx ic = { xg, col, ih, iw, oh, ow, kh, kw, p };
                ane_parallel_for(kdim, 1 + 8192 / (oh * ow), im2col_rows, &ic);
                b = col;
            }
            /* y_g[ocg, oh*ow] = W_g[ocg, kdim] B[kdim, oh*ow] */
            cpu_gemm_args g = { ocg, oh * ow, kdim, wd + grp * ocg * kdim, kdim, 1, b, oh * ow, 1,
                                yd + (img * cout + grp * ocg) * oh * ow, oh * ow,
                                round && !p->has_bias, NULL };
            st = gemm_or_fail(&g, s);
        }
    }
    free(col);
    if (st == ANE_OK && p->has_bias) add_bias(plan, s, yd, cpu_data(plan, s->in[2]), n * cout, cout, oh * ow);
    return st;
}

/* ------------------------------------------------------------------ attention */

typedef struct sdpa_ctx {
    const cpu_plan *plan;
    const cpu_step *s;
    const cpu_tensor *q, *k, *v, *mask;
    int64_t L, S, E, Ev;
    int brank;
    int64_t bshape[CPU_MAX_RANK];
    int64_t mstride[CPU_MAX_RANK];   /* mask broadcast to [batch..., L, S] */
    float scale;
    int serial_gemm;                 /* gemm parallelises inside (one batch at a time) */
    int failed;
} sdpa_ctx;

static void sdpa_batches(void *vctx, int64_t begin, int64_t end)
{
    sdpa_ctx *c = vctx;
    const cpu_plan *plan = c->plan;
    int r = c->q->rank;
    float *scores = malloc((size_t)(c->L * c->S) * sizeof(float));
    if (!scores) { c->failed = 1; return; }
    int round = plan->fp16 && cpu_dtype_is_float(plan->tensors[c->s->out].dtype);
    for (int64_t bt = begin; bt < end; bt++) {
        int64_t qo = 0, ko = 0, vo = 0, mo = 0, rem = bt;
        for (int i = c->brank - 1; i >= 0; i--) {
            int64_t idx = rem % c->bshape[i];
            rem /= c->bshape[i];
            qo += idx * c->q->stride[i]; ko += idx * c->k->stride[i]; vo += idx * c->v->stride[i];
            mo += idx * c->mstride[i];
        }
        /* scores[L,S] = Q K^T */
        cpu_gemm_args g1 = { c->L, c->S, c->E, cpu_data(plan, c->s->in[0]) + qo, c->q->stride[r - 2],
                             c->q->stride[r - 1], cpu_data(plan, c->s->in[1]) + ko, c->k->stride[r - 1],
                             c->k->stride[r - 2], scores, c->S, 0, NULL };
        if (cpu_gemm(&g1) != 0) { c->failed = 1; break; }
        const float *m = c->mask ? cpu_data(plan, c->s->in[3]) + mo : NULL;
        int64_t ms_l = c->mstride[c->brank], ms_s = c->mstride[c->brank + 1];
        int bool_mask = c->mask && c->mask->dtype == MIL_BOOL;
        for (int64_t i = 0; i < c->L; i++) {
            float *row = scores + i * c->S;
            for (int64_t j = 0; j < c->S; j++) {
                float v = row[j] * c->scale;
                if (m) {
                    float mv = m[i * ms_l + j * ms_s];
                    v = bool_mask ? (mv != 0.0f ? v : -INFINITY) : v + mv;
                }
                row[j] = v;
            }
            float inv = 1.0f / ane_exp_row_sum(row, c->S, ane_row_max(row, c->S));
            for (int64_t j = 0; j < c->S; j++) row[j] *= inv;
        }
        /* out[L,Ev] = P V */
        cpu_gemm_args g2 = { c->L, c->Ev, c->S, scores, c->S, 1, cpu_data(plan, c->s->in[2]) + vo,
                             c->v->stride[r - 2], c->v->stride[r - 1],
                             cpu_data(plan, c->s->out) + bt * c->L * c->Ev, c->Ev, round, NULL };
        if (cpu_gemm(&g2) != 0) { c->failed = 1; break; }
    }
    free(scores);
}

ane_status cpu_run_sdpa(const cpu_plan *plan, const cpu_step *s)
{
    sdpa_ctx c = { .plan = plan, .s = s };
    c.q = &plan->tensors[s->in[0]];
    c.k = &plan->tensors[s->in[1]];
    c.v = &plan->tensors[s->in[2]];
    c.mask = s->in[3] >= 0 ? &plan->tensors[s->in[3]] : NULL;
    int r = c.q->rank;
    c.L = c.q->shape[r - 2]; c.E = c.q->shape[r - 1]; c.S = c.k->shape[r - 2]; c.Ev = c.v->shape[r - 1];
    c.brank = r - 2;
    int64_t batches = 1, full[CPU_MAX_RANK];
    for (int i = 0; i < c.brank; i++) { c.bshape[i] = c.q->shape[i]; full[i] = c.q->shape[i]; batches *= c.q->shape[i]; }
    full[r - 2] = c.L; full[r - 1] = c.S;
    if (c.mask) cpu_broadcast_strides(c.mask, r, full, c.mstride);
    else for (int i = 0; i < r; i++) c.mstride[i] = 0;
    c.scale = 1.0f / sqrtf((float)c.E);
    if (batches >= (int64_t)ane_threads_count()) ane_parallel_for(batches, 1, sdpa_batches, &c);
    else sdpa_batches(&c, 0, batches);
    if (c.failed)
        return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory in %s at line %d", s->op->op_name, s->op->line);
    return ANE_OK;
}
