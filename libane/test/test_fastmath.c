/* test_fastmath.c — ane_expf and ane_exp_row_sum (core/fastmath.h) against double-precision
 * exp() from libm:
 *   - a dense sweep of [-104, 89]: every 61st float bit pattern of either sign, and a uniform
 *     grid of 2^22 + 1 points. Where exp(x) is a normal float the error must be at most 1 ulp
 *     (the largest error seen is printed); below ln FLT_MIN the result must be 0 and exp(x)
 *     subnormal or smaller; where exp(x) rounds to inf the result must be +inf;
 *   - special values: +-inf, NaNs, +-0, subnormal and huge inputs, the overflow edge;
 *   - softmax rows: the row maximum exact (NaNs skipped), every exponential within 1 ulp, the
 *     sum within its rounding bound of the double sum, masked (-inf) entries 0, a fully masked
 *     row NaN.
 * Prints "N passed, M failed". */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../src/core/fastmath.h"
#include "check.h"

/* The largest float below ln FLT_MIN = -87.33654475...: from here down the result is flushed. */
#define FLUSH_BELOW -87.3365478515625

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The spacing of floats at |v| (normal or subnormal), from v's binary exponent. */
static double ulp_at(double v)
{
    int e;
    frexp(fabs(v), &e);                  /* |v| = f * 2^e, f in [0.5, 1) */
    return ldexp(1.0, (e - 24 < -149 ? -149 : e - 24));
}

typedef struct {
    long normal, flushed, overflowed, bad;
    double worst;
    float worst_x;
} sweep;

static void check_one(sweep *s, float x)
{
    float y = ane_expf(x);
    double e = exp((double)x);
    if ((double)x < FLUSH_BELOW) {
        /* flushing is allowed only where exp(x) is not a normal float */
        if (!(y == 0.0f && !signbit(y) && e < FLT_MIN)) {
            if (s->bad++ < 5) printf("  exp(%a) = %a, expected +0 (exact %a)\n", (double)x, (double)y, e);
        }
        s->flushed++;
        return;
    }
    if (isinf((float)e)) {
        if (!(isinf(y) && y > 0)) {
            if (s->bad++ < 5) printf("  exp(%a) = %a, expected +inf\n", (double)x, (double)y);
        }
        s->overflowed++;
        return;
    }
    double err = fabs((double)y - e) / ulp_at(e);
    if (err > s->worst) { s->worst = err; s->worst_x = x; }
    if (!(err <= 1.0)) {
        if (s->bad++ < 5) printf("  exp(%a) = %a, exact %a: %.3f ulp\n", (double)x, (double)y, e, err);
    }
    s->normal++;
}

static void test_sweep(void)
{
    sweep s = {0};
    /* every 61st bit pattern: 0 .. 89 (0x42B20000) and -0 .. -104 (0xC2D00000) */
    for (uint32_t u = 0; u <= 0x42B20000u; u += 61) check_one(&s, from_bits(u));
    for (uint32_t u = 0x80000000u; u <= 0xC2D00000u; u += 61) check_one(&s, from_bits(u));
    const int64_t steps = (int64_t)1 << 22;
    for (int64_t k = 0; k <= steps; k++) check_one(&s, (float)(-104.0 + 193.0 * (double)k / (double)steps));
    printf("ane_expf: %ld normal results, max error %.4f ulp (at x = %.9g); %ld flushed to 0, %ld +inf\n",
           s.normal, s.worst, (double)s.worst_x, s.flushed, s.overflowed);
    CHECK(s.bad == 0, "%ld of the sweep's results are wrong (see above)", s.bad);
    CHECK(s.normal > 30000000 && s.flushed > 100000 && s.overflowed > 1000,
          "the sweep covers too little: %ld normal, %ld flushed, %ld overflowed", s.normal, s.flushed, s.overflowed);
}

static void test_special(void)
{
    float y = ane_expf(-INFINITY);
    CHECK(y == 0.0f && !signbit(y), "exp(-inf) = %a, expected +0", (double)y);
    CHECK(ane_expf(INFINITY) == INFINITY, "exp(+inf) = %a", (double)ane_expf(INFINITY));
    CHECK(isnan(ane_expf(NAN)), "exp(NaN) = %a", (double)ane_expf(NAN));
    CHECK(isnan(ane_expf(-NAN)), "exp(-NaN) = %a", (double)ane_expf(-NAN));
    CHECK(isnan(ane_expf(from_bits(0x7F800001u))), "exp(signalling NaN) is not NaN");
    CHECK(isnan(ane_expf(from_bits(0xFFFFFFFFu))), "exp(NaN 0xFFFFFFFF) is not NaN");
    CHECK(ane_expf(0.0f) == 1.0f && ane_expf(-0.0f) == 1.0f, "exp(+-0) = %a, %a", (double)ane_expf(0.0f),
          (double)ane_expf(-0.0f));
    float tiny[] = { FLT_TRUE_MIN, -FLT_TRUE_MIN, FLT_MIN, -FLT_MIN, 1e-30f, -1e-30f };
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++)
        CHECK(ane_expf(tiny[i]) == 1.0f, "exp(%a) = %a, expected 1", (double)tiny[i], (double)ane_expf(tiny[i]));
    float huge[] = { FLT_MAX, 1e10f, 1000.0f, 176.0f, 89.5f };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        CHECK(ane_expf(huge[i]) == INFINITY, "exp(%a) = %a, expected +inf", (double)huge[i], (double)ane_expf(huge[i]));
        y = ane_expf(-huge[i]);
        CHECK(y == 0.0f && !signbit(y), "exp(%a) = %a, expected +0", (double)-huge[i], (double)y);
    }
    /* the overflow edge: the largest x whose exp is finite, and the float after it */
    float edge = 0x1.62e42ep+6f;                       /* 88.7228317 */
    CHECK((double)edge < log((double)FLT_MAX) && (double)nextafterf(edge, INFINITY) > log((double)FLT_MAX),
          "the test's overflow edge is not the edge");
    y = ane_expf(edge);
    CHECK(isfinite(y) && fabs((double)y - exp((double)edge)) <= ulp_at(exp((double)edge)),
          "exp(%a) = %a, exact %a", (double)edge, (double)y, exp((double)edge));
    CHECK(ane_expf(nextafterf(edge, INFINITY)) == INFINITY, "exp just past the overflow edge is not +inf");
    /* the flush edge */
    CHECK(log((double)FLT_MIN) > FLUSH_BELOW && (double)nextafterf((float)FLUSH_BELOW, 0.0f) > log((double)FLT_MIN),
          "the test's flush edge is not the float below ln FLT_MIN");
    CHECK(ane_expf(nextafterf((float)FLUSH_BELOW, 0.0f)) >= FLT_MIN, "exp just above ln FLT_MIN is not normal");
}

static uint32_t rng_state = 2024;
static uint32_t next_u32(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state;
}

/* A row of n values k / 1024 in [-20, 20] (differences of two are exact in fp32), some -inf. */
static void test_row(int64_t n, int masked_every)
{
    float x[5000], y[5000];
    double ref_max = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        int k = (int)(next_u32() % 40961u) - 20480;
        x[j] = masked_every && j % masked_every == 1 ? -INFINITY : (float)k / 1024.0f;
        ref_max = fmax(ref_max, (double)x[j]);
    }
    float mx = ane_row_max(x, n);
    CHECK((double)mx == ref_max, "row of %lld: max %.9g, expected %.9g", (long long)n, (double)mx, ref_max);
    memcpy(y, x, (size_t)n * sizeof(float));
    float sum = ane_exp_row_sum(y, n, mx);
    double ref = 0.0;
    int bad = 0;
    for (int64_t j = 0; j < n; j++) {
        double e = exp((double)x[j] - (double)mx);
        ref += e;
        if (!(fabs((double)y[j] - e) <= ulp_at(e))) bad++;
    }
    /* each exp within 1 ulp (2^-23 relative); each lane adds about n / 16 terms, then 4
     * pairwise levels, each addition rounding by at most 2^-24 of the sum */
    double bound = (2.0 + (double)(n / ANE_EXP_LANES + 1 + 4)) * 0x1p-24 * ref;
    CHECK(bad == 0, "row of %lld: %d exponentials off by more than 1 ulp", (long long)n, bad);
    CHECK(fabs((double)sum - ref) <= bound, "row of %lld: sum %.9g, exact %.9g (bound %.3g)", (long long)n,
          (double)sum, ref, bound);
}

static void test_rows(void)
{
    int64_t sizes[] = { 1, 2, 5, 15, 16, 17, 31, 32, 33, 100, 255, 256, 1000, 4097 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        test_row(sizes[i], 0);
        test_row(sizes[i], 3);
    }
    float none[1];
    CHECK(ane_exp_row_sum(none, 0, 0.0f) == 0.0f, "an empty row does not sum to 0");
    CHECK(ane_row_max(none, 0) == -INFINITY, "an empty row's max is not -inf");
    /* NaNs are skipped wherever they fall (every lane, the tail), and never the result */
    float v[37];
    for (int at = 0; at < 37; at++) {
        for (int j = 0; j < 37; j++) v[j] = j == at ? 5.0f : (j % 2 ? NAN : (float)j / -8.0f);
        float m = ane_row_max(v, 37);
        CHECK(m == 5.0f, "max with NaNs, 5 at %d: %a", at, (double)m);
    }
    for (int j = 0; j < 37; j++) v[j] = NAN;
    CHECK(ane_row_max(v, 37) == -INFINITY, "an all-NaN row's max is not -inf");
    float masked[20];
    for (int j = 0; j < 20; j++) masked[j] = -INFINITY;
    CHECK(isnan(ane_exp_row_sum(masked, 20, -INFINITY)), "a fully masked row does not give NaN");
}

int main(void)
{
    test_special();
    test_sweep();
    test_rows();
    return check_summary();
}
