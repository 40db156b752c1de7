/* Reductions over one contiguous run of axes: x is [outer, mid, inner], reduced over mid. */
#include <math.h>
#include <stdlib.h>

#include "kernels.h"

/* One reduction: x [outer, mid, inner] over mid; sums accumulate in double, as tfjs's JavaScript
 * kernels do, so results agree to float rounding. */
typedef struct {
  int op;
  const float *x;
  float *out;
  int64_t outer, mid, inner;
  double scale;
} reduction;

/* Rows [o0, o1) of an inner == 1 reduction. */
static void rows_part(void *ctx, int part, int64_t o0, int64_t o1) {
  (void)part;
  const reduction *r = ctx;
  for (int64_t o = o0; o < o1; o++) {
    const float *row = r->x + o * r->mid;
    if (r->op == HN_R_SUM || r->op == HN_R_MEAN) {
      double s = 0.0;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < r->mid; j++) s += row[j];
      r->out[o] = (float)(s * r->scale);
    } else {
      const int want_max = r->op == HN_R_MAX;
      float best = row[0];
      for (int64_t j = 1; j < r->mid; j++) {
        const float v = row[j];
        /* tfjs keeps a NaN once seen; otherwise strict comparison keeps the first extreme. */
        if (v != v || (want_max ? v > best : v < best)) best = v;
      }
      r->out[o] = best;
    }
  }
}

/* Columns [i0, i1) of every outer block of an inner > 1 reduction. */
static void columns_part(void *ctx, int part, int64_t i0, int64_t i1) {
  (void)part;
  const reduction *r = ctx;
  const int64_t w = i1 - i0;
  double *acc = malloc((size_t)w * sizeof(double));
  if (!acc) return;
  for (int64_t o = 0; o < r->outer; o++) {
    const float *block = r->x + o * r->mid * r->inner + i0;
    float *dst = r->out + o * r->inner + i0;
    if (r->op == HN_R_SUM || r->op == HN_R_MEAN) {
      for (int64_t i = 0; i < w; i++) acc[i] = 0.0;
      for (int64_t j = 0; j < r->mid; j++) {
        const float *row = block + j * r->inner;
#pragma omp simd
        for (int64_t i = 0; i < w; i++) acc[i] += row[i];
      }
      for (int64_t i = 0; i < w; i++) dst[i] = (float)(acc[i] * r->scale);
    } else {
      const int want_max = r->op == HN_R_MAX;
      for (int64_t i = 0; i < w; i++) dst[i] = block[i];
      for (int64_t j = 1; j < r->mid; j++) {
        const float *row = block + j * r->inner;
        for (int64_t i = 0; i < w; i++) {
          const float v = row[i];
          if (v != v || (want_max ? v > dst[i] : v < dst[i])) dst[i] = v;
        }
      }
    }
  }
  free(acc);
}

/* Inputs per part below which splitting the work costs more than it saves. */
#define GRAIN 32768

void hn_reduce(int op, const float *x, float *out, int64_t outer, int64_t mid, int64_t inner) {
  if (outer == 0 || inner == 0) return;
  if (mid == 0) {
    /* Only reached with outer * inner > 0 and an empty axis: tfjs's conventions are the caller's. */
    for (int64_t i = 0; i < outer * inner; i++) out[i] = op == HN_R_MAX ? -INFINITY : (op == HN_R_MIN ? INFINITY : 0.f);
    return;
  }
  reduction r = {op, x, out, outer, mid, inner, op == HN_R_MEAN ? 1.0 / (double)mid : 1.0};
  if (inner == 1)
    hn_parallel_for(outer, (GRAIN + mid - 1) / mid, rows_part, &r);
  else
    hn_parallel_for(inner, (GRAIN + outer * mid - 1) / (outer * mid), columns_part, &r);
}
