/* Optimizer updates on the flat parameter buffer, one vectorised pass each (see core/train/). */
#include <math.h>

#include "kernels.h"

void hn_sgd(float *p, const float *g, float *v, int64_t n, float lr, float momentum, int nesterov) {
  if (nesterov) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
      const float step = -lr * g[i];
      const float vi = momentum * v[i] + step;
      v[i] = vi;
      p[i] += momentum * vi + step;
    }
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
      const float vi = momentum * v[i] - lr * g[i];
      v[i] = vi;
      p[i] += vi;
    }
  }
}

void hn_adam(float *p, const float *g, float *m, float *v, int64_t n, float beta1, float beta2, float step_size,
             float inv_sqrt_bc2, float eps) {
  const float c1 = 1.f - beta1, c2 = 1.f - beta2;
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + c1 * gi;
    const float vi = beta2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
  }
}
