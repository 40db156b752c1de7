/* Max pooling over NHWC windows, matching tfjs's cpu kernels: windows are clipped to the input,
 * the first strict maximum wins (ties go to the earliest pixel in row-major window order). */
#include <math.h>
#include <string.h>

#include "kernels.h"

/* Index into x of the window's first maximum for output (b, oy, ox, channel d), or -1 if none. */
static int64_t argmax(const hn_conv_geom *g, const float *x, int64_t b, int64_t oy, int64_t ox, int64_t d) {
  const int64_t eff_h = (g->filter_h - 1) * g->dilation_h + 1, eff_w = (g->filter_w - 1) * g->dilation_w + 1;
  const int64_t y0 = oy * g->stride_h - g->pad_top, x0 = ox * g->stride_w - g->pad_left;
  int64_t ymin = y0, xmin = x0;
  while (ymin < 0) ymin += g->dilation_h;
  while (xmin < 0) xmin += g->dilation_w;
  const int64_t ymax = y0 + eff_h < g->in_h ? y0 + eff_h : g->in_h;
  const int64_t xmax = x0 + eff_w < g->in_w ? x0 + eff_w : g->in_w;
  float best = -INFINITY;
  int64_t at = -1;
  for (int64_t iy = ymin; iy < ymax; iy += g->dilation_h) {
    for (int64_t ix = xmin; ix < xmax; ix += g->dilation_w) {
      const int64_t i = ((b * g->in_h + iy) * g->in_w + ix) * g->in_c + d;
      if (x[i] > best) {
        best = x[i];
        at = i;
      }
    }
  }
  return at;
}

void hn_max_pool(const hn_conv_geom *g, const float *x, float *y) {
  float *out = y;
  for (int64_t b = 0; b < g->batch; b++)
    for (int64_t oy = 0; oy < g->out_h; oy++)
      for (int64_t ox = 0; ox < g->out_w; ox++)
        for (int64_t d = 0; d < g->in_c; d++) {
          const int64_t i = argmax(g, x, b, oy, ox, d);
          *out++ = i < 0 ? -INFINITY : x[i];
        }
}

void hn_max_pool_grad(const hn_conv_geom *g, const float *x, const float *dy, float *dx) {
  memset(dx, 0, (size_t)(g->batch * g->in_h * g->in_w * g->in_c) * sizeof(float));
  const float *grad = dy;
  for (int64_t b = 0; b < g->batch; b++)
    for (int64_t oy = 0; oy < g->out_h; oy++)
      for (int64_t ox = 0; ox < g->out_w; ox++)
        for (int64_t d = 0; d < g->in_c; d++, grad++) {
          const int64_t i = argmax(g, x, b, oy, ox, d);
          if (i >= 0) dx[i] += *grad;
        }
}
