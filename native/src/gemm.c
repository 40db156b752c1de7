/* Matrix products through CBLAS sgemm, with the bias and activation of a fused matmul applied in place. */
#include <cblas.h>
#include <string.h>

#include "kernels.h"

void hn_bias_activate(float *c, int64_t m, int64_t n, const float *bias, int64_t bias_len, int act, float alpha) {
  for (int64_t i = 0; i < m; i++) {
    float *row = c + i * n;
    if (bias) {
      if (bias_len == 1) {
        const float b0 = bias[0];
#pragma omp simd
        for (int64_t j = 0; j < n; j++) row[j] += b0;
      } else {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) row[j] += bias[j];
      }
    }
  }
  switch (act) {
    case HN_ACT_LINEAR:
      break;
    case HN_ACT_RELU:
      hn_unary(HN_U_RELU, c, c, m * n, 0.f);
      break;
    case HN_ACT_SIGMOID:
      hn_unary(HN_U_SIGMOID, c, c, m * n, 0.f);
      break;
    case HN_ACT_RELU6:
      hn_unary(HN_U_RELU6, c, c, m * n, 0.f);
      break;
    case HN_ACT_LEAKYRELU:
      hn_unary(HN_U_LEAKYRELU, c, c, m * n, alpha);
      break;
    case HN_ACT_ELU:
      hn_unary(HN_U_ELU, c, c, m * n, 0.f);
      break;
    default:
      break;
  }
}

void hn_gemm(int trans_a, int trans_b, int64_t batch, int64_t m, int64_t n, int64_t k, const float *a,
             int64_t stride_a, const float *b, int64_t stride_b, float *c, const float *bias, int64_t bias_len,
             int activation, float alpha) {
  if (m == 0 || n == 0) return;
  for (int64_t i = 0; i < batch; i++) {
    float *ci = c + i * m * n;
    if (k == 0) {
      memset(ci, 0, (size_t)(m * n) * sizeof(float));
    } else {
      cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m,
                  (int)n, (int)k, 1.0f, a + i * stride_a, trans_a ? (int)m : (int)k, b + i * stride_b,
                  trans_b ? (int)k : (int)n, 0.0f, ci, (int)n);
    }
    hn_bias_activate(ci, m, n, bias, bias_len, activation, alpha);
  }
}
