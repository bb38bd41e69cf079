/* api.c — the public functions of ane.h (other than backends, errors and host helpers)
 * on top of the backend vtable (backend.h).
 *
 * This layer owns everything that is the same on every backend: argument checks, parsing
 * and type-checking the MIL text, the chip rules, the I/O layouts, the process-wide compile
 * budget, surface lock bookkeeping, request binding checks and eval timing. Backends see
 * only programs that passed all of that. A failed call leaves nothing half-made: whatever
 * it allocated is freed before it returns. */
#include "platform.h"

#include <stdatomic.h>

#include "backend.h"
#include "error.h"
#include "strbuf.h"
#include "../mil/mil.h"
#include "../mil/rules.h"

/* The profile for calls that name no chip and have no backend to ask (ane_mil_check,
 * ane_compile_limit): the cpu backend's default, as ane.h documents. */
#define DEFAULT_CHIP "m4"
#define MAX_SURFACE_BYTES ((uint64_t)4 << 30)

/* Successful compiles in this process, on every backend and chip: the ANE's budget is per
 * process, whatever program or chip. */
static atomic_uint compile_count;

/* ---------------------------------------------------------------- chips */

/* "m1, m2, m3, m4, m5, none": for messages that list the choices. */
static void chip_names(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < ane_chip_profile_count() && len < cap; i++) {
        int n = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", ane_chip_profile_at(i)->name);
        if (n < 0) break;
        len += (size_t)n;
    }
}

static ane_status unknown_chip(const char *chip)
{
    char names[96];
    chip_names(names, sizeof names);
    return ane_fail(ANE_ERR_INVALID_ARG, "unknown chip profile '%s'; valid names: %s", chip, names);
}

ANE_API int ane_chip_count(void) { return ane_chip_profile_count(); }

ANE_API const char *ane_chip_name(int index)
{
    const ane_chip_profile *chip = ane_chip_profile_at(index);
    if (!chip) {
        ane_fail(ANE_ERR_INVALID_ARG, "chip index %d is out of range 0..%d", index,
                 ane_chip_profile_count() - 1);
        return NULL;
    }
    return chip->name;
}

ANE_API ane_status ane_chip_profile_json(const char *chip, char *buf, size_t cap, size_t *needed)
{
    ane_clear_error();
    if (needed) *needed = 0;
    if (!chip) return ane_fail(ANE_ERR_INVALID_ARG, "chip is NULL; pass a profile name such as \"m4\"");
    const ane_chip_profile *profile = ane_chip_profile_find(chip);
    if (!profile) return unknown_chip(chip);
    ane_strbuf sb = {0};
    ane_sb_append(&sb, "{", 1);
    ane_chip_profile_json_members(profile, &sb);
    ane_sb_append(&sb, "}", 1);
    ane_status st = ane_sb_export(&sb, buf, cap, needed);
    ane_sb_free(&sb);
    return st;
}

ANE_API uint32_t ane_compile_count(void) { return atomic_load(&compile_count); }

ANE_API uint32_t ane_compile_limit(const char *chip)
{
    const ane_chip_profile *profile = ane_chip_profile_find(chip ? chip : DEFAULT_CHIP);
    if (!profile) {
        unknown_chip(chip);
        return 0;
    }
    return profile->compile_limit;
}

/* Take one compile from the budget before compiling, so concurrent compiles cannot overrun
 * it; budget_return gives it back when the compile fails. Unlimited profiles count too. */
static int budget_take(unsigned limit)
{
    unsigned count = atomic_load(&compile_count);
    do {
        if (limit && count >= limit) return 0;
    } while (!atomic_compare_exchange_weak(&compile_count, &count, count + 1));
    return 1;
}

static void budget_return(void) { atomic_fetch_sub(&compile_count, 1); }

/* ---------------------------------------------------------------- surfaces */

ANE_API ane_status ane_surface_create(ane_backend *backend, size_t bytes, ane_surface **out)
{
    ane_clear_error();
    if (!out) return ane_fail(ANE_ERR_INVALID_ARG, "ane_surface_create: out is NULL");
    *out = NULL;
    if (!backend) return ane_fail(ANE_ERR_INVALID_ARG, "ane_surface_create: backend is NULL");
    if (bytes == 0)
        return ane_fail(ANE_ERR_INVALID_ARG, "surface size is 0; use ane_program_io's bytes for the size");
    if ((uint64_t)bytes > MAX_SURFACE_BYTES)
        return ane_fail(ANE_ERR_INVALID_ARG,
                        "surface size %zu bytes is over the 4 GiB limit; split the tensor", bytes);
    ane_surface *s = calloc(1, sizeof *s);
    if (!s) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for a surface handle");
    s->backend = backend;
    s->size = bytes;
    ane_status st = backend->ops->surface_create(backend, s);
    if (st != ANE_OK) {
        free(s);
        return st;
    }
    *out = s;
    return ANE_OK;
}

ANE_API void ane_surface_release(ane_surface *surface)
{
    if (!surface) return;
    surface->backend->ops->surface_release(surface);
    free(surface);
}

ANE_API size_t ane_surface_size(const ane_surface *surface) { return surface ? surface->size : 0; }

ANE_API ane_status ane_surface_lock(ane_surface *surface, uint32_t lock_flags, void **base)
{
    ane_clear_error();
    if (base) *base = NULL;
    if (!surface) return ane_fail(ANE_ERR_INVALID_ARG, "ane_surface_lock: surface is NULL");
    if (!base) return ane_fail(ANE_ERR_INVALID_ARG, "ane_surface_lock: base is NULL");
    if (lock_flags != ANE_LOCK_READ_WRITE && lock_flags != ANE_LOCK_READ_ONLY)
        return ane_fail(ANE_ERR_INVALID_ARG,
                        "lock flags %u are unknown; use ANE_LOCK_READ_WRITE (0) or ANE_LOCK_READ_ONLY (1)",
                        lock_flags);
    if (surface->locked)
        return ane_fail(ANE_ERR_STATE, "surface is already locked; locks do not nest: unlock it first");
    ane_status st = surface->backend->ops->surface_lock(surface, lock_flags, base);
    if (st != ANE_OK) return st;
    surface->locked = 1 + lock_flags;
    return ANE_OK;
}

ANE_API ane_status ane_surface_unlock(ane_surface *surface, uint32_t lock_flags)
{
    ane_clear_error();
    if (!surface) return ane_fail(ANE_ERR_INVALID_ARG, "ane_surface_unlock: surface is NULL");
    if (!surface->locked)
        return ane_fail(ANE_ERR_STATE, "surface is not locked; every unlock needs a lock before it");
    if (surface->locked != 1 + lock_flags)
        return ane_fail(ANE_ERR_STATE,
                        "unlock flags %u do not match the lock's flags %u; unlock with the flags you locked with",
                        lock_flags, surface->locked - 1);
    ane_status st = surface->backend->ops->surface_unlock(surface, lock_flags);
    if (st != ANE_OK) return st;
    surface->locked = 0;
    return ANE_OK;
}

/* ---------------------------------------------------------------- compile */

/* A diagnostic's message without the "line L, column C: " that mil_diag_add puts first. */
static const char *diag_text(const mil_diag *d)
{
    const char *m = d->message;
    if (d->line > 0 && strncmp(m, "line ", 5) == 0) {
        const char *colon = strstr(m, ": ");
        if (colon) return colon + 2;
    }
    return m;
}

/* The first error of a failed parse as the status and message of a failed call. */
static ane_status fail_from_diag(const mil_diags *diags)
{
    const mil_diag *d = mil_diags_first_error(diags);
    if (!d) return ane_fail(ANE_ERR_INTERNAL, "MIL front end failed without a diagnostic");
    if (d->line > 0)
        return ane_fail(d->status, "MIL line %d, column %d: %s", d->line, d->column, diag_text(d));
    return ane_fail(d->status, "MIL: %s", diag_text(d));
}

/* Every rule error, joined: "breaks chip rule 'no-cast' (m1) at line 12, column 5: ...;
 * breaks ...". */
static ane_status fail_from_rules(const mil_diags *diags, const ane_chip_profile *chip)
{
    ane_strbuf sb = {0};
    for (int i = 0; i < diags->n; i++) {
        const mil_diag *d = &diags->items[i];
        if (d->severity != MIL_SEV_ERROR) continue;
        ane_sb_printf(&sb, "%sbreaks chip rule '%s' (%s) at line %d, column %d: %s",
                      sb.len ? "; " : "", d->rule ? d->rule : "?", chip->name, d->line,
                      d->column, diag_text(d));
    }
    ane_status st = ane_fail(ANE_ERR_RULE, "%s", sb.data ? sb.data : "breaks a chip rule");
    ane_sb_free(&sb);
    return st;
}

static uint64_t round_up(uint64_t n, uint64_t align) { return align > 1 ? (n + align - 1) / align * align : n; }

/* The layout of one function input or output: [1, C, 1, S]-style row-major with each row
 * of the last axis starting at a multiple of the chip's row alignment. */
static ane_status io_layout(const mil_value *v, const char *what, uint32_t index,
                            const ane_chip_profile *chip, ane_io_desc *d)
{
    switch (v->type.dtype) {
    case MIL_FP16: d->dtype = ANE_DTYPE_FP16; break;
    case MIL_FP32: d->dtype = ANE_DTYPE_FP32; break;
    case MIL_INT8: d->dtype = ANE_DTYPE_INT8; break;
    case MIL_UINT8: d->dtype = ANE_DTYPE_UINT8; break;
    case MIL_INT32: d->dtype = ANE_DTYPE_INT32; break;
    default:
        return ane_fail(ANE_ERR_UNSUPPORTED,
                        "MIL line %d: %s %u '%s' is %s; inputs and outputs must be fp16, fp32, "
                        "int8, uint8 or int32",
                        v->line, what, index, v->name, mil_dtype_name(v->type.dtype));
    }
    int rank = v->type.rank;
    if (rank < 1 || rank > 4)
        return ane_fail(ANE_ERR_UNSUPPORTED,
                        "MIL line %d: %s %u '%s' has rank %d; inputs and outputs must have rank "
                        "1 to 4 (the ANE's [1, C, 1, S]): reshape inside the program",
                        v->line, what, index, v->name, rank);
    uint64_t rows = 1;
    for (int i = 0; i < 4; i++) {
        int64_t n = i < rank ? v->type.shape[i] : 1;
        if (n < 1)
            return ane_fail(ANE_ERR_UNSUPPORTED,
                            "MIL line %d: %s '%s' has dimension %d of size %lld; I/O shapes must "
                            "be fixed and positive",
                            v->line, what, v->name, i, (long long)n);
        d->shape[i] = n;
        if (i < rank - 1) rows *= (uint64_t)n;
    }
    uint64_t elem = (uint64_t)mil_dtype_size(v->type.dtype);
    d->name = v->name;
    d->rank = (uint32_t)rank;
    d->row_stride_bytes = round_up((uint64_t)v->type.shape[rank - 1] * elem, chip->row_align_bytes);
    d->bytes = round_up(rows * d->row_stride_bytes, chip->surface_align_bytes);
    return ANE_OK;
}

static void program_destroy(ane_program *p)
{
    if (!p) return;
    mil_program_free(p->ir);
    free(p->inputs);
    free(p->outputs);
    free(p);
}

/* Parse, check rules, lay out I/O: everything but the backend's compile. */
static ane_status program_front_end(ane_program *p, const char *mil, size_t mil_len,
                                    const ane_weight *weights, size_t n_weights, int check_rules)
{
    mil_diags diags = {0};
    p->ir = mil_parse(mil, mil_len, weights, n_weights, &diags);
    if (!p->ir) {
        ane_status st = fail_from_diag(&diags);
        mil_diags_free(&diags);
        return st;
    }
    if (check_rules && mil_check_rules(p->ir, p->chip, &diags) > 0) {
        ane_status st = fail_from_rules(&diags, p->chip);
        mil_diags_free(&diags);
        return st;
    }
    mil_diags_free(&diags);

    const mil_program *ir = p->ir;
    p->n_inputs = (uint32_t)ir->n_inputs;
    p->n_outputs = (uint32_t)ir->n_outputs;
    p->inputs = calloc(p->n_inputs ? p->n_inputs : 1, sizeof *p->inputs);
    p->outputs = calloc(p->n_outputs ? p->n_outputs : 1, sizeof *p->outputs);
    if (!p->inputs || !p->outputs) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for I/O layouts");
    for (uint32_t i = 0; i < p->n_inputs; i++) {
        ane_status st = io_layout(&ir->values[ir->inputs[i]], "input", i, p->chip, &p->inputs[i]);
        if (st != ANE_OK) return st;
    }
    for (uint32_t i = 0; i < p->n_outputs; i++) {
        ane_status st = io_layout(&ir->values[ir->outputs[i]], "output", i, p->chip, &p->outputs[i]);
        if (st != ANE_OK) return st;
    }
    return ANE_OK;
}

ANE_API ane_status ane_program_compile(ane_backend *backend, const char *mil, size_t mil_len,
                                       const ane_weight *weights, size_t n_weights,
                                       const char *chip, uint32_t numerics, uint32_t qos,
                                       uint32_t flags, ane_program **out)
{
    ane_clear_error();
    if (!out) return ane_fail(ANE_ERR_INVALID_ARG, "ane_program_compile: out is NULL");
    *out = NULL;
    if (!backend) return ane_fail(ANE_ERR_INVALID_ARG, "ane_program_compile: backend is NULL");
    if (!mil || mil_len == 0) return ane_fail(ANE_ERR_INVALID_ARG, "MIL text is empty");
    if (n_weights && !weights)
        return ane_fail(ANE_ERR_INVALID_ARG, "weights is NULL but n_weights is %zu", n_weights);
    for (size_t i = 0; i < n_weights; i++)
        if (!weights[i].name || (!weights[i].data && weights[i].size))
            return ane_fail(ANE_ERR_INVALID_ARG, "weight %zu has no name or no data", i);
    if (numerics != ANE_NUMERICS_FP16 && numerics != ANE_NUMERICS_FP32)
        return ane_fail(ANE_ERR_INVALID_ARG,
                        "numerics %u is unknown; use ANE_NUMERICS_FP16 (0) or ANE_NUMERICS_FP32 (1)", numerics);
    if (flags & ~ANE_COMPILE_SKIP_VALIDATION)
        return ane_fail(ANE_ERR_INVALID_ARG,
                        "compile flags 0x%x have unknown bits; the only flag is ANE_COMPILE_SKIP_VALIDATION (1)", flags);
    const ane_backend_ops *ops = backend->ops;
    int is_cpu = strcmp(ops->name, "cpu") == 0;
    if (numerics == ANE_NUMERICS_FP32 && !is_cpu)
        return ane_fail(ANE_ERR_UNSUPPORTED,
                        "fp32 numerics run on the cpu backend only (the %s backend computes in fp16)", ops->name);
    if (!chip) chip = ops->default_chip(backend);
    const ane_chip_profile *profile = ane_chip_profile_find(chip);
    if (!profile) return unknown_chip(chip ? chip : "(null)");
    if (qos == 0) qos = ANE_QOS_DEFAULT;

    if (!budget_take(profile->compile_limit))
        return ane_fail(ANE_ERR_BUDGET,
                        "compile budget of %u per process is spent (the ANE's limit); restart the "
                        "process or compile fewer programs",
                        profile->compile_limit);

    ane_program *p = calloc(1, sizeof *p);
    if (!p) {
        budget_return();
        return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for a program");
    }
    p->backend = backend;
    p->chip = profile;
    p->numerics = numerics;
    int check_rules = is_cpu || !(flags & ANE_COMPILE_SKIP_VALIDATION);
    ane_status st = program_front_end(p, mil, mil_len, weights, n_weights, check_rules);
    if (st == ANE_OK) {
        st = ops->program_compile(p, mil, mil_len, weights, n_weights, qos, flags);
        if (st != ANE_OK && p->impl) ops->program_free(p);
    }
    if (st != ANE_OK) {
        program_destroy(p);
        budget_return();
        return st;
    }
    *out = p;
    return ANE_OK;
}

/* ---------------------------------------------------------------- programs */

ANE_API ane_status ane_program_load(ane_program *program, uint32_t qos)
{
    ane_clear_error();
    if (!program) return ane_fail(ANE_ERR_INVALID_ARG, "ane_program_load: program is NULL");
    if (program->loaded) return ANE_OK;
    ane_status st = program->backend->ops->program_load(program, qos ? qos : ANE_QOS_DEFAULT);
    if (st != ANE_OK) return st;
    program->loaded = 1;
    return ANE_OK;
}

ANE_API ane_status ane_program_unload(ane_program *program, uint32_t qos)
{
    ane_clear_error();
    if (!program) return ane_fail(ANE_ERR_INVALID_ARG, "ane_program_unload: program is NULL");
    if (!program->loaded) return ANE_OK;
    ane_status st = program->backend->ops->program_unload(program, qos ? qos : ANE_QOS_DEFAULT);
    if (st != ANE_OK) return st;
    program->loaded = 0;
    return ANE_OK;
}

ANE_API void ane_program_free(ane_program *program)
{
    if (!program) return;
    const ane_backend_ops *ops = program->backend->ops;
    if (program->loaded) ops->program_unload(program, ANE_QOS_DEFAULT);
    ops->program_free(program);
    program_destroy(program);
}

ANE_API ane_status ane_program_rewrite_weight(ane_program *program, const char *name,
                                              const void *data, size_t size)
{
    ane_clear_error();
    if (!program) return ane_fail(ANE_ERR_INVALID_ARG, "ane_program_rewrite_weight: program is NULL");
    if (!name) return ane_fail(ANE_ERR_INVALID_ARG, "ane_program_rewrite_weight: name is NULL");
    if (!data || size == 0)
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_program_rewrite_weight: no data for weight '%s'", name);
    const ane_backend_ops *ops = program->backend->ops;
    if (!ops->program_rewrite_weight)
        return ane_fail(ANE_ERR_UNSUPPORTED, "the %s backend keeps no weight files to rewrite", ops->name);
    return ops->program_rewrite_weight(program, name, data, size);
}

ANE_API uint32_t ane_program_input_count(const ane_program *program)
{
    return program ? program->n_inputs : 0;
}

ANE_API uint32_t ane_program_output_count(const ane_program *program)
{
    return program ? program->n_outputs : 0;
}

ANE_API ane_status ane_program_io(const ane_program *program, int is_output, uint32_t index,
                                  ane_io_desc *out)
{
    ane_clear_error();
    if (!program) return ane_fail(ANE_ERR_INVALID_ARG, "ane_program_io: program is NULL");
    if (!out) return ane_fail(ANE_ERR_INVALID_ARG, "ane_program_io: out is NULL");
    uint32_t n = is_output ? program->n_outputs : program->n_inputs;
    if (index >= n)
        return ane_fail(ANE_ERR_INVALID_ARG, "%s index %u is out of range: the program has %u",
                        is_output ? "output" : "input", index, n);
    *out = is_output ? program->outputs[index] : program->inputs[index];
    return ANE_OK;
}

/* ---------------------------------------------------------------- ane_mil_check */

static const char *severity_name(mil_severity s) { return s == MIL_SEV_ERROR ? "error" : "warning"; }

ANE_API ane_status ane_mil_check(const char *mil, size_t mil_len, const ane_weight *weights,
                                 size_t n_weights, const char *chip, char *buf, size_t cap,
                                 size_t *needed)
{
    ane_clear_error();
    if (needed) *needed = 0;
    if (!mil || mil_len == 0) return ane_fail(ANE_ERR_INVALID_ARG, "MIL text is empty");
    if (n_weights && !weights)
        return ane_fail(ANE_ERR_INVALID_ARG, "weights is NULL but n_weights is %zu", n_weights);
    if (!chip) chip = DEFAULT_CHIP;
    const ane_chip_profile *profile = ane_chip_profile_find(chip);
    if (!profile) return unknown_chip(chip);

    mil_diags diags = {0};
    mil_program *ir = mil_parse(mil, mil_len, weights, n_weights, &diags);
    if (ir) mil_check_rules(ir, profile, &diags);

    ane_strbuf sb = {0};
    ane_sb_append(&sb, "[", 1);
    const mil_diag *first_error = NULL;
    for (int i = 0; i < diags.n; i++) {
        const mil_diag *d = &diags.items[i];
        if (d->severity == MIL_SEV_ERROR && !first_error) first_error = d;
        ane_sb_printf(&sb, "%s{\"severity\":\"%s\",\"rule\":", i ? "," : "", severity_name(d->severity));
        ane_sb_json_str(&sb, d->rule ? d->rule : "");
        ane_sb_printf(&sb, ",\"status\":\"%s\",\"line\":%d,\"column\":%d,\"message\":",
                      ane_status_name(d->status), d->line, d->column);
        ane_sb_json_str(&sb, diag_text(d));
        ane_sb_append(&sb, "}", 1);
    }
    ane_sb_append(&sb, "]", 1);

    ane_status st = ane_sb_export(&sb, buf, cap, needed);
    if (st == ANE_OK && first_error) {
        /* The same message a compile would give. */
        st = first_error->rule ? fail_from_rules(&diags, profile) : fail_from_diag(&diags);
    }
    ane_sb_free(&sb);
    mil_diags_free(&diags);
    mil_program_free(ir);
    return st;
}

/* ---------------------------------------------------------------- requests */

static ane_status check_binding(const ane_program *p, ane_surface *const *surfaces, uint32_t n,
                                int is_output)
{
    const char *what = is_output ? "output" : "input";
    uint32_t want = is_output ? p->n_outputs : p->n_inputs;
    const ane_io_desc *io = is_output ? p->outputs : p->inputs;
    if (n != want)
        return ane_fail(ANE_ERR_BINDING, "the program has %u %ss but %u surfaces were given",
                        want, what, n);
    if (n && !surfaces) return ane_fail(ANE_ERR_BINDING, "the %s surface array is NULL", what);
    for (uint32_t i = 0; i < n; i++) {
        const ane_surface *s = surfaces[i];
        if (!s) return ane_fail(ANE_ERR_BINDING, "%s %u '%s': surface is NULL", what, i, io[i].name);
        if (s->backend != p->backend)
            return ane_fail(ANE_ERR_BINDING,
                            "%s %u '%s': the surface belongs to another backend handle; create it "
                            "with the program's backend",
                            what, i, io[i].name);
        if ((uint64_t)s->size < io[i].bytes)
            return ane_fail(ANE_ERR_BINDING,
                            "%s %u '%s' needs a surface of at least %llu bytes (row stride %llu); "
                            "the surface has %zu bytes",
                            what, i, io[i].name, (unsigned long long)io[i].bytes,
                            (unsigned long long)io[i].row_stride_bytes, s->size);
    }
    return ANE_OK;
}

ANE_API ane_status ane_request_create(ane_program *program, ane_surface *const *inputs,
                                      uint32_t n_inputs, ane_surface *const *outputs,
                                      uint32_t n_outputs, ane_request **out)
{
    ane_clear_error();
    if (!out) return ane_fail(ANE_ERR_INVALID_ARG, "ane_request_create: out is NULL");
    *out = NULL;
    if (!program) return ane_fail(ANE_ERR_INVALID_ARG, "ane_request_create: program is NULL");
    ane_status st = check_binding(program, inputs, n_inputs, 0);
    if (st == ANE_OK) st = check_binding(program, outputs, n_outputs, 1);
    if (st != ANE_OK) return st;

    ane_request *r = calloc(1, sizeof *r);
    if (!r) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for a request");
    r->program = program;
    r->n_inputs = n_inputs;
    r->n_outputs = n_outputs;
    r->inputs = calloc(n_inputs ? n_inputs : 1, sizeof *r->inputs);
    r->outputs = calloc(n_outputs ? n_outputs : 1, sizeof *r->outputs);
    if (!r->inputs || !r->outputs) {
        st = ane_fail(ANE_ERR_NO_MEMORY, "out of memory for a request");
    } else {
        for (uint32_t i = 0; i < n_inputs; i++) r->inputs[i] = inputs[i];
        for (uint32_t i = 0; i < n_outputs; i++) r->outputs[i] = outputs[i];
        st = program->backend->ops->request_create(r);
    }
    if (st != ANE_OK) {
        free(r->inputs);
        free(r->outputs);
        free(r);
        return st;
    }
    *out = r;
    return ANE_OK;
}

ANE_API void ane_request_free(ane_request *request)
{
    if (!request) return;
    request->program->backend->ops->request_free(request);
    free(request->inputs);
    free(request->outputs);
    free(request);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(ANE_CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

ANE_API ane_status ane_request_eval(ane_request *request, uint32_t qos, ane_eval_timing *timing)
{
    ane_clear_error();
    if (timing) {
        timing->wall_ns = 0;
        timing->hw_ns = -1;
    }
    if (!request) return ane_fail(ANE_ERR_INVALID_ARG, "ane_request_eval: request is NULL");
    const ane_program *p = request->program;
    if (!p->loaded)
        return ane_fail(ANE_ERR_STATE, "the program is not loaded; call ane_program_load before eval");
    for (uint32_t i = 0; i < request->n_inputs; i++)
        if (request->inputs[i]->locked)
            return ane_fail(ANE_ERR_STATE, "input %u '%s': its surface is locked; unlock it before eval",
                            i, p->inputs[i].name);
    for (uint32_t i = 0; i < request->n_outputs; i++)
        if (request->outputs[i]->locked)
            return ane_fail(ANE_ERR_STATE, "output %u '%s': its surface is locked; unlock it before eval",
                            i, p->outputs[i].name);
    ane_eval_timing t = {0, -1};
    uint64_t start = now_ns();
    ane_status st = p->backend->ops->request_eval(request, qos ? qos : ANE_QOS_DEFAULT, &t);
    t.wall_ns = now_ns() - start;
    if (timing) *timing = t;
    return st;
}
