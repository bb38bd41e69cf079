/*
 * fastmath.h — exp for libane's per-element loops, written so that the compiler vectorises
 * the loops that call it: no libm call, no branch, no table, only fp32 and int32 lane
 * arithmetic. glibc's scalar expf is a call per element that no loop around it can
 * vectorise, and its underflow path (masked softmax entries, exp(-inf)) sets errno.
 *
 * ane_expf(x): x = n ln2 + r with n = round(x / ln2), |r| <= ln2/2; exp(r) by a polynomial;
 * times 2^n built from exponent bits. Against double exp over every float where exp is
 * normal (x in [-87.34, 88.72]): at most 0.98 ulp, 99.2% of results correctly rounded
 * (libane/test/test_fastmath.c checks a dense sweep). Results that would be subnormal
 * (x < ln FLT_MIN) are flushed to 0; exp(-inf) = 0, overflow gives +inf, NaN gives NaN.
 *
 * Every operation rounds on its own (no fused multiply-add, see the pragma), so the result is
 * the same bits in a vectorised loop, a scalar tail, on x86 and on arm64.
 */
#ifndef ANE_CORE_FASTMATH_H
#define ANE_CORE_FASTMATH_H

#include "platform.h"

typedef union { float f; uint32_t u; } ane_f32_bits;

/* On x86 the library is built for baseline SSE2. The hottest exp loops (cross-entropy, the
 * softmax rows, the elementwise map, SwiGLU backward) are also compiled for AVX2 and AVX-512,
 * and glibc's loader picks one per CPU (ifunc): cross-entropy at [32000, 256] took 18 ms
 * instead of 29 with AVX-512. gcc only: with -std=c11 it never contracts a * b + c into an
 * fma, so every clone computes the same bits (clang would contract inside the AVX-512 one). */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__)
#define ANE_VEC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ANE_VEC_CLONES
#endif

static inline float ane_expf(float x)
{
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
    /* n = round(x log2 e): adding 1.5 * 2^23 rounds to an integer in the low mantissa bits.
     * Outside [-88, 89] n is meaningless, and the result is replaced at the end. */
    ane_f32_bits t = { x * 1.44269504088896341f + 12582912.0f };
    float nf = t.f - 12582912.0f;
    int32_t n = (int32_t)(t.u - 0x4B400000u);
    /* r = x - n ln2, ln2 = hi + lo: hi has 16 significant bits, so n * hi (|n| <= 129) is exact
     * and x - n * hi loses nothing. */
    float r = (x - nf * 0.693145751953125f) - nf * 1.42860682030941723e-6f;
    /* exp(r) = 1 + r + r^2 P(r): P fitted (weighted minimax) on |r| <= 0.3466 with the
     * error taken relative to exp(r); at most 3.8e-9 with these fp32 coefficients. */
    float p = 1.38146022800356150e-3f;
    p = p * r + 8.36871564388275146e-3f;
    p = p * r + 4.16683889925479889e-2f;
    p = p * r + 1.66665211319923401e-1f;
    p = p * r + 4.99999940395355225e-1f;
    p = 1.0f + (r + r * r * p);
    /* 2^n in two normal factors 2^n1 * 2^n2 (n in [-127, 129]), so p * 2^n1 is exact and only
     * the last multiply rounds, overflowing to inf where exp(x) does. */
    int32_t n1 = n / 2, n2 = n - n1;
    ane_f32_bits s1 = { .u = (uint32_t)(n1 + 127) << 23 }, s2 = { .u = (uint32_t)(n2 + 127) << 23 };
    ane_f32_bits y = { p * s1.f * s2.f };
    /* Beyond [ln FLT_MIN, 89] n was meaningless: the result becomes 0 below (flushing what
     * would be subnormal) and +inf above, selected with bit masks. A float ?: here would let
     * gcc move the whole computation into a branch that, fp operations being able to trap,
     * it will not if-convert, and the loop would stay scalar. A NaN x fails both comparisons
     * and stays NaN. */
    uint32_t under = 0u - (uint32_t)(x < -87.3365447f), over = 0u - (uint32_t)(x > 89.0f);
    y.u = (y.u & ~(under | over)) | (over & 0x7F800000u);
    return y.f;
}

/* Softmax over one contiguous row in two helpers: ane_row_max, then ane_exp_row_sum. Both
 * keep ANE_EXP_LANES interleaved partial results (element j goes to lane j % ANE_EXP_LANES)
 * combined pairwise at the end: a running sum or max over the row is one serial chain the
 * compiler may not split (float addition is not associative, and there is no -ffast-math);
 * lanes are independent chains it can vectorise. The order is fixed by n alone, whatever the
 * vector width, so the results are the same on every machine. */
#define ANE_EXP_LANES 16

/* max_j x[j] over x[n]; NaNs are skipped (-inf if nothing else). Max is exact, so this is the
 * value a sequential scan finds (up to the sign of a zero maximum, which x - max does not
 * see). */
static inline float ane_row_max(const float *x, int64_t n)
{
    float m[ANE_EXP_LANES];
    for (int l = 0; l < ANE_EXP_LANES; l++) m[l] = -INFINITY;
    int64_t j = 0;
    for (; j + ANE_EXP_LANES <= n; j += ANE_EXP_LANES)
        for (int l = 0; l < ANE_EXP_LANES; l++) m[l] = x[j + l] > m[l] ? x[j + l] : m[l];
    for (int l = 0; j + l < n; l++) m[l] = x[j + l] > m[l] ? x[j + l] : m[l];
    for (int w = ANE_EXP_LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) m[l] = m[l + w] > m[l] ? m[l + w] : m[l];
    return m[0];
}

/* y[j] = exp(y[j] - mx) over y[n], in place; returns the sum of the new y. */
static inline float ane_exp_row_sum(float *y, int64_t n, float mx)
{
    float part[ANE_EXP_LANES] = {0};
    int64_t j = 0;
    for (; j + ANE_EXP_LANES <= n; j += ANE_EXP_LANES)
        for (int l = 0; l < ANE_EXP_LANES; l++) {
            float e = ane_expf(y[j + l] - mx);
            y[j + l] = e;
            part[l] += e;
        }
    for (int l = 0; j + l < n; l++) {
        float e = ane_expf(y[j + l] - mx);
        y[j + l] = e;
        part[l] += e;
    }
    for (int w = ANE_EXP_LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) part[l] += part[l + w];
    return part[0];
}

#endif /* ANE_CORE_FASTMATH_H */
