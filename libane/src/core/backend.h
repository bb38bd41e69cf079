/* backend.h — what every backend implements, and the objects behind the public handles.
 *
 * The public functions (api.c) check arguments, parse and type-check the MIL text, check the
 * chip profile's rules, compute I/O layouts and count compiles; then they call the backend.
 * A backend is the same small set everywhere: allocator (surfaces), compiler (programs),
 * program runner (requests). */
#ifndef ANE_CORE_BACKEND_H
#define ANE_CORE_BACKEND_H

#include "../../include/ane.h"
#include "../mil/ir.h"
#include "../mil/rules.h"
#include "strbuf.h"

struct ane_backend {
    const struct ane_backend_ops *ops;
    void *impl;
};

struct ane_surface {
    ane_backend *backend;
    size_t size;
    void *base;          /* cpu: the buffer, fixed for life; ane: valid while locked */
    uint32_t locked;     /* 0 = unlocked, else 1 + the lock flags */
    void *impl;
};

struct ane_program {
    ane_backend *backend;
    mil_program *ir;                     /* parsed and type-checked text */
    const ane_chip_profile *chip;
    uint32_t numerics;                   /* ane_numerics */
    int loaded;
    uint32_t n_inputs, n_outputs;
    ane_io_desc *inputs, *outputs;       /* layouts; names borrowed from ir */
    void *impl;
};

struct ane_request {
    ane_program *program;
    uint32_t n_inputs, n_outputs;
    ane_surface **inputs, **outputs;     /* borrowed */
    void *impl;
};

typedef struct ane_backend_ops {
    const char *name;
    /* ANE_OK when usable here, else a status with ane_fail's reason. */
    ane_status (*probe)(void);
    ane_status (*open)(ane_backend *b);
    void (*close)(ane_backend *b);
    /* Append the members of the info object (no braces) to sb: "\"backend\":\"cpu\",..." */
    ane_status (*info_json)(ane_backend *b, ane_strbuf *sb);
    const char *(*default_chip)(ane_backend *b);

    ane_status (*surface_create)(ane_backend *b, ane_surface *s);   /* s->size is set */
    void (*surface_release)(ane_surface *s);
    ane_status (*surface_lock)(ane_surface *s, uint32_t flags, void **base);
    ane_status (*surface_unlock)(ane_surface *s, uint32_t flags);

    /* p->ir, p->chip, p->numerics and the I/O layouts are set. The raw text and weights are
     * passed too: the ane backend hands them to Apple's compiler. */
    ane_status (*program_compile)(ane_program *p, const char *mil, size_t mil_len,
                                  const ane_weight *weights, size_t n_weights,
                                  uint32_t qos, uint32_t flags);
    ane_status (*program_load)(ane_program *p, uint32_t qos);
    ane_status (*program_unload)(ane_program *p, uint32_t qos);
    void (*program_free)(ane_program *p);
    ane_status (*program_rewrite_weight)(ane_program *p, const char *name,
                                         const void *data, size_t size);

    ane_status (*request_create)(ane_request *r);    /* bindings already checked */
    void (*request_free)(ane_request *r);
    /* Fill t->hw_ns (or -1); api.c measures wall time around the call. */
    ane_status (*request_eval)(ane_request *r, uint32_t qos, ane_eval_timing *t);

    /* Optional (NULL = the backend has nothing to say): answer ane_backend_query_json's `what`
     * ("perf-stats" or "advanced", already checked) by appending the members of the answer
     * object (no braces) to sb, "applicable" first: "\"applicable\":true,...". The keys each
     * query must hold are in docs/probes.md ("libane queries"). query.c writes "query" and
     * "backend" itself. */
    ane_status (*query_json)(ane_backend *b, const char *what, ane_strbuf *sb);
} ane_backend_ops;

/* The backends compiled in (registry.c). */
extern const ane_backend_ops ane_cpu_backend_ops;
#if defined(__APPLE__) && defined(__aarch64__)
extern const ane_backend_ops ane_ane_backend_ops;
#endif

#endif
