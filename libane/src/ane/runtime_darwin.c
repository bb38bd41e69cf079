/* runtime_darwin.c — the runtime table (runtime.h) filled with macOS's real symbols.
 *
 * The declarations below are the macOS SDK's, written out by hand (there is no SDK here);
 * each symbol is listed in a .tbd stub of libane/darwin/ under the library that really exports it.
 * Elsewhere ane_rt_darwin() is NULL and the backend's probe says "not macOS arm64". */
#include "../core/platform.h"
#include "runtime.h"

static const ane_rt *chosen;  /* set by tests only; NULL = the real table */

void ane_rt_use(const ane_rt *rt) { chosen = rt; }

const ane_rt *ane_rt_current(void) { return chosen ? chosen : ane_rt_darwin(); }

#if defined(__APPLE__) && defined(__aarch64__)

/* libobjc */
Class objc_getClass(const char *name);
SEL sel_registerName(const char *name);
Method class_getClassMethod(Class cls, SEL sel);
Method class_getInstanceMethod(Class cls, SEL sel);
const char *method_getTypeEncoding(Method m);
BOOL class_addMethod(Class cls, SEL sel, IMP imp, const char *types);
id objc_retain(id obj);
void objc_release(id obj);
void *objc_autoreleasePoolPush(void);
void objc_autoreleasePoolPop(void *pool);

/* CoreFoundation */
CFDataRef CFDataCreate(CFAllocatorRef, const uint8_t *, CFIndex);
CFMutableDictionaryRef CFDictionaryCreateMutable(CFAllocatorRef, CFIndex, const ane_cf_callbacks *,
                                                 const ane_cf_callbacks *);
void CFDictionarySetValue(CFMutableDictionaryRef, const void *, const void *);
CFNumberRef CFNumberCreate(CFAllocatorRef, CFNumberType, const void *);
CFStringRef CFStringCreateWithCString(CFAllocatorRef, const char *, CFStringEncoding);
CFArrayRef CFArrayCreate(CFAllocatorRef, const void **, CFIndex, const ane_cf_callbacks *);
void CFRelease(CFTypeRef);
extern const ane_cf_callbacks kCFTypeDictionaryKeyCallBacks;
extern const ane_cf_callbacks kCFTypeDictionaryValueCallBacks;
extern const ane_cf_callbacks kCFTypeArrayCallBacks;

/* IOSurface */
IOSurfaceRef IOSurfaceCreate(CFDictionaryRef);
kern_return_t IOSurfaceLock(IOSurfaceRef, uint32_t, uint32_t *);
kern_return_t IOSurfaceUnlock(IOSurfaceRef, uint32_t, uint32_t *);
void *IOSurfaceGetBaseAddress(IOSurfaceRef);
size_t IOSurfaceGetAllocSize(IOSurfaceRef);
extern const CFStringRef kIOSurfaceWidth, kIOSurfaceHeight, kIOSurfaceBytesPerElement,
    kIOSurfaceBytesPerRow, kIOSurfaceAllocSize, kIOSurfacePixelFormat;

static int darwin_mkdir(const char *path, unsigned mode) { return mkdir(path, (mode_t)mode); }

static int darwin_write_file(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        p += n;
        size -= (size_t)n;
    }
    return close(fd);
}

static int darwin_list_dir(const char *dir, int (*fn)(void *, const ane_rt_dirent *), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        ane_rt_dirent out;
        snprintf(out.name, sizeof out.name, "%s", e->d_name);
        out.is_dir = e->d_type == DT_DIR;
        rc = fn(ctx, &out);
    }
    closedir(d);
    return rc;
}

static void darwin_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static uint64_t darwin_now_ns(void)
{
    struct timespec ts;
    clock_gettime(ANE_CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static ane_rt darwin_rt;
static pthread_once_t darwin_once = PTHREAD_ONCE_INIT;

static void darwin_fill(void)
{
    ane_rt *rt = &darwin_rt;
    rt->name = "darwin";
    rt->dlopen = dlopen;
    rt->dlerror = dlerror;
    rt->objc_getClass = objc_getClass;
    rt->sel_registerName = sel_registerName;
    rt->class_getClassMethod = class_getClassMethod;
    rt->class_getInstanceMethod = class_getInstanceMethod;
    rt->method_getTypeEncoding = method_getTypeEncoding;
    rt->class_addMethod = class_addMethod;
    rt->objc_retain = objc_retain;
    rt->objc_release = objc_release;
    rt->objc_autoreleasePoolPush = objc_autoreleasePoolPush;
    rt->objc_autoreleasePoolPop = objc_autoreleasePoolPop;
    rt->take_exception = ane_objc_take_exception;
    ane_objc_guarded_msgs(&rt->msg);
    rt->CFDataCreate = CFDataCreate;
    rt->CFDictionaryCreateMutable = CFDictionaryCreateMutable;
    rt->CFDictionarySetValue = CFDictionarySetValue;
    rt->CFNumberCreate = CFNumberCreate;
    rt->CFStringCreateWithCString = CFStringCreateWithCString;
    rt->CFArrayCreate = CFArrayCreate;
    rt->CFRelease = CFRelease;
    rt->kCFTypeDictionaryKeyCallBacks = &kCFTypeDictionaryKeyCallBacks;
    rt->kCFTypeDictionaryValueCallBacks = &kCFTypeDictionaryValueCallBacks;
    rt->kCFTypeArrayCallBacks = &kCFTypeArrayCallBacks;
    rt->IOSurfaceCreate = IOSurfaceCreate;
    rt->IOSurfaceLock = IOSurfaceLock;
    rt->IOSurfaceUnlock = IOSurfaceUnlock;
    rt->IOSurfaceGetBaseAddress = IOSurfaceGetBaseAddress;
    rt->IOSurfaceGetAllocSize = IOSurfaceGetAllocSize;
    rt->kIOSurfaceWidth = kIOSurfaceWidth;
    rt->kIOSurfaceHeight = kIOSurfaceHeight;
    rt->kIOSurfaceBytesPerElement = kIOSurfaceBytesPerElement;
    rt->kIOSurfaceBytesPerRow = kIOSurfaceBytesPerRow;
    rt->kIOSurfaceAllocSize = kIOSurfaceAllocSize;
    rt->kIOSurfacePixelFormat = kIOSurfacePixelFormat;
    rt->getenv = getenv;
    rt->mkdir = darwin_mkdir;
    rt->write_file = darwin_write_file;
    rt->unlink = unlink;
    rt->rmdir = rmdir;
    rt->list_dir = darwin_list_dir;
    rt->sleep_ms = darwin_sleep_ms;
    rt->now_ns = darwin_now_ns;
    rt->sysctlbyname = sysctlbyname;
}

const ane_rt *ane_rt_darwin(void)
{
    pthread_once(&darwin_once, darwin_fill);
    return &darwin_rt;
}

#else

const ane_rt *ane_rt_darwin(void) { return NULL; }

#endif
