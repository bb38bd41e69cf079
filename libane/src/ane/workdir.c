/* workdir.c — the temp directory Apple's compiler reads a program from.
 *
 * compileWithQoS: reads NSTemporaryDirectory()/<hexStringIdentifier>/model.mil and, for each
 * weights key "@model_path/weights/x.bin", the file weights/x.bin under that directory; every
 * working project writes them before compiling and deletes the directory after unloading
 * (reference/ane-maderix.md §2.2). NSTemporaryDirectory() is $TMPDIR on macOS (a per-user
 * folder ending in '/'). The identifier hashes the text and the weights, so two programs
 * with the same text and weights get the same directory: a process-wide registry counts
 * its users and removes it with the last one. */
#include "../core/platform.h"
#include "../core/error.h"
#include "ane_internal.h"

#define MODEL_PATH_PREFIX "@model_path/"
#define MAX_DEPTH 8   /* how deep remove_tree follows the compiler's own subfolders */

typedef struct workdir {
    char *path;
    int users;
    struct workdir *next;
} workdir;

static workdir *dirs;
static pthread_mutex_t dirs_lock = PTHREAD_MUTEX_INITIALIZER;

ane_status ane_workdir_check_weight_name(const char *name)
{
    size_t prefix = strlen(MODEL_PATH_PREFIX);
    if (strncmp(name, MODEL_PATH_PREFIX, prefix) != 0 || name[prefix] == '\0')
        return ane_fail(ANE_ERR_WEIGHTS,
                        "weight '%s': names must be the BLOBFILE path of the MIL text, "
                        "\"@model_path/weights/<file>\"", name);
    /* The rest becomes a path under the temp directory: no absolute path, no '..', no
     * empty component, so a name can never write outside it. */
    const char *p = name + prefix;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return ane_fail(ANE_ERR_WEIGHTS,
                            "weight '%s': the path after @model_path/ has an empty, '.' or '..' "
                            "part; use a plain relative path such as @model_path/weights/w.bin",
                            name);
        if (!slash) break;
        p = slash + 1;
        if (!*p)
            return ane_fail(ANE_ERR_WEIGHTS, "weight '%s' ends with '/': name a file", name);
    }
    return ANE_OK;
}

char *ane_copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

static char *join(const char *dir, const char *rel)
{
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
    return s;
}

static ane_status io_fail(const char *what, const char *path)
{
    int e = errno;
    return ane_fail(ANE_ERR_IO, "could not %s '%s' (errno %d); check that $TMPDIR is a writable "
                    "folder with free space", what, path, e);
}

/* ---------------------------------------------------------------- removal */

typedef struct remove_ctx {
    const ane_rt *rt;
    const char *dir;
    int depth;
} remove_ctx;

static int remove_tree(const ane_rt *rt, const char *dir, int depth);

static int remove_entry(void *ctx_, const ane_rt_dirent *e)
{
    remove_ctx *ctx = ctx_;
    char *path = join(ctx->dir, e->name);
    if (!path) return -1;
    int rc = e->is_dir ? remove_tree(ctx->rt, path, ctx->depth + 1) : ctx->rt->unlink(path);
    free(path);
    return rc;
}

static int remove_tree(const ane_rt *rt, const char *dir, int depth)
{
    if (depth > MAX_DEPTH) return -1;
    remove_ctx ctx = {rt, dir, depth};
    if (rt->list_dir(dir, remove_entry, &ctx) != 0) return -1;
    return rt->rmdir(dir);
}

/* ---------------------------------------------------------------- writing */

/* Write one weight file, creating the folders of its path under dir. */
static ane_status write_weight(const ane_rt *rt, const char *dir, const ane_weight *w)
{
    char *path = join(dir, w->name + strlen(MODEL_PATH_PREFIX));
    if (!path) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for a weight path");
    ane_status st = ANE_OK;
    for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash && st == ANE_OK;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (rt->mkdir(path, 0700) != 0 && errno != EEXIST) st = io_fail("create the folder", path);
        *slash = '/';
    }
    if (st == ANE_OK && rt->write_file(path, w->data, w->size) != 0)
        st = io_fail("write the weight file", path);
    free(path);
    return st;
}

static ane_status populate(const ane_rt *rt, const char *dir, const char *mil, size_t mil_len,
                           const ane_weight *weights, size_t n_weights)
{
    if (rt->mkdir(dir, 0700) != 0 && errno != EEXIST) return io_fail("create the folder", dir);
    char *path = join(dir, "model.mil");
    if (!path) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for a path");
    ane_status st = ANE_OK;
    if (rt->write_file(path, mil, mil_len) != 0) st = io_fail("write the MIL text", path);
    free(path);
    for (size_t i = 0; i < n_weights && st == ANE_OK; i++) st = write_weight(rt, dir, &weights[i]);
    return st;
}

ane_status ane_workdir_acquire(const ane_rt *rt, const char *hex, const char *mil, size_t mil_len,
                               const ane_weight *weights, size_t n_weights, char **dir_out)
{
    *dir_out = NULL;
    if (!hex[0] || strchr(hex, '/') || strcmp(hex, ".") == 0 || strcmp(hex, "..") == 0)
        return ane_fail(ANE_ERR_DEVICE,
                        "the model's hexStringIdentifier '%s' is not a folder name; this macOS "
                        "changed the private API", hex);
    const char *tmp = rt->getenv("TMPDIR");
    char *dir = join(tmp && tmp[0] ? tmp : "/tmp/", hex);
    if (!dir) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for the temp folder path");

    char *copy = ane_copy_string(dir);  /* the caller's: equal to the registry's path */
    if (!copy) {
        free(dir);
        return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for the temp folder path");
    }

    pthread_mutex_lock(&dirs_lock);
    workdir *w = dirs;
    while (w && strcmp(w->path, dir) != 0) w = w->next;
    ane_status st = ANE_OK;
    if (w) {
        /* Same identifier, so the same text and weights: the files are already there. */
        w->users++;
    } else {
        w = calloc(1, sizeof *w);
        if (!w) st = ane_fail(ANE_ERR_NO_MEMORY, "out of memory for the temp folder registry");
        if (st == ANE_OK) st = populate(rt, dir, mil, mil_len, weights, n_weights);
        if (st == ANE_OK) {
            w->path = dir;
            w->users = 1;
            w->next = dirs;
            dirs = w;
            dir = NULL;  /* the registry's now */
        } else {
            remove_tree(rt, dir, 0);
            free(w);
        }
    }
    pthread_mutex_unlock(&dirs_lock);
    free(dir);
    if (st != ANE_OK) {
        free(copy);
        return st;
    }
    *dir_out = copy;
    return ANE_OK;
}

void ane_workdir_release(const ane_rt *rt, const char *dir)
{
    pthread_mutex_lock(&dirs_lock);
    workdir **link = &dirs;
    while (*link && strcmp((*link)->path, dir) != 0) link = &(*link)->next;
    workdir *w = *link;
    if (w && --w->users == 0) {
        *link = w->next;
        /* Nothing to report to: a leftover folder in $TMPDIR is harmless. */
        remove_tree(rt, w->path, 0);
        free(w->path);
        free(w);
    }
    pthread_mutex_unlock(&dirs_lock);
}

ane_status ane_workdir_rewrite(const ane_rt *rt, const char *dir, const char *name,
                               const void *data, size_t size)
{
    ane_weight w = {name, data, size};
    pthread_mutex_lock(&dirs_lock);
    ane_status st = write_weight(rt, dir, &w);
    pthread_mutex_unlock(&dirs_lock);
    return st;
}
