/* gemm.c — the blocked, packed, multithreaded driver around the micro-kernels.
 *
 * Loop nest (GotoBLAS, with the k blocks inside the tasks): k is cut into blocks of KC, and
 * consecutive blocks into passes of at most PASS_FLOATS of packed B. Each pass is one parallel
 * pass over tasks (a block of rows of C x a range of column panels). For each k block of the
 * pass, in order, a task packs its rows of A[.., kc] into panels of mr rows ([kc][mr] each,
 * zero-padded, kept in L2), then for each B panel of nr columns ([kc][nr], kept in L1) runs
 * the micro-kernel over every A panel; its C tile stays in L2 from one k block to the next.
 * B panels are packed lazily, by whichever thread needs one first (an atomic claim per
 * panel and k block), so packing B needs no pass and no barrier of its own: with 2 threads
 * a gemm is one pool hand-off per pass (the kernels' projections, k up to 4096 at 256
 * columns, are one pass), and a thread the OS delays holds up nobody.
 * Later k blocks accumulate into C; the last one also rounds C to fp16 when asked, while
 * the tile is still in cache. Every C element sums its k terms in the same order whatever
 * the thread count or task order, so results are deterministic. */
#include "../core/platform.h"
#include "../core/threads.h"
#include "../core/fp16.h"
#include "gemm.h"
#include <stdatomic.h>

/* Block sizes, tuned on the training shapes (K = 256 weight gradients, 768/2048-wide
 * projections, the 32000-row classifier) with 2 threads on AVX-512: */
#define KC 256          /* depth of a block: a 256 x 32 B panel (32 KiB) stays in a 48 KiB L1 */
#define MC_PANELS 8     /* A panels per task at most (12 x 256 x 8 floats = 96 KiB, in L2) */
#define NC 4096         /* columns of B packed at once */
#define PASS_FLOATS (1 << 20)  /* packed B per pass at most (4 MiB, in L3): one barrier per pass,
                                * where one per k block left a thread idle at each */
#define TASKS_PER_THREAD 4  /* tasks per thread at least: 256 rows as 3 row blocks kept one of
                             * 2 threads idle much of the time; as 4 row blocks x 2 column
                             * ranges the 256-row training products ran 5-20% faster */

enum { PANEL_EMPTY, PANEL_PACKING, PANEL_READY };

typedef struct gemm_ctx {
    const cpu_gemm_args *g;
    const cpu_gemm_kernel *kern;
    int64_t jc;                    /* the current columns of B and C: [jc, jc + NC) and up to n */
    int64_t pc0, n_kb;             /* the current pass: n_kb k blocks from row pc0 of B */
    float *bpack;                  /* k block b's panel jp (kc*nr floats) at (b*n_panels + jp)*KC*nr */
    atomic_int *panel_state;       /* [b*n_panels + jp]: PANEL_EMPTY, _PACKING or _READY */
    int64_t n_panels;              /* column panels from jc */
    int64_t m_blocks, rows_per_block, n_splits, panels_per_split;
    int accumulate_c;              /* add the product to C instead of overwriting it */
    int failed;                    /* a task could not allocate its A buffer */
} gemm_ctx;

/* One k block of the current pass: B rows and A columns [pc, pc+kc). */
typedef struct kblock {
    int64_t b, pc, kc;
    int last;                      /* the last k block of the product: round now */
} kblock;

static kblock kblock_at(const gemm_ctx *x, int64_t b)
{
    kblock kb = { .b = b, .pc = x->pc0 + b * KC };
    kb.kc = x->g->k - kb.pc < KC ? x->g->k - kb.pc : KC;
    kb.last = kb.pc + kb.kc >= x->g->k;
    return kb;
}

/* Packing buffers are kept per thread and only grow: a training step runs thousands of
 * gemms of a few shapes, and a fresh malloc of this size is an mmap whose pages fault in on
 * every call. Slot 0 holds B panels and slot 2 their states (the calling thread), slot 1 A
 * panels (every thread). */
enum { SCRATCH_B, SCRATCH_A, SCRATCH_STATE, N_SCRATCH };
static _Thread_local void *scratch_buf[N_SCRATCH];
static _Thread_local size_t scratch_cap[N_SCRATCH];

static void *scratch(int slot, size_t bytes)
{
    if (scratch_cap[slot] < bytes) {
        free(scratch_buf[slot]);
        scratch_buf[slot] = malloc(bytes);
        scratch_cap[slot] = scratch_buf[slot] ? bytes : 0;
    }
    return scratch_buf[slot];
}

/* Column panel jp of B[pc:pc+kc, jc:] into x->bpack. */
static void pack_b(gemm_ctx *x, const kblock *kb, int64_t jp)
{
    const cpu_gemm_args *g = x->g;
    int nr = x->kern->nr;
    int64_t pc = kb->pc, kc = kb->kc;
    float *dst = x->bpack + (kb->b * x->n_panels + jp) * KC * nr;
    int64_t j0 = x->jc + jp * nr;
    int64_t cols = g->n - j0 < nr ? g->n - j0 : nr;
    if (g->b_rs == 1 && g->b_cs != 1) {
        /* B is a transposed view (column j contiguous in memory): read each column
         * as one contiguous run, write it down the panel at stride nr. */
        if (x->kern->pack_transposed) {
            x->kern->pack_transposed(kc, cols, nr, g->b + pc + j0 * g->b_cs, g->b_cs, dst);
            return;
        }
        for (int64_t j = 0; j < cols; j++) {
            const float *src = g->b + pc + (j0 + j) * g->b_cs;
            for (int64_t p = 0; p < kc; p++) dst[p * nr + j] = src[p];
        }
        for (int64_t p = 0; p < kc; p++)
            for (int64_t j = cols; j < nr; j++) dst[p * nr + j] = 0.0f;
        return;
    }
    if (g->b_cs == 1 && x->kern->pack_copy) {   /* B row-major: each k row is one run */
        x->kern->pack_copy(kc, cols, nr, g->b + pc * g->b_rs + j0, g->b_rs, dst);
        return;
    }
    for (int64_t p = 0; p < kc; p++) {
        const float *src = g->b + (pc + p) * g->b_rs + j0 * g->b_cs;
        float *d = dst + p * nr;
        if (g->b_cs == 1) {
            for (int64_t j = 0; j < cols; j++) d[j] = src[j];
        } else {
            for (int64_t j = 0; j < cols; j++) d[j] = src[j * g->b_cs];
        }
        for (int64_t j = cols; j < nr; j++) d[j] = 0.0f;
    }
}

/* Rows [i0, i0+rows) of A[:, pc:pc+kc] into panels of mr: panel q holds, for each p, the mr
 * values A[i0 + q*mr + r, pc + p]. */
static void pack_a(const gemm_ctx *x, const kblock *kb, int64_t i0, int64_t rows, float *dst)
{
    int64_t pc = kb->pc, kc = kb->kc;
    const cpu_gemm_args *g = x->g;
    int mr = x->kern->mr;
    if (g->a_rs == 1 && x->kern->pack_copy) {   /* A column-major: each k column is one run */
        x->kern->pack_copy(kc, rows, mr, g->a + i0 + pc * g->a_cs, g->a_cs, dst);
        return;
    }
    for (int64_t q = 0; q * mr < rows; q++) {
        int64_t r_valid = rows - q * mr < mr ? rows - q * mr : mr;
        const float *src = g->a + (i0 + q * mr) * g->a_rs + pc * g->a_cs;
        float *d = dst + q * kc * mr;
        if (g->a_rs == 1) {                 /* A is column-major here (a transposed view) */
            for (int64_t p = 0; p < kc; p++) {
                const float *s = src + p * g->a_cs;
                for (int64_t r = 0; r < r_valid; r++) d[p * mr + r] = s[r];
                for (int64_t r = r_valid; r < mr; r++) d[p * mr + r] = 0.0f;
            }
        } else if (g->a_cs == 1 && x->kern->pack_transposed) {   /* A row-major */
            x->kern->pack_transposed(kc, r_valid, mr, src, g->a_rs, d);
        } else if (g->a_cs == 1) {          /* A row-major: read each row as one run */
            for (int64_t r = 0; r < r_valid; r++) {
                const float *s = src + r * g->a_rs;
                for (int64_t p = 0; p < kc; p++) d[p * mr + r] = s[p];
            }
            for (int64_t p = 0; p < kc; p++)
                for (int64_t r = r_valid; r < mr; r++) d[p * mr + r] = 0.0f;
        } else {
            for (int64_t p = 0; p < kc; p++) {
                const float *s = src + p * g->a_cs;
                for (int64_t r = 0; r < r_valid; r++) d[p * mr + r] = s[r * g->a_rs];
                for (int64_t r = r_valid; r < mr; r++) d[p * mr + r] = 0.0f;
            }
        }
    }
}

static void round_rows(float *c, int64_t ldc, int64_t rows, int64_t cols)
{
    for (int64_t i = 0; i < rows; i++) ane_round_fp16_n(c + i * ldc, c + i * ldc, (size_t)cols);
}

/* Make B panel jp ready: pack it if no thread has claimed it yet. Returns 0 (without
 * waiting) when another thread is packing it and wait is 0; with wait, spins until ready. */
static int ready_panel(gemm_ctx *x, const kblock *kb, int64_t jp, int wait)
{
    atomic_int *state = &x->panel_state[kb->b * x->n_panels + jp];
    int expected = PANEL_EMPTY;
    if (atomic_load_explicit(state, memory_order_acquire) == PANEL_READY) return 1;
    if (atomic_compare_exchange_strong(state, &expected, PANEL_PACKING)) {
        pack_b(x, kb, jp);
        atomic_store_explicit(state, PANEL_READY, memory_order_release);
        return 1;
    }
    if (!wait) return 0;
    while (atomic_load_explicit(state, memory_order_acquire) != PANEL_READY) { }
    return 1;
}

/* C[i0:i0+rows, panel jp] (+)= packed A rows x packed B panel jp, one micro-tile at a time. */
static void panel_times_a(const gemm_ctx *x, const kblock *kb, int64_t jp, int64_t i0, int64_t rows,
                          const float *apack, float *tile, int accumulate)
{
    const cpu_gemm_args *g = x->g;
    const cpu_gemm_kernel *k = x->kern;
    int mr = k->mr, nr = k->nr;
    const float *bp = x->bpack + (kb->b * x->n_panels + jp) * KC * nr;
    int64_t j0 = x->jc + jp * nr;
    int64_t cols = g->n - j0 < nr ? g->n - j0 : nr;
    for (int64_t q = 0; q * mr < rows; q++) {
        const float *ap = apack + q * kb->kc * mr;
        int64_t r_valid = rows - q * mr < mr ? rows - q * mr : mr;
        float *c = g->c + (i0 + q * mr) * g->c_rs + j0;
        int short_panel = r_valid <= k->short_rows;     /* mostly padding */
        void (*run)(int64_t, const float *, const float *, float *, int64_t, int) =
            short_panel ? k->run_short : k->run;
        if (r_valid == (short_panel ? k->short_rows : mr) && cols == nr) {
            run(kb->kc, ap, bp, c, g->c_rs, accumulate);
        } else {
            run(kb->kc, ap, bp, tile, nr, 0);
            for (int64_t r = 0; r < r_valid; r++)
                for (int64_t j = 0; j < cols; j++)
                    c[r * g->c_rs + j] = (accumulate ? c[r * g->c_rs + j] : 0.0f) + tile[r * nr + j];
        }
        if (kb->last && g->round_fp16) round_rows(c, g->c_rs, r_valid, cols);
    }
}

/* Requests part `part` of `parts` of the source of A[rows of row block mb, k block kb] into L2,
 * when A is column-major (the weights of the kernels' projections, read in place from their
 * surfaces: megabytes read once per product, a k row a surface row apart, a stride the hardware
 * prefetchers do not follow). Spread over the B panels of the block before, it brings the A block
 * this thread packs next in while the micro-kernel computes: packing cycles -10 %. (Row-major A,
 * contiguous rows, gained nothing from it.) */
static void prefetch_a(const gemm_ctx *x, int64_t mb, const kblock *kb, int64_t part, int64_t parts)
{
    const cpu_gemm_args *g = x->g;
    if (g->a_rs != 1) return;
    int64_t i0 = mb * x->rows_per_block;
    int64_t rows = g->m - i0 < x->rows_per_block ? g->m - i0 : x->rows_per_block;
    const float *first = g->a + i0 + kb->pc * g->a_cs;
    for (int64_t p = kb->kc * part / parts; p < kb->kc * (part + 1) / parts; p++)
        cpu_prefetch_run(first + p * g->a_cs, rows * (int64_t)sizeof(float));   /* k row p's run */
}

static void compute_tasks(void *vctx, int64_t begin, int64_t end)
{
    gemm_ctx *x = vctx;
    const cpu_gemm_args *g = x->g;
    int mr = x->kern->mr;
    float *apack = scratch(SCRATCH_A, (size_t)(x->rows_per_block + mr) * KC * sizeof(float));
    if (!apack) { x->failed = 1; return; }
    float tile[16 * 32];              /* edge tiles: mr*nr <= 16*32 for every kernel */
    /* The column ranges of one row block are consecutive tasks: a thread given several (a
     * chunk of them, or all when the gemm runs serially inside a batch) packs a pass of one
     * k block once. */
    int64_t packed_mb = -1, packed_b = -1;
    for (int64_t t = begin; t < end; t++) {
        int64_t mb = t / x->n_splits, ns = t % x->n_splits;
        int64_t i0 = mb * x->rows_per_block;
        int64_t rows = g->m - i0 < x->rows_per_block ? g->m - i0 : x->rows_per_block;
        int64_t jp0 = ns * x->panels_per_split;
        int64_t jp1 = jp0 + x->panels_per_split < x->n_panels ? jp0 + x->panels_per_split : x->n_panels;
        if (rows <= 0 || jp0 >= jp1) continue;
        int64_t next_mb = (t + 1) / x->n_splits;   /* the next task's row block: likely this thread's */
        for (int64_t b = 0; b < x->n_kb; b++) {
            kblock kb = kblock_at(x, b);
            if (mb != packed_mb || b != packed_b) pack_a(x, &kb, i0, rows, apack);
            packed_mb = mb; packed_b = b;
            int accumulate = kb.pc > 0 || x->accumulate_c;
            /* The A block packed next: this row block's next k block, else the next task's first. */
            int64_t pf_mb = b + 1 < x->n_kb ? mb : next_mb != mb && next_mb < x->m_blocks ? next_mb : -1;
            kblock pf = kblock_at(x, b + 1 < x->n_kb ? b + 1 : 0);
            /* Visit this task's panels starting at a point that depends on the task, so
             * threads starting together claim different B panels to pack. A panel another
             * thread is still packing is put off to a second round (its k order does not
             * depend on when it is done). */
            int64_t n_own = jp1 - jp0, start = (mb * n_own) / x->m_blocks;
            int64_t deferred[NC / 8 + 1], n_deferred = 0;
            for (int64_t v = 0; v < n_own; v++) {
                int64_t jp = jp0 + (start + v) % n_own;
                if (pf_mb >= 0) prefetch_a(x, pf_mb, &pf, v, n_own);
                if (!ready_panel(x, &kb, jp, 0)) { deferred[n_deferred++] = jp; continue; }
                panel_times_a(x, &kb, jp, i0, rows, apack, tile, accumulate);
            }
            for (int64_t d = 0; d < n_deferred; d++) {
                ready_panel(x, &kb, deferred[d], 1);
                panel_times_a(x, &kb, deferred[d], i0, rows, apack, tile, accumulate);
            }
        }
    }
}

static int gemm_run(const cpu_gemm_args *g, int accumulate_c)
{
    if (g->m <= 0 || g->n <= 0) return 0;
    if (g->k <= 0) {                  /* an empty sum */
        for (int64_t i = 0; i < g->m; i++)
            for (int64_t j = 0; j < g->n; j++) {
                float *c = &g->c[i * g->c_rs + j];
                *c = accumulate_c ? *c : 0.0f;
            }
        if (g->round_fp16) round_rows(g->c, g->c_rs, g->m, g->n);
        return 0;
    }
    gemm_ctx x = { .g = g, .kern = g->kernel ? g->kernel : cpu_gemm_best_kernel(),
                   .accumulate_c = accumulate_c };
    int mr = x.kern->mr, nr = x.kern->nr;

    /* Work split: row blocks of whole A panels, at most MC_PANELS each and balanced in size.
     * Tasks are handed out one at a time, so with several per thread a thread the OS delays
     * or wakes late holds up nobody; when row blocks alone make fewer than TASKS_PER_THREAD
     * per thread, their number is rounded up to a multiple of the threads and the column
     * panels are split too (each split re-packs its A block, a small cost next to B).
     * Tiny products run serially. */
    int64_t threads = ane_threads_count();
    double flops = 2.0 * (double)g->m * (double)g->n * (double)g->k;
    if (flops < 4e6) threads = 1;
    int64_t m_panels = (g->m + mr - 1) / mr;
    int64_t tasks_wanted = threads > 1 ? TASKS_PER_THREAD * threads : 1;
    x.m_blocks = (m_panels + MC_PANELS - 1) / MC_PANELS;
    if (x.m_blocks < tasks_wanted) x.m_blocks = (x.m_blocks + threads - 1) / threads * threads;
    if (x.m_blocks > m_panels) x.m_blocks = m_panels;
    x.rows_per_block = ((m_panels + x.m_blocks - 1) / x.m_blocks) * mr;
    x.m_blocks = (g->m + x.rows_per_block - 1) / x.rows_per_block;

    /* k blocks per pass: as many as PASS_FLOATS of packed B hold, at least one. */
    int64_t panels_max = ((g->n < NC ? g->n : NC) + nr - 1) / nr;
    int64_t k_blocks = (g->k + KC - 1) / KC;
    int64_t pass_blocks = PASS_FLOATS / (panels_max * nr * KC);
    if (pass_blocks < 1) pass_blocks = 1;
    if (pass_blocks > k_blocks) pass_blocks = k_blocks;
    x.bpack = scratch(SCRATCH_B, (size_t)(pass_blocks * panels_max * nr * KC) * sizeof(float));
    x.panel_state = scratch(SCRATCH_STATE, (size_t)(pass_blocks * panels_max) * sizeof(atomic_int));
    if (!x.bpack || !x.panel_state) return -1;

    for (x.jc = 0; x.jc < g->n; x.jc += NC) {
        int64_t nc = g->n - x.jc < NC ? g->n - x.jc : NC;
        x.n_panels = (nc + nr - 1) / nr;
        x.n_splits = x.m_blocks >= tasks_wanted ? 1 : (tasks_wanted + x.m_blocks - 1) / x.m_blocks;
        if (x.n_splits > x.n_panels) x.n_splits = x.n_panels;
        x.panels_per_split = (x.n_panels + x.n_splits - 1) / x.n_splits;
        for (x.pc0 = 0; x.pc0 < g->k; x.pc0 += pass_blocks * KC) {
            x.n_kb = (g->k - x.pc0 + KC - 1) / KC < pass_blocks ? (g->k - x.pc0 + KC - 1) / KC : pass_blocks;
            for (int64_t i = 0; i < x.n_kb * x.n_panels; i++) atomic_init(&x.panel_state[i], PANEL_EMPTY);
            int64_t tasks = x.m_blocks * x.n_splits;
            if (threads > 1) ane_parallel_for(tasks, 1, compute_tasks, &x);
            else compute_tasks(&x, 0, tasks);
            if (x.failed) return -1;
        }
    }
    return 0;
}

int cpu_gemm(const cpu_gemm_args *g) { return gemm_run(g, 0); }
int cpu_gemm_accumulate(const cpu_gemm_args *g) { return gemm_run(g, 1); }
