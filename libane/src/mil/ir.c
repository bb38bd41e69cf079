/* ir.c — helpers on the parsed program (ir.h), the diagnostics list (mil.h), the arena that
 * owns a program's memory, and the fp16 rounding every constant goes through. */
#include "../core/platform.h"
#include "front.h"

/* ---------------------------------------------------------------- names */

static const char *const dtype_names[MIL_DTYPE_COUNT] = {
    "fp16", "fp32", "fp64", "int8", "uint8", "int16", "uint16", "int32", "uint32",
    "int64", "uint64", "bool", "string",
};
static const int dtype_sizes[MIL_DTYPE_COUNT] = { 2, 4, 8, 1, 1, 2, 2, 4, 4, 8, 8, 1, 0 };

const char *mil_dtype_name(mil_dtype t)
{
    return (unsigned)t < MIL_DTYPE_COUNT ? dtype_names[t] : "?";
}

int mil_dtype_size(mil_dtype t) { return (unsigned)t < MIL_DTYPE_COUNT ? dtype_sizes[t] : 0; }

int mil_dtype_is_float(mil_dtype t) { return t == MIL_FP16 || t == MIL_FP32 || t == MIL_FP64; }

int mil_dtype_from_name(const char *s, size_t n, mil_dtype *out)
{
    for (int i = 0; i < MIL_DTYPE_COUNT; i++) {
        if (strlen(dtype_names[i]) == n && memcmp(dtype_names[i], s, n) == 0) {
            *out = (mil_dtype)i;
            return 1;
        }
    }
    return 0;
}

static const char *const op_names[MIL_OP_COUNT] = {
    "unknown",
#define MIL_OP_NAME(id, str) str,
    MIL_OPS(MIL_OP_NAME)
#undef MIL_OP_NAME
};

const char *mil_opcode_name(mil_opcode op)
{
    return (unsigned)op < MIL_OP_COUNT ? op_names[op] : "unknown";
}

mil_opcode mil_opcode_from_name(const char *name)
{
    if (!name) return MIL_OP_UNKNOWN;
    for (int i = 1; i < MIL_OP_COUNT; i++)
        if (strcmp(op_names[i], name) == 0) return (mil_opcode)i;
    return MIL_OP_UNKNOWN;
}

int64_t mil_type_elems(const mil_type *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->shape[i];
    return n;
}

int64_t mil_shape_elems_checked(const int64_t *shape, int rank)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] <= 0 || shape[i] > MIL_MAX_TENSOR_ELEMS) return -1;
        n *= shape[i];  /* both factors <= 2^31: no overflow */
        if (n > MIL_MAX_TENSOR_ELEMS) return -1;
    }
    return n;
}

const mil_arg *mil_op_arg(const mil_program *p, const mil_op *op, const char *name)
{
    (void)p;
    for (int i = 0; i < op->n_args; i++)
        if (strcmp(op->args[i].name, name) == 0) return &op->args[i];
    return NULL;
}

const mil_value *mil_op_arg_value(const mil_program *p, const mil_op *op, const char *name)
{
    const mil_arg *a = mil_op_arg(p, op, name);
    if (!a || a->is_tuple || a->n != 1) return NULL;
    return &p->values[a->values[0]];
}

char *mil_type_str(const mil_type *t, char *buf, size_t cap)
{
    if (!buf || cap == 0) return buf;
    size_t len = 0;
    int n = snprintf(buf, cap, "tensor<%s, [", mil_dtype_name(t->dtype));
    len = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < t->rank && len < cap; i++) {
        n = snprintf(buf + len, cap - len, i ? ", %lld" : "%lld", (long long)t->shape[i]);
        if (n > 0) len += (size_t)n;
    }
    if (len < cap) snprintf(buf + len, cap - len, "]>");
    return buf;
}

/* ---------------------------------------------------------------- fp16 */

double mil_round_fp16(double x)
{
    if (isnan(x) || isinf(x) || x == 0) return x;
    double a = fabs(x);
    /* 65520 is halfway between 65504 (the largest fp16) and 65536: it and above round to inf. */
    if (a >= 65520.0) return x < 0 ? -INFINITY : INFINITY;
    /* The spacing q of fp16 numbers near a: 2^(e-10) for a in [2^e, 2^(e+1)), e >= -14;
     * 2^-24 for subnormals. e comes from the double's exponent bits. */
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    if (e < -14) e = -14;
    uint64_t qbits = (uint64_t)(e - 10 + 1023) << 52;
    double q;
    memcpy(&q, &qbits, sizeof q);
    /* Adding then subtracting q*2^52 rounds a to a multiple of q, to nearest even, in the
     * FPU's default rounding mode; a < q*2^52 always holds here. */
    volatile double big = q * 4503599627370496.0;
    volatile double sum = a + big;
    double r = sum - big;
    return x < 0 ? -r : r;
}

double mil_fp16_bits_to_double(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    double v;
    if (exp == 0x1f) v = man ? NAN : INFINITY;
    else if (exp == 0) v = man * (1.0 / 16777216.0);               /* man * 2^-24 */
    else {
        v = (1024 + man);
        for (int i = exp - 25; i > 0; i--) v *= 2.0;               /* (1024+man) * 2^(exp-25) */
        for (int i = exp - 25; i < 0; i++) v *= 0.5;
    }
    return sign ? -v : v;
}

/* ---------------------------------------------------------------- arena */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} arena_block;

struct mil_arena {
    arena_block *head;
};

#define ARENA_BLOCK 65536

mil_arena *mil_arena_new(void) { return calloc(1, sizeof(mil_arena)); }

void *mil_arena_alloc(mil_arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    size_t bytes = count * size;
    if (bytes > SIZE_MAX - 64) return NULL;
    bytes = (bytes + 15) & ~(size_t)15;
    if (bytes == 0) bytes = 16;
    arena_block *b = a->head;
    if (!b || b->cap - b->used < bytes) {
        /* Big requests get a block of their own, placed behind the current one so the
         * current block's free space stays usable. */
        size_t cap = bytes > ARENA_BLOCK / 4 ? bytes : ARENA_BLOCK;
        arena_block *nb = malloc(sizeof(arena_block) + cap);
        if (!nb) return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (b && cap != ARENA_BLOCK) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += bytes;
    memset(p, 0, bytes);
    return p;
}

char *mil_arena_strndup(mil_arena *a, const char *s, size_t n)
{
    char *d = mil_arena_alloc(a, n + 1, 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void mil_arena_free(mil_arena *a)
{
    if (!a) return;
    arena_block *b = a->head;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void mil_program_free(mil_program *p)
{
    if (!p) return;
    /* The program struct itself lives in its arena. */
    mil_arena_free((mil_arena *)p->arena);
}

/* ---------------------------------------------------------------- diagnostics */

void mil_diag_add(mil_diags *d, mil_severity sev, ane_status status, const char *rule,
                  int line, int column, const char *fmt, ...)
{
    if (!d) return;
    if (sev == MIL_SEV_ERROR) d->n_errors++;
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 8;
        mil_diag *items = realloc(d->items, (size_t)cap * sizeof *items);
        if (!items) return;  /* out of memory: the finding is counted but not kept */
        d->items = items;
        d->cap = cap;
    }
    mil_diag *g = &d->items[d->n++];
    g->severity = sev;
    g->status = status;
    g->rule = rule;
    g->line = line;
    g->column = column;
    size_t off = 0;
    if (line > 0) {
        int n = snprintf(g->message, sizeof g->message, "line %d, column %d: ", line, column);
        off = n > 0 && (size_t)n < sizeof g->message ? (size_t)n : 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->message + off, sizeof g->message - off, fmt, ap);
    va_end(ap);
}

void mil_diags_free(mil_diags *d)
{
    if (!d) return;
    free(d->items);
    d->items = NULL;
    d->n = d->cap = d->n_errors = 0;
}

const mil_diag *mil_diags_first_error(const mil_diags *d)
{
    if (!d) return NULL;
    for (int i = 0; i < d->n; i++)
        if (d->items[i].severity == MIL_SEV_ERROR) return &d->items[i];
    return NULL;
}
