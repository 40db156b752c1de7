/*
 * Elementwise kernels. Binary ops walk a broadcast over strided operands; the innermost dimension
 * gets loops specialised for the cases training produces (both contiguous, one side a scalar or a
 * broadcast row), written so that the compiler vectorises them.
 */
#include <math.h>

#include "kernels.h"

#if defined(__x86_64__) && defined(__GLIBC__)
/* glibc's libmvec has vector expf/logf, but math.h only declares them under -ffast-math, which would
 * also drop NaN semantics; declaring them here lets the simd loops below call them. */
__attribute__((simd("notinbranch"))) float expf(float);
__attribute__((simd("notinbranch"))) float logf(float);
#endif

#define BINARY_LOOP(EXPR)                                                            \
  do {                                                                               \
    if (sa == 1 && sb == 1) {                                                        \
      _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                          \
        const float x = a[i], y = b[i];                                              \
        out[i] = (EXPR);                                                             \
      }                                                                              \
    } else if (sa == 1 && sb == 0) {                                                 \
      const float y = b[0];                                                          \
      _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                          \
        const float x = a[i];                                                        \
        out[i] = (EXPR);                                                             \
      }                                                                              \
    } else if (sa == 0 && sb == 1) {                                                 \
      const float x = a[0];                                                          \
      _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                          \
        const float y = b[i];                                                        \
        out[i] = (EXPR);                                                             \
      }                                                                              \
    } else {                                                                         \
      for (int64_t i = 0; i < n; i++) {                                              \
        const float x = a[i * sa], y = b[i * sb];                                    \
        out[i] = (EXPR);                                                             \
      }                                                                              \
    }                                                                                \
  } while (0)

/* One contiguous run of `n` outputs. Division and the others follow IEEE like tfjs's JS kernels. */
static void binary_row(int op, int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, float *out) {
  switch (op) {
    case HN_ADD: BINARY_LOOP(x + y); break;
    case HN_SUB: BINARY_LOOP(x - y); break;
    case HN_MUL: BINARY_LOOP(x * y); break;
    case HN_DIV: BINARY_LOOP(x / y); break;
    case HN_SQUARED_DIFF: BINARY_LOOP((x - y) * (x - y)); break;
    /* NaN propagates, as Math.max/Math.min do in tfjs's kernels. */
    case HN_MAX: BINARY_LOOP(x != x || y != y ? NAN : (x > y ? x : y)); break;
    case HN_MIN: BINARY_LOOP(x != x || y != y ? NAN : (x < y ? x : y)); break;
    default: break;
  }
}

#define COMPARE_LOOP(EXPR)                                                           \
  do {                                                                               \
    for (int64_t i = 0; i < n; i++) {                                                \
      const float x = a[i * sa], y = b[i * sb];                                      \
      out[i] = (uint8_t)(EXPR);                                                      \
    }                                                                                \
  } while (0)

static void compare_row(int op, int64_t n, const float *a, int64_t sa, const float *b, int64_t sb, uint8_t *out) {
  switch (op) {
    case HN_LESS: COMPARE_LOOP(x < y); break;
    case HN_LESS_EQUAL: COMPARE_LOOP(x <= y); break;
    case HN_GREATER: COMPARE_LOOP(x > y); break;
    case HN_GREATER_EQUAL: COMPARE_LOOP(x >= y); break;
    case HN_EQUAL: COMPARE_LOOP(x == y); break;
    case HN_NOT_EQUAL: COMPARE_LOOP(x != y); break;
    default: break;
  }
}

/* A strided binary walk: the innermost dimension is a row of n outputs; rows are numbered row-major. */
typedef struct {
  int op, ndim, compare;
  const int64_t *shape, *stride_a, *stride_b;
  const float *a, *b;
  void *out;
} walk;

static void walk_rows(void *ctx, int part, int64_t r0, int64_t r1) {
  (void)part;
  const walk *w = ctx;
  const int last = w->ndim - 1;
  const int64_t n = w->shape[last], sa = w->stride_a[last], sb = w->stride_b[last];
  int64_t idx[HN_MAX_DIMS] = {0};
  const float *pa = w->a, *pb = w->b;
  int64_t r = r0;
  for (int d = last - 1; d >= 0; d--) {
    idx[d] = r % w->shape[d];
    r /= w->shape[d];
    pa += idx[d] * w->stride_a[d];
    pb += idx[d] * w->stride_b[d];
  }
  for (int64_t row = r0; row < r1; row++) {
    if (w->compare)
      compare_row(w->op, n, pa, sa, pb, sb, (uint8_t *)w->out + row * n);
    else
      binary_row(w->op, n, pa, sa, pb, sb, (float *)w->out + row * n);
    for (int d = last - 1; d >= 0; d--) {
      idx[d]++;
      pa += w->stride_a[d];
      pb += w->stride_b[d];
      if (idx[d] < w->shape[d]) break;
      pa -= w->stride_a[d] * w->shape[d];
      pb -= w->stride_b[d] * w->shape[d];
      idx[d] = 0;
    }
  }
}

/* Outputs per part below which splitting the work costs more than it saves. */
#define GRAIN 32768

static void run_walk(walk *w) {
  if (w->ndim == 0) {
    if (w->compare)
      compare_row(w->op, 1, w->a, 0, w->b, 0, w->out);
    else
      binary_row(w->op, 1, w->a, 0, w->b, 0, w->out);
    return;
  }
  const int64_t n = w->shape[w->ndim - 1];
  int64_t rows = 1;
  for (int d = 0; d < w->ndim - 1; d++) rows *= w->shape[d];
  if (n == 0 || rows == 0) return;
  hn_parallel_for(rows, (GRAIN + n - 1) / n, walk_rows, w);
}

void hn_binary(int op, int ndim, const int64_t *shape, const float *a, const int64_t *stride_a, const float *b,
               const int64_t *stride_b, float *out) {
  walk w = {op, ndim, 0, shape, stride_a, stride_b, a, b, out};
  run_walk(&w);
}

void hn_compare(int op, int ndim, const int64_t *shape, const float *a, const int64_t *stride_a, const float *b,
                const int64_t *stride_b, uint8_t *out) {
  walk w = {op, ndim, 1, shape, stride_a, stride_b, a, b, out};
  run_walk(&w);
}

#define UNARY_LOOP(EXPR)                                                             \
  do {                                                                               \
    _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                            \
      const float v = x[i];                                                          \
      out[i] = (EXPR);                                                               \
    }                                                                                \
  } while (0)

static void unary_run(int op, const float *x, float *out, int64_t n, float alpha) {
  switch (op) {
    case HN_U_SIGMOID: UNARY_LOOP(1.f / (1.f + expf(-v))); break;
    case HN_U_RELU: UNARY_LOOP(v != v ? v : (v > 0.f ? v : 0.f)); break;
    case HN_U_EXP: UNARY_LOOP(expf(v)); break;
    case HN_U_LOG: UNARY_LOOP(logf(v)); break;
    case HN_U_NEG: UNARY_LOOP(-v); break;
    case HN_U_ABS: UNARY_LOOP(fabsf(v)); break;
    case HN_U_SQUARE: UNARY_LOOP(v * v); break;
    case HN_U_SQRT: UNARY_LOOP(sqrtf(v)); break;
    case HN_U_RSQRT: UNARY_LOOP(1.f / sqrtf(v)); break;
    case HN_U_TANH: UNARY_LOOP(tanhf(v)); break;
    /* tfjs's softplus: thresholds keep exp from overflowing and log1p exact for very negative v. */
    case HN_U_SOFTPLUS: UNARY_LOOP(v > 13.942385f ? v : (v < -13.942385f ? expf(v) : log1pf(expf(v)))); break;
    case HN_U_STEP: UNARY_LOOP(v != v ? NAN : (v > 0.f ? 1.f : alpha)); break;
    case HN_U_RECIPROCAL: UNARY_LOOP(1.f / v); break;
    case HN_U_LOG1P: UNARY_LOOP(log1pf(v)); break;
    case HN_U_RELU6: UNARY_LOOP(v != v ? v : (v < 0.f ? 0.f : (v > 6.f ? 6.f : v))); break;
    case HN_U_LEAKYRELU: UNARY_LOOP(v < 0.f ? alpha * v : v); break;
    case HN_U_ELU: UNARY_LOOP(v >= 0.f ? v : expm1f(v)); break;
    default: break;
  }
}

typedef struct {
  int op;
  const float *x;
  float *out;
  float alpha;
} unary_job;

static void unary_part(void *ctx, int part, int64_t begin, int64_t end) {
  (void)part;
  const unary_job *j = ctx;
  unary_run(j->op, j->x + begin, j->out + begin, end - begin, j->alpha);
}

void hn_unary(int op, const float *x, float *out, int64_t n, float alpha) {
  unary_job j = {op, x, out, alpha};
  hn_parallel_for(n, GRAIN, unary_part, &j);
}

typedef struct {
  const float *dy, *x;
  float *dx;
} relu_grad_job;

/* dy * step(x), step as tfjs has it (NaN for NaN, 1 above 0, else 0): the same bits in one pass. */
static void relu_grad_part(void *ctx, int part, int64_t begin, int64_t end) {
  (void)part;
  const relu_grad_job *j = ctx;
  const float *dy = j->dy, *x = j->x;
  float *dx = j->dx;
#pragma omp simd
  for (int64_t i = begin; i < end; i++) {
    const float v = x[i];
    dx[i] = dy[i] * (v != v ? NAN : (v > 0.f ? 1.f : 0.f));
  }
}

void hn_relu_grad(const float *dy, const float *x, float *dx, int64_t n) {
  relu_grad_job j = {dy, x, dx};
  hn_parallel_for(n, GRAIN, relu_grad_part, &j);
}
