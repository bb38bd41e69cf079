/* parser.c — MIL text -> mil_program (ir.h), by recursive descent over the lexer's tokens.
 *
 * Grammar (both dialects; scalars may be written `fp16(0.5)` or `tensor<fp16, []>(0.5)`):
 *   program   := 'program' '(' version ')' [ '[' attribute... ']' ] '{' function '}'
 *   function  := 'func' name '<' opset '>' '(' [type name {',' type name}] ')'
 *                '{' statement* '}' '->' '(' [name {',' name}] ')' ';'
 *   statement := type name '=' op '(' [arg {',' arg}] ')' [ '[' attr {',' attr} ']' ] ';'
 *   arg       := name '=' (name | literal | '(' (name | literal) {',' ...} ')')
 *   type      := 'tensor' '<' dtype ',' '[' [dim {',' dim}] ']' '>' | dtype
 *   literal   := type '(' (scalar | '[' list ']' | BLOBFILE '(' path '=' literal ','
 *                offset '=' literal ')') ')'
 * Recursion is bounded (nested lists are limited to MIL_MAX_RANK levels; tuples and BLOBFILE
 * one level), so deep nesting in hostile text cannot exhaust the stack. The first error
 * stops the parse: it is the one reported. */
#include "../core/platform.h"
#include "front.h"

typedef struct parser {
    mil_lexer lx;
    mil_token tok;             /* the current token */
    mil_arena *arena;
    mil_program *p;
    mil_diags *diags;
    const ane_weight *weights;
    size_t n_weights;
    int failed;
    int cap_values, cap_ops;
    int *hash;                 /* open addressing: value index + 1, 0 = empty */
    int hash_cap;
    int n_lits;                /* inline literals so far, for "%lit<N>" names */
    struct blob_ref { int file; uint64_t offset; } *refs;
    int n_refs, cap_refs, cap_blob_files;
    uint64_t *scratch;         /* literal list elements while parsing (malloc'd) */
    size_t scratch_cap;
} parser;

/* ---------------------------------------------------------------- errors, tokens */

static int fail(parser *ps, ane_status st, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(parser *ps, ane_status st, int line, int column, const char *fmt, ...)
{
    if (ps->failed) return 0;
    ps->failed = 1;
    char msg[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mil_diag_add(ps->diags, MIL_SEV_ERROR, st, NULL, line, column, "%s", msg);
    return 0;
}

static int oom(parser *ps)
{
    return fail(ps, ANE_ERR_NO_MEMORY, 0, 0, "out of memory while parsing the MIL program");
}

static int next(parser *ps)
{
    char err[200];
    int line, column;
    if (!mil_lex_next(&ps->lx, &ps->tok, err, sizeof err, &line, &column))
        return fail(ps, ANE_ERR_PARSE, line, column, "%s", err);
    return 1;
}

/* The token after the current one, without consuming anything. */
static mil_tok_kind peek_kind(parser *ps)
{
    mil_lexer copy = ps->lx;
    mil_token t;
    char err[8];
    int line, column;
    if (!mil_lex_next(&copy, &t, err, sizeof err, &line, &column)) return TK_EOF;
    return t.kind;
}

static int is_word(const mil_token *t, const char *w)
{
    return t->kind == TK_IDENT && t->len == strlen(w) && memcmp(t->start, w, t->len) == 0;
}

/* Quote the current token for messages ("'foo'" or "end of text"). */
static const char *tok_desc(const mil_token *t, char *buf, size_t cap)
{
    if (t->kind == TK_EOF) return "end of text";
    int n = t->len > 40 ? 40 : (int)t->len;
    snprintf(buf, cap, "'%.*s%s'", n, t->start, t->len > 40 ? "..." : "");
    return buf;
}

static int expect(parser *ps, mil_tok_kind k, const char *what)
{
    if (ps->failed) return 0;
    if (ps->tok.kind != k) {
        char b[64];
        return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "expected %s %s, found %s",
                    mil_tok_kind_name(k), what, tok_desc(&ps->tok, b, sizeof b));
    }
    return next(ps);
}

static int expect_word(parser *ps, const char *w, const char *what)
{
    if (ps->failed) return 0;
    if (!is_word(&ps->tok, w)) {
        char b[64];
        return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "expected '%s' %s, found %s",
                    w, what, tok_desc(&ps->tok, b, sizeof b));
    }
    return next(ps);
}

/* Skip one attribute value or a buildInfo block: tokens up to the ',' or ']' that closes
 * it at bracket depth 0 (iterative, so nesting depth costs nothing). */
static int skip_balanced(parser *ps)
{
    long depth = 0;
    for (;;) {
        mil_tok_kind k = ps->tok.kind;
        if (k == TK_EOF)
            return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column,
                        "text ends inside an attribute list (missing ']')");
        if (depth == 0 && (k == TK_COMMA || k == TK_RBRACKET)) return 1;
        if (k == TK_LPAREN || k == TK_LBRACKET || k == TK_LBRACE) depth++;
        if (k == TK_RPAREN || k == TK_RBRACKET || k == TK_RBRACE) {
            if (--depth < 0)
                return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "unbalanced brackets in attributes");
        }
        if (!next(ps)) return 0;
    }
}

/* ---------------------------------------------------------------- values and names */

static unsigned hash_name(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int find_value(parser *ps, const char *name)
{
    if (!ps->hash_cap) return -1;
    unsigned mask = (unsigned)ps->hash_cap - 1;
    for (unsigned i = hash_name(name) & mask;; i = (i + 1) & mask) {
        int v = ps->hash[i];
        if (!v) return -1;
        if (strcmp(ps->p->values[v - 1].name, name) == 0) return v - 1;
    }
}

static int hash_insert(parser *ps, int index)
{
    if ((ps->p->n_values + 1) * 2 > ps->hash_cap) {
        int cap = ps->hash_cap ? ps->hash_cap * 2 : 256;
        int *h = mil_arena_alloc(ps->arena, (size_t)cap, sizeof *h);
        if (!h) return oom(ps);
        unsigned mask = (unsigned)cap - 1;
        for (int i = 0; i < ps->hash_cap; i++) {
            int v = ps->hash[i];
            if (!v) continue;
            unsigned j = hash_name(ps->p->values[v - 1].name) & mask;
            while (h[j]) j = (j + 1) & mask;
            h[j] = v;
        }
        ps->hash = h;
        ps->hash_cap = cap;
    }
    unsigned mask = (unsigned)ps->hash_cap - 1;
    unsigned j = hash_name(ps->p->values[index].name) & mask;
    while (ps->hash[j]) j = (j + 1) & mask;
    ps->hash[j] = index + 1;
    return 1;
}

/* Append a value; named values must be new. Returns its index or -1. */
static int add_value(parser *ps, const char *name, const mil_type *t, mil_value_kind kind,
                     int def_op, int line, int column)
{
    mil_program *p = ps->p;
    if (name[0] != '%') {
        int old = find_value(ps, name);
        if (old >= 0) {
            fail(ps, ANE_ERR_PARSE, line, column,
                 "'%s' is already defined at line %d, column %d (every name is assigned once)",
                 name, p->values[old].line, p->values[old].column);
            return -1;
        }
    }
    if (p->n_values == ps->cap_values) {
        int cap = ps->cap_values ? ps->cap_values * 2 : 64;
        mil_value *v = mil_arena_alloc(ps->arena, (size_t)cap, sizeof *v);
        if (!v) { oom(ps); return -1; }
        if (p->n_values) memcpy(v, p->values, (size_t)p->n_values * sizeof *v);
        p->values = v;
        ps->cap_values = cap;
    }
    int i = p->n_values;
    mil_value *v = &p->values[i];
    v->name = name;
    v->type = *t;
    v->kind = kind;
    v->def_op = def_op;
    v->line = line;
    v->column = column;
    /* The name is added to the hash after the value so that lookups can read it. */
    p->n_values++;
    if (name[0] != '%' && !hash_insert(ps, i)) return -1;
    return i;
}

static char *tok_str(parser *ps, const mil_token *t)
{
    char *s = mil_arena_strndup(ps->arena, t->start, t->len);
    if (!s) oom(ps);
    return s;
}

/* ---------------------------------------------------------------- types */

static int parse_dtype(parser *ps, mil_dtype *dt)
{
    if (ps->tok.kind != TK_IDENT || !mil_dtype_from_name(ps->tok.start, ps->tok.len, dt)) {
        char b[64];
        return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column,
                    "expected a dtype (fp16, fp32, int32, bool, string ...), found %s",
                    tok_desc(&ps->tok, b, sizeof b));
    }
    return next(ps);
}

static int parse_int_token(parser *ps, const mil_token *t, int64_t *out);

/* type := 'tensor' '<' dtype ',' '[' dims ']' '>' | dtype */
static int parse_type(parser *ps, mil_type *t)
{
    memset(t, 0, sizeof *t);
    if (!is_word(&ps->tok, "tensor")) return parse_dtype(ps, &t->dtype);
    int line = ps->tok.line, column = ps->tok.column;
    if (!next(ps) || !expect(ps, TK_LT, "after 'tensor'") || !parse_dtype(ps, &t->dtype) ||
        !expect(ps, TK_COMMA, "after the dtype") || !expect(ps, TK_LBRACKET, "to start the shape"))
        return 0;
    while (ps->tok.kind != TK_RBRACKET) {
        if (t->rank > 0 && !expect(ps, TK_COMMA, "between dimensions")) return 0;
        if (t->rank == MIL_MAX_RANK)
            return fail(ps, ANE_ERR_TYPE, ps->tok.line, ps->tok.column, "tensor rank above %d", MIL_MAX_RANK);
        int64_t d;
        if (ps->tok.kind != TK_NUMBER || !parse_int_token(ps, &ps->tok, &d) || d <= 0) {
            char b[64];
            return fail(ps, ANE_ERR_TYPE, ps->tok.line, ps->tok.column,
                        "a dimension must be a positive integer, found %s", tok_desc(&ps->tok, b, sizeof b));
        }
        t->shape[t->rank++] = d;
        if (!next(ps)) return 0;
    }
    if (!next(ps) || !expect(ps, TK_GT, "to close the tensor type")) return 0;
    if (mil_shape_elems_checked(t->shape, t->rank) < 0)
        return fail(ps, ANE_ERR_TYPE, line, column, "tensor type has more than %lld elements",
                    (long long)MIL_MAX_TENSOR_ELEMS);
    return 1;
}

static int type_equal(const mil_type *a, const mil_type *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

/* ---------------------------------------------------------------- literals */

static int parse_int_token(parser *ps, const mil_token *t, int64_t *out)
{
    (void)ps;
    char buf[32];
    if (t->kind != TK_NUMBER || t->len == 0 || t->len >= sizeof buf) return 0;
    memcpy(buf, t->start, t->len);
    buf[t->len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

/* Convert the current token to an element of dtype dt, stored as 8 bytes (double or int64). */
static int parse_scalar(parser *ps, mil_dtype dt, uint64_t *slot)
{
    mil_token *t = &ps->tok;
    char b[64];
    if (dt == MIL_BOOL) {
        int64_t v;
        if (is_word(t, "true")) v = 1;
        else if (is_word(t, "false")) v = 0;
        else return fail(ps, ANE_ERR_PARSE, t->line, t->column, "expected true or false, found %s", tok_desc(t, b, sizeof b));
        memcpy(slot, &v, 8);
        return next(ps);
    }
    char buf[512];
    int word = t->kind == TK_IDENT && t->len < 9;   /* inf, nan, infinity */
    if ((t->kind != TK_NUMBER && !word) || t->len >= sizeof buf)
        return fail(ps, ANE_ERR_PARSE, t->line, t->column, "expected a %s number, found %s",
                    mil_dtype_name(dt), tok_desc(t, b, sizeof b));
    memcpy(buf, t->start, t->len);
    buf[t->len] = '\0';
    char *end;
    if (mil_dtype_is_float(dt)) {
        double v = strtod(buf, &end);   /* decimal, hex float, inf, nan */
        if (*end || end == buf)
            return fail(ps, ANE_ERR_PARSE, t->line, t->column, "'%s' is not a number", buf);
        if (dt == MIL_FP16) v = mil_round_fp16(v);
        else if (dt == MIL_FP32) v = (double)(float)v;
        memcpy(slot, &v, 8);
        return next(ps);
    }
    static const int64_t lo[MIL_DTYPE_COUNT] = { [MIL_INT8] = -128, [MIL_INT16] = -32768,
        [MIL_INT32] = INT32_MIN, [MIL_INT64] = INT64_MIN };
    static const uint64_t hi[MIL_DTYPE_COUNT] = { [MIL_INT8] = 127, [MIL_UINT8] = 255,
        [MIL_INT16] = 32767, [MIL_UINT16] = 65535, [MIL_INT32] = INT32_MAX, [MIL_UINT32] = UINT32_MAX,
        [MIL_INT64] = INT64_MAX, [MIL_UINT64] = INT64_MAX };
    errno = 0;
    int64_t v;
    if (buf[0] == '-') {
        long long s = strtoll(buf, &end, 10);
        v = s;
        if (errno || *end || end == buf || v < lo[dt])
            return fail(ps, ANE_ERR_PARSE, t->line, t->column, "'%s' is not a valid %s", buf, mil_dtype_name(dt));
    } else {
        unsigned long long u = strtoull(buf, &end, 10);
        if (errno || *end || end == buf || u > hi[dt])
            return fail(ps, ANE_ERR_PARSE, t->line, t->column, "'%s' is not a valid %s%s", buf,
                        mil_dtype_name(dt), dt == MIL_UINT64 ? " (at most 2^63-1 here)" : "");
        v = (int64_t)u;
    }
    memcpy(slot, &v, 8);
    return next(ps);
}

static int scratch_push(parser *ps, size_t n, uint64_t v)
{
    if (n == ps->scratch_cap) {
        size_t cap = ps->scratch_cap ? ps->scratch_cap * 2 : 256;
        uint64_t *s = realloc(ps->scratch, cap * sizeof *s);
        if (!s) return oom(ps);
        ps->scratch = s;
        ps->scratch_cap = cap;
    }
    ps->scratch[n] = v;
    return 1;
}

/* '[' elements or nested lists ']' -> scratch, flattened in order. Iterative. */
static int parse_list(parser *ps, mil_dtype dt, size_t *count)
{
    int depth = 0;
    size_t n = 0;
    int need_item = 0;   /* after '[' or ',' an item or ']' follows */
    do {
        if (ps->tok.kind == TK_LBRACKET && (need_item || depth == 0)) {
            if (++depth > MIL_MAX_RANK)
                return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "list literal nested deeper than %d", MIL_MAX_RANK);
            if (!next(ps)) return 0;
            need_item = 1;
            continue;
        }
        if (ps->tok.kind == TK_RBRACKET) {
            depth--;
            if (!next(ps)) return 0;
            need_item = 0;
        } else {
            if (!need_item) {
                char b[64];
                return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "expected ',' or ']' in a list, found %s",
                            tok_desc(&ps->tok, b, sizeof b));
            }
            uint64_t slot;
            if ((size_t)n >= (size_t)MIL_MAX_TENSOR_ELEMS)
                return fail(ps, ANE_ERR_TYPE, ps->tok.line, ps->tok.column, "list literal too long");
            if (!parse_scalar(ps, dt, &slot) || !scratch_push(ps, n, slot)) return 0;
            n++;
            need_item = 0;
        }
        if (depth > 0 && ps->tok.kind == TK_COMMA) { if (!next(ps)) return 0; need_item = 1; }
    } while (depth > 0);
    *count = n;
    return 1;
}

static int unescape_string(parser *ps, const mil_token *t, char **out)
{
    char *s = mil_arena_alloc(ps->arena, t->len + 1, 1);
    if (!s) return oom(ps);
    size_t k = 0;
    for (size_t i = 0; i < t->len; i++) {
        char c = t->start[i];
        if (c == '\\' && i + 1 < t->len) {
            c = t->start[++i];
            if (c == 'n') c = '\n';
            else if (c == 't') c = '\t';
        }
        s[k++] = c;
    }
    s[k] = '\0';
    *out = s;
    return 1;
}

static int parse_literal(parser *ps, mil_type *t, mil_const *c, const char *const_name, int in_blobfile);

/* BLOBFILE(path=<string literal>, offset=<uint64 literal>), after the word BLOBFILE. */
static int parse_blobfile(parser *ps, const mil_type *t, mil_const *c, const char *const_name, int line, int column)
{
    char *path = NULL;
    int64_t offset = -1;
    if (!next(ps) || !expect(ps, TK_LPAREN, "after BLOBFILE")) return 0;
    for (int i = 0; i < 2; i++) {
        if (i && !expect(ps, TK_COMMA, "between BLOBFILE arguments")) return 0;
        int is_path = is_word(&ps->tok, "path");
        if (!is_path && !is_word(&ps->tok, "offset"))
            return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "BLOBFILE takes path= and offset=");
        if (!next(ps) || !expect(ps, TK_EQUAL, "after a BLOBFILE argument name")) return 0;
        int al = ps->tok.line, ac = ps->tok.column;
        mil_type at;
        mil_const ac_;
        memset(&ac_, 0, sizeof ac_);
        if (!parse_literal(ps, &at, &ac_, const_name, 1)) return 0;
        if (is_path) {
            if (at.dtype != MIL_STRING || at.rank != 0 || path)
                return fail(ps, ANE_ERR_PARSE, al, ac, "BLOBFILE path must be one string literal");
            path = ac_.s;
        } else {
            if (at.dtype != MIL_UINT64 || at.rank != 0 || offset >= 0)
                return fail(ps, ANE_ERR_PARSE, al, ac, "BLOBFILE offset must be one uint64 literal");
            offset = ac_.i[0];
        }
    }
    if (!expect(ps, TK_RPAREN, "to close BLOBFILE")) return 0;
    if (t->dtype == MIL_STRING || t->dtype == MIL_BOOL)
        return fail(ps, ANE_ERR_WEIGHTS, line, column, "constant '%s': a BLOBFILE cannot hold %s data",
                    const_name, mil_dtype_name(t->dtype));
    char err[400];
    ane_status st = mil_blob_resolve(ps->weights, ps->n_weights, path, (uint64_t)offset, t, const_name,
                                     ps->arena, c, err, sizeof err);
    if (st != ANE_OK) return fail(ps, st, line, column, "%s", err);

    /* Record the file and whether this offset is new for it (rules count matrices per file). */
    mil_program *p = ps->p;
    int f = 0;
    while (f < p->n_blob_files && strcmp(p->blob_files[f], path) != 0) f++;
    if (f == p->n_blob_files) {
        if (f == ps->cap_blob_files) {
            int cap = f ? f * 2 : 8;
            const char **files = mil_arena_alloc(ps->arena, (size_t)cap, sizeof *files);
            int *refs = mil_arena_alloc(ps->arena, (size_t)cap, sizeof *refs);
            if (!files || !refs) return oom(ps);
            if (f) {
                memcpy(files, p->blob_files, (size_t)f * sizeof *files);
                memcpy(refs, p->blob_file_refs, (size_t)f * sizeof *refs);
            }
            p->blob_files = files;
            p->blob_file_refs = refs;
            ps->cap_blob_files = cap;
        }
        p->blob_files[f] = path;
        p->blob_file_refs[f] = 0;
        p->n_blob_files++;
    }
    for (int r = 0; r < ps->n_refs; r++)
        if (ps->refs[r].file == f && ps->refs[r].offset == (uint64_t)offset) return 1;
    if (ps->n_refs == ps->cap_refs) {
        int cap = ps->cap_refs ? ps->cap_refs * 2 : 16;
        struct blob_ref *r = mil_arena_alloc(ps->arena, (size_t)cap, sizeof *r);
        if (!r) return oom(ps);
        if (ps->n_refs) memcpy(r, ps->refs, (size_t)ps->n_refs * sizeof *r);
        ps->refs = r;
        ps->cap_refs = cap;
    }
    ps->refs[ps->n_refs].file = f;
    ps->refs[ps->n_refs].offset = (uint64_t)offset;
    ps->n_refs++;
    p->blob_file_refs[f]++;
    return 1;
}

/* literal := type '(' body ')'; the current token starts the type. */
static int parse_literal(parser *ps, mil_type *t, mil_const *c, const char *const_name, int in_blobfile)
{
    int line = ps->tok.line, column = ps->tok.column;
    memset(c, 0, sizeof *c);
    if (!parse_type(ps, t) || !expect(ps, TK_LPAREN, "to start a literal value")) return 0;
    int64_t elems = mil_type_elems(t);
    c->n = elems;
    if (is_word(&ps->tok, "BLOBFILE")) {
        if (in_blobfile) return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "BLOBFILE inside BLOBFILE");
        if (!parse_blobfile(ps, t, c, const_name, line, column)) return 0;
        return expect(ps, TK_RPAREN, "to close the literal");
    }
    if (t->dtype == MIL_STRING) {
        if (t->rank != 0)
            return fail(ps, ANE_ERR_TYPE, line, column, "string tensors are not supported; use a scalar string");
        if (ps->tok.kind != TK_STRING) {
            char b[64];
            return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "expected a string in quotes, found %s",
                        tok_desc(&ps->tok, b, sizeof b));
        }
        if (!unescape_string(ps, &ps->tok, &c->s) || !next(ps)) return 0;
        return expect(ps, TK_RPAREN, "to close the literal");
    }
    size_t n = 0;
    if (ps->tok.kind == TK_LBRACKET) {
        if (!parse_list(ps, t->dtype, &n)) return 0;
    } else {
        uint64_t slot;
        if (!parse_scalar(ps, t->dtype, &slot) || !scratch_push(ps, 0, slot)) return 0;
        n = 1;
        if (t->rank != 0)
            return fail(ps, ANE_ERR_TYPE, line, column, "a tensor literal of rank %d needs a [list] of values", t->rank);
    }
    if ((int64_t)n != elems) {
        char tb[160];
        return fail(ps, ANE_ERR_TYPE, line, column, "literal of type %s has %zu values, expected %lld",
                    mil_type_str(t, tb, sizeof tb), n, (long long)elems);
    }
    if (mil_dtype_is_float(t->dtype)) {
        c->f = mil_arena_alloc(ps->arena, n, sizeof(double));
        if (!c->f) return oom(ps);
        memcpy(c->f, ps->scratch, n * 8);
    } else {
        c->i = mil_arena_alloc(ps->arena, n, sizeof(int64_t));
        if (!c->i) return oom(ps);
        memcpy(c->i, ps->scratch, n * 8);
    }
    return expect(ps, TK_RPAREN, "to close the literal");
}

/* Does the current token start a literal (a type followed by '(' or 'tensor<')? */
static int at_literal(parser *ps)
{
    if (ps->tok.kind != TK_IDENT) return 0;
    mil_tok_kind k = peek_kind(ps);
    mil_dtype dt;
    if (is_word(&ps->tok, "tensor")) return k == TK_LT;
    return k == TK_LPAREN && mil_dtype_from_name(ps->tok.start, ps->tok.len, &dt);
}

/* An argument item: a defined name or an inline literal. Returns the value index or -1. */
static int parse_arg_item(parser *ps, const char *stmt_name)
{
    int line = ps->tok.line, column = ps->tok.column;
    if (at_literal(ps)) {
        mil_type t;
        mil_const c;
        if (!parse_literal(ps, &t, &c, stmt_name, 0)) return -1;
        char nm[32];
        snprintf(nm, sizeof nm, "%%lit%d", ps->n_lits++);
        char *name = mil_arena_strndup(ps->arena, nm, strlen(nm));
        if (!name) { oom(ps); return -1; }
        int v = add_value(ps, name, &t, MIL_VALUE_CONST, -1, line, column);
        if (v >= 0) ps->p->values[v].cst = c;
        return v;
    }
    if (ps->tok.kind != TK_IDENT) {
        char b[64];
        fail(ps, ANE_ERR_PARSE, line, column, "expected a name or a literal as argument value, found %s",
             tok_desc(&ps->tok, b, sizeof b));
        return -1;
    }
    char *name = tok_str(ps, &ps->tok);
    if (!name) return -1;
    int v = find_value(ps, name);
    if (v < 0) {
        fail(ps, ANE_ERR_PARSE, line, column, "'%s' is not defined (names must be defined before use)", name);
        return -1;
    }
    if (!next(ps)) return -1;
    ps->p->values[v].n_uses++;
    return v;
}

/* ---------------------------------------------------------------- statements */

typedef struct arg_list {
    mil_arg items[32];
    int n;
} arg_list;

static int add_arg(parser *ps, arg_list *al, const char *name, int *values, int n, int is_tuple, int line, int column)
{
    for (int i = 0; i < al->n; i++)
        if (strcmp(al->items[i].name, name) == 0)
            return fail(ps, ANE_ERR_PARSE, line, column, "argument '%s' is given twice", name);
    if (al->n == (int)(sizeof al->items / sizeof al->items[0]))
        return fail(ps, ANE_ERR_PARSE, line, column, "too many arguments");
    mil_arg *a = &al->items[al->n++];
    a->name = name;
    a->values = values;
    a->n = n;
    a->is_tuple = is_tuple;
    return 1;
}

/* name '=' (item | '(' item {',' item} ')') */
static int parse_arg(parser *ps, arg_list *al, const char *stmt_name)
{
    int line = ps->tok.line, column = ps->tok.column;
    if (ps->tok.kind != TK_IDENT) {
        char b[64];
        return fail(ps, ANE_ERR_PARSE, line, column, "expected an argument name, found %s", tok_desc(&ps->tok, b, sizeof b));
    }
    char *name = tok_str(ps, &ps->tok);
    if (!name || !next(ps) || !expect(ps, TK_EQUAL, "after the argument name")) return 0;
    if (ps->tok.kind != TK_LPAREN) {
        int *v = mil_arena_alloc(ps->arena, 1, sizeof *v);
        if (!v) return oom(ps);
        if ((v[0] = parse_arg_item(ps, stmt_name)) < 0) return 0;
        return add_arg(ps, al, name, v, 1, 0, line, column);
    }
    if (!next(ps)) return 0;
    int n = 0, cap = 8;
    int *v = mil_arena_alloc(ps->arena, (size_t)cap, sizeof *v);
    if (!v) return oom(ps);
    while (ps->tok.kind != TK_RPAREN) {
        if (n && !expect(ps, TK_COMMA, "between tuple items")) return 0;
        if (n == cap) {
            int *w = mil_arena_alloc(ps->arena, (size_t)cap * 2, sizeof *w);
            if (!w) return oom(ps);
            memcpy(w, v, (size_t)n * sizeof *w);
            v = w;
            cap *= 2;
        }
        if ((v[n++] = parse_arg_item(ps, stmt_name)) < 0) return 0;
    }
    if (n == 0) return fail(ps, ANE_ERR_PARSE, line, column, "argument '%s' is an empty tuple", name);
    if (!next(ps)) return 0;
    return add_arg(ps, al, name, v, n, 1, line, column);
}

static int add_op(parser *ps, mil_op **out)
{
    mil_program *p = ps->p;
    if (p->n_ops == ps->cap_ops) {
        int cap = ps->cap_ops ? ps->cap_ops * 2 : 64;
        mil_op *o = mil_arena_alloc(ps->arena, (size_t)cap, sizeof *o);
        if (!o) return oom(ps);
        if (p->n_ops) memcpy(o, p->ops, (size_t)p->n_ops * sizeof *o);
        p->ops = o;
        ps->cap_ops = cap;
    }
    *out = &p->ops[p->n_ops++];
    return 1;
}

/* type name '=' op '(' args ')' ['[' attrs ']'] ';' */
static int parse_statement(parser *ps)
{
    int line = ps->tok.line, column = ps->tok.column;
    mil_type declared;
    if (!parse_type(ps, &declared)) return 0;
    if (ps->tok.kind != TK_IDENT) return expect(ps, TK_IDENT, "(the result's name)");
    int name_line = ps->tok.line, name_column = ps->tok.column;
    char *name = tok_str(ps, &ps->tok);
    if (!name || !next(ps) || !expect(ps, TK_EQUAL, "after the result's name")) return 0;
    if (ps->tok.kind != TK_IDENT) return expect(ps, TK_IDENT, "(an op name)");
    char *op_name = tok_str(ps, &ps->tok);
    if (!op_name) return 0;
    mil_opcode code = mil_opcode_from_name(op_name);
    if (code == MIL_OP_UNKNOWN)
        return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "unknown op '%s' (%s = %s(...))", op_name, name, op_name);
    if (find_value(ps, name) >= 0) {
        const mil_value *old = &ps->p->values[find_value(ps, name)];
        return fail(ps, ANE_ERR_PARSE, name_line, name_column,
                    "'%s' is already defined at line %d, column %d (every name is assigned once)", name, old->line, old->column);
    }
    if (!next(ps) || !expect(ps, TK_LPAREN, "after the op name")) return 0;
    arg_list al;
    al.n = 0;
    while (ps->tok.kind != TK_RPAREN) {
        if (al.n && !expect(ps, TK_COMMA, "between arguments")) return 0;
        if (!parse_arg(ps, &al, name)) return 0;
    }
    if (!next(ps)) return 0;

    /* Attributes: name=, val= (const), the constexpr ops' parameters; others are skipped. */
    const char *attr_name = NULL;
    int have_val = 0;
    mil_type val_type;
    mil_const val;
    memset(&val, 0, sizeof val);
    if (ps->tok.kind == TK_LBRACKET) {
        if (!next(ps)) return 0;
        int k = 0;
        while (ps->tok.kind != TK_RBRACKET) {
            if (k++ && !expect(ps, TK_COMMA, "between attributes")) return 0;
            int al_line = ps->tok.line, al_col = ps->tok.column;
            if (ps->tok.kind != TK_IDENT) return expect(ps, TK_IDENT, "(an attribute name)");
            char *an = tok_str(ps, &ps->tok);
            if (!an || !next(ps) || !expect(ps, TK_EQUAL, "after the attribute name")) return 0;
            if (strcmp(an, "name") == 0) {
                mil_type t;
                mil_const c;
                if (!parse_literal(ps, &t, &c, name, 0)) return 0;
                if (t.dtype != MIL_STRING) return fail(ps, ANE_ERR_PARSE, al_line, al_col, "attribute name= must be a string");
                attr_name = c.s;
            } else if (strcmp(an, "val") == 0 && code == MIL_OP_CONST) {
                if (have_val) return fail(ps, ANE_ERR_PARSE, al_line, al_col, "val= is given twice");
                if (!parse_literal(ps, &val_type, &val, name, 0)) return 0;
                have_val = 1;
            } else if (code == MIL_OP_CONSTEXPR_AFFINE_DEQUANTIZE) {
                /* coremltools prints constexpr parameters as attributes. */
                int *v = mil_arena_alloc(ps->arena, 1, sizeof *v);
                if (!v) return oom(ps);
                if ((v[0] = parse_arg_item(ps, name)) < 0) return 0;
                if (!add_arg(ps, &al, an, v, 1, 0, al_line, al_col)) return 0;
            } else if (!skip_balanced(ps)) {
                return 0;
            }
        }
        if (!next(ps)) return 0;
    }
    if (!expect(ps, TK_SEMI, "at the end of the statement")) return 0;

    mil_op *op = NULL;
    if (!add_op(ps, &op)) return 0;
    int op_index = ps->p->n_ops - 1;
    op->code = code;
    op->op_name = op_name;
    op->line = line;
    op->column = column;
    op->attr_name = attr_name;
    op->n_args = al.n;
    if (al.n) {
        op->args = mil_arena_alloc(ps->arena, (size_t)al.n, sizeof *op->args);
        if (!op->args) return oom(ps);
        memcpy(op->args, al.items, (size_t)al.n * sizeof *op->args);
    }
    char db[160], ib[160];
    mil_type inferred;
    mil_const cst;
    memset(&cst, 0, sizeof cst);
    mil_value_kind kind = MIL_VALUE_OP;
    if (code == MIL_OP_CONST) {
        if (al.n) return fail(ps, ANE_ERR_PARSE, line, column, "const takes no arguments: write const()[name=..., val=...]");
        if (!have_val) return fail(ps, ANE_ERR_PARSE, line, column, "const '%s' has no val= attribute", name);
        inferred = val_type;
        cst = val;
        kind = MIL_VALUE_CONST;
    } else {
        char err[400];
        ane_status st = mil_infer_op(ps->p, op, ps->arena, &inferred, &cst, err, sizeof err);
        if (st != ANE_OK) return fail(ps, st, line, column, "op '%s' (%s): %s", op_name, name, err);
        if (code == MIL_OP_CONSTEXPR_AFFINE_DEQUANTIZE) kind = MIL_VALUE_CONST;
    }
    if (!type_equal(&declared, &inferred))
        return fail(ps, ANE_ERR_TYPE, line, column, "op '%s' (%s): declared %s but inferred %s", op_name, name,
                    mil_type_str(&declared, db, sizeof db), mil_type_str(&inferred, ib, sizeof ib));
    int v = add_value(ps, name, &declared, kind, op_index, name_line, name_column);
    if (v < 0) return 0;
    ps->p->values[v].cst = cst;
    op = &ps->p->ops[op_index];
    op->n_outputs = 1;
    op->outputs[0] = v;
    return 1;
}

/* ---------------------------------------------------------------- program */

static int copy_word(parser *ps, char *dst, size_t cap, const char *what)
{
    if (ps->tok.len == 0 || ps->tok.len >= cap)
        return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "%s is empty or longer than %zu characters", what, cap - 1);
    memcpy(dst, ps->tok.start, ps->tok.len);
    dst[ps->tok.len] = '\0';
    return next(ps);
}

static int parse_function(parser *ps)
{
    mil_program *p = ps->p;
    if (!expect_word(ps, "func", "to start the function")) return 0;
    if (ps->tok.kind != TK_IDENT) return expect(ps, TK_IDENT, "(the function's name)");
    if (!copy_word(ps, p->func_name, sizeof p->func_name, "the function name")) return 0;
    if (!expect(ps, TK_LT, "before the opset (func main<ios18>)")) return 0;
    int ol = ps->tok.line, oc = ps->tok.column;
    if (ps->tok.kind != TK_IDENT) return expect(ps, TK_IDENT, "(the opset, e.g. ios18)");
    if (!copy_word(ps, p->opset, sizeof p->opset, "the opset")) return 0;
    if (!strcmp(p->opset, "ios16") || !strcmp(p->opset, "ios15")) p->dialect = MIL_DIALECT_IOS16;
    else if (!strcmp(p->opset, "ios17") || !strcmp(p->opset, "ios18")) p->dialect = MIL_DIALECT_IOS18;
    else return fail(ps, ANE_ERR_PARSE, ol, oc, "unknown opset '%s' (expected ios15, ios16, ios17 or ios18)", p->opset);
    if (!expect(ps, TK_GT, "after the opset") || !expect(ps, TK_LPAREN, "to start the parameters")) return 0;

    int cap = 8;
    p->inputs = mil_arena_alloc(ps->arena, (size_t)cap, sizeof *p->inputs);
    if (!p->inputs) return oom(ps);
    while (ps->tok.kind != TK_RPAREN) {
        if (p->n_inputs && !expect(ps, TK_COMMA, "between parameters")) return 0;
        mil_type t;
        if (!parse_type(ps, &t)) return 0;
        if (ps->tok.kind != TK_IDENT) return expect(ps, TK_IDENT, "(the parameter's name)");
        int line = ps->tok.line, column = ps->tok.column;
        char *name = tok_str(ps, &ps->tok);
        if (!name || !next(ps)) return 0;
        int v = add_value(ps, name, &t, MIL_VALUE_INPUT, -1, line, column);
        if (v < 0) return 0;
        if (p->n_inputs == cap) {
            int *w = mil_arena_alloc(ps->arena, (size_t)cap * 2, sizeof *w);
            if (!w) return oom(ps);
            memcpy(w, p->inputs, (size_t)cap * sizeof *w);
            p->inputs = w;
            cap *= 2;
        }
        p->inputs[p->n_inputs++] = v;
    }
    if (!next(ps) || !expect(ps, TK_LBRACE, "to start the function body")) return 0;
    while (ps->tok.kind != TK_RBRACE) {
        if (ps->tok.kind == TK_EOF) return expect(ps, TK_RBRACE, "to end the function body");
        if (!parse_statement(ps)) return 0;
    }
    if (!next(ps) || !expect(ps, TK_ARROW, "after the function body ('} -> (outputs);')") ||
        !expect(ps, TK_LPAREN, "to start the output list"))
        return 0;
    cap = 8;
    p->outputs = mil_arena_alloc(ps->arena, (size_t)cap, sizeof *p->outputs);
    if (!p->outputs) return oom(ps);
    while (ps->tok.kind != TK_RPAREN) {
        if (p->n_outputs && !expect(ps, TK_COMMA, "between outputs")) return 0;
        if (ps->tok.kind != TK_IDENT) return expect(ps, TK_IDENT, "(an output's name)");
        int line = ps->tok.line, column = ps->tok.column;
        char *name = tok_str(ps, &ps->tok);
        if (!name) return 0;
        int v = find_value(ps, name);
        if (v < 0) return fail(ps, ANE_ERR_PARSE, line, column, "output '%s' is not defined in the function", name);
        if (p->n_outputs == cap) {
            int *w = mil_arena_alloc(ps->arena, (size_t)cap * 2, sizeof *w);
            if (!w) return oom(ps);
            memcpy(w, p->outputs, (size_t)cap * sizeof *w);
            p->outputs = w;
            cap *= 2;
        }
        p->outputs[p->n_outputs++] = v;
        p->values[v].n_uses++;
        if (!next(ps)) return 0;
    }
    if (p->n_outputs == 0) return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "the function has no outputs");
    if (!next(ps)) return 0;
    return expect(ps, TK_SEMI, "after the output list");
}

static int parse_program(parser *ps)
{
    mil_program *p = ps->p;
    if (!next(ps) || !expect_word(ps, "program", "at the start of the text (program(1.3))") ||
        !expect(ps, TK_LPAREN, "after 'program'"))
        return 0;
    if (ps->tok.kind != TK_NUMBER) return expect(ps, TK_NUMBER, "(the program version)");
    if (!copy_word(ps, p->program_version, sizeof p->program_version, "the program version")) return 0;
    if (!expect(ps, TK_RPAREN, "after the program version")) return 0;
    if (ps->tok.kind == TK_LBRACKET) {   /* [buildInfo = dict<string, string>({...})] */
        if (!next(ps)) return 0;
        while (ps->tok.kind != TK_RBRACKET) {
            if (!skip_balanced(ps)) return 0;
            if (ps->tok.kind == TK_COMMA && !next(ps)) return 0;
        }
        if (!next(ps)) return 0;
    }
    if (!expect(ps, TK_LBRACE, "to start the program body") || !parse_function(ps)) return 0;
    if (is_word(&ps->tok, "func"))
        return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "only one function per program is supported");
    if (!expect(ps, TK_RBRACE, "to end the program")) return 0;
    if (ps->tok.kind != TK_EOF) {
        char b[64];
        return fail(ps, ANE_ERR_PARSE, ps->tok.line, ps->tok.column, "unexpected %s after the end of the program",
                    tok_desc(&ps->tok, b, sizeof b));
    }
    return 1;
}

mil_program *mil_parse(const char *text, size_t len, const ane_weight *weights, size_t n_weights, mil_diags *diags)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.diags = diags;
    if (!text && len) {
        fail(&ps, ANE_ERR_INVALID_ARG, 0, 0, "MIL text is NULL but its length is %zu", len);
        return NULL;
    }
    if (len > MIL_MAX_TEXT_BYTES) {
        fail(&ps, ANE_ERR_INVALID_ARG, 0, 0, "MIL text of %zu bytes is larger than the limit of %u bytes", len, MIL_MAX_TEXT_BYTES);
        return NULL;
    }
    if (!weights && n_weights) {
        fail(&ps, ANE_ERR_INVALID_ARG, 0, 0, "weights is NULL but n_weights is %zu", n_weights);
        return NULL;
    }
    ps.arena = mil_arena_new();
    mil_program *p = ps.arena ? mil_arena_alloc(ps.arena, 1, sizeof *p) : NULL;
    if (!p) {
        mil_arena_free(ps.arena);
        oom(&ps);
        return NULL;
    }
    p->arena = ps.arena;
    ps.p = p;
    ps.weights = weights;
    ps.n_weights = n_weights;
    mil_lex_init(&ps.lx, text ? text : "", len);
    int ok = parse_program(&ps);
    free(ps.scratch);
    if (!ok) {
        mil_program_free(p);
        return NULL;
    }
    return p;
}
