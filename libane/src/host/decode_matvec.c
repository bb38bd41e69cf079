/* decode_matvec.c — the decoder's weight-streaming kernel (see decode_matvec.h).
 *
 * A decode step is memory-bound: it reads every weight once to do one multiply-add with it.
 * Storing the matrices as fp16 halves those bytes; the kernel widens them to fp32 in the inner
 * loop (F16C on x86, NEON on arm64, integer bit operations elsewhere) and accumulates in fp32.
 *
 * One summation order for every path, so results never depend on the instruction set, the
 * thread count or how positions are batched:
 *   lane l (of DOT_LANES = 16) sums w[i] * x[i] for i = l, l + 16, ... in increasing i
 *   (a product, then an add: no fused multiply-add), the n % 16 leftover elements go to
 *   lanes 0.. in order, then a pairwise tree adds lane l + w into lane l for w = 8, 4, 2, 1.
 * The SIMD paths keep lanes 0-7 and 8-15 in two 8-wide (AVX2) or four 4-wide (NEON) registers,
 * which is exactly that order. The fp32 path is plain C the compiler vectorises. */
#include "../core/platform.h"
#include "decode_matvec.h"

#define DOT_LANES 16
#define POS_BLOCK 4

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86_F16C 1
#include <cpuid.h>
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#define HAVE_NEON_F16 1
#include <arm_neon.h>
#endif

/* ------------------------------------------------------------------ conversions */

static inline uint32_t float_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float bits_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* Widen an fp16 to fp32: move exponent and mantissa into fp32's fields as they are (as an fp32
 * they read 2^-112 times too small, subnormals included) and scale by 2^112, which is exact;
 * then the sign. Inf and NaN would come out finite: they are never stored. */
static inline float half_to_float(uint16_t h)
{
    float mag = bits_float((uint32_t)(h & 0x7fffu) << 13) * 0x1p112f;
    return bits_float(float_bits(mag) | (uint32_t)(h & 0x8000u) << 16);
}

float ane_half_to_float(uint16_t h) { return half_to_float(h); }

uint16_t ane_float_to_half(float f)
{
    const uint32_t u = float_bits(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);              /* NaN */
    if (a >= 0x47800000u) return (uint16_t)(sign | 0x7c00u);             /* >= 65536: inf */
    if (a < 0x38800000u) {
        /* Below fp16's smallest normal (2^-14): fp16 subnormals are multiples of 2^-24, and
         * adding 0.5 (whose ulp is 2^-24) rounds |f| to one, to nearest even, in hardware. */
        return (uint16_t)(sign | (float_bits(bits_float(a) + 0.5f) - 0x3f000000u));
    }
    /* Normal: rebias the exponent (127 -> 15) and drop 13 mantissa bits, rounding to nearest
     * even (add 0xfff plus the bit that becomes the last one kept). A carry out of the
     * mantissa bumps the exponent, up to inf for |f| >= 65520, as IEEE rounding does. */
    const uint32_t r = a - ((127u - 15u) << 23) + 0xfffu + ((a >> 13) & 1u);
    return (uint16_t)(sign | (r >> 13));
}

/* ------------------------------------------------------------------ portable kernels */

static float reduce_lanes(float *t)
{
    for (int w = DOT_LANES / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) t[l] = t[l] + t[l + w];
    return t[0];
}

/* res[j] = dot(w, x[j]) over n elements for j < NX (1 or POS_BLOCK): each weight is read once
 * for all NX vectors. Called with a constant NX, so the loops over j unroll. */
static inline void dot_f32(const float *w, const float *const *x, const int NX, uint32_t n, float *res)
{
    const uint32_t body = n - n % DOT_LANES;
    float acc[POS_BLOCK][DOT_LANES] = {{0}};
    for (uint32_t i = 0; i < body; i += DOT_LANES)
        for (int j = 0; j < NX; j++)
            for (int l = 0; l < DOT_LANES; l++) acc[j][l] += w[i + l] * x[j][i + l];
    for (int j = 0; j < NX; j++) {
        for (uint32_t i = body; i < n; i++) acc[j][i - body] += w[i] * x[j][i];
        res[j] = reduce_lanes(acc[j]);
    }
}

static inline void dot_f16_portable(const uint16_t *w, const float *const *x, const int NX, uint32_t n, float *res)
{
    const uint32_t body = n - n % DOT_LANES;
    float acc[POS_BLOCK][DOT_LANES] = {{0}};
    for (uint32_t i = 0; i < body; i += DOT_LANES) {
        float wf[DOT_LANES];
        for (int l = 0; l < DOT_LANES; l++) wf[l] = half_to_float(w[i + l]);
        for (int j = 0; j < NX; j++)
            for (int l = 0; l < DOT_LANES; l++) acc[j][l] += wf[l] * x[j][i + l];
    }
    for (int j = 0; j < NX; j++) {
        for (uint32_t i = body; i < n; i++) acc[j][i - body] += half_to_float(w[i]) * x[j][i];
        res[j] = reduce_lanes(acc[j]);
    }
}

/* ------------------------------------------------------------------ SIMD fp16 kernels */

#ifdef HAVE_X86_F16C
#define X86_TARGET __attribute__((target("avx2,f16c")))

X86_TARGET static inline void dot_f16_avx2(const uint16_t *w, const float *const *x, const int NX, uint32_t n, float *res)
{
    const uint32_t body = n - n % DOT_LANES;
    __m256 lo[POS_BLOCK], hi[POS_BLOCK];
    for (int j = 0; j < NX; j++) lo[j] = hi[j] = _mm256_setzero_ps();
    for (uint32_t i = 0; i < body; i += DOT_LANES) {
        const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8)));
        for (int j = 0; j < NX; j++) {
            lo[j] = _mm256_add_ps(lo[j], _mm256_mul_ps(w0, _mm256_loadu_ps(x[j] + i)));
            hi[j] = _mm256_add_ps(hi[j], _mm256_mul_ps(w1, _mm256_loadu_ps(x[j] + i + 8)));
        }
    }
    for (int j = 0; j < NX; j++) {
        float acc[DOT_LANES];
        _mm256_storeu_ps(acc, lo[j]);
        _mm256_storeu_ps(acc + 8, hi[j]);
        for (uint32_t i = body; i < n; i++) acc[i - body] += half_to_float(w[i]) * x[j][i];
        res[j] = reduce_lanes(acc);
    }
}

X86_TARGET static void dot1_f16_avx2(const uint16_t *w, const float *const *x, uint32_t n, float *res) { dot_f16_avx2(w, x, 1, n, res); }
X86_TARGET static void dot4_f16_avx2(const uint16_t *w, const float *const *x, uint32_t n, float *res) { dot_f16_avx2(w, x, POS_BLOCK, n, res); }
#endif

#ifdef HAVE_NEON_F16
static inline void dot_f16_neon(const uint16_t *w, const float *const *x, const int NX, uint32_t n, float *res)
{
    const uint32_t body = n - n % DOT_LANES;
    float32x4_t acc[POS_BLOCK][4];
    for (int j = 0; j < NX; j++)
        for (int k = 0; k < 4; k++) acc[j][k] = vdupq_n_f32(0.0f);
    for (uint32_t i = 0; i < body; i += DOT_LANES) {
        float32x4_t wv[4];
        for (int k = 0; k < 4; k++) wv[k] = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(w + i + 4 * k)));
        for (int j = 0; j < NX; j++)
            for (int k = 0; k < 4; k++) acc[j][k] = vaddq_f32(acc[j][k], vmulq_f32(wv[k], vld1q_f32(x[j] + i + 4 * k)));
    }
    for (int j = 0; j < NX; j++) {
        float a[DOT_LANES];
        for (int k = 0; k < 4; k++) vst1q_f32(a + 4 * k, acc[j][k]);
        for (uint32_t i = body; i < n; i++) a[i - body] += half_to_float(w[i]) * x[j][i];
        res[j] = reduce_lanes(a);
    }
}
#endif

/* ------------------------------------------------------------------ dispatch */

typedef void (*dot_fn)(const uint16_t *w, const float *const *x, uint32_t n, float *res);

static void dot1_f16_portable(const uint16_t *w, const float *const *x, uint32_t n, float *res) { dot_f16_portable(w, x, 1, n, res); }
static void dot4_f16_portable(const uint16_t *w, const float *const *x, uint32_t n, float *res) { dot_f16_portable(w, x, POS_BLOCK, n, res); }
#ifdef HAVE_NEON_F16
static void dot1_f16_neon(const uint16_t *w, const float *const *x, uint32_t n, float *res) { dot_f16_neon(w, x, 1, n, res); }
static void dot4_f16_neon(const uint16_t *w, const float *const *x, uint32_t n, float *res) { dot_f16_neon(w, x, POS_BLOCK, n, res); }
#endif

#ifdef HAVE_X86_F16C
/* AVX2 and F16C in the CPU (cpuid) and AVX state enabled by the OS (xgetbv). */
static bool x86_has_avx2_f16c(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const unsigned osxsave = 1u << 27, avx = 1u << 28, f16c = 1u << 29;
    if ((c & (osxsave | avx | f16c)) != (osxsave | avx | f16c)) return false;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6u) != 6u) return false;          /* XMM and YMM state saved by the OS */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return (b & (1u << 5)) != 0;                /* AVX2 */
}
#endif

/* 0 unresolved, 1 portable, 2 SIMD; resolved on first use (every thread finds the same). */
static int f16_path;

static int resolve_f16_path(void)
{
    int p = __atomic_load_n(&f16_path, __ATOMIC_RELAXED);
    if (p) return p;
    p = 1;
#if defined(HAVE_X86_F16C)
    if (x86_has_avx2_f16c()) p = 2;
#elif defined(HAVE_NEON_F16)
    p = 2;
#endif
    __atomic_store_n(&f16_path, p, __ATOMIC_RELAXED);
    return p;
}

void ane_dec_force_portable(int on) { __atomic_store_n(&f16_path, on ? 1 : 0, __ATOMIC_RELAXED); }

const char *ane_dec_f16_kernel(void)
{
    if (resolve_f16_path() == 1) return "portable";
#if defined(HAVE_X86_F16C)
    return "avx2+f16c";
#else
    return "neon";
#endif
}

void ane_dec_matvec_rows(const ane_dec_matrix *W, uint32_t in, const float *X, uint32_t nb, const float *bias,
                         float *out, uint32_t out_stride, int64_t o0, int64_t o1)
{
    dot_fn dot1 = dot1_f16_portable, dot4 = dot4_f16_portable;
    if (W->f16 && resolve_f16_path() == 2) {
#if defined(HAVE_X86_F16C)
        dot1 = dot1_f16_avx2; dot4 = dot4_f16_avx2;
#elif defined(HAVE_NEON_F16)
        dot1 = dot1_f16_neon; dot4 = dot4_f16_neon;
#endif
    }
    for (int64_t o = o0; o < o1; o++) {
        for (uint32_t b = 0; b < nb; b += POS_BLOCK) {
            const int k = nb - b >= POS_BLOCK ? POS_BLOCK : (int)(nb - b);
            const float *x[POS_BLOCK];
            float r[POS_BLOCK];
            for (int j = 0; j < k; j++) x[j] = X + (size_t)(b + j) * in;
            if (W->f16) {
                const uint16_t *w = W->f16 + (size_t)o * in;
                if (k == POS_BLOCK) dot4(w, x, in, r);
                else for (int j = 0; j < k; j++) dot1(w, x + j, in, r + j);
            } else {
                const float *w = W->f32 + (size_t)o * in;
                if (k == POS_BLOCK) dot_f32(w, x, POS_BLOCK, in, r);
                else for (int j = 0; j < k; j++) dot_f32(w, x + j, 1, in, r + j);
            }
            for (int j = 0; j < k; j++) out[(size_t)(b + j) * out_stride + (size_t)o] = bias ? r[j] + bias[o] : r[j];
        }
    }
}
