/* test_cpu_exec.c — the cpu backend: fp16 conversion, the thread pool, gemm, and MIL
 * programs run through the backend's ops, each against an independent reference: bit-level
 * fp16 rules computed with ldexp/double arithmetic, float64 loops for every op.
 * Prints "N passed, M failed"; exit status 1 when anything failed. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/backend.h"
#include "../src/core/fp16.h"
#include "../src/core/threads.h"
#include "../src/cpu/gemm.h"
#include "../src/cpu/ops.h"
#include "../src/mil/mil.h"

#include "check.h"
#include "dyn_matmul_mil.h"

static uint64_t rng = 88172645463325252ull;
static double urand(void)   /* [0, 1) */
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)urand(); }

/* ---------------------------------------------------------------- fp16 references */

/* The value of fp16 bits h, from the IEEE formula. */
static double half_value(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

/* Nearest fp16 value to x (ties to even), +-inf past 65520, subnormal results -> signed 0. */
static double ref_round_fp16(double x)
{
    if (isnan(x)) return x;
    double a = fabs(x);
    double r;
    if (a >= 65520.0) r = INFINITY;
    else {
        int e;
        frexp(a, &e);                            /* a = f * 2^e, f in [0.5, 1) */
        int q = e - 11 < -24 ? -24 : e - 11;     /* spacing 2^q: 10 mantissa bits, or subnormal grid */
        double n = a / ldexp(1, q), fl = floor(n);
        double d = n - fl;
        if (d > 0.5 || (d == 0.5 && fmod(fl, 2) != 0)) fl += 1;
        r = ldexp(fl, q);
        if (r < ldexp(1, -14)) r = 0;            /* flushed */
        if (r > 65504) r = INFINITY;
    }
    return signbit(x) ? -r : r;
}

static int same_value(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static void test_fp16(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++)
        if (!same_value(ane_fp16_to_fp32((uint16_t)h), half_value((uint16_t)h))) bad++;
    CHECK(bad == 0, "fp16->fp32 wrong for %d of 65536 values", bad);

    /* Every fp16 value, the midpoints between neighbours, and one fp32 ulp either side. */
    bad = 0;
    int vbad = 0;
    float *xs = malloc(65536 * 5 * sizeof(float));
    int nx = 0;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        for (int sgn = 0; sgn < 2; sgn++) {
            double v = half_value((uint16_t)h), next = half_value((uint16_t)(h + 1));
            float mid = (float)((v + next) / 2);        /* exact in fp32 */
            float cand[4] = { (float)v, mid, nextafterf(mid, 0), nextafterf(mid, INFINITY) };
            for (int k = 0; k < 4; k++) {
                float x = sgn ? -cand[k] : cand[k];
                if (sgn == 0 && k < 3 && nx < 65536 * 5) xs[nx++] = x;
                if (!same_value(ane_round_fp16(x), ref_round_fp16(x))) {
                    if (bad++ < 5) printf("  round(%a) = %a, expected %a\n", x, ane_round_fp16(x), ref_round_fp16(x));
                }
            }
        }
    }
    float edge[] = { 65504.0f, 65519.99f, 65520.0f, 70000.0f, 3.4e38f, INFINITY, -INFINITY,
                     6.103515625e-05f, 6.1e-05f, 6.1032e-05f, 1e-30f, -1e-30f, 0.0f, -0.0f,
                     5.96e-8f, 2.98e-8f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048 };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        if (!same_value(ane_round_fp16(edge[i]), ref_round_fp16(edge[i]))) bad++;
        xs[nx++] = edge[i];
    }
    CHECK(bad == 0, "fp32->fp16 rounding wrong for %d values", bad);
    CHECK(isnan(ane_round_fp16(NAN)), "NaN must stay NaN");
    CHECK(ane_fp32_to_fp16(65520.0f) == 0x7c00 && ane_fp32_to_fp16(-1e-30f) == 0x8000 &&
          ane_fp32_to_fp16(65504.0f) == 0x7bff && ane_fp32_to_fp16(6.103515625e-05f) == 0x0400,
          "boundary bit patterns");

    /* The vector paths agree with the scalar ones (odd length: tails too). */
    int n = nx - 3;
    float *r = malloc((size_t)n * sizeof(float)), *back = malloc((size_t)n * sizeof(float));
    uint16_t *hs = malloc((size_t)n * sizeof(uint16_t));
    ane_round_fp16_n(xs, r, (size_t)n);
    ane_fp32_to_fp16_n(xs, hs, (size_t)n);
    for (int i = 0; i < n; i++)
        if (!same_value(r[i], ref_round_fp16(xs[i])) || hs[i] != ane_fp32_to_fp16(xs[i])) vbad++;
    uint16_t all[65536];
    float allf[65536];
    for (uint32_t h = 0; h < 65536; h++) all[h] = (uint16_t)h;
    ane_fp16_to_fp32_n(all, allf, 65535);
    for (uint32_t h = 0; h < 65535; h++) if (!same_value(allf[h], half_value((uint16_t)h))) vbad++;
    ane_fp16_to_fp32_flush_n(all, allf, 65535);
    for (uint32_t h = 0; h < 65535; h++) {
        double expect = (h & 0x7c00) ? half_value((uint16_t)h) : ((h & 0x8000) ? -0.0 : 0.0);
        if (!same_value(allf[h], expect)) vbad++;
    }
    CHECK(vbad == 0, "vector fp16 paths (%s) differ from the reference in %d values", ane_fp16_simd_name(), vbad);
    free(xs); free(r); free(back); free(hs);
}

/* ---------------------------------------------------------------- thread pool */

typedef struct { int *hits; } hit_ctx;
static void hit_nested(void *vctx, int64_t b, int64_t e)
{
    hit_ctx *c = vctx;
    for (int64_t i = b; i < e; i++) __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
}
static void hit(void *vctx, int64_t b, int64_t e)
{
    hit_ctx *c = vctx;
    for (int64_t i = b; i < e; i++) __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
    ane_parallel_for(3, 1, hit_nested, &(hit_ctx){ c->hits + 100000 });   /* nested: runs serially */
}

static void test_threads(void)
{
    int *hits = calloc(100003, sizeof(int));
    for (uint32_t t = 1; t <= 5; t++) {
        ane_threads_set(t);
        CHECK(ane_threads_count() == t, "thread count %u", t);
        int64_t ns[] = { 1, 7, 1000, 99999 };
        for (int k = 0; k < 4; k++) {
            memset(hits, 0, 100003 * sizeof(int));
            ane_parallel_for(ns[k], 3, hit, &(hit_ctx){ hits });
            int ok = 1;
            for (int64_t i = 0; i < ns[k]; i++) ok &= hits[i] == 1;
            CHECK(ok, "parallel_for n=%lld threads=%u: an index ran %s", (long long)ns[k], t, "not exactly once");
        }
    }
    ane_threads_set(0);
    free(hits);
}

/* ---------------------------------------------------------------- gemm */

static void test_gemm(void)
{
    int nk;
    const cpu_gemm_kernel *const *ks = cpu_gemm_kernels(&nk);
    /* {20, 1100, 900}: k in two passes of k blocks (gemm.c's PASS_FLOATS) */
    int shapes[][3] = { {1, 1, 1}, {5, 7, 3}, {13, 33, 17}, {12, 32, 256}, {37, 65, 300},
                        {100, 17, 513}, {256, 96, 64}, {3, 200, 1}, {20, 1100, 900} };
    for (int ki = 0; ki < nk; ki++) {
        for (uint32_t threads = 1; threads <= 3; threads += 2) {
            ane_threads_set(threads);
            for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
                for (int layout = 0; layout < 3; layout++) {
                    int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
                    /* layout 0: row-major A and B with padded rows; 1: A transposed; 2: B transposed */
                    int64_t lda = k + 3, ldb = n + 5, ldc = n + 2;
                    float *a = malloc(sizeof(float) * (size_t)(m + 3) * (k + 3));
                    float *b = malloc(sizeof(float) * (size_t)(k + 5) * (n + 5));
                    float *c = malloc(sizeof(float) * (size_t)m * ldc);
                    for (int i = 0; i < (m + 3) * (k + 3); i++) a[i] = frand(-1, 1);
                    for (int i = 0; i < (k + 5) * (n + 5); i++) b[i] = frand(-1, 1);
                    cpu_gemm_args g = { m, n, k, a, lda, 1, b, ldb, 1, c, ldc, layout == 1, ks[ki] };
                    if (layout == 1) { g.a_rs = 1; g.a_cs = m + 3; }
                    if (layout == 2) { g.b_rs = 1; g.b_cs = k + 5; }
                    int rc = cpu_gemm(&g);
                    double worst = 0;
                    int not_half = 0;
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++) {
                            double ref = 0, mag = 0;
                            for (int p = 0; p < k; p++) {
                                double x = a[i * g.a_rs + p * g.a_cs], y = b[p * g.b_rs + j * g.b_cs];
                                ref += x * y;
                                mag += fabs(x * y);
                            }
                            double tol = 2e-6 * mag + 1e-30;
                            if (g.round_fp16) {
                                tol += fabs(ref) / 1024.0;
                                if (!same_value(c[i * ldc + j], ref_round_fp16(c[i * ldc + j]))) not_half++;
                            }
                            double err = fabs(c[i * ldc + j] - ref) / tol;
                            if (err > worst) worst = err;
                        }
                    CHECK(rc == 0 && worst <= 1.0 && not_half == 0,
                          "gemm %s threads=%u %dx%dx%d layout %d: error %.2f x tolerance, %d not fp16",
                          ks[ki]->name, threads, m, n, k, layout, worst, not_half);
                    free(a); free(b); free(c);
                }
            }
        }
    }
    ane_threads_set(0);
}

/* Each kernel's packers against their contract (gemm.h), every value exact and the padding 0:
 * widths of A panels (6, 12) and B panels (8 to 32), row counts with and without a partial
 * last panel, k from 1 to a whole block, the source a padded stride apart. pack_copy packs
 * every panel of `rows`; pack_transposed one panel (rows <= width). */
static void test_gemm_packers(void)
{
    int nk;
    const cpu_gemm_kernel *const *ks = cpu_gemm_kernels(&nk);
    int widths[] = { 6, 8, 12, 16, 32 }, row_counts[] = { 1, 5, 6, 7, 12, 16, 47, 48, 96 }, kcs[] = { 1, 3, 17, 256 };
    for (int ki = 0; ki < nk; ki++) {
        if (!ks[ki]->pack_copy && !ks[ki]->pack_transposed) continue;   /* the generic kernel */
        int bad = 0, cases = 0;
        for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++)
            for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++)
                for (size_t ci = 0; ci < sizeof kcs / sizeof kcs[0]; ci++) {
                    int width = widths[wi], rows = row_counts[ri], kc = kcs[ci];
                    int64_t ld = (rows > kc ? rows : kc) + 37, panels = (rows + width - 1) / width;
                    float *src = malloc(sizeof(float) * (size_t)(ld * ld));
                    float *dst = malloc(sizeof(float) * (size_t)(panels * kc * width));
                    for (int64_t i = 0; i < ld * ld; i++) src[i] = (float)i;
                    if (ks[ki]->pack_copy) {              /* src[p*ld + row]: k rows ld apart */
                        for (int64_t i = 0; i < panels * kc * width; i++) dst[i] = -1.0f;
                        ks[ki]->pack_copy(kc, rows, width, src, ld, dst);
                        cases++;
                        for (int64_t q = 0; q < panels; q++)
                            for (int64_t p = 0; p < kc; p++)
                                for (int64_t r = 0; r < width; r++) {
                                    int64_t row = q * width + r;
                                    float want = row < rows ? src[p * ld + row] : 0.0f;
                                    bad += dst[(q * kc + p) * width + r] != want;
                                }
                    }
                    if (ks[ki]->pack_transposed && rows <= width) {   /* src[row*ld + p]: rows contiguous in k */
                        for (int64_t i = 0; i < kc * width; i++) dst[i] = -1.0f;
                        ks[ki]->pack_transposed(kc, rows, width, src, ld, dst);
                        cases++;
                        for (int64_t p = 0; p < kc; p++)
                            for (int64_t r = 0; r < width; r++)
                                bad += dst[p * width + r] != (r < rows ? src[r * ld + p] : 0.0f);
                    }
                    free(src); free(dst);
                }
        CHECK(bad == 0 && cases > 0, "gemm packers of %s: %d values wrong over %d cases", ks[ki]->name, bad, cases);
    }
}

/* ---------------------------------------------------------------- running MIL */

typedef struct prog {
    ane_program p;
    ane_backend backend;
    mil_diags diags;
} prog;

static int64_t tensor_elems(const ane_io_desc *d)
{
    int64_t n = 1;
    for (uint32_t i = 0; i < d->rank; i++) n *= d->shape[i];
    return n;
}

static void io_desc(const mil_value *v, ane_io_desc *d)
{
    memset(d, 0, sizeof *d);
    d->name = v->name;
    d->dtype = v->type.dtype == MIL_FP32 ? ANE_DTYPE_FP32 : v->type.dtype == MIL_INT8 ? ANE_DTYPE_INT8
             : v->type.dtype == MIL_UINT8 ? ANE_DTYPE_UINT8 : v->type.dtype == MIL_INT32 ? ANE_DTYPE_INT32 : ANE_DTYPE_FP16;
    d->rank = (uint32_t)(v->type.rank ? v->type.rank : 1);
    for (int i = 0; i < 4; i++) d->shape[i] = i < v->type.rank ? v->type.shape[i] : 1;
    int es = d->dtype == ANE_DTYPE_FP16 ? 2 : (d->dtype == ANE_DTYPE_FP32 || d->dtype == ANE_DTYPE_INT32) ? 4 : 1;
    d->row_stride_bytes = ((uint64_t)d->shape[d->rank - 1] * es + 63) / 64 * 64;   /* padded rows */
    d->bytes = d->row_stride_bytes * (uint64_t)(tensor_elems(d) / d->shape[d->rank - 1]);
}

/* Parse and compile; NULL (and a printed reason) on failure. */
static prog *compile(const char *text, const ane_weight *w, size_t nw, int numerics, ane_status *status)
{
    prog *g = calloc(1, sizeof *g);
    g->backend.ops = &ane_cpu_backend_ops;
    g->p.backend = &g->backend;
    g->p.ir = mil_parse(text, strlen(text), w, nw, &g->diags);
    if (!g->p.ir) {
        const mil_diag *e = mil_diags_first_error(&g->diags);
        printf("  parse failed: %s (line %d)\n", e ? e->message : "?", e ? e->line : 0);
        mil_diags_free(&g->diags);
        free(g);
        if (status) *status = ANE_ERR_PARSE;
        return NULL;
    }
    g->p.numerics = (uint32_t)numerics;
    g->p.n_inputs = (uint32_t)g->p.ir->n_inputs;
    g->p.n_outputs = (uint32_t)g->p.ir->n_outputs;
    g->p.inputs = calloc(g->p.n_inputs + 1, sizeof(ane_io_desc));
    g->p.outputs = calloc(g->p.n_outputs + 1, sizeof(ane_io_desc));
    for (uint32_t i = 0; i < g->p.n_inputs; i++) io_desc(&g->p.ir->values[g->p.ir->inputs[i]], &g->p.inputs[i]);
    for (uint32_t i = 0; i < g->p.n_outputs; i++) io_desc(&g->p.ir->values[g->p.ir->outputs[i]], &g->p.outputs[i]);
    ane_status st = ane_cpu_backend_ops.program_compile(&g->p, text, strlen(text), w, nw, 0, 0);
    if (status) *status = st;
    if (st != ANE_OK) {
        mil_program_free(g->p.ir);
        mil_diags_free(&g->diags);
        free(g->p.inputs); free(g->p.outputs); free(g);
        return NULL;
    }
    return g;
}

static void free_prog(prog *g)
{
    if (!g) return;
    ane_cpu_backend_ops.program_free(&g->p);
    mil_program_free(g->p.ir);
    mil_diags_free(&g->diags);
    free(g->p.inputs); free(g->p.outputs); free(g);
}

/* Evaluate with fp32 host arrays (converted to/from the surfaces' dtypes, row padding). */
static ane_status eval(prog *g, float **inputs, float **outputs)
{
    ane_surface *in[16], *out[16];
    ane_surface ins[16], outs[16];
    for (uint32_t i = 0; i < g->p.n_inputs; i++) {
        const ane_io_desc *d = &g->p.inputs[i];
        memset(&ins[i], 0, sizeof ins[i]);
        ins[i].size = d->bytes;
        ane_cpu_backend_ops.surface_create(&g->backend, &ins[i]);
        int64_t cols = d->shape[d->rank - 1], rows = tensor_elems(d) / cols;
        for (int64_t r = 0; r < rows; r++) {
            unsigned char *row = (unsigned char *)ins[i].base + r * d->row_stride_bytes;
            for (int64_t j = 0; j < cols; j++) {
                float v = inputs[i][r * cols + j];
                if (d->dtype == ANE_DTYPE_FP16) ((uint16_t *)row)[j] = ane_fp32_to_fp16(v);
                else if (d->dtype == ANE_DTYPE_FP32) ((float *)row)[j] = v;
                else if (d->dtype == ANE_DTYPE_INT8) ((int8_t *)row)[j] = (int8_t)v;
                else if (d->dtype == ANE_DTYPE_UINT8) ((uint8_t *)row)[j] = (uint8_t)v;
                else ((int32_t *)row)[j] = (int32_t)v;
            }
        }
        in[i] = &ins[i];
    }
    for (uint32_t i = 0; i < g->p.n_outputs; i++) {
        memset(&outs[i], 0, sizeof outs[i]);
        outs[i].size = g->p.outputs[i].bytes;
        ane_cpu_backend_ops.surface_create(&g->backend, &outs[i]);
        out[i] = &outs[i];
    }
    ane_request req = { &g->p, g->p.n_inputs, g->p.n_outputs, in, out, NULL };
    ane_eval_timing t;
    ane_status st = ane_cpu_backend_ops.request_eval(&req, 0, &t);
    for (uint32_t i = 0; i < g->p.n_outputs; i++) {
        const ane_io_desc *d = &g->p.outputs[i];
        int64_t cols = d->shape[d->rank - 1], rows = tensor_elems(d) / cols;
        for (int64_t r = 0; r < rows; r++) {
            unsigned char *row = (unsigned char *)outs[i].base + r * d->row_stride_bytes;
            for (int64_t j = 0; j < cols; j++) {
                float *o = &outputs[i][r * cols + j];
                if (d->dtype == ANE_DTYPE_FP16) *o = ane_fp16_to_fp32(((uint16_t *)row)[j]);
                else if (d->dtype == ANE_DTYPE_FP32) *o = ((float *)row)[j];
                else if (d->dtype == ANE_DTYPE_INT8) *o = ((int8_t *)row)[j];
                else if (d->dtype == ANE_DTYPE_UINT8) *o = ((uint8_t *)row)[j];
                else *o = (float)((int32_t *)row)[j];
            }
        }
        ane_cpu_backend_ops.surface_release(&outs[i]);
    }
    for (uint32_t i = 0; i < g->p.n_inputs; i++) ane_cpu_backend_ops.surface_release(&ins[i]);
    CHECK(st != ANE_OK || t.hw_ns == -1, "hw_ns must be -1");
    return st;
}

#define HEADER "program(1.3)\n{\n    func main<ios18>("

/* Compare got[n] with reference ref[n] (float64): under fp16 numerics each result must be
 * an fp16 value within `ulps` fp16 ulps (plus abs_tol) of the reference. */
static void compare(const char *label, const float *got, const double *ref, int64_t n, int fp16,
                    double rel, double abs_tol)
{
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        double tol = abs_tol + rel * fabs(ref[i]);
        int ok = fabs(got[i] - ref[i]) <= tol || (isinf(ref[i]) && got[i] == ref[i]);
        if (fp16 && !same_value(got[i], ref_round_fp16(got[i]))) ok = 0;
        if (!ok && bad++ == 0) first = i;
    }
    CHECK(bad == 0, "%s: %lld of %lld wrong; first [%lld] got %.8g expected %.8g", label, (long long)bad,
          (long long)n, (long long)first, first >= 0 ? got[first] : 0.0, first >= 0 ? ref[first] : 0.0);
}

static float h(float x) { return ane_round_fp16(x); }

/* The dynamic-weight matmul (reference/ane-maderix.md §3.5) at a small size, both numerics. */
static void test_dyn_matmul(void)
{
    enum { IC = 48, OC = 40, S = 24 };
    char text[4096];
    dyn_matmul_mil(text, sizeof text, IC, OC, S);
    for (int numerics = 0; numerics < 2; numerics++) {
        ane_status st;
        prog *g = compile(text, NULL, 0, numerics, &st);
        CHECK(g != NULL, "dyn matmul compile: %s", ane_last_error());
        if (!g) return;
        float *x = malloc(sizeof(float) * IC * (S + OC)), *y = malloc(sizeof(float) * OC * S);
        double *ref = malloc(sizeof(double) * OC * S);
        for (int i = 0; i < IC * (S + OC); i++) x[i] = h(frand(-1, 1));
        for (int oc = 0; oc < OC; oc++)
            for (int s = 0; s < S; s++) {
                double acc = 0;
                for (int ic = 0; ic < IC; ic++) acc += (double)x[ic * (S + OC) + s] * x[ic * (S + OC) + S + oc];
                ref[oc * S + s] = acc;
            }
        st = eval(g, &x, &y);
        CHECK(st == ANE_OK, "dyn matmul eval: %s", ane_last_error());
        /* fp16 output surface in both modes: within one fp16 rounding of the exact value */
        compare(numerics ? "dyn matmul fp32" : "dyn matmul fp16", y, ref, OC * S, 1, 1.0 / 1024, 1e-5);
        free(x); free(y); free(ref);
        free_prog(g);
    }
}

/* Elementwise, broadcasting, reductions, softmax, layer_norm on [1,C,1,S]. */
static void test_elementwise_and_reductions(void)
{
    enum { C = 6, S = 37 };
    /* fp32 types throughout, so the outputs show whether every op rounded to fp16 */
    const char *text = HEADER "tensor<fp32, [1, 6, 1, 37]> x, tensor<fp32, [1, 6, 1, 1]> b) {\n"
        "tensor<fp32, [1, 6, 1, 37]> xh = cast(x = x, dtype = string(\"fp32\"))[name = string(\"xh\")];\n"
        "tensor<fp32, [1, 6, 1, 37]> a = add(x = xh, y = b)[name = string(\"a\")];\n"
        "tensor<fp32, [1, 6, 1, 37]> g = gelu(x = a, mode = string(\"TANH_APPROXIMATION\"))[name = string(\"g\")];\n"
        "tensor<fp32, [1, 6, 1, 37]> sg = sigmoid(x = g)[name = string(\"sg\")];\n"
        "tensor<fp32, [1, 6, 1, 37]> sl = silu(x = xh)[name = string(\"sl\")];\n"
        "tensor<fp32, [1, 6, 1, 37]> c = clip(x = sl, alpha = fp32(-0.25), beta = fp32(0.5))[name = string(\"c\")];\n"
        "tensor<fp32, [1, 6, 1, 37]> sm = softmax(x = xh, axis = int32(1))[name = string(\"sm\")];\n"
        "tensor<fp32, [1, 6, 1, 37]> sm3 = softmax(x = xh, axis = int32(-1))[name = string(\"sm3\")];\n"
        "tensor<fp32, [1, 1, 1, 37]> rs = reduce_sum(x = xh, axes = tensor<int32, [1]>([1]), keep_dims = bool(true))[name = string(\"rs\")];\n"
        "tensor<fp32, [1, 6, 1, 1]> rx = reduce_max(x = xh, axes = tensor<int32, [2]>([2, 3]), keep_dims = bool(true))[name = string(\"rx\")];\n"
        "tensor<fp32, [1, 6, 1, 37]> ln = layer_norm(x = xh, axes = tensor<int32, [1]>([1]), gamma = tensor<fp32, [6]>([1, 2, 0.5, 1, -1, 3]), beta = tensor<fp32, [6]>([0, 0.25, 0, 0, 1, 0]), epsilon = fp32(1e-5))[name = string(\"ln\")];\n"
        "tensor<fp32, [1, 6, 1, 37]> big = mul(x = xh, y = fp32(30000))[name = string(\"big\")];\n"
        "tensor<fp32, [1, 6, 1, 37]> tiny = mul(x = xh, y = fp32(0.0001))[name = string(\"tiny\")];\n"
        "tensor<fp32, [1, 6, 1, 37]> tiny2 = mul(x = tiny, y = fp32(0.01))[name = string(\"tiny2\")];\n"
        "} -> (g, sg, c, sm, sm3, rs, rx, ln, big, tiny2);\n}\n";
    prog *g = compile(text, NULL, 0, ANE_NUMERICS_FP16, NULL);
    CHECK(g != NULL, "elementwise compile: %s", ane_last_error());
    if (!g) return;
    float x[C * S], b[C];
    for (int i = 0; i < C * S; i++) x[i] = frand(-3, 3);
    for (int i = 0; i < C; i++) b[i] = h(frand(-1, 1));
    float *outs[10];
    for (int i = 0; i < 10; i++) outs[i] = calloc(C * S, sizeof(float));
    float *ins[2] = { x, b };
    CHECK(eval(g, ins, outs) == ANE_OK, "elementwise eval: %s", ane_last_error());
    double ref[10][C * S];
    for (int c = 0; c < C; c++)
        for (int s = 0; s < S; s++) {
            int i = c * S + s;
            double xh = h(x[i]);
            double a = h((float)(xh + b[c]));
            double gl = h((float)(0.5 * a * (1 + tanh(sqrt(2 / M_PI) * (a + 0.044715 * a * a * a)))));
            ref[0][i] = gl;
            ref[1][i] = 1 / (1 + exp(-gl));
            double sl = h((float)(xh / (1 + exp(-xh))));
            ref[2][i] = sl < -0.25 ? -0.25 : sl > 0.5 ? 0.5 : sl;
            double mx = -1e300, sum = 0;
            for (int k = 0; k < C; k++) mx = fmax(mx, h(x[k * S + s]));
            for (int k = 0; k < C; k++) sum += exp(h(x[k * S + s]) - mx);
            ref[3][i] = exp(xh - mx) / sum;
            mx = -1e300; sum = 0;
            for (int k = 0; k < S; k++) mx = fmax(mx, h(x[c * S + k]));
            for (int k = 0; k < S; k++) sum += exp(h(x[c * S + k]) - mx);
            ref[4][i] = exp(xh - mx) / sum;
            double mean = 0, var = 0;
            for (int k = 0; k < C; k++) mean += h(x[k * S + s]);
            mean /= C;
            for (int k = 0; k < C; k++) var += (h(x[k * S + s]) - mean) * (h(x[k * S + s]) - mean);
            var /= C;
            double gam[6] = {1, 2, 0.5, 1, -1, 3}, bet[6] = {0, 0.25, 0, 0, 1, 0};
            ref[7][i] = (xh - mean) / sqrt(var + 1e-5) * gam[c] + bet[c];
            ref[8][i] = ref_round_fp16(xh * 30000);
            ref[9][i] = ref_round_fp16(h((float)(xh * h(0.0001f))) * h(0.01f));
        }
    for (int s = 0; s < S; s++) {
        double sum = 0;
        for (int c = 0; c < C; c++) sum += h(x[c * S + s]);
        ref[5][s] = sum;
    }
    for (int c = 0; c < C; c++) {
        double mx = -1e300;
        for (int s = 0; s < S; s++) mx = fmax(mx, h(x[c * S + s]));
        ref[6][c] = mx;
    }
    const char *names[10] = { "gelu tanh", "sigmoid", "silu+clip", "softmax axis 1", "softmax axis -1",
                              "reduce_sum", "reduce_max", "layer_norm", "overflow to inf", "underflow flush" };
    int64_t counts[10] = { C * S, C * S, C * S, C * S, C * S, S, C, C * S, C * S, C * S };
    for (int k = 0; k < 10; k++) compare(names[k], outs[k], ref[k], counts[k], 1, 2.0 / 1024, 1e-4);
    int infs = 0, zeros = 0;
    for (int i = 0; i < C * S; i++) { infs += isinf(outs[8][i]) != 0; zeros += outs[9][i] == 0; }
    CHECK(infs > 0 && zeros > 0, "fp16 numerics must overflow (%d infs) and flush (%d zeros)", infs, zeros);
    for (int i = 0; i < 10; i++) free(outs[i]);
    free_prog(g);

    /* fp32 numerics keep what fp16 would lose. */
    const char *t32 = HEADER "tensor<fp32, [1, 1, 1, 4]> x) {\n"
        "tensor<fp32, [1, 1, 1, 4]> y = add(x = x, y = fp32(0.000001))[name = string(\"y\")];\n"
        "} -> (y);\n}\n";
    g = compile(t32, NULL, 0, ANE_NUMERICS_FP32, NULL);
    CHECK(g != NULL, "fp32 compile: %s", ane_last_error());
    if (g) {
        float xi[4] = { 1, 2, 3, 4 }, yo[4];
        float *pi = xi, *po = yo;
        eval(g, &pi, &po);
        CHECK(yo[0] == 1.0f + 0.000001f, "fp32 numerics: %.9g", yo[0]);
        free_prog(g);
    }
}

/* conv (groups, strides, dilations, pads, bias) against a float64 loop. */
static void test_conv(void)
{
    enum { N = 1, CI = 4, CO = 6, H = 7, W = 9, KH = 3, KW = 2, G = 2 };
    /* strides [2,1], dilations [1,2], pad custom [1,0,2,1]: OH = (7+1-3)/2+1 = 3, OW = (9+3-3)/1+1 = 10 */
    enum { OH = 3, OW = 10 };
    char text[4096], wts[2048] = "", bias[256] = "";
    float w[CO * (CI / G) * KH * KW], bv[CO];
    size_t len = 0;
    for (int i = 0; i < CO * (CI / G) * KH * KW; i++) {
        w[i] = h(frand(-1, 1));
        len += (size_t)snprintf(wts + len, sizeof wts - len, "%s%.9g", i ? "," : "", w[i]);
    }
    len = 0;
    for (int i = 0; i < CO; i++) {
        bv[i] = h(frand(-1, 1));
        len += (size_t)snprintf(bias + len, sizeof bias - len, "%s%.9g", i ? "," : "", bv[i]);
    }
    snprintf(text, sizeof text, HEADER "tensor<fp16, [1, 4, 7, 9]> x) {\n"
        "tensor<fp16, [6, 2, 3, 2]> w = const()[name = string(\"w\"), val = tensor<fp16, [6, 2, 3, 2]>([%s])];\n"
        "tensor<fp16, [6]> bb = const()[name = string(\"bb\"), val = tensor<fp16, [6]>([%s])];\n"
        "tensor<fp16, [1, 6, 3, 10]> y = conv(x = x, weight = w, bias = bb, strides = tensor<int32, [2]>([2, 1]), "
        "pad_type = string(\"custom\"), pad = tensor<int32, [4]>([1, 0, 2, 1]), dilations = tensor<int32, [2]>([1, 2]), "
        "groups = int32(2))[name = string(\"y\")];\n"
        "} -> (y);\n}\n", wts, bias);
    prog *g = compile(text, NULL, 0, ANE_NUMERICS_FP16, NULL);
    CHECK(g != NULL, "conv compile: %s", ane_last_error());
    if (!g) return;
    float x[N * CI * H * W], y[CO * OH * OW];
    double ref[CO * OH * OW];
    for (int i = 0; i < CI * H * W; i++) x[i] = h(frand(-2, 2));
    for (int o = 0; o < CO; o++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                int grp = o / (CO / G);
                double acc = bv[o];
                for (int c = 0; c < CI / G; c++)
                    for (int ky = 0; ky < KH; ky++)
                        for (int kx = 0; kx < KW; kx++) {
                            int iy = oy * 2 - 1 + ky, ix = ox - 2 + kx * 2;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            acc += (double)w[((o * (CI / G) + c) * KH + ky) * KW + kx] *
                                   x[((grp * (CI / G) + c) * H + iy) * W + ix];
                        }
                ref[(o * OH + oy) * OW + ox] = acc;
            }
    float *pi = x, *po = y;
    CHECK(eval(g, &pi, &po) == ANE_OK, "conv eval: %s", ane_last_error());
    compare("conv", y, ref, CO * OH * OW, 1, 1.0 / 1024, 1e-3);
    free_prog(g);
}

/* sdpa with an additive mask broadcast over heads, and concat interleave + slice_by_index. */
static void test_attention_and_shapes(void)
{
    enum { H = 3, L = 5, S = 7, E = 4 };
    const char *text = HEADER "tensor<fp16, [1, 3, 5, 4]> q, tensor<fp16, [1, 3, 7, 4]> k, tensor<fp16, [1, 3, 7, 4]> v, tensor<fp16, [1, 1, 5, 7]> m) {\n"
        "tensor<fp16, [1, 3, 5, 4]> o = scaled_dot_product_attention(query = q, key = k, value = v, attn_mask = m)[name = string(\"o\")];\n"
        "tensor<fp16, [1, 6, 5, 4]> ci = concat(values = (o, q), axis = int32(1), interleave = bool(true))[name = string(\"ci\")];\n"
        "tensor<fp16, [1, 3, 5, 2]> sb = slice_by_index(x = ci, begin = tensor<int32, [4]>([0, 5, 0, 3]), end = tensor<int32, [4]>([1, 0, 5, 0]), "
        "stride = tensor<int32, [4]>([1, -2, 1, -2]), begin_mask = tensor<bool, [4]>([false, false, true, false]), "
        "end_mask = tensor<bool, [4]>([false, true, true, true]))[name = string(\"sb\")];\n"
        "} -> (o, ci, sb);\n}\n";
    prog *g = compile(text, NULL, 0, ANE_NUMERICS_FP16, NULL);
    CHECK(g != NULL, "sdpa compile: %s", ane_last_error());
    if (!g) return;
    float q[H * L * E], k[H * S * E], v[H * S * E], m[L * S];
    for (int i = 0; i < H * L * E; i++) q[i] = h(frand(-2, 2));
    for (int i = 0; i < H * S * E; i++) { k[i] = h(frand(-2, 2)); v[i] = h(frand(-2, 2)); }
    for (int i = 0; i < L; i++) for (int j = 0; j < S; j++) m[i * S + j] = j > i + 1 ? -65504.0f : 0.0f;
    float o[H * L * E], ci[2 * H * L * E], sb[H * L * 2];
    float *ins[4] = { q, k, v, m }, *outs[3] = { o, ci, sb };
    CHECK(eval(g, ins, outs) == ANE_OK, "sdpa eval: %s", ane_last_error());
    double ref[H * L * E], rci[2 * H * L * E], rsb[H * L * 2];
    for (int hh = 0; hh < H; hh++)
        for (int i = 0; i < L; i++) {
            double sc[S], mx = -1e300, sum = 0;
            for (int j = 0; j < S; j++) {
                double d = 0;
                for (int e = 0; e < E; e++) d += (double)q[(hh * L + i) * E + e] * k[(hh * S + j) * E + e];
                sc[j] = d / sqrt(E) + m[i * S + j];
                mx = fmax(mx, sc[j]);
            }
            for (int j = 0; j < S; j++) { sc[j] = exp(sc[j] - mx); sum += sc[j]; }
            for (int e = 0; e < E; e++) {
                double acc = 0;
                for (int j = 0; j < S; j++) acc += sc[j] / sum * v[(hh * S + j) * E + e];
                ref[(hh * L + i) * E + e] = acc;
            }
        }
    compare("sdpa", o, ref, H * L * E, 1, 2.0 / 1024, 1e-3);
    /* interleave: channel 2c = o[c], 2c+1 = q[c]; taken from the kernel's own (checked) o */
    for (int c = 0; c < 2 * H; c++)
        for (int i = 0; i < L * E; i++) rci[c * L * E + i] = c % 2 ? q[(c / 2) * L * E + i] : o[(c / 2) * L * E + i];
    compare("concat interleave", ci, rci, 2 * H * L * E, 1, 0, 0);
    /* channels 5,3,1 ; last axis 3,1 */
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < L; i++)
            for (int e = 0; e < 2; e++) rsb[(c * L + i) * 2 + e] = rci[((5 - 2 * c) * L + i) * E + (3 - 2 * e)];
    compare("slice_by_index negative strides", sb, rsb, H * L * 2, 1, 0, 0);
    free_prog(g);
}

/* quantize/dequantize per channel, constexpr weights from a BLOBFILE, and rewrite_weight. */
static void test_quant_and_weights(void)
{
    const char *text = HEADER "tensor<fp16, [1, 2, 1, 6]> x) {\n"
        "tensor<int8, [1, 2, 1, 6]> q = quantize(input = x, scale = tensor<fp16, [2]>([0.5, 0.25]), zero_point = tensor<int8, [2]>([3, -2]), axis = int32(1), output_dtype = string(\"int8\"))[name = string(\"q\")];\n"
        "tensor<fp16, [1, 2, 1, 6]> d = dequantize(input = q, scale = tensor<fp16, [2]>([0.5, 0.25]), zero_point = tensor<int8, [2]>([3, -2]), axis = int32(1))[name = string(\"d\")];\n"
        "tensor<fp16, [2, 6]> w = const()[name = string(\"w\"), val = tensor<fp16, [2, 6]>(BLOBFILE(path = string(\"@model_path/weights/w.bin\"), offset = uint64(64)))];\n"
        "tensor<fp16, [1, 2, 1, 6]> w4 = reshape(x = w, shape = tensor<int32, [4]>([1, 2, 1, 6]))[name = string(\"w4\")];\n"
        "tensor<fp16, [1, 2, 1, 6]> y = add(x = d, y = w4)[name = string(\"y\")];\n"
        "} -> (q, y);\n}\n";
    unsigned char blob[128 + 24] = {0};
    blob[0] = 1; blob[4] = 2;
    blob[64] = 0xEF; blob[65] = 0xBE; blob[66] = 0xAD; blob[67] = 0xDE; blob[68] = 1;
    blob[72] = 24; blob[80] = 128;
    float wv[12];
    for (int i = 0; i < 12; i++) {
        wv[i] = h((float)i / 4 - 1);
        uint16_t hv = ane_fp32_to_fp16(wv[i]);
        memcpy(blob + 128 + 2 * i, &hv, 2);
    }
    ane_weight wt = { "@model_path/weights/w.bin", blob, sizeof blob };
    prog *g = compile(text, &wt, 1, ANE_NUMERICS_FP16, NULL);
    CHECK(g != NULL, "quant compile: %s", ane_last_error());
    if (!g) return;
    float x[12] = { 0.25f, 0.75f, -1.25f, 100, -100, 1.0f, 0.125f, 0.375f, -0.125f, 50, -50, 0.0625f };
    float q[12], y[12];
    float *outs[2] = { q, y }, *pi = x;
    memset(blob + 128, 0, 24);     /* the compiled program must not read the caller's blob again */
    CHECK(eval(g, &pi, outs) == ANE_OK, "quant eval: %s", ane_last_error());
    double rq[12], ry[12];
    double sc[2] = { 0.5, 0.25 }, zp[2] = { 3, -2 };
    for (int i = 0; i < 12; i++) {
        int c = i / 6;
        double t = (double)h(x[i]) / sc[c], r = floor(t);
        if (t - r > 0.5 || (t - r == 0.5 && fmod(r, 2) != 0)) r += 1;   /* half to even */
        r += zp[c];
        rq[i] = r < -128 ? -128 : r > 127 ? 127 : r;
        ry[i] = ref_round_fp16((rq[i] - zp[c]) * sc[c]) + wv[i];
    }
    compare("quantize per-axis", q, rq, 12, 0, 0, 0);
    compare("dequantize + BLOBFILE weight", y, ry, 12, 1, 1.0 / 2048, 0);
    /* rewrite_weight: same size accepted, outputs unchanged; other sizes and names refused */
    unsigned char other[sizeof blob];
    memset(other, 0x3c, sizeof other);
    CHECK(ane_cpu_backend_ops.program_rewrite_weight(&g->p, wt.name, other, sizeof other) == ANE_OK, "rewrite");
    CHECK(ane_cpu_backend_ops.program_rewrite_weight(&g->p, wt.name, other, 10) == ANE_ERR_INVALID_ARG, "size mismatch");
    CHECK(ane_cpu_backend_ops.program_rewrite_weight(&g->p, "nope", other, sizeof other) == ANE_ERR_INVALID_ARG, "bad name");
    float y2[12];
    outs[1] = y2;
    eval(g, &pi, outs);
    CHECK(memcmp(y, y2, sizeof y) == 0, "outputs changed after rewrite_weight");
    free_prog(g);
}

/* Programs the cpu backend refuses: an error with a message, never a crash. */
static void test_errors(void)
{
    /* (reductions over non-adjacent axes are supported: test/ops checks them against float64) */
    const char *text = HEADER "tensor<fp16, [2, 3, 4, 5]> x) {\n"
        "tensor<fp16, [2, 3, 4, 5]> r = layer_norm(x = x, axes = tensor<int32, [2]>([0, 2]))[name = string(\"r\")];\n"
        "} -> (r);\n}\n";
    ane_status st = ANE_OK;
    prog *g = compile(text, NULL, 0, ANE_NUMERICS_FP16, &st);
    CHECK(!g && st == ANE_ERR_UNSUPPORTED && strstr(ane_last_error(), "adjacent"),
          "non-adjacent layer_norm axes: status %d, \"%s\"", st, ane_last_error());
    free_prog(g);
    ane_strbuf sb = {0};
    ane_backend b = { &ane_cpu_backend_ops, NULL };
    CHECK(ane_cpu_backend_ops.info_json(&b, &sb) == ANE_OK && sb.data && strstr(sb.data, "\"backend\":\"cpu\"") &&
          strstr(sb.data, "peak_fp32_gflops"), "info_json: %s", sb.data ? sb.data : "(null)");
    ane_sb_free(&sb);
}

/* ane_copy_2d (strided fp32 <-> fp16) and ane_fill_uniform (range, determinism, threads). */
static void test_host_helpers(void)
{
    float src[5 * 9];
    uint16_t half[5 * 12];
    float back[5 * 7];
    for (int i = 0; i < 5 * 9; i++) src[i] = frand(-70000, 70000) * (i % 3 ? 1e-9f : 1.0f);
    memset(half, 0xff, sizeof half);
    CHECK(ane_copy_2d(src, ANE_DTYPE_FP32, 9 * 4, half, ANE_DTYPE_FP16, 12 * 2, 5, 7) == ANE_OK, "copy_2d");
    int bad = 0;
    for (int r = 0; r < 5; r++) {
        for (int j = 0; j < 7; j++) if (!same_value(half_value(half[r * 12 + j]), ref_round_fp16(src[r * 9 + j]))) bad++;
        for (int j = 7; j < 12; j++) if (half[r * 12 + j] != 0xffff) bad++;     /* padding untouched */
    }
    CHECK(bad == 0, "copy_2d fp32->fp16: %d wrong", bad);
    CHECK(ane_copy_2d(half, ANE_DTYPE_FP16, 24, back, ANE_DTYPE_FP32, 28, 5, 7) == ANE_OK, "copy_2d back");
    bad = 0;
    for (int r = 0; r < 5; r++) for (int j = 0; j < 7; j++) if (!same_value(back[r * 7 + j], half_value(half[r * 12 + j]))) bad++;
    CHECK(bad == 0, "copy_2d fp16->fp32: %d wrong", bad);
    CHECK(ane_copy_2d(src, ANE_DTYPE_FP32, 8, half, ANE_DTYPE_FP16, 24, 5, 7) == ANE_ERR_INVALID_ARG, "short stride refused");
    CHECK(ane_copy_2d(src, ANE_DTYPE_INT8, 9, half, ANE_DTYPE_FP16, 24, 5, 7) == ANE_ERR_INVALID_ARG, "int8->fp16 refused");

    enum { N = 200003 };
    float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float));
    ane_set_threads(1);
    CHECK(ane_fill_uniform(a, ANE_DTYPE_FP32, N, 42, -0.5, 2.0) == ANE_OK, "fill");
    ane_set_threads(3);
    ane_fill_uniform(b, ANE_DTYPE_FP32, N, 42, -0.5, 2.0);
    ane_set_threads(0);
    double mean = 0;
    int out_of_range = 0;
    for (int i = 0; i < N; i++) { mean += a[i]; out_of_range += a[i] < -0.5f || a[i] >= 2.0f; }
    mean /= N;
    CHECK(memcmp(a, b, N * sizeof(float)) == 0, "fill differs between thread counts");
    CHECK(out_of_range == 0 && fabs(mean - 0.75) < 0.01, "fill: %d out of range, mean %.4f (expected 0.75)", out_of_range, mean);
    ane_fill_uniform(b, ANE_DTYPE_FP32, N, 43, -0.5, 2.0);
    CHECK(memcmp(a, b, N * sizeof(float)) != 0, "another seed gives other numbers");
    CHECK(ane_fill_uniform(a, ANE_DTYPE_FP32, N, 1, 1.0, 1.0) == ANE_ERR_INVALID_ARG, "empty range refused");
    free(a); free(b);
}


/* ---------------------------------------------------------------- fusion */

/* A text buffer that programs are printed into piece by piece. */
typedef struct text_buf { char s[32768]; size_t n; } text_buf;

static void put(text_buf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_buf *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->s + t->n, sizeof t->s - t->n, fmt, ap);
    va_end(ap);
    if (k > 0) t->n += (size_t)k < sizeof t->s - t->n ? (size_t)k : sizeof t->s - t->n - 1;
}

/* `tensor<fp32, [1, 1, r, c]> name = const()[...]` holding v[r * c]. */
static void put_const(text_buf *t, const char *name, int r, int c, const float *v)
{
    put(t, "tensor<fp32, [1, 1, %d, %d]> %s = const()[name = string(\"%s\"), val = tensor<fp32, [1, 1, %d, %d]>([", r, c, name,
        name, r, c);
    for (int i = 0; i < r * c; i++) put(t, "%s%.9g", i ? ", " : "", v[i]);
    put(t, "])];\n");
}

static int same_bits(float a, float b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y;
}

/* Run `body` (statements over the inputs, ending in the values `out`) twice per numerics: as
 * is, and with `more` (the chain's intermediates) also made program outputs, which fuse.c never
 * fuses away. The first plan must hold one step running `fused` and the second none, and the
 * first `n_cmp` outputs (n_out values each) must be the same bits in both: a fused chain computes
 * exactly what its ops compute one by one. */
static void check_fusion(const char *label, const char *params, const char *body, const char *out, const char *more,
                         float **inputs, int n_cmp, int64_t n_out, cpu_step_fn fused)
{
    for (int numerics = 0; numerics < 2; numerics++) {
        float *got[2][16];
        int n_fused[2] = {0, 0};
        for (int unfused = 0; unfused < 2; unfused++) {
            text_buf t = {{0}, 0};
            put(&t, HEADER "%s) {\n%s} -> (%s%s%s);\n}\n", params, body, out, unfused ? ", " : "", unfused ? more : "");
            prog *g = compile(t.s, NULL, 0, numerics, NULL);
            CHECK(g != NULL, "%s: compile: %s", label, ane_last_error());
            if (!g) return;
            ane_status st;
            cpu_plan *plan = cpu_plan_build(g->p.ir, numerics == ANE_NUMERICS_FP16, &st);
            for (int i = 0; plan && i < plan->n_steps; i++) n_fused[unfused] += plan->steps[i].run == fused;
            cpu_plan_free(plan);
            for (uint32_t i = 0; i < g->p.n_outputs; i++) got[unfused][i] = calloc((size_t)tensor_elems(&g->p.outputs[i]), sizeof(float));
            CHECK(eval(g, inputs, got[unfused]) == ANE_OK, "%s: eval: %s", label, ane_last_error());
            for (uint32_t i = (uint32_t)n_cmp; i < g->p.n_outputs; i++) free(got[unfused][i]);
            free_prog(g);
        }
        const char *mode = numerics == ANE_NUMERICS_FP16 ? "fp16" : "fp32";
        CHECK(n_fused[0] == 1 && n_fused[1] == 0, "%s %s: %d fused steps as is, %d with the intermediates as outputs (want 1, 0)",
              label, mode, n_fused[0], n_fused[1]);
        for (int o = 0; o < n_cmp; o++) {
            int64_t bad = 0, first = -1;
            for (int64_t i = 0; i < n_out; i++)
                if (!same_bits(got[0][o][i], got[1][o][i]) && bad++ == 0) first = i;
            CHECK(bad == 0, "%s %s output %d: %lld of %lld values differ from the unfused ops; first [%lld] %.9g vs %.9g", label,
                  mode, o, (long long)bad, (long long)n_out, (long long)first, first >= 0 ? got[0][o][first] : 0.0,
                  first >= 0 ? got[1][o][first] : 0.0);
        }
        for (int o = 0; o < n_cmp; o++) { free(got[0][o]); free(got[1][o]); }
    }
}

/* Values that probe the fused kernels' edges: mostly uniform, some exact zeros of both signs,
 * and (with specials) infinities and NaNs. */
static void probe_values(float *x, int64_t n, float lo, float hi, int specials)
{
    for (int64_t i = 0; i < n; i++) {
        x[i] = frand(lo, hi);
        int r = (int)(urand() * 50);
        if (r == 0) x[i] = 0.0f;
        if (r == 1) x[i] = -0.0f;
    }
    if (specials && n >= 4) { x[1] = INFINITY; x[2] = -INFINITY; x[3] = NAN; }
}

/* The rotation RoPE builds for n channels: interleaved pairs (2i, 2i+1) or halves (i, i+n/2),
 * R x putting -x[partner] at a pair's first channel and +x[partner] at its second. */
static void rope_matrix(float *R, int n, int interleaved)
{
    memset(R, 0, sizeof(float) * (size_t)(n * n));
    for (int i = 0; i < n; i++) {
        int first = interleaved ? i % 2 == 0 : i < n / 2;
        int partner = interleaved ? i ^ 1 : (i + n / 2) % n;
        R[i * n + partner] = first ? -1.0f : 1.0f;
    }
}

/* Attention forward and backward under a causal mask, against the same ops unfused: the fused
 * softmax skips each row's masked run where exp would give exactly 0 there. S = 300 makes rows
 * whose run is not a whole number of vectors. Planted: a score at a masked position so high
 * that exp is not 0 there (its row takes the whole softmax), and an inf in v at a position
 * masked for the earlier rows (0 * inf = NaN in their products, as unfused). */
static void test_causal_attention(void)
{
    enum { H = 2, S = 300, D = 8 };
    static float q[H * S * D], k[H * D * S], v[H * S * D], dout[H * S * D], mask[S * S];
    probe_values(q, H * S * D, -1, 1, 0);
    probe_values(k, H * D * S, -1, 1, 0);
    probe_values(v, H * S * D, -1, 1, 0);
    probe_values(dout, H * S * D, -1, 1, 0);
    for (int i = 0; i < S; i++) for (int j = 0; j < S; j++) mask[i * S + j] = j > i ? -65504.0f : 0.0f;
    for (int d = 0; d < D; d++) { q[5 * D + d] = 160.0f; k[d * S + 250] = 160.0f; }   /* head 0: score(5, 250) * 0.35 > 65504 */
    v[(S + 280) * D + 3] = INFINITY;                                                 /* head 1, position 280 */
    float *inputs[5] = { q, k, v, dout, mask };
    char params[512];
    snprintf(params, sizeof params,
             "tensor<fp32, [1, %d, %d, %d]> q, tensor<fp32, [1, %d, %d, %d]> k, tensor<fp32, [1, %d, %d, %d]> v, "
             "tensor<fp32, [1, %d, %d, %d]> dout, tensor<fp32, [1, 1, %d, %d]> mask", H, S, D, H, D, S, H, S, D, H, S, D, S, S);
    text_buf b = {{0}, 0};
    char ss[64], sd[64], sr[64];
    snprintf(ss, sizeof ss, "tensor<fp32, [1, %d, %d, %d]>", H, S, S);
    snprintf(sd, sizeof sd, "tensor<fp32, [1, %d, %d, %d]>", H, S, D);
    snprintf(sr, sizeof sr, "tensor<fp32, [1, %d, %d, 1]>", H, S);
    const char *F = "bool(false)", *T = "bool(true)";
    put(&b, "%s s = matmul(x = q, y = k, transpose_x = %s, transpose_y = %s)[name = string(\"s\")];\n", ss, F, F);
    put(&b, "%s sc = mul(x = s, y = fp32(0.35))[name = string(\"sc\")];\n", ss);
    put(&b, "%s a = add(x = sc, y = mask)[name = string(\"a\")];\n", ss);
    put(&b, "%s p = softmax(x = a, axis = int32(-1))[name = string(\"p\")];\n", ss);
    put(&b, "%s o = matmul(x = p, y = v, transpose_x = %s, transpose_y = %s)[name = string(\"o\")];\n", sd, F, F);
    put(&b, "%s dv = matmul(x = p, y = dout, transpose_x = %s, transpose_y = %s)[name = string(\"dv\")];\n", sd, T, F);
    put(&b, "%s dp = matmul(x = dout, y = v, transpose_x = %s, transpose_y = %s)[name = string(\"dp\")];\n", ss, F, T);
    put(&b, "%s pd = mul(x = p, y = dp)[name = string(\"pd\")];\n", ss);
    put(&b, "%s rd = reduce_sum(x = pd, axes = tensor<int32, [1]>([3]), keep_dims = bool(true))[name = string(\"rd\")];\n", sr);
    put(&b, "%s sb = sub(x = dp, y = rd)[name = string(\"sb\")];\n", ss);
    put(&b, "%s m1 = mul(x = p, y = sb)[name = string(\"m1\")];\n", ss);
    put(&b, "%s ds = mul(x = m1, y = fp32(0.35))[name = string(\"ds\")];\n", ss);
    put(&b, "%s dq = matmul(x = ds, y = k, transpose_x = %s, transpose_y = %s)[name = string(\"dq\")];\n", sd, F, T);
    put(&b, "%s dk = matmul(x = ds, y = q, transpose_x = %s, transpose_y = %s)[name = string(\"dk\")];\n", sd, T, F);
    check_fusion("causal attention", params, b.s, "o, dv, dq, dk", "a", inputs, 4, H * S * D, cpu_run_scaled_masked_softmax);
}

static void test_fusion(void)
{
    enum { C = 5, S = 37, H = 3, HD = 8, P = 20 };
    char params[256], body[1024];

    /* SwiGLU's gate, as the ffn kernel writes it and with silu */
    float x[C * S], y[C * S];
    probe_values(x, C * S, -12, 12, 1);
    probe_values(y, C * S, -2, 2, 0);
    float *xy[2] = { x, y };
    snprintf(params, sizeof params, "tensor<fp32, [1, %d, 1, %d]> x, tensor<fp32, [1, %d, 1, %d]> y", C, S, C, S);
    snprintf(body, sizeof body,
             "tensor<fp32, [1, %d, 1, %d]> sg = sigmoid(x = x)[name = string(\"sg\")];\n"
             "tensor<fp32, [1, %d, 1, %d]> g = mul(x = x, y = sg)[name = string(\"g\")];\n"
             "tensor<fp32, [1, %d, 1, %d]> o = mul(x = g, y = y)[name = string(\"o\")];\n", C, S, C, S, C, S);
    check_fusion("silu gate (sigmoid)", params, body, "o", "sg, g", xy, 1, C * S, cpu_run_silu_mul);
    snprintf(body, sizeof body,
             "tensor<fp32, [1, %d, 1, %d]> g = silu(x = x)[name = string(\"g\")];\n"
             "tensor<fp32, [1, %d, 1, %d]> o = mul(x = y, y = g)[name = string(\"o\")];\n", C, S, C, S);
    check_fusion("silu gate (silu)", params, body, "o", "g", xy, 1, C * S, cpu_run_silu_mul);

    /* RoPE forward on [1, H, HD, P] heads, and its backward on a transposed view (as attn_bwd's
     * dq and dk are); head 0 holds an inf and a NaN, the others are finite */
    float cs[HD * P], sn[HD * P], R[HD * HD], RT[HD * HD];
    for (int i = 0; i < HD * P; i++) { cs[i] = frand(-1, 1); sn[i] = frand(-1, 1); }
    float q[H * HD * P];
    probe_values(q, H * HD * P, -4, 4, 1);
    for (int i = 0; i < HD; i++) q[(HD + i) * P] = i % 3 ? -0.0f : 0.0f;   /* head 1, position 0: zeros of both signs */
    float *qs[1] = { q };
    for (int interleaved = 0; interleaved < 2; interleaved++) {
        rope_matrix(R, HD, interleaved);
        for (int i = 0; i < HD; i++) for (int j = 0; j < HD; j++) RT[j * HD + i] = R[i * HD + j];
        text_buf consts = {{0}, 0}, fwd = {{0}, 0}, bwd = {{0}, 0};
        put_const(&consts, "cs", HD, P, cs);
        put_const(&consts, "sn", HD, P, sn);
        put_const(&consts, "r", HD, HD, R);
        put_const(&consts, "rt", HD, HD, RT);
        char shape[64];
        snprintf(shape, sizeof shape, "tensor<fp32, [1, %d, %d, %d]>", H, HD, P);
        snprintf(params, sizeof params, "%s x", shape);
        put(&fwd, "%s%s a = mul(x = x, y = cs)[name = string(\"a\")];\n", consts.s, shape);
        put(&fwd, "%s m = matmul(x = r, y = x, transpose_x = bool(false), transpose_y = bool(false))[name = string(\"m\")];\n", shape);
        put(&fwd, "%s b = mul(x = m, y = sn)[name = string(\"b\")];\n", shape);
        put(&fwd, "%s o = add(x = a, y = b)[name = string(\"o\")];\n", shape);
        check_fusion(interleaved ? "rope forward (interleaved)" : "rope forward (halves)", params, fwd.s, "o", "a, m, b", qs, 1,
                     H * HD * P, cpu_run_rope);
        snprintf(params, sizeof params, "tensor<fp32, [1, %d, %d, %d]> xt", H, P, HD);
        put(&bwd, "%s%s x = transpose(x = xt, perm = tensor<int32, [4]>([0, 1, 3, 2]))[name = string(\"x\")];\n", consts.s, shape);
        put(&bwd, "%s a = mul(x = x, y = cs)[name = string(\"a\")];\n", shape);
        put(&bwd, "%s u = mul(x = sn, y = x)[name = string(\"u\")];\n", shape);
        put(&bwd, "%s m = matmul(x = rt, y = u, transpose_x = bool(false), transpose_y = bool(false))[name = string(\"m\")];\n", shape);
        put(&bwd, "%s o = add(x = m, y = a)[name = string(\"o\")];\n", shape);
        check_fusion(interleaved ? "rope backward (interleaved)" : "rope backward (halves)", params, bwd.s, "o", "a, u, m", qs, 1,
                     H * HD * P, cpu_run_rope);
    }
}

int main(void)
{
    test_fp16();
    test_threads();
    test_gemm();
    test_gemm_packers();
    test_dyn_matmul();
    test_elementwise_and_reductions();
    test_conv();
    test_attention_and_shapes();
    test_fusion();
    test_causal_attention();
    test_quant_and_weights();
    test_errors();
    test_host_helpers();
    return check_summary();
}
