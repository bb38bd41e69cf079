/* guard.m — every Objective-C message of objc_table.h, sent inside @try/@catch.
 *
 * An Objective-C exception unwinding into the C backend (or further, into Bun) would skip
 * every cleanup on the way and most likely end the process. C cannot catch it, and neither
 * objc_setUncaughtExceptionHandler (it runs just before the process is aborted) nor an
 * exception preprocessor (it cannot stop the unwinding) helps. So the one robust option is
 * Objective-C's own @try/@catch, in this one small file compiled with -fobjc-exceptions
 * (libane/darwin/darwin.mk). Each wrapper has exactly the C type of its table row and does
 * nothing but the message send, so no C frame lies between the throw and the catch: on an
 * exception it stores the exception's text for this thread and returns 0 / nil / NO; the
 * backend sees the failed result and asks ane_objc_take_exception for the reason.
 *
 * No Foundation header exists here: messages go through objc_msgSend cast to the row's
 * exact type, and the exception's name/reason are read the same way. This file uses no
 * @interface, no ARC, and only the runtime functions in libane/darwin/libobjc.tbd. It is
 * built for macOS only; on Linux the test supplies a fake table instead. */
#include "../core/platform.h"
#include "runtime.h"

id objc_msgSend(id self, SEL op, ...); /* always called through a cast to the exact type */
SEL sel_registerName(const char *name);
Class object_getClass(id obj);
Method class_getInstanceMethod(Class cls, SEL sel);

static _Thread_local char pending[1024];
static _Thread_local int has_pending;

/* Text of a caught exception, "NSInvalidArgumentException: -[X y]: unrecognized selector":
 * name and reason when the object is an NSException, else its description. Every message
 * here is checked with class_getInstanceMethod first: throwing from inside @catch would
 * escape. */
static const char *utf8_of(id s)
{
    SEL utf8 = sel_registerName("UTF8String");
    if (!s || !class_getInstanceMethod(object_getClass(s), utf8)) return NULL;
    return ((const char *(*)(id, SEL))objc_msgSend)(s, utf8);
}

static id send_if_known(id obj, const char *selector)
{
    SEL sel = sel_registerName(selector);
    if (!obj || !class_getInstanceMethod(object_getClass(obj), sel)) return NULL;
    return ((id(*)(id, SEL))objc_msgSend)(obj, sel);
}

static void record(id exception)
{
    const char *name = utf8_of(send_if_known(exception, "name"));
    const char *reason = utf8_of(send_if_known(exception, "reason"));
    if (!reason) reason = utf8_of(send_if_known(exception, "description"));
    snprintf(pending, sizeof pending, "%s%s%s", name ? name : "", name && reason ? ": " : "",
             reason ? reason : (name ? "" : "(an exception without a description)"));
    has_pending = 1;
}

int ane_objc_take_exception(char *buf, size_t cap)
{
    if (!has_pending) return 0;
    has_pending = 0;
    if (cap) snprintf(buf, cap, "%s", pending);
    return 1;
}

#define GUARDED(field, cls, kind, selector, ret, params, args)                      \
    static ret guarded_##field params                                               \
    {                                                                               \
        @try {                                                                      \
            return ((ret(*) params)objc_msgSend) args;                              \
        } @catch (id exception) {                                                   \
            record(exception);                                                      \
        }                                                                           \
        return (ret)0;                                                              \
    }
ANE_OBJC_MESSAGES(GUARDED)
ANE_OBJC_QUERY_MESSAGES(GUARDED)
#undef GUARDED

#define GUARDED_VOID(field, cls, kind, selector, params, args)                      \
    static void guarded_##field params                                              \
    {                                                                               \
        @try {                                                                      \
            ((void(*) params)objc_msgSend) args;                                    \
        } @catch (id exception) {                                                   \
            record(exception);                                                      \
        }                                                                           \
    }
ANE_OBJC_QUERY_VOID_MESSAGES(GUARDED_VOID)
#undef GUARDED_VOID

void ane_objc_guarded_msgs(ane_objc_msgs *msg)
{
#define FILL(field, cls, kind, selector, ret, params, args) msg->field = guarded_##field;
#define FILL_VOID(field, cls, kind, selector, params, args) msg->field = guarded_##field;
    ANE_OBJC_MESSAGES(FILL)
    ANE_OBJC_QUERY_MESSAGES(FILL)
    ANE_OBJC_QUERY_VOID_MESSAGES(FILL_VOID)
#undef FILL
#undef FILL_VOID
}
