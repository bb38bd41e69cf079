/*
 * ir.h — the parsed, typed form of one MIL program. Produced by the front end (mil.h), read
 * by the chip-rule checker (rules.h) and by each backend's compiler (cpu: plan.c).
 *
 * A program is a list of ops in SSA order. Every named thing is a mil_value: the function's
 * inputs, each op's result, and each constant (a `const` op, an inline literal argument, or
 * a BLOBFILE reference resolved against the weight blobs). Ops refer to values by index.
 *
 * Memory: everything hangs off the program's arena and is freed by mil_program_free.
 */
#ifndef MIL_IR_H
#define MIL_IR_H

#include <stddef.h>
#include <stdint.h>

#define MIL_MAX_RANK 8

typedef enum mil_dtype {
    MIL_FP16, MIL_FP32, MIL_FP64,
    MIL_INT8, MIL_UINT8, MIL_INT16, MIL_UINT16, MIL_INT32, MIL_UINT32, MIL_INT64, MIL_UINT64,
    MIL_BOOL, MIL_STRING,
    MIL_DTYPE_COUNT
} mil_dtype;

/* A tensor type; rank 0 is a scalar. */
typedef struct mil_type {
    mil_dtype dtype;
    int rank;
    int64_t shape[MIL_MAX_RANK];
} mil_type;

/* Where a value comes from. */
typedef enum mil_value_kind {
    MIL_VALUE_INPUT,   /* a parameter of the function */
    MIL_VALUE_OP,      /* the result of a non-const op */
    MIL_VALUE_CONST    /* a constant: const op, inline literal or BLOBFILE */
} mil_value_kind;

/* Constant payload. Exactly one of the arrays is set, by dtype:
 *   fp16/fp32/fp64            -> f (float64 copy of the exact values; fp16 values are exact
 *                                 fp16 numbers, already rounded as the declared type says)
 *   int and bool types        -> i
 *   string                    -> s (a scalar string)
 * n = number of elements (product of the shape; 1 for a scalar). */
typedef struct mil_const {
    int64_t n;
    double *f;
    int64_t *i;
    char *s;
    /* For BLOBFILE constants: where the data came from (for rules and diagnostics). */
    const char *blob_path;     /* NULL for inline constants */
    uint64_t blob_offset;
} mil_const;

typedef struct mil_value {
    const char *name;          /* NUL-terminated; synthetic "%lit<N>" for inline literals */
    mil_type type;
    mil_value_kind kind;
    int def_op;                /* index of the op that defines it, -1 for inputs */
    int line, column;          /* where it was defined in the text (1-based) */
    mil_const cst;             /* valid when kind == MIL_VALUE_CONST */
    int n_uses;                /* how many op arguments and function outputs refer to it */
} mil_value;

/* Every op libane knows, by MIL name (see mil_opcode_name). Unknown op names are a parse
 * error, so MIL_OP_UNKNOWN never appears in a parsed program. */
#define MIL_OPS(X) \
    X(CONST, "const") \
    X(CONV, "conv") \
    X(MATMUL, "matmul") \
    X(LINEAR, "linear") \
    X(ADD, "add") X(SUB, "sub") X(MUL, "mul") X(REAL_DIV, "real_div") X(POW, "pow") \
    X(MAXIMUM, "maximum") X(MINIMUM, "minimum") \
    X(SQRT, "sqrt") X(RSQRT, "rsqrt") X(EXP, "exp") X(LOG, "log") \
    X(SIGMOID, "sigmoid") X(TANH, "tanh") X(RELU, "relu") X(GELU, "gelu") X(SILU, "silu") \
    X(CLIP, "clip") \
    X(REDUCE_SUM, "reduce_sum") X(REDUCE_MAX, "reduce_max") X(REDUCE_MEAN, "reduce_mean") \
    X(SOFTMAX, "softmax") \
    X(LAYER_NORM, "layer_norm") \
    X(SCALED_DOT_PRODUCT_ATTENTION, "scaled_dot_product_attention") \
    X(RESHAPE, "reshape") X(TRANSPOSE, "transpose") \
    X(SLICE_BY_SIZE, "slice_by_size") X(SLICE_BY_INDEX, "slice_by_index") \
    X(CONCAT, "concat") \
    X(CAST, "cast") X(IDENTITY, "identity") \
    X(QUANTIZE, "quantize") X(DEQUANTIZE, "dequantize") \
    X(CONSTEXPR_AFFINE_DEQUANTIZE, "constexpr_affine_dequantize")

typedef enum mil_opcode {
    MIL_OP_UNKNOWN = 0,
#define MIL_OP_ENUM(id, str) MIL_OP_##id,
    MIL_OPS(MIL_OP_ENUM)
#undef MIL_OP_ENUM
    MIL_OP_COUNT
} mil_opcode;

/* One named argument: `x=a`, or a tuple `values=(a,b,c)`. Each entry is a value index;
 * inline literals were turned into constant values by the parser. */
typedef struct mil_arg {
    const char *name;
    int n;             /* 1 for a plain argument, the tuple length for a tuple */
    int *values;
    int is_tuple;
} mil_arg;

typedef struct mil_op {
    mil_opcode code;
    const char *op_name;       /* the text's name (for messages) */
    int line, column;          /* where the statement starts (1-based) */
    int n_args;
    mil_arg *args;
    int n_outputs;             /* 1 for every op libane knows */
    int outputs[2];            /* value indices */
    /* Attributes in [...] after the call, other than name: kept for rules/diagnostics. */
    const char *attr_name;     /* the name=string("...") attribute, or NULL */
} mil_op;

typedef enum mil_dialect {
    MIL_DIALECT_IOS18 = 0,     /* program(1.3), func main<ios18>, compact scalar syntax */
    MIL_DIALECT_IOS16 = 1      /* program(1.0), func main<ios16>, verbose tensor<T, []>(v) syntax */
} mil_dialect;

typedef struct mil_program {
    mil_dialect dialect;
    char program_version[16];  /* "1.3", "1.0" */
    char opset[16];            /* "ios18", "ios16", ... */
    char func_name[64];        /* "main" */

    int n_values;
    mil_value *values;
    int n_ops;
    mil_op *ops;

    int n_inputs;
    int *inputs;               /* value indices, parameter order */
    int n_outputs;
    int *outputs;              /* value indices, result-tuple order */

    /* The distinct BLOBFILE paths the program references, in first-use order, and for each
     * the number of distinct offsets used (rules: per-matrix blob files on M1/M2). */
    int n_blob_files;
    const char **blob_files;
    int *blob_file_refs;

    void *arena;               /* owner of every allocation above */
} mil_program;

/* Helpers every consumer uses (implemented in ir.c). */
const char *mil_dtype_name(mil_dtype t);            /* "fp16" ... */
int mil_dtype_size(mil_dtype t);                    /* bytes per element; 0 for string */
int mil_dtype_is_float(mil_dtype t);
const char *mil_opcode_name(mil_opcode op);         /* "conv" ... */
mil_opcode mil_opcode_from_name(const char *name);  /* MIL_OP_UNKNOWN when unknown */
int64_t mil_type_elems(const mil_type *t);          /* product of the shape (1 for scalars) */
/* The argument named `name` of an op, or NULL. */
const mil_arg *mil_op_arg(const mil_program *p, const mil_op *op, const char *name);
/* The value of a single (non-tuple) argument, or NULL when absent. */
const mil_value *mil_op_arg_value(const mil_program *p, const mil_op *op, const char *name);
/* Writes "tensor<fp16, [1, 64, 1, 32]>" into buf. Returns buf. */
char *mil_type_str(const mil_type *t, char *buf, size_t cap);

#endif /* MIL_IR_H */
