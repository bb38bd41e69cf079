/* gemm.c — the public sgemm (row-major, BLAS-style alpha/beta) on the cpu backend's packed
 * gemm, and the background queue that runs weight-gradient matmuls while the device (or the
 * calling thread) works on the next kernel.
 *
 * The queue is one worker thread taking jobs in submission order; each job's gemm still
 * splits across libane's pool when the pool is free (threads.h runs it serially otherwise). */
#include "../core/platform.h"
#include "../core/error.h"
#include "../cpu/gemm.h"

typedef struct sgemm_job {
    uint32_t ta, tb;
    uint64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
    uint64_t lda, ldb, ldc;
} sgemm_job;

static ane_status check_job(const char *fn, const sgemm_job *j)
{
    if (!j->A || !j->B || !j->C) return ane_fail(ANE_ERR_INVALID_ARG, "%s: A, B and C must not be NULL", fn);
    if (j->ta > 1 || j->tb > 1) return ane_fail(ANE_ERR_INVALID_ARG, "%s: trans flags must be ANE_NO_TRANS or ANE_TRANS", fn);
    uint64_t a_cols = j->ta ? j->M : j->K, b_cols = j->tb ? j->K : j->N;
    if (j->lda < a_cols || j->ldb < b_cols || j->ldc < j->N)
        return ane_fail(ANE_ERR_INVALID_ARG, "%s: leading dimensions too small (lda %llu < %llu, ldb %llu < %llu or ldc %llu < %llu)",
                        fn, (unsigned long long)j->lda, (unsigned long long)a_cols, (unsigned long long)j->ldb,
                        (unsigned long long)b_cols, (unsigned long long)j->ldc, (unsigned long long)j->N);
    return ANE_OK;
}

/* The product before alpha/beta are applied, kept per thread and grown only: the weight
 * gradients (beta = 1) come back every micro-step at the same few sizes. */
static _Thread_local float *product_buf;
static _Thread_local size_t product_cap;

static float *product_scratch(size_t floats)
{
    if (product_cap < floats) {
        free(product_buf);
        product_buf = malloc(floats * sizeof(float));
        product_cap = product_buf ? floats : 0;
    }
    return product_buf;
}

static ane_status run_job(const sgemm_job *j)
{
    if (!j->M || !j->N) return ANE_OK;
    /* op(A)[i,p]: row-major A is [M,K] (stride lda) or, transposed, [K,M]. */
    cpu_gemm_args g = {.m = (int64_t)j->M, .n = (int64_t)j->N, .k = (int64_t)j->K};
    g.a = j->A; g.a_rs = j->ta ? 1 : (int64_t)j->lda; g.a_cs = j->ta ? (int64_t)j->lda : 1;
    g.b = j->B; g.b_rs = j->tb ? 1 : (int64_t)j->ldb; g.b_cs = j->tb ? (int64_t)j->ldb : 1;
    /* alpha = 1 writes (beta = 0) or adds (beta = 1) the product straight into C; other
     * alpha/beta go through a temporary. With K in one k block (K <= 256, the weight
     * gradients) adding in place is bit-identical to fl(product + C); for longer K the old C
     * joins the sum after the first block (still one fixed order, whatever the threads). */
    const int direct = j->alpha == 1.0f && (j->beta == 0.0f || j->beta == 1.0f);
    float *tmp = NULL;
    if (direct) { g.c = j->C; g.c_rs = (int64_t)j->ldc; }
    else {
        tmp = product_scratch(j->M * j->N);
        if (!tmp) return ane_fail(ANE_ERR_NO_MEMORY, "ane_sgemm: out of memory for a %llux%llu result", (unsigned long long)j->M, (unsigned long long)j->N);
        g.c = tmp; g.c_rs = (int64_t)j->N;
    }
    if (direct && j->beta == 1.0f) {
        if (cpu_gemm_accumulate(&g) != 0)
            return ane_fail(ANE_ERR_NO_MEMORY, "ane_sgemm: out of memory for packing buffers");
    } else if (j->K == 0) {
        for (uint64_t i = 0; i < j->M; i++) memset(g.c + i * (uint64_t)g.c_rs, 0, j->N * sizeof(float));
    } else if (cpu_gemm(&g) != 0) {
        return ane_fail(ANE_ERR_NO_MEMORY, "ane_sgemm: out of memory for packing buffers");
    }
    if (!direct) {
        for (uint64_t i = 0; i < j->M; i++) {
            float *c = j->C + i * j->ldc;
            const float *t = tmp + i * j->N;
            if (j->beta == 0.0f) for (uint64_t n = 0; n < j->N; n++) c[n] = j->alpha * t[n];
            else for (uint64_t n = 0; n < j->N; n++) c[n] = j->alpha * t[n] + j->beta * c[n];
        }
    }
    return ANE_OK;
}

ANE_API ane_status ane_sgemm(uint32_t trans_a, uint32_t trans_b, uint64_t M, uint64_t N, uint64_t K,
                             float alpha, const float *A, uint64_t lda, const float *B, uint64_t ldb,
                             float beta, float *C, uint64_t ldc)
{
    sgemm_job j = {trans_a, trans_b, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc};
    ane_status st = check_job("ane_sgemm", &j);
    return st ? st : run_job(&j);
}

/* ---------------------------------------------------------------- the background queue */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work, idle;
    sgemm_job *jobs;
    size_t head, tail, cap;     /* ring buffer: [head, tail) pending */
    int running;                /* the worker is executing a job */
    int started;
    ane_status first_error;
    char error_text[512];
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
       NULL, 0, 0, 0, 0, 0, ANE_OK, {0}};

static void *queue_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&q.lock);
    for (;;) {
        while (q.head == q.tail) pthread_cond_wait(&q.work, &q.lock);
        sgemm_job j = q.jobs[q.head % q.cap];
        q.head++;
        q.running = 1;
        pthread_mutex_unlock(&q.lock);
        ane_status st = run_job(&j);
        pthread_mutex_lock(&q.lock);
        if (st && !q.first_error) {
            q.first_error = st;
            snprintf(q.error_text, sizeof q.error_text, "%s", ane_last_error());
        }
        q.running = 0;
        if (q.head == q.tail) pthread_cond_broadcast(&q.idle);
    }
    return NULL;
}

ANE_API ane_status ane_sgemm_async(uint32_t trans_a, uint32_t trans_b, uint64_t M, uint64_t N,
                                   uint64_t K, float alpha, const float *A, uint64_t lda,
                                   const float *B, uint64_t ldb, float beta, float *C, uint64_t ldc)
{
    sgemm_job j = {trans_a, trans_b, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc};
    ane_status st = check_job("ane_sgemm_async", &j);
    if (st) return st;
    pthread_mutex_lock(&q.lock);
    if (!q.started) {
        pthread_t t;
        if (pthread_create(&t, NULL, queue_main, NULL) != 0) {
            pthread_mutex_unlock(&q.lock);
            return ane_fail(ANE_ERR_INTERNAL, "ane_sgemm_async: could not start the background worker thread");
        }
        q.started = 1;   /* detached in effect: it lives as long as the process */
    }
    if (q.tail - q.head == q.cap) {   /* grow the ring, keeping order */
        size_t cap = q.cap ? q.cap * 2 : 64;
        sgemm_job *jobs = malloc(cap * sizeof *jobs);
        if (!jobs) { pthread_mutex_unlock(&q.lock); return ane_fail(ANE_ERR_NO_MEMORY, "ane_sgemm_async: out of memory"); }
        for (size_t i = q.head; i < q.tail; i++) jobs[i - q.head] = q.jobs[i % q.cap];
        q.tail -= q.head; q.head = 0;
        free(q.jobs);
        q.jobs = jobs; q.cap = cap;
    }
    q.jobs[q.tail % q.cap] = j;
    q.tail++;
    pthread_cond_signal(&q.work);
    pthread_mutex_unlock(&q.lock);
    return ANE_OK;
}

ANE_API ane_status ane_async_wait(uint64_t *wait_ns)
{
    struct timespec t0, t1;
    clock_gettime(ANE_CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&q.lock);
    while (q.head != q.tail || q.running) pthread_cond_wait(&q.idle, &q.lock);
    ane_status st = q.first_error;
    char text[512];
    memcpy(text, q.error_text, sizeof text);
    q.first_error = ANE_OK;
    q.error_text[0] = '\0';
    pthread_mutex_unlock(&q.lock);
    clock_gettime(ANE_CLOCK_MONOTONIC, &t1);
    if (wait_ns) *wait_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
    return st ? ane_fail(st, "a queued matmul failed: %s", text) : ANE_OK;
}
