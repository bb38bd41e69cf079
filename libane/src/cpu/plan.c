/* plan.c — compile a parsed MIL program into a cpu_plan (plan.h).
 *
 * Walks the ops in SSA order. Views (slice_by_size, slice_by_index, transpose, identity, a
 * reshape whose element order fits the input's strides) only compute new strides. Every
 * other op gets a contiguous buffer and a step; kernels that need contiguous inputs get a
 * copy step in front when the input is a view that is not. Constants (inline, const ops,
 * BLOBFILE weights, constexpr_affine_dequantize) are captured into buffers here. */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/fp16.h"
#include "plan.h"
#include "ops.h"

/* ------------------------------------------------------------------ small helpers */

int64_t cpu_elems(const cpu_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->shape[i];
    return n;
}

int cpu_is_contiguous(const cpu_tensor *t)
{
    int64_t expect = 1;
    for (int i = t->rank - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != expect) return 0;
        expect *= t->shape[i];
    }
    return 1;
}

int cpu_dtype_is_float(mil_dtype t) { return t == MIL_FP16 || t == MIL_FP32 || t == MIL_FP64; }

static void contiguous_strides(cpu_tensor *t)
{
    int64_t s = 1;
    for (int i = t->rank - 1; i >= 0; i--) { t->stride[i] = s; s *= t->shape[i]; }
}

typedef struct builder {
    const mil_program *ir;
    cpu_plan *plan;
    int cap_tensors;
} builder;

static ane_status op_error(const mil_op *op, ane_status st, const char *what)
{
    return ane_fail(st, "cpu backend: %s at line %d, column %d: %s", op->op_name, op->line,
                    op->column, what);
}

/* A new zeroed 64-byte aligned buffer of n floats; returns its index or -1. */
static int new_buffer(cpu_plan *plan, int64_t n)
{
    if (plan->n_buffers == plan->cap_buffers) {
        int cap = plan->cap_buffers ? plan->cap_buffers * 2 : 32;
        cpu_buffer *b = realloc(plan->buffers, (size_t)cap * sizeof *b);
        if (!b) return -1;
        plan->buffers = b;
        plan->cap_buffers = cap;
    }
    void *mem = cpu_alloc64((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!mem) return -1;
    plan->buffers[plan->n_buffers].data = mem;
    plan->buffers[plan->n_buffers].elems = n;
    return plan->n_buffers++;
}

/* A temporary tensor (beyond the program's values); returns its index or -1. */
static int new_tensor(builder *b)
{
    cpu_plan *plan = b->plan;
    if (plan->n_tensors == b->cap_tensors) {
        int cap = b->cap_tensors * 2 + 16;
        cpu_tensor *t = realloc(plan->tensors, (size_t)cap * sizeof *t);
        if (!t) return -1;
        plan->tensors = t;
        b->cap_tensors = cap;
    }
    memset(&plan->tensors[plan->n_tensors], 0, sizeof(cpu_tensor));
    plan->tensors[plan->n_tensors].buffer = -1;
    return plan->n_tensors++;
}

/* Give tensor t (shape set) its own contiguous zeroed buffer. */
static ane_status own_buffer(builder *b, int t)
{
    cpu_tensor *x = &b->plan->tensors[t];
    contiguous_strides(x);
    x->offset = 0;
    int buf = new_buffer(b->plan, cpu_elems(x));
    if (buf < 0) return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory for a %lld-element tensor",
                                 (long long)cpu_elems(x));
    b->plan->tensors[t].buffer = buf;
    return ANE_OK;
}

static cpu_step *new_step(builder *b, const mil_op *op, cpu_step_fn run, int n_in, int out)
{
    cpu_plan *plan = b->plan;
    if (plan->n_steps == plan->cap_steps) {
        int cap = plan->cap_steps ? plan->cap_steps * 2 : 32;
        cpu_step *s = realloc(plan->steps, (size_t)cap * sizeof *s);
        if (!s) return NULL;
        plan->steps = s;
        plan->cap_steps = cap;
    }
    cpu_step *s = &plan->steps[plan->n_steps];
    memset(s, 0, sizeof *s);
    s->in = calloc((size_t)(n_in > 0 ? n_in : 1), sizeof(int));
    if (!s->in) return NULL;
    for (int i = 0; i < n_in; i++) s->in[i] = -1;
    s->run = run;
    s->op = op;
    s->n_in = n_in;
    s->out = out;
    s->p.code = op->code;
    plan->n_steps++;
    return s;
}

/* The tensor index to give a kernel that needs contiguous data: t itself, or a copy. */
static int contiguous(builder *b, const mil_op *op, int t, ane_status *st)
{
    if (t < 0 || cpu_is_contiguous(&b->plan->tensors[t])) return t;
    int c = new_tensor(b);
    if (c < 0) { *st = ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory"); return -1; }
    cpu_tensor *src = &b->plan->tensors[t], *dst = &b->plan->tensors[c];
    dst->dtype = src->dtype;
    dst->rank = src->rank;
    memcpy(dst->shape, src->shape, sizeof dst->shape);
    if ((*st = own_buffer(b, c)) != ANE_OK) return -1;
    cpu_step *s = new_step(b, op, cpu_run_copy, 1, c);
    if (!s) { *st = ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory"); return -1; }
    s->in[0] = t;
    return c;
}

/* ------------------------------------------------------------------ argument access */

static int arg_value(const mil_program *ir, const mil_op *op, const char *name)
{
    for (int i = 0; i < op->n_args; i++)
        if (strcmp(op->args[i].name, name) == 0 && op->args[i].n >= 1) return op->args[i].values[0];
    return -1;
}

static const mil_arg *arg_tuple(const mil_op *op, const char *name)
{
    for (int i = 0; i < op->n_args; i++)
        if (strcmp(op->args[i].name, name) == 0) return &op->args[i];
    return NULL;
}

/* A constant argument's integers (ints, bools or whole floats) into out[0..max); returns
 * the count, or -1 when absent, not constant, or too long. */
static int const_ints(const mil_program *ir, int v, int64_t *out, int max)
{
    if (v < 0 || ir->values[v].kind != MIL_VALUE_CONST) return -1;
    const mil_const *c = &ir->values[v].cst;
    if (c->n > max) return -1;
    for (int64_t i = 0; i < c->n; i++) {
        if (c->i) out[i] = c->i[i];
        else if (c->f) out[i] = (int64_t)c->f[i];
        else return -1;
    }
    return (int)c->n;
}

static int const_float(const mil_program *ir, int v, double *out)
{
    if (v < 0 || ir->values[v].kind != MIL_VALUE_CONST || ir->values[v].cst.n != 1) return 0;
    const mil_const *c = &ir->values[v].cst;
    if (c->f) *out = c->f[0];
    else if (c->i) *out = (double)c->i[0];
    else return 0;
    return 1;
}

static const char *const_str(const mil_program *ir, int v)
{
    if (v < 0 || ir->values[v].kind != MIL_VALUE_CONST) return NULL;
    return ir->values[v].cst.s;
}

/* An optional bool argument (absent: def). */
static int const_bool(const mil_program *ir, int v, int def)
{
    int64_t x = 0;
    return const_ints(ir, v, &x, 1) == 1 ? x != 0 : def;
}

void *cpu_alloc64(size_t bytes)
{
    /* malloc, then align by hand: the raw pointer is kept just below the aligned block */
    if (bytes > SIZE_MAX - 64 - sizeof(void *)) return NULL;
    char *raw = malloc(bytes + 64 + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    ((void **)a)[-1] = raw;
    memset((void *)a, 0, bytes);
    return (void *)a;
}

void cpu_free64(void *p)
{
    if (p) free(((void **)p)[-1]);
}

static int norm_axis(int64_t axis, int rank) { return (int)(axis < 0 ? axis + rank : axis); }

/* ------------------------------------------------------------------ constants */

static ane_status capture_const(builder *b, int v)
{
    const mil_value *val = &b->ir->values[v];
    cpu_tensor *t = &b->plan->tensors[v];
    if (val->type.dtype == MIL_STRING) return ANE_OK;     /* read at compile time only */
    ane_status st = own_buffer(b, v);
    if (st != ANE_OK) return st;
    float *d = b->plan->buffers[t->buffer].data;
    int64_t n = cpu_elems(t);
    const mil_const *c = &val->cst;
    if (c->n != n)
        return ane_fail(ANE_ERR_INTERNAL, "cpu backend: constant %s holds %lld values for %lld elements",
                        val->name, (long long)c->n, (long long)n);
    int round = b->plan->fp16 && cpu_dtype_is_float(val->type.dtype);
    for (int64_t i = 0; i < n; i++) {
        float f = c->f ? (float)c->f[i] : c->i ? (float)c->i[i] : 0.0f;
        d[i] = round ? ane_round_fp16(f) : f;
    }
    return ANE_OK;
}

/* constexpr_affine_dequantize: evaluated now; the result becomes a constant buffer. */
static ane_status plan_constexpr_dequant(builder *b, const mil_op *op, int out)
{
    const mil_program *ir = b->ir;
    int q = arg_value(ir, op, "quantized_data"), sc = arg_value(ir, op, "scale");
    int zp = arg_value(ir, op, "zero_point");
    int64_t axis = 0;
    const_ints(ir, arg_value(ir, op, "axis"), &axis, 1);
    if (q < 0 || sc < 0 || ir->values[q].kind != MIL_VALUE_CONST || ir->values[sc].kind != MIL_VALUE_CONST)
        return op_error(op, ANE_ERR_TYPE, "quantized_data and scale must be constants");
    cpu_tensor *t = &b->plan->tensors[out];
    ane_status st = own_buffer(b, out);
    if (st != ANE_OK) return st;
    int ax = norm_axis(axis, t->rank);
    int64_t n = cpu_elems(t), channels = ir->values[sc].cst.n;
    int64_t inner = 1;
    for (int i = ax + 1; i < t->rank; i++) inner *= t->shape[i];
    if (ir->values[q].cst.n != n || !(channels == 1 || (ax >= 0 && ax < t->rank && channels == t->shape[ax])) ||
        (zp >= 0 && ir->values[zp].cst.n != channels))
        return op_error(op, ANE_ERR_TYPE, "scale/zero_point must have 1 value or one per channel of `axis`");
    float *qs = malloc((size_t)n * sizeof(float));
    float *scale = malloc((size_t)channels * sizeof(float)), *zero = calloc((size_t)channels, sizeof(float));
    if (!qs || !scale || !zero) { free(qs); free(scale); free(zero); return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory"); }
    const mil_const *qc = &ir->values[q].cst, *sc_c = &ir->values[sc].cst;
    for (int64_t i = 0; i < n; i++) qs[i] = qc->i ? (float)qc->i[i] : (float)qc->f[i];
    for (int64_t i = 0; i < channels; i++) {
        scale[i] = sc_c->f ? (float)sc_c->f[i] : (float)sc_c->i[i];
        if (zp >= 0) {
            const mil_const *zc = &ir->values[zp].cst;
            zero[i] = zc->i ? (float)zc->i[i] : (float)zc->f[i];
        }
    }
    float *y = b->plan->buffers[t->buffer].data;
    cpu_dequantize_values(qs, 0, n, scale, zero, channels, inner, y);
    if (b->plan->fp16 && cpu_dtype_is_float(t->dtype)) ane_round_fp16_n(y, y, (size_t)n);
    free(qs); free(scale); free(zero);
    return ANE_OK;
}

/* ------------------------------------------------------------------ views */

/* numpy's no-copy reshape: new strides for `nshape` over the same elements as `t`, or 0
 * when the element order does not fit t's strides. */
static int reshape_view(const cpu_tensor *t, int nrank, const int64_t *nshape, int64_t *nstride)
{
    int64_t os[CPU_MAX_RANK], ost[CPU_MAX_RANK];
    int no = 0;
    for (int i = 0; i < t->rank; i++)
        if (t->shape[i] != 1) { os[no] = t->shape[i]; ost[no] = t->stride[i]; no++; }
    for (int i = 0; i < nrank; i++) nstride[i] = 1;
    int oi = 0, ni = 0;
    while (ni < nrank && oi < no) {
        int64_t np = nshape[ni], op = os[oi];
        int nj = ni + 1, oj = oi + 1;
        while (np != op) {
            if (np < op) { if (nj >= nrank) return 0; np *= nshape[nj++]; }
            else { if (oj >= no) return 0; op *= os[oj++]; }
        }
        for (int k = oi; k < oj - 1; k++)
            if (ost[k] != os[k + 1] * ost[k + 1]) return 0;
        nstride[nj - 1] = ost[oj - 1];
        for (int k = nj - 1; k > ni; k--) nstride[k - 1] = nstride[k] * nshape[k];
        ni = nj;
        oi = oj;
    }
    return 1;
}

static ane_status plan_view(builder *b, const mil_op *op, int out)
{
    const mil_program *ir = b->ir;
    int x = arg_value(ir, op, "x");
    if (x < 0) return op_error(op, ANE_ERR_TYPE, "missing argument x");
    cpu_tensor *in = &b->plan->tensors[x], *t = &b->plan->tensors[out];
    t->buffer = in->buffer;
    t->offset = in->offset;
    int64_t v[CPU_MAX_RANK];
    switch (op->code) {
    case MIL_OP_IDENTITY:
        memcpy(t->stride, in->stride, sizeof t->stride);
        return ANE_OK;
    case MIL_OP_TRANSPOSE: {
        int n = const_ints(ir, arg_value(ir, op, "perm"), v, CPU_MAX_RANK);
        if (n != in->rank) return op_error(op, ANE_ERR_TYPE, "perm must be a constant with one entry per axis");
        for (int i = 0; i < n; i++) {
            int a = norm_axis(v[i], n);
            if (a < 0 || a >= n) return op_error(op, ANE_ERR_TYPE, "perm entry out of range");
            t->stride[i] = in->stride[a];
        }
        return ANE_OK;
    }
    case MIL_OP_SLICE_BY_SIZE: {
        if (const_ints(ir, arg_value(ir, op, "begin"), v, CPU_MAX_RANK) != in->rank || t->rank != in->rank)
            return op_error(op, ANE_ERR_TYPE, "begin must be a constant with one entry per axis");
        for (int i = 0; i < in->rank; i++) {
            int64_t start = v[i] < 0 ? v[i] + in->shape[i] : v[i];
            if (start < 0 || start + t->shape[i] > in->shape[i])
                return op_error(op, ANE_ERR_TYPE, "the slice reaches outside the input");
            t->offset += start * in->stride[i];
            t->stride[i] = in->stride[i];
        }
        return ANE_OK;
    }
    case MIL_OP_SLICE_BY_INDEX: {
        int64_t begin[CPU_MAX_RANK], stride[CPU_MAX_RANK], bmask[CPU_MAX_RANK], squeeze[CPU_MAX_RANK];
        int r = in->rank;
        if (const_ints(ir, arg_value(ir, op, "begin"), begin, CPU_MAX_RANK) != r)
            return op_error(op, ANE_ERR_TYPE, "begin must be a constant with one entry per axis");
        for (int i = 0; i < r; i++) { stride[i] = 1; bmask[i] = 0; squeeze[i] = 0; }
        int sv = arg_value(ir, op, "stride"), bm = arg_value(ir, op, "begin_mask"), sq = arg_value(ir, op, "squeeze_mask");
        if ((sv >= 0 && const_ints(ir, sv, stride, CPU_MAX_RANK) != r) ||
            (bm >= 0 && const_ints(ir, bm, bmask, CPU_MAX_RANK) != r) ||
            (sq >= 0 && const_ints(ir, sq, squeeze, CPU_MAX_RANK) != r))
            return op_error(op, ANE_ERR_TYPE, "stride/begin_mask/squeeze_mask need one constant entry per axis");
        int o = 0;
        for (int i = 0; i < r; i++) {
            if (stride[i] == 0) return op_error(op, ANE_ERR_TYPE, "stride 0");
            int64_t start = bmask[i] ? (stride[i] > 0 ? 0 : in->shape[i] - 1)
                                     : (begin[i] < 0 ? begin[i] + in->shape[i] : begin[i]);
            if (start < 0) start = 0;
            if (start > in->shape[i] - 1) start = in->shape[i] - 1;
            int64_t count = squeeze[i] ? 1 : (o < t->rank ? t->shape[o] : 1);
            int64_t last = start + (count - 1) * stride[i];
            if (count > 0 && (last < 0 || last >= in->shape[i]))
                return op_error(op, ANE_ERR_TYPE, "the slice reaches outside the input");
            t->offset += start * in->stride[i];
            if (!squeeze[i]) {
                if (o >= t->rank) return op_error(op, ANE_ERR_TYPE, "result rank does not match the slice");
                t->stride[o++] = in->stride[i] * stride[i];
            }
        }
        if (o != t->rank) return op_error(op, ANE_ERR_TYPE, "result rank does not match the slice");
        return ANE_OK;
    }
    default:
        return op_error(op, ANE_ERR_INTERNAL, "not a view op");
    }
}

/* ------------------------------------------------------------------ ops with a step */

/* The [outer, reduce, inner] split of `t` for a set of axes; 0 when the reduced axes
 * (ignoring size-1 axes) are not one consecutive block. */
static int split_axes(const cpu_tensor *t, const int64_t *axes, int n_axes, cpu_params *p)
{
    int red[CPU_MAX_RANK] = {0};
    for (int i = 0; i < n_axes; i++) {
        int a = norm_axis(axes[i], t->rank);
        if (a < 0 || a >= t->rank) return 0;
        red[a] = 1;
    }
    int first = -1, last = -1;
    for (int i = 0; i < t->rank; i++)
        if (red[i] && t->shape[i] != 1) { if (first < 0) first = i; last = i; }
    p->outer = 1; p->reduce = 1; p->inner = 1;
    if (first < 0) { p->outer = cpu_elems(t); return 1; }
    for (int i = first; i <= last; i++)
        if (!red[i] && t->shape[i] != 1) return 0;
    for (int i = 0; i < first; i++) p->outer *= t->shape[i];
    for (int i = first; i <= last; i++) p->reduce *= t->shape[i];
    for (int i = last + 1; i < t->rank; i++) p->inner *= t->shape[i];
    return 1;
}

static int gelu_mode(const char *s)
{
    if (!s || strcmp(s, "EXACT") == 0) return 0;
    if (strcmp(s, "TANH_APPROXIMATION") == 0) return 1;
    if (strcmp(s, "SIGMOID_APPROXIMATION") == 0) return 2;
    return -1;
}

/* Argument `name` as a tensor index, made contiguous when asked; -1 when absent. */
static int input(builder *b, const mil_op *op, const char *name, int contig, ane_status *st)
{
    int v = arg_value(b->ir, op, name);
    if (v < 0) return -1;
    if (b->plan->tensors[v].buffer < 0) {
        *st = op_error(op, ANE_ERR_TYPE, "a tensor argument is a string");
        return -2;
    }
    return contig ? contiguous(b, op, v, st) : v;
}

#define NEED(idx, name)                                                           \
    do { if ((idx) == -2 || st != ANE_OK) return st;                              \
         if ((idx) < 0) return op_error(op, ANE_ERR_TYPE, "missing argument " name); } while (0)

static ane_status plan_op(builder *b, const mil_op *op, int out)
{
    const mil_program *ir = b->ir;
    /* Not a cached pointer: making an input contiguous may grow plan->tensors. */
#define T (&b->plan->tensors[out])
    ane_status st = ANE_OK;
    int64_t v[CPU_MAX_RANK];
    cpu_step *s;

    switch (op->code) {
    case MIL_OP_ADD: case MIL_OP_SUB: case MIL_OP_MUL: case MIL_OP_REAL_DIV: case MIL_OP_POW:
    case MIL_OP_MAXIMUM: case MIL_OP_MINIMUM: {
        int x = input(b, op, "x", 0, &st); NEED(x, "x");
        int y = input(b, op, "y", 0, &st); NEED(y, "y");
        if ((st = own_buffer(b, out)) != ANE_OK) return st;
        if (!(s = new_step(b, op, cpu_run_map, 2, out))) break;
        s->in[0] = x; s->in[1] = y;
        return ANE_OK;
    }
    case MIL_OP_SQRT: case MIL_OP_RSQRT: case MIL_OP_EXP: case MIL_OP_LOG: case MIL_OP_SIGMOID:
    case MIL_OP_TANH: case MIL_OP_RELU: case MIL_OP_GELU: case MIL_OP_SILU: case MIL_OP_CLIP:
    case MIL_OP_CAST: {
        int x = input(b, op, "x", 0, &st); NEED(x, "x");
        cpu_params p = { .code = op->code };
        double d;
        if (op->code == MIL_OP_RSQRT) p.eps = const_float(ir, arg_value(ir, op, "epsilon"), &d) ? (float)d : 1e-12f;
        if (op->code == MIL_OP_LOG) p.eps = const_float(ir, arg_value(ir, op, "epsilon"), &d) ? (float)d : 1e-45f;
        if (op->code == MIL_OP_GELU) {
            int mv = arg_value(ir, op, "mode");
            p.gelu_mode = gelu_mode(mv < 0 ? NULL : const_str(ir, mv));
            if (p.gelu_mode < 0)
                return op_error(op, ANE_ERR_TYPE, "mode must be EXACT, TANH_APPROXIMATION or SIGMOID_APPROXIMATION");
        }
        if (op->code == MIL_OP_CLIP) {
            double a, c;
            if (!const_float(ir, arg_value(ir, op, "alpha"), &a) || !const_float(ir, arg_value(ir, op, "beta"), &c))
                return op_error(op, ANE_ERR_TYPE, "alpha and beta must be scalar constants");
            p.alpha = (float)a; p.beta = (float)c;
        }
        p.to_dtype = T->dtype;
        if ((st = own_buffer(b, out)) != ANE_OK) return st;
        if (!(s = new_step(b, op, cpu_run_map, 1, out))) break;
        s->in[0] = x;
        s->p = p;
        return ANE_OK;
    }
    case MIL_OP_RESHAPE: {
        int x = arg_value(ir, op, "x");
        if (x < 0) return op_error(op, ANE_ERR_TYPE, "missing argument x");
        const cpu_tensor *in = &b->plan->tensors[x];
        if (cpu_elems(in) != cpu_elems(T)) return op_error(op, ANE_ERR_TYPE, "reshape changes the element count");
        if (reshape_view(in, T->rank, T->shape, T->stride)) {
            T->buffer = in->buffer;
            T->offset = in->offset;
            return ANE_OK;
        }
        if ((st = own_buffer(b, out)) != ANE_OK) return st;
        if (!(s = new_step(b, op, cpu_run_copy, 1, out))) break;
        s->in[0] = x;                 /* same element order, new shape: a gather-copy */
        return ANE_OK;
    }
    case MIL_OP_REDUCE_SUM: case MIL_OP_REDUCE_MAX: case MIL_OP_REDUCE_MEAN:
    case MIL_OP_SOFTMAX: case MIL_OP_LAYER_NORM: {
        int x = input(b, op, "x", 1, &st); NEED(x, "x");
        const cpu_tensor *in = &b->plan->tensors[x];
        cpu_params p = { .code = op->code };
        int n_axes;
        if (op->code == MIL_OP_SOFTMAX) {
            v[0] = -1;
            int av = arg_value(ir, op, "axis");
            if (av >= 0 && const_ints(ir, av, v, 1) != 1) return op_error(op, ANE_ERR_TYPE, "axis must be a constant");
            n_axes = 1;
        } else {
            int av = arg_value(ir, op, "axes");
            if (av < 0) {                        /* no axes: every axis */
                n_axes = in->rank;
                for (int i = 0; i < n_axes; i++) v[i] = i;
            } else if ((n_axes = const_ints(ir, av, v, CPU_MAX_RANK)) < 0) {
                return op_error(op, ANE_ERR_TYPE, "axes must be a constant list");
            }
        }
        if (!split_axes(in, v, n_axes, &p)) {
            /* Reduced axes that are not one block: reduce a copy of x whose axes are permuted to
             * [kept..., reduced...]. The kept axes keep their order, so the result's element order
             * is the output's. (softmax has one axis; layer_norm keeps its shape and is left to
             * adjacent axes.) */
            if (op->code == MIL_OP_LAYER_NORM)
                return op_error(op, ANE_ERR_UNSUPPORTED, "layer_norm's axes (ignoring size-1 axes) must be adjacent");
            int red[CPU_MAX_RANK] = {0};
            for (int i = 0; i < n_axes; i++) red[norm_axis(v[i], in->rank)] = 1;
            int pv = new_tensor(b);
            if (pv < 0) return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory");
            const cpu_tensor *src = &b->plan->tensors[x];
            cpu_tensor *view = &b->plan->tensors[pv];
            view->dtype = src->dtype; view->rank = src->rank; view->buffer = src->buffer; view->offset = src->offset;
            int k = 0;
            for (int pass = 0; pass < 2; pass++)
                for (int i = 0; i < src->rank; i++)
                    if (red[i] == pass) { view->shape[k] = src->shape[i]; view->stride[k] = src->stride[i]; k++; }
            int kept = 0;
            for (int i = 0; i < src->rank; i++) kept += !red[i];
            x = contiguous(b, op, pv, &st);
            if (x < 0) return st;
            in = &b->plan->tensors[x];
            n_axes = in->rank - kept;
            for (int i = 0; i < n_axes; i++) v[i] = kept + i;
            if (!split_axes(in, v, n_axes, &p)) return op_error(op, ANE_ERR_INTERNAL, "could not reorder the reduced axes");
        }
        int gamma = -1, beta = -1;
        if (op->code == MIL_OP_LAYER_NORM) {
            double d;
            p.eps = const_float(ir, arg_value(ir, op, "epsilon"), &d) ? (float)d : 1e-5f;
            gamma = input(b, op, "gamma", 1, &st); if (gamma == -2 || st != ANE_OK) return st;
            beta = input(b, op, "beta", 1, &st); if (beta == -2 || st != ANE_OK) return st;
            if ((gamma >= 0 && cpu_elems(&b->plan->tensors[gamma]) != p.reduce) ||
                (beta >= 0 && cpu_elems(&b->plan->tensors[beta]) != p.reduce))
                return op_error(op, ANE_ERR_TYPE, "gamma and beta must have the shape of the normalized axes");
        }
        if ((st = own_buffer(b, out)) != ANE_OK) return st;
        cpu_step_fn fn = op->code == MIL_OP_SOFTMAX ? cpu_run_softmax
                       : op->code == MIL_OP_LAYER_NORM ? cpu_run_layer_norm : cpu_run_reduce;
        if (!(s = new_step(b, op, fn, 3, out))) break;
        s->in[0] = x; s->in[1] = gamma; s->in[2] = beta;
        s->p = p;
        return ANE_OK;
    }
    case MIL_OP_MATMUL: {
        int x = input(b, op, "x", 0, &st); NEED(x, "x");
        int y = input(b, op, "y", 0, &st); NEED(y, "y");
        if ((st = own_buffer(b, out)) != ANE_OK) return st;
        if (!(s = new_step(b, op, cpu_run_matmul, 2, out))) break;
        s->in[0] = x; s->in[1] = y;
        s->p.transpose_x = const_bool(ir, arg_value(ir, op, "transpose_x"), 0);
        s->p.transpose_y = const_bool(ir, arg_value(ir, op, "transpose_y"), 0);
        return ANE_OK;
    }
    case MIL_OP_LINEAR: {
        int x = input(b, op, "x", 1, &st); NEED(x, "x");
        int w = input(b, op, "weight", 1, &st); NEED(w, "weight");
        int bias = input(b, op, "bias", 1, &st); if (bias == -2 || st != ANE_OK) return st;
        if ((st = own_buffer(b, out)) != ANE_OK) return st;
        if (!(s = new_step(b, op, cpu_run_linear, 3, out))) break;
        s->in[0] = x; s->in[1] = w; s->in[2] = bias;
        s->p.has_bias = bias >= 0;
        return ANE_OK;
    }
    case MIL_OP_CONV: {
        int x = input(b, op, "x", 1, &st); NEED(x, "x");
        int w = input(b, op, "weight", 1, &st); NEED(w, "weight");
        int bias = input(b, op, "bias", 1, &st); if (bias == -2 || st != ANE_OK) return st;
        const cpu_tensor *in = &b->plan->tensors[x], *wt = &b->plan->tensors[w];
        int sp = in->rank - 2;                    /* spatial dims: 1 or 2 */
        if ((sp != 1 && sp != 2) || wt->rank != in->rank || T->rank != in->rank)
            return op_error(op, ANE_ERR_UNSUPPORTED, "conv needs [N,C,L] or [N,C,H,W] input and a weight of the same rank");
        cpu_params p = { .code = op->code, .has_bias = bias >= 0 };
        int64_t kh = sp == 2 ? wt->shape[2] : 1, kw = wt->shape[in->rank - 1];
        int64_t ih = sp == 2 ? in->shape[2] : 1, iw = in->shape[in->rank - 1];
        int64_t oh = sp == 2 ? T->shape[2] : 1, ow = T->shape[T->rank - 1];
        p.strides[0] = p.strides[1] = 1; p.dilations[0] = p.dilations[1] = 1;
        int64_t tmp[4] = {1, 1, 1, 1};
        int n = const_ints(ir, arg_value(ir, op, "strides"), tmp, 2);
        if (n == sp) { p.strides[0] = sp == 2 ? tmp[0] : 1; p.strides[1] = tmp[sp - 1]; }
        n = const_ints(ir, arg_value(ir, op, "dilations"), tmp, 2);
        if (n == sp) { p.dilations[0] = sp == 2 ? tmp[0] : 1; p.dilations[1] = tmp[sp - 1]; }
        int64_t groups = 1;
        const_ints(ir, arg_value(ir, op, "groups"), &groups, 1);
        p.groups = groups;
        if (groups < 1 || in->shape[1] % groups || T->shape[1] % groups || wt->shape[1] * groups != in->shape[1] ||
            wt->shape[0] != T->shape[1])
            return op_error(op, ANE_ERR_TYPE, "weight must be [C_out, C_in/groups, kernel...] with channels divisible by groups");
        int pv = arg_value(ir, op, "pad_type");
        const char *pad_type = pv >= 0 ? const_str(ir, pv) : "valid";
        if (!pad_type) pad_type = "valid";
        int64_t k_ext[2] = { (kh - 1) * p.dilations[0] + 1, (kw - 1) * p.dilations[1] + 1 };
        int64_t isz[2] = { ih, iw }, osz[2] = { oh, ow };
        if (strcmp(pad_type, "custom") == 0) {
            int64_t pads[4] = {0, 0, 0, 0};
            if (const_ints(ir, arg_value(ir, op, "pad"), pads, 4) != 2 * sp)
                return op_error(op, ANE_ERR_TYPE, "pad_type custom needs pad with 2 entries per spatial axis");
            if (sp == 2) memcpy(p.pads, pads, sizeof pads);
            else { p.pads[2] = pads[0]; p.pads[3] = pads[1]; }
        } else if (strcmp(pad_type, "same") == 0 || strcmp(pad_type, "same_lower") == 0) {
            for (int d = 0; d < 2; d++) {
                int64_t total = (osz[d] - 1) * p.strides[d] + k_ext[d] - isz[d];
                if (total < 0) total = 0;
                int64_t lo = strcmp(pad_type, "same") == 0 ? total / 2 : total - total / 2;
                p.pads[2 * d] = lo; p.pads[2 * d + 1] = total - lo;
            }
        } else if (strcmp(pad_type, "valid") != 0) {
            return op_error(op, ANE_ERR_TYPE, "pad_type must be valid, same, same_lower or custom");
        }
        for (int d = 0; d < 2; d++) {
            int64_t expect = (isz[d] + p.pads[2 * d] + p.pads[2 * d + 1] - k_ext[d]) / p.strides[d] + 1;
            if (p.strides[d] < 1 || p.dilations[d] < 1 || expect != osz[d])
                return op_error(op, ANE_ERR_TYPE, "the declared output size does not match strides, dilations and pads");
        }
        int pointwise = kh == 1 && kw == 1 && p.strides[0] == 1 && p.strides[1] == 1 &&
                        !p.pads[0] && !p.pads[1] && !p.pads[2] && !p.pads[3];
        p.scratch_elems = pointwise ? 0 : (in->shape[1] / groups) * kh * kw * oh * ow;
        if (bias >= 0 && cpu_elems(&b->plan->tensors[bias]) != T->shape[1])
            return op_error(op, ANE_ERR_TYPE, "bias must have one value per output channel");
        if ((st = own_buffer(b, out)) != ANE_OK) return st;
        if (!(s = new_step(b, op, cpu_run_conv, 3, out))) break;
        s->in[0] = x; s->in[1] = w; s->in[2] = bias;
        s->p = p;
        return ANE_OK;
    }
    case MIL_OP_SCALED_DOT_PRODUCT_ATTENTION: {
        int q = input(b, op, "query", 0, &st); NEED(q, "query");
        int k = input(b, op, "key", 0, &st); NEED(k, "key");
        int val = input(b, op, "value", 0, &st); NEED(val, "value");
        int mask = input(b, op, "attn_mask", 0, &st); if (mask == -2 || st != ANE_OK) return st;
        const cpu_tensor *tq = &b->plan->tensors[q], *tk = &b->plan->tensors[k], *tv = &b->plan->tensors[val];
        int r = tq->rank;
        if (r < 2 || tk->rank != r || tv->rank != r)
            return op_error(op, ANE_ERR_TYPE, "query, key and value must have the same rank (at least 2)");
        for (int i = 0; i < r - 2; i++)
            if (tk->shape[i] != tq->shape[i] || tv->shape[i] != tq->shape[i])
                return op_error(op, ANE_ERR_UNSUPPORTED, "query, key and value must have the same batch dimensions");
        if ((st = own_buffer(b, out)) != ANE_OK) return st;
        if (!(s = new_step(b, op, cpu_run_sdpa, 4, out))) break;
        s->in[0] = q; s->in[1] = k; s->in[2] = val; s->in[3] = mask;
        s->p.scratch_elems = tq->shape[r - 2] * tk->shape[r - 2];
        return ANE_OK;
    }
    case MIL_OP_CONCAT: {
        const mil_arg *vals = arg_tuple(op, "values");
        if (!vals || vals->n < 1) return op_error(op, ANE_ERR_TYPE, "concat needs values=(...)");
        int64_t axis = 0;
        if (const_ints(ir, arg_value(ir, op, "axis"), &axis, 1) != 1)
            return op_error(op, ANE_ERR_TYPE, "axis must be a constant");
        if ((st = own_buffer(b, out)) != ANE_OK) return st;
        if (!(s = new_step(b, op, cpu_run_concat, vals->n, out))) break;
        for (int i = 0; i < vals->n; i++) {
            if (b->plan->tensors[vals->values[i]].buffer < 0) return op_error(op, ANE_ERR_TYPE, "a value is a string");
            s->in[i] = vals->values[i];
        }
        s->p.concat_axis = norm_axis(axis, T->rank);
        s->p.interleave = const_bool(ir, arg_value(ir, op, "interleave"), 0);
        if (s->p.concat_axis < 0 || s->p.concat_axis >= T->rank)
            return op_error(op, ANE_ERR_TYPE, "axis out of range");
        return ANE_OK;
    }
    case MIL_OP_QUANTIZE: case MIL_OP_DEQUANTIZE: {
        const char *xname = "input";
        int x = input(b, op, xname, 1, &st); NEED(x, "input");
        int sc = input(b, op, "scale", 1, &st); NEED(sc, "scale");
        int zp = input(b, op, "zero_point", 1, &st); if (zp == -2 || st != ANE_OK) return st;
        cpu_params p = { .code = op->code, .axis = -1, .to_dtype = T->dtype };
        int64_t channels = cpu_elems(&b->plan->tensors[sc]);
        int64_t axis = 0;
        if (const_ints(ir, arg_value(ir, op, "axis"), &axis, 1) == 1) p.axis = norm_axis(axis, T->rank);
        if (channels > 1 && (p.axis < 0 || p.axis >= T->rank || T->shape[p.axis] != channels))
            return op_error(op, ANE_ERR_TYPE, "a per-channel scale needs `axis` and one value per channel");
        if (zp >= 0 && cpu_elems(&b->plan->tensors[zp]) != channels)
            return op_error(op, ANE_ERR_TYPE, "zero_point must have as many values as scale");
        p.inner = 1;
        if (channels > 1) for (int i = p.axis + 1; i < T->rank; i++) p.inner *= T->shape[i];
        p.reduce = channels;
        if (op->code == MIL_OP_QUANTIZE && T->dtype != MIL_INT8 && T->dtype != MIL_UINT8)
            return op_error(op, ANE_ERR_UNSUPPORTED, "quantize produces int8 or uint8");
        if ((st = own_buffer(b, out)) != ANE_OK) return st;
        if (!(s = new_step(b, op, op->code == MIL_OP_QUANTIZE ? cpu_run_quantize : cpu_run_dequantize, 3, out))) break;
        s->in[0] = x; s->in[1] = sc; s->in[2] = zp;
        s->p = p;
        return ANE_OK;
    }
    default:
        return op_error(op, ANE_ERR_UNSUPPORTED, "op not supported by the cpu backend");
    }
    return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory");
#undef T
}

/* ------------------------------------------------------------------ build */

static void init_value_tensor(cpu_tensor *t, const mil_value *v)
{
    memset(t, 0, sizeof *t);
    t->dtype = v->type.dtype;
    t->rank = v->type.rank;
    for (int i = 0; i < v->type.rank; i++) t->shape[i] = v->type.shape[i];
    contiguous_strides(t);
    t->buffer = -1;
}

cpu_plan *cpu_plan_build(const mil_program *ir, int fp16, ane_status *status)
{
    cpu_plan *plan = calloc(1, sizeof *plan);
    builder b = { ir, plan, ir->n_values + 16 };
    ane_status st = ANE_OK;
    if (!plan || !(plan->tensors = calloc((size_t)b.cap_tensors, sizeof(cpu_tensor)))) {
        st = ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory");
        goto fail;
    }
    plan->fp16 = fp16;
    plan->n_tensors = ir->n_values;
    for (int v = 0; v < ir->n_values; v++) {
        init_value_tensor(&plan->tensors[v], &ir->values[v]);
        if (ir->values[v].type.rank > CPU_MAX_RANK) {
            st = ane_fail(ANE_ERR_UNSUPPORTED, "cpu backend: value %s has rank > %d", ir->values[v].name, CPU_MAX_RANK);
            goto fail;
        }
        if (ir->values[v].kind == MIL_VALUE_CONST && (st = capture_const(&b, v)) != ANE_OK) goto fail;
        if (ir->values[v].kind == MIL_VALUE_INPUT && (st = own_buffer(&b, v)) != ANE_OK) goto fail;
    }
    for (int i = 0; i < ir->n_ops; i++) {
        const mil_op *op = &ir->ops[i];
        if (op->code == MIL_OP_CONST || op->n_outputs < 1) continue;
        int out = op->outputs[0];
        if (ir->values[out].kind == MIL_VALUE_CONST) continue;    /* folded by the front end */
        switch (op->code) {
        case MIL_OP_IDENTITY: case MIL_OP_TRANSPOSE: case MIL_OP_SLICE_BY_SIZE: case MIL_OP_SLICE_BY_INDEX:
            st = plan_view(&b, op, out);
            break;
        case MIL_OP_CONSTEXPR_AFFINE_DEQUANTIZE:
            st = plan_constexpr_dequant(&b, op, out);
            break;
        default:
            st = plan_op(&b, op, out);
        }
        if (st != ANE_OK) goto fail;
    }
    plan->n_inputs = ir->n_inputs;
    plan->n_outputs = ir->n_outputs;
    plan->input_tensors = calloc((size_t)(ir->n_inputs + 1), sizeof(int));
    plan->output_tensors = calloc((size_t)(ir->n_outputs + 1), sizeof(int));
    if (!plan->input_tensors || !plan->output_tensors) {
        st = ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory");
        goto fail;
    }
    for (int i = 0; i < ir->n_inputs; i++) plan->input_tensors[i] = ir->inputs[i];
    for (int i = 0; i < ir->n_outputs; i++) {
        int v = ir->outputs[i];
        if (plan->tensors[v].buffer < 0) {
            st = ane_fail(ANE_ERR_UNSUPPORTED, "cpu backend: output %s is a string", ir->values[v].name);
            goto fail;
        }
        /* Outputs are written row by row from contiguous data: gather a strided view. */
        const mil_op *def = ir->values[v].def_op >= 0 ? &ir->ops[ir->values[v].def_op] : NULL;
        plan->output_tensors[i] = def ? contiguous(&b, def, v, &st) : v;
        if (plan->output_tensors[i] < 0) goto fail;
    }
    cpu_plan_fuse(plan);
    return plan;
fail:
    cpu_plan_free(plan);
    if (status) *status = st;
    return NULL;
}

void cpu_plan_free(cpu_plan *plan)
{
    if (!plan) return;
    for (int i = 0; i < plan->n_buffers; i++) cpu_free64(plan->buffers[i].data);
    for (int i = 0; i < plan->n_steps; i++) free(plan->steps[i].in);
    free(plan->buffers);
    free(plan->steps);
    free(plan->tensors);
    free(plan->input_tensors);
    free(plan->output_tensors);
    free(plan);
}
