/* Reductions over one contiguous run of axes: x is [outer, mid, inner], reduced over mid. */
#include <math.h>
#include <stdlib.h>

#include "kernels.h"

/* Sums accumulate in double, as tfjs's JavaScript kernels do, so results agree to float rounding. */
static void sum_rows(const float *x, float *out, int64_t outer, int64_t mid, double scale) {
  for (int64_t o = 0; o < outer; o++) {
    const float *row = x + o * mid;
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < mid; j++) s += row[j];
    out[o] = (float)(s * scale);
  }
}

static void sum_columns(const float *x, float *out, int64_t outer, int64_t mid, int64_t inner, double scale) {
  double *acc = malloc((size_t)inner * sizeof(double));
  if (!acc) return;
  for (int64_t o = 0; o < outer; o++) {
    const float *block = x + o * mid * inner;
    for (int64_t i = 0; i < inner; i++) acc[i] = 0.0;
    for (int64_t j = 0; j < mid; j++) {
      const float *row = block + j * inner;
#pragma omp simd
      for (int64_t i = 0; i < inner; i++) acc[i] += row[i];
    }
    float *dst = out + o * inner;
    for (int64_t i = 0; i < inner; i++) dst[i] = (float)(acc[i] * scale);
  }
  free(acc);
}

/* tfjs keeps a NaN once seen; otherwise strict comparison keeps the first extreme. */
static void extreme(const float *x, float *out, int64_t outer, int64_t mid, int64_t inner, int want_max) {
  for (int64_t o = 0; o < outer; o++) {
    const float *block = x + o * mid * inner;
    float *dst = out + o * inner;
    for (int64_t i = 0; i < inner; i++) dst[i] = mid > 0 ? block[i] : (want_max ? -INFINITY : INFINITY);
    for (int64_t j = 1; j < mid; j++) {
      const float *row = block + j * inner;
      for (int64_t i = 0; i < inner; i++) {
        const float v = row[i];
        if (v != v || (want_max ? v > dst[i] : v < dst[i])) dst[i] = v;
      }
    }
  }
}

void hn_reduce(int op, const float *x, float *out, int64_t outer, int64_t mid, int64_t inner) {
  if (outer == 0 || inner == 0) return;
  switch (op) {
    case HN_R_SUM:
    case HN_R_MEAN: {
      const double scale = op == HN_R_MEAN ? 1.0 / (double)mid : 1.0;
      if (inner == 1)
        sum_rows(x, out, outer, mid, scale);
      else
        sum_columns(x, out, outer, mid, inner, scale);
      break;
    }
    case HN_R_MAX:
      extreme(x, out, outer, mid, inner, 1);
      break;
    case HN_R_MIN:
      extreme(x, out, outer, mid, inner, 0);
      break;
    default:
      break;
  }
}
