/* infer.c — argument checking and result-type inference for every op in MIL_OPS, with the
 * semantics of the coremltools MIL op reference (iOS16-iOS18 opsets). Arguments that decide
 * a shape or a mode (perm, shape, begin, axes, pad_type, ...) must be constants: the parser
 * guarantees consumers that such arguments carry data. */
#include "../core/platform.h"
#include "front.h"

/* ---------------------------------------------------------------- argument tables */

enum { REQ = 1, TUPLE = 2, CONSTANT = 4 };

typedef struct arg_spec { const char *name; unsigned flags; } arg_spec;
typedef struct op_spec { mil_opcode code; arg_spec args[8]; } op_spec;

#define BINARY(c) { c, { { "x", REQ }, { "y", REQ } } }
#define UNARY(c) { c, { { "x", REQ } } }
#define REDUCE(c) { c, { { "x", REQ }, { "axes", CONSTANT }, { "keep_dims", CONSTANT } } }

static const op_spec specs[] = {
    { MIL_OP_CONV, { { "x", REQ }, { "weight", REQ }, { "bias", 0 }, { "strides", CONSTANT },
                     { "pad_type", CONSTANT }, { "pad", CONSTANT }, { "dilations", CONSTANT }, { "groups", CONSTANT } } },
    { MIL_OP_MATMUL, { { "x", REQ }, { "y", REQ }, { "transpose_x", CONSTANT }, { "transpose_y", CONSTANT } } },
    { MIL_OP_LINEAR, { { "x", REQ }, { "weight", REQ }, { "bias", 0 } } },
    BINARY(MIL_OP_ADD), BINARY(MIL_OP_SUB), BINARY(MIL_OP_MUL), BINARY(MIL_OP_REAL_DIV), BINARY(MIL_OP_POW),
    BINARY(MIL_OP_MAXIMUM), BINARY(MIL_OP_MINIMUM),
    UNARY(MIL_OP_SQRT), UNARY(MIL_OP_EXP), UNARY(MIL_OP_SIGMOID), UNARY(MIL_OP_TANH), UNARY(MIL_OP_RELU),
    UNARY(MIL_OP_SILU), UNARY(MIL_OP_IDENTITY),
    { MIL_OP_RSQRT, { { "x", REQ }, { "epsilon", CONSTANT } } },
    { MIL_OP_LOG, { { "x", REQ }, { "epsilon", CONSTANT } } },
    { MIL_OP_GELU, { { "x", REQ }, { "mode", CONSTANT } } },
    { MIL_OP_CLIP, { { "x", REQ }, { "alpha", REQ | CONSTANT }, { "beta", REQ | CONSTANT } } },
    REDUCE(MIL_OP_REDUCE_SUM), REDUCE(MIL_OP_REDUCE_MAX), REDUCE(MIL_OP_REDUCE_MEAN),
    { MIL_OP_SOFTMAX, { { "x", REQ }, { "axis", CONSTANT } } },
    { MIL_OP_LAYER_NORM, { { "x", REQ }, { "axes", CONSTANT }, { "gamma", 0 }, { "beta", 0 }, { "epsilon", CONSTANT } } },
    { MIL_OP_SCALED_DOT_PRODUCT_ATTENTION, { { "query", REQ }, { "key", REQ }, { "value", REQ }, { "attn_mask", 0 } } },
    { MIL_OP_RESHAPE, { { "x", REQ }, { "shape", REQ | CONSTANT } } },
    { MIL_OP_TRANSPOSE, { { "x", REQ }, { "perm", REQ | CONSTANT } } },
    { MIL_OP_SLICE_BY_SIZE, { { "x", REQ }, { "begin", REQ | CONSTANT }, { "size", REQ | CONSTANT } } },
    { MIL_OP_SLICE_BY_INDEX, { { "x", REQ }, { "begin", REQ | CONSTANT }, { "end", REQ | CONSTANT },
                               { "stride", CONSTANT }, { "begin_mask", CONSTANT }, { "end_mask", CONSTANT },
                               { "squeeze_mask", CONSTANT } } },
    { MIL_OP_CONCAT, { { "values", REQ | TUPLE }, { "axis", REQ | CONSTANT }, { "interleave", CONSTANT } } },
    { MIL_OP_CAST, { { "x", REQ }, { "dtype", REQ | CONSTANT } } },
    { MIL_OP_QUANTIZE, { { "input", REQ }, { "zero_point", CONSTANT }, { "scale", REQ | CONSTANT },
                         { "axis", CONSTANT }, { "output_dtype", REQ | CONSTANT } } },
    { MIL_OP_DEQUANTIZE, { { "input", REQ }, { "zero_point", CONSTANT }, { "scale", REQ | CONSTANT }, { "axis", CONSTANT } } },
    { MIL_OP_CONSTEXPR_AFFINE_DEQUANTIZE, { { "quantized_data", REQ | CONSTANT }, { "zero_point", REQ | CONSTANT },
                                            { "scale", REQ | CONSTANT }, { "axis", REQ | CONSTANT } } },
};

/* ---------------------------------------------------------------- helpers */

typedef struct ictx {
    const mil_program *p;
    const mil_op *op;
    char *err;
    size_t cap;
} ictx;

static ane_status terr(ictx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static ane_status terr(ictx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->cap, fmt, ap);
    va_end(ap);
    return ANE_ERR_TYPE;
}

#define TRY(x) do { ane_status st_ = (x); if (st_ != ANE_OK) return st_; } while (0)

static const mil_value *arg(ictx *c, const char *name) { return mil_op_arg_value(c->p, c->op, name); }

static const char *tstr(const mil_type *t, char *buf) { return mil_type_str(t, buf, 160); }

static int is_int_dtype(mil_dtype d) { return d >= MIL_INT8 && d <= MIL_UINT64; }

/* A constant integer scalar or vector argument -> out[0..*n). Absent: *n = -1. */
static ane_status const_ints(ictx *c, const char *name, int64_t *out, int max, int *n)
{
    const mil_value *v = arg(c, name);
    *n = -1;
    if (!v) return ANE_OK;
    if (!is_int_dtype(v->type.dtype) || v->type.rank > 1)
        return terr(c, "'%s' must be an integer scalar or vector, not %s", name, tstr(&v->type, (char[160]){0}));
    if (v->cst.n > max) return terr(c, "'%s' has %lld values, at most %d allowed", name, (long long)v->cst.n, max);
    for (int64_t i = 0; i < v->cst.n; i++) out[i] = v->cst.i[i];
    *n = (int)v->cst.n;
    return ANE_OK;
}

/* A constant bool scalar or vector -> out[0..*n); absent: *n = -1. */
static ane_status const_bools(ictx *c, const char *name, int64_t *out, int max, int *n)
{
    const mil_value *v = arg(c, name);
    *n = -1;
    if (!v) return ANE_OK;
    if (v->type.dtype != MIL_BOOL || v->type.rank > 1 || v->cst.n > max)
        return terr(c, "'%s' must be a bool scalar or a bool vector of at most %d values", name, max);
    for (int64_t i = 0; i < v->cst.n; i++) out[i] = v->cst.i[i];
    *n = (int)v->cst.n;
    return ANE_OK;
}

static ane_status const_bool(ictx *c, const char *name, int def, int *out)
{
    const mil_value *v = arg(c, name);
    *out = def;
    if (!v) return ANE_OK;
    if (v->type.dtype != MIL_BOOL || v->type.rank != 0) return terr(c, "'%s' must be a bool scalar", name);
    *out = v->cst.i[0] != 0;
    return ANE_OK;
}

static ane_status const_int(ictx *c, const char *name, int64_t def, int64_t *out)
{
    const mil_value *v = arg(c, name);
    *out = def;
    if (!v) return ANE_OK;
    if (!is_int_dtype(v->type.dtype) || v->type.rank != 0) return terr(c, "'%s' must be an integer scalar", name);
    *out = v->cst.i[0];
    return ANE_OK;
}

static ane_status const_string(ictx *c, const char *name, const char *def, const char **out)
{
    const mil_value *v = arg(c, name);
    *out = def;
    if (!v) return ANE_OK;
    if (v->type.dtype != MIL_STRING) return terr(c, "'%s' must be a string", name);
    *out = v->cst.s;
    return ANE_OK;
}

static ane_status const_float_scalar(ictx *c, const char *name)
{
    const mil_value *v = arg(c, name);
    if (v && (!mil_dtype_is_float(v->type.dtype) || v->type.rank != 0))
        return terr(c, "'%s' must be a float scalar, not %s", name, tstr(&v->type, (char[160]){0}));
    return ANE_OK;
}

/* axis in [-rank, rank) -> [0, rank). */
static ane_status norm_axis(ictx *c, const char *what, int64_t axis, int rank, int *out)
{
    if (axis < -rank || axis >= rank)
        return terr(c, "%s %lld is out of range for rank %d (valid: %d..%d)", what, (long long)axis, rank, -rank, rank - 1);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return ANE_OK;
}

static ane_status need_float(ictx *c, const char *name, const mil_value *v)
{
    if (v->type.dtype != MIL_FP16 && v->type.dtype != MIL_FP32)
        return terr(c, "'%s' must be fp16 or fp32, not %s", name, mil_dtype_name(v->type.dtype));
    return ANE_OK;
}

static ane_status same_dtype(ictx *c, const char *a, const mil_value *va, const char *b, const mil_value *vb)
{
    if (va->type.dtype != vb->type.dtype)
        return terr(c, "'%s' is %s but '%s' is %s (dtypes must match; insert a cast)", a,
                    mil_dtype_name(va->type.dtype), b, mil_dtype_name(vb->type.dtype));
    return ANE_OK;
}

/* numpy broadcasting of a and b's shapes into out (dtype of a). */
static ane_status broadcast(ictx *c, const mil_type *a, const mil_type *b, mil_type *out)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    out->dtype = a->dtype;
    out->rank = rank;
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char ba[160], bb[160];
            return terr(c, "shapes %s and %s do not broadcast (axis %d: %lld vs %lld)", tstr(a, ba), tstr(b, bb),
                        i, (long long)da, (long long)db);
        }
        out->shape[i] = da == 1 ? db : da;
    }
    return ANE_OK;
}

static ane_status check_result(ictx *c, const mil_type *t)
{
    if (mil_shape_elems_checked(t->shape, t->rank) < 0) {
        char b[160];
        return terr(c, "result %s has a dimension <= 0 or more than %lld elements", tstr(t, b),
                    (long long)MIL_MAX_TENSOR_ELEMS);
    }
    return ANE_OK;
}

/* ---------------------------------------------------------------- ops */

static ane_status infer_conv(ictx *c, mil_type *out)
{
    const mil_value *x = arg(c, "x"), *w = arg(c, "weight"), *bias = arg(c, "bias");
    TRY(need_float(c, "x", x));
    TRY(same_dtype(c, "x", x, "weight", w));
    int r = x->type.rank, ns = r - 2;
    if (r < 3 || r > 5) return terr(c, "x must have rank 3 to 5 ([N, C, *spatial]), not %d", r);
    if (w->type.rank != r) return terr(c, "weight must have rank %d like x, not %d", r, w->type.rank);
    int64_t groups;
    TRY(const_int(c, "groups", 1, &groups));
    int64_t ic = x->type.shape[1], oc = w->type.shape[0];
    if (groups <= 0 || ic % groups || oc % groups)
        return terr(c, "groups=%lld must divide the input channels %lld and output channels %lld",
                    (long long)groups, (long long)ic, (long long)oc);
    if (w->type.shape[1] * groups != ic)
        return terr(c, "weight has %lld input channels per group but x has %lld channels in %lld groups",
                    (long long)w->type.shape[1], (long long)ic, (long long)groups);
    if (bias) {
        TRY(same_dtype(c, "x", x, "bias", bias));
        if (bias->type.rank != 1 || bias->type.shape[0] != oc)
            return terr(c, "bias must be a vector of %lld values", (long long)oc);
    }
    int64_t strides[3] = { 1, 1, 1 }, dil[3] = { 1, 1, 1 }, pad[6] = { 0 };
    int n;
    TRY(const_ints(c, "strides", strides, 3, &n));
    if (n >= 0 && n != ns) return terr(c, "strides needs %d values", ns);
    TRY(const_ints(c, "dilations", dil, 3, &n));
    if (n >= 0 && n != ns) return terr(c, "dilations needs %d values", ns);
    for (int i = 0; i < ns; i++)
        if (strides[i] <= 0 || dil[i] <= 0) return terr(c, "strides and dilations must be positive");
    const char *pad_type;
    TRY(const_string(c, "pad_type", "valid", &pad_type));
    int custom = !strcmp(pad_type, "custom"), same = !strcmp(pad_type, "same") || !strcmp(pad_type, "same_lower");
    if (!custom && !same && strcmp(pad_type, "valid"))
        return terr(c, "pad_type \"%s\" is not one of valid, same, same_lower, custom", pad_type);
    TRY(const_ints(c, "pad", pad, 6, &n));
    if (n >= 0 && n != 2 * ns) return terr(c, "pad needs %d values (begin and end of each spatial axis)", 2 * ns);
    if (!custom) memset(pad, 0, sizeof pad);
    *out = x->type;
    out->shape[1] = oc;
    for (int i = 0; i < ns; i++) {
        int64_t in = x->type.shape[2 + i], k = w->type.shape[2 + i];
        if (pad[2 * i] < 0 || pad[2 * i + 1] < 0) return terr(c, "pad values must be >= 0");
        if (same) {
            out->shape[2 + i] = (in + strides[i] - 1) / strides[i];
            continue;
        }
        int64_t span = in + pad[2 * i] + pad[2 * i + 1] - dil[i] * (k - 1) - 1;
        if (span < 0)
            return terr(c, "kernel %lld (dilation %lld) is larger than spatial axis %d of size %lld plus padding",
                        (long long)k, (long long)dil[i], i, (long long)in);
        out->shape[2 + i] = span / strides[i] + 1;
    }
    return ANE_OK;
}

static ane_status infer_matmul(ictx *c, mil_type *out)
{
    const mil_value *x = arg(c, "x"), *y = arg(c, "y");
    TRY(same_dtype(c, "x", x, "y", y));
    if (x->type.dtype == MIL_BOOL || x->type.dtype == MIL_STRING) return terr(c, "matmul needs numbers");
    int tx, ty;
    TRY(const_bool(c, "transpose_x", 0, &tx));
    TRY(const_bool(c, "transpose_y", 0, &ty));
    mil_type a = x->type, b = y->type;
    if (a.rank < 1 || b.rank < 1) return terr(c, "x and y must have rank >= 1");
    /* Per the spec, a 1-D x is [1, K] and a 1-D y is [K, 1]; the added axis is removed from
     * the result (transposes do not apply to 1-D operands). */
    int x1 = a.rank == 1, y1 = b.rank == 1;
    if (x1) { a.rank = 2; a.shape[1] = a.shape[0]; a.shape[0] = 1; tx = 0; }
    if (y1) { b.rank = 2; b.shape[1] = 1; ty = 0; }
    int64_t m = tx ? a.shape[a.rank - 1] : a.shape[a.rank - 2];
    int64_t k = tx ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
    int64_t k2 = ty ? b.shape[b.rank - 1] : b.shape[b.rank - 2];
    int64_t nn = ty ? b.shape[b.rank - 2] : b.shape[b.rank - 1];
    if (k != k2) {
        char ba[160], bb[160];
        return terr(c, "inner dimensions differ: x %s gives %lld, y %s gives %lld", tstr(&x->type, ba), (long long)k,
                    tstr(&y->type, bb), (long long)k2);
    }
    mil_type ba = a, bb = b;
    ba.rank -= 2;
    bb.rank -= 2;
    TRY(broadcast(c, &ba, &bb, out));
    if (out->rank + 2 > MIL_MAX_RANK) return terr(c, "result rank too large");
    out->dtype = x->type.dtype;
    if (!x1) out->shape[out->rank++] = m;
    if (!y1) out->shape[out->rank++] = nn;
    return ANE_OK;
}

static ane_status infer_linear(ictx *c, mil_type *out)
{
    const mil_value *x = arg(c, "x"), *w = arg(c, "weight"), *bias = arg(c, "bias");
    TRY(need_float(c, "x", x));
    TRY(same_dtype(c, "x", x, "weight", w));
    if (x->type.rank < 1) return terr(c, "x must have rank >= 1");
    if (w->type.rank != 2) return terr(c, "weight must be a matrix [D_out, D_in]");
    int64_t din = x->type.shape[x->type.rank - 1];
    if (w->type.shape[1] != din)
        return terr(c, "weight has D_in %lld but the last axis of x is %lld", (long long)w->type.shape[1], (long long)din);
    if (bias) {
        TRY(same_dtype(c, "x", x, "bias", bias));
        if (bias->type.rank != 1 || bias->type.shape[0] != w->type.shape[0])
            return terr(c, "bias must be a vector of %lld values", (long long)w->type.shape[0]);
    }
    *out = x->type;
    out->shape[out->rank - 1] = w->type.shape[0];
    return ANE_OK;
}

static ane_status infer_reduce(ictx *c, mil_type *out)
{
    const mil_value *x = arg(c, "x");
    if (x->type.dtype == MIL_BOOL || x->type.dtype == MIL_STRING) return terr(c, "x must be numeric");
    int64_t axes[MIL_MAX_RANK];
    int n, keep, mark[MIL_MAX_RANK] = { 0 };
    TRY(const_ints(c, "axes", axes, MIL_MAX_RANK, &n));
    TRY(const_bool(c, "keep_dims", 0, &keep));
    int r = x->type.rank;
    if (n < 0) for (int i = 0; i < r; i++) mark[i] = 1;   /* no axes: reduce everything */
    for (int i = 0; i < n; i++) {
        int a = 0;
        TRY(norm_axis(c, "axis", axes[i], r, &a));
        if (mark[a]) return terr(c, "axis %d is listed twice", a);
        mark[a] = 1;
    }
    out->dtype = x->type.dtype;
    out->rank = 0;
    for (int i = 0; i < r; i++) {
        if (!mark[i]) out->shape[out->rank++] = x->type.shape[i];
        else if (keep) out->shape[out->rank++] = 1;
    }
    return ANE_OK;
}

static ane_status infer_layer_norm(ictx *c, mil_type *out)
{
    const mil_value *x = arg(c, "x");
    TRY(need_float(c, "x", x));
    TRY(const_float_scalar(c, "epsilon"));
    int64_t axes[MIL_MAX_RANK];
    int n, r = x->type.rank, mark[MIL_MAX_RANK] = { 0 };
    TRY(const_ints(c, "axes", axes, MIL_MAX_RANK, &n));
    if (n < 0) for (int i = 0; i < r; i++) mark[i] = 1;
    for (int i = 0; i < n; i++) {
        int a = 0;
        TRY(norm_axis(c, "axis", axes[i], r, &a));
        if (mark[a]) return terr(c, "axis %d is listed twice", a);
        mark[a] = 1;
    }
    /* gamma and beta have the shape of x restricted to the normalized axes. */
    mil_type norm = { x->type.dtype, 0, { 0 } };
    for (int i = 0; i < r; i++)
        if (mark[i]) norm.shape[norm.rank++] = x->type.shape[i];
    const char *names[2] = { "gamma", "beta" };
    for (int k = 0; k < 2; k++) {
        const mil_value *g = arg(c, names[k]);
        if (!g) continue;
        TRY(same_dtype(c, "x", x, names[k], g));
        int ok = g->type.rank == norm.rank;
        for (int i = 0; ok && i < norm.rank; i++) ok = g->type.shape[i] == norm.shape[i];
        char b1[160], b2[160];
        if (!ok) return terr(c, "'%s' is %s but the normalized axes need %s", names[k], tstr(&g->type, b1), tstr(&norm, b2));
    }
    *out = x->type;
    return ANE_OK;
}

static ane_status infer_sdpa(ictx *c, mil_type *out)
{
    const mil_value *q = arg(c, "query"), *k = arg(c, "key"), *v = arg(c, "value"), *m = arg(c, "attn_mask");
    TRY(need_float(c, "query", q));
    TRY(same_dtype(c, "query", q, "key", k));
    TRY(same_dtype(c, "query", q, "value", v));
    int r = q->type.rank;
    if (r < 3 || k->type.rank != r || v->type.rank != r)
        return terr(c, "query, key and value must have the same rank >= 3 ([*batch, L, E])");
    const int64_t *qs = q->type.shape, *ks = k->type.shape, *vs = v->type.shape;
    if (qs[r - 1] != ks[r - 1]) return terr(c, "query and key differ in the embedding axis (%lld vs %lld)", (long long)qs[r - 1], (long long)ks[r - 1]);
    if (ks[r - 2] != vs[r - 2]) return terr(c, "key and value differ in the sequence axis (%lld vs %lld)", (long long)ks[r - 2], (long long)vs[r - 2]);
    mil_type bq = q->type, bk = k->type, bv = v->type, b1;
    bq.rank = bk.rank = bv.rank = r - 2;
    TRY(broadcast(c, &bq, &bk, &b1));
    TRY(broadcast(c, &b1, &bv, out));
    out->dtype = q->type.dtype;
    if (m) {
        if (m->type.dtype != MIL_BOOL && m->type.dtype != q->type.dtype)
            return terr(c, "attn_mask must be bool or %s", mil_dtype_name(q->type.dtype));
        mil_type scores = *out, tmp;
        scores.shape[scores.rank++] = qs[r - 2];
        scores.shape[scores.rank++] = ks[r - 2];
        TRY(broadcast(c, &scores, &m->type, &tmp));
        for (int i = 0; i < tmp.rank; i++)
            if (tmp.rank != scores.rank || tmp.shape[i] != scores.shape[i])
                return terr(c, "attn_mask does not broadcast to the attention scores [*batch, L, S]");
    }
    out->shape[out->rank++] = qs[r - 2];
    out->shape[out->rank++] = vs[r - 1];
    return ANE_OK;
}

static ane_status infer_reshape(ictx *c, mil_type *out)
{
    const mil_value *x = arg(c, "x");
    int64_t shape[MIL_MAX_RANK];
    int n;
    TRY(const_ints(c, "shape", shape, MIL_MAX_RANK, &n));
    if (arg(c, "shape")->type.rank != 1) return terr(c, "shape must be a vector");
    int infer_at = -1;
    int64_t known = 1;
    out->dtype = x->type.dtype;
    out->rank = n;
    for (int i = 0; i < n; i++) {
        int64_t d = shape[i];
        if (d == 0) {   /* 0 copies the input's dimension at the same axis */
            if (i >= x->type.rank) return terr(c, "shape[%d] = 0 copies an axis that x (rank %d) lacks", i, x->type.rank);
            d = x->type.shape[i];
        } else if (d == -1) {
            if (infer_at >= 0) return terr(c, "shape has more than one -1");
            infer_at = i;
            continue;
        } else if (d < 0) {
            return terr(c, "shape[%d] = %lld is invalid (use a positive size, 0 or -1)", i, (long long)d);
        }
        if (d > MIL_MAX_TENSOR_ELEMS || known > MIL_MAX_TENSOR_ELEMS / d) return terr(c, "shape has too many elements");
        known *= d;
        out->shape[i] = d;
    }
    int64_t total = mil_type_elems(&x->type);
    if (infer_at >= 0) {
        if (total % known) return terr(c, "cannot infer the -1 axis: %lld elements are not a multiple of %lld", (long long)total, (long long)known);
        out->shape[infer_at] = total / known;
        known = total;
    }
    if (known != total) {
        char b1[160], b2[160];
        return terr(c, "reshape of %s (%lld elements) to %s (%lld elements)", tstr(&x->type, b1), (long long)total,
                    tstr(out, b2), (long long)known);
    }
    return ANE_OK;
}

static ane_status infer_transpose(ictx *c, mil_type *out)
{
    const mil_value *x = arg(c, "x");
    int64_t perm[MIL_MAX_RANK];
    int n, r = x->type.rank, seen[MIL_MAX_RANK] = { 0 };
    TRY(const_ints(c, "perm", perm, MIL_MAX_RANK, &n));
    if (n != r) return terr(c, "perm has %d values but x has rank %d", n, r);
    *out = x->type;
    for (int i = 0; i < r; i++) {
        int a = 0;
        TRY(norm_axis(c, "perm value", perm[i], r, &a));
        if (seen[a]++) return terr(c, "perm is not a permutation (axis %d repeats)", a);
        out->shape[i] = x->type.shape[a];
    }
    return ANE_OK;
}

static ane_status infer_slice_by_size(ictx *c, mil_type *out)
{
    const mil_value *x = arg(c, "x");
    int64_t begin[MIL_MAX_RANK], size[MIL_MAX_RANK];
    int nb, ns, r = x->type.rank;
    TRY(const_ints(c, "begin", begin, MIL_MAX_RANK, &nb));
    TRY(const_ints(c, "size", size, MIL_MAX_RANK, &ns));
    if (nb != r || ns != r) return terr(c, "begin and size need %d values each (the rank of x)", r);
    *out = x->type;
    for (int i = 0; i < r; i++) {
        int64_t d = x->type.shape[i], b = begin[i] < 0 ? begin[i] + d : begin[i];
        if (b < 0 || b >= d) return terr(c, "begin[%d] = %lld is outside axis %d of size %lld", i, (long long)begin[i], i, (long long)d);
        int64_t s = size[i] == -1 ? d - b : size[i];
        if (s <= 0 || s > d - b)
            return terr(c, "size[%d] = %lld does not fit axis %d of size %lld from begin %lld", i, (long long)size[i], i,
                        (long long)d, (long long)b);
        out->shape[i] = s;
    }
    return ANE_OK;
}

static ane_status infer_slice_by_index(ictx *c, mil_type *out)
{
    const mil_value *x = arg(c, "x");
    int r = x->type.rank;
    int64_t begin[MIL_MAX_RANK], end[MIL_MAX_RANK], stride[MIL_MAX_RANK], bm[MIL_MAX_RANK] = { 0 },
            em[MIL_MAX_RANK] = { 0 }, sm[MIL_MAX_RANK] = { 0 };
    int nb, ne, n;
    TRY(const_ints(c, "begin", begin, MIL_MAX_RANK, &nb));
    TRY(const_ints(c, "end", end, MIL_MAX_RANK, &ne));
    if (nb != r || ne != r) return terr(c, "begin and end need %d values each (the rank of x)", r);
    TRY(const_ints(c, "stride", stride, MIL_MAX_RANK, &n));
    if (n < 0) for (int i = 0; i < r; i++) stride[i] = 1;
    else if (n != r) return terr(c, "stride needs %d values", r);
    TRY(const_bools(c, "begin_mask", bm, MIL_MAX_RANK, &n));
    if (n >= 0 && n != r) return terr(c, "begin_mask needs %d values", r);
    TRY(const_bools(c, "end_mask", em, MIL_MAX_RANK, &n));
    if (n >= 0 && n != r) return terr(c, "end_mask needs %d values", r);
    TRY(const_bools(c, "squeeze_mask", sm, MIL_MAX_RANK, &n));
    if (n >= 0 && n != r) return terr(c, "squeeze_mask needs %d values", r);
    out->dtype = x->type.dtype;
    out->rank = 0;
    for (int i = 0; i < r; i++) {
        int64_t d = x->type.shape[i], s = stride[i], b = begin[i], e = end[i], len;
        if (s == 0) return terr(c, "stride[%d] is 0", i);
        /* Python slicing: negative indices count from the end, then clamp to the axis. */
        if (b < 0) b += d;
        if (e < 0) e += d;
        if (s > 0) {
            if (bm[i]) b = 0;
            if (em[i]) e = d;
            b = b < 0 ? 0 : b > d ? d : b;
            e = e < 0 ? 0 : e > d ? d : e;
            len = e > b ? (e - b + s - 1) / s : 0;
        } else {
            if (bm[i]) b = d - 1;
            if (em[i]) e = -1;
            else if (e < -1) e = -1;
            b = b < -1 ? -1 : b > d - 1 ? d - 1 : b;
            e = e > d - 1 ? d - 1 : e;
            len = b > e ? (b - e + (-s) - 1) / (-s) : 0;
        }
        if (sm[i]) {
            if (begin[i] < -d || begin[i] >= d) return terr(c, "squeezed axis %d: begin %lld is outside size %lld", i, (long long)begin[i], (long long)d);
            continue;
        }
        if (len <= 0) return terr(c, "axis %d: the slice [%lld:%lld:%lld] is empty", i, (long long)begin[i], (long long)end[i], (long long)s);
        out->shape[out->rank++] = len;
    }
    return ANE_OK;
}

static ane_status infer_concat(ictx *c, mil_type *out)
{
    const mil_arg *a = mil_op_arg(c->p, c->op, "values");
    const mil_type *t0 = &c->p->values[a->values[0]].type;
    int64_t axis;
    int ax = 0, inter = 0;
    TRY(const_int(c, "axis", 0, &axis));
    TRY(const_bool(c, "interleave", 0, &inter));
    if (t0->rank < 1) return terr(c, "concat of scalars");
    TRY(norm_axis(c, "axis", axis, t0->rank, &ax));
    *out = *t0;
    int64_t sum = 0;
    for (int k = 0; k < a->n; k++) {
        const mil_type *t = &c->p->values[a->values[k]].type;
        char b1[160], b2[160];
        if (t->dtype != t0->dtype || t->rank != t0->rank)
            return terr(c, "values[%d] is %s but values[0] is %s", k, tstr(t, b1), tstr(t0, b2));
        for (int i = 0; i < t->rank; i++)
            if (i != ax && t->shape[i] != t0->shape[i])
                return terr(c, "values[%d] is %s but values[0] is %s (only axis %d may differ)", k, tstr(t, b1), tstr(t0, b2), ax);
        if (inter && t->shape[ax] != t0->shape[ax]) return terr(c, "interleave needs values of equal shape");
        sum += t->shape[ax];
        if (sum > MIL_MAX_TENSOR_ELEMS) return terr(c, "concat result too large");
    }
    out->shape[ax] = sum;
    return ANE_OK;
}

static ane_status dtype_arg(ictx *c, const char *name, mil_dtype *dt)
{
    const char *s;
    TRY(const_string(c, name, NULL, &s));
    if (!mil_dtype_from_name(s, strlen(s), dt) || *dt == MIL_STRING)
        return terr(c, "%s \"%s\" is not a dtype (fp16, fp32, int32, int8, uint8, bool ...)", name, s);
    return ANE_OK;
}

/* The per-channel or per-tensor scale and zero point of quantize/dequantize. */
static ane_status quant_params(ictx *c, const mil_type *data, mil_dtype zp_dtype_needed, int need_axis_arg)
{
    const mil_value *scale = arg(c, "scale"), *zp = arg(c, "zero_point");
    int64_t axis;
    int ax = -1;
    if (arg(c, "axis")) {
        TRY(const_int(c, "axis", 0, &axis));
        TRY(norm_axis(c, "axis", axis, data->rank, &ax));
    } else if (need_axis_arg) {
        return terr(c, "axis is required");
    }
    const mil_value *params[2] = { scale, zp };
    const char *names[2] = { "scale", "zero_point" };
    for (int k = 0; k < 2; k++) {
        const mil_value *v = params[k];
        if (!v) continue;
        if (v->type.rank == 0 || (v->type.rank == 1 && v->type.shape[0] == 1)) continue;
        if (v->type.rank != 1 || ax < 0 || v->type.shape[0] != data->shape[ax])
            return terr(c, "'%s' must be a scalar or a vector of the size of axis %s", names[k], ax < 0 ? "(no axis given)" : "axis");
    }
    if (!mil_dtype_is_float(scale->type.dtype)) return terr(c, "scale must be fp16 or fp32");
    if (zp && zp->type.dtype != zp_dtype_needed)
        return terr(c, "zero_point is %s but must be %s", mil_dtype_name(zp->type.dtype), mil_dtype_name(zp_dtype_needed));
    return ANE_OK;
}

static ane_status fold_affine_dequantize(ictx *c, mil_arena *arena, const mil_type *t, int ax, mil_const *cst)
{
    const mil_value *q = arg(c, "quantized_data"), *scale = arg(c, "scale"), *zp = arg(c, "zero_point");
    int64_t n = mil_type_elems(t), inner = 1;
    for (int i = ax + 1; i < t->rank; i++) inner *= t->shape[i];
    cst->n = n;
    cst->f = mil_arena_alloc(arena, (size_t)n, sizeof(double));
    if (!cst->f) { snprintf(c->err, c->cap, "out of memory"); return ANE_ERR_NO_MEMORY; }
    for (int64_t i = 0; i < n; i++) {
        int64_t ch = (i / inner) % t->shape[ax];
        double s = scale->cst.f[scale->cst.n == 1 ? 0 : ch];
        double z = (double)zp->cst.i[zp->cst.n == 1 ? 0 : ch];
        double v = ((double)q->cst.i[i] - z) * s;
        cst->f[i] = t->dtype == MIL_FP16 ? mil_round_fp16(v) : (double)(float)v;
    }
    return ANE_OK;
}

/* ---------------------------------------------------------------- entry */

static ane_status check_args(ictx *c, const op_spec *s)
{
    const mil_op *op = c->op;
    for (int i = 0; i < op->n_args; i++) {
        const mil_arg *a = &op->args[i];
        const arg_spec *as = NULL;
        for (int k = 0; k < 8 && s->args[k].name; k++)
            if (!strcmp(s->args[k].name, a->name)) as = &s->args[k];
        if (!as) {
            char list[200] = "";
            size_t len = 0;
            for (int k = 0; k < 8 && s->args[k].name && len < sizeof list; k++) {
                int w = snprintf(list + len, sizeof list - len, "%s%s", k ? ", " : "", s->args[k].name);
                if (w > 0) len += (size_t)w;
            }
            return terr(c, "unknown argument '%s' (arguments: %s)", a->name, list);
        }
        if (a->is_tuple && !(as->flags & TUPLE)) return terr(c, "argument '%s' takes one value, not a tuple", a->name);
        for (int k = 0; k < a->n; k++) {
            const mil_value *v = &c->p->values[a->values[k]];
            if ((as->flags & CONSTANT) && v->kind != MIL_VALUE_CONST)
                return terr(c, "argument '%s' must be a constant (it decides the result's shape or mode), but '%s' is computed",
                            a->name, v->name);
            if (!(as->flags & CONSTANT) && v->type.dtype == MIL_STRING)
                return terr(c, "argument '%s' cannot be a string", a->name);
        }
    }
    for (int k = 0; k < 8 && s->args[k].name; k++)
        if ((s->args[k].flags & REQ) && !mil_op_arg(c->p, op, s->args[k].name))
            return terr(c, "missing required argument '%s'", s->args[k].name);
    return ANE_OK;
}

ane_status mil_infer_op(const mil_program *p, const mil_op *op, mil_arena *arena, mil_type *out,
                        mil_const *cst, char *err, size_t cap)
{
    ictx c = { p, op, err, cap };
    const op_spec *s = NULL;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        if (specs[i].code == op->code) s = &specs[i];
    if (!s) return terr(&c, "op has no type rule");
    TRY(check_args(&c, s));
    memset(out, 0, sizeof *out);
    const mil_value *x = arg(&c, "x");
    switch (op->code) {
    case MIL_OP_CONV: TRY(infer_conv(&c, out)); break;
    case MIL_OP_MATMUL: TRY(infer_matmul(&c, out)); break;
    case MIL_OP_LINEAR: TRY(infer_linear(&c, out)); break;
    case MIL_OP_ADD: case MIL_OP_SUB: case MIL_OP_MUL: case MIL_OP_REAL_DIV: case MIL_OP_POW:
    case MIL_OP_MAXIMUM: case MIL_OP_MINIMUM: {
        const mil_value *y = arg(&c, "y");
        TRY(same_dtype(&c, "x", x, "y", y));
        if (x->type.dtype == MIL_BOOL) return terr(&c, "x and y must be numeric, not bool");
        if ((op->code == MIL_OP_POW || op->code == MIL_OP_REAL_DIV)) TRY(need_float(&c, "x", x));
        TRY(broadcast(&c, &x->type, &y->type, out));
        break;
    }
    case MIL_OP_SQRT: case MIL_OP_RSQRT: case MIL_OP_EXP: case MIL_OP_LOG: case MIL_OP_SIGMOID:
    case MIL_OP_TANH: case MIL_OP_RELU: case MIL_OP_GELU: case MIL_OP_SILU: case MIL_OP_CLIP: {
        TRY(need_float(&c, "x", x));
        TRY(const_float_scalar(&c, "epsilon"));
        TRY(const_float_scalar(&c, "alpha"));
        TRY(const_float_scalar(&c, "beta"));
        const char *mode;
        TRY(const_string(&c, "mode", "EXACT", &mode));
        if (strcmp(mode, "EXACT") && strcmp(mode, "TANH_APPROXIMATION") && strcmp(mode, "SIGMOID_APPROXIMATION"))
            return terr(&c, "mode \"%s\" is not EXACT, TANH_APPROXIMATION or SIGMOID_APPROXIMATION", mode);
        *out = x->type;
        break;
    }
    case MIL_OP_REDUCE_SUM: case MIL_OP_REDUCE_MAX: case MIL_OP_REDUCE_MEAN: TRY(infer_reduce(&c, out)); break;
    case MIL_OP_SOFTMAX: {
        int64_t axis;
        int a = 0;
        TRY(need_float(&c, "x", x));
        TRY(const_int(&c, "axis", -1, &axis));
        if (x->type.rank < 1) return terr(&c, "softmax of a scalar");
        TRY(norm_axis(&c, "axis", axis, x->type.rank, &a));
        *out = x->type;
        break;
    }
    case MIL_OP_LAYER_NORM: TRY(infer_layer_norm(&c, out)); break;
    case MIL_OP_SCALED_DOT_PRODUCT_ATTENTION: TRY(infer_sdpa(&c, out)); break;
    case MIL_OP_RESHAPE: TRY(infer_reshape(&c, out)); break;
    case MIL_OP_TRANSPOSE: TRY(infer_transpose(&c, out)); break;
    case MIL_OP_SLICE_BY_SIZE: TRY(infer_slice_by_size(&c, out)); break;
    case MIL_OP_SLICE_BY_INDEX: TRY(infer_slice_by_index(&c, out)); break;
    case MIL_OP_CONCAT: TRY(infer_concat(&c, out)); break;
    case MIL_OP_CAST: {
        mil_dtype dt;
        TRY(dtype_arg(&c, "dtype", &dt));
        *out = x->type;
        out->dtype = dt;
        break;
    }
    case MIL_OP_IDENTITY: *out = x->type; break;
    case MIL_OP_QUANTIZE: {
        const mil_value *in = arg(&c, "input");
        mil_dtype dt;
        TRY(need_float(&c, "input", in));
        TRY(dtype_arg(&c, "output_dtype", &dt));
        if (dt != MIL_INT8 && dt != MIL_UINT8) return terr(&c, "output_dtype must be int8 or uint8");
        TRY(quant_params(&c, &in->type, dt, 0));
        if (arg(&c, "scale")->type.dtype != in->type.dtype) return terr(&c, "scale must have the dtype of input");
        *out = in->type;
        out->dtype = dt;
        break;
    }
    case MIL_OP_DEQUANTIZE: case MIL_OP_CONSTEXPR_AFFINE_DEQUANTIZE: {
        int folded = op->code == MIL_OP_CONSTEXPR_AFFINE_DEQUANTIZE;
        const mil_value *in = arg(&c, folded ? "quantized_data" : "input");
        if (in->type.dtype != MIL_INT8 && in->type.dtype != MIL_UINT8)
            return terr(&c, "'%s' must be int8 or uint8, not %s", folded ? "quantized_data" : "input", mil_dtype_name(in->type.dtype));
        TRY(quant_params(&c, &in->type, in->type.dtype, folded));
        *out = in->type;
        out->dtype = arg(&c, "scale")->type.dtype;
        if (folded) {
            int64_t axis;
            int ax = 0;
            TRY(const_int(&c, "axis", 0, &axis));
            TRY(norm_axis(&c, "axis", axis, in->type.rank, &ax));
            TRY(fold_affine_dequantize(&c, arena, out, ax, cst));
        }
        break;
    }
    default: return terr(&c, "op has no type rule");
    }
    return check_result(&c, out);
}
