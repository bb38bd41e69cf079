/* gemm.h — the cpu backend's single-precision matrix multiply.
 *
 * C[m,n] = A[m,k] B[k,n] on strided views: A and B may be any 2-D view of a larger tensor
 * (a slice, a transpose), so the executor feeds slices/reshapes/transposes straight into
 * packing without copies. Blocked and packed (GotoBLAS style: B panels of NR columns stay
 * in L1, a block of A in L2), a register-tiled micro-kernel per ISA chosen at run time, and
 * multithreaded over blocks of C with the pool of core/threads.h. */
#ifndef ANE_CPU_GEMM_H
#define ANE_CPU_GEMM_H

#include <stdint.h>

/* A micro-kernel: c[0..mr, 0..nr] (row stride ldc) = (accumulate ? c : 0) + sum over kc of
 * a[p*mr + i] * b[p*nr + j] (A packed as kc columns of mr, B as kc rows of nr). */
typedef struct cpu_gemm_kernel {
    const char *name;          /* "avx512f", "avx2+fma", "neon", "generic" */
    int mr, nr;
    void (*run)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                int accumulate);
    /* Packs an operand whose k runs are contiguous (row-major A, transposed B), or NULL for
     * the driver's scalar loop: dst[p*width + r] = src[r*ld + p] for r < rows, p < kc, and
     * 0 for rows <= r < width. */
    void (*pack_transposed)(int64_t kc, int64_t rows, int width, const float *src, int64_t ld,
                            float *dst);
    /* Packs an operand whose rows (of A) or columns (of B) are contiguous (column-major A,
     * row-major B), or NULL for the driver's scalar loop: `rows` of them in panels of width,
     * panel q at dst + q*kc*width: dst[(q*kc + p)*width + r] = src[p*ld + q*width + r] while
     * q*width + r < rows, 0 beyond. */
    void (*pack_copy)(int64_t kc, int64_t rows, int width, const float *src, int64_t ld,
                      float *dst);
    /* run for only the first short_rows rows of the tile (A still packed mr wide), for a
     * last panel that is mostly padding; short_rows 0 and run_short NULL where there is none. */
    int short_rows;
    void (*run_short)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                      int accumulate);
} cpu_gemm_kernel;

/* Requests the `bytes` at p, every cache line of them, into L2 (a hint: never faults). */
static inline void cpu_prefetch_run(const void *p, int64_t bytes)
{
    const char *c = (const char *)p;
    for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 0, 2);
    if (bytes > 0) __builtin_prefetch(c + bytes - 1, 0, 2);
}

/* The fastest kernel this CPU runs. */
const cpu_gemm_kernel *cpu_gemm_best_kernel(void);
/* Every kernel this CPU can run (for tests): *count receives how many. */
const cpu_gemm_kernel *const *cpu_gemm_kernels(int *count);

typedef struct cpu_gemm_args {
    int64_t m, n, k;
    const float *a; int64_t a_rs, a_cs;   /* A[i,p] = a[i*a_rs + p*a_cs] */
    const float *b; int64_t b_rs, b_cs;   /* B[p,j] = b[p*b_rs + j*b_cs] */
    float *c; int64_t c_rs;               /* C[i,j] = c[i*c_rs + j] */
    int round_fp16;                       /* round each result to fp16 (ANE numerics) */
    const cpu_gemm_kernel *kernel;        /* NULL: the best one */
} cpu_gemm_args;

/* 0 on success, -1 when scratch memory could not be allocated (C is then unspecified). */
int cpu_gemm(const cpu_gemm_args *g);
/* C[m,n] += A[m,k] B[k,n]: the micro-kernel adds straight into C, so a BLAS beta = 1 (weight
 * gradients summed over micro-steps) needs no temporary and no second pass over C. Each
 * element's k order is the same as cpu_gemm's; the old C is added to the first k block. */
int cpu_gemm_accumulate(const cpu_gemm_args *g);

#endif
