/* vector.c — flat fp32 reductions and updates: gradient norms, finiteness checks, axpy,
 * scaling, seeded normal init and the fused AdamW step.
 *
 * Reductions split the array into fixed blocks (independent of the thread count) and sum the
 * per-block float64 partials in block order, so results are bit-identical on any machine
 * with any number of threads. */
#include "../core/platform.h"
#include "../core/error.h"
#include "../core/threads.h"
#include "../core/fastmath.h"

#define VEC_BLOCK 16384

typedef struct {
    const float *x;
    float *y;
    const float *g;
    float *m, *v;
    double *partial;
    int *flags;
    uint64_t n;
    float a, lr, b1, b2, eps, wd, bc1, bc2, gs;
    uint64_t seed;
    double mean, std;
} vec_job;

static inline uint64_t block_end(uint64_t b, uint64_t n)
{
    uint64_t e = (b + 1) * VEC_BLOCK;
    return e < n ? e : n;
}

/* Eight lanes as one value: GCC/Clang vector extensions, so the loops below compile to whole
 * vector instructions on every target (auto-vectorising acc[k] += ... came out as shuffles). */
typedef float f32x8 __attribute__((vector_size(32)));

/* Sum of squares of x[i, e), in a fixed order: 32 lanes (four 8-lane accumulators, so four
 * independent add chains; one chain had held the loop to the add latency, with its vector
 * spilled to the stack in the baseline build) each sum the elements at their index mod 32, the
 * lanes are added in order in float64, then the tail. With `finite`, also whether every element
 * is finite (x * 0 is NaN exactly for inf and NaN). Shared by ane_sum_squares and
 * ane_grad_stats, so the two give the same bits. */
static inline double block_sumsq(const float *x, uint64_t i, uint64_t e, int *finite)
{
    f32x8 acc[4] = {{0}}, bad = {0};
    for (; i + 32 <= e; i += 32) {
        for (int q = 0; q < 4; q++) {
            f32x8 v;
            memcpy(&v, x + i + 8 * q, sizeof v);
            acc[q] += v * v;
            if (finite) bad += v * 0.0f;
        }
    }
    double s = 0.0;
    float b = 0.0f;
    for (int q = 0; q < 4; q++)
        for (int k = 0; k < 8; k++) s += acc[q][k];
    for (int k = 0; k < 8; k++) b += bad[k];
    for (; i < e; i++) { s += (double)x[i] * x[i]; b += x[i] * 0.0f; }
    if (finite) *finite = b == 0.0f;
    return s;
}

ANE_VEC_CLONES static void sumsq_range(void *ctx, int64_t begin, int64_t end)
{
    const vec_job *j = ctx;
    for (int64_t b = begin; b < end; b++)
        j->partial[b] = block_sumsq(j->x, (uint64_t)b * VEC_BLOCK, block_end((uint64_t)b, j->n), NULL);
}

ANE_API ane_status ane_sum_squares(const float *x, uint64_t n, double *out)
{
    if (!x || !out) return ane_fail(ANE_ERR_INVALID_ARG, "ane_sum_squares: NULL pointer");
    uint64_t blocks = (n + VEC_BLOCK - 1) / VEC_BLOCK;
    double *partial = malloc((blocks ? blocks : 1) * sizeof(double));
    if (!partial) return ane_fail(ANE_ERR_NO_MEMORY, "ane_sum_squares: out of memory");
    vec_job j = {.x = x, .n = n, .partial = partial};
    ane_parallel_for((int64_t)blocks, 1, sumsq_range, &j);
    double s = 0.0;
    for (uint64_t b = 0; b < blocks; b++) s += partial[b];
    free(partial);
    *out = s;
    return ANE_OK;
}

static void finite_range(void *ctx, int64_t begin, int64_t end)
{
    const vec_job *j = ctx;
    for (int64_t b = begin; b < end; b++) {
        uint64_t i = (uint64_t)b * VEC_BLOCK, e = block_end((uint64_t)b, j->n);
        float acc = 0.0f;  /* inf - inf and NaN propagate into NaN; finite values stay finite */
        for (; i < e; i++) acc += j->x[i] * 0.0f;
        j->flags[b] = acc == 0.0f;
    }
}

ANE_API int ane_all_finite(const float *x, uint64_t n)
{
    if (!x) return 0;
    uint64_t blocks = (n + VEC_BLOCK - 1) / VEC_BLOCK;
    int *flags = malloc((blocks ? blocks : 1) * sizeof(int));
    if (!flags) return 0;
    vec_job j = {.x = x, .n = n, .flags = flags};
    ane_parallel_for((int64_t)blocks, 1, finite_range, &j);
    int ok = 1;
    for (uint64_t b = 0; b < blocks; b++) ok &= flags[b];
    free(flags);
    return ok;
}

/* Both optimizer checks in one read of the gradient: the finiteness flag and the sum of
 * squares of each block (block_sumsq, so the norm is the same bits as ane_sum_squares'). */
ANE_VEC_CLONES static void grad_stats_range(void *ctx, int64_t begin, int64_t end)
{
    const vec_job *j = ctx;
    for (int64_t b = begin; b < end; b++)
        j->partial[b] = block_sumsq(j->x, (uint64_t)b * VEC_BLOCK, block_end((uint64_t)b, j->n), &j->flags[b]);
}

ANE_API ane_status ane_grad_stats(const float *g, uint64_t n, int *finite, double *sumsq)
{
    if (!g || !finite || !sumsq) return ane_fail(ANE_ERR_INVALID_ARG, "ane_grad_stats: NULL pointer");
    uint64_t blocks = (n + VEC_BLOCK - 1) / VEC_BLOCK;
    double *partial = malloc((blocks ? blocks : 1) * sizeof(double));
    int *flags = malloc((blocks ? blocks : 1) * sizeof(int));
    if (!partial || !flags) {
        free(partial); free(flags);
        return ane_fail(ANE_ERR_NO_MEMORY, "ane_grad_stats: out of memory");
    }
    vec_job j = {.x = g, .n = n, .partial = partial, .flags = flags};
    ane_parallel_for((int64_t)blocks, 1, grad_stats_range, &j);
    double s = 0.0;
    int ok = 1;
    for (uint64_t b = 0; b < blocks; b++) { s += partial[b]; ok &= flags[b]; }
    free(partial); free(flags);
    *sumsq = s;
    *finite = ok;
    return ANE_OK;
}

static void axpy_range(void *ctx, int64_t begin, int64_t end)
{
    const vec_job *j = ctx;
    for (int64_t i = begin; i < end; i++) j->y[i] += j->a * j->x[i];
}

ANE_API ane_status ane_axpy(float *y, const float *x, uint64_t n, float a)
{
    if (!y || !x) return ane_fail(ANE_ERR_INVALID_ARG, "ane_axpy: NULL pointer");
    vec_job j = {.x = x, .y = y, .n = n, .a = a};
    ane_parallel_for((int64_t)n, VEC_BLOCK, axpy_range, &j);
    return ANE_OK;
}

static void scale_range(void *ctx, int64_t begin, int64_t end)
{
    const vec_job *j = ctx;
    for (int64_t i = begin; i < end; i++) j->y[i] *= j->a;
}

ANE_API ane_status ane_scale(float *x, uint64_t n, float s)
{
    if (!x) return ane_fail(ANE_ERR_INVALID_ARG, "ane_scale: NULL pointer");
    vec_job j = {.y = x, .n = n, .a = s};
    ane_parallel_for((int64_t)n, VEC_BLOCK, scale_range, &j);
    return ANE_OK;
}

/* Counter-based generator: element i's random bits depend only on (seed, i). */
static inline uint64_t splitmix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline double unit_open(uint64_t bits) { return ((double)(bits >> 11) + 0.5) * 0x1p-53; }

/* Box-Muller: the pair (2k, 2k+1) comes from the uniforms of counters 2k and 2k+1. */
static void normal_range(void *ctx, int64_t begin, int64_t end)
{
    const vec_job *j = ctx;
    const double two_pi = 6.283185307179586;
    for (int64_t k = begin; k < end; k++) {
        uint64_t i0 = 2 * (uint64_t)k;
        double u1 = unit_open(splitmix64(j->seed ^ splitmix64(i0)));
        double u2 = unit_open(splitmix64(j->seed ^ splitmix64(i0 + 1)));
        double r = sqrt(-2.0 * log(u1));
        j->y[i0] = (float)(j->mean + j->std * r * cos(two_pi * u2));
        if (i0 + 1 < j->n) j->y[i0 + 1] = (float)(j->mean + j->std * r * sin(two_pi * u2));
    }
}

ANE_API ane_status ane_fill_normal(float *dst, uint64_t n, uint64_t seed, double mean, double std)
{
    if (!dst) return ane_fail(ANE_ERR_INVALID_ARG, "ane_fill_normal: NULL pointer");
    if (!(std >= 0.0)) return ane_fail(ANE_ERR_INVALID_ARG, "ane_fill_normal: std must be >= 0");
    vec_job j = {.y = dst, .n = n, .seed = splitmix64(seed), .mean = mean, .std = std};
    ane_parallel_for((int64_t)((n + 1) / 2), 4096, normal_range, &j);
    return ANE_OK;
}

/* One element of AdamW; g' = g * gs. Bias corrections are divided (not multiplied by an
 * inverse) so the update is bit-identical to the formula in ane.h. */
static inline float adamw_one(float *p, float g, float *m, float *v, float gs, float lr, float b1,
                              float b2, float eps, float wd, float bc1, float bc2)
{
    float gi = g * gs;
    float mi = b1 * *m + (1.0f - b1) * gi;
    float vi = b2 * *v + (1.0f - b2) * gi * gi;
    *m = mi;
    *v = vi;
    float update = (mi / bc1) / (sqrtf(vi / bc2) + eps);
    return *p - lr * (wd * *p + update);
}

ANE_VEC_CLONES static void adamw_range(void *ctx, int64_t begin, int64_t end)
{
    const vec_job *j = ctx;
    /* Locals, so the stores through p, m, v (floats) cannot alias the job's float fields and
     * the loop vectorises. */
    float *restrict p = j->y, *restrict m = j->m, *restrict v = j->v;
    const float gs = j->gs, lr = j->lr, b1 = j->b1, b2 = j->b2, eps = j->eps, wd = j->wd;
    const float bc1 = j->bc1, bc2 = j->bc2;
    const float *restrict g = j->g;
    for (int64_t i = begin; i < end; i++)
        p[i] = adamw_one(&p[i], g[i], &m[i], &v[i], gs, lr, b1, b2, eps, wd, bc1, bc2);
}

ANE_API ane_status ane_adamw(float *p, const float *g, float *m, float *v, uint64_t n, float lr,
                             float beta1, float beta2, float eps, float weight_decay,
                             uint32_t step, float grad_scale)
{
    if (!p || !g || !m || !v) return ane_fail(ANE_ERR_INVALID_ARG, "ane_adamw: NULL pointer");
    if (step < 1) return ane_fail(ANE_ERR_INVALID_ARG, "ane_adamw: step counts from 1 (got 0)");
    if (!(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f))
        return ane_fail(ANE_ERR_INVALID_ARG, "ane_adamw: betas must be in [0, 1) (got %g, %g)", beta1, beta2);
    vec_job j = {.y = p, .g = g, .m = m, .v = v, .n = n,
                 .lr = lr, .b1 = beta1, .b2 = beta2, .eps = eps, .wd = weight_decay, .gs = grad_scale,
                 .bc1 = (float)(1.0 - pow(beta1, step)), .bc2 = (float)(1.0 - pow(beta2, step))};
    ane_parallel_for((int64_t)n, VEC_BLOCK, adamw_range, &j);
    return ANE_OK;
}

