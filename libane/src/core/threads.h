/* threads.h — libane's worker pool, shared by the cpu backend and the host ops. */
#ifndef ANE_CORE_THREADS_H
#define ANE_CORE_THREADS_H

#include <stdint.h>

/* Run fn(ctx, begin, end) over [0, n) split into chunks of at least `grain` items across the
 * pool's threads, the calling thread included; returns when every chunk is done. Nested calls
 * run serially on the calling thread. */
typedef void (*ane_range_fn)(void *ctx, int64_t begin, int64_t end);
void ane_parallel_for(int64_t n, int64_t grain, ane_range_fn fn, void *ctx);

uint32_t ane_threads_count(void);      /* threads used, the caller included */
void ane_threads_set(uint32_t n);      /* 0 = default (online CPUs) */

#endif
