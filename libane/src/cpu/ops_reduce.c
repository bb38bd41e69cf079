/* ops_reduce.c — reductions, softmax and layer_norm over a block of adjacent axes.
 *
 * The plan views the (contiguous) input as x[outer, R, inner] with the reduced axes in the
 * middle. Work is split over (outer, block of inner columns); each block keeps its running
 * sums/maxima in a small fp32 array, so the reduced axis is walked row by row with
 * unit-stride, vectorisable inner loops whether it is the last axis (inner = 1) or a
 * channel axis of [1, C, 1, S] (inner = S). Results are rounded to fp16 once, at the end. */
#include "../core/platform.h"
#include "../core/threads.h"
#include "../core/fastmath.h"
#include "ops.h"

#define BLOCK 256    /* inner columns per work item */

typedef struct red_ctx {
    const cpu_plan *plan;
    const cpu_step *s;
    const float *x, *gamma, *beta;
    float *y;
    int64_t blocks_per_outer;
} red_ctx;

/* For work item w: which outer index, which columns [j0, j0+nj). */
static void item(const red_ctx *c, int64_t w, int64_t *o, int64_t *j0, int64_t *nj)
{
    const cpu_params *p = &c->s->p;
    *o = w / c->blocks_per_outer;
    *j0 = (w % c->blocks_per_outer) * BLOCK;
    *nj = p->inner - *j0 < BLOCK ? p->inner - *j0 : BLOCK;
}

static void reduce_items(void *vctx, int64_t begin, int64_t end)
{
    red_ctx *c = vctx;
    const cpu_params *p = &c->s->p;
    float acc[BLOCK];
    for (int64_t w = begin; w < end; w++) {
        int64_t o, j0, nj;
        item(c, w, &o, &j0, &nj);
        const float *x = c->x + o * p->reduce * p->inner + j0;
        int is_max = p->code == MIL_OP_REDUCE_MAX;
        for (int64_t j = 0; j < nj; j++) acc[j] = is_max ? -INFINITY : 0.0f;
        for (int64_t r = 0; r < p->reduce; r++) {
            const float *row = x + r * p->inner;
            if (is_max) for (int64_t j = 0; j < nj; j++) acc[j] = row[j] > acc[j] ? row[j] : acc[j];
            else for (int64_t j = 0; j < nj; j++) acc[j] += row[j];
        }
        if (p->code == MIL_OP_REDUCE_MEAN)
            for (int64_t j = 0; j < nj; j++) acc[j] /= (float)p->reduce;
        float *y = c->y + o * p->inner + j0;
        memcpy(y, acc, (size_t)nj * sizeof(float));
        cpu_finish(c->plan, c->s->out, y, nj);
    }
}

/* softmax along R: y = exp(x - max) / sum(exp(x - max)), all in fp32. */
ANE_VEC_CLONES static void softmax_items(void *vctx, int64_t begin, int64_t end)
{
    red_ctx *c = vctx;
    const cpu_params *p = &c->s->p;
    float mx[BLOCK], sum[BLOCK];
    for (int64_t w = begin; w < end; w++) {
        int64_t o, j0, nj;
        item(c, w, &o, &j0, &nj);
        const float *x = c->x + o * p->reduce * p->inner + j0;
        float *y = c->y + o * p->reduce * p->inner + j0;
        if (p->inner == 1) {
            /* along the last axis: one contiguous row, its sum in ane_exp_row_sum's order, as
             * the fused scaled masked softmax (ops_fused.c) sums it */
            memmove(y, x, (size_t)p->reduce * sizeof(float));
            float inv = 1.0f / ane_exp_row_sum(y, p->reduce, ane_row_max(y, p->reduce));
            for (int64_t r = 0; r < p->reduce; r++) y[r] *= inv;
            cpu_finish(c->plan, c->s->out, y, p->reduce);
            continue;
        }
        for (int64_t j = 0; j < nj; j++) { mx[j] = -INFINITY; sum[j] = 0.0f; }
        for (int64_t r = 0; r < p->reduce; r++)
            for (int64_t j = 0; j < nj; j++) mx[j] = x[r * p->inner + j] > mx[j] ? x[r * p->inner + j] : mx[j];
        for (int64_t r = 0; r < p->reduce; r++)
            for (int64_t j = 0; j < nj; j++) {
                /* a row of -inf (fully masked) gives NaN, as exp(-inf - -inf) does elsewhere */
                float e = ane_expf(x[r * p->inner + j] - mx[j]);
                y[r * p->inner + j] = e;
                sum[j] += e;
            }
        for (int64_t j = 0; j < nj; j++) sum[j] = 1.0f / sum[j];
        for (int64_t r = 0; r < p->reduce; r++) {
            float *yr = y + r * p->inner;
            for (int64_t j = 0; j < nj; j++) yr[j] *= sum[j];
            cpu_finish(c->plan, c->s->out, yr, nj);
        }
    }
}

/* layer_norm along R: (x - mean) / sqrt(var + eps) * gamma + beta, two-pass in fp32. */
static void layer_norm_items(void *vctx, int64_t begin, int64_t end)
{
    red_ctx *c = vctx;
    const cpu_params *p = &c->s->p;
    float mean[BLOCK], inv[BLOCK];
    for (int64_t w = begin; w < end; w++) {
        int64_t o, j0, nj;
        item(c, w, &o, &j0, &nj);
        const float *x = c->x + o * p->reduce * p->inner + j0;
        float *y = c->y + o * p->reduce * p->inner + j0;
        for (int64_t j = 0; j < nj; j++) { mean[j] = 0.0f; inv[j] = 0.0f; }
        for (int64_t r = 0; r < p->reduce; r++)
            for (int64_t j = 0; j < nj; j++) mean[j] += x[r * p->inner + j];
        for (int64_t j = 0; j < nj; j++) mean[j] /= (float)p->reduce;
        for (int64_t r = 0; r < p->reduce; r++)
            for (int64_t j = 0; j < nj; j++) {
                float d = x[r * p->inner + j] - mean[j];
                inv[j] += d * d;
            }
        for (int64_t j = 0; j < nj; j++) inv[j] = 1.0f / sqrtf(inv[j] / (float)p->reduce + p->eps);
        for (int64_t r = 0; r < p->reduce; r++) {
            float g = c->gamma ? c->gamma[r] : 1.0f, b = c->beta ? c->beta[r] : 0.0f;
            float *yr = y + r * p->inner;
            const float *xr = x + r * p->inner;
            for (int64_t j = 0; j < nj; j++) yr[j] = (xr[j] - mean[j]) * inv[j] * g + b;
            cpu_finish(c->plan, c->s->out, yr, nj);
        }
    }
}

static ane_status run(const cpu_plan *plan, const cpu_step *s, ane_range_fn fn)
{
    red_ctx c = { plan, s, cpu_data(plan, s->in[0]),
                  s->in[1] >= 0 ? cpu_data(plan, s->in[1]) : NULL,
                  s->in[2] >= 0 ? cpu_data(plan, s->in[2]) : NULL,
                  cpu_data(plan, s->out), (s->p.inner + BLOCK - 1) / BLOCK };
    int64_t items = s->p.outer * c.blocks_per_outer;
    int64_t per_item = s->p.reduce * (s->p.inner < BLOCK ? s->p.inner : BLOCK);
    int64_t grain = 16384 / (per_item > 0 ? per_item : 1);
    ane_parallel_for(items, grain > 0 ? grain : 1, fn, &c);
    return ANE_OK;
}

ane_status cpu_run_reduce(const cpu_plan *plan, const cpu_step *s) { return run(plan, s, reduce_items); }
ane_status cpu_run_softmax(const cpu_plan *plan, const cpu_step *s) { return run(plan, s, softmax_items); }
ane_status cpu_run_layer_norm(const cpu_plan *plan, const cpu_step *s) { return run(plan, s, layer_norm_items); }
