/* backend.c — the "cpu" backend's vtable (core/backend.h): surfaces are aligned host
 * buffers, a program is a cpu_plan, eval moves the surfaces' bytes in and out of the plan's
 * buffers with the I/O layouts api.c computed (rows of the last axis at row_stride_bytes). */
#include "../core/platform.h"
#include "../core/backend.h"
#include "../core/error.h"
#include "../core/fp16.h"
#include "../core/threads.h"
#include "gemm.h"
#include "plan.h"

/* A compiled program: the plan, and private copies of the weight blobs (the device keeps
 * them as files in its temp directory; the plan never reads them after compile). */
typedef struct cpu_program {
    cpu_plan *plan;
    size_t n_weights;
    char **names;
    unsigned char **blobs;
    size_t *sizes;
    float **saved;                 /* per input, then output: a buffer's own data while the
                                      tensor lives in the caller's surface (NULL: copied) */
    pthread_mutex_t eval_lock;     /* one eval at a time: evals share the plan's buffers */
} cpu_program;

/* ------------------------------------------------------------------ device info */

#if !defined(__APPLE__)
/* Reads a small text file (procfs/sysfs) into buf; returns its length or -1. */
static long read_text(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    return (long)len;
}

/* The value of "key<spaces>: value" in /proc/cpuinfo text, copied to out. */
static int cpuinfo_field(const char *text, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, klen) != 0) continue;
        const char *colon = strchr(line, ':');
        const char *eol = strchr(line, '\n');
        if (!colon || (eol && colon > eol)) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        size_t n = eol ? (size_t)(eol - colon) : strlen(colon);
        if (n >= cap) n = cap - 1;
        memcpy(out, colon, n);
        out[n] = '\0';
        return 1;
    }
    return 0;
}

#endif

static ane_status cpu_info_json(ane_backend *b, ane_strbuf *sb)
{
    char model[256] = "unknown";
    double ghz = 0.0;
    const char *ghz_source = "unknown";
#if defined(__APPLE__)
    size_t len = sizeof model;
    if (sysctlbyname("machdep.cpu.brand_string", model, &len, NULL, 0) != 0) memcpy(model, "unknown", 8);
    uint64_t hz = 0;
    len = sizeof hz;
    if (sysctlbyname("hw.cpufrequency_max", &hz, &len, NULL, 0) == 0 && hz > 0) {
        ghz = (double)hz / 1e9;
        ghz_source = "sysctl hw.cpufrequency_max";
    }
#else
    size_t text_cap = 1 << 16;        /* the first CPU's block is all that matters */
    char *text = malloc(text_cap), field[64];
    if (text && read_text("/proc/cpuinfo", text, text_cap) > 0) {
        if (!cpuinfo_field(text, "model name", model, sizeof model))
            cpuinfo_field(text, "Model", model, sizeof model);
        if (cpuinfo_field(text, "cpu MHz", field, sizeof field)) {
            ghz = strtod(field, NULL) / 1000.0;
            ghz_source = "/proc/cpuinfo cpu MHz";
        }
    }
    free(text);
    if (read_text("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", field, sizeof field) > 0) {
        double khz = strtod(field, NULL);
        if (khz > 0) { ghz = khz / 1e6; ghz_source = "cpufreq cpuinfo_max_freq"; }
    }
#endif
    long cores = sysconf(ANE_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    const cpu_gemm_kernel *k = cpu_gemm_best_kernel();
    /* FLOPs per cycle per core for the fp32 SIMD in use: FMA units x lanes x 2. */
    int flops_cycle = 2;
    const char *why = "scalar: 1 FMA x 1 lane x 2";
    if (strcmp(k->name, "avx512f") == 0) { flops_cycle = 64; why = "avx512f: 2 FMA units x 16 lanes x 2"; }
    else if (strcmp(k->name, "avx2+fma") == 0) { flops_cycle = 32; why = "avx2+fma: 2 FMA units x 8 lanes x 2"; }
    else if (strcmp(k->name, "neon") == 0) { flops_cycle = 32; why = "neon: 4 FMA units x 4 lanes x 2"; }

    ane_sb_printf(sb, "\"backend\":\"cpu\",\"cpu_model\":");
    ane_sb_json_str(sb, model);
    ane_sb_printf(sb, ",\"cores\":%ld,\"threads\":%u,\"simd\":\"%s\",\"fp16_conversion\":\"%s\"",
                  cores, ane_threads_count(), k->name, ane_fp16_simd_name());
    if (ghz > 0) {
        char formula[256];
        snprintf(formula, sizeof formula, "estimate: %ld cores x %.2f GHz (%s) x %d FLOP/cycle (%s)",
                 cores, ghz, ghz_source, flops_cycle, why);
        ane_sb_printf(sb, ",\"peak_fp32_gflops\":%.1f,\"peak_derivation\":", (double)cores * ghz * flops_cycle);
        ane_sb_json_str(sb, formula);
    } else {
        ane_sb_printf(sb, ",\"peak_fp32_gflops\":null,\"peak_derivation\":\"unknown: the CPU clock could not be read\"");
    }
    ane_sb_printf(sb, ",\"default_chip\":\"m4\"");
    return sb->failed ? ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory writing info") : ANE_OK;
}

/* ------------------------------------------------------------------ backend, surfaces */

static ane_status cpu_probe(void) { return ANE_OK; }
static ane_status cpu_open(ane_backend *b) { b->impl = NULL; return ANE_OK; }
static void cpu_close(ane_backend *b) { (void)b; }
static const char *cpu_default_chip(ane_backend *b) { return "m4"; }

static ane_status cpu_surface_create(ane_backend *b, ane_surface *s)
{
    s->base = cpu_alloc64(s->size ? s->size : 1);
    if (!s->base) return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: cannot allocate a %zu-byte surface", s->size);
    return ANE_OK;
}
static void cpu_surface_release(ane_surface *s) { cpu_free64(s->base); s->base = NULL; }
static ane_status cpu_surface_lock(ane_surface *s, uint32_t flags, void **base) { *base = s->base; return ANE_OK; }
static ane_status cpu_surface_unlock(ane_surface *s, uint32_t flags) { return ANE_OK; }

/* ------------------------------------------------------------------ programs */

static void free_program(cpu_program *cp)
{
    if (!cp) return;
    cpu_plan_free(cp->plan);
    for (size_t i = 0; i < cp->n_weights; i++) {
        if (cp->names) free(cp->names[i]);
        if (cp->blobs) free(cp->blobs[i]);
    }
    free(cp->names);
    free(cp->blobs);
    free(cp->sizes);
    free(cp->saved);
    pthread_mutex_destroy(&cp->eval_lock);
    free(cp);
}

static ane_status cpu_program_compile(ane_program *p, const char *mil, size_t mil_len,
                                      const ane_weight *weights, size_t n_weights,
                                      uint32_t qos, uint32_t flags)
{
    cpu_program *cp = calloc(1, sizeof *cp);
    if (!cp) return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory");
    pthread_mutex_init(&cp->eval_lock, NULL);
    ane_status st = ANE_OK;
    cp->plan = cpu_plan_build(p->ir, p->numerics == ANE_NUMERICS_FP16, &st);
    if (!cp->plan) { free_program(cp); return st; }
    cp->saved = calloc((size_t)(cp->plan->n_inputs + cp->plan->n_outputs) + 1, sizeof(float *));
    if (!cp->saved) { free_program(cp); return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory"); }
    cp->n_weights = n_weights;
    cp->names = calloc(n_weights + 1, sizeof(char *));
    cp->blobs = calloc(n_weights + 1, sizeof(unsigned char *));
    cp->sizes = calloc(n_weights + 1, sizeof(size_t));
    if (!cp->names || !cp->blobs || !cp->sizes) { free_program(cp); return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory"); }
    for (size_t i = 0; i < n_weights; i++) {
        const char *name = weights[i].name ? weights[i].name : "";
        size_t name_len = strlen(name) + 1;
        if ((cp->names[i] = malloc(name_len))) memcpy(cp->names[i], name, name_len);
        cp->blobs[i] = malloc(weights[i].size ? weights[i].size : 1);
        if (!cp->names[i] || !cp->blobs[i]) { free_program(cp); return ane_fail(ANE_ERR_NO_MEMORY, "cpu backend: out of memory copying weights"); }
        if (weights[i].size) memcpy(cp->blobs[i], weights[i].data, weights[i].size);
        cp->sizes[i] = weights[i].size;
    }
    p->impl = cp;
    return ANE_OK;
}

static ane_status cpu_program_load(ane_program *p, uint32_t qos) { return ANE_OK; }
static ane_status cpu_program_unload(ane_program *p, uint32_t qos) { return ANE_OK; }
static void cpu_program_free(ane_program *p) { free_program(p->impl); p->impl = NULL; }

static ane_status cpu_program_rewrite_weight(ane_program *p, const char *name, const void *data, size_t size)
{
    cpu_program *cp = p->impl;
    for (size_t i = 0; cp && i < cp->n_weights; i++) {
        if (strcmp(cp->names[i], name) != 0) continue;
        if (size != cp->sizes[i])
            return ane_fail(ANE_ERR_INVALID_ARG, "weight %s is %zu bytes; the rewrite has %zu (sizes must match)",
                            name, cp->sizes[i], size);
        memcpy(cp->blobs[i], data, size);   /* the plan keeps the weights captured at compile */
        return ANE_OK;
    }
    return ane_fail(ANE_ERR_INVALID_ARG, "the program has no weight named %s (names are as passed to compile)", name);
}

static ane_status cpu_request_create(ane_request *r) { r->impl = NULL; return ANE_OK; }
static void cpu_request_free(ane_request *r) { (void)r; }

/* ------------------------------------------------------------------ eval: surfaces <-> plan */

typedef struct io_ctx {
    const ane_io_desc *d;
    unsigned char *surface;
    float *data;                     /* the tensor, contiguous */
    int64_t cols;                    /* elements per row (the last axis) */
    int fp16;
} io_ctx;

static float saturate(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static void read_rows(void *vctx, int64_t begin, int64_t end)
{
    io_ctx *c = vctx;
    for (int64_t r = begin; r < end; r++) {
        const unsigned char *src = c->surface + (uint64_t)r * c->d->row_stride_bytes;
        float *dst = c->data + r * c->cols;
        size_t n = (size_t)c->cols;
        switch (c->d->dtype) {
        case ANE_DTYPE_FP16:
            if (c->fp16) ane_fp16_to_fp32_flush_n((const uint16_t *)src, dst, n);
            else ane_fp16_to_fp32_n((const uint16_t *)src, dst, n);
            break;
        case ANE_DTYPE_FP32:
            if (c->fp16) ane_round_fp16_n((const float *)src, dst, n);
            else memcpy(dst, src, n * sizeof(float));
            break;
        case ANE_DTYPE_INT8: for (size_t j = 0; j < n; j++) dst[j] = ((const int8_t *)src)[j]; break;
        case ANE_DTYPE_UINT8: for (size_t j = 0; j < n; j++) dst[j] = src[j]; break;
        default: for (size_t j = 0; j < n; j++) dst[j] = (float)((const int32_t *)src)[j]; break;
        }
    }
}

static void write_rows(void *vctx, int64_t begin, int64_t end)
{
    io_ctx *c = vctx;
    for (int64_t r = begin; r < end; r++) {
        unsigned char *dst = c->surface + (uint64_t)r * c->d->row_stride_bytes;
        const float *src = c->data + r * c->cols;
        size_t n = (size_t)c->cols;
        switch (c->d->dtype) {
        case ANE_DTYPE_FP16: ane_fp32_to_fp16_n(src, (uint16_t *)dst, n); break;
        case ANE_DTYPE_FP32: memcpy(dst, src, n * sizeof(float)); break;
        case ANE_DTYPE_INT8: for (size_t j = 0; j < n; j++) ((int8_t *)dst)[j] = (int8_t)saturate(src[j], -128, 127); break;
        case ANE_DTYPE_UINT8: for (size_t j = 0; j < n; j++) dst[j] = (uint8_t)saturate(src[j], 0, 255); break;
        default:
            for (size_t j = 0; j < n; j++)
                ((int32_t *)dst)[j] = (int32_t)saturate(src[j], -2147483648.0f, 2147483520.0f);
            break;
        }
    }
}

static ane_status move_io(const ane_io_desc *d, void *surface, float *data, int fp16, int is_output)
{
    int64_t cols = d->rank ? d->shape[d->rank - 1] : 1, elems = 1;
    for (uint32_t i = 0; i < d->rank; i++) elems *= d->shape[i];
    if (cols <= 0 || elems <= 0) return ANE_OK;
    io_ctx c = { d, surface, data, cols, fp16 };
    int64_t grain = 1 + 16384 / cols;
    ane_parallel_for(elems / cols, grain, is_output ? write_rows : read_rows, &c);
    return ANE_OK;
}

/* Can tensor t of the plan live in the caller's surface for this eval, instead of being copied
 * through its own buffer? Only when no conversion is needed (fp32 in the surface; for an input
 * also fp32 numerics, since ANE numerics round what it reads), the surface's rows are packed
 * (row stride = row length), and t is the whole of a buffer no other bound tensor uses. An
 * output's buffer must also be written by a step (an output that is a constant, or a view of
 * an input, is copied as before). Surfaces are 64-byte aligned like the plan's buffers. */
static int direct_io(const cpu_plan *plan, const ane_io_desc *d, int t, int fp16, int is_output)
{
    int64_t cols = d->rank ? d->shape[d->rank - 1] : 1;
    if (d->dtype != ANE_DTYPE_FP32 || (!is_output && fp16)) return 0;
    if (d->row_stride_bytes != (uint64_t)cols * sizeof(float)) return 0;
    const cpu_tensor *x = &plan->tensors[t];
    if (x->buffer < 0 || x->offset != 0 || !cpu_is_contiguous(x) || cpu_elems(x) != plan->buffers[x->buffer].elems)
        return 0;
    int bound = 0, written = !is_output;
    for (int i = 0; i < plan->n_inputs; i++) bound += plan->tensors[plan->input_tensors[i]].buffer == x->buffer;
    for (int i = 0; i < plan->n_outputs; i++) bound += plan->tensors[plan->output_tensors[i]].buffer == x->buffer;
    for (int i = 0; i < plan->n_steps && !written; i++) written = plan->tensors[plan->steps[i].out].buffer == x->buffer;
    return bound == 1 && written;
}

static ane_status cpu_request_eval(ane_request *r, uint32_t qos, ane_eval_timing *t)
{
    ane_program *p = r->program;
    cpu_program *cp = p->impl;
    cpu_plan *plan = cp->plan;
    if (t) t->hw_ns = -1;
    if (r->n_inputs != (uint32_t)plan->n_inputs || r->n_outputs != (uint32_t)plan->n_outputs)
        return ane_fail(ANE_ERR_BINDING, "cpu backend: the request binds %u inputs and %u outputs; the program has %d and %d",
                        r->n_inputs, r->n_outputs, plan->n_inputs, plan->n_outputs);
    /* A surface bound twice (an input also an output) is always copied: the plan must not
     * overwrite what it still reads. */
    int shared = 0;
    for (uint32_t i = 0; i < r->n_inputs; i++)
        for (uint32_t o = 0; o < r->n_outputs; o++) shared |= r->inputs[i]->base == r->outputs[o]->base;
    pthread_mutex_lock(&cp->eval_lock);
    /* Direct tensors point their buffer at the surface for this eval (restored below): in fp32
     * numerics the weights in a packed input are read in place, and results land in place. */
    float **saved_in = cp->saved, **saved_out = cp->saved + plan->n_inputs;
    for (uint32_t i = 0; i < r->n_inputs; i++) {
        int ti = plan->input_tensors[i];
        saved_in[i] = NULL;
        if (!shared && direct_io(plan, &p->inputs[i], ti, plan->fp16, 0)) {
            cpu_buffer *b = &plan->buffers[plan->tensors[ti].buffer];
            saved_in[i] = b->data;
            b->data = r->inputs[i]->base;
        } else {
            move_io(&p->inputs[i], r->inputs[i]->base, cpu_data(plan, ti), plan->fp16, 0);
        }
    }
    for (uint32_t i = 0; i < r->n_outputs; i++) {
        int to = plan->output_tensors[i];
        saved_out[i] = NULL;
        if (!shared && direct_io(plan, &p->outputs[i], to, plan->fp16, 1)) {
            cpu_buffer *b = &plan->buffers[plan->tensors[to].buffer];
            saved_out[i] = b->data;
            b->data = r->outputs[i]->base;
        }
    }
    ane_status st = cpu_plan_run(plan);
    for (uint32_t i = 0; i < r->n_outputs; i++) {
        int to = plan->output_tensors[i];
        if (saved_out[i]) plan->buffers[plan->tensors[to].buffer].data = saved_out[i];
        else if (st == ANE_OK) move_io(&p->outputs[i], r->outputs[i]->base, cpu_data(plan, to), plan->fp16, 1);
    }
    for (uint32_t i = 0; i < r->n_inputs; i++)
        if (saved_in[i]) plan->buffers[plan->tensors[plan->input_tensors[i]].buffer].data = saved_in[i];
    pthread_mutex_unlock(&cp->eval_lock);
    return st;
}

const ane_backend_ops ane_cpu_backend_ops = {
    .name = "cpu",
    .probe = cpu_probe,
    .open = cpu_open,
    .close = cpu_close,
    .info_json = cpu_info_json,
    .default_chip = cpu_default_chip,
    .surface_create = cpu_surface_create,
    .surface_release = cpu_surface_release,
    .surface_lock = cpu_surface_lock,
    .surface_unlock = cpu_surface_unlock,
    .program_compile = cpu_program_compile,
    .program_load = cpu_program_load,
    .program_unload = cpu_program_unload,
    .program_free = cpu_program_free,
    .program_rewrite_weight = cpu_program_rewrite_weight,
    .request_create = cpu_request_create,
    .request_free = cpu_request_free,
    .request_eval = cpu_request_eval,
};
