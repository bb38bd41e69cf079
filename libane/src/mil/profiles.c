/* profiles.c — the chip profiles: what each ANE generation's compiler accepts, as numbers.
 *
 * The rules themselves (which ops and forms each chip rejects) live in rules.c; this file
 * holds the per-chip facts that the API layer needs too: dialects, the I/O layout
 * alignment, the compile budget and the peak throughput used for utilization figures.
 * Sources are the two reference reports (reference/ane-maderix.md, ane-ecosystem.md);
 * docs/chip-rules.md has the full table. */
#include "../core/platform.h"
#include "rules.h"

#define DIALECT_BIT(d) (1u << (d))
#define BOTH_DIALECTS (DIALECT_BIT(MIL_DIALECT_IOS18) | DIALECT_BIT(MIL_DIALECT_IOS16))

/* Every real chip: rows of an I/O tensor start at 64-byte multiples (tmc/apple x/ane:
 * "minimum row stride is 64 bytes"; Rustane needs fp32 widths in multiples of 16 and
 * ane-bridge-rs fp16 widths in multiples of 32, i.e. 64 bytes). ~119 compiles per process
 * (maderix PR #23: 119-132 on M4; every project plans for 119). */
#define ROW_ALIGN 64u
#define COMPILE_LIMIT 119u

static const ane_chip_profile profiles[] = {
    {
        .name = "m1",
        .description = "Apple M1 family: program(1.0)/ios16 only, fp16 I/O, no cast, "
                       "one weight blob file per matrix",
        .dialects = DIALECT_BIT(MIL_DIALECT_IOS16),
        .preferred_dialect = MIL_DIALECT_IOS16,
        .row_align_bytes = ROW_ALIGN,
        .surface_align_bytes = ROW_ALIGN,
        .compile_limit = COMPILE_LIMIT,
        .peak_fp16_tflops = 0.0,
        .peak_source = "none published: inmem_peak FAILs on M1 Pro/Max (MIL compatibility), "
                       "maderix/ANE benchmarks/ANE_BENCHMARK_REPORT.md",
    },
    {
        .name = "m2",
        .description = "Apple M2 family: program(1.0)/ios16 only, fp16 I/O, no cast, "
                       "one weight blob file per matrix (same compiler rules as M1, maderix PR #6)",
        .dialects = DIALECT_BIT(MIL_DIALECT_IOS16),
        .preferred_dialect = MIL_DIALECT_IOS16,
        .row_align_bytes = ROW_ALIGN,
        .surface_align_bytes = ROW_ALIGN,
        .compile_limit = COMPILE_LIMIT,
        .peak_fp16_tflops = 0.0,
        .peak_source = "none published (no M2 result in maderix/ANE issue #3)",
    },
    {
        .name = "m3",
        .description = "Apple M3 family: both dialects; concat rejected (M3 Ultra, macOS 26.3.1)",
        .dialects = BOTH_DIALECTS,
        .preferred_dialect = MIL_DIALECT_IOS18,
        .row_align_bytes = ROW_ALIGN,
        .surface_align_bytes = ROW_ALIGN,
        .compile_limit = COMPILE_LIMIT,
        .peak_fp16_tflops = 16.77,
        .peak_source = "M3 Pro, inmem_peak conv chain at sp2048 (9.98 at sp64, 15.04 sustained "
                       "for 5 s), maderix/ANE benchmarks/ANE_BENCHMARK_REPORT.md",
    },
    {
        .name = "m4",
        .description = "Apple M4 family (ANE subtype h16): both dialects; concat disputed",
        .dialects = BOTH_DIALECTS,
        .preferred_dialect = MIL_DIALECT_IOS18,
        .row_align_bytes = ROW_ALIGN,
        .surface_align_bytes = ROW_ALIGN,
        .compile_limit = COMPILE_LIMIT,
        .peak_fp16_tflops = 18.6,
        .peak_source = "M4 (H16G), 128 chained 512-ch convs at 64x64, fp16, maderix/ANE README; "
                       "the cross-chip inmem_peak (sp64) gave 12.57 on M4 Pro and 10.93 on M4 Max",
    },
    {
        .name = "m5",
        .description = "Apple M5 family: both dialects; no exp/log/sqrt, reduce_mean fails at "
                       "dispatch, surfaces sized in 128-byte multiples",
        .dialects = BOTH_DIALECTS,
        .preferred_dialect = MIL_DIALECT_IOS18,
        .row_align_bytes = ROW_ALIGN,
        /* maderix PR #35: M5 needs IOSurface sizes rounded up to 128 bytes. */
        .surface_align_bytes = 128u,
        .compile_limit = COMPILE_LIMIT,
        .peak_fp16_tflops = 12.44,
        .peak_source = "M5, inmem_peak (12.17 / 12.44), maderix/ANE "
                       "benchmarks/ANE_BENCHMARK_REPORT.md; M5 Max reached 19.27 (issue #50)",
    },
    {
        .name = "none",
        .description = "no hardware: no chip rule and no compile budget, for developing "
                       "programs and op tests (I/O layout as on the chips)",
        .dialects = BOTH_DIALECTS,
        .preferred_dialect = MIL_DIALECT_IOS18,
        .row_align_bytes = ROW_ALIGN,
        .surface_align_bytes = ROW_ALIGN,
        .compile_limit = 0u,
        .peak_fp16_tflops = 0.0,
        .peak_source = "not a device",
    },
};

int ane_chip_profile_count(void) { return (int)(sizeof profiles / sizeof profiles[0]); }

const ane_chip_profile *ane_chip_profile_at(int i)
{
    if (i < 0 || i >= ane_chip_profile_count()) return NULL;
    return &profiles[i];
}

const ane_chip_profile *ane_chip_profile_find(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; i < ane_chip_profile_count(); i++)
        if (strcmp(profiles[i].name, name) == 0) return &profiles[i];
    return NULL;
}
