/* fp16.h — IEEE half precision <-> fp32 with the ANE's numerics.
 *
 * fp32 -> fp16 rounds to nearest, ties to even; magnitudes that round past 65504 become
 * +-inf; results that would be fp16 subnormals (|h| < 2^-14) are flushed to a signed zero,
 * as the ANE does. NaN stays NaN (quiet). fp16 -> fp32 is exact; the `_flush` variants also
 * flush subnormal fp16 inputs to zero (how the ANE reads its inputs).
 *
 * The array forms pick AVX-512, AVX2+F16C, NEON or portable code at run time; they are
 * serial (callers split large arrays with ane_parallel_for). */
#ifndef ANE_CORE_FP16_H
#define ANE_CORE_FP16_H

#include <stddef.h>
#include <stdint.h>

uint16_t ane_fp32_to_fp16(float f);
float ane_fp16_to_fp32(uint16_t h);
/* The fp16 value nearest to f (ANE rules above), as fp32. */
float ane_round_fp16(float f);

void ane_fp32_to_fp16_n(const float *src, uint16_t *dst, size_t n);
void ane_fp16_to_fp32_n(const uint16_t *src, float *dst, size_t n);
/* fp16 -> fp32 with fp16 subnormals read as (signed) zero. */
void ane_fp16_to_fp32_flush_n(const uint16_t *src, float *dst, size_t n);
/* dst[i] = ane_round_fp16(src[i]); dst may equal src. */
void ane_round_fp16_n(const float *src, float *dst, size_t n);

/* The name of the SIMD code path in use: "avx512f", "avx2+f16c", "neon" or "generic". */
const char *ane_fp16_simd_name(void);

#endif
