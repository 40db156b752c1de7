/*
 * Batch assembly: rows of a byte image set copied into a float32 batch scaled to [0, 1], in parallel
 * over rows. The scale is a table of i / 255 computed in double and rounded to float, so the values
 * are bit for bit those of the JavaScript path (core/data/corpus.ts gatherBatch).
 */
#include <pthread.h>

#include "kernels.h"

/* Rows per part at least: below this the pool's wake-up costs more than the copy. */
#define GATHER_GRAIN_VALUES 32768

typedef struct {
  const uint8_t *src;
  const uint32_t *indices;
  int64_t row;
  float *out;
  const float *scale;
} gather_job;

static void gather_part(void *ctx, int part, int64_t r0, int64_t r1) {
  (void)part;
  const gather_job *j = ctx;
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *s = j->src + (int64_t)j->indices[r] * j->row;
    float *o = j->out + r * j->row;
    for (int64_t k = 0; k < j->row; k++) o[k] = j->scale[s[k]];
  }
}

static float scale[256];
static pthread_once_t scale_once = PTHREAD_ONCE_INIT;

static void fill_scale(void) {
  for (int i = 0; i < 256; i++) scale[i] = (float)((double)i / 255.0);
}

void hn_gather_bytes(const uint8_t *src, const uint32_t *indices, int64_t rows, int64_t row, float *out) {
  /* Once per process, whichever Node thread (the training thread, a decode thread) gathers first. */
  pthread_once(&scale_once, fill_scale);
  gather_job j = {src, indices, row, out, scale};
  const int64_t grain = row >= GATHER_GRAIN_VALUES ? 1 : GATHER_GRAIN_VALUES / (row > 0 ? row : 1);
  hn_parallel_for(rows, grain, gather_part, &j);
}
