/* ops_fused.c — the kernels of fused steps (fuse.c): one pass over rows of [rows, R] where
 * the separate ops would make two to four. Each computes exactly the separate ops'
 * expressions, in their order; under ANE numerics (plan->fp16) every intermediate the
 * separate ops would have stored is rounded to fp16 at the same point (round16 below), so
 * results are bit-identical to the unfused plan. Rows are split across the thread pool. */
#include "../core/platform.h"
#include "../core/threads.h"
#include "../core/fp16.h"
#include "../core/fastmath.h"
#include "../core/error.h"
#include "../host/transpose.h"
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

/* A mask value at or below this (fp16's lowest, the kernels' MASK, or -inf) marks a position
 * that a softmax row can skip, when the values there are low enough (sms_rows). */
#define MASK_DEAD -65504.0f
/* exp(v) for v below this is 0 in ane_expf (results under FLT_MIN flush, below ln FLT_MIN = -87.34). */
#define EXP_ZERO_BELOW -88.0f

static inline int all_dead(const float *m, int64_t n)
{
    int dead = 1;
    for (int64_t j = 0; j < n; j++) dead &= m[j] <= MASK_DEAD;
    return dead;
}

/* y[o, :] = softmax(x[o, :] * c + mask[o % mask_rows, :]); without c, x + mask. in: x, c, mask.
 * Where a row's mask ends in a run of MASK_DEAD (a causal mask's future positions) and every
 * value there lies more than 88 below the row's maximum over the rest, exp gives exactly 0
 * there: the row's exponentials and sum are taken over the rest only (the sum's lanes do not
 * depend on the length, ane_exp_row_sum) and the run is written as 0, the same bits as the
 * whole row. Otherwise the whole row, as before. */
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
        int64_t live = R;
        while (live >= 16 && all_dead(mr + live - 16, 16)) live -= 16;   /* whole vectors, then one by one */
        while (live > 0 && mr[live - 1] <= MASK_DEAD) live--;
        float mx = ane_row_max(yr, live);
        int skip = live > 0;
        for (int64_t j = live; j < R; j++) skip &= yr[j] - mx < EXP_ZERO_BELOW;   /* false for a NaN */
        if (!skip) {
            live = R;
            mx = ane_row_max(yr, R);
        }
        /* as the unfused softmax sums; a fully masked row (-inf) gives NaN, as unfused */
        float inv = 1.0f / ane_exp_row_sum(yr, live, mx);
        for (int64_t j = 0; j < live; j++) yr[j] *= inv;
        for (int64_t j = live; j < R; j++) yr[j] = 0.0f;
        cpu_finish(plan, s->out, yr, live);
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

/* ------------------------------------------------------------------ SwiGLU's gate */

/* y = (x * sigmoid(x)) * b, or silu(x) * b (p.code says which form the program wrote), over
 * [begin, end) of the dense tensors. in: x, b. */
typedef struct silu_ctx {
    const float *x, *b;
    float *y;
    int fp16, silu_op;
} silu_ctx;

ANE_VEC_CLONES static void silu_mul_range(void *vctx, int64_t begin, int64_t end)
{
    const silu_ctx *c = vctx;
    const float *x = c->x, *b = c->b;
    float *y = c->y;
    if (c->fp16 && c->silu_op)
        for (int64_t j = begin; j < end; j++) {
            float a = x[j];
            y[j] = ane_round_fp16(ane_round_fp16(a / (1.0f + ane_expf(-a))) * b[j]);
        }
    else if (c->fp16)
        for (int64_t j = begin; j < end; j++) {
            float a = x[j], s = ane_round_fp16(1.0f / (1.0f + ane_expf(-a)));
            y[j] = ane_round_fp16(ane_round_fp16(a * s) * b[j]);
        }
    else if (c->silu_op)
        for (int64_t j = begin; j < end; j++) { float a = x[j]; y[j] = (a / (1.0f + ane_expf(-a))) * b[j]; }
    else
        for (int64_t j = begin; j < end; j++) {
            float a = x[j], s = 1.0f / (1.0f + ane_expf(-a));
            y[j] = (a * s) * b[j];
        }
}

ane_status cpu_run_silu_mul(const cpu_plan *plan, const cpu_step *s)
{
    silu_ctx c = { cpu_data(plan, s->in[0]), cpu_data(plan, s->in[1]), cpu_data(plan, s->out), plan->fp16,
                   s->p.code == MIL_OP_SILU };
    ane_parallel_for(s->p.outer, 16384, silu_mul_range, &c);
    return ANE_OK;
}

/* ------------------------------------------------------------------ rotary embedding */

int cpu_rope_permutation(const float *R, int64_t n, int *perm, float *sign)
{
    if (n < 1 || n > CPU_ROPE_MAX) return 0;
    for (int64_t i = 0; i < n; i++) {
        int found = -1;
        for (int64_t j = 0; j < n; j++) {
            float v = R[i * n + j];
            if (v == 0.0f) continue;
            if (found >= 0 || (v != 1.0f && v != -1.0f)) return 0;
            found = (int)j;
        }
        if (found < 0) return 0;
        perm[i] = found;
        sign[i] = R[i * n + found];
    }
    return 1;
}

/* Rotary embedding on heads x [B, n, S] (n channels per head, S positions; dense, or the
 * transpose of rows [S, n]), with cos and sin [n, S] and the signed permutation R [n, n] (RoPE's
 * rotation, built as a matrix so the device runs it as a matmul):
 *   forward (rope_inverse 0):  y = x * cos + (R x) * sin
 *   backward (rope_inverse 1): y = x * cos + R (x * sin)
 * R x is a matmul in the program; here it is row perm[i] times sign[i]. A gemm sums R's zeros
 * too, which matters only where x is not finite (0 * inf = NaN) and for the sign of a zero
 * (sums start at +0): so finite heads take sign * x[perm] + 0, and a head holding an inf or a
 * NaN takes the literal sum. in: x, cos, sin, R. */
typedef struct rope_ctx {
    const cpu_plan *plan;
    const cpu_step *s;
    int64_t n, S;
    const int *perm;
    const float *sign;
    int failed;                      /* out of memory for a chunk's gather scratch */
} rope_ctx;

static inline float r16(int fp16, float v) { return fp16 ? ane_round_fp16(v) : v; }

/* (R src)[i] as a gemm sums it: over every j, from +0. */
static float rope_literal(const float *R, int64_t n, int64_t i, const float *src)
{
    float acc = 0.0f;
    for (int64_t j = 0; j < n; j++) acc += R[i * n + j] * src[j];
    return acc;
}

/* Where head h of x starts: x's leading axes flattened (the last two are [n, S]). */
static int64_t head_offset(const cpu_tensor *x, int64_t h)
{
    int64_t off = x->offset;
    for (int k = x->rank - 3; k >= 0; k--) {
        off += (h % x->shape[k]) * x->stride[k];
        h /= x->shape[k];
    }
    return off;
}

ANE_VEC_CLONES static void rope_heads(void *vctx, int64_t begin, int64_t end)
{
    rope_ctx *c = vctx;
    const cpu_plan *plan = c->plan;
    const cpu_step *s = c->s;
    const cpu_tensor *xt = &plan->tensors[s->in[0]];
    int64_t n = c->n, S = c->S, si = xt->stride[xt->rank - 2], st = xt->stride[xt->rank - 1];
    int fp16 = plan->fp16, inverse = s->p.rope_inverse, dense = si == S && st == 1;
    const float *xbuf = plan->buffers[xt->buffer].data;
    const float *cs = cpu_data(plan, s->in[1]), *sn = cpu_data(plan, s->in[2]), *R = cpu_data(plan, s->in[3]);
    float *y = cpu_data(plan, s->out);
    float *gather = NULL;
    if (!dense && !(gather = malloc((size_t)(n * S) * sizeof(float)))) { c->failed = 1; return; }
    for (int64_t h = begin; h < end; h++) {
        const float *xh = xbuf + head_offset(xt, h);
        float *yh = y + h * n * S;
        if (!dense) {                          /* the backward's dq and dk: rows [S, n], transposed here */
            for (int64_t t0 = 0; t0 < S; t0 += 64)
                ane_transpose_f32_tile(xh + t0 * st, (uint64_t)st, gather + t0, (uint64_t)S,
                                       (uint64_t)(S - t0 < 64 ? S - t0 : 64), (uint64_t)n);
            xh = gather;
        }
        int finite = 1;
        for (int64_t j = 0; j < n * S; j++) finite &= xh[j] - xh[j] == 0.0f;
        if (finite) {
            for (int64_t i = 0; i < n; i++) {
                const float *xi = xh + i * S, *xp = xh + c->perm[i] * S, *ci = cs + i * S;
                const float *sp = sn + (inverse ? c->perm[i] : i) * S;
                float sg = c->sign[i], *yi = yh + i * S;
                if (!inverse && fp16)
                    for (int64_t t = 0; t < S; t++)
                        yi[t] = ane_round_fp16(ane_round_fp16(xi[t] * ci[t]) + ane_round_fp16((sg * xp[t] + 0.0f) * sp[t]));
                else if (!inverse)
                    for (int64_t t = 0; t < S; t++) yi[t] = xi[t] * ci[t] + (sg * xp[t] + 0.0f) * sp[t];
                else if (fp16)
                    for (int64_t t = 0; t < S; t++)
                        yi[t] = ane_round_fp16(ane_round_fp16(xi[t] * ci[t]) + (sg * ane_round_fp16(xp[t] * sp[t]) + 0.0f));
                else
                    for (int64_t t = 0; t < S; t++) yi[t] = xi[t] * ci[t] + (sg * (xp[t] * sp[t]) + 0.0f);
            }
            continue;
        }
        /* A head with an inf or NaN: position by position, the literal sums. */
        float src[CPU_ROPE_MAX];
        for (int64_t t = 0; t < S; t++) {
            for (int64_t j = 0; j < n; j++) src[j] = inverse ? r16(fp16, xh[j * S + t] * sn[j * S + t]) : xh[j * S + t];
            for (int64_t i = 0; i < n; i++) {
                float rx = r16(fp16, rope_literal(R, n, i, src));
                float a = r16(fp16, xh[i * S + t] * cs[i * S + t]);
                yh[i * S + t] = r16(fp16, a + (inverse ? rx : r16(fp16, rx * sn[i * S + t])));
            }
        }
    }
    free(gather);
}

ane_status cpu_run_rope(const cpu_plan *plan, const cpu_step *s)
{
    const cpu_tensor *out = &plan->tensors[s->out];
    int64_t n = out->shape[out->rank - 2], S = out->shape[out->rank - 1];
    int perm[CPU_ROPE_MAX];
    float sign[CPU_ROPE_MAX];
    if (!cpu_rope_permutation(cpu_data(plan, s->in[3]), n, perm, sign))   /* checked by fuse.c: a constant */
        return ane_fail(ANE_ERR_INTERNAL, "cpu backend: fused rope at line %d lost its rotation", s->op->line);
    rope_ctx c = { plan, s, n, S, perm, sign, 0 };
    ane_parallel_for(cpu_elems(out) / (n * S), 1, rope_heads, &c);
    if (c.failed) return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory for rope scratch at line %d", s->op->line);
    return ANE_OK;
}
