/* gemm_kernels.c — register-tiled micro-kernels for cpu_gemm, one per ISA.
 *
 * Each computes an mr x nr tile of C from packed panels: per step p it loads one row of the
 * B panel (nr floats, as vectors), broadcasts each of the mr values of the A panel and does
 * mr x nr/lanes fused multiply-adds into accumulators that live in registers for the whole
 * kc loop. Tiles: AVX-512 12x32 (24 zmm accumulators; 4x32 for a last panel of at most 4
 * rows), AVX2 6x16 (12 ymm), NEON 8x12 (24 q registers), portable 4x16. The packing
 * routines that feed them sit here too, since they need the same ISA. */
#include "../core/platform.h"
#include "gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

/* ------------------------------------------------------------------ portable 4x16 */
enum { GEN_MR = 4, GEN_NR = 16 };
static void kernel_generic(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                           int accumulate)
{
    float acc[GEN_MR][GEN_NR] = {{0}};
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < GEN_MR; i++) {
            float ai = a[p * GEN_MR + i];
            for (int j = 0; j < GEN_NR; j++) acc[i][j] += ai * b[p * GEN_NR + j];
        }
    }
    for (int i = 0; i < GEN_MR; i++)
        for (int j = 0; j < GEN_NR; j++)
            c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + acc[i][j];
}
static const cpu_gemm_kernel k_generic = { "generic", GEN_MR, GEN_NR, kernel_generic, NULL, NULL,
                                            0, NULL };

#if defined(__x86_64__)
/* ------------------------------------------------------------------ packing */
/* Transposing pack, dst[p*width + r] = src[r*ld + p]: 8 rows x 8 k at a time are loaded as 8
 * contiguous vectors and transposed in registers (unpack, shuffle, swap 128-bit halves), so
 * both the reads and the writes are whole vectors; 4 rows (the last third of a 12-row A
 * panel) go the same way with 128-bit stores. (Each row is a contiguous run the hardware
 * prefetchers follow on their own: prefetching the next rows by hand measured slower.) */
__attribute__((target("avx2,fma")))
static void pack_transposed_avx(int64_t kc, int64_t rows, int width, const float *src, int64_t ld,
                                float *dst)
{
    int64_t r0 = 0;
    for (; r0 + 8 <= rows; r0 += 8) {
        const float *s = src + r0 * ld;
        int64_t p0 = 0;
        for (; p0 + 8 <= kc; p0 += 8) {
            __m256 x0 = _mm256_loadu_ps(s + 0 * ld + p0), x1 = _mm256_loadu_ps(s + 1 * ld + p0);
            __m256 x2 = _mm256_loadu_ps(s + 2 * ld + p0), x3 = _mm256_loadu_ps(s + 3 * ld + p0);
            __m256 x4 = _mm256_loadu_ps(s + 4 * ld + p0), x5 = _mm256_loadu_ps(s + 5 * ld + p0);
            __m256 x6 = _mm256_loadu_ps(s + 6 * ld + p0), x7 = _mm256_loadu_ps(s + 7 * ld + p0);
            __m256 t0 = _mm256_unpacklo_ps(x0, x1), t1 = _mm256_unpackhi_ps(x0, x1);
            __m256 t2 = _mm256_unpacklo_ps(x2, x3), t3 = _mm256_unpackhi_ps(x2, x3);
            __m256 t4 = _mm256_unpacklo_ps(x4, x5), t5 = _mm256_unpackhi_ps(x4, x5);
            __m256 t6 = _mm256_unpacklo_ps(x6, x7), t7 = _mm256_unpackhi_ps(x6, x7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *d = dst + p0 * width + r0;
            _mm256_storeu_ps(d + 0 * width, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(d + 1 * width, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(d + 2 * width, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(d + 3 * width, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(d + 4 * width, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(d + 5 * width, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(d + 6 * width, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(d + 7 * width, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
        for (; p0 < kc; p0++)
            for (int64_t r = 0; r < 8; r++) dst[p0 * width + r0 + r] = s[r * ld + p0];
    }
    for (; r0 + 4 <= rows; r0 += 4) {
        const float *s = src + r0 * ld;
        int64_t p0 = 0;
        for (; p0 + 8 <= kc; p0 += 8) {
            __m256 x0 = _mm256_loadu_ps(s + 0 * ld + p0), x1 = _mm256_loadu_ps(s + 1 * ld + p0);
            __m256 x2 = _mm256_loadu_ps(s + 2 * ld + p0), x3 = _mm256_loadu_ps(s + 3 * ld + p0);
            __m256 t0 = _mm256_unpacklo_ps(x0, x1), t1 = _mm256_unpackhi_ps(x0, x1);
            __m256 t2 = _mm256_unpacklo_ps(x2, x3), t3 = _mm256_unpackhi_ps(x2, x3);
            /* u0 = k p0 and p0+4 of the 4 rows, u1 = k p0+1 and p0+5, ... */
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            float *d = dst + p0 * width + r0;
            _mm_storeu_ps(d + 0 * width, _mm256_castps256_ps128(u0));
            _mm_storeu_ps(d + 1 * width, _mm256_castps256_ps128(u1));
            _mm_storeu_ps(d + 2 * width, _mm256_castps256_ps128(u2));
            _mm_storeu_ps(d + 3 * width, _mm256_castps256_ps128(u3));
            _mm_storeu_ps(d + 4 * width, _mm256_extractf128_ps(u0, 1));
            _mm_storeu_ps(d + 5 * width, _mm256_extractf128_ps(u1, 1));
            _mm_storeu_ps(d + 6 * width, _mm256_extractf128_ps(u2, 1));
            _mm_storeu_ps(d + 7 * width, _mm256_extractf128_ps(u3, 1));
        }
        for (; p0 < kc; p0++)
            for (int64_t r = 0; r < 4; r++) dst[p0 * width + r0 + r] = s[r * ld + p0];
    }
    for (int64_t r = r0; r < rows; r++)
        for (int64_t p = 0; p < kc; p++) dst[p * width + r] = src[r * ld + p];
    for (int64_t p = 0; p < kc; p++)
        for (int64_t r = rows; r < width; r++) dst[p * width + r] = 0.0f;
}

/* Copying pack, dst[(q*kc + p)*width + r] = src[p*ld + q*width + r]: the k rows are a row
 * stride apart (kilobytes: the length of the other dimension), too far for the hardware
 * prefetchers, so every row segment would be a cache miss in turn. The rows go in blocks of
 * COPY_BLOCK: the block's segments are requested ahead (the first block up front, each next
 * one while the current one is copied), then each panel's share of the block is copied as
 * one contiguous run of the panel. Packing 96 rows x 256 k (ld 768 and 32000) measured 0.3-0.6
 * ns per float with the source in L3 or memory, as the weight-gradient operands usually are,
 * against 0.9-1.3 for the panel-by-panel loop it replaces; about 0.05 ns slower when the
 * source is already in L2. */
#define COPY_BLOCK 16

/* The loop both copying packers run: the first block's segments requested up front, then per
 * block and panel, LANES columns at a time, the next block's segments requested and `block` rows
 * copied by the statement passed after LANES. It sees s, d (the panel's source and destination
 * at row p0), r (the column), n (columns valid in the source) and w (columns to write: the
 * invalid ones as 0). */
#define PACK_COPY_LOOP(LANES, ...)                                                           \
    for (int64_t p = 0; p < kc && p < COPY_BLOCK; p++)                                      \
        for (int64_t r = 0; r < rows; r += 16) _mm_prefetch((const char *)(src + p * ld + r), _MM_HINT_T0); \
    for (int64_t p0 = 0; p0 < kc; p0 += COPY_BLOCK) {                                       \
        int64_t block = kc - p0 < COPY_BLOCK ? kc - p0 : COPY_BLOCK;                        \
        int64_t next = kc - p0 - block < COPY_BLOCK ? kc - p0 - block : COPY_BLOCK;         \
        for (int64_t q = 0; q * width < rows; q++) {                                        \
            int64_t valid = rows - q * width < width ? rows - q * width : width;            \
            const float *s = src + p0 * ld + q * width;                                     \
            float *d = dst + (q * kc + p0) * width;                                         \
            for (int r = 0; r < width; r += (LANES)) {                                      \
                int64_t n = valid - r < 0 ? 0 : valid - r > (LANES) ? (LANES) : valid - r;  \
                int w = width - r < (LANES) ? width - r : (LANES);                          \
                for (int64_t p = 0; p < next; p++)                                          \
                    _mm_prefetch((const char *)(s + (block + p) * ld + r), _MM_HINT_T0);    \
                __VA_ARGS__                                                                 \
            }                                                                               \
        }                                                                                   \
    }

/* The copying pack, one k row at a time, of the AVX2 kernel's panels whose source rows are a
 * surface row apart: 6-row A panels from a column-major A (the weights of the kernels'
 * projections, read in place from their input surfaces) and 16-column B panels from a row-major
 * B (the activations beside them). Each k row's run of `rows` floats is read once, whole, and
 * handed out a panel width at a time. The surface rows are often a multiple of 1-2 KiB apart
 * (1024, 2304, 2560, 6656 floats), so all of a block's rows fall in a few cache sets: going panel
 * by panel, as PACK_COPY_LOOP does, read each line up to 3 times and it had been evicted in
 * between (on a Zen 3, 0.4-0.6 ns a float from L3 against 0.2-0.3 this way, and 2.2 against 1.1
 * cycles a float within a training step). The rows PACK_AHEAD ahead are requested into L2, whose
 * sets still hold them. (The AVX-512 kernel keeps its masked packer: this way is unmeasured on
 * such a CPU.) */
#define PACK_AHEAD 16
__attribute__((target("avx2,fma")))
static void pack_rows_avx2(int64_t kc, int64_t rows, int width, const float *src, int64_t ld,
                           float *dst)
{
    int64_t full = rows / width, tail = rows - full * width, bytes = rows * (int64_t)sizeof(float);
    for (int64_t p = 0; p < kc && p < PACK_AHEAD; p++) cpu_prefetch_run(src + p * ld, bytes);
    for (int64_t p = 0; p < kc; p++) {
        const float *s = src + p * ld;
        if (p + PACK_AHEAD < kc) cpu_prefetch_run(s + PACK_AHEAD * ld, bytes);
        float *d = dst + p * width;
        if (width == 6) {                      /* 4 floats, then 2 as one 64-bit move */
            for (int64_t q = 0; q < full; q++, s += 6, d += kc * 6) {
                _mm_storeu_ps(d, _mm_loadu_ps(s));
                _mm_storel_epi64((__m128i *)(d + 4), _mm_loadl_epi64((const __m128i *)(s + 4)));
            }
        } else {                               /* 16: two whole vectors */
            for (int64_t q = 0; q < full; q++, s += 16, d += kc * 16) {
                _mm256_storeu_ps(d, _mm256_loadu_ps(s));
                _mm256_storeu_ps(d + 8, _mm256_loadu_ps(s + 8));
            }
        }
        for (int64_t r = 0; r < width && tail; r++) d[r] = r < tail ? s[r] : 0.0f;
    }
}

/* 16 columns a vector, masked loads and stores. (2-6 % faster gemms than the AVX2 packer on the
 * 256-row training products, measured interleaved.) */
__attribute__((target("avx512f")))
static void pack_copy_avx512(int64_t kc, int64_t rows, int width, const float *src, int64_t ld,
                             float *dst)
{
    PACK_COPY_LOOP(16, {
        __mmask16 load = _cvtu32_mask16((1u << n) - 1), store = _cvtu32_mask16((1u << w) - 1);
        for (int64_t p = 0; p < block; p++)
            _mm512_mask_storeu_ps(d + p * width + r, store, _mm512_maskz_loadu_ps(load, s + p * ld + r));
    })
}

/* The same as the AVX-512 packer for the AVX2 kernel, 8 columns a vector, and whole vectors
 * without masks: masked stores are slow on AMD's cores (on a Zen 3 they were most of this
 * packer's time). */
__attribute__((target("avx2,fma")))
static void pack_copy_avx2(int64_t kc, int64_t rows, int width, const float *src, int64_t ld,
                           float *dst)
{
    static const int32_t lanes[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };
    /* A panels, and a whole B panel (gemm.c packs B one panel at a time) */
    if (width == 6 || (width == 16 && rows == 16)) {
        pack_rows_avx2(kc, rows, width, src, ld, dst);
        return;
    }
    PACK_COPY_LOOP(8, {
        if (n == 8 && w == 8) {
            for (int64_t p = 0; p < block; p++)
                _mm256_storeu_ps(d + p * width + r, _mm256_loadu_ps(s + p * ld + r));
            continue;
        }
        __m256i load = _mm256_loadu_si256((const __m256i *)(lanes + 8 - n));
        __m256i store = _mm256_loadu_si256((const __m256i *)(lanes + 8 - w));
        for (int64_t p = 0; p < block; p++)
            _mm256_maskstore_ps(d + p * width + r, store, _mm256_maskload_ps(s + p * ld + r, load));
    })
}

/* ------------------------------------------------------------------ AVX-512 12x32 */
#define K512_ROW(r)                                                         \
    { __m512 ar = _mm512_set1_ps(a[r]);                                     \
      c##r##0 = _mm512_fmadd_ps(ar, b0, c##r##0);                           \
      c##r##1 = _mm512_fmadd_ps(ar, b1, c##r##1); }
#define K512_STORE(r)                                                       \
    { float *cr = c + (r) * ldc;                                            \
      if (accumulate) { c##r##0 = _mm512_add_ps(c##r##0, _mm512_loadu_ps(cr));        \
                        c##r##1 = _mm512_add_ps(c##r##1, _mm512_loadu_ps(cr + 16)); } \
      _mm512_storeu_ps(cr, c##r##0); _mm512_storeu_ps(cr + 16, c##r##1); }

/* One k step of the 12x32 tile: a row of the B panel, 12 broadcasts of the A panel. */
#define K512_STEP                                                           \
    { __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);         \
      K512_ROW(0) K512_ROW(1) K512_ROW(2) K512_ROW(3) K512_ROW(4) K512_ROW(5) \
      K512_ROW(6) K512_ROW(7) K512_ROW(8) K512_ROW(9) K512_ROW(10) K512_ROW(11) \
      a += 12; b += 32; }
#define A_AHEAD 96      /* floats: 8 k steps */

__attribute__((target("avx512f,fma")))
static void kernel_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                          int accumulate)
{
    __m512 z = _mm512_setzero_ps();
    __m512 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
    __m512 c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
    __m512 c80 = z, c81 = z, c90 = z, c91 = z, c100 = z, c101 = z, c110 = z, c111 = z;
    /* The C tile (12 rows a row stride apart, often on 12 different pages of a large C)
     * is read or written only after the k loop: start fetching it now so the misses
     * overlap the loop instead of stalling the stores. */
    for (int r = 0; r < 12; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + 16), _MM_HINT_T0);
    }
    /* Four k steps (48 floats of A, three cache lines) per round, each line of A requested
     * A_AHEAD floats early: the A panel streams from L2 (the B panel is what stays in L1), and
     * waiting on it had been the kernel's main stall in the training step (perf: the first
     * broadcasts of each step). +2-4 % per shape on the device's pinned cores. */
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        _mm_prefetch((const char *)(a + A_AHEAD), _MM_HINT_T0);
        K512_STEP
        _mm_prefetch((const char *)(a + A_AHEAD + 16), _MM_HINT_T0);
        K512_STEP
        _mm_prefetch((const char *)(a + A_AHEAD + 32), _MM_HINT_T0);
        K512_STEP
        K512_STEP
    }
    for (; p < kc; p++) K512_STEP
    K512_STORE(0) K512_STORE(1) K512_STORE(2) K512_STORE(3) K512_STORE(4) K512_STORE(5)
    K512_STORE(6) K512_STORE(7) K512_STORE(8) K512_STORE(9) K512_STORE(10) K512_STORE(11)
}

/* The first 4 rows of a 12-row panel: the last panel of 256 rows (21 x 12 + 4) holds only 4,
 * and the 12-row kernel would spend two thirds of its multiply-adds on the zero padding.
 * 8 accumulators are just enough to keep both FMA ports busy. */
__attribute__((target("avx512f,fma")))
static void kernel_avx512_4rows(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                                int accumulate)
{
    __m512 z = _mm512_setzero_ps();
    __m512 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
    for (int r = 0; r < 4; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + 16), _MM_HINT_T0);
    }
    for (int64_t p = 0; p < kc; p++, a += 12, b += 32) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        K512_ROW(0) K512_ROW(1) K512_ROW(2) K512_ROW(3)
    }
    K512_STORE(0) K512_STORE(1) K512_STORE(2) K512_STORE(3)
}
static const cpu_gemm_kernel k_avx512 = { "avx512f", 12, 32, kernel_avx512, pack_transposed_avx,
                                           pack_copy_avx512, 4, kernel_avx512_4rows };

/* ------------------------------------------------------------------ AVX2+FMA 6x16 */
#define K256_ROW(r)                                                         \
    { __m256 ar = _mm256_broadcast_ss(a + (r));                             \
      c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0);                           \
      c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1); }
#define K256_STORE(r)                                                       \
    { float *cr = c + (r) * ldc;                                            \
      if (accumulate) { c##r##0 = _mm256_add_ps(c##r##0, _mm256_loadu_ps(cr));       \
                        c##r##1 = _mm256_add_ps(c##r##1, _mm256_loadu_ps(cr + 8)); } \
      _mm256_storeu_ps(cr, c##r##0); _mm256_storeu_ps(cr + 8, c##r##1); }

__attribute__((target("avx2,fma")))
static void kernel_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                        int accumulate)
{
    __m256 z = _mm256_setzero_ps();
    __m256 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
    __m256 c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
    for (int r = 0; r < 6; r++) _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);  /* as AVX-512 */
    for (int64_t p = 0; p < kc; p++, a += 6, b += 16) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        K256_ROW(0) K256_ROW(1) K256_ROW(2) K256_ROW(3) K256_ROW(4) K256_ROW(5)
    }
    K256_STORE(0) K256_STORE(1) K256_STORE(2) K256_STORE(3) K256_STORE(4) K256_STORE(5)
}
static const cpu_gemm_kernel k_avx2 = { "avx2+fma", 6, 16, kernel_avx2, pack_transposed_avx,
                                         pack_copy_avx2, 0, NULL };

static const cpu_gemm_kernel *x86_list[3];
static int x86_count;
static pthread_once_t x86_once = PTHREAD_ONCE_INIT;

static void detect_x86(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) x86_list[x86_count++] = &k_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) x86_list[x86_count++] = &k_avx2;
    x86_list[x86_count++] = &k_generic;
}

static const cpu_gemm_kernel *const *available(int *count)
{
    pthread_once(&x86_once, detect_x86);
    *count = x86_count;
    return x86_list;
}

#elif defined(__aarch64__)
/* ------------------------------------------------------------------ NEON 8x12 */
#define KNEON_ROW(r, av, lane)                                              \
    { c##r##0 = vfmaq_laneq_f32(c##r##0, b0, av, lane);                     \
      c##r##1 = vfmaq_laneq_f32(c##r##1, b1, av, lane);                     \
      c##r##2 = vfmaq_laneq_f32(c##r##2, b2, av, lane); }
#define KNEON_STORE(r)                                                      \
    { float *cr = c + (r) * ldc;                                            \
      if (accumulate) { c##r##0 = vaddq_f32(c##r##0, vld1q_f32(cr));        \
                        c##r##1 = vaddq_f32(c##r##1, vld1q_f32(cr + 4));    \
                        c##r##2 = vaddq_f32(c##r##2, vld1q_f32(cr + 8)); }  \
      vst1q_f32(cr, c##r##0); vst1q_f32(cr + 4, c##r##1); vst1q_f32(cr + 8, c##r##2); }

static void kernel_neon(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                        int accumulate)
{
    float32x4_t z = vdupq_n_f32(0.0f);
    float32x4_t c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z;
    float32x4_t c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
    float32x4_t c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z;
    float32x4_t c60 = z, c61 = z, c62 = z, c70 = z, c71 = z, c72 = z;
    for (int64_t p = 0; p < kc; p++, a += 8, b += 12) {
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
        float32x4_t alo = vld1q_f32(a), ahi = vld1q_f32(a + 4);
        KNEON_ROW(0, alo, 0) KNEON_ROW(1, alo, 1) KNEON_ROW(2, alo, 2) KNEON_ROW(3, alo, 3)
        KNEON_ROW(4, ahi, 0) KNEON_ROW(5, ahi, 1) KNEON_ROW(6, ahi, 2) KNEON_ROW(7, ahi, 3)
    }
    KNEON_STORE(0) KNEON_STORE(1) KNEON_STORE(2) KNEON_STORE(3)
    KNEON_STORE(4) KNEON_STORE(5) KNEON_STORE(6) KNEON_STORE(7)
}
static const cpu_gemm_kernel k_neon = { "neon", 8, 12, kernel_neon, NULL, NULL, 0, NULL };

static const cpu_gemm_kernel *const *available(int *count)
{
    static const cpu_gemm_kernel *const list[2] = { &k_neon, &k_generic };
    *count = 2;
    return list;
}

#else
static const cpu_gemm_kernel *const *available(int *count)
{
    static const cpu_gemm_kernel *const list[1] = { &k_generic };
    *count = 1;
    return list;
}
#endif

const cpu_gemm_kernel *const *cpu_gemm_kernels(int *count) { return available(count); }

const cpu_gemm_kernel *cpu_gemm_best_kernel(void)
{
    int n;
    return available(&n)[0];
}
