/* test_ane_backend.c — the "ane" backend (libane/src/ane) on Linux, against a recording fake
 * of Apple's framework, the Objective-C runtime, CoreFoundation and IOSurface
 * (fake_ane/fake_ane.c). The expectations come from the public projects' sequence
 * (reference/ane-maderix.md §2, ane-ecosystem.md §(a)), not from the backend's code:
 *   - call order dlopen -> descriptor -> model -> compile -> load -> request -> eval -> unload
 *   - arguments: QoS, MIL bytes, the weights dictionary (keys, offset 0, never nil), options,
 *     request indices 0..n-1, procedure 0, flat IOSurface properties
 *   - the temp directory: populated with model.mil and weights before compile (the fake's
 *     compile reads the real files), removed after free, shared by identical programs
 *   - failures: compile with an NSError, load retried once after 100 ms, eval failure
 *     through the getUUID guard, an Objective-C exception, missing framework/class/method
 *   - reference counts: every object the backend retains or creates is released once
 * The backend is not registered on Linux, so the test drives its ops table directly and
 * builds the handles as api.c does.
 *
 * Run from the repository root: build/test/test_ane_backend */
#define _GNU_SOURCE /* mkdtemp, strdup, DT_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../include/ane.h"
#include "../src/core/backend.h"
#include "../src/core/error.h"
#include "../src/mil/rules.h"

/* test.mk builds one source file per test program: the fake comes in here. */
#include "fake_ane/fake_ane.c"

extern const ane_backend_ops ane_ane_backend_ops;
static const ane_backend_ops *ops = &ane_ane_backend_ops;

#include "check.h"

static const char MIL[] = "program(1.3)\n[buildInfo = dict<string, string>({{\"x\", \"y\"}})]\n"
                          "{ func main<ios18>(tensor<fp16, [1, 64, 1, 64]> x) { } -> (x); }\n";

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The lines of `want` appear in the log in this order (other lines may come between). */
static int log_in_order(const char *const *want, int n)
{
    const char *at = fake.log;
    for (int i = 0; i < n; i++) {
        const char *hit = strstr(at, want[i]);
        if (!hit) {
            printf("  log lacks '%s' after position %ld; log:\n%s", want[i], (long)(at - fake.log), fake.log);
            return 0;
        }
        at = hit + strlen(want[i]);
    }
    return 1;
}

static ane_backend *open_backend(void)
{
    ane_backend *b = calloc(1, sizeof *b);
    b->ops = ops;
    if (ops->open(b) != ANE_OK) {
        printf("  open failed: %s\n", ane_last_error());
        free(b);
        return NULL;
    }
    return b;
}

static void close_backend(ane_backend *b)
{
    ops->close(b);
    free(b);
}

static ane_surface *surface(ane_backend *b, size_t bytes)
{
    ane_surface *s = calloc(1, sizeof *s);
    s->backend = b;
    s->size = bytes;
    if (ops->surface_create(b, s) != ANE_OK) {
        free(s);
        return NULL;
    }
    return s;
}

static void surface_free(ane_surface *s)
{
    ops->surface_release(s);
    free(s);
}

static ane_program *program(ane_backend *b, const ane_weight *w, size_t n, uint32_t qos, ane_status *st)
{
    ane_program *p = calloc(1, sizeof *p);
    p->backend = b;
    p->chip = ane_chip_profile_find(ops->default_chip(b));
    *st = ops->program_compile(p, MIL, strlen(MIL), w, n, qos, 0);
    if (*st != ANE_OK) {
        free(p);
        return NULL;
    }
    return p;
}

static void program_free(ane_program *p)
{
    if (p->loaded) ops->program_unload(p, ANE_QOS_DEFAULT);
    ops->program_free(p);
    free(p);
}

/* ---------------------------------------------------------------- probe and open */

static void test_probe(void)
{
    ane_rt_use(NULL);  /* the real table: none on Linux */
    ane_status st = ops->probe();
    CHECK(st == ANE_ERR_NO_BACKEND && strstr(ane_last_error(), "macOS arm64"),
          "probe without a runtime: %d '%s'", st, ane_last_error());

    ane_rt_use(fake_runtime());
    fake_reset();
    CHECK(ops->probe() == ANE_OK, "probe with the fake: %s", ane_last_error());
    CHECK(strstr(fake.log, "dlopen /System/Library/PrivateFrameworks/AppleNeuralEngine.framework/AppleNeuralEngine mode=2"),
          "dlopen of the framework with RTLD_NOW: %s", fake.log);

    fake_reset();
    fake_cfg.dlopen_fails = 1;
    st = ops->probe();
    CHECK(st == ANE_ERR_NO_BACKEND && strstr(ane_last_error(), "AppleNeuralEngine.framework") &&
              strstr(ane_last_error(), "image not found"),
          "framework missing: %d '%s'", st, ane_last_error());

    fake_reset();
    fake_cfg.missing_class = "_ANERequest";
    st = ops->probe();
    CHECK(st == ANE_ERR_NO_BACKEND && strstr(ane_last_error(), "_ANERequest"), "class missing: '%s'", ane_last_error());

    fake_reset();
    fake_cfg.missing_class = "_ANEPerformanceStats";  /* optional */
    CHECK(ops->probe() == ANE_OK, "an optional class missing is fine: '%s'", ane_last_error());

    fake_reset();
    fake_cfg.missing_selector = "compileWithQoS:options:error:";
    st = ops->probe();
    CHECK(st == ANE_ERR_NO_BACKEND && strstr(ane_last_error(), "-[_ANEInMemoryModel compileWithQoS:options:error:]"),
          "method missing: '%s'", ane_last_error());

    fake_reset();
    fake_cfg.missing_selector = "objectWithIOSurface:";
    st = ops->probe();
    CHECK(st == ANE_ERR_NO_BACKEND && strstr(ane_last_error(), "+[_ANEIOSurfaceObject objectWithIOSurface:]"),
          "class method missing: '%s'", ane_last_error());
    fake_reset();
}

static void test_open_and_info(void)
{
    fake_reset();
    ane_backend *b = open_backend();
    CHECK(b != NULL, "open");
    if (!b) return;
    CHECK(fake.uuid_method_added && strstr(fake.log, "class_addMethod _ANEInMemoryModel getUUID @@:\n"),
          "the first open adds -getUUID (\"@@:\") to _ANEInMemoryModel: %s", fake.log);
    CHECK(added_get_uuid != NULL, "the getUUID stub exists after the first open");
    if (added_get_uuid) {
        id u = ((id(*)(id, SEL))added_get_uuid)(NULL, fake_sel("getUUID"));
        CHECK(u && OBJ(u)->kind == K_UUID, "the stub returns an NSUUID");
    }
    CHECK(strcmp(ops->default_chip(b), "m4") == 0, "Apple M4 Pro -> m4, got %s", ops->default_chip(b));

    ane_strbuf sb = {0};
    CHECK(ops->info_json(b, &sb) == ANE_OK, "info_json");
    const char *want[] = {"\"backend\":\"ane\"", "\"chip\":\"Apple M4 Pro\"", "\"model\":\"Mac16,8\"",
                          "\"macos\":\"15.4\"", "\"cpu_cores\":14", "\"ane_subtype\":\"h16g\"",
                          "\"ane_cores\":16", "\"ane_count\":1", "\"hw_time\":true",
                          "\"default_chip\":\"m4\"", "\"peak_fp16_tflops\":18.6"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(sb.data && strstr(sb.data, want[i]), "info has %s: %s", want[i], sb.data ? sb.data : "");
    ane_sb_free(&sb);
    CHECK(fake.pool_depth == 0, "pools balanced after info");
    close_backend(b);

    /* chip detection from the brand string */
    const struct { const char *brand, *chip; int note; } cases[] = {
        {"Apple M1 Max", "m1", 0}, {"Apple M2", "m2", 0}, {"Apple M3 Ultra", "m3", 0},
        {"Apple M5", "m5", 0}, {"Apple M7 Pro", "m5", 1}, {"Intel(R) Core(TM) i9", "m5", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_reset();
        fake_cfg.brand = cases[i].brand;
        b = open_backend();
        if (!b) continue;
        CHECK(strcmp(ops->default_chip(b), cases[i].chip) == 0, "%s -> %s, got %s", cases[i].brand,
              cases[i].chip, ops->default_chip(b));
        ane_sb_free(&sb);
        ops->info_json(b, &sb);
        CHECK((strstr(sb.data, "\"chip_note\":null") == NULL) == cases[i].note, "%s: note %d: %s",
              cases[i].brand, cases[i].note, sb.data);
        ane_sb_free(&sb);
        close_backend(b);
    }
    fake_reset();
}

/* ---------------------------------------------------------------- the whole sequence */

static void test_lifecycle(void)
{
    fake_reset();
    fake_cfg.hw_ns = 12345;
    ane_backend *b = open_backend();
    if (!b) return;
    int live_before = fake.live_objects;

    /* surfaces: flat layout, rounded to the chip's alignment (m4: 64), zeroed */
    ane_surface *in = surface(b, 100), *out = surface(b, 8192);
    CHECK(in && out, "surfaces");
    if (!in || !out) return;
    CHECK(fake.surfaces_not_flat == 0, "IOSurface properties Width=bytes Height=1 BPE=1 BytesPerRow=bytes AllocSize=bytes PixelFormat=0");
    CHECK(strstr(fake.log, "IOSurfaceCreate 128\n") != NULL, "100 bytes rounded up to 128: %s", fake.log);
    void *base = NULL;
    CHECK(ops->surface_lock(in, ANE_LOCK_READ_WRITE, &base) == ANE_OK && base, "lock");
    in->locked = 1;
    int zeroed = 1;
    for (int i = 0; i < 128; i++) zeroed &= ((unsigned char *)base)[i] == 0;
    CHECK(zeroed, "a new surface is zeroed (the fake's memory starts as 0xAB)");
    for (int i = 0; i < 100; i++) ((unsigned char *)base)[i] = (unsigned char)(i * 7 + 1);
    CHECK(ops->surface_unlock(in, ANE_LOCK_READ_WRITE) == ANE_OK, "unlock");
    in->locked = 0;

    /* compile with two weights */
    unsigned char w1[64], w2[200];
    for (int i = 0; i < 64; i++) w1[i] = (unsigned char)i;
    for (int i = 0; i < 200; i++) w2[i] = (unsigned char)(255 - i);
    ane_weight weights[] = {{"@model_path/weights/w1.bin", w1, sizeof w1},
                            {"@model_path/weights/sub/w2.bin", w2, sizeof w2}};
    fake.log[0] = '\0';
    ane_status st;
    ane_program *p = program(b, weights, 2, 33, &st);
    CHECK(p != NULL, "compile: %s", ane_last_error());
    if (!p) return;
    CHECK(fake.descriptor_checks_failed == 0, "descriptor/compile arguments as the projects pass them");
    CHECK(fake.mil_len == strlen(MIL) && memcmp(fake.mil, MIL, fake.mil_len) == 0, "MIL bytes passed exactly");
    CHECK(fake.n_weights == 2, "two weights in the dictionary, got %d", fake.n_weights);
    CHECK(fake.compile_saw_files == 1, "model.mil and both weight files written before compile");
    CHECK(fake.last_qos == 33, "the caller's QoS reaches compile: %u", fake.last_qos);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", fake.compile_dir);

    /* load, request, eval */
    CHECK(ops->program_load(p, 21) == ANE_OK, "load: %s", ane_last_error());
    p->loaded = 1;
    ane_request r = {.program = p, .n_inputs = 1, .n_outputs = 1, .inputs = &in, .outputs = &out};
    CHECK(ops->request_create(&r) == ANE_OK, "request: %s", ane_last_error());
    CHECK(fake.request_checks_failed == 0, "request arrays, indices 0..n-1, nil weightsBuffer, procedure 0");
    ane_eval_timing t = {0, 0};
    CHECK(ops->request_eval(&r, 21, &t) == ANE_OK, "eval: %s", ane_last_error());
    CHECK(t.hw_ns == 12345, "hardware time from _ANEPerformanceStats: %lld", (long long)t.hw_ns);
    ops->surface_lock(out, ANE_LOCK_READ_ONLY, &base);
    int same = 1;
    for (int i = 0; i < 100; i++) same &= ((unsigned char *)base)[i] == (unsigned char)(i * 7 + 1);
    CHECK(same, "the request bound our surfaces: output = input through the fake identity program");
    ops->surface_unlock(out, ANE_LOCK_READ_ONLY);

    fake_cfg.hw_ns = 0;
    CHECK(ops->request_eval(&r, 21, &t) == ANE_OK && t.hw_ns == -1, "a zero hardware time reads -1: %lld",
          (long long)t.hw_ns);

    /* the weight-reload probe's experiment: the temp dir's file is rewritten */
    unsigned char w1b[64];
    memset(w1b, 0x5A, sizeof w1b);
    CHECK(ops->program_rewrite_weight(p, "@model_path/weights/w1.bin", w1b, sizeof w1b) == ANE_OK, "rewrite");
    char path[1200];
    snprintf(path, sizeof path, "%s/weights/w1.bin", dir);
    CHECK(file_equals(path, w1b, sizeof w1b), "the rewritten file holds the new bytes");
    st = ops->program_rewrite_weight(p, "@model_path/weights/w1.bin", w1b, 10);
    CHECK(st == ANE_ERR_INVALID_ARG && strstr(ane_last_error(), "64 bytes"), "size mismatch: %s", ane_last_error());
    st = ops->program_rewrite_weight(p, "@model_path/weights/nope.bin", w1b, 64);
    CHECK(st == ANE_ERR_INVALID_ARG && strstr(ane_last_error(), "nope.bin"), "unknown name: %s", ane_last_error());

    CHECK(ops->program_unload(p, 17) == ANE_OK, "unload");
    p->loaded = 0;
    const char *order[] = {"descriptor\n", "model\n", "compile qos=33\n", "load qos=21\n",
                           "request in=1 out=1 stats=1\n", "eval qos=21\n", "unload qos=17\n"};
    CHECK(log_in_order(order, 7), "call order");
    CHECK(exists(dir), "the temp directory lives until free");
    ops->request_free(&r);
    program_free(p);
    CHECK(!exists(dir), "the temp directory is removed after free: %s", dir);
    surface_free(in);
    surface_free(out);
    CHECK(fake.pool_depth == 0, "autorelease pools balanced");
    CHECK(fake.live_objects == live_before, "no leaked object: %d live, %d before", fake.live_objects, live_before);
    CHECK(fake.over_releases == 0, "no over-release: %d", fake.over_releases);
    CHECK(strstr(fake.log, "autorelease-without-pool") == NULL, "every autoreleased object had a pool");
    close_backend(b);
    fake_reset();
}

static void test_no_weights_and_shared_dir(void)
{
    fake_reset();
    ane_backend *b = open_backend();
    if (!b) return;
    int live_before = fake.live_objects;
    ane_status st;
    ane_program *p1 = program(b, NULL, 0, 21, &st);
    CHECK(p1 && fake.n_weights == 0 && fake.descriptor_checks_failed == 0,
          "no weights: an empty dictionary, not nil (%d)", fake.n_weights);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", fake.compile_dir);
    ane_program *p2 = program(b, NULL, 0, 21, &st);
    CHECK(p2 && strcmp(dir, fake.compile_dir) == 0, "identical programs share one directory");
    if (p1) program_free(p1);
    CHECK(exists(dir), "the shared directory stays while a program uses it");
    if (p2) program_free(p2);
    CHECK(!exists(dir), "and goes with the last one");
    CHECK(fake.live_objects == live_before && fake.over_releases == 0, "no leak: %d vs %d", fake.live_objects, live_before);
    close_backend(b);
    fake_reset();
}

/* ---------------------------------------------------------------- failures */

static void test_failures(void)
{
    fake_reset();
    ane_backend *b = open_backend();
    if (!b) return;
    int live_before = fake.live_objects;
    ane_status st;

    /* weight names checked before any call into the framework */
    const char *bad_names[] = {"weights/w.bin", "@model_path/", "@model_path/../x.bin",
                               "@model_path/weights//w.bin", "@model_path//etc/x"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        fake.log[0] = '\0';
        ane_weight w = {bad_names[i], "abcd", 4};
        ane_program *p = program(b, &w, 1, 21, &st);
        CHECK(!p && st == ANE_ERR_WEIGHTS && strstr(ane_last_error(), bad_names[i]), "bad name '%s': %d %s",
              bad_names[i], st, ane_last_error());
        CHECK(strstr(fake.log, "descriptor") == NULL, "rejected before the framework is called");
    }

    /* compile failure: the NSError's description, the temp dir removed */
    fake_cfg.compile_fails = 1;
    ane_program *p = program(b, NULL, 0, 21, &st);
    CHECK(!p && st == ANE_ERR_DEVICE && strstr(ane_last_error(), "InvalidMILProgram") &&
              strstr(ane_last_error(), "Error Domain=com.apple.appleneuralengine"),
          "compile failure reports the NSError: %s", ane_last_error());
    CHECK(fake.compile_dir[0] && !exists(fake.compile_dir), "failed compile removes its temp dir");
    fake_cfg.compile_fails = 0;

    /* an exception in the descriptor factory */
    fake_cfg.raise_in = "modelWithMILText:weights:optionsPlist:";
    p = program(b, NULL, 0, 21, &st);
    CHECK(!p && st == ANE_ERR_DEVICE && strstr(ane_last_error(), "Objective-C exception") &&
              strstr(ane_last_error(), "NSGenericException"),
          "exception reported: %s", ane_last_error());
    fake_cfg.raise_in = NULL;

    /* load: fails once, retried after 100 ms */
    p = program(b, NULL, 0, 21, &st);
    CHECK(p != NULL, "compile");
    if (!p) return;
    fake_cfg.load_failures = 1;
    fake.log[0] = '\0';
    CHECK(ops->program_load(p, 21) == ANE_OK, "load succeeds on the retry: %s", ane_last_error());
    CHECK(fake.slept_ms == 100, "slept 100 ms between tries: %d", fake.slept_ms);
    const char *two_loads[] = {"load qos=21\n", "load qos=21\n"};
    CHECK(log_in_order(two_loads, 2), "two loads");
    p->loaded = 1;
    ops->program_unload(p, 21);
    p->loaded = 0;

    fake_cfg.load_failures = 2;
    fake.slept_ms = 0;
    st = ops->program_load(p, 21);
    CHECK(st == ANE_ERR_DEVICE && strstr(ane_last_error(), "failed twice") && strstr(ane_last_error(), "0x50004"),
          "load failing twice: %s", ane_last_error());

    /* eval failure: with the getUUID guard the framework reports an NSError, not a raise */
    CHECK(ops->program_load(p, 21) == ANE_OK, "load");
    p->loaded = 1;
    ane_surface *in = surface(b, 128), *out = surface(b, 128);
    ane_request r = {.program = p, .n_inputs = 1, .n_outputs = 1, .inputs = &in, .outputs = &out};
    CHECK(ops->request_create(&r) == ANE_OK, "request");
    fake_cfg.eval_fails = 1;
    fake.log[0] = '\0';
    ane_eval_timing t;
    st = ops->request_eval(&r, 21, &t);
    CHECK(st == ANE_ERR_DEVICE && strstr(ane_last_error(), "0x1d") && !strstr(ane_last_error(), "exception"),
          "eval failure reports the NSError: %s", ane_last_error());
    CHECK(strstr(fake.log, "getUUID -> uuid") != NULL, "the framework's getUUID call hit the stub");
    CHECK(t.hw_ns == -1, "no hardware time on failure");
    fake_cfg.eval_fails = 0;

    fake_cfg.raise_in = "evaluateWithQoS:options:request:error:";
    st = ops->request_eval(&r, 21, &t);
    CHECK(st == ANE_ERR_DEVICE && strstr(ane_last_error(), "Objective-C exception"), "eval exception: %s",
          ane_last_error());
    fake_cfg.raise_in = "requestWithInputs:inputIndices:outputs:outputIndices:weightsBuffer:perfStats:procedureIndex:";
    ane_request r2 = r;
    r2.impl = NULL;
    st = ops->request_create(&r2);
    CHECK(st == ANE_ERR_DEVICE && r2.impl == NULL && strstr(ane_last_error(), "requestWithInputs"),
          "request failure: %s", ane_last_error());
    fake_cfg.raise_in = "unloadWithQoS:error:";
    st = ops->program_unload(p, 21);
    CHECK(st == ANE_ERR_DEVICE && strstr(ane_last_error(), "unloadWithQoS"), "unload failure: %s", ane_last_error());
    fake_cfg.raise_in = NULL;

    CHECK(!exception_pending, "no exception left pending");
    ops->request_free(&r);
    program_free(p);
    surface_free(in);
    surface_free(out);
    CHECK(fake.pool_depth == 0, "pools balanced after failures");
    CHECK(fake.live_objects == live_before, "no leak on failure paths: %d vs %d", fake.live_objects, live_before);
    CHECK(fake.over_releases == 0, "no over-release on failure paths: %d", fake.over_releases);
    close_backend(b);
    fake_reset();
}


/* ---------------------------------------------------------------- the probe queries */

/* A strict JSON syntax check (RFC 8259 values), so a query's answer is one valid document. */
static const char *json_value(const char *p);
static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
    return p;
}
static const char *json_string(const char *p)
{
    if (*p++ != '"') return NULL;
    while (*p && *p != '"') {
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p == '\\') p++;
        if (*p) p++;
    }
    return *p == '"' ? p + 1 : NULL;
}
static const char *json_value(const char *p)
{
    p = json_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = json_ws(p + 1);
        if (*p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                p = json_string(json_ws(p));
                if (!p || *(p = json_ws(p)) != ':') return NULL;
                p++;
            }
            if (!(p = json_value(p))) return NULL;
            p = json_ws(p);
            if (*p == close) return p + 1;
            if (*p++ != ',') return NULL;
        }
    }
    if (*p == '"') return json_string(p);
    if (!strncmp(p, "true", 4)) return p + 4;
    if (!strncmp(p, "false", 5)) return p + 5;
    if (!strncmp(p, "null", 4)) return p + 4;
    char *end;
    strtod(p, &end);
    return end > p ? end : NULL;
}
static int json_valid(const char *s)
{
    const char *end = s ? json_value(s) : NULL;
    return end && *json_ws(end) == '\0';
}

/* The whole answer through the public ane_backend_query_json (query.c adds the envelope). One
 * call with a large buffer: each call runs the experiments again. */
static char *query(ane_backend *b, const char *what)
{
    size_t needed = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    ane_status st = ane_backend_query_json(b, what, buf, cap, &needed);
    if (st != ANE_OK) {
        printf("  query %s: %d %s (needed %zu)\n", what, st, ane_last_error(), needed);
        free(buf);
        return NULL;
    }
    return buf;
}

/* The object of the answer whose "name" is `name` holds `want` (searching up to its '}'). */
static int object_has(const char *json, const char *name, const char *want)
{
    char key[128];
    snprintf(key, sizeof key, "{\"name\":\"%s\"", name);
    const char *at = json ? strstr(json, key) : NULL;
    if (!at) return 0;
    /* the object's end: the matching brace */
    int depth = 0;
    const char *end = at;
    for (; *end; end++) {
        if (*end == '{') depth++;
        if (*end == '}' && --depth == 0) break;
    }
    const char *hit = strstr(at, want);
    return hit && hit < end;
}

/* Open, ask, close; checks the leak, pool, real-time and JSON invariants every answer needs. */
static char *ask(const char *what)
{
    ane_backend *b = open_backend();
    if (!b) return NULL;
    int live_before = fake.live_objects;
    char *json = query(b, what);
    CHECK(json_valid(json), "%s: one valid JSON document: %s", what, json ? json : "(none)");
    CHECK(json && strncmp(json, "{\"query\":\"", 10) == 0 && strstr(json, "\"backend\":\"ane\",\"applicable\":true,"),
          "%s: the envelope, then applicable first: %.120s", what, json ? json : "");
    CHECK(fake.pool_depth == 0 && !strstr(fake.log, "pool-mismatch") && !strstr(fake.log, "autorelease-without-pool"),
          "%s: pools balanced", what);
    CHECK(fake.live_objects == live_before && fake.over_releases == 0, "%s: no leak (%d live, %d before), no over-release (%d)",
          what, fake.live_objects, live_before, fake.over_releases);
    CHECK(fake.rt_tasks == 0 && fake.rt_loaded == 0, "%s: every real-time task and load undone (%d, %d)", what,
          fake.rt_tasks, fake.rt_loaded);
    CHECK(!exception_pending, "%s: no exception left pending", what);
    close_backend(b);
    return json;
}

static void test_query_perf_stats(void)
{
    fake_reset();
    fake_cfg.hw_ns = 5000;
    char *j = ask("perf-stats");
    const char *want[] = {"\"query\":\"perf-stats\"", "\"stats_attached\":true", "\"hw_ns\":5000", "\"mask_set\":true",
                          "\"mask\":4294967295", "\"mask_read_back\":4294967295", "\"hw_ns_with_mask\":5000",
                          "\"hw_time_nonzero\":true", "\"error\":null", "conv 1x1, 256 channels, spatial 64"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) CHECK(j && strstr(j, want[i]), "perf-stats has %s: %s", want[i], j);
    const char *fields[][2] = {{"_ANEPerformanceStats", "{\"name\":\"statsWithHardwareExecutionNS:\",\"exists\":true}"},
                               {"_ANEPerformanceStats", "{\"name\":\"hwExecutionTime\",\"exists\":true}"},
                               {"_ANEPerformanceStats", "{\"name\":\"pStatsRawData\",\"exists\":true}"},
                               {"_ANEInMemoryModel", "{\"name\":\"setPerfStatsMask:\",\"exists\":true}"},
                               {"_ANERequest", "{\"name\":\"setPerfStats:\",\"exists\":true}"}};
    for (size_t i = 0; i < 5; i++) CHECK(object_has(j, fields[i][0], fields[i][1]), "%s has %s", fields[i][0], fields[i][1]);
    const char *order[] = {"compile qos=21\n", "load qos=21\n", "request in=1 out=1 stats=1\n", "eval qos=21\n",
                           "unload qos=21\n", "setPerfStatsMask 4294967295\n", "load qos=21\n", "eval qos=21\n", "unload qos=21\n"};
    CHECK(log_in_order(order, 9), "perf-stats: eval, then unload, set the mask, reload, eval, unload");
    CHECK(fake.compile_saw_files == 1 && fake.n_weights == 1, "the bench's weight file reached the compiler");
    free(j);

    /* the time appears only once the mask is set */
    fake_reset();
    fake_cfg.hw_ns = 7000;
    fake_cfg.hw_needs_mask = 1;
    j = ask("perf-stats");
    CHECK(j && strstr(j, "\"hw_ns\":0,") && strstr(j, "\"hw_ns_with_mask\":7000") && strstr(j, "\"hw_time_nonzero\":true"),
          "hw time only with the mask: %s", j);
    free(j);

    /* never a time; the mask setter absent; a stats method absent */
    fake_reset();
    fake_cfg.absent[0] = "setPerfStatsMask:";
    fake_cfg.absent[1] = "perfCounterData";
    j = ask("perf-stats");
    CHECK(j && strstr(j, "\"hw_ns\":0,") && strstr(j, "\"mask_set\":false") && strstr(j, "\"mask\":null") &&
              strstr(j, "\"hw_ns_with_mask\":null") && strstr(j, "\"hw_time_nonzero\":false"),
          "zero time, no mask setter: %s", j);
    CHECK(object_has(j, "_ANEInMemoryModel", "{\"name\":\"setPerfStatsMask:\",\"exists\":false}") &&
              object_has(j, "_ANEPerformanceStats", "{\"name\":\"perfCounterData\",\"exists\":false}") &&
              object_has(j, "_ANEPerformanceStats", "{\"name\":\"hwExecutionTime\",\"exists\":true}"),
          "absent methods reported: %s", j);
    CHECK(!strstr(fake.log, "setPerfStatsMask"), "no call of an absent method");
    free(j);

    /* no stats class at all */
    fake_reset();
    fake_cfg.missing_class = "_ANEPerformanceStats";
    j = ask("perf-stats");
    CHECK(j && strstr(j, "{\"name\":\"_ANEPerformanceStats\",\"exists\":false,") && strstr(j, "\"stats_attached\":false") &&
              strstr(j, "\"hw_ns\":null") && strstr(j, "\"hw_time_nonzero\":null") && strstr(j, "\"error\":\"no _ANEPerformanceStats"),
          "no stats class: %s", j);
    CHECK(object_has(j, "_ANEPerformanceStats", "{\"name\":\"hwExecutionTime\",\"exists\":false}"), "its methods absent too");
    free(j);

    /* the bench does not compile: the answer says why, the query still succeeds */
    fake_reset();
    fake_cfg.compile_fails = 1;
    j = ask("perf-stats");
    CHECK(j && strstr(j, "\"error\":\"the test program could not be set up: compile:") && strstr(j, "InvalidMILProgram") &&
              strstr(j, "\"hw_time_nonzero\":null"),
          "compile failure in the answer: %s", j);
    free(j);
    fake_reset();
}

static void test_query_advanced(void)
{
    fake_reset();
    char *j = ask("advanced");
    const char *names[] = {"shared_events", "weights_buffer", "procedure_index", "chaining", "real_time", "direct_eval"};
    for (int i = 0; i < 6; i++) CHECK(object_has(j, names[i], "\"exists\":true"), "%s exists: %s", names[i], j);
    CHECK(object_has(j, "shared_events", "\"works\":null") && object_has(j, "shared_events", "not exercised"), "shared events not tried");
    CHECK(object_has(j, "weights_buffer", "\"works\":false") && object_has(j, "weights_buffer", "ignored"),
          "the fake ignores the weightsBuffer, and the answer says so: %s", j);
    CHECK(object_has(j, "procedure_index", "\"works\":false") && object_has(j, "procedure_index", "0: ok; 1: failed") &&
              object_has(j, "procedure_index", "status 0x2"),
          "procedure 0 works, 1.. fail: %s", j);
    CHECK(object_has(j, "chaining", "\"works\":false") && object_has(j, "chaining", "exists, failed: ") &&
              object_has(j, "chaining", "chainingReq is nil"),
          "chaining fails cleanly: %s", j);
    CHECK(object_has(j, "real_time", "\"works\":true") && object_has(j, "real_time", "identical to the standard path"),
          "real time works: %s", j);
    CHECK(object_has(j, "direct_eval", "\"works\":true") && object_has(j, "direct_eval", "identical to the standard path") &&
              object_has(j, "direct_eval", " ms for one eval"),
          "direct eval works: %s", j);
    const char *order[] = {"load qos=21\n", "eval qos=21\n", "prepare-chaining nil\n", "rt-begin\n", "rt-load qos=21\n",
                           "rt-eval\n", "rt-unload qos=21\n", "rt-end\n", "direct-eval qos=21\n", "unload qos=21\n"};
    CHECK(log_in_order(order, 10), "advanced: standard eval, chaining, real time (begin, load, eval, unload, end), direct");
    free(j);

    /* the weightsBuffer overrides, every procedure index works */
    fake_reset();
    fake_cfg.weights_buffer_overrides = 1;
    fake_cfg.procedures = 4;
    j = ask("advanced");
    CHECK(object_has(j, "weights_buffer", "\"works\":true") && object_has(j, "weights_buffer", "overrides"),
          "weightsBuffer overriding: %s", j);
    CHECK(object_has(j, "procedure_index", "\"works\":true") && object_has(j, "procedure_index", "3: ok"), "indices 0..3: %s", j);
    free(j);

    /* failures: direct eval and the real-time load (the task is still ended) */
    fake_reset();
    fake_cfg.direct_fails = 1;
    fake_cfg.rt_load_fails = 1;
    j = ask("advanced");
    CHECK(object_has(j, "direct_eval", "\"works\":false") && object_has(j, "direct_eval", "exists, failed: ") &&
              object_has(j, "direct_eval", "fake direct eval failure"),
          "direct eval failing: %s", j);
    CHECK(object_has(j, "real_time", "\"works\":false") && object_has(j, "real_time", "fake real-time load failure"),
          "real-time load failing: %s", j);
    CHECK(strstr(fake.log, "rt-end\n") && !strstr(fake.log, "rt-eval"), "no eval after the failed load; the task ended");
    free(j);

    /* absent pieces */
    fake_reset();
    fake_cfg.absent[0] = "_ANEChainingRequest";
    fake_cfg.absent[1] = "_ANESharedWaitEvent";
    fake_cfg.absent[2] = "unloadRealTimeModel:options:qos:error:";
    fake_cfg.absent[3] = "sharedConnection";
    j = ask("advanced");
    CHECK(object_has(j, "shared_events", "\"exists\":false") && object_has(j, "shared_events", "missing: _ANESharedWaitEvent\""),
          "a shared-event class missing: %s", j);
    CHECK(object_has(j, "chaining", "\"exists\":false") && object_has(j, "chaining", "\"works\":null") &&
              object_has(j, "chaining", "missing: _ANEChainingRequest\""),
          "chaining missing: %s", j);
    CHECK(object_has(j, "real_time", "\"exists\":true") && object_has(j, "real_time", "\"works\":null") &&
              object_has(j, "real_time", "not tried: -[_ANEClient unloadRealTimeModel:options:qos:error:] is missing"),
          "real time not tried without its undo: %s", j);
    CHECK(object_has(j, "direct_eval", "\"exists\":false") && object_has(j, "direct_eval", "missing: +[_ANEClient sharedConnection]"),
          "direct eval missing: %s", j);
    CHECK(!strstr(fake.log, "rt-") && !strstr(fake.log, "direct-eval") && !strstr(fake.log, "prepare-chaining"),
          "nothing absent or unsafe was called: %s", fake.log);
    free(j);

    /* the bench does not load: everything that evaluates says so */
    fake_reset();
    fake_cfg.load_failures = 2;
    j = ask("advanced");
    CHECK(object_has(j, "weights_buffer", "\"works\":null") &&
              object_has(j, "direct_eval", "not tried: the test program could not be set up: load:"),
          "load failure: %s", j);
    free(j);

    /* home directories in error texts are cut out */
    fake_reset();
    ane_strbuf sb = {0};
    ane_backend *b = open_backend();
    if (b) {
        fake_cfg.compile_fails = 1;
        ops->query_json(b, "advanced", &sb);
        CHECK(sb.data && !strstr(sb.data, "/Users/") && strstr(sb.data, "InvalidMILProgram in ~/tmp/model.mil"),
              "the error's home path is cut to ~: %s", sb.data);
        close_backend(b);
    }
    ane_sb_free(&sb);
    fake_reset();
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);  /* FAIL lines survive a sanitizer exit */
    /* A real temp directory, as macOS's $TMPDIR (which ends with '/'). */
    char tmp[] = "/tmp/ane-backend-test-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char tmpdir[64];
    snprintf(tmpdir, sizeof tmpdir, "%s/", tmp);
    setenv("TMPDIR", tmpdir, 1);

    test_probe();
    test_open_and_info();
    test_lifecycle();
    test_no_weights_and_shared_dir();
    test_failures();
    test_query_perf_stats();
    test_query_advanced();

    CHECK(rmdir(tmp) == 0, "every temp directory was removed ($TMPDIR is empty again)");
    ane_rt_use(NULL);
    return check_summary();
}
