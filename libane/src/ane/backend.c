/* backend.c — the "ane" backend: Apple's Neural Engine through the private
 * AppleNeuralEngine framework, in the exact sequence of the working public projects
 * (reference/ane-maderix.md §2, ane-ecosystem.md §(a)):
 *
 *   compile  +[_ANEInMemoryModelDescriptor modelWithMILText:weights:optionsPlist:]
 *            +[_ANEInMemoryModel inMemoryModelWithDescriptor:], -hexStringIdentifier,
 *            write $TMPDIR/<hex>/model.mil and weights/..., -compileWithQoS:options:error:
 *   load     -loadWithQoS:options:error: (retried once after 100 ms, as maderix does)
 *   request  +[_ANEIOSurfaceObject objectWithIOSurface:] per surface, +[_ANERequest
 *            requestWithInputs:inputIndices:outputs:outputIndices:weightsBuffer:perfStats:
 *            procedureIndex:], built once per binding set and reused
 *   eval     -evaluateWithQoS:options:request:error:
 *   unload   -unloadWithQoS:error:; free removes the temp directory
 *
 * Every call goes through the runtime table (runtime.h); every BOOL, nil and NSError is
 * checked; every entry point runs inside its own autorelease pool. Objects we keep are
 * retained (+1) and released exactly once. api.c has already checked arguments, parsed the
 * MIL and checked the chip rules; the qos it passes is never 0. */
#include "../core/platform.h"
#include "../core/error.h"
#include "../mil/rules.h"
#include "ane_internal.h"

#define LOAD_RETRY_MS 100

static ane_ctx *ctx_of(ane_backend *b) { return b->impl; }

/* ---------------------------------------------------------------- backend */

static ane_status ne_probe(void)
{
    ane_objc oc;
    return ane_objc_bind(ane_rt_current(), &oc);
}

static ane_status ne_open(ane_backend *b)
{
    ane_ctx *c = calloc(1, sizeof *c);
    if (!c) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory opening the ane backend");
    ane_status st = ane_objc_bind(ane_rt_current(), &c->oc);
    if (st == ANE_OK) st = ane_objc_install_uuid_guard(&c->oc);
    if (st == ANE_OK) {
        const ane_rt *rt = c->oc.rt;
        c->empty_options = rt->CFDictionaryCreateMutable(NULL, 0, rt->kCFTypeDictionaryKeyCallBacks,
                                                         rt->kCFTypeDictionaryValueCallBacks);
        if (!c->empty_options) st = ane_fail(ANE_ERR_NO_MEMORY, "out of memory for an empty options dictionary");
    }
    if (st != ANE_OK) {
        free(c);
        return st;
    }
    ane_device_detect_chip(c);
    b->impl = c;
    return ANE_OK;
}

static void ne_close(ane_backend *b)
{
    ane_ctx *c = ctx_of(b);
    if (!c) return;
    c->oc.rt->CFRelease(c->empty_options);
    free(c);
    b->impl = NULL;
}

static ane_status ne_info_json(ane_backend *b, ane_strbuf *sb) { return ane_device_info_json(ctx_of(b), sb); }

static const char *ne_default_chip(ane_backend *b) { return ctx_of(b)->chip->name; }

/* ---------------------------------------------------------------- surfaces */

/* A CFNumber value for a property dictionary; released by the caller. */
static CFNumberRef number(const ane_rt *rt, int64_t v)
{
    return rt->CFNumberCreate(NULL, ANE_CF_NUMBER_SINT64, &v);
}

static ane_status ne_surface_create(ane_backend *b, ane_surface *s)
{
    ane_ctx *c = ctx_of(b);
    const ane_rt *rt = c->oc.rt;
    uint64_t align = c->chip->surface_align_bytes ? c->chip->surface_align_bytes : 1;
    int64_t bytes = (int64_t)(((uint64_t)s->size + align - 1) / align * align);

    /* A flat byte buffer: Width = bytes, Height 1, 1 byte per element, as every project. */
    CFMutableDictionaryRef props = rt->CFDictionaryCreateMutable(NULL, 6, rt->kCFTypeDictionaryKeyCallBacks,
                                                                 rt->kCFTypeDictionaryValueCallBacks);
    if (!props) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for IOSurface properties");
    const struct { CFStringRef key; int64_t value; } entries[] = {
        {rt->kIOSurfaceWidth, bytes},       {rt->kIOSurfaceHeight, 1},
        {rt->kIOSurfaceBytesPerElement, 1}, {rt->kIOSurfaceBytesPerRow, bytes},
        {rt->kIOSurfaceAllocSize, bytes},   {rt->kIOSurfacePixelFormat, 0},
    };
    ane_status st = ANE_OK;
    for (size_t i = 0; i < sizeof entries / sizeof entries[0] && st == ANE_OK; i++) {
        CFNumberRef n = number(rt, entries[i].value);
        if (!n) st = ane_fail(ANE_ERR_NO_MEMORY, "out of memory for IOSurface properties");
        else {
            rt->CFDictionarySetValue(props, entries[i].key, n);
            rt->CFRelease(n);
        }
    }
    IOSurfaceRef surface = st == ANE_OK ? rt->IOSurfaceCreate((CFDictionaryRef)props) : NULL;
    rt->CFRelease(props);
    if (st != ANE_OK) return st;
    if (!surface)
        return ane_fail(ANE_ERR_DEVICE, "IOSurfaceCreate failed for %lld bytes; the system may be "
                        "out of memory or surfaces: release surfaces you no longer use",
                        (long long)bytes);
    if (rt->IOSurfaceGetAllocSize(surface) < (size_t)bytes) {
        rt->CFRelease(surface);
        return ane_fail(ANE_ERR_DEVICE, "IOSurfaceCreate gave a surface smaller than the %lld bytes asked",
                        (long long)bytes);
    }
    /* ane.h promises zeroed surfaces. */
    if (rt->IOSurfaceLock(surface, 0, NULL) != 0) {
        rt->CFRelease(surface);
        return ane_fail(ANE_ERR_DEVICE, "IOSurfaceLock failed on a new surface");
    }
    memset(rt->IOSurfaceGetBaseAddress(surface), 0, (size_t)bytes);
    rt->IOSurfaceUnlock(surface, 0, NULL);
    s->impl = surface;
    return ANE_OK;
}

static void ne_surface_release(ane_surface *s)
{
    const ane_rt *rt = ctx_of(s->backend)->oc.rt;
    if (!s->impl) return;
    if (s->locked) rt->IOSurfaceUnlock(s->impl, s->locked - 1 ? ANE_IOSURFACE_LOCK_READ_ONLY : 0, NULL);
    rt->CFRelease(s->impl);
    s->impl = NULL;
}

static ane_status ne_surface_lock(ane_surface *s, uint32_t flags, void **base)
{
    const ane_rt *rt = ctx_of(s->backend)->oc.rt;
    uint32_t options = flags == ANE_LOCK_READ_ONLY ? ANE_IOSURFACE_LOCK_READ_ONLY : 0;
    kern_return_t kr = rt->IOSurfaceLock(s->impl, options, NULL);
    if (kr != 0) return ane_fail(ANE_ERR_DEVICE, "IOSurfaceLock failed (kern_return 0x%x)", (unsigned)kr);
    s->base = rt->IOSurfaceGetBaseAddress(s->impl);
    *base = s->base;
    return ANE_OK;
}

static ane_status ne_surface_unlock(ane_surface *s, uint32_t flags)
{
    const ane_rt *rt = ctx_of(s->backend)->oc.rt;
    uint32_t options = flags == ANE_LOCK_READ_ONLY ? ANE_IOSURFACE_LOCK_READ_ONLY : 0;
    kern_return_t kr = rt->IOSurfaceUnlock(s->impl, options, NULL);
    if (kr != 0) return ane_fail(ANE_ERR_DEVICE, "IOSurfaceUnlock failed (kern_return 0x%x)", (unsigned)kr);
    s->base = NULL;
    return ANE_OK;
}

/* ---------------------------------------------------------------- programs */

static void prog_free(const ane_rt *rt, ane_prog *g)
{
    if (!g) return;
    if (g->model) rt->objc_release(g->model);
    if (g->dir) {
        ane_workdir_release(rt, g->dir);
        free(g->dir);
    }
    for (size_t i = 0; i < g->n_weights; i++) free(g->weight_names[i]);
    free(g->weight_names);
    free(g->weight_sizes);
    free(g);
}

/* {"@model_path/weights/x.bin": {"offset": 0, "data": NSData}, ...}: never nil, empty when
 * there are no weights (maderix commit 20cd236: nil fails silently). Owned by the caller. */
static CFDictionaryRef weights_dict(const ane_rt *rt, const ane_weight *weights, size_t n)
{
    CFMutableDictionaryRef dict = rt->CFDictionaryCreateMutable(NULL, (CFIndex)n, rt->kCFTypeDictionaryKeyCallBacks,
                                                                rt->kCFTypeDictionaryValueCallBacks);
    if (!dict) return NULL;
    CFStringRef offset_key = rt->CFStringCreateWithCString(NULL, "offset", ANE_CF_STRING_UTF8);
    CFStringRef data_key = rt->CFStringCreateWithCString(NULL, "data", ANE_CF_STRING_UTF8);
    CFNumberRef zero = number(rt, 0);
    int ok = offset_key && data_key && zero;
    for (size_t i = 0; i < n && ok; i++) {
        CFMutableDictionaryRef entry = rt->CFDictionaryCreateMutable(NULL, 2, rt->kCFTypeDictionaryKeyCallBacks,
                                                                     rt->kCFTypeDictionaryValueCallBacks);
        CFDataRef data = rt->CFDataCreate(NULL, weights[i].data, (CFIndex)weights[i].size);
        CFStringRef key = rt->CFStringCreateWithCString(NULL, weights[i].name, ANE_CF_STRING_UTF8);
        ok = entry && data && key;
        if (ok) {
            rt->CFDictionarySetValue(entry, offset_key, zero);
            rt->CFDictionarySetValue(entry, data_key, data);
            rt->CFDictionarySetValue(dict, key, entry);
        }
        if (entry) rt->CFRelease(entry);
        if (data) rt->CFRelease(data);
        if (key) rt->CFRelease(key);
    }
    if (offset_key) rt->CFRelease(offset_key);
    if (data_key) rt->CFRelease(data_key);
    if (zero) rt->CFRelease(zero);
    if (!ok) {
        rt->CFRelease(dict);
        return NULL;
    }
    return dict;
}

static ane_status keep_weight_list(ane_prog *g, const ane_weight *weights, size_t n)
{
    g->weight_names = calloc(n ? n : 1, sizeof *g->weight_names);
    g->weight_sizes = calloc(n ? n : 1, sizeof *g->weight_sizes);
    if (!g->weight_names || !g->weight_sizes) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for the weight list");
    for (size_t i = 0; i < n; i++) {
        g->weight_names[i] = ane_copy_string(weights[i].name);
        if (!g->weight_names[i]) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for the weight list");
        g->weight_sizes[i] = weights[i].size;
        g->n_weights = i + 1;
    }
    return ANE_OK;
}

/* The body of compile, inside the caller's autorelease pool. */
static ane_status compile_in_pool(ane_ctx *c, ane_prog *g, const char *mil, size_t mil_len,
                                  const ane_weight *weights, size_t n_weights, uint32_t qos)
{
    const ane_objc *oc = &c->oc;
    const ane_rt *rt = oc->rt;
    CFDataRef text = rt->CFDataCreate(NULL, (const uint8_t *)mil, (CFIndex)mil_len);
    CFDictionaryRef wdict = weights_dict(rt, weights, n_weights);
    ane_status st = ANE_OK;
    if (!text || !wdict) st = ane_fail(ANE_ERR_NO_MEMORY, "out of memory for the MIL text and weights");

    id descriptor = NULL;
    if (st == ANE_OK) {
        descriptor = rt->msg.descriptor_new(oc->cls.descriptor, oc->sel.descriptor_new, (id)(void *)text,
                                            (id)(void *)wdict, NULL);
        if (!descriptor)
            st = ane_objc_fail(oc, ANE_ERR_DEVICE, NULL,
                               "+[_ANEInMemoryModelDescriptor modelWithMILText:weights:optionsPlist:] returned nil",
                               "the framework rejected the MIL text before compiling; check it with ane_mil_check");
    }
    if (st == ANE_OK) {
        id model = rt->msg.model_new(oc->cls.model, oc->sel.model_new, descriptor);
        if (!model)
            st = ane_objc_fail(oc, ANE_ERR_DEVICE, NULL,
                               "+[_ANEInMemoryModel inMemoryModelWithDescriptor:] returned nil", "");
        else
            g->model = rt->objc_retain(model);
    }
    if (st == ANE_OK) {
        id hex = rt->msg.model_hex_id(g->model, oc->sel.model_hex_id);
        const char *s = hex ? rt->msg.string_utf8(hex, oc->sel.string_utf8) : NULL;
        if (!s)
            st = ane_objc_fail(oc, ANE_ERR_DEVICE, NULL, "-[_ANEInMemoryModel hexStringIdentifier] gave no name", "");
        else
            st = ane_workdir_acquire(rt, s, mil, mil_len, weights, n_weights, &g->dir);
    }
    if (st == ANE_OK) {
        id error = NULL;
        if (!rt->msg.model_compile(g->model, oc->sel.model_compile, qos, (id)(void *)c->empty_options, &error))
            st = ane_objc_fail(oc, ANE_ERR_DEVICE, error, "Apple's ANE compiler rejected the program",
                               "check the text with ane_mil_check for this chip; ops, shapes and "
                               "dialects the chip does not support fail here");
    }
    if (text) rt->CFRelease(text);
    if (wdict) rt->CFRelease(wdict);
    return st;
}

static ane_status ne_program_compile(ane_program *p, const char *mil, size_t mil_len,
                                      const ane_weight *weights, size_t n_weights, uint32_t qos,
                                      uint32_t flags)
{
    ane_ctx *c = ctx_of(p->backend);
    const ane_rt *rt = c->oc.rt;
    for (size_t i = 0; i < n_weights; i++) {
        ane_status st = ane_workdir_check_weight_name(weights[i].name);
        if (st != ANE_OK) return st;
    }
    ane_prog *g = calloc(1, sizeof *g);
    if (!g) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for a program");
    ane_status st = keep_weight_list(g, weights, n_weights);
    if (st == ANE_OK) {
        void *pool = rt->objc_autoreleasePoolPush();
        st = compile_in_pool(c, g, mil, mil_len, weights, n_weights, qos);
        rt->objc_autoreleasePoolPop(pool);
    }
    if (st != ANE_OK) {
        prog_free(rt, g);  /* nothing half-made stays: the model and the temp folder go */
        return st;
    }
    p->impl = g;
    return ANE_OK;
}

static ane_status ne_program_load(ane_program *p, uint32_t qos)
{
    ane_ctx *c = ctx_of(p->backend);
    const ane_objc *oc = &c->oc;
    const ane_rt *rt = oc->rt;
    ane_prog *g = p->impl;
    void *pool = rt->objc_autoreleasePoolPush();
    id error = NULL;
    ane_status st = ANE_OK;
    if (!rt->msg.model_load(g->model, oc->sel.model_load, qos, (id)(void *)c->empty_options, &error)) {
        /* A load right after another program's unload can fail transiently; maderix's bridge
         * retries once after 100 ms. Keep the first reason for the message. */
        ane_objc_fail(oc, ANE_ERR_DEVICE, error, "first try", "");
        char first[512];
        snprintf(first, sizeof first, "%s", ane_last_error());
        rt->sleep_ms(LOAD_RETRY_MS);
        error = NULL;
        if (!rt->msg.model_load(g->model, oc->sel.model_load, qos, (id)(void *)c->empty_options, &error)) {
            ane_objc_fail(oc, ANE_ERR_DEVICE, error, "then", "");
            char second[512];
            snprintf(second, sizeof second, "%s", ane_last_error());
            st = ane_fail(ANE_ERR_DEVICE,
                          "-[_ANEInMemoryModel loadWithQoS:options:error:] failed twice, %d ms apart "
                          "(%s; %s). Programs left loaded by this or a crashed process can exhaust "
                          "the device (0x50004): unload or free programs you no longer use",
                          LOAD_RETRY_MS, first, second);
        }
    }
    rt->objc_autoreleasePoolPop(pool);
    return st;
}

static ane_status ne_program_unload(ane_program *p, uint32_t qos)
{
    ane_ctx *c = ctx_of(p->backend);
    const ane_objc *oc = &c->oc;
    const ane_rt *rt = oc->rt;
    ane_prog *g = p->impl;
    void *pool = rt->objc_autoreleasePoolPush();
    id error = NULL;
    ane_status st = ANE_OK;
    if (!rt->msg.model_unload(g->model, oc->sel.model_unload, qos, &error))
        st = ane_objc_fail(oc, ANE_ERR_DEVICE, error, "-[_ANEInMemoryModel unloadWithQoS:error:] failed", "");
    rt->objc_autoreleasePoolPop(pool);
    return st;
}

static void ne_program_free(ane_program *p)
{
    ane_ctx *c = ctx_of(p->backend);
    prog_free(c->oc.rt, p->impl);
    p->impl = NULL;
}

static ane_status ne_program_rewrite_weight(ane_program *p, const char *name, const void *data,
                                             size_t size)
{
    ane_prog *g = p->impl;
    for (size_t i = 0; i < g->n_weights; i++) {
        if (strcmp(g->weight_names[i], name) != 0) continue;
        if (g->weight_sizes[i] != size)
            return ane_fail(ANE_ERR_INVALID_ARG, "weight '%s' was %zu bytes at compile; the rewrite has %zu: "
                            "sizes must match", name, g->weight_sizes[i], size);
        return ane_workdir_rewrite(ctx_of(p->backend)->oc.rt, g->dir, name, data, size);
    }
    return ane_fail(ANE_ERR_INVALID_ARG, "the program was compiled without a weight named '%s'", name);
}

/* ---------------------------------------------------------------- requests */

void ane_req_free(const ane_rt *rt, ane_req *q)
{
    if (!q) return;
    if (q->request) rt->objc_release(q->request);
    if (q->stats) rt->objc_release(q->stats);
    CFTypeRef owned[] = {q->inputs, q->input_indices, q->outputs, q->output_indices, q->procedure};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (owned[i]) rt->CFRelease(owned[i]);
    free(q);
}

/* NSArray of _ANEIOSurfaceObject for the surfaces, and NSArray of NSNumber 0..n-1. */
static ane_status wrap_surfaces(const ane_objc *oc, ane_surface **surfaces, uint32_t n,
                                CFArrayRef *objects_out, CFArrayRef *indices_out)
{
    const ane_rt *rt = oc->rt;
    const void **objects = calloc(n ? n : 1, sizeof *objects);
    const void **indices = calloc(n ? n : 1, sizeof *indices);
    ane_status st = objects && indices ? ANE_OK : ane_fail(ANE_ERR_NO_MEMORY, "out of memory for a request");
    for (uint32_t i = 0; i < n && st == ANE_OK; i++) {
        id obj = rt->msg.surface_object_new(oc->cls.surface_object, oc->sel.surface_object_new, surfaces[i]->impl);
        if (!obj) {
            st = ane_objc_fail(oc, ANE_ERR_DEVICE, NULL, "+[_ANEIOSurfaceObject objectWithIOSurface:] returned nil", "");
            break;
        }
        objects[i] = obj;  /* autoreleased; the array retains it */
        indices[i] = number(rt, i);
        if (!indices[i]) st = ane_fail(ANE_ERR_NO_MEMORY, "out of memory for a request");
    }
    if (st == ANE_OK) {
        *objects_out = rt->CFArrayCreate(NULL, objects, n, rt->kCFTypeArrayCallBacks);
        *indices_out = rt->CFArrayCreate(NULL, indices, n, rt->kCFTypeArrayCallBacks);
        if (!*objects_out || !*indices_out) st = ane_fail(ANE_ERR_NO_MEMORY, "out of memory for a request");
    }
    for (uint32_t i = 0; indices && i < n; i++)
        if (indices[i]) rt->CFRelease(indices[i]);
    free(objects);
    free(indices);
    return st;
}

static ane_status request_in_pool(ane_ctx *c, const ane_request *r, id weights_buffer,
                                  int64_t procedure, ane_req *q)
{
    const ane_objc *oc = &c->oc;
    const ane_rt *rt = oc->rt;
    ane_status st = wrap_surfaces(oc, r->inputs, r->n_inputs, &q->inputs, &q->input_indices);
    if (st == ANE_OK) st = wrap_surfaces(oc, r->outputs, r->n_outputs, &q->outputs, &q->output_indices);
    if (st != ANE_OK) return st;
    q->procedure = number(rt, procedure);
    if (!q->procedure) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for a request");
    /* Hardware time where the class exists; a nil here only means no hw time. */
    if (oc->have.stats_new && oc->have.stats_hw_ns) {
        id stats = rt->msg.stats_new(oc->cls.perf_stats, oc->sel.stats_new, 0);
        rt->take_exception(NULL, 0);
        if (stats) q->stats = rt->objc_retain(stats);
    }
    id request = rt->msg.request_new(oc->cls.request, oc->sel.request_new, (id)(void *)q->inputs,
                                     (id)(void *)q->input_indices, (id)(void *)q->outputs,
                                     (id)(void *)q->output_indices, weights_buffer, q->stats,
                                     (id)(void *)q->procedure);
    if (!request)
        return ane_objc_fail(oc, ANE_ERR_DEVICE, NULL,
                             "+[_ANERequest requestWithInputs:...procedureIndex:] returned nil", "");
    q->request = rt->objc_retain(request);
    return ANE_OK;
}

ane_status ane_req_create(ane_ctx *c, const ane_request *r, id weights_buffer, int64_t procedure,
                          ane_req **out)
{
    const ane_rt *rt = c->oc.rt;
    *out = NULL;
    ane_req *q = calloc(1, sizeof *q);
    if (!q) return ane_fail(ANE_ERR_NO_MEMORY, "out of memory for a request");
    void *pool = rt->objc_autoreleasePoolPush();
    ane_status st = request_in_pool(c, r, weights_buffer, procedure, q);
    rt->objc_autoreleasePoolPop(pool);
    if (st != ANE_OK) {
        ane_req_free(rt, q);
        return st;
    }
    *out = q;
    return ANE_OK;
}

static ane_status ne_request_create(ane_request *r)
{
    ane_req *q;
    ane_status st = ane_req_create(ctx_of(r->program->backend), r, NULL, 0, &q);
    if (st == ANE_OK) r->impl = q;
    return st;
}

static void ne_request_free(ane_request *r)
{
    ane_req_free(ctx_of(r->program->backend)->oc.rt, r->impl);
    r->impl = NULL;
}

static ane_status ne_request_eval(ane_request *r, uint32_t qos, ane_eval_timing *t)
{
    ane_ctx *c = ctx_of(r->program->backend);
    const ane_objc *oc = &c->oc;
    const ane_rt *rt = oc->rt;
    ane_prog *g = r->program->impl;
    ane_req *q = r->impl;
    void *pool = rt->objc_autoreleasePoolPush();
    id error = NULL;
    ane_status st = ANE_OK;
    t->hw_ns = -1;
    if (!rt->msg.model_eval(g->model, oc->sel.model_eval, qos, (id)(void *)c->empty_options, q->request, &error)) {
        st = ane_objc_fail(oc, ANE_ERR_DEVICE, error, "-[_ANEInMemoryModel evaluateWithQoS:options:request:error:] failed",
                           "status 0x1d usually means a shape the chip cannot dispatch (spatial width "
                           "under 64, or several inputs); check the program against the chip profile");
    } else if (q->stats) {
        /* 0 means the device gave no time (M4 Max, macOS 26): report -1, as ane.h says. */
        uint64_t ns = rt->msg.stats_hw_ns(q->stats, oc->sel.stats_hw_ns);
        if (!rt->take_exception(NULL, 0) && ns > 0 && ns < (uint64_t)INT64_MAX) t->hw_ns = (int64_t)ns;
    }
    rt->objc_autoreleasePoolPop(pool);
    return st;
}

const ane_backend_ops ane_ane_backend_ops = {
    .name = "ane",
    .probe = ne_probe,
    .open = ne_open,
    .close = ne_close,
    .info_json = ne_info_json,
    .default_chip = ne_default_chip,
    .surface_create = ne_surface_create,
    .surface_release = ne_surface_release,
    .surface_lock = ne_surface_lock,
    .surface_unlock = ne_surface_unlock,
    .program_compile = ne_program_compile,
    .program_load = ne_program_load,
    .program_unload = ne_program_unload,
    .program_free = ne_program_free,
    .program_rewrite_weight = ne_program_rewrite_weight,
    .request_create = ne_request_create,
    .request_free = ne_request_free,
    .request_eval = ne_request_eval,
    .query_json = ane_query_json,
};
