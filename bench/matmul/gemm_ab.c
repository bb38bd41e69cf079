/* gemm_ab.c — two libane builds' ane_sgemm on the Stories110M training step's products, interleaved
 * call by call in one process, each call on a fresh (cold) copy of its operands.
 *
 *   cc -O2 -std=gnu11 bench/matmul/gemm_ab.c -o build/gemm_ab -ldl
 *   build/gemm_ab ./a/libane.so ./b/libane.so [rounds=16]      (THREADS=2 by default)
 *
 * Shapes and operand layouts are the step's (Stories110M, seq 256): the kernels' projections read
 * their weights column-major from the input surfaces (lda = the surface's row length), the weight
 * gradients add into C (beta 1), the classifier's three products. Per shape: best and median GF/s
 * of each build, and the ratio of medians; then the step's gemm time (medians weighted by calls per
 * step) for each. Build B is first in odd rounds, A in even ones. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*sgemm_fn)(uint32_t, uint32_t, uint64_t, uint64_t, uint64_t, float, const float *, uint64_t,
                        const float *, uint64_t, float, float *, uint64_t);
typedef int (*threads_fn)(uint32_t);

typedef struct shape {
    const char *name;
    int ta, tb;
    long m, n, k, lda, ldb;
    float beta;
    int per_step;
} shape;

static const shape SHAPES[] = {
    {"ffn_fwd w1,w3", 1, 0, 2048, 256, 768, 6656, 6656, 0, 24},
    {"ffn_fwd w2", 0, 0, 768, 256, 2048, 6656, 256, 0, 12},
    {"ffn_bwd_w13t", 1, 0, 768, 256, 4096, 1024, 1024, 0, 12},
    {"ffn_bwd_w2t", 1, 0, 2048, 256, 768, 2304, 2304, 0, 12},
    {"attn_fwd q,k,v", 1, 0, 768, 256, 768, 2560, 2560, 0, 36},
    {"qkv_bwd", 1, 0, 768, 256, 2304, 1024, 1024, 0, 12},
    {"wo fwd, bwd", 1, 0, 768, 256, 768, 1024, 1024, 0, 24},
    {"dW w1,w3", 0, 1, 2048, 768, 256, 256, 256, 1, 24},
    {"dW w2", 0, 1, 768, 2048, 256, 256, 256, 1, 12},
    {"dW q,k,v,o", 0, 1, 768, 768, 256, 256, 256, 1, 48},
    {"classifier", 0, 0, 32000, 256, 768, 768, 256, 0, 1},
    {"classifier dx", 1, 0, 768, 256, 32000, 768, 256, 0, 1},
    {"classifier dW", 0, 1, 32000, 768, 256, 256, 256, 1, 1},
};
enum { N_SHAPES = sizeof SHAPES / sizeof SHAPES[0], COPIES = 6 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
    double d = *(const double *)a - *(const double *)b;
    return d < 0 ? -1 : d > 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: %s libA.so libB.so [rounds]\n", argv[0]); return 2; }
    int rounds = argc > 3 ? atoi(argv[3]) : 16;
    int threads = getenv("THREADS") ? atoi(getenv("THREADS")) : 2;
    sgemm_fn gemm[2];
    for (int i = 0; i < 2; i++) {
        void *h = dlopen(argv[1 + i], RTLD_NOW | RTLD_LOCAL);
        if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
        gemm[i] = (sgemm_fn)dlsym(h, "ane_sgemm");
        threads_fn set = (threads_fn)dlsym(h, "ane_set_threads");
        if (!gemm[i] || !set || set((uint32_t)threads) != 0) { fprintf(stderr, "%s: not a libane\n", argv[1 + i]); return 1; }
    }
    double *t[2] = { malloc(sizeof(double) * (size_t)rounds), malloc(sizeof(double) * (size_t)rounds) };
    double step_ms[2] = { 0, 0 };
    printf("%d threads, %d rounds; GF/s best and median of A (%s) and B (%s)\n", threads, rounds, argv[1], argv[2]);
    printf("%-16s %8s %8s %8s %8s  %s\n", "product", "A best", "B best", "A med", "B med", "B/A time (medians)");
    for (int s = 0; s < N_SHAPES; s++) {
        const shape *x = &SHAPES[s];
        size_t a_len = (size_t)(x->ta ? x->k * x->lda : x->m * x->lda), b_len = (size_t)(x->tb ? x->n * x->ldb : x->k * x->ldb);
        float *A[COPIES], *B[COPIES], *C[COPIES];
        for (int c = 0; c < COPIES; c++) {
            A[c] = malloc(a_len * sizeof(float)); B[c] = malloc(b_len * sizeof(float));
            C[c] = malloc((size_t)(x->m * x->n) * sizeof(float));
            memset(C[c], 0, (size_t)(x->m * x->n) * sizeof(float));   /* touched: no page faults in the timing */
            for (size_t i = 0; i < a_len; i++) A[c][i] = (float)((i * 7) % 13) * 0.01f;
            for (size_t i = 0; i < b_len; i++) B[c][i] = (float)((i * 5) % 11) * 0.01f;
        }
        double best[2] = { 1e30, 1e30 }, gf = 2.0 * (double)x->m * (double)x->n * (double)x->k / 1e9;
        int copy = 0;
        for (int r = -1; r < rounds; r++)                  /* round -1 warms up */
            for (int o = 0; o < 2; o++) {
                int lib = (r & 1) ? 1 - o : o;
                copy = (copy + 1) % COPIES;
                double t0 = now();
                gemm[lib]((uint32_t)x->ta, (uint32_t)x->tb, (uint64_t)x->m, (uint64_t)x->n, (uint64_t)x->k, 1.0f,
                          A[copy], (uint64_t)x->lda, B[copy], (uint64_t)x->ldb, x->beta, C[copy], (uint64_t)x->n);
                double dt = now() - t0;
                if (r < 0) continue;
                t[lib][r] = dt;
                if (dt < best[lib]) best[lib] = dt;
            }
        double med[2];
        for (int l = 0; l < 2; l++) {
            qsort(t[l], (size_t)rounds, sizeof(double), by_value);
            med[l] = t[l][rounds / 2];
            step_ms[l] += med[l] * 1e3 * x->per_step;
        }
        printf("%-16s %8.1f %8.1f %8.1f %8.1f  %.3f\n", x->name, gf / best[0], gf / best[1], gf / med[0], gf / med[1],
               med[1] / med[0]);
        for (int c = 0; c < COPIES; c++) { free(A[c]); free(B[c]); free(C[c]); }
    }
    printf("the step's products (medians x calls per step): A %.1f ms, B %.1f ms, B/A %.3f\n", step_ms[0], step_ms[1],
           step_ms[1] / step_ms[0]);
    free(t[0]); free(t[1]);
    return 0;
}
