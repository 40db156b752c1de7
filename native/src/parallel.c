/*
 * A small pool of worker threads for the kernels' own loops (OpenBLAS has its pool for sgemm).
 * A range is cut into one contiguous part per thread; the calling thread runs the first part and
 * waits for the others. Idle workers sleep on a condition variable rather than spin, so they never
 * compete with the main thread or OpenBLAS for the cores. One job at a time: a second caller (another
 * Node thread) finding the pool busy runs its range alone.
 */
#include <pthread.h>
#include <stdlib.h>

#include "kernels.h"

#define MAX_POOL 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;
static int wanted = 1;  /* threads a job is cut for, the caller included */
static int started = 0; /* worker threads alive */
static unsigned long generation = 0;
static int parts = 0, remaining = 0;
static hn_range_fn job_fn;
static void *job_ctx;
static int64_t job_n;

static void part_range(int part, int of, int64_t n, int64_t *begin, int64_t *end) {
  *begin = n * part / of;
  *end = n * (part + 1) / of;
}

static void *worker(void *arg) {
  const int index = (int)(intptr_t)arg; /* 1..started */
  unsigned long seen = 0;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (generation == seen) pthread_cond_wait(&wake, &lock);
    seen = generation;
    if (index >= parts) continue;
    const hn_range_fn fn = job_fn;
    void *ctx = job_ctx;
    int64_t begin, end;
    part_range(index, parts, job_n, &begin, &end);
    pthread_mutex_unlock(&lock);
    fn(ctx, index, begin, end);
    pthread_mutex_lock(&lock);
    if (--remaining == 0) pthread_cond_signal(&done);
  }
  return NULL;
}

void hn_pool_threads(int n) {
  pthread_mutex_lock(&lock);
  wanted = n < 1 ? 1 : (n > MAX_POOL ? MAX_POOL : n);
  while (started < wanted - 1) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, worker, (void *)(intptr_t)(started + 1)) != 0) {
      pthread_attr_destroy(&attr);
      wanted = started + 1; /* run with what exists */
      break;
    }
    pthread_attr_destroy(&attr);
    started++;
  }
  pthread_mutex_unlock(&lock);
}

void hn_parallel_for(int64_t n, int64_t grain, hn_range_fn fn, void *ctx) {
  if (n <= 0) return;
  int of = wanted;
  if (grain > 0 && n / grain < of) of = (int)(n / grain);
  if (of <= 1 || pthread_mutex_trylock(&busy) != 0) {
    fn(ctx, 0, 0, n);
    return;
  }
  pthread_mutex_lock(&lock);
  job_fn = fn;
  job_ctx = ctx;
  job_n = n;
  parts = of;
  remaining = of - 1;
  generation++;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);
  int64_t begin, end;
  part_range(0, of, n, &begin, &end);
  fn(ctx, 0, begin, end);
  pthread_mutex_lock(&lock);
  while (remaining > 0) pthread_cond_wait(&done, &lock);
  pthread_mutex_unlock(&lock);
  pthread_mutex_unlock(&busy);
}

int hn_pool_size(void) { return wanted; }
