/* rules.h — chip profiles and the ANE compiler's rules.
 *
 * Each profile states what the real compiler of that chip generation accepts (dialect, ops,
 * sizes, I/O forms, weight-blob form, compile budget), with the source of every rule in
 * docs/chip-rules.md. mil_check_rules reports every finding, not only the first. */
#ifndef MIL_RULES_H
#define MIL_RULES_H

#include "ir.h"
#include "mil.h"

typedef struct ane_chip_profile {
    const char *name;               /* "m1" ... "m5", "none" */
    const char *description;        /* "Apple M4 family (ANE subtype h16)" */
    unsigned dialects;              /* bit (1u << mil_dialect) for each dialect accepted */
    mil_dialect preferred_dialect;  /* what rustane emits for this chip */
    unsigned row_align_bytes;       /* I/O rows start at multiples of this */
    unsigned surface_align_bytes;   /* surface sizes are rounded up to this */
    unsigned compile_limit;         /* compiles per process; 0 = unlimited */
    double peak_fp16_tflops;        /* published measured peak, 0 when unknown */
    const char *peak_source;        /* where that number comes from */
} ane_chip_profile;

int ane_chip_profile_count(void);
const ane_chip_profile *ane_chip_profile_at(int i);
/* NULL when unknown. */
const ane_chip_profile *ane_chip_profile_find(const char *name);

/* Check every rule of `chip` against p; append each finding to diags. Returns the number
 * of errors found (warnings are not counted). */
int mil_check_rules(const mil_program *p, const ane_chip_profile *chip, mil_diags *diags);

/* The profile and its rule table as the members of a JSON object (no braces). */
struct ane_strbuf;
void ane_chip_profile_json_members(const ane_chip_profile *chip, struct ane_strbuf *sb);

#endif
