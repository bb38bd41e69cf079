/* strided.h — walking up to four same-shaped strided views together, row by row.
 *
 * Axes that can be walked as one (size-1 axes, or neighbours whose strides chain for every
 * operand) are merged, so a contiguous tensor becomes a single row and the inner loops
 * stay long and vectorisable. Rows are independent: kernels split them across threads. */
#ifndef ANE_CPU_STRIDED_H
#define ANE_CPU_STRIDED_H

#include <stdint.h>
#include "plan.h"

#define CPU_ND_MAX_OPERANDS 4

typedef struct cpu_nd {
    int rank, n_operands;
    int64_t shape[CPU_MAX_RANK];
    int64_t stride[CPU_ND_MAX_OPERANDS][CPU_MAX_RANK];
    int64_t outer, inner;     /* rows, and elements per row (the last merged axis) */
} cpu_nd;

void cpu_nd_setup(cpu_nd *it, int rank, const int64_t *shape, int n_operands, const int64_t *const *strides);
/* Element offsets of row `row` (0..outer) for every operand. */
void cpu_nd_row_offsets(const cpu_nd *it, int64_t row, int64_t *offsets);
/* Rows per parallel chunk so a chunk is worth a thread hand-off. */
int64_t cpu_nd_grain(const cpu_nd *it);

#endif
