/* Optimizer updates on the flat parameter buffer, one vectorised pass each (see core/train/). */
#include <math.h>

#include "kernels.h"

static void sgd_run(float *p, const float *g, float *v, int64_t n, float lr, float momentum, int nesterov) {
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

static void adam_run(float *p, const float *g, float *m, float *v, int64_t n, float beta1, float beta2, float step_size,
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

typedef struct {
  float *p, *m, *v;
  const float *g;
  float lr, momentum, beta1, beta2, step_size, inv_sqrt_bc2, eps;
  int nesterov;
} update;

/* Elements per part below which splitting the work costs more than it saves. */
#define GRAIN 65536

static void sgd_part(void *ctx, int part, int64_t b, int64_t e) {
  (void)part;
  const update *u = ctx;
  sgd_run(u->p + b, u->g + b, u->v + b, e - b, u->lr, u->momentum, u->nesterov);
}

static void adam_part(void *ctx, int part, int64_t b, int64_t e) {
  (void)part;
  const update *u = ctx;
  adam_run(u->p + b, u->g + b, u->m + b, u->v + b, e - b, u->beta1, u->beta2, u->step_size, u->inv_sqrt_bc2, u->eps);
}

void hn_sgd(float *p, const float *g, float *v, int64_t n, float lr, float momentum, int nesterov) {
  update u = {.p = p, .g = g, .v = v, .lr = lr, .momentum = momentum, .nesterov = nesterov};
  hn_parallel_for(n, GRAIN, sgd_part, &u);
}

void hn_adam(float *p, const float *g, float *m, float *v, int64_t n, float beta1, float beta2, float step_size,
             float inv_sqrt_bc2, float eps) {
  update u = {.p = p, .g = g, .m = m, .v = v, .beta1 = beta1, .beta2 = beta2, .step_size = step_size,
              .inv_sqrt_bc2 = inv_sqrt_bc2, .eps = eps};
  hn_parallel_for(n, GRAIN, adam_part, &u);
}
