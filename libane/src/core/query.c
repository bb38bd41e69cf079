/* query.c — ane_backend_query_json: device questions the probes ask ("perf-stats",
 * "advanced"), answered by the backend's optional query_json entry.
 *
 * This file owns the envelope every answer shares ({"query", "backend", ...}) and the answer of
 * a backend without the entry ("applicable": false with a reason), so a probe always gets a
 * document of the same shape on every backend. */
#include "platform.h"
#include "backend.h"
#include "error.h"
#include "strbuf.h"

static const char *const queries[] = {"perf-stats", "advanced"};
#define N_QUERIES ((int)(sizeof queries / sizeof queries[0]))

ANE_API ane_status ane_backend_query_json(ane_backend *backend, const char *what, char *buf,
                                          size_t cap, size_t *needed)
{
    ane_clear_error();
    if (needed) *needed = 0;
    if (!backend) return ane_fail(ANE_ERR_INVALID_ARG, "ane_backend_query_json: backend is NULL");
    if (!what)
        return ane_fail(ANE_ERR_INVALID_ARG,
                        "ane_backend_query_json: what is NULL; ask \"perf-stats\" or \"advanced\"");
    int known = 0;
    for (int i = 0; i < N_QUERIES; i++)
        if (strcmp(what, queries[i]) == 0) known = 1;
    if (!known)
        return ane_fail(ANE_ERR_INVALID_ARG,
                        "unknown backend query '%s'; the queries are \"perf-stats\" and \"advanced\"", what);

    const ane_backend_ops *ops = backend->ops;
    ane_strbuf members = {0};
    if (ops->query_json) {
        ane_status st = ops->query_json(backend, what, &members);
        if (st != ANE_OK) {
            ane_sb_free(&members);
            return st;
        }
    } else {
        ane_sb_printf(&members,
                      "\"applicable\":false,\"reason\":\"the %s backend has no Neural Engine "
                      "runtime objects to inspect; run this probe with --backend ane on a Mac\"",
                      ops->name);
    }

    ane_strbuf sb = {0};
    ane_sb_append(&sb, "{\"query\":", 9);
    ane_sb_json_str(&sb, what);
    ane_sb_append(&sb, ",\"backend\":", 11);
    ane_sb_json_str(&sb, ops->name);
    if (members.len) {
        ane_sb_append(&sb, ",", 1);
        ane_sb_append(&sb, members.data, members.len);
    }
    if (members.failed) sb.failed = 1;
    ane_sb_free(&members);
    ane_sb_append(&sb, "}", 1);
    ane_status st = ane_sb_export(&sb, buf, cap, needed);
    ane_sb_free(&sb);
    return st;
}
