/* threads.c — a persistent worker pool (threads.h).
 *
 * Workers are created once, on first use. Between jobs a worker first spins for a short while
 * (SPIN_NS) watching for the next job, then sleeps on a condition variable: a training step
 * runs thousands of jobs back to back with gaps of microseconds, and waking a sleeping thread
 * costs tens of microseconds on the critical path each time. The caller likewise spins briefly
 * before sleeping while it waits for the workers to finish.
 * A job is a range [0, n) cut into chunks; the caller and the workers take chunks from an
 * atomic counter until none is left, and the caller waits until every worker it woke has
 * finished (so every chunk is done).
 * One job runs at a time: a parallel_for called from inside a chunk (nesting), or from a
 * second thread while a job runs, runs serially on its caller, which is always correct. */
#include "platform.h"
#include "threads.h"
#include <stdatomic.h>

#define MAX_THREADS 256
#define SPIN_NS 100000      /* 100 us: longer than the gaps inside a step, short next to a pause */

typedef struct job {
    ane_range_fn fn;
    void *ctx;
    int64_t n, chunk, n_chunks;
    atomic_llong next;        /* next chunk to take */
} job;

static struct {
    pthread_mutex_t lock;     /* guards everything below except the job's atomics */
    pthread_cond_t wake;      /* workers wait here for a new generation */
    pthread_cond_t finished;  /* the caller waits here for left == active */
    atomic_flag busy;         /* set by the one caller running a job */
    uint32_t n_workers;       /* created so far (they never exit) */
    uint32_t active;          /* workers taking part in the current job */
    atomic_ullong left;       /* of those, how many have finished with it (written under the lock,
                               * read by the spinning caller without it) */
    atomic_ullong generation; /* bumped for each job (likewise) */
    job *current;
    uint32_t wanted;          /* threads requested (caller included); 0 = default */
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
           ATOMIC_FLAG_INIT, 0, 0, 0, 0, NULL, 0 };

static _Thread_local int inside_job;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(ANE_CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("isb" ::: "memory");
#endif
}

/* Spin, without the lock, until (*x == v) == equal, or SPIN_NS pass. */
static void spin_until(atomic_ullong *x, uint64_t v, int equal)
{
    uint64_t deadline = now_ns() + SPIN_NS;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if ((atomic_load_explicit(x, memory_order_acquire) == v) == equal) return;
            cpu_relax();
        }
        if (now_ns() > deadline) return;
    }
}

static void run_chunks(job *j)
{
    for (;;) {
        int64_t c = atomic_fetch_add(&j->next, 1);
        if (c >= j->n_chunks) break;
        int64_t b = c * j->chunk, e = b + j->chunk;
        if (e > j->n) e = j->n;
        j->fn(j->ctx, b, e);
    }
}

static void *worker_main(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;     /* 1-based: the caller is thread 0 */
    uint64_t seen = 0;
    inside_job = 1;                             /* a chunk's own parallel_for runs serially */
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        if (pool.generation == seen) {
            pthread_mutex_unlock(&pool.lock);
            spin_until(&pool.generation, seen, 0);
            pthread_mutex_lock(&pool.lock);
        }
        while (pool.generation == seen || id > pool.active) {
            if (pool.generation != seen) seen = pool.generation;   /* a job not for us */
            pthread_cond_wait(&pool.wake, &pool.lock);
        }
        seen = pool.generation;
        job *j = pool.current;
        pthread_mutex_unlock(&pool.lock);
        run_chunks(j);
        pthread_mutex_lock(&pool.lock);
        /* The job lives on the caller's stack: the caller returns only after every worker
         * that saw it has checked out here. */
        if (++pool.left == pool.active) pthread_cond_signal(&pool.finished);
    }
    return NULL;
}

static uint32_t default_threads(void)
{
    long n = sysconf(ANE_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    return (uint32_t)n;
}

uint32_t ane_threads_count(void)
{
    pthread_mutex_lock(&pool.lock);
    uint32_t n = pool.wanted ? pool.wanted : default_threads();
    pthread_mutex_unlock(&pool.lock);
    return n;
}

void ane_threads_set(uint32_t n)
{
    if (n > MAX_THREADS) n = MAX_THREADS;
    pthread_mutex_lock(&pool.lock);
    pool.wanted = n;
    pthread_mutex_unlock(&pool.lock);
}

/* Make sure `workers` worker threads exist; returns how many do (creation may fail). */
static uint32_t ensure_workers(uint32_t workers)
{
    while (pool.n_workers < workers) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker_main, (void *)(uintptr_t)(pool.n_workers + 1)) != 0)
            break;
        pool.n_workers++;   /* detached in effect: workers live as long as the process */
    }
    return pool.n_workers < workers ? pool.n_workers : workers;
}

void ane_parallel_for(int64_t n, int64_t grain, ane_range_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    uint32_t threads = ane_threads_count();
    int64_t max_chunks = (n + grain - 1) / grain;
    if (threads <= 1 || max_chunks <= 1 || inside_job || atomic_flag_test_and_set(&pool.busy)) {
        fn(ctx, 0, n);
        return;
    }
    /* A few chunks per thread balances uneven chunks without much counter traffic. */
    int64_t n_chunks = (int64_t)threads * 4;
    if (n_chunks > max_chunks) n_chunks = max_chunks;
    job j = { .fn = fn, .ctx = ctx, .n = n };
    j.chunk = (n + n_chunks - 1) / n_chunks;
    j.n_chunks = (n + j.chunk - 1) / j.chunk;
    atomic_init(&j.next, 0);

    pthread_mutex_lock(&pool.lock);
    uint32_t helpers = threads - 1;
    if ((int64_t)helpers > j.n_chunks - 1) helpers = (uint32_t)(j.n_chunks - 1);
    helpers = ensure_workers(helpers);
    pool.active = helpers;
    pool.left = 0;
    pool.current = &j;
    pool.generation++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    inside_job = 1;
    run_chunks(&j);
    inside_job = 0;

    spin_until(&pool.left, helpers, 1);
    pthread_mutex_lock(&pool.lock);
    while (pool.left < pool.active) pthread_cond_wait(&pool.finished, &pool.lock);
    pool.current = NULL;
    pool.active = 0;
    pthread_mutex_unlock(&pool.lock);
    atomic_flag_clear(&pool.busy);
}
