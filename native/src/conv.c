/*
 * 2-D convolution over NHWC data by im2col + sgemm: every output pixel's receptive field becomes one
 * row of a [pixels, fh*fw*in_c] matrix, so the convolution and both its backprops are single sgemm
 * calls. The column matrix lives in a scratch buffer reused across calls.
 */
#include <cblas.h>
#include <string.h>

#include "kernels.h"

static int64_t patch_size(const hn_conv_geom *g) { return g->filter_h * g->filter_w * g->in_c; }
static int64_t pixel_count(const hn_conv_geom *g) { return g->batch * g->out_h * g->out_w; }

static void im2col(const hn_conv_geom *g, const float *x, float *cols) {
  const int64_t k = patch_size(g);
  const int64_t c = g->in_c;
  float *row = cols;
  for (int64_t b = 0; b < g->batch; b++) {
    const float *xb = x + b * g->in_h * g->in_w * c;
    for (int64_t oy = 0; oy < g->out_h; oy++) {
      for (int64_t ox = 0; ox < g->out_w; ox++, row += k) {
        float *dst = row;
        for (int64_t ky = 0; ky < g->filter_h; ky++) {
          const int64_t iy = oy * g->stride_h - g->pad_top + ky * g->dilation_h;
          for (int64_t kx = 0; kx < g->filter_w; kx++, dst += c) {
            const int64_t ix = ox * g->stride_w - g->pad_left + kx * g->dilation_w;
            /* Plain loops rather than memset/memcpy: c is often 1 to 16, too short for a library call. */
            if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w) {
              for (int64_t i = 0; i < c; i++) dst[i] = 0.f;
            } else {
              const float *src = xb + (iy * g->in_w + ix) * c;
              for (int64_t i = 0; i < c; i++) dst[i] = src[i];
            }
          }
        }
      }
    }
  }
}

/* The adjoint of im2col: every column entry is added back to the input pixel it was read from. */
static void col2im(const hn_conv_geom *g, const float *cols, float *dx) {
  const int64_t k = patch_size(g);
  const int64_t c = g->in_c;
  memset(dx, 0, (size_t)(g->batch * g->in_h * g->in_w * c) * sizeof(float));
  const float *row = cols;
  for (int64_t b = 0; b < g->batch; b++) {
    float *xb = dx + b * g->in_h * g->in_w * c;
    for (int64_t oy = 0; oy < g->out_h; oy++) {
      for (int64_t ox = 0; ox < g->out_w; ox++, row += k) {
        const float *src = row;
        for (int64_t ky = 0; ky < g->filter_h; ky++) {
          const int64_t iy = oy * g->stride_h - g->pad_top + ky * g->dilation_h;
          for (int64_t kx = 0; kx < g->filter_w; kx++, src += c) {
            const int64_t ix = ox * g->stride_w - g->pad_left + kx * g->dilation_w;
            if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w) continue;
            float *dst = xb + (iy * g->in_w + ix) * c;
#pragma omp simd
            for (int64_t i = 0; i < c; i++) dst[i] += src[i];
          }
        }
      }
    }
  }
}

/* A 1x1 stride-1 unpadded convolution reads x itself as the column matrix. */
static int is_pointwise(const hn_conv_geom *g) {
  return g->filter_h == 1 && g->filter_w == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
         g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w;
}

void hn_conv2d(const hn_conv_geom *g, const float *x, const float *w, float *y, hn_scratch *s) {
  const int64_t p = pixel_count(g), k = patch_size(g), n = g->out_c;
  if (p == 0 || n == 0) return;
  if (k == 0) {
    memset(y, 0, (size_t)(p * n) * sizeof(float));
    return;
  }
  const float *cols = x;
  if (!is_pointwise(g)) {
    float *buf = hn_scratch_get(s, (size_t)(p * k));
    if (!buf) return;
    im2col(g, x, buf);
    cols = buf;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p, (int)n, (int)k, 1.0f, cols, (int)k, w, (int)n,
              0.0f, y, (int)n);
}

void hn_conv2d_backprop_input(const hn_conv_geom *g, const float *dy, const float *w, float *dx, hn_scratch *s) {
  const int64_t p = pixel_count(g), k = patch_size(g), n = g->out_c;
  const size_t dx_size = (size_t)(g->batch * g->in_h * g->in_w * g->in_c);
  if (p == 0 || k == 0 || n == 0) {
    memset(dx, 0, dx_size * sizeof(float));
    return;
  }
  if (is_pointwise(g)) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p, (int)k, (int)n, 1.0f, dy, (int)n, w, (int)n, 0.0f,
                dx, (int)k);
    return;
  }
  float *cols = hn_scratch_get(s, (size_t)(p * k));
  if (!cols) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p, (int)k, (int)n, 1.0f, dy, (int)n, w, (int)n, 0.0f,
              cols, (int)k);
  col2im(g, cols, dx);
}

void hn_conv2d_backprop_filter(const hn_conv_geom *g, const float *x, const float *dy, float *dw, hn_scratch *s) {
  const int64_t p = pixel_count(g), k = patch_size(g), n = g->out_c;
  if (k == 0 || n == 0) return;
  if (p == 0) {
    memset(dw, 0, (size_t)(k * n) * sizeof(float));
    return;
  }
  const float *cols = x;
  if (!is_pointwise(g)) {
    float *buf = hn_scratch_get(s, (size_t)(p * k));
    if (!buf) return;
    im2col(g, x, buf);
    cols = buf;
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)n, (int)p, 1.0f, cols, (int)k, dy, (int)n, 0.0f,
              dw, (int)n);
}
