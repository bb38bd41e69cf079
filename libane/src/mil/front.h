/* front.h — internals shared by the MIL front end's files (ir.c, lexer.c, parser.c, blob.c,
 * infer.c). Not part of any contract: only the front end includes it. */
#ifndef MIL_FRONT_H
#define MIL_FRONT_H

#include "mil.h"

/* ---------------------------------------------------------------- arena (ir.c) */

/* A bump allocator: every allocation of one program lives until mil_arena_free. */
typedef struct mil_arena mil_arena;
mil_arena *mil_arena_new(void);
/* Zeroed, 16-byte aligned; NULL when out of memory (or when count*size overflows). */
void *mil_arena_alloc(mil_arena *a, size_t count, size_t size);
/* A NUL-terminated copy of s[0..n). */
char *mil_arena_strndup(mil_arena *a, const char *s, size_t n);
void mil_arena_free(mil_arena *a);

/* ---------------------------------------------------------------- numerics (ir.c) */

/* The fp16 number nearest to x (round to nearest even; overflow to +-inf; subnormals kept). */
double mil_round_fp16(double x);
/* The value of an IEEE binary16 bit pattern. */
double mil_fp16_bits_to_double(uint16_t h);
/* Product of shape[0..rank), or -1 when a dimension is <= 0 or the product exceeds
 * MIL_MAX_TENSOR_ELEMS. */
int64_t mil_shape_elems_checked(const int64_t *shape, int rank);
/* Parse a dtype name ("fp16", "int32" ...); returns 0 when unknown. */
int mil_dtype_from_name(const char *s, size_t n, mil_dtype *out);

/* ---------------------------------------------------------------- lexer (lexer.c) */

typedef enum mil_tok_kind {
    TK_EOF, TK_IDENT, TK_NUMBER, TK_STRING,
    TK_LPAREN, TK_RPAREN, TK_LBRACKET, TK_RBRACKET, TK_LBRACE, TK_RBRACE,
    TK_LT, TK_GT, TK_COMMA, TK_EQUAL, TK_SEMI, TK_ARROW
} mil_tok_kind;

typedef struct mil_token {
    mil_tok_kind kind;
    const char *start;   /* points into the text; for TK_STRING, just inside the quotes */
    size_t len;
    int line, column;    /* 1-based */
} mil_token;

typedef struct mil_lexer {
    const char *text;
    size_t len, pos;
    int line, column;
} mil_lexer;

void mil_lex_init(mil_lexer *lx, const char *text, size_t len);
/* Reads the next token. Returns 0 on a lexical error, with a message in err and the place
 * in line and column. */
int mil_lex_next(mil_lexer *lx, mil_token *tok, char *err, size_t cap, int *line, int *column);
const char *mil_tok_kind_name(mil_tok_kind k);

/* ---------------------------------------------------------------- weight blobs (blob.c) */

/* Resolve BLOBFILE(path, offset) for a constant of type t named const_name: find the blob,
 * check its chunk header, decode the payload into out (f or i, by dtype). Returns ANE_OK or
 * ANE_ERR_WEIGHTS / ANE_ERR_NO_MEMORY with a message in err. */
ane_status mil_blob_resolve(const ane_weight *weights, size_t n_weights, const char *path,
                            uint64_t offset, const mil_type *t, const char *const_name,
                            mil_arena *arena, mil_const *out, char *err, size_t cap);

/* ---------------------------------------------------------------- inference (infer.c) */

/* Check op's arguments (names, required ones, tuples, constness), then infer its result
 * type into *out. For constexpr_affine_dequantize also computes the constant's data into
 * *cst. Returns ANE_OK, or ANE_ERR_TYPE / ANE_ERR_NO_MEMORY with a message in err (no
 * location: the caller adds it). */
ane_status mil_infer_op(const mil_program *p, const mil_op *op, mil_arena *arena,
                        mil_type *out, mil_const *cst, char *err, size_t cap);

#endif
