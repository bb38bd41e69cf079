/*
 * platform.h — the only door to the C library for libane's sources.
 *
 * libane is built for macOS arm64 on Linux, with clang + lld and no macOS SDK (see
 * reference/bun-notes.md §4). Linux's /usr/include headers describe glibc, not macOS: their
 * struct sizes (pthread_mutex_t), constants (O_CREAT, CLOCK_MONOTONIC) and symbols (errno,
 * stdout) are wrong there. So every source includes this header instead of <stdio.h>,
 * <stdlib.h>, <pthread.h> ..., and on Apple targets it declares exactly what libane uses,
 * with macOS's ABI. The freestanding headers (stddef, stdint, stdbool, stdarg, float,
 * limits) come from the compiler and are fine everywhere.
 *
 * To use another libc function: declare it in the __APPLE__ branch with macOS's exact
 * signature, and add its symbol to libane/darwin/libSystem.tbd; the darwin link in CI fails
 * on anything missing.
 */
#ifndef ANE_CORE_PLATFORM_H
#define ANE_CORE_PLATFORM_H

/* Before any header: glibc reads it once, at its first header (even <stdint.h>). */
#if !defined(__APPLE__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <float.h>
#include <limits.h>

#if !defined(__APPLE__)

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ANE_SC_NPROCESSORS_ONLN _SC_NPROCESSORS_ONLN
#define ANE_CLOCK_MONOTONIC CLOCK_MONOTONIC

#else /* __APPLE__: macOS arm64 ABI, declared by hand */

typedef long ssize_t;
typedef long off_t;
typedef unsigned short mode_t;
typedef long time_t;
struct timespec { time_t tv_sec; long tv_nsec; };

/* stdlib / string */
void *malloc(size_t);
void *calloc(size_t, size_t);
void *realloc(void *, size_t);
void free(void *);
int posix_memalign(void **, size_t, size_t);
void *memcpy(void *, const void *, size_t);
void *memmove(void *, const void *, size_t);
void *memset(void *, int, size_t);
int memcmp(const void *, const void *, size_t);
size_t strlen(const char *);
int strcmp(const char *, const char *);
int strncmp(const char *, const char *, size_t);
char *strchr(const char *, int);
char *strstr(const char *, const char *);
char *strdup(const char *);
double strtod(const char *, char **);
long long strtoll(const char *, char **, int);
unsigned long long strtoull(const char *, char **, int);
void qsort(void *, size_t, size_t, int (*)(const void *, const void *));
char *getenv(const char *);
int snprintf(char *, size_t, const char *, ...);
int vsnprintf(char *, size_t, const char *, va_list);

/* errno (the values are the same on Linux) */
int *__error(void);
#define errno (*__error())
#define ENOENT 2
#define EINTR 4
#define EEXIST 17

/* math (libsystem_m, part of libSystem) */
double exp(double);
float logf(float); double log(double);
float tanhf(float); double tanh(double);
float sqrtf(float); double sqrt(double);
float powf(float, float); double pow(double, double);
float fabsf(float); double fabs(double);
float floorf(float); double floor(double);
float ceilf(float); double ceil(double);
float erff(float); double erf(double);
float roundf(float); double round(double);
float fmaxf(float, float); float fminf(float, float);
double cos(double); double sin(double);
float cosf(float); float sinf(float);
#define INFINITY (__builtin_inff())
#define NAN (__builtin_nanf(""))
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf(x)
#define isfinite(x) __builtin_isfinite(x)

/* time, sysconf, sysctl */
typedef int clockid_t;
#define ANE_CLOCK_MONOTONIC 6
int clock_gettime(clockid_t, struct timespec *);
long sysconf(int);
#define ANE_SC_NPROCESSORS_ONLN 58
int sysctlbyname(const char *, void *, size_t *, void *, size_t);

/* pthreads (sizes from macOS's sys/_pthread/_pthread_types.h, LP64) */
typedef struct _opaque_pthread_t *pthread_t;
typedef struct { long __sig; char __opaque[56]; } pthread_attr_t;
typedef struct { long __sig; char __opaque[56]; } pthread_mutex_t;
typedef struct { long __sig; char __opaque[8]; } pthread_mutexattr_t;
typedef struct { long __sig; char __opaque[40]; } pthread_cond_t;
typedef struct { long __sig; char __opaque[8]; } pthread_condattr_t;
typedef struct { long __sig; char __opaque[8]; } pthread_once_t;
#define PTHREAD_MUTEX_INITIALIZER {0x32AAABA7, {0}}
#define PTHREAD_COND_INITIALIZER {0x3CB0B1BB, {0}}
#define PTHREAD_ONCE_INIT {0x30B1BCBA, {0}}
int pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
int pthread_join(pthread_t, void **);
int pthread_mutex_init(pthread_mutex_t *, const pthread_mutexattr_t *);
int pthread_mutex_destroy(pthread_mutex_t *);
int pthread_mutex_lock(pthread_mutex_t *);
int pthread_mutex_unlock(pthread_mutex_t *);
int pthread_cond_init(pthread_cond_t *, const pthread_condattr_t *);
int pthread_cond_destroy(pthread_cond_t *);
int pthread_cond_wait(pthread_cond_t *, pthread_mutex_t *);
int pthread_cond_broadcast(pthread_cond_t *);
int pthread_cond_signal(pthread_cond_t *);
int pthread_once(pthread_once_t *, void (*)(void));

/* files and dynamic loading (used by the ane backend) */
#define O_RDONLY 0x0000
#define O_WRONLY 0x0001
#define O_RDWR 0x0002
#define O_CREAT 0x0200
#define O_TRUNC 0x0400
#define O_EXCL 0x0800
int open(const char *, int, ...);
int close(int);
ssize_t read(int, void *, size_t);
ssize_t write(int, const void *, size_t);
int mkdir(const char *, mode_t);
int rmdir(const char *);
int unlink(const char *);
/* directories (arm64 macOS: 64-bit inodes, no $INODE64 symbol suffix) */
typedef struct ane_darwin_dir DIR;
struct dirent {
    uint64_t d_ino;
    uint64_t d_seekoff;
    uint16_t d_reclen;
    uint16_t d_namlen;
    uint8_t d_type;
    char d_name[1024];
};
#define DT_DIR 4
DIR *opendir(const char *);
struct dirent *readdir(DIR *);
int closedir(DIR *);
int nanosleep(const struct timespec *, struct timespec *);
#define RTLD_LAZY 0x1
#define RTLD_NOW 0x2
#define RTLD_LOCAL 0x4
#define RTLD_GLOBAL 0x8
void *dlopen(const char *, int);
void *dlsym(void *, const char *);
char *dlerror(void);
int dlclose(void *);

#endif /* __APPLE__ */

#endif /* ANE_CORE_PLATFORM_H */
