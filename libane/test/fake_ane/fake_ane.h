/* fake_ane.h — a recording stand-in for Apple's AppleNeuralEngine framework, libobjc,
 * CoreFoundation and IOSurface, behind the ane backend's runtime table (src/ane/runtime.h).
 *
 * Objects are C structs with reference counts (toll-free bridging: one object kind serves as
 * NSData/CFData etc.). Factories return autoreleased objects, as Cocoa's do; pools release
 * them when popped. Dead objects are kept until fake_reset so an over-release is reported,
 * not a crash. Every message and runtime call is appended to a log the test reads. File
 * operations are the real ones, so the temp directory lives in a real $TMPDIR. */
#ifndef FAKE_ANE_H
#define FAKE_ANE_H

#include <stddef.h>
#include <stdint.h>

#include "../../src/ane/runtime.h"

typedef struct fake_config {
    int dlopen_fails;
    const char *missing_class;       /* objc_getClass returns NULL for it */
    const char *missing_selector;    /* class_get*Method returns NULL for it */
    int compile_fails;               /* compileWithQoS returns NO with an NSError */
    int load_failures;               /* the next N loads return NO */
    int eval_fails;                  /* eval fails: the framework calls -getUUID, then NO */
    const char *raise_in;            /* the message (selector) that raises an exception */
    const char *brand;               /* machdep.cpu.brand_string */
    uint64_t hw_ns;                  /* what hwExecutionTime reports (0 = none) */
    /* the probe queries */
    const char *absent[8];           /* more classes or selectors that do not exist */
    int hw_needs_mask;               /* hwExecutionTime stays 0 unless setPerfStatsMask: came before load */
    int weights_buffer_overrides;    /* a weightsBuffer replaces the compiled weights (else ignored) */
    int procedures;                  /* procedureIndex 0..procedures-1 evaluate (0 = only index 0) */
    int direct_fails;                /* doEvaluateDirectWithModel: returns NO with an NSError */
    int rt_load_fails;               /* loadRealTimeModel: returns NO with an NSError */
} fake_config;

typedef struct fake_state {
    char log[16384];                 /* "name args\n" per call */
    int live_objects;                /* allocated and not dead, classes excluded */
    int over_releases;               /* release of a dead object */
    int pool_depth;
    int slept_ms;
    int uuid_method_added;           /* class_addMethod(_ANEInMemoryModel, getUUID, "@@:") */
    int compile_saw_files;           /* model.mil and weights matched at compile time: 1, else -1 */
    char compile_dir[1024];          /* the directory compile looked at */
    int descriptor_checks_failed;    /* weights dict / MIL / options not as the projects pass them */
    int request_checks_failed;
    size_t mil_len;
    char mil[4096];                  /* the MIL bytes the descriptor got */
    int n_weights;                   /* entries of the weights dictionary */
    int surfaces_not_flat;           /* IOSurface properties other than the flat layout */
    int64_t last_surface_bytes;
    unsigned last_qos;
    int rt_tasks;                    /* beginRealTimeTask minus endRealTimeTask */
    int rt_loaded;                   /* loadRealTimeModel minus unloadRealTimeModel */
    uint64_t clock_ns;               /* now_ns: +1000 per call */
} fake_state;

extern fake_config fake_cfg;
extern fake_state fake;

/* The table, filled with the fake. */
const ane_rt *fake_runtime(void);
/* Clear the log and counters; free dead objects. Classes and added methods persist (the
 * real runtime's do, for the process). */
void fake_reset(void);

#endif
