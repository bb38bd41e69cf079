/* objc_table.h — every Objective-C class and message the ane backend uses, with its exact C
 * signature. THE one place to fix when macOS changes a private class.
 *
 * There are no Foundation, CoreFoundation or IOSurface headers here (we cross-compile on
 * Linux, reference/bun-notes.md §4), so the few types we need are declared by hand with
 * Apple's arm64 ABI: every object is a pointer, BOOL is C's bool on arm64, NSUInteger is
 * unsigned long, QoS is an unsigned int.
 *
 * The messages are an X-macro: X(field, class, kind, "selector", return type, (parameters),
 * (argument names)). From it runtime.h derives one typed function pointer per message
 * (ane_objc_msgs) and one registered SEL per message (ane_objc_sels); on macOS each pointer
 * is an exception-guarded call of objc_msgSend cast to exactly that type (guard.m), in the
 * test a fake with the same type. Sources: reference/ane-maderix.md §2.2 (the sequence and
 * casts of maderix/ANE), ane-ecosystem.md §(a) (the same table across five projects) and §2
 * (perf stats, from the ncdrone/ane fork); _ANEDeviceInfo's class methods from
 * ane-bridge-rs's docs. */
#ifndef ANE_ANE_OBJC_TABLE_H
#define ANE_ANE_OBJC_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- Objective-C runtime types */
typedef struct objc_object *id;
typedef struct objc_class *Class;
typedef struct objc_selector *SEL;
typedef struct objc_method *Method;
typedef void (*IMP)(void);
typedef bool BOOL;               /* arm64: BOOL is bool (x86_64's signed char is not used) */

/* ---------------------------------------------------------------- CoreFoundation / IOSurface */
typedef const void *CFTypeRef;
typedef const struct __CFAllocator *CFAllocatorRef;
typedef const struct __CFString *CFStringRef;
typedef const struct __CFData *CFDataRef;
typedef const struct __CFNumber *CFNumberRef;
typedef const struct __CFArray *CFArrayRef;
typedef const struct __CFDictionary *CFDictionaryRef;
typedef struct __CFDictionary *CFMutableDictionaryRef;
typedef struct __IOSurface *IOSurfaceRef;
typedef long CFIndex;
typedef CFIndex CFNumberType;
typedef uint32_t CFStringEncoding;
typedef int kern_return_t;
/* The callback tables are only ever passed by address: an opaque struct is enough. */
typedef struct ane_cf_callbacks ane_cf_callbacks;

#define ANE_CF_NUMBER_SINT64 ((CFNumberType)4)          /* kCFNumberSInt64Type */
#define ANE_CF_STRING_UTF8 ((CFStringEncoding)0x08000100) /* kCFStringEncodingUTF8 */
#define ANE_IOSURFACE_LOCK_READ_ONLY 1u                  /* kIOSurfaceLockReadOnly */

/* ---------------------------------------------------------------- classes
 * C(field, "class name", required). A required class missing means the backend cannot run
 * (probe fails, naming it); an optional one only turns a feature off. */
#define ANE_OBJC_CLASSES(C)                                     \
    C(descriptor, "_ANEInMemoryModelDescriptor", 1)             \
    C(model, "_ANEInMemoryModel", 1)                            \
    C(request, "_ANERequest", 1)                                \
    C(surface_object, "_ANEIOSurfaceObject", 1)                 \
    C(nsobject, "NSObject", 1)                                  \
    C(nsstring, "NSString", 1)                                  \
    C(perf_stats, "_ANEPerformanceStats", 0)                    \
    C(client, "_ANEClient", 0)                                  \
    C(device_info, "_ANEDeviceInfo", 0)                         \
    C(nsuuid, "NSUUID", 0)                                      \
    C(shared_events, "_ANESharedEvents", 0)                     \
    C(shared_signal_event, "_ANESharedSignalEvent", 0)          \
    C(shared_wait_event, "_ANESharedWaitEvent", 0)              \
    C(chaining_request, "_ANEChainingRequest", 0)

/* Is the message sent to the class itself (+) or to its instances (-)? */
#define ANE_CLASS_MSG 0
#define ANE_INSTANCE_MSG 1

/* ---------------------------------------------------------------- messages
 * A message of a required class is required (open checks the method exists); one of an
 * optional class is used only when the class and the method both exist. */
#define ANE_OBJC_MESSAGES(X)                                                                  \
    /* compile: +[_ANEInMemoryModelDescriptor modelWithMILText:weights:optionsPlist:]          \
     * MIL as NSData (UTF-8), weights NSDictionary (never nil), options nil */                \
    X(descriptor_new, descriptor, ANE_CLASS_MSG, "modelWithMILText:weights:optionsPlist:", id, \
      (Class cls, SEL op, id mil, id weights, id options), (cls, op, mil, weights, options))   \
    X(model_new, model, ANE_CLASS_MSG, "inMemoryModelWithDescriptor:", id,                   \
      (Class cls, SEL op, id descriptor), (cls, op, descriptor))                              \
    /* the name of the temp directory the compiler reads model.mil and weights/ from */       \
    X(model_hex_id, model, ANE_INSTANCE_MSG, "hexStringIdentifier", id, (id self, SEL op),   \
      (self, op))                                                                             \
    X(model_compile, model, ANE_INSTANCE_MSG, "compileWithQoS:options:error:", BOOL,         \
      (id self, SEL op, unsigned qos, id options, id *error), (self, op, qos, options, error)) \
    X(model_load, model, ANE_INSTANCE_MSG, "loadWithQoS:options:error:", BOOL,               \
      (id self, SEL op, unsigned qos, id options, id *error), (self, op, qos, options, error)) \
    X(model_eval, model, ANE_INSTANCE_MSG, "evaluateWithQoS:options:request:error:", BOOL,   \
      (id self, SEL op, unsigned qos, id options, id request, id *error),                    \
      (self, op, qos, options, request, error))                                               \
    X(model_unload, model, ANE_INSTANCE_MSG, "unloadWithQoS:error:", BOOL,                   \
      (id self, SEL op, unsigned qos, id *error), (self, op, qos, error))                     \
    /* +[_ANEIOSurfaceObject objectWithIOSurface:] wraps one surface for a request */        \
    X(surface_object_new, surface_object, ANE_CLASS_MSG, "objectWithIOSurface:", id,         \
      (Class cls, SEL op, IOSurfaceRef surface), (cls, op, surface))                         \
    /* inputs/outputs: NSArray of _ANEIOSurfaceObject; indices: NSArray of NSNumber 0..n-1;   \
     * weightsBuffer nil; perfStats nil or a stats object; procedureIndex NSNumber 0 */      \
    X(request_new, request, ANE_CLASS_MSG,                                                    \
      "requestWithInputs:inputIndices:outputs:outputIndices:weightsBuffer:perfStats:"         \
      "procedureIndex:",                                                                      \
      id,                                                                                     \
      (Class cls, SEL op, id inputs, id input_indices, id outputs, id output_indices,        \
       id weights_buffer, id perf_stats, id procedure_index),                                \
      (cls, op, inputs, input_indices, outputs, output_indices, weights_buffer, perf_stats,  \
       procedure_index))                                                                      \
    /* NSError / NSException text */                                                         \
    X(object_description, nsobject, ANE_INSTANCE_MSG, "description", id, (id self, SEL op),  \
      (self, op))                                                                             \
    X(string_utf8, nsstring, ANE_INSTANCE_MSG, "UTF8String", const char *, (id self, SEL op), \
      (self, op))                                                                             \
    /* hardware time: alloc/init gives nil, the factory works (maderix test_perf_stats) */   \
    X(stats_new, perf_stats, ANE_CLASS_MSG, "statsWithHardwareExecutionNS:", id,             \
      (Class cls, SEL op, uint64_t ns), (cls, op, ns))                                        \
    X(stats_hw_ns, perf_stats, ANE_INSTANCE_MSG, "hwExecutionTime", uint64_t,                \
      (id self, SEL op), (self, op))                                                          \
    /* the object the getUUID stub returns (an NSUUID, as ane-bridge-rs's stub) */           \
    X(uuid_alloc, nsuuid, ANE_CLASS_MSG, "alloc", id, (Class cls, SEL op), (cls, op))         \
    X(uuid_init, nsuuid, ANE_INSTANCE_MSG, "init", id, (id self, SEL op), (self, op))        \
    /* device facts for info_json; return types are checked against the method's type       \
     * encoding before the call (device_info.c) */                                           \
    X(device_subtype, device_info, ANE_CLASS_MSG, "aneSubType", id, (Class cls, SEL op),     \
      (cls, op))                                                                              \
    X(device_architecture, device_info, ANE_CLASS_MSG, "aneArchitectureType", id,            \
      (Class cls, SEL op), (cls, op))                                                         \
    X(device_cores, device_info, ANE_CLASS_MSG, "numANECores", long, (Class cls, SEL op),    \
      (cls, op))                                                                              \
    X(device_count, device_info, ANE_CLASS_MSG, "numANEs", long, (Class cls, SEL op),        \
      (cls, op))                                                                              \
    X(device_product, device_info, ANE_CLASS_MSG, "productName", id, (Class cls, SEL op),    \
      (cls, op))                                                                              \
    X(device_build, device_info, ANE_CLASS_MSG, "buildVersion", id, (Class cls, SEL op),     \
      (cls, op))

/* ---------------------------------------------------------------- the probe queries' messages
 * Used only by the "perf-stats" and "advanced" queries (query.c). Every one is optional, even
 * on a required class: a missing one is reported in the query's answer, never fatal.
 * Signatures: reference/ane-ecosystem.md §(a) and §2 (ncdrone/ane: perfStatsMask u32, direct
 * eval (model, @{}, request, u32 qos, error)), ane-maderix.md §2.6 (the real-time and chaining
 * selectors of _ANEClient). _ANEClient's methods take the _ANEModel behind the in-memory
 * model (-[_ANEInMemoryModel model]), as its schema accessor does (ane-ecosystem.md §(a)). */
#define ANE_OBJC_QUERY_MESSAGES(X)                                                            \
    X(model_stats_mask, model, ANE_INSTANCE_MSG, "perfStatsMask", unsigned, (id self, SEL op), \
      (self, op))                                                                             \
    X(model_inner, model, ANE_INSTANCE_MSG, "model", id, (id self, SEL op), (self, op))       \
    X(client_shared, client, ANE_CLASS_MSG, "sharedConnection", id, (Class cls, SEL op),     \
      (cls, op))                                                                              \
    X(client_eval_direct, client, ANE_INSTANCE_MSG,                                           \
      "doEvaluateDirectWithModel:options:request:qos:error:", BOOL,                          \
      (id self, SEL op, id model, id options, id request, unsigned qos, id *error),          \
      (self, op, model, options, request, qos, error))                                        \
    X(client_rt_begin, client, ANE_INSTANCE_MSG, "beginRealTimeTask", BOOL,                  \
      (id self, SEL op), (self, op))                                                          \
    X(client_rt_end, client, ANE_INSTANCE_MSG, "endRealTimeTask", BOOL, (id self, SEL op),   \
      (self, op))                                                                             \
    X(client_rt_load, client, ANE_INSTANCE_MSG, "loadRealTimeModel:options:qos:error:", BOOL, \
      (id self, SEL op, id model, id options, unsigned qos, id *error),                      \
      (self, op, model, options, qos, error))                                                 \
    X(client_rt_unload, client, ANE_INSTANCE_MSG, "unloadRealTimeModel:options:qos:error:",  \
      BOOL, (id self, SEL op, id model, id options, unsigned qos, id *error),                \
      (self, op, model, options, qos, error))                                                 \
    X(client_rt_eval, client, ANE_INSTANCE_MSG, "evaluateRealTimeWithModel:options:request:error:", \
      BOOL, (id self, SEL op, id model, id options, id request, id *error),                  \
      (self, op, model, options, request, error))                                             \
    X(client_prepare_chaining, client, ANE_INSTANCE_MSG,                                      \
      "prepareChainingWithModel:options:chainingReq:qos:error:", BOOL,                       \
      (id self, SEL op, id model, id options, id chaining_request, unsigned qos, id *error), \
      (self, op, model, options, chaining_request, qos, error))

/* The same for messages that return nothing: V(field, class, kind, "selector", (parameters),
 * (argument names)). A separate list because a void call cannot be `return`ed in C. */
#define ANE_OBJC_QUERY_VOID_MESSAGES(V)                                                       \
    V(model_set_stats_mask, model, ANE_INSTANCE_MSG, "setPerfStatsMask:",                     \
      (id self, SEL op, unsigned mask), (self, op, mask))

/* The guard of a failed evaluation: _ANEClient's failure report calls -getUUID, which
 * _ANEInMemoryModel lacks on some macOS versions, so a failed eval raises
 * NSInvalidArgumentException instead of returning NO (ane-ecosystem.md §3, ane-bridge-rs).
 * open() adds this method (returning an NSUUID) when the class does not have it. */
#define ANE_GET_UUID_SELECTOR "getUUID"
#define ANE_GET_UUID_TYPES "@@:"

#define ANE_FRAMEWORK_PATH \
    "/System/Library/PrivateFrameworks/AppleNeuralEngine.framework/AppleNeuralEngine"

#endif
