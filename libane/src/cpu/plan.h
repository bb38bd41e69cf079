/* plan.h — a compiled MIL program for the cpu backend: every value as a tensor view into a
 * buffer, and the list of steps that fill the buffers.
 *
 * Compile (plan.c) decides everything that depends only on shapes: which values are views
 * (slice, transpose, identity, most reshapes: no data moves), which need a buffer, the
 * constants (captured here; the caller's blobs are never read again), and each op's
 * parameters. Eval (exec.c) only moves data through the steps.
 *
 * Every tensor holds fp32 numbers. Under ANE numerics (fp16) every float result is rounded
 * to fp16 (subnormals flushed, overflow to inf) before anything reads it; integer-typed
 * tensors (quantize's int8/uint8, cast to int32) hold whole numbers. */
#ifndef ANE_CPU_PLAN_H
#define ANE_CPU_PLAN_H

#include "../../include/ane.h"
#include "../mil/ir.h"

#define CPU_MAX_RANK MIL_MAX_RANK

/* A strided view: element (i0..i{rank-1}) lives at data[offset + sum_k i_k * stride[k]]. */
typedef struct cpu_tensor {
    mil_dtype dtype;
    int rank;
    int64_t shape[CPU_MAX_RANK];
    int64_t stride[CPU_MAX_RANK];   /* in elements; 0 for broadcast, may be negative */
    int64_t offset;
    int buffer;                      /* index into plan->buffers; -1 for none (strings) */
} cpu_tensor;

typedef struct cpu_buffer {
    float *data;                     /* 64-byte aligned */
    int64_t elems;
} cpu_buffer;

struct cpu_plan;
struct cpu_step;
typedef ane_status (*cpu_step_fn)(const struct cpu_plan *plan, const struct cpu_step *step);

/* Parameters an op's kernel needs, decided at compile. Each op uses the fields it names. */
typedef struct cpu_params {
    mil_opcode code;
    int transpose_x, transpose_y;            /* matmul */
    int has_bias;                            /* conv, linear */
    int64_t strides[2], dilations[2], pads[4], groups;   /* conv: pads top,bottom,left,right */
    int64_t outer, reduce, inner;            /* reduce_*, softmax, layer_norm: [outer,R,inner] */
    float eps, alpha, beta;                  /* rsqrt/log/layer_norm eps; clip alpha/beta */
    int gelu_mode;                           /* 0 exact, 1 tanh, 2 sigmoid */
    mil_dtype to_dtype;                      /* cast, quantize */
    int axis;                                /* quantize/dequantize per-axis (-1 = per-tensor) */
    int interleave;                          /* concat */
    int concat_axis;
    int64_t scratch_elems;                   /* conv im2col / sdpa scores, per call */
    int rope_inverse;                        /* fused rope (fuse.c): the backward form */
} cpu_params;

typedef struct cpu_step {
    cpu_step_fn run;
    const mil_op *op;                /* for messages */
    int n_in;
    int *in;                         /* tensor indices; -1 for an absent optional input */
    int out;                         /* tensor index (always owns a contiguous buffer) */
    cpu_params p;
} cpu_step;

typedef struct cpu_plan {
    int fp16;                        /* ANE numerics: round float results to fp16 */
    int n_tensors;                   /* the program's values first (same index), then temps */
    cpu_tensor *tensors;
    int n_buffers, cap_buffers;
    cpu_buffer *buffers;
    int n_steps, cap_steps;
    cpu_step *steps;
    int n_inputs, n_outputs;
    int *input_tensors, *output_tensors;
} cpu_plan;

/* Build the plan of p (parsed and type-checked); fp16 selects ANE numerics. On failure
 * returns NULL with the last error set (status in *status). */
cpu_plan *cpu_plan_build(const mil_program *p, int fp16, ane_status *status);
void cpu_plan_free(cpu_plan *plan);
/* fuse.c: merge the attention kernels' elementwise chains into single steps, bit-identical
 * in both numerics (called by cpu_plan_build once every step exists). */
void cpu_plan_fuse(cpu_plan *plan);

/* Run every step. Inputs must already be in their buffers. */
ane_status cpu_plan_run(const cpu_plan *plan);

/* Zeroed memory aligned to 64 bytes (NULL when out of memory); free with cpu_free64. */
void *cpu_alloc64(size_t bytes);
void cpu_free64(void *p);

/* Helpers shared by the kernels. */
static inline float *cpu_data(const cpu_plan *plan, int t)
{
    const cpu_tensor *x = &plan->tensors[t];
    return plan->buffers[x->buffer].data + x->offset;
}
int64_t cpu_elems(const cpu_tensor *t);
int cpu_is_contiguous(const cpu_tensor *t);
int cpu_dtype_is_float(mil_dtype t);
/* Round y[0..n) to fp16 when the plan uses ANE numerics and the tensor is float-typed. */
void cpu_finish(const cpu_plan *plan, int t, float *y, int64_t n);
/* dst (any view) = src (any view of the same shape). Parallel. */
void cpu_copy_view(const cpu_plan *plan, const cpu_tensor *dst, const cpu_tensor *src);

#endif
