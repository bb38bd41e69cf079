/* test_decode.c — libane's decoder (host/decode.c, host/decode_matvec.c) against a plain float64
 * reference written here, on tiny random Llama and GPT models:
 *   - fp16 conversions: every fp16 value widens exactly (checked against ldexp), and fp32 -> fp16
 *     rounds to nearest even (checked against a float64 rounding of random and halfway values);
 *   - logits of a prefill and of cached decode steps vs the reference, with fp32 weights and
 *     with fp16 weights (the reference then takes the matrices rounded by its own rounding);
 *   - cached decode == uncached prefill, bit for bit, in both storages and at 1 and 3 threads,
 *     and the portable fp16 kernel == this machine's SIMD one, bit for bit;
 *   - bad arguments are errors with messages, never crashes.
 * Prints "N passed, M failed". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/ane.h"
#include "../src/host/decode_matvec.h"
#include "check.h"

static uint32_t rng_state = 12345;
static double uniform(void)      /* [0, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state / 4294967296.0;
}

/* ------------------------------------------------------------------ fp16 by float64 arithmetic */

/* The fp16 value of bit pattern h (finite), from its fields. */
static double half_value(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return h & 0x8000 ? -v : v;
}

/* x rounded to the nearest fp16 (ties to even), as a double; |x| < 65520. */
static double round_half(double x)
{
    double a = fabs(x);
    int e;
    frexp(a, &e);                                   /* a = f * 2^e, f in [0.5, 1) */
    double ulp = ldexp(1.0, (e - 11 < -24 ? -24 : e - 11));
    double q = a / ulp, r = floor(q), frac = q - r;
    if (frac > 0.5 || (frac == 0.5 && fmod(r, 2.0) == 1.0)) r += 1;
    return copysign(r * ulp, x);
}

static void test_conversions(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 31) == 31) continue;      /* inf / NaN are never stored */
        float f = ane_half_to_float((uint16_t)h);
        if ((double)f != half_value((uint16_t)h) || !!signbit(f) != !!(h & 0x8000)) bad++;
        else if (ane_float_to_half(f) != h) bad++;
    }
    CHECK(bad == 0, "%d fp16 values do not widen exactly or do not round-trip", bad);
    bad = 0;
    for (int i = 0; i < 200000; i++) {
        /* Log-uniform magnitudes from 2^-30 to 2^16, both signs; every 4th exactly halfway
         * between two neighbouring fp16 values (a tie), which needs 12 bits: exact in fp32. */
        double a = ldexp(1.0 + uniform(), (int)(uniform() * 46) - 30);
        if (a >= 65504) a = 65504;
        if (i % 4 == 0) { uint16_t h = (uint16_t)(uniform() * 0x7bff); a = (half_value(h) + half_value(h + 1)) / 2; }
        float f = (float)(uniform() < 0.5 ? -a : a);
        double want = round_half((double)f);
        double got = ane_half_to_float(ane_float_to_half(f));
        if (got != want) { if (bad < 3) printf("  round %.9g: got %.9g, want %.9g\n", f, got, want); bad++; }
    }
    CHECK(bad == 0, "%d of 200000 floats round to the wrong fp16", bad);
    CHECK(ane_float_to_half(65520.0f) == 0x7c00 && ane_float_to_half(-1e6f) == 0xfc00 && ane_float_to_half(65519.0f) == 0x7bff,
          "overflow: 65520 -> %04x, -1e6 -> %04x, 65519 -> %04x", ane_float_to_half(65520.0f), ane_float_to_half(-1e6f), ane_float_to_half(65519.0f));
    printf("fp16 kernel on this machine: %s\n", ane_dec_f16_kernel());
}

/* ------------------------------------------------------------------ a tiny model and its reference */

enum { D = 48, F = 80, L = 2, H = 4, KVH = 2, HD = 12, V = 37, T = 16 };

typedef struct {
    int gpt;
    int kvh;                    /* kv heads (GPT: H) */
    double *w[5 + 12 * L];      /* float64 weights in ane.h's order */
    size_t n[5 + 12 * L];       /* their element counts */
    int is_matrix[5 + 12 * L];
    int count;
} model;

static void add(model *m, size_t n, int is_matrix, int ones)
{
    int i = m->count++;
    m->n[i] = n;
    m->is_matrix[i] = is_matrix;
    m->w[i] = malloc(n * sizeof(double));
    for (size_t k = 0; k < n; k++) m->w[i][k] = ones ? 0.8 + 0.4 * uniform() : 0.6 * (uniform() - 0.5);
}

static void build(model *m, int gpt)
{
    memset(m, 0, sizeof *m);
    m->gpt = gpt;
    m->kvh = gpt ? H : KVH;
    const size_t Q = H * HD, KV = (size_t)m->kvh * HD;
    add(m, (size_t)V * D, 1, 0);
    if (gpt) add(m, (size_t)T * D, 1, 0);
    for (int l = 0; l < L; l++) {
        if (gpt) {
            add(m, D, 0, 1); add(m, D, 0, 0);
            add(m, (Q + 2 * KV) * D, 1, 0); add(m, Q + 2 * KV, 0, 0);
            add(m, D * Q, 1, 0); add(m, D, 0, 0);
            add(m, D, 0, 1); add(m, D, 0, 0);
            add(m, (size_t)F * D, 1, 0); add(m, F, 0, 0);
            add(m, (size_t)D * F, 1, 0); add(m, D, 0, 0);
        } else {
            add(m, D, 0, 1);
            add(m, Q * D, 1, 0); add(m, KV * D, 1, 0); add(m, KV * D, 1, 0);
            add(m, HD, 0, 1); add(m, HD, 0, 1);              /* q_norm, k_norm (Qwen3 style) */
            add(m, D * Q, 1, 0); add(m, D, 0, 1);
            add(m, (size_t)F * D, 1, 0); add(m, (size_t)F * D, 1, 0); add(m, (size_t)D * F, 1, 0);
        }
    }
    add(m, D, 0, 1);
    if (gpt) add(m, D, 0, 0);
    add(m, (size_t)V * D, 1, 0);                              /* a separate classifier */
}

static void release(model *m) { for (int i = 0; i < m->count; i++) free(m->w[i]); }

/* y[o] = W[o, :] · x + b[o] */
static void ref_linear(const double *W, const double *b, const double *x, double *y, int rows, int in)
{
    for (int o = 0; o < rows; o++) {
        double s = b ? b[o] : 0.0;
        for (int i = 0; i < in; i++) s += W[(size_t)o * in + i] * x[i];
        y[o] = s;
    }
}

static void ref_norm(const double *x, const double *w, const double *b, double *y, int n)
{
    double mean = 0, ss = 0;
    if (b) { for (int i = 0; i < n; i++) mean += x[i]; mean /= n; }
    for (int i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    double r = 1.0 / sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; i++) y[i] = (x[i] - mean) * r * w[i] + (b ? b[i] : 0.0);
}

/* Logits [S, V] of the whole sequence, every position recomputed (no cache). */
static void ref_forward(const model *m, const int32_t *tok, int S, double *logits)
{
    const int gpt = m->gpt, KVH_ = m->kvh, Q = H * HD, KV = KVH_ * HD;
    double (*x)[D] = calloc(S, sizeof *x), xn[D], tmp[D];
    double (*q)[H * HD] = calloc(S, sizeof *q), (*k)[H * HD] = calloc(S, sizeof *k), (*v)[H * HD] = calloc(S, sizeof *v);
    double att[H * HD], h1[F], h3[F], qkv[3 * H * HD];
    for (int s = 0; s < S; s++)
        for (int i = 0; i < D; i++) x[s][i] = m->w[0][(size_t)tok[s] * D + i] + (gpt ? m->w[1][(size_t)s * D + i] : 0.0);
    for (int l = 0; l < L; l++) {
        double *const *p = m->w + (gpt ? 2 + 12 * l : 1 + 11 * l);
        for (int s = 0; s < S; s++) {
            ref_norm(x[s], p[0], gpt ? p[1] : NULL, xn, D);
            if (gpt) {
                ref_linear(p[2], p[3], xn, qkv, Q + 2 * KV, D);
                memcpy(q[s], qkv, Q * sizeof(double)); memcpy(k[s], qkv + Q, KV * sizeof(double)); memcpy(v[s], qkv + Q + KV, KV * sizeof(double));
            } else {
                ref_linear(p[1], NULL, xn, q[s], Q, D); ref_linear(p[2], NULL, xn, k[s], KV, D); ref_linear(p[3], NULL, xn, v[s], KV, D);
                for (int h = 0; h < H; h++) ref_norm(q[s] + h * HD, p[4], NULL, q[s] + h * HD, HD);
                for (int h = 0; h < KVH_; h++) ref_norm(k[s] + h * HD, p[5], NULL, k[s] + h * HD, HD);
                for (int h = 0; h < H + KVH_; h++) {          /* interleaved RoPE, theta 10000 */
                    double *z = h < H ? q[s] + h * HD : k[s] + (h - H) * HD;
                    for (int j = 0; j < HD / 2; j++) {
                        double a = s * pow(10000.0, -2.0 * j / HD), c = cos(a), sn = sin(a);
                        double z0 = z[2 * j], z1 = z[2 * j + 1];
                        z[2 * j] = z0 * c - z1 * sn; z[2 * j + 1] = z0 * sn + z1 * c;
                    }
                }
            }
        }
        for (int s = 0; s < S; s++) {
            for (int h = 0; h < H; h++) {
                int kh = h / (H / KVH_);
                double sc[T], mx = -1e300, sum = 0;
                for (int t = 0; t <= s; t++) {
                    double d = 0;
                    for (int i = 0; i < HD; i++) d += q[s][h * HD + i] * k[t][kh * HD + i];
                    sc[t] = d / sqrt((double)HD);
                    if (sc[t] > mx) mx = sc[t];
                }
                for (int t = 0; t <= s; t++) { sc[t] = exp(sc[t] - mx); sum += sc[t]; }
                for (int i = 0; i < HD; i++) {
                    double a = 0;
                    for (int t = 0; t <= s; t++) a += sc[t] / sum * v[t][kh * HD + i];
                    att[h * HD + i] = a;
                }
            }
            ref_linear(gpt ? p[4] : p[6], gpt ? p[5] : NULL, att, tmp, D, Q);
            for (int i = 0; i < D; i++) x[s][i] += tmp[i];
            ref_norm(x[s], gpt ? p[6] : p[7], gpt ? p[7] : NULL, xn, D);
            if (gpt) {
                ref_linear(p[8], p[9], xn, h1, F, D);
                for (int i = 0; i < F; i++) h1[i] = 0.5 * h1[i] * (1 + tanh(sqrt(2 / M_PI) * (h1[i] + 0.044715 * pow(h1[i], 3))));
                ref_linear(p[10], p[11], h1, tmp, D, F);
            } else {
                ref_linear(p[8], NULL, xn, h1, F, D); ref_linear(p[9], NULL, xn, h3, F, D);
                for (int i = 0; i < F; i++) h1[i] = h1[i] / (1 + exp(-h1[i])) * h3[i];
                ref_linear(p[10], NULL, h1, tmp, D, F);
            }
            for (int i = 0; i < D; i++) x[s][i] += tmp[i];
        }
    }
    int last = m->count - (gpt ? 3 : 2);
    for (int s = 0; s < S; s++) {
        ref_norm(x[s], m->w[last], gpt ? m->w[last + 1] : NULL, xn, D);
        ref_linear(m->w[m->count - 1], NULL, xn, logits + (size_t)s * V, V, D);
    }
    free(x); free(q); free(k); free(v);
}

/* ------------------------------------------------------------------ the decoder vs the reference */

static ane_decoder_config config_of(const model *m, uint32_t weight_type)
{
    ane_decoder_config c = {D, F, L, H, (uint32_t)m->kvh, HD, V, T, ANE_ROPE_INTERLEAVED, m->gpt ? 0 : 1, 10000.0f, 1e-5f,
                            m->gpt ? ANE_DECODER_GPT : ANE_DECODER_LLAMA, weight_type};
    return c;
}

static void test_model(int gpt, uint32_t weight_type)
{
    const char *name = gpt ? (weight_type ? "gpt fp16" : "gpt fp32") : (weight_type ? "llama fp16" : "llama fp32");
    model m;
    build(&m, gpt);
    /* fp32 copies for the decoder; with fp16 storage the reference takes the rounded matrices. */
    float *w32[5 + 12 * L];
    for (int i = 0; i < m.count; i++) {
        w32[i] = malloc(m.n[i] * sizeof(float));
        for (size_t k = 0; k < m.n[i]; k++) {
            w32[i][k] = (float)m.w[i][k];
            m.w[i][k] = weight_type == ANE_WEIGHTS_FP16 && m.is_matrix[i] ? round_half(w32[i][k]) : (double)w32[i][k];
        }
    }
    int32_t tok[T];
    for (int s = 0; s < T; s++) tok[s] = (int32_t)(uniform() * V);
    double *want = malloc((size_t)T * V * sizeof(double));
    ref_forward(&m, tok, T, want);

    ane_decoder_config c = config_of(&m, weight_type);
    ane_decoder *d = NULL;
    ane_status st = ane_decoder_create(&c, (const float *const *)w32, (uint64_t)m.count, &d);
    CHECK(st == ANE_OK, "%s: create: %s", name, ane_last_error());
    if (st) goto done;
    float logits[V], cached[T][V];
    double worst = 0;
    for (uint32_t threads = 1; threads <= 3; threads += 2) {
        ane_set_threads(threads);
        /* Prefill 3, then decode one at a time. */
        CHECK(ane_decoder_step(d, tok, 3, 0, cached[2]) == ANE_OK, "%s: prefill: %s", name, ane_last_error());
        for (int s = 3; s < T; s++) CHECK(ane_decoder_step(d, tok + s, 1, (uint32_t)s, cached[s]) == ANE_OK, "%s: step: %s", name, ane_last_error());
        for (int s = 2; s < T; s++) {
            double err = 0, scale = 0;
            for (int o = 0; o < V; o++) {
                err = fmax(err, fabs(cached[s][o] - want[(size_t)s * V + o]));
                scale = fmax(scale, fabs(want[(size_t)s * V + o]));
            }
            worst = fmax(worst, err / scale);
            CHECK(err <= 2e-5 * scale, "%s, %u threads: position %d: max |logit error| %g (scale %g)", name, threads, s, err, scale);
        }
        /* Uncached: the whole prefix from position 0, bit-identical to the cached steps. */
        int diff = 0;
        for (int s = 2; s < T; s++) {
            CHECK(ane_decoder_step(d, tok, (uint32_t)s + 1, 0, logits) == ANE_OK, "%s: prefix: %s", name, ane_last_error());
            diff += memcmp(logits, cached[s], sizeof logits) != 0;
        }
        CHECK(diff == 0, "%s, %u threads: %d prefixes differ from the cached steps", name, threads, diff);
        CHECK(ane_decoder_length(d) == T, "%s: length %u", name, ane_decoder_length(d));
    }
    ane_set_threads(0);
    /* The portable fp16 kernel gives the same bits as the machine's SIMD one. */
    if (weight_type == ANE_WEIGHTS_FP16) {
        ane_dec_force_portable(1);
        CHECK(ane_decoder_step(d, tok, T, 0, logits) == ANE_OK, "%s: portable: %s", name, ane_last_error());
        ane_dec_force_portable(0);
        CHECK(memcmp(logits, cached[T - 1], sizeof logits) == 0, "%s: the portable kernel's logits differ from %s's", name, ane_dec_f16_kernel());
    }
    /* Bytes per step: matrices (one embedding row each) in the storage's size, vectors in fp32. */
    uint64_t bytes = 0, elem = weight_type == ANE_WEIGHTS_FP16 ? 2 : 4;
    for (int i = 0; i < m.count; i++)
        bytes += m.is_matrix[i] ? elem * (i == 0 || (gpt && i == 1) ? D : m.n[i]) : 4 * m.n[i];
    CHECK(ane_decoder_weight_bytes(d) == bytes, "%s: weight bytes %llu, want %llu", name,
          (unsigned long long)ane_decoder_weight_bytes(d), (unsigned long long)bytes);
    printf("%s: worst relative logit error %.2e\n", name, worst);
    ane_decoder_free(d);
done:
    for (int i = 0; i < m.count; i++) free(w32[i]);
    free(want);
    release(&m);
}

/* ------------------------------------------------------------------ bad arguments */

static void expect_error(ane_status st, ane_status want, const char *needle, int line)
{
    const char *msg = ane_last_error();
    CHECK(st == want && msg && strstr(msg, needle), "line %d: status %d (want %d), message \"%s\" (want \"%s\")", line, st, want, msg ? msg : "", needle);
}
#define EXPECT(expr, want, needle) expect_error((expr), (want), (needle), __LINE__)

static void test_errors(void)
{
    model m;
    build(&m, 1);
    float *w32[5 + 12 * L];
    for (int i = 0; i < m.count; i++) {
        w32[i] = malloc(m.n[i] * sizeof(float));
        for (size_t k = 0; k < m.n[i]; k++) w32[i][k] = (float)m.w[i][k];
    }
    const float *const *w = (const float *const *)w32;
    ane_decoder_config c = config_of(&m, ANE_WEIGHTS_FP16), bad;
    ane_decoder *d = NULL;
    EXPECT(ane_decoder_create(&c, w, (uint64_t)m.count, NULL), ANE_ERR_INVALID_ARG, "out is NULL");
    EXPECT(ane_decoder_create(NULL, w, (uint64_t)m.count, &d), ANE_ERR_INVALID_ARG, "config or weights is NULL");
    EXPECT(ane_decoder_create(&c, w, (uint64_t)m.count - 1, &d), ANE_ERR_INVALID_ARG, "a 2-layer GPT model needs 29");
    bad = c; bad.arch = 7;
    EXPECT(ane_decoder_create(&bad, w, (uint64_t)m.count, &d), ANE_ERR_INVALID_ARG, "arch 7");
    bad = c; bad.weight_type = 3;
    EXPECT(ane_decoder_create(&bad, w, (uint64_t)m.count, &d), ANE_ERR_INVALID_ARG, "weight_type 3");
    bad = c; bad.qk_norm = 1;
    EXPECT(ane_decoder_create(&bad, w, (uint64_t)m.count, &d), ANE_ERR_INVALID_ARG, "GPT config must leave it 0");
    bad = c; bad.n_kv_heads = 3;
    EXPECT(ane_decoder_create(&bad, w, (uint64_t)m.count, &d), ANE_ERR_INVALID_ARG, "must divide n_heads");
    bad = c; bad.dim = 0;
    EXPECT(ane_decoder_create(&bad, w, (uint64_t)m.count, &d), ANE_ERR_INVALID_ARG, "must be > 0");
    float *saved = w32[6];
    w32[6] = NULL;
    EXPECT(ane_decoder_create(&c, w, (uint64_t)m.count, &d), ANE_ERR_INVALID_ARG, "weight pointer 6 is NULL");
    w32[6] = saved;
    w32[4][7] = 1e5f;                                  /* c_attn of block 0: beyond fp16 */
    EXPECT(ane_decoder_create(&c, w, (uint64_t)m.count, &d), ANE_ERR_WEIGHTS, "which fp16 cannot store");
    CHECK(d == NULL, "a failed create leaves *out NULL");
    c.weight_type = ANE_WEIGHTS_FP32;                  /* fp32 storage takes it as it is */
    CHECK(ane_decoder_create(&c, w, (uint64_t)m.count, &d) == ANE_OK && d, "fp32 create: %s", ane_last_error());
    float logits[V];
    int32_t tok[T + 1] = {0};
    EXPECT(ane_decoder_step(d, tok, 0, 0, logits), ANE_ERR_INVALID_ARG, "no tokens");
    EXPECT(ane_decoder_step(d, NULL, 1, 0, logits), ANE_ERR_INVALID_ARG, "is NULL");
    EXPECT(ane_decoder_step(d, tok, T + 1, 0, logits), ANE_ERR_INVALID_ARG, "exceed the context of 16 positions");
    EXPECT(ane_decoder_step(d, tok, 1, 1, logits), ANE_ERR_STATE, "position 1 is past the 0 cached positions");
    tok[1] = V;
    EXPECT(ane_decoder_step(d, tok, 2, 0, logits), ANE_ERR_INVALID_ARG, "token 37 at index 1 is outside the vocabulary");
    tok[1] = -1;
    EXPECT(ane_decoder_step(d, tok, 2, 0, logits), ANE_ERR_INVALID_ARG, "token -1 at index 1");
    EXPECT(ane_decoder_reset(NULL), ANE_ERR_INVALID_ARG, "decoder is NULL");
    CHECK(ane_decoder_length(NULL) == 0 && ane_decoder_weight_bytes(NULL) == 0, "NULL handle queries return 0");
    ane_decoder_free(d);
    ane_decoder_free(NULL);
    for (int i = 0; i < m.count; i++) free(w32[i]);
    release(&m);
}

int main(void)
{
    test_conversions();
    for (int gpt = 0; gpt <= 1; gpt++)
        for (uint32_t wt = ANE_WEIGHTS_FP32; wt <= ANE_WEIGHTS_FP16; wt++) test_model(gpt, wt);
    test_errors();
    return check_summary();
}
