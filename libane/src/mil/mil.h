/* mil.h — the MIL front end: text + weight blobs -> typed mil_program (ir.h).
 *
 * Parses both dialects (program(1.3)/ios18 and the M1/M2 program(1.0)/ios16 verbose scalar
 * syntax), resolves BLOBFILE constants against the weight blobs (blob format of
 * reference/ane-maderix.md §3.4), infers every op's result type and checks it against the
 * declared one. Never crashes on malformed input: any failure is a diagnostic. */
#ifndef MIL_MIL_H
#define MIL_MIL_H

#include "../../include/ane.h"
#include "ir.h"

typedef enum mil_severity { MIL_SEV_ERROR = 0, MIL_SEV_WARNING = 1 } mil_severity;

typedef struct mil_diag {
    mil_severity severity;
    ane_status status;        /* ANE_ERR_PARSE, _TYPE, _RULE, _WEIGHTS, _NO_MEMORY ... */
    const char *rule;         /* a rule id ("no-cast") for rule findings, else NULL; static */
    int line, column;         /* 1-based; 0 when the finding is not tied to a place */
    char message[512];
} mil_diag;

typedef struct mil_diags {
    int n, cap;
    mil_diag *items;
    int n_errors;
} mil_diags;

void mil_diag_add(mil_diags *d, mil_severity sev, ane_status status, const char *rule,
                  int line, int column, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;
void mil_diags_free(mil_diags *d);
/* The first error, formatted "line L, column C: message" (or NULL). */
const mil_diag *mil_diags_first_error(const mil_diags *d);

/* Hard limits that keep hostile input from exhausting memory (absurd sizes are errors). */
#define MIL_MAX_TEXT_BYTES   (64u << 20)
#define MIL_MAX_TENSOR_ELEMS ((int64_t)1 << 31)

/* Parse, resolve weights and type-check. Returns NULL and adds one error to `diags` on
 * failure. Caller owns the result; free with mil_program_free. */
mil_program *mil_parse(const char *text, size_t len, const ane_weight *weights,
                       size_t n_weights, mil_diags *diags);
void mil_program_free(mil_program *p);

#endif
