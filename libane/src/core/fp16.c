/* fp16.c — fp32 <-> fp16 conversion with the ANE's numerics (see fp16.h).
 *
 * The portable code works on the bit patterns. The SIMD paths use the hardware converters
 * (x86 F16C / AVX-512F vcvtps2ph with round-to-nearest-even, arm64 fcvtn), which already
 * round to nearest even, overflow to inf and keep NaNs; then they flush fp16 subnormals. */
#include "platform.h"
#include "fp16.h"

#if defined(__x86_64__) || defined(__i386__)
#define FP16_X86 1
#include <immintrin.h>
#elif defined(__aarch64__)
#define FP16_NEON 1
#include <arm_neon.h>
#endif

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

uint16_t ane_fp32_to_fp16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) {                      /* inf or NaN; NaN keeps its top payload */
        if (a == 0x7f800000u) return sign | 0x7c00u;
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    }
    if (a >= 0x477ff000u) return sign | 0x7c00u; /* >= 65520 rounds to inf */
    if (a < 0x38800000u) {                       /* below 2^-14, the smallest normal */
        /* The fp16 result is a subnormal (flushed) unless it rounds up to 2^-14: that
         * happens from 2^-14 - 2^-25 (a tie between 1023 and 1024 * 2^-24; 1024 is even). */
        return a >= 0x387fe000u ? (uint16_t)(sign | 0x0400u) : sign;
    }
    /* Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to
     * nearest even; a carry out of the mantissa correctly bumps the exponent. */
    a += 0x0fffu + ((a >> 13) & 1u);
    return (uint16_t)(sign | ((a - 0x38000000u) >> 13));
}

float ane_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {                                /* zero or subnormal: m * 2^-24, exact */
        float v = (float)m * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (e == 31) return bits_f32(sign | 0x7f800000u | (m << 13));
    return bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

float ane_round_fp16(float f) { return ane_fp16_to_fp32(ane_fp32_to_fp16(f)); }

static uint16_t flush_half(uint16_t h) { return (h & 0x7c00u) ? h : (uint16_t)(h & 0x8000u); }

/* ------------------------------------------------------------------ portable loops */

static void to_half_generic(const float *s, uint16_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] = ane_fp32_to_fp16(s[i]);
}
static void to_float_generic(const uint16_t *s, float *d, size_t n, int flush)
{
    for (size_t i = 0; i < n; i++) d[i] = ane_fp16_to_fp32(flush ? flush_half(s[i]) : s[i]);
}
static void round_generic(const float *s, float *d, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] = ane_round_fp16(s[i]);
}

/* ------------------------------------------------------------------ x86 */
#ifdef FP16_X86
#define ROUND_NEAREST (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* 16 halves: zero those whose exponent field is 0, keeping the sign. */
__attribute__((target("avx2")))
static __m256i flush16(__m256i h)
{
    __m256i e = _mm256_and_si256(h, _mm256_set1_epi16(0x7c00));
    __m256i sub = _mm256_cmpeq_epi16(e, _mm256_setzero_si256());
    return _mm256_andnot_si256(_mm256_andnot_si256(_mm256_set1_epi16((short)0x8000), sub), h);
}

__attribute__((target("avx512f,avx2,f16c")))
static void to_half_avx512(const float *s, uint16_t *d, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(s + i), ROUND_NEAREST);
        _mm256_storeu_si256((__m256i *)(d + i), flush16(h));
    }
    to_half_generic(s + i, d + i, n - i);
}
__attribute__((target("avx512f,avx2,f16c")))
static void to_float_avx512(const uint16_t *s, float *d, size_t n, int flush)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i h = _mm256_loadu_si256((const __m256i *)(s + i));
        if (flush) h = flush16(h);
        _mm512_storeu_ps(d + i, _mm512_cvtph_ps(h));
    }
    to_float_generic(s + i, d + i, n - i, flush);
}
__attribute__((target("avx512f,avx2,f16c")))
static void round_avx512(const float *s, float *d, size_t n)
{
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512i absm = _mm512_set1_epi32(0x7fffffff);
    const __m512i minnorm = _mm512_set1_epi32(0x38800000);  /* 2^-14 */
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 y = _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(s + i), ROUND_NEAREST));
        __m512i yi = _mm512_castps_si512(y);
        __mmask16 tiny = _mm512_cmplt_epi32_mask(_mm512_and_epi32(yi, absm), minnorm);
        yi = _mm512_mask_and_epi32(yi, tiny, yi, sign);
        _mm512_storeu_ps(d + i, _mm512_castsi512_ps(yi));
    }
    round_generic(s + i, d + i, n - i);
}

/* 8 halves with SSE2 integer ops. */
__attribute__((target("avx2")))
static __m128i flush8(__m128i h)
{
    __m128i e = _mm_and_si128(h, _mm_set1_epi16(0x7c00));
    __m128i sub = _mm_cmpeq_epi16(e, _mm_setzero_si128());
    return _mm_andnot_si128(_mm_andnot_si128(_mm_set1_epi16((short)0x8000), sub), h);
}
__attribute__((target("avx2,f16c")))
static void to_half_avx2(const float *s, uint16_t *d, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(s + i), ROUND_NEAREST);
        _mm_storeu_si128((__m128i *)(d + i), flush8(h));
    }
    to_half_generic(s + i, d + i, n - i);
}
__attribute__((target("avx2,f16c")))
static void to_float_avx2(const uint16_t *s, float *d, size_t n, int flush)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(s + i));
        if (flush) h = flush8(h);
        _mm256_storeu_ps(d + i, _mm256_cvtph_ps(h));
    }
    to_float_generic(s + i, d + i, n - i, flush);
}
__attribute__((target("avx2,f16c")))
static void round_avx2(const float *s, float *d, size_t n)
{
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 signm = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    const __m256 minnorm = _mm256_set1_ps(6.103515625e-05f);    /* 2^-14 */
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 y = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(s + i), ROUND_NEAREST));
        __m256 tiny = _mm256_cmp_ps(_mm256_and_ps(y, absm), minnorm, _CMP_LT_OQ);
        y = _mm256_blendv_ps(y, _mm256_and_ps(y, signm), tiny);
        _mm256_storeu_ps(d + i, y);
    }
    round_generic(s + i, d + i, n - i);
}

enum { LEVEL_GENERIC = 1, LEVEL_AVX2 = 2, LEVEL_AVX512 = 3 };
static int simd_level(void)
{
    static volatile int level;       /* computed once; every thread computes the same value */
    if (!level) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2")) level = LEVEL_AVX512;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = LEVEL_AVX2;  /* every AVX2+FMA CPU has F16C */
        else level = LEVEL_GENERIC;
    }
    return level;
}

void ane_fp32_to_fp16_n(const float *s, uint16_t *d, size_t n)
{
    switch (simd_level()) {
    case LEVEL_AVX512: to_half_avx512(s, d, n); break;
    case LEVEL_AVX2: to_half_avx2(s, d, n); break;
    default: to_half_generic(s, d, n);
    }
}
static void to_float_n(const uint16_t *s, float *d, size_t n, int flush)
{
    switch (simd_level()) {
    case LEVEL_AVX512: to_float_avx512(s, d, n, flush); break;
    case LEVEL_AVX2: to_float_avx2(s, d, n, flush); break;
    default: to_float_generic(s, d, n, flush);
    }
}
void ane_round_fp16_n(const float *s, float *d, size_t n)
{
    switch (simd_level()) {
    case LEVEL_AVX512: round_avx512(s, d, n); break;
    case LEVEL_AVX2: round_avx2(s, d, n); break;
    default: round_generic(s, d, n);
    }
}
const char *ane_fp16_simd_name(void)
{
    int l = simd_level();
    return l == LEVEL_AVX512 ? "avx512f" : l == LEVEL_AVX2 ? "avx2+f16c" : "generic";
}

/* ------------------------------------------------------------------ arm64 */
#elif defined(FP16_NEON)

static uint16x8_t flush8(uint16x8_t h)
{
    uint16x8_t sub = vceqq_u16(vandq_u16(h, vdupq_n_u16(0x7c00)), vdupq_n_u16(0));
    return vbslq_u16(sub, vandq_u16(h, vdupq_n_u16(0x8000)), h);
}
void ane_fp32_to_fp16_n(const float *s, uint16_t *d, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float16x4_t lo = vcvt_f16_f32(vld1q_f32(s + i));
        float16x4_t hi = vcvt_f16_f32(vld1q_f32(s + i + 4));
        uint16x8_t h = vreinterpretq_u16_f16(vcombine_f16(lo, hi));
        vst1q_u16(d + i, flush8(h));
    }
    to_half_generic(s + i, d + i, n - i);
}
static void to_float_n(const uint16_t *s, float *d, size_t n, int flush)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint16x8_t h = vld1q_u16(s + i);
        if (flush) h = flush8(h);
        float16x8_t f = vreinterpretq_f16_u16(h);
        vst1q_f32(d + i, vcvt_f32_f16(vget_low_f16(f)));
        vst1q_f32(d + i + 4, vcvt_high_f32_f16(f));
    }
    to_float_generic(s + i, d + i, n - i, flush);
}
void ane_round_fp16_n(const float *s, float *d, size_t n)
{
    const uint32x4_t absm = vdupq_n_u32(0x7fffffffu), signm = vdupq_n_u32(0x80000000u);
    const uint32x4_t minnorm = vdupq_n_u32(0x38800000u);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32x4_t y = vreinterpretq_u32_f32(vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(s + i))));
        uint32x4_t tiny = vcltq_u32(vandq_u32(y, absm), minnorm);
        y = vbslq_u32(tiny, vandq_u32(y, signm), y);
        vst1q_f32(d + i, vreinterpretq_f32_u32(y));
    }
    round_generic(s + i, d + i, n - i);
}
const char *ane_fp16_simd_name(void) { return "neon"; }

/* ------------------------------------------------------------------ other targets */
#else
void ane_fp32_to_fp16_n(const float *s, uint16_t *d, size_t n) { to_half_generic(s, d, n); }
static void to_float_n(const uint16_t *s, float *d, size_t n, int flush) { to_float_generic(s, d, n, flush); }
void ane_round_fp16_n(const float *s, float *d, size_t n) { round_generic(s, d, n); }
const char *ane_fp16_simd_name(void) { return "generic"; }
#endif

void ane_fp16_to_fp32_n(const uint16_t *s, float *d, size_t n) { to_float_n(s, d, n, 0); }
void ane_fp16_to_fp32_flush_n(const uint16_t *s, float *d, size_t n) { to_float_n(s, d, n, 1); }
