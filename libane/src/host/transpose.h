/* transpose.h — the in-cache fp32 transpose shared by ane_transpose_2d and ane_stage_weights. */
#ifndef ANE_HOST_TRANSPOSE_H
#define ANE_HOST_TRANSPOSE_H

#include <stdint.h>

/* d[c * ds + r] = s[r * ss + c] for a [rows, cols] block (strides in floats), serially. Meant
 * for a tile that fits in L1; AVX 8x8 register transposes on x86, plain loops elsewhere. */
void ane_transpose_f32_tile(const float *s, uint64_t ss, float *d, uint64_t ds, uint64_t rows, uint64_t cols);

#endif
