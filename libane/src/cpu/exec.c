/* exec.c — running a plan: the steps in order, plus the helpers every kernel shares
 * (fp16 rounding of results, strided copies between views). */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/fp16.h"
#include "../core/threads.h"
#include "plan.h"
#include "strided.h"

ane_status cpu_plan_run(const cpu_plan *plan)
{
    for (int i = 0; i < plan->n_steps; i++) {
        const cpu_step *s = &plan->steps[i];
        ane_status st = s->run(plan, s);
        if (st != ANE_OK) return st;
    }
    return ANE_OK;
}

void cpu_finish(const cpu_plan *plan, int t, float *y, int64_t n)
{
    if (plan->fp16 && cpu_dtype_is_float(plan->tensors[t].dtype)) ane_round_fp16_n(y, y, (size_t)n);
}

/* ------------------------------------------------------------------ strided iteration */

void cpu_nd_setup(cpu_nd *it, int rank, const int64_t *shape, int n_operands, const int64_t *const *strides)
{
    /* Walk from the last axis; an axis joins the group to its right when, for every
     * operand, stepping it once equals stepping the whole group: then both loops are one. */
    int r = 0;
    it->n_operands = n_operands;
    for (int i = rank - 1; i >= 0; i--) {
        if (shape[i] == 1) continue;
        int merge = r > 0;
        for (int k = 0; merge && k < n_operands; k++)
            if (strides[k][i] != it->stride[k][r - 1] * it->shape[r - 1]) merge = 0;
        if (merge) {
            it->shape[r - 1] *= shape[i];
        } else {
            it->shape[r] = shape[i];
            for (int k = 0; k < n_operands; k++) it->stride[k][r] = strides[k][i];
            r++;
        }
    }
    if (r == 0) {                            /* a single element */
        it->shape[0] = 1;
        for (int k = 0; k < n_operands; k++) it->stride[k][0] = 1;
        r = 1;
    }
    /* Stored innermost-first above; flip to outermost-first. */
    for (int i = 0, j = r - 1; i < j; i++, j--) {
        int64_t s = it->shape[i]; it->shape[i] = it->shape[j]; it->shape[j] = s;
        for (int k = 0; k < n_operands; k++) {
            int64_t x = it->stride[k][i];
            it->stride[k][i] = it->stride[k][j];
            it->stride[k][j] = x;
        }
    }
    it->rank = r;
    it->inner = it->shape[r - 1];
    it->outer = 1;
    for (int i = 0; i < r - 1; i++) it->outer *= it->shape[i];
}

void cpu_nd_row_offsets(const cpu_nd *it, int64_t row, int64_t *offsets)
{
    for (int k = 0; k < it->n_operands; k++) offsets[k] = 0;
    for (int i = it->rank - 2; i >= 0; i--) {
        int64_t idx = row % it->shape[i];
        row /= it->shape[i];
        for (int k = 0; k < it->n_operands; k++) offsets[k] += idx * it->stride[k][i];
    }
}

int64_t cpu_nd_grain(const cpu_nd *it)
{
    int64_t g = 32768 / (it->inner > 0 ? it->inner : 1);
    return g > 0 ? g : 1;
}

typedef struct copy_ctx {
    cpu_nd it;
    float *dst;
    const float *src;
} copy_ctx;

static void copy_rows(void *vctx, int64_t begin, int64_t end)
{
    copy_ctx *c = vctx;
    int64_t off[2], n = c->it.inner, sd = c->it.stride[0][c->it.rank - 1], ss = c->it.stride[1][c->it.rank - 1];
    for (int64_t r = begin; r < end; r++) {
        cpu_nd_row_offsets(&c->it, r, off);
        float *d = c->dst + off[0];
        const float *s = c->src + off[1];
        if (sd == 1 && ss == 1) memcpy(d, s, (size_t)n * sizeof(float));
        else if (sd == 1) for (int64_t j = 0; j < n; j++) d[j] = s[j * ss];
        else for (int64_t j = 0; j < n; j++) d[j * sd] = s[j * ss];
    }
}

void cpu_copy_view(const cpu_plan *plan, const cpu_tensor *dst, const cpu_tensor *src)
{
    copy_ctx c = {0};
    const int64_t *strides[2] = { dst->stride, src->stride };
    cpu_nd_setup(&c.it, src->rank, src->shape, 2, strides);
    c.dst = plan->buffers[dst->buffer].data + dst->offset;
    c.src = plan->buffers[src->buffer].data + src->offset;
    ane_parallel_for(c.it.outer, cpu_nd_grain(&c.it), copy_rows, &c);
}
