/* decode_matvec.h — the decoder's weight-streaming kernel: rows of an fp32 or fp16 matrix
 * dotted with a few fp32 vectors, and the fp32 <-> fp16 conversions behind fp16 storage.
 * Internal to libane (decode.c and its test). */
#ifndef ANE_HOST_DECODE_MATVEC_H
#define ANE_HOST_DECODE_MATVEC_H

#include <stdint.h>

/* A row-major [rows, in] matrix, stored either way: exactly one pointer is set. */
typedef struct {
    const float *f32;
    const uint16_t *f16;     /* IEEE binary16 bit patterns */
} ane_dec_matrix;

/* fp32 -> fp16, round to nearest even; values beyond fp16's range become +-inf (0x7c00). */
uint16_t ane_float_to_half(float f);
/* fp16 -> fp32, exact for every finite fp16 value (the decoder never stores inf or NaN). */
float ane_half_to_float(uint16_t h);

/* out[b * out_stride + o] = dot(W[o, :], X[b, :]) + (bias ? bias[o] : 0) for o in [o0, o1) and
 * b in [0, nb). X is [nb, in] row-major. Every output has one summation order (fp32 products,
 * 16 lane accumulators, a fixed pairwise reduction), whichever instruction set runs it and
 * however many vectors share a pass over the weights. */
void ane_dec_matvec_rows(const ane_dec_matrix *W, uint32_t in, const float *X, uint32_t nb, const float *bias,
                         float *out, uint32_t out_stride, int64_t o0, int64_t o1);

/* The instruction set the fp16 kernel uses on this machine: "avx2+f16c", "neon" or "portable". */
const char *ane_dec_f16_kernel(void);
/* For tests: 1 forces the portable fp16 kernel, 0 goes back to the machine's best. Not thread
 * safe against running kernels. */
void ane_dec_force_portable(int on);

#endif
