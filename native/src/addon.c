/*
 * Node-API glue: checks every argument (types and buffer lengths, so a wrong call throws instead of
 * writing out of bounds) and calls the kernels in kernels.h on the typed arrays' memory in place.
 */
#include <cblas.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* Declared by OpenBLAS's cblas.h in some builds only; always exported by libopenblas. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);

#define MAX_ARGS 16

float *hn_scratch_get(hn_scratch *s, size_t count) {
  if (count > s->capacity) {
    free(s->data);
    s->data = malloc(count * sizeof(float));
    s->capacity = s->data ? count : 0;
  }
  return s->data;
}

static void free_scratch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  hn_scratch *s = data;
  free(s->data);
  free(s);
}

typedef struct {
  napi_env env;
  napi_value argv[MAX_ARGS];
  size_t argc;
  const char *fn;
  int failed;
} call;

static int fail(call *c, const char *code, const char *what, size_t index) {
  if (c->failed) return 0;
  char msg[256];
  snprintf(msg, sizeof msg, "%s: argument %zu %s", c->fn, index, what);
  napi_throw_type_error(c->env, code, msg);
  c->failed = 1;
  return 0;
}

static int open_call(call *c, napi_env env, napi_callback_info info, const char *fn, size_t want) {
  c->env = env;
  c->fn = fn;
  c->failed = 0;
  c->argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &c->argc, c->argv, NULL, NULL) != napi_ok) return fail(c, "EINVAL", "unreadable", 0);
  if (c->argc < want) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: expected %zu arguments, got %zu", fn, want, c->argc);
    napi_throw_type_error(env, "EINVAL", msg);
    c->failed = 1;
    return 0;
  }
  return 1;
}

static double num(call *c, size_t i) {
  double v = 0;
  if (c->failed) return 0;
  if (napi_get_value_double(c->env, c->argv[i], &v) != napi_ok) fail(c, "EINVAL", "must be a number", i);
  return v;
}

static int flag(call *c, size_t i) {
  bool v = false;
  if (c->failed) return 0;
  if (napi_get_value_bool(c->env, c->argv[i], &v) != napi_ok) fail(c, "EINVAL", "must be a boolean", i);
  return v;
}

static int64_t count(call *c, size_t i) {
  const double v = num(c, i);
  if (!c->failed && (v < 0 || v != (double)(int64_t)v)) fail(c, "EINVAL", "must be a non-negative integer", i);
  return (int64_t)v;
}

static int is_null(call *c, size_t i) {
  napi_valuetype t;
  return napi_typeof(c->env, c->argv[i], &t) == napi_ok && (t == napi_null || t == napi_undefined);
}

/* The typed array at argument i, of the given type, holding at least `need` elements. */
static void *typed(call *c, size_t i, napi_typedarray_type want, int64_t need) {
  if (c->failed) return NULL;
  bool ok = false;
  napi_is_typedarray(c->env, c->argv[i], &ok);
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (!ok || napi_get_typedarray_info(c->env, c->argv[i], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != want) {
    const char *name = want == napi_float32_array   ? "must be a Float32Array"
                       : want == napi_float64_array ? "must be a Float64Array"
                       : want == napi_uint32_array  ? "must be a Uint32Array"
                                                    : "must be a Uint8Array";
    fail(c, "EINVAL", name, i);
    return NULL;
  }
  if ((int64_t)length < need) {
    char what[96];
    snprintf(what, sizeof what, "holds %zu elements, needs %lld", length, (long long)need);
    fail(c, "ERANGE", what, i);
    return NULL;
  }
  /* An empty typed array may have no backing store; kernels never touch it, but must not see NULL. */
  static float empty;
  return data ? data : &empty;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static hn_scratch *scratch(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

/* gemm(transA, transB, batch, m, n, k, a, strideA, b, strideB, out, bias|null, activation, alpha) */
static napi_value gemm(napi_env env, napi_callback_info info) {
  call c;
  if (!open_call(&c, env, info, "gemm", 14)) return NULL;
  const int ta = flag(&c, 0), tb = flag(&c, 1);
  const int64_t batch = count(&c, 2), m = count(&c, 3), n = count(&c, 4), k = count(&c, 5);
  const int64_t sa = count(&c, 7), sb = count(&c, 9);
  const float *a = typed(&c, 6, napi_float32_array, batch > 0 ? (batch - 1) * sa + m * k : 0);
  const float *b = typed(&c, 8, napi_float32_array, batch > 0 ? (batch - 1) * sb + k * n : 0);
  float *out = typed(&c, 10, napi_float32_array, batch * m * n);
  const float *bias = NULL;
  int64_t bias_len = 0;
  if (!is_null(&c, 11)) {
    bias = typed(&c, 11, napi_float32_array, 1);
    size_t len = 0;
    if (!c.failed) napi_get_typedarray_info(env, c.argv[11], NULL, &len, NULL, NULL, NULL);
    bias_len = (int64_t)len;
    if (!c.failed && bias_len != 1 && bias_len != n) fail(&c, "ERANGE", "must hold 1 or n elements", 11);
  }
  const int act = (int)num(&c, 12);
  const float alpha = (float)num(&c, 13);
  if (!c.failed && (m > 0x7fffffff || n > 0x7fffffff || k > 0x7fffffff)) fail(&c, "ERANGE", "too large for BLAS", 3);
  if (c.failed) return NULL;
  hn_gemm(ta, tb, batch, m, n, k, a, sa, b, sb, out, bias, bias_len, act, alpha);
  return undefined(env);
}

/* dims: [ndim, shape..., strideA..., strideB...]; returns the element counts each operand must hold. */
static int read_dims(call *c, size_t i, int *ndim, int64_t *shape, int64_t *sa, int64_t *sb, int64_t *need_a,
                     int64_t *need_b, int64_t *total) {
  const double *d = typed(c, i, napi_float64_array, 1);
  if (!d) return 0;
  *ndim = (int)d[0];
  if (*ndim < 0 || *ndim > HN_MAX_DIMS) return fail(c, "ERANGE", "has too many dimensions", i);
  if (!typed(c, i, napi_float64_array, 1 + 3 * *ndim)) return 0;
  *need_a = 1;
  *need_b = 1;
  *total = 1;
  for (int k = 0; k < *ndim; k++) {
    shape[k] = (int64_t)d[1 + k];
    sa[k] = (int64_t)d[1 + *ndim + k];
    sb[k] = (int64_t)d[1 + 2 * *ndim + k];
    *total *= shape[k];
    if (shape[k] > 0) {
      *need_a += (shape[k] - 1) * sa[k];
      *need_b += (shape[k] - 1) * sb[k];
    }
  }
  if (*total == 0) *need_a = *need_b = 0;
  return 1;
}

/* binary(op, dims, a, b, out) */
static napi_value binary(napi_env env, napi_callback_info info) {
  call c;
  if (!open_call(&c, env, info, "binary", 5)) return NULL;
  const int op = (int)num(&c, 0);
  int ndim = 0;
  int64_t shape[HN_MAX_DIMS], sa[HN_MAX_DIMS], sb[HN_MAX_DIMS], na = 0, nb = 0, total = 0;
  if (!read_dims(&c, 1, &ndim, shape, sa, sb, &na, &nb, &total)) return NULL;
  const float *a = typed(&c, 2, napi_float32_array, na);
  const float *b = typed(&c, 3, napi_float32_array, nb);
  if (op >= HN_LESS) {
    uint8_t *out = typed(&c, 4, napi_uint8_array, total);
    if (c.failed) return NULL;
    hn_compare(op, ndim, shape, a, sa, b, sb, out);
  } else {
    float *out = typed(&c, 4, napi_float32_array, total);
    if (c.failed) return NULL;
    hn_binary(op, ndim, shape, a, sa, b, sb, out);
  }
  return undefined(env);
}

/* unary(op, x, out, alpha) */
static napi_value unary(napi_env env, napi_callback_info info) {
  call c;
  if (!open_call(&c, env, info, "unary", 4)) return NULL;
  const int op = (int)num(&c, 0);
  size_t n = 0;
  const float *x = typed(&c, 1, napi_float32_array, 0);
  if (!c.failed) napi_get_typedarray_info(env, c.argv[1], NULL, &n, NULL, NULL, NULL);
  float *out = typed(&c, 2, napi_float32_array, (int64_t)n);
  const float alpha = (float)num(&c, 3);
  if (c.failed) return NULL;
  hn_unary(op, x, out, (int64_t)n, alpha);
  return undefined(env);
}

/* reluGrad(dy, x, dx): dx = dy * step(x) */
static napi_value reluGrad(napi_env env, napi_callback_info info) {
  call c;
  if (!open_call(&c, env, info, "reluGrad", 3)) return NULL;
  size_t n = 0;
  const float *dy = typed(&c, 0, napi_float32_array, 0);
  if (!c.failed) napi_get_typedarray_info(env, c.argv[0], NULL, &n, NULL, NULL, NULL);
  const float *x = typed(&c, 1, napi_float32_array, (int64_t)n);
  float *dx = typed(&c, 2, napi_float32_array, (int64_t)n);
  if (c.failed) return NULL;
  hn_relu_grad(dy, x, dx, (int64_t)n);
  return undefined(env);
}

/* reduce(op, x, out, outer, mid, inner) */
static napi_value reduce(napi_env env, napi_callback_info info) {
  call c;
  if (!open_call(&c, env, info, "reduce", 6)) return NULL;
  const int op = (int)num(&c, 0);
  const int64_t outer = count(&c, 3), mid = count(&c, 4), inner = count(&c, 5);
  const float *x = typed(&c, 1, napi_float32_array, outer * mid * inner);
  float *out = typed(&c, 2, napi_float32_array, outer * inner);
  if (c.failed) return NULL;
  hn_reduce(op, x, out, outer, mid, inner);
  return undefined(env);
}

/* geom: the 15 fields of hn_conv_geom, in order. */
static int read_geom(call *c, size_t i, hn_conv_geom *g) {
  const double *d = typed(c, i, napi_float64_array, 15);
  if (!d) return 0;
  int64_t *f = &g->batch;
  for (int k = 0; k < 15; k++) {
    f[k] = (int64_t)d[k];
    /* Only the padding may be negative (never in tfjs, but it is harmless here). */
    if (k < 13 && f[k] < 0) return fail(c, "ERANGE", "has a negative size", i);
  }
  if (g->stride_h < 1 || g->stride_w < 1 || g->dilation_h < 1 || g->dilation_w < 1)
    return fail(c, "ERANGE", "has a stride or dilation below 1", i);
  return 1;
}

static int64_t in_size(const hn_conv_geom *g) { return g->batch * g->in_h * g->in_w * g->in_c; }
static int64_t out_size(const hn_conv_geom *g) { return g->batch * g->out_h * g->out_w * g->out_c; }
static int64_t filter_size(const hn_conv_geom *g) { return g->filter_h * g->filter_w * g->in_c * g->out_c; }

#define CONV_CALL(NAME, A_NEED, B_NEED, OUT_NEED, KERNEL)                              \
  static napi_value NAME(napi_env env, napi_callback_info info) {                      \
    call c;                                                                            \
    hn_conv_geom g;                                                                    \
    if (!open_call(&c, env, info, #NAME, 4) || !read_geom(&c, 0, &g)) return NULL;     \
    const float *a = typed(&c, 1, napi_float32_array, A_NEED);                         \
    const float *b = typed(&c, 2, napi_float32_array, B_NEED);                         \
    float *out = typed(&c, 3, napi_float32_array, OUT_NEED);                           \
    if (c.failed) return NULL;                                                         \
    KERNEL;                                                                            \
    return undefined(env);                                                             \
  }

/* conv2dBackpropInput(geom, dy, w, dx); conv2dBackpropFilter(geom, x, dy, dw) */
CONV_CALL(conv2dBackpropInput, out_size(&g), filter_size(&g), in_size(&g),
          hn_conv2d_backprop_input(&g, a, b, out, scratch(env)))
CONV_CALL(conv2dBackpropFilter, in_size(&g), out_size(&g), filter_size(&g),
          hn_conv2d_backprop_filter(&g, a, b, out, scratch(env)))
/* maxPoolGrad(geom, x, dy, dx); geom.out_c must equal in_c */
CONV_CALL(maxPoolGrad, in_size(&g), out_size(&g), in_size(&g), hn_max_pool_grad(&g, a, b, out))

/* conv2d(geom, x, w, y[, bias|null, activation, alpha]): bias [out_c], activation an hn_activation. */
static napi_value conv2d(napi_env env, napi_callback_info info) {
  call c;
  hn_conv_geom g;
  if (!open_call(&c, env, info, "conv2d", 4) || !read_geom(&c, 0, &g)) return NULL;
  const float *x = typed(&c, 1, napi_float32_array, in_size(&g));
  const float *w = typed(&c, 2, napi_float32_array, filter_size(&g));
  float *y = typed(&c, 3, napi_float32_array, out_size(&g));
  const int fused = c.argc >= 7;
  const float *bias = fused && !is_null(&c, 4) ? typed(&c, 4, napi_float32_array, g.out_c) : NULL;
  const int64_t act = fused ? count(&c, 5) : HN_ACT_LINEAR;
  const float alpha = fused ? (float)num(&c, 6) : 0.f;
  if (!c.failed && act > HN_ACT_ELU) fail(&c, "ERANGE", "is not an activation code", 5);
  if (c.failed) return NULL;
  hn_conv2d(&g, x, w, bias, (int)act, alpha, y, scratch(env));
  return undefined(env);
}

/* maxPool(geom, x, y) */
static napi_value maxPool(napi_env env, napi_callback_info info) {
  call c;
  hn_conv_geom g;
  if (!open_call(&c, env, info, "maxPool", 3) || !read_geom(&c, 0, &g)) return NULL;
  const float *x = typed(&c, 1, napi_float32_array, in_size(&g));
  float *y = typed(&c, 2, napi_float32_array, out_size(&g));
  if (c.failed) return NULL;
  hn_max_pool(&g, x, y);
  return undefined(env);
}

/* sgd(params, grads, velocity, lr, momentum, nesterov) */
static napi_value sgd(napi_env env, napi_callback_info info) {
  call c;
  if (!open_call(&c, env, info, "sgd", 6)) return NULL;
  size_t n = 0;
  float *p = typed(&c, 0, napi_float32_array, 0);
  if (!c.failed) napi_get_typedarray_info(env, c.argv[0], NULL, &n, NULL, NULL, NULL);
  const float *g = typed(&c, 1, napi_float32_array, (int64_t)n);
  float *v = typed(&c, 2, napi_float32_array, (int64_t)n);
  const float lr = (float)num(&c, 3), momentum = (float)num(&c, 4);
  const int nesterov = flag(&c, 5);
  if (c.failed) return NULL;
  hn_sgd(p, g, v, (int64_t)n, lr, momentum, nesterov);
  return undefined(env);
}

/* adam(params, grads, m, v, beta1, beta2, stepSize, invSqrtBc2, eps) */
static napi_value adam(napi_env env, napi_callback_info info) {
  call c;
  if (!open_call(&c, env, info, "adam", 9)) return NULL;
  size_t n = 0;
  float *p = typed(&c, 0, napi_float32_array, 0);
  if (!c.failed) napi_get_typedarray_info(env, c.argv[0], NULL, &n, NULL, NULL, NULL);
  const float *g = typed(&c, 1, napi_float32_array, (int64_t)n);
  float *m = typed(&c, 2, napi_float32_array, (int64_t)n);
  float *v = typed(&c, 3, napi_float32_array, (int64_t)n);
  const float b1 = (float)num(&c, 4), b2 = (float)num(&c, 5), step = (float)num(&c, 6);
  const float inv = (float)num(&c, 7), eps = (float)num(&c, 8);
  if (c.failed) return NULL;
  hn_adam(p, g, m, v, (int64_t)n, b1, b2, step, inv, eps);
  return undefined(env);
}

/* gatherBytes(pixels, indices, row, out): every index is checked against the pixels it addresses. */
static napi_value gatherBytes(napi_env env, napi_callback_info info) {
  call c;
  if (!open_call(&c, env, info, "gatherBytes", 4)) return NULL;
  size_t bytes = 0, rows = 0;
  const uint8_t *src = typed(&c, 0, napi_uint8_array, 0);
  if (!c.failed) napi_get_typedarray_info(env, c.argv[0], NULL, &bytes, NULL, NULL, NULL);
  const uint32_t *indices = typed(&c, 1, napi_uint32_array, 0);
  if (!c.failed) napi_get_typedarray_info(env, c.argv[1], NULL, &rows, NULL, NULL, NULL);
  const int64_t row = count(&c, 2);
  float *out = typed(&c, 3, napi_float32_array, (int64_t)rows * row);
  if (c.failed) return NULL;
  const int64_t images = row > 0 ? (int64_t)bytes / row : 0;
  for (size_t r = 0; r < rows; r++) {
    if ((int64_t)indices[r] >= images) {
      char what[128];
      snprintf(what, sizeof what, "index %u at row %zu is past the set's %lld images", indices[r], r, (long long)images);
      fail(&c, "ERANGE", what, 1);
      return NULL;
    }
  }
  hn_gather_bytes(src, indices, (int64_t)rows, row, out);
  return undefined(env);
}

/* setThreads(n): OpenBLAS's thread count for every later product. */
static napi_value setThreads(napi_env env, napi_callback_info info) {
  call c;
  if (!open_call(&c, env, info, "setThreads", 1)) return NULL;
  const int64_t n = count(&c, 0);
  if (!c.failed && (n < 1 || n > 1024)) fail(&c, "ERANGE", "must be in [1, 1024]", 0);
  if (c.failed) return NULL;
  openblas_set_num_threads((int)n);
  hn_pool_threads((int)n);
  return undefined(env);
}

static napi_value threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_int32(env, openblas_get_num_threads(), &v);
  return v;
}

static napi_value blasConfig(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  const char *cfg = openblas_get_config();
  napi_create_string_utf8(env, cfg ? cfg : "", NAPI_AUTO_LENGTH, &v);
  return v;
}

/*
 * keepFreedMemory(): tensors of a training step are allocated and freed every step, megabytes each
 * (calloc'd by V8 for each ArrayBuffer). glibc serves blocks above its mmap threshold with fresh
 * mappings and returns them on free, so every step pays a page fault per 4 KiB of each one. Raising
 * the threshold and the trim threshold keeps freed blocks in the heap for the next step, as
 * PyTorch's caching allocator does. Returns whether the tuning applies (glibc only).
 */
static napi_value keepFreedMemory(napi_env env, napi_callback_info info) {
  (void)info;
  int applied = 0;
#ifdef __GLIBC__
  applied = mallopt(M_MMAP_THRESHOLD, 256 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 512 << 20) == 1;
#endif
  napi_value v;
  napi_get_boolean(env, applied, &v);
  return v;
}

#define EXPORT(NAME) {#NAME, NULL, NAME, NULL, NULL, NULL, napi_default, NULL}

static napi_value init(napi_env env, napi_value exports) {
  hn_scratch *s = calloc(1, sizeof *s);
  if (!s || napi_set_instance_data(env, s, free_scratch, NULL) != napi_ok) {
    free(s);
    napi_throw_error(env, "ENOMEM", "harmonium native: cannot allocate the scratch buffer");
    return NULL;
  }
  const napi_property_descriptor props[] = {
      EXPORT(gemm),        EXPORT(binary),  EXPORT(unary),      EXPORT(reduce),     EXPORT(conv2d),
      EXPORT(conv2dBackpropInput), EXPORT(conv2dBackpropFilter), EXPORT(maxPool), EXPORT(maxPoolGrad),
      EXPORT(sgd),         EXPORT(adam),    EXPORT(setThreads), EXPORT(threads),    EXPORT(blasConfig), EXPORT(keepFreedMemory),
      EXPORT(gatherBytes), EXPORT(reluGrad),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
