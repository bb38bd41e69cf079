/* runtime.h — every entry point of the OS and the Objective-C runtime that the ane backend
 * calls, as ONE table of function pointers.
 *
 * On macOS (runtime_darwin.c) the table holds the real symbols of libSystem, libobjc,
 * CoreFoundation and IOSurface, and guard.m's exception-guarded objc_msgSend casts. The
 * test (libane/test/test_ane_backend.c) fills it with a recording fake, so the backend's
 * whole call sequence, its arguments, the temp-directory lifecycle, the error paths and the
 * reference counts are checked on Linux. The backend never calls any of these functions
 * directly. */
#ifndef ANE_ANE_RUNTIME_H
#define ANE_ANE_RUNTIME_H

#include "objc_table.h"

/* One typed function pointer per message of objc_table.h. */
typedef struct ane_objc_msgs {
#define ANE_MSG_FIELD(field, cls, kind, selector, ret, params, args) ret (*field) params;
#define ANE_VOID_MSG_FIELD(field, cls, kind, selector, params, args) void (*field) params;
    ANE_OBJC_MESSAGES(ANE_MSG_FIELD)
    ANE_OBJC_QUERY_MESSAGES(ANE_MSG_FIELD)
    ANE_OBJC_QUERY_VOID_MESSAGES(ANE_VOID_MSG_FIELD)
#undef ANE_MSG_FIELD
#undef ANE_VOID_MSG_FIELD
} ane_objc_msgs;

typedef struct ane_objc_sels {
#define ANE_SEL_FIELD(field, cls, kind, selector, ret, params, args) SEL field;
#define ANE_VOID_SEL_FIELD(field, cls, kind, selector, params, args) SEL field;
    ANE_OBJC_MESSAGES(ANE_SEL_FIELD)
    ANE_OBJC_QUERY_MESSAGES(ANE_SEL_FIELD)
    ANE_OBJC_QUERY_VOID_MESSAGES(ANE_VOID_SEL_FIELD)
#undef ANE_SEL_FIELD
#undef ANE_VOID_SEL_FIELD
    SEL get_uuid;
} ane_objc_sels;

typedef struct ane_objc_classes {
#define ANE_CLASS_FIELD(field, name, required) Class field;
    ANE_OBJC_CLASSES(ANE_CLASS_FIELD)
#undef ANE_CLASS_FIELD
} ane_objc_classes;

/* A directory entry as the backend needs it: the name and whether it is a directory. */
typedef struct ane_rt_dirent {
    char name[256];
    int is_dir;
} ane_rt_dirent;

typedef struct ane_rt {
    const char *name;                 /* "darwin", or the fake's name in messages */

    /* dynamic loading (libSystem) */
    void *(*dlopen)(const char *path, int mode);
    char *(*dlerror)(void);

    /* the Objective-C runtime (libobjc) */
    Class (*objc_getClass)(const char *name);
    SEL (*sel_registerName)(const char *name);
    Method (*class_getClassMethod)(Class cls, SEL sel);
    Method (*class_getInstanceMethod)(Class cls, SEL sel);
    const char *(*method_getTypeEncoding)(Method m);
    BOOL (*class_addMethod)(Class cls, SEL sel, IMP imp, const char *types);
    id (*objc_retain)(id obj);
    void (*objc_release)(id obj);
    void *(*objc_autoreleasePoolPush)(void);
    void (*objc_autoreleasePoolPop)(void *pool);
    /* The text of the Objective-C exception that the last guarded message on this thread
     * caught (the message then returned 0/nil/NO); copies it to buf and clears it.
     * Returns 1 when there was one. */
    int (*take_exception)(char *buf, size_t cap);
    ane_objc_msgs msg;

    /* CoreFoundation: toll-free bridged to NSData, NSDictionary, NSArray, NSNumber, NSString */
    CFDataRef (*CFDataCreate)(CFAllocatorRef alloc, const uint8_t *bytes, CFIndex length);
    CFMutableDictionaryRef (*CFDictionaryCreateMutable)(CFAllocatorRef alloc, CFIndex capacity,
                                                        const ane_cf_callbacks *key_callbacks,
                                                        const ane_cf_callbacks *value_callbacks);
    void (*CFDictionarySetValue)(CFMutableDictionaryRef dict, const void *key, const void *value);
    CFNumberRef (*CFNumberCreate)(CFAllocatorRef alloc, CFNumberType type, const void *value);
    CFStringRef (*CFStringCreateWithCString)(CFAllocatorRef alloc, const char *s,
                                             CFStringEncoding encoding);
    CFArrayRef (*CFArrayCreate)(CFAllocatorRef alloc, const void **values, CFIndex n,
                                const ane_cf_callbacks *callbacks);
    void (*CFRelease)(CFTypeRef obj);
    const ane_cf_callbacks *kCFTypeDictionaryKeyCallBacks;
    const ane_cf_callbacks *kCFTypeDictionaryValueCallBacks;
    const ane_cf_callbacks *kCFTypeArrayCallBacks;

    /* IOSurface */
    IOSurfaceRef (*IOSurfaceCreate)(CFDictionaryRef properties);
    kern_return_t (*IOSurfaceLock)(IOSurfaceRef s, uint32_t options, uint32_t *seed);
    kern_return_t (*IOSurfaceUnlock)(IOSurfaceRef s, uint32_t options, uint32_t *seed);
    void *(*IOSurfaceGetBaseAddress)(IOSurfaceRef s);
    size_t (*IOSurfaceGetAllocSize)(IOSurfaceRef s);
    CFStringRef kIOSurfaceWidth, kIOSurfaceHeight, kIOSurfaceBytesPerElement,
        kIOSurfaceBytesPerRow, kIOSurfaceAllocSize, kIOSurfacePixelFormat;

    /* files, environment, time, system facts (libSystem). Return -1 with errno set on
     * failure, as POSIX. */
    char *(*getenv)(const char *name);
    int (*mkdir)(const char *path, unsigned mode);
    /* Create or truncate path and write size bytes to it. */
    int (*write_file)(const char *path, const void *data, size_t size);
    int (*unlink)(const char *path);
    int (*rmdir)(const char *path);
    /* Call fn for every entry of dir but "." and ".."; stops and returns fn's value when it
     * is non-zero. */
    int (*list_dir)(const char *dir, int (*fn)(void *ctx, const ane_rt_dirent *e), void *ctx);
    void (*sleep_ms)(unsigned ms);
    uint64_t (*now_ns)(void);         /* a monotonic clock, for the queries' timings */
    int (*sysctlbyname)(const char *name, void *value, size_t *len, void *newp, size_t newlen);
} ane_rt;

/* The real table (macOS), or NULL where this is not macOS arm64. Filled once. */
const ane_rt *ane_rt_darwin(void);

/* The runtime the backend's next open() uses: NULL restores the real one. For tests. */
void ane_rt_use(const ane_rt *rt);
const ane_rt *ane_rt_current(void);

#if defined(__APPLE__)
/* guard.m: fills msg with the exception-guarded objc_msgSend casts; the exception text
 * taker for the table. */
void ane_objc_guarded_msgs(ane_objc_msgs *msg);
int ane_objc_take_exception(char *buf, size_t cap);
#endif

#endif
