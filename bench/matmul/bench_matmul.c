/* bench_matmul.c — the dynamic-weight matmul program through the cpu backend vs OpenBLAS.
 *
 * The program (reference/ane-maderix.md §3.5): x [1,768,1,256+768] fp16, spatial [0,256)
 * activations, [256,1024) W[ic,:]; slice both, reshape/transpose the activations, matmul
 * [256,768]x[768,768], transpose/reshape back to [1,768,1,256]. Timed: the whole eval
 * (fp16 input read, plan, fp16 output write). Against: cblas_sgemm on the same 256x768x768
 * product, same operand layout (A read transposed), fp32 in and out. Best of many rounds,
 * interleaved, because this machine is shared.
 *
 *   cc -O2 -std=c11 -D_DEFAULT_SOURCE -pthread -I/usr/include/x86_64-linux-gnu/openblas-pthread \
 *      bench/matmul/bench_matmul.c libane/src/cpu/*.c libane/src/core/{fp16,threads,error,strbuf}.c \
 *      libane/src/mil/*.c -o build/bench_matmul -lopenblas -lm -ldl && build/bench_matmul
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>

#include "../../libane/src/core/backend.h"
#include "../../libane/src/core/fp16.h"
#include "../../libane/src/core/threads.h"
#include "../../libane/src/mil/mil.h"
#include "../../libane/test/dyn_matmul_mil.h"

char *openblas_get_corename(void);
int openblas_get_num_threads(void);

enum { IC = 768, OC = 768, S = 256, W = S + OC };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 30;
    char text[8192];
    dyn_matmul_mil(text, sizeof text, IC, OC, S);

    /* What api.c would do: parse, lay out I/O (rows of the last axis, 64-byte aligned). */
    mil_diags diags = {0};
    ane_backend backend = { &ane_cpu_backend_ops, NULL };
    ane_program prog = {0};
    prog.backend = &backend;
    prog.ir = mil_parse(text, strlen(text), NULL, 0, &diags);
    if (!prog.ir) { printf("parse failed: %s\n", mil_diags_first_error(&diags)->message); return 1; }
    ane_io_desc in = { "x", ANE_DTYPE_FP16, 4, {1, IC, 1, W}, W * 2, (uint64_t)IC * W * 2 };
    ane_io_desc out = { "y", ANE_DTYPE_FP16, 4, {1, OC, 1, S}, S * 2, (uint64_t)OC * S * 2 };
    prog.numerics = ANE_NUMERICS_FP16;
    prog.n_inputs = prog.n_outputs = 1;
    prog.inputs = &in;
    prog.outputs = &out;
    if (ane_cpu_backend_ops.program_compile(&prog, text, strlen(text), NULL, 0, 0, 0) != ANE_OK) {
        printf("compile failed: %s\n", ane_last_error());
        return 1;
    }
    ane_surface sx = { &backend, in.bytes, NULL, 0, NULL }, sy = { &backend, out.bytes, NULL, 0, NULL };
    ane_cpu_backend_ops.surface_create(&backend, &sx);
    ane_cpu_backend_ops.surface_create(&backend, &sy);
    float *xf = malloc(sizeof(float) * IC * W);
    for (int i = 0; i < IC * W; i++) xf[i] = ane_round_fp16((float)(((long long)i * 7919) % 2001 - 1000) / 1000.0f);
    ane_fp32_to_fp16_n(xf, sx.base, (size_t)IC * W);
    ane_surface *ins[1] = { &sx }, *outs[1] = { &sy };
    ane_request req = { &prog, 1, 1, ins, outs, NULL };

    /* The same product for OpenBLAS: C[S,OC] = A^T B with A = acts [IC,S] (row stride W), B = W [IC,OC]. */
    float *c = malloc(sizeof(float) * S * OC);
    ane_eval_timing t;
    double best_ours = 1e30, best_blas = 1e30;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        if (ane_cpu_backend_ops.request_eval(&req, 0, &t) != ANE_OK) { printf("eval failed: %s\n", ane_last_error()); return 1; }
        double t1 = now();
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, S, OC, IC, 1.0f, xf, W, xf + S, W, 0.0f, c, OC);
        double t2 = now();
        if (t1 - t0 < best_ours) best_ours = t1 - t0;
        if (t2 - t1 < best_blas) best_blas = t2 - t1;
    }
    /* Check the program against the BLAS product: each output within fp16 rounding. */
    int bad = 0;
    const uint16_t *y = sy.base;
    for (int oc = 0; oc < OC; oc++)
        for (int s = 0; s < S; s++) {
            float ref = c[s * OC + oc], got = ane_fp16_to_fp32(y[oc * S + s]);
            float tol = 1e-3f + (ref < 0 ? -ref : ref) / 1000.0f;
            if (got - ref > tol || ref - got > tol) bad++;
        }
    double flops = 2.0 * S * OC * IC;
    printf("shape %dx%dx%d, %u threads; OpenBLAS core %s, %d threads\n", S, OC, IC, ane_threads_count(),
           openblas_get_corename(), openblas_get_num_threads());
    printf("cpu backend eval (whole program): %.3f ms  %.1f GFLOP/s\n", best_ours * 1e3, flops / best_ours / 1e9);
    printf("OpenBLAS sgemm:                   %.3f ms  %.1f GFLOP/s\n", best_blas * 1e3, flops / best_blas / 1e9);
    printf("ratio (cpu backend / OpenBLAS): %.2f   mismatches vs BLAS: %d\n", best_blas / best_ours, bad);
    ane_cpu_backend_ops.surface_release(&sx);
    ane_cpu_backend_ops.surface_release(&sy);
    ane_cpu_backend_ops.program_free(&prog);
    mil_program_free(prog.ir);
    mil_diags_free(&diags);
    free(xf);
    free(c);
    return bad ? 1 : 0;
}
