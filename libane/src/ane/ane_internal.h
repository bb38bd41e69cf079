/* ane_internal.h — what the files of the ane backend share. */
#ifndef ANE_ANE_INTERNAL_H
#define ANE_ANE_INTERNAL_H

#include "../core/backend.h"
#include "../core/strbuf.h"
#include "runtime.h"

/* Which optional messages exist on this macOS (a bool per message of objc_table.h). */
typedef struct ane_objc_have {
#define ANE_HAVE_FIELD(field, cls, kind, selector, ret, params, args) bool field;
#define ANE_VOID_HAVE_FIELD(field, cls, kind, selector, params, args) bool field;
    ANE_OBJC_MESSAGES(ANE_HAVE_FIELD)
    ANE_OBJC_QUERY_MESSAGES(ANE_HAVE_FIELD)
    ANE_OBJC_QUERY_VOID_MESSAGES(ANE_VOID_HAVE_FIELD)
#undef ANE_HAVE_FIELD
#undef ANE_VOID_HAVE_FIELD
} ane_objc_have;

/* The runtime bound: classes looked up, selectors registered, methods checked. */
typedef struct ane_objc {
    const ane_rt *rt;
    ane_objc_classes cls;
    ane_objc_sels sel;
    ane_objc_have have;
} ane_objc;

/* backend->impl */
typedef struct ane_ctx {
    ane_objc oc;
    CFDictionaryRef empty_options;        /* @{}: the options of compile, load and eval */
    const ane_chip_profile *chip;         /* detected */
    char chip_note[192];                  /* how it was detected, when not plainly */
} ane_ctx;

/* program->impl */
typedef struct ane_prog {
    id model;             /* _ANEInMemoryModel, retained */
    char *dir;            /* temp directory (workdir.c) */
    size_t n_weights;
    char **weight_names;  /* for rewrite_weight: names and sizes given at compile */
    size_t *weight_sizes;
} ane_prog;

/* request->impl */
typedef struct ane_req {
    id request;           /* _ANERequest, retained */
    id stats;             /* _ANEPerformanceStats, retained, or NULL */
    /* Owned until free: the request refers to these. */
    CFArrayRef inputs, input_indices, outputs, output_indices;
    CFNumberRef procedure;
} ane_req;

/* backend.c: the _ANERequest of r's bindings, with this weightsBuffer (nil for the standard
 * request) and procedure index, and a perf-stats object where the class has one. */
ane_status ane_req_create(ane_ctx *c, const ane_request *r, id weights_buffer, int64_t procedure,
                          ane_req **out);
void ane_req_free(const ane_rt *rt, ane_req *q);
/* The ops table (backend.h declares it only where it is registered: macOS arm64). */
extern const ane_backend_ops ane_ane_backend_ops;

/* query.c: the backend's query_json ("perf-stats", "advanced"). */
ane_status ane_query_json(ane_backend *b, const char *what, ane_strbuf *sb);

/* bind.c: load the framework, look up classes and selectors, check every required method
 * exists. ANE_ERR_NO_BACKEND with the reason otherwise. */
ane_status ane_objc_bind(const ane_rt *rt, ane_objc *oc);
/* Add -getUUID to _ANEInMemoryModel when it lacks it (objc_table.h says why). */
ane_status ane_objc_install_uuid_guard(const ane_objc *oc);
/* After a message failed (returned NO/nil): ane_fail with `status`, "<what>: <why>. <hint>",
 * why being the caught exception, the NSError's description, or "returned NO/nil without
 * an NSError". Call inside the autorelease pool that holds `error`. */
ane_status ane_objc_fail(const ane_objc *oc, ane_status status, id error, const char *what,
                         const char *hint);

/* workdir.c: the compiler's temp directory, $TMPDIR/<hexStringIdentifier>/, holding
 * model.mil and weights/... Programs with the same identifier (same text and weights)
 * share one directory, removed when the last of them is freed. */
ane_status ane_workdir_check_weight_name(const char *name);
ane_status ane_workdir_acquire(const ane_rt *rt, const char *hex, const char *mil, size_t mil_len,
                               const ane_weight *weights, size_t n_weights, char **dir_out);
void ane_workdir_release(const ane_rt *rt, const char *dir);
/* Overwrite one weight file in dir (the weight-reload probe's experiment). */
ane_status ane_workdir_rewrite(const ane_rt *rt, const char *dir, const char *name,
                               const void *data, size_t size);

/* malloc'd copy of s (C11 has no strdup). */
char *ane_copy_string(const char *s);

/* device_info.c */
void ane_device_detect_chip(ane_ctx *c);
ane_status ane_device_info_json(ane_ctx *c, ane_strbuf *sb);

#endif
