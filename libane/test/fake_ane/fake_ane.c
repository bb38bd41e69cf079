/* fake_ane.c — the recording fake of fake_ane.h. Test code: uses libc directly.
 * Included by test_ane_backend.c (test.mk builds one source per test program). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_ane.h"
#include "../../src/core/fp16.h"

fake_config fake_cfg;
fake_state fake;

/* ---------------------------------------------------------------- objects */

typedef enum {
    K_CLASS, K_DATA, K_STRING, K_NUMBER, K_DICT, K_ARRAY, K_SURFACE, K_SURFOBJ, K_DESCRIPTOR,
    K_MODEL, K_REQUEST, K_STATS, K_ERROR, K_UUID, K_ANE_MODEL, K_CLIENT
} kind;

typedef struct fobj {
    kind kind;
    int refs;
    int dead;
    const char *class_name;          /* K_CLASS */
    unsigned char *bytes;            /* K_DATA, K_STRING (NUL-terminated), K_SURFACE memory */
    size_t len;
    int64_t number;                  /* K_NUMBER; K_STATS: hw ns */
    struct fobj **keys, **values;    /* K_DICT (keys, values), K_ARRAY (values) */
    size_t n;
    struct fobj *refs_to[8];         /* what this object retains */
    int locks;                       /* K_SURFACE */
    int loaded;                      /* K_MODEL */
    unsigned stats_mask;             /* K_MODEL: setPerfStatsMask: */
    int mask_at_load;                /* K_MODEL: a mask was set when it was last loaded */
    struct fobj *next_all;
} fobj;

static fobj *all_objects;

#define OBJ(x) ((fobj *)(void *)(x))
#define AS_ID(x) ((id)(void *)(x))

static void logf_(const char *fmt, ...)
{
    size_t used = strlen(fake.log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fake.log + used, sizeof fake.log - used, fmt, ap);
    va_end(ap);
}

static fobj *new_obj(kind k)
{
    fobj *o = calloc(1, sizeof *o);
    o->kind = k;
    o->refs = 1;
    o->next_all = all_objects;
    all_objects = o;
    fake.live_objects++;
    return o;
}

static void release(fobj *o);

static void destroy(fobj *o)
{
    o->dead = 1;
    fake.live_objects--;
    for (size_t i = 0; i < o->n; i++) {
        if (o->keys) release(o->keys[i]);
        release(o->values[i]);
    }
    for (int i = 0; i < 8; i++)
        if (o->refs_to[i]) release(o->refs_to[i]);
}

static fobj *retain(fobj *o)
{
    if (!o || o->kind == K_CLASS) return o;
    if (o->dead) fake.over_releases++;
    o->refs++;
    return o;
}

static void release(fobj *o)
{
    if (!o || o->kind == K_CLASS) return;
    if (o->dead || o->refs <= 0) {
        fake.over_releases++;
        return;
    }
    if (--o->refs == 0) destroy(o);
}

static void hold(fobj *owner, fobj *o)
{
    for (int i = 0; i < 8; i++)
        if (!owner->refs_to[i]) {
            owner->refs_to[i] = retain(o);
            return;
        }
}

/* ---------------------------------------------------------------- autorelease pools */

#define MAX_PENDING 4096
static fobj *pending_release[MAX_PENDING];
static int n_pending;
static int pool_marks[64];

static void *pool_push(void)
{
    pool_marks[fake.pool_depth] = n_pending;
    return (void *)(intptr_t)(++fake.pool_depth);
}

static void pool_pop(void *token)
{
    int depth = (int)(intptr_t)token;
    if (depth != fake.pool_depth) logf_("pool-mismatch\n");
    fake.pool_depth = depth - 1;
    int mark = pool_marks[fake.pool_depth];
    while (n_pending > mark) release(pending_release[--n_pending]);
}

static fobj *autoreleased(fobj *o)
{
    if (fake.pool_depth == 0) logf_("autorelease-without-pool\n");
    pending_release[n_pending++] = o;
    return o;
}

/* ---------------------------------------------------------------- classes and selectors */

static fobj classes[] = {
    {.kind = K_CLASS, .class_name = "_ANEInMemoryModelDescriptor"},
    {.kind = K_CLASS, .class_name = "_ANEInMemoryModel"},
    {.kind = K_CLASS, .class_name = "_ANERequest"},
    {.kind = K_CLASS, .class_name = "_ANEIOSurfaceObject"},
    {.kind = K_CLASS, .class_name = "NSObject"},
    {.kind = K_CLASS, .class_name = "NSString"},
    {.kind = K_CLASS, .class_name = "_ANEPerformanceStats"},
    {.kind = K_CLASS, .class_name = "_ANEClient"},
    {.kind = K_CLASS, .class_name = "_ANEDeviceInfo"},
    {.kind = K_CLASS, .class_name = "NSUUID"},
    {.kind = K_CLASS, .class_name = "_ANESharedEvents"},
    {.kind = K_CLASS, .class_name = "_ANESharedSignalEvent"},
    {.kind = K_CLASS, .class_name = "_ANESharedWaitEvent"},
    {.kind = K_CLASS, .class_name = "_ANEChainingRequest"},
};

static int is_absent(const char *name)
{
    for (int i = 0; i < 8; i++)
        if (fake_cfg.absent[i] && strcmp(fake_cfg.absent[i], name) == 0) return 1;
    return 0;
}

static Class fake_getClass(const char *name)
{
    if ((fake_cfg.missing_class && strcmp(name, fake_cfg.missing_class) == 0) || is_absent(name)) return NULL;
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (strcmp(classes[i].class_name, name) == 0) return (Class)(void *)&classes[i];
    return NULL;
}

static char *interned[128];

static SEL fake_sel(const char *name)
{
    int i = 0;
    for (; i < 128 && interned[i]; i++)
        if (strcmp(interned[i], name) == 0) return (SEL)(void *)interned[i];
    interned[i] = strdup(name);
    return (SEL)(void *)interned[i];
}

static const char *sel_name(SEL s) { return (const char *)(void *)s; }

static IMP added_get_uuid;

/* A Method is the selector's name here; its type encoding follows from the name. */
static Method find_method(Class cls, SEL sel)
{
    if (!cls || !sel) return NULL;
    const char *name = sel_name(sel);
    if ((fake_cfg.missing_selector && strcmp(name, fake_cfg.missing_selector) == 0) || is_absent(name)) return NULL;
    if (strcmp(name, "getUUID") == 0) return added_get_uuid ? (Method)(void *)sel : NULL;
    return (Method)(void *)sel;
}

static const char *fake_type_encoding(Method m)
{
    const char *name = (const char *)(void *)m;
    if (strcmp(name, "numANECores") == 0 || strcmp(name, "numANEs") == 0) return "Q16@0:8";
    return "@16@0:8";
}

static BOOL fake_add_method(Class cls, SEL sel, IMP imp, const char *types)
{
    logf_("class_addMethod %s %s %s\n", OBJ(cls)->class_name, sel_name(sel), types);
    if (OBJ(cls) == &classes[1] && strcmp(sel_name(sel), "getUUID") == 0 && strcmp(types, "@@:") == 0) {
        added_get_uuid = imp;
        fake.uuid_method_added = 1;
    }
    return 1;
}

/* ---------------------------------------------------------------- exceptions */

static char exception_text[256];
static int exception_pending;

/* The guard of guard.m in miniature: a message named in raise_in "raises". */
static int raises(SEL op)
{
    if (!fake_cfg.raise_in || strcmp(sel_name(op), fake_cfg.raise_in) != 0) return 0;
    snprintf(exception_text, sizeof exception_text, "NSGenericException: fake raise in %s", sel_name(op));
    exception_pending = 1;
    return 1;
}

static int take_exception(char *buf, size_t cap)
{
    if (!exception_pending) return 0;
    exception_pending = 0;
    if (cap) snprintf(buf, cap, "%s", exception_text);
    return 1;
}

/* ---------------------------------------------------------------- CF */

static fobj *make_string(const char *s)
{
    fobj *o = new_obj(K_STRING);
    o->len = strlen(s);
    o->bytes = (unsigned char *)strdup(s);
    return o;
}

static CFDataRef cf_data(CFAllocatorRef a, const uint8_t *bytes, CFIndex len)
{
    fobj *o = new_obj(K_DATA);
    o->len = (size_t)len;
    o->bytes = malloc(len ? (size_t)len : 1);
    if (len) memcpy(o->bytes, bytes, (size_t)len);
    return (CFDataRef)(void *)o;
}

static CFMutableDictionaryRef cf_dict(CFAllocatorRef a, CFIndex cap, const ane_cf_callbacks *k,
                                      const ane_cf_callbacks *v)
{
    fobj *o = new_obj(K_DICT);
    o->keys = calloc(64, sizeof *o->keys);
    o->values = calloc(64, sizeof *o->values);
    return (CFMutableDictionaryRef)(void *)o;
}

static void cf_dict_set(CFMutableDictionaryRef d, const void *key, const void *value)
{
    fobj *o = OBJ(d);
    o->keys[o->n] = retain(OBJ(key));
    o->values[o->n] = retain(OBJ(value));
    o->n++;
}

static fobj *dict_get(fobj *d, const char *key)
{
    if (!d || d->kind != K_DICT) return NULL;
    for (size_t i = 0; i < d->n; i++)
        if (d->keys[i]->kind == K_STRING && strcmp((char *)d->keys[i]->bytes, key) == 0) return d->values[i];
    return NULL;
}

static CFNumberRef cf_number(CFAllocatorRef a, CFNumberType t, const void *value)
{
    fobj *o = new_obj(K_NUMBER);
    if (t == ANE_CF_NUMBER_SINT64) memcpy(&o->number, value, 8);
    else o->number = -999;
    return (CFNumberRef)(void *)o;
}

static CFStringRef cf_string(CFAllocatorRef a, const char *s, CFStringEncoding e)
{
    if (e != ANE_CF_STRING_UTF8) logf_("string-not-utf8\n");
    return (CFStringRef)(void *)make_string(s);
}

static CFArrayRef cf_array(CFAllocatorRef a, const void **values, CFIndex n, const ane_cf_callbacks *cb)
{
    fobj *o = new_obj(K_ARRAY);
    o->values = calloc(n ? (size_t)n : 1, sizeof *o->values);
    for (CFIndex i = 0; i < n; i++) o->values[i] = retain(OBJ(values[i]));
    o->n = (size_t)n;
    return (CFArrayRef)(void *)o;
}

static void cf_release(CFTypeRef x) { release(OBJ(x)); }

static id objc_retain_(id x) { return AS_ID(retain(OBJ(x))); }
static void objc_release_(id x) { release(OBJ(x)); }

/* The constant keys and callback tables: addresses are all that matter. */
static fobj key_width, key_height, key_bpe, key_bpr, key_alloc, key_pixel;
static char callbacks[3];

/* ---------------------------------------------------------------- IOSurface */

static int64_t prop(fobj *props, fobj *key)
{
    for (size_t i = 0; i < props->n; i++)
        if (props->keys[i] == key && props->values[i]->kind == K_NUMBER) return props->values[i]->number;
    return -1;
}

static IOSurfaceRef surface_create(CFDictionaryRef d)
{
    fobj *props = OBJ(d);
    int64_t bytes = prop(props, &key_alloc);
    if (props->n != 6 || prop(props, &key_width) != bytes || prop(props, &key_height) != 1 ||
        prop(props, &key_bpe) != 1 || prop(props, &key_bpr) != bytes || prop(props, &key_pixel) != 0)
        fake.surfaces_not_flat++;
    fake.last_surface_bytes = bytes;
    fobj *o = new_obj(K_SURFACE);
    o->len = (size_t)bytes;
    o->bytes = malloc((size_t)bytes);
    memset(o->bytes, 0xAB, (size_t)bytes);  /* not zero: the backend must zero it */
    logf_("IOSurfaceCreate %lld\n", (long long)bytes);
    return (IOSurfaceRef)(void *)o;
}

static kern_return_t surface_lock(IOSurfaceRef s, uint32_t options, uint32_t *seed)
{
    OBJ(s)->locks++;
    return 0;
}

static kern_return_t surface_unlock(IOSurfaceRef s, uint32_t options, uint32_t *seed)
{
    if (OBJ(s)->locks == 0) return 0xe00002c2;  /* kIOReturnNotLocked-like */
    OBJ(s)->locks--;
    return 0;
}

static void *surface_base(IOSurfaceRef s) { return OBJ(s)->locks ? OBJ(s)->bytes : NULL; }
static size_t surface_alloc_size(IOSurfaceRef s) { return OBJ(s)->len; }

/* ---------------------------------------------------------------- the framework's messages */

static fobj *make_error(const char *text)
{
    char buf[256];
    snprintf(buf, sizeof buf, "Error Domain=com.apple.appleneuralengine Code=3 \"%s\"", text);
    fobj *e = autoreleased(new_obj(K_ERROR));
    hold(e, make_string(buf));
    release(e->refs_to[0]);  /* make_string's +1: held by e only */
    return e;
}

static id m_descriptor_new(Class cls, SEL op, id mil, id weights, id options)
{
    logf_("descriptor\n");
    if (raises(op)) return NULL;
    fobj *m = OBJ(mil), *w = OBJ(weights);
    if (OBJ(cls) != &classes[0] || !m || m->kind != K_DATA || !w || w->kind != K_DICT || options)
        fake.descriptor_checks_failed++;
    if (m && m->kind == K_DATA && m->len < sizeof fake.mil) {
        memcpy(fake.mil, m->bytes, m->len);
        fake.mil_len = m->len;
    }
    fake.n_weights = w ? (int)w->n : -1;
    for (size_t i = 0; w && i < w->n; i++) {
        fobj *entry = w->values[i];
        fobj *offset = dict_get(entry, "offset"), *data = dict_get(entry, "data");
        if (w->keys[i]->kind != K_STRING || strncmp((char *)w->keys[i]->bytes, "@model_path/", 12) != 0 ||
            !offset || offset->kind != K_NUMBER || offset->number != 0 || !data || data->kind != K_DATA ||
            entry->n != 2)
            fake.descriptor_checks_failed++;
    }
    fobj *d = autoreleased(new_obj(K_DESCRIPTOR));
    hold(d, m);
    hold(d, w);
    return AS_ID(d);
}

static id m_model_new(Class cls, SEL op, id descriptor)
{
    logf_("model\n");
    if (raises(op)) return NULL;
    fobj *model = autoreleased(new_obj(K_MODEL));
    hold(model, OBJ(descriptor));
    return AS_ID(model);
}

/* The identifier hashes the text and the weights (FNV-1a here). */
static id m_model_hex_id(id self, SEL op)
{
    if (raises(op)) return NULL;
    fobj *d = OBJ(self)->refs_to[0], *mil = d->refs_to[0], *w = d->refs_to[1];
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < mil->len; i++) h = (h ^ mil->bytes[i]) * 1099511628211ull;
    for (size_t i = 0; w && i < w->n; i++) {
        fobj *data = dict_get(w->values[i], "data");
        for (size_t j = 0; data && j < data->len; j++) h = (h ^ data->bytes[j]) * 1099511628211ull;
    }
    char hex[40];
    snprintf(hex, sizeof hex, "fake%016llx", (unsigned long long)h);
    return AS_ID(autoreleased(make_string(hex)));
}

static int file_equals(const char *path, const unsigned char *bytes, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char *buf = malloc(len + 1);
    size_t n = fread(buf, 1, len + 1, f);
    fclose(f);
    int same = n == len && memcmp(buf, bytes, len) == 0;
    free(buf);
    return same;
}

/* Like the real compiler: read $TMPDIR/<hex>/model.mil and every weights file. */
static BOOL m_model_compile(id self, SEL op, unsigned qos, id options, id *error)
{
    logf_("compile qos=%u\n", qos);
    fake.last_qos = qos;
    if (raises(op)) return 0;
    fobj *d = OBJ(self)->refs_to[0], *mil = d->refs_to[0], *w = d->refs_to[1];
    void *pool = pool_push();
    fobj *hex = OBJ(m_model_hex_id(self, fake_sel("hexStringIdentifier")));
    const char *tmp = getenv("TMPDIR");
    snprintf(fake.compile_dir, sizeof fake.compile_dir, "%s%s%s", tmp, tmp[strlen(tmp) - 1] == '/' ? "" : "/",
             (char *)hex->bytes);
    pool_pop(pool);
    char path[2048];
    snprintf(path, sizeof path, "%s/model.mil", fake.compile_dir);
    int ok = file_equals(path, mil->bytes, mil->len);
    for (size_t i = 0; w && i < w->n; i++) {
        fobj *data = dict_get(w->values[i], "data");
        snprintf(path, sizeof path, "%s/%s", fake.compile_dir, (char *)w->keys[i]->bytes + 12);
        ok = ok && data && file_equals(path, data->bytes, data->len);
    }
    fake.compile_saw_files = ok ? 1 : -1;
    if (!options || OBJ(options)->kind != K_DICT || OBJ(options)->n != 0) fake.descriptor_checks_failed++;
    if (fake_cfg.compile_fails || !w) {  /* nil weights: the real compile fails (maderix 20cd236) */
        *error = AS_ID(make_error("fake compile failure: InvalidMILProgram in /Users/someone/tmp/model.mil"));
        return 0;
    }
    return 1;
}

static BOOL m_model_load(id self, SEL op, unsigned qos, id options, id *error)
{
    logf_("load qos=%u\n", qos);
    if (raises(op)) return 0;
    if (fake_cfg.load_failures > 0) {
        fake_cfg.load_failures--;
        *error = AS_ID(make_error("fake load failure 0x50004"));
        return 0;
    }
    OBJ(self)->loaded = 1;
    OBJ(self)->mask_at_load = OBJ(self)->stats_mask != 0;
    return 1;
}

/* A little-endian u64 of a blob file. */
static uint64_t blob_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* The fp16 weights of a one-blob weight file (MILBlob v2): the payload, or NULL. */
static const unsigned char *blob_payload(const unsigned char *file, size_t len, size_t *payload_len)
{
    if (len < 128) return NULL;
    uint64_t size = blob_u64(file + 64 + 8), at = blob_u64(file + 64 + 16);
    if (at + size > len) return NULL;
    *payload_len = (size_t)size;
    return file + at;
}

/* What the fake device computes for a request. A program with one weight blob is a 1x1 conv
 * y[o,s] = sum_i w[o,i] x[i,s] (C from the blob, S from the input size), accumulated in
 * float and rounded to fp16; a program without weights is the identity (output i = input i).
 * The weightsBuffer (a surface object) replaces the blob when fake_cfg says so. */
static BOOL run_request(fobj *model, fobj *r, id *error)
{
    fobj *proc = r->refs_to[4];
    int limit = fake_cfg.procedures > 0 ? fake_cfg.procedures : 1;
    if (proc && (proc->number < 0 || proc->number >= limit)) {
        *error = AS_ID(make_error("fake: no such procedure, status 0x2"));
        return 0;
    }
    fobj *ins = r->refs_to[0], *outs = r->refs_to[2], *stats = r->refs_to[5], *wbuf = r->refs_to[6];
    fobj *d = model->refs_to[0], *w = d->refs_to[1];
    fobj *data = w && w->n == 1 ? dict_get(w->values[0], "data") : NULL;
    const unsigned char *file = data ? data->bytes : NULL;
    size_t file_len = data ? data->len : 0;
    if (wbuf && fake_cfg.weights_buffer_overrides && wbuf->kind == K_SURFOBJ) {
        file = wbuf->refs_to[0]->bytes;
        file_len = wbuf->refs_to[0]->len;
    }
    size_t payload_len = 0;
    const unsigned char *payload = file ? blob_payload(file, file_len, &payload_len) : NULL;
    if (payload && ins->n == 1 && outs->n == 1) {
        size_t c = 1;
        while ((c + 1) * (c + 1) * 2 <= payload_len) c++;
        fobj *x = ins->values[0]->refs_to[0], *y = outs->values[0]->refs_to[0];
        size_t s_len = x->len / 2 / c;
        for (size_t o = 0; o < c; o++)
            for (size_t s = 0; s < s_len; s++) {
                float sum = 0;
                for (size_t i = 0; i < c; i++) {
                    uint16_t wh, xh;
                    memcpy(&wh, payload + (o * c + i) * 2, 2);
                    memcpy(&xh, x->bytes + (i * s_len + s) * 2, 2);
                    sum += ane_fp16_to_fp32(wh) * ane_fp16_to_fp32(xh);
                }
                uint16_t h = ane_fp32_to_fp16(sum);
                memcpy(y->bytes + (o * s_len + s) * 2, &h, 2);
            }
    } else {
        for (size_t i = 0; i < ins->n && i < outs->n; i++) {
            fobj *a = ins->values[i]->refs_to[0], *b = outs->values[i]->refs_to[0];
            memcpy(b->bytes, a->bytes, a->len < b->len ? a->len : b->len);
        }
    }
    if (stats) stats->number = fake_cfg.hw_needs_mask && !model->mask_at_load ? 0 : (int64_t)fake_cfg.hw_ns;
    return 1;
}

static BOOL m_model_eval(id self, SEL op, unsigned qos, id options, id request, id *error)
{
    logf_("eval qos=%u\n", qos);
    if (raises(op)) return 0;
    fobj *r = OBJ(request);
    if (!OBJ(self)->loaded || !r || r->kind != K_REQUEST) {
        *error = AS_ID(make_error("not loaded or not a request"));
        return 0;
    }
    if (fake_cfg.eval_fails) {
        /* The real failure path asks the model for its UUID; without the method that is an
         * unrecognized selector, i.e. an exception instead of an error. */
        if (!added_get_uuid) {
            snprintf(exception_text, sizeof exception_text,
                     "NSInvalidArgumentException: -[_ANEInMemoryModel getUUID]: unrecognized selector");
            exception_pending = 1;
            return 0;
        }
        id uuid = ((id(*)(id, SEL))added_get_uuid)(self, fake_sel("getUUID"));
        logf_("getUUID -> %s\n", uuid && OBJ(uuid)->kind == K_UUID ? "uuid" : "nil");
        *error = AS_ID(make_error("fake eval failure 0x1d"));
        return 0;
    }
    return run_request(OBJ(self), r, error);
}

static BOOL m_model_unload(id self, SEL op, unsigned qos, id *error)
{
    logf_("unload qos=%u\n", qos);
    if (raises(op)) return 0;
    OBJ(self)->loaded = 0;
    return 1;
}

static id m_surface_object_new(Class cls, SEL op, IOSurfaceRef s)
{
    if (raises(op)) return NULL;
    fobj *o = autoreleased(new_obj(K_SURFOBJ));
    hold(o, OBJ(s));
    return AS_ID(o);
}

static int indices_ok(fobj *a, size_t n)
{
    if (!a || a->kind != K_ARRAY || a->n != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (a->values[i]->kind != K_NUMBER || a->values[i]->number != (int64_t)i) return 0;
    return 1;
}

static id m_request_new(Class cls, SEL op, id inputs, id input_indices, id outputs, id output_indices,
                        id weights_buffer, id perf_stats, id procedure_index)
{
    fobj *in = OBJ(inputs), *out = OBJ(outputs), *proc = OBJ(procedure_index);
    logf_("request in=%zu out=%zu stats=%d\n", in ? in->n : 0, out ? out->n : 0, perf_stats != NULL);
    if (raises(op)) return NULL;
    int ok = in && out && in->kind == K_ARRAY && out->kind == K_ARRAY && !weights_buffer &&
             proc && proc->kind == K_NUMBER && proc->number == 0 &&
             indices_ok(OBJ(input_indices), in->n) && indices_ok(OBJ(output_indices), out->n);
    for (size_t i = 0; ok && i < in->n; i++) ok = in->values[i]->kind == K_SURFOBJ;
    for (size_t i = 0; ok && i < out->n; i++) ok = out->values[i]->kind == K_SURFOBJ;
    if (!ok) fake.request_checks_failed++;
    fobj *r = autoreleased(new_obj(K_REQUEST));
    hold(r, in);
    hold(r, OBJ(input_indices));
    hold(r, out);
    hold(r, OBJ(output_indices));
    hold(r, proc);
    r->refs_to[5] = retain(OBJ(perf_stats));
    r->refs_to[6] = retain(OBJ(weights_buffer));
    return AS_ID(r);
}

static id m_object_description(id self, SEL op)
{
    if (raises(op)) return NULL;
    fobj *o = OBJ(self);
    return o->kind == K_ERROR ? AS_ID(o->refs_to[0]) : AS_ID(autoreleased(make_string("<object>")));
}

static const char *m_string_utf8(id self, SEL op)
{
    if (raises(op)) return NULL;
    return OBJ(self)->kind == K_STRING ? (const char *)OBJ(self)->bytes : NULL;
}

static id m_stats_new(Class cls, SEL op, uint64_t ns)
{
    if (raises(op)) return NULL;
    fobj *s = autoreleased(new_obj(K_STATS));
    s->number = (int64_t)ns;
    return AS_ID(s);
}

static uint64_t m_stats_hw_ns(id self, SEL op) { return raises(op) ? 0 : (uint64_t)OBJ(self)->number; }
static id m_uuid_alloc(Class cls, SEL op) { return AS_ID(new_obj(K_UUID)); }
static id m_uuid_init(id self, SEL op) { return self; }
static id m_device_subtype(Class cls, SEL op) { return AS_ID(autoreleased(make_string("h16g"))); }
static id m_device_architecture(Class cls, SEL op) { return AS_ID(autoreleased(make_string("h16g"))); }
static long m_device_cores(Class cls, SEL op) { return 16; }
static long m_device_count(Class cls, SEL op) { return 1; }
static id m_device_product(Class cls, SEL op) { return AS_ID(autoreleased(make_string("macOS"))); }
static id m_device_build(Class cls, SEL op) { return AS_ID(autoreleased(make_string("24E248"))); }

/* ---------------------------------------------------------------- the queries' messages */

static unsigned m_model_stats_mask(id self, SEL op) { return raises(op) ? 0 : OBJ(self)->stats_mask; }

static void m_model_set_stats_mask(id self, SEL op, unsigned mask)
{
    logf_("setPerfStatsMask %u\n", mask);
    if (raises(op)) return;
    OBJ(self)->stats_mask = mask;
}

/* -[_ANEInMemoryModel model]: the _ANEModel behind it (holds the in-memory model here). */
static id m_model_inner(id self, SEL op)
{
    if (raises(op)) return NULL;
    fobj *inner = autoreleased(new_obj(K_ANE_MODEL));
    hold(inner, OBJ(self));
    return AS_ID(inner);
}

static fobj the_client = {.kind = K_CLASS, .class_name = "<client>"};  /* a singleton: never freed */

static id m_client_shared(Class cls, SEL op) { return raises(op) ? NULL : AS_ID(&the_client); }

static fobj *in_memory_of(id model) { return model && OBJ(model)->kind == K_ANE_MODEL ? OBJ(model)->refs_to[0] : NULL; }

static BOOL m_client_eval_direct(id self, SEL op, id model, id options, id request, unsigned qos, id *error)
{
    logf_("direct-eval qos=%u\n", qos);
    if (raises(op)) return 0;
    fobj *m = in_memory_of(model);
    if (fake_cfg.direct_fails || !m || !m->loaded || !request || OBJ(request)->kind != K_REQUEST || !options) {
        *error = AS_ID(make_error("fake direct eval failure"));
        return 0;
    }
    return run_request(m, OBJ(request), error);
}

static BOOL m_client_rt_begin(id self, SEL op)
{
    logf_("rt-begin\n");
    if (raises(op)) return 0;
    fake.rt_tasks++;
    return 1;
}

static BOOL m_client_rt_end(id self, SEL op)
{
    logf_("rt-end\n");
    if (raises(op)) return 0;
    fake.rt_tasks--;
    return 1;
}

static BOOL m_client_rt_load(id self, SEL op, id model, id options, unsigned qos, id *error)
{
    logf_("rt-load qos=%u\n", qos);
    if (raises(op)) return 0;
    if (fake_cfg.rt_load_fails || !in_memory_of(model)) {
        *error = AS_ID(make_error("fake real-time load failure"));
        return 0;
    }
    fake.rt_loaded++;
    return 1;
}

static BOOL m_client_rt_unload(id self, SEL op, id model, id options, unsigned qos, id *error)
{
    logf_("rt-unload qos=%u\n", qos);
    if (raises(op)) return 0;
    fake.rt_loaded--;
    return 1;
}

static BOOL m_client_rt_eval(id self, SEL op, id model, id options, id request, id *error)
{
    logf_("rt-eval\n");
    if (raises(op)) return 0;
    fobj *m = in_memory_of(model);
    if (!m || fake.rt_loaded <= 0 || fake.rt_tasks <= 0 || !request || OBJ(request)->kind != K_REQUEST) {
        *error = AS_ID(make_error("fake real-time eval outside a real-time task"));
        return 0;
    }
    return run_request(m, OBJ(request), error);
}

static BOOL m_client_prepare_chaining(id self, SEL op, id model, id options, id chaining_request, unsigned qos,
                                      id *error)
{
    logf_("prepare-chaining %s\n", chaining_request ? "request" : "nil");
    if (raises(op)) return 0;
    *error = AS_ID(make_error("fake: chainingReq is nil, status 0x5"));
    return 0;
}

static uint64_t fake_now_ns(void) { return fake.clock_ns += 1000; }

/* ---------------------------------------------------------------- OS */

static void *fake_dlopen(const char *path, int mode)
{
    logf_("dlopen %s mode=%d\n", path, mode);
    return fake_cfg.dlopen_fails ? NULL : (void *)&classes[0];
}

static char *fake_dlerror(void) { return (char *)"image not found"; }

static int fake_mkdir(const char *path, unsigned mode) { return mkdir(path, (mode_t)mode); }

static int fake_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = fwrite(data, 1, size, f);
    return fclose(f) == 0 && n == size ? 0 : -1;
}

static int fake_list_dir(const char *dir, int (*fn)(void *, const ane_rt_dirent *), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        ane_rt_dirent out;
        snprintf(out.name, sizeof out.name, "%s", e->d_name);
        out.is_dir = e->d_type == DT_DIR;
        rc = fn(ctx, &out);
    }
    closedir(d);
    return rc;
}

static void fake_sleep_ms(unsigned ms) { fake.slept_ms += (int)ms; }

static int fake_sysctl(const char *name, void *value, size_t *len, void *newp, size_t newlen)
{
    if (strcmp(name, "hw.ncpu") == 0) {
        if (*len < 4) return -1;
        int32_t n = 14;
        memcpy(value, &n, 4);
        *len = 4;
        return 0;
    }
    const char *s = strcmp(name, "machdep.cpu.brand_string") == 0 ? (fake_cfg.brand ? fake_cfg.brand : "Apple M4 Pro")
                    : strcmp(name, "hw.model") == 0               ? "Mac16,8"
                    : strcmp(name, "kern.osproductversion") == 0  ? "15.4"
                                                                  : NULL;
    if (!s) {
        errno = ENOENT;
        return -1;
    }
    size_t n = strlen(s) + 1;
    if (*len < n) return -1;
    memcpy(value, s, n);
    *len = n;
    return 0;
}

static ane_rt table;

const ane_rt *fake_runtime(void)
{
    ane_rt *rt = &table;
    rt->name = "fake";
    rt->dlopen = fake_dlopen;
    rt->dlerror = fake_dlerror;
    rt->objc_getClass = fake_getClass;
    rt->sel_registerName = fake_sel;
    rt->class_getClassMethod = find_method;
    rt->class_getInstanceMethod = find_method;
    rt->method_getTypeEncoding = fake_type_encoding;
    rt->class_addMethod = fake_add_method;
    rt->objc_retain = objc_retain_;
    rt->objc_release = objc_release_;
    rt->objc_autoreleasePoolPush = pool_push;
    rt->objc_autoreleasePoolPop = pool_pop;
    rt->take_exception = take_exception;
#define FILL(field, cls, kind, selector, ret, params, args) rt->msg.field = m_##field;
#define FILL_VOID(field, cls, kind, selector, params, args) rt->msg.field = m_##field;
    ANE_OBJC_MESSAGES(FILL)
    ANE_OBJC_QUERY_MESSAGES(FILL)
    ANE_OBJC_QUERY_VOID_MESSAGES(FILL_VOID)
#undef FILL
#undef FILL_VOID
    rt->CFDataCreate = cf_data;
    rt->CFDictionaryCreateMutable = cf_dict;
    rt->CFDictionarySetValue = cf_dict_set;
    rt->CFNumberCreate = cf_number;
    rt->CFStringCreateWithCString = cf_string;
    rt->CFArrayCreate = cf_array;
    rt->CFRelease = cf_release;
    rt->kCFTypeDictionaryKeyCallBacks = (const ane_cf_callbacks *)(void *)&callbacks[0];
    rt->kCFTypeDictionaryValueCallBacks = (const ane_cf_callbacks *)(void *)&callbacks[1];
    rt->kCFTypeArrayCallBacks = (const ane_cf_callbacks *)(void *)&callbacks[2];
    rt->IOSurfaceCreate = surface_create;
    rt->IOSurfaceLock = surface_lock;
    rt->IOSurfaceUnlock = surface_unlock;
    rt->IOSurfaceGetBaseAddress = surface_base;
    rt->IOSurfaceGetAllocSize = surface_alloc_size;
    key_width.kind = key_height.kind = key_bpe.kind = key_bpr.kind = key_alloc.kind = key_pixel.kind = K_CLASS;
    rt->kIOSurfaceWidth = (CFStringRef)(void *)&key_width;
    rt->kIOSurfaceHeight = (CFStringRef)(void *)&key_height;
    rt->kIOSurfaceBytesPerElement = (CFStringRef)(void *)&key_bpe;
    rt->kIOSurfaceBytesPerRow = (CFStringRef)(void *)&key_bpr;
    rt->kIOSurfaceAllocSize = (CFStringRef)(void *)&key_alloc;
    rt->kIOSurfacePixelFormat = (CFStringRef)(void *)&key_pixel;
    rt->getenv = getenv;
    rt->mkdir = fake_mkdir;
    rt->write_file = fake_write_file;
    rt->unlink = unlink;
    rt->rmdir = rmdir;
    rt->list_dir = fake_list_dir;
    rt->sleep_ms = fake_sleep_ms;
    rt->now_ns = fake_now_ns;
    rt->sysctlbyname = fake_sysctl;
    return rt;
}

void fake_reset(void)
{
    int live = fake.live_objects;
    memset(&fake, 0, sizeof fake);
    fake.live_objects = live;
    memset(&fake_cfg, 0, sizeof fake_cfg);
    exception_pending = 0;
    fobj **link = &all_objects;
    while (*link) {
        fobj *o = *link;
        if (o->dead) {
            *link = o->next_all;
            free(o->bytes);
            free(o->keys);
            free(o->values);
            free(o);
        } else {
            link = &o->next_all;
        }
    }
}
