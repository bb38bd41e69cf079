/* ops_fused.c — the kernels of fused steps (fuse.c): one pass over rows of [rows, R] where
 * the separate ops would make two to four. Each computes exactly the separate ops'
 * expressions, in their order; under ANE numerics (plan->fp16) every intermediate the
 * separate ops would have stored is rounded to fp16 at the same point (round16 below), so
 * results are bit-identical to the unfused plan. Rows are split across the thread pool. */
#include "../core/platform.h"
#include "../core/threads.h"
#include "../core/fp16.h"
#include "../core/fastmath.h"
#include "ops.h"

/* The fp32 path must not fuse a*b + c into one rounding where the separate ops round twice. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

ane_status cpu_run_nothing(const cpu_plan *plan, const cpu_step *s) { return ANE_OK; }

static inline float round16(int fp16, float v) { return fp16 ? ane_round_fp16(v) : v; }

typedef struct fused_ctx {
    const cpu_plan *plan;
    const cpu_step *s;
    int64_t R;
} fused_ctx;

/* Rows per chunk, as softmax/reduce split them: about 16K elements. */
static int64_t row_grain(int64_t R)
{
    int64_t g = 16384 / (R > 0 ? R : 1);
    return g > 0 ? g : 1;
}

/* y[o, :] = softmax(x[o, :] * c + mask[o % mask_rows, :]); without c, x + mask. in: x, c, mask. */
ANE_VEC_CLONES static void sms_rows(void *vctx, int64_t begin, int64_t end)
{
    const fused_ctx *f = vctx;
    const cpu_plan *plan = f->plan;
    const cpu_step *s = f->s;
    int64_t R = f->R, mask_rows = s->p.scratch_elems;
    int fp16 = plan->fp16;
    const float *x = cpu_data(plan, s->in[0]), *mask = cpu_data(plan, s->in[2]);
    int has_c = s->in[1] >= 0;
    float c = has_c ? cpu_data(plan, s->in[1])[0] : 1.0f;
    float *y = cpu_data(plan, s->out);
    for (int64_t o = begin; o < end; o++) {
        const float *xr = x + o * R, *mr = mask + (o % mask_rows) * R;
        float *yr = y + o * R;
        for (int64_t j = 0; j < R; j++) {
            float v = has_c ? round16(fp16, xr[j] * c) : xr[j];
            yr[j] = round16(fp16, v + mr[j]);
        }
        float mx = ane_row_max(yr, R);
        /* as the unfused softmax sums; a fully masked row (-inf) gives NaN, as unfused */
        float inv = 1.0f / ane_exp_row_sum(yr, R, mx);
        for (int64_t j = 0; j < R; j++) yr[j] *= inv;
        cpu_finish(plan, s->out, yr, R);
    }
}

ane_status cpu_run_scaled_masked_softmax(const cpu_plan *plan, const cpu_step *s)
{
    fused_ctx f = { plan, s, s->p.reduce };
    ane_parallel_for(s->p.outer, row_grain(f.R), sms_rows, &f);
    return ANE_OK;
}

/* y[o] = sum_j a[o, j] * b[o, j], summed in j order (as reduce_sum does). in: a, b. */
static void dot_rows(void *vctx, int64_t begin, int64_t end)
{
    const fused_ctx *f = vctx;
    const cpu_plan *plan = f->plan;
    const cpu_step *s = f->s;
    int64_t R = f->R;
    int fp16 = plan->fp16;
    const float *a = cpu_data(plan, s->in[0]), *b = cpu_data(plan, s->in[1]);
    float *y = cpu_data(plan, s->out);
    for (int64_t o = begin; o < end; o++) {
        const float *ar = a + o * R, *br = b + o * R;
        float acc = 0.0f;
        if (fp16) for (int64_t j = 0; j < R; j++) acc += ane_round_fp16(ar[j] * br[j]);
        else for (int64_t j = 0; j < R; j++) acc += ar[j] * br[j];
        y[o] = round16(fp16, acc);
    }
}

ane_status cpu_run_row_dot(const cpu_plan *plan, const cpu_step *s)
{
    fused_ctx f = { plan, s, s->p.reduce };
    ane_parallel_for(s->p.outer, row_grain(f.R), dot_rows, &f);
    return ANE_OK;
}

/* y[o, j] = (p[o, j] * (d[o, j] - r[o])) * c: softmax's backward. in: p, d, r, c. */
static void sbwd_rows(void *vctx, int64_t begin, int64_t end)
{
    const fused_ctx *f = vctx;
    const cpu_plan *plan = f->plan;
    const cpu_step *s = f->s;
    int64_t R = f->R;
    const float *p = cpu_data(plan, s->in[0]), *d = cpu_data(plan, s->in[1]), *r = cpu_data(plan, s->in[2]);
    float c = cpu_data(plan, s->in[3])[0];
    float *y = cpu_data(plan, s->out);
    for (int64_t o = begin; o < end; o++) {
        const float *pr = p + o * R, *dr = d + o * R;
        float ro = r[o];
        float *yr = y + o * R;
        if (plan->fp16)
            for (int64_t j = 0; j < R; j++)
                yr[j] = ane_round_fp16(ane_round_fp16(pr[j] * ane_round_fp16(dr[j] - ro)) * c);
        else
            for (int64_t j = 0; j < R; j++) yr[j] = (pr[j] * (dr[j] - ro)) * c;
    }
}

ane_status cpu_run_softmax_bwd(const cpu_plan *plan, const cpu_step *s)
{
    fused_ctx f = { plan, s, s->p.reduce };
    ane_parallel_for(s->p.outer, row_grain(f.R), sbwd_rows, &f);
    return ANE_OK;
}
