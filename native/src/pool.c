/*
 * Max pooling over NHWC windows, matching tfjs's cpu kernels: windows are clipped to the input,
 * the first strict maximum wins (ties go to the earliest pixel in row-major window order). Each
 * output pixel walks its window once for all channels together, which keeps the inner loop
 * contiguous.
 */
#include <math.h>
#include <string.h>

#include "kernels.h"

/* Window bounds of output (oy, ox): rows [*y0, *y1) and columns [*x0, *x1), stepping by dilation. */
static void window(const hn_conv_geom *g, int64_t oy, int64_t ox, int64_t *y0, int64_t *y1, int64_t *x0,
                   int64_t *x1) {
  const int64_t eff_h = (g->filter_h - 1) * g->dilation_h + 1, eff_w = (g->filter_w - 1) * g->dilation_w + 1;
  const int64_t cy = oy * g->stride_h - g->pad_top, cx = ox * g->stride_w - g->pad_left;
  *y0 = cy;
  *x0 = cx;
  while (*y0 < 0) *y0 += g->dilation_h;
  while (*x0 < 0) *x0 += g->dilation_w;
  *y1 = cy + eff_h < g->in_h ? cy + eff_h : g->in_h;
  *x1 = cx + eff_w < g->in_w ? cx + eff_w : g->in_w;
}

/* For channels [c0, c0 + cn): best[d] is the first maximum over the window, at[d] the pixel holding it (-1: none). */
static void window_argmax(const hn_conv_geom *g, const float *x, int64_t b, int64_t oy, int64_t ox, int64_t c0,
                          int64_t cn, float *best, int64_t *at) {
  int64_t y0, y1, x0, x1;
  window(g, oy, ox, &y0, &y1, &x0, &x1);
  for (int64_t d = 0; d < cn; d++) {
    best[d] = -INFINITY;
    at[d] = -1;
  }
  for (int64_t iy = y0; iy < y1; iy += g->dilation_h) {
    for (int64_t ix = x0; ix < x1; ix += g->dilation_w) {
      const int64_t pixel = (b * g->in_h + iy) * g->in_w + ix;
      const float *px = x + pixel * g->in_c + c0;
      for (int64_t d = 0; d < cn; d++) {
        const int take = px[d] > best[d];
        best[d] = take ? px[d] : best[d];
        at[d] = take ? pixel : at[d];
      }
    }
  }
}

/* Channels are processed in blocks of this many, so the per-channel state stays on the stack. */
#define CHANNEL_BLOCK 256

typedef struct {
  const hn_conv_geom *g;
  const float *x, *dy;
  float *y, *dx;
} pool_job;

/* Images [b0, b1): writes their outputs (y) or adds each output's gradient to its maximum (dx),
 * zeroing their dx first (a window never leaves its image, so parts write disjoint rows). */
static void pool_part(void *ctx, int part, int64_t b0, int64_t b1) {
  (void)part;
  const pool_job *j = ctx;
  const hn_conv_geom *g = j->g;
  if (j->dx) {
    const int64_t image = g->in_h * g->in_w * g->in_c;
    memset(j->dx + b0 * image, 0, (size_t)((b1 - b0) * image) * sizeof(float));
  }
  float best[CHANNEL_BLOCK];
  int64_t at[CHANNEL_BLOCK];
  for (int64_t c0 = 0; c0 < g->in_c; c0 += CHANNEL_BLOCK) {
    const int64_t cn = g->in_c - c0 < CHANNEL_BLOCK ? g->in_c - c0 : CHANNEL_BLOCK;
    for (int64_t b = b0; b < b1; b++)
      for (int64_t oy = 0; oy < g->out_h; oy++)
        for (int64_t ox = 0; ox < g->out_w; ox++) {
          window_argmax(g, j->x, b, oy, ox, c0, cn, best, at);
          const int64_t out = ((b * g->out_h + oy) * g->out_w + ox) * g->in_c + c0;
          for (int64_t d = 0; d < cn; d++) {
            if (j->y) j->y[out + d] = best[d];
            if (j->dx && at[d] >= 0) j->dx[at[d] * g->in_c + c0 + d] += j->dy[out + d];
          }
        }
  }
}

void hn_max_pool(const hn_conv_geom *g, const float *x, float *y) {
  pool_job j = {g, x, NULL, y, NULL};
  hn_parallel_for(g->batch, 1, pool_part, &j);
}

void hn_max_pool_grad(const hn_conv_geom *g, const float *x, const float *dy, float *dx) {
  pool_job j = {g, x, dy, NULL, dx};
  hn_parallel_for(g->batch, 1, pool_part, &j);
}
