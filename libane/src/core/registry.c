/* registry.c — the backends compiled into libane, and the public backend functions.
 *
 * "cpu" is always here. "ane" exists only in the macOS arm64 build (the private
 * AppleNeuralEngine framework exists nowhere else). "auto" picks ane when it probes OK,
 * else cpu. A backend handle is this file's ane_backend with the backend's own state in
 * impl; the backend's open/close fill and free impl, this file allocates the handle. */
#include "platform.h"
#include "backend.h"
#include "error.h"
#include "strbuf.h"

#ifndef ANE_VERSION_STRING
#define ANE_VERSION_STRING "0.0.0"
#endif

static const ane_backend_ops *const backends[] = {
#if defined(__APPLE__) && defined(__aarch64__)
    &ane_ane_backend_ops,
#endif
    &ane_cpu_backend_ops,
};

#define N_BACKENDS ((int)(sizeof backends / sizeof backends[0]))

static const ane_backend_ops *find_backend(const char *name)
{
    for (int i = 0; i < N_BACKENDS; i++)
        if (strcmp(backends[i]->name, name) == 0) return backends[i];
    return NULL;
}

/* "cpu" or "ane, cpu": for messages that list the choices. */
static void backend_names(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_BACKENDS && len < cap; i++) {
        int n = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", backends[i]->name);
        if (n < 0) break;
        len += (size_t)n;
    }
}

static ane_status no_such_backend(const char *name)
{
    char names[128];
    backend_names(names, sizeof names);
    return ane_fail(ANE_ERR_NO_BACKEND,
                    "no backend named '%s' in this build of libane (it has: %s, and \"auto\")",
                    name, names);
}

ANE_API uint32_t ane_abi_version(void) { return ANE_ABI_VERSION; }

ANE_API const char *ane_version_string(void) { return ANE_VERSION_STRING; }

ANE_API int ane_backend_count(void) { return N_BACKENDS; }

ANE_API const char *ane_backend_name(int index)
{
    if (index < 0 || index >= N_BACKENDS) {
        ane_fail(ANE_ERR_INVALID_ARG, "backend index %d is out of range 0..%d", index,
                 N_BACKENDS - 1);
        return NULL;
    }
    return backends[index]->name;
}

ANE_API ane_status ane_backend_probe(const char *name)
{
    ane_clear_error();
    if (!name) return ane_fail(ANE_ERR_INVALID_ARG, "backend name is NULL; pass \"cpu\", \"ane\" or \"auto\"");
    if (strcmp(name, "auto") == 0) return ANE_OK;  /* cpu is always there */
    const ane_backend_ops *ops = find_backend(name);
    if (!ops) return no_such_backend(name);
    return ops->probe();
}

ANE_API ane_status ane_backend_open(const char *name, ane_backend **out)
{
    ane_clear_error();
    if (!out) return ane_fail(ANE_ERR_INVALID_ARG, "ane_backend_open: out is NULL");
    *out = NULL;
    if (!name) return ane_fail(ANE_ERR_INVALID_ARG, "backend name is NULL; pass \"cpu\", \"ane\" or \"auto\"");
    const ane_backend_ops *ops = NULL;
    if (strcmp(name, "auto") == 0) {
        /* The first backend that probes OK; cpu, last in the table, always does. */
        for (int i = 0; i < N_BACKENDS && !ops; i++)
            if (backends[i]->probe() == ANE_OK) ops = backends[i];
        if (!ops) return ane_fail_context(ANE_ERR_NO_BACKEND, "no backend can run here");
        ane_clear_error();
    } else {
        ops = find_backend(name);
        if (!ops) return no_such_backend(name);
        ane_status st = ops->probe();
        if (st != ANE_OK) return ane_fail_context(st, "backend '%s' cannot run here", name);
    }
    ane_backend *b = calloc(1, sizeof *b);
    if (!b) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory opening backend '%s'", ops->name);
    b->ops = ops;
    ane_status st = ops->open(b);
    if (st != ANE_OK) {
        free(b);
        return ane_fail_context(st, "opening backend '%s'", ops->name);
    }
    *out = b;
    return ANE_OK;
}

ANE_API void ane_backend_close(ane_backend *backend)
{
    if (!backend) return;
    backend->ops->close(backend);
    free(backend);
}

ANE_API const char *ane_backend_kind(const ane_backend *backend)
{
    if (!backend) {
        ane_fail(ANE_ERR_INVALID_ARG, "ane_backend_kind: backend is NULL");
        return "";
    }
    return backend->ops->name;
}

ANE_API ane_status ane_backend_info_json(ane_backend *backend, char *buf, size_t cap, size_t *needed)
{
    ane_clear_error();
    if (needed) *needed = 0;
    if (!backend) return ane_fail(ANE_ERR_INVALID_ARG, "ane_backend_info_json: backend is NULL");
    ane_strbuf members = {0};
    ane_status st = backend->ops->info_json(backend, &members);
    if (st != ANE_OK) {
        ane_sb_free(&members);
        return st;
    }
    ane_strbuf sb = {0};
    ane_sb_append(&sb, "{\"version\":", 11);
    ane_sb_json_str(&sb, ANE_VERSION_STRING);
    ane_sb_printf(&sb, ",\"abi\":%u", ANE_ABI_VERSION);
    if (members.len) {
        ane_sb_append(&sb, ",", 1);
        ane_sb_append(&sb, members.data, members.len);
    }
    if (members.failed) sb.failed = 1;
    ane_sb_free(&members);
    ane_sb_append(&sb, "}", 1);
    st = ane_sb_export(&sb, buf, cap, needed);
    ane_sb_free(&sb);
    return st;
}
