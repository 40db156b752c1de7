/* The compute kernels behind the Node-API glue in addon.c: plain C on float32 buffers, no Node types. */
#ifndef HARMONIUM_KERNELS_H
#define HARMONIUM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Most dimensions a strided elementwise op takes after adjacent dimensions are merged. */
#define HN_MAX_DIMS 8

/* A scratch buffer owned by one Node-API environment (one thread), grown on demand and reused. */
typedef struct {
  float *data;
  size_t capacity;
} hn_scratch;

float *hn_scratch_get(hn_scratch *s, size_t count);

/*
 * fn(ctx, part, begin, end) over consecutive parts of [0, n), in parallel on the kernel pool, at
 * least `grain` items per part. The parts depend only on n, grain and the pool size, so a kernel
 * that combines per-part results in part order is deterministic for a given thread count.
 */
typedef void (*hn_range_fn)(void *ctx, int part, int64_t begin, int64_t end);
void hn_parallel_for(int64_t n, int64_t grain, hn_range_fn fn, void *ctx);
/* Threads the pool cuts work for (the caller included); starts workers as needed. */
void hn_pool_threads(int n);
int hn_pool_size(void);

/* Activations applied after a fused matmul (and by hn_unary). */
enum hn_activation { HN_ACT_LINEAR = 0, HN_ACT_RELU, HN_ACT_SIGMOID, HN_ACT_RELU6, HN_ACT_LEAKYRELU, HN_ACT_ELU };

/* c[m x n] += bias (length 1 or n, or NULL), then the activation, in place. */
void hn_bias_activate(float *c, int64_t m, int64_t n, const float *bias, int64_t bias_len, int act, float alpha);
/* C[b] = op(A[b]) op(B[b]) (+ bias, then activation) for b < batch; strideA/strideB 0 broadcast. */
void hn_gemm(int trans_a, int trans_b, int64_t batch, int64_t m, int64_t n, int64_t k, const float *a,
             int64_t stride_a, const float *b, int64_t stride_b, float *c, const float *bias, int64_t bias_len,
             int activation, float alpha);

enum hn_binary_op {
  HN_ADD = 0, HN_SUB, HN_MUL, HN_DIV, HN_SQUARED_DIFF, HN_MAX, HN_MIN,
  HN_LESS, HN_LESS_EQUAL, HN_GREATER, HN_GREATER_EQUAL, HN_EQUAL, HN_NOT_EQUAL
};
/* out = a op b over `ndim` dims of `shape`, reading a and b with element strides (0: broadcast). */
void hn_binary(int op, int ndim, const int64_t *shape, const float *a, const int64_t *stride_a, const float *b,
               const int64_t *stride_b, float *out);
/* The comparison ops (HN_LESS...) writing 0/1 bytes. */
void hn_compare(int op, int ndim, const int64_t *shape, const float *a, const int64_t *stride_a, const float *b,
                const int64_t *stride_b, uint8_t *out);

enum hn_unary_op {
  HN_U_SIGMOID = 0, HN_U_RELU, HN_U_EXP, HN_U_LOG, HN_U_NEG, HN_U_ABS, HN_U_SQUARE, HN_U_SQRT, HN_U_RSQRT,
  HN_U_TANH, HN_U_SOFTPLUS, HN_U_STEP, HN_U_RECIPROCAL, HN_U_LOG1P, HN_U_RELU6, HN_U_LEAKYRELU, HN_U_ELU
};
void hn_unary(int op, const float *x, float *out, int64_t n, float alpha);
/* dx = dy * step(x): the ReLU gradient in one pass (tfjs: a step, then a product). */
void hn_relu_grad(const float *dy, const float *x, float *dx, int64_t n);

enum hn_reduce_op { HN_R_SUM = 0, HN_R_MEAN, HN_R_MAX, HN_R_MIN };
/* Reduces x laid out [outer, mid, inner] over mid into out [outer, inner]. */
void hn_reduce(int op, const float *x, float *out, int64_t outer, int64_t mid, int64_t inner);

/* Geometry of a 2-D convolution or pooling window over NHWC data (tfjs's Conv2DInfo). */
typedef struct {
  int64_t batch, in_h, in_w, in_c, out_h, out_w, out_c;
  int64_t filter_h, filter_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
} hn_conv_geom;

/* y = act(conv(x, w) + bias), w laid out [fh, fw, in_c, out_c], bias [out_c] or NULL (and
 * HN_ACT_LINEAR): the bias and activation applied to each block of output pixels while it is in cache. */
void hn_conv2d(const hn_conv_geom *g, const float *x, const float *w, const float *bias, int act, float alpha, float *y,
               hn_scratch *s);
/* dx from dy and w (the transposed convolution). */
void hn_conv2d_backprop_input(const hn_conv_geom *g, const float *dy, const float *w, float *dx, hn_scratch *s);
/* dw from x and dy. */
void hn_conv2d_backprop_filter(const hn_conv_geom *g, const float *x, const float *dy, float *dw, hn_scratch *s);

/* Max pooling over windows clipped to the input (padding never wins); out_c == in_c. */
void hn_max_pool(const hn_conv_geom *g, const float *x, float *y);
/* dx: each output's gradient added to its window's first maximum, as tfjs's cpu kernel picks it. */
void hn_max_pool_grad(const hn_conv_geom *g, const float *x, const float *dy, float *dx);

/* v = momentum v - lr g; p += v (nesterov: p += momentum v - lr g). */
void hn_sgd(float *p, const float *g, float *v, int64_t n, float lr, float momentum, int nesterov);
/* Adam with bias corrections folded into step_size and inv_sqrt_bc2 (see core/train/adam.ts). */
void hn_adam(float *p, const float *g, float *m, float *v, int64_t n, float beta1, float beta2, float step_size,
             float inv_sqrt_bc2, float eps);

/* out[r, :] = src[indices[r], :] / 255 for r < rows, `row` bytes per image (indices checked by the caller). */
void hn_gather_bytes(const uint8_t *src, const uint32_t *indices, int64_t rows, int64_t row, float *out);

#endif
