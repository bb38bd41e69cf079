/* rules.c — the ANE compiler's rules, checked on a parsed program (ir.h).
 *
 * Each rule has a stable id, a severity per chip, a message that says what to do instead,
 * and its source. Severity: "error" where the sources agree or name the chip, "warning"
 * where they conflict or the claim is a single unverified report. The "none" profile has
 * no rule. docs/chip-rules.md is the same table in words; test_rules.c checks that the
 * two agree row by row. Every finding carries the line and column of the offending op or
 * value, so the message points at the text the user wrote. */
#include "../core/platform.h"
#include "../core/strbuf.h"
#include "rules.h"

#define MAX_SPATIAL_WIDTH 16384      /* Rustane ANE_MAX_SPATIAL_WIDTH; Anemll */
#define MIN_IO_WIDTH 64              /* the `ane` crate's MIN_SPATIAL_WIDTH */
#define MAX_CONV_INPUT_CHANNELS 16384
#define MATMUL_INNER_MULTIPLE 32     /* maderix/ANE issue #47 */

struct chip_rule;

typedef struct check_ctx {
    const mil_program *p;
    const ane_chip_profile *chip;
    const struct chip_rule *rule;
    mil_severity severity;           /* of this rule on this chip */
    mil_diags *diags;
} check_ctx;

typedef void (*check_fn)(check_ctx *c);

typedef struct chip_rule {
    const char *id;
    const char *levels;  /* one letter per chip m1 m2 m3 m4 m5: 'E' error, 'W' warning,
                            '-' the rule does not apply */
    const char *what;    /* what the rule forbids */
    const char *why;     /* why, and what to do instead */
    const char *source;
    check_fn check;      /* NULL: enforced by ane_program_compile, not on the text */
} chip_rule;

/* ---------------------------------------------------------------- helpers */

static void finding(check_ctx *c, int line, int column, const char *fmt, ...) ANE_PRINTF(4, 5);

static void finding(check_ctx *c, int line, int column, const char *fmt, ...)
{
    char msg[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mil_diag_add(c->diags, c->severity, ANE_ERR_RULE, c->rule->id, line, column, "%s", msg);
}

static const mil_value *value_at(const mil_program *p, int index)
{
    if (index < 0 || index >= p->n_values) return NULL;
    return &p->values[index];
}

/* Inline literals get synthetic names "%lit<N>" from the parser; named consts do not. */
static int is_inline_literal(const mil_value *v) { return v->name && v->name[0] == '%'; }

static int64_t last_axis(const mil_type *t) { return t->rank > 0 ? t->shape[t->rank - 1] : 1; }

/* The integer (or bool) of a scalar constant; 0 when v is not one. */
static int const_int(const mil_value *v, int64_t *out)
{
    if (!v || v->kind != MIL_VALUE_CONST || !v->cst.i || v->cst.n < 1) return 0;
    *out = v->cst.i[0];
    return 1;
}

static const mil_op *defining_op(const mil_program *p, const mil_value *v)
{
    if (!v || v->kind != MIL_VALUE_OP || v->def_op < 0 || v->def_op >= p->n_ops) return NULL;
    return &p->ops[v->def_op];
}

/* Where a program-level finding points: the function's first parameter (its signature
 * line carries the dialect), else the top of the text. */
static void function_place(const mil_program *p, int *line, int *column)
{
    const mil_value *v = p->n_inputs > 0 ? value_at(p, p->inputs[0]) : NULL;
    *line = v ? v->line : 1;
    *column = v ? v->column : 1;
}

/* Visit every function input and output: fn(c, v, "input"/"output"). */
static void for_each_io(check_ctx *c, void (*fn)(check_ctx *, const mil_value *, const char *))
{
    for (int i = 0; i < c->p->n_inputs; i++) {
        const mil_value *v = value_at(c->p, c->p->inputs[i]);
        if (v) fn(c, v, "input");
    }
    for (int i = 0; i < c->p->n_outputs; i++) {
        const mil_value *v = value_at(c->p, c->p->outputs[i]);
        if (v) fn(c, v, "output");
    }
}

/* ---------------------------------------------------------------- the checks */

static void check_dialect(check_ctx *c)
{
    if (c->chip->dialects & (1u << c->p->dialect)) return;
    int line, column;
    function_place(c->p, &line, &column);
    finding(c, line, column,
            "program(%s) with func %s<%s> is not accepted by the %s compiler; emit program(1.0) "
            "with func main<ios16> and the verbose tensor<T, []>(v) scalar syntax",
            c->p->program_version, c->p->func_name, c->p->opset, c->chip->name);
}

static void fp16_io_one(check_ctx *c, const mil_value *v, const char *what)
{
    if (v->type.dtype == MIL_FP16) return;
    finding(c, v->line, v->column,
            "%s '%s' is %s; M1/M2 take fp16 inputs and outputs only (they cannot cast): declare "
            "it tensor<fp16, ...> and convert on the host (ane_copy_2d)",
            what, v->name, mil_dtype_name(v->type.dtype));
}

static void check_fp16_io(check_ctx *c) { for_each_io(c, fp16_io_one); }

static void check_no_cast(check_ctx *c)
{
    for (int i = 0; i < c->p->n_ops; i++) {
        const mil_op *op = &c->p->ops[i];
        if (op->code == MIL_OP_CAST)
            finding(c, op->line, op->column,
                    "cast is not supported on M1/M2; use fp16 inputs and outputs");
    }
}

static void check_blob_per_matrix(check_ctx *c)
{
    const mil_program *p = c->p;
    /* Report a blob file once, at the first constant that reads it at a second offset. */
    for (int i = 0; i < p->n_values; i++) {
        const mil_value *v = &p->values[i];
        if (v->kind != MIL_VALUE_CONST || !v->cst.blob_path) continue;
        const mil_value *first = NULL;
        int reported = 0;
        for (int j = 0; j < i && !reported; j++) {
            const mil_value *u = &p->values[j];
            if (u->kind != MIL_VALUE_CONST || !u->cst.blob_path) continue;
            if (strcmp(u->cst.blob_path, v->cst.blob_path) != 0) continue;
            if (!first) first = u;
            else if (u->cst.blob_offset != first->cst.blob_offset) reported = 1;
        }
        if (!first || reported || v->cst.blob_offset == first->cst.blob_offset) continue;
        finding(c, v->line, v->column,
                "weight file '%s' is read at offsets %llu and %llu; M1/M2 need one blob file "
                "per matrix: give each weight its own file (offset 64)",
                v->cst.blob_path, (unsigned long long)first->cst.blob_offset,
                (unsigned long long)v->cst.blob_offset);
    }
}

static void for_each_op(check_ctx *c, mil_opcode code, const char *message)
{
    for (int i = 0; i < c->p->n_ops; i++) {
        const mil_op *op = &c->p->ops[i];
        if (op->code == code) finding(c, op->line, op->column, "%s", message);
    }
}

static void check_concat(check_ctx *c)
{
    for_each_op(c, MIL_OP_CONCAT,
                c->severity == MIL_SEV_ERROR
                    ? "concat fails to compile on M3 (ANECCompile() FAILED on M3 Ultra, macOS "
                      "26.3.1); return the parts as separate outputs instead"
                    : "concat is rejected by some compilers (M4 Max on macOS 15, M3 Ultra) and "
                      "accepted by others (M4, M4 Max); prefer returning the parts as separate "
                      "outputs");
}

static void check_sdpa(check_ctx *c)
{
    for_each_op(c, MIL_OP_SCALED_DOT_PRODUCT_ATTENTION,
                c->severity == MIL_SEV_ERROR
                    ? "scaled_dot_product_attention is an iOS 18 op, absent from the ios16 opset "
                      "that M1/M2 compile; write attention out: matmul(Q,K^T), mul(scale), "
                      "add(mask), softmax, matmul(P,V)"
                    : "scaled_dot_product_attention is reported to compile (M4 Max) but no "
                      "training project uses it and the device ignores its mask; prefer "
                      "matmul(Q,K^T), mul(scale), add(mask), softmax, matmul(P,V)");
}

static void check_sdpa_mask(check_ctx *c)
{
    for (int i = 0; i < c->p->n_ops; i++) {
        const mil_op *op = &c->p->ops[i];
        if (op->code != MIL_OP_SCALED_DOT_PRODUCT_ATTENTION) continue;
        if (!mil_op_arg(c->p, op, "attn_mask")) continue;
        finding(c, op->line, op->column,
                "scaled_dot_product_attention ignores attn_mask on the device, so the result "
                "would be unmasked; write attention out: matmul(Q,K^T), mul(scale), add(mask), "
                "softmax, matmul(P,V)");
    }
}

static void check_gelu(check_ctx *c)
{
    for_each_op(c, MIL_OP_GELU,
                "gelu is rejected by some compilers (Orion, M4 Max) and accepted by others "
                "(dev-erik notes, M4 Max); use the tanh form "
                "0.5*x*(1+tanh(0.7978845608*(x+0.044715*x^3)))");
}

static int is_reduce(mil_opcode code)
{
    return code == MIL_OP_REDUCE_SUM || code == MIL_OP_REDUCE_MAX || code == MIL_OP_REDUCE_MEAN;
}

static void check_rsqrt_after_reduce(check_ctx *c)
{
    for (int i = 0; i < c->p->n_ops; i++) {
        const mil_op *op = &c->p->ops[i];
        if (op->code != MIL_OP_RSQRT && op->code != MIL_OP_SQRT) continue;
        const mil_op *src = defining_op(c->p, mil_op_arg_value(c->p, op, "x"));
        if (!src || !is_reduce(src->code)) continue;
        finding(c, op->line, op->column,
                "%s directly after %s fails to compile; use pow(x, %s) instead",
                op->op_name, src->op_name, op->code == MIL_OP_RSQRT ? "-0.5" : "0.5");
    }
}

static void check_m5_unsupported_op(check_ctx *c)
{
    for (int i = 0; i < c->p->n_ops; i++) {
        const mil_op *op = &c->p->ops[i];
        const char *instead = NULL;
        if (op->code == MIL_OP_SQRT) instead = "use pow(x, 0.5)";
        else if (op->code == MIL_OP_EXP)
            instead = "use softmax, sigmoid or tanh where that is what you compute, "
                      "else run it on the host";
        else if (op->code == MIL_OP_LOG) instead = "run it on the host";
        if (instead)
            finding(c, op->line, op->column, "%s is not supported by the M5 compiler; %s",
                    op->op_name, instead);
    }
}

static void check_reduce_mean(check_ctx *c)
{
    for_each_op(c, MIL_OP_REDUCE_MEAN,
                c->severity == MIL_SEV_ERROR
                    ? "reduce_mean compiles but fails at dispatch on M5; use reduce_sum and "
                      "mul by 1/N"
                    : "reduce_mean is reported not to work in raw MIL text; use reduce_sum and "
                      "mul by 1/N");
}

static void check_softmax_pow2(check_ctx *c)
{
    for (int i = 0; i < c->p->n_ops; i++) {
        const mil_op *op = &c->p->ops[i];
        if (op->code != MIL_OP_SOFTMAX) continue;
        const mil_value *x = mil_op_arg_value(c->p, op, "x");
        if (!x || x->type.rank < 1) continue;
        int64_t axis = -1;
        const_int(mil_op_arg_value(c->p, op, "axis"), &axis);
        if (axis < 0) axis += x->type.rank;
        if (axis < 0 || axis >= x->type.rank) continue;
        int64_t n = x->type.shape[axis];
        if (n <= 0 || (n & (n - 1)) == 0) continue;
        finding(c, op->line, op->column,
                "softmax over an axis of %lld (not a power of two) is reported to fail with "
                "InvalidMILProgram, while a 32000-wide softmax runs elsewhere; pad the axis to "
                "a power of two with -65504",
                (long long)n);
    }
}

static void check_slice_by_index_input(check_ctx *c)
{
    for (int i = 0; i < c->p->n_ops; i++) {
        const mil_op *op = &c->p->ops[i];
        if (op->code != MIL_OP_SLICE_BY_INDEX) continue;
        const mil_value *x = mil_op_arg_value(c->p, op, "x");
        if (!x || x->kind != MIL_VALUE_INPUT) continue;
        finding(c, op->line, op->column,
                "slice_by_index on function input '%s' fails with InvalidMILProgram; use "
                "slice_by_size (begin and size) instead",
                x->name);
    }
}

static void check_conv_bias(check_ctx *c)
{
    for (int i = 0; i < c->p->n_ops; i++) {
        const mil_op *op = &c->p->ops[i];
        if (op->code == MIL_OP_CONV && mil_op_arg(c->p, op, "bias"))
            finding(c, op->line, op->column,
                    "conv takes no bias= on the ANE; drop it and add the bias with a separate add");
    }
}

static void check_matmul_transpose_const(check_ctx *c)
{
    static const char *const flags[] = {"transpose_x", "transpose_y"};
    for (int i = 0; i < c->p->n_ops; i++) {
        const mil_op *op = &c->p->ops[i];
        if (op->code != MIL_OP_MATMUL) continue;
        for (int k = 0; k < 2; k++) {
            const mil_value *v = mil_op_arg_value(c->p, op, flags[k]);
            if (v && is_inline_literal(v))
                finding(c, op->line, op->column,
                        "matmul's %s is an inline literal; declare a named const "
                        "(bool bF = const()[name=string(\"bF\"), val=bool(false)]) and pass its name",
                        flags[k]);
        }
    }
}

static void check_matmul_inner_32(check_ctx *c)
{
    for (int i = 0; i < c->p->n_ops; i++) {
        const mil_op *op = &c->p->ops[i];
        if (op->code != MIL_OP_MATMUL) continue;
        const mil_value *x = mil_op_arg_value(c->p, op, "x");
        if (!x || x->type.rank < 1) continue;
        int64_t transpose_x = 0;
        const_int(mil_op_arg_value(c->p, op, "transpose_x"), &transpose_x);
        /* x is [..., M, K], or [..., K, M] when transposed; rank 1 is [K]. */
        int rank = x->type.rank;
        int64_t inner = (transpose_x && rank >= 2) ? x->type.shape[rank - 2] : x->type.shape[rank - 1];
        if (inner % MATMUL_INNER_MULTIPLE == 0) continue;
        finding(c, op->line, op->column,
                "matmul inner dimension %lld is not a multiple of %d; outputs are reported to "
                "come back zero: pad it with zeros to a multiple of %d",
                (long long)inner, MATMUL_INNER_MULTIPLE, MATMUL_INNER_MULTIPLE);
    }
}

static void check_max_width(check_ctx *c)
{
    for (int i = 0; i < c->p->n_values; i++) {
        const mil_value *v = &c->p->values[i];
        if (v->kind == MIL_VALUE_CONST) continue;
        int64_t w = last_axis(&v->type);
        if (w <= MAX_SPATIAL_WIDTH) continue;
        finding(c, v->line, v->column,
                "'%s' has a last axis of %lld elements, over the ANE's limit of %d; split the "
                "spatial axis (several dispatches, or move part of it to channels)",
                v->name, (long long)w, MAX_SPATIAL_WIDTH);
    }
}

static void min_io_width_one(check_ctx *c, const mil_value *v, const char *what)
{
    int64_t w = last_axis(&v->type);
    if (w >= MIN_IO_WIDTH) return;
    finding(c, v->line, v->column,
            "%s '%s' has a spatial width of %lld (< %d): narrower I/O is reported to fail at "
            "eval with status 0x1d, though width 16 ran with surfaces of 49 KB or more; pad the "
            "spatial axis to %d",
            what, v->name, (long long)w, MIN_IO_WIDTH, MIN_IO_WIDTH);
}

static void check_min_io_width(check_ctx *c) { for_each_io(c, min_io_width_one); }

static void io_row_align_one(check_ctx *c, const mil_value *v, const char *what)
{
    int size = mil_dtype_size(v->type.dtype);
    unsigned align = c->chip->row_align_bytes;
    if (size <= 0 || align == 0) return;
    int64_t bytes = last_axis(&v->type) * size;
    if (bytes % align == 0) return;
    finding(c, v->line, v->column,
            "%s '%s' rows are %lld bytes (%lld x %s), not a multiple of the %u-byte row "
            "alignment: a misaligned width silently reads or writes wrong data; make the "
            "spatial axis a multiple of %u elements",
            what, v->name, (long long)bytes, (long long)last_axis(&v->type),
            mil_dtype_name(v->type.dtype), align, align / (unsigned)size);
}

static void check_io_row_align(check_ctx *c) { for_each_io(c, io_row_align_one); }

static void check_conv_input_channels(check_ctx *c)
{
    for (int i = 0; i < c->p->n_ops; i++) {
        const mil_op *op = &c->p->ops[i];
        if (op->code != MIL_OP_CONV) continue;
        const mil_value *x = mil_op_arg_value(c->p, op, "x");
        if (!x || x->type.rank < 2 || x->type.shape[1] <= MAX_CONV_INPUT_CHANNELS) continue;
        finding(c, op->line, op->column,
                "conv with %lld input channels (over %d) is rejected by the compiler; use a "
                "matmul, or split the input channels into several convs and add the results",
                (long long)x->type.shape[1], MAX_CONV_INPUT_CHANNELS);
    }
}

static void check_output_live(check_ctx *c)
{
    for (int i = 0; i < c->p->n_outputs; i++) {
        const mil_value *v = value_at(c->p, c->p->outputs[i]);
        if (!v || v->kind == MIL_VALUE_OP) continue;
        finding(c, v->line, v->column,
                "output '%s' is a %s, not the result of an op; the compiler needs live nodes "
                "(InvalidMILProgram): return the result of a computing op",
                v->name, v->kind == MIL_VALUE_INPUT ? "function input" : "constant");
    }
}

static void check_dead_code(check_ctx *c)
{
    for (int i = 0; i < c->p->n_values; i++) {
        const mil_value *v = &c->p->values[i];
        if (v->n_uses > 0 || is_inline_literal(v)) continue;
        finding(c, v->line, v->column,
                "'%s' is never used; the compiler is reported to reject dead code: remove it",
                v->name);
    }
}

static void check_elementwise_only(check_ctx *c)
{
    const mil_op *first = NULL;
    for (int i = 0; i < c->p->n_ops; i++) {
        const mil_op *op = &c->p->ops[i];
        if (op->code == MIL_OP_CONV || op->code == MIL_OP_MATMUL || op->code == MIL_OP_LINEAR ||
            op->code == MIL_OP_SCALED_DOT_PRODUCT_ATTENTION)
            return;
        if (!first && op->code != MIL_OP_CONST) first = op;
    }
    finding(c, first ? first->line : 1, first ? first->column : 1,
            "the program has no conv, matmul or linear op; programs of elementwise ops only may "
            "be refused: fuse them into a kernel that has one");
}

/* ---------------------------------------------------------------- the table */

static const chip_rule rules[] = {
    /* id                         m1..m5 */
    {"dialect", "EE---",
     "program(1.3)/ios18 text on M1/M2",
     "M1/M2 compile only program(1.0) with func main<ios16> and verbose tensor<T, []>(v) "
     "scalars; emit that dialect for them (M3 and later accept both)",
     "maderix/ANE PR #6; cross-chip report (M1 inmem_peak FAIL: MIL compatibility)",
     check_dialect},
    {"fp16-io", "EE---",
     "a function input or output that is not fp16 on M1/M2",
     "M1/M2 cannot cast, so their I/O must be fp16; convert on the host",
     "maderix/ANE PR #6", check_fp16_io},
    {"no-cast", "EE---",
     "the cast op on M1/M2",
     "cast is not supported on M1/M2; use fp16 inputs and outputs",
     "maderix/ANE PR #6; reference/ane-maderix.md section 8", check_no_cast},
    {"blob-per-matrix", "EE---",
     "one weight blob file read at more than one offset, on M1/M2",
     "M1 rejects multi-weight blob files (single-blob weights FAIL); give every matrix its own "
     "file at offset 64",
     "maderix/ANE benchmarks/ANE_BENCHMARK_REPORT.md; reference/ane-ecosystem.md (b)",
     check_blob_per_matrix},
    {"concat", "--EWW",
     "the concat op",
     "ANECCompile() FAILED on M3 Ultra (macOS 26.3.1) and on M4 Max (Orion, macOS 15); works "
     "for maderix (M4, M5 static pipeline) and Rustane (M4 Max). M3: error. M4: warning "
     "(conflict). M5: warning, because the maderix static pipeline, which concatenates its "
     "outputs, ran there. Return parts as separate outputs",
     "Rustane results/2026-03-19_m3ultra_report.md; Orion docs/ane_constraints.md #1; "
     "maderix/ANE cross-chip report",
     check_concat},
    {"sdpa", "EEWWW",
     "the scaled_dot_product_attention op",
     "an iOS 18 op, so absent from the ios16 opset M1/M2 compile; listed as verified on M4 Max "
     "but unused by every training project; write attention out with matmul and softmax",
     "coremltools opset iOS18; maderix/ANE docs/ANE_INTERNALS.md (dev-erik fork); "
     "reference/ane-maderix.md section 3.3",
     check_sdpa},
    {"sdpa-mask", "--EEE",
     "scaled_dot_product_attention with attn_mask",
     "the device ignores the mask, so the result is silently unmasked; write attention out: "
     "matmul(Q,K^T), mul(scale), add(mask), softmax, matmul(P,V)",
     "maderix/ANE test_ane_sdpa5.m; Orion docs/ane_constraints.md #6",
     check_sdpa_mask},
    {"gelu", "WWWWW",
     "the gelu op",
     "rejected per Orion (M4 Max) but listed as verified by the dev-erik notes (M4 Max): "
     "conflict; use the tanh form",
     "Orion docs/ane_constraints.md #10; maderix/ANE docs/ANE_INTERNALS.md (dev-erik fork)",
     check_gelu},
    {"rsqrt-after-reduce", "EEEEE",
     "rsqrt or sqrt whose input is a reduce result",
     "fails to compile; use pow(x, -0.5) (or pow(x, 0.5)), as every RMSNorm in MIL does",
     "Rustane README gotchas; reference/ane-ecosystem.md (b)",
     check_rsqrt_after_reduce},
    {"m5-unsupported-op", "----E",
     "exp, log or sqrt on M5",
     "the M5 compiler (macOS 26.5) has no sin, cos, exp, log or sqrt; use pow for sqrt and run "
     "the rest on the host",
     "electricapp/ane-bridge-rs, via reference/ane-ecosystem.md (b)",
     check_m5_unsupported_op},
    {"reduce-mean", "WWWWE",
     "the reduce_mean op",
     "fails at dispatch on M5 (ane-bridge-rs); reported as not available in raw MIL text on "
     "earlier chips (community); use reduce_sum and mul by 1/N",
     "electricapp/ane-bridge-rs; hollance/neural-engine #44 via maderix/ANE issues",
     check_reduce_mean},
    {"softmax-pow2", "WWWWW",
     "softmax over an axis whose size is not a power of two",
     "reported to give InvalidMILProgram (community), yet ANEgpt runs a 32000-wide softmax: "
     "conflict; pad the axis to a power of two with -65504",
     "maderix/ANE issue #47 (community); vipuldivyanshu92/ANEgpt",
     check_softmax_pow2},
    {"slice-by-index-input", "EEEEE",
     "slice_by_index applied directly to a function input",
     "gives InvalidMILProgram; use slice_by_size, as every dynamic-weight kernel does",
     "maderix/ANE issue #47; reference/ane-maderix.md section 3.3",
     check_slice_by_index_input},
    {"conv-bias", "EEEEE",
     "conv with a bias= argument",
     "the ANE's conv has no bias; add the bias with a separate add",
     "Orion README; computer-graphics-tools/ane (conv plus a separate add)",
     check_conv_bias},
    {"matmul-transpose-const", "EEEEE",
     "matmul transpose_x/transpose_y given as an inline literal",
     "the flags must be named bool consts; declare bool bF = const()[...] and pass bF",
     "Orion README; computer-graphics-tools/ane",
     check_matmul_transpose_const},
    {"matmul-inner-32", "WWWWW",
     "matmul whose inner dimension is not a multiple of 32",
     "outputs reported to come back zero (single community report, chip not named); pad the "
     "inner dimension with zeros",
     "maderix/ANE issue #47 (community)",
     check_matmul_inner_32},
    {"max-width", "EEEEE",
     "a computed tensor whose last axis exceeds 16384",
     "16384 is the ANE's maximum spatial width; split the spatial axis",
     "Rustane ffn_fused.rs ANE_MAX_SPATIAL_WIDTH; Anemll (dimension limited to 16384)",
     check_max_width},
    {"min-io-width", "WWWWW",
     "a function input or output narrower than 64 elements",
     "the ane crate rejects widths under 64 (status 0x1d at eval, M1-M5) while Orion evaluates "
     "width 16 with surfaces of 49 KB or more: conflict; pad the spatial axis to 64",
     "computer-graphics-tools/ane MIN_SPATIAL_WIDTH; Orion docs/ane_constraints.md #4",
     check_min_io_width},
    {"io-row-align", "EEEEE",
     "function I/O rows whose byte length is not a multiple of the row alignment (64 bytes)",
     "each row is padded to a 64-byte stride on the device, so a misaligned width silently "
     "corrupts data ([1,100,1,4082] came back with stride 4096); use widths that are multiples "
     "of 32 (fp16) or 16 (fp32)",
     "tmc/apple x/ane; Rustane gotchas; electricapp/ane-bridge-rs",
     check_io_row_align},
    {"conv-input-channels", "EEEEE",
     "conv with more than 16384 input channels",
     "a 32000-input-channel conv is rejected (classifier backward); 16384 is the documented "
     "dimension limit; use a matmul or split the channels",
     "vipuldivyanshu92/ANEgpt; maderix/ANE section 8; Anemll (16384 limit)",
     check_conv_input_channels},
    {"output-live", "EEEEE",
     "a function output that is a function input or a constant",
     "returned names must be live nodes, else InvalidMILProgram; return an op's result",
     "Orion README", check_output_live},
    {"dead-code", "WWWWW",
     "a value that nothing uses",
     "the compiler is reported to reject dead code (Orion); remove the value",
     "Orion README; reference/ane-ecosystem.md (b)", check_dead_code},
    {"elementwise-only", "WWWWW",
     "a program without a conv, matmul or linear op",
     "graphs of elementwise ops only may be refused; include a conv or matmul",
     "Orion, via reference/ane-ecosystem.md (b)", check_elementwise_only},
    {"compile-budget", "EEEEE",
     "more than 119 successful compiles in one process",
     "the ANE's compiler service stops after ~119 compiles per process; compile once and "
     "stream weights through inputs, or restart the process",
     "maderix/ANE PR #23 (119-132 on M4); reference/ane-maderix.md section 8",
     NULL},
};

#define N_RULES ((int)(sizeof rules / sizeof rules[0]))

/* A chip's column in the levels strings; -1 for "none" and any other profile. */
static int chip_column(const ane_chip_profile *chip)
{
    const char *n = chip->name;
    if (n && n[0] == 'm' && n[1] >= '1' && n[1] <= '5' && n[2] == '\0') return n[1] - '1';
    return -1;
}

int mil_check_rules(const mil_program *p, const ane_chip_profile *chip, mil_diags *diags)
{
    if (!p || !chip || !diags) return 0;
    int column = chip_column(chip);
    if (column < 0) return 0;
    int errors_before = diags->n_errors;
    for (int r = 0; r < N_RULES; r++) {
        char level = rules[r].levels[column];
        if (level == '-' || !rules[r].check) continue;
        check_ctx c = {p, chip, &rules[r], level == 'E' ? MIL_SEV_ERROR : MIL_SEV_WARNING, diags};
        rules[r].check(&c);
    }
    return diags->n_errors - errors_before;
}

void ane_chip_profile_json_members(const ane_chip_profile *chip, ane_strbuf *sb)
{
    static const char *const dialect_names[] = {"ios18", "ios16"};
    ane_sb_append(sb, "\"name\":", 7);
    ane_sb_json_str(sb, chip->name);
    ane_sb_append(sb, ",\"description\":", 15);
    ane_sb_json_str(sb, chip->description);
    ane_sb_append(sb, ",\"dialects\":[", 13);
    int n = 0;
    for (int d = 0; d < 2; d++) {
        if (!(chip->dialects & (1u << d))) continue;
        if (n++) ane_sb_append(sb, ",", 1);
        ane_sb_json_str(sb, dialect_names[d]);
    }
    ane_sb_append(sb, "],\"preferred_dialect\":", 22);
    ane_sb_json_str(sb, dialect_names[chip->preferred_dialect == MIL_DIALECT_IOS16]);
    ane_sb_printf(sb, ",\"row_align_bytes\":%u,\"surface_align_bytes\":%u,\"compile_limit\":%u",
                  chip->row_align_bytes, chip->surface_align_bytes, chip->compile_limit);
    ane_sb_printf(sb, ",\"peak_fp16_tflops\":%.2f,\"peak_source\":", chip->peak_fp16_tflops);
    ane_sb_json_str(sb, chip->peak_source);
    ane_sb_append(sb, ",\"rules\":[", 10);
    int column = chip_column(chip);
    n = 0;
    for (int r = 0; column >= 0 && r < N_RULES; r++) {
        char level = rules[r].levels[column];
        if (level == '-') continue;
        if (n++) ane_sb_append(sb, ",", 1);
        ane_sb_append(sb, "{\"id\":", 6);
        ane_sb_json_str(sb, rules[r].id);
        ane_sb_printf(sb, ",\"severity\":\"%s\",\"what\":", level == 'E' ? "error" : "warning");
        ane_sb_json_str(sb, rules[r].what);
        ane_sb_append(sb, ",\"why\":", 7);
        ane_sb_json_str(sb, rules[r].why);
        ane_sb_append(sb, ",\"source\":", 10);
        ane_sb_json_str(sb, rules[r].source);
        ane_sb_append(sb, "}", 1);
    }
    ane_sb_append(sb, "]", 1);
}
