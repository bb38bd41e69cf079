/* query.c — the ane backend's answers to ane_backend_query_json: "perf-stats" (which
 * performance-statistics classes and methods exist, and does an evaluation report a hardware
 * time) and "advanced" (shared events, weightsBuffer, procedureIndex, chaining, real-time and
 * direct evaluation: what exists and what works). The keys are docs/probes.md's "libane
 * queries"; docs/ane-backend.md says what each experiment does.
 *
 * Every experiment runs on one small program compiled here ("the bench"): a 1x1 conv,
 * y [1,C,1,S] = W [C,C] . x [1,C,1,S] in fp16 with fp16-exact W and x, checked against a
 * float64 reference. Every failure becomes text in the answer, never an error of the query:
 * a probe asks these questions precisely because the answers differ between Macs. */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/fp16.h"
#include "../mil/rules.h"
#include "ane_internal.h"

#define BENCH_C 256      /* channels: every chip from M1 on runs a 256x256 conv */
#define BENCH_S 64       /* spatial width: the ANE's minimum (ane-ecosystem.md §(b)) */
#define BENCH_EVALS 3    /* evals per hardware-time measurement */
#define BLOB_HEADER 64   /* the weight file: storage header, blob header, payload at 128 */
#define ALL_STATS_MASK 0xffffffffu  /* setPerfStatsMask:'s meaning is unknown: ask for all */
#define N_PROCEDURES 4   /* procedureIndex 0..3 */

static const char WEIGHT_NAME[] = "@model_path/weights/w.bin";

/* ---------------------------------------------------------------- the bench program */

typedef struct bench {
    ane_backend *b;
    ane_ctx *c;
    uint32_t qos;
    ane_program prog;             /* the handles, built as api.c builds them */
    ane_surface in, out;
    ane_surface *ins[1], *outs[1];
    ane_request bindings;         /* in -> out */
    ane_req *standard;            /* the standard request: nil weightsBuffer, procedure 0 */
    uint8_t *blob;                /* the weight file */
    size_t blob_size;
    double *ref;                  /* y in float64, [C, S] */
    double tolerance;             /* 2^-7 x the largest sum of |w x| (fp16 accumulation) */
    uint16_t *y;                  /* the last output read back, fp16 [C, S] */
    uint16_t *y_standard;         /* the standard path's output */
    int compiled, loaded, ready;
    char error[512];              /* why the bench is not ready */
} bench;

/* fp16-exact values with both signs: w in [-8/64, 8/64], x in [-6/16, 6/16]. */
static float weight_at(int o, int i) { return (float)((5 * o + 3 * i) % 17 - 8) / 64.0f; }
static float input_at(int i, int s) { return (float)((i + 3 * s) % 13 - 6) / 16.0f; }

static void put_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* The weight file (MILBlob v2, src/mil/blob.ts): one fp16 blob of W times `sign`. */
static void fill_blob(uint8_t *blob, float sign)
{
    size_t payload = (size_t)BENCH_C * BENCH_C * 2;
    memset(blob, 0, 2 * BLOB_HEADER);
    put_u32(blob, 1);                              /* one blob */
    put_u32(blob + 4, 2);                          /* storage version 2 */
    put_u32(blob + BLOB_HEADER, 0xdeadbeefu);      /* sentinel */
    put_u32(blob + BLOB_HEADER + 4, 1);            /* fp16 */
    put_u64(blob + BLOB_HEADER + 8, payload);
    put_u64(blob + BLOB_HEADER + 16, 2 * BLOB_HEADER);
    uint8_t *p = blob + 2 * BLOB_HEADER;
    for (int o = 0; o < BENCH_C; o++)
        for (int i = 0; i < BENCH_C; i++) {
            uint16_t h = ane_fp32_to_fp16(sign * weight_at(o, i));
            size_t at = ((size_t)o * BENCH_C + (size_t)i) * 2;
            p[at] = (uint8_t)h;
            p[at + 1] = (uint8_t)(h >> 8);
        }
}

/* The program in the chip's dialect (the text rustane's MIL builder writes). */
static void bench_mil(mil_dialect dialect, char *buf, size_t cap)
{
    if (dialect == MIL_DIALECT_IOS16)
        snprintf(buf, cap,
                 "program(1.0)\n"
                 "[buildInfo = dict<tensor<string, []>, tensor<string, []>>({{\"coremlc-version\", \"3505.4.1\"}})]\n"
                 "{\n"
                 "    func main<ios16>(tensor<fp16, [1, %d, 1, %d]> x) {\n"
                 "        tensor<fp16, [%d, %d, 1, 1]> w = const()[name = tensor<string, []>(\"w\"), val = tensor<fp16, [%d, %d, 1, 1]>(BLOBFILE(path = tensor<string, []>(\"%s\"), offset = tensor<uint64, []>(%d)))];\n"
                 "        tensor<int32, [2]> d = const()[name = tensor<string, []>(\"d\"), val = tensor<int32, [2]>([1, 1])];\n"
                 "        tensor<int32, []> g = const()[name = tensor<string, []>(\"g\"), val = tensor<int32, []>(1)];\n"
                 "        tensor<int32, [4]> p = const()[name = tensor<string, []>(\"p\"), val = tensor<int32, [4]>([0, 0, 0, 0])];\n"
                 "        tensor<string, []> pt = const()[name = tensor<string, []>(\"pt\"), val = tensor<string, []>(\"valid\")];\n"
                 "        tensor<int32, [2]> st = const()[name = tensor<string, []>(\"st\"), val = tensor<int32, [2]>([1, 1])];\n"
                 "        tensor<fp16, [1, %d, 1, %d]> y = conv(dilations = d, groups = g, pad = p, pad_type = pt, strides = st, weight = w, x = x)[name = tensor<string, []>(\"y\")];\n"
                 "    } -> (y);\n"
                 "}\n",
                 BENCH_C, BENCH_S, BENCH_C, BENCH_C, BENCH_C, BENCH_C, WEIGHT_NAME, BLOB_HEADER, BENCH_C, BENCH_S);
    else
        snprintf(buf, cap,
                 "program(1.3)\n"
                 "[buildInfo = dict<string, string>({{\"coremlc-component-MIL\", \"3510.2.1\"}, {\"coremlc-version\", \"3505.4.1\"}, {\"coremltools-component-milinternal\", \"\"}, {\"coremltools-version\", \"9.0\"}})]\n"
                 "{\n"
                 "    func main<ios18>(tensor<fp16, [1, %d, 1, %d]> x) {\n"
                 "        tensor<fp16, [%d, %d, 1, 1]> w = const()[name = string(\"w\"), val = tensor<fp16, [%d, %d, 1, 1]>(BLOBFILE(path = string(\"%s\"), offset = uint64(%d)))];\n"
                 "        tensor<int32, [2]> d = const()[name = string(\"d\"), val = tensor<int32, [2]>([1, 1])];\n"
                 "        int32 g = const()[name = string(\"g\"), val = int32(1)];\n"
                 "        tensor<int32, [4]> p = const()[name = string(\"p\"), val = tensor<int32, [4]>([0, 0, 0, 0])];\n"
                 "        string pt = const()[name = string(\"pt\"), val = string(\"valid\")];\n"
                 "        tensor<int32, [2]> st = const()[name = string(\"st\"), val = tensor<int32, [2]>([1, 1])];\n"
                 "        tensor<fp16, [1, %d, 1, %d]> y = conv(dilations = d, groups = g, pad = p, pad_type = pt, strides = st, weight = w, x = x)[name = string(\"y\")];\n"
                 "    } -> (y);\n"
                 "}\n",
                 BENCH_C, BENCH_S, BENCH_C, BENCH_C, BENCH_C, BENCH_C, WEIGHT_NAME, BLOB_HEADER, BENCH_C, BENCH_S);
}

/* Keep the current error text as the bench's reason. */
static void bench_failed(bench *k, const char *step)
{
    snprintf(k->error, sizeof k->error, "%s: %s", step, ane_last_error());
}

static ane_status write_surface(ane_surface *s, const void *data, size_t size)
{
    void *base;
    ane_status st = ane_ane_backend_ops.surface_lock(s, ANE_LOCK_READ_WRITE, &base);
    if (st != ANE_OK) return st;
    memcpy(base, data, size);
    return ane_ane_backend_ops.surface_unlock(s, ANE_LOCK_READ_WRITE);
}

static ane_status read_output(bench *k)
{
    void *base;
    ane_status st = ane_ane_backend_ops.surface_lock(&k->out, ANE_LOCK_READ_ONLY, &base);
    if (st != ANE_OK) return st;
    memcpy(k->y, base, (size_t)BENCH_C * BENCH_S * 2);
    return ane_ane_backend_ops.surface_unlock(&k->out, ANE_LOCK_READ_ONLY);
}

/* All-ones bytes (fp16 NaN): an evaluation that writes nothing cannot look right. */
static ane_status poison_output(bench *k)
{
    void *base;
    ane_status st = ane_ane_backend_ops.surface_lock(&k->out, ANE_LOCK_READ_WRITE, &base);
    if (st != ANE_OK) return st;
    memset(base, 0xff, (size_t)BENCH_C * BENCH_S * 2);
    return ane_ane_backend_ops.surface_unlock(&k->out, ANE_LOCK_READ_WRITE);
}

/* Largest |y - sign * ref| of the output read back (NaN counts as infinitely far). */
static double output_error(const bench *k, double sign)
{
    double worst = 0;
    for (size_t j = 0; j < (size_t)BENCH_C * BENCH_S; j++) {
        double v = ane_fp16_to_fp32(k->y[j]);
        double e = isnan(v) ? INFINITY : fabs(v - sign * k->ref[j]);
        if (e > worst) worst = e;
    }
    return worst;
}

static void bench_reference(bench *k)
{
    double largest = 0;
    for (int o = 0; o < BENCH_C; o++)
        for (int s = 0; s < BENCH_S; s++) {
            double sum = 0, magnitude = 0;
            for (int i = 0; i < BENCH_C; i++) {
                double t = (double)weight_at(o, i) * (double)input_at(i, s);
                sum += t;
                magnitude += fabs(t);
            }
            k->ref[(size_t)o * BENCH_S + (size_t)s] = sum;
            if (magnitude > largest) largest = magnitude;
        }
    k->tolerance = largest / 128.0;
}

static void bench_close(bench *k)
{
    const ane_backend_ops *ops = &ane_ane_backend_ops;
    if (k->standard) ane_req_free(k->c->oc.rt, k->standard);
    if (k->loaded) ops->program_unload(&k->prog, k->qos);
    if (k->compiled) ops->program_free(&k->prog);
    if (k->in.impl) ops->surface_release(&k->in);
    if (k->out.impl) ops->surface_release(&k->out);
    free(k->blob);
    free(k->ref);
    free(k->y);
    free(k->y_standard);
    memset(k, 0, sizeof *k);
}

/* Compile, load and bind the conv; evaluate it once on the standard path and check it. On
 * failure k->ready is 0 and k->error says why (the rest of the query still answers). */
static void bench_open(bench *k, ane_backend *b)
{
    const ane_backend_ops *ops = &ane_ane_backend_ops;
    memset(k, 0, sizeof *k);
    k->b = b;
    k->c = b->impl;
    k->qos = ANE_QOS_DEFAULT;
    size_t io_bytes = (size_t)BENCH_C * BENCH_S * 2;
    k->blob_size = 2 * BLOB_HEADER + (size_t)BENCH_C * BENCH_C * 2;
    k->blob = malloc(k->blob_size);
    k->ref = malloc((size_t)BENCH_C * BENCH_S * sizeof *k->ref);
    k->y = malloc(io_bytes);
    k->y_standard = malloc(io_bytes);
    uint16_t *x = malloc(io_bytes);
    char *mil = malloc(8192);
    if (!k->blob || !k->ref || !k->y || !k->y_standard || !x || !mil) {
        snprintf(k->error, sizeof k->error, "out of memory for the test program");
        goto done;
    }
    fill_blob(k->blob, 1.0f);
    bench_reference(k);
    for (int i = 0; i < BENCH_C; i++)
        for (int s = 0; s < BENCH_S; s++) x[(size_t)i * BENCH_S + (size_t)s] = ane_fp32_to_fp16(input_at(i, s));

    k->in.backend = k->out.backend = b;
    k->in.size = k->out.size = io_bytes;
    if (ops->surface_create(b, &k->in) != ANE_OK || ops->surface_create(b, &k->out) != ANE_OK ||
        write_surface(&k->in, x, io_bytes) != ANE_OK) {
        bench_failed(k, "surfaces");
        goto done;
    }
    bench_mil(k->c->chip->preferred_dialect, mil, 8192);
    ane_weight weight = {WEIGHT_NAME, k->blob, k->blob_size};
    k->prog.backend = b;
    k->prog.chip = k->c->chip;
    if (ops->program_compile(&k->prog, mil, strlen(mil), &weight, 1, k->qos, 0) != ANE_OK) {
        bench_failed(k, "compile");
        goto done;
    }
    k->compiled = 1;
    if (ops->program_load(&k->prog, k->qos) != ANE_OK) {
        bench_failed(k, "load");
        goto done;
    }
    k->loaded = 1;
    k->ins[0] = &k->in;
    k->outs[0] = &k->out;
    k->bindings = (ane_request){.program = &k->prog, .n_inputs = 1, .n_outputs = 1, .inputs = k->ins, .outputs = k->outs};
    if (ane_req_create(k->c, &k->bindings, NULL, 0, &k->standard) != ANE_OK) {
        bench_failed(k, "request");
        goto done;
    }
    k->ready = 1;
done:
    free(x);
    free(mil);
}

/* One evaluation through -[_ANEInMemoryModel evaluateWithQoS:options:request:error:], timed.
 * On failure `why` holds the reason. */
static bool eval_standard(bench *k, id request, uint64_t *ns, char *why, size_t cap)
{
    const ane_objc *oc = &k->c->oc;
    const ane_rt *rt = oc->rt;
    ane_prog *g = k->prog.impl;
    void *pool = rt->objc_autoreleasePoolPush();
    id error = NULL;
    uint64_t t0 = rt->now_ns();
    bool ok = rt->msg.model_eval(g->model, oc->sel.model_eval, k->qos, (id)(void *)k->c->empty_options, request, &error);
    *ns = rt->now_ns() - t0;
    if (!ok) {
        ane_objc_fail(oc, ANE_ERR_DEVICE, error, "evaluateWithQoS:options:request:error: failed", "");
        snprintf(why, cap, "%s", ane_last_error());
    }
    rt->objc_autoreleasePoolPop(pool);
    return ok;
}

/* The standard path once more, keeping its output and time for the other paths' checks. */
static bool bench_standard_output(bench *k, uint64_t *ns, char *why, size_t cap)
{
    if (poison_output(k) != ANE_OK || !eval_standard(k, k->standard->request, ns, why, cap)) {
        if (!why[0]) snprintf(why, cap, "%s", ane_last_error());
        return false;
    }
    if (read_output(k) != ANE_OK) {
        snprintf(why, cap, "%s", ane_last_error());
        return false;
    }
    double err = output_error(k, 1.0);
    memcpy(k->y_standard, k->y, (size_t)BENCH_C * BENCH_S * 2);
    if (!(err <= k->tolerance)) {
        snprintf(why, cap, "the standard path's output is off by %g (tolerance %g)", err, k->tolerance);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- JSON helpers */

/* s as a JSON string, with home directories cut out ("/Users/<name>" -> "~"): error texts
 * may hold paths, and the probes' documents must hold no user names (docs/probes.md). */
static void json_text(ane_strbuf *sb, const char *s)
{
    char clean[1024];
    size_t n = 0;
    while (*s && n + 1 < sizeof clean) {
        const char *home = strncmp(s, "/Users/", 7) == 0 ? s + 7 : strncmp(s, "/home/", 6) == 0 ? s + 6 : NULL;
        if (home) {
            while (*home && *home != '/') home++;
            clean[n++] = '~';
            s = home;
            continue;
        }
        clean[n++] = *s++;
    }
    clean[n] = '\0';
    ane_sb_json_str(sb, clean);
}

static void put(ane_strbuf *sb, const char *s) { ane_sb_append(sb, s, strlen(s)); }

static const char *json_bool(bool b) { return b ? "true" : "false"; }

static bool has_method(const ane_objc *oc, Class cls, int kind, const char *selector)
{
    if (!cls) return false;
    SEL sel = oc->rt->sel_registerName(selector);
    return (kind == ANE_CLASS_MSG ? oc->rt->class_getClassMethod(cls, sel) : oc->rt->class_getInstanceMethod(cls, sel)) != NULL;
}

/* ---------------------------------------------------------------- perf-stats */

/* One object of the answer: the class and whether each of its methods exists. */
static void stats_object(ane_strbuf *sb, const ane_objc *oc, const char *name, Class cls,
                         const int *kinds, const char *const *selectors, int n)
{
    ane_sb_printf(sb, "{\"name\":\"%s\",\"exists\":%s,\"fields\":[", name, json_bool(cls != NULL));
    for (int i = 0; i < n; i++)
        ane_sb_printf(sb, "%s{\"name\":\"%s\",\"exists\":%s}", i ? "," : "", selectors[i],
                      json_bool(has_method(oc, cls, kinds[i], selectors[i])));
    put(sb, "]}");
}

/* The largest hwExecutionTime over BENCH_EVALS evals; false with `why` when an eval fails. */
static bool measure_hw(bench *k, uint64_t *hw_ns, char *why, size_t cap)
{
    const ane_objc *oc = &k->c->oc;
    *hw_ns = 0;
    for (int i = 0; i < BENCH_EVALS; i++) {
        uint64_t ns;
        if (!eval_standard(k, k->standard->request, &ns, why, cap)) return false;
        uint64_t hw = oc->rt->msg.stats_hw_ns(k->standard->stats, oc->sel.stats_hw_ns);
        if (oc->rt->take_exception(why, cap)) return false;
        if (hw > *hw_ns) *hw_ns = hw;
    }
    return true;
}

/* "measurement": evaluate the bench with a stats object attached and read hwExecutionTime,
 * first as loaded, then (where the method exists) after setPerfStatsMask: and a reload. */
static void perf_measurement(ane_strbuf *sb, ane_backend *b)
{
    bench k;
    bench_open(&k, b);
    const ane_objc *oc = &k.c->oc;
    const ane_rt *rt = oc->rt;
    char why[600] = "";
    ane_sb_printf(sb, ",\"measurement\":{\"program\":\"conv 1x1, %d channels, spatial %d\",\"evals\":%d",
                  BENCH_C, BENCH_S, BENCH_EVALS);
    bool attached = k.ready && k.standard->stats != NULL;
    ane_sb_printf(sb, ",\"stats_attached\":%s", json_bool(attached));
    uint64_t hw_default = 0, hw_mask = 0;
    bool have_default = false, have_mask = false, mask_set = false;
    long long mask_read = -1;
    if (!k.ready) {
        snprintf(why, sizeof why, "the test program could not be set up: %s", k.error);
    } else if (!attached) {
        snprintf(why, sizeof why, "no _ANEPerformanceStats object (+statsWithHardwareExecutionNS: missing or nil)");
    } else if ((have_default = measure_hw(&k, &hw_default, why, sizeof why)) && oc->have.model_set_stats_mask) {
        /* The mask is read at load (ane-ecosystem.md §(a)): unload, set, load again. */
        ane_prog *g = k.prog.impl;
        void *pool = rt->objc_autoreleasePoolPush();
        if (ane_ane_backend_ops.program_unload(&k.prog, k.qos) != ANE_OK) {
            snprintf(why, sizeof why, "unload before setPerfStatsMask: %s", ane_last_error());
            k.loaded = 0;
        } else {
            k.loaded = 0;
            rt->msg.model_set_stats_mask(g->model, oc->sel.model_set_stats_mask, ALL_STATS_MASK);
            mask_set = !rt->take_exception(why, sizeof why);
            if (mask_set && oc->have.model_stats_mask) {
                unsigned m = rt->msg.model_stats_mask(g->model, oc->sel.model_stats_mask);
                if (!rt->take_exception(NULL, 0)) mask_read = m;
            }
            if (ane_ane_backend_ops.program_load(&k.prog, k.qos) != ANE_OK)
                snprintf(why, sizeof why, "load after setPerfStatsMask: %s", ane_last_error());
            else {
                k.loaded = 1;
                if (mask_set) have_mask = measure_hw(&k, &hw_mask, why, sizeof why);
            }
        }
        rt->objc_autoreleasePoolPop(pool);
    }
    if (have_default) ane_sb_printf(sb, ",\"hw_ns\":%llu", (unsigned long long)hw_default);
    else put(sb, ",\"hw_ns\":null");
    ane_sb_printf(sb, ",\"mask_set\":%s", json_bool(mask_set));
    if (mask_set) ane_sb_printf(sb, ",\"mask\":%u", ALL_STATS_MASK);
    else put(sb, ",\"mask\":null");
    if (mask_read >= 0) ane_sb_printf(sb, ",\"mask_read_back\":%lld", mask_read);
    else put(sb, ",\"mask_read_back\":null");
    if (have_mask) ane_sb_printf(sb, ",\"hw_ns_with_mask\":%llu", (unsigned long long)hw_mask);
    else put(sb, ",\"hw_ns_with_mask\":null");
    if (have_default || have_mask)
        ane_sb_printf(sb, ",\"hw_time_nonzero\":%s", json_bool(hw_default > 0 || hw_mask > 0));
    else
        put(sb, ",\"hw_time_nonzero\":null");
    put(sb, ",\"error\":");
    if (why[0]) json_text(sb, why);
    else put(sb, "null");
    put(sb, "}");
    bench_close(&k);
}

static void perf_stats_json(ane_backend *b, ane_strbuf *sb)
{
    const ane_objc *oc = &((ane_ctx *)b->impl)->oc;
    static const int stats_kinds[] = {ANE_CLASS_MSG, ANE_INSTANCE_MSG, ANE_INSTANCE_MSG, ANE_INSTANCE_MSG};
    static const char *const stats_sels[] = {"statsWithHardwareExecutionNS:", "hwExecutionTime",
                                             "perfCounterData", "pStatsRawData"};
    static const int pair_kinds[] = {ANE_INSTANCE_MSG, ANE_INSTANCE_MSG};
    static const char *const model_sels[] = {"setPerfStatsMask:", "perfStatsMask"};
    static const char *const request_sels[] = {"setPerfStats:", "perfStats"};
    put(sb, "\"applicable\":true,\"objects\":[");
    stats_object(sb, oc, "_ANEPerformanceStats", oc->cls.perf_stats, stats_kinds, stats_sels, 4);
    put(sb, ",");
    stats_object(sb, oc, "_ANEInMemoryModel", oc->cls.model, pair_kinds, model_sels, 2);
    put(sb, ",");
    stats_object(sb, oc, "_ANERequest", oc->cls.request, pair_kinds, request_sels, 2);
    put(sb, "]");
    perf_measurement(sb, b);
}

/* ---------------------------------------------------------------- advanced */

/* works: 1 true, 0 false, -1 null (not tried). */
static void feature(ane_strbuf *sb, bool first, const char *name, bool exists, int works, const char *detail)
{
    ane_sb_printf(sb, "%s{\"name\":\"%s\",\"exists\":%s,\"works\":%s,\"detail\":", first ? "" : ",", name,
                  json_bool(exists), works < 0 ? "null" : works ? "true" : "false");
    json_text(sb, detail);
    put(sb, "}");
}

static void append_missing(char *buf, size_t cap, bool present, const char *what)
{
    if (present) return;
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", what);
}

/* weightsBuffer: the request carries a surface holding the weight file with W negated. If
 * the output is -ref the buffer overrides the compiled weights; if it is ref it is ignored. */
static int weights_buffer_test(bench *k, char *detail, size_t cap)
{
    const ane_objc *oc = &k->c->oc;
    const ane_rt *rt = oc->rt;
    ane_surface wbuf = {.backend = k->b, .size = k->blob_size};
    uint8_t *negated = malloc(k->blob_size);
    int works = 0;
    char why[600] = "";
    if (!negated || ane_ane_backend_ops.surface_create(k->b, &wbuf) != ANE_OK) {
        snprintf(detail, cap, "not tried: no surface for the weights (%s)", negated ? ane_last_error() : "out of memory");
        free(negated);
        return -1;
    }
    fill_blob(negated, -1.0f);
    void *pool = rt->objc_autoreleasePoolPush();
    id object = NULL;
    ane_req *q = NULL;
    uint64_t ns;
    if (write_surface(&wbuf, negated, k->blob_size) != ANE_OK) {
        snprintf(detail, cap, "not tried: %s", ane_last_error());
        works = -1;
    } else if (!(object = rt->msg.surface_object_new(oc->cls.surface_object, oc->sel.surface_object_new, wbuf.impl))) {
        ane_objc_fail(oc, ANE_ERR_DEVICE, NULL, "objectWithIOSurface: for the weights", "");
        snprintf(detail, cap, "not tried: %s", ane_last_error());
        works = -1;
    } else if (ane_req_create(k->c, &k->bindings, object, 0, &q) != ANE_OK) {
        snprintf(detail, cap, "a request with a weightsBuffer (an _ANEIOSurfaceObject) failed: %s", ane_last_error());
    } else if (poison_output(k) != ANE_OK || !eval_standard(k, q->request, &ns, why, sizeof why) ||
               read_output(k) != ANE_OK) {
        snprintf(detail, cap, "evaluate with a weightsBuffer failed: %s", why[0] ? why : ane_last_error());
    } else if (output_error(k, -1.0) <= k->tolerance) {
        works = 1;
        snprintf(detail, cap, "the weightsBuffer (the weight file with W negated, as an _ANEIOSurfaceObject) "
                 "overrides the compiled weights: the output is -W.x");
    } else if (output_error(k, 1.0) <= k->tolerance) {
        snprintf(detail, cap, "evaluated, but the weightsBuffer is ignored: the output is the compiled weights' W.x");
    } else {
        snprintf(detail, cap, "evaluated, but the output matches neither W.x nor -W.x (off by %g)", output_error(k, 1.0));
    }
    if (q) ane_req_free(rt, q);
    rt->objc_autoreleasePoolPop(pool);
    ane_ane_backend_ops.surface_release(&wbuf);
    free(negated);
    return works;
}

/* procedureIndex 0..N-1 on a one-function program: which indices evaluate, and correctly. */
static int procedure_test(bench *k, char *detail, size_t cap)
{
    int all_ok = 1;
    detail[0] = '\0';
    for (int p = 0; p < N_PROCEDURES; p++) {
        ane_req *q = NULL;
        char why[600] = "";
        uint64_t ns;
        const char *result;
        if (ane_req_create(k->c, &k->bindings, NULL, p, &q) != ANE_OK) {
            snprintf(why, sizeof why, "%s", ane_last_error());
            result = "request failed";
        } else if (poison_output(k) != ANE_OK || !eval_standard(k, q->request, &ns, why, sizeof why) ||
                   read_output(k) != ANE_OK) {
            result = "failed";
        } else {
            result = output_error(k, 1.0) <= k->tolerance ? "ok" : "wrong output";
        }
        if (q) ane_req_free(k->c->oc.rt, q);
        if (strcmp(result, "ok") != 0) all_ok = 0;
        size_t n = strlen(detail);
        snprintf(detail + n, cap - n, "%s%d: %s%s%.200s", p ? "; " : "", p, result, why[0] ? " " : "", why);
    }
    return all_ok;
}

/* The client and the _ANEModel its methods take; false with `why` when either is missing. */
static bool client_and_model(bench *k, id *client, id *model, char *why, size_t cap)
{
    const ane_objc *oc = &k->c->oc;
    const ane_rt *rt = oc->rt;
    ane_prog *g = k->prog.impl;
    *client = oc->have.client_shared ? rt->msg.client_shared(oc->cls.client, oc->sel.client_shared) : NULL;
    *model = *client && oc->have.model_inner ? rt->msg.model_inner(g->model, oc->sel.model_inner) : NULL;
    if (*client && *model) return true;
    if (!rt->take_exception(why, cap))
        snprintf(why, cap, "%s", !oc->have.client_shared ? "+[_ANEClient sharedConnection] missing"
                                 : !*client                ? "+[_ANEClient sharedConnection] returned nil"
                                 : !oc->have.model_inner   ? "-[_ANEInMemoryModel model] missing"
                                                           : "-[_ANEInMemoryModel model] returned nil");
    return false;
}

/* A BOOL message's failure as text (exception, NSError or neither). */
static void failure_text(const ane_objc *oc, id error, const char *what, char *why, size_t cap)
{
    ane_objc_fail(oc, ANE_ERR_DEVICE, error, what, "");
    snprintf(why, cap, "%s", ane_last_error());
}

/* After a timed evaluation on another path: compare with the standard path. */
static int compare_output(bench *k, const char *path, uint64_t ns, uint64_t standard_ns, char *detail, size_t cap)
{
    if (read_output(k) != ANE_OK) {
        snprintf(detail, cap, "%s evaluated in %.3f ms, but reading the output failed: %s", path, (double)ns / 1e6,
                 ane_last_error());
        return 0;
    }
    bool same = memcmp(k->y, k->y_standard, (size_t)BENCH_C * BENCH_S * 2) == 0;
    double err = output_error(k, 1.0);
    snprintf(detail, cap, "%s: %.3f ms for one eval (standard path %.3f ms); output %s (largest error %g, tolerance %g)",
             path, (double)ns / 1e6, (double)standard_ns / 1e6,
             same ? "identical to the standard path's" : err <= k->tolerance ? "differs from the standard path's but is within tolerance"
                                                                             : "WRONG",
             err, k->tolerance);
    return err <= k->tolerance;
}

static int direct_test(bench *k, uint64_t standard_ns, char *detail, size_t cap)
{
    const ane_objc *oc = &k->c->oc;
    const ane_rt *rt = oc->rt;
    void *pool = rt->objc_autoreleasePoolPush();
    id client, model, error = NULL;
    char why[600] = "";
    int works = -1;
    if (!client_and_model(k, &client, &model, why, sizeof why)) {
        snprintf(detail, cap, "not tried: %s", why);
    } else if (poison_output(k) != ANE_OK) {
        snprintf(detail, cap, "not tried: %s", ane_last_error());
    } else {
        uint64_t t0 = rt->now_ns();
        bool ok = rt->msg.client_eval_direct(client, oc->sel.client_eval_direct, model, (id)(void *)k->c->empty_options,
                                             k->standard->request, k->qos, &error);
        uint64_t ns = rt->now_ns() - t0;
        if (!ok) {
            failure_text(oc, error, "doEvaluateDirectWithModel:options:request:qos:error:", why, sizeof why);
            snprintf(detail, cap, "exists, failed: %s", why);
            works = 0;
        } else {
            works = compare_output(k, "direct eval", ns, standard_ns, detail, cap);
        }
    }
    rt->objc_autoreleasePoolPop(pool);
    return works;
}

/* beginRealTimeTask, loadRealTimeModel, evaluateRealTimeWithModel, then undo what worked:
 * unloadRealTimeModel, endRealTimeTask. Not tried without the unload (nothing to undo with). */
static int real_time_test(bench *k, uint64_t standard_ns, char *detail, size_t cap)
{
    const ane_objc *oc = &k->c->oc;
    const ane_rt *rt = oc->rt;
    if (!oc->have.client_rt_unload) {
        snprintf(detail, cap, "not tried: -[_ANEClient unloadRealTimeModel:options:qos:error:] is missing, so a "
                 "real-time load could not be undone");
        return -1;
    }
    void *pool = rt->objc_autoreleasePoolPush();
    id client, model, error = NULL;
    char why[600] = "";
    int works = 0;
    id options = (id)(void *)k->c->empty_options;
    if (!client_and_model(k, &client, &model, why, sizeof why)) {
        snprintf(detail, cap, "not tried: %s", why);
        works = -1;
    } else if (!rt->msg.client_rt_begin(client, oc->sel.client_rt_begin)) {
        failure_text(oc, NULL, "beginRealTimeTask returned NO", why, sizeof why);
        snprintf(detail, cap, "exists, failed: %s", why);
    } else {
        if (!rt->msg.client_rt_load(client, oc->sel.client_rt_load, model, options, k->qos, &error)) {
            failure_text(oc, error, "loadRealTimeModel:options:qos:error:", why, sizeof why);
            snprintf(detail, cap, "exists, failed: %s", why);
        } else {
            error = NULL;
            uint64_t ns = 0;
            bool ok = poison_output(k) == ANE_OK;
            if (ok) {
                uint64_t t0 = rt->now_ns();
                ok = rt->msg.client_rt_eval(client, oc->sel.client_rt_eval, model, options, k->standard->request, &error);
                ns = rt->now_ns() - t0;
            }
            if (!ok) {
                failure_text(oc, error, "evaluateRealTimeWithModel:options:request:error:", why, sizeof why);
                snprintf(detail, cap, "exists, failed: %s", why);
            } else {
                works = compare_output(k, "real-time eval", ns, standard_ns, detail, cap);
            }
            error = NULL;
            if (!rt->msg.client_rt_unload(client, oc->sel.client_rt_unload, model, options, k->qos, &error)) {
                failure_text(oc, error, "then unloadRealTimeModel:options:qos:error:", why, sizeof why);
                size_t n = strlen(detail);
                snprintf(detail + n, cap - n, "; %s", why);
                works = 0;
            }
        }
        if (!rt->msg.client_rt_end(client, oc->sel.client_rt_end)) {
            failure_text(oc, NULL, "then endRealTimeTask returned NO", why, sizeof why);
            size_t n = strlen(detail);
            snprintf(detail + n, cap - n, "; %s", why);
            works = 0;
        }
    }
    rt->objc_autoreleasePoolPop(pool);
    return works;
}

/* prepareChainingWithModel: with a nil chaining request: building a real one needs
 * _ANEIOSurfaceOutputSets (ane-ecosystem.md §2), so this only shows the call is answered. */
static int chaining_test(bench *k, char *detail, size_t cap)
{
    const ane_objc *oc = &k->c->oc;
    const ane_rt *rt = oc->rt;
    void *pool = rt->objc_autoreleasePoolPush();
    id client, model, error = NULL;
    char why[600] = "";
    int works = -1;
    if (!client_and_model(k, &client, &model, why, sizeof why)) {
        snprintf(detail, cap, "not tried: %s", why);
    } else if (rt->msg.client_prepare_chaining(client, oc->sel.client_prepare_chaining, model,
                                               (id)(void *)k->c->empty_options, NULL, k->qos, &error)) {
        works = 1;
        snprintf(detail, cap, "prepareChainingWithModel: accepted a nil chaining request (no chained eval tried)");
    } else {
        works = 0;
        failure_text(oc, error, "prepareChainingWithModel:options:chainingReq:qos:error: with a nil chaining request", why, sizeof why);
        snprintf(detail, cap, "exists, failed: %s", why);
    }
    rt->objc_autoreleasePoolPop(pool);
    return works;
}

static void advanced_json(ane_backend *b, ane_strbuf *sb)
{
    ane_ctx *c = b->impl;
    const ane_objc *oc = &c->oc;
    char detail[1400], missing[400];
    bench k;
    bench_open(&k, b);
    uint64_t standard_ns = 0;
    char why[600] = "";
    bool ready = k.ready && bench_standard_output(&k, &standard_ns, why, sizeof why);
    char not_tried[700];
    snprintf(not_tried, sizeof not_tried, "not tried: the test program %s: %s",
             k.ready ? "failed on the standard path" : "could not be set up", k.ready ? why : k.error);

    put(sb, "\"applicable\":true,\"features\":[");

    missing[0] = '\0';
    append_missing(missing, sizeof missing, oc->cls.shared_events != NULL, "_ANESharedEvents");
    append_missing(missing, sizeof missing, oc->cls.shared_signal_event != NULL, "_ANESharedSignalEvent");
    append_missing(missing, sizeof missing, oc->cls.shared_wait_event != NULL, "_ANESharedWaitEvent");
    if (missing[0]) snprintf(detail, sizeof detail, "missing: %s", missing);
    else snprintf(detail, sizeof detail, "_ANESharedEvents, _ANESharedSignalEvent, _ANESharedWaitEvent present; "
                  "not exercised (they need an IOSurfaceSharedEvent from Metal)");
    feature(sb, true, "shared_events", !missing[0], -1, detail);

    int works = -1;
    if (ready) works = weights_buffer_test(&k, detail, sizeof detail);
    else snprintf(detail, sizeof detail, "%s", not_tried);
    feature(sb, false, "weights_buffer", true, works, detail);

    works = -1;
    if (ready) works = procedure_test(&k, detail, sizeof detail);
    else snprintf(detail, sizeof detail, "%s", not_tried);
    feature(sb, false, "procedure_index", true, works, detail);

    missing[0] = '\0';
    append_missing(missing, sizeof missing, oc->cls.chaining_request != NULL, "_ANEChainingRequest");
    append_missing(missing, sizeof missing, oc->cls.client != NULL, "_ANEClient");
    append_missing(missing, sizeof missing, oc->have.client_prepare_chaining,
                   "-[_ANEClient prepareChainingWithModel:options:chainingReq:qos:error:]");
    works = -1;
    if (missing[0]) snprintf(detail, sizeof detail, "missing: %s", missing);
    else if (ready) works = chaining_test(&k, detail, sizeof detail);
    else snprintf(detail, sizeof detail, "%s", not_tried);
    feature(sb, false, "chaining", !missing[0], works, detail);

    missing[0] = '\0';
    append_missing(missing, sizeof missing, oc->have.client_rt_begin, "-[_ANEClient beginRealTimeTask]");
    append_missing(missing, sizeof missing, oc->have.client_rt_end, "-[_ANEClient endRealTimeTask]");
    append_missing(missing, sizeof missing, oc->have.client_rt_load, "-[_ANEClient loadRealTimeModel:options:qos:error:]");
    append_missing(missing, sizeof missing, oc->have.client_rt_eval,
                   "-[_ANEClient evaluateRealTimeWithModel:options:request:error:]");
    works = -1;
    if (missing[0]) snprintf(detail, sizeof detail, "missing: %s", missing);
    else if (ready) works = real_time_test(&k, standard_ns, detail, sizeof detail);
    else snprintf(detail, sizeof detail, "%s", not_tried);
    feature(sb, false, "real_time", !missing[0], works, detail);

    missing[0] = '\0';
    append_missing(missing, sizeof missing, oc->have.client_shared, "+[_ANEClient sharedConnection]");
    append_missing(missing, sizeof missing, oc->have.client_eval_direct,
                   "-[_ANEClient doEvaluateDirectWithModel:options:request:qos:error:]");
    works = -1;
    if (missing[0]) snprintf(detail, sizeof detail, "missing: %s", missing);
    else if (ready) works = direct_test(&k, standard_ns, detail, sizeof detail);
    else snprintf(detail, sizeof detail, "%s", not_tried);
    feature(sb, false, "direct_eval", !missing[0], works, detail);

    put(sb, "]");
    bench_close(&k);
}

ane_status ane_query_json(ane_backend *b, const char *what, ane_strbuf *sb)
{
    const ane_rt *rt = ((ane_ctx *)b->impl)->oc.rt;
    void *pool = rt->objc_autoreleasePoolPush();
    if (strcmp(what, "perf-stats") == 0) perf_stats_json(b, sb);
    else advanced_json(b, sb);
    rt->objc_autoreleasePoolPop(pool);
    /* The experiments' failures are in the answer; none is the query's error. */
    ane_clear_error();
    return sb->failed ? ane_fail(ANE_ERR_NO_MEMORY, "out of memory writing the %s answer", what) : ANE_OK;
}
