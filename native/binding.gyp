{
  "targets": [
    {
      "target_name": "harmonium_native",
      "sources": [
        "src/addon.c",
        "src/gemm.c",
        "src/elementwise.c",
        "src/reduce.c",
        "src/conv.c",
        "src/pool.c",
        "src/optimizer.c",
        "src/parallel.c",
        "src/gather.c"
      ],
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"],
      "libraries": ["-lopenblas", "-lm", "-lpthread"],
      "cflags": ["-O3", "-std=c11", "-fopenmp-simd", "-fno-math-errno", "-Wall", "-Wextra"],
      "conditions": [
        ["target_arch=='x64'", { "cflags": ["-march=<!(node -p \"process.env.HARMONIUM_NATIVE_MARCH || 'native'\")"] }]
      ]
    }
  ]
}
