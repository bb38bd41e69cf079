/* bind.c — attach to Apple's private framework: dlopen it, look up the classes and selectors
 * of objc_table.h, and check every required method exists, so a macOS that renamed one
 * fails at open with the method's name instead of an "unrecognized selector" mid-run. */
#include "../core/platform.h"
#include "../core/error.h"
#include "ane_internal.h"

/* The class table as arrays, indexed by CLASS_<field>. */
enum {
#define CLASS_INDEX(field, name, required) CLASS_##field,
    ANE_OBJC_CLASSES(CLASS_INDEX)
#undef CLASS_INDEX
};
static const char *const class_names[] = {
#define CLASS_NAME(field, name, required) name,
    ANE_OBJC_CLASSES(CLASS_NAME)
#undef CLASS_NAME
};
static const int class_required[] = {
#define CLASS_REQUIRED(field, name, required) required,
    ANE_OBJC_CLASSES(CLASS_REQUIRED)
#undef CLASS_REQUIRED
};

static Method find_method(const ane_objc *oc, Class cls, int kind, SEL sel)
{
    if (!cls) return NULL;
    return kind == ANE_CLASS_MSG ? oc->rt->class_getClassMethod(cls, sel)
                                 : oc->rt->class_getInstanceMethod(cls, sel);
}

ane_status ane_objc_bind(const ane_rt *rt, ane_objc *oc)
{
    memset(oc, 0, sizeof *oc);
    oc->rt = rt;
    if (!rt)
        return ane_fail(ANE_ERR_NO_BACKEND,
                        "the ane backend runs only on macOS arm64 (Apple's AppleNeuralEngine "
                        "framework exists nowhere else); use the cpu backend here");
    if (!rt->dlopen(ANE_FRAMEWORK_PATH, RTLD_NOW)) {
        const char *why = rt->dlerror();
        return ane_fail(ANE_ERR_NO_BACKEND,
                        "AppleNeuralEngine.framework could not be loaded from %s (%s); this Mac "
                        "has no Neural Engine framework: use the cpu backend",
                        ANE_FRAMEWORK_PATH, why ? why : "no reason given");
    }

    ane_strbuf missing = {0};
#define LOOK_UP(field, name, required)                                              \
    oc->cls.field = rt->objc_getClass(name);                                        \
    if (required && !oc->cls.field) ane_sb_printf(&missing, "%s%s", missing.len ? ", " : "", name);
    ANE_OBJC_CLASSES(LOOK_UP)
#undef LOOK_UP
    if (missing.len) {
        ane_status st = ane_fail(ANE_ERR_NO_BACKEND,
                                 "AppleNeuralEngine.framework loaded but lacks the classes %s: this "
                                 "macOS changed its private API (update libane/src/ane/objc_table.h)",
                                 missing.data);
        ane_sb_free(&missing);
        return st;
    }

    /* Each message: required when its class is, else usable only if the method exists. */
#define CHECK_MESSAGE(field, cls_field, kind, selector, ret, params, args)                  \
    oc->sel.field = rt->sel_registerName(selector);                                        \
    oc->have.field = find_method(oc, oc->cls.cls_field, kind, oc->sel.field) != NULL;      \
    if (class_required[CLASS_##cls_field] && !oc->have.field)                             \
        ane_sb_printf(&missing, "%s%c[%s %s]", missing.len ? ", " : "",                     \
                      kind == ANE_CLASS_MSG ? '+' : '-', class_names[CLASS_##cls_field], selector);
    ANE_OBJC_MESSAGES(CHECK_MESSAGE)
#undef CHECK_MESSAGE
    /* The queries' messages: always optional (objc_table.h). */
#define CHECK_OPTIONAL(field, cls_field, kind, selector, ret, params, args)                 \
    oc->sel.field = rt->sel_registerName(selector);                                        \
    oc->have.field = find_method(oc, oc->cls.cls_field, kind, oc->sel.field) != NULL;
#define CHECK_OPTIONAL_VOID(field, cls_field, kind, selector, params, args)                 \
    CHECK_OPTIONAL(field, cls_field, kind, selector, void, params, args)
    ANE_OBJC_QUERY_MESSAGES(CHECK_OPTIONAL)
    ANE_OBJC_QUERY_VOID_MESSAGES(CHECK_OPTIONAL_VOID)
#undef CHECK_OPTIONAL
#undef CHECK_OPTIONAL_VOID
    oc->sel.get_uuid = rt->sel_registerName(ANE_GET_UUID_SELECTOR);
    if (missing.len) {
        ane_status st = ane_fail(ANE_ERR_NO_BACKEND,
                                 "AppleNeuralEngine.framework lacks the methods %s: this macOS "
                                 "changed its private API (update libane/src/ane/objc_table.h)",
                                 missing.data);
        ane_sb_free(&missing);
        return st;
    }
    return ANE_OK;
}

/* ---------------------------------------------------------------- the getUUID guard */

/* One NSUUID for the life of the process, made when the stub is installed. */
static id stub_uuid;
static pthread_mutex_t stub_lock = PTHREAD_MUTEX_INITIALIZER;

static id get_uuid_stub(id self, SEL op) { return stub_uuid; }

ane_status ane_objc_install_uuid_guard(const ane_objc *oc)
{
    const ane_rt *rt = oc->rt;
    ane_status st = ANE_OK;
    pthread_mutex_lock(&stub_lock);
    if (!rt->class_getInstanceMethod(oc->cls.model, oc->sel.get_uuid)) {
        if (!stub_uuid && oc->have.uuid_alloc && oc->have.uuid_init) {
            void *pool = rt->objc_autoreleasePoolPush();
            id fresh = rt->msg.uuid_alloc(oc->cls.nsuuid, oc->sel.uuid_alloc);
            if (fresh) stub_uuid = rt->msg.uuid_init(fresh, oc->sel.uuid_init);  /* owned, kept */
            rt->take_exception(NULL, 0);  /* a failure leaves the stub returning nil: still no raise */
            rt->objc_autoreleasePoolPop(pool);
        }
        if (!rt->class_addMethod(oc->cls.model, oc->sel.get_uuid, (IMP)get_uuid_stub,
                                 ANE_GET_UUID_TYPES))
            st = ane_fail(ANE_ERR_DEVICE,
                          "could not add -getUUID to _ANEInMemoryModel (class_addMethod failed); "
                          "a failed evaluation would raise instead of reporting");
    }
    pthread_mutex_unlock(&stub_lock);
    return st;
}

/* ---------------------------------------------------------------- failures */

ane_status ane_objc_fail(const ane_objc *oc, ane_status status, id error, const char *what,
                         const char *hint)
{
    const ane_rt *rt = oc->rt;
    char why[1024];
    char exception[1024];
    if (rt->take_exception(exception, sizeof exception)) {
        snprintf(why, sizeof why, "raised an Objective-C exception: %.900s", exception);
    } else if (error) {
        id text = rt->msg.object_description(error, oc->sel.object_description);
        const char *utf8 = text ? rt->msg.string_utf8(text, oc->sel.string_utf8) : NULL;
        if (rt->take_exception(exception, sizeof exception)) utf8 = NULL;
        snprintf(why, sizeof why, "%s", utf8 ? utf8 : "failed with an NSError that has no description");
    } else {
        snprintf(why, sizeof why, "failed without an NSError or exception");
    }
    return ane_fail(status, "%s: %s%s%s", what, why, hint && *hint ? ". " : "", hint ? hint : "");
}
