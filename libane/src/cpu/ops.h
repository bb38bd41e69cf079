/* ops.h — the cpu backend's op kernels. Each runs one plan step (plan.h): it reads the
 * tensors step->in[...] (views, as the plan says they may be) and writes step->out, a
 * contiguous buffer, rounding float results to fp16 under ANE numerics. */
#ifndef ANE_CPU_OPS_H
#define ANE_CPU_OPS_H

#include "plan.h"

/* ops_elementwise.c */
ane_status cpu_run_copy(const cpu_plan *plan, const cpu_step *s);     /* out = in[0], any view */
ane_status cpu_run_map(const cpu_plan *plan, const cpu_step *s);      /* unary/binary/cast */
ane_status cpu_run_concat(const cpu_plan *plan, const cpu_step *s);
/* Strides of t broadcast (numpy rules, right-aligned) to a rank-`rank` shape. */
void cpu_broadcast_strides(const cpu_tensor *t, int rank, const int64_t *shape, int64_t *strides);

/* ops_reduce.c: inputs contiguous, viewed as [outer, reduce, inner] */
ane_status cpu_run_reduce(const cpu_plan *plan, const cpu_step *s);
ane_status cpu_run_softmax(const cpu_plan *plan, const cpu_step *s);
ane_status cpu_run_layer_norm(const cpu_plan *plan, const cpu_step *s);

/* ops_matmul.c */
ane_status cpu_run_matmul(const cpu_plan *plan, const cpu_step *s);
ane_status cpu_run_linear(const cpu_plan *plan, const cpu_step *s);
ane_status cpu_run_conv(const cpu_plan *plan, const cpu_step *s);
ane_status cpu_run_sdpa(const cpu_plan *plan, const cpu_step *s);

/* ops_fused.c: the steps fuse.c makes out of op chains (see there); inputs dense */
ane_status cpu_run_nothing(const cpu_plan *plan, const cpu_step *s);          /* a step fused away */
ane_status cpu_run_scaled_masked_softmax(const cpu_plan *plan, const cpu_step *s);
ane_status cpu_run_row_dot(const cpu_plan *plan, const cpu_step *s);
ane_status cpu_run_softmax_bwd(const cpu_plan *plan, const cpu_step *s);
ane_status cpu_run_silu_mul(const cpu_plan *plan, const cpu_step *s);
ane_status cpu_run_rope(const cpu_plan *plan, const cpu_step *s);
/* The signed permutation a rope step's rotation matrix R [n, n] holds: R[i, perm[i]] = sign[i]
 * (+-1), every other entry 0. Returns 0 when R is not one (or n > CPU_ROPE_MAX). */
#define CPU_ROPE_MAX 1024
int cpu_rope_permutation(const float *R, int64_t n, int *perm, float *sign);

/* ops_quant.c: inputs contiguous */
ane_status cpu_run_quantize(const cpu_plan *plan, const cpu_step *s);
ane_status cpu_run_dequantize(const cpu_plan *plan, const cpu_step *s);
/* Round half to even (the quantizers' rounding). */
float cpu_round_half_even(float v);
/* y[i] = (q[i] - zp[c]) * scale[c] for i in [begin, end), with c = (i / inner) % channels
 * (channels = 1: per tensor; zp may be NULL). */
void cpu_dequantize_values(const float *q, int64_t begin, int64_t end, const float *scale,
                           const float *zp, int64_t channels, int64_t inner, float *y);

#endif
