/* ops_elementwise.c — unary and broadcasting binary ops, cast, copies and concat.
 *
 * All of them walk strided views row by row (strided.h): inputs may be slices, transposes
 * or broadcasts; the output is the step's contiguous buffer. Each row is computed in fp32
 * and rounded to fp16 right away (ANE numerics) while it is still in cache. Rows are split
 * across the thread pool. */
#include "../core/platform.h"
#include "../core/threads.h"
#include "../core/fastmath.h"
#include "ops.h"
#include "strided.h"

void cpu_broadcast_strides(const cpu_tensor *t, int rank, const int64_t *shape, int64_t *strides)
{
    int shift = rank - t->rank;
    for (int i = 0; i < rank; i++) {
        int j = i - shift;
        strides[i] = (j < 0 || t->shape[j] == 1) ? 0 : t->stride[j];
    }
    (void)shape;
}

/* ------------------------------------------------------------------ the scalar functions */

static float gelu(float x, int mode)
{
    if (mode == 0) return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    if (mode == 1) {
        float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);   /* sqrt(2/pi) */
        return 0.5f * x * (1.0f + tanhf(inner));
    }
    return x / (1.0f + ane_expf(-1.702f * x));
}

static float to_int(float x, mil_dtype t)
{
    /* cast to an integer type: truncate toward zero, saturate to the type's range */
    double lo, hi;
    switch (t) {
    case MIL_INT8: lo = -128; hi = 127; break;
    case MIL_UINT8: lo = 0; hi = 255; break;
    case MIL_INT16: lo = -32768; hi = 32767; break;
    case MIL_BOOL: return x != 0.0f ? 1.0f : 0.0f;
    default: lo = -2147483648.0; hi = 2147483647.0;
    }
    if (isnan(x)) return 0.0f;
    double v = x < 0 ? ceil((double)x) : floor((double)x);
    return (float)(v < lo ? lo : v > hi ? hi : v);
}

/* One output row: o[j] = f(x[j*sx]) or f(x[j*sx], y[j*sy]). The common stride patterns get
 * their own loops so the compiler vectorises them. */
#define BINARY_LOOP(EXPR)                                                                   \
    do {                                                                                    \
        if (sx == 1 && sy == 1) for (int64_t j = 0; j < n; j++) { float a = x[j], b = y[j]; o[j] = (EXPR); } \
        else if (sx == 1 && sy == 0) { float b = y[0]; for (int64_t j = 0; j < n; j++) { float a = x[j]; o[j] = (EXPR); } } \
        else if (sx == 0 && sy == 1) { float a = x[0]; for (int64_t j = 0; j < n; j++) { float b = y[j]; o[j] = (EXPR); } } \
        else for (int64_t j = 0; j < n; j++) { float a = x[j * sx], b = y[j * sy]; o[j] = (EXPR); } \
    } while (0)
#define UNARY_LOOP(EXPR)                                                                    \
    do {                                                                                    \
        if (sx == 1) for (int64_t j = 0; j < n; j++) { float a = x[j]; o[j] = (EXPR); }      \
        else for (int64_t j = 0; j < n; j++) { float a = x[j * sx]; o[j] = (EXPR); }         \
    } while (0)

ANE_VEC_CLONES static void map_row(const cpu_params *p, float *o, const float *x, int64_t sx, const float *y,
                    int64_t sy, int64_t n)
{
    switch (p->code) {
    case MIL_OP_ADD: BINARY_LOOP(a + b); break;
    case MIL_OP_SUB: BINARY_LOOP(a - b); break;
    case MIL_OP_MUL: BINARY_LOOP(a * b); break;
    case MIL_OP_REAL_DIV: BINARY_LOOP(a / b); break;
    case MIL_OP_POW: BINARY_LOOP(powf(a, b)); break;
    case MIL_OP_MAXIMUM: BINARY_LOOP(a > b ? a : b); break;
    case MIL_OP_MINIMUM: BINARY_LOOP(a < b ? a : b); break;
    case MIL_OP_SQRT: UNARY_LOOP(sqrtf(a)); break;
    case MIL_OP_RSQRT: { float e = p->eps; UNARY_LOOP(1.0f / sqrtf(a + e)); break; }
    case MIL_OP_EXP: UNARY_LOOP(ane_expf(a)); break;
    case MIL_OP_LOG: { float e = p->eps; UNARY_LOOP(logf(a + e)); break; }
    case MIL_OP_SIGMOID: UNARY_LOOP(1.0f / (1.0f + ane_expf(-a))); break;
    case MIL_OP_TANH: UNARY_LOOP(tanhf(a)); break;
    case MIL_OP_RELU: UNARY_LOOP(a > 0.0f ? a : 0.0f); break;
    case MIL_OP_SILU: UNARY_LOOP(a / (1.0f + ane_expf(-a))); break;
    case MIL_OP_GELU: { int m = p->gelu_mode; UNARY_LOOP(gelu(a, m)); break; }
    case MIL_OP_CLIP: { float lo = p->alpha, hi = p->beta; UNARY_LOOP(a < lo ? lo : a > hi ? hi : a); break; }
    case MIL_OP_CAST:
        if (cpu_dtype_is_float(p->to_dtype)) UNARY_LOOP(a);
        else { mil_dtype t = p->to_dtype; UNARY_LOOP(to_int(a, t)); }
        break;
    default: break;
    }
}

typedef struct map_ctx {
    const cpu_plan *plan;
    const cpu_step *s;
    cpu_nd it;
    float *o;
    const float *x, *y;
} map_ctx;

static void map_rows(void *vctx, int64_t begin, int64_t end)
{
    map_ctx *c = vctx;
    int last = c->it.rank - 1;
    int64_t off[3], n = c->it.inner;
    int64_t sx = c->it.stride[1][last], sy = c->y ? c->it.stride[2][last] : 0;
    for (int64_t r = begin; r < end; r++) {
        cpu_nd_row_offsets(&c->it, r, off);
        float *o = c->o + off[0];
        map_row(&c->s->p, o, c->x + off[1], sx, c->y ? c->y + off[2] : NULL, sy, n);
        cpu_finish(c->plan, c->s->out, o, n);
    }
}

ane_status cpu_run_map(const cpu_plan *plan, const cpu_step *s)
{
    const cpu_tensor *out = &plan->tensors[s->out];
    int64_t sx[CPU_MAX_RANK], sy[CPU_MAX_RANK];
    map_ctx c = { plan, s, {0}, cpu_data(plan, s->out), cpu_data(plan, s->in[0]), NULL };
    cpu_broadcast_strides(&plan->tensors[s->in[0]], out->rank, out->shape, sx);
    const int64_t *strides[3] = { out->stride, sx, sy };
    int n_ops = 2;
    if (s->n_in > 1) {
        cpu_broadcast_strides(&plan->tensors[s->in[1]], out->rank, out->shape, sy);
        c.y = cpu_data(plan, s->in[1]);
        n_ops = 3;
    }
    cpu_nd_setup(&c.it, out->rank, out->shape, n_ops, strides);
    ane_parallel_for(c.it.outer, cpu_nd_grain(&c.it), map_rows, &c);
    return ANE_OK;
}

/* out = in[0] in the same element order (inserted copies, and reshapes that cannot be views). */
ane_status cpu_run_copy(const cpu_plan *plan, const cpu_step *s)
{
    const cpu_tensor *src = &plan->tensors[s->in[0]];
    cpu_tensor dst = *src;
    int64_t st = 1;
    for (int i = src->rank - 1; i >= 0; i--) { dst.stride[i] = st; st *= src->shape[i]; }
    dst.buffer = plan->tensors[s->out].buffer;
    dst.offset = plan->tensors[s->out].offset;
    cpu_copy_view(plan, &dst, src);
    return ANE_OK;
}

/* Each input is copied into its place in the output: a block along the axis, or with
 * interleave=true, every n-th slice (output index i*n + k holds input k's slice i). */
ane_status cpu_run_concat(const cpu_plan *plan, const cpu_step *s)
{
    const cpu_tensor *out = &plan->tensors[s->out];
    int axis = s->p.concat_axis, n = s->n_in;
    int64_t start = 0;
    for (int k = 0; k < n; k++) {
        const cpu_tensor *src = &plan->tensors[s->in[k]];
        cpu_tensor dst = *out;
        memcpy(dst.shape, src->shape, sizeof dst.shape);
        if (s->p.interleave) {
            dst.stride[axis] = out->stride[axis] * n;
            dst.offset += k * out->stride[axis];
        } else {
            dst.offset += start * out->stride[axis];
            start += src->shape[axis];
        }
        cpu_copy_view(plan, &dst, src);
    }
    return ANE_OK;
}
